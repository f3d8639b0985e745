//! `serve --kube` namespace labels: a `namespaceSelector` policy follows live namespace labels
//! from a list/watch apiserver, through the real webhook handler.

use crate::cluster_fake_api::{CLUSTER_POLICY, FakeApi, NAMESPACE, eventually};
use crate::fixtures::{pod, review, state};
use portcullis::cluster::{Cluster, ClusterOptions};
use portcullis::webhook::{AppState, handler};
use serde_json::{Value, json};
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(20);

/// Answers a CREATE of a pod running `nginx:latest` in `namespace`.
pub fn decide(state: &AppState, namespace: &str) -> Value {
    let body = review("uid-ns", &pod("web", namespace, &["nginx:latest"]));
    let answer = handler::answer(
        state,
        &serde_json::to_vec(&body).expect("review encodes"),
        None,
    )
    .expect("the review is well formed");
    serde_json::from_slice::<Value>(&answer).expect("answer is JSON")["response"].clone()
}

fn denied_for(state: &AppState, namespace: &str, needle: &str) -> bool {
    let response = decide(state, namespace);
    response["allowed"] == false
        && response["status"]["message"]
            .as_str()
            .is_some_and(|message| message.contains(needle))
}

fn namespace(name: &str, labels: Value) -> Value {
    json!({"metadata": {"name": name, "labels": labels}, "spec": {"finalizers": ["kubernetes"]}, "status": {"phase": "Active"}})
}

#[tokio::test]
async fn namespace_selector_follows_created_relabelled_and_deleted_namespaces() {
    let api = FakeApi::start().await;
    api.put(NAMESPACE, namespace("open", json!({"tier": "open"})));
    api.put(
        NAMESPACE,
        namespace("locked", json!({"tier": "restricted"})),
    );
    let state = state(&["tests/fixtures/policies-namespace-selector"]);

    // Without a reflector the labels are unknown: the rule errors and the Enforce policy
    // (failurePolicy Fail) denies, saying why.
    assert!(
        denied_for(&state, "open", "is unknown"),
        "{}",
        decide(&state, "open")
    );
    let message = decide(&state, "open")["status"]["message"].to_string();
    assert!(
        message.contains("rule no-latest-in-restricted could not be evaluated: namespace"),
        "the error says what went wrong: {message}"
    );
    assert!(
        !message.contains("Restricted namespaces must not run"),
        "an evaluation error is not the policy's violation: {message}"
    );

    let cluster = Cluster::start(api.client(), state.clone(), ClusterOptions::default());
    tokio::time::timeout(WAIT, cluster.synced())
        .await
        .expect("the initial lists complete");
    assert_eq!(
        decide(&state, "open")["allowed"],
        true,
        "tier=open is not selected"
    );
    assert!(
        denied_for(&state, "locked", ":latest"),
        "{}",
        decide(&state, "locked")
    );
    assert!(
        denied_for(&state, "not-yet", "namespace \"not-yet\" is unknown"),
        "{}",
        decide(&state, "not-yet")
    );

    api.put(NAMESPACE, namespace("not-yet", json!({"tier": "open"})));
    eventually("a new namespace is seen", WAIT, || {
        decide(&state, "not-yet")["allowed"] == true
    })
    .await;

    api.put(NAMESPACE, namespace("open", json!({"tier": "restricted"})));
    eventually("a relabelled namespace is selected", WAIT, || {
        denied_for(&state, "open", ":latest")
    })
    .await;

    api.delete(NAMESPACE, "", "not-yet");
    eventually("a deleted namespace is unknown again", WAIT, || {
        denied_for(&state, "not-yet", "is unknown")
    })
    .await;
}

#[tokio::test]
async fn a_410_gone_on_the_watch_makes_the_reflector_relist_and_converge() {
    let api = FakeApi::start().await;
    api.put(NAMESPACE, namespace("shop", json!({"tier": "open"})));
    api.put(NAMESPACE, namespace("gone-soon", json!({"tier": "open"})));
    let state = state(&["tests/fixtures/policies-namespace-selector"]);
    let cluster = Cluster::start(api.client(), state.clone(), ClusterOptions::default());
    tokio::time::timeout(WAIT, cluster.synced())
        .await
        .expect("the initial lists complete");
    assert_eq!(decide(&state, "shop")["allowed"], true);
    let lists_before = api.list_count(NAMESPACE);
    eventually("the reflector watches with bookmarks", WAIT, || {
        api.requests().iter().any(|request| {
            request.path == "/api/v1/namespaces"
                && request.query.contains("watch=true")
                && request.query.contains("allowWatchBookmarks=true")
        })
    })
    .await;

    // History is compacted and open watches end with 410; the changes below are then visible
    // only to a client that lists again.
    api.compact_and_expire_watches();
    api.put(NAMESPACE, namespace("shop", json!({"tier": "restricted"})));
    api.delete(NAMESPACE, "", "gone-soon");
    api.compact_and_expire_watches();

    eventually("the relabel arrives through a relist", WAIT, || {
        denied_for(&state, "shop", ":latest") && denied_for(&state, "gone-soon", "is unknown")
    })
    .await;
    assert!(
        api.list_count(NAMESPACE) > lists_before,
        "the reflector listed again"
    );
    eventually(
        "the cluster-policy follower relists after its 410 too",
        WAIT,
        || api.list_count(CLUSTER_POLICY) >= 2,
    )
    .await;
}
