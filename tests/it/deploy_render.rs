//! `deploy/` as a cluster receives it: every overlay rendered by `kubectl kustomize`, every
//! rendered object held to its Kubernetes type, and our own manifests judged by our own
//! policies with `portcullis check`. The dev overlay renders from a temporary copy of the
//! repository after `portcullis certs --kustomize` has written its git-ignored inputs
//! ([`shared::dev_overlay`]).

use crate::fixtures::repo_path;
use crate::shared;
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;
use std::path::Path;
use std::process::{Command, Stdio};

/// A rendered overlay: its objects, in the order kustomize printed them.
pub struct Rendered {
    pub name: &'static str,
    pub objects: Vec<Value>,
    pub text: String,
}

impl Rendered {
    pub fn find(&self, kind: &str) -> &Value {
        self.objects
            .iter()
            .find(|object| object["kind"] == kind)
            .unwrap_or_else(|| panic!("{}: no {kind} rendered", self.name))
    }
}

fn kubectl_present() -> bool {
    let present = Command::new("kubectl")
        .args(["version", "--client"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|status| status.success());
    if !present {
        eprintln!("note: kubectl is not installed; skipping the deploy/ render tests");
    }
    present
}

fn kustomize(dir: &Path, name: &'static str) -> Rendered {
    let text = shared::kustomize(dir);
    let objects = shared::yaml_objects(&text, name);
    Rendered {
        name,
        objects,
        text,
    }
}

/// Every overlay, rendered; `None` (after a printed note) when kubectl is absent.
pub fn render_all(scratch: &Path) -> Option<Vec<Rendered>> {
    if !kubectl_present() {
        return None;
    }
    Some(vec![
        kustomize(&repo_path("deploy/base"), "base"),
        kustomize(&repo_path("deploy/overlays/production"), "production"),
        kustomize(&shared::dev_overlay(scratch), "dev"),
    ])
}

#[test]
fn deploy_root_renders_the_production_overlay() {
    if !kubectl_present() {
        return;
    }
    let root = kustomize(&repo_path("deploy"), "deploy/");
    let production = kustomize(&repo_path("deploy/overlays/production"), "production");
    assert_eq!(root.text, production.text);
}

#[test]
fn dev_overlay_needs_its_generated_inputs() {
    if !kubectl_present() {
        return;
    }
    let scratch = tempfile::tempdir().expect("tempdir");
    shared::copy_tree(&repo_path("deploy"), &scratch.path().join("deploy"));
    shared::copy_tree(&repo_path("policies"), &scratch.path().join("policies"));
    let generated = scratch.path().join("deploy/overlays/dev/generated");
    let _ = std::fs::remove_dir_all(&generated);
    let output = Command::new("kubectl")
        .arg("kustomize")
        .arg(scratch.path().join("deploy/overlays/dev"))
        .output()
        .expect("run kubectl kustomize");
    assert!(
        !output.status.success(),
        "dev renders without a certificate"
    );
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("generated/"), "{stderr}");
}

/// Deserialises into the typed object and serialises back: a field the type does not know is
/// dropped on the way, so any difference from the input is an unknown or misspelt field.
fn round_trip<T: DeserializeOwned + Serialize>(object: &Value) -> Result<(), String> {
    let typed: T = serde_json::from_value(object.clone()).map_err(|error| error.to_string())?;
    let back = serde_json::to_value(&typed).map_err(|error| error.to_string())?;
    if same_json(&back, object) {
        Ok(())
    } else {
        Err(format!(
            "fields lost in the round trip:\n  rendered: {object}\n  typed:    {back}"
        ))
    }
}

/// JSON equality where `0` and `0.0` are the same number: some typed fields (JSON-schema
/// bounds) are floats, and a generator may write an integral bound without a fraction.
fn same_json(left: &Value, right: &Value) -> bool {
    match (left, right) {
        (Value::Number(left), Value::Number(right)) => left.as_f64() == right.as_f64(),
        (Value::Array(left), Value::Array(right)) => {
            left.len() == right.len() && left.iter().zip(right).all(|(a, b)| same_json(a, b))
        }
        (Value::Object(left), Value::Object(right)) => {
            left.len() == right.len()
                && left
                    .iter()
                    .all(|(key, a)| right.get(key).is_some_and(|b| same_json(a, b)))
        }
        _ => left == right,
    }
}

/// kustomize wraps long base64 values over several lines; Go's decoder (and so the apiserver)
/// skips the line breaks, k8s-openapi's does not, so they are removed before the typed check.
fn unwrapped_secret_data(secret: &Value) -> Value {
    let mut secret = secret.clone();
    if let Some(data) = secret["data"].as_object_mut() {
        for value in data.values_mut() {
            if let Some(text) = value.as_str() {
                *value = text.replace(['\n', '\r'], "").into();
            }
        }
    }
    secret
}

