//! The exit-code contract of `check` and the options a pipeline sets: 0 clean, 1 a failing
//! rule (Audit too under `--fail-on-warn`; nothing matched under `--require-match`), 2 for usage
//! errors, unreadable or invalid input, invalid policies and evaluation errors. Also stdin,
//! `--include` / `--exclude`, `--namespace` and namespace labels taken from the input.

use crate::check_support::{POLICIES, POLICY_FILES, run_check, stderr, stdout};

/// The fixture repository's namespace labels, for checks of part of it.
const NAMESPACE_LABELS: &str = "tests/fixtures/namespace-labels.yaml";

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
            "--namespace-labels",
            NAMESPACE_LABELS,
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
            "--namespace-labels",
            NAMESPACE_LABELS,
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
            "--allow-empty",
            // Not a chart root without its Chart.yaml: the files are read as written.
            "--exclude",
            "Chart.yaml",
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
    assert!(
        !err.contains("_helpers.tpl"),
        "only manifest files are read: {err}"
    );

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
    let (code, out, _) = exit(
        &[
            "--policies",
            POLICIES,
            "--namespace-labels",
            NAMESPACE_LABELS,
            "-",
        ],
        Some(&stream),
    );
    assert_eq!(code, Some(1));
    assert!(out.contains("-:42:16: fail (enforce) Deployment shop/web: require-image-digest/autogen-require-digest"), "{out}");
    // The CronJob starts on line 47 of the stream (45 lines, then `---`): its init container
    // image, line 15 of its file, is line 61.
    assert!(out.contains("-:61:20: fail (enforce) CronJob shop/nightly-report: disallow-latest-tag/autogen-cronjob-require-image-tag"), "{out}");
    assert!(
        out.ends_with("3 resources in 1 files: pass 5, fail 5, warn 0, error 0, skip 0\n"),
        "{out}"
    );
}

