//! `portcullis check` as CI runs it: the binary on real manifest files, exit codes and output.

use crate::fixtures::repo_path;
use std::process::{Command, Output};

fn check(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_portcullis"))
        .arg("check")
        .args([
            "--policies",
            repo_path("policies").to_str().expect("utf-8 path"),
        ])
        .args(args)
        .current_dir(repo_path(""))
        .output()
        .expect("run portcullis check")
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

#[test]
fn pinned_pod_passes_with_exit_0() {
    let output = check(&["tests/fixtures/manifests/pod-pinned.yaml"]);
    assert_eq!(output.status.code(), Some(0), "{}", stdout(&output));
    assert_eq!(
        stdout(&output),
        "1 resources in 1 files: pass 3, fail 0, warn 0, error 0, skip 0\n"
    );
}

#[test]
fn latest_pod_fails_with_exit_1_naming_file_line_and_resource() {
    let output = check(&["tests/fixtures/manifests/pod-latest.yaml"]);
    assert_eq!(output.status.code(), Some(1));
    let text = stdout(&output);
    assert!(
        text.contains("tests/fixtures/manifests/pod-latest.yaml:10:12: fail (enforce) Pod shop/web: require-image-digest/require-digest: validation error: Images must use a digest or SHA-based tag, not :latest. rule require-digest failed at path /spec/containers/0/image/"),
        "{text}"
    );
    assert!(
        text.ends_with("1 resources in 1 files: pass 2, fail 1, warn 0, error 0, skip 0\n"),
        "{text}"
    );
}

#[test]
fn deployment_with_latest_sidecar_fails_through_autogen() {
    let output = check(&["tests/fixtures/manifests/deployment-latest.yaml"]);
    assert_eq!(output.status.code(), Some(1));
    let text = stdout(&output);
    assert!(
        text.contains("deployment-latest.yaml:25:16: fail (enforce) Deployment shop/api: require-image-digest/autogen-require-digest:"),
        "{text}"
    );
    assert!(
        text.contains("/spec/template/spec/containers/1/image/"),
        "{text}"
    );
    assert!(text.contains("2 resources in 1 files"), "{text}");
}

#[test]
fn untagged_init_container_behind_a_registry_port_fails() {
    let output = check(&["tests/fixtures/manifests/pod-untagged-init.yaml"]);
    assert_eq!(output.status.code(), Some(1));
    let text = stdout(&output);
    assert!(
        text.contains("pod-untagged-init.yaml:8:12: fail (enforce) Pod default/worker: disallow-latest-tag/require-image-tag:"),
        "{text}"
    );
}

#[test]
fn directories_and_stdin_are_read() {
    let output = check(&["tests/fixtures/manifests"]);
    assert_eq!(output.status.code(), Some(1));
    assert!(
        stdout(&output).contains("5 resources in 4 files"),
        "{}",
        stdout(&output)
    );

    let mut child = Command::new(env!("CARGO_BIN_EXE_portcullis"))
        .args([
            "check",
            "--policies",
            repo_path("policies").to_str().expect("utf-8"),
            "-",
        ])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("spawn");
    let manifest =
        std::fs::read(repo_path("tests/fixtures/manifests/pod-pinned.yaml")).expect("fixture");
    std::io::Write::write_all(child.stdin.as_mut().expect("stdin"), &manifest)
        .expect("write stdin");
    drop(child.stdin.take());
    let output = child.wait_with_output().expect("wait");
    assert_eq!(output.status.code(), Some(0), "{}", stdout(&output));
}

#[test]
fn unreadable_input_and_bad_policies_exit_2() {
    let missing = check(&["tests/fixtures/manifests/does-not-exist.yaml"]);
    assert_eq!(missing.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&missing.stderr).contains("does-not-exist.yaml: cannot read"));

    let invalid_yaml = tempfile::NamedTempFile::new().expect("temp file");
    std::fs::write(
        invalid_yaml.path(),
        "apiVersion: v1\nkind: Pod\nmetadata: [unclosed\n",
    )
    .expect("write");
    let output = check(&[invalid_yaml.path().to_str().expect("utf-8")]);
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("invalid YAML"));

    let output = Command::new(env!("CARGO_BIN_EXE_portcullis"))
        .args([
            "check",
            "--policies",
            "tests/fixtures/policies-bad/typo",
            "tests/fixtures/manifests/pod-pinned.yaml",
        ])
        .current_dir(repo_path(""))
        .output()
        .expect("run");
    assert_eq!(output.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&output.stderr)
            .contains("typo.yaml:15:7: unknown field \"patern\"")
    );
}

/// Names and file names come from whoever wrote the manifests under check: in the text report
/// their control characters are escapes, so a newline cannot start a line a CI runner would
/// read as a workflow command, nor an escape reach the terminal.
#[test]
fn manifest_text_cannot_start_lines_or_send_escapes() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("evil\n::error file=x::file.yaml");
    std::fs::write(
        &file,
        "apiVersion: v1\nkind: Pod\nmetadata:\n  name: \"web\\n::add-mask::x\\u001b[31m\"\n  namespace: shop\nspec:\n  containers:\n  - name: c\n    image: nginx:latest\n",
    )
    .unwrap();
    let output = check(&[file.to_str().expect("utf-8 path")]);
    assert_eq!(output.status.code(), Some(1), "{}", stdout(&output));
    let text = stdout(&output);
    assert!(!text.contains('\u{1b}'), "{text}");
    for line in text.lines() {
        assert!(
            !line.starts_with("::"),
            "a line a runner would obey: {line}\n{text}"
        );
    }
    assert!(
        text.contains(r"evil\n::error file=x::file.yaml:9:12: fail (enforce) Pod shop/web\n::add-mask::x\u{1b}[31m: "),
        "{text}"
    );
}
