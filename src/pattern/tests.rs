//! End-to-end tables: compiled patterns evaluated against resources, outcome and path checked.

use super::*;
use serde_json::json;

#[derive(Debug)]
enum Want {
    Pass,
    Skip,
    /// Fail at this Kyverno-rendered path.
    Fail(&'static str),
    Error,
}

fn outcome(pattern: &Value, resource: &Value, mode: NumberMode) -> PatternOutcome {
    Pattern::compile_with(pattern, mode)
        .expect("pattern compiles")
        .evaluate(resource)
}

fn check(name: &str, pattern: &Value, resource: &Value, mode: NumberMode, want: &Want) {
    let got = outcome(pattern, resource, mode);
    let ok = match (&got, want) {
        (PatternOutcome::Pass, Want::Pass)
        | (PatternOutcome::Skip { .. }, Want::Skip)
        | (PatternOutcome::Error { .. }, Want::Error) => true,
        (PatternOutcome::Fail { path, .. }, Want::Fail(expected)) => path.kyverno() == *expected,
        _ => false,
    };
    assert!(ok, "{name}: want {want:?}, got {got:?}");
}

macro_rules! cases {
    ($mode:expr; $($name:literal: $pattern:tt, $resource:tt => $want:expr;)*) => {
        $( check($name, &json!($pattern), &json!($resource), $mode, &$want); )*
    };
}

fn containers_rule() -> Value {
    json!({"spec": {"containers": [{"(image)": "*:latest | !*:*", "imagePullPolicy": "!Always"}]}})
}

#[test]
fn conditional_anchor_with_multiple_patterns() {
    let c =
        |image: &str, policy: &str| json!({"name": "c", "image": image, "imagePullPolicy": policy});
    let table: Vec<(Vec<Value>, Want)> = vec![
        (vec![c("nginx:1.2.3", "Always")], Want::Skip),
        (
            vec![c("nginx:latest", "Always")],
            Want::Fail("/spec/containers/0/imagePullPolicy/"),
        ),
        (vec![c("nginx", "Never")], Want::Pass),
        (
            vec![c("nginx", "Never"), c("busybox:1.28", "Always")],
            Want::Pass,
        ),
        (
            vec![c("busybox:1.28", "Always"), c("nginx", "Always")],
            Want::Fail("/spec/containers/1/imagePullPolicy/"),
        ),
        (
            vec![c("nginx:1.2.3", "Never"), c("busybox:1.28", "Always")],
            Want::Skip,
        ),
    ];
    for (containers, want) in table {
        let resource = json!({"spec": {"containers": containers}});
        check(
            "containers",
            &containers_rule(),
            &resource,
            NumberMode::Exact,
            &want,
        );
    }
}

#[test]
fn worked_examples() {
    cases! { NumberMode::Exact;
        "15.1 no tag": {"spec": {"containers": [{"image": "!*:latest"}]}}, {"spec": {"containers": [{"image": "nginx"}]}} => Want::Pass;
        "15.1 tag": {"spec": {"containers": [{"image": "!*:latest"}]}}, {"spec": {"containers": [{"image": "nginx:1.2"}]}} => Want::Pass;
        "15.1 latest": {"spec": {"containers": [{"image": "!*:latest"}]}}, {"spec": {"containers": [{"image": "nginx:latest"}]}} => Want::Fail("/spec/containers/0/image/");
        "15.1 missing": {"spec": {"containers": [{"image": "!*:latest"}]}}, {"spec": {"containers": [{"name": "a"}]}} => Want::Fail("/spec/containers/0/image/");
        "15.2 512Mi": {"m": "<=1Gi"}, {"m": "512Mi"} => Want::Pass;
        "15.2 1024Mi": {"m": "<=1Gi"}, {"m": "1024Mi"} => Want::Pass;
        "15.2 2Gi": {"m": "<=1Gi"}, {"m": "2Gi"} => Want::Fail("/m/");
        "15.2 missing": {"m": "<=1Gi"}, {} => Want::Pass;
        "15.3 3": {"spec": {"replicas": ">1"}}, {"spec": {"replicas": 3}} => Want::Pass;
        "15.3 1": {"spec": {"replicas": ">1"}}, {"spec": {"replicas": 1}} => Want::Fail("/spec/replicas/");
        "15.3 \"3\"": {"spec": {"replicas": ">1"}}, {"spec": {"replicas": "3"}} => Want::Pass;
        "15.4": {"runAsNonRoot": true}, {"runAsNonRoot": "true"} => Want::Fail("/runAsNonRoot/");
        "15.5 0": {"p": "0 | >=1024"}, {"p": 0} => Want::Pass;
        "15.5 80": {"p": "0 | >=1024"}, {"p": 80} => Want::Fail("/p/");
        "15.5 8080": {"p": "0 | >=1024"}, {"p": 8080} => Want::Pass;
        "15.5 missing": {"p": "0 | >=1024"}, {} => Want::Pass;
        "15.7": {"spec": {"volumes": [{"X(hostPath)": null}]}}, {"spec": {"volumes": [{"hostPath": {}}]}} => Want::Fail("/spec/volumes/0/hostPath/");
        "15.8 absent": {"=(securityContext)": {"=(privileged)": false}}, {} => Want::Pass;
        "15.8 empty": {"=(securityContext)": {"=(privileged)": false}}, {"securityContext": {}} => Want::Pass;
        "15.8 true": {"=(securityContext)": {"=(privileged)": false}}, {"securityContext": {"privileged": true}} => Want::Fail("/securityContext/privileged/");
        "15.9": {"metadata": {"labels": {"app.kubernetes.io/name": "?*"}}}, {"metadata": {"name": "p"}} => Want::Fail("/metadata/labels/");
        "15.10 no volumes": {"spec": {"=(volumes)": [{"(name)": "docker-sock", "hostPath": {"path": "!/var/run/docker.sock"}}]}}, {"spec": {}} => Want::Pass;
        "15.10 other volume": {"spec": {"=(volumes)": [{"(name)": "docker-sock", "hostPath": {"path": "!/var/run/docker.sock"}}]}}, {"spec": {"volumes": [{"name": "a", "emptyDir": {}}]}} => Want::Skip;
        "15.10 sock": {"spec": {"=(volumes)": [{"(name)": "docker-sock", "hostPath": {"path": "!/var/run/docker.sock"}}]}}, {"spec": {"volumes": [{"name": "docker-sock", "hostPath": {"path": "/var/run/docker.sock"}}]}} => Want::Fail("/spec/volumes/0/hostPath/path/");
        "15.10 one applied": {"spec": {"=(volumes)": [{"(name)": "docker-sock", "hostPath": {"path": "!/var/run/docker.sock"}}]}}, {"spec": {"volumes": [{"name": "docker-sock", "hostPath": {"path": "/data"}}, {"name": "x"}]}} => Want::Pass;
        "15.11 first": {"spec": {"<(type)": "LoadBalancer", "loadBalancerSourceRanges": "*"}}, {"spec": {"type": "ClusterIP"}} => Want::Skip;
        "15.11 second": {"metadata": {"annotations": {"x": "?*"}}, "spec": {"<(type)": "LoadBalancer"}}, {"metadata": {"name": "s"}, "spec": {"type": "ClusterIP"}} => Want::Skip;
        "15.14 null dropped": {"metadata": {"labels": {"X(foo)": null}}}, {"metadata": {"labels": {"foo": "x"}}} => Want::Pass;
        "15.14 string kept": {"metadata": {"labels": {"X(foo)": "null"}}}, {"metadata": {"labels": {"foo": "x"}}} => Want::Fail("/metadata/labels/foo/");
        "equality absent": {"spec": {"=(hostNetwork)": false}}, {"spec": {}} => Want::Pass;
        "equality true": {"spec": {"=(hostNetwork)": false}}, {"spec": {"hostNetwork": true}} => Want::Fail("/spec/hostNetwork/");
        "conditional absent": {"spec": {"(hostNetwork)": false, "x": "?*"}}, {"spec": {}} => Want::Skip;
        "conditional true": {"spec": {"(hostNetwork)": false, "x": "?*"}}, {"spec": {"hostNetwork": true}} => Want::Skip;
        "conditional holds": {"spec": {"(hostNetwork)": false, "x": "?*"}}, {"spec": {"hostNetwork": false}} => Want::Fail("/spec/x/");
    }
}

#[test]
fn skip_propagation_and_ordering() {
    cases! { NumberMode::Exact;
        "global mixed elements": {"spec": {"containers": [{"<(image)": "nginx", "imagePullPolicy": "Always"}]}}, {"spec": {"containers": [{"image": "nginx", "imagePullPolicy": "Always"}, {"image": "busybox"}]}} => Want::Pass;
        "global all skipped": {"spec": {"containers": [{"<(image)": "nginx", "imagePullPolicy": "Always"}]}}, {"spec": {"containers": [{"image": "busybox"}]}} => Want::Skip;
        "global applies then fails": {"spec": {"containers": [{"<(image)": "nginx", "imagePullPolicy": "Always"}]}}, {"spec": {"containers": [{"image": "nginx", "imagePullPolicy": "Never"}]}} => Want::Fail("/spec/containers/0/imagePullPolicy/");
        "global missing key is ok": {"spec": {"<(type)": "LoadBalancer", "x": "?*"}}, {"spec": {}} => Want::Fail("/spec/x/");
        "conditional hides negation": {"spec": {"(a)": 1, "X(b)": null}}, {"spec": {"a": 2, "b": 1}} => Want::Skip;
        "conditional applied, negation fails": {"spec": {"(a)": 1, "X(b)": null}}, {"spec": {"a": 1, "b": 1}} => Want::Fail("/spec/b/");
        "conditional sorted before equality": {"spec": {"=(a)": 1, "(b)": 2}}, {"spec": {"a": 5, "b": 2}} => Want::Fail("/spec/a/");
        "failed conditional hides equality": {"spec": {"=(a)": 1, "(b)": 2}}, {"spec": {"a": 5, "b": 3}} => Want::Skip;
        "aggregate skip forgotten when something applied": {"spec": {"=(volumes)": [{"(name)": "x", "path": "y"}], "=(c)": 1}}, {"spec": {"volumes": [{"name": "z"}], "c": 1}} => Want::Pass;
        "aggregate skip alone skips": {"spec": {"=(volumes)": [{"(name)": "x", "path": "y"}]}}, {"spec": {"volumes": [{"name": "z"}]}} => Want::Skip;
        "anchored sibling evaluated first": {"spec": {"containers": [{"(image)": "*:latest", "imagePullPolicy": "Always"}]}, "metadata": {"name": "x"}}, {"spec": {"containers": [{"image": "nginx:1"}]}, "metadata": {"name": "y"}} => Want::Skip;
        "plain key fails after anchored sibling passes": {"spec": {"containers": [{"(image)": "*:latest", "imagePullPolicy": "Always"}]}, "metadata": {"name": "x"}}, {"spec": {"containers": [{"image": "nginx:latest", "imagePullPolicy": "Always"}]}, "metadata": {"name": "y"}} => Want::Fail("/metadata/name/");
        "plain key skip bubbles": {"a": {"b": {"(c)": 1, "d": 2}}}, {"a": {"b": {"c": 0, "d": 3}}} => Want::Skip;
        "conditional wraps negation": {"spec": {"(x)": {"X(y)": null}}}, {"spec": {"x": {"y": 1}}} => Want::Skip;
        "equality passes negation through": {"spec": {"=(x)": {"X(y)": null}}}, {"spec": {"x": {"y": 1}}} => Want::Fail("/spec/x/y/");
        "only first pattern element used": {"a": [{"b": 1}, {"b": 2}]}, {"a": [{"b": 1}, {"b": 1}]} => Want::Pass;
        "map element not an object": {"a": [{"b": 1}]}, {"a": ["x"]} => Want::Fail("/a/0/");
        "empty resource array": {"a": [{"b": 1}]}, {"a": []} => Want::Pass;
        "empty pattern array": {"a": []}, {"a": [1]} => Want::Fail("/a/");
        "scalar over array": {"a": ["?*"]}, {"a": ["x", ""]} => Want::Fail("/a/");
        "scalar pattern against array value": {"a": "x*"}, {"a": ["x1", "x2"]} => Want::Pass;
        "nested arrays positional": {"a": [[1], [2]]}, {"a": [[1], [2], [3]]} => Want::Pass;
        "nested arrays mismatch": {"a": [[1], [2]]}, {"a": [[1], [3]]} => Want::Fail("/a/1/");
        "nested arrays too short": {"a": [[1], [2]]}, {"a": [[1]]} => Want::Error;
        "array pattern, map resource": {"a": [1]}, {"a": {"b": 1}} => Want::Fail("/a/");
        "star present": {"a": {"b": "*"}}, {"a": {"b": {"c": 1}}} => Want::Pass;
        "star null": {"a": {"b": "*"}}, {"a": {"b": null}} => Want::Fail("/a/");
        "star missing": {"a": {"b": "*"}}, {"a": {}} => Want::Fail("/a/");
        "star in anchor allows empty": {"a": {"=(b)": "*"}}, {"a": {"b": ""}} => Want::Pass;
        "add-if-not-present key is absent anyway": {"a": 1}, {"a": 1} => Want::Pass;
    }
}

#[test]
fn existence_and_missing_anchor_keys() {
    cases! { NumberMode::Exact;
        "existence one matches": {"spec": {"^(containers)": [{"image": "nginx*"}]}}, {"spec": {"containers": [{"image": "busybox"}, {"image": "nginx:1"}]}} => Want::Pass;
        "existence none matches": {"spec": {"^(containers)": [{"image": "nginx*"}]}}, {"spec": {"containers": [{"image": "busybox"}]}} => Want::Fail("/spec/containers/");
        "existence every listed object": {"spec": {"^(c)": [{"n": "a"}, {"n": "b"}]}}, {"spec": {"c": [{"n": "a"}, {"n": "c"}]}} => Want::Fail("/spec/c/");
        "existence both found": {"spec": {"^(c)": [{"n": "a"}, {"n": "b"}]}}, {"spec": {"c": [{"n": "b"}, {"n": "a"}]}} => Want::Pass;
        "existence on non-array": {"spec": {"^(c)": [{"n": "a"}]}}, {"spec": {"c": {"n": "a"}}} => Want::Fail("/spec/c/");
        "existence skipped element does not count": {"spec": {"^(c)": [{"(n)": "a", "v": 1}]}}, {"spec": {"c": [{"n": "b", "v": 1}]}} => Want::Fail("/spec/c/");
        "existence key absent passes": {"spec": {"^(c)": [{"n": "a"}]}}, {"spec": {}} => Want::Pass;
        "missing anchor key turns failure into error": {"spec": {"^(containers)": [{"name": "a"}], "hostNetwork": false}}, {"spec": {"hostNetwork": true}} => Want::Error;
        "present anchor key keeps failure": {"spec": {"^(containers)": [{"name": "?*"}], "hostNetwork": false}}, {"spec": {"containers": [{"name": "a"}], "hostNetwork": true}} => Want::Fail("/spec/hostNetwork/");
        "negation keys are not tracked": {"spec": {"X(hostPID)": null, "hostNetwork": false}}, {"spec": {"hostNetwork": true}} => Want::Fail("/spec/hostNetwork/");
        "negation failure beats missing keys": {"spec": {"^(containers)": [{"name": "a"}], "X(hostNetwork)": null}}, {"spec": {"hostNetwork": true}} => Want::Fail("/spec/hostNetwork/");
        "anchor key seen in another element": {"spec": {"c": [{"(name)": "a*", "image": "x"}]}}, {"spec": {"c": [{"image": "z"}, {"name": "ab", "image": "y"}]}} => Want::Fail("/spec/c/1/image/");
    }
}

#[test]
fn error_message_for_missing_anchor_key() {
    let pattern = json!({"spec": {"^(containers)": [{"name": "a"}], "hostNetwork": false}});
    let got = outcome(
        &pattern,
        &json!({"spec": {"hostNetwork": true}}),
        NumberMode::Exact,
    );
    let want = "resource value 'true' does not match 'false' at path /spec/hostNetwork/";
    assert_eq!(
        got,
        PatternOutcome::Error {
            message: want.to_owned()
        }
    );
}

#[test]
fn messages() {
    let message =
        |pattern: Value, resource: Value| match outcome(&pattern, &resource, NumberMode::Exact) {
            PatternOutcome::Fail { message, .. }
            | PatternOutcome::Skip { message }
            | PatternOutcome::Error { message } => message,
            PatternOutcome::Pass => "pass".to_owned(),
        };
    let cases: Vec<(Value, Value, &str)> = vec![
        (
            json!({"spec": {"containers": [{"image": "!*:latest"}]}}),
            json!({"spec": {"containers": [{"image": "nginx:latest"}]}}),
            "resource value 'nginx:latest' does not match '!*:latest' at path /spec/containers/0/image/",
        ),
        (
            json!({"metadata": {"labels": {"a": "?*"}}}),
            json!({"metadata": {}}),
            "pattern and resource have different structures. Path: /metadata/labels/. Expected map[string]interface {}, found <nil>",
        ),
        (
            json!({"a": {"b": "*"}}),
            json!({"a": {}}),
            "/a//b not found",
        ),
        (
            json!({"a": ["?*"]}),
            json!({"a": ["x", ""]}),
            "resource value '[x ]' does not match '?*' at path /a/",
        ),
        (
            json!({"a": 5}),
            json!({"a": {"b": [1, 2.5]}}),
            "resource value 'map[b:[1 2.5]]' does not match '5' at path /a/",
        ),
        (
            json!({"a": [1]}),
            json!({"a": "x"}),
            "validation rule failed at path /a/, resource does not satisfy the expected overlay pattern",
        ),
        (
            json!({"X(a)": null}),
            json!({"a": 1}),
            "negation anchor matched in resource: /a/ is not allowed",
        ),
        (
            json!({"(a)": 1, "b": 2}),
            json!({"b": 2}),
            "conditional anchor mismatch: conditional anchor key doesn't exist in the resource",
        ),
        (
            json!({"(a)": 1, "b": 2}),
            json!({"a": 2}),
            "conditional anchor mismatch: resource value '2' does not match '1' at path /a/",
        ),
        (
            json!({"<(a)": 1, "b": 2}),
            json!({"a": 2}),
            "global anchor mismatch: resource value '2' does not match '1' at path /a/",
        ),
        (
            json!({"^(c)": [{"n": "a"}]}),
            json!({"c": [{"n": "b"}]}),
            "existence anchor validation failed at path /c/",
        ),
        (
            json!({"^(c)": [{"n": "a"}]}),
            json!({"c": "x"}),
            "invalid resource type string: Existence ^ () anchor can be used only on list/array type resource",
        ),
        (json!({"a": []}), json!({"a": [1]}), "pattern Array empty"),
        (
            json!({"a": [[1], [2]]}),
            json!({"a": [[1]]}),
            "validate Array failed, array length mismatch, resource Array len is 1 and pattern Array len is 2",
        ),
    ];
    for (pattern, resource, want) in cases {
        assert_eq!(message(pattern.clone(), resource), want, "{pattern}");
    }
}

#[test]
fn messages_stay_short_whatever_the_size_of_the_resource() {
    // Every one of many elements misses a conditional anchor: the skip names the first ten.
    let containers: Vec<Value> = (0..100_000).map(|_| json!({"name": "y"})).collect();
    let got = outcome(
        &json!({"spec": {"containers": [{"(name)": "x", "image": "a"}]}}),
        &json!({"spec": {"containers": containers}}),
        NumberMode::Exact,
    );
    let PatternOutcome::Skip { message } = got else {
        panic!("every element is skipped: {got:?}");
    };
    let one = "conditional anchor mismatch: resource value 'y' does not match 'x' at path";
    assert_eq!(message.matches(one).count(), 10, "{message}");
    assert!(message.starts_with(&format!("{one} /spec/containers/0/name/; ")));
    assert!(message.ends_with("; and 99990 more"), "{message}");
    assert!(message.len() < 2_000, "{} bytes", message.len());

    // A mismatch quotes a value up to 1 KiB.
    let values = vec!["x"; 1_000_000];
    let got = outcome(
        &json!({"a": "!x"}),
        &json!({"a": values}),
        NumberMode::Exact,
    );
    let PatternOutcome::Fail { message, .. } = got else {
        panic!("the array fails: {got:?}");
    };
    assert!(message.starts_with("resource value '[x x x"), "{message}");
    assert!(
        message.ends_with("x…' does not match '!x' at path /a/"),
        "{message}"
    );
    assert!(message.len() < 1_100, "{} bytes", message.len());
}

#[test]
fn metadata_wildcard_keys() {
    cases! { NumberMode::Exact;
        "key rewritten": {"metadata": {"labels": {"app.kubernetes.io/*": "?*"}}}, {"metadata": {"labels": {"app.kubernetes.io/name": ""}}} => Want::Fail("/metadata/labels/app.kubernetes.io/name/");
        "key rewritten passes": {"metadata": {"labels": {"app.kubernetes.io/*": "?*"}}}, {"metadata": {"labels": {"app.kubernetes.io/name": "web"}}} => Want::Pass;
        "no match keeps wildcard key": {"metadata": {"labels": {"app.kubernetes.io/*": "?*"}}}, {"metadata": {"labels": {"other": "x"}}} => Want::Fail("/metadata/labels/app.kubernetes.io/*/");
        "anchor wrapper kept": {"metadata": {"annotations": {"X(*-snippet)": "?*"}}}, {"metadata": {"annotations": {"server-snippet": "x"}}} => Want::Fail("/metadata/annotations/server-snippet/");
        "equality wrapper kept": {"metadata": {"labels": {"=(team-*)": "a*"}}}, {"metadata": {"labels": {"team-x": "b"}}} => Want::Fail("/metadata/labels/team-x/");
        "anchored labels map": {"metadata": {"=(labels)": {"team-*": "a*"}}}, {"metadata": {"labels": {"team-x": "b"}}} => Want::Fail("/metadata/labels/team-x/");
        "nested template metadata": {"spec": {"template": {"metadata": {"labels": {"team-*": "a*"}}}}}, {"spec": {"template": {"metadata": {"labels": {"team-x": "b"}}}}} => Want::Fail("/spec/template/metadata/labels/team-x/");
        "non-string entries dropped": {"metadata": {"labels": {"foo": null, "n": 5}}}, {"metadata": {"labels": {"foo": "x", "n": "7"}}} => Want::Pass;
        "no resource labels, no rewrite": {"metadata": {"labels": {"n": 5}}}, {"metadata": {"name": "x"}} => Want::Fail("/metadata/labels/");
        "rewrite persists across elements": {"spec": {"items": [{"metadata": {"labels": {"team-*": "?*"}}}]}}, {"spec": {"items": [{"metadata": {"labels": {"team-a": "x"}}}, {"metadata": {"labels": {"team-b": "y"}}}]}} => Want::Fail("/spec/items/1/metadata/labels/team-a/");
        "unmatched wildcard retried on next element": {"spec": {"items": [{"metadata": {"labels": {"team-*": "?*"}}}]}}, {"spec": {"items": [{"metadata": {"labels": {"x": "1"}}}, {"metadata": {"labels": {"team-b": "y"}}}]}} => Want::Fail("/spec/items/0/metadata/labels/team-*/");
    }
    // The compiled pattern itself is untouched: a fresh evaluation rewrites afresh.
    let pattern =
        Pattern::compile(&json!({"metadata": {"labels": {"team-*": "?*"}}})).expect("compiles");
    assert_eq!(
        pattern.evaluate(&json!({"metadata": {"labels": {"team-a": "x"}}})),
        PatternOutcome::Pass
    );
    assert_eq!(
        pattern.evaluate(&json!({"metadata": {"labels": {"team-b": "y"}}})),
        PatternOutcome::Pass
    );
}

#[test]
fn numbers_in_float_mode() {
    cases! { NumberMode::Exact;
        "exact int vs 5.0": {"n": 5}, {"n": "5.0"} => Want::Fail("/n/");
        "exact int vs 5": {"n": 5}, {"n": "5"} => Want::Pass;
        "exact int vs float": {"n": 5}, {"n": 5.0} => Want::Pass;
    }
    cases! { NumberMode::Float;
        "float vs 5.0": {"n": 5}, {"n": "5.0"} => Want::Pass;
        "float vs 5e0": {"n": 5}, {"n": "5e0"} => Want::Pass;
        "float vs int": {"n": 5}, {"n": 5} => Want::Pass;
        "float vs 5.5": {"n": 5}, {"n": 5.5} => Want::Fail("/n/");
    }
    let got = outcome(&json!({"n": 5}), &json!({"n": 6}), NumberMode::Float);
    let want = PatternOutcome::Fail {
        path: JsonPath::root().child_key("n"),
        message: "resource value '6' does not match '5' at path /n/".to_owned(),
    };
    assert_eq!(got, want);
}

#[test]
fn load_time_rejections() {
    let rejected: Vec<(Value, &str, &str)> = vec![
        (
            json!({"spec": {"+(x)": 1}}),
            "/spec/+(x)/",
            "unsupported anchor +(x)",
        ),
        (
            json!({"spec": {"^(c)": "a"}}),
            "/spec/^(c)/",
            "existence anchor should have value of type list",
        ),
        (
            json!({"spec": {"^(c)": []}}),
            "/spec/^(c)/",
            "existence anchor: should have at least one value",
        ),
        (
            json!({"a": [{"b": {"^(c)": {}}}]}),
            "/a/0/b/^(c)/",
            "existence anchor should have value of type list",
        ),
    ];
    for (pattern, path, message) in rejected {
        let err = Pattern::compile(&pattern).expect_err("rejected");
        assert_eq!(
            (err.path.kyverno().as_str(), err.message.as_str()),
            (path, message),
            "{pattern}"
        );
    }
    let accepted = [
        json!({"()": 1, "=()": 2, "x(a)": 3}),
        json!({"^(c)": ["not a map"]}),
        json!(null),
        json!("*"),
        json!([]),
        json!({"a": {"<(b)": 1, "X(c)": null, "=(d)": [1], "(e)": {"f": "?*"}}}),
    ];
    for pattern in accepted {
        assert!(Pattern::compile(&pattern).is_ok(), "{pattern}");
    }
}

#[test]
fn pattern_is_shareable() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<Pattern>();
}

