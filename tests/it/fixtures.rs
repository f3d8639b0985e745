//! Shared test inputs: real AdmissionReview documents, the repository's policies, fixture paths.

use portcullis::metrics::Metrics;
use portcullis::policy::{self, PolicySet};
use portcullis::webhook::AppState;
use serde_json::{Value, json};
use std::path::PathBuf;
use std::sync::Arc;

pub use crate::shared::{pod, repo_path};

/// The Kyverno policy library corpus when `../shared/conformance` is beside the checkout; its
/// absence is reported, and the tests that need it pass without it.
/// One folder of the shared conformance corpus (`kyverno-policies`, `kyverno-cli`), or `None`
/// when the corpus is not beside the checkout.
pub fn conformance_corpus(folder: &str) -> Option<PathBuf> {
    let corpus = repo_path("../shared/conformance").join(folder);
    if !corpus.is_dir() {
        eprintln!("skipping: {} is not present", corpus.display());
        return None;
    }
    Some(corpus)
}

pub fn load(paths: &[&str]) -> PolicySet {
    let paths: Vec<PathBuf> = paths.iter().map(|path| repo_path(path)).collect();
    policy::load_paths(&paths).unwrap_or_else(|errors| panic!("policies load: {errors:?}"))
}

pub fn state(paths: &[&str]) -> Arc<AppState> {
    AppState::new(load(paths), Metrics::new().expect("metrics register"))
}

/// An `AdmissionReview` shaped as the kube-apiserver sends it for a CREATE.
pub fn review(uid: &str, object: &Value) -> Value {
    let api_version = object["apiVersion"].as_str().unwrap_or("v1");
    let (group, version) = api_version.split_once('/').unwrap_or(("", api_version));
    let kind = object["kind"].as_str().unwrap_or("");
    let namespace = object["metadata"]["namespace"].as_str().unwrap_or("");
    json!({
        "apiVersion": "admission.k8s.io/v1",
        "kind": "AdmissionReview",
        "request": {
            "uid": uid,
            "kind": {"group": group, "version": version, "kind": kind},
            "resource": {"group": group, "version": version, "resource": format!("{}s", kind.to_lowercase())},
            "requestKind": {"group": group, "version": version, "kind": kind},
            "requestResource": {"group": group, "version": version, "resource": format!("{}s", kind.to_lowercase())},
            "name": object["metadata"]["name"],
            "namespace": namespace,
            "operation": "CREATE",
            "userInfo": {"username": "kubernetes-admin", "groups": ["kubeadm:cluster-admins", "system:authenticated"]},
            "object": object,
            "oldObject": null,
            "dryRun": false,
            "options": {"apiVersion": "meta.k8s.io/v1", "kind": "CreateOptions", "fieldManager": "kubectl-client-side-apply"},
        }
    })
}
