//! The exit-code contract of `check` and the options a pipeline sets: 0 clean, 1 a failing
//! rule (Audit too under `--fail-on-warn`; nothing matched under `--require-match`), 2 for usage
//! errors, unreadable or invalid input, invalid policies and evaluation errors. Also stdin,
//! `--include` / `--exclude`, `--namespace` and namespace labels taken from the input.

use crate::check_support::{POLICIES, run_check, stderr, stdout};

const PINNED_POD_WITHOUT_LIMITS: &str = "apiVersion: v1
kind: Pod
metadata:
  name: pinned
  namespace: shop
spec:
  containers:
  - name: app
    image: registry.example.com/app@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef
";

const CONFIG_MAP: &str = "apiVersion: v1
kind: ConfigMap
metadata:
  name: settings
data:
  mode: fast
";

/// A pinned Deployment without a `team` label and without a namespace of its own.
const DEPLOYMENT_WITHOUT_TEAM: &str = "apiVersion: apps/v1
kind: Deployment
metadata:
  name: cart
spec:
  template:
    spec:
      containers:
      - name: cart
        image: registry.example.com/cart@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef
        resources: {limits: {memory: 64Mi}}
";

const SHOP_IS_PRODUCTION: &str = "apiVersion: v1
kind: Namespace
metadata:
  name: shop
  labels: {env: prod}
";

fn exit(args: &[&str], stdin: Option<&str>) -> (Option<i32>, String, String) {
    let output = run_check(args, stdin);
    (output.status.code(), stdout(&output), stderr(&output))
}

#[test]
fn clean_input_exits_0() {
    let (code, out, err) = exit(
        &[
            "--policies",
            POLICIES,
            "tests/fixtures/repo/apps/api/deployment.json",
        ],
        None,
    );
    assert_eq!(code, Some(0), "{out}{err}");
    assert_eq!(
        out,
        "1 resources in 1 files: pass 4, fail 0, warn 0, error 0, skip 0\n"
    );
}

#[test]
fn an_enforce_failure_exits_1() {
    let (code, out, _) = exit(&["--policies", POLICIES, "tests/fixtures/repo"], None);
    assert_eq!(code, Some(1));
    assert!(out.contains("fail (enforce)"), "{out}");
}

#[test]
fn audit_failures_pass_unless_fail_on_warn() {
    let args = ["--policies", POLICIES, "-"];
    let (code, out, _) = exit(&args, Some(PINNED_POD_WITHOUT_LIMITS));
    assert_eq!(code, Some(0), "{out}");
    assert!(
        out.contains("-:8:5: fail (audit) Pod shop/pinned: recommend-memory-limits/memory-limit"),
        "{out}"
    );

    let (code, out, _) = exit(
        &["--fail-on-warn", "--policies", POLICIES, "-"],
        Some(PINNED_POD_WITHOUT_LIMITS),
    );
    assert_eq!(code, Some(1), "{out}");
}

#[test]
fn fail_on_warn_turns_audit_warnings_into_errors_in_machine_formats() {
    let (_, out, _) = exit(
        &["--policies", POLICIES, "-o", "github", "-"],
        Some(PINNED_POD_WITHOUT_LIMITS),
    );
    assert!(
        out.starts_with(
            "::warning file=-,line=8,col=5,title=recommend-memory-limits/memory-limit::"
        ),
        "{out}"
    );
    let (_, out, _) = exit(
        &[
            "--fail-on-warn",
            "--policies",
            POLICIES,
            "-o",
            "github",
            "-",
        ],
        Some(PINNED_POD_WITHOUT_LIMITS),
    );
    assert!(out.starts_with("::error file=-,line=8,col=5,"), "{out}");
}

#[test]
fn nothing_matched_passes_unless_require_match() {
    let (code, out, _) = exit(&["--policies", POLICIES, "-"], Some(CONFIG_MAP));
    assert_eq!(code, Some(0));
    assert_eq!(
        out,
        "1 resources in 1 files: pass 0, fail 0, warn 0, error 0, skip 0\n"
    );

    let (code, _, err) = exit(
        &["--require-match", "--policies", POLICIES, "-"],
        Some(CONFIG_MAP),
    );
    assert_eq!(code, Some(1));
    assert!(
        err.contains("no resource matched any policy (--require-match)"),
        "{err}"
    );

    let (code, _, _) = exit(
        &[
            "--require-match",
            "--policies",
            POLICIES,
            "tests/fixtures/repo/apps/api/deployment.json",
        ],
        None,
    );
    assert_eq!(
        code,
        Some(0),
        "a matched, passing resource satisfies --require-match"
    );
}

