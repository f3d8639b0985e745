//! The TLS webhook listener and the plain metrics/health listener, and their shared lifecycle.
//!
//! [`serve`] owns the accept loops and every connection: `TCP_NODELAY` on each socket, a bounded
//! TLS handshake, HTTP/1.1 with keep-alive through hyper, and a shutdown that first tells
//! Kubernetes to stop routing here (readiness false), keeps serving while endpoints drain, then
//! stops accepting, lets in-flight requests finish and closes idle keep-alive connections.
//! Binding is the caller's: `serve` takes bound listeners, so a port in use is reported before
//! anything starts.

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use axum::Router;
use axum::http::{HeaderValue, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use prometheus::IntCounterVec;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, watch};
use tokio::task::JoinSet;
use tokio_rustls::TlsAcceptor;

/// Whether this instance should receive traffic. Cheap to clone; every clone shares one flag.
#[derive(Debug, Clone, Default)]
pub struct Readiness(Arc<AtomicBool>);

impl Readiness {
    /// Starts not ready: the caller flips it once policies are loaded.
    pub fn new() -> Self {
        Self::default()
    }

    pub fn is_ready(&self) -> bool {
        self.0.load(Ordering::Acquire)
    }

    pub fn set(&self, ready: bool) {
        self.0.store(ready, Ordering::Release);
    }
}

/// `GET /healthz` (200 `ok` while the process can answer) and `GET /readyz` (200 when ready,
/// 503 otherwise), for the plain listener.
pub fn health_routes(readiness: Readiness) -> Router {
    Router::new()
        .route(
            "/healthz",
            get(|| async { "ok" }).fallback(|method: Method, uri: Uri| async move {
                Refusal::method_not_allowed(&method, &uri, "GET")
            }),
        )
        .route(
            "/readyz",
            get(move || {
                let ready = readiness.is_ready();
                async move {
                    if ready {
                        (StatusCode::OK, "ok")
                    } else {
                        (StatusCode::SERVICE_UNAVAILABLE, "not ready")
                    }
                }
            })
            .fallback(|method: Method, uri: Uri| async move {
                Refusal::method_not_allowed(&method, &uri, "GET")
            }),
        )
}

/// A request refused before it was judged, as every endpoint answers it: its status and a JSON
/// body `{"error": …, "reason": …}`; `reason` is a bounded metric label.
#[derive(Debug)]
pub struct Refusal {
    pub status: StatusCode,
    pub reason: &'static str,
    pub message: String,
    /// The methods a path takes, for a 405.
    allow: Option<&'static str>,
}

impl Refusal {
    pub fn new(status: StatusCode, reason: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            reason,
            message: message.into(),
            allow: None,
        }
    }

    /// What a path that is not served answers.
    pub fn not_found(uri: &Uri) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "not_found",
            format!("no such path {:?}", uri.path()),
        )
    }

    /// What a served path answers to a method it does not take; `allowed` is the one it does.
    pub fn method_not_allowed(method: &Method, uri: &Uri, allowed: &'static str) -> Self {
        Self {
            allow: Some(allowed),
            ..Self::new(
                StatusCode::METHOD_NOT_ALLOWED,
                "method_not_allowed",
                format!("{method} is not allowed on {:?}: use {allowed}", uri.path()),
            )
        }
    }
}

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        let body = serde_json::json!({"error": self.message, "reason": self.reason}).to_string();
        let mut response = (
            self.status,
            [(header::CONTENT_TYPE, "application/json")],
            body,
        )
            .into_response();
        if let Some(allowed) = self.allow {
            response
                .headers_mut()
                .insert(header::ALLOW, HeaderValue::from_static(allowed));
        }
        response
    }
}

