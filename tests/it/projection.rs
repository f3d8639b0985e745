//! A policy set judges the projected object exactly as it judges the whole one. Every suite of
//! our Kyverno fixtures (and of the conformance corpus, when it is beside the checkout) is
//! replayed twice per resource: once parsed whole, once read through the set's projection as
//! the webhook reads it. Reports must be identical, rule by rule, message by message.

use crate::fixtures::{conformance_corpus, repo_path};
use portcullis::eval::{self, Request};
use portcullis::kyverno_test::find_test_files;
use portcullis::matching::{Gvk, Operation};
use portcullis::policy::{PolicySet, load_paths};
use portcullis::projection::{self, Projection};
use serde_json::{Value, json};
use std::path::{Path, PathBuf};

/// Policies and resources a `kyverno-test.yaml` names, relative to its folder.
fn suite_files(test_file: &Path, key: &str) -> Vec<PathBuf> {
    let text = std::fs::read_to_string(test_file).unwrap();
    let test: Value = first_document(&text);
    let base = test_file.parent().unwrap();
    test[key]
        .as_array()
        .map(|paths| {
            paths
                .iter()
                .filter_map(Value::as_str)
                .map(|path| base.join(path))
                .collect()
        })
        .unwrap_or_default()
}

fn first_document(text: &str) -> Value {
    portcullis::yaml::parse_documents(text)
        .unwrap()
        .into_iter()
        .next()
        .map(|document| document.value)
        .unwrap_or(Value::Null)
}

fn resources(paths: &[PathBuf]) -> Vec<Value> {
    paths
        .iter()
        .filter_map(|path| std::fs::read_to_string(path).ok())
        .filter_map(|text| portcullis::yaml::parse_documents(&text).ok())
        .flatten()
        .map(|document| document.value)
        .filter(Value::is_object)
        .collect()
}

/// Every rule result for `object` as text, so two reports compare field by field; the request
/// facts come from the whole `resource`, as the webhook takes them from the review.
fn judged(set: &PolicySet, resource: &Value, object: &Value) -> Vec<String> {
    let gvk = Gvk::from_api_version(
        resource["apiVersion"].as_str().unwrap_or(""),
        resource["kind"].as_str().unwrap_or(""),
    );
    let request = Request {
        operation: Operation::Create,
        gvk: &gvk,
        subresource: "",
        object,
        old_object: &Value::Null,
        namespace: resource["metadata"]["namespace"].as_str().unwrap_or(""),
        namespace_labels: None,
        unknown_namespace_hint: "",
        user: None,
        admission: true,
        admission_request: None,
        environment: portcullis::eval::Offline::system(),
    };
    eval::evaluate(set, &request)
        .results
        .iter()
        .map(|result| {
            format!(
                "{}/{} {:?} {:?}",
                result.policy.name, result.rule.name, result.outcome, result.action
            )
        })
        .collect()
}

/// Replays every suite under `root`; returns how many (set, resource) pairs were compared.
fn replay(root: &Path) -> usize {
    let mut compared = 0;
    for test_file in find_test_files(&[root.to_path_buf()]).unwrap() {
        let Ok(set) = load_paths(&suite_files(&test_file, "policies")) else {
            continue;
        };
        let projection = Projection::of_set(&set);
        for resource in resources(&suite_files(&test_file, "resources")) {
            let text = serde_json::to_string(&resource).unwrap();
            let projected = projection::from_str(&text, &projection).unwrap();
            assert_eq!(
                judged(&set, &resource, &resource),
                judged(&set, &resource, &projected),
                "{}: {text}\nprojected: {projected}",
                test_file.display()
            );
            compared += 1;
        }
    }
    compared
}

#[test]
fn projected_objects_are_judged_as_whole_ones_in_our_suites() {
    let compared = replay(&repo_path("tests/fixtures/kyverno"));
    assert!(compared >= 40, "only {compared} resources compared");
}

