//! `portcullis test` on Kyverno test files: our own semantic cases, deliberately broken ones, and
//! the Kyverno policy library corpus when `../shared/conformance` is beside the checkout.

use crate::fixtures::{conformance_corpus, repo_path};
use portcullis::kyverno_test::{self, CaseResult, Verdict};
use std::collections::BTreeMap;
use std::process::Command;

fn run_under(path: &std::path::Path) -> Vec<CaseResult> {
    let files = kyverno_test::find_test_files(&[path.to_owned()]).expect("search test files");
    assert!(
        !files.is_empty(),
        "no kyverno-test.yaml under {}",
        path.display()
    );
    files
        .iter()
        .flat_map(|file| kyverno_test::run_file(file))
        .collect()
}

#[test]
fn own_semantic_cases_all_agree() {
    let results = run_under(&repo_path("tests/fixtures/kyverno"));
    let disagreements: Vec<_> = results
        .iter()
        .filter(|case| case.verdict != Verdict::Pass)
        .collect();
    assert!(disagreements.is_empty(), "{disagreements:#?}");
    assert!(results.len() >= 48, "only {} cases ran", results.len());
}

#[test]
fn wrong_expectations_and_unknown_policies_are_mismatches() {
    let results = run_under(&repo_path(
        "tests/fixtures/kyverno-broken/wrong-expectation",
    ));
    assert_eq!(results.len(), 2);
    match &results[0].verdict {
        Verdict::Mismatch(why) => {
            assert!(why.contains("rule memory-at-most-1gi gave fail"), "{why}")
        }
        other => panic!("expected a mismatch, got {other:?}"),
    }
    assert_eq!(
        results[1].verdict,
        Verdict::Mismatch("policy \"no-such-policy\" not found".to_owned())
    );
}

#[test]
fn unsupported_features_are_named_not_passed() {
    let results = run_under(&repo_path("tests/fixtures/kyverno-broken/unsupported"));
    assert_eq!(results.len(), 1);
    assert_eq!(
        results[0].verdict,
        Verdict::Unsupported(vec![
            "celPreconditions".to_owned(),
            "podSecurity".to_owned()
        ])
    );
}

#[test]
fn expectations_about_resources_never_loaded_are_errors() {
    let results = run_under(&repo_path("tests/fixtures/kyverno-broken/missing-resource"));
    assert_eq!(results.len(), 1);
    assert_eq!(
        results[0].verdict,
        Verdict::Error("resource \"no-such-pod\" is not among the test's resources".to_owned())
    );
}

#[test]
fn policy_kinds_not_evaluated_are_unsupported_not_passed() {
    let results = run_under(&repo_path("tests/fixtures/kyverno-broken/unsupported-kind"));
    assert_eq!(results.len(), 1);
    assert_eq!(
        results[0].verdict,
        Verdict::Unsupported(vec!["ValidatingPolicy".to_owned()])
    );
}

/// With cluster resources, the Kyverno CLI reads a namespaced resource's labels from its
/// Namespace there and fails the test without one: an error, never a verdict.
#[test]
fn cluster_resources_without_the_resources_namespace_are_an_error() {
    let results = run_under(&repo_path(
        "tests/fixtures/kyverno-broken/cluster-namespace-missing",
    ));
    assert_eq!(results.len(), 1);
    match &results[0].verdict {
        Verdict::Error(why) => assert!(
            why.starts_with(
                "failed to get the resource's namespace (namespaces \"shop\" not found)"
            ),
            "{why}"
        ),
        other => panic!("expected an error, got {other:?}"),
    }
}

#[test]
fn api_call_responses_are_checked_as_kyverno_checks_them() {
    let results = run_under(&repo_path(
        "tests/fixtures/kyverno-broken/bad-api-call-responses",
    ));
    assert_eq!(results.len(), 1);
    match &results[0].verdict {
        Verdict::Error(why) => assert!(
            why.ends_with("apiCallResponses[0]: url and urlPath are mutually exclusive"),
            "{why}"
        ),
        other => panic!("expected an error, got {other:?}"),
    }
}

