//! The `portcullis` binary: parse the command line, set up logging, dispatch, map to an exit code.

use clap::Parser;
use portcullis::cli::{Cli, Command, LogFormat};
use std::io::IsTerminal;
use std::process::ExitCode;

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

/// Logs go through a background writer: a blocking write to stderr on the request path costs as
/// much as evaluating a policy. The writer buffers what it drains from its queue and writes it
/// in one call, so a burst of review lines costs one system call, not one per line. The returned
/// guard flushes what is queued when `main` returns. Lines are never dropped: when the queue is
/// full, logging waits.
fn init_tracing(format: LogFormat) -> tracing_appender::non_blocking::WorkerGuard {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    // Colour only for a person at a terminal: log collectors store escape codes verbatim.
    let colour = std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none();
    let (writer, guard) = tracing_appender::non_blocking::NonBlockingBuilder::default()
        .lossy(false)
        .finish(std::io::BufWriter::with_capacity(
            64 * 1024,
            std::io::stderr(),
        ));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(writer)
        .with_ansi(colour);
    match format {
        LogFormat::Text => builder.init(),
        LogFormat::Json => builder.json().flatten_event(true).init(),
    }
    guard
}
