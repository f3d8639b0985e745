//! Expected values come from Kyverno's own tests (`pkg/engine/variables/evaluate_test.go` and
//! `operator/*_test.go`), re-expressed as tables; the quirk cases read the Go handlers. The
//! tables of conditions as a policy writes them are in `tests/tables.rs`, which the CLI
//! comparison also reads; the handler rows here call an operator directly, with Go's int keys,
//! which no policy can write.

mod tables;

use super::*;
use crate::expr::template::substitute_all;
use crate::expr::testing::{Context, fixture, go_decoded};
use serde_json::json;

/// One operator applied directly, as Kyverno's handler tests call `handler.Evaluate`.
fn handler(operator: &str, key: Value, value: Value) -> bool {
    let Some(Spelling::Exact(operator)) = Operator::recognise(operator) else {
        panic!("unknown operator {operator}");
    };
    operator
        .evaluate(&key, &value)
        .unwrap_or_else(|error| panic!("{error}"))
}

/// One condition evaluated as Kyverno's `variables.Evaluate` does, without variables (written
/// under a foreach, where a null key or value passes policy validation).
fn condition(key: Value, operator: &str, value: Value) -> bool {
    let block = json!([{"key": key, "operator": operator, "value": value}]);
    let conditions = Conditions::compile(&block, Site::ForeachDeny)
        .unwrap_or_else(|errors| panic!("{block}: {errors:?}"));
    conditions
        .evaluate(|value| Ok::<_, String>(value.clone()))
        .unwrap_or_else(|error| panic!("{block}: {error}"))
        .holds
}

