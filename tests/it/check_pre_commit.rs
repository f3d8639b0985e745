//! The example pre-commit hooks, run by pre-commit itself (`pre-commit try-repo`, `pre-commit
//! run`) in a throwaway GitOps repository, with the `portcullis` under test on `PATH`: a clean
//! overlay passes, and a failing policy and a broken kustomization both fail the hook.

use crate::fixtures::repo_path;
use crate::tools::{path_with, tool};
use std::path::Path;
use std::process::{Command, Output};

const PINNED_DEPLOYMENT: &str = "apiVersion: apps/v1
kind: Deployment
metadata: {name: api}
spec:
  selector: {matchLabels: {app: api}}
  template:
    metadata: {labels: {app: api}}
    spec:
      containers:
      - name: api
        image: registry.example.com/shop/api@sha256:4d6ae0a5ff1d6c3b1d5e0c4f3f0a2b6c9d8e7f6a5b4c3d2e1f0a9b8c7d6e5f4a
";

struct Repo<'a> {
    dir: tempfile::TempDir,
    path: std::ffi::OsString,
    pre_commit: &'a Path,
    home: tempfile::TempDir,
}

impl Repo<'_> {
    fn git(&self, dir: &Path, args: &[&str]) {
        let output = Command::new("git")
            .args(["-c", "user.name=test", "-c", "user.email=test@example.com"])
            .args([
                "-c",
                "init.defaultBranch=main",
                "-c",
                "commit.gpgsign=false",
            ])
            .args(args)
            .current_dir(dir)
            .output()
            .expect("run git");
        assert!(output.status.success(), "git {args:?}: {output:?}");
    }

    fn write(&self, relative: &str, text: &str) {
        let path = self.dir.path().join(relative);
        std::fs::create_dir_all(path.parent().expect("parent")).expect("create dirs");
        std::fs::write(path, text).expect("write");
        self.git(self.dir.path(), &["add", "-A"]);
    }

    fn pre_commit(&self, args: &[&str]) -> Output {
        Command::new(self.pre_commit)
            .args(args)
            .current_dir(self.dir.path())
            .env("PATH", &self.path)
            .env("PRE_COMMIT_HOME", self.home.path())
            .env_remove("NO_COLOR")
            .output()
            .expect("run pre-commit")
    }
}

fn text(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

#[test]
fn the_rendered_overlay_hook_fails_on_a_broken_kustomization_and_on_a_policy_failure() {
    let (Some(pre_commit), Some(kubectl)) = (tool("pre-commit"), tool("kubectl")) else {
        return;
    };
    // The hook repository: the example's hook definitions at its root, committed.
    let hooks = tempfile::tempdir().expect("temp dir");
    std::fs::copy(
        repo_path("examples/pre-commit/.pre-commit-hooks.yaml"),
        hooks.path().join(".pre-commit-hooks.yaml"),
    )
    .expect("copy hooks");
    let repo = Repo {
        dir: tempfile::tempdir().expect("temp dir"),
        path: path_with(&[&kubectl, &pre_commit]),
        pre_commit: &pre_commit,
        home: tempfile::tempdir().expect("temp dir"),
    };
    repo.git(hooks.path(), &["init", "-q"]);
    repo.git(hooks.path(), &["add", "-A"]);
    repo.git(hooks.path(), &["commit", "-qm", "hooks"]);
    repo.git(repo.dir.path(), &["init", "-q"]);
    for policy in ["disallow-latest-tag.yaml", "require-image-digest.yaml"] {
        let text = std::fs::read_to_string(repo_path("policies").join(policy)).expect("policy");
        repo.write(&format!("policies/{policy}"), &text);
    }
    repo.write(
        "clusters/production/kustomization.yaml",
        "namespace: shop\nresources:\n- deployment.yaml\n",
    );
    repo.write("clusters/production/deployment.yaml", PINNED_DEPLOYMENT);
    let hooks_dir = hooks.path().to_str().expect("utf-8");
    let run = || {
        repo.pre_commit(&[
            "try-repo",
            hooks_dir,
            "portcullis-check-rendered",
            "--all-files",
        ])
    };

    let output = run();
    assert!(
        output.status.success(),
        "a clean overlay: {}",
        text(&output)
    );

    repo.write(
        "clusters/production/kustomization.yaml",
        "namespace: shop\nresources:\n- deployment.yaml\n- missing.yaml\n",
    );
    let output = run();
    assert!(
        !output.status.success(),
        "a kustomization that does not render: {}",
        text(&output)
    );
    assert!(text(&output).contains("missing.yaml"), "{}", text(&output));

    repo.write(
        "clusters/production/kustomization.yaml",
        "namespace: shop\nresources:\n- deployment.yaml\n",
    );
    repo.write(
        "clusters/production/deployment.yaml",
        &PINNED_DEPLOYMENT.replace(
            "api@sha256:4d6ae0a5ff1d6c3b1d5e0c4f3f0a2b6c9d8e7f6a5b4c3d2e1f0a9b8c7d6e5f4a",
            "api:latest",
        ),
    );
    let output = run();
    assert!(
        !output.status.success(),
        "a :latest image: {}",
        text(&output)
    );
    assert!(
        text(&output).contains("fail (enforce) Deployment shop/api"),
        "{}",
        text(&output)
    );
}

#[test]
fn the_local_hook_checks_the_files_pre_commit_passes() {
    let Some(pre_commit) = tool("pre-commit") else {
        return;
    };
    let repo = Repo {
        dir: tempfile::tempdir().expect("temp dir"),
        path: path_with(&[&pre_commit]),
        pre_commit: &pre_commit,
        home: tempfile::tempdir().expect("temp dir"),
    };
    repo.git(repo.dir.path(), &["init", "-q"]);
    repo.write(
        ".pre-commit-config.yaml",
        &std::fs::read_to_string(repo_path("examples/pre-commit/.pre-commit-config.yaml"))
            .expect("config"),
    );
    for policy in ["disallow-latest-tag.yaml", "require-image-digest.yaml"] {
        let text = std::fs::read_to_string(repo_path("policies").join(policy)).expect("policy");
        repo.write(&format!("policies/{policy}"), &text);
    }
    repo.write("apps/api/deployment.yaml", PINNED_DEPLOYMENT);
    let output = repo.pre_commit(&["run", "--all-files"]);
    assert!(output.status.success(), "{}", text(&output));

    repo.write(
        "apps/web/deployment.yaml",
        &PINNED_DEPLOYMENT.replace(
            "api@sha256:4d6ae0a5ff1d6c3b1d5e0c4f3f0a2b6c9d8e7f6a5b4c3d2e1f0a9b8c7d6e5f4a",
            "web:latest",
        ),
    );
    let output = repo.pre_commit(&["run", "--all-files"]);
    assert!(!output.status.success(), "{}", text(&output));
    assert!(
        text(&output).contains("apps/web/deployment.yaml:11:16: fail (enforce)"),
        "{}",
        text(&output)
    );
}
