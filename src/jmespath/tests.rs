//! Tests of the dialect: tables of expressions whose expected results come from Kyverno's own
//! `jmespath` package (kyverno/kyverno at the pinned snapshot, with kyverno/go-jmespath), and
//! tests of what the tables cannot show (injected clock, seed and resolver, positions, golden
//! `x509_decode` output).
//!
//! A table case's expectation is `= <JSON>` for a result, `! <message>` for an evaluation error
//! and `? <message>` for a compile error.

mod tables;

use tables::Row;

use super::*;
use crate::coerce::gofmt::json_marshal;
use serde_json::Value;
use std::net::IpAddr;

/// Resolves `*.internal.test` to a private address and everything else to a public one, so that
/// `is_external_url` is tested without the network.
#[derive(Debug)]
struct FakeResolver;

impl Resolver for FakeResolver {
    fn lookup(&self, host: &str) -> Result<Vec<IpAddr>, String> {
        match host {
            "localhost" => Ok(vec![IpAddr::from([127, 0, 0, 1])]),
            h if h.ends_with(".internal.test") => Ok(vec![IpAddr::from([10, 0, 0, 7])]),
            _ => Ok(vec![IpAddr::from([93, 184, 216, 34])]),
        }
    }
}

fn now() -> OffsetDateTime {
    // 2026-01-02T03:04:05Z
    OffsetDateTime::from_unix_timestamp(1_767_323_045).unwrap_or(OffsetDateTime::UNIX_EPOCH)
}

fn environment() -> Environment {
    Environment::default()
        .with_now(now())
        .with_seed(42)
        .with_resolver(Arc::new(FakeResolver))
}

fn run(expression: &str, data: &Value, environment: &Environment) -> String {
    match Compiled::new(expression) {
        Err(error) => format!("? {}", error.message),
        Ok(compiled) => match compiled.search(data, environment) {
            Ok(value) => format!("= {}", json_marshal(&value)),
            Err(error) => format!("! {error}"),
        },
    }
}

fn check(cases: &[(&str, &str, &str)]) {
    let cases: Vec<(&str, Value, &str)> = cases
        .iter()
        .map(|(expression, data, expected)| {
            let data: Value = if data.is_empty() {
                Value::String(String::new())
            } else {
                serde_json::from_str(data).unwrap_or_else(|e| panic!("{data}: {e}"))
            };
            (*expression, data, *expected)
        })
        .collect();
    check_all(&cases);
}

/// Cases that all read the same input.
fn check_on(data: &Value, cases: &[(&str, &str)]) {
    let cases: Vec<(&str, Value, &str)> = cases
        .iter()
        .map(|(expression, expected)| (*expression, data.clone(), *expected))
        .collect();
    check_all(&cases);
}

