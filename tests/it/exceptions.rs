//! Kyverno PolicyExceptions end to end: the verdicts and messages Kyverno's CLI gives (a suite
//! checked against kubectl-kyverno v1.19.0, and Kyverno's own exception tests), errors with
//! file and line, `check --exceptions`, the webhook's decision and skip metric, and exceptions
//! followed from the cluster.

use crate::cluster_fake_api::{FakeApi, NAMESPACE, POLICY_EXCEPTION, eventually};
use crate::fixtures::{conformance_corpus, pod, repo_path, review};
use crate::webhook_support::post_router;
use portcullis::cluster::{Cluster, ClusterOptions};
use portcullis::kyverno_test::{self, CaseResult, Verdict};
use portcullis::metrics::Metrics;
use portcullis::policy::{self, ClusterFacts, LoadErrorKind, PolicySet};
use portcullis::webhook::AppState;
use serde_json::{Value, json};
use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

const SUITE: &str = "tests/fixtures/exceptions/suite";

fn suite_set() -> PolicySet {
    let policies = policy::load_paths(&[repo_path(SUITE).join("policies.yaml")])
        .unwrap_or_else(|errors| panic!("{errors:#?}"));
    let exceptions =
        policy::load::load_exception_paths(&[repo_path(SUITE).join("exceptions.yaml")])
            .unwrap_or_else(|errors| panic!("{errors:#?}"));
    policy::load::with_exceptions(policies, exceptions)
        .unwrap_or_else(|errors| panic!("{errors:#?}"))
}

fn case<'a>(results: &'a [CaseResult], rule: &str, resource: &str) -> &'a CaseResult {
    results
        .iter()
        .find(|case| case.rule == rule && case.resource == resource)
        .unwrap_or_else(|| panic!("no case {rule} {resource} in {results:#?}"))
}

/// Every expectation of the suite is what kubectl-kyverno v1.19.0 gives, and so are the
/// messages telling an exception's skip from a precondition's.
#[test]
fn the_suite_agrees_with_kyverno() {
    let results = kyverno_test::run_file(&repo_path(SUITE).join("kyverno-test.yaml"));
    assert_eq!(results.len(), 14);
    for result in &results {
        assert_eq!(result.verdict, Verdict::Pass, "{result:#?}");
    }
    let message = |rule: &str, resource: &str| {
        let observed = &case(&results, rule, resource).observed;
        assert_eq!(observed.len(), 1, "{observed:#?}");
        observed[0].message.clone()
    };
    assert_eq!(
        message("no-latest", "legacy-web"),
        "rule is skipped due to policy exceptionsexceptions/by-name"
    );
    assert_eq!(
        message("no-latest", "anyone"),
        "rule is skipped due to policy exceptionsanyone"
    );
    assert_eq!(
        message("no-latest", "blue"),
        "rule is skipped due to policy exceptionsblue-team"
    );
    assert_eq!(message("only-named", "legacy-web"), "preconditions not met");
    assert_eq!(
        message("no-host-port", "host-port-web"),
        "rule is skipped due to policy exceptionsby-namespace-labels"
    );

    let namespaces = repo_path("tests/fixtures/exceptions/namespaces/kyverno-test.yaml");
    let results = kyverno_test::run_file(&namespaces);
    assert_eq!(results.len(), 2);
    for result in &results {
        assert_eq!(result.verdict, Verdict::Pass, "{result:#?}");
    }
}

/// Kyverno's own CLI tests of `kyverno.io` exceptions agree; the one with podSecurity
/// controls is unsupported by that name.
#[test]
fn kyverno_cli_exception_tests_agree() {
    let Some(corpus) = conformance_corpus("kyverno-cli") else {
        return;
    };
    for test in ["exceptions-1", "exceptions-2", "exceptions-deprecated"] {
        let file = corpus
            .join("test-exceptions")
            .join(test)
            .join("kyverno-test.yaml");
        let results = kyverno_test::run_file(&file);
        assert_eq!(results.len(), 3, "{test}");
        for result in &results {
            assert_eq!(result.verdict, Verdict::Pass, "{test}: {result:#?}");
        }
    }
    let file = corpus.join("test-exceptions/exceptions-3/kyverno-test.yaml");
    for result in kyverno_test::run_file(&file) {
        assert!(
            matches!(&result.verdict, Verdict::Unsupported(features) if features.contains(&"podSecurity".to_owned())),
            "{result:#?}"
        );
    }
}

