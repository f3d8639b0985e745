//! The transport through real sockets on `127.0.0.1:0`: TLS verification under the Service DNS
//! name, certificate rotation in the Kubernetes Secret layout while a client keeps posting,
//! mutual TLS, the graceful-shutdown sequence, timeouts for clients that say nothing, and the
//! limit on open connections.

pub mod support;

use std::os::unix::fs::symlink;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use axum::Router;
use axum::routing::{get, post};
use hyper::StatusCode;
use portcullis::metrics::Metrics;
use portcullis::reload::WatchOptions;
use portcullis::server::{HandshakeRefusals, ServeOptions};
use portcullis::tls::{
    CertResolver, generate_dev_certs, load_certificate, server_config, spawn_certificate_reloader,
};
use tokio::io::AsyncReadExt;
use tokio::net::TcpStream;
use tokio::sync::{mpsc, watch};
use tokio::time::timeout;

use support::{
    Connection, PATIENCE, SERVICE_NAME, Server, chain, client_config, client_identity,
    plain_request, tls_request,
};

fn hello() -> Router {
    Router::new().route("/", get(|| async { "hello" }).post(|| async { "posted" }))
}

fn fast_options() -> ServeOptions {
    ServeOptions {
        shutdown_delay: Duration::ZERO,
        shutdown_timeout: Duration::from_secs(5),
        header_read_timeout: Duration::from_secs(5),
        handshake_timeout: Duration::from_secs(5),
        ..ServeOptions::default()
    }
}

/// A server with fresh development certificates in `dir`.
async fn dev_server(dir: &Path, app: Router, options: ServeOptions) -> Server {
    let files = generate_dev_certs(dir).unwrap();
    let resolver = CertResolver::new(load_certificate(&files.cert, &files.key).unwrap().key);
    let config = server_config(Arc::new(resolver), None).unwrap();
    Server::start(config, app, options).await
}

#[tokio::test]
async fn the_dev_ca_verifies_the_service_name_and_nothing_else_does() {
    let dir = tempfile::tempdir().unwrap();
    let server = dev_server(dir.path(), hello(), fast_options()).await;
    let trusted = client_config(&[&dir.path().join("ca.crt")], None);

    for name in [
        SERVICE_NAME,
        "portcullis.portcullis.svc.cluster.local",
        "127.0.0.1",
    ] {
        let (status, _) = tls_request(server.tls_addr, trusted.clone(), name, "/")
            .await
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(status, StatusCode::OK, "{name}");
    }

    let err = tls_request(server.tls_addr, trusted, "evil.example", "/")
        .await
        .unwrap_err();
    assert!(err.to_string().contains("certificate"), "{err}");

    let other = tempfile::tempdir().unwrap();
    generate_dev_certs(other.path()).unwrap();
    let untrusted = client_config(&[&other.path().join("ca.crt")], None);
    let err = tls_request(server.tls_addr, untrusted, SERVICE_NAME, "/")
        .await
        .unwrap_err();
    assert!(err.to_string().contains("certificate"), "{err}");
}