type Case = (Value, &'static str, Value, bool);

fn run(cases: &[Case], check: fn(Value, &str, Value) -> bool) {
    for (key, operator, value, want) in cases {
        assert_eq!(
            check(key.clone(), operator, value.clone()),
            *want,
            "{key} {operator} {value}"
        );
    }
}

fn run_handler(cases: &[Case]) {
    run(cases, |key, operator, value| handler(operator, key, value));
}

fn run_conditions(cases: &[Case]) {
    run(cases, condition);
}

#[test]
fn equals() {
    run_conditions(&tables::equals());
}

#[test]
fn equals_handler() {
    // TestEqualHandler_Evaluate, with Go's int and float keys as written.
    run_handler(&[
        (json!(true), "Equals", json!("true"), false),
        (json!(42), "Equals", json!(42), true),
        (json!(42), "Equals", json!(43), false),
        (json!(42), "Equals", json!(42.0), true),
        (json!(42), "Equals", json!(42.5), false),
        (json!(42), "Equals", json!("42"), true),
        (json!(42), "Equals", json!("invalid"), false),
        (json!(3.25), "Equals", json!(3.25), true),
        (json!(3.25), "Equals", json!(2.5), false),
        (json!(42.0), "Equals", json!(42), true),
        (json!(3.25), "Equals", json!("3.25"), true),
        (json!(3.25), "Equals", json!("invalid"), false),
        (json!("hello-world"), "Equals", json!("hello-*"), true),
        (json!("goodbye-world"), "Equals", json!("hello-*"), false),
        (json!("hello"), "Equals", json!(123), false),
        (json!("100Mi"), "Equals", json!("200Mi"), false),
        (json!({"foo": "bar"}), "Equals", json!("not a map"), false),
        (json!(["a", "b", "c"]), "Equals", json!(["a", "b"]), false),
        (
            json!(["a", "b", "c"]),
            "Equals",
            json!("not a slice"),
            false,
        ),
        // An int key does not read "42.0"; a float key does.
        (json!(42), "Equals", json!("42.0"), false),
        (json!(42.0), "Equals", json!("42.0"), true),
        // reflect.DeepEqual: an int64 item never equals a float64 item.
        (json!([1, 2]), "Equals", json!([1.0, 2.0]), false),
        (json!({"a": 1}), "Equals", json!({"a": 1.0}), false),
        (json!([1.0]), "Equals", json!([1.0]), true),
    ]);
}

#[test]
fn not_equals() {
    run_conditions(&tables::not_equals());
    run_handler(&[(json!(5), "NotEquals", json!(5.5), true)]);
}

#[test]
fn numeric() {
    for (key, name, value, want) in tables::numeric() {
        assert_eq!(
            condition(key.clone(), name, value.clone()),
            want,
            "{key} {name} {value}"
        );
    }
    // Written in another case, Kyverno finds the handler but never satisfies it.
    let miscased = Operator::Numeric(Comparison::Miscased);
    assert_eq!(
        Operator::recognise("greaterthan"),
        Some(Spelling::Miscased {
            operator: miscased,
            canonical: "GreaterThan"
        })
    );
    assert_eq!(miscased.evaluate(&json!(10), &json!(1)), Ok(false));
}

#[test]
fn legacy_durations() {
    run_handler(&[
        // TestDurationOperatorHandler_Evaluate_*
        (json!("2h"), "DurationGreaterThan", json!("1h"), true),
        (json!("1h"), "DurationGreaterThan", json!("2h"), false),
        (json!("1h"), "DurationGreaterThan", json!("1h"), false),
        (json!("60m"), "DurationGreaterThan", json!("1h"), false),
        (json!("61m"), "DurationGreaterThan", json!("1h"), true),
        (json!(120), "DurationGreaterThan", json!(60), true),
        (json!(60), "DurationGreaterThan", json!(120), false),
        (json!(120), "DurationGreaterThan", json!("1m"), true),
        (json!(120.5), "DurationGreaterThan", json!(60.5), true),
        (json!(120.5), "DurationGreaterThan", json!(60), true),
        (json!(120.0), "DurationGreaterThan", json!("1m"), true),
        (json!(true), "DurationGreaterThan", json!(false), false),
        (
            json!("2h"),
            "DurationGreaterThanOrEquals",
            json!("1h"),
            true,
        ),
        (
            json!("1h"),
            "DurationGreaterThanOrEquals",
            json!("60m"),
            true,
        ),
        (
            json!("30m"),
            "DurationGreaterThanOrEquals",
            json!("1h"),
            false,
        ),
        (json!(60), "DurationGreaterThanOrEquals", json!(60), true),
        (json!("1h"), "DurationLessThan", json!("2h"), true),
        (json!("1h"), "DurationLessThanOrEquals", json!("60m"), true),
        // Seconds are truncated: 120.5 and 120 are the same duration.
        (json!(120.5), "DurationGreaterThan", json!(120), false),
        // Unlike the plain operators, "0" is a duration here.
        (json!("0"), "DurationLessThan", json!("1s"), true),
        (json!("abc"), "DurationLessThan", json!("1s"), false),
        (json!("1s"), "DurationLessThan", json!("abc"), false),
    ]);
}

#[test]
fn legacy_in() {
    run_conditions(&tables::legacy_in());
    run_handler(&[
        // TestInHandler_Evaluate and friends
        (json!("apple"), "In", json!([]), false),
        (json!("hello"), "In", json!("hello"), true),
        (json!("hello-world"), "In", json!("hello-*"), true),
        (json!("goodbye-world"), "In", json!("hello-*"), false),
        (json!("apple"), "In", json!(r#"["apple", "banana"]"#), true),
        (json!("grape"), "In", json!(r#"["apple", "banana"]"#), false),
        (json!(42), "In", json!(["42", "43"]), true),
        (json!(99), "In", json!(["42", "43"]), false),
        (json!(3.25), "In", json!(["3.25", "2.5"]), true),
        (json!(true), "In", json!(["true", "false"]), true),
        (
            json!(["apple", "grape"]),
            "In",
            json!(["apple", "banana"]),
            false,
        ),
        (
            json!(["apple", "banana"]),
            "In",
            json!(r#"["apple", "banana", "c"]"#),
            true,
        ),
        (json!({"foo": "bar"}), "In", json!(["a", "b"]), false),
        (json!("apple"), "In", json!(12345), false),
        (
            json!("hello-*"),
            "In",
            json!(["hello-world", "goodbye"]),
            true,
        ),
        (json!("a"), "In", json!("not-valid-json"), false),
        (json!(["test"]), "In", json!("test"), true),
        (json!(["other"]), "In", json!("test"), false),
        (json!(["a"]), "In", json!(["a", 123]), false),
        // No wildcard for a key list.
        (json!(["a*"]), "In", json!(["abc"]), false),
        // A value that does not decode makes NotIn false as well.
        (json!("a"), "NotIn", json!("not-valid-json"), false),
        (json!("a"), "NotIn", json!(7), false),
        (json!(["a", "d"]), "NotIn", json!(["a", "b", "c"]), true),
        (json!(["a", "b"]), "NotIn", json!(["a", "b", "c"]), false),
        // A one-item key equal to the value is "in" under NotIn too.
        (json!(["test"]), "NotIn", json!("test"), true),
        // JSON null reads as an empty list.
        (json!("a"), "NotIn", json!("null"), true),
        (json!([]), "In", json!(["a"]), true),
        (json!([]), "NotIn", json!(["a"]), false),
    ]);
    let non_string = Operator::In.evaluate(&json!(["a", 1]), &json!(["a"]));
    assert!(non_string.is_err(), "{non_string:?}");
    assert!(
        Operator::NotIn
            .evaluate(&json!([null]), &json!([]))
            .is_err()
    );
}

#[test]
fn any_in_and_all_in() {
    run_conditions(&tables::any_in_and_all_in());
}

#[test]
fn any_not_in_and_all_not_in() {
    run_conditions(&tables::any_not_in_and_all_not_in());
    run_handler(&[
        // TestAnyNotInHandler_Evaluate
        (json!("kyverno"), "AnyNotIn", json!("kyverno"), false),
        (
            json!("kube-system"),
            "AnyNotIn",
            json!(["default", "kube-*"]),
            false,
        ),
        (json!("kyverno"), "AnyNotIn", json!("default"), true),
        (json!(64), "AnyNotIn", json!("64"), false),
        (json!(1), "AnyNotIn", json!([1, 2, 3]), false),
        (json!(64), "AnyNotIn", json!("default"), true),
        (json!(3.25), "AnyNotIn", json!("3.25"), false),
        (json!(2.2), "AnyNotIn", json!([1.1, 2.2, 3.3]), false),
        (json!(true), "AnyNotIn", json!(true), false),
        (
            json!(["kube-system", "kube-public"]),
            "AnyNotIn",
            json!("kube-*"),
            false,
        ),
        (
            json!(["kube-system", "default"]),
            "AnyNotIn",
            json!("kube-system"),
            true,
        ),
        (
            json!(["default", "kyverno"]),
            "AnyNotIn",
            json!("kube-*"),
            true,
        ),
        (json!([1, 2, 3]), "AnyNotIn", json!(2), true),
        (json!([1, 2, 3]), "AnyNotIn", json!(4), true),
        (json!([1.1, 2.2, 3.3]), "AnyNotIn", json!(1.1), true),
        (json!([true, false]), "AnyNotIn", json!(true), true),
        (json!([true]), "AnyNotIn", json!(false), true),
        (
            json!(["default", "kyverno"]),
            "AnyNotIn",
            json!(["kube-*", "kube-system"]),
            true,
        ),
        (
            json!(["default", "kyverno"]),
            "AnyNotIn",
            json!(["kube-*", "ky*"]),
            true,
        ),
        (json!([]), "AnyNotIn", json!(["default", "kyverno"]), false),
        (json!(""), "AnyNotIn", json!(["default", "kyverno"]), true),
        // TestAllNotInHandler_Evaluate
        (json!("kyverno"), "AllNotIn", json!("kyverno"), false),
        (
            json!("kube-system"),
            "AllNotIn",
            json!(["default", "kube-*"]),
            false,
        ),
        (json!("kyverno"), "AllNotIn", json!("default"), true),
        (json!(64), "AllNotIn", json!("64"), false),
        (json!(64), "AllNotIn", json!("default"), true),
        (
            json!(["kube-system", "kube-public"]),
            "AllNotIn",
            json!("kube-*"),
            false,
        ),
        (
            json!(["kube-system", "default"]),
            "AllNotIn",
            json!("kube-system"),
            false,
        ),
        (
            json!(["default", "kyverno"]),
            "AllNotIn",
            json!("kube-*"),
            true,
        ),
        (
            json!(["default", "kyverno"]),
            "AllNotIn",
            json!(["kube-*", "kube-system"]),
            true,
        ),
        (
            json!(["default", "kyverno"]),
            "AllNotIn",
            json!(["kube-*", "ky*"]),
            false,
        ),
        // A one-item key equal to the value is never "not in".
        (json!(["a"]), "AnyNotIn", json!("a"), false),
        (json!(["a"]), "AllNotIn", json!("a"), false),
        // AllNotIn has no one-item reading of a number value.
        (json!([1]), "AllNotIn", json!(2), false),
    ]);
}

#[test]
fn edges() {
    run_conditions(&tables::edges());
}

/// Every operator has condition rows, which the CLI comparison puts to Kyverno.
#[test]
fn every_operator_has_condition_rows() {
    let written: std::collections::BTreeSet<&str> = tables::all()
        .into_iter()
        .flat_map(|(_, cases)| cases.into_iter().map(|case| case.1))
        .collect();
    for (name, _) in OPERATOR_NAMES {
        assert!(written.contains(name), "{name}");
    }
}

#[test]
fn operator_names() {
    for (name, operator) in OPERATOR_NAMES {
        assert_eq!(Operator::recognise(name), Some(Spelling::Exact(operator)));
    }
    assert_eq!(
        Operator::recognise("EQUALS"),
        Some(Spelling::Miscased {
            operator: Operator::Equals,
            canonical: "Equals"
        })
    );
    assert_eq!(
        Operator::recognise("\u{130}n"),
        Some(Spelling::Miscased {
            operator: Operator::In,
            canonical: "In"
        })
    );
    assert_eq!(Operator::recognise("InvalidOp"), None);
    assert_eq!(Operator::recognise(""), None);
}

fn evaluate(block: &Value, site: Site) -> Result<Verdict, String> {
    let conditions = Conditions::compile(block, site).map_err(|errors| format!("{errors:?}"))?;
    let mut context = Context::new(json!({
        "request": {"object": {
            "metadata": {"name": "temp", "namespace": "n1"},
            "spec": {"foo": "bar", "foo2": "bar2", "replicas": 3.0}
        }}
    }));
    conditions
        .evaluate(|value| substitute_all(value, &mut context))
        .map_err(|error| error.to_string())
}

fn verdict(holds: bool, message: &str) -> Result<Verdict, String> {
    Ok(Verdict {
        holds,
        message: message.to_owned(),
    })
}

#[test]
fn block_messages() {
    let name = |value: &str, message: &str| json!({"key": "{{request.object.metadata.name}}", "operator": "Equal", "value": value, "message": message});
    let foo = |value: &str, message: &str| json!({"key": "{{request.object.spec.foo}}", "operator": "Equal", "value": value, "message": message});
    // Test_Condition_Messages
    let block = json!({"any": [name("temp2", "invalid name"), foo("bar2", "invalid foo")]});
    assert_eq!(
        evaluate(&block, Site::RuleDeny),
        verdict(false, "invalid name; invalid foo")
    );
    let block = json!({"any": [name("temp", "invalid name"), foo("bar", "invalid foo")]});
    assert_eq!(
        evaluate(&block, Site::RuleDeny),
        verdict(true, "invalid name")
    );
    let block = json!({
        "any": [name("temp", "invalid name"), foo("bar", "invalid foo")],
        "all": [name("temp", "invalid name"), foo("bar2", "invalid foo")],
    });
    assert_eq!(
        evaluate(&block, Site::RuleDeny),
        verdict(false, "invalid foo")
    );
    let block = json!({
        "any": [name("temp1", "invalid name"), foo("bar2", "invalid foo")],
        "all": [name("temp", "invalid name"), foo("bar2", "invalid foo2")],
    });
    assert_eq!(
        evaluate(&block, Site::RuleDeny),
        verdict(false, "invalid name; invalid foo; invalid foo2")
    );
    // Checked against Kyverno's EvaluateConditions: every failing `any` message is kept, and
    // the messages of an `all` that held are dropped when the block fails; field names match
    // in any case.
    let one = |value: i64, message: &str| json!({"key": 1, "operator": "Equals", "value": value, "message": message});
    let block = json!({"any": [one(2, "x"), one(3, "y")], "all": [one(2, "z")]});
    assert_eq!(evaluate(&block, Site::RuleDeny), verdict(false, "x; y; z"));
    let block = json!({"any": [], "all": [one(1, "m")]});
    assert_eq!(evaluate(&block, Site::RuleDeny), verdict(false, ""));
    let block = json!({"ANY": [{"KEY": 1, "Operator": "Equals", "VALUE": 2, "message": "x"}]});
    assert_eq!(evaluate(&block, Site::RuleDeny), verdict(false, "x"));
    // Attestation blocks (Kyverno's EvaluateAnyAllConditions): the first block that does not
    // hold decides, with its own message; the messages of blocks that held join with ";".
    let blocks = json!([{"any": [one(1, "a")]}, {"all": [one(1, "b")]}]);
    assert_eq!(evaluate(&blocks, Site::Attestation), verdict(true, "a;b"));
    let blocks = json!([
        {"all": [one(1, "a")]},
        {"any": [one(2, "x"), one(3, "y")]},
        {"all": [one(2, "z")]},
    ]);
    assert_eq!(evaluate(&blocks, Site::Attestation), verdict(false, "x; y"));
    assert_eq!(evaluate(&json!([]), Site::Attestation), verdict(true, ""));
    // The legacy list stops at the first false condition and joins true messages with ";".
    let block = json!([name("temp", "a"), foo("bar", ""), foo("bar", "b")]);
    assert_eq!(evaluate(&block, Site::RuleDeny), verdict(true, "a;b"));
    let block = json!([name("temp", "a"), foo("nope", "b"), foo("bar", "c")]);
    assert_eq!(evaluate(&block, Site::RuleDeny), verdict(false, "b"));
}

#[test]
fn block_combination() {
    let holds = json!({"key": 1, "operator": "Equals", "value": 1});
    let fails = json!({"key": 1, "operator": "Equals", "value": 2});
    let missing = json!({"key": "{{request.object.nope}}", "operator": "Equals", "value": 1});
    let cases: &[(Value, Site, Result<bool, &str>)] = &[
        (json!(null), Site::RuleDeny, Ok(true)),
        (json!({}), Site::RulePreconditions, Ok(true)),
        (json!({"any": null}), Site::RulePreconditions, Ok(true)),
        // An empty `any` never holds.
        (json!({"any": []}), Site::RulePreconditions, Ok(false)),
        (
            json!({"any": [], "all": [holds]}),
            Site::RuleDeny,
            Ok(false),
        ),
        (json!({"all": []}), Site::RuleDeny, Ok(true)),
        (json!([]), Site::RuleDeny, Ok(true)),
        // `any` stops at the first true condition, `all` at the first false one, so the
        // condition after never has its variables looked up.
        (json!({"any": [holds, missing]}), Site::RuleDeny, Ok(true)),
        (json!({"all": [fails, missing]}), Site::RuleDeny, Ok(false)),
        (json!([fails, missing]), Site::RuleDeny, Ok(false)),
        (
            json!({"any": [fails, missing]}),
            Site::RuleDeny,
            Err(
                "failed to substitute variables in condition key: failed to resolve \
                 request.object.nope at path : Unknown key \"nope\" in path",
            ),
        ),
        // `any` is evaluated before `all`.
        (
            json!({"all": [fails], "any": [missing]}),
            Site::RuleDeny,
            Err(""),
        ),
        // Exceptions: `all` first, then `any`, an empty `any` holds.
        (
            json!({"all": [fails], "any": [missing]}),
            Site::Exception,
            Ok(false),
        ),
        (json!({"any": []}), Site::Exception, Ok(true)),
        (json!({"any": [fails]}), Site::Exception, Ok(false)),
        (
            json!({"any": [fails, holds], "all": [holds]}),
            Site::Exception,
            Ok(true),
        ),
    ];
    for (block, site, want) in cases {
        let got = evaluate(block, *site);
        match (want, &got) {
            (Ok(holds), Ok(verdict)) => assert_eq!(verdict.holds, *holds, "{block} {site:?}"),
            (Err(""), Err(_)) => {}
            (Err(message), Err(got)) => assert_eq!(got, message, "{block}"),
            _ => panic!("{block} {site:?}: {got:?}"),
        }
    }
    // A variable's value is typed: replicas is a float64 3, and a lone 3 is a float64 too.
    let replicas =
        json!([{"key": "{{request.object.spec.replicas}}", "operator": "Equals", "value": 3}]);
    assert_eq!(evaluate(&replicas, Site::RuleDeny), verdict(true, ""));
}

#[test]
fn compile_errors() {
    let error = |block: Value, site: Site| -> Vec<String> {
        match Conditions::compile(&block, site) {
            Ok(_) => panic!("{block} compiled"),
            Err(errors) => errors.iter().map(ToString::to_string).collect(),
        }
    };
    let unknown = error(
        json!({"all": [{"key": 1, "operator": "Bogus", "value": 1}]}),
        Site::RuleDeny,
    );
    assert_eq!(unknown.len(), 1);
    assert!(
        unknown[0].starts_with(
            "all[0].operator: operator \"Bogus\" is not valid: entered value of `operator` is \
             invalid. valid values: [\"Equal\" \"Equals\" \"NotEqual\""
        ),
        "{unknown:?}"
    );
    assert!(unknown[0].ends_with("\"DurationLessThan\"]"), "{unknown:?}");
    let miscased = error(
        json!([{"key": 1, "operator": "equals", "value": 1}]),
        Site::ForeachDeny,
    );
    assert!(
        miscased[0].contains("operator names are case-sensitive: did you mean \"Equals\"?"),
        "{miscased:?}"
    );
    // Exceptions take any case, as Kyverno's evaluator does.
    let exception = json!({"all": [{"key": 1, "operator": "equals", "value": 1}]});
    assert!(Conditions::compile(&exception, Site::Exception).is_ok());
    let missing = error(
        json!({"any": [{"key": "x", "operator": "Equals"}]}),
        Site::RulePreconditions,
    );
    assert_eq!(
        missing,
        ["any[0]: entered value of `key`, `value` or `operator` is missing or misspelled"]
    );
    // Conditions under foreach are not checked for values.
    let foreach = json!({"any": [{"key": "x", "operator": "Equals"}]});
    assert!(Conditions::compile(&foreach, Site::ForeachPreconditions).is_ok());
    assert_eq!(
        error(json!([]), Site::ForeachPreconditions),
        ["expected an object with `any` and `all`, found a list"]
    );
    assert_eq!(
        error(json!({"any": []}), Site::Attestation),
        ["expected a list of objects with `any` and `all`, found an object"]
    );
    assert_eq!(
        error(json!([[]]), Site::Attestation),
        ["[0]: expected an object with `any` and `all`, found a list"]
    );
    assert_eq!(
        error(
            json!([{"all": [{"key": 1, "operator": "equals", "value": 1}]}]),
            Site::Attestation
        )
        .len(),
        1
    );
    assert_eq!(
        error(json!("x"), Site::RuleDeny),
        ["expected an object with `any` and `all`, or a list of conditions, found a string"]
    );
    assert_eq!(
        error(json!({"any": {}}), Site::RuleDeny),
        ["any: expected a list of conditions, found an object"]
    );
    assert_eq!(
        error(
            json!([{"key": 1, "operator": 3, "value": 1}]),
            Site::RuleDeny
        ),
        ["[0].operator: expected a string, found a number"]
    );
    assert_eq!(
        error(json!([7]), Site::RuleDeny),
        ["[0]: expected a condition with key, operator and value, found a number"]
    );
    // Kyverno's checks of `{{request.operation}}` values.
    let operation = |value: Value| {
        let block =
            json!([{"key": "{{ request.operation }}", "operator": "AnyIn", "value": value}]);
        Conditions::compile(&block, Site::RuleDeny)
            .err()
            .map(|errors| errors[0].to_string())
    };
    assert_eq!(operation(json!("CREATE")), None);
    assert_eq!(operation(json!(["CREATE", "DELETE"])), None);
    assert_eq!(operation(json!("{{ request.object.op }}")), None);
    assert_eq!(
        operation(json!("create")).as_deref(),
        Some(
            "[0].value: unknown value 'create' found under the 'value' field. Only the following \
             values are allowed: [CREATE, UPDATE, DELETE, CONNECT]"
        )
    );
    assert_eq!(
        operation(json!(["CREATE", 1])).as_deref(),
        Some(
            "[0].value[1]: 'value[1]' found to be of the type int64. The provided values are \
             expected to be strings"
        )
    );
    assert_eq!(
        operation(json!({"a": 1})).as_deref(),
        Some(
            "[0].value: 'value' field found to be of the type map. The provided value/values are \
             expected to be either in the form of a string or list"
        )
    );
    // Field names match in any case, as Go's decoder matches them.
    let folded = json!([{"KEY": 1, "Operator": "Equals", "vALUE": 1, "message": "m"}]);
    let compiled = Conditions::compile(&folded, Site::RuleDeny).expect("compiles");
    let first = compiled.conditions().next().expect("one condition");
    assert_eq!((&first.key, &first.value), (&json!(1), &json!(1)));
}

#[test]
fn messages() {
    assert_eq!(preconditions_not_met(""), "preconditions not met");
    assert_eq!(
        preconditions_not_met("wrong kind"),
        "preconditions not met; wrong kind"
    );
    let identity = |value: &Value| Ok::<_, ()>(value.clone());
    assert_eq!(
        deny_message("r", "", "", identity),
        "validation error: rule r failed"
    );
    assert_eq!(deny_message("r", "rule says", "", identity), "rule says");
    assert_eq!(deny_message("r", "", "cond", identity), "cond");
    assert_eq!(deny_message("r", "rule", "cond", identity), "rule; cond");
    assert_eq!(
        deny_message("r", "rule", "cond", |_: &Value| Err::<Value, _>(())),
        "cond"
    );
    assert_eq!(
        deny_message("r", "rule", "", |_: &Value| Ok::<_, ()>(json!(1))),
        "the produced message didn't resolve to a string, check your policy definition."
    );
}

/// Every key × operator × value of the fixture, answered by Kyverno's `variables.Evaluate`:
/// T holds, F does not, E is an error, P a panic (an error here).
#[test]
fn agrees_with_kyverno() {
    let (cases, results) = fixture();
    let mut context = Context::new(go_decoded(&cases["context"]));
    let sets = cases["sets"].as_array().expect("sets");
    let answers = results["conditions"].as_array().expect("results");
    assert_eq!(sets.len(), answers.len());
    let mut compared = 0;
    for (set, answers) in sets.iter().zip(answers) {
        let list = |name: &str| set[name].as_array().expect("list").clone();
        let mut answers = answers.as_str().expect("answers").chars();
        for key in list("keys") {
            for operator in list("operators") {
                for value in list("values") {
                    let case = json!({"key": key, "operator": operator, "value": value});
                    // Exceptions take the operator in any case, as Kyverno's evaluator does.
                    let block = json!({"all": [case]});
                    let compiled = Conditions::compile(&block, Site::Exception)
                        .unwrap_or_else(|errors| panic!("{case}: {errors:?}"));
                    let ours = match compiled.evaluate(|value| substitute_all(value, &mut context))
                    {
                        Ok(verdict) if verdict.holds => 'T',
                        Ok(_) => 'F',
                        Err(EvaluationError::Operator(_)) => 'P',
                        Err(_) => 'E',
                    };
                    let kyverno = answers.next().expect("an answer per case");
                    assert_eq!(ours, kyverno, "{case}");
                    compared += 1;
                }
            }
        }
        assert_eq!(answers.next(), None);
    }
    assert!(compared > 100_000, "{compared}");
}