const EXCEPTION: &str = "apiVersion: kyverno.io/v2\nkind: PolicyException\nmetadata:\n  name: e\n";

fn load_errors(text: &str) -> Vec<String> {
    match policy::load::load_str_set(text, Path::new("exceptions.yaml")) {
        Ok(_) => panic!("expected errors for:\n{text}"),
        Err(errors) => errors.iter().map(ToString::to_string).collect(),
    }
}

#[test]
fn invalid_exceptions_are_refused_with_file_line_and_field() {
    let targets = "  exceptions:\n  - policyName: p\n    ruleNames: [r]\n";
    let matching = "  match:\n    any:\n    - resources:\n        kinds: [Pod]\n";
    let cases = [
        (
            format!(
                "{EXCEPTION}spec:\n{targets}{matching}  conditions:\n    all:\n    - key: a\n      operator: equals\n      value: a\n"
            ),
            "exceptions.yaml:16:7: unsupported operator \"equals\": expected one of Equals, NotEquals, AnyIn, AllIn, AnyNotIn, AllNotIn, GreaterThanOrEquals, GreaterThan, LessThanOrEquals, LessThan, DurationGreaterThanOrEquals, DurationGreaterThan, DurationLessThanOrEquals, DurationLessThan",
        ),
        (
            format!(
                "{EXCEPTION}spec:\n{targets}{matching}  conditions:\n    any:\n    - key: \"{{{{ request.object.metadata.name | nope(@) }}}}\"\n      operator: Equals\n      value: a\n"
            ),
            "exceptions.yaml:15:7: PolicyException \"e\": invalid JMESPath in {{request.object.metadata.name | nope(@)}}: SyntaxError: unknown function: nope",
        ),
        (
            format!(
                "{EXCEPTION}spec:\n  exceptions:\n  - policyName: \"\"\n    ruleNames: [r]\n{matching}"
            ),
            "exceptions.yaml:7:5: an exception requires a policy name",
        ),
        (
            format!("{EXCEPTION}spec:\n  exceptions:\n  - ruleNames: [r]\n{matching}"),
            "exceptions.yaml:7:5: missing required field \"policyName\" in spec.exceptions[0]",
        ),
        (
            format!("{EXCEPTION}spec:\n{targets}  match:\n    resources:\n      kinds: [Pod]\n"),
            "exceptions.yaml:10:5: unknown field \"resources\" in spec.match (expected `any` or `all`)",
        ),
        (
            format!(
                "{EXCEPTION}spec:\n{targets}  match:\n    any:\n    - resources:\n        kinds: [Pod]\n    all:\n    - resources:\n        kinds: [Pod]\n"
            ),
            "exceptions.yaml:9:3: spec.match: can't specify any and all together",
        ),
        (
            format!(
                "{EXCEPTION}spec:\n{targets}  match:\n    any:\n    - resources:\n        kinds: [Pod]\n        operations: [PATCH]\n"
            ),
            "exceptions.yaml:13:22: unknown operation \"PATCH\": expected CREATE, UPDATE, DELETE or CONNECT",
        ),
        (
            format!("{EXCEPTION}spec:\n{targets}{matching}  background: maybe\n"),
            "exceptions.yaml:13:3: spec.background: invalid type: string \"maybe\", expected a boolean",
        ),
        (
            format!("{EXCEPTION}spec:\n{targets}{matching}  exclude: {{}}\n"),
            "exceptions.yaml:13:3: unknown field \"exclude\" in spec",
        ),
        (
            format!(
                "apiVersion: kyverno.io/v1\nkind: PolicyException\nmetadata:\n  name: e\nspec:\n{targets}{matching}"
            ),
            "exceptions.yaml:1:1: unsupported apiVersion \"kyverno.io/v1\" for PolicyException; expected one of kyverno.io/v2, kyverno.io/v2beta1",
        ),
        (
            format!(
                "apiVersion: kyverno.io/v2\nkind: PolicyException\nmetadata: {{}}\nspec:\n{targets}{matching}"
            ),
            "exceptions.yaml:3:1: PolicyException has no metadata.name",
        ),
    ];
    for (text, expected) in &cases {
        let errors = load_errors(text);
        assert!(
            errors.iter().any(|error| error.starts_with(expected)),
            "expected {expected:?} in {errors:#?} for\n{text}"
        );
    }
}

