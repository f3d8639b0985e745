//! The `portcullis` binary: parse the command line, set up logging, dispatch, map to an exit code.

use clap::Parser;
use portcullis::cli::{Cli, Command, LogFormat};
use portcullis::log_output::{self, BatchedWriter, FLUSH_INTERVAL, FlushGuard};
use std::io::IsTerminal;
use std::process::ExitCode;
use tracing_subscriber::util::SubscriberInitExt;

mod commands;

// Both jobs are allocation-bound: a review builds and frees a whole JSON tree (glibc's malloc
// took ~30% of `serve`'s CPU under load), and `check` builds one per manifest. mimalloc cuts
// both; see BENCHMARKS.md.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let log_format = match &cli.command {
        Command::Serve(args) => args.log_format,
        _ => LogFormat::Text,
    };
    let _log_flush = init_tracing(log_format);
    // One crypto provider for the whole process; a second one would make rustls ambiguous.
    let _ = rustls::crypto::ring::default_provider().install_default();
    match cli.command {
        Command::Serve(args) => commands::serve(args),
        Command::Check(args) => commands::check(&args),
        Command::Test(args) => commands::test(&args),
        Command::Certs(args) => commands::certs(&args),
        Command::Crds(args) => commands::crds(&args),
        Command::WebhookConfig(args) => commands::webhook_config(&args),
    }
}

/// Logs go through a batching writer (`log_output`): a write to stderr per line on the request
/// path costs as much as evaluating a policy. The returned guard writes what is buffered when
/// `main` returns.
fn init_tracing(format: LogFormat) -> FlushGuard {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    // Colour only for a person at a terminal: log collectors store escape codes verbatim.
    let colour = std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none();
    let (writer, guard) = BatchedWriter::new(std::io::stderr(), FLUSH_INTERVAL);
    log_output::dispatch(format, filter, writer, colour).init();
    guard
}