/// `--now` fixes the clock a verdict reads; `--seed` makes `random` draw the same strings.
#[test]
fn test_command_fixes_the_clock_and_the_seed() {
    let run = |args: &[&str]| {
        let output = Command::new(env!("CARGO_BIN_EXE_portcullis"))
            .arg("test")
            .args(args)
            .args(["-o", "json", "tests/fixtures/kyverno-clock"])
            .current_dir(repo_path(""))
            .output()
            .expect("run portcullis test");
        let cases: serde_json::Value =
            serde_json::from_slice(&output.stdout).expect("stdout is one JSON document");
        (
            output.status.code(),
            cases[0]["observed"][0]["message"]
                .as_str()
                .unwrap_or("")
                .to_owned(),
        )
    };
    let (code, message) = run(&["--now", "2030-06-01T00:00:00Z", "--seed", "42"]);
    assert_eq!(code, Some(0), "{message}");
    assert!(
        message.starts_with("frozen since 2030 (now 2030-06-01T00:00:00Z); ticket "),
        "{message}"
    );
    assert_eq!(
        run(&["--now", "2030-06-01T00:00:00Z", "--seed", "42"]).1,
        message
    );
    let (code, message) = run(&["--now", "2029-06-01T00:00:00Z"]);
    assert_eq!(
        code,
        Some(1),
        "before the freeze the expected fail is a pass: {message}"
    );
}

#[test]
fn test_command_exit_codes() {
    let run = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_portcullis"))
            .arg("test")
            .args(args)
            .current_dir(repo_path(""))
            .output()
            .expect("run portcullis test")
    };
    let good = run(&["tests/fixtures/kyverno"]);
    assert_eq!(good.status.code(), Some(0));
    assert!(
        String::from_utf8_lossy(&good.stdout)
            .lines()
            .any(|line| line.ends_with(" passed, 0 failed"))
    );
    let wrong = run(&["tests/fixtures/kyverno-broken/wrong-expectation"]);
    assert_eq!(wrong.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&wrong.stdout).contains("0 passed, 2 failed"));
    let unsupported = run(&["tests/fixtures/kyverno-broken/unsupported"]);
    assert_eq!(
        unsupported.status.code(),
        Some(1),
        "unsupported cases fail unless allowed"
    );
    let allowed = run(&[
        "--allow-unsupported",
        "tests/fixtures/kyverno-broken/unsupported",
    ]);
    assert_eq!(allowed.status.code(), Some(0));
    let text = String::from_utf8_lossy(&allowed.stdout);
    assert!(
        text.contains("unsupported feature podSecurity: 1 case(s)"),
        "{text}"
    );
}

/// `--output json` lists, per expectation, the rule responses it was compared with: the actual
/// results, not only whether the expectation held.
#[test]
fn test_command_json_lists_actual_results() {
    let output = Command::new(env!("CARGO_BIN_EXE_portcullis"))
        .args(["test", "--output", "json"])
        .arg(repo_path("tests/fixtures/kyverno-broken/wrong-expectation"))
        .output()
        .expect("run portcullis test");
    assert_eq!(output.status.code(), Some(1));
    let cases: serde_json::Value =
        serde_json::from_slice(&output.stdout).expect("stdout is one JSON document");
    let cases = cases.as_array().expect("a JSON array");
    assert_eq!(cases.len(), 2);
    assert_eq!(cases[0]["policy"], "operators");
    assert_eq!(cases[0]["expected"], "pass");
    assert_eq!(cases[0]["verdict"], "fail");
    let observed = cases[0]["observed"].as_array().expect("observed responses");
    assert_eq!(observed.len(), 1, "{observed:?}");
    assert_eq!(observed[0]["rule"], "memory-at-most-1gi");
    assert_eq!(observed[0]["kind"], "Pod");
    assert_eq!(observed[0]["name"], "mem-2gi");
    assert_eq!(observed[0]["result"], "fail");
    assert!(
        observed[0]["message"]
            .as_str()
            .is_some_and(|message| message.contains("memory-at-most-1gi")),
        "{observed:?}"
    );
    assert_eq!(cases[1]["verdict"], "fail");
    assert_eq!(cases[1]["reason"], "policy \"no-such-policy\" not found");
    assert_eq!(cases[1]["observed"], serde_json::json!([]));
}

/// Resource and policy names in a test file are written with their control characters as
/// escapes, so a test file cannot make the report start a line of its own.
#[test]
fn test_report_lines_cannot_be_forged_by_names() {
    let dir = tempfile::tempdir().unwrap();
    let policy = std::fs::read_to_string(repo_path("policies/disallow-latest-tag.yaml")).unwrap();
    std::fs::write(dir.path().join("policy.yaml"), policy).unwrap();
    std::fs::write(
        dir.path().join("resource.yaml"),
        "apiVersion: v1\nkind: Pod\nmetadata:\n  name: \"web\\n::error::forged\\u001b[31m\"\nspec:\n  containers:\n  - name: c\n    image: nginx\n",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("kyverno-test.yaml"),
        "apiVersion: cli.kyverno.io/v1alpha1\nkind: Test\nmetadata:\n  name: forged\npolicies: [policy.yaml]\nresources: [resource.yaml]\nresults:\n- {policy: disallow-latest-tag, rule: require-image-tag, kind: Pod, result: pass, resources: [\"web\\n::error::forged\\u001b[31m\"]}\n",
    )
    .unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_portcullis"))
        .arg("test")
        .arg(dir.path())
        .output()
        .expect("run portcullis test");
    let text = String::from_utf8_lossy(&output.stdout);
    assert_eq!(output.status.code(), Some(1), "{text}");
    assert!(!text.contains('\u{1b}'), "{text}");
    assert!(
        text.lines().all(|line| !line.starts_with("::")),
        "a line a runner would obey:\n{text}"
    );
    assert!(text.contains(r"web\n::error::forged\u{1b}[31m"), "{text}");
}