/// podSecurity controls narrow a podSecurity rule in Kyverno; taking them as a whole
/// exception would except more than asked, so they are refused as unsupported.
#[test]
fn pod_security_controls_are_unsupported() {
    let text = format!(
        "{EXCEPTION}  namespace: team\nspec:\n  exceptions:\n  - policyName: psa\n    ruleNames: [baseline]\n  match:\n    any:\n    - resources:\n        kinds: [Pod]\n  podSecurity:\n  - controlName: Capabilities\n"
    );
    let errors = policy::load::load_str_set(&text, Path::new("exceptions.yaml"))
        .expect_err("podSecurity refused");
    assert_eq!(errors.len(), 1, "{errors:#?}");
    assert!(
        matches!(&errors[0].kind, LoadErrorKind::Unsupported { feature, .. } if feature == "podSecurity"),
        "{errors:#?}"
    );
    assert_eq!(
        errors[0].to_string(),
        "unsupported: podSecurity in e (exceptions.yaml:14)"
    );
}

#[test]
fn exception_files_hold_only_exceptions_and_names_are_unique() {
    let errors = policy::load::load_exception_paths(&[repo_path(SUITE).join("policies.yaml")])
        .expect_err("policies refused");
    let messages: Vec<String> = errors.iter().map(ToString::to_string).collect();
    assert_eq!(
        messages,
        [
            format!(
                "{}:3:1: policy \"images\": only PolicyExceptions are read from --exceptions",
                repo_path(SUITE).join("policies.yaml").display()
            ),
            format!(
                "{}:54:1: policy \"shop/shop-images\": only PolicyExceptions are read from --exceptions",
                repo_path(SUITE).join("policies.yaml").display()
            ),
            format!(
                "{}:74:1: policy \"default/unplaced\": only PolicyExceptions are read from --exceptions",
                repo_path(SUITE).join("policies.yaml").display()
            ),
        ]
    );
    // The same file named twice is read once; another file with the same names is refused.
    let exceptions = repo_path(SUITE).join("exceptions.yaml");
    let set =
        policy::load_paths(std::slice::from_ref(&exceptions)).expect("exceptions load as policies");
    let again =
        policy::load::load_exception_paths(std::slice::from_ref(&exceptions)).expect("and alone");
    let set = policy::load::with_exceptions(set, again).expect("the same file twice");
    assert_eq!(set.exceptions.len(), 6);
    let workdir = tempfile::tempdir().expect("tempdir");
    let copy = workdir.path().join("copy.yaml");
    std::fs::copy(&exceptions, &copy).expect("copy");
    let copied =
        policy::load::load_exception_paths(std::slice::from_ref(&copy)).expect("the copy loads");
    let Err(errors) = policy::load::with_exceptions(set, copied) else {
        panic!("duplicate names are refused");
    };
    assert!(
        errors.iter().any(|error| error.to_string()
            == format!(
                "{}:2:1: duplicate PolicyException name \"exceptions/by-name\": already defined at {}:2",
                copy.display(),
                exceptions.display()
            )),
        "{errors:#?}"
    );
    // A policy loader that reads only policies says where an exception is.
    let text = std::fs::read_to_string(&exceptions).expect("read");
    let errors = policy::load_str(&text, Path::new("exceptions.yaml")).expect_err("refused");
    assert_eq!(
        errors[0].to_string(),
        "exceptions.yaml:2:1: PolicyException \"exceptions/by-name\": only policies are read here"
    );
}

