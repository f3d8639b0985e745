//! Reviews the apiserver sends besides a plain CREATE, in-process through the router: v1beta1,
//! DELETE, dry runs, subresources, UPDATE with pre-existing violations, the apiserver's
//! `?timeout=` with both `--on-timeout` verdicts, and the metric label sets after such traffic.

use crate::fixtures::{load, pod, review, state};
use crate::webhook_support::post_router;
use axum::http::StatusCode;
use portcullis::metrics::Metrics;
use portcullis::webhook::deadline::OnTimeout;
use portcullis::webhook::{AppState, WebhookOptions};
use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

async fn judge(state: &Arc<AppState>, body: &Value) -> Value {
    judge_at(state, "/validate", body).await
}

async fn judge_at(state: &Arc<AppState>, path: &str, body: &Value) -> Value {
    let (status, answer) = post_router(state, path, serde_json::to_vec(body).unwrap()).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(answer["response"]["uid"], body["request"]["uid"]);
    answer
}

fn update(uid: &str, old: &Value, new: &Value) -> Value {
    let mut body = review(uid, new);
    body["request"]["operation"] = json!("UPDATE");
    body["request"]["oldObject"] = old.clone();
    body
}

#[tokio::test]
async fn v1beta1_reviews_are_answered_in_kind() {
    let state = state(&["policies"]);
    let mut body = review("beta", &pod("web", "shop", &["nginx:latest"]));
    body["apiVersion"] = json!("admission.k8s.io/v1beta1");
    let answer = judge(&state, &body).await;
    assert_eq!(answer["apiVersion"], "admission.k8s.io/v1beta1");
    assert_eq!(answer["kind"], "AdmissionReview");
    assert_eq!(answer["response"]["allowed"], false);
}

#[tokio::test]
async fn delete_is_not_validated_against_patterns() {
    let state = state(&["policies"]);
    let old = pod("web", "shop", &["nginx:latest"]);
    let mut body = review("delete", &old);
    body["request"]["operation"] = json!("DELETE");
    body["request"]["object"] = Value::Null;
    body["request"]["oldObject"] = old;
    let answer = judge(&state, &body).await;
    assert_eq!(answer["response"]["allowed"], true);
    assert!(state.metrics.encode().contains(
        r#"portcullis_admission_requests_total{allowed="true",kind="Pod",operation="DELETE"} 1"#
    ));
}

#[tokio::test]
async fn dry_runs_are_judged_like_real_requests() {
    let state = state(&["policies"]);
    for (image, allowed) in [("nginx:latest", false), ("nginx:1.25.3", true)] {
        let mut body = review("dry", &pod("web", "shop", &[image]));
        body["request"]["dryRun"] = json!(true);
        assert_eq!(judge(&state, &body).await["response"]["allowed"], allowed);
    }
}

#[tokio::test]
async fn subresources_follow_kyverno() {
    let state = state(&["policies"]);
    // Adding an ephemeral container is an UPDATE of pods/ephemeralcontainers; plain `Pod`
    // rules match it.
    let old = pod("web", "shop", &["nginx:1.25.3"]);
    for (image, allowed) in [("busybox:latest", false), ("busybox:1.36", true)] {
        let mut new = old.clone();
        new["spec"]["ephemeralContainers"] = json!([{"name": "debug", "image": image}]);
        let mut body = update("ephemeral", &old, &new);
        body["request"]["subResource"] = json!("ephemeralcontainers");
        let answer = judge(&state, &body).await;
        assert_eq!(answer["response"]["allowed"], allowed, "{image}: {answer}");
    }
    // pods/status is a different subresource, which a plain `Pod` rule does not match.
    let latest = pod("web", "shop", &["nginx:latest"]);
    let mut status = update("status", &latest, &latest);
    status["request"]["subResource"] = json!("status");
    assert_eq!(judge(&state, &status).await["response"]["allowed"], true);
    // `kubectl exec` is a CONNECT of pods/exec carrying PodExecOptions, or no object at all.
    let exec_options = json!({"kind": "PodExecOptions", "apiVersion": "v1", "stdin": true, "tty": true, "container": "c0", "command": ["sh"]});
    for object in [exec_options, Value::Null] {
        let mut body = review("exec", &pod("web", "shop", &["nginx:latest"]));
        body["request"]["operation"] = json!("CONNECT");
        body["request"]["subResource"] = json!("exec");
        body["request"]["kind"] = json!({"group": "", "version": "v1", "kind": "PodExecOptions"});
        body["request"]["object"] = object;
        assert_eq!(judge(&state, &body).await["response"]["allowed"], true);
    }
}

