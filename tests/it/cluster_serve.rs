//! `portcullis serve --kube` as a process: it finds the apiserver through its kubeconfig,
//! reports ready only once every followed resource has been listed, and writes the status of
//! the cluster policies it compiles.

use crate::cluster_fake_api::{CLUSTER_POLICY, FakeApi, NAMESPACE, eventually};
use crate::serve_tls::{Running, free_port};
use crate::transport::support::plain_request;
use serde_json::json;
use std::net::SocketAddr;
use std::process::{Command, Stdio};
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(30);

async fn readyz(metrics: SocketAddr) -> Option<u16> {
    plain_request(metrics, "/readyz")
        .await
        .ok()
        .map(|(status, _)| status.as_u16())
}

#[tokio::test]
async fn serve_kube_is_ready_only_after_listing_and_writes_policy_status() {
    let api = FakeApi::start().await;
    api.put(NAMESPACE, json!({"metadata": {"name": "shop"}}));
    api.put(
        CLUSTER_POLICY,
        json!({"metadata": {"name": "no-rules-field"}, "spec": {"validationFailureAction": "Enforce"}}),
    );
    api.forbid(CLUSTER_POLICY);

    let workdir = tempfile::tempdir().expect("tempdir");
    let kubeconfig = workdir.path().join("kubeconfig");
    let config = format!(
        "apiVersion: v1\nkind: Config\nclusters:\n- name: fake\n  cluster:\n    server: {}\nusers:\n- name: fake\n  user: {{}}\ncontexts:\n- name: fake\n  context:\n    cluster: fake\n    user: fake\ncurrent-context: fake\n",
        api.url
    );
    std::fs::write(&kubeconfig, config).expect("write kubeconfig");
    let (listen, metrics) = (free_port(), free_port());
    let child = Command::new(env!("CARGO_BIN_EXE_portcullis"))
        .args(["serve", "--kube", "--listen", &listen.to_string()])
        .args(["--metrics-listen", &metrics.to_string()])
        .args(["--shutdown-delay", "0s", "--shutdown-timeout", "2s"])
        .current_dir(workdir.path())
        .env("KUBECONFIG", &kubeconfig)
        .env_remove("KUBERNETES_SERVICE_HOST")
        .env_remove("KUBERNETES_SERVICE_PORT")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn portcullis serve --kube");
    let mut server = Running(child);

    // Listing cluster policies is forbidden: the server answers health checks but is not ready.
    eventually("the server retried the forbidden list", WAIT, || {
        api.list_count(CLUSTER_POLICY) >= 2
    })
    .await;
    assert_eq!(readyz(metrics).await, Some(503));
    assert!(server.0.try_wait().expect("child state").is_none());

    api.permit(CLUSTER_POLICY);
    let deadline = std::time::Instant::now() + WAIT;
    while readyz(metrics).await != Some(200) {
        assert!(std::time::Instant::now() < deadline, "never became ready");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    eventually("the invalid policy's status is written", WAIT, || {
        api.object(CLUSTER_POLICY, "", "no-rules-field")
            .is_some_and(|object| object["status"]["ready"] == false)
    })
    .await;
    let object = api
        .object(CLUSTER_POLICY, "", "no-rules-field")
        .expect("stored");
    let error = object["status"]["error"].as_str().expect("error text");
    assert!(
        error.starts_with("ClusterPolicy/no-rules-field at spec: missing required field \"rules\""),
        "{error}"
    );
}
