//! Work that must not grow with the size of a request, held to that by counting the allocations
//! of the test's own thread. A target of its own: the counter replaces the global allocator of
//! whatever links it.

use portcullis::eval::{self, Request};
use portcullis::matching::{Gvk, Operation};
use portcullis::policy::{self, PolicySet};
use serde_json::{Map, Value, json};
use std::path::Path;

const SELECTING: &str = r#"
apiVersion: kyverno.io/v1
kind: ClusterPolicy
metadata:
  name: selecting
spec:
  validationFailureAction: Enforce
  rules:
  - name: exact
    match:
      any:
      - resources:
          kinds: [Pod]
          selector:
            matchLabels:
              app: web
            matchExpressions:
            - {key: tier, operator: In, values: [front, back]}
            - {key: legacy, operator: DoesNotExist}
    validate:
      pattern:
        spec:
          containers:
          - image: "*"
  - name: wildcard
    match:
      any:
      - resources:
          kinds: [Pod]
          selector:
            matchLabels:
              "ap*": "w?b"
    validate:
      pattern:
        spec:
          containers:
          - image: "*"
"#;

fn pod(labels: usize) -> Value {
    let mut map: Map<String, Value> = (0..labels)
        .map(|index| (format!("l{index}"), json!("x")))
        .collect();
    map.insert("app".to_owned(), json!("web"));
    map.insert("tier".to_owned(), json!("front"));
    json!({
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "web", "namespace": "shop", "labels": map},
        "spec": {"containers": [{"name": "web", "image": "nginx:1.25"}]},
    })
}

/// The allocations of judging `object` once, and how many rules passed.
fn judge(set: &PolicySet, object: &Value) -> (u64, usize) {
    let gvk = Gvk {
        group: String::new(),
        version: "v1".to_owned(),
        kind: "Pod".to_owned(),
    };
    let request = Request {
        operation: Operation::Create,
        gvk: &gvk,
        subresource: "",
        object,
        old_object: &Value::Null,
        namespace: "shop",
        namespace_labels: None,
        unknown_namespace_hint: "",
        user: None,
        admission: true,
        admission_request: None,
        environment: portcullis::eval::Offline::system(),
    };
    let mut passed = 0;
    let counted = allocation_counter::measure(|| {
        let report = eval::evaluate(set, &request);
        passed = report
            .results
            .iter()
            .filter(|result| result.outcome.status() == eval::Status::Pass)
            .count();
    });
    (counted.count_total, passed)
}

#[test]
fn label_selectors_read_the_objects_labels_where_they_are() {
    let set = PolicySet::from(
        policy::load_str(SELECTING, Path::new("selecting.yaml")).expect("policy compiles"),
    );
    let few = judge(&set, &pod(3));
    let many = judge(&set, &pod(10_000));
    assert_eq!(few.1, 2, "both rules apply and pass");
    assert_eq!(many, few, "allocations grew with the labels");
}
