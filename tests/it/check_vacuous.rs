//! A gate is trusted for its green runs, so `check` never passes what it did not check: an
//! input or a policy set that holds nothing is an error unless `--allow-empty` says otherwise,
//! the policy source is named before anything else, and half a Kubernetes object is refused.

use crate::check_support::{POLICIES, POLICY_FILES, run_check, stderr, stdout};
use crate::fixtures::repo_path;
use serde_json::Value;
use std::process::{Command, Stdio};

const POD: &str = "apiVersion: v1
kind: Pod
metadata: {name: web, namespace: shop}
spec:
  containers:
  - name: web
    image: registry.example.com/web:1.0@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef
";

fn exit(args: &[&str], stdin: Option<&str>) -> (Option<i32>, String, String) {
    let output = run_check(args, stdin);
    (output.status.code(), stdout(&output), stderr(&output))
}

#[test]
fn empty_standard_input_is_an_error_that_suspects_the_renderer() {
    for (stdin, what) in [
        ("", "nothing"),
        ("# rendered nothing\n---\n---\n", "empty documents"),
    ] {
        let (code, out, err) = exit(&["--policies", POLICIES, "-"], Some(stdin));
        assert_eq!(code, Some(2), "{what}: {out}{err}");
        assert!(
            err.contains("error: -: no documents on standard input; did the command piped into portcullis fail?"),
            "{what}: {err}"
        );
        assert!(
            out.ends_with("0 resources in 1 files: pass 0, fail 0, warn 0, error 1, skip 0\n"),
            "{what}: {out}"
        );
        let (code, _, err) = exit(&["--policies", POLICIES, "--allow-empty", "-"], Some(stdin));
        assert_eq!(code, Some(0), "{what} with --allow-empty: {err}");
    }
}

#[test]
fn empty_stdin_fails_the_pipe_even_beside_other_inputs() {
    let (code, _, err) = exit(
        &[
            "--policies",
            POLICIES,
            "-",
            "tests/fixtures/repo/apps/api/deployment.json",
        ],
        Some(""),
    );
    assert_eq!(code, Some(2), "{err}");
}

#[test]
fn a_directory_without_manifests_is_an_error_naming_it() {
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::write(dir.path().join("README.md"), "# not a manifest\n").expect("write");
    let path = dir.path().to_str().expect("utf-8");
    let (code, _, err) = exit(&["--policies", POLICIES, path], None);
    assert_eq!(code, Some(2), "{err}");
    assert!(
        err.contains(&format!(
            "error: {path}: no .yaml, .yml or .json files in this directory; nothing was checked"
        )),
        "{err}"
    );
    let (code, _, err) = exit(
        &[
            "--policies",
            POLICY_FILES,
            "--exclude",
            "apps",
            "--exclude",
            "*.yaml",
            "tests/fixtures/repo",
        ],
        None,
    );
    assert_eq!(code, Some(2), "{err}");
    assert!(
        err.contains(
            "no .yaml, .yml or .json files in this directory that --include/--exclude let through"
        ),
        "{err}"
    );
    let (code, _, err) = exit(&["--policies", POLICIES, "--allow-empty", path], None);
    assert_eq!(code, Some(0), "{err}");
}

#[test]
fn files_without_any_kubernetes_object_are_an_error() {
    let (code, out, err) = exit(
        &[
            "--policies",
            POLICIES,
            "tests/fixtures/repo/charts/web/values.yaml",
        ],
        None,
    );
    assert_eq!(code, Some(2), "{out}{err}");
    assert!(
        err.contains("no Kubernetes objects in 1 file(s) read (--verbose lists what was skipped)"),
        "{err}"
    );
}

