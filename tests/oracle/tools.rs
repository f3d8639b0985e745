//! Runs both tools over a folder of cases and reads back, per expectation, what each one
//! actually got.
//!
//! Why actual results and not "did the expectations hold": every generated expectation guesses
//! `pass`, so "both tools failed the expectation" would hide a `fail` against a `skip`. Both
//! tools say what they got instead: `kyverno test -o json` writes a row per rule response whose
//! REASON is `Ok` (it got the guess) or `Want pass, got <result>`, and `Excluded` when the rule
//! gave no response; `portcullis test --output json` lists the rule responses it compared. So
//! each (case, rule, resource) becomes a sorted list of `<response rule>=<result>` entries (or
//! `excluded`, or the reason the tool could not evaluate it) on each side, and those lists must be
//! equal.

use crate::generate::{self, Case};
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

/// An expectation: the case (its policy's name), the rule as the test file names it, and the
/// resource name.
pub type Key = (String, String, String);

/// What one tool got for one expectation, sorted.
pub type Observations = Vec<String>;

const INVALID_POLICY: &str = "invalid policy";

/// Writes a case as a folder of `policy.yaml`, `resources.yaml` and `kyverno-test.yaml`. The
/// files are JSON, which both YAML readers take with no room for type guessing.
pub fn write_case(root: &Path, case: &Case) -> std::io::Result<PathBuf> {
    let dir = root.join(&case.name);
    std::fs::create_dir_all(&dir)?;
    let pretty = |value: &Value| serde_json::to_string_pretty(value).unwrap_or_default();
    std::fs::write(dir.join("policy.yaml"), pretty(&case.policy) + "\n")?;
    let resources: Vec<String> = case.resources.iter().map(pretty).collect();
    std::fs::write(dir.join("resources.yaml"), resources.join("\n---\n") + "\n")?;
    std::fs::write(
        dir.join("kyverno-test.yaml"),
        pretty(&case.test_file()) + "\n",
    )?;
    if let Some(values) = &case.values {
        std::fs::write(dir.join(generate::VALUES_FILE), pretty(values) + "\n")?;
    }
    if let Some(user_info) = &case.user_info {
        std::fs::write(dir.join(generate::USER_INFO_FILE), pretty(user_info) + "\n")?;
    }
    Ok(dir)
}

pub struct Run {
    pub results: BTreeMap<Key, Observations>,
    /// Messages per (key, response rule), for the reproduction of a disagreement.
    pub messages: BTreeMap<(Key, String), String>,
    pub stdout: String,
    pub stderr: String,
    /// Cases on which the tool panicked (Kyverno's CLI does on some inputs).
    pub panicked: Vec<String>,
    /// Cases whose policy file the tool could not decode as a policy at all, which stops
    /// Kyverno's CLI; every expectation of such a case is [`INVALID_POLICY`].
    pub refused: Vec<String>,
}

impl Run {
    /// What the tool got for `key`: its rule responses, or `invalid policy` when it refused the
    /// case's policy file outright, or `missing`.
    pub fn observations(&self, key: &Key) -> Observations {
        if self.refused.contains(&key.0) {
            return vec![INVALID_POLICY.to_owned()];
        }
        self.results
            .get(key)
            .cloned()
            .unwrap_or_else(|| vec!["missing".to_owned()])
    }

    /// Observations are compared as sorted lists: the order of rule responses is not a result.
    fn new(
        mut results: BTreeMap<Key, Observations>,
        messages: BTreeMap<(Key, String), String>,
        stdout: String,
        stderr: String,
    ) -> Self {
        for observations in results.values_mut() {
            observations.sort();
        }
        Run {
            results,
            messages,
            stdout,
            stderr,
            panicked: Vec::new(),
            refused: Vec::new(),
        }
    }
}

