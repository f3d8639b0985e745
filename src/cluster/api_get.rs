//! GETs on the API server for `apiCall` context entries, and for ConfigMaps no watch holds,
//! bounded so that a slow or unreachable apiserver can never hold a review past its deadline.
//!
//! - Each GET runs as a task of its own with [`LookupOptions::call_timeout`]; a review waits for
//!   it only until its own deadline, so a review that gives up does not cancel the call another
//!   review (or the next one, through the cache) is waiting for.
//! - Reviews that want the same path while a GET for it is under way wait for that one.
//! - At most [`LookupOptions::in_flight`] GETs are on the wire at once; the others queue for a
//!   slot inside their call timeout.
//! - Answers are kept for [`LookupOptions::cache_ttl`] (failures are not kept), within
//!   [`LookupOptions::cache_bytes`] of response bodies; an answer over
//!   [`LookupOptions::response_limit`] is refused, as Kyverno refuses one over its maximum.

use http_body_util::{BodyExt, Limited};
use kube::client::Body;
use serde_json::Value;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};
use tokio::sync::{Semaphore, watch};

/// The bounds on lookups that `serve --kube` makes for context entries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LookupOptions {
    /// How long one GET may take, queueing for a slot included.
    pub call_timeout: Duration,
    /// How long an answer is reused; zero turns the cache off.
    pub cache_ttl: Duration,
    /// GETs on the wire at once.
    pub in_flight: usize,
    /// The largest answer read, in bytes.
    pub response_limit: usize,
    /// Response bytes the cache holds at most.
    pub cache_bytes: usize,
}

impl Default for LookupOptions {
    fn default() -> Self {
        Self {
            // Under the 80% of the apiserver's default 10 s that a review has.
            call_timeout: Duration::from_secs(5),
            cache_ttl: Duration::from_secs(2),
            in_flight: 16,
            // Kyverno's default maximum for an apiCall response.
            response_limit: 2 * 1000 * 1000,
            cache_bytes: 16 << 20,
        }
    }
}

/// Answers the cache holds at most, whatever their size: small answers to many templated
/// paths must not grow the map without end.
const CACHE_ENTRIES: usize = 4096;

/// What a GET gave: the decoded answer, or why there is none.
type Fetched = Result<Arc<Value>, String>;

struct Cached {
    fetched: Instant,
    bytes: usize,
    value: Arc<Value>,
}

#[derive(Default)]
struct Shared {
    cache: HashMap<String, Cached>,
    cached_bytes: usize,
    /// GETs under way, by path; each sends its outcome once.
    pending: HashMap<String, watch::Receiver<Option<Fetched>>>,
}

/// The one place `serve --kube` GETs paths for context entries.
pub struct ApiGets {
    client: kube::Client,
    runtime: tokio::runtime::Handle,
    options: LookupOptions,
    slots: Arc<Semaphore>,
    shared: Mutex<Shared>,
}

impl ApiGets {
    /// `runtime` runs the GETs; callers block on them from threads outside it.
    pub fn new(
        client: kube::Client,
        runtime: tokio::runtime::Handle,
        options: LookupOptions,
    ) -> Arc<Self> {
        Arc::new(Self {
            client,
            runtime,
            slots: Arc::new(Semaphore::new(options.in_flight.max(1))),
            options,
            shared: Mutex::default(),
        })
    }

    pub fn options(&self) -> LookupOptions {
        self.options
    }

