//! Input errors are part of `check`'s contract: the JSON output lists them in `errors` (as the
//! published schema `schema/check-output.schema.json` says), every format's summary counts them,
//! and GitHub annotations attach them to their file and line.

use crate::check_support::{POLICIES, run_check, stderr, stdout};
use crate::fixtures::repo_path;
use serde_json::Value;

/// A valid Pod, a Pod with invalid YAML after it in another file, and half an object.
fn broken_inputs() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::write(
        dir.path().join("a-good.yaml"),
        "apiVersion: v1\nkind: Pod\nmetadata: {name: ok, namespace: shop}\nspec:\n  containers: [{name: a, image: \"a:1@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef\"}]\n",
    )
    .expect("write");
    std::fs::write(
        dir.path().join("b-broken.yaml"),
        "apiVersion: v1\nkind: Pod\nmetadata:\n  name: [unclosed\n",
    )
    .expect("write");
    std::fs::write(
        dir.path().join("c-half.yaml"),
        "# no apiVersion\nkind: Deployment\nmetadata: {name: half}\n",
    )
    .expect("write");
    dir
}

fn schema() -> jsonschema::Validator {
    let schema: Value = serde_json::from_str(
        &std::fs::read_to_string(repo_path("schema/check-output.schema.json")).expect("schema"),
    )
    .expect("schema parses");
    jsonschema::validator_for(&schema).expect("schema compiles")
}

fn violations(validator: &jsonschema::Validator, document: &Value) -> Vec<String> {
    validator
        .iter_errors(document)
        .map(|error| format!("{error} at {}", error.instance_path()))
        .collect()
}

#[test]
fn the_json_output_follows_its_schema_with_and_without_input_errors() {
    let validator = schema();
    let clean = run_check(
        &["--policies", POLICIES, "-o", "json", "tests/fixtures/repo"],
        None,
    );
    let clean: Value = serde_json::from_str(&stdout(&clean)).expect("JSON");
    assert_eq!(violations(&validator, &clean), Vec::<String>::new());

    let dir = broken_inputs();
    let output = run_check(
        &[
            "--policies",
            POLICIES,
            "-o",
            "json",
            dir.path().to_str().expect("utf-8"),
        ],
        None,
    );
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
    let report: Value = serde_json::from_str(&stdout(&output)).expect("JSON");
    assert_eq!(violations(&validator, &report), Vec::<String>::new());
    let errors = report["errors"].as_array().expect("errors");
    assert_eq!(errors.len(), 2, "{errors:#?}");
    let file = |name: &str| dir.path().join(name).display().to_string();
    assert_eq!(errors[0]["file"], file("b-broken.yaml"));
    assert_eq!(errors[0]["line"], 5);
    assert_eq!(errors[0]["column"], 1);
    assert!(
        errors[0]["message"]
            .as_str()
            .is_some_and(|message| message.starts_with("invalid YAML: ")),
        "{errors:#?}"
    );
    assert_eq!(errors[1]["file"], file("c-half.yaml"));
    assert_eq!(errors[1]["line"], 2);
    assert_eq!(errors[1]["column"], 1);
    assert_eq!(report["summary"]["error"], 2);
    assert_eq!(report["summary"]["pass"], 3);

    // The schema is a real check: it refuses output without the field, or with a bad entry.
    let mut without = report.clone();
    without.as_object_mut().expect("object").remove("errors");
    assert!(!validator.is_valid(&without));
    let mut bad = report;
    bad["errors"][0]["line"] = Value::from("five");
    assert!(!validator.is_valid(&bad));
}

#[test]
fn every_format_counts_input_errors_and_github_places_them() {
    let dir = broken_inputs();
    let path = dir.path().to_str().expect("utf-8");
    let run = |format: &str| {
        let output = run_check(&["--policies", POLICIES, "-o", format, path], None);
        assert_eq!(output.status.code(), Some(2), "{format}");
        stdout(&output)
    };
    assert!(
        run("text").ends_with("1 resources in 2 files: pass 3, fail 1, warn 0, error 2, skip 0\n")
    );

    let github = run("github");
    let broken = dir.path().join("b-broken.yaml").display().to_string();
    assert!(
        github.contains(&format!(
            "::error file={broken},line=5,col=1,title=portcullis check%3A input error::invalid YAML: "
        )),
        "{github}"
    );
    assert!(
        github.ends_with("error 2, skip 0\n") && github.contains("::notice "),
        "{github}"
    );

    let junit = run("junit");
    assert!(
        junit.contains("<testsuites name=\"portcullis check\" tests=\"6\" failures=\"0\" errors=\"2\" skipped=\"0\">"),
        "{junit}"
    );
    assert!(
        junit.contains(&format!(
            "<testcase name=\"{broken}\" classname=\"inputs\" file=\"{broken}\" line=\"5\">"
        )),
        "{junit}"
    );

    let sarif: Value = serde_json::from_str(&run("sarif")).expect("SARIF");
    let invocation = &sarif["runs"][0]["invocations"][0];
    assert_eq!(invocation["executionSuccessful"], false);
    let notifications = invocation["toolExecutionNotifications"]
        .as_array()
        .expect("notifications");
    assert_eq!(notifications.len(), 2);
    assert_eq!(
        notifications[0]["locations"][0]["physicalLocation"]["region"]["startLine"],
        5
    );
}