fn check(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_portcullis"))
        .arg("check")
        .args(args)
        .current_dir(repo_path(""))
        .output()
        .expect("run portcullis check")
}

#[test]
fn check_applies_exceptions_given_apart_or_beside_the_policies() {
    let workdir = tempfile::tempdir().expect("tempdir");
    let manifest = workdir.path().join("legacy.yaml");
    let mut legacy = pod("legacy-web", "shop", &["nginx:latest"]);
    legacy["metadata"]["uid"] = Value::Null;
    std::fs::write(&manifest, serde_json::to_string(&legacy).expect("json")).expect("write");
    let manifest = manifest.to_str().expect("utf-8 path");
    let policies = format!("{SUITE}/policies.yaml");
    let exceptions = format!("{SUITE}/exceptions.yaml");

    let without = check(&["--policies", &policies, manifest]);
    assert_eq!(without.status.code(), Some(1), "{without:?}");

    for args in [
        vec![
            "-v",
            "--policies",
            &policies,
            "--exceptions",
            &exceptions,
            manifest,
        ],
        vec![
            "-v",
            "--policies",
            &format!("{policies},{exceptions}"),
            manifest,
        ],
    ] {
        let output = check(&args);
        let stdout = String::from_utf8_lossy(&output.stdout);
        assert_eq!(output.status.code(), Some(0), "{args:?}: {output:?}");
        assert!(
            stdout.contains("skip Pod shop/legacy-web: images/no-latest: rule is skipped due to policy exceptionsexceptions/by-name"),
            "{stdout}"
        );
        assert!(
            stdout.contains("skip Pod shop/legacy-web: images/only-named: preconditions not met"),
            "{stdout}"
        );
    }

    let wrong = check(&["--policies", &policies, "--exceptions", &policies, manifest]);
    assert_eq!(wrong.status.code(), Some(2), "{wrong:?}");
    assert!(
        String::from_utf8_lossy(&wrong.stderr).contains(
            "policies.yaml:3:1: policy \"images\": only PolicyExceptions are read from --exceptions"
        ),
        "{wrong:?}"
    );
}

async fn allowed(state: &Arc<AppState>, uid: &str, object: &Value) -> Value {
    let body = serde_json::to_vec(&review(uid, object)).expect("review encodes");
    let (_, answer) = post_router(state, "/validate", body).await;
    answer["response"].clone()
}

fn series(text: &str, policy: &str, rule: &str, exception: &str) -> Option<u64> {
    let prefix = format!(
        "portcullis_policy_exception_skips_total{{exception=\"{exception}\",policy=\"{policy}\",rule=\"{rule}\"}} "
    );
    text.lines()
        .find_map(|line| line.strip_prefix(&prefix)?.parse().ok())
}