#[test]
fn projected_objects_are_judged_as_whole_ones_in_the_conformance_corpus() {
    let Some(corpus) = conformance_corpus("kyverno-policies") else {
        return;
    };
    let compared = replay(&corpus);
    assert!(compared >= 100, "only {compared} resources compared");
}

/// What match and exclude filters read of `metadata` (names, annotations, labels) survives the
/// projection, whichever way the filters decide.
#[test]
fn projected_objects_keep_what_filters_select_by() {
    let policy = r#"apiVersion: kyverno.io/v1
kind: ClusterPolicy
metadata:
  name: filters
spec:
  validationFailureAction: Enforce
  rules:
  - name: by-annotation
    match:
      any:
      - resources:
          kinds: [Pod]
          annotations:
            team: "pay*"
    validate:
      pattern:
        spec:
          containers:
          - image: "!*:latest"
  - name: by-name-and-label
    match:
      all:
      - resources:
          kinds: [Pod]
          names: ["web-*"]
          selector:
            matchLabels:
              tier: front
    exclude:
      any:
      - resources:
          annotations:
            skip: "yes"
    validate:
      pattern:
        spec:
          =(hostNetwork): false
"#;
    let set =
        PolicySet::from(portcullis::policy::load_str(policy, Path::new("filters.yaml")).unwrap());
    let projection = Projection::of_set(&set);
    let mut decided = 0;
    for (name, generate_name, annotations, labels) in [
        (
            "web-1",
            "",
            json!({"team": "payments"}),
            json!({"tier": "front"}),
        ),
        (
            "",
            "web-",
            json!({"team": "search"}),
            json!({"tier": "front"}),
        ),
        (
            "web-2",
            "",
            json!({"skip": "yes"}),
            json!({"tier": "front"}),
        ),
        ("api", "", json!({}), json!({"tier": "back"})),
    ] {
        let resource = json!({
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {
                "name": name,
                "generateName": generate_name,
                "namespace": "shop",
                "annotations": annotations,
                "labels": labels,
            },
            "spec": {"hostNetwork": true, "containers": [{"name": "c", "image": "nginx:latest"}]},
        });
        let projected =
            projection::from_str(&serde_json::to_string(&resource).unwrap(), &projection).unwrap();
        let whole = judged(&set, &resource, &resource);
        assert_eq!(whole, judged(&set, &resource, &projected), "{resource}");
        decided += whole.len();
    }
    assert!(decided >= 2, "the filters selected too little to compare");
}

/// A reload that brings policies reading other fields brings their projection with it: the
/// webhook must see `hostNetwork` as soon as a policy about it is installed.
#[test]
fn a_reloaded_set_reads_what_its_new_policies_read() {
    let state = crate::fixtures::state(&["policies"]);
    let mut host_pod = crate::fixtures::pod("web", "shop", &["nginx:1.25.3"]);
    host_pod["spec"]["hostNetwork"] = json!(true);
    let body = serde_json::to_vec(&crate::fixtures::review("reload", &host_pod)).unwrap();
    let allowed = |answer: Vec<u8>| {
        let answer: Value = serde_json::from_slice(&answer).unwrap();
        answer["response"]["allowed"].as_bool().unwrap()
    };
    let answer = portcullis::webhook::handler::answer(&state, &body, None).unwrap();
    assert!(
        allowed(answer),
        "the default policies do not look at hostNetwork"
    );

    let no_host_network = r#"apiVersion: kyverno.io/v1
kind: ClusterPolicy
metadata:
  name: no-host-network
spec:
  validationFailureAction: Enforce
  rules:
  - name: host-network
    match:
      any:
      - resources:
          kinds: [Pod]
    validate:
      message: host networking is not allowed
      pattern:
        spec:
          =(hostNetwork): false
"#;
    let policies = portcullis::policy::load_str(no_host_network, Path::new("reload.yaml")).unwrap();
    state.replace_policies(PolicySet::from(policies));
    let answer = portcullis::webhook::handler::answer(&state, &body, None).unwrap();
    assert!(!allowed(answer), "the reloaded policy must see hostNetwork");
}