#[test]
fn usage_errors_exit_2() {
    let (code, _, err) = exit(&["--output", "xml", "tests/fixtures/repo"], None);
    assert_eq!(code, Some(2));
    assert!(err.contains("invalid value 'xml'"), "{err}");

    let (code, _, err) = exit(&["--exclude", "apps/[", "tests/fixtures/repo"], None);
    assert_eq!(code, Some(2));
    assert!(err.contains("error: --exclude \"apps/[\""), "{err}");

    let (code, _, _) = exit(&["-j", "0", "tests/fixtures/repo"], None);
    assert_eq!(code, Some(2));
}

#[test]
fn invalid_yaml_exits_2_but_an_unrendered_helm_template_is_skipped_with_a_note() {
    let (code, out, err) = exit(
        &[
            "--policies",
            POLICIES,
            "--verbose",
            "tests/fixtures/repo/charts",
        ],
        None,
    );
    assert_eq!(code, Some(0), "{out}{err}");
    assert!(
        err.contains(
            "note: tests/fixtures/repo/charts/web/templates/deployment.yaml: skipped: a template"
        ),
        "{err}"
    );
    assert!(err.contains("note: tests/fixtures/repo/charts/web/values.yaml:1: skipped document 1: no apiVersion and no kind, not a Kubernetes object"), "{err}");

    let broken = "apiVersion: v1\nkind: Pod\nmetadata:\n  name: [unclosed\n";
    let (code, _, err) = exit(&["--policies", POLICIES, "-"], Some(broken));
    assert_eq!(code, Some(2));
    assert!(err.contains("error: -:5:1: invalid YAML"), "{err}");

    let (code, _, err) = exit(
        &["--policies", POLICIES, "-"],
        Some(&format!("{CONFIG_MAP}---\n{broken}")),
    );
    assert_eq!(
        code,
        Some(2),
        "an error in a later document is still an error"
    );
    assert!(err.contains("error: -:12:1: invalid YAML"), "{err}");
}

#[test]
fn an_evaluation_error_exits_2_and_is_never_a_pass() {
    let pod = "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  hostNetwork: true\n  containers: [{name: a, image: a:1}]\n";
    let (code, out, _) = exit(
        &["--policies", "tests/fixtures/policies-eval-error", "-"],
        Some(pod),
    );
    assert_eq!(code, Some(2), "{out}");
    assert!(
        out.contains("error Pod default/p: anchored-host-network/no-host-network-with-volumes"),
        "{out}"
    );
}

#[test]
fn stdin_takes_a_rendered_stream_and_reports_lines_within_it() {
    let workloads = std::fs::read_to_string(crate::fixtures::repo_path(
        "tests/fixtures/repo/apps/web/workloads.yaml",
    ))
    .expect("fixture");
    let cronjob = std::fs::read_to_string(crate::fixtures::repo_path(
        "tests/fixtures/repo/apps/web/cronjob.yaml",
    ))
    .expect("fixture");
    let stream = format!("{workloads}---\n{cronjob}");
    let (code, out, _) = exit(&["--policies", POLICIES, "-"], Some(&stream));
    assert_eq!(code, Some(1));
    assert!(out.contains("-:42:16: fail (enforce) Deployment shop/web: require-image-digest/autogen-require-digest"), "{out}");
    // The CronJob starts on line 47 of the stream (45 lines, then `---`): its init container
    // image, line 15 of its file, is line 61.
    assert!(out.contains("-:61:20: fail (enforce) CronJob shop/nightly-report: disallow-latest-tag/autogen-cronjob-require-image-tag"), "{out}");
    assert!(
        out.ends_with("3 resources in 1 files: pass 4, fail 4, warn 0, error 0, skip 0\n"),
        "{out}"
    );
}

