//! The load test's baseline: an axum + rustls webhook that allows every review, on the same
//! transport as `portcullis serve` (the same ECDSA P-256 certificate, `TCP_NODELAY`, HTTP/1.1
//! keep-alive, through `server::serve`), parsing only the `uid` it must echo. The throughput
//! ratio of `serve` to this is the cost of judging. Run by `benches/load.sh`.
//!
//! Usage: `bare_server LISTEN CERT KEY` (e.g. `127.0.0.1:9443 certs-dev/tls.crt certs-dev/tls.key`).

mod answer;

use axum::Router;
use axum::body::Bytes;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::post;
use portcullis::server::{self, Readiness, ServeOptions};
use portcullis::tls::{CertResolver, load_certificate, server_config};
use std::path::PathBuf;
use std::sync::Arc;

// The same allocator as `portcullis`, so the ratio compares judging, not allocators.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

async fn allow(body: Bytes) -> impl IntoResponse {
    let (status, body) = match answer::allow(&body) {
        Ok(answer) => (StatusCode::OK, answer),
        Err(error) => (
            StatusCode::BAD_REQUEST,
            serde_json::json!({"error": error.to_string()}).to_string(),
        ),
    };
    (status, [(header::CONTENT_TYPE, "application/json")], body)
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let usage = "usage: bare_server LISTEN CERT KEY";
    let listen = args.next().ok_or(usage)?;
    let cert = PathBuf::from(args.next().ok_or(usage)?);
    let key = PathBuf::from(args.next().ok_or(usage)?);
    let _ = rustls::crypto::ring::default_provider().install_default();
    let certificate = load_certificate(&cert, &key)?;
    let tls = server_config(Arc::new(CertResolver::new(certificate.key)), None)?;
    let tls_listener = tokio::net::TcpListener::bind(&listen).await?;
    let plain_listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let readiness = Readiness::new();
    readiness.set(true);
    let app = Router::new().route("/validate", post(allow));
    let options = ServeOptions {
        shutdown_delay: std::time::Duration::ZERO,
        ..ServeOptions::default()
    };
    server::serve(
        tls_listener,
        tls,
        app,
        plain_listener,
        server::health_routes(readiness.clone()),
        readiness,
        options,
        server::HandshakeRefusals::uncounted(),
        server::shutdown_signal(),
    )
    .await?;
    Ok(())
}