/// Kyverno's `TestConditionalAnchorWithMultiplePatterns` and `Test_global_anchor`: its harness
/// asserts only the pass and skip rows; rows it labels "fail" are checked here as "not pass".
#[test]
fn kyverno_anchor_cases() {
    let containers = json!({"spec": {"containers": [{"name": "*", "(image)": "*:latest | !*:*", "imagePullPolicy": "!Always"}]}});
    let global = json!({"spec": {"containers": [{"name": "*", "<(image)": "*:latest", "imagePullPolicy": "!Always"}]}});
    let env = json!({"spec": {"containers": [{"name": "*", "env": [{"<(name)": "foo", "<(value)": "bar"}], "imagePullPolicy": "!Always"}]}});
    let secrets = json!({"spec": {"containers": [{"name": "*", "<(image)": "nginx"}], "imagePullSecrets": [{"name": "my-registry-secret"}]}});
    let docker = json!({"metadata": {"labels": {"allow-docker": "true"}}, "(spec)": {"(volumes)": [{"(hostPath)": {"path": "/var/run/docker.sock"}}]}});
    let istio = json!({"spec": {"=(initContainers)": [{"(name)": "!istio-init", "=(securityContext)": {"=(runAsUser)": ">0"}}], "=(containers)": [{"=(securityContext)": {"=(runAsUser)": ">0"}}]}});
    let volumes = json!({"spec": {"=(volumes)": [{"(name)": "!credential-socket&!istio-data&!istio-envoy&!workload-certs&!workload-socket", "=(emptyDir)": {"sizeLimit": "?*"}}]}});
    let cache_volume = json!({"spec": {"=(volumes)": [{"(name)": "!cache-volume", "=(emptyDir)": {"sizeLimit": "?*"}}]}});
    let c = |name: &str, image: &str, policy: &str| json!({"name": name, "image": image, "imagePullPolicy": policy});
    let pod = |containers: Vec<Value>| json!({"spec": {"containers": containers}});
    #[derive(Debug, PartialEq)]
    enum Status {
        Pass,
        Skip,
        NotPass,
    }
    let table: Vec<(&str, &Value, Value, Status)> = vec![
        (
            "test-14",
            &containers,
            pod(vec![
                c("busybox", "busybox:1.28", "Always"),
                c("nginx", "nginx:latest", "Always"),
            ]),
            Status::NotPass,
        ),
        (
            "test-15",
            &containers,
            pod(vec![
                c("busybox", "busybox:1.28", "Always"),
                c("nginx", "nginx:1.2.3", "Always"),
            ]),
            Status::Skip,
        ),
        (
            "test-16",
            &containers,
            pod(vec![
                c("busybox", "busybox:1.28", "Always"),
                c("nginx", "nginx", "Never"),
            ]),
            Status::Pass,
        ),
        (
            "test-17",
            &containers,
            pod(vec![
                c("busybox", "busybox:1.28", "Always"),
                c("nginx", "nginx:latest", "Never"),
            ]),
            Status::Pass,
        ),
        (
            "test-18",
            &containers,
            pod(vec![
                c("busybox", "busybox:1.28", "Always"),
                c("nginx", "nginx:1.2.3", "Never"),
            ]),
            Status::Skip,
        ),
        (
            "test-19",
            &containers,
            pod(vec![
                c("busybox", "busybox", "Always"),
                c("nginx", "nginx", "Always"),
            ]),
            Status::NotPass,
        ),
        (
            "test-20",
            &containers,
            pod(vec![
                c("busybox", "busybox:latest", "Always"),
                c("nginx", "nginx:latest", "Always"),
            ]),
            Status::NotPass,
        ),
        (
            "test-21",
            &containers,
            pod(vec![
                c("busybox", "busybox:1.2.3", "Always"),
                c("nginx", "nginx:latest", "IfNotPresent"),
            ]),
            Status::Pass,
        ),
        (
            "test-23",
            &global,
            pod(vec![c("nginx", "nginx", "Always")]),
            Status::Skip,
        ),
        (
            "test-24",
            &global,
            pod(vec![c("nginx", "nginx:latest", "Always")]),
            Status::NotPass,
        ),
        (
            "test-28",
            &env,
            json!({"spec": {"containers": [{"name": "nginx", "image": "nginx", "env": [{"name": "foo", "value": "bar"}], "imagePullPolicy": "IfNotpresent"}]}}),
            Status::Pass,
        ),
        (
            "test-29",
            &env,
            json!({"spec": {"containers": [{"name": "nginx", "image": "nginx", "env": [{"name": "foo", "value": "bar"}], "imagePullPolicy": "Always"}]}}),
            Status::NotPass,
        ),
        (
            "test-34",
            &secrets,
            json!({"spec": {"containers": [{"name": "nginx", "image": "nginx"}], "imagePullSecrets": [{"name": "cred"}]}}),
            Status::NotPass,
        ),
        (
            "test-36",
            &secrets,
            json!({"spec": {"containers": [{"name": "nginx", "image": "nginx"}], "imagePullSecrets": [{"name": "my-registry-secret"}]}}),
            Status::Pass,
        ),
        (
            "test-37",
            &docker,
            json!({"metadata": {"labels": {"run": "nginx"}, "name": "nginx"}, "spec": {"containers": [{"image": "nginx", "name": "nginx"}]}}),
            Status::Skip,
        ),
        (
            "test-38",
            &docker,
            json!({"metadata": {"labels": {"run": "nginx"}, "name": "nginx"}, "spec": {"containers": [{"image": "nginx", "name": "nginx"}], "volumes": [{"hostPath": {"path": "/var/run/docker.sock"}}]}}),
            Status::NotPass,
        ),
        (
            "test-39",
            &docker,
            json!({"metadata": {"labels": {"run": "nginx"}, "name": "nginx"}, "spec": {"containers": [{"image": "nginx", "name": "nginx"}], "volumes": [{"hostPath": {"path": "/randome/value"}}]}}),
            Status::Skip,
        ),
        (
            "test-40",
            &docker,
            json!({"metadata": {"labels": {"run": "nginx", "allow-docker": "true"}, "name": "nginx"}, "spec": {"containers": [{"image": "nginx", "name": "nginx"}], "volumes": [{"hostPath": {"path": "/var/run/docker.sock"}}]}}),
            Status::Pass,
        ),
        (
            "test-41",
            &docker,
            json!({"metadata": {"labels": {"run": "nginx", "allow-docker": "false"}, "name": "nginx"}, "spec": {"containers": [{"image": "nginx", "name": "nginx"}], "volumes": [{"hostPath": {"path": "/var/run/docker.sock"}}]}}),
            Status::NotPass,
        ),
        (
            "test-43",
            &cache_volume,
            json!({"spec": {"volumes": [{"name": "cache-volume", "emptyDir": {}}]}}),
            Status::Skip,
        ),
        (
            "test-44",
            &istio,
            json!({"spec": {"initContainers": [{"name": "nginx", "securityContext": {"runAsUser": 1000}}], "containers": [{"name": "nginx", "image": "nginx"}]}}),
            Status::Pass,
        ),
        (
            "test-45",
            &istio,
            json!({"spec": {"initContainers": [{"name": "nginx", "securityContext": {"runAsUser": 0}}], "containers": [{"name": "nginx", "image": "nginx"}]}}),
            Status::NotPass,
        ),
        (
            "test-46",
            &istio,
            json!({"spec": {"initContainers": [{"name": "istio-init", "securityContext": {"runAsUser": 0}}], "containers": [{"securityContext": {"runAsUser": 1000}}]}}),
            Status::Pass,
        ),
        (
            "test-47",
            &istio,
            json!({"spec": {"initContainers": [{"name": "istio-init", "securityContext": {"runAsUser": 1000}}], "containers": [{"securityContext": {"runAsUser": 0}}]}}),
            Status::NotPass,
        ),
        (
            "test-48",
            &istio,
            json!({"spec": {"containers": [{"securityContext": {"runAsUser": 1000}}]}}),
            Status::Pass,
        ),
        (
            "test-49",
            &istio,
            json!({"spec": {"containers": [{"securityContext": {"runAsUser": 0}}]}}),
            Status::NotPass,
        ),
        (
            "test-50",
            &istio,
            json!({"spec": {"initContainers": [{"name": "istio-init", "securityContext": {"runAsUser": 0}}], "containers": [{"name": "nginx", "image": "nginx"}]}}),
            Status::Pass,
        ),
        (
            "test-51",
            &volumes,
            json!({"spec": {"volumes": [{"name": "credential-socket", "emptyDir": {"sizeLimit": "1Gi"}}]}}),
            Status::Skip,
        ),
        (
            "test-52",
            &volumes,
            json!({"spec": {"volumes": [{"name": "cache-volume", "emptyDir": {"sizeLimit": "1Gi"}}]}}),
            Status::Pass,
        ),
        (
            "test-53",
            &volumes,
            json!({"spec": {"volumes": [{"name": "cache-volume"}]}}),
            Status::Pass,
        ),
        (
            "test-54",
            &volumes,
            json!({"spec": {"volumes": [{"name": "cache-volume", "emptyDir": {}}]}}),
            Status::NotPass,
        ),
        (
            "check_global_anchor_skip",
            &global,
            pod(vec![c("nginx", "nginx:v1", "Always")]),
            Status::Skip,
        ),
        (
            "check_global_anchor_fail",
            &global,
            pod(vec![c("nginx", "nginx:latest", "Always")]),
            Status::NotPass,
        ),
        (
            "check_global_anchor_pass",
            &global,
            pod(vec![c("nginx", "nginx:latest", "IfNotPresent")]),
            Status::Pass,
        ),
        (
            "check_global_anchor_mixed",
            &global,
            pod(vec![
                c("nginx", "nginx:latest", "IfNotPresent"),
                c("nginx", "nginx:v2", "IfNotPresent"),
            ]),
            Status::Pass,
        ),
    ];
    for (name, pattern, resource, want) in table {
        let got = outcome(pattern, &resource, NumberMode::Exact);
        let status = match got {
            PatternOutcome::Pass => Status::Pass,
            PatternOutcome::Skip { .. } => Status::Skip,
            _ => Status::NotPass,
        };
        assert_eq!(status, want, "{name}: {got:?}");
    }
}
