//! The condition rows through one `kubectl-kyverno test` suite: each row is a ClusterPolicy of
//! its own (so that a policy Kyverno refuses affects that row alone) whose one rule denies,
//! under a foreach over one element, when the row's condition holds. Kyverno must report `fail`
//! for a row that holds and `pass` for one that does not.

use crate::condition_tables::{self as tables, Case};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

const RULE: &str = "condition";
const RESOURCE: &str = "subject";

fn policy(name: &str, (key, operator, value, _): &Case) -> Value {
    json!({
        "apiVersion": "kyverno.io/v1",
        "kind": "ClusterPolicy",
        "metadata": {"name": name},
        "spec": {
            "validationFailureAction": "Audit",
            "background": true,
            "rules": [{
                "name": RULE,
                "match": {"any": [{"resources": {"kinds": ["ConfigMap"]}}]},
                "validate": {
                    "message": "the condition holds",
                    "foreach": [{
                        "list": "[request.object.metadata.name]",
                        "deny": {"conditions": {"all": [
                            {"key": key, "operator": operator, "value": value}
                        ]}},
                    }],
                },
            }],
        },
    })
}

pub fn check(kyverno: &Path) {
    let cases: Vec<(String, Case)> = tables::all()
        .into_iter()
        .flat_map(|(table, cases)| {
            cases
                .into_iter()
                .enumerate()
                .map(move |(row, case)| (format!("{table} row {row}"), case))
        })
        .collect();
    let scratch = tempfile::tempdir().expect("a temporary folder");
    let dir = scratch.path();
    // JSON documents, which Kyverno's YAML reader takes as they are.
    let policies: Vec<String> = cases
        .iter()
        .enumerate()
        .map(|(index, (_, case))| policy(&format!("case-{index}"), case).to_string())
        .collect();
    std::fs::write(dir.join("policies.yaml"), policies.join("\n---\n") + "\n")
        .expect("write the policies");
    let resource = json!({
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": RESOURCE, "namespace": "default"},
        "data": {"a": "b"},
    });
    std::fs::write(dir.join("resource.yaml"), resource.to_string()).expect("write the resource");
    let results: Vec<Value> = (0..cases.len())
        .map(|index| {
            json!({
                "policy": format!("case-{index}"),
                "rule": RULE,
                "kind": "ConfigMap",
                "resources": [RESOURCE],
                "result": "pass",
            })
        })
        .collect();
    let test = json!({
        "apiVersion": "cli.kyverno.io/v1alpha1",
        "kind": "Test",
        "metadata": {"name": "operators"},
        "policies": ["policies.yaml"],
        "resources": ["resource.yaml"],
        "results": results,
    });
    std::fs::write(dir.join("kyverno-test.yaml"), test.to_string()).expect("write the test");

    let observed = kyverno_test(kyverno, dir);
    let mut disagreements = Vec::new();
    for (index, (table, (key, operator, value, holds))) in cases.iter().enumerate() {
        let want = if *holds { "fail" } else { "pass" };
        let got = observed
            .get(&format!("case-{index}"))
            .map_or("no result", String::as_str);
        if got != want {
            disagreements.push(format!(
                "[{table}] {key} {operator} {value}: the table says {}, kyverno {got}",
                if *holds { "holds" } else { "does not hold" }
            ));
        }
    }
    println!(
        "kyverno test: {} condition rows checked against kubectl-kyverno, {} disagree",
        cases.len(),
        disagreements.len()
    );
    assert!(
        disagreements.is_empty(),
        "{} of {} condition rows disagree with kubectl-kyverno test:\n{}",
        disagreements.len(),
        cases.len(),
        disagreements.join("\n")
    );
}

/// `kubectl-kyverno test <dir> -o json --detailed-results`: what Kyverno got per policy
/// (`pass`, `fail`, or the reason it did not get a result). Its stdout has progress lines
/// around one pretty-printed JSON array.
fn kyverno_test(kyverno: &Path, dir: &Path) -> BTreeMap<String, String> {
    let output = Command::new(kyverno)
        .arg("test")
        .arg(dir)
        .args(["-o", "json", "--detailed-results"])
        .output()
        .unwrap_or_else(|error| panic!("cannot run {}: {error}", kyverno.display()));
    let stdout = String::from_utf8_lossy(&output.stdout);
    let (Some(start), Some(end)) = (stdout.find("\n[\n"), stdout.rfind("\n]\n")) else {
        panic!(
            "kubectl-kyverno test printed no results:\n{stdout}\n{}",
            String::from_utf8_lossy(&output.stderr)
        );
    };
    let rows: Vec<Value> = serde_json::from_str(&stdout[start + 1..end + 2])
        .unwrap_or_else(|error| panic!("unreadable results ({error}):\n{stdout}"));
    rows.iter()
        .map(|row| {
            let text = |field: &str| row[field].as_str().unwrap_or_default().to_owned();
            let reason = text("REASON");
            let got = if reason == "Ok" {
                "pass".to_owned()
            } else if let Some(got) = reason.strip_prefix("Want pass, got ") {
                got.to_owned()
            } else {
                format!("{reason}: {}", text("Message"))
            };
            (text("POLICY"), got)
        })
        .collect()
}
