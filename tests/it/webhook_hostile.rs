//! Hostile and malformed requests against the webhook behind its real TLS listener: every one
//! gets its status and a JSON error naming the reason, the server stays healthy, a client that
//! dribbles a body is cut off, request bodies share a memory budget, and many keep-alive
//! connections at once each get their own answers.

use crate::fixtures::{pod, review, state};
use crate::transport::support::{Connection, PATIENCE, SERVICE_NAME, plain_request};
use crate::webhook_support::{post, tls_webhook};
use hyper::StatusCode;
use portcullis::server::ServeOptions;
use portcullis::webhook::{AppState, WebhookOptions};
use rustls_pki_types::ServerName;
use serde_json::{Value, json};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;

fn options() -> ServeOptions {
    ServeOptions {
        shutdown_delay: Duration::ZERO,
        shutdown_timeout: Duration::from_secs(5),
        header_read_timeout: Duration::from_secs(5),
        handshake_timeout: Duration::from_secs(5),
        ..ServeOptions::default()
    }
}

/// A well-formed CREATE review with `edit` applied to it, serialized.
fn edited(edit: impl FnOnce(&mut Value)) -> Vec<u8> {
    let mut body = review("hostile", &pod("web", "shop", &["nginx:1.25.3"]));
    edit(&mut body);
    serde_json::to_vec(&body).unwrap()
}