/// Resources of CRDs the cluster gets from elsewhere (cert-manager, the Prometheus Operator)
/// have no k8s-openapi type: they are read into the minimal types in `deploy_types`, which
/// reject every field they do not declare.
fn strict(object: &Value) -> Result<(), String> {
    use crate::deploy_types as crd;
    use k8s_openapi::api::{apps, core, networking, policy, rbac};
    use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1 as apiextensions;
    let api_version = object["apiVersion"].as_str().unwrap_or_default();
    let kind = object["kind"].as_str().unwrap_or_default();
    match (api_version, kind) {
        ("v1", "Namespace") => round_trip::<core::v1::Namespace>(object),
        ("v1", "ServiceAccount") => round_trip::<core::v1::ServiceAccount>(object),
        ("v1", "Service") => round_trip::<core::v1::Service>(object),
        ("v1", "ConfigMap") => round_trip::<core::v1::ConfigMap>(object),
        ("v1", "Secret") => round_trip::<core::v1::Secret>(&unwrapped_secret_data(object)),
        ("apps/v1", "Deployment") => round_trip::<apps::v1::Deployment>(object),
        ("policy/v1", "PodDisruptionBudget") => {
            round_trip::<policy::v1::PodDisruptionBudget>(object)
        }
        ("networking.k8s.io/v1", "NetworkPolicy") => {
            round_trip::<networking::v1::NetworkPolicy>(object)
        }
        ("rbac.authorization.k8s.io/v1", "ClusterRole") => {
            round_trip::<rbac::v1::ClusterRole>(object)
        }
        ("rbac.authorization.k8s.io/v1", "ClusterRoleBinding") => {
            round_trip::<rbac::v1::ClusterRoleBinding>(object)
        }
        ("admissionregistration.k8s.io/v1", "ValidatingWebhookConfiguration") => round_trip::<
            k8s_openapi::api::admissionregistration::v1::ValidatingWebhookConfiguration,
        >(object),
        ("apiextensions.k8s.io/v1", "CustomResourceDefinition") => {
            round_trip::<apiextensions::CustomResourceDefinition>(object)
        }
        ("cert-manager.io/v1", "Certificate") => crd::strict::<crd::Certificate>(object),
        ("cert-manager.io/v1", "Issuer") => crd::strict::<crd::Issuer>(object),
        ("monitoring.coreos.com/v1", "ServiceMonitor") => {
            crd::strict::<crd::ServiceMonitor>(object)
        }
        ("monitoring.coreos.com/v1", "PrometheusRule") => {
            crd::strict::<crd::PrometheusRule>(object)
        }
        _ => Err(format!(
            "no type known for {api_version} {kind}: add it to the strict check"
        )),
    }
}

#[test]
fn every_rendered_object_is_strictly_typed() {
    let scratch = tempfile::tempdir().expect("tempdir");
    let Some(overlays) = render_all(scratch.path()) else {
        return;
    };
    let mut problems = Vec::new();
    for overlay in &overlays {
        for object in &overlay.objects {
            if let Err(problem) = strict(object) {
                let name = object["metadata"]["name"].as_str().unwrap_or("?");
                problems.push(format!(
                    "{}: {} {name}: {problem}",
                    overlay.name, object["kind"]
                ));
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn the_strict_check_catches_a_misspelt_field() {
    let mut object = serde_json::json!({
        "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "x"},
        "spec": {"selector": {}, "template": {"spec": {"containers": []}}},
    });
    strict(&object).expect("a well-formed Deployment passes");
    object["spec"]["replica"] = 3.into();
    let problem = strict(&object).expect_err("misspelt field");
    assert!(problem.contains("replica"), "{problem}");
}

fn check_rendered(overlay: &Rendered) -> Value {
    let mut child = Command::new(env!("CARGO_BIN_EXE_portcullis"))
        .args(["check", "--output", "json", "--policies"])
        .arg(repo_path("policies"))
        .arg("-")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn portcullis check");
    std::io::Write::write_all(
        child.stdin.as_mut().expect("stdin"),
        overlay.text.as_bytes(),
    )
    .expect("write rendered manifests");
    drop(child.stdin.take());
    let output = child.wait_with_output().expect("portcullis check finishes");
    let report: Value = serde_json::from_slice(&output.stdout).unwrap_or_else(|error| {
        panic!(
            "{}: check printed no JSON ({error}): {}",
            overlay.name,
            String::from_utf8_lossy(&output.stderr)
        )
    });
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}: our own manifests break our own policies: {report:#}",
        overlay.name
    );
    report
}

#[test]
fn our_manifests_obey_our_policies() {
    let scratch = tempfile::tempdir().expect("tempdir");
    let Some(overlays) = render_all(scratch.path()) else {
        return;
    };
    for overlay in &overlays {
        let report = check_rendered(overlay);
        let results = report["results"].as_array().expect("results");
        let deployment_passes = results
            .iter()
            .filter(|result| result["kind"] == "Deployment" && result["result"] == "pass")
            .count();
        // Both policies' image rules, through autogen, judged the Deployment's pod template.
        assert!(
            deployment_passes >= 3,
            "{}: the Deployment was not judged: {report:#}",
            overlay.name
        );
        assert_eq!(report["summary"]["fail"], 0, "{}", overlay.name);
        assert_eq!(report["summary"]["error"], 0, "{}", overlay.name);
    }
}
