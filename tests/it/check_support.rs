//! Running the `portcullis check` binary as CI does, from the repository root, and comparing its
//! output with golden files (`UPDATE_GOLDEN=1` rewrites them; a mismatch shows a line diff).

use crate::fixtures::repo_path;
use std::io::Write as _;
use std::process::{Command, Output, Stdio};

/// The policies every check test uses: the defaults plus the GitOps fixtures (a
/// namespaceSelector policy and an Audit policy).
pub const POLICIES: &str = "policies,tests/fixtures/policies-gitops";

/// [`POLICIES`] file by file: files named explicitly are read whatever `--include` and
/// `--exclude`, which filter policy walks too, let through.
pub const POLICY_FILES: &str = "policies/disallow-latest-tag.yaml,policies/require-image-digest.yaml,tests/fixtures/policies-gitops/recommend-memory-limits.yaml,tests/fixtures/policies-gitops/require-team-label.yaml";

/// Runs `portcullis check ARGS` in the repository root, feeding `stdin` when given.
pub fn run_check(args: &[&str], stdin: Option<&str>) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_portcullis"))
        .arg("check")
        .args(args)
        .current_dir(repo_path(""))
        .env_remove("NO_COLOR")
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
        let mut pipe = child.stdin.take().expect("stdin pipe");
        pipe.write_all(text.as_bytes()).expect("write stdin");
    }
    child.wait_with_output().expect("wait for portcullis check")
}

pub fn stdout(output: &Output) -> String {
    String::from_utf8(output.stdout.clone()).expect("stdout is UTF-8")
}

pub fn stderr(output: &Output) -> String {
    String::from_utf8(output.stderr.clone()).expect("stderr is UTF-8")
}

/// Compares `actual` with `tests/golden/<name>`, or rewrites the file under `UPDATE_GOLDEN=1`.
pub fn assert_golden(name: &str, actual: &str) {
    let path = repo_path("tests/golden").join(name);
    if std::env::var_os("UPDATE_GOLDEN").is_some_and(|value| value == "1") {
        std::fs::create_dir_all(path.parent().expect("golden dir")).expect("create golden dir");
        std::fs::write(&path, actual).expect("write golden");
        return;
    }
    let expected = std::fs::read_to_string(&path).unwrap_or_else(|error| {
        panic!(
            "{}: {error}; run with UPDATE_GOLDEN=1 to create it",
            path.display()
        )
    });
    if expected != actual {
        panic!(
            "{} differs from the output (- golden, + actual); run with UPDATE_GOLDEN=1 to accept:\n{}",
            path.display(),
            line_diff(&expected, actual)
        );
    }
}

/// A minimal line diff (longest common subsequence), enough for golden files of a few hundred
/// lines.
fn line_diff(expected: &str, actual: &str) -> String {
    let old: Vec<&str> = expected.lines().collect();
    let new: Vec<&str> = actual.lines().collect();
    let mut common = vec![vec![0usize; new.len() + 1]; old.len() + 1];
    for i in (0..old.len()).rev() {
        for j in (0..new.len()).rev() {
            common[i][j] = if old[i] == new[j] {
                common[i + 1][j + 1] + 1
            } else {
                common[i + 1][j].max(common[i][j + 1])
            };
        }
    }
    let (mut i, mut j, mut out) = (0, 0, String::new());
    while i < old.len() || j < new.len() {
        if i < old.len() && j < new.len() && old[i] == new[j] {
            out.push_str(&format!("  {}\n", old[i]));
            (i, j) = (i + 1, j + 1);
        } else if j < new.len() && (i == old.len() || common[i][j + 1] >= common[i + 1][j]) {
            out.push_str(&format!("+ {}\n", new[j]));
            j += 1;
        } else {
            out.push_str(&format!("- {}\n", old[i]));
            i += 1;
        }
    }
    out
}

#[test]
fn the_diff_marks_removed_and_added_lines() {
    assert_eq!(line_diff("a\nb\nc\n", "a\nx\nc\n"), "  a\n+ x\n- b\n  c\n");
}
