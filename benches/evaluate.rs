//! Per-review CPU cost of one Pod review against 1, 10 and 100 policies: the engine alone
//! (`evaluate` on a parsed object), the whole handler path from request bytes to response
//! bytes (`answer`: parse, evaluate, metrics, decision, serialization; also with cold caches),
//! body parsing alone (whole, and through the policies' projection as the webhook reads it),
//! and the per-policy execution-time metric alone. Run: `cargo bench --bench evaluate`.

use portcullis::eval::{self, Request};
use portcullis::matching::{Gvk, Operation};
use portcullis::metrics::Metrics;
use portcullis::policy::{self, PolicySet};
use portcullis::projection::Projection;
use portcullis::webhook::review::read_review;
use portcullis::webhook::{AppState, handler};
use serde_json::Value;
use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

#[path = "../examples/bare_server/answer.rs"]
mod bare_server;

const REVIEW: &str = include_str!("fixtures/pod-review.json");
const POLICY_FILES: [(&str, &str); 2] = [
    (
        "disallow-latest-tag",
        include_str!("../policies/disallow-latest-tag.yaml"),
    ),
    (
        "require-image-digest",
        include_str!("../policies/require-image-digest.yaml"),
    ),
];
const SIZES: [usize; 3] = [1, 10, 100];

fn main() {
    divan::main();
}

/// `count` policies: the two default ones in turn, renamed so every name is unique.
fn policy_set(count: usize) -> PolicySet {
    let mut policies = Vec::new();
    for index in 0..count {
        let (name, text) = POLICY_FILES[index % POLICY_FILES.len()];
        let renamed = text.replacen(
            &format!("name: {name}"),
            &format!("name: {name}-{index}"),
            1,
        );
        let loaded = policy::load::load_str(&renamed, Path::new("bench.yaml"))
            .unwrap_or_else(|errors| panic!("bench policy: {errors:?}"));
        policies.extend(loaded);
    }
    PolicySet::from(policies)
}

fn state(count: usize) -> Arc<AppState> {
    AppState::new(policy_set(count), Metrics::new().expect("metrics"))
}

#[divan::bench(args = SIZES)]
fn evaluate(bencher: divan::Bencher, policies: usize) {
    bench_evaluate(bencher, &policy_set(policies));
}

/// `evaluate` with one PolicyException per policy that names every rule of it and matches
/// nothing the review holds: the exceptions' cost on a review they do not except.
#[divan::bench(args = SIZES)]
fn evaluate_with_exceptions(bencher: divan::Bencher, policies: usize) {
    let mut set = policy_set(policies);
    let exceptions: String = set
        .policies
        .iter()
        .map(|policy| {
            format!(
                "---\napiVersion: kyverno.io/v2\nkind: PolicyException\nmetadata:\n  name: {}\n  namespace: exceptions\nspec:\n  exceptions:\n  - policyName: {}\n    ruleNames: [\"*\"]\n  match:\n    any:\n    - resources:\n        kinds: [Pod]\n        names: [never-*]\n",
                policy.name, policy.name
            )
        })
        .collect();
    set.exceptions = policy::load::load_str_set(&exceptions, Path::new("exceptions.yaml"))
        .unwrap_or_else(|errors| panic!("bench exceptions: {errors:?}"))
        .exceptions;
    bench_evaluate(bencher, &set);
}

/// The engine alone on the review's object, which passes every rule of `set`.
fn bench_evaluate(bencher: divan::Bencher, set: &PolicySet) {
    let review: Value = serde_json::from_str(REVIEW).expect("review JSON");
    let object = &review["request"]["object"];
    let gvk = Gvk {
        group: String::new(),
        version: "v1".to_owned(),
        kind: "Pod".to_owned(),
    };
    let request = Request {
        operation: Operation::Create,
        gvk: &gvk,
        subresource: "",
        object,
        old_object: &Value::Null,
        namespace: "shop",
        namespace_labels: None,
        unknown_namespace_hint: "",
        user: None,
        admission: true,
        admission_request: None,
        environment: portcullis::eval::Offline::system(),
    };
    bencher.bench_local(|| {
        let report = eval::evaluate(divan::black_box(set), divan::black_box(&request));
        assert!(report.failures().next().is_none());
        report.results.len()
    });
}

/// The handler's whole work on a review body: read, judge, count, log (no subscriber here) and
/// answer. With two threads, as two workers under load share the metrics' series and so, unless
/// those are sharded, their cache lines.
#[divan::bench(args = SIZES, threads = [1, 2], sample_size = 200)]
fn answer(bencher: divan::Bencher, policies: usize) {
    let state = state(policies);
    bencher.bench(|| {
        let body = handler::answer(&state, divan::black_box(REVIEW.as_bytes()), None);
        body.expect("answered").len()
    });
}