fn check_all(cases: &[(&str, Value, &str)]) {
    let environment = environment();
    let mut failures = Vec::new();
    for (expression, data, expected) in cases {
        let expected = match expected.strip_prefix("= ") {
            Some(json) => {
                let value: Value =
                    serde_json::from_str(json).unwrap_or_else(|e| panic!("{json}: {e}"));
                format!("= {}", json_marshal(&value))
            }
            None => (*expected).to_owned(),
        };
        let got = run(expression, data, &environment);
        if got != expected {
            failures.push(format!("{expression}\n    want {expected}\n    got  {got}"));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases differ:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}

#[test]
fn node_semantics() {
    check(tables::NODE_SEMANTICS);
}

#[test]
fn syntax() {
    check(tables::SYNTAX);
}

#[test]
fn standard_functions() {
    check(tables::STANDARD_FUNCTIONS);
}

#[test]
fn standard_edges() {
    check(tables::STANDARD_EDGES);
}

#[test]
fn kyverno_functions() {
    check(tables::KYVERNO_FUNCTIONS);
}

#[test]
fn kyverno_edges() {
    check(tables::KYVERNO_EDGES);
}

#[test]
fn quantities() {
    check(tables::QUANTITIES);
}

#[test]
fn injected() {
    check(tables::INJECTED);
}

#[test]
fn kyverno_unit_tests() {
    check(tables::KYVERNO_UNIT_TESTS);
}

/// Every row the CLI comparison treats apart is a row of the tables.
#[test]
fn kyverno_differs_names_rows() {
    let expressions: Vec<&str> = tables::TABLES
        .iter()
        .flat_map(|(_, rows)| rows.iter().map(|row| row.0))
        .chain(tables::ON_POD_REVIEW.iter().map(|row| row.0))
        .collect();
    for (expression, _) in tables::KYVERNO_DIFFERS {
        assert!(expressions.contains(expression), "{expression}");
    }
}

#[test]
fn policy_expressions_on_a_pod() {
    let review: Value =
        serde_json::from_str(tables::POD_REVIEW).unwrap_or_else(|e| panic!("fixture: {e}"));
    let context = serde_json::json!({"request": review["request"].clone()});
    check_on(&context, tables::ON_POD_REVIEW);
}

/// `x509_decode` on certificates and a request, against what Kyverno returns for the same PEM.
#[test]
fn x509_decode_matches_go() {
    let fixtures = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/x509/");
    let environment = environment();
    for name in ["rsa-certificate", "rsa-request", "kyverno-test-certificate"] {
        let pem = std::fs::read_to_string(format!("{fixtures}{name}.pem"))
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        let golden = std::fs::read_to_string(format!("{fixtures}{name}.json"))
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        let want: Value = serde_json::from_str(&golden).unwrap_or_else(|e| panic!("{name}: {e}"));
        let got = Compiled::new("x509_decode(@)")
            .map(|c| c.search(&Value::String(pem.clone()), &environment))
            .unwrap_or_else(|e| panic!("{name}: {e}"))
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        let (got, want) = (got.as_object(), want.as_object());
        let (Some(got), Some(want)) = (got, want) else {
            panic!("{name}: not objects");
        };
        for (key, expected) in want {
            let actual = got.get(key).map(json_marshal);
            assert_eq!(actual, Some(json_marshal(expected)), "{name}: {key}");
        }
        assert_eq!(got.len(), want.len(), "{name}: fields");
        let via_base64 = format!(
            "x509_decode(base64_decode('{}'))",
            base64::Engine::encode(&base64::engine::general_purpose::STANDARD, &pem)
        );
        let decoded = search(&via_base64, &Value::Null, &environment);
        assert_eq!(
            decoded.ok().map(|v| json_marshal(&v)),
            Some(json_marshal(&Value::Object(got.clone()))),
            "{name}"
        );
    }
    let ec = std::fs::read_to_string(format!("{fixtures}ec-certificate.pem")).unwrap_or_default();
    let refused = search("x509_decode(@)", &Value::String(ec), &environment);
    assert_eq!(
        refused.err().map(|e| e.to_string()),
        Some("certificate should use rsa algorithm".to_owned())
    );
    let wrong_block = "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n";
    let refused = search(
        "x509_decode(@)",
        &Value::String(wrong_block.to_owned()),
        &environment,
    );
    assert_eq!(
        refused.err().map(|e| e.to_string()),
        Some("PEM block neither contains a CERTIFICATE or CERTIFICATE REQUEST".to_owned())
    );
}

/// A missing key is an error that callers can tell apart, and says where `|| ''` would help.
#[test]
fn not_found_is_distinguishable() {
    let data = serde_json::json!({"request": {"object": {"metadata": {}}}});
    let error = search("request.object.metadata.labels.app", &data, &environment()).err();
    match error {
        Some(Error::Eval(error)) => {
            assert!(error.is_not_found());
            assert_eq!(error.to_string(), r#"Unknown key "labels" in path"#);
        }
        other => panic!("{other:?}"),
    }
    let fallback = search(
        "request.object.metadata.labels.app || ''",
        &data,
        &environment(),
    );
    assert_eq!(fallback.ok(), Some(Value::String(String::new())));
    let other = search("length(`1`)", &Value::Null, &environment()).err();
    assert!(matches!(other, Some(Error::Eval(e)) if !e.is_not_found()));
}

/// Compile errors carry the byte offset of the problem and can point at it.
#[test]
fn compile_errors_have_positions() {
    let cases: &[(&str, usize)] = &[
        ("foo.", 4),
        ("a.b.nofn(@)", 4),
        ("foo[?a == `1`", 13),
        ("x | é", 4),
        ("`{bad}`", 0),
        ("length(@) + 1", 10),
    ];
    for (expression, offset) in cases {
        let error = Compiled::new(expression).expect_err(expression);
        assert_eq!(error.offset, *offset, "{expression}: {}", error.message);
    }
    let error = Compiled::new("a.b.nofn(@)").expect_err("unknown function");
    assert_eq!(error.highlight(), "a.b.nofn(@)\n    ^");
    assert_eq!(
        error.to_string(),
        r#"SyntaxError: unknown function: nofn (at offset 4 of "a.b.nofn(@)")"#
    );
    let nested = format!("{}a{}", "(".repeat(300), ")".repeat(300));
    assert!(Compiled::new(&nested).is_err(), "nesting is bounded");
}

/// Every function Kyverno registers is known, and nothing else.
#[test]
fn function_table() {
    let kyverno = [
        "compare",
        "equal_fold",
        "replace",
        "replace_all",
        "to_upper",
        "to_lower",
        "trim",
        "trim_prefix",
        "split",
        "regex_replace_all",
        "regex_replace_all_literal",
        "regex_match",
        "pattern_match",
        "label_match",
        "to_boolean",
        "add",
        "sum",
        "subtract",
        "multiply",
        "divide",
        "modulo",
        "round",
        "base64_decode",
        "base64_encode",
        "time_since",
        "time_now",
        "time_now_utc",
        "path_canonicalize",
        "truncate",
        "semver_compare",
        "parse_json",
        "parse_yaml",
        "lookup",
        "items",
        "object_from_lists",
        "random",
        "x509_decode",
        "time_to_cron",
        "time_add",
        "time_parse",
        "time_utc",
        "time_diff",
        "time_before",
        "time_after",
        "time_between",
        "time_truncate",
        "image_normalize",
        "is_external_url",
        "sha256",
        "sha1",
        "md5",
    ];
    let standard = [
        "length",
        "starts_with",
        "abs",
        "avg",
        "ceil",
        "contains",
        "ends_with",
        "floor",
        "map",
        "max",
        "merge",
        "max_by",
        "sum",
        "min",
        "min_by",
        "type",
        "keys",
        "values",
        "sort",
        "sort_by",
        "join",
        "reverse",
        "to_array",
        "to_string",
        "to_number",
        "not_null",
    ];
    assert_eq!(kyverno.len(), 51);
    assert_eq!(standard.len(), 26);
    let mut names: Vec<&str> = functions::names().collect();
    names.sort_unstable();
    let mut expected: Vec<&str> = kyverno.iter().chain(&standard).copied().collect();
    expected.sort_unstable();
    expected.dedup();
    assert_eq!(names, expected);
}

/// Every function has rows, on a missing key among them; those put to Kyverno's CLI are all but
/// the injected ones.
#[test]
fn every_function_has_rows() {
    let rows: Vec<&Row> = tables::TABLES
        .iter()
        .flat_map(|(_, rows)| rows.iter())
        .chain(tables::INJECTED)
        .collect();
    let mut short = Vec::new();
    for name in functions::names() {
        let calls = |row: &&&Row| {
            row.0.match_indices(&format!("{name}(")).any(|(at, _)| {
                !row.0[..at].ends_with(|c: char| c.is_ascii_alphanumeric() || c == '_')
            })
        };
        let count = rows.iter().filter(calls).count();
        let on_missing_key = rows.iter().filter(calls).any(|row| row.1 == "{}");
        if count < 4 || !on_missing_key {
            short.push(format!(
                "{name}: {count} rows, on a missing key: {on_missing_key}"
            ));
        }
    }
    assert!(short.is_empty(), "{}", short.join("\n"));
}

/// `time_now`, `time_now_utc` and an open `time_since` read the environment's clock.
#[test]
fn clock_is_injectable() {
    let offset = time::UtcOffset::from_hms(2, 0, 0).unwrap_or(time::UtcOffset::UTC);
    let environment = environment().with_now(now().to_offset(offset));
    let cases: &[(&str, &str)] = &[
        ("time_now()", "2026-01-02T05:04:05+02:00"),
        ("time_now_utc()", "2026-01-02T03:04:05Z"),
        ("time_since('', '2026-01-01T03:04:05Z', '')", "24h0m0s"),
        ("time_after(time_now_utc(), '2026-01-01T00:00:00Z')", "true"),
        ("time_add(time_now_utc(), '-1h')", "2026-01-02T02:04:05Z"),
    ];
    for (expression, want) in cases {
        let got = search(expression, &Value::Null, &environment).map(|v| match v {
            Value::String(s) => s,
            other => other.to_string(),
        });
        assert_eq!(got.as_deref(), Ok(*want), "{expression}");
    }
    // Without an injected time the clock is read: the result is a current RFC 3339 time.
    let live = search("time_now_utc()", &Value::Null, &Environment::default());
    let live = live
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default();
    let year = OffsetDateTime::now_utc().year().to_string();
    assert!(live.starts_with(&year) && live.ends_with('Z'), "{live}");
}

/// `random` draws from the seed: the same seed gives the same strings, each matching its pattern.
#[test]
fn random_is_seeded() {
    let patterns = [
        "[a-z0-9]{8}",
        "[0-9]{3}-[A-Z]{2}",
        "(foo|bar)+x?",
        r"\d\w\s",
    ];
    // A multi-select of `null` is `null`, so the input is an (empty) object.
    let input = serde_json::json!({});
    for pattern in patterns {
        let expression = format!("[random('{pattern}'), random('{pattern}')]");
        let first = search(&expression, &input, &environment()).unwrap_or_default();
        let second = search(&expression, &input, &environment()).unwrap_or_default();
        assert!(first.is_array(), "{pattern}: {first}");
        assert_eq!(
            first, second,
            "{pattern}: the same seed draws the same strings"
        );
        let anchored =
            regex::Regex::new(&format!("^(?:{pattern})$")).unwrap_or_else(|e| panic!("{e}"));
        for drawn in first.as_array().into_iter().flatten() {
            let drawn = drawn.as_str().unwrap_or_default();
            assert!(anchored.is_match(drawn), "{pattern} drew {drawn:?}");
        }
        let other = search(&expression, &input, &environment().with_seed(7)).unwrap_or_default();
        assert_ne!(first, other, "{pattern}: another seed draws other strings");
    }
}

/// `is_external_url` asks the environment's resolver about names, and fails when it cannot.
#[test]
fn name_resolution_is_injectable() {
    let cases: &[(&str, &str)] = &[
        ("is_external_url('https://example.com/x')", "= true"),
        (
            "is_external_url('https://db.internal.test:5432')",
            "= false",
        ),
        ("is_external_url('http://localhost:8080')", "= false"),
        (
            "is_external_url('relative/path')",
            "! lookup : no such host",
        ),
    ];
    check(&cases.iter().map(|(e, w)| (*e, "", *w)).collect::<Vec<_>>());

    #[derive(Debug)]
    struct Offline;
    impl Resolver for Offline {
        fn lookup(&self, host: &str) -> Result<Vec<IpAddr>, String> {
            Err(format!(
                "cannot resolve {host}: name resolution is disabled"
            ))
        }
    }
    let offline = environment().with_resolver(Arc::new(Offline));
    let refused = search(
        "is_external_url('https://example.com')",
        &Value::Null,
        &offline,
    );
    assert_eq!(
        refused.err().map(|e| e.to_string()),
        Some("cannot resolve example.com: name resolution is disabled".to_owned())
    );
    let literal = search("is_external_url('https://8.8.8.8')", &Value::Null, &offline);
    assert_eq!(
        literal.ok(),
        Some(Value::Bool(true)),
        "addresses need no resolver"
    );
}

/// Go refuses repetitions whose counts multiply past 1000; a pattern within that limit that
/// would still build too long a string is refused instead.
#[test]
fn random_is_bounded() {
    let refused = |pattern: &str| {
        search(
            &format!("random('{pattern}')"),
            &Value::Null,
            &environment(),
        )
        .err()
        .map(|e| e.to_string())
    };
    for (pattern, count) in [
        ("(a{1000}){2000}", "{2000}"),
        ("((?:a?){1000}){10}", "{10}"),
        ("(?:(?:a|){100}){100}", "{100}"),
    ] {
        assert_eq!(
            refused(pattern),
            Some(format!(
                "error parsing regexp: invalid repeat count: `{count}`"
            )),
            "{pattern}"
        );
    }
    let long = "(?:a{1000})".repeat(1100);
    assert_eq!(
        refused(&long),
        Some("JMESPath function 'random': the pattern generates too long a string".to_owned())
    );
}

/// A compiled policy is shared by every worker thread.
#[test]
fn compiled_is_shareable() {
    fn shareable<T: Send + Sync + Clone>() {}
    shareable::<Compiled>();
    shareable::<Environment>();
}

/// A compiled expression is evaluated many times against different inputs.
#[test]
fn compiled_once_evaluated_often() {
    let compiled = Compiled::new("spec.containers[?image == 'nginx'].name | length(@)")
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        compiled.expression(),
        "spec.containers[?image == 'nginx'].name | length(@)"
    );
    for count in 0..3usize {
        let containers: Vec<Value> = (0..count)
            .map(|i| serde_json::json!({"name": format!("c{i}"), "image": "nginx"}))
            .collect();
        let data = serde_json::json!({"spec": {"containers": containers}});
        let got = compiled.search(&data, &environment());
        assert_eq!(got.ok(), Some(Value::from(count)));
    }
}