#[test]
fn include_and_exclude_filter_directory_walks() {
    let (code, out, _) = exit(
        &[
            "--policies",
            POLICIES,
            "--include",
            "*.json",
            "tests/fixtures/repo",
        ],
        None,
    );
    assert_eq!(code, Some(0), "{out}");
    assert!(
        out.ends_with("1 resources in 1 files: pass 4, fail 0, warn 0, error 0, skip 0\n"),
        "{out}"
    );

    let (code, out, _) = exit(
        &[
            "--policies",
            POLICIES,
            "--exclude",
            "web",
            "--exclude",
            "list.yaml",
            "tests/fixtures/repo",
        ],
        None,
    );
    assert_eq!(code, Some(0), "{out}");
    assert!(
        out.ends_with("4 resources in 3 files: pass 4, fail 0, warn 0, error 0, skip 0\n"),
        "{out}"
    );

    let (code, out, _) = exit(
        &[
            "--policies",
            POLICIES,
            "--exclude",
            "apps/web/**",
            "--exclude",
            "apps/list.yaml",
            "tests/fixtures/repo",
        ],
        None,
    );
    assert_eq!(code, Some(0), "{out}");
    let (code, out, _) = exit(
        &[
            "--policies",
            POLICIES,
            "--exclude",
            "apps/web/**",
            "--exclude",
            "apps/list.yaml",
            "tests/fixtures/repo/apps",
        ],
        None,
    );
    assert_eq!(
        code,
        Some(1),
        "a glob with a slash is relative to the directory given: {out}"
    );
}

#[test]
fn namespace_selectors_read_labels_of_namespaces_in_the_input() {
    let (code, out, _) = exit(
        &["--policies", POLICIES, "-n", "shop", "-"],
        Some(DEPLOYMENT_WITHOUT_TEAM),
    );
    assert_eq!(
        code,
        Some(0),
        "without the Namespace object shop's labels are unknown: {out}"
    );
    assert!(!out.contains("require-team-label"), "{out}");

    let stream = format!("{SHOP_IS_PRODUCTION}---\n{DEPLOYMENT_WITHOUT_TEAM}");
    let (code, out, _) = exit(
        &["--policies", POLICIES, "--namespace", "shop", "-"],
        Some(&stream),
    );
    assert_eq!(code, Some(1), "{out}");
    assert!(out.contains("-:10:3: fail (enforce) Deployment shop/cart: require-team-label/team-label-in-production"), "{out}");

    let (code, out, _) = exit(&["--policies", POLICIES, "-"], Some(&stream));
    assert_eq!(
        code,
        Some(0),
        "without --namespace the Deployment lands in default: {out}"
    );
    let (_, out, _) = exit(&["--policies", POLICIES, "--verbose", "-"], Some(&stream));
    assert!(out.contains("Deployment default/cart"), "{out}");
}

#[test]
fn kubernetes_io_metadata_name_is_set_on_every_namespace() {
    let policy_dir = tempfile::tempdir().expect("temp dir");
    std::fs::write(
        policy_dir.path().join("by-name.yaml"),
        "apiVersion: kyverno.io/v1
kind: ClusterPolicy
metadata: {name: by-name}
spec:
  validationFailureAction: Enforce
  rules:
  - name: shop-needs-team
    match:
      any:
      - resources:
          kinds: [Deployment]
          namespaceSelector:
            matchLabels: {kubernetes.io/metadata.name: shop}
    validate:
      message: team label required
      pattern: {metadata: {labels: {team: \"?*\"}}}
",
    )
    .expect("write policy");
    let policies = policy_dir.path().to_str().expect("utf-8");
    let (code, out, _) = exit(
        &["--policies", policies, "-n", "shop", "-"],
        Some(DEPLOYMENT_WITHOUT_TEAM),
    );
    assert_eq!(code, Some(1), "{out}");
    let (code, out, _) = exit(
        &["--policies", policies, "-n", "other", "-"],
        Some(DEPLOYMENT_WITHOUT_TEAM),
    );
    assert_eq!(code, Some(0), "{out}");
}

#[test]
fn yaml_1_1_scalars_reach_policies_as_kubectl_sends_them() {
    let args = |file: &'static str| ["--policies", "tests/fixtures/policies-scalars", file];
    let (code, out, _) = exit(&args("tests/fixtures/scalars/pod-yaml11.yaml"), None);
    assert_eq!(
        code,
        Some(0),
        "yes, on, 1e3, ~ and 0755 resolve as YAML 1.1: {out}"
    );
    let (code, out, _) = exit(&args("tests/fixtures/scalars/pod-quoted.yaml"), None);
    assert_eq!(code, Some(1), "quoted, the same values are strings: {out}");
}

#[test]
fn jobs_do_not_change_the_output() {
    let one = run_check(
        &[
            "--policies",
            POLICIES,
            "-j",
            "1",
            "-o",
            "json",
            "tests/fixtures/repo",
        ],
        None,
    );
    let four = run_check(
        &[
            "--policies",
            POLICIES,
            "-j",
            "4",
            "-o",
            "json",
            "tests/fixtures/repo",
        ],
        None,
    );
    assert_eq!(stdout(&one), stdout(&four));
}
