//! `portcullis serve --kube` against the real apiserver, signed in as the portcullis
//! ServiceAccount of `deploy/` with a token from the TokenRequest API and only the RBAC
//! `deploy/` grants: namespace labels, `portcullis.dev` policies with their status, and Kyverno's
//! own policies and PolicyExceptions read through Kyverno's CRDs.

use crate::support::{
    PATIENCE, Serve, WITHIN_SECONDS, admin, apply_at, client_from, create, eventually,
    install_webhook, namespace, pod, repo_path, required_env, scoped, webhook_config, work_dir,
};
use k8s_openapi::api::authentication::v1::{TokenRequest, TokenRequestSpec};
use k8s_openapi::api::core::v1::{Pod, Secret, ServiceAccount};
use kube::api::{Api, ApiResource, DeleteParams, DynamicObject, GroupVersionKind, PostParams};
use portcullis::cluster::crd::ClusterPolicy;
use serde_json::{Value, json};
use std::path::{Path, PathBuf};

/// A kubeconfig for the portcullis ServiceAccount: the suite's cluster entry, and a token the
/// apiserver issued for the account through the TokenRequest API.
pub async fn service_account_kubeconfig(client: &kube::Client, dir: &Path) -> PathBuf {
    let production = crate::deploy::production(client).await;
    let refused: Vec<&String> = production
        .answers
        .iter()
        .filter(|(_, answer)| !answer.admitted())
        .map(|(object, _)| object)
        .collect();
    assert!(refused.is_empty(), "deploy/ was not installed: {refused:?}");
    let accounts = Api::<ServiceAccount>::namespaced(client.clone(), "portcullis");
    let request = TokenRequest {
        spec: TokenRequestSpec {
            expiration_seconds: Some(3600),
            ..TokenRequestSpec::default()
        },
        ..TokenRequest::default()
    };
    let token = accounts
        .create_token_request("portcullis", &PostParams::default(), &request)
        .await
        .expect("a token for ServiceAccount portcullis/portcullis")
        .status
        .expect("the token request's status")
        .token;
    let admin = kube::config::Kubeconfig::read_from(required_env("PORTCULLIS_E2E_KUBECONFIG"))
        .expect("the suite's kubeconfig");
    let cluster = admin.clusters[0].cluster.as_ref().expect("a cluster entry");
    let server = cluster.server.as_deref().expect("a server URL");
    let ca = cluster.certificate_authority.as_deref().expect("a CA file");
    let path = dir.join("portcullis.kubeconfig");
    let text = format!(
        "apiVersion: v1\nkind: Config\nclusters:\n- name: e2e\n  cluster:\n    server: {server}\n    certificate-authority: {ca}\nusers:\n- name: portcullis\n  user:\n    token: {token}\ncontexts:\n- name: portcullis\n  context:\n    cluster: e2e\n    user: portcullis\n    namespace: portcullis\ncurrent-context: portcullis\n"
    );
    std::fs::write(&path, text).expect("write the ServiceAccount's kubeconfig");

    // The token is the ServiceAccount's, not an administrator's: it may not read Secrets.
    let account = client_from(&path).await;
    let secrets = Api::<Secret>::all(account);
    match secrets.list(&Default::default()).await {
        Err(kube::Error::Api(error)) if error.code == 403 => {}
        other => panic!("the ServiceAccount should not list Secrets: {other:?}"),
    }
    path
}

/// `serve --kube` as the ServiceAccount with `args`, and its webhook judging `scope`.
async fn serve_kube(client: &kube::Client, scope: &str, policies: &Path, args: &[&str]) -> Serve {
    let kubeconfig = service_account_kubeconfig(client, &work_dir(scope)).await;
    // The test installs a configuration scoped to its own namespaces instead.
    let mut all = vec![
        "--kube",
        "--no-webhook-registration",
        "--policies",
        policies.to_str().expect("UTF-8 path"),
    ];
    all.extend_from_slice(args);
    let serve = Serve::start(scope, &all, &[("KUBECONFIG", &kubeconfig)]).await;
    let configuration = scoped(
        webhook_config(&[policies]),
        &format!("portcullis-{scope}"),
        scope,
        &serve.endpoint,
    );
    install_webhook(client, &configuration).await;
    serve
}