/// Timeouts of the listeners and their shutdown.
#[derive(Debug, Clone, Copy)]
pub struct ServeOptions {
    /// How long both listeners keep accepting after shutdown begins, while readiness already
    /// reports 503, so Kubernetes can take this pod out of the Service endpoints first.
    pub shutdown_delay: Duration,
    /// How long connections get to finish their requests once accepting has stopped. With the
    /// default delay this stays within Kubernetes' default 30 s termination grace period.
    pub shutdown_timeout: Duration,
    /// How long a client has to send a request's headers. hyper restarts this clock whenever a
    /// keep-alive connection waits for its next request, so it is also the idle timeout: the
    /// default stays above the kube-apiserver's 90 s idle-connection timeout, so the server
    /// does not close a connection the apiserver is about to reuse.
    pub header_read_timeout: Duration,
    /// How long a TLS handshake may take before the connection is dropped, so a client that
    /// connects and says nothing cannot hold a task.
    pub handshake_timeout: Duration,
    /// TLS connections open at once. Each idle one holds ≈ 33 KiB (TLS and HTTP buffers, its
    /// task), so without a limit a client opening connections and keeping them alive could take
    /// all the container's memory.
    pub max_connections: usize,
}

/// Far more than the kube-apiservers of a cluster keep open, at ≈ 33 MiB if all are idle.
pub const DEFAULT_MAX_CONNECTIONS: u32 = 1000;

/// How much a connection buffers of what it has read: request headers must fit (hyper answers
/// 431 otherwise), and a body streams through it. hyper's default, about 400 KB, times
/// `max_connections` slow clients sending endless headers would be 400 MB; the apiserver's
/// headers take a few hundred bytes.
const READ_BUFFER_LIMIT: usize = 16 * 1024;

/// Plain-HTTP connections open at once. The kubelet's probes and a few scrapers need a
/// handful, but the probes wait behind whoever else holds the slots, so there are enough that
/// a client must keep hundreds of connections going to starve them, at ≈ 8 MiB if all idle.
const PLAIN_MAX_CONNECTIONS: usize = 256;

/// How long a plain-HTTP connection may wait for its headers, idle keep-alive included: probes
/// and scrapes send theirs at once, and a short wait frees the slots of clients that do not.
const PLAIN_HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);

impl Default for ServeOptions {
    fn default() -> Self {
        ServeOptions {
            shutdown_delay: Duration::from_secs(5),
            shutdown_timeout: Duration::from_secs(20),
            header_read_timeout: Duration::from_secs(100),
            handshake_timeout: Duration::from_secs(10),
            max_connections: DEFAULT_MAX_CONNECTIONS as usize,
        }
    }
}

