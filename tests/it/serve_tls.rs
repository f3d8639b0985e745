//! `portcullis serve` as a user runs it: the real binary, started in an empty directory with
//! its embedded defaults, generating its development CA; a client that trusts only that CA and
//! dials the in-cluster service name (as the kube-apiserver does) posts real reviews.

use crate::fixtures::{pod, review};
use crate::transport::support::{Connection, PATIENCE, SERVICE_NAME, client_config, plain_request};
use crate::webhook_support::post;
use serde_json::Value;
use std::net::{SocketAddr, TcpListener};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub fn free_port() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind an ephemeral port");
    listener.local_addr().expect("local address")
}

/// A child process that is killed when the test lets go of it, pass or fail.
pub struct Running(pub Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

pub async fn wait_ready(metrics: SocketAddr, child: &mut Child) {
    let deadline = Instant::now() + PATIENCE * 3;
    loop {
        if let Ok((status, _)) = plain_request(metrics, "/readyz").await {
            if status == 200 {
                return;
            }
        }
        if let Ok(Some(exit)) = child.try_wait() {
            panic!("portcullis serve exited early: {exit}");
        }
        assert!(Instant::now() < deadline, "server never became ready");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Posts a review on the connection; the webhook must answer it with an `AdmissionReview`.
async fn post_review(connection: &mut Connection, body: &Value) -> Value {
    let bytes = serde_json::to_vec(body).expect("serialize");
    let (status, answer) = post(connection, "/validate", bytes)
        .await
        .expect("response");
    assert_eq!(status, 200);
    answer
}

#[tokio::test]
async fn serve_with_embedded_defaults_over_verified_tls() {
    let workdir = tempfile::tempdir().expect("tempdir");
    let (listen, metrics) = (free_port(), free_port());
    let child = Command::new(env!("CARGO_BIN_EXE_portcullis"))
        .args([
            "serve",
            "--listen",
            &listen.to_string(),
            "--metrics-listen",
            &metrics.to_string(),
        ])
        .args(["--shutdown-delay", "0s", "--shutdown-timeout", "5s"])
        .current_dir(workdir.path())
        .env("RUST_LOG", "info")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn portcullis serve");
    let mut server = Running(child);
    wait_ready(metrics, &mut server.0).await;

    let ca = workdir.path().join("certs-dev/ca.crt");
    assert!(ca.exists(), "development CA generated at {}", ca.display());
    let config = client_config(&[&ca], None);
    let mut connection = Connection::tls(listen, config.clone(), SERVICE_NAME)
        .await
        .expect("TLS handshake");

    let denied = post_review(
        &mut connection,
        &review("e2e-deny", &pod("web", "shop", &["nginx:latest"])),
    )
    .await;
    assert_eq!(denied["response"]["uid"], "e2e-deny");
    assert_eq!(denied["response"]["allowed"], false);
    assert_eq!(denied["response"]["status"]["code"], 403);
    let allowed = post_review(
        &mut connection,
        &review("e2e-allow", &pod("web", "shop", &["nginx:1.25.3"])),
    )
    .await;
    assert_eq!(allowed["response"]["uid"], "e2e-allow");
    assert_eq!(allowed["response"]["allowed"], true);

    // A name outside the certificate fails verification, as the apiserver would refuse it.
    assert!(
        Connection::tls(listen, config, "portcullis.other.svc")
            .await
            .is_err()
    );

    let (status, body) = plain_request(metrics, "/metrics").await.expect("metrics");
    assert_eq!(status, 200);
    let text = String::from_utf8_lossy(&body);
    for counted in [
        r#"portcullis_admission_requests_total{allowed="false",kind="Pod",operation="CREATE"} 1"#,
        r#"portcullis_admission_requests_total{allowed="true",kind="Pod",operation="CREATE"} 1"#,
        "portcullis_admission_review_duration_seconds_count 2",
        r#"portcullis_admission_review_duration_seconds_bucket{le="10"} 2"#,
    ] {
        assert!(text.contains(counted), "metrics lack {counted}:\n{text}");
    }

    let pid = server.0.id().to_string();
    let killed = Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .expect("send SIGTERM");
    assert!(killed.success());
    let deadline = Instant::now() + PATIENCE;
    let exit = loop {
        if let Some(exit) = server.0.try_wait().expect("wait") {
            break exit;
        }
        assert!(Instant::now() < deadline, "no exit after SIGTERM");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert!(exit.success(), "exit after SIGTERM: {exit}");
}