/// Every expectation of the Kyverno library corpus whose policy Portcullis can evaluate agrees
/// with Kyverno's; the rest are reported unsupported by feature, never passed or crashed.
#[test]
fn kyverno_policy_library_conformance() {
    let Some(corpus) = conformance_corpus("kyverno-policies") else {
        return;
    };
    let results = run_under(&corpus);
    let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
    for case in &results {
        let label = match &case.verdict {
            Verdict::Pass => "pass",
            Verdict::Mismatch(_) => "mismatch",
            Verdict::Error(_) => "error",
            Verdict::Unsupported(_) => "unsupported",
        };
        *counts.entry(label).or_default() += 1;
    }
    let wrong: Vec<_> = results
        .iter()
        .filter(|case| matches!(case.verdict, Verdict::Mismatch(_) | Verdict::Error(_)))
        .collect();
    assert!(wrong.is_empty(), "{wrong:#?}");
    assert!(
        counts.get("pass").copied().unwrap_or(0) >= 117,
        "{counts:?}"
    );
}

#[derive(serde::Deserialize)]
struct CorpusIndex {
    cases: Vec<CorpusCase>,
}

#[derive(serde::Deserialize)]
struct CorpusCase {
    test: String,
    format: String,
    n_expectations: usize,
}

/// Kyverno's own CLI tests: every expectation Portcullis can evaluate agrees, every other one is
/// unsupported by name, and the tests Kyverno's CI requires to fail fail here too.
#[test]
fn kyverno_cli_conformance() {
    let Some(corpus) = conformance_corpus("kyverno-cli") else {
        return;
    };
    let index: CorpusIndex = serde_json::from_str(
        &std::fs::read_to_string(corpus.join("../kyverno-cli-cases.json")).expect("read index"),
    )
    .expect("parse index");
    let (mut agreed, mut unsupported, mut must_fail) = (0usize, 0usize, 0usize);
    // Kyverno v1.19.0 fails these tests itself: their resources live in a namespace whose
    // Namespace object the cluster resources lack (not in Kyverno's own CI either).
    let kyverno_fails = [
        "test-context-apicall/kyverno-test.yaml",
        "test-context-configmap/kyverno-test.yaml",
    ];
    for case in &index.cases {
        if kyverno_fails.contains(&case.test.as_str()) {
            let results = kyverno_test::run_file(&corpus.join(&case.test));
            assert!(
                results.iter().all(|result| matches!(
                    &result.verdict,
                    Verdict::Error(why) if why.starts_with("failed to get the resource's namespace")
                )),
                "{}: {results:#?}",
                case.test
            );
            continue;
        }
        let results = kyverno_test::run_file(&corpus.join(&case.test));
        assert!(!results.is_empty(), "{}: no expectation ran", case.test);
        assert!(
            results.len() <= case.n_expectations,
            "{}: {} results for {} expectations",
            case.test,
            results.len(),
            case.n_expectations
        );
        match case.format.as_str() {
            "kyverno-test" => {
                for result in &results {
                    match &result.verdict {
                        Verdict::Pass => agreed += 1,
                        Verdict::Unsupported(features) => {
                            assert!(!features.is_empty(), "{result:?}");
                            unsupported += 1;
                        }
                        _ => panic!("{}: {result:#?}", case.test),
                    }
                }
            }
            "kyverno-test-expect-error" => {
                must_fail += 1;
                assert!(
                    results.iter().any(|result| matches!(
                        result.verdict,
                        Verdict::Mismatch(_) | Verdict::Error(_)
                    )),
                    "{}: Kyverno's CI requires this test to fail: {results:#?}",
                    case.test
                );
            }
            other => panic!("{}: unknown case format {other:?}", case.test),
        }
    }
    assert_eq!(must_fail, 3);
    assert!(agreed >= 142, "only {agreed} expectations agreed");
    assert!(unsupported > 0);
}
