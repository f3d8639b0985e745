//! The production alerts, read from their file: each one's metrics are families `serve`
//! exports (with the labels its selectors name), the alerts the operator needs are there, and the
//! slow-review alert fires before reviews reach their answer deadline.

use crate::fixtures::repo_path;
use crate::webhook_semantics::EXPECTED_FAMILIES;
use portcullis::webhook::deadline;
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

/// Alert name → expression.
fn alerts() -> BTreeMap<String, String> {
    let path = repo_path("deploy/overlays/production/prometheusrule.yaml");
    let text = std::fs::read_to_string(&path).expect("the rule file");
    let rule: Value = serde_yaml::from_str(&text).expect("the rule file is YAML");
    assert_eq!(rule["kind"], "PrometheusRule");
    let mut alerts = BTreeMap::new();
    for group in rule["spec"]["groups"].as_array().expect("groups") {
        for alert in group["rules"].as_array().expect("rules") {
            let name = alert["alert"].as_str().expect("alert name").to_owned();
            let expr = alert["expr"].as_str().expect("alert expr").to_owned();
            assert!(alerts.insert(name.clone(), expr).is_none(), "{name} twice");
        }
    }
    alerts
}

/// Each `portcullis_…` series selector in `expr`, with the label names it matches on.
fn selectors(expr: &str) -> Vec<(String, BTreeSet<String>)> {
    let mut found = Vec::new();
    let mut rest = expr;
    while let Some(start) = rest.find("portcullis_") {
        let tail = &rest[start..];
        let end = tail
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .unwrap_or(tail.len());
        let name = tail[..end].to_owned();
        let mut labels = BTreeSet::new();
        if let Some(matchers) = tail[end..].strip_prefix('{') {
            let matchers = &matchers[..matchers.find('}').expect("closed selector")];
            for matcher in matchers.split(',') {
                let label = matcher.split(['=', '!', '~']).next().unwrap_or("").trim();
                labels.insert(label.to_owned());
            }
        }
        found.push((name, labels));
        rest = &tail[end..];
    }
    found
}

#[test]
fn every_alert_reads_families_serve_exports_with_their_labels() {
    let families: BTreeMap<&str, &[&str]> = EXPECTED_FAMILIES.iter().copied().collect();
    let mut read = 0;
    for (alert, expr) in alerts() {
        for (name, labels) in selectors(&expr) {
            let known = families
                .get(name.as_str())
                .unwrap_or_else(|| panic!("{alert} reads {name}, which serve does not export"));
            for label in &labels {
                // Prometheus adds the namespace when it scrapes.
                assert!(
                    label == "namespace" || known.contains(&label.as_str()),
                    "{alert} matches {name} on {label}, which it does not carry"
                );
            }
            read += 1;
        }
    }
    assert!(read >= 8, "{read} selectors read");
}

#[test]
fn the_alerts_an_operator_needs_are_there() {
    let alerts = alerts();
    let reading = |series: &str| {
        alerts
            .iter()
            .filter(|(_, expr)| expr.contains(series))
            .map(|(name, _)| name.as_str())
            .collect::<Vec<_>>()
    };
    for series in [
        r#"portcullis_policy_reload_total{namespace="portcullis", result="error"}"#,
        r#"portcullis_policy_results_total{namespace="portcullis", result="error"}"#,
        "portcullis_admission_deadline_exceeded_total",
        "portcullis_tls_certificate_expiry_timestamp_seconds",
        "portcullis_admission_review_duration_seconds_bucket",
    ] {
        assert!(!reading(series).is_empty(), "no alert reads {series}");
    }
}

#[test]
fn slow_reviews_alert_before_the_answer_deadline() {
    let alerts = alerts();
    let expr = &alerts["PortcullisSlowReviews"];
    let threshold: f64 = expr
        .rsplit_once('>')
        .map(|(_, threshold)| threshold.trim())
        .and_then(|threshold| threshold.parse().ok())
        .unwrap_or_else(|| panic!("no threshold in {expr}"));
    // The webhook's registered timeout, and the share of it a review may take.
    let now = Instant::now();
    let answer_by = deadline::answer_by(now, Some(Duration::from_secs(10)))
        .expect("a deadline")
        .duration_since(now);
    assert!(
        threshold <= answer_by.as_secs_f64() / 2.0,
        "the alert fires at {threshold} s, not well before the {answer_by:?} deadline"
    );
}
