//! `deploy/` against the real apiserver: every object each overlay renders is accepted, with no
//! warning, after the CustomResourceDefinitions it relies on are installed from their projects'
//! release modules (cert-manager, the Prometheus Operator, Kyverno). The production overlay, what
//! `kubectl kustomize deploy/` renders, stays installed: the `--kube` tests run as its
//! ServiceAccount with its RBAC.
//!
//! `deploy/` ships no ValidatingWebhookConfiguration (each server registers its own once it is
//! ready), so installing it can never make the apiserver wait on a server that is not running.

use crate::shared::{self, yaml_objects};
use crate::support::{Answer, PATIENCE, apply_at, create_at, eventually, repo_path, required_env};
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{Api, DynamicObject, GroupVersionKind};
use kube::discovery::{Discovery, Scope};
use serde_json::Value;
use std::path::Path;
use tokio::sync::OnceCell;

/// What one overlay's objects got from the apiserver.
pub struct Applied {
    pub overlay: &'static str,
    pub answers: Vec<(String, Answer)>,
}

impl Applied {
    /// Every refusal and every warning, one line each.
    pub fn problems(&self) -> Vec<String> {
        let mut problems = Vec::new();
        for (object, answer) in &self.answers {
            if !answer.admitted() {
                problems.push(format!(
                    "{}: {object}: {} {}",
                    self.overlay,
                    answer.status,
                    answer.message()
                ));
            }
            for warning in &answer.warnings {
                problems.push(format!("{}: {object}: warning: {warning}", self.overlay));
            }
        }
        problems
    }
}

static PRODUCTION: OnceCell<Applied> = OnceCell::const_new();

/// The third-party CRDs installed and the production overlay applied, once per run; the
/// tests that need its Namespace, ServiceAccount, RBAC or CRDs call this first.
pub async fn production(client: &kube::Client) -> &'static Applied {
    PRODUCTION
        .get_or_init(|| async {
            install_third_party_crds(client).await;
            apply_overlay(client, "production", &repo_path("deploy")).await
        })
        .await
}

fn kustomize(dir: &Path) -> Vec<Value> {
    yaml_objects(&shared::kustomize(dir), &dir.display().to_string())
}

fn label(object: &Value) -> String {
    let kind = object["kind"].as_str().unwrap_or("?");
    let name = object["metadata"]["name"].as_str().unwrap_or("?");
    match object["metadata"]["namespace"].as_str() {
        Some(namespace) => format!("{kind} {namespace}/{name}"),
        None => format!("{kind} {name}"),
    }
}

