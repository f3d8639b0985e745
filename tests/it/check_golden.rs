//! Golden outputs of `check` in every format on the fixture GitOps repository
//! (`tests/fixtures/repo`) as written (its kustomization and chart left out: how they render
//! depends on the tools installed, and `check_rendered` tests that): workloads with `:latest`,
//! an untagged init container, a `List`, empty and comment-only documents, a JSON manifest, Namespaces
//! whose labels a namespaceSelector policy reads, and an Argo CD Application. The SARIF output is
//! validated against the SARIF 2.1.0 schema (vendored from the `@microsoft/jest-sarif` npm
//! package, `lib/schemas/sarif-2.1.0-rtm.5.json`) and the JUnit output parsed as XML.

use crate::check_support::{POLICIES, assert_golden, run_check, stderr, stdout};
use crate::fixtures::repo_path;
use quick_xml::events::Event;
use serde_json::Value;

fn check_repo(format: &str) -> String {
    let output = run_check(
        &[
            "--policies",
            POLICIES,
            "--output",
            format,
            "--exclude",
            "kustomization.yaml",
            "--exclude",
            "charts",
            "tests/fixtures/repo",
        ],
        None,
    );
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    stdout(&output)
}

#[test]
fn text() {
    assert_golden("check/repo.txt", &check_repo("text"));
}

#[test]
fn text_verbose_lists_passes_and_notes_the_skipped_files() {
    let output = run_check(
        &[
            "--policies",
            POLICIES,
            "--verbose",
            "--exclude",
            "kustomization.yaml",
            "--exclude",
            "charts",
            "tests/fixtures/repo",
        ],
        None,
    );
    assert_eq!(output.status.code(), Some(1));
    assert_golden("check/repo-verbose.txt", &stdout(&output));
    assert_golden("check/repo-verbose.stderr.txt", &stderr(&output));
}

#[test]
fn json() {
    let text = check_repo("json");
    assert_golden("check/repo.json", &text);
    let document: Value = serde_json::from_str(&text).expect("JSON output parses");
    assert_eq!(document["summary"]["fail"], 7);
}

#[test]
fn github() {
    assert_golden("check/repo.github.txt", &check_repo("github"));
}

#[test]
fn junit_is_golden_and_well_formed_xml_whose_counts_add_up() {
    let text = check_repo("junit");
    assert_golden("check/repo.junit.xml", &text);
    let mut reader = quick_xml::Reader::from_str(&text);
    let (mut testcases, mut failures, mut declared_failures) = (0, 0, None);
    loop {
        match reader
            .read_event()
            .expect("JUnit output is well-formed XML")
        {
            Event::Eof => break,
            Event::Start(element) | Event::Empty(element) => match element.name().as_ref() {
                b"testcase" => testcases += 1,
                b"failure" => failures += 1,
                b"testsuites" => {
                    let attribute = element
                        .try_get_attribute("failures")
                        .expect("attribute")
                        .expect("failures attribute");
                    declared_failures = Some(
                        String::from_utf8(attribute.value.to_vec())
                            .expect("utf-8")
                            .parse::<usize>()
                            .expect("a count"),
                    );
                }
                _ => {}
            },
            _ => {}
        }
    }
    // 18 (resource, rule) results: 11 pass, 5 Enforce failures, 2 Audit failures (warnings).
    assert_eq!(testcases, 18);
    assert_eq!(failures, 5);
    assert_eq!(declared_failures, Some(5));
}

#[test]
fn sarif_is_golden_and_valid_sarif_2_1_0() {
    let text = check_repo("sarif");
    assert_golden("check/repo.sarif.json", &text);
    let sarif: Value = serde_json::from_str(&text).expect("SARIF output parses");
    let mut schema: Value = serde_json::from_str(
        &std::fs::read_to_string(repo_path("tests/fixtures/sarif-schema-2.1.0.json"))
            .expect("vendored schema"),
    )
    .expect("schema parses");
    // The published schema's `language` patterns (of `run` and `toolComponent`) have a stray
    // `]` that a strict regex engine refuses to compile; Portcullis never writes `language`, so
    // the corrected pattern changes nothing about what is validated here.
    for owner in ["run", "toolComponent"] {
        let language = &mut schema["definitions"][owner]["properties"]["language"]["pattern"];
        assert_eq!(language, "^[a-zA-Z]{2}|^[a-zA-Z]{2}-[a-zA-Z]{2}]?$");
        *language = Value::String("^[a-zA-Z]{2}(-[a-zA-Z]{2})?$".to_owned());
    }
    let validator = jsonschema::validator_for(&schema).expect("schema compiles");
    let errors: Vec<String> = validator
        .iter_errors(&sarif)
        .map(|error| format!("{} at {}", error, error.instance_path()))
        .collect();
    assert!(errors.is_empty(), "SARIF schema violations: {errors:#?}");
    let mut broken = sarif.clone();
    broken["runs"][0]["results"][0]["locations"][0]["physicalLocation"]["region"]["startLine"] =
        Value::from(0);
    assert!(!validator.is_valid(&broken), "the schema catches a line 0");

    // What GitHub code scanning requires beyond the schema.
    let run = &sarif["runs"][0];
    let driver = &run["tool"]["driver"];
    assert_eq!(driver["name"], "portcullis");
    assert!(
        driver["informationUri"]
            .as_str()
            .is_some_and(|uri| uri.starts_with("https://"))
    );
    let rule_ids: Vec<&str> = driver["rules"]
        .as_array()
        .expect("rules")
        .iter()
        .map(|rule| rule["id"].as_str().expect("rule id"))
        .collect();
    let results = run["results"].as_array().expect("results");
    assert_eq!(results.len(), 7);
    for result in results {
        let id = result["ruleId"].as_str().expect("ruleId");
        let index = result["ruleIndex"].as_u64().expect("ruleIndex") as usize;
        assert_eq!(rule_ids[index], id);
        let location = &result["locations"][0]["physicalLocation"];
        assert!(
            location["artifactLocation"]["uri"]
                .as_str()
                .is_some_and(|uri| uri.starts_with("tests/fixtures/repo/"))
        );
        assert!(
            location["region"]["startLine"]
                .as_u64()
                .is_some_and(|line| line > 0)
        );
        assert!(
            location["region"]["startColumn"]
                .as_u64()
                .is_some_and(|column| column > 0)
        );
        assert!(
            result["message"]["text"]
                .as_str()
                .is_some_and(|text| !text.is_empty())
        );
    }
    let deep = results
        .iter()
        .find(|result| result["ruleId"] == "require-image-digest/autogen-require-digest")
        .expect("the Deployment's sidecar fails require-image-digest");
    assert_eq!(
        deep["locations"][0]["physicalLocation"]["region"]["startLine"],
        42
    );
    assert_eq!(
        deep["locations"][0]["physicalLocation"]["region"]["startColumn"],
        16
    );
    assert_eq!(deep["level"], "error");
    let audit = results
        .iter()
        .find(|result| result["ruleId"] == "recommend-memory-limits/memory-limit")
        .expect("the List's Pod fails the Audit policy");
    assert_eq!(audit["level"], "warning");
}
