//! Helpers for the webhook tests: posting raw bytes to the router in-process or over a TLS
//! keep-alive connection, a webhook behind the real TLS listener, and `portcullis serve` as a
//! child process with its log captured in a file.

use crate::serve_tls::{free_port, wait_ready};
use crate::transport::support::{Connection, Error, SERVICE_NAME, Server, client_config};
use axum::body::Body;
use axum::http::{Request, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use portcullis::server::{self, ServeOptions};
use portcullis::tls::{CertResolver, generate_dev_certs, load_certificate, server_config};
use portcullis::webhook::{self, AppState};
use rustls::ClientConfig;
use serde_json::Value;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// One request through the router, as the TLS listener would hand it over.
pub async fn post_router(state: &Arc<AppState>, path: &str, body: Vec<u8>) -> (StatusCode, Value) {
    use tower::ServiceExt;
    let request = Request::post(path)
        .header("content-type", "application/json")
        .body(Body::from(body))
        .expect("request");
    let response = webhook::router(state.clone())
        .oneshot(request)
        .await
        .expect("infallible router");
    let status = response.status();
    let bytes = response
        .into_body()
        .collect()
        .await
        .expect("body")
        .to_bytes();
    (status, json_or_null(&bytes))
}

/// The body as JSON, or `Value::Null` when it is empty.
pub fn json_or_null(bytes: &[u8]) -> Value {
    if bytes.is_empty() {
        return Value::Null;
    }
    serde_json::from_slice(bytes).unwrap_or_else(|_| panic!("JSON body, got {bytes:?}"))
}

/// One POST on a keep-alive TLS connection.
pub async fn post(
    connection: &mut Connection,
    path: &str,
    body: Vec<u8>,
) -> Result<(StatusCode, Value), Error> {
    connection.sender.ready().await?;
    let request = Request::post(path)
        .header("host", SERVICE_NAME)
        .header("content-type", "application/json")
        .body(Full::new(Bytes::from(body)))?;
    let response = connection.sender.send_request(request).await?;
    let status = response.status();
    let bytes = response.into_body().collect().await?.to_bytes();
    Ok((status, json_or_null(&bytes)))
}

/// The webhook and health routes behind the real TLS listener, with development certificates
/// written to `dir`; the client configuration trusts their CA.
pub async fn tls_webhook(
    dir: &Path,
    state: Arc<AppState>,
    options: ServeOptions,
) -> (Server, Arc<ClientConfig>) {
    let files = generate_dev_certs(dir).expect("dev certs");
    let certificate = load_certificate(&files.cert, &files.key).expect("load certs");
    let config = server_config(Arc::new(CertResolver::new(certificate.key)), None).expect("TLS");
    let app = webhook::router(state).merge(server::health_routes(Default::default()));
    let server = Server::start(config, app, options).await;
    (server, client_config(&[&files.ca_cert], None))
}

/// `portcullis serve` as a child process on free loopback ports, its stderr in a file.
pub struct Serve {
    pub child: Child,
    pub listen: SocketAddr,
    pub metrics: SocketAddr,
    pub log: PathBuf,
    pub ca: PathBuf,
}

impl Serve {
    /// Starts the binary in `workdir` (where it writes `certs-dev/`) and waits until it is ready.
    pub async fn start(workdir: &Path, extra: &[&str]) -> Serve {
        let (listen, metrics) = (free_port(), free_port());
        let log = workdir.join("serve.log");
        let mut child = serve_command(workdir, &listen, &metrics, extra, &log)
            .spawn()
            .expect("spawn portcullis serve");
        wait_ready(metrics, &mut child).await;
        Serve {
            child,
            listen,
            metrics,
            log,
            ca: workdir.join("certs-dev/ca.crt"),
        }
    }

    pub async fn connect(&self) -> Connection {
        Connection::tls(self.listen, client_config(&[&self.ca], None), SERVICE_NAME)
            .await
            .expect("TLS handshake")
    }

    pub fn sigterm(&self) {
        self.signal("-TERM");
    }

    pub fn sigint(&self) {
        self.signal("-INT");
    }

    fn signal(&self, which: &str) {
        let status = Command::new("kill")
            .args([which, &self.child.id().to_string()])
            .status()
            .expect("run kill");
        assert!(status.success(), "kill {which} failed");
    }

    /// Waits (at most `patience`) for the process to exit.
    pub async fn exit(&mut self, patience: Duration) -> ExitStatus {
        wait_exit(&mut self.child, patience).await
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn serve_command(
    workdir: &Path,
    listen: &SocketAddr,
    metrics: &SocketAddr,
    extra: &[&str],
    log: &Path,
) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_portcullis"));
    command
        .args(["serve", "--listen", &listen.to_string()])
        .args(["--metrics-listen", &metrics.to_string()])
        .args(extra)
        .current_dir(workdir)
        .env("RUST_LOG", "info")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(log).expect("log file"));
    command
}

pub async fn wait_exit(child: &mut Child, patience: Duration) -> ExitStatus {
    let deadline = Instant::now() + patience;
    loop {
        if let Some(exit) = child.try_wait().expect("wait") {
            return exit;
        }
        assert!(Instant::now() < deadline, "process did not exit in time");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