async fn admitted(client: &kube::Client, object: &Value) -> bool {
    create::<Pod>(client, object, true).await.admitted()
}

/// Waits until a dry run of `object` gets a refusal whose message holds `part`.
async fn until_refused_with(
    client: &kube::Client,
    object: &Value,
    part: &str,
    within: std::time::Duration,
) {
    eventually(&format!("a refusal saying {part:?}"), within, async || {
        let answer = create::<Pod>(client, object, true).await;
        if !answer.admitted() && answer.message().contains(part) {
            Ok(())
        } else {
            Err(format!("{answer:?}"))
        }
    })
    .await;
}

async fn until_admitted(client: &kube::Client, object: &Value) {
    eventually("admission", WITHIN_SECONDS, async || {
        let answer = create::<Pod>(client, object, true).await;
        if answer.admitted() {
            Ok(())
        } else {
            Err(format!("{answer:?}"))
        }
    })
    .await;
}

#[tokio::test]
async fn namespace_labels_reach_namespace_selector_rules() {
    let client = admin().await;
    let scope = "kube-namespaces";
    let policies = repo_path("tests/fixtures/policies-namespace-selector");
    let serve = serve_kube(&client, scope, &policies, &[]).await;
    let (restricted, open) = ("e2e-kube-restricted", "e2e-kube-open");
    namespace(&client, restricted, scope, json!({"tier": "restricted"})).await;
    namespace(&client, open, scope, json!({})).await;
    let message = "Restricted namespaces must not run :latest images.";
    let in_restricted = pod("web", restricted, &["nginx:latest"]);
    let in_open = pod("web", open, &["nginx:latest"]);
    until_refused_with(&client, &in_restricted, message, PATIENCE).await;
    assert!(
        admitted(&client, &in_open).await,
        "{open} is not restricted"
    );

    // Labels changed through the API change decisions.
    namespace(&client, open, scope, json!({"tier": "restricted"})).await;
    namespace(&client, restricted, scope, json!({})).await;
    until_refused_with(&client, &in_open, message, WITHIN_SECONDS).await;
    until_admitted(&client, &in_restricted).await;
    drop(serve);
}

/// `serve --kube` with the repository's policies and `args`, judging a namespace of its own
/// (the webhook is in effect once a `:latest` Pod there is denied); and a Pod from a registry no
/// policy forbids yet, which the test's cluster policies then forbid.
async fn untrusted_pod_under(
    client: &kube::Client,
    scope: &str,
    args: &[&str],
) -> (Serve, String, Value) {
    let serve = serve_kube(client, scope, &repo_path("policies"), args).await;
    let judged = format!("e2e-{scope}");
    namespace(client, &judged, scope, json!({})).await;
    let probe = pod("probe", &judged, &["nginx:latest"]);
    until_refused_with(client, &probe, "require-image-digest", PATIENCE).await;
    let untrusted = pod("web", &judged, &["untrusted.example/app:1.0"]);
    assert!(
        admitted(client, &untrusted).await,
        "no policy forbids it yet"
    );
    (serve, judged, untrusted)
}

fn untrusted_registry_policy(name: &str, namespace: &str, message: &str) -> Value {
    json!({
        "apiVersion": "portcullis.dev/v1alpha1",
        "kind": "ClusterPolicy",
        "metadata": {"name": name},
        "spec": {
            "validationFailureAction": "Enforce",
            "rules": [{
                "name": "trusted-registry",
                "match": {"any": [{"resources": {"kinds": ["Pod"], "namespaces": [namespace]}}]},
                "validate": {
                    "message": message,
                    "pattern": {"spec": {"containers": [{"image": "!untrusted.example/*"}]}},
                },
            }],
        },
    })
}

