//! Expected values follow Kyverno's `pkg/engine/variables/vars_test.go`, re-expressed here, and
//! the quirks its `vars.go` has.

use super::*;
use crate::expr::testing::{Context, fixture, go_decoded};
use serde_json::json;

fn object() -> Value {
    json!({
        "request": {"object": {
            "metadata": {"name": "temp", "namespace": "n1", "annotations": {"test": "name"}},
            "spec": {"kind": "foo", "port": "443", "replicas": 3.0},
            "simple_object_null": null,
            "simple_object_bool": false,
            "simple_object_int": 5.0,
            "simple_object_string": "example",
            "complex_object_array": ["value1", "value2", "value3"],
            "complex_object_map": {"key3": "value3", "key1": "value1", "key2": "value2"},
        }},
        "foo": "bar",
        "foo2": "bar2",
        "variableWithVariables": "{{ DO_NOT_SUBSTITUTE_ME {{OR_ME}} }}",
        "variablesNested": "{{foo2}}",
        "brace": "{{foo}}",
        "loop": "x{{loop}}",
        "self": {"again": "{{self}}"},
        "nested": {"inner": "{{foo}}"},
        "number": 7.0,
        "html": "<b>&",
        "a": "A",
        "b": "B",
        "twice": "{{a}}{{a}}",
    })
}

fn substitute(document: Value) -> Result<Value, TemplateError> {
    substitute_all(&document, &mut Context::new(object()))
}

#[test]
fn whole_string_variables_keep_their_type() {
    let cases: &[(&str, Value)] = &[
        ("{{ request.object.simple_object_null }}", json!(null)),
        ("{{ request.object.simple_object_bool }}", json!(false)),
        ("{{ request.object.simple_object_int }}", json!(5.0)),
        (
            "{{ request.object.simple_object_string }}",
            json!("example"),
        ),
        (
            "{{ request.object.complex_object_array }}",
            json!(["value1", "value2", "value3"]),
        ),
        ("{{request.object.metadata.name}}", json!("temp")),
        ("{{-request.object.spec.replicas}}", json!(3.0)),
        // A whole-string result is not searched again.
        ("{{ brace }}", json!("{{foo}}")),
    ];
    for (text, want) in cases {
        assert_eq!(substitute(json!(text)).as_ref(), Ok(want), "{text}");
    }
}

