//! `serve --kube` policies from custom resources: added, changed and removed objects change
//! decisions; an invalid one is left out and told why in its status; Kyverno's objects are
//! enforced with `--watch-kyverno-policies` but never written to.

use crate::cluster_fake_api::{
    CLUSTER_POLICY, FakeApi, KYVERNO_CLUSTER_POLICY, NAMESPACE, POLICY, eventually,
};
use crate::cluster_namespaces::decide;
use axum::http::Method;
use portcullis::cluster::{Cluster, ClusterOptions};
use portcullis::metrics::Metrics;
use portcullis::policy::PolicySet;
use portcullis::webhook::AppState;
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(20);

fn empty_state() -> Arc<AppState> {
    AppState::new(
        PolicySet::default(),
        Metrics::new().expect("metrics register"),
    )
}

/// A policy refusing images whose tag matches `image` (e.g. `*:latest`).
fn refusing(name: &str, image: &str) -> Value {
    json!({
        "metadata": {"name": name},
        "spec": {
            "validationFailureAction": "Enforce",
            "rules": [{
                "name": "refuse-image",
                "match": {"any": [{"resources": {"kinds": ["Pod"]}}]},
                "validate": {
                    "message": format!("images {image} are refused"),
                    "pattern": {"spec": {"containers": [{"image": format!("!{image}")}]}}
                }
            }]
        }
    })
}

fn allowed(state: &AppState) -> bool {
    decide(state, "shop")["allowed"] == true
}

fn status_patches(api: &FakeApi, path: &str) -> Vec<Value> {
    api.requests()
        .into_iter()
        .filter(|request| request.method == Method::PATCH && request.path == path)
        .inspect(|request| assert_eq!(request.content_type, "application/merge-patch+json"))
        .map(|request| request.body)
        .collect()
}

async fn started(api: &FakeApi, options: ClusterOptions) -> (Arc<AppState>, Cluster) {
    api.put(
        NAMESPACE,
        json!({"metadata": {"name": "shop", "labels": {}}}),
    );
    let state = empty_state();
    let cluster = Cluster::start(api.client(), state.clone(), options);
    tokio::time::timeout(WAIT, cluster.synced())
        .await
        .expect("the initial lists complete");
    (state, cluster)
}

#[tokio::test]
async fn cluster_policies_added_changed_and_removed_change_decisions() {
    let api = FakeApi::start().await;
    let (state, _cluster) = started(&api, ClusterOptions::default()).await;
    assert!(allowed(&state), "no policy yet");

    api.put(CLUSTER_POLICY, refusing("no-latest", "*:latest"));
    eventually("the new policy denies", WAIT, || !allowed(&state)).await;
    let response = decide(&state, "shop");
    assert!(
        response["status"]["message"]
            .as_str()
            .is_some_and(|message| message.contains("no-latest")
                && message.contains("images *:latest are refused")),
        "{response}"
    );

    api.put(CLUSTER_POLICY, refusing("no-latest", "*:stable"));
    eventually("the changed policy admits :latest", WAIT, || {
        allowed(&state)
    })
    .await;

    api.put(CLUSTER_POLICY, refusing("no-latest", "*:latest"));
    eventually("the policy denies again", WAIT, || !allowed(&state)).await;
    api.delete(CLUSTER_POLICY, "", "no-latest");
    eventually("the removed policy no longer denies", WAIT, || {
        allowed(&state)
    })
    .await;

    // A namespaced Policy applies only in its own namespace.
    let mut namespaced = refusing("shop-no-latest", "*:latest");
    namespaced["metadata"]["namespace"] = json!("shop");
    api.put(POLICY, namespaced);
    eventually(
        "the namespaced policy denies in its namespace",
        WAIT,
        || !allowed(&state),
    )
    .await;
    assert_eq!(decide(&state, "elsewhere")["allowed"], true);

    let path = "/apis/portcullis.dev/v1alpha1/namespaces/shop/policies/shop-no-latest/status";
    eventually("the namespaced policy reports ready", WAIT, || {
        api.object(POLICY, "shop", "shop-no-latest")
            .is_some_and(|object| object["status"]["ready"] == true)
    })
    .await;
    let patches = status_patches(&api, path);
    assert_eq!(
        patches.last(),
        Some(
            &json!({"status": {"ready": true, "ruleCount": 1, "error": null, "observedGeneration": 1}})
        )
    );
}

