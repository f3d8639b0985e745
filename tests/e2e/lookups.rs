//! `configMap` and `apiCall` context entries answered by `serve --kube` from the real
//! apiserver, signed in as the portcullis ServiceAccount with `deploy/`'s RBAC and the grants the
//! README tells an administrator to add for what the policies read (resource names where the
//! names are fixed); and a deny rule judging DELETE, which `webhook-config` registers for it.

use crate::cluster::service_account_kubeconfig;
use crate::support::{
    Answer, PATIENCE, Serve, WITHIN_SECONDS, admin, apply_at, create, eventually, install_webhook,
    namespace, pod, scoped, send, webhook_config, work_dir,
};
use k8s_openapi::api::core::v1::{ConfigMap, Pod};
use k8s_openapi::api::rbac::v1::{ClusterRole, ClusterRoleBinding};
use kube::api::{Api, DeleteParams};
use serde_json::{Value, json};
use std::path::{Path, PathBuf};

fn write_policy(dir: &Path, text: &str) -> PathBuf {
    let path = dir.join("policies");
    std::fs::create_dir_all(&path).expect("policy dir");
    std::fs::write(path.join("policy.yaml"), text).expect("write the policy");
    path
}

/// Grants the portcullis ServiceAccount `rules` cluster-wide, as an administrator would for
/// what the policies read.
async fn grant(client: &kube::Client, name: &str, rules: Value) {
    let roles = Api::<ClusterRole>::all(client.clone());
    let role = json!({
        "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole",
        "metadata": {"name": name}, "rules": rules,
    });
    apply_at(client, roles.resource_url(), &role, false)
        .await
        .expect_admitted(&format!("ClusterRole {name}"));
    let bindings = Api::<ClusterRoleBinding>::all(client.clone());
    let binding = json!({
        "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding",
        "metadata": {"name": name},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": name},
        "subjects": [{"kind": "ServiceAccount", "name": "portcullis", "namespace": "portcullis"}],
    });
    apply_at(client, bindings.resource_url(), &binding, false)
        .await
        .expect_admitted(&format!("ClusterRoleBinding {name}"));
}

/// `serve --kube` as the ServiceAccount with the policy in `dir`, its webhook judging `scope`.
async fn serve_lookups(client: &kube::Client, scope: &str, dir: &Path, args: &[&str]) -> Serve {
    let kubeconfig = service_account_kubeconfig(client, dir).await;
    let policies = dir.join("policies");
    let mut all = vec![
        "--kube",
        "--no-webhook-registration",
        "--policies",
        policies.to_str().expect("UTF-8 path"),
    ];
    all.extend_from_slice(args);
    let serve = Serve::start(scope, &all, &[("KUBECONFIG", &kubeconfig)]).await;
    let configuration = scoped(
        webhook_config(&[&policies]),
        &format!("portcullis-{scope}"),
        scope,
        &serve.endpoint,
    );
    install_webhook(client, &configuration).await;
    serve
}

/// Retries a dry-run create of `object` until `judge` accepts the answer.
async fn until_pod(
    client: &kube::Client,
    object: &Value,
    what: &str,
    judge: impl Fn(&Answer) -> bool,
) {
    eventually(what, WITHIN_SECONDS.max(PATIENCE), async || {
        let answer = create::<Pod>(client, object, true).await;
        if judge(&answer) {
            Ok(())
        } else {
            Err(format!("{answer:?}"))
        }
    })
    .await;
}

async fn put_config_map(client: &kube::Client, namespace: &str, name: &str, data: Value) {
    let api = Api::<ConfigMap>::namespaced(client.clone(), namespace);
    let object = json!({
        "apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": name, "namespace": namespace}, "data": data,
    });
    apply_at(client, api.resource_url(), &object, false)
        .await
        .expect_admitted(&format!("ConfigMap {namespace}/{name}"));
}

const SETTINGS_POLICY: &str = r#"apiVersion: kyverno.io/v1
kind: ClusterPolicy
metadata:
  name: e2e-pod-settings
spec:
  validationFailureAction: Enforce
  rules:
  # A fixed name: followed by a watch.
  - name: pods-locked
    match:
      any:
      - resources:
          kinds: [Pod]
          namespaces: [e2e-lookups-cm]
    context:
    - name: settings
      configMap:
        name: e2e-pod-settings
        namespace: e2e-lookups-cm
    validate:
      message: "pods are locked: {{ settings.data.reason }}"
      deny:
        conditions:
          any:
          - key: "{{ settings.data.mode }}"
            operator: Equals
            value: locked
  # A name from the request: read by GET when a review needs it.
  - name: image-allowed
    match:
      any:
      - resources:
          kinds: [Pod]
          namespaces: [e2e-lookups-cm]
    context:
    - name: chosen
      configMap:
        name: "{{ request.object.metadata.labels.settings }}"
        namespace: "{{ request.namespace }}"
    validate:
      message: "{{ request.object.spec.containers[0].image }} is not {{ chosen.data.image }}"
      deny:
        conditions:
          any:
          - key: "{{ request.object.spec.containers[0].image }}"
            operator: NotEquals
            value: "{{ chosen.data.image }}"
