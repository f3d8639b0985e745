//! The condition tables the CLI comparison (`tests/oracle/functions.rs`) also reads: one
//! condition per row, `(key, operator, value, holds)`, evaluated as Kyverno's
//! `variables.Evaluate` evaluates a condition written in a policy under a foreach. Expected
//! values come from Kyverno's own tests (`pkg/engine/variables/evaluate_test.go` and
//! `operator/*_test.go`), re-expressed as tables; the quirk cases read the Go handlers.

use serde_json::{Value, json};

pub type Case = (Value, &'static str, Value, bool);

pub fn equals() -> Vec<Case> {
    vec![
        // TestEvaluate, Equals
        (json!("string"), "Equals", json!("string"), true),
        (json!(1), "Equals", json!(1), true),
        (json!(1.0), "Equals", json!(1.0), true),
        (json!(true), "Equals", json!(true), true),
        (json!(false), "Equals", json!(false), true),
        (json!("1024"), "Equals", json!("1Ki"), true),
        (json!("1Ki"), "Equals", json!("1024"), true),
        (json!("1Gi"), "Equals", json!("1Gi"), true),
        (json!("1Gi"), "Equals", json!("1024Mi"), true),
        (json!("1h"), "Equals", json!("1h"), true),
        (json!("1h"), "Equals", json!("60m"), true),
        (json!({"foo": "bar"}), "Equals", json!({"foo": "bar"}), true),
        (json!(["foo", "bar"]), "Equals", json!(["foo", "bar"]), true),
        (
            json!([{"foo": "bar"}]),
            "Equals",
            json!([{"foo": "bar"}]),
            true,
        ),
        (json!("string"), "Equals", json!("not string"), false),
        (json!(1), "Equals", json!(2), false),
        (json!(1.0), "Equals", json!(2.0), false),
        (json!(true), "Equals", json!(false), false),
        (json!("1Gi"), "Equals", json!("10Gi"), false),
        (json!("10Gi"), "Equals", json!("1024Mi"), false),
        (json!("1h"), "Equals", json!("5h"), false),
        (json!("1h"), "Equals", json!("30m"), false),
        (json!("string"), "Equals", json!(1), false),
        (json!(1), "Equals", json!("2"), false),
        (json!(1.0), "Equals", json!("2.0"), false),
        (json!(true), "Equals", json!("false"), false),
        (
            json!({"foo": "bar"}),
            "Equals",
            json!({"bar": "foo"}),
            false,
        ),
        (
            json!(["foo", "bar"]),
            "Equals",
            json!(["bar", "foo"]),
            false,
        ),
        (json!("1h"), "Equals", json!(3600), true),
        (json!("2h"), "Equals", json!(3600), false),
        (json!("1.5.2"), "Equals", json!("1.5.2"), true),
        (json!("1.5.2"), "Equals", json!("1.5.*"), true),
        (json!("1.5.0"), "Equals", json!("1.5.5"), false),
        // The key is never the glob.
        (json!("hello-*"), "Equals", json!("hello-world"), false),
        // A quantity key with a string value that is no quantity: unequal, no wildcard.
        (json!("80"), "Equals", json!("8*"), false),
        (json!("1Gi"), "Equals", json!("*"), false),
        (json!("abc"), "Equals", json!("*"), true),
        // A number alone is a float64, so it equals a string with a fraction.
        (json!(5), "Equals", json!("5.0"), true),
        // "0" is no duration: the quantity rule compares it with "0s", which is none.
        (json!("0"), "Equals", json!("0s"), false),
        (json!("0s"), "Equals", json!(0), true),
        (json!("+0"), "Equals", json!(0), true),
        // Seconds from a float are truncated before they become a duration.
        (json!("1s"), "Equals", json!(1.9), true),
        (json!(null), "Equals", json!(null), false),
    ]
}

pub fn not_equals() -> Vec<Case> {
    vec![
        // TestEvaluate, NotEquals
        (json!("string"), "NotEquals", json!("string"), false),
        (json!(1), "NotEquals", json!(1), false),
        (json!(1.0), "NotEquals", json!(1.0), false),
        (json!(true), "NotEquals", json!(false), true),
        (json!(false), "NotEquals", json!(false), false),
        (json!("1024"), "NotEquals", json!("1Ki"), false),
        (json!("1Ki"), "NotEquals", json!("1024"), false),
        (json!("1023"), "NotEquals", json!("1Ki"), true),
        (json!("1Ki"), "NotEquals", json!("1023"), true),
        (json!("1Gi"), "NotEquals", json!("1Gi"), false),
        (json!("10Gi"), "NotEquals", json!("1024Mi"), true),
        (json!("1h"), "NotEquals", json!("1h"), false),
        (json!("1h"), "NotEquals", json!("60m"), false),
        (
            json!({"foo": "bar"}),
            "NotEquals",
            json!({"foo": "bar"}),
            false,
        ),
        (
            json!(["foo", "bar"]),
            "NotEquals",
            json!(["foo", "bar"]),
            false,
        ),
        (
            json!([{"foo": "bar"}]),
            "NotEquals",
            json!([{"foo": "bar"}]),
            false,
        ),
        (json!("string"), "NotEquals", json!("not string"), true),
        (json!(1), "NotEquals", json!(2), true),
        (json!(true), "NotEquals", json!(true), false),
        (json!(false), "NotEquals", json!(true), true),
        (json!("1Gi"), "NotEquals", json!("10Gi"), true),
        (json!("1h"), "NotEquals", json!("5h"), true),
        (json!("string"), "NotEquals", json!(1), true),
        (json!(1), "NotEquals", json!("2"), true),
        (json!(1.0), "NotEquals", json!("2.0"), true),
        (json!(true), "NotEquals", json!("false"), true),
        (json!(false), "NotEquals", json!("true"), true),
        (
            json!({"foo": "bar"}),
            "NotEquals",
            json!({"bar": "foo"}),
            true,
        ),
        (
            json!(["foo", "bar"]),
            "NotEquals",
            json!(["bar", "foo"]),
            true,
        ),
        (json!("1h"), "NotEquals", json!(3600), false),
        (json!("2h"), "NotEquals", json!(3600), true),
        (json!("1.5.2"), "NotEquals", json!("1.5.5"), true),
        (json!("1.5.2"), "NotEquals", json!("1.5.*"), false),
        // TestNotEqualHandler_Evaluate
        (json!("100Mi"), "NotEquals", json!("not-a-quantity"), true),
        (json!("100Mi"), "NotEquals", json!(""), true),
        // A null key is unsupported: false under NotEquals as under Equals.
        (json!(null), "NotEquals", json!("x"), false),
    ]
}

/// `GreaterThan`, `LessThan`, `GreaterThanOrEquals` and `LessThanOrEquals` of each pair.
pub fn numeric() -> Vec<Case> {
    let cases: &[(Value, &str, Value, [bool; 4])] = &[
        // TestEvaluate: GreaterThan, LessThan, GreaterThanOrEquals, LessThanOrEquals
        (json!(10), "", json!(1), [true, false, true, false]),
        (json!(1.5), "", json!(1.0), [true, false, true, false]),
        (json!(1.5), "", json!(1), [true, false, true, false]),
        (json!(1), "", json!(10), [false, true, false, true]),
        (json!(1.0), "", json!(1.5), [false, true, false, true]),
        (json!(1), "", json!(1), [false, false, true, true]),
        (json!("1025"), "", json!("1Ki"), [true, false, true, false]),
        (json!("1024"), "", json!("1Ki"), [false, false, true, true]),
        (json!("1Ki"), "", json!("1023"), [true, false, true, false]),
        (json!("10Gi"), "", json!("1Gi"), [true, false, true, false]),
        (json!("1Gi"), "", json!("1Mi"), [true, false, true, false]),
        (json!("1Gi"), "", json!("1Gi"), [false, false, true, true]),
        (json!("10h"), "", json!("1h"), [true, false, true, false]),
        (json!("1h"), "", json!("30m"), [true, false, true, false]),
        (json!("1h"), "", json!("1h"), [false, false, true, true]),
        (json!("10"), "", json!(1), [true, false, true, false]),
        (json!(100), "", json!("10"), [true, false, true, false]),
        (json!("100"), "", json!("10"), [true, false, true, false]),
        (json!("10"), "", json!("10"), [false, false, true, true]),
        (json!("1"), "", json!("10"), [false, true, false, true]),
        (json!("1"), "", json!(10), [false, true, false, true]),
        (json!(1), "", json!("10"), [false, true, false, true]),
        (json!("1h"), "", json!(3600), [false, false, true, true]),
        (json!("2h"), "", json!(3600), [true, false, true, false]),
        (json!(3600), "", json!("1h"), [false, false, true, true]),
        (json!(3600), "", json!("30m"), [true, false, true, false]),
        (json!(-5), "", json!(1), [false, true, false, true]),
        (json!(-5), "", json!(-10), [true, false, true, false]),
        (
            json!("1.5.5"),
            "",
            json!("1.5.0"),
            [true, false, true, false],
        ),
        (
            json!("1.5.0"),
            "",
            json!("1.5.5"),
            [false, true, false, true],
        ),
        (
            json!("1.5.5"),
            "",
            json!("1.5.5"),
            [false, false, true, true],
        ),
        // Test_NumericOperatorHandler_Evaluate
        (json!("500m"), "", json!("0.5"), [false, false, true, true]),
        (json!(true), "", json!(5), [false; 4]),
        (json!("not-a-number"), "", json!(5), [false; 4]),
        (json!(null), "", json!(5), [false; 4]),
        // "500m" is a duration (minutes) first; "2" is not, so quantities decide.
        (json!("500m"), "", json!("2"), [false, true, false, true]),
        (json!("5m"), "", json!("10m"), [false, true, false, true]),
        // A semver key needs a semver string value.
        (json!("1.2.3"), "", json!(1), [false; 4]),
        (
            json!("1.2.3-rc.1"),
            "",
            json!("1.2.3"),
            [false, true, false, true],
        ),
        (json!("v1.2.3"), "", json!("v1.2.0"), [false; 4]),
        // Go's ParseFloat reads infinities.
        (json!(5), "", json!("+Inf"), [false, true, false, true]),
        (json!("1e400"), "", json!(5), [false; 4]),
    ];
    let names = [
        "GreaterThan",
        "LessThan",
        "GreaterThanOrEquals",
        "LessThanOrEquals",
    ];
    cases
        .iter()
        .flat_map(|(key, _, value, wants)| {
            names
                .iter()
                .zip(wants)
                .map(|(name, want)| (key.clone(), *name, value.clone(), *want))
        })
        .collect()
}

pub fn legacy_in() -> Vec<Case> {
    vec![
        // TestEvaluate, In and NotIn
        (json!(1), "In", json!([1, 2, 3]), true),
        (json!(1.5), "In", json!([1, 1.5, 2, 3]), true),
        (json!("1"), "In", json!(["1", "2", "3"]), true),
        (
            json!(["1.1.1.1", "2.2.2.2"]),
            "In",
            json!(["1.1.1.1", "2.2.2.2", "3.3.3.3"]),
            true,
        ),
        (json!(5), "In", json!([1, 2, 3]), false),
        (json!(5.5), "In", json!([1, 1.5, 2, 3]), false),
        (json!("5"), "In", json!(["1", "2", "3"]), false),
        (json!("1.1.1.1"), "In", json!(["1*"]), true),
        (
            json!(["1.1.1.1", "4.4.4.4"]),
            "In",
            json!(["1.1.1.1", "2.2.2.2", "3.3.3.3"]),
            false,
        ),
        (json!(1), "NotIn", json!([1, 2, 3]), false),
        (json!(1.5), "NotIn", json!([1, 1.5, 2, 3]), false),
        (json!("1"), "NotIn", json!(["1", "2", "3"]), false),
        (
            json!(["1.1.1.1", "2.2.2.2"]),
            "NotIn",
            json!(["1.1.1.1", "2.2.2.2", "3.3.3.3"]),
            false,
        ),
        (json!(5), "NotIn", json!([1, 2, 3]), true),
        (json!(5.5), "NotIn", json!([1, 1.5, 2, 3]), true),
        (json!("5"), "NotIn", json!(["1", "2", "3"]), true),
        (
            json!(["1.1.1.1", "4.4.4.4"]),
            "NotIn",
            json!(["1.1.1.1", "2.2.2.2", "3.3.3.3"]),
            true,
        ),
    ]
}

pub fn any_in_and_all_in() -> Vec<Case> {
    let ips = json!(["1.1.1.1", "2.2.2.2", "3.3.3.3"]);
    vec![
        // TestEvaluate, AnyIn
        (json!(["1.1.1.1", "5.5.5.5"]), "AnyIn", ips.clone(), true),
        (
            json!(["1.1.1.1", "5.5.5.5"]),
            "AnyIn",
            json!("1.1.1.1"),
            true,
        ),
        (json!(["4.4.4.4", "5.5.5.5"]), "AnyIn", ips.clone(), false),
        (
            json!(["1.1.1.1", "5.5.5.5"]),
            "AnyIn",
            json!(["1.1.1.1"]),
            true,
        ),
        (json!([1, 2]), "AnyIn", json!([1, 2, 3, 4]), true),
        (json!([1, 5]), "AnyIn", json!([1, 2, 3, 4]), true),
        (json!([5]), "AnyIn", json!([1, 2, 3, 4]), false),
        (json!(["1*"]), "AnyIn", ips.clone(), true),
        (json!(["5*"]), "AnyIn", ips.clone(), false),
        (
            json!(["1.1.1.1", "2.2.2.2", "5.5.5.5"]),
            "AnyIn",
            json!(["2*"]),
            true,
        ),
        (
            json!(["1.1.1.1", "2.2.2.2", "5.5.5.5"]),
            "AnyIn",
            json!(["4*"]),
            false,
        ),
        (json!(["5"]), "AnyIn", json!("1-3"), false),
        (json!("1.1.1.1"), "AnyIn", json!(["1*"]), true),
        (json!("5"), "AnyIn", json!("1-10"), true),
        (json!(5), "AnyIn", json!("1-10"), true),
        (json!([1, 5]), "AnyIn", json!("7-10"), false),
        (json!([1, 5]), "AnyIn", json!("0-10"), true),
        (json!([1.002, 1.222]), "AnyIn", json!("1.001-10"), true),
        // TestEvaluate, AllIn
        (json!(["1.1.1.1", "2.2.2.2"]), "AllIn", ips.clone(), true),
        (json!(["1.1.1.1", "5.5.5.5"]), "AllIn", ips.clone(), false),
        (json!(["4.4.4.4", "5.5.5.5"]), "AllIn", ips.clone(), false),
        (
            json!(["1.1.1.1", "5.5.5.5"]),
            "AllIn",
            json!(["1.1.1.1"]),
            false,
        ),
        (json!([1, 2]), "AllIn", json!([1, 2, 3, 4]), true),
        (json!([1, 5]), "AllIn", json!([1, 2, 3, 4]), false),
        (json!([5]), "AllIn", json!([1, 2, 3, 4]), false),
        (json!(["1*"]), "AllIn", ips.clone(), true),
        (json!(["5*"]), "AllIn", ips.clone(), false),
        (
            json!(["2.1.1.1", "2.2.2.2", "2.5.5.5"]),
            "AllIn",
            json!(["2*"]),
            true,
        ),
        (
            json!(["1.1.1.1", "2.2.2.2", "5.5.5.5"]),
            "AllIn",
            json!(["4*"]),
            false,
        ),
        (
            json!(["1.1.1.1", "5.5.5.5"]),
            "AllIn",
            json!("5.5.5.5"),
            false,
        ),
        (json!(5), "AllIn", json!("1-10"), true),
        (json!([3, 2]), "AllIn", json!("1-10"), true),
        (json!([3, 2]), "AllIn", json!("5-10"), false),
        // A float64 million prints as 1e+06, so it is not "1000000".
        (json!(1000000), "AnyIn", json!(["1000000"]), false),
        (json!(1000000), "AnyIn", json!(["1e+06"]), true),
        // Inside a list, a policy's integer stays an int64.
        (json!([1000000]), "AnyIn", json!(["1000000"]), true),
        // A JSON list in a string is matched exactly, a plain string as a glob.
        (json!("abc"), "AnyIn", json!(r#"["a*"]"#), false),
        (json!("abc"), "AnyIn", json!("a*"), true),
        (json!(["abc"]), "AnyIn", json!(r#"["a*"]"#), true),
        // Valid JSON that is not a list of strings: an invalid type.
        (json!("123"), "AnyIn", json!("123"), true),
        (json!("1"), "AnyIn", json!("123"), false),
        (json!("1"), "AnyNotIn", json!("123"), false),
        (json!("x"), "AnyIn", json!("not json"), false),
        (json!("not json"), "AnyIn", json!("not json"), true),
        // Scalar keys with a number value are an invalid type; lists are not, for AnyIn only.
        (json!("2"), "AnyIn", json!(2), false),
        (json!([2]), "AnyIn", json!(2), true),
        (json!([2]), "AllIn", json!(2), false),
        (json!(null), "AnyIn", json!(["a"]), false),
        (json!({"a": 1}), "AllIn", json!(["a"]), false),
        (json!([]), "AllIn", json!("5-10"), true),
        (json!([]), "AnyIn", json!(["a"]), false),
    ]
}

pub fn any_not_in_and_all_not_in() -> Vec<Case> {
    let ips = json!(["1.1.1.1", "2.2.2.2", "3.3.3.3"]);
    vec![
        // TestEvaluate, AllNotIn
        (json!(1), "AllNotIn", json!([1, 2, 3]), false),
        (json!(1.5), "AllNotIn", json!([1, 1.5, 2, 3]), false),
        (json!("1"), "AllNotIn", json!(["1", "2", "3"]), false),
        (
            json!(["1.1.1.1", "2.2.2.2"]),
            "AllNotIn",
            ips.clone(),
            false,
        ),
        (json!(5), "AllNotIn", json!([1, 2, 3]), true),
        (json!(5.5), "AllNotIn", json!([1, 1.5, 2, 3]), true),
        (json!("5"), "AllNotIn", json!(["1", "2", "3"]), true),
        (
            json!(["1.1.1.1", "4.4.4.4"]),
            "AllNotIn",
            ips.clone(),
            false,
        ),
        (json!(["5.5.5.5", "4.4.4.4"]), "AllNotIn", ips.clone(), true),
        (json!(["7*", "6*", "5*"]), "AllNotIn", ips.clone(), true),
        (json!(["1*", "2*"]), "AllNotIn", ips.clone(), false),
        (
            json!(["1.1.1.1", "3.3.3.3", "5.5.5.5"]),
            "AllNotIn",
            json!(["2*"]),
            true,
        ),
        (
            json!(["4.1.1.1", "4.2.2.2", "4.5.5.5"]),
            "AllNotIn",
            json!(["4*"]),
            false,
        ),
        (
            json!(["1.1.1.1", "4.4.4.4"]),
            "AllNotIn",
            json!("2.2.2.2"),
            true,
        ),
        (json!(5.5), "AllNotIn", json!("6-10"), true),
        (json!("5"), "AllNotIn", json!("1-6"), false),
        (json!([3, 2]), "AllNotIn", json!("5-10"), true),
        (json!([2, 6]), "AllNotIn", json!("5-10"), false),
        // TestEvaluate, AnyNotIn
        (json!(1), "AnyNotIn", json!([1, 2, 3]), false),
        (json!(1.5), "AnyNotIn", json!([1, 1.5, 2, 3]), false),
        (json!("1"), "AnyNotIn", json!(["1", "2", "3"]), false),
        (
            json!(["1.1.1.1", "2.2.2.2"]),
            "AnyNotIn",
            ips.clone(),
            false,
        ),
        (json!(5), "AnyNotIn", json!([1, 2, 3]), true),
        (json!(5.5), "AnyNotIn", json!([1, 1.5, 2, 3]), true),
        (json!("5"), "AnyNotIn", json!(["1", "2", "3"]), true),
        (json!(["1.1.1.1", "4.4.4.4"]), "AnyNotIn", ips.clone(), true),
        (
            json!(["5.5.5.5", "4.4.4.4"]),
            "AnyNotIn",
            json!("4.4.4.4"),
            true,
        ),
        (json!(["5.5.5.5", "4.4.4.4"]), "AnyNotIn", ips.clone(), true),
        (json!(["1*", "3*", "5*"]), "AnyNotIn", ips.clone(), true),
        (
            json!(["1.1.1.1", "2.2.2.2", "5.5.5.5"]),
            "AnyNotIn",
            json!(["2*"]),
            true,
        ),
        (json!(["2.2*"]), "AnyNotIn", json!(["2.2.2.2"]), false),
        (json!("5"), "AnyNotIn", json!("1-3"), true),
        (json!([1, 5, 11]), "AnyNotIn", json!("0-10"), true),
        (json!([1, 5, 7]), "AnyNotIn", json!("0-10"), false),
    ]
}

/// Every operator on the edges: the duration operators and the old names as a policy writes
/// them; Unicode, empty and missing values, big numbers and the wrong types.
pub fn edges() -> Vec<Case> {
    vec![
        // The legacy duration operators, as a policy writes them.
        (json!("2h"), "DurationGreaterThan", json!("1h"), true),
        (json!("1h"), "DurationGreaterThan", json!("1h"), false),
        (
            json!("1h"),
            "DurationGreaterThanOrEquals",
            json!("60m"),
            true,
        ),
        (json!("30m"), "DurationLessThan", json!("1h"), true),
        (
            json!("1h"),
            "DurationLessThanOrEquals",
            json!("3600s"),
            true,
        ),
        (
            json!(3600),
            "DurationGreaterThanOrEquals",
            json!("1h"),
            true,
        ),
        (json!(120.5), "DurationGreaterThan", json!(120), false),
        (json!("0"), "DurationLessThan", json!("1s"), true),
        (json!("abc"), "DurationLessThan", json!("1s"), false),
        (json!(null), "DurationLessThan", json!("1s"), false),
        (json!("1.5h"), "DurationGreaterThan", json!("89m"), true),
        (json!("-1h"), "DurationLessThan", json!("0s"), true),
        (json!("1µs"), "DurationLessThan", json!("1ms"), true),
        (json!("1us"), "DurationLessThan", json!("1ms"), true),
        (json!(true), "DurationGreaterThan", json!(false), false),
        (json!("2562047h"), "DurationGreaterThan", json!("1h"), true),
        (json!("2562048h"), "DurationGreaterThan", json!("1h"), false),
        (json!([1]), "DurationGreaterThan", json!(0), false),
        (json!("1d"), "DurationGreaterThan", json!("1h"), false),
        (json!(""), "DurationLessThanOrEquals", json!("0s"), false),
        // Equal and NotEqual, the old names.
        (json!("a"), "Equal", json!("a"), true),
        (json!("a"), "NotEqual", json!("b"), true),
        (json!(1), "Equal", json!("1"), true),
        // Unicode, empty and missing values, big numbers, the wrong types.
        (json!("é"), "Equals", json!("é"), true),
        (json!("é"), "Equals", json!("e\u{301}"), false),
        (json!("éa"), "Equals", json!("é*"), true),
        (json!("éa"), "Equals", json!("é?"), true),
        (json!(""), "Equals", json!(""), true),
        (json!(""), "Equals", json!(null), false),
        (json!([]), "Equals", json!([]), true),
        (json!({}), "Equals", json!({}), true),
        (json!(1e21), "Equals", json!("1e+21"), true),
        (json!(1e21), "Equals", json!(1e21), true),
        (
            json!("9007199254740993"),
            "Equals",
            json!(9007199254740992_i64),
            false,
        ),
        (json!(0.1), "Equals", json!("0.1"), true),
        (json!("1Ki"), "Equals", json!(1024), false),
        (json!("1e3"), "Equals", json!(1000), false),
        (json!("0x10"), "Equals", json!(16), false),
        (json!("ABC"), "Equals", json!("abc"), false),
        (json!("a"), "Equals", json!(["a"]), false),
        (json!(["a"]), "Equals", json!("a"), false),
        (json!(true), "Equals", json!("true"), false),
        (json!("true"), "Equals", json!(true), false),
        (json!("é"), "NotEquals", json!("e"), true),
        (json!(""), "NotEquals", json!(null), true),
        (json!([]), "NotEquals", json!({}), true),
        (json!("1e3"), "GreaterThan", json!(999), true),
        (json!("1Ki"), "GreaterThan", json!("1000"), true),
        (json!("1.5"), "LessThan", json!("2"), true),
        (json!("-0"), "GreaterThanOrEquals", json!(0), true),
        (json!(1e300), "GreaterThan", json!(1e299), true),
        (
            json!("9223372036854775808"),
            "GreaterThan",
            json!("9223372036854775807"),
            true,
        ),
        (json!("1.2.3"), "LessThan", json!("1.10.0"), true),
        (json!("v1"), "LessThan", json!("v2"), false),
        (json!(""), "GreaterThan", json!(0), false),
        (json!("abc"), "LessThan", json!("abd"), false),
        (json!("é"), "LessThan", json!("z"), false),
        (json!([1]), "GreaterThan", json!(0), false),
        (json!("1h"), "GreaterThan", json!("59m"), true),
        (json!("1h"), "LessThan", json!(7200), true),
        (json!("NaN"), "GreaterThan", json!(0), false),
        (json!("Infinity"), "GreaterThan", json!(0), true),
        (json!("1_000"), "GreaterThan", json!(999), true),
        (json!("1m"), "LessThan", json!("1"), true),
        (json!("é"), "In", json!(["é"]), true),
        (json!(""), "In", json!([""]), true),
        (json!(""), "In", json!([]), false),
        (json!("a"), "In", json!("a*"), true),
        (json!(1e21), "In", json!(["1e+21"]), true),
        (json!("A"), "In", json!(["a"]), false),
        (json!(["a", "b"]), "In", json!(["b", "a"]), true),
        (json!([]), "NotIn", json!([]), false),
        (json!("x"), "NotIn", json!([]), true),
        (json!("x"), "NotIn", json!("x"), false),
        (json!("éa"), "AnyIn", json!(["é*"]), true),
        (json!([]), "AllIn", json!([]), true),
        (json!([""]), "AnyIn", json!([""]), true),
        (json!("1-10"), "AnyIn", json!("1-10"), true),
        (json!(5.5), "AnyIn", json!("5-6"), true),
        (json!("10"), "AllIn", json!("1-9"), false),
        (json!("a"), "AllIn", json!([]), false),
        (json!(["a"]), "AllIn", json!(["A"]), false),
        (json!("1e3"), "AnyIn", json!("999-1001"), true),
        (json!(-1), "AnyIn", json!("-5-0"), true),
        (json!([]), "AllNotIn", json!(["a"]), true),
        (json!([""]), "AnyNotIn", json!(["a"]), true),
        (json!("é"), "AllNotIn", json!(["e"]), true),
        (json!(["a", "b"]), "AnyNotIn", json!("a*"), true),
        (json!(5), "AllNotIn", json!("6-10"), true),
        (json!(5), "AnyNotIn", json!("1-4"), true),
        (json!(""), "AllNotIn", json!(""), false),
    ]
}

/// Every table, by name.
#[allow(
    dead_code,
    reason = "read by tests/oracle/functions.rs, which includes this file; the unit tests name each table"
)]
pub fn all() -> Vec<(&'static str, Vec<Case>)> {
    vec![
        ("Equals", equals()),
        ("NotEquals", not_equals()),
        ("numeric", numeric()),
        ("In and NotIn", legacy_in()),
        ("AnyIn and AllIn", any_in_and_all_in()),
        ("AnyNotIn and AllNotIn", any_not_in_and_all_not_in()),
        ("edges", edges()),
    ]
}