/// Completes on SIGTERM (what the kubelet sends) or SIGINT (Ctrl-C).
pub async fn shutdown_signal() {
    let interrupt = async {
        if let Err(e) = tokio::signal::ctrl_c().await {
            tracing::error!(error = %e, "cannot listen for SIGINT");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut sigterm) => {
                sigterm.recv().await;
            }
            Err(e) => {
                tracing::error!(error = %e, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = interrupt => tracing::info!("received SIGINT, shutting down"),
        () = terminate => tracing::info!("received SIGTERM, shutting down"),
    }
}

/// Handshakes that mutual TLS refused: counted by reason, and logged at most once per
/// [`REFUSAL_LOG_INTERVAL`] with the number left unlogged since, so a client that retries
/// without a certificate cannot fill the log. Cheap to clone; clones share the count.
#[derive(Clone)]
pub struct HandshakeRefusals {
    counter: Option<IntCounterVec>,
    log: Arc<Mutex<RefusalLog>>,
}

/// The most often a refused handshake is logged.
pub const REFUSAL_LOG_INTERVAL: Duration = Duration::from_secs(10);

/// The `reason` label values of refused handshakes.
pub const REFUSAL_REASONS: [&str; 2] = ["no_certificate", "untrusted_certificate"];

#[derive(Default)]
struct RefusalLog {
    last: Option<std::time::Instant>,
    unlogged: u64,
}

impl HandshakeRefusals {
    /// Counted in `counter`, whose one label is the reason.
    pub fn new(counter: IntCounterVec) -> Self {
        Self {
            counter: Some(counter),
            log: Arc::default(),
        }
    }

    /// Logged only, for a server without metrics.
    pub fn uncounted() -> Self {
        Self {
            counter: None,
            log: Arc::default(),
        }
    }

    /// Why mutual TLS refused the handshake that failed with `error`, if it did.
    fn reason(error: &io::Error) -> Option<&'static str> {
        match error.get_ref()?.downcast_ref::<rustls::Error>()? {
            rustls::Error::NoCertificatesPresented => Some(REFUSAL_REASONS[0]),
            // On the server's side only the client's certificate is verified.
            rustls::Error::InvalidCertificate(_) => Some(REFUSAL_REASONS[1]),
            _ => None,
        }
    }

    /// Counts and perhaps logs `error` if mutual TLS caused it; whether it did.
    fn note(&self, peer: SocketAddr, error: &io::Error) -> bool {
        let Some(reason) = Self::reason(error) else {
            return false;
        };
        if let Some(counter) = &self.counter {
            counter.with_label_values(&[reason]).inc();
        }
        let mut log = self.log.lock().unwrap_or_else(PoisonError::into_inner);
        let now = std::time::Instant::now();
        if log
            .last
            .is_some_and(|last| now.duration_since(last) < REFUSAL_LOG_INTERVAL)
        {
            log.unlogged += 1;
            return true;
        }
        let unlogged = std::mem::take(&mut log.unlogged);
        log.last = Some(now);
        drop(log);
        tracing::warn!(
            %peer,
            reason,
            error = %error,
            unlogged,
            "TLS handshake refused by client certificate verification"
        );
        true
    }
}

/// SIGINTs from the moment shutdown begins: a second Ctrl-C means the person at the terminal
/// will not wait for the drain.
struct Interrupts {
    #[cfg(unix)]
    signal: tokio::signal::unix::Signal,
}

impl Interrupts {
    fn listen() -> Option<Self> {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{SignalKind, signal};
            signal(SignalKind::interrupt())
                .ok()
                .map(|signal| Self { signal })
        }
        #[cfg(not(unix))]
        None
    }
}

/// Completes on the next SIGINT once `interrupts` listens; never before.
async fn interrupted(interrupts: &mut Option<Interrupts>) {
    #[cfg(unix)]
    if let Some(interrupts) = interrupts {
        if interrupts.signal.recv().await.is_some() {
            return;
        }
    }
    #[cfg(not(unix))]
    let _ = interrupts;
    std::future::pending().await
}

