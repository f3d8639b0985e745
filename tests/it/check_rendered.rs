//! Kustomize and Helm trees checked as they will be applied: rendered by the real tools, each
//! result attributed to the file it was written in; a tree that does not render is an error;
//! without a renderer, patches are never judged as objects and charts are skipped, both with a
//! warning. The tools come from `tests::tools` (`.ci/run` installs them).

use crate::check_support::{stderr, stdout};
use crate::fixtures::repo_path;
use crate::tools::{path_with, tool};
use serde_json::Value;
use std::path::Path;
use std::process::{Command, Output, Stdio};

/// Runs `portcullis check ARGS` in `dir` with `PATH` as given.
fn check_in(dir: &Path, path: &std::ffi::OsStr, args: &[&str], stdin: Option<&str>) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_portcullis"))
        .arg("check")
        .args(args)
        .current_dir(dir)
        .env("PATH", path)
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn portcullis check");
    if let Some(text) = stdin {
        std::io::Write::write_all(child.stdin.as_mut().expect("stdin"), text.as_bytes())
            .expect("write stdin");
        drop(child.stdin.take());
    }
    child.wait_with_output().expect("wait for portcullis check")
}

fn write(dir: &Path, relative: &str, text: &str) {
    let path = dir.join(relative);
    std::fs::create_dir_all(path.parent().expect("parent")).expect("create dirs");
    std::fs::write(path, text).expect("write");
}

const DIGEST: &str = "@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

/// A GitOps tree: a base whose Deployment has no `team` label (its kustomization adds it) and a
/// `:latest` image, and a production overlay that pins the image with a strategic-merge patch.
fn base_and_overlay() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temp dir");
    let root = dir.path();
    write(
        root,
        "policies/require-team.yaml",
        "apiVersion: kyverno.io/v1
kind: ClusterPolicy
metadata: {name: require-team}
spec:
  validationFailureAction: Enforce
  rules:
  - name: team
    match:
      any:
      - resources: {kinds: [Deployment]}
    validate:
      message: a team label is required
      pattern: {metadata: {labels: {team: \"?*\"}}}
",
    );
    // The default pair: `:latest` in a container is refused by require-image-digest.
    for policy in ["disallow-latest-tag.yaml", "require-image-digest.yaml"] {
        std::fs::copy(
            repo_path("policies").join(policy),
            root.join("policies").join(policy),
        )
        .expect("copy policy");
    }
    write(
        root,
        "apps/base/kustomization.yaml",
        "labels:\n- pairs: {team: shop}\nresources:\n- deployment.yaml\n",
    );
    write(
        root,
        "apps/base/deployment.yaml",
        "apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
      - name: web
        image: registry.example.com/web:latest
",
    );
    write(
        root,
        "apps/overlays/production/kustomization.yaml",
        "namespace: shop\nresources:\n- ../../base\npatches:\n- path: deployment.yaml\n",
    );
    write(
        root,
        "apps/overlays/production/deployment.yaml",
        &format!(
            "apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  template:
    spec:
      containers:
      - name: web
        image: registry.example.com/web:1.4{DIGEST}
"
        ),
    );
    dir
}

/// (policy, rule, kind, namespace, name, result) of a JSON report, in order.
fn verdicts(report: &Value) -> Vec<String> {
    report["results"]
        .as_array()
        .expect("results")
        .iter()
        .map(|result| {
            format!(
                "{} {} {} {}/{} {}",
                result["policy"],
                result["rule"],
                result["kind"],
                result["namespace"],
                result["name"],
                result["result"]
            )
        })
        .collect()
}

fn json(output: &Output) -> Value {
    serde_json::from_str(&stdout(output))
        .unwrap_or_else(|error| panic!("{error}: {}{}", stdout(output), stderr(output)))
}

#[test]
fn our_own_deploy_tree_passes_check() {
    let Some(kubectl) = tool("kubectl") else {
        return;
    };
    let output = check_in(&repo_path(""), &path_with(&[&kubectl]), &["deploy/"], None);
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}{}",
        stdout(&output),
        stderr(&output)
    );
    assert!(!stderr(&output).contains("warning"), "{}", stderr(&output));
}

