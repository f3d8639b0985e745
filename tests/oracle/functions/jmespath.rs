//! The JMESPath rows through `kubectl-kyverno jp query -c -i <input> -- <queries>...`.
//!
//! The CLI evaluates its queries in order and stops at the first that fails, so the rows that
//! read one input go to one process, and after a failure the rest go to the next: a few dozen
//! processes for the whole table instead of one per row.

use crate::jmespath_tables as tables;
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::Command;

/// Queries per process at most.
const CHUNK: usize = 40;

/// One row to put to Kyverno.
struct Case {
    table: &'static str,
    expression: &'static str,
    /// The input file's text: the row's JSON, or `""` for the empty string.
    input: String,
    /// What Kyverno must answer, in the tables' notation.
    expected: &'static str,
}

/// What the CLI answered for one query, in the tables' notation.
type Answer = String;

pub fn check(kyverno: &Path) {
    let differs: BTreeMap<&str, &str> = tables::KYVERNO_DIFFERS.iter().copied().collect();
    let mut used = BTreeSet::new();
    let mut cases = Vec::new();
    let mut excluded: Vec<(&str, &str)> = Vec::new();
    let mut push = |table: &'static str, expression: &'static str, input: String, expected| {
        let expected = match differs.get(expression) {
            Some(kyverno) => {
                used.insert(expression);
                *kyverno
            }
            None => expected,
        };
        match expected.strip_prefix("~ ") {
            Some(reason) => excluded.push((expression, reason)),
            None => cases.push(Case {
                table,
                expression,
                input,
                expected,
            }),
        }
    };
    for (table, rows) in tables::TABLES {
        for &(expression, input, expected) in *rows {
            let input = if input.is_empty() { "\"\"" } else { input };
            push(table, expression, input.to_owned(), expected);
        }
    }
    let review: Value = serde_json::from_str(tables::POD_REVIEW).expect("the Pod review fixture");
    let on_pod = serde_json::json!({"request": review["request"]}).to_string();
    for &(expression, expected) in tables::ON_POD_REVIEW {
        push("on the Pod review", expression, on_pod.clone(), expected);
    }
    for &(expression, _, _) in tables::INJECTED {
        excluded.push((
            expression,
            "reads the clock, the random source or the name resolver, which the unit tests inject",
        ));
    }
    let stale: Vec<&&str> = differs.keys().filter(|e| !used.contains(*e)).collect();
    assert!(stale.is_empty(), "KYVERNO_DIFFERS names no row: {stale:?}");

    let answers = ask(kyverno, &cases);
    let mut disagreements = Vec::new();
    for (case, answer) in cases.iter().zip(&answers) {
        if !same(case.expected, answer) {
            disagreements.push(format!(
                "[{}] {}\n    input   {}\n    table   {}\n    kyverno {}",
                case.table, case.expression, case.input, case.expected, answer
            ));
        }
    }
    println!(
        "jp query: {} rows checked against kubectl-kyverno, {} disagree; {} left out:",
        cases.len(),
        disagreements.len(),
        excluded.len()
    );
    for (expression, reason) in &excluded {
        println!("    {expression}: {reason}");
    }
    assert!(
        disagreements.is_empty(),
        "{} of {} rows disagree with kubectl-kyverno jp query:\n{}",
        disagreements.len(),
        cases.len(),
        disagreements.join("\n")
    );
}

/// Answers in the order of `cases`, computed a few processes at a time.
fn ask(kyverno: &Path, cases: &[Case]) -> Vec<Answer> {
    let scratch = tempfile::tempdir().expect("a temporary folder");
    // `sort_by` sorts its argument where it lies, in the input, and the CLI keeps one input for
    // all its queries: a query that sorts gets a process of its own.
    let mut by_input: BTreeMap<(&str, Option<usize>), Vec<usize>> = BTreeMap::new();
    for (index, case) in cases.iter().enumerate() {
        let alone = case.expression.contains("sort_by").then_some(index);
        by_input
            .entry((&case.input, alone))
            .or_default()
            .push(index);
    }
    // In chunks, so that the many rows on the empty input spread over the workers.
    let groups: Vec<(usize, (&str, Vec<usize>))> = by_input
        .into_iter()
        .flat_map(|((input, _), indices)| {
            indices
                .chunks(CHUNK)
                .map(|chunk| (input, chunk.to_vec()))
                .collect::<Vec<_>>()
        })
        .enumerate()
        .collect();
    let workers = std::thread::available_parallelism().map_or(2, |n| n.get().min(4));
    let mut answers: Vec<Option<Answer>> = vec![None; cases.len()];
    std::thread::scope(|scope| {
        let handles: Vec<_> = (0..workers)
            .map(|worker| {
                let groups = &groups;
                let scratch = scratch.path();
                scope.spawn(move || {
                    let mut found = Vec::new();
                    for (number, (input, indices)) in groups.iter().skip(worker).step_by(workers) {
                        let file = scratch.join(format!("input-{number}.json"));
                        std::fs::write(&file, input).expect("write an input");
                        let queries: Vec<&str> =
                            indices.iter().map(|&i| cases[i].expression).collect();
                        let got = query_all(kyverno, &file, &queries);
                        found.extend(indices.iter().copied().zip(got));
                    }
                    found
                })
            })
            .collect();
        for handle in handles {
            for (index, answer) in handle.join().expect("a worker") {
                answers[index] = Some(answer);
            }
        }
    });
    answers
        .into_iter()
        .map(|answer| answer.expect("an answer per case"))
        .collect()
}