/// Serves `app` over TLS on `tls_listener` and `plain_app` over plain HTTP on
/// `plain_listener` until `shutdown` completes, then shuts down as [`ServeOptions`] describes and
/// returns; a SIGINT during that shutdown closes every connection and returns at once.
/// Readiness is only ever turned off here; turning it on is the caller's.
#[allow(clippy::too_many_arguments)]
pub async fn serve(
    tls_listener: TcpListener,
    tls: Arc<rustls::ServerConfig>,
    app: Router,
    plain_listener: TcpListener,
    plain_app: Router,
    readiness: Readiness,
    options: ServeOptions,
    refusals: HandshakeRefusals,
    shutdown: impl Future<Output = ()> + Send,
) -> io::Result<()> {
    let acceptor = TlsAcceptor::from(tls);
    // `true` once connections must wind down; every connection task holds a receiver.
    let (closing_tx, closing_rx) = watch::channel(false);
    let mut connections = JoinSet::new();
    let mut shutdown = std::pin::pin!(shutdown);
    let mut drain_deadline = None;
    // Listening from when shutdown begins: the SIGINT that began it is not one of these.
    let mut interrupts = None;
    let mut hurried = false;
    let tls_slots = Slots::new("webhook", options.max_connections);
    let plain_slots = Slots::new("metrics", PLAIN_MAX_CONNECTIONS);
    let plain_options = ServeOptions {
        header_read_timeout: options.header_read_timeout.min(PLAIN_HEADER_READ_TIMEOUT),
        ..options
    };

    loop {
        tokio::select! {
            // Shutdown first: a connection accepted after the signal must already see
            // readiness off.
            biased;
            () = &mut shutdown, if drain_deadline.is_none() => {
                interrupts = Interrupts::listen();
                readiness.set(false);
                tracing::info!(
                    delay = ?options.shutdown_delay,
                    "shutting down: readiness off, still accepting while endpoints drain"
                );
                drain_deadline = Some(tokio::time::Instant::now() + options.shutdown_delay);
            }
            () = interrupted(&mut interrupts) => {
                hurried = true;
                break;
            }
            () = sleep_until(drain_deadline) => break,
            (stream, slot) = tls_slots.accept(&tls_listener) => {
                let (acceptor, app, closing) = (acceptor.clone(), app.clone(), closing_rx.clone());
                let refusals = refusals.clone();
                connections.spawn(async move {
                    serve_tls(stream, acceptor, app, options, &refusals, closing).await;
                    drop(slot);
                });
            }
            (stream, slot) = plain_slots.accept(&plain_listener) => {
                let (app, closing) = (plain_app.clone(), closing_rx.clone());
                connections.spawn(async move {
                    serve_http(stream, app, plain_options, closing).await;
                    drop(slot);
                });
            }
            // Reap finished connections so the set does not grow with every one ever accepted.
            Some(joined) = connections.join_next() => {
                if let Err(e) = joined {
                    if e.is_panic() {
                        tracing::error!(error = %e, "connection task panicked");
                    }
                }
            }
        }
    }

    // Closing the listeners makes new connections fail fast instead of queueing unanswered.
    drop(tls_listener);
    drop(plain_listener);
    let _ = closing_tx.send(true);
    let open = connections.len();
    if !hurried {
        tracing::info!(open, timeout = ?options.shutdown_timeout, "stopped accepting; draining connections");
        let drained = tokio::time::timeout(options.shutdown_timeout, async {
            while connections.join_next().await.is_some() {}
        });
        tokio::select! {
            drained = drained => if drained.is_err() {
                tracing::warn!(
                    abandoned = connections.len(),
                    "shutdown timeout reached; closing remaining connections"
                );
            },
            () = interrupted(&mut interrupts) => hurried = true,
        }
    }
    if hurried {
        tracing::warn!(
            abandoned = connections.len(),
            "interrupted again: closing every connection now"
        );
    }
    connections.shutdown().await;
    Ok(())
}

/// Completes once connections must wind down (or `serve` is gone).
async fn closed(closing: &mut watch::Receiver<bool>) {
    // The guard `wait_for` returns is not `Send`; drop it here rather than across an await.
    let _ = closing.wait_for(|closing| *closing).await;
}

async fn sleep_until(deadline: Option<tokio::time::Instant>) {
    match deadline {
        Some(deadline) => tokio::time::sleep_until(deadline).await,
        None => std::future::pending().await,
    }
}

/// A listener's limit on open connections: one slot per connection, freed when it closes.
struct Slots {
    listener: &'static str,
    limit: usize,
    free: Arc<Semaphore>,
    /// Whether the limit has been reported and not yet eased: one warning per time the
    /// listener fills, not one per connection while it stays full.
    reported: AtomicBool,
}

impl Slots {
    fn new(listener: &'static str, limit: usize) -> Self {
        let limit = limit.clamp(1, Semaphore::MAX_PERMITS);
        Self {
            listener,
            limit,
            free: Arc::new(Semaphore::new(limit)),
            reported: AtomicBool::new(false),
        }
    }

    /// The next connection once a slot is free. At the limit nothing is accepted, so new
    /// connections wait in the kernel's listen queue (and time out there) instead of each
    /// taking memory here.
    async fn accept(
        &self,
        listener: &TcpListener,
    ) -> ((TcpStream, SocketAddr), OwnedSemaphorePermit) {
        let slot = match self.free.clone().try_acquire_owned() {
            Ok(slot) => {
                // Eased once a tenth of the slots are free again.
                if self.free.available_permits() >= self.limit / 10 {
                    self.reported.store(false, Ordering::Relaxed);
                }
                slot
            }
            Err(_) => {
                if !self.reported.swap(true, Ordering::Relaxed) {
                    tracing::warn!(
                        listener = self.listener,
                        limit = self.limit,
                        "connection limit reached; new connections wait until one closes"
                    );
                }
                match self.free.clone().acquire_owned().await {
                    Ok(slot) => slot,
                    // The semaphore is never closed; without a slot there is nothing to accept.
                    Err(_) => std::future::pending().await,
                }
            }
        };
        (accept(listener).await, slot)
    }
}

