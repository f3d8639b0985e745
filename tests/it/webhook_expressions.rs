//! Expression rules through the webhook handler: variables read the request as the apiserver
//! sent it, deny rules judge DELETE against the old object, and a rule that cannot be evaluated
//! blocks or warns as its policy's failurePolicy says.

use crate::fixtures::{pod, review, state};
use portcullis::webhook::handler;
use serde_json::{Value, json};

fn answer(paths: &[&str], body: &Value) -> Value {
    let state = state(paths);
    let bytes = handler::answer(&state, &serde_json::to_vec(body).expect("JSON"), None)
        .unwrap_or_else(|refusal| panic!("refused: {refusal:?}"));
    serde_json::from_slice(&bytes).expect("JSON answer")
}

fn labelled(team: Option<&str>, namespace: &str) -> Value {
    let mut object = pod("web", namespace, &["nginx:1.25"]);
    if let Some(team) = team {
        object["metadata"]["labels"] = json!({ "team": team });
    }
    object
}

const FAIL: &str = "tests/fixtures/policies-expressions/fail";
const IGNORE: &str = "tests/fixtures/policies-expressions/ignore";

#[test]
fn a_deny_rule_words_its_message_from_the_request() {
    let answer = answer(&[FAIL], &review("uid-1", &labelled(Some(""), "shop")));
    let response = &answer["response"];
    assert_eq!(response["allowed"], false, "{answer}");
    let message = response["status"]["message"].as_str().expect("message");
    assert!(
        message.contains("team-is-set: web in shop needs a team"),
        "{message}"
    );
    let allowed = self::answer(
        &[FAIL],
        &review("uid-2", &labelled(Some("storefront"), "shop")),
    );
    assert_eq!(allowed["response"]["allowed"], true, "{allowed}");
}

#[test]
fn an_error_blocks_under_fail_and_warns_under_ignore() {
    let unlabelled = review("uid-3", &labelled(None, "shop"));
    let blocked = answer(&[FAIL], &unlabelled);
    assert_eq!(blocked["response"]["allowed"], false, "{blocked}");
    let message = blocked["response"]["status"]["message"]
        .as_str()
        .expect("message");
    assert!(
        message.contains("failed to check deny conditions"),
        "the error, not the rule's violation text: {message}"
    );
    assert!(message.contains("Unknown key"), "{message}");

    let admitted = answer(&[IGNORE], &unlabelled);
    assert_eq!(admitted["response"]["allowed"], true, "{admitted}");
    let warnings = admitted["response"]["warnings"]
        .as_array()
        .expect("a warning");
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    let warning = warnings[0].as_str().expect("text");
    assert!(
        warning.starts_with(
            "policy team-label.team-is-set: not enforced, the rule could not be evaluated: failed to check deny conditions"
        ),
        "{warning}"
    );
}

#[test]
fn a_deny_rule_judges_a_delete_by_its_old_object() {
    let old = labelled(Some("storefront"), "restricted");
    let mut body = review("uid-4", &old);
    body["request"]["operation"] = json!("DELETE");
    body["request"]["object"] = Value::Null;
    body["request"]["oldObject"] = old.clone();
    let answer = answer(&[FAIL], &body);
    let response = &answer["response"];
    assert_eq!(response["allowed"], false, "{answer}");
    let message = response["status"]["message"].as_str().expect("message");
    assert!(
        message.contains("no-deletes-in-restricted: pods in restricted are not deleted by hand"),
        "{message}"
    );

    let mut elsewhere = body.clone();
    let shop = labelled(Some("storefront"), "shop");
    elsewhere["request"]["namespace"] = json!("shop");
    elsewhere["request"]["oldObject"] = shop;
    let answer = self::answer(&[FAIL], &elsewhere);
    assert_eq!(answer["response"]["allowed"], true, "{answer}");
}

#[test]
fn variables_read_fields_only_the_apiserver_sends() {
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::write(
        dir.path().join("policy.yaml"),
        "apiVersion: kyverno.io/v1
kind: ClusterPolicy
metadata:
  name: field-manager
  annotations:
    pod-policies.kyverno.io/autogen-controllers: none
spec:
  background: false
  validationFailureAction: Enforce
  rules:
  - name: kubectl-only
    match:
      any:
      - resources:
          kinds: [Pod]
    validate:
      message: \"created by {{ request.options.fieldManager }} as {{ request.userInfo.username }}\"
      deny:
        conditions:
          all:
          - key: \"{{ request.options.fieldManager }}\"
            operator: NotEquals
            value: kubectl
",
    )
    .expect("policy written");
    let path = dir.path().to_str().expect("UTF-8 path");
    let answer = answer(&[path], &review("uid-5", &labelled(Some("x"), "shop")));
    let message = answer["response"]["status"]["message"]
        .as_str()
        .expect("denied");
    assert!(
        message.contains("created by kubectl-client-side-apply as kubernetes-admin"),
        "{message}"
    );
}
