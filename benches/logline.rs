//! What `serve`'s one log line per review costs: the handler's `admission review` event through
//! the subscriber `serve` installs (the `info` filter, the text or JSON formatter, the batching
//! writer), into a sink; `off` is the same event under a `warn` filter.
//! Run: `cargo bench --bench logline`.

use portcullis::cli::LogFormat;
use portcullis::log_output::{self, BatchedWriter, FLUSH_INTERVAL};
use tracing_subscriber::EnvFilter;

fn main() {
    divan::main();
}

/// The fields the handler logs, with the fixture review's values.
fn review_line() {
    let name = "web-7d4b9c8f6d-x2x9k";
    tracing::info!(
        uid = "705ab4f5-6393-11e8-b7cc-42010a800002",
        kind = "Pod",
        namespace = "shop",
        name,
        operation = "CREATE",
        subresource = "",
        dry_run = false,
        decision = "allow",
        latency_us = 133_u64,
        "admission review"
    );
}

#[divan::bench(args = ["text", "json", "off"])]
fn log_line(bencher: divan::Bencher, format: &str) {
    let (writer, _guard) = BatchedWriter::new(std::io::sink(), FLUSH_INTERVAL);
    let level = if format == "off" { "warn" } else { "info" };
    let format = if format == "json" {
        LogFormat::Json
    } else {
        LogFormat::Text
    };
    let dispatch = log_output::dispatch(format, EnvFilter::new(level), writer, false);
    tracing::dispatcher::with_default(&dispatch, || bencher.bench_local(review_line));
}