/// The next connection, with `TCP_NODELAY` set: small responses otherwise wait on Nagle's
/// algorithm and the client's delayed ACK, which showed as a 48 ms p99.9 on this workload.
async fn accept(listener: &TcpListener) -> (TcpStream, SocketAddr) {
    loop {
        match listener.accept().await {
            Ok((stream, peer)) => {
                if let Err(e) = stream.set_nodelay(true) {
                    tracing::debug!(%peer, error = %e, "cannot set TCP_NODELAY");
                }
                return (stream, peer);
            }
            Err(e) if is_connection_error(&e) => {
                tracing::debug!(error = %e, "connection failed before it was accepted");
            }
            Err(e) => {
                // Out of file descriptors, usually: back off rather than spin, and keep serving
                // the connections we have.
                tracing::warn!(error = %e, "accept failed; retrying shortly");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }
}

fn is_connection_error(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::ConnectionRefused
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::ConnectionReset
    )
}

async fn serve_tls(
    (stream, peer): (TcpStream, SocketAddr),
    acceptor: TlsAcceptor,
    app: Router,
    options: ServeOptions,
    refusals: &HandshakeRefusals,
    mut closing: watch::Receiver<bool>,
) {
    let handshake = tokio::time::timeout(options.handshake_timeout, acceptor.accept(stream));
    let tls = tokio::select! {
        result = handshake => match result {
            Ok(Ok(tls)) => tls,
            Ok(Err(e)) => {
                if !refusals.note(peer, &e) {
                    tracing::debug!(%peer, error = %e, "TLS handshake failed");
                }
                return;
            }
            Err(_) => {
                tracing::debug!(%peer, "TLS handshake timed out");
                return;
            }
        },
        // No request has started on a connection still shaking hands; nothing to finish.
        () = closed(&mut closing) => return,
    };
    serve_http((tls, peer), app, options, closing).await;
}

async fn serve_http<I>(
    (io, peer): (I, SocketAddr),
    app: Router,
    options: ServeOptions,
    mut closing: watch::Receiver<bool>,
) where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let connection = http1::Builder::new()
        .timer(TokioTimer::new())
        .keep_alive(true)
        .header_read_timeout(options.header_read_timeout)
        .max_buf_size(READ_BUFFER_LIMIT)
        .serve_connection(TokioIo::new(io), TowerToHyperService::new(app));
    let mut connection = std::pin::pin!(connection);
    let result = tokio::select! {
        result = connection.as_mut() => result,
        () = closed(&mut closing) => {
            // Finishes the request in flight, answers it with `Connection: close`, and closes
            // an idle keep-alive connection at once.
            connection.as_mut().graceful_shutdown();
            connection.await
        }
    };
    if let Err(e) = result {
        tracing::debug!(%peer, error = %e, "connection ended with an error");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::body::Body;
    use axum::http::Request;
    use tower::ServiceExt;

    #[tokio::test]
    async fn health_and_readiness() {
        let readiness = Readiness::new();
        let routes = health_routes(readiness.clone());
        let status = |path: &'static str| {
            let routes = routes.clone();
            async move {
                let request = Request::get(path).body(Body::empty()).unwrap();
                routes.oneshot(request).await.unwrap().status()
            }
        };
        assert_eq!(status("/healthz").await, StatusCode::OK);
        assert_eq!(status("/readyz").await, StatusCode::SERVICE_UNAVAILABLE);
        readiness.set(true);
        assert_eq!(status("/readyz").await, StatusCode::OK);
        readiness.clone().set(false);
        assert_eq!(status("/readyz").await, StatusCode::SERVICE_UNAVAILABLE);
    }
}