"#;

#[tokio::test]
async fn a_config_map_context_entry_follows_the_config_map() {
    let client = admin().await;
    let scope = "lookups-cm";
    let judged = "e2e-lookups-cm";
    let dir = work_dir(scope);
    write_policy(&dir, SETTINGS_POLICY);
    namespace(&client, judged, scope, json!({})).await;
    grant(
        &client,
        "e2e-lookups-config-maps",
        json!([{"apiGroups": [""], "resources": ["configmaps"],
                "resourceNames": ["e2e-pod-settings"], "verbs": ["get", "list", "watch"]}]),
    )
    .await;
    let settings = json!({"mode": "locked", "reason": "maintenance", "image": "nginx:1.27"});
    put_config_map(&client, judged, "e2e-pod-settings", settings).await;
    let serve = serve_lookups(&client, scope, &dir, &[]).await;

    let mut web = pod("web", judged, &["nginx:1.27"]);
    web["metadata"]["labels"] = json!({"settings": "e2e-pod-settings"});
    until_pod(&client, &web, "the lock is read", |answer| {
        !answer.admitted() && answer.message().contains("pods are locked: maintenance")
    })
    .await;
    let log = serve.log_text();
    assert!(
        log.contains("configmap listed")
            && log.contains("configmap e2e-lookups-cm/e2e-pod-settings"),
        "the ConfigMap is followed by a watch the ServiceAccount may open:\n{log}"
    );

    // A change to the ConfigMap changes decisions within seconds.
    let open = json!({"mode": "open", "image": "nginx:1.27"});
    put_config_map(&client, judged, "e2e-pod-settings", open).await;
    until_pod(
        &client,
        &web,
        "the unlocked ConfigMap admits",
        Answer::admitted,
    )
    .await;
    let mut other = web.clone();
    other["spec"]["containers"][0]["image"] = json!("httpd:2");
    let refused = create::<Pod>(&client, &other, true).await;
    assert!(
        refused
            .expect_refused("another image")
            .contains("httpd:2 is not nginx:1.27"),
        "{refused:?}"
    );

    // Without the ConfigMap, the review fails naming the entry; it is never a pass.
    Api::<ConfigMap>::namespaced(client.clone(), judged)
        .delete("e2e-pod-settings", &DeleteParams::default())
        .await
        .expect("delete the ConfigMap");
    until_pod(&client, &web, "a missing ConfigMap refuses", |answer| {
        let message = answer.message();
        !answer.admitted()
            && message.contains("failed to retrieve config map for context entry settings")
            && message.contains("configmap \"e2e-pod-settings\" not found")
    })
    .await;

    // A name the ServiceAccount may not read is refused by RBAC, and says so.
    web["metadata"]["labels"] = json!({"settings": "e2e-elsewhere"});
    put_config_map(&client, judged, "e2e-pod-settings", json!({"mode": "open"})).await;
    until_pod(&client, &web, "RBAC refuses the GET", |answer| {
        !answer.admitted()
            && answer.message().contains("context entry chosen")
            && answer.message().contains("permission denied")
    })
    .await;
    drop(serve);
}

const POD_LIMIT_POLICY: &str = r#"apiVersion: kyverno.io/v1
kind: ClusterPolicy
metadata:
  name: e2e-pod-limit
spec:
  validationFailureAction: Enforce
  rules:
  - name: pod-limit
    match:
      any:
      - resources:
          kinds: [Pod]
          namespaces: [e2e-lookups-api]
          operations: [CREATE]
    context:
    - name: limit
      apiCall:
        urlPath: "/api/v1/namespaces/{{ request.namespace }}"
        jmesPath: "metadata.labels.\"pod-limit\""
    - name: existing
      apiCall:
        urlPath: "/api/v1/namespaces/{{ request.namespace }}/pods"
        jmesPath: "length(items)"
    validate:
      message: "{{ request.namespace }} allows {{ limit }} pods and has {{ existing }}"
      deny:
        conditions:
          any:
          - key: "{{ existing }}"
            operator: GreaterThanOrEquals
            value: "{{ limit }}"
"#;