/// Waits until the server has written a status for the policy's current generation.
async fn status_of(
    policies: &Api<ClusterPolicy>,
    name: &str,
) -> portcullis::cluster::crd::PolicyStatus {
    eventually(
        &format!("ClusterPolicy {name} has a current status"),
        WITHIN_SECONDS,
        async || {
            let policy = policies
                .get(name)
                .await
                .map_err(|error| error.to_string())?;
            match policy.status {
                Some(status) if status.observed_generation == policy.metadata.generation => {
                    Ok(status)
                }
                status => Err(format!(
                    "generation {:?}, status {status:?}",
                    policy.metadata.generation
                )),
            }
        },
    )
    .await
}

#[tokio::test]
async fn cluster_policies_change_decisions_and_carry_their_status() {
    let client = admin().await;
    let (serve, judged, untrusted) = untrusted_pod_under(&client, "kube-policies", &[]).await;
    let judged = judged.as_str();

    let policies = Api::<ClusterPolicy>::all(client.clone());
    let name = "e2e-untrusted-registry";
    let first = "Images from untrusted.example are not allowed.";
    let answer = apply_at(
        &client,
        policies.resource_url(),
        &untrusted_registry_policy(name, judged, first),
        false,
    )
    .await;
    answer.expect_admitted("a portcullis.dev ClusterPolicy");
    until_refused_with(&client, &untrusted, first, WITHIN_SECONDS).await;
    let status = status_of(&policies, name).await;
    assert!(status.ready, "{status:?}");
    assert_eq!(status.rule_count, 1);
    assert_eq!(status.error, None);
    assert_eq!(status.observed_generation, Some(1));

    let second = "Use a registry the platform team trusts.";
    apply_at(
        &client,
        policies.resource_url(),
        &untrusted_registry_policy(name, judged, second),
        false,
    )
    .await
    .expect_admitted("the changed ClusterPolicy");
    until_refused_with(&client, &untrusted, second, WITHIN_SECONDS).await;
    let status = status_of(&policies, name).await;
    assert!(status.ready, "{status:?}");
    assert_eq!(status.observed_generation, Some(2));

    policies
        .delete(name, &DeleteParams::default())
        .await
        .expect("delete the ClusterPolicy");
    until_admitted(&client, &untrusted).await;

    // A policy the server cannot compile is left out and says why in its status.
    let invalid = "e2e-invalid";
    let mut object = untrusted_registry_policy(invalid, judged, "unused");
    object["spec"]["rules"][0]["generate"] = json!({"kind": "ConfigMap", "name": "x"});
    apply_at(&client, policies.resource_url(), &object, false)
        .await
        .expect_admitted("a ClusterPolicy the apiserver accepts and the server cannot compile");
    let status = status_of(&policies, invalid).await;
    assert!(!status.ready, "{status:?}");
    let error = status.error.unwrap_or_default();
    assert!(
        error.starts_with(
            "ClusterPolicy/e2e-invalid at spec.rules[0].generate: generate is not supported"
        ),
        "{error}"
    );
    assert!(
        admitted(&client, &untrusted).await,
        "the invalid policy is not enforced"
    );
    drop(serve);
}

#[tokio::test]
async fn kyverno_cluster_policies_are_read_from_their_crd() {
    let client = admin().await;
    let (serve, judged, untrusted) =
        untrusted_pod_under(&client, "kube-kyverno", &["--watch-kyverno-policies"]).await;
    let judged = judged.as_str();

    let resource = ApiResource::from_gvk_with_plural(
        &GroupVersionKind::gvk("kyverno.io", "v1", "ClusterPolicy"),
        "clusterpolicies",
    );
    let kyverno = Api::<DynamicObject>::all_with(client.clone(), &resource);
    let name = "e2e-kyverno-untrusted-registry";
    let message = "Kyverno says images from untrusted.example are not allowed.";
    let mut object = untrusted_registry_policy(name, judged, message);
    object["apiVersion"] = json!("kyverno.io/v1");
    apply_at(&client, kyverno.resource_url(), &object, false)
        .await
        .expect_admitted("a kyverno.io ClusterPolicy, validated by Kyverno's CRD");
    until_refused_with(&client, &untrusted, message, WITHIN_SECONDS).await;
    let stored = kyverno.get(name).await.expect("the Kyverno policy");
    assert!(
        stored.data.get("status").is_none_or(Value::is_null),
        "Kyverno's objects are only read: {:?}",
        stored.data.get("status")
    );

    kyverno
        .delete(name, &DeleteParams::default())
        .await
        .expect("delete the Kyverno policy");
    until_admitted(&client, &untrusted).await;
    drop(serve);
}

