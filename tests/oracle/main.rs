//! Differential test: generated Kyverno test cases run through Kyverno's own CLI
//! (`kubectl-kyverno test`) and through `portcullis test`; every expectation must get the same
//! actual result from both.
//!
//! It needs the Kyverno binary, so it is ignored by a plain `cargo test`; `tests/oracle/run.sh`
//! builds the binary and runs it. Asked for without the binary, it fails rather than skips.
//!
//! Environment: `PORTCULLIS_KYVERNO` (path of kubectl-kyverno, required),
//! `PORTCULLIS_ORACLE_CASES` (default 300), `PORTCULLIS_ORACLE_SEED` (default 1),
//! `PORTCULLIS_ORACLE_FROM` (the first case's number, default 0: a case is regenerated alone by
//! its seed and number),
//! `PORTCULLIS_ORACLE_KEEP` (a folder to write the cases into and keep),
//! `PORTCULLIS_ORACLE_SHRINK` (how many disagreeing cases to minimise, default 5).

mod generate;
mod shrink;
mod tools;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Instant;
use tools::{Key, Observations};

fn setting<T: std::str::FromStr>(name: &str, default: T) -> T {
    match std::env::var(name) {
        Ok(text) => text
            .parse()
            .unwrap_or_else(|_| panic!("{name}={text:?} is not a valid value")),
        Err(_) => default,
    }
}

#[test]
#[ignore = "needs kubectl-kyverno; run tests/oracle/run.sh"]
fn portcullis_test_agrees_with_kyverno_test() {
    let kyverno = PathBuf::from(std::env::var("PORTCULLIS_KYVERNO").unwrap_or_else(|_| {
        panic!("PORTCULLIS_KYVERNO is not set: run tests/oracle/run.sh, which builds Kyverno's CLI")
    }));
    assert!(
        kyverno.is_file(),
        "PORTCULLIS_KYVERNO={} is not a file",
        kyverno.display()
    );
    let portcullis = PathBuf::from(env!("CARGO_BIN_EXE_portcullis"));
    let count: usize = setting("PORTCULLIS_ORACLE_CASES", 300);
    let seed: u64 = setting("PORTCULLIS_ORACLE_SEED", 1);
    let first: usize = setting("PORTCULLIS_ORACLE_FROM", 0);
    let shrink_limit: usize = setting("PORTCULLIS_ORACLE_SHRINK", 5);
    let scratch = tempfile::tempdir().expect("temporary folder");
    let root = match std::env::var("PORTCULLIS_ORACLE_KEEP") {
        Ok(folder) => {
            let folder = PathBuf::from(folder);
            let _ = std::fs::remove_dir_all(&folder);
            folder
        }
        Err(_) => scratch.path().join("cases"),
    };

    let cases: Vec<generate::Case> = (first..first + count)
        .map(|index| generate::case(seed, index))
        .collect();
    let mut expected_keys = Vec::new();
    for case in &cases {
        tools::write_case(&root, case).expect("write a case");
        for rule in case.rule_names() {
            for (_, resource) in case.resource_names() {
                expected_keys.push((case.name.clone(), rule.clone(), resource));
            }
        }
    }

    let started = Instant::now();
    let from_kyverno = tools::kyverno(&kyverno, &root);
    let kyverno_time = started.elapsed();
    let started = Instant::now();
    let from_portcullis = tools::portcullis(&portcullis, &root);
    let portcullis_time = started.elapsed();

    let missing = || vec!["missing".to_owned()];
    let mut disagreements: Vec<(Key, Observations, Observations)> = Vec::new();
    let mut tally: BTreeMap<String, usize> = BTreeMap::new();
    let mut not_compared = 0;
    let mut messages_compared = 0usize;
    let mut message_disagreements: Vec<((Key, String), String, String)> = Vec::new();
    for key in &expected_keys {
        // Kyverno panicked on this case, so it says nothing about it; the panic's input is one
        // Portcullis reports as an error (tests/it pins those).
        if from_kyverno.panicked.contains(&key.0) {
            not_compared += 1;
            continue;
        }
        let theirs = from_kyverno.observations(key);
        let ours = from_portcullis.observations(key);
        for observation in &theirs {
            let result = observation.rsplit('=').next().unwrap_or(observation);
            *tally.entry(result.to_owned()).or_default() += 1;
        }
        if theirs != ours {
            disagreements.push((key.clone(), theirs, ours));
            continue;
        }
        // The same responses: their messages must be the same too, where Kyverno's variables
        // in messages show.
        for observation in &theirs {
            let Some((rule, _)) = observation.rsplit_once('=') else {
                continue;
            };
            messages_compared += 1;
            let message_key = (key.clone(), rule.to_owned());
            let theirs = from_kyverno.messages.get(&message_key);
            let ours = from_portcullis.messages.get(&message_key);
            if theirs != ours && !same_failed_substitution(theirs, ours) {
                message_disagreements.push((
                    message_key,
                    theirs.cloned().unwrap_or_default(),
                    ours.cloned().unwrap_or_default(),
                ));
            }
        }
    }
    let compared = expected_keys.len() - not_compared;
    let agreeing = compared - disagreements.len();
    println!(
        "oracle: seed {seed}, {} cases, {compared} expectations, {agreeing} agree ({:.2} %); \
         kubectl-kyverno test {:.1} s, portcullis test {:.1} s",
        cases.len(),
        100.0 * agreeing as f64 / compared.max(1) as f64,
        kyverno_time.as_secs_f64(),
        portcullis_time.as_secs_f64(),
    );
    let tally: Vec<String> = tally
        .iter()
        .map(|(result, count)| format!("{result} {count}"))
        .collect();
    println!("oracle: Kyverno's results: {}", tally.join(", "));
    println!(
        "oracle: {} of {messages_compared} messages of agreeing responses agree",
        messages_compared - message_disagreements.len()
    );
    if !from_kyverno.panicked.is_empty() {
        println!(
            "oracle: kubectl-kyverno panicked on {} cases ({not_compared} expectations not \
             compared): {}",
            from_kyverno.panicked.len(),
            from_kyverno.panicked.join(" ")
        );
    }
    let mut message_report = String::new();
    for ((key, rule), theirs, ours) in message_disagreements.iter().take(10) {
        message_report.push_str(&format!(
            "{} rule {} resource {} response {rule}:\n  kyverno:    {theirs}\n  portcullis: {ours}\n",
            key.0, key.1, key.2
        ));
    }
    if disagreements.is_empty() {
        assert!(
            message_disagreements.is_empty(),
            "{} messages disagree (seed {seed}), the first ten:\n{message_report}",
            message_disagreements.len()
        );
        return;
    }
    if disagreements
        .iter()
        .all(|(_, theirs, _)| theirs == &missing())
    {
        panic!(
            "kubectl-kyverno reported no results\nstdout:\n{}\nstderr:\n{}",
            from_kyverno.stdout, from_kyverno.stderr
        );
    }

    let mut report = String::new();
    let mut shrunk_cases = Vec::new();
    for (key, theirs, ours) in &disagreements {
        report.push_str(&format!(
            "{} rule {} resource {}: kyverno {theirs:?}, portcullis {ours:?}\n",
            key.0, key.1, key.2
        ));
        if shrunk_cases.len() < shrink_limit && !shrunk_cases.contains(&key.0) {
            shrunk_cases.push(key.0.clone());
        }
    }
    for case_name in &shrunk_cases {
        let Some((key, theirs, ours)) = disagreements.iter().find(|(key, ..)| &key.0 == case_name)
        else {
            continue;
        };
        let Some(case) = cases.iter().find(|case| &case.name == case_name) else {
            continue;
        };
        let wanted = (theirs.clone(), ours.clone());
        let small = shrink::minimise(
            case,
            key,
            &wanted,
            &kyverno,
            &portcullis,
            scratch.path(),
            80,
        );
        report.push_str(&reproduction(&small, key, &wanted, &kyverno, &portcullis));
    }
    panic!(
        "{} of {} expectations disagree (seed {seed}):\n{report}",
        disagreements.len(),
        compared
    );
}

