//! What Kyverno's expression layer costs per rule on the Pod review of `evaluate.rs`: a deny
//! rule beside its pattern twin, preconditions, a `variable` context entry, a foreach over ten
//! containers beside the pattern that says the same, and the handler's whole path for a set
//! that reads variables (which parses the request a second time, whole). Each bench judges one
//! policy with one rule. Run: `cargo bench --bench expressions`.

use portcullis::eval::{self, Request};
use portcullis::matching::{Gvk, Operation};
use portcullis::metrics::Metrics;
use portcullis::policy::{self, PolicySet};
use portcullis::webhook::{AppState, handler};
use serde_json::Value;
use std::path::Path;

const REVIEW: &str = include_str!("fixtures/pod-review.json");

fn main() {
    divan::main();
}

/// One ClusterPolicy on Pods with `rule` (YAML, indented for `rules:`).
fn policy(rule: &str) -> PolicySet {
    let text = format!(
        "apiVersion: kyverno.io/v1
kind: ClusterPolicy
metadata:
  name: bench
  annotations:
    pod-policies.kyverno.io/autogen-controllers: none
spec:
  validationFailureAction: Enforce
  rules:
  - name: rule
    match:
      any:
      - resources:
          kinds: [Pod]
{rule}"
    );
    let loaded = policy::load::load_str(&text, Path::new("bench.yaml"))
        .unwrap_or_else(|errors| panic!("bench policy: {errors:?}"));
    PolicySet::from(loaded)
}

const PATTERN: &str = "    validate:
      message: the team label is required
      pattern:
        metadata:
          labels:
            team: \"?*\"
";

const DENY: &str = "    validate:
      message: the team label is required
      deny:
        conditions:
          any:
          - key: \"{{ request.object.metadata.labels.team || '' }}\"
            operator: Equals
            value: \"\"
";

const PRECONDITION_AND_PATTERN: &str = "    preconditions:
      all:
      - key: \"{{ request.operation }}\"
        operator: AnyIn
        value: [CREATE, UPDATE]
    validate:
      message: the team label is required
      pattern:
        metadata:
          labels:
            team: \"?*\"
";

const VARIABLE_CONTEXT: &str = "    context:
    - name: team
      variable:
        jmesPath: request.object.metadata.labels.team
        default: ''
    validate:
      message: the team label is required
      deny:
        conditions:
          any:
          - key: \"{{ team }}\"
            operator: Equals
            value: \"\"
";

const FOREACH: &str = "    validate:
      message: images must not use latest
      foreach:
      - list: request.object.spec.containers
        pattern:
          image: \"!*:latest\"
";

const CONTAINERS_PATTERN: &str = "    validate:
      message: images must not use latest
      pattern:
        spec:
          containers:
          - image: \"!*:latest\"
";

/// The fixture's Pod with ten containers, and its review.
fn ten_containers() -> Value {
    let mut review: Value = serde_json::from_str(REVIEW).expect("review JSON");
    let containers = &mut review["request"]["object"]["spec"]["containers"];
    let first = containers[0].clone();
    *containers = Value::Array(
        (0..10)
            .map(|index| {
                let mut container = first.clone();
                container["name"] = Value::String(format!("c{index}"));
                container
            })
            .collect(),
    );
    review
}

fn judge(bencher: divan::Bencher, rule: &str, review: &Value) {
    let set = policy(rule);
    let sent = &review["request"];
    let gvk = Gvk {
        group: String::new(),
        version: "v1".to_owned(),
        kind: "Pod".to_owned(),
    };
    let request = Request {
        operation: Operation::Create,
        gvk: &gvk,
        subresource: "",
        object: &sent["object"],
        old_object: &Value::Null,
        namespace: "shop",
        namespace_labels: None,
        unknown_namespace_hint: "",
        user: None,
        admission: true,
        admission_request: Some(sent),
        environment: eval::Offline::system(),
    };
    bencher.bench_local(|| {
        let report = eval::evaluate(divan::black_box(&set), divan::black_box(&request));
        assert!(
            report.failures().next().is_none(),
            "{:?}",
            report.results.first().map(|result| &result.outcome)
        );
        report.results.len()
    });
}

fn fixture() -> Value {
    serde_json::from_str(REVIEW).expect("review JSON")
}

/// Ten deny rules in one policy: with `deny`, what one more rule costs once the review's
/// variables are built.
#[divan::bench]
fn deny_10_rules(bencher: divan::Bencher) {
    let rules: String = (0..10)
        .map(|index| {
            DENY.replace(
                "    validate:",
                &format!(
                    "  - name: rule-{index}\n    match:\n      any:\n      - resources:\n          kinds: [Pod]\n    validate:"
                ),
            )
        })
        .collect();
    judge(bencher, &format!("{DENY}{rules}"), &fixture());
}

#[divan::bench]
fn pattern(bencher: divan::Bencher) {
    judge(bencher, PATTERN, &fixture());
}

#[divan::bench]
fn deny(bencher: divan::Bencher) {
    judge(bencher, DENY, &fixture());
}

#[divan::bench]
fn precondition_then_pattern(bencher: divan::Bencher) {
    judge(bencher, PRECONDITION_AND_PATTERN, &fixture());
}

#[divan::bench]
fn variable_context_then_deny(bencher: divan::Bencher) {
    judge(bencher, VARIABLE_CONTEXT, &fixture());
}

#[divan::bench]
fn foreach_10_containers(bencher: divan::Bencher) {
    judge(bencher, FOREACH, &ten_containers());
}

#[divan::bench]
fn pattern_10_containers(bencher: divan::Bencher) {
    judge(bencher, CONTAINERS_PATTERN, &ten_containers());
}

/// Bytes in, bytes out, for a set whose rule is a pattern and for its deny twin.
#[divan::bench(args = ["pattern", "deny"])]
fn answer(bencher: divan::Bencher, kind: &str) {
    let rule = if kind == "deny" { DENY } else { PATTERN };
    let state = AppState::new(policy(rule), Metrics::new().expect("metrics"));
    bencher.bench_local(|| {
        let body = handler::answer(&state, divan::black_box(REVIEW.as_bytes()), None);
        body.expect("answered").len()
    });
}