#[tokio::test]
async fn update_allows_existing_violations_but_not_new_ones() {
    let state = state(&["policies"]);
    let latest = pod("web", "shop", &["nginx:latest"]);
    let pinned = pod("web", "shop", &["nginx:1.25.3"]);
    let mut relabelled = latest.clone();
    relabelled["metadata"]["labels"] = json!({"team": "a"});
    let table = [
        ("violation kept", &latest, &relabelled, true),
        ("violation introduced", &pinned, &latest, false),
        ("violation fixed", &latest, &pinned, true),
    ];
    for (case, old, new, allowed) in table {
        let answer = judge(&state, &update(case, old, new)).await;
        assert_eq!(answer["response"]["allowed"], allowed, "{case}: {answer}");
    }
    let metrics = state.metrics.encode();
    assert!(
        metrics.contains(r#"portcullis_policy_results_total{mode="enforce",policy="require-image-digest",result="skip",rule="require-digest"} 1"#),
        "{metrics}"
    );
}

fn with_on_timeout(on_timeout: OnTimeout) -> Arc<AppState> {
    let options = WebhookOptions {
        on_timeout,
        ..WebhookOptions::default()
    };
    AppState::with_options(load(&["policies"]), Metrics::new().unwrap(), options)
}

#[tokio::test]
async fn the_apiservers_timeout_is_honoured_with_the_chosen_verdict() {
    let body = review("slow", &pod("web", "shop", &["nginx:1.25.3"]));
    // `timeout=0s` leaves no time at all: no policy runs before the deadline.
    let denying = with_on_timeout(OnTimeout::Deny);
    let answer = judge_at(&denying, "/validate?timeout=0s", &body).await;
    assert_eq!(answer["response"]["allowed"], false);
    assert_eq!(answer["response"]["status"]["code"], 504);
    let message = answer["response"]["status"]["message"].as_str().unwrap();
    assert!(
        message.contains("Pod/shop/web") && message.contains("timeout"),
        "{message}"
    );
    assert!(
        denying
            .metrics
            .encode()
            .contains(r#"portcullis_admission_deadline_exceeded_total{on_timeout="deny"} 1"#)
    );

    let allowing = with_on_timeout(OnTimeout::Allow);
    let answer = judge_at(&allowing, "/validate?timeout=0s", &body).await;
    assert_eq!(answer["response"]["allowed"], true);
    let warnings = answer["response"]["warnings"].to_string();
    assert!(warnings.contains("allowed unchecked"), "{warnings}");

    // The apiserver's usual 10 s is ample: the real verdict, in both modes.
    for state in [&denying, &allowing] {
        let latest = review("in-time", &pod("web", "shop", &["nginx:latest"]));
        let answer = judge_at(state, "/validate?timeout=10s", &latest).await;
        assert_eq!(answer["response"]["allowed"], false);
        assert_eq!(answer["response"]["status"]["code"], 403);
        let answer = judge_at(state, "/validate?timeout=10s", &body).await;
        assert_eq!(answer["response"]["allowed"], true);
        assert!(answer["response"].get("warnings").is_none());
    }
}

/// Each metric family and the exact label names its samples carry.
fn label_sets(text: &str) -> BTreeMap<String, BTreeSet<Vec<String>>> {
    let mut families: BTreeMap<String, BTreeSet<Vec<String>>> = BTreeMap::new();
    for line in text
        .lines()
        .filter(|line| !line.starts_with('#') && !line.is_empty())
    {
        let (name, labels) = match line.split_once('{') {
            Some((name, rest)) => (name, rest.split_once('}').unwrap().0),
            None => (line.split_once(' ').unwrap().0, ""),
        };
        let mut keys: Vec<String> = labels
            .split("\",")
            .filter(|pair| !pair.is_empty())
            .map(|pair| pair.split_once('=').unwrap().0.to_owned())
            .collect();
        keys.sort();
        families.entry(name.to_owned()).or_default().insert(keys);
    }
    families
}

/// Every family `serve` exports, with the label names allowed on it: all bounded.
pub const EXPECTED_FAMILIES: [(&str, &[&str]); 20] = [
    (
        "portcullis_admission_requests_total",
        &["allowed", "kind", "operation"],
    ),
    (
        "portcullis_admission_review_duration_seconds_bucket",
        &["le"],
    ),
    ("portcullis_admission_review_duration_seconds_sum", &[]),
    ("portcullis_admission_review_duration_seconds_count", &[]),
    ("portcullis_admission_request_errors_total", &["reason"]),
    (
        "portcullis_admission_deadline_exceeded_total",
        &["on_timeout"],
    ),
    ("portcullis_admission_requests_in_flight", &[]),
    (
        "portcullis_policy_results_total",
        &["mode", "policy", "result", "rule"],
    ),
    (
        "portcullis_policy_exception_skips_total",
        &["exception", "policy", "rule"],
    ),
    (
        "portcullis_policy_execution_duration_seconds_bucket",
        &["le", "policy"],
    ),
    (
        "portcullis_policy_execution_duration_seconds_sum",
        &["policy"],
    ),
    (
        "portcullis_policy_execution_duration_seconds_count",
        &["policy"],
    ),
    ("portcullis_policy_reload_total", &["result"]),
    ("portcullis_policies_loaded", &[]),
    ("portcullis_policy_rules_loaded", &[]),
    ("portcullis_tls_certificate_reload_total", &["result"]),
    ("portcullis_tls_certificate_expiry_timestamp_seconds", &[]),
    ("portcullis_webhook_registration_total", &["result"]),
    (
        "portcullis_tls_client_certificate_refusals_total",
        &["reason"],
    ),
    ("portcullis_build_info", &["version"]),
];

/// Asserts that `text` has exactly the expected families, each with exactly its label names,
/// and that no label value is a namespace, name or image from the traffic.
pub fn assert_bounded_metrics(text: &str, present: &[&str], leaked: &[&str]) {
    let families = label_sets(text);
    let expected: BTreeMap<&str, Vec<String>> = EXPECTED_FAMILIES
        .iter()
        .map(|(name, keys)| (*name, keys.iter().map(|key| (*key).to_owned()).collect()))
        .collect();
    for (name, keys) in &families {
        let allowed = expected
            .get(name.as_str())
            .unwrap_or_else(|| panic!("unexpected metric {name}"));
        assert_eq!(keys, &BTreeSet::from([allowed.clone()]), "labels of {name}");
    }
    for name in present {
        assert!(families.contains_key(*name), "{name} missing:\n{text}");
    }
    for line in text.lines().filter(|line| !line.starts_with('#')) {
        for value in leaked {
            assert!(
                !line.contains(&format!("\"{value}\"")),
                "{value} leaked into {line}"
            );
        }
    }
}

#[tokio::test]
async fn metrics_after_real_traffic_have_only_bounded_labels() {
    let state = state(&[
        "policies",
        "tests/fixtures/policies-audit",
        "tests/fixtures/exceptions/never.yaml",
    ]);
    let latest = pod(
        "frontend",
        "payments",
        &["registry.example.com/shop/web:latest"],
    );
    let pinned = pod(
        "frontend",
        "payments",
        &["registry.example.com/shop/web:1.0"],
    );
    judge(&state, &review("m1", &latest)).await;
    judge(&state, &review("m2", &pinned)).await;
    judge(&state, &update("m3", &latest, &latest)).await;
    judge_at(&state, "/validate?timeout=0s", &review("m4", &pinned)).await;
    post_router(&state, "/validate", b"{".to_vec()).await;
    let text = state.metrics.encode();
    // Reload series are there from the start, at 0.
    let present: Vec<&str> = EXPECTED_FAMILIES.iter().map(|(name, _)| *name).collect();
    assert_bounded_metrics(
        &text,
        &present,
        &[
            "payments",
            "frontend",
            "registry.example.com/shop/web:latest",
            "m1",
        ],
    );
}