/// Kyverno substitutes a pattern's variables walking its maps in Go's random order, so when
/// several of them cannot be resolved, which one its message names varies from run to run:
/// such messages agree when both name a variable of the pattern that failed.
fn same_failed_substitution(theirs: Option<&String>, ours: Option<&String>) -> bool {
    const FAILED: &str = "variable substitution failed: failed to resolve ";
    let prefix = |message: &str| message.find(FAILED).map(|at| message[..at].to_owned());
    match (theirs, ours) {
        (Some(theirs), Some(ours)) => prefix(theirs).is_some() && prefix(theirs) == prefix(ours),
        _ => false,
    }
}

/// The minimised case's files and what each tool said about it, messages included.
fn reproduction(
    case: &generate::Case,
    key: &Key,
    wanted: &(Observations, Observations),
    kyverno: &Path,
    portcullis: &Path,
) -> String {
    // Kept after the run (unlike the generated cases), so that the command printed works.
    let root = Path::new(env!("CARGO_TARGET_TMPDIR")).join("oracle-reproductions");
    let dir = tools::write_case(&root, case).expect("write the reproduction");
    let pretty =
        |value: &serde_json::Value| serde_json::to_string_pretty(value).unwrap_or_default();
    let messages = |run: &tools::Run| -> Vec<String> {
        run.messages
            .iter()
            .filter(|((message_key, _), _)| message_key == key)
            .map(|((_, rule), message)| format!("{rule}: {message}"))
            .collect()
    };
    let from_kyverno = tools::kyverno(kyverno, &root);
    let from_portcullis = tools::portcullis(portcullis, &root);
    let resources: Vec<String> = case.resources.iter().map(pretty).collect();
    format!(
        "\n=== minimal reproduction of {} rule {} resource {} (kubectl-kyverno test {})\n\
         kyverno {:?}: {:?}\nportcullis {:?}: {:?}\n--- policy.yaml\n{}\n--- resources.yaml\n{}\n{}{}",
        key.0,
        key.1,
        key.2,
        dir.display(),
        wanted.0,
        messages(&from_kyverno),
        wanted.1,
        messages(&from_portcullis),
        pretty(&case.policy),
        resources.join("\n---\n"),
        case.values
            .as_ref()
            .map(|values| format!("--- {}\n{}\n", generate::VALUES_FILE, pretty(values)))
            .unwrap_or_default(),
        case.user_info
            .as_ref()
            .map(|user| format!("--- {}\n{}\n", generate::USER_INFO_FILE, pretty(user)))
            .unwrap_or_default(),
    )
}
