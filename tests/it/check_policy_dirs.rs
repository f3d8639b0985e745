//! `check --policies` on Kyverno's repository layout, where policies sit beside the
//! `kyverno-test.yaml`, resources and values that test them: those documents are skipped with a
//! note, `--include`/`--exclude` filter the policy walk too, and `--skip-unsupported` leaves
//! out, by name, the policies Portcullis cannot evaluate.

use crate::check_support::{run_check, stderr, stdout};
use serde_json::Value;
use std::path::Path;

const POLICY: &str = "apiVersion: kyverno.io/v1
kind: ClusterPolicy
metadata: {name: require-team}
spec:
  validationFailureAction: Enforce
  rules:
  - name: team
    match:
      any:
      - resources: {kinds: [Pod]}
    validate:
      message: a team label is required
      pattern: {metadata: {labels: {team: \"?*\"}}}
";

const PSS_POLICY: &str = "apiVersion: kyverno.io/v1
kind: ClusterPolicy
metadata: {name: per-container}
spec:
  validationFailureAction: Enforce
  rules:
  - name: each
    match:
      any:
      - resources: {kinds: [Pod]}
    validate:
      podSecurity: {level: baseline, version: latest}
";

const RESOURCE: &str = "apiVersion: v1
kind: Pod
metadata: {name: web, namespace: shop}
spec:
  containers: [{name: web, image: nginx:1.25}]
";

const KYVERNO_TEST: &str = "apiVersion: cli.kyverno.io/v1alpha1
kind: Test
metadata: {name: require-team}
policies: [policy.yaml]
resources: [resource.yaml]
results:
- policy: require-team
  rule: team
  resources: [web]
  kind: Pod
  result: fail
";

const VALUES: &str = "apiVersion: cli.kyverno.io/v1alpha1
kind: Values
namespaceSelector:
- name: shop
  labels: {env: prod}
";

fn write(dir: &Path, relative: &str, text: &str) {
    let path = dir.join(relative);
    std::fs::create_dir_all(path.parent().expect("parent")).expect("create dirs");
    std::fs::write(path, text).expect("write");
}

/// Kyverno's layout: one directory per policy with its test, resource and values files.
fn kyverno_layout() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temp dir");
    write(dir.path(), "require-team/policy.yaml", POLICY);
    write(dir.path(), "require-team/resource.yaml", RESOURCE);
    write(dir.path(), "require-team/kyverno-test.yaml", KYVERNO_TEST);
    write(dir.path(), "require-team/values.yaml", VALUES);
    dir
}

fn text(path: &Path) -> &str {
    path.to_str().expect("utf-8 path")
}

#[test]
fn tests_resources_and_values_beside_policies_are_skipped_with_a_note() {
    let dir = kyverno_layout();
    let policies = text(dir.path());
    let resource = dir.path().join("require-team/resource.yaml");
    let output = run_check(&["--policies", policies, text(&resource)], None);
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    assert!(
        stdout(&output).contains("fail (enforce) Pod shop/web: require-team/team"),
        "{}",
        stdout(&output)
    );
    assert!(!stderr(&output).contains("note:"), "{}", stderr(&output));

    let output = run_check(&["--policies", policies, "-v", text(&resource)], None);
    let err = stderr(&output);
    let place = |file: &str| {
        dir.path()
            .join("require-team")
            .join(file)
            .display()
            .to_string()
    };
    for note in [
        format!(
            "note: {}:1: skipped document 1: Test (cli.kyverno.io) is not a policy",
            place("kyverno-test.yaml")
        ),
        format!(
            "note: {}:1: skipped document 1: Pod (core API group) is not a policy",
            place("resource.yaml")
        ),
        format!(
            "note: {}:1: skipped document 1: Values (cli.kyverno.io) is not a policy",
            place("values.yaml")
        ),
    ] {
        assert!(err.contains(&note), "{note}\n{err}");
    }

    // A file named explicitly as a policy is still read whole: a resource there is an error.
    let output = run_check(&["--policies", text(&resource), text(&resource)], None);
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
    assert!(
        stderr(&output).contains("is not a policy (kind \"Pod\")"),
        "{}",
        stderr(&output)
    );
}

#[test]
fn include_and_exclude_filter_the_policy_walk() {
    let dir = kyverno_layout();
    write(dir.path(), "per-container/policy.yaml", PSS_POLICY);
    let policies = text(dir.path());
    let resource = dir.path().join("require-team/resource.yaml");
    let output = run_check(&["--policies", policies, text(&resource)], None);
    assert_eq!(
        output.status.code(),
        Some(2),
        "the podSecurity policy is refused"
    );

    let output = run_check(
        &[
            "--policies",
            policies,
            "--exclude",
            "per-container",
            "-o",
            "json",
            text(&resource),
        ],
        None,
    );
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    let report: Value = serde_json::from_str(&stdout(&output)).expect("JSON");
    assert_eq!(report["policies"]["loaded"], 1);

    let output = run_check(
        &[
            "--policies",
            policies,
            "--include",
            "require-team/*.yaml",
            text(&resource),
        ],
        None,
    );
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
}

#[test]
fn skip_unsupported_leaves_out_and_lists_what_cannot_be_evaluated() {
    let dir = kyverno_layout();
    write(dir.path(), "per-container/policy.yaml", PSS_POLICY);
    let policies = text(dir.path());
    let resource = dir.path().join("require-team/resource.yaml");
    let pss_file = dir.path().join("per-container/policy.yaml");

    let output = run_check(&["--policies", policies, text(&resource)], None);
    assert_eq!(output.status.code(), Some(2));
    assert!(
        stderr(&output).contains("nothing was loaded"),
        "without the flag the set is refused whole: {}",
        stderr(&output)
    );

    let output = run_check(
        &[
            "--policies",
            policies,
            "--skip-unsupported",
            "-o",
            "json",
            text(&resource),
        ],
        None,
    );
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    assert!(
        stderr(&output).contains(&format!(
            "refused (--skip-unsupported): unsupported: podSecurity in per-container/each ({}:",
            pss_file.display()
        )),
        "{}",
        stderr(&output)
    );
    let report: Value = serde_json::from_str(&stdout(&output)).expect("JSON");
    assert_eq!(report["policies"]["loaded"], 1);
    let refused = &report["policies"]["refused"];
    assert_eq!(refused.as_array().map(Vec::len), Some(1), "{refused}");
    assert_eq!(refused[0]["policy"], "per-container");
    assert_eq!(refused[0]["rule"], "each");
    assert_eq!(refused[0]["feature"], "podSecurity");
    assert_eq!(refused[0]["file"], pss_file.display().to_string());

    // Nothing left is an error, whatever --allow-empty says.
    let output = run_check(
        &[
            "--policies",
            text(&pss_file),
            "--skip-unsupported",
            "--allow-empty",
            text(&resource),
        ],
        None,
    );
    assert_eq!(output.status.code(), Some(2));
    assert!(
        stderr(&output).contains("uses a feature Portcullis does not evaluate; nothing is left"),
        "{}",
        stderr(&output)
    );
}