#[test]
fn a_base_and_an_overlay_give_exactly_the_rendered_verdicts() {
    let Some(kubectl) = tool("kubectl") else {
        return;
    };
    let tree = base_and_overlay();
    let root = tree.path();
    let path = path_with(&[&kubectl]);
    let output = check_in(root, &path, &["-o", "json", "apps"], None);
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    let tree_report = json(&output);

    let mut expected = Vec::new();
    for overlay in ["apps/base", "apps/overlays/production"] {
        let rendered = Command::new(&kubectl)
            .args(["kustomize", overlay])
            .current_dir(root)
            .output()
            .expect("kubectl kustomize");
        assert!(rendered.status.success(), "{rendered:?}");
        let text = String::from_utf8(rendered.stdout).expect("utf-8");
        let output = check_in(root, &path, &["-o", "json", "-"], Some(&text));
        expected.extend(verdicts(&json(&output)));
    }
    assert_eq!(verdicts(&tree_report), expected);

    // The base passes on the label its kustomization adds and fails on its image; the overlay
    // passes on both. Each result is reported where the field was written.
    let results = tree_report["results"].as_array().expect("results");
    let failures: Vec<&Value> = results
        .iter()
        .filter(|result| result["result"] == "fail")
        .collect();
    assert_eq!(failures.len(), 1, "{results:#?}");
    assert_eq!(failures[0]["file"], "apps/base/deployment.yaml");
    assert_eq!(failures[0]["line"], 12);
    assert_eq!(failures[0]["column"], 16);
    assert_eq!(failures[0]["namespace"], "default");
    assert!(
        results
            .iter()
            .all(|result| result["result"] == "fail" || result["result"] == "pass"),
        "{results:#?}"
    );
    assert!(
        results
            .iter()
            .any(|result| result["namespace"] == "shop" && result["rule"] == "team"),
        "{results:#?}"
    );
    // kustomize's origin annotation is the wrapper's, not the user's: it never reaches a rule.
    let rendered = String::from_utf8_lossy(&output.stdout);
    assert!(
        !rendered.contains("config.kubernetes.io/origin"),
        "{rendered}"
    );
    assert!(
        !root.join("apps/base/kustomization.yaml").exists()
            || !std::fs::read_to_string(root.join("apps/base/kustomization.yaml"))
                .expect("read")
                .contains("buildMetadata"),
        "the user's kustomization is left alone"
    );
}

#[test]
fn a_kustomization_that_does_not_render_is_an_error() {
    let Some(kubectl) = tool("kubectl") else {
        return;
    };
    let tree = base_and_overlay();
    write(
        tree.path(),
        "apps/overlays/production/kustomization.yaml",
        "resources:\n- ../../base\n- missing.yaml\n",
    );
    let output = check_in(
        tree.path(),
        &path_with(&[&kubectl]),
        &["-o", "json", "apps"],
        None,
    );
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
    let report = json(&output);
    assert_eq!(report["errors"][0]["file"], "apps/overlays/production");
    let message = report["errors"][0]["message"].as_str().expect("message");
    assert!(
        message.starts_with("the kustomization does not render, so nothing in it was checked:")
            && message.contains("missing.yaml"),
        "{message}"
    );
}

#[test]
fn without_a_renderer_patches_are_skipped_with_a_warning_never_judged() {
    let tree = base_and_overlay();
    let nothing = tempfile::tempdir().expect("temp dir");
    let output = check_in(
        tree.path(),
        nothing.path().as_os_str(),
        &["-o", "json", "apps/overlays/production"],
        None,
    );
    let err = stderr(&output);
    assert!(
        err.contains("warning: apps/overlays/production: a kustomization, not rendered: neither kubectl nor kustomize is on PATH (--kustomize-bin names one); its files are checked as written, without the patches apps/overlays/production/deployment.yaml"),
        "{err}"
    );
    // The patch was the only manifest: nothing is left to check.
    assert_eq!(output.status.code(), Some(2), "{err}");
    assert!(
        json(&output)["results"]
            .as_array()
            .is_some_and(Vec::is_empty)
    );

    let output = check_in(
        tree.path(),
        nothing.path().as_os_str(),
        &["--kustomize-bin", "./no-such-kubectl", "apps"],
        None,
    );
    assert_eq!(output.status.code(), Some(2));
    assert!(
        stderr(&output).contains("error: --kustomize-bin ./no-such-kubectl: no such file"),
        "{}",
        stderr(&output)
    );
}

