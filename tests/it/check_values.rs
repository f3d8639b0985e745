//! `check --values`, `--context`, `--now` and `--seed`: what a policy's variables read offline,
//! as `kyverno apply --values-file` reads it.

use crate::check_support::{run_check, stderr, stdout};

const FIXTURE: &str = "tests/fixtures/check-values";

fn check(args: &[&str]) -> (Option<i32>, String, String) {
    let output = run_check(args, None);
    (output.status.code(), stdout(&output), stderr(&output))
}

fn policies_and_pods(extra: &[&str]) -> Vec<String> {
    let mut args = vec!["--policies".to_owned(), format!("{FIXTURE}/policies.yaml")];
    args.extend(extra.iter().map(|arg| (*arg).to_owned()));
    args.push(format!("{FIXTURE}/pods.yaml"));
    args
}

fn run(extra: &[&str]) -> (Option<i32>, String, String) {
    let args = policies_and_pods(extra);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    check(&args)
}

/// Without values or objects, a configMap entry is left unloaded and reading it is an error
/// that names the entry; never a pass.
#[test]
fn an_entry_with_nothing_to_load_it_from_is_an_error_naming_it() {
    let (code, out, err) = run(&[]);
    assert_eq!(code, Some(2), "{out}{err}");
    assert!(
        out.contains("error Pod shop/web: allowed-registries/registry-from-configmap: failed to check deny conditions"),
        "{out}"
    );
    assert!(
        out.contains("(context entry settings was not loaded: no objects are given to look ConfigMaps up in (`check --context`"),
        "{out}"
    );
    assert!(
        out.ends_with("2 resources in 1 files: pass 0, fail 2, warn 0, error 2, skip 0\n"),
        "{out}"
    );
}

/// A rule's value stands in for the unloaded entry; a resource's value changes the object one
/// policy sees (the owner label of web), and not what the other policy sees. Kyverno's
/// `apply --values-file` gives the same two failures.
#[test]
fn values_stand_in_for_entries_and_change_what_one_policy_sees() {
    let values = format!("{FIXTURE}/values.yaml");
    let (code, out, err) = run(&["--values", &values]);
    assert_eq!(code, Some(1), "{out}{err}");
    let failures: Vec<&str> = out
        .lines()
        .filter(|line| line.contains("fail (enforce)"))
        .collect();
    assert_eq!(
        failures,
        [
            "tests/fixtures/check-values/pods.yaml:11:1: fail (enforce) Pod shop/api: allowed-registries/registry-from-configmap: registries allowed: [\"ghcr.io\"]",
            "tests/fixtures/check-values/pods.yaml:14:3: fail (enforce) Pod shop/api: owner-required/owner-label: validation error: pods name an owner. rule owner-label failed at path /metadata/labels/",
        ],
        "{out}"
    );
    assert!(
        out.ends_with("pass 2, fail 2, warn 0, error 0, skip 0\n"),
        "{out}"
    );
}

/// With the ConfigMap given, the entry loads and replaces the value fixed for it.
#[test]
fn a_config_map_given_as_context_is_what_the_entry_reads() {
    let values = format!("{FIXTURE}/values.yaml");
    let context = format!("{FIXTURE}/context.yaml");
    let (code, out, err) = run(&["--values", &values, "--context", &context]);
    assert_eq!(code, Some(1), "{out}{err}");
    assert!(
        out.contains("pods.yaml:1:1: fail (enforce) Pod shop/web: allowed-registries/registry-from-configmap: registries allowed: [\"docker.io\"]"),
        "{out}"
    );
    assert!(!out.contains("Pod shop/api: allowed-registries"), "{out}");

    // Given objects without the ConfigMap, the lookup is made and fails.
    let dir = tempfile::tempdir().expect("tempdir");
    let other = dir.path().join("other.yaml");
    std::fs::write(
        &other,
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: other, namespace: platform}\n",
    )
    .expect("write");
    let (code, out, _) = run(&["--context", other.to_str().expect("utf-8 path")]);
    assert_eq!(code, Some(2), "{out}");
    assert!(
        out.contains("failed to retrieve config map for context entry settings: failed to get configmap platform/registries : configmaps \"registries\" not found"),
        "{out}"
    );
}

#[test]
fn bad_values_and_context_files_are_refused_by_name() {
    let values = format!("{FIXTURE}/values.yaml");
    let (code, _, err) = run(&["--namespace-labels", &values]);
    assert_eq!(code, Some(2), "{err}");
    assert!(
        err.contains("error: --namespace-labels tests/fixtures/check-values/values.yaml: sets values for variables or subresources, which belong in --values"),
        "{err}"
    );

    let dir = tempfile::tempdir().expect("tempdir");
    let unknown_field = dir.path().join("values.yaml");
    std::fs::write(
        &unknown_field,
        "apiVersion: cli.kyverno.io/v1alpha1\nkind: Values\nglobalValue:\n  a: b\n",
    )
    .expect("write");
    let (code, _, err) = run(&["--values", unknown_field.to_str().expect("utf-8 path")]);
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("error: --values "), "{err}");
    assert!(err.contains("unknown field `globalValue`"), "{err}");

    let not_an_object = dir.path().join("context.yaml");
    std::fs::write(&not_an_object, "data: {a: b}\n").expect("write");
    let (code, _, err) = run(&["--context", not_an_object.to_str().expect("utf-8 path")]);
    assert_eq!(code, Some(2), "{err}");
    assert!(
        err.contains("context.yaml:1:1: not a Kubernetes object: apiVersion and kind are required"),
        "{err}"
    );
}

/// `--now` decides a verdict that reads the clock; `--seed` makes `random` repeat.
#[test]
fn now_and_seed_fix_what_functions_read() {
    let clock = |args: &[&str]| {
        let mut all = vec![
            "--policies",
            "tests/fixtures/kyverno-clock/policy.yaml",
            "-o",
            "json",
        ];
        all.extend_from_slice(args);
        all.push("tests/fixtures/kyverno-clock/resources.yaml");
        let (code, out, err) = check(&all);
        let report: serde_json::Value =
            serde_json::from_str(&out).unwrap_or_else(|error| panic!("{error}: {out}{err}"));
        (
            code,
            report["results"][0]["message"]
                .as_str()
                .unwrap_or("")
                .to_owned(),
        )
    };
    let (code, message) = clock(&["--now", "2031-06-01T00:00:00Z", "--seed", "7"]);
    assert_eq!(code, Some(1), "{message}");
    assert!(
        message.starts_with("frozen since 2030 (now 2031-06-01T00:00:00Z); ticket "),
        "{message}"
    );
    let (_, again) = clock(&["--now", "2031-06-01T00:00:00Z", "--seed", "7"]);
    assert_eq!(message, again, "the same seed draws the same ticket");
    let (_, other_seed) = clock(&["--now", "2031-06-01T00:00:00Z", "--seed", "8"]);
    assert_ne!(message, other_seed);
    let (code, _) = clock(&["--now", "2029-12-31T23:30:00-01:00"]);
    assert_eq!(code, Some(1), "23:30 at -01:00 is 2030 already");
    let (code, _) = clock(&["--now", "2029-12-31T23:00:00Z"]);
    assert_eq!(code, Some(0));

    let (code, _, err) = check(&["--now", "2030-01-01", "-"]);
    assert_eq!(code, Some(2));
    assert!(
        err.contains("invalid value '2030-01-01' for '--now <RFC3339>': expected an RFC 3339 time"),
        "{err}"
    );
}
