//! `serve --kube` requester roles: `clusterRoles` in an exclude block follow live RoleBindings
//! and ClusterRoleBindings from a list/watch apiserver, through the real webhook handler.

use crate::cluster_fake_api::{CLUSTER_ROLE_BINDING, FakeApi, ROLE_BINDING, eventually};
use crate::fixtures::{pod, review, state};
use portcullis::cluster::{Cluster, ClusterOptions};
use portcullis::webhook::{AppState, handler};
use serde_json::{Value, json};
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(20);

fn allowed_for(state: &AppState, username: &str, groups: &[&str], namespace: &str) -> bool {
    let mut body = review("uid-roles", &pod("web", namespace, &["nginx:latest"]));
    body["request"]["userInfo"] = json!({"username": username, "groups": groups});
    let answer = handler::answer(
        state,
        &serde_json::to_vec(&body).expect("review encodes"),
        None,
    )
    .expect("the review is well formed");
    let answer: Value = serde_json::from_slice(&answer).expect("answer is JSON");
    answer["response"]["allowed"] == true
}

fn binding(name: &str, namespace: Option<&str>, role: &str, subjects: Value) -> Value {
    let mut metadata = json!({"name": name});
    if let Some(namespace) = namespace {
        metadata["namespace"] = json!(namespace);
    }
    json!({
        "metadata": metadata,
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": role},
        "subjects": subjects,
    })
}

#[tokio::test]
async fn cluster_roles_follow_role_bindings() {
    let api = FakeApi::start().await;
    api.put(
        CLUSTER_ROLE_BINDING,
        binding(
            "admins",
            None,
            "cluster-admin",
            json!([{"kind": "Group", "name": "ops", "apiGroup": "rbac.authorization.k8s.io"}]),
        ),
    );
    let state = state(&["tests/fixtures/policies-roles"]);
    let cluster = Cluster::start(api.client(), state.clone(), ClusterOptions::default());
    tokio::time::timeout(WAIT, cluster.synced())
        .await
        .expect("the initial lists complete, role bindings included");

    assert!(
        allowed_for(&state, "alice", &["ops"], "shop"),
        "ops are cluster admins"
    );
    assert!(!allowed_for(&state, "bob", &["dev"], "shop"), "bob is not");

    // A RoleBinding to cluster-admin holds only in its own namespace.
    api.put(
        ROLE_BINDING,
        binding(
            "bob-admin",
            Some("shop"),
            "cluster-admin",
            json!([{"kind": "User", "name": "bob", "apiGroup": "rbac.authorization.k8s.io"}]),
        ),
    );
    eventually("a new role binding is seen", WAIT, || {
        allowed_for(&state, "bob", &["dev"], "shop")
    })
    .await;
    assert!(!allowed_for(&state, "bob", &["dev"], "other"));

    api.delete(CLUSTER_ROLE_BINDING, "", "admins");
    eventually("a deleted binding no longer grants", WAIT, || {
        !allowed_for(&state, "alice", &["ops"], "shop")
    })
    .await;
}