#[test]
fn variables_inside_strings() {
    let cases: &[(&str, &str)] = &[
        (
            "content = {{ request.object.simple_object_null }}",
            "content = null",
        ),
        (
            "content = {{ request.object.simple_object_bool }}",
            "content = false",
        ),
        (
            "content = {{ request.object.simple_object_int }}",
            "content = 5",
        ),
        (
            "content = {{ request.object.simple_object_string }}",
            "content = example",
        ),
        (
            "content is {{ request.object.complex_object_map }}",
            r#"content is {"key1":"value1","key2":"value2","key3":"value3"}"#,
        ),
        ("ns-owner-{{request.object.metadata.name}}", "ns-owner-temp"),
        // Go's json.Marshal escapes HTML characters; strings go in as they are.
        ("x {{ html }}", "x <b>&"),
        // A marshalled result is searched again like any other.
        ("x {{ nested }}", r#"x {"inner":"bar"}"#),
        // Results are searched again for variables.
        ("x {{ brace }}", "x bar"),
        (
            "{{request.object.metadata.{{request.object.metadata.annotations.test}}}}",
            "temp",
        ),
        // The character before a variable belongs to its match, so adjacent variables take
        // two passes; the result is the same.
        ("{{a}}{{b}}", "AB"),
        ("{{twice}}!", "AA!"),
        // `\{{` is an escape, dropped at the end.
        ("\\{{foo}}", "{{foo}}"),
        ("{{ foo }} \\{{foo}} {{foo}}", "bar {{foo}} bar"),
        // Single braces are JMESPath literals inside a variable; doubled ones nest.
        ("no variables here", "no variables here"),
    ];
    for (text, want) in cases {
        assert_eq!(substitute(json!(text)), Ok(json!(want)), "{text}");
    }
}

#[test]
fn shallow_variables() {
    // Test_SubstituteShallow, with the quotes it keeps around the text.
    let cases: &[(&str, &str)] = &[
        (
            r#""{{- variableWithVariables }} {{foo}} {{variablesNested}}""#,
            r#""{{ DO_NOT_SUBSTITUTE_ME {{OR_ME}} }} bar bar2""#,
        ),
        (
            r#""{{foo}} {{- variableWithVariables }} {{variablesNested}}""#,
            r#""bar {{ DO_NOT_SUBSTITUTE_ME {{OR_ME}} }} bar2""#,
        ),
        // Only the last variable of a pass decides whether the string is searched again.
        (r#""{{variablesNested}} {{- foo }}""#, r#""{{foo2}} bar""#),
    ];
    for (text, want) in cases {
        assert_eq!(substitute(json!(text)), Ok(json!(want)), "{text}");
    }
    let error = substitute(json!(
        r#""{{- variableWithVariables {{foo}} {{variablesNested}} }}""#
    ))
    .expect_err("the outer variable is not an expression");
    assert!(
        error
            .to_string()
            .starts_with("failed to resolve variableWithVariables bar bar2 at path : "),
        "{error}"
    );
    assert_eq!(
        substitute(json!("x {{- number }}")),
        Err(TemplateError::ShallowNotString {
            variable: "number".to_owned(),
            path: String::new()
        })
    );
    assert_eq!(
        substitute(json!("x {{- request.object.simple_object_null }}")),
        Ok(json!("x null"))
    );
}

#[test]
fn documents_keys_and_typed_results() {
    let document = json!({
        "kind": "{{request.object.metadata.name}}",
        "name": "ns-owner-{{request.object.metadata.name}}",
        "{{ foo }}": "renamed",
        "{{ request.object.simple_object_null }}": "kept",
        "\\{{ foo }}": "escaped",
        "map": "{{ nested }}",
        "list": ["{{a}}", 1, true, null, ["{{b}}"]],
    });
    assert_eq!(
        substitute(document),
        Ok(json!({
            "kind": "temp",
            "name": "ns-owner-temp",
            "bar": "renamed",
            "{{ request.object.simple_object_null }}": "kept",
            "{{ foo }}": "escaped",
            // A typed result is itself substituted.
            "map": {"inner": "bar"},
            "list": ["A", 1, true, null, ["B"]],
        }))
    );
    assert_eq!(
        substitute(json!({"{{ number }}": 1})),
        Err(TemplateError::KeyNotString("{{ number }}".to_owned()))
    );
    assert_eq!(
        substitute(json!({"a": 1})).map(|value| value == json!({"a": 1})),
        Ok(true)
    );
}

#[test]
fn errors_name_the_variable_and_path() {
    let error =
        substitute(json!({"spec": {"containers": [{"name": "{{ request.object.nope }}"}]}}))
            .expect_err("missing key");
    assert!(error.is_not_found());
    assert_eq!(
        error.to_string(),
        "failed to resolve request.object.nope at path /spec/containers/0/name: Unknown key \
         \"nope\" in path"
    );
    let key = substitute(json!({"a/b": {"{{ nope }}": 1}})).expect_err("missing key");
    assert_eq!(
        key.to_string(),
        "failed to resolve nope at path /a\\/b: Unknown key \"nope\" in path"
    );
    // Kyverno cuts the match one byte into a non-ASCII character before the variable.
    let split = substitute(json!("é{{ foo }}")).expect_err("non-ASCII prefix");
    assert!(
        split
            .to_string()
            .starts_with("failed to resolve foo at path : "),
        "{split}"
    );
    assert_eq!(substitute(json!("é {{ foo }}")), Ok(json!("é bar")));
}

#[test]
fn runaway_substitution_stops() {
    let growing = substitute(json!("a {{ loop }}")).expect_err("never finishes");
    assert!(
        matches!(growing, TemplateError::Runaway { .. }),
        "{growing}"
    );
    assert!(
        growing
            .to_string()
            .starts_with("variable substitution at path  did not finish")
    );
    let nesting = substitute(json!("{{ self }}")).expect_err("nests forever");
    assert!(
        matches!(nesting, TemplateError::Runaway { .. }),
        "{nesting}"
    );
}

#[test]
fn delete_requests_read_the_old_object() {
    let data = json!({"request": {
        "operation": "DELETE",
        "object": {"metadata": {"annotations": {"target": "foo"}}},
        "oldObject": {"metadata": {"annotations": {"target": "bar", "targetnew": "target2", "target2": "nested"}}},
    }});
    let mut context = Context::new(data);
    context.delete = true;
    let mut run = |text: &str| substitute_all(&json!(text), &mut context);
    // Test_ReplacingPathWhenDeleting and Test_ReplacingNestedVariableWhenDeleting
    assert_eq!(
        run("{{request.object.metadata.annotations.target}}"),
        Ok(json!("bar"))
    );
    assert_eq!(
        run(
            "{{request.object.metadata.annotations.{{request.object.metadata.annotations.targetnew}}}}"
        ),
        Ok(json!("nested"))
    );
    // Test_ReplacingEscpNestedVariableWhenDeleting
    assert_eq!(
        run(
            "\\{{request.object.metadata.annotations.{{request.object.metadata.annotations.targetnew}}}}"
        ),
        Ok(json!("{{request.object.metadata.annotations.target2}}"))
    );
    assert_eq!(
        rewrite_for_delete("request.object.a || request.objects"),
        "request.oldObject.a || request.oldObjects"
    );
}

#[test]
fn at_reads_the_current_path() {
    // Test_subVars_with_JMESPath_At: the first two segments are dropped.
    let document = json!({"mutate": {"overlay": {"spec": {"kind": "{{@}}"}}}});
    assert_eq!(
        substitute(document),
        Ok(json!({"mutate": {"overlay": {"spec": {"kind": "foo"}}}}))
    );
    let mut context = Context::new(object());
    let document = json!({"spec": {"containers": [{"(name)": "{{@}}"}]}});
    let _ = substitute_all(&document, &mut context);
    assert_eq!(
        context.asked[..2],
        ["target", "request.object[0].\"(name)\""]
    );
    let mut context = Context::new(json!({"target": {"x": {"y": "z"}}}));
    let document = json!({"foreach": [{"deny": {"x": {"y": "{{ @ }}"}}}]});
    assert_eq!(
        substitute_all(&document, &mut context),
        Ok(json!({"foreach": [{"deny": {"x": {"y": "z"}}}]}))
    );
    assert_eq!(context.asked, ["target", "target.x.y"]);
}

#[test]
fn path_conversions() {
    assert_eq!(parse_path("/a/b\\/c/\"d/e\"/0"), ["a", "b/c", "d/e", "0"]);
    assert_eq!(parse_path(""), Vec::<String>::new());
    assert_eq!(parse_path("/a\\"), ["a\u{fffd}"]);
    let jmespath = |segments: &[&str]| jmespath_of(segments.iter().map(|s| (*s).to_owned()));
    assert_eq!(
        jmespath(&["request", "object", "0", "name"]),
        "request.object[0].name"
    );
    assert_eq!(
        jmespath(&["a-b", "c d", "q\"\\\n\u{1}"]),
        r#""a-b"."c d"."q\"\\\n\u0001""#
    );
    assert_eq!(jmespath(&["_x9", "(y)", "x)"]), r#"_x9."(y)".x)"#);
}

#[test]
fn references() {
    // Test_ReferenceSubstitution and Test_EscpReferenceSubstitution.
    let document = json!({
        "metadata": {
            "name": "temp",
            "annotations": {
                "test1": "$(../../../../spec/namespace)",
                "test2": "\\$(ENV_VAR)",
                "test3": "\\${ENV_VAR}",
                "test4": "\\\\\\${ENV_VAR}",
                "test5": "\\$(NODE_NAME)/postgres/\\$(POD_NAME)",
            }
        },
        "(spec)": {"namespace": "n1", "name": "temp1"},
    });
    let mut want = document.clone();
    want["metadata"]["annotations"]["test1"] = json!("n1");
    want["metadata"]["annotations"]["test2"] = json!("$(ENV_VAR)");
    want["metadata"]["annotations"]["test5"] = json!("$(NODE_NAME)/postgres/$(POD_NAME)");
    assert_eq!(substitute_references(&document), Ok(want));

    // TestActualizePattern_GivenRelativePathThatExists: the operator stays in front.
    let pattern = json!({"spec": {"containers": [{
        "name": "*",
        "resources": {
            "requests": {"memory": "$(<=./../../limits/memory)", "cpu": "x$(./../../limits/memory)"},
            "limits": {"memory": "2048Mi", "cpu": 2, "count": 1.5, "flag": true},
        },
    }]}});
    let resolved = substitute_references(&pattern).expect("resolves");
    let requests = &resolved["spec"]["containers"][0]["resources"]["requests"];
    assert_eq!(requests["memory"], json!("<=2048Mi"));
    assert_eq!(requests["cpu"], json!("x2048Mi"));
    let reference = |text: &str| {
        let mut document = pattern.clone();
        document["spec"]["containers"][0]["resources"]["requests"]["memory"] = json!(text);
        substitute_references(&document).map(|resolved| {
            resolved["spec"]["containers"][0]["resources"]["requests"]["memory"].clone()
        })
    };
    assert_eq!(reference("$(>./../../limits/cpu)"), Ok(json!(">2")));
    assert_eq!(
        reference("$(<./../../limits/count)"),
        Ok(json!("<1.500000"))
    );
    assert_eq!(
        reference("$(/spec/containers/0/resources/limits/memory)"),
        Ok(json!("2048Mi"))
    );
    let at = "/spec/containers/0/resources/requests/memory";
    assert_eq!(
        reference("$(./../../limits/cpu)"),
        Err(TemplateError::Reference(format!(
            "NotResolvedReferenceErr,reference $(./../../limits/cpu) not resolved at path {at}"
        )))
    );
    assert_eq!(
        reference("$(./../../limits/none)"),
        Err(TemplateError::Reference(format!(
            "got nil resolved variable $(./../../limits/none) at path {at}: <nil>"
        )))
    );
    assert_eq!(
        reference("$(>=./../../limits/flag)"),
        Err(TemplateError::Reference(format!(
            "failed to resolve $(>=./../../limits/flag) at path {at}: incorrect expression: \
             operator >= does not match with value true"
        )))
    );
    assert_eq!(
        reference("$(>=)"),
        Err(TemplateError::Reference(format!(
            "failed to resolve $(>=) at path {at}: expected path, found empty reference"
        )))
    );
    // A reference to a map names its keys; the last one wins.
    assert_eq!(reference("$(./../../limits)"), Ok(json!("memory")));
}

#[test]
fn references_then_variables() {
    let document = json!({"a": "{{ foo }}", "b": "$(./../a)-{{ foo2 }}"});
    assert_eq!(
        substitute(document),
        Ok(json!({"a": "bar", "b": "bar-bar2"}))
    );
}

#[test]
fn helpers() {
    assert!(needs_substitution(&json!({"a": ["x", {"b": "{{ c }}"}]})));
    assert!(needs_substitution(&json!({"$(./x)": 1})));
    assert!(!needs_substitution(
        &json!({"a": ["x", {"b": "{ c }"}], "d": 1})
    ));
    assert_eq!(
        variables("{{ a }} x{{- b.c }} \\{{ d }} {{e}}{{f}}"),
        ["a", "b.c", "e"]
    );
    assert_eq!(variables("{{ {a: b} }}"), ["{a: b}"]);
}

#[test]
fn agrees_with_kyverno() {
    let (cases, results) = fixture();
    let mut context = Context::new(go_decoded(&cases["context"]));
    let documents = cases["templates"].as_array().expect("templates");
    let answers = results["templates"].as_array().expect("results");
    assert_eq!(documents.len(), answers.len());
    for (document, kyverno) in documents.iter().zip(answers) {
        let ours = substitute_all(&go_decoded(document), &mut context);
        match (kyverno.get("value"), &ours) {
            // Kyverno's output is JSON text, which does not tell 3 from 3.0.
            (Some(want), Ok(got)) => assert_eq!(go_decoded(got), go_decoded(want), "{document}"),
            // Where Kyverno errs (or panics) so do we; the JMESPath wording is the evaluator's.
            (None, Err(_)) => {}
            _ => panic!("{document}: Kyverno {kyverno}, here {ours:?}"),
        }
    }
}