/// Points the Secret-style `..data` symlink in `root` at `target`, atomically as the kubelet does.
fn swap_data(root: &Path, target: &str) {
    symlink(target, root.join("..data_tmp")).unwrap();
    std::fs::rename(root.join("..data_tmp"), root.join("..data")).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn certificates_rotate_under_load_and_a_broken_pair_keeps_the_old_one() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    let a = generate_dev_certs(&root.join("..2024_a")).unwrap();
    let b = generate_dev_certs(&root.join("..2024_b")).unwrap();
    symlink("..2024_a", root.join("..data")).unwrap();
    symlink("..data/tls.crt", root.join("tls.crt")).unwrap();
    symlink("..data/tls.key", root.join("tls.key")).unwrap();
    let (cert, key) = (root.join("tls.crt"), root.join("tls.key"));

    let first = load_certificate(&cert, &key).unwrap();
    let serial_a = first.info.serial.clone();
    let serial_b = load_certificate(&b.cert, &b.key).unwrap().info.serial;
    assert_ne!(serial_a, serial_b);
    let resolver = Arc::new(CertResolver::new(first.key));
    let (results_tx, mut results) = mpsc::unbounded_channel();
    let options = WatchOptions {
        debounce: Duration::from_millis(50),
        poll_interval: Duration::from_secs(1),
    };
    let _reloader =
        spawn_certificate_reloader(cert, key, resolver.clone(), options, move |result| {
            let _ = results_tx.send(result);
        })
        .unwrap();
    let server = Server::start(
        server_config(resolver, None).unwrap(),
        hello(),
        fast_options(),
    )
    .await;
    let client = client_config(&[&a.ca_cert, &b.ca_cert], None);

    // A client that keeps one keep-alive connection busy and opens a new one every few requests,
    // publishing the serial each new handshake saw.
    let (seen_tx, mut seen) = watch::channel(String::new());
    let stop = Arc::new(AtomicBool::new(false));
    let load = tokio::spawn({
        let (client, stop, addr) = (client.clone(), stop.clone(), server.tls_addr);
        async move {
            let mut kept = Connection::tls(addr, client.clone(), SERVICE_NAME)
                .await
                .unwrap();
            let (mut ok, mut failures) = (0u32, Vec::new());
            for i in 0..100_000 {
                if stop.load(Ordering::Relaxed) {
                    break;
                }
                match kept.send("POST", "/").await {
                    Ok((StatusCode::OK, _)) => ok += 1,
                    other => failures.push(format!("keep-alive: {other:?}")),
                }
                if i % 4 == 0 {
                    match tls_request(addr, client.clone(), SERVICE_NAME, "/").await {
                        Ok((StatusCode::OK, Some(serial))) => {
                            ok += 1;
                            seen_tx.send_replace(serial);
                        }
                        other => failures.push(format!("new connection: {other:?}")),
                    }
                }
            }
            (ok, failures, kept.serial)
        }
    });
    timeout(PATIENCE, seen.wait_for(|s| *s == serial_a))
        .await
        .unwrap()
        .unwrap();

    swap_data(root, "..2024_b");
    let reloaded = timeout(PATIENCE, results.recv()).await.unwrap().unwrap();
    assert_eq!(reloaded.unwrap().serial, serial_b);
    timeout(PATIENCE, seen.wait_for(|s| *s == serial_b))
        .await
        .expect("new handshakes present the new certificate")
        .unwrap();

    // A pair whose key belongs to another certificate must not be served.
    let c = generate_dev_certs(&root.join("..2024_c")).unwrap();
    std::fs::copy(&a.key, &c.key).unwrap();
    swap_data(root, "..2024_c");
    let rejected = timeout(PATIENCE, results.recv()).await.unwrap().unwrap();
    assert_eq!(rejected.unwrap_err().kind(), "key_mismatch");
    let (status, serial) = tls_request(server.tls_addr, client, SERVICE_NAME, "/")
        .await
        .unwrap();
    assert_eq!(
        (status, serial.as_deref()),
        (StatusCode::OK, Some(&*serial_b))
    );

    stop.store(true, Ordering::Relaxed);
    let (ok, failures, kept_serial) = timeout(PATIENCE, load).await.unwrap().unwrap();
    assert!(failures.is_empty(), "{failures:#?}");
    assert!(ok > 0);
    // The connection opened before the rotation kept its certificate and kept working.
    assert_eq!(kept_serial, Some(serial_a));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_drains_in_flight_requests_and_closes_idle_connections() {
    const REQUESTS: usize = 8;
    let (started_tx, mut started) = mpsc::unbounded_channel::<()>();
    let (release, released) = watch::channel(false);
    // Each slow request reports that it reached the handler, then holds until released, so
    // the test knows exactly which requests are in flight when shutdown begins.
    let app = hello().route(
        "/slow",
        post(move || {
            let (started_tx, mut released) = (started_tx.clone(), released.clone());
            async move {
                let _ = started_tx.send(());
                let _ = released.wait_for(|r| *r).await;
                "done"
            }
        }),
    );
    let options = ServeOptions {
        // Long enough for one request to `/readyz` to land during the delay.
        shutdown_delay: Duration::from_secs(1),
        ..fast_options()
    };
    let dir = tempfile::tempdir().unwrap();
    let mut server = dev_server(dir.path(), app, options).await;
    let client = client_config(&[&dir.path().join("ca.crt")], None);
    let (status, _) = plain_request(server.plain_addr, "/readyz").await.unwrap();
    assert_eq!(status, StatusCode::OK);

    let mut idle = Connection::tls(server.tls_addr, client.clone(), SERVICE_NAME)
        .await
        .unwrap();
    assert_eq!(idle.send("GET", "/").await.unwrap().0, StatusCode::OK);

    let mut slow = tokio::task::JoinSet::new();
    for _ in 0..REQUESTS {
        let (client, addr) = (client.clone(), server.tls_addr);
        slow.spawn(async move {
            let mut connection = Connection::tls(addr, client, SERVICE_NAME).await?;
            connection.send("POST", "/slow").await
        });
    }
    for _ in 0..REQUESTS {
        timeout(PATIENCE, started.recv()).await.unwrap().unwrap();
    }

    server.trigger_shutdown();
    let (status, body) = plain_request(server.plain_addr, "/readyz").await.unwrap();
    assert_eq!(
        (status, &body[..]),
        (StatusCode::SERVICE_UNAVAILABLE, &b"not ready"[..])
    );
    assert!(!server.readiness.is_ready());

    // Idle keep-alive connections are closed as soon as the delay ends, after the listeners.
    timeout(PATIENCE, idle.driver)
        .await
        .expect("the idle keep-alive connection is closed")
        .unwrap();
    for addr in [server.tls_addr, server.plain_addr] {
        let err = TcpStream::connect(addr).await.unwrap_err();
        assert_eq!(err.kind(), std::io::ErrorKind::ConnectionRefused, "{addr}");
    }
    assert_eq!(
        slow.len(),
        REQUESTS,
        "slow requests finished before release"
    );

    release.send_replace(true);
    while let Some(joined) = timeout(PATIENCE, slow.join_next()).await.unwrap() {
        let (status, body) = joined.unwrap().unwrap();
        assert_eq!((status, &body[..]), (StatusCode::OK, &b"done"[..]));
    }
    timeout(PATIENCE, server.handle)
        .await
        .expect("serve returns after draining")
        .unwrap()
        .unwrap();
}

#[tokio::test]
async fn shutdown_gives_up_on_requests_that_outlive_the_timeout() {
    let (started_tx, mut started) = mpsc::unbounded_channel::<()>();
    let app = hello().route(
        "/hang",
        post(move || {
            let started_tx = started_tx.clone();
            async move {
                let _ = started_tx.send(());
                std::future::pending::<&str>().await
            }
        }),
    );
    let options = ServeOptions {
        shutdown_timeout: Duration::from_millis(200),
        ..fast_options()
    };
    let dir = tempfile::tempdir().unwrap();
    let mut server = dev_server(dir.path(), app, options).await;
    let client = client_config(&[&dir.path().join("ca.crt")], None);
    let mut connection = Connection::tls(server.tls_addr, client, SERVICE_NAME)
        .await
        .unwrap();
    let request = tokio::spawn(async move { connection.send("POST", "/hang").await });
    timeout(PATIENCE, started.recv()).await.unwrap().unwrap();

    server.trigger_shutdown();
    timeout(PATIENCE, server.handle)
        .await
        .expect("serve returns once the shutdown timeout passes")
        .unwrap()
        .unwrap();
    assert!(timeout(PATIENCE, request).await.unwrap().unwrap().is_err());
}

#[tokio::test]
async fn mutual_tls_requires_a_client_certificate_from_the_configured_ca() {
    let dir = tempfile::tempdir().unwrap();
    let files = generate_dev_certs(dir.path()).unwrap();
    let (client_ca, client_chain, client_key) = client_identity();
    let client_ca_file = dir.path().join("client-ca.crt");
    std::fs::write(&client_ca_file, client_ca).unwrap();
    let resolver = CertResolver::new(load_certificate(&files.cert, &files.key).unwrap().key);
    let config = server_config(Arc::new(resolver), Some(&client_ca_file)).unwrap();
    let metrics = Metrics::new().unwrap();
    let refusals = HandshakeRefusals::new(metrics.tls_client_refusals.clone());
    // The test's runtime has one thread, the server's tasks' too: this subscriber sees them.
    let log = LogLines::default();
    let _logging = tracing::subscriber::set_default(
        tracing_subscriber::fmt()
            .with_writer(log.clone())
            .with_ansi(false)
            .finish(),
    );
    let server = Server::start_counting(config, hello(), fast_options(), refusals).await;

    let anonymous = client_config(&[&files.ca_cert], None);
    // Under TLS 1.3 the client finishes its side first; the server's rejection arrives as an
    // alert on the first read, so the whole exchange is what must fail.
    for _ in 0..3 {
        let err = tls_request(server.tls_addr, anonymous.clone(), SERVICE_NAME, "/")
            .await
            .unwrap_err();
        let err = chain(&err);
        assert!(err.contains("CertificateRequired"), "{err}");
    }

    let (_, stranger_chain, stranger_key) = client_identity();
    let stranger = client_config(&[&files.ca_cert], Some((&stranger_chain, &stranger_key)));
    assert!(
        tls_request(server.tls_addr, stranger, SERVICE_NAME, "/")
            .await
            .is_err()
    );
    // Every refusal counted by its reason; one line for the burst.
    let counted = metrics.encode();
    for series in [
        r#"portcullis_tls_client_certificate_refusals_total{reason="no_certificate"} 3"#,
        r#"portcullis_tls_client_certificate_refusals_total{reason="untrusted_certificate"} 1"#,
    ] {
        assert!(
            counted.lines().any(|line| line == series),
            "{series}:\n{counted}"
        );
    }
    let text = log.text();
    let refused: Vec<&str> = text
        .lines()
        .filter(|line| line.contains("TLS handshake refused"))
        .collect();
    assert_eq!(refused.len(), 1, "{text}");
    assert!(
        refused[0].contains("WARN") && refused[0].contains("reason=\"no_certificate\""),
        "{text}"
    );

    let apiserver = client_config(&[&files.ca_cert], Some((&client_chain, &client_key)));
    let (status, _) = tls_request(server.tls_addr, apiserver, SERVICE_NAME, "/")
        .await
        .unwrap();
    assert_eq!(status, StatusCode::OK);
}

/// At the connection limit the listener accepts nothing: a new client's handshake waits in the
/// kernel's queue until an open connection closes, the open ones keep working, and the plain
/// listener, with slots of its own, still answers probes.
#[tokio::test]
async fn connections_over_the_limit_wait_until_one_closes() {
    let options = ServeOptions {
        max_connections: 2,
        ..fast_options()
    };
    let dir = tempfile::tempdir().unwrap();
    let server = dev_server(dir.path(), hello(), options).await;
    let trusted = client_config(&[&dir.path().join("ca.crt")], None);
    let mut first = Connection::tls(server.tls_addr, trusted.clone(), SERVICE_NAME)
        .await
        .unwrap();
    let second = Connection::tls(server.tls_addr, trusted.clone(), SERVICE_NAME)
        .await
        .unwrap();
    let third = tokio::spawn(Connection::tls(
        server.tls_addr,
        trusted.clone(),
        SERVICE_NAME,
    ));
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(!third.is_finished(), "a third connection was accepted");
    let (status, _) = first.send("GET", "/").await.unwrap();
    assert_eq!(status, StatusCode::OK);
    let (status, _) = plain_request(server.plain_addr, "/healthz").await.unwrap();
    assert_eq!(status, StatusCode::OK);

    drop(second);
    let mut third = timeout(PATIENCE, third)
        .await
        .expect("accepted once a connection closed")
        .unwrap()
        .unwrap();
    let (status, body) = third.send("GET", "/").await.unwrap();
    assert_eq!((status, &body[..]), (StatusCode::OK, &b"hello"[..]));
    let (status, _) = first.send("GET", "/").await.unwrap();
    assert_eq!(status, StatusCode::OK);
}

/// The plain listener lets a silent client go after 10 s however long the webhook's header
/// timeout is, so clients that hold its connections cannot keep the kubelet's probes out for
/// long; the webhook keeps its own, longer, wait.
#[tokio::test]
async fn the_plain_listener_frees_silent_connections_sooner() {
    let options = ServeOptions {
        header_read_timeout: Duration::from_secs(100),
        ..fast_options()
    };
    let dir = tempfile::tempdir().unwrap();
    let server = dev_server(dir.path(), hello(), options).await;
    let trusted = client_config(&[&dir.path().join("ca.crt")], None);
    let mut webhook = Connection::tls(server.tls_addr, trusted, SERVICE_NAME)
        .await
        .unwrap();
    let mut silent = TcpStream::connect(server.plain_addr).await.unwrap();
    let started = std::time::Instant::now();
    let mut buf = Vec::new();
    let _ = timeout(Duration::from_secs(30), silent.read_to_end(&mut buf))
        .await
        .expect("the plain listener let a silent client go");
    let waited = started.elapsed();
    assert!(
        (Duration::from_secs(9)..Duration::from_secs(30)).contains(&waited),
        "{waited:?}"
    );
    // The idle webhook connection, as old, is still served.
    let (status, _) = webhook.send("GET", "/").await.unwrap();
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn silent_clients_are_disconnected() {
    let options = ServeOptions {
        handshake_timeout: Duration::from_millis(200),
        header_read_timeout: Duration::from_millis(200),
        ..fast_options()
    };
    let dir = tempfile::tempdir().unwrap();
    let server = dev_server(dir.path(), hello(), options).await;
    // One client that never starts its TLS handshake, one that never sends request headers.
    for addr in [server.tls_addr, server.plain_addr] {
        let mut stream = TcpStream::connect(addr).await.unwrap();
        let mut buf = Vec::new();
        let read = timeout(PATIENCE, stream.read_to_end(&mut buf))
            .await
            .unwrap_or_else(|_| panic!("{addr}: a silent client was never disconnected"));
        // A clean close, or a reset: either way the server let go.
        if let Ok(n) = read {
            assert!(n < 1024, "{addr}: unexpected response {buf:?}");
        }
    }
}

/// Log output kept in memory.
#[derive(Clone, Default)]
struct LogLines(Arc<std::sync::Mutex<Vec<u8>>>);

impl LogLines {
    fn text(&self) -> String {
        String::from_utf8(self.0.lock().unwrap().clone()).unwrap()
    }
}

impl std::io::Write for LogLines {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for LogLines {
    type Writer = LogLines;

    fn make_writer(&'a self) -> LogLines {
        self.clone()
    }
}