/// A PolicyException of the followed namespace, validated by Kyverno's CRD, lets a Kyverno
/// policy's refusal through while it exists; one elsewhere does not.
#[tokio::test]
async fn kyverno_policy_exceptions_are_read_from_their_crd() {
    let client = admin().await;
    let scope = "kube-exceptions";
    let followed = format!("e2e-{scope}-followed");
    let (serve, judged, untrusted) = untrusted_pod_under(
        &client,
        scope,
        &[
            "--watch-kyverno-policies",
            "--watch-policy-exceptions",
            &followed,
        ],
    )
    .await;
    let judged = judged.as_str();
    namespace(&client, &followed, scope, json!({})).await;

    let policies = Api::<DynamicObject>::all_with(
        client.clone(),
        &ApiResource::from_gvk_with_plural(
            &GroupVersionKind::gvk("kyverno.io", "v1", "ClusterPolicy"),
            "clusterpolicies",
        ),
    );
    let name = "e2e-excepted-untrusted-registry";
    let message = "Kyverno says images from untrusted.example are not allowed.";
    let mut policy = untrusted_registry_policy(name, judged, message);
    policy["apiVersion"] = json!("kyverno.io/v1");
    apply_at(&client, policies.resource_url(), &policy, false)
        .await
        .expect_admitted("a kyverno.io ClusterPolicy");
    until_refused_with(&client, &untrusted, message, WITHIN_SECONDS).await;

    let exceptions = ApiResource::from_gvk_with_plural(
        &GroupVersionKind::gvk("kyverno.io", "v2", "PolicyException"),
        "policyexceptions",
    );
    let exception = |namespace: &str| {
        json!({
            "apiVersion": "kyverno.io/v2",
            "kind": "PolicyException",
            "metadata": {"name": "untrusted-web", "namespace": namespace},
            "spec": {
                "exceptions": [{"policyName": name, "ruleNames": ["trusted-registry"]}],
                "match": {"any": [{"resources": {"kinds": ["Pod"], "names": ["web"], "namespaces": [judged]}}]},
            },
        })
    };
    // In a namespace the server does not follow, an exception changes nothing.
    let elsewhere = Api::<DynamicObject>::namespaced_with(client.clone(), judged, &exceptions);
    apply_at(&client, elsewhere.resource_url(), &exception(judged), false)
        .await
        .expect_admitted("a PolicyException, validated by Kyverno's CRD");
    let followed_api =
        Api::<DynamicObject>::namespaced_with(client.clone(), &followed, &exceptions);
    apply_at(
        &client,
        followed_api.resource_url(),
        &exception(&followed),
        false,
    )
    .await
    .expect_admitted("a PolicyException, validated by Kyverno's CRD");
    until_admitted(&client, &untrusted).await;
    let mut other = untrusted.clone();
    other["metadata"]["name"] = json!("other");
    assert!(
        !admitted(&client, &other).await,
        "the exception matches only the pod it names"
    );

    followed_api
        .delete("untrusted-web", &DeleteParams::default())
        .await
        .expect("delete the followed exception");
    until_refused_with(&client, &untrusted, message, WITHIN_SECONDS).await;
    policies
        .delete(name, &DeleteParams::default())
        .await
        .expect("delete the Kyverno policy");
    drop(serve);
}
