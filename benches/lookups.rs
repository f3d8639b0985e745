//! What a `configMap` context entry costs a review under `serve --kube`: the whole handler path
//! with the ConfigMap answered from its watch, judged on the request's task (`inline`, as a set
//! without lookups is) and as the webhook judges a set with lookups (`blocking_pool`: a slot, a
//! hop to tokio's blocking pool and back); and a GET for an `apiCall` or a templated ConfigMap
//! name, to a server on loopback, each time and from the cache.
//! Run: `cargo bench --bench lookups`.

use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::ObjectMeta;
use portcullis::cluster::Change;
use portcullis::cluster::api_get::{ApiGets, LookupOptions};
use portcullis::cluster::config_maps::{ConfigMapStore, Watched};
use portcullis::cluster::environment::ClusterEnvironment;
use portcullis::metrics::Metrics;
use portcullis::policy::{self, PolicySet};
use portcullis::webhook::{AppState, handler, lookups};
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

const REVIEW: &str = include_str!("fixtures/pod-review.json");

/// Admits the fixture's images, which the ConfigMap lists.
const POLICY: &str = r#"apiVersion: kyverno.io/v1
kind: ClusterPolicy
metadata:
  name: allowed-registries
spec:
  validationFailureAction: Enforce
  rules:
  - name: registry-listed
    match:
      any:
      - resources:
          kinds: [Pod]
    context:
    - name: registries
      configMap:
        name: allowed-registries
        namespace: platform
    validate:
      message: "{{ request.object.metadata.name }} is locked"
      deny:
        conditions:
          any:
          - key: "{{ registries.data.mode }}"
            operator: Equals
            value: locked
"#;

fn main() {
    divan::main();
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime")
}

/// The state `serve --kube` would have, with the ConfigMap listed by its watch.
fn state(runtime: &tokio::runtime::Runtime) -> Arc<AppState> {
    let loaded = policy::load::load_str(POLICY, Path::new("bench.yaml")).expect("policy");
    let state = AppState::new(PolicySet::from(loaded), Metrics::new().expect("metrics"));
    let store = Arc::new(ConfigMapStore::default());
    let key = Watched {
        namespace: Some("platform".to_owned()),
        name: "allowed-registries".to_owned(),
    };
    let generation = store.begin(&key);
    let listed = ConfigMap {
        metadata: ObjectMeta {
            name: Some("allowed-registries".to_owned()),
            namespace: Some("platform".to_owned()),
            ..ObjectMeta::default()
        },
        data: Some([("mode".to_owned(), "open".to_owned())].into()),
        ..ConfigMap::default()
    };
    store.apply(&key, generation, Change::Snapshot(vec![listed]));
    // The watch answers: no GET is made, so none needs a server.
    let gets = gets_to(runtime, "http://127.0.0.1:9", Duration::from_secs(2));
    state.attach_environment(Arc::new(ClusterEnvironment::new(store, gets)));
    state
}

#[divan::bench]
fn inline(bencher: divan::Bencher) {
    let runtime = runtime();
    let state = state(&runtime);
    bencher.bench_local(|| {
        let body = handler::answer(&state, divan::black_box(REVIEW.as_bytes()), None);
        body.expect("answered").len()
    });
}

#[divan::bench]
fn blocking_pool(bencher: divan::Bencher) {
    let runtime = runtime();
    let state = state(&runtime);
    let body = axum::body::Bytes::from_static(REVIEW.as_bytes());
    bencher.bench_local(|| {
        let answer_by = Some(Instant::now() + Duration::from_secs(8));
        let answered = runtime.block_on(lookups::answer_with_lookups(
            &state,
            divan::black_box(body.clone()),
            answer_by,
        ));
        answered.expect("answered").len()
    });
}

/// A loopback server that answers every GET with the same small namespace object, as an
/// apiserver next door would; keep-alive, as kube's client uses it.
fn serve_namespace(runtime: &tokio::runtime::Runtime) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = runtime
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("address"));
    runtime.spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            tokio::spawn(async move {
                let body = r#"{"kind":"Namespace","metadata":{"name":"shop","labels":{"team":"a"}}}"#;
                let answer = format!(
                    "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{body}",
                    body.len()
                );
                let mut buffer = vec![0u8; 4096];
                let mut pending = Vec::new();
                loop {
                    let Ok(read) = stream.read(&mut buffer).await else { return };
                    if read == 0 {
                        return;
                    }
                    pending.extend_from_slice(&buffer[..read]);
                    while let Some(end) = pending.windows(4).position(|w| w == b"\r\n\r\n") {
                        pending.drain(..end + 4);
                        if stream.write_all(answer.as_bytes()).await.is_err() {
                            return;
                        }
                    }
                }
            });
        }
    });
    url
}

fn gets_to(runtime: &tokio::runtime::Runtime, url: &str, cache_ttl: Duration) -> Arc<ApiGets> {
    let config = kube::Config::new(url.parse().expect("URL"));
    let client = runtime
        .block_on(async { kube::Client::try_from(config) })
        .expect("client");
    let options = LookupOptions {
        cache_ttl,
        ..LookupOptions::default()
    };
    ApiGets::new(client, runtime.handle().clone(), options)
}

/// A GET each time (`--lookup-cache-ttl 0s`), from a thread outside the runtime as the blocking
/// pool's are: what a templated ConfigMap name or an apiCall costs with the apiserver on
/// loopback, before any network or apiserver time.
#[divan::bench]
fn get_uncached(bencher: divan::Bencher) {
    let runtime = runtime();
    let url = serve_namespace(&runtime);
    let gets = gets_to(&runtime, &url, Duration::ZERO);
    bencher.bench_local(|| {
        let until = Instant::now() + Duration::from_secs(5);
        let answer = gets.get_blocking(divan::black_box("/api/v1/namespaces/shop"), until);
        answer.expect("answered")["metadata"]["name"] == "shop"
    });
}

/// The same GET answered from the cache.
#[divan::bench]
fn get_cached(bencher: divan::Bencher) {
    let runtime = runtime();
    let url = serve_namespace(&runtime);
    let gets = gets_to(&runtime, &url, Duration::from_secs(3600));
    bencher.bench_local(|| {
        let until = Instant::now() + Duration::from_secs(5);
        let answer = gets.get_blocking(divan::black_box("/api/v1/namespaces/shop"), until);
        answer.expect("answered")["metadata"]["name"] == "shop"
    });
}
