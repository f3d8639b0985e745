//! Cost of one JMESPath evaluation in Kyverno's dialect on the Pod review fixture, for the kinds
//! of expressions policies write, and of compiling one. Run: `cargo bench --bench jmespath`.

use portcullis::jmespath::{Compiled, Environment};
use serde_json::Value;

const REVIEW: &str = include_str!("fixtures/pod-review.json");

const EXPRESSIONS: [&str; 7] = [
    "request.object.metadata.name",
    "request.object.metadata.labels.app || ''",
    "request.object.spec.containers[*].image",
    "length(request.object.spec.containers[?ends_with(image, ':latest')])",
    "request.object.spec.containers[?regex_match('^registry\\.example\\.com/', image)].name",
    "contains(keys(request.object.metadata.labels), 'team')",
    "add(request.object.spec.terminationGracePeriodSeconds, `10`)",
];

fn main() {
    divan::main();
}

fn context() -> Value {
    let review: Value = serde_json::from_str(REVIEW).expect("fixture");
    serde_json::json!({ "request": review["request"].clone() })
}

#[divan::bench(args = EXPRESSIONS)]
fn search(bencher: divan::Bencher, expression: &str) {
    let compiled = Compiled::new(expression).expect("expression");
    let data = context();
    let environment = Environment::default();
    // Fail loudly rather than measure an error path by accident.
    compiled.search(&data, &environment).expect("evaluates");
    bencher.bench_local(|| compiled.search(divan::black_box(&data), &environment));
}

#[divan::bench(args = EXPRESSIONS)]
fn compile(bencher: divan::Bencher, expression: &str) {
    bencher.bench_local(|| Compiled::new(divan::black_box(expression)));
}