#[tokio::test]
async fn the_webhook_admits_what_an_exception_excepts_and_counts_it() {
    let state = AppState::new(suite_set(), Metrics::new().expect("metrics"));
    // Every rule an exception names has its series before any review.
    let first = state.metrics.encode();
    for (policy, rule, exception) in [
        ("images", "no-latest", "exceptions/by-name"),
        ("images", "only-named", "exceptions/by-name"),
        ("shop-images", "no-latest", "exceptions/by-name"),
        ("images", "no-latest", "blue-team"),
        ("images", "no-host-port", "by-namespace-labels"),
    ] {
        assert_eq!(
            series(&first, policy, rule, exception),
            Some(0),
            "{policy}/{rule} {exception}:\n{first}"
        );
    }
    // A generated rule goes by its own name, which `no-*` does not match.
    assert_eq!(
        series(&first, "images", "autogen-no-latest", "exceptions/by-name"),
        None
    );
    assert_eq!(series(&first, "images", "only-named", "blue-team"), None);

    let response = allowed(
        &state,
        "legacy",
        &pod("legacy-web", "shop", &["nginx:latest"]),
    )
    .await;
    assert_eq!(response["allowed"], true, "{response}");
    let response = allowed(&state, "plain", &pod("plain", "shop", &["nginx:latest"])).await;
    assert_eq!(response["allowed"], false, "{response}");
    // Conditions read the admission request's object through the rule's context.
    let mut blue = pod("blue", "elsewhere", &["nginx:latest"]);
    blue["metadata"]["labels"] = json!({"team": "blue"});
    let response = allowed(&state, "blue", &blue).await;
    assert_eq!(response["allowed"], true, "{response}");
    let mut red = blue.clone();
    red["metadata"]["labels"] = json!({"team": "red"});
    let response = allowed(&state, "red", &red).await;
    assert_eq!(response["allowed"], false, "{response}");

    // An exception whose match needs the namespace's labels cannot be judged without them:
    // the rule answers an error naming it, as a rule's own namespaceSelector does.
    let mut host_port = pod("host-port-web", "shop", &["nginx:1.27"]);
    host_port["spec"]["containers"][0]["ports"] = json!([{"containerPort": 80, "hostPort": 8080}]);
    let response = allowed(&state, "host-port", &host_port).await;
    let message = response["status"]["message"].as_str().unwrap_or_default();
    assert!(
        response["allowed"] == false
            && message.contains("rule no-host-port could not be evaluated: PolicyException by-namespace-labels: namespace \"shop\" is unknown"),
        "{response}"
    );
    let Err(errors) = suite_set().require_knowable(ClusterFacts::following_cluster(false)) else {
        panic!("serve without --kube refuses what it cannot judge");
    };
    let errors: Vec<String> = errors.iter().map(ToString::to_string).collect();
    assert_eq!(
        errors,
        [format!(
            "{}:67:1: PolicyException \"by-namespace-labels\" uses namespaceSelector, which needs --kube to know namespace labels",
            repo_path(SUITE).join("exceptions.yaml").display()
        )]
    );

    let text = state.metrics.encode();
    assert_eq!(
        series(&text, "images", "no-latest", "exceptions/by-name"),
        Some(1)
    );
    assert_eq!(
        series(&text, "shop-images", "no-latest", "exceptions/by-name"),
        Some(1)
    );
    assert_eq!(series(&text, "images", "no-latest", "blue-team"), Some(1));
    assert!(
        text.contains(
            r#"portcullis_policy_results_total{mode="enforce",policy="images",result="skip",rule="no-latest"} 2"#
        ),
        "{text}"
    );
}

/// What an exception matches on is read from the review even when no rule reads it: the
/// webhook builds only what the loaded set can read of an object.
#[tokio::test]
async fn the_webhook_reads_what_exceptions_match_on() {
    let text = format!(
        "{}---\napiVersion: kyverno.io/v2\nkind: PolicyException\nmetadata:\n  name: labelled\nspec:\n  exceptions:\n  - policyName: require-image-digest\n    ruleNames: [\"*\"]\n  match:\n    any:\n    - resources:\n        kinds: [Pod]\n        selector:\n          matchLabels:\n            legacy: \"true\"\n        annotations:\n          owner: \"web-*\"\n",
        std::fs::read_to_string(repo_path("policies/require-image-digest.yaml")).expect("read")
    );
    let set = policy::load::load_str_set(&text, Path::new("inline.yaml"))
        .unwrap_or_else(|errors| panic!("{errors:#?}"));
    let state = AppState::new(set, Metrics::new().expect("metrics"));
    let mut legacy = pod("web", "shop", &["nginx:latest"]);
    let response = allowed(&state, "plain", &legacy).await;
    assert_eq!(response["allowed"], false, "{response}");
    legacy["metadata"]["labels"] = json!({"legacy": "true"});
    legacy["metadata"]["annotations"] = json!({"owner": "web-team"});
    let response = allowed(&state, "legacy", &legacy).await;
    assert_eq!(response["allowed"], true, "{response}");
}

