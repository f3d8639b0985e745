//! The condition rows through `kubectl-kyverno test` suites: each row is a ClusterPolicy of its
//! own (so that a policy Kyverno refuses affects that row alone) whose one rule denies, under a
//! foreach over one element, when the row's condition holds. Kyverno must report `fail` for a
//! row that holds and `pass` for one that does not.
//!
//! A second suite writes each condition as `{{ }}` variables that read the row's key and value
//! from the resource, where they arrive as Go decodes JSON; there the table's answer need not
//! hold (a number alone is a float64, for one), so `portcullis test` must answer that suite as
//! Kyverno does, and the first as well.

use crate::condition_tables::{self as tables, Case};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

const RULE: &str = "condition";
const RESOURCE: &str = "subject";

/// How a suite writes a row's key and value.
#[derive(Clone, Copy)]
enum Form {
    /// In the policy, as the table has them.
    Literal,
    /// As variables reading the resource's `spec.cases[i]`.
    FromResource,
}

fn policy(index: usize, (key, operator, value, _): &Case, form: Form) -> Value {
    let (key, value) = match form {
        Form::Literal => (key.clone(), value.clone()),
        Form::FromResource => (
            json!(format!("{{{{ request.object.spec.cases[{index}].key }}}}")),
            json!(format!(
                "{{{{ request.object.spec.cases[{index}].value }}}}"
            )),
        ),
    };
    json!({
        "apiVersion": "kyverno.io/v1",
        "kind": "ClusterPolicy",
        "metadata": {"name": format!("case-{index}")},
        "spec": {
            "validationFailureAction": "Audit",
            "background": true,
            "rules": [{
                "name": RULE,
                "match": {"any": [{"resources": {"kinds": ["Sample"]}}]},
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

/// Writes the suite of `cases` in `form` into `dir`.
fn write_suite(dir: &Path, cases: &[(String, Case)], form: Form) {
    std::fs::create_dir_all(dir).expect("a suite folder");
    // JSON documents, which both YAML readers take as they are.
    let policies: Vec<String> = cases
        .iter()
        .enumerate()
        .map(|(index, (_, case))| policy(index, case, form).to_string())
        .collect();
    std::fs::write(dir.join("policies.yaml"), policies.join("\n---\n") + "\n")
        .expect("write the policies");
    let values: Vec<Value> = cases
        .iter()
        .map(|(_, (key, _, value, _))| json!({"key": key, "value": value}))
        .collect();
    let resource = json!({
        "apiVersion": "example.com/v1",
        "kind": "Sample",
        "metadata": {"name": RESOURCE, "namespace": "default"},
        "spec": {"cases": values},
    });
    std::fs::write(dir.join("resource.yaml"), resource.to_string()).expect("write the resource");
    let results: Vec<Value> = (0..cases.len())
        .map(|index| {
            json!({
                "policy": format!("case-{index}"),
                "rule": RULE,
                "kind": "Sample",
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
}

pub fn check(kyverno: &Path, portcullis: &Path) {
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
    let literal = scratch.path().join("literal");
    let from_resource = scratch.path().join("from-resource");
    write_suite(&literal, &cases, Form::Literal);
    write_suite(&from_resource, &cases, Form::FromResource);

    let observed = kyverno_test(kyverno, &literal);
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
    let mut compared = 0;
    for (form, dir, kyverno_results) in [
        ("in the policy", &literal, observed.clone()),
        (
            "from the resource",
            &from_resource,
            kyverno_test(kyverno, &from_resource),
        ),
    ] {
        let mut tally: BTreeMap<&str, usize> = BTreeMap::new();
        for got in kyverno_results.values() {
            let kind = match got.as_str() {
                "pass" | "fail" => got.as_str(),
                _ => "other",
            };
            *tally.entry(kind).or_default() += 1;
        }
        println!("kyverno test, conditions {form}: {tally:?}");
        let ours = portcullis_test(portcullis, dir);
        for (index, (table, (key, operator, value, _))) in cases.iter().enumerate() {
            let policy = format!("case-{index}");
            let (theirs, ours) = (kyverno_results.get(&policy), ours.get(&policy));
            compared += 1;
            if theirs != ours {
                disagreements.push(format!(
                    "[{table}, {form}] {key} {operator} {value}: kyverno {}, portcullis {}",
                    theirs.map_or("no result", String::as_str),
                    ours.map_or("no result", String::as_str)
                ));
            }
        }
    }
    println!(
        "kyverno test: {} condition rows checked against kubectl-kyverno and {compared} answers \
         of portcullis test compared with it, {} disagree",
        cases.len(),
        disagreements.len()
    );
    assert!(
        disagreements.is_empty(),
        "{} condition answers disagree:\n{}",
        disagreements.len(),
        disagreements.join("\n")
    );
}

/// `portcullis test <dir> --output json`: what it got per policy, in the words of
/// [`kyverno_test`].
fn portcullis_test(portcullis: &Path, dir: &Path) -> BTreeMap<String, String> {
    let output = Command::new(portcullis)
        .arg("test")
        .arg(dir)
        .args(["--output", "json", "--allow-unsupported"])
        .output()
        .unwrap_or_else(|error| panic!("cannot run {}: {error}", portcullis.display()));
    let stdout = String::from_utf8_lossy(&output.stdout);
    let cases: Vec<Value> = serde_json::from_str(&stdout).unwrap_or_else(|error| {
        panic!(
            "portcullis test printed unreadable JSON ({error}):\n{stdout}\n{}",
            String::from_utf8_lossy(&output.stderr)
        )
    });
    cases
        .iter()
        .map(|case| {
            let text = |value: &Value| value.as_str().unwrap_or_default().to_owned();
            let observed = case["observed"].as_array().and_then(|o| o.first());
            let got = match (case["verdict"].as_str(), observed) {
                (Some("pass" | "fail"), Some(response)) => text(&response["result"]),
                (verdict, _) => format!("{}: {}", verdict.unwrap_or("?"), text(&case["reason"])),
            };
            (text(&case["policy"]), got)
        })
        .collect()
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