/// `answer` with the apiserver's deadline, as every real review has one: the budget then reads
/// the clock before each rule that applies.
#[divan::bench(args = SIZES)]
fn answer_with_deadline(bencher: divan::Bencher, policies: usize) {
    let state = state(policies);
    bencher.bench_local(|| {
        let answer_by = Instant::now() + std::time::Duration::from_secs(8);
        let body = handler::answer(&state, divan::black_box(REVIEW.as_bytes()), Some(answer_by));
        body.expect("answered").len()
    });
}

/// `answer` after 2 MiB of other memory has been written, as under load, where the TLS stack,
/// the kernel and the load generator run on the same core between two reviews and leave the
/// policies and the code out of the core's caches. With 0 policies this is the cost of reading
/// and answering alone.
#[divan::bench(args = [0, 1, 10, 100])]
fn answer_cold_cache(bencher: divan::Bencher, policies: usize) {
    let state = state(policies);
    let mut other_memory = vec![0u64; (2 << 20) / std::mem::size_of::<u64>()];
    bencher
        .with_inputs(|| {
            // One write per cache line is enough to evict it.
            for word in other_memory.iter_mut().step_by(8) {
                *word = word.wrapping_add(1);
            }
        })
        .bench_local_values(|()| {
            let body = handler::answer(&state, divan::black_box(REVIEW.as_bytes()), None);
            body.expect("answered").len()
        });
}

/// The review body parsed whole, as a `serde_json::Value`.
#[divan::bench]
fn parse_review_body() -> usize {
    let review: Value = serde_json::from_str(divan::black_box(REVIEW)).expect("review JSON");
    review.as_object().map_or(0, serde_json::Map::len)
}

/// The review body read as the webhook reads it: its objects through the projection of the
/// policies' set (10 policies).
#[divan::bench]
fn read_review_projected(bencher: divan::Bencher) {
    let projection = Projection::of_set(&policy_set(10));
    bencher.bench_local(|| {
        let review = read_review(divan::black_box(REVIEW.as_bytes()), &projection);
        review
            .expect("review")
            .request
            .map_or(0, |request| request.uid.len())
    });
}

/// What `answer` spends per policy on `portcullis_policy_execution_duration_seconds`: two
/// clock reads and an observation through the handle the active set keeps; with two threads,
/// as two workers share the series under load.
#[divan::bench(args = SIZES, threads = [1, 2])]
fn policy_timing_metric(bencher: divan::Bencher, policies: usize) {
    let metrics = Metrics::new().expect("metrics");
    let handles: Vec<_> = (0..policies)
        .map(|index| {
            metrics
                .policy_execution_duration
                .with_label_values(&[&format!("policy-{index}")])
        })
        .collect();
    bencher.bench(|| {
        for handle in &handles {
            let started = Instant::now();
            handle.observe(started.elapsed().as_secs_f64());
        }
    });
}

/// The same with the `prometheus` crate's histogram, whose shared atomics the sharded one avoids.
#[divan::bench(args = SIZES, threads = [1, 2])]
fn policy_timing_metric_unsharded(bencher: divan::Bencher, policies: usize) {
    let histograms = prometheus::HistogramVec::new(
        prometheus::HistogramOpts::new("seconds", "How long.")
            .buckets(prometheus::exponential_buckets(0.0001, 2.5, 15).expect("buckets")),
        &["policy"],
    )
    .expect("metric");
    let handles: Vec<_> = (0..policies)
        .map(|index| histograms.with_label_values(&[&format!("policy-{index}")]))
        .collect();
    bencher.bench(|| {
        for handle in &handles {
            let started = Instant::now();
            handle.observe(started.elapsed().as_secs_f64());
        }
    });
}

/// What running the handler on tokio's blocking pool (so a deadline could preempt it) would add
/// per review, against running it on the request's own task as `serve` does.
#[divan::bench(args = ["inline", "blocking_pool"])]
fn answer_placement(bencher: divan::Bencher, placement: &str) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .build()
        .expect("runtime");
    let state = state(10);
    let on_pool = placement == "blocking_pool";
    bencher.bench_local(|| {
        runtime.block_on(async {
            let state = state.clone();
            // Spawned, as a request's task is, so both variants pay the same task overhead.
            let task = tokio::spawn(async move {
                if on_pool {
                    let state = state.clone();
                    tokio::task::spawn_blocking(move || {
                        handler::answer(&state, REVIEW.as_bytes(), None).map(|body| body.len())
                    })
                    .await
                    .expect("blocking task")
                } else {
                    handler::answer(&state, REVIEW.as_bytes(), None).map(|body| body.len())
                }
            });
            task.await.expect("task").expect("answered")
        })
    });
}

/// What the load test's bare server (`examples/bare_server`) does with a review: read the
/// `uid` it must echo, skipping the rest, and answer "allowed". `answer` less this is what
/// judging adds per review.
#[divan::bench]
fn bare_server_answer() -> usize {
    bare_server::allow(divan::black_box(REVIEW.as_bytes()))
        .expect("answered")
        .len()
}