/// A chart whose `values.yaml` keeps `image.tag: latest`, as the GitOps pattern does.
fn chart() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temp dir");
    let root = dir.path();
    for policy in ["disallow-latest-tag.yaml", "require-image-digest.yaml"] {
        std::fs::create_dir_all(root.join("policies")).expect("dir");
        std::fs::copy(
            repo_path("policies").join(policy),
            root.join("policies").join(policy),
        )
        .expect("copy policy");
    }
    write(
        root,
        "charts/web/Chart.yaml",
        "apiVersion: v2\nname: web\nversion: 0.1.0\n",
    );
    write(
        root,
        "charts/web/values.yaml",
        "image:\n  repository: registry.example.com/web\n  tag: latest\n",
    );
    write(
        root,
        "charts/web/templates/deployment.yaml",
        "apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ .Release.Name }}
spec:
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
      - name: web
        image: \"{{ .Values.image.repository }}:{{ .Values.image.tag }}\"
",
    );
    write(
        root,
        "values-prod.yaml",
        &format!("image:\n  tag: \"1.4{DIGEST}\"\n"),
    );
    dir
}

#[test]
fn a_chart_is_rendered_by_helm_and_latest_in_its_values_fails_the_gate() {
    let Some(helm) = tool("helm") else {
        return;
    };
    let tree = chart();
    let path = path_with(&[&helm]);
    let output = check_in(tree.path(), &path, &["-o", "json", "charts"], None);
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    let report = json(&output);
    let failures: Vec<&Value> = report["results"]
        .as_array()
        .expect("results")
        .iter()
        .filter(|result| result["result"] == "fail")
        .collect();
    assert!(!failures.is_empty(), "{report:#}");
    for failure in &failures {
        assert_eq!(failure["file"], "charts/web/templates/deployment.yaml");
        assert_eq!(failure["line"], 12, "{failure:#}");
    }

    let output = check_in(
        tree.path(),
        &path,
        &["--helm-values", "values-prod.yaml", "charts"],
        None,
    );
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}{}",
        stdout(&output),
        stderr(&output)
    );

    // Piped in, the `# Source:` comments still name the template, in every format.
    let rendered = Command::new(&helm)
        .args(["template", "web", "charts/web"])
        .current_dir(tree.path())
        .output()
        .expect("helm template");
    let text = String::from_utf8(rendered.stdout).expect("utf-8");
    let output = check_in(tree.path(), &path, &["-o", "github", "-"], Some(&text));
    assert!(
        stdout(&output).contains("::error file=web/templates/deployment.yaml,line=12,col=16,"),
        "{}",
        stdout(&output)
    );
    let output = check_in(tree.path(), &path, &["-o", "sarif", "-"], Some(&text));
    assert!(
        stdout(&output).contains("\"uri\": \"web/templates/deployment.yaml\""),
        "{}",
        stdout(&output)
    );

    // A chart that does not render is an error.
    write(
        tree.path(),
        "charts/web/templates/broken.yaml",
        "{{ include \"missing\" . }}\n",
    );
    let output = check_in(tree.path(), &path, &["charts"], None);
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
    assert!(
        stderr(&output).contains("error: charts/web: the chart does not render"),
        "{}",
        stderr(&output)
    );
}

#[test]
fn without_helm_a_chart_is_skipped_with_a_warning() {
    let tree = chart();
    let nothing = tempfile::tempdir().expect("temp dir");
    let output = check_in(tree.path(), nothing.path().as_os_str(), &["charts"], None);
    assert!(
        stderr(&output)
            .contains("warning: charts/web: a Helm chart, not checked: helm is not on PATH"),
        "{}",
        stderr(&output)
    );
    assert_eq!(output.status.code(), Some(2), "and nothing else was read");
}

#[test]
fn stdin_filename_names_standard_input_in_reports() {
    let tree = chart();
    let nothing = tempfile::tempdir().expect("temp dir");
    let pod = "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  containers: [{name: a, image: a:latest}]\n";
    let output = check_in(
        tree.path(),
        nothing.path().as_os_str(),
        &["--stdin-filename", "rendered/prod.yaml", "-"],
        Some(pod),
    );
    assert_eq!(output.status.code(), Some(1));
    assert!(
        stdout(&output).starts_with("rendered/prod.yaml:5:33: fail (enforce) Pod default/p"),
        "{}",
        stdout(&output)
    );
    let output = check_in(
        tree.path(),
        nothing.path().as_os_str(),
        &["--stdin-filename", "rendered/prod.yaml", "-"],
        Some(""),
    );
    assert!(
        stderr(&output).contains("error: rendered/prod.yaml: no documents on standard input"),
        "{}",
        stderr(&output)
    );
}