fn run(command: &mut Command) -> (String, String) {
    let output = command
        .output()
        .unwrap_or_else(|error| panic!("cannot run {command:?}: {error}"));
    (
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

/// The test-file rule an autogen response answers.
fn expectation_rule(response_rule: &str) -> &str {
    response_rule
        .strip_prefix("autogen-cronjob-")
        .or_else(|| response_rule.strip_prefix("autogen-"))
        .unwrap_or(response_rule)
}

fn last_segment(text: &str) -> &str {
    text.rsplit('/').next().unwrap_or(text)
}

/// `kubectl-kyverno test <root> -o json --detailed-results`. Its stdout interleaves progress
/// lines with one pretty-printed JSON array per test file; the arrays start at a line `[` (or are
/// `[]`) and end at a line `]`.
///
/// Some inputs make Kyverno panic, which ends the whole run. The case it was loading is then
/// set aside as panicked, the cases it had finished are set aside as done, and the run resumes
/// with the rest; everything is put back afterwards. A policy file that does not decode as a
/// policy stops the run in the same way.
pub fn kyverno(binary: &Path, root: &Path) -> Run {
    let aside = root.with_extension("aside");
    let mut moved: Vec<String> = Vec::new();
    let mut panicked = Vec::new();
    let mut refused = Vec::new();
    let mut rows = Vec::new();
    let mut all_stdout = String::new();
    let mut all_stderr = String::new();
    loop {
        let (stdout, stderr) = run(Command::new(binary).arg("test").arg(root).args([
            "-o",
            "json",
            "--detailed-results",
        ]));
        rows.extend(json_arrays(&stdout));
        let loaded: Vec<String> = stdout
            .lines()
            .filter_map(|line| line.strip_prefix("Loading test  ( "))
            .filter_map(|rest| rest.strip_suffix("/kyverno-test.yaml ) ..."))
            .filter_map(|dir| Path::new(dir).file_name())
            .map(|name| name.to_string_lossy().into_owned())
            .collect();
        let crashed = stderr.contains("panic: ") && stderr.contains("goroutine ");
        // A policy file Kyverno cannot decode into a policy ends the run too.
        let undecodable =
            stderr.contains("Error: failed to run test (error: failed to load policies");
        all_stdout.push_str(&stdout);
        all_stderr.push_str(&stderr);
        let Some(last) = loaded.last().filter(|_| crashed || undecodable) else {
            break;
        };
        if crashed {
            panicked.push(last.clone());
        } else {
            refused.push(last.clone());
        }
        std::fs::create_dir_all(&aside).expect("a folder for cases set aside");
        for case in &loaded {
            std::fs::rename(root.join(case), aside.join(case)).expect("set a case aside");
            moved.push(case.clone());
        }
    }
    for case in &moved {
        std::fs::rename(aside.join(case), root.join(case)).expect("put a case back");
    }
    let _ = std::fs::remove_dir(&aside);
    let mut parsed = rows_to_run(rows, all_stdout, all_stderr);
    parsed.panicked = panicked;
    parsed.refused = refused;
    parsed
}

fn json_arrays(stdout: &str) -> Vec<Value> {
    let mut rows = Vec::new();
    let mut buffer: Option<String> = None;
    for line in stdout.lines() {
        match &mut buffer {
            None if line == "[]" => {}
            None if line == "[" => buffer = Some("[\n".to_owned()),
            None => {}
            Some(text) => {
                text.push_str(line);
                text.push('\n');
                if line == "]" {
                    match serde_json::from_str::<Vec<Value>>(text) {
                        Ok(parsed) => rows.extend(parsed),
                        Err(error) => panic!("kyverno printed unreadable JSON ({error}):\n{text}"),
                    }
                    buffer = None;
                }
            }
        }
    }
    rows
}

fn rows_to_run(rows: Vec<Value>, stdout: String, stderr: String) -> Run {
    let mut results: BTreeMap<Key, Observations> = BTreeMap::new();
    let mut messages = BTreeMap::new();
    for row in rows {
        let text = |field: &str| row[field].as_str().unwrap_or_default().to_owned();
        let (policy, rule, resource, reason) = (
            text("POLICY"),
            text("RULE"),
            text("RESOURCE"),
            text("REASON"),
        );
        let key = (
            last_segment(&policy).to_owned(),
            expectation_rule(&rule).to_owned(),
            last_segment(&resource).to_owned(),
        );
        let observation = if reason == "Ok" {
            format!("{rule}=pass")
        } else if let Some(got) = reason.strip_prefix("Want pass, got ").map(str::to_owned) {
            format!("{rule}={got}")
        } else if reason == "Excluded" {
            "excluded".to_owned()
        } else if reason == "Invalid Policy" || (reason == "Not found" && text("RESULT") == "Fail")
        {
            // "Not found": the CLI dropped the policy file while loading it (a field that does
            // not decode, such as a foreach's preconditions written as a list), so no policy
            // of that name exists.
            // Kyverno's CLI skips a policy its policy validation refuses, and does not count
            // the skip as a failure; Portcullis refuses to load it (an error naming the file).
            // Both refusing is agreement.
            INVALID_POLICY.to_owned()
        } else {
            format!("{} {}", text("RESULT"), reason)
        };
        messages.insert((key.clone(), rule), text("Message"));
        results.entry(key).or_default().push(observation);
    }
    Run::new(results, messages, stdout, stderr)
}

/// `portcullis test <root> --output json`.
pub fn portcullis(binary: &Path, root: &Path) -> Run {
    let (stdout, stderr) = run(Command::new(binary).arg("test").arg(root).args([
        "--output",
        "json",
        "--allow-unsupported",
    ]));
    let cases: Vec<Value> = serde_json::from_str(&stdout).unwrap_or_else(|error| {
        panic!("portcullis test printed unreadable JSON ({error}):\n{stdout}\n{stderr}")
    });
    let mut results: BTreeMap<Key, Observations> = BTreeMap::new();
    let mut messages = BTreeMap::new();
    for case in cases {
        let text = |value: &Value| value.as_str().unwrap_or_default().to_owned();
        let key = (
            last_segment(&text(&case["policy"])).to_owned(),
            text(&case["rule"]),
            text(&case["resource"]),
        );
        let observed = case["observed"].as_array().cloned().unwrap_or_default();
        let entry = results.entry(key.clone()).or_default();
        match case["verdict"].as_str() {
            Some("pass" | "fail") if !observed.is_empty() => {
                for response in &observed {
                    let rule = text(&response["rule"]);
                    entry.push(format!("{rule}={}", text(&response["result"])));
                    messages.insert((key.clone(), rule), text(&response["message"]));
                }
            }
            Some("pass") => entry.push("excluded".to_owned()),
            // Every generated resource file is readable, so an error that names the policy
            // file is the policy being refused.
            Some("error") if text(&case["reason"]).contains("policy.yaml") => {
                messages.insert((key.clone(), String::new()), text(&case["reason"]));
                entry.push(INVALID_POLICY.to_owned());
            }
            Some(verdict) => entry.push(format!("{verdict} {}", text(&case["reason"]))),
            None => entry.push(format!("unreadable case {case}")),
        }
    }
    Run::new(results, messages, stdout, stderr)
}