#[tokio::test]
async fn an_invalid_cluster_policy_is_left_out_with_its_error_in_status() {
    let api = FakeApi::start().await;
    api.put(CLUSTER_POLICY, refusing("valid", "*:latest"));
    let mut invalid = refusing("misspelt", "*:stable");
    invalid["spec"]["rules"][0]["validate"]["patern"] =
        invalid["spec"]["rules"][0]["validate"]["pattern"].take();
    invalid["spec"]["rules"][0]["validate"]
        .as_object_mut()
        .expect("validate is a map")
        .remove("pattern");
    api.put(CLUSTER_POLICY, invalid);
    let (state, _cluster) = started(&api, ClusterOptions::default()).await;

    // The valid policy is enforced although its neighbour is broken.
    assert!(!allowed(&state), "{}", decide(&state, "shop"));
    assert_eq!(state.policies().set.policies.len(), 1);

    let path = "/apis/portcullis.dev/v1alpha1/clusterpolicies/misspelt/status";
    eventually("the invalid policy gets its status", WAIT, || {
        !status_patches(&api, path).is_empty()
    })
    .await;
    let patch = status_patches(&api, path).remove(0);
    let status = &patch["status"];
    assert_eq!(status["ready"], false, "{patch}");
    assert_eq!(status["ruleCount"], 0, "{patch}");
    assert_eq!(status["observedGeneration"], 1, "{patch}");
    let error = status["error"].as_str().expect("an error text");
    assert!(
        error.starts_with(
            "ClusterPolicy/misspelt at spec.rules[0].validate.patern: unknown field \"patern\""
        ),
        "{error}"
    );

    // Fixing it clears the error; the status write does not trigger another one.
    let stored = api.object(CLUSTER_POLICY, "", "misspelt").expect("stored");
    assert_eq!(stored["status"]["ready"], false);
    api.put(CLUSTER_POLICY, refusing("misspelt", "*:stable"));
    eventually("the fixed policy reports ready", WAIT, || {
        api.object(CLUSTER_POLICY, "", "misspelt")
            .is_some_and(|object| {
                object["status"] == json!({"ready": true, "ruleCount": 1, "observedGeneration": 2})
            })
    })
    .await;
    assert_eq!(state.policies().set.policies.len(), 2);
    let writes = status_patches(&api, path).len();
    api.put(CLUSTER_POLICY, refusing("valid", "*:beta"));
    eventually(
        "the changed neighbour reports its new generation",
        WAIT,
        || {
            api.object(CLUSTER_POLICY, "", "valid")
                .is_some_and(|object| object["status"]["observedGeneration"] == 2)
        },
    )
    .await;
    assert_eq!(
        status_patches(&api, path).len(),
        writes,
        "an unchanged status is not rewritten"
    );
}

#[tokio::test]
async fn kyverno_policies_are_enforced_read_only() {
    let api = FakeApi::start().await;
    let mut kyverno = refusing("kyverno-no-latest", "*:latest");
    kyverno["spec"]["background"] = json!(true);
    api.put(KYVERNO_CLUSTER_POLICY, kyverno);
    let mut unsupported = refusing("kyverno-mutate", "*:latest");
    unsupported["spec"]["rules"][0]["mutate"] = json!({"patchStrategicMerge": {}});
    api.put(KYVERNO_CLUSTER_POLICY, unsupported);

    let (without, cluster) = started(&api, ClusterOptions::default()).await;
    assert!(
        allowed(&without),
        "Kyverno objects are ignored without --watch-kyverno-policies"
    );
    drop(cluster);

    let options = ClusterOptions {
        watch_kyverno_policies: true,
        ..ClusterOptions::default()
    };
    let (state, _cluster) = started(&api, options).await;
    assert!(!allowed(&state), "{}", decide(&state, "shop"));
    assert_eq!(
        state.policies().set.policies.len(),
        1,
        "the mutate policy is left out"
    );
    assert!(
        api.requests()
            .iter()
            .all(|request| request.method == Method::GET),
        "nothing is written to Kyverno's objects"
    );
}

/// When the server registers its own webhooks, a cluster policy on a kind the registration
/// cannot name would never see a review: it is left out, and its status says so.
#[tokio::test]
async fn a_cluster_policy_the_registration_cannot_cover_says_so_in_status() {
    let api = FakeApi::start().await;
    api.put(CLUSTER_POLICY, refusing("pods", "*:latest"));
    let mut widgets = refusing("widgets", "*:latest");
    widgets["spec"]["rules"][0]["match"]["any"][0]["resources"]["kinds"] = json!(["Widget"]);
    api.put(CLUSTER_POLICY, widgets);
    let options = ClusterOptions {
        registers_webhooks: true,
        ..ClusterOptions::default()
    };
    let (state, _cluster) = started(&api, options).await;
    assert_eq!(state.policies().set.policies.len(), 1);
    let path = "/apis/portcullis.dev/v1alpha1/clusterpolicies/widgets/status";
    eventually("the uncovered policy gets its status", WAIT, || {
        !status_patches(&api, path).is_empty()
    })
    .await;
    let patch = status_patches(&api, path).remove(0);
    assert_eq!(patch["status"]["ready"], false, "{patch}");
    let error = patch["status"]["error"].as_str().expect("an error text");
    assert!(
        error.contains("kind \"Widget\" cannot be registered with the apiserver"),
        "{error}"
    );
}