    /// The decoded answer to a GET of `path`, waiting no later than `until`. Blocks the calling
    /// thread, which must not be one of the runtime's workers (the webhook judges sets with
    /// lookups on the blocking pool).
    pub fn get_blocking(self: &Arc<Self>, path: &str, until: Instant) -> Fetched {
        if !path.starts_with('/') {
            return Err(format!(
                "urlPath {path:?} is not a path on the API server (it must start with /)"
            ));
        }
        if let Some(value) = self.cached(path) {
            return Ok(value);
        }
        let mut outcome = self.pending_or_start(path);
        let remaining = until.saturating_duration_since(Instant::now());
        self.runtime.block_on(async move {
            match tokio::time::timeout(remaining, outcome.wait_for(Option::is_some)).await {
                Ok(Ok(done)) => done.clone().unwrap_or_else(|| {
                    Err(format!(
                        "failed to GET resource with raw url: {path}: no answer"
                    ))
                }),
                Ok(Err(_)) => Err(format!(
                    "failed to GET resource with raw url: {path}: the call was dropped"
                )),
                Err(_) => Err(format!(
                    "failed to GET resource with raw url: {path}: no answer within the {}ms \
                     left of the review's deadline",
                    remaining.as_millis()
                )),
            }
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Shared> {
        self.shared.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn cached(&self, path: &str) -> Option<Arc<Value>> {
        let shared = self.lock();
        let cached = shared.cache.get(path)?;
        (cached.fetched.elapsed() < self.options.cache_ttl).then(|| cached.value.clone())
    }

    /// The outcome of the GET of `path` under way, starting one when there is none.
    fn pending_or_start(self: &Arc<Self>, path: &str) -> watch::Receiver<Option<Fetched>> {
        let mut shared = self.lock();
        // A GET whose task is gone (the runtime shutting down) is started again.
        if let Some(pending) = shared.pending.get(path).filter(|p| p.has_changed().is_ok()) {
            return pending.clone();
        }
        let (sender, receiver) = watch::channel(None);
        shared.pending.insert(path.to_owned(), receiver.clone());
        drop(shared);
        let gets = self.clone();
        let path = path.to_owned();
        self.runtime.spawn(async move {
            let timeout = gets.options.call_timeout;
            let fetched = match tokio::time::timeout(timeout, gets.fetch(&path)).await {
                Ok(fetched) => fetched,
                Err(_) => Err(format!(
                    "failed to GET resource with raw url: {path}: no answer within {}ms",
                    timeout.as_millis()
                )),
            };
            gets.finish(&path, &fetched);
            sender.send_replace(Some(fetched.map(|(value, _)| value)));
        });
        receiver
    }

    /// Keeps a good answer and forgets the GET under way, in one step, so that no review
    /// starts a second GET between the two.
    fn finish(&self, path: &str, fetched: &Result<(Arc<Value>, usize), String>) {
        let mut shared = self.lock();
        shared.pending.remove(path);
        let Ok((value, bytes)) = fetched else {
            return;
        };
        if self.options.cache_ttl.is_zero() || *bytes > self.options.cache_bytes {
            return;
        }
        let ttl = self.options.cache_ttl;
        let shared = &mut *shared;
        if let Some(old) = shared.cache.remove(path) {
            shared.cached_bytes -= old.bytes;
        }
        shared
            .cache
            .retain(|_, cached| cached.fetched.elapsed() < ttl);
        shared.cached_bytes = shared.cache.values().map(|cached| cached.bytes).sum();
        while shared.cached_bytes + bytes > self.options.cache_bytes
            || shared.cache.len() >= CACHE_ENTRIES
        {
            let Some(oldest) = shared
                .cache
                .iter()
                .min_by_key(|(_, cached)| cached.fetched)
                .map(|(path, _)| path.clone())
            else {
                break;
            };
            if let Some(evicted) = shared.cache.remove(&oldest) {
                shared.cached_bytes -= evicted.bytes;
            }
        }
        shared.cached_bytes += bytes;
        shared.cache.insert(
            path.to_owned(),
            Cached {
                fetched: Instant::now(),
                bytes: *bytes,
                value: value.clone(),
            },
        );
    }

    /// One GET, in Kyverno's wording on failure; the answer with its size in bytes.
    async fn fetch(&self, path: &str) -> Result<(Arc<Value>, usize), String> {
        let failed = |why: &dyn std::fmt::Display| {
            format!("failed to GET resource with raw url: {path}: {why}")
        };
        // Never closed, so acquiring only waits.
        let _slot = self.slots.acquire().await.map_err(|error| failed(&error))?;
        let request = hyper::Request::get(path)
            .header("accept", "application/json")
            .body(Body::empty())
            .map_err(|error| failed(&error))?;
        let response = self
            .client
            .send(request)
            .await
            .map_err(|error| failed(&error))?;
        let status = response.status();
        let limit = self.options.response_limit;
        let body = Limited::new(response.into_body(), limit)
            .collect()
            .await
            .map_err(|error| {
                if error.is::<http_body_util::LengthLimitError>() {
                    failed(&format!(
                        "response length must be less than max allowed response length of {limit}"
                    ))
                } else {
                    failed(&error)
                }
            })?
            .to_bytes();
        if !status.is_success() {
            // The apiserver's Status says what went wrong, e.g. `pods "x" is forbidden: …`.
            let message = serde_json::from_slice::<Value>(&body)
                .ok()
                .and_then(|status| status["message"].as_str().map(str::to_owned))
                .unwrap_or_else(|| String::from_utf8_lossy(&body).into_owned());
            let permission = if matches!(status.as_u16(), 401 | 403) {
                "permission denied: "
            } else {
                ""
            };
            return Err(failed(&format!("{permission}{message}")));
        }
        let value: Value = serde_json::from_slice(&body)
            .map_err(|error| failed(&format!("the answer is not JSON: {error}")))?;
        Ok((Arc::new(value), body.len()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hyper::service::service_fn;
    use hyper_util::rt::TokioIo;
    use std::sync::atomic::{AtomicUsize, Ordering};

    /// What the fake apiserver answers a path with, after how long.
    type Route = fn(&str) -> (Duration, u16, String);

    /// A plain-HTTP server on loopback that answers every GET by `route`, counting requests
    /// and the most it served at once.
    struct FakeApiserver {
        url: String,
        requests: Arc<AtomicUsize>,
        most_at_once: Arc<AtomicUsize>,
    }

    impl FakeApiserver {
        fn start(runtime: &tokio::runtime::Runtime, route: Route) -> Self {
            let listener = runtime
                .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
                .expect("bind");
            let url = format!("http://{}", listener.local_addr().expect("address"));
            let requests = Arc::new(AtomicUsize::new(0));
            let most_at_once = Arc::new(AtomicUsize::new(0));
            let at_once = Arc::new(AtomicUsize::new(0));
            let (counted, most) = (requests.clone(), most_at_once.clone());
            runtime.spawn(async move {
                loop {
                    let Ok((stream, _)) = listener.accept().await else {
                        return;
                    };
                    let (counted, most, at_once) = (counted.clone(), most.clone(), at_once.clone());
                    tokio::spawn(async move {
                        let service = service_fn(move |request: hyper::Request<_>| {
                            let (counted, most, at_once) =
                                (counted.clone(), most.clone(), at_once.clone());
                            async move {
                                counted.fetch_add(1, Ordering::SeqCst);
                                let now = at_once.fetch_add(1, Ordering::SeqCst) + 1;
                                most.fetch_max(now, Ordering::SeqCst);
                                let path = request
                                    .uri()
                                    .path_and_query()
                                    .map_or("", |path| path.as_str())
                                    .to_owned();
                                let (delay, status, body) = route(&path);
                                tokio::time::sleep(delay).await;
                                at_once.fetch_sub(1, Ordering::SeqCst);
                                hyper::Response::builder()
                                    .status(status)
                                    .header("content-type", "application/json")
                                    .body(http_body_util::Full::new(bytes_of(body)))
                            }
                        });
                        let _ = hyper::server::conn::http1::Builder::new()
                            .serve_connection(TokioIo::new(stream), service)
                            .await;
                    });
                }
            });
            Self {
                url,
                requests,
                most_at_once,
            }
        }

        fn gets(&self, runtime: &tokio::runtime::Runtime, options: LookupOptions) -> Arc<ApiGets> {
            let config = kube::Config::new(self.url.parse().expect("URL"));
            let client = runtime.block_on(async { kube::Client::try_from(config) });
            ApiGets::new(client.expect("client"), runtime.handle().clone(), options)
        }

        fn requests(&self) -> usize {
            self.requests.load(Ordering::SeqCst)
        }
    }

    fn bytes_of(text: String) -> hyper::body::Bytes {
        hyper::body::Bytes::from(text)
    }

    fn runtime() -> tokio::runtime::Runtime {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("runtime")
    }

    fn route(path: &str) -> (Duration, u16, String) {
        let quick = Duration::ZERO;
        match path {
            "/api/v1/namespaces/shop" => (quick, 200, r#"{"metadata":{"name":"shop"}}"#.into()),
            "/slow" => (Duration::from_millis(600), 200, r#"{"slow":true}"#.into()),
            "/forbidden" => (
                quick,
                403,
                r#"{"kind":"Status","message":"pods is forbidden: User \"x\" cannot list resource \"pods\""}"#
                    .into(),
            ),
            "/text" => (quick, 200, "not json".into()),
            "/large" => (quick, 200, format!("\"{}\"", "x".repeat(4096))),
            other if other.starts_with("/wait/") => {
                (Duration::from_millis(200), 200, format!("\"{other}\""))
            }
            _ => (quick, 404, r#"{"kind":"Status","message":"the server could not find the requested resource"}"#.into()),
        }
    }

    fn soon() -> Instant {
        Instant::now() + Duration::from_secs(5)
    }

    #[test]
    fn answers_are_decoded_reused_for_the_ttl_and_fetched_again_after() {
        let runtime = runtime();
        let server = FakeApiserver::start(&runtime, route);
        let options = LookupOptions {
            cache_ttl: Duration::from_millis(300),
            ..LookupOptions::default()
        };
        let gets = server.gets(&runtime, options);
        let path = "/api/v1/namespaces/shop";
        let answer = gets.get_blocking(path, soon()).expect("an answer");
        assert_eq!(answer["metadata"]["name"], "shop");
        gets.get_blocking(path, soon()).expect("an answer");
        assert_eq!(server.requests(), 1, "the second came from the cache");
        std::thread::sleep(Duration::from_millis(350));
        gets.get_blocking(path, soon()).expect("an answer");
        assert_eq!(server.requests(), 2, "the cached answer expired");
    }

    #[test]
    fn failures_say_what_failed_and_are_not_kept() {
        let runtime = runtime();
        let server = FakeApiserver::start(&runtime, route);
        let options = LookupOptions {
            response_limit: 1024,
            ..LookupOptions::default()
        };
        let gets = server.gets(&runtime, options);
        let error = gets.get_blocking("/forbidden", soon()).expect_err("403");
        assert_eq!(
            error,
            "failed to GET resource with raw url: /forbidden: permission denied: pods is \
             forbidden: User \"x\" cannot list resource \"pods\""
        );
        let error = gets.get_blocking("/missing", soon()).expect_err("404");
        assert!(
            error.ends_with("/missing: the server could not find the requested resource"),
            "{error}"
        );
        let error = gets.get_blocking("/text", soon()).expect_err("not JSON");
        assert!(error.contains("the answer is not JSON"), "{error}");
        let error = gets.get_blocking("/large", soon()).expect_err("too large");
        assert!(
            error.ends_with("max allowed response length of 1024"),
            "{error}"
        );
        let error = gets
            .get_blocking("https://elsewhere.example/x", soon())
            .expect_err("not a path");
        assert!(error.contains("must start with /"), "{error}");
        let before = server.requests();
        gets.get_blocking("/forbidden", soon())
            .expect_err("403 again");
        assert_eq!(server.requests(), before + 1, "a failure is asked again");
    }

    #[test]
    fn a_review_waits_no_longer_than_its_deadline_and_the_call_goes_on_for_the_next() {
        let runtime = runtime();
        let server = FakeApiserver::start(&runtime, route);
        let gets = server.gets(&runtime, LookupOptions::default());
        let started = Instant::now();
        let error = gets
            .get_blocking("/slow", started + Duration::from_millis(100))
            .expect_err("out of time");
        let waited = started.elapsed();
        assert!(
            waited < Duration::from_millis(500),
            "waited {waited:?} for a 100 ms deadline"
        );
        assert!(error.contains("left of the review's deadline"), "{error}");
        // The GET finishes on its own and its answer serves the next review.
        std::thread::sleep(Duration::from_millis(700));
        let answer = gets.get_blocking("/slow", soon()).expect("cached");
        assert_eq!(answer["slow"], true);
        assert_eq!(server.requests(), 1);
    }

    #[test]
    fn a_call_stops_at_its_own_timeout() {
        let runtime = runtime();
        let server = FakeApiserver::start(&runtime, route);
        let options = LookupOptions {
            call_timeout: Duration::from_millis(100),
            ..LookupOptions::default()
        };
        let gets = server.gets(&runtime, options);
        let error = gets.get_blocking("/slow", soon()).expect_err("timed out");
        assert_eq!(
            error,
            "failed to GET resource with raw url: /slow: no answer within 100ms"
        );
    }

    #[test]
    fn calls_in_flight_are_bounded_and_the_same_path_is_asked_once() {
        let runtime = runtime();
        let server = FakeApiserver::start(&runtime, route);
        let options = LookupOptions {
            in_flight: 2,
            ..LookupOptions::default()
        };
        let gets = server.gets(&runtime, options);
        let threads: Vec<_> = (0..6)
            .map(|index| {
                let gets = gets.clone();
                std::thread::spawn(move || gets.get_blocking(&format!("/wait/{index}"), soon()))
            })
            .collect();
        for thread in threads {
            thread.join().expect("thread").expect("an answer");
        }
        assert_eq!(server.requests(), 6);
        assert_eq!(server.most_at_once.load(Ordering::SeqCst), 2);

        let threads: Vec<_> = (0..5)
            .map(|_| {
                let gets = gets.clone();
                std::thread::spawn(move || gets.get_blocking("/wait/same", soon()))
            })
            .collect();
        for thread in threads {
            assert_eq!(
                *thread.join().expect("thread").expect("an answer"),
                json_string("/wait/same")
            );
        }
        assert_eq!(server.requests(), 7, "five reviews, one GET");
    }

    fn json_string(text: &str) -> Value {
        Value::String(text.to_owned())
    }
}