#[test]
fn an_empty_policy_set_is_an_error() {
    let dir = tempfile::tempdir().expect("temp dir");
    let policies = dir.path().to_str().expect("utf-8");
    let (code, out, err) = exit(&["--policies", policies, "-"], Some(POD));
    assert_eq!(code, Some(2), "{out}{err}");
    assert!(
        err.contains(&format!(
            "error: no policies in {policies}: an empty policy set passes every resource"
        )),
        "{err}"
    );
    assert_eq!(out, "", "nothing is reported as checked");
    let (code, _, err) = exit(&["--policies", policies, "--allow-empty", "-"], Some(POD));
    assert_eq!(code, Some(0), "{err}");
}

#[test]
fn the_policy_source_is_the_first_line_on_stderr_and_in_the_json() {
    let output = run_check(&["--policies", POLICIES, "-o", "json", "-"], Some(POD));
    let err = stderr(&output);
    assert_eq!(
        err.lines().next(),
        Some("policies: policies, tests/fixtures/policies-gitops"),
        "{err}"
    );
    let report: Value = serde_json::from_str(&stdout(&output)).expect("JSON");
    assert_eq!(report["policies"]["source"], "files");
    assert_eq!(
        report["policies"]["paths"],
        serde_json::json!(["policies", "tests/fixtures/policies-gitops"])
    );
    assert_eq!(report["policies"]["loaded"], 4);

    // From a directory without `policies/`, the built-in set is used, and said to be.
    let elsewhere = tempfile::tempdir().expect("temp dir");
    let mut child = Command::new(env!("CARGO_BIN_EXE_portcullis"))
        .args(["check", "-o", "json", "-"])
        .current_dir(elsewhere.path())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    std::io::Write::write_all(child.stdin.as_mut().expect("stdin"), POD.as_bytes())
        .expect("write stdin");
    drop(child.stdin.take());
    let output = child.wait_with_output().expect("wait");
    let err = stderr(&output);
    assert_eq!(
        err.lines().next(),
        Some(
            "policies: the built-in default policies (no --policies given and no ./policies directory)"
        ),
        "{err}"
    );
    let report: Value = serde_json::from_str(&stdout(&output)).expect("JSON");
    assert_eq!(report["policies"]["source"], "embedded");
    assert_eq!(report["policies"]["paths"], serde_json::json!([]));
    assert_eq!(report["policies"]["loaded"], 2);
    assert_eq!(output.status.code(), Some(0), "{err}");
    // And from the repository root, its policies/ directory, named.
    let (_, _, err) = exit(&["-"], Some(POD));
    assert_eq!(err.lines().next(), Some("policies: policies"), "{err}");
    assert!(repo_path("policies").is_dir());
}

#[test]
fn half_a_kubernetes_object_is_an_input_error_with_its_place() {
    let kind_only = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n---\nkind: Pod\nmetadata: {name: p}\n";
    let (code, out, err) = exit(
        &["--policies", POLICIES, "-o", "json", "-"],
        Some(kind_only),
    );
    assert_eq!(code, Some(2), "{out}{err}");
    assert!(
        err.contains(
            "error: -:5:1: document 2: kind without apiVersion; kubectl would refuse this object"
        ),
        "{err}"
    );
    let report: Value = serde_json::from_str(&out).expect("JSON");
    assert_eq!(report["errors"][0]["line"], 5);
    assert_eq!(report["summary"]["error"], 1);

    let in_a_list =
        "apiVersion: v1\nkind: List\nitems:\n- apiVersion: apps/v1\n  metadata: {name: d}\n";
    let (code, _, err) = exit(&["--policies", POLICIES, "-"], Some(in_a_list));
    assert_eq!(code, Some(2), "{err}");
    assert!(
        err.contains("error: -:4:3: document 1 at /items/0: apiVersion without kind"),
        "{err}"
    );

    // Helm's Chart.yaml is the one file whose apiVersion without kind is expected.
    let (_, _, err) = exit(
        &[
            "--policies",
            POLICIES,
            "--verbose",
            "--allow-empty",
            "tests/fixtures/repo/charts/web/Chart.yaml",
        ],
        None,
    );
    assert!(
        err.contains("skipped document 1: Helm chart metadata (apiVersion without kind)"),
        "{err}"
    );
    assert!(!err.contains("error:"), "{err}");
}