/// A well-formed review whose Pod spec carries `field` as raw JSON text.
fn spliced(field: &str) -> Vec<u8> {
    let text = String::from_utf8(edited(|_| {})).unwrap();
    let spliced = text.replacen(r#""restartPolicy":"Always""#, field, 1);
    assert_ne!(spliced, text);
    spliced.into_bytes()
}

fn nested(depth: usize, open: &str, close: &str) -> Vec<u8> {
    spliced(&format!(
        r#""deep":{}1{}"#,
        open.repeat(depth),
        close.repeat(depth)
    ))
}

struct Case {
    name: &'static str,
    path: &'static str,
    body: Vec<u8>,
    status: StatusCode,
    reason: Option<&'static str>,
}

fn case(name: &'static str, body: Vec<u8>, status: StatusCode, reason: &'static str) -> Case {
    Case {
        name,
        path: "/validate",
        body,
        status,
        reason: Some(reason),
    }
}

fn cases() -> Vec<Case> {
    let bad = StatusCode::BAD_REQUEST;
    let mut over_limit = edited(|_| {});
    over_limit.resize(portcullis::webhook::handler::BODY_LIMIT + 1, b' ');
    let mut invalid_utf8 = edited(|_| {});
    let at = invalid_utf8
        .windows(5)
        .position(|w| w == b"shop\"")
        .unwrap();
    invalid_utf8[at] = 0xff;
    vec![
        case("not JSON", b"{not json".to_vec(), bad, "malformed_json"),
        case("empty body", Vec::new(), bad, "malformed_json"),
        case("JSON null", b"null".to_vec(), bad, "malformed_json"),
        case("JSON array", b"[]".to_vec(), bad, "malformed_json"),
        case(
            "JSON string",
            br#""AdmissionReview""#.to_vec(),
            bad,
            "malformed_json",
        ),
        case(
            "truncated",
            edited(|_| {})[..200].to_vec(),
            bad,
            "malformed_json",
        ),
        case(
            "trailing garbage",
            [edited(|_| {}), b" xyz".to_vec()].concat(),
            bad,
            "malformed_json",
        ),
        case("invalid UTF-8", invalid_utf8, bad, "malformed_json"),
        case(
            "number out of range",
            spliced(r#""x":1e999"#),
            bad,
            "malformed_json",
        ),
        case(
            "nested arrays past the recursion limit",
            nested(10_000, "[", "]"),
            bad,
            "malformed_json",
        ),
        case(
            "nested objects past the recursion limit",
            nested(200, r#"{"a":"#, "}"),
            bad,
            "malformed_json",
        ),
        case(
            "request is a string",
            edited(|r| r["request"] = json!("req")),
            bad,
            "malformed_json",
        ),
        case(
            "uid is a number",
            edited(|r| r["request"]["uid"] = json!(7)),
            bad,
            "malformed_json",
        ),
        case(
            "Pod, not a review",
            serde_json::to_vec(&pod("web", "shop", &["nginx"])).unwrap(),
            bad,
            "wrong_type",
        ),
        case(
            "apiVersion v2",
            edited(|r| r["apiVersion"] = json!("admission.k8s.io/v2")),
            bad,
            "wrong_type",
        ),
        case(
            "no apiVersion",
            edited(|r| {
                r.as_object_mut().unwrap().remove("apiVersion");
            }),
            bad,
            "wrong_type",
        ),
        case(
            "kind ConversionReview",
            edited(|r| r["kind"] = json!("ConversionReview")),
            bad,
            "wrong_type",
        ),
        case(
            "no request",
            edited(|r| r["request"] = Value::Null),
            bad,
            "missing_request",
        ),
        case(
            "no uid",
            edited(|r| {
                r["request"].as_object_mut().unwrap().remove("uid");
            }),
            bad,
            "missing_uid",
        ),
        case(
            "empty uid",
            edited(|r| r["request"]["uid"] = json!("")),
            bad,
            "missing_uid",
        ),
        case(
            "operation PATCH",
            edited(|r| r["request"]["operation"] = json!("PATCH")),
            bad,
            "bad_operation",
        ),
        case(
            "no operation",
            edited(|r| {
                r["request"].as_object_mut().unwrap().remove("operation");
            }),
            bad,
            "bad_operation",
        ),
        case(
            "no kind",
            edited(|r| r["request"]["kind"] = Value::Null),
            bad,
            "missing_kind",
        ),
        case(
            "kind without version",
            edited(|r| r["request"]["kind"] = json!({"kind": "Pod"})),
            bad,
            "missing_kind",
        ),
        case(
            "object is a string",
            edited(|r| r["request"]["object"] = json!("pod")),
            bad,
            "bad_object",
        ),
        case(
            "object is an array",
            edited(|r| r["request"]["object"] = json!([1, 2])),
            bad,
            "bad_object",
        ),
        case(
            "oldObject is a number",
            edited(|r| r["request"]["oldObject"] = json!(3)),
            bad,
            "bad_object",
        ),
        case(
            "CREATE without object",
            edited(|r| r["request"]["object"] = Value::Null),
            bad,
            "bad_object",
        ),
        case(
            "DELETE without oldObject",
            edited(|r| {
                r["request"]["operation"] = json!("DELETE");
                r["request"]["object"] = Value::Null;
            }),
            bad,
            "bad_object",
        ),
        case(
            "body over 8 MiB",
            over_limit,
            StatusCode::PAYLOAD_TOO_LARGE,
            "too_large",
        ),
        // 600 KB of `0,` would build 300,000 values of 32 bytes and more each.
        case(
            "more values than can be judged",
            edited(|r| r["request"]["object"]["spec"]["containers"] = json!(vec![0; 300_000])),
            StatusCode::PAYLOAD_TOO_LARGE,
            "too_many_values",
        ),
        case(
            "more groups than can be judged",
            edited(|r| r["request"]["userInfo"]["groups"] = json!(vec![""; 5000])),
            StatusCode::PAYLOAD_TOO_LARGE,
            "too_many_values",
        ),
        // serde_json quotes the string in its error; the refusal carries the start of it.
        case(
            "a megabyte string where a boolean belongs",
            edited(|r| r["request"]["dryRun"] = json!("A".repeat(1 << 20))),
            bad,
            "malformed_json",
        ),
        Case {
            path: "/validate?timeout=soon",
            ..case("unparseable timeout", edited(|_| {}), bad, "bad_timeout")
        },
        Case {
            path: "/validate?timeout=5000000000000000h",
            reason: None,
            ..case(
                "a timeout past the end of the clock",
                edited(|_| {}),
                StatusCode::OK,
                "",
            )
        },
        Case {
            path: "/mutate",
            ..case(
                "unknown path",
                edited(|_| {}),
                StatusCode::NOT_FOUND,
                "not_found",
            )
        },
    ]
}

#[tokio::test]
async fn every_hostile_request_gets_its_json_error_and_the_server_stays_healthy() {
    let dir = tempfile::tempdir().unwrap();
    let state = state(&["policies"]);
    let (server, client) = tls_webhook(dir.path(), state.clone(), options()).await;
    let cases = cases();
    assert!(cases.len() >= 25);
    for case in &cases {
        // A fresh connection each: a refused body may leave the connection unusable.
        let mut connection = Connection::tls(server.tls_addr, client.clone(), SERVICE_NAME)
            .await
            .expect("TLS handshake");
        let (status, answer) = post(&mut connection, case.path, case.body.clone())
            .await
            .unwrap_or_else(|e| panic!("{}: {e}", case.name));
        assert_eq!(status, case.status, "{}: {answer}", case.name);
        if let Some(reason) = case.reason {
            assert_eq!(answer["reason"], reason, "{}: {answer}", case.name);
            assert!(
                answer["error"]
                    .as_str()
                    .is_some_and(|e| !e.is_empty() && e.len() <= 1100),
                "{}: {answer:.2000}",
                case.name
            );
        }
    }

    let (status, _) = plain_request(server.plain_addr, "/healthz").await.unwrap();
    assert_eq!(status, StatusCode::OK);
    let mut connection = Connection::tls(server.tls_addr, client, SERVICE_NAME)
        .await
        .unwrap();
    for (uid, image, allowed) in [
        ("after-1", "nginx:latest", false),
        ("after-2", "nginx:1.25.3", true),
    ] {
        let body = serde_json::to_vec(&review(uid, &pod("web", "shop", &[image]))).unwrap();
        let (status, answer) = post(&mut connection, "/validate", body).await.unwrap();
        assert_eq!(status, StatusCode::OK);
        assert_eq!(answer["response"]["uid"], uid);
        assert_eq!(answer["response"]["allowed"], allowed);
    }
    let metrics = state.metrics.encode();
    let counted = |reason: &str| {
        cases
            .iter()
            .filter(|case| case.reason == Some(reason))
            .count()
    };
    for reason in [
        "malformed_json",
        "wrong_type",
        "too_large",
        "bad_object",
        "bad_timeout",
    ] {
        let line = format!(
            r#"portcullis_admission_request_errors_total{{reason="{reason}"}} {}"#,
            counted(reason)
        );
        assert!(metrics.contains(&line), "lacks {line}:\n{metrics}");
    }
    assert!(
        metrics.contains("portcullis_admission_requests_in_flight 0"),
        "{metrics}"
    );
}

/// The webhook with the default policies and `options`.
fn state_with(options: WebhookOptions) -> std::sync::Arc<AppState> {
    AppState::with_options(
        crate::fixtures::load(&["policies"]),
        portcullis::metrics::Metrics::new().unwrap(),
        options,
    )
}

#[tokio::test]
async fn a_client_that_dribbles_its_body_is_cut_off() {
    let dir = tempfile::tempdir().unwrap();
    let state = state_with(WebhookOptions {
        body_read_timeout: Duration::from_millis(300),
        ..WebhookOptions::default()
    });
    let (server, client) = tls_webhook(dir.path(), state.clone(), self::options()).await;
    let mut tls = body_started(server.tls_addr, client, 4000).await;
    // A byte every 100 ms would take 400 s to finish the body.
    let dribble = async {
        for byte in b"\"apiVersion\": \"admission.k8s.io/v1\"" {
            if tls.write_all(&[*byte]).await.is_err() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    };
    let _ = tokio::time::timeout(Duration::from_millis(600), dribble).await;
    let text = response_text(tls).await;
    assert!(text.starts_with("HTTP/1.1 408"), "{text}");
    assert!(text.contains(r#""reason":"body_timeout""#), "{text}");
    assert!(
        state
            .metrics
            .encode()
            .contains(r#"portcullis_admission_request_errors_total{reason="body_timeout"} 1"#)
    );
}

/// A TLS connection to write raw HTTP on.
async fn raw_tls(
    addr: std::net::SocketAddr,
    client: std::sync::Arc<rustls::ClientConfig>,
) -> tokio_rustls::client::TlsStream<TcpStream> {
    let tcp = TcpStream::connect(addr).await.unwrap();
    let name = ServerName::try_from(SERVICE_NAME).unwrap();
    TlsConnector::from(client).connect(name, tcp).await.unwrap()
}

/// A request that has sent its headers, declaring a body of `length` bytes, and one byte of it.
async fn body_started(
    addr: std::net::SocketAddr,
    client: std::sync::Arc<rustls::ClientConfig>,
    length: usize,
) -> tokio_rustls::client::TlsStream<TcpStream> {
    let mut tls = raw_tls(addr, client).await;
    let head = format!(
        "POST /validate HTTP/1.1\r\nhost: {SERVICE_NAME}\r\ncontent-type: application/json\r\ncontent-length: {length}\r\n\r\n{{"
    );
    tls.write_all(head.as_bytes()).await.unwrap();
    tls.flush().await.unwrap();
    tls
}

async fn response_text(mut tls: tokio_rustls::client::TlsStream<TcpStream>) -> String {
    let mut response = Vec::new();
    // The peer may reset rather than close cleanly after it answered; the answer is what counts.
    let _ = tokio::time::timeout(PATIENCE, tls.read_to_end(&mut response))
        .await
        .expect("the server answers and closes");
    String::from_utf8_lossy(&response).into_owned()
}

/// Headers larger than a connection's read buffer get 431 instead of growing it, and the
/// server goes on answering.
#[tokio::test]
async fn oversized_headers_get_431() {
    let dir = tempfile::tempdir().unwrap();
    let state = state(&["policies"]);
    let (server, client) = tls_webhook(dir.path(), state, options()).await;
    let mut tls = raw_tls(server.tls_addr, client.clone()).await;
    let head = format!(
        "POST /validate HTTP/1.1\r\nhost: {SERVICE_NAME}\r\nx-padding: {}\r\ncontent-length: 2\r\n\r\n{{}}",
        "a".repeat(64 * 1024)
    );
    // The server may answer and close before it has read everything.
    let _ = tls.write_all(head.as_bytes()).await;
    let text = response_text(tls).await;
    assert!(text.starts_with("HTTP/1.1 431"), "{text}");

    let mut connection = Connection::tls(server.tls_addr, client, SERVICE_NAME)
        .await
        .unwrap();
    let (status, answer) = post(&mut connection, "/validate", edited(|_| {}))
        .await
        .unwrap();
    assert_eq!(status, StatusCode::OK, "{answer}");
}

/// Request bodies share one memory budget. Two slow clients each declare a body as large as
/// all of it, so the second waits for the first; a review behind them, in the same queue, waits
/// for longer than it may and gets 503. Once the slow clients have been cut off, reviews are
/// answered again.
#[tokio::test]
async fn request_bodies_share_a_memory_budget() {
    let dir = tempfile::tempdir().unwrap();
    let budget = 64 * 1024;
    let state = state_with(WebhookOptions {
        body_read_timeout: Duration::from_millis(500),
        body_memory: budget,
        ..WebhookOptions::default()
    });
    let (server, client) = tls_webhook(dir.path(), state.clone(), self::options()).await;
    let first = body_started(server.tls_addr, client.clone(), budget).await;
    let second = body_started(server.tls_addr, client.clone(), budget).await;
    // Both are in the handler (one reading, one queued for the budget) before the review comes.
    let deadline = std::time::Instant::now() + PATIENCE;
    while state.metrics.in_flight.get() < 2 {
        assert!(
            std::time::Instant::now() < deadline,
            "the slow requests never arrived"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }

    let mut connection = Connection::tls(server.tls_addr, client, SERVICE_NAME)
        .await
        .unwrap();
    let body = edited(|_| {});
    let (status, answer) = post(&mut connection, "/validate", body.clone())
        .await
        .unwrap();
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{answer}");
    assert_eq!(answer["reason"], "busy", "{answer}");
    assert!(
        answer["error"]
            .as_str()
            .is_some_and(|error| error.contains(&budget.to_string())),
        "{answer}"
    );

    for slow in [first, second] {
        let text = response_text(slow).await;
        assert!(text.starts_with("HTTP/1.1 408"), "{text}");
    }
    let (status, answer) = post(&mut connection, "/validate", body).await.unwrap();
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(answer["response"]["allowed"], true);
    let metrics = state.metrics.encode();
    for line in [
        r#"portcullis_admission_request_errors_total{reason="busy"} 1"#,
        r#"portcullis_admission_request_errors_total{reason="body_timeout"} 2"#,
    ] {
        assert!(metrics.contains(line), "lacks {line}:\n{metrics}");
    }
}

#[tokio::test]
async fn two_thousand_reviews_over_25_keep_alive_connections_each_get_their_own_answer() {
    let dir = tempfile::tempdir().unwrap();
    let state = state(&["policies"]);
    let (server, client) = tls_webhook(dir.path(), state.clone(), options()).await;
    let mut clients = tokio::task::JoinSet::new();
    for connection_index in 0..25 {
        let client = client.clone();
        let addr = server.tls_addr;
        clients.spawn(async move {
            let mut connection = Connection::tls(addr, client, SERVICE_NAME).await.unwrap();
            let mut denied = 0;
            for request_index in 0..80 {
                let uid = format!("c{connection_index}-r{request_index}");
                // Which requests are denied depends on both indices, so neighbours differ.
                let deny = (connection_index + request_index) % 3 == 0;
                let image = if deny { "nginx:latest" } else { "nginx:1.25.3" };
                let name = format!("pod-{uid}");
                let body =
                    serde_json::to_vec(&review(&uid, &pod(&name, "shop", &[image]))).unwrap();
                let (status, answer) = post(&mut connection, "/validate", body).await.unwrap();
                assert_eq!(status, StatusCode::OK, "{uid}");
                assert_eq!(answer["response"]["uid"], uid.as_str());
                assert_eq!(answer["response"]["allowed"], !deny, "{uid}");
                if deny {
                    denied += 1;
                    let message = answer["response"]["status"]["message"].as_str().unwrap();
                    assert!(message.contains(&format!("Pod/shop/{name}")), "{message}");
                }
            }
            denied
        });
    }
    let mut denied = 0;
    while let Some(joined) = clients.join_next().await {
        denied += joined.expect("client task");
    }
    let metrics = state.metrics.encode();
    for line in [
        format!(
            r#"portcullis_admission_requests_total{{allowed="false",kind="Pod",operation="CREATE"}} {denied}"#
        ),
        format!(
            r#"portcullis_admission_requests_total{{allowed="true",kind="Pod",operation="CREATE"}} {}"#,
            2000 - denied
        ),
    ] {
        assert!(metrics.contains(&line), "lacks {line}:\n{metrics}");
    }
}

#[tokio::test]
async fn unserved_paths_and_methods_get_json_refusals_on_both_ports() {
    use axum::body::Body;
    use axum::http::{Method, Request, header};
    use http_body_util::BodyExt;
    use tower::ServiceExt;

    let state = state(&["policies"]);
    let (tls, plain) =
        portcullis::webhook::handler::routers(state.clone(), portcullis::server::Readiness::new());
    let table = [
        (
            &tls,
            Method::GET,
            "/validate",
            StatusCode::METHOD_NOT_ALLOWED,
            Some("POST"),
        ),
        (
            &tls,
            Method::PUT,
            "/validate",
            StatusCode::METHOD_NOT_ALLOWED,
            Some("POST"),
        ),
        (&tls, Method::POST, "/mutate", StatusCode::NOT_FOUND, None),
        (
            &tls,
            Method::POST,
            "/healthz",
            StatusCode::METHOD_NOT_ALLOWED,
            Some("GET"),
        ),
        (&plain, Method::GET, "/", StatusCode::NOT_FOUND, None),
        (
            &plain,
            Method::POST,
            "/metrics",
            StatusCode::METHOD_NOT_ALLOWED,
            Some("GET"),
        ),
        (
            &plain,
            Method::DELETE,
            "/readyz",
            StatusCode::METHOD_NOT_ALLOWED,
            Some("GET"),
        ),
    ];
    for (router, method, path, status, allow) in table {
        let request = Request::builder()
            .method(method.clone())
            .uri(path)
            .body(Body::empty())
            .unwrap();
        let response = router.clone().oneshot(request).await.unwrap();
        let case = format!("{method} {path}");
        assert_eq!(response.status(), status, "{case}");
        assert_eq!(
            response.headers().get(header::CONTENT_TYPE).unwrap(),
            "application/json",
            "{case}"
        );
        assert_eq!(
            response
                .headers()
                .get(header::ALLOW)
                .map(|v| v.to_str().unwrap()),
            allow,
            "{case}"
        );
        let body = response.into_body().collect().await.unwrap().to_bytes();
        let body: Value = serde_json::from_slice(&body).expect("a JSON body");
        let reason = if status == StatusCode::NOT_FOUND {
            "not_found"
        } else {
            "method_not_allowed"
        };
        assert_eq!(body["reason"], reason, "{case}: {body}");
        assert!(
            body["error"].as_str().unwrap().contains(path),
            "{case}: {body}"
        );
    }
    // Those on the webhook's port are counted with the other refusals.
    let metrics = state.metrics.encode();
    for series in [
        r#"portcullis_admission_request_errors_total{reason="method_not_allowed"} 2"#,
        r#"portcullis_admission_request_errors_total{reason="not_found"} 1"#,
    ] {
        assert!(
            metrics.lines().any(|line| line == series),
            "{series}:\n{metrics}"
        );
    }
}