/// Every query's answer on one input file: one process for the queries up to the first that
/// fails, then the next for the rest.
fn query_all(kyverno: &Path, input: &Path, queries: &[&str]) -> Vec<Answer> {
    let mut answers = Vec::with_capacity(queries.len());
    while answers.len() < queries.len() {
        let rest = &queries[answers.len()..];
        // An input that reads as null is no input to the CLI, which then reads standard input:
        // the same file.
        let stdin = std::fs::File::open(input).expect("the input file");
        let output = Command::new(kyverno)
            .args(["jp", "query", "-c", "-i"])
            .arg(input)
            .arg("--")
            .args(rest)
            .stdin(stdin)
            .output()
            .unwrap_or_else(|error| panic!("cannot run {}: {error}", kyverno.display()));
        let stdout = String::from_utf8_lossy(&output.stdout);
        let stderr = String::from_utf8_lossy(&output.stderr);
        let mut text: &str = &stdout;
        if let Some(after) =
            text.strip_prefix("Reading from terminal input.\nEnter input object and hit Ctrl+D.\n")
        {
            text = after;
        }
        for query in rest {
            let Some(after) = text.strip_prefix(&format!("# {query}\n")) else {
                break;
            };
            let Some((result, after)) = after.split_once('\n') else {
                break;
            };
            answers.push(format!("= {result}"));
            text = after;
        }
        if answers.len() == queries.len() {
            assert!(output.status.success(), "kubectl-kyverno failed: {stderr}");
            break;
        }
        assert!(
            !output.status.success(),
            "kubectl-kyverno left queries unanswered and succeeded:\n{stdout}\n{stderr}"
        );
        let failed = queries[answers.len()];
        answers.push(error_answer(failed, &stderr));
    }
    answers
}

/// The tables' notation for the CLI's error: `? ` for a compile error, `! ` for the rest. A
/// panic in a function ends the CLI; the tables write its message as the error, which is what
/// the engine, which recovers, reports.
fn error_answer(query: &str, stderr: &str) -> Answer {
    if let Some(at) = stderr.find("panic: ") {
        let panic = &stderr[at + "panic: ".len()..];
        return format!("! {}", panic.lines().next().unwrap_or_default());
    }
    let at = if stderr.starts_with("Error: ") {
        Some(0)
    } else {
        stderr.find("\nError: ").map(|at| at + 1)
    };
    let message = match at {
        Some(at) => stderr[at + "Error: ".len()..].trim_end(),
        None => panic!("kubectl-kyverno failed on {query} without an error: {stderr}"),
    };
    let compile = format!("failed to compile JMESPath: {query}, error: ");
    if let Some(error) = message.strip_prefix(&compile) {
        return format!("? {}", error.strip_prefix("SyntaxError: ").unwrap_or(error));
    }
    for prefix in [
        "error evaluating JMESPath expression: ",
        "error marshalling result to JSON: ",
    ] {
        if let Some(error) = message.strip_prefix(prefix) {
            return format!("! {error}");
        }
    }
    format!("! {message}")
}

/// Whether the CLI's answer is the expectation: results compare as JSON values (numbers as
/// float64, as Go holds them), errors as text.
fn same(expected: &str, answer: &str) -> bool {
    match (expected.strip_prefix("= "), answer.strip_prefix("= ")) {
        (Some(want), Some(got)) => match (
            serde_json::from_str::<Value>(want),
            serde_json::from_str::<Value>(got),
        ) {
            (Ok(want), Ok(got)) => same_value(&want, &got),
            _ => false,
        },
        _ => expected == answer,
    }
}

fn same_value(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(a), Value::Number(b)) => a.as_f64() == b.as_f64(),
        (Value::Array(a), Value::Array(b)) => {
            a.len() == b.len() && a.iter().zip(b).all(|(a, b)| same_value(a, b))
        }
        (Value::Object(a), Value::Object(b)) => {
            a.len() == b.len()
                && a.iter()
                    .all(|(key, a)| b.get(key).is_some_and(|b| same_value(a, b)))
        }
        _ => a == b,
    }
}

/// The `x509_decode` fixtures, whose decoded JSON the unit tests hold this implementation to,
/// decoded by Kyverno's CLI: the same JSON, and the same refusal of an EC certificate.
pub fn check_x509_fixtures(kyverno: &Path) {
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/x509");
    let scratch = tempfile::tempdir().expect("a temporary folder");
    let decode = |name: &str| {
        let pem = std::fs::read_to_string(fixtures.join(format!("{name}.pem")))
            .unwrap_or_else(|error| panic!("{name}.pem: {error}"));
        let input = scratch.path().join(format!("{name}.json"));
        std::fs::write(&input, Value::String(pem).to_string()).expect("write an input");
        query_all(kyverno, &input, &["x509_decode(@)"]).remove(0)
    };
    for name in ["rsa-certificate", "rsa-request", "kyverno-test-certificate"] {
        let golden = std::fs::read_to_string(fixtures.join(format!("{name}.json")))
            .unwrap_or_else(|error| panic!("{name}.json: {error}"));
        let answer = decode(name);
        assert!(
            same(&format!("= {golden}"), &answer),
            "{name}: kyverno {answer}"
        );
    }
    assert_eq!(
        decode("ec-certificate"),
        "! certificate should use rsa algorithm"
    );
    println!("x509_decode: 4 fixtures decoded as kubectl-kyverno decodes them");
}