#[test]
fn include_and_exclude_filter_directory_walks() {
    let (code, out, _) = exit(
        &[
            "--policies",
            POLICY_FILES,
            "--namespace-labels",
            NAMESPACE_LABELS,
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
            "--namespace-labels",
            NAMESPACE_LABELS,
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
            "--namespace-labels",
            NAMESPACE_LABELS,
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
            "--namespace-labels",
            NAMESPACE_LABELS,
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
    let stream = format!("{SHOP_IS_PRODUCTION}---\n{DEPLOYMENT_WITHOUT_TEAM}");
    let (code, out, _) = exit(
        &["--policies", POLICIES, "--namespace", "shop", "-"],
        Some(&stream),
    );
    assert_eq!(code, Some(1), "{out}");
    assert!(out.contains("-:10:3: fail (enforce) Deployment shop/cart: require-team-label/team-label-in-production"), "{out}");
}

#[test]
fn namespace_selectors_read_labels_from_a_kyverno_values_file() {
    let (code, out, err) = exit(
        &[
            "--policies",
            POLICIES,
            "--namespace-labels",
            NAMESPACE_LABELS,
            "-n",
            "shop",
            "-",
        ],
        Some(DEPLOYMENT_WITHOUT_TEAM),
    );
    assert_eq!(code, Some(1), "{out}{err}");
    assert!(
        out.contains("-:4:3: fail (enforce) Deployment shop/cart: require-team-label/team-label-in-production"),
        "{out}"
    );
    // A Namespace object in the input wins over the file.
    let shop_is_dev = SHOP_IS_PRODUCTION.replace("env: prod", "env: dev");
    let (code, out, _) = exit(
        &[
            "--policies",
            POLICIES,
            "--namespace-labels",
            NAMESPACE_LABELS,
            "-n",
            "shop",
            "-",
        ],
        Some(&format!("{shop_is_dev}---\n{DEPLOYMENT_WITHOUT_TEAM}")),
    );
    assert_eq!(code, Some(0), "{out}");

    // A file that is not a Values file is refused, not read as no labels.
    let (code, _, err) = exit(
        &[
            "--policies",
            POLICIES,
            "--namespace-labels",
            "tests/fixtures/repo/namespaces.yaml",
            "-",
        ],
        Some(DEPLOYMENT_WITHOUT_TEAM),
    );
    assert_eq!(code, Some(2), "{err}");
    assert!(
        err.contains("error: --namespace-labels tests/fixtures/repo/namespaces.yaml: expected one Values document, found 2; expected Kyverno's Values format"),
        "{err}"
    );
}

#[test]
fn a_namespace_selector_on_an_unknown_namespace_is_a_visible_error() {
    for format in ["text", "json"] {
        let (code, out, _) = exit(
            &["--policies", POLICIES, "-o", format, "-n", "shop", "-"],
            Some(DEPLOYMENT_WITHOUT_TEAM),
        );
        assert_eq!(code, Some(2), "{out}");
        let expected = "namespace \"shop\" is unknown: its labels are not available (give them with --namespace-labels FILE, in Kyverno's Values format `namespaceSelector: [{name, labels}]`, or put the Namespace object in the input; --unknown-namespaces skip judges it without labels)";
        if format == "text" {
            assert!(out.contains(expected), "{out}");
            assert!(
                out.starts_with("-:1:1: error Deployment shop/cart: require-team-label/team-label-in-production:"),
                "printed without --verbose: {out}"
            );
            assert!(
                out.ends_with("pass 4, fail 0, warn 0, error 1, skip 0\n"),
                "{out}"
            );
        } else {
            let report: serde_json::Value = serde_json::from_str(&out).expect("JSON");
            assert_eq!(report["summary"]["error"], 1);
            let error = report["results"]
                .as_array()
                .and_then(|results| results.iter().find(|result| result["result"] == "error"))
                .expect("an error result");
            assert_eq!(error["rule"], "team-label-in-production", "{out}");
            assert!(
                error["message"]
                    .as_str()
                    .is_some_and(|message| message.contains(expected)),
                "{out}"
            );
        }
    }
    // A Namespace object for another namespace does not make this one known.
    let stream = format!("{SHOP_IS_PRODUCTION}---\n{DEPLOYMENT_WITHOUT_TEAM}");
    let (code, out, _) = exit(&["--policies", POLICIES, "-"], Some(&stream));
    assert_eq!(code, Some(2), "the Deployment lands in default: {out}");
    assert!(out.contains("namespace \"default\" is unknown"), "{out}");

    // The explicit opt-out judges the namespace without labels.
    let (code, out, _) = exit(
        &[
            "--policies",
            POLICIES,
            "--unknown-namespaces",
            "skip",
            "-n",
            "shop",
            "-",
        ],
        Some(DEPLOYMENT_WITHOUT_TEAM),
    );
    assert_eq!(code, Some(0), "{out}");
    assert!(!out.contains("require-team-label"), "{out}");
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

/// Two links to `.` made the walk branch without end; with loop detection the run ends at once
/// with an error naming the link.
#[test]
fn a_symlink_loop_in_the_tree_is_an_error_not_a_hang() {
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::write(dir.path().join("pod.yaml"), PINNED_POD_WITHOUT_LIMITS).expect("write");
    for link in ["a", "b"] {
        std::os::unix::fs::symlink(".", dir.path().join(link)).expect("symlink");
    }
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_portcullis"))
        .args(["check", "--policies", "policies"])
        .arg(dir.path())
        .current_dir(crate::fixtures::repo_path(""))
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawn");
    let started = std::time::Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait") {
            break status;
        }
        if started.elapsed() > std::time::Duration::from_secs(60) {
            let _ = child.kill();
            panic!("check still walking a looped tree after 60 s");
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    };
    let mut err = String::new();
    std::io::Read::read_to_string(child.stderr.as_mut().expect("stderr"), &mut err)
        .expect("read stderr");
    assert_eq!(status.code(), Some(2), "{err}");
    assert!(
        err.contains(&format!(
            "error: {}: cannot read: File system loop found: {} points to an ancestor {}",
            dir.path().display(),
            dir.path().join("a").display(),
            dir.path().display()
        )),
        "{err}"
    );
}

/// An input larger than a chunk is read, judged and reported chunk by chunk: the output is in
/// input order and the same for any number of jobs, a Namespace at the very end still gives
/// its labels to the resources of the first chunk, and a file read in several chunks counts once.
#[test]
fn an_input_of_many_chunks_is_reported_as_one() {
    let count = 1500;
    let mut stream = String::new();
    for index in 0..count {
        let image = if index % 500 == 0 {
            "app:latest"
        } else {
            "app:1@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
        };
        stream.push_str(&format!(
            "---\napiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: app-{index}\n  namespace: shop\n  labels: {{team: t}}\nspec:\n  template:\n    spec:\n      containers:\n      - name: app\n        image: {image}\n        resources: {{limits: {{memory: 64Mi}}}}\n# padding the chunk: {}\n",
            "x".repeat(200)
        ));
    }
    stream.push_str(&format!("---\n{SHOP_IS_PRODUCTION}"));
    assert!(stream.len() > 2 * portcullis::check::stream::CHUNK_BYTES);
    let dir = tempfile::tempdir().expect("temp dir");
    let file = dir.path().join("many.yaml");
    std::fs::write(&file, &stream).expect("write");
    let path = file.to_str().expect("utf-8");
    let run = |jobs: &str, format: &str| {
        run_check(
            &["--policies", POLICIES, "-j", jobs, "-o", format, path],
            None,
        )
    };
    let one = run("1", "text");
    let out = stdout(&one);
    assert_eq!(one.status.code(), Some(1), "{}", stderr(&one));
    assert!(
        out.ends_with(&format!(
            "{} resources in 1 files: pass {}, fail 3, warn 0, error 0, skip 0\n",
            count + 1,
            count * 5 - 3
        )),
        "{}",
        &out[out.len().saturating_sub(300)..]
    );
    let failing: Vec<&str> = out
        .lines()
        .filter(|line| line.contains("fail (enforce)"))
        .collect();
    // One `:latest` Deployment in every five hundred, each refused by require-image-digest alone.
    assert_eq!(failing.len(), 3);
    assert!(
        failing[0].contains("Deployment shop/app-0:"),
        "{}",
        failing[0]
    );
    assert!(
        failing[2].contains("Deployment shop/app-1000:"),
        "{}",
        failing[2]
    );
    for format in ["json", "junit", "sarif"] {
        assert_eq!(
            stdout(&run("1", format)),
            stdout(&run("2", format)),
            "{format}"
        );
    }
    let report: serde_json::Value = serde_json::from_str(&stdout(&run("2", "json"))).expect("JSON");
    let results = report["results"].as_array().expect("results");
    assert_eq!(results.len(), count * 5);
    // The team-label rule read shop's labels from the Namespace at the end.
    assert_eq!(
        results
            .iter()
            .filter(
                |result| result["rule"] == "autogen-team-label-in-production"
                    || result["rule"] == "team-label-in-production"
            )
            .count(),
        count,
        "{:#}",
        results[0]
    );
}