const WAIT: Duration = Duration::from_secs(20);

fn excepting(name: &str, namespace: &str, pods: &str) -> Value {
    json!({
        "metadata": {"name": name, "namespace": namespace},
        "spec": {
            "exceptions": [
                {"policyName": "disallow-latest-tag", "ruleNames": ["*"]},
                {"policyName": "require-image-digest", "ruleNames": ["*"]},
            ],
            "match": {"any": [{"resources": {"kinds": ["Pod"], "names": [pods]}}]},
        }
    })
}

fn decide(state: &AppState, name: &str) -> bool {
    let body = review(name, &pod(name, "shop", &["nginx:latest"]));
    let answer = portcullis::webhook::handler::answer(
        state,
        &serde_json::to_vec(&body).expect("review encodes"),
        None,
    )
    .expect("the review is well formed");
    serde_json::from_slice::<Value>(&answer).expect("answer is JSON")["response"]["allowed"] == true
}

async fn following(api: &FakeApi, namespace: &str) -> (Arc<AppState>, Cluster) {
    let set = policy::load_paths(&[repo_path("policies")]).expect("the default policies load");
    let state = AppState::new(set, Metrics::new().expect("metrics"));
    let options = ClusterOptions {
        exception_namespace: Some(namespace.to_owned()),
        ..ClusterOptions::default()
    };
    let cluster = Cluster::start(api.client(), state.clone(), options);
    tokio::time::timeout(WAIT, cluster.synced())
        .await
        .expect("the initial lists complete");
    (state, cluster)
}

/// Exceptions of the followed namespace apply to file policies as they come and go; others,
/// and invalid ones, are left out.
#[tokio::test]
async fn exceptions_followed_from_the_cluster_come_and_go() {
    let api = FakeApi::start().await;
    api.put(
        NAMESPACE,
        json!({"metadata": {"name": "shop", "labels": {}}}),
    );
    api.put(
        POLICY_EXCEPTION,
        excepting("legacy", "exceptions", "legacy-*"),
    );
    api.put(POLICY_EXCEPTION, excepting("elsewhere", "team", "team-*"));
    let mut invalid = excepting("invalid", "exceptions", "invalid-*");
    invalid["spec"]["match"]["all"] = json!([]);
    api.put(POLICY_EXCEPTION, invalid);

    let (state, cluster) = following(&api, "exceptions").await;
    assert!(!decide(&state, "web"), "the policies deny :latest");
    eventually("the exception applies", WAIT, || {
        decide(&state, "legacy-web")
    })
    .await;
    assert!(
        !decide(&state, "team-web"),
        "another namespace's exception applies"
    );
    assert!(
        !decide(&state, "invalid-web"),
        "an invalid exception applies"
    );
    assert_eq!(state.policies().set.exceptions.len(), 1);

    api.delete(POLICY_EXCEPTION, "exceptions", "legacy");
    eventually("the removed exception no longer applies", WAIT, || {
        !decide(&state, "legacy-web")
    })
    .await;
    api.put(
        POLICY_EXCEPTION,
        excepting("legacy", "exceptions", "legacy-*"),
    );
    eventually("the exception applies again", WAIT, || {
        decide(&state, "legacy-web")
    })
    .await;
    drop(cluster);

    // `*` follows every namespace.
    let (state, _cluster) = following(&api, "*").await;
    eventually("both exceptions apply", WAIT, || {
        decide(&state, "legacy-web") && decide(&state, "team-web")
    })
    .await;
    assert!(
        api.requests()
            .iter()
            .all(|request| request.method == axum::http::Method::GET),
        "nothing is written to Kyverno's objects"
    );
}