#[tokio::test]
async fn api_call_context_entries_read_a_namespace_and_count_its_pods() {
    let client = admin().await;
    let scope = "lookups-api";
    let judged = "e2e-lookups-api";
    let dir = work_dir(scope);
    write_policy(&dir, POD_LIMIT_POLICY);
    namespace(&client, judged, scope, json!({"pod-limit": "2"})).await;
    grant(
        &client,
        "e2e-lookups-pods",
        json!([{"apiGroups": [""], "resources": ["pods"], "verbs": ["list"]}]),
    )
    .await;
    // Every count must be current: without the cache, each review asks again.
    let serve = serve_lookups(&client, scope, &dir, &["--lookup-cache-ttl", "0s"]).await;

    let first = pod("first", judged, &["nginx:1.27"]);
    until_pod(&client, &first, "the webhook answers", Answer::admitted).await;
    create::<Pod>(&client, &first, false)
        .await
        .expect_admitted("the first pod");
    create::<Pod>(&client, &pod("second", judged, &["nginx:1.27"]), false)
        .await
        .expect_admitted("the second pod");
    let third = pod("third", judged, &["nginx:1.27"]);
    let refused = create::<Pod>(&client, &third, false).await;
    assert!(
        refused
            .expect_refused("a third pod")
            .contains("e2e-lookups-api allows 2 pods and has 2"),
        "{refused:?}"
    );

    // The namespace's label is read on every review too.
    namespace(&client, judged, scope, json!({"pod-limit": "3"})).await;
    until_pod(&client, &third, "a raised limit admits", Answer::admitted).await;
    drop(serve);
}

const PROTECTED_POLICY: &str = r#"apiVersion: kyverno.io/v1
kind: ClusterPolicy
metadata:
  name: e2e-protected-config
spec:
  validationFailureAction: Enforce
  rules:
  - name: keep-protected
    match:
      any:
      - resources:
          kinds: [ConfigMap]
          namespaces: [e2e-lookups-delete]
    validate:
      message: "{{ request.oldObject.metadata.name }} is protected"
      deny:
        conditions:
          all:
          - key: "{{ request.operation }}"
            operator: Equals
            value: DELETE
          - key: "{{ request.oldObject.metadata.labels.protected || '' }}"
            operator: Equals
            value: "true"
"#;

#[tokio::test]
async fn a_deny_rule_judges_deletes_against_the_old_object() {
    let client = admin().await;
    let scope = "lookups-delete";
    let judged = "e2e-lookups-delete";
    let dir = work_dir(scope);
    let policies = write_policy(&dir, PROTECTED_POLICY);
    namespace(&client, judged, scope, json!({})).await;
    let configuration = webhook_config(&[&policies]);
    assert_eq!(
        configuration["webhooks"][0]["rules"][0]["operations"],
        json!(["CREATE", "DELETE", "UPDATE"]),
        "webhook-config registers DELETE for a deny rule"
    );
    let serve = Serve::start(
        scope,
        &["--policies", policies.to_str().expect("UTF-8 path")],
        &[],
    )
    .await;
    install_webhook(
        &client,
        &scoped(
            configuration,
            &format!("portcullis-{scope}"),
            scope,
            &serve.endpoint,
        ),
    )
    .await;

    let api = Api::<ConfigMap>::namespaced(client.clone(), judged);
    let delete = async |name: &str, dry_run: bool| {
        let dry_run = if dry_run { "?dryRun=All" } else { "" };
        let uri = format!("{}/{name}{dry_run}", api.resource_url());
        send(&client, "DELETE", &uri, "application/json", b"{}".to_vec()).await
    };
    let protected = json!({
        "apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": "keep", "namespace": judged, "labels": {"protected": "true"}},
    });
    apply_at(&client, api.resource_url(), &protected, false)
        .await
        .expect_admitted("a protected ConfigMap is created");
    // Dry runs until the webhook is in effect, so that nothing is deleted before.
    eventually("the DELETE is judged", PATIENCE, async || {
        let answer = delete("keep", true).await;
        if !answer.admitted() && answer.message().contains("keep is protected") {
            Ok(())
        } else {
            Err(format!("{answer:?}"))
        }
    })
    .await;
    let refused = delete("keep", false).await;
    assert!(
        refused
            .expect_refused("deleting a protected ConfigMap")
            .contains("keep is protected"),
        "{refused:?}"
    );
    api.get("keep")
        .await
        .expect("the protected ConfigMap is still there");
    put_config_map(&client, judged, "scratch", json!({})).await;
    delete("scratch", false)
        .await
        .expect_admitted("an unprotected ConfigMap is deleted");
    drop(serve);
}