/// The CRDs of cert-manager, the Prometheus Operator and Kyverno, as `run.sh` found them in
/// those projects' release modules. Created, not applied: Kyverno's are too large for the
/// annotation client-side apply keeps, and server-side apply gains nothing here.
async fn install_third_party_crds(client: &kube::Client) {
    let files = required_env("PORTCULLIS_E2E_CRDS");
    let api = Api::<CustomResourceDefinition>::all(client.clone());
    let mut names = Vec::new();
    for file in std::env::split_paths(&files) {
        let text = std::fs::read_to_string(&file)
            .unwrap_or_else(|error| panic!("{}: {error}", file.display()));
        for crd in yaml_objects(&text, &file.display().to_string()) {
            let answer = create_at(client, api.resource_url(), &crd, false).await;
            assert!(
                answer.admitted() || answer.status == 409,
                "{}: {}: {answer:#?}",
                file.display(),
                label(&crd)
            );
            names.push(
                crd["metadata"]["name"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned(),
            );
        }
    }
    for name in names {
        established(&api, &name).await;
    }
}

/// Waits for `Established`, and holds the CRD to a structural schema and accepted names.
pub async fn established(api: &Api<CustomResourceDefinition>, name: &str) {
    let crd = eventually(
        &format!("CRD {name} is established"),
        PATIENCE,
        async || {
            let crd = api.get(name).await.map_err(|error| error.to_string())?;
            let conditions = crd
                .status
                .as_ref()
                .and_then(|status| status.conditions.as_deref())
                .unwrap_or_default();
            if conditions
                .iter()
                .any(|condition| condition.type_ == "Established" && condition.status == "True")
            {
                Ok(crd)
            } else {
                Err(format!("conditions {conditions:?}"))
            }
        },
    )
    .await;
    let conditions = crd
        .status
        .and_then(|status| status.conditions)
        .unwrap_or_default();
    for condition in conditions {
        match condition.type_.as_str() {
            "NonStructuralSchema" => assert_ne!(
                condition.status, "True",
                "CRD {name}: the schema is not structural: {:?}",
                condition.message
            ),
            "NamesAccepted" => assert_eq!(
                condition.status, "True",
                "CRD {name}: {:?}",
                condition.message
            ),
            _ => {}
        }
    }
}

/// Applies every object `dir` renders: CRDs first (and waits for them), then the rest in
/// kustomize's order; webhook configurations as dry runs.
pub async fn apply_overlay(client: &kube::Client, overlay: &'static str, dir: &Path) -> Applied {
    let objects = kustomize(dir);
    let crd_api = Api::<CustomResourceDefinition>::all(client.clone());
    let (crds, rest): (Vec<Value>, Vec<Value>) = objects
        .into_iter()
        .partition(|object| object["kind"] == "CustomResourceDefinition");
    let mut answers = Vec::new();
    for crd in &crds {
        let answer = apply_at(client, crd_api.resource_url(), crd, false).await;
        if answer.admitted() {
            established(
                &crd_api,
                crd["metadata"]["name"].as_str().unwrap_or_default(),
            )
            .await;
        }
        answers.push((label(crd), answer));
    }
    let discovery = Discovery::new(client.clone())
        .run()
        .await
        .expect("API discovery");
    for object in &rest {
        let gvk = gvk_of(object);
        let Some((resource, capabilities)) = discovery.resolve_gvk(&gvk) else {
            panic!(
                "{overlay}: {}: the apiserver serves no {}/{}",
                label(object),
                gvk.api_version(),
                gvk.kind
            );
        };
        let api: Api<DynamicObject> =
            match (capabilities.scope, object["metadata"]["namespace"].as_str()) {
                (Scope::Namespaced, Some(namespace)) => {
                    Api::namespaced_with(client.clone(), namespace, &resource)
                }
                (Scope::Namespaced, None) => {
                    panic!("{overlay}: {} has no namespace", label(object))
                }
                (Scope::Cluster, _) => Api::all_with(client.clone(), &resource),
            };
        let answer = apply_at(client, api.resource_url(), object, false).await;
        answers.push((label(object), answer));
    }
    Applied { overlay, answers }
}

fn gvk_of(object: &Value) -> GroupVersionKind {
    let api_version = object["apiVersion"].as_str().unwrap_or_default();
    let (group, version) = api_version.split_once('/').unwrap_or(("", api_version));
    GroupVersionKind::gvk(group, version, object["kind"].as_str().unwrap_or_default())
}

#[tokio::test]
async fn every_object_deploy_renders_is_accepted() {
    let client = crate::support::admin().await;
    let production = production(&client).await;
    let scratch = tempfile::tempdir().expect("tempdir");
    let overlays = [
        production,
        &apply_overlay(&client, "base", &repo_path("deploy/base")).await,
        &apply_overlay(&client, "dev", &shared::dev_overlay(scratch.path())).await,
    ];
    let mut problems = Vec::new();
    for applied in overlays {
        problems.extend(applied.problems());
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    // What deploy/ must install, so a render that lost an object cannot pass by being smaller.
    for wanted in [
        "CustomResourceDefinition clusterpolicies.portcullis.dev",
        "CustomResourceDefinition policies.portcullis.dev",
        "ClusterRole portcullis",
        "ClusterRoleBinding portcullis",
        "Service portcullis/portcullis",
        "Deployment portcullis/portcullis",
        "Certificate portcullis/portcullis-tls",
        "ServiceMonitor portcullis/portcullis",
    ] {
        assert!(
            production
                .answers
                .iter()
                .any(|(object, _)| object == wanted),
            "production renders no {wanted}"
        );
    }
}

/// Installing without cert-manager (the base: its Deployment waits for a Secret nobody makes)
/// leaves Pod creation alone: no webhook is registered before a server is ready.
#[tokio::test]
async fn installing_without_cert_manager_never_blocks_pod_creation() {
    let client = crate::support::admin().await;
    let base = apply_overlay(&client, "base", &repo_path("deploy/base")).await;
    assert!(
        !base
            .answers
            .iter()
            .any(|(object, _)| object.starts_with("ValidatingWebhookConfiguration")),
        "deploy/base renders a static webhook configuration"
    );
    let namespace = "e2e-no-cert-manager";
    crate::support::namespace(&client, namespace, "no-cert-manager", serde_json::json!({})).await;
    let answer = crate::support::create::<k8s_openapi::api::core::v1::Pod>(
        &client,
        &crate::support::pod("web", namespace, &["nginx:latest"]),
        false,
    )
    .await;
    assert!(
        answer.admitted(),
        "a Pod is refused while no server runs: {answer:?}"
    );
}
