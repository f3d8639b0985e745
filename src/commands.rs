//! The subcommands' glue: load what they need, run the library, report, choose the exit code.

use portcullis::check::discover::PathFilter;
use portcullis::check::progress::Progress;
use portcullis::check::render::{self, RenderOptions};
use portcullis::check::{self, Gate, input};
use portcullis::cli::{
    CertsArgs, CheckArgs, CrdsArgs, LogFormat, OutputFormat, ServeArgs, TestArgs, WebhookConfigArgs,
};
use portcullis::defaults::PolicySource;
use portcullis::metrics::Metrics;
use portcullis::policy::{ClusterFacts, LoadError, PolicySet};
use portcullis::printable::printable;
use portcullis::server::{self, Readiness, ServeOptions};
use portcullis::{reload, tls, webhook};
use std::io::{IsTerminal, Read};
use std::process::ExitCode;
use std::sync::Arc;

fn load_policies(source: &PolicySource) -> Result<PolicySet, ExitCode> {
    source.load().map_err(|errors| {
        report_load_errors(&errors);
        ExitCode::from(check::EXIT_ERROR)
    })
}

fn report_load_errors(errors: &[LoadError]) {
    for error in errors {
        eprintln!("error: {error}");
    }
    eprintln!(
        "error: {} problem(s) in the policies; nothing was loaded",
        errors.len()
    );
}

pub fn check(args: &CheckArgs) -> ExitCode {
    let source = PolicySource::resolve(&args.policies);
    let set = match load_policies(&source) {
        Ok(set) => set,
        Err(code) => return code,
    };
    let filter = match PathFilter::new(&args.include, &args.exclude) {
        Ok(filter) => filter,
        Err(message) => {
            eprintln!("error: {message}");
            return ExitCode::from(check::EXIT_ERROR);
        }
    };
    let options = input::ReadOptions {
        filter,
        default_namespace: args.namespace.clone(),
    };
    let mut pool = rayon::ThreadPoolBuilder::new();
    if let Some(jobs) = args.jobs {
        pool = pool.num_threads(usize::from(jobs));
    }
    let pool = match pool.build() {
        Ok(pool) => pool,
        Err(error) => {
            eprintln!(
                "error: cannot start {} worker threads: {error}",
                args.jobs.unwrap_or(0)
            );
            return ExitCode::from(check::EXIT_ERROR);
        }
    };
    let progress = if std::io::stderr().is_terminal() {
        Progress::on_stderr()
    } else {
        Progress::hidden()
    };
    let (inputs, report) = pool.install(|| {
        let inputs = input::read_with(
            &args.paths,
            || {
                let mut text = String::new();
                std::io::stdin().read_to_string(&mut text).map(|_| text)
            },
            &options,
            &progress,
        );
        let report = check::run_with(&set, &inputs, &progress);
        (inputs, report)
    });
    drop(progress);
    for error in &inputs.errors {
        eprintln!("error: {}", printable(error));
    }
    if args.verbose {
        for note in &inputs.notes {
            eprintln!("note: {}", printable(note));
        }
    }
    let gate = Gate {
        fail_on_warn: args.fail_on_warn,
        require_match: args.require_match,
    };
    let render_options = RenderOptions {
        gate,
        verbose: args.verbose,
        colour: std::io::stdout().is_terminal()
            && std::env::var_os("NO_COLOR").is_none_or(|value| value.is_empty()),
    };
    let rendered = match args.output {
        OutputFormat::Text => render::text::render(&report, &inputs, &render_options),
        OutputFormat::Json => render::json::render(&report, &inputs),
        OutputFormat::Junit => render::junit::render(&report, &inputs, &render_options),
        OutputFormat::Sarif => render::sarif::render(&report, &inputs, &render_options),
        OutputFormat::Github => render::github::render(&report, &inputs, &render_options),
    };
    print!("{rendered}");
    if gate.require_match && report.findings.is_empty() {
        eprintln!("error: no resource matched any policy (--require-match)");
    }
    ExitCode::from(report.exit_code(&inputs, gate))
}

pub fn test(args: &TestArgs) -> ExitCode {
    portcullis::kyverno_test::run_cli(args)
}

pub fn certs(args: &CertsArgs) -> ExitCode {
    let written = tls::generate_dev_certs(&args.dir).and_then(|written| {
        println!(
            "wrote {}, {}, {} and {}",
            written.ca_cert.display(),
            written.ca_key.display(),
            written.cert.display(),
            written.key.display()
        );
        match &args.kustomize {
            Some(overlay) => tls::write_kustomize_inputs(&written, overlay).map(|inputs| {
                println!(
                    "wrote {}, {} and {}",
                    inputs.cert.display(),
                    inputs.key.display(),
                    inputs.ca_bundle_patch.display()
                );
            }),
            None => Ok(()),
        }
    });
    match written {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error}");
            ExitCode::from(check::EXIT_ERROR)
        }
    }
}

pub fn crds(args: &CrdsArgs) -> ExitCode {
    let manifests = match portcullis::cluster::crd::manifests() {
        Ok(manifests) => manifests,
        Err(error) => {
            eprintln!("error: cannot render the CRDs: {error}");
            return ExitCode::from(check::EXIT_ERROR);
        }
    };
    match &args.dir {
        None => {
            let documents: Vec<&str> = manifests.iter().map(|(_, text)| text.as_str()).collect();
            print!("{}", documents.join("---\n"));
        }
        Some(dir) => {
            for (name, text) in &manifests {
                let path = dir.join(name);
                if let Err(error) = std::fs::write(&path, text) {
                    eprintln!("error: cannot write {}: {error}", path.display());
                    return ExitCode::from(check::EXIT_ERROR);
                }
                println!("wrote {}", path.display());
            }
        }
    }
    ExitCode::SUCCESS
}

pub fn webhook_config(args: &WebhookConfigArgs) -> ExitCode {
    let set = match load_policies(&PolicySource::resolve(&args.policies)) {
        Ok(set) => set,
        Err(code) => return code,
    };
    match portcullis::webhook_config::configuration(&set) {
        Ok(configuration) => {
            print!("{}", portcullis::webhook_config::to_yaml(&configuration));
            ExitCode::SUCCESS
        }
        Err(errors) => {
            for error in &errors {
                eprintln!("error: {error}");
            }
            ExitCode::from(check::EXIT_ERROR)
        }
    }
}

pub fn serve(args: ServeArgs) -> ExitCode {
    let log_format = args.log_format;
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            let message = format!("cannot start the async runtime: {error}");
            return startup_failed(log_format, &message);
        }
    };
    match runtime.block_on(run_server(args)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => startup_failed(log_format, &message),
    }
}

/// Says once why `serve` stopped: as a log line where the log is JSON, which a collector reads
/// line by line, else as plain text, whose lines a reader can follow.
fn startup_failed(log_format: LogFormat, message: &str) -> ExitCode {
    match log_format {
        LogFormat::Json => tracing::error!(error = message, "serve failed"),
        LogFormat::Text => eprintln!("error: {message}"),
    }
    ExitCode::from(check::EXIT_ERROR)
}

async fn run_server(args: ServeArgs) -> Result<(), String> {
    let source = PolicySource::resolve(&args.policies);
    let facts = ClusterFacts::following_cluster(args.kube);
    let set = source
        .load()
        .and_then(|set| set.require_knowable(facts))
        .map_err(|errors| {
            errors
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join("\n")
                + "\nrefusing to start with invalid policies"
        })?;
    tracing::info!(policies = set.policies.len(), rules = set.rule_count(), source = %source.describe(), "loaded policies");
    portcullis::policy::note_inert_settings(&set);

    if let Some(generated) =
        tls::ensure_dev_certs(&args.tls_cert, &args.tls_key).map_err(|error| error.to_string())?
    {
        tracing::warn!(
            cert = %generated.cert.display(),
            ca = %generated.ca_cert.display(),
            "no serving certificate found: generated development certificates (trust the CA in {} to connect)",
            generated.ca_cert.display()
        );
    }
    let certificate =
        tls::load_certificate(&args.tls_cert, &args.tls_key).map_err(|error| error.to_string())?;
    let metrics = Metrics::new().map_err(|error| format!("cannot register metrics: {error}"))?;
    metrics.certificate_expiry.set(certificate.info.not_after);
    let resolver = Arc::new(tls::CertResolver::new(certificate.key));
    let tls_config = tls::server_config(resolver.clone(), args.client_ca.as_deref())
        .map_err(|error| error.to_string())?;

    let webhook_options = webhook::WebhookOptions {
        on_timeout: args.on_timeout,
        body_read_timeout: args.body_read_timeout,
        body_memory: usize::from(args.body_memory_mib) << 20,
    };
    let state = webhook::AppState::with_options(set, metrics.clone(), webhook_options);
    let readiness = Readiness::new();
    let certificate_metrics = metrics.clone();
    let _certificate_reloader = tls::spawn_certificate_reloader(
        args.tls_cert.clone(),
        args.tls_key.clone(),
        resolver,
        reload::WatchOptions::default(),
        move |result| match result {
            Ok(info) => {
                certificate_metrics.certificate_reloads.with_label_values(&["success"]).inc();
                certificate_metrics.certificate_expiry.set(info.not_after);
                tracing::info!(serial = %info.serial, not_after = info.not_after, "serving certificate reloaded");
            }
            Err(error) => {
                certificate_metrics.certificate_reloads.with_label_values(&["error"]).inc();
                tracing::error!(error = %error, "serving certificate not reloaded; keeping the previous one");
            }
        },
    )
    .map_err(|error| format!("cannot watch the certificate files: {error}"))?;
    let _policy_reloader = match &source {
        PolicySource::Paths(paths) => Some(
            webhook::state::spawn_policy_reloader(
                paths.clone(),
                facts,
                state.clone(),
                reload::WatchOptions::default(),
            )
            .map_err(|error| format!("cannot watch the policy paths: {error}"))?,
        ),
        PolicySource::Embedded => None,
    };

    let tls_listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .map_err(|error| format!("cannot listen on {} (--listen): {error}", args.listen))?;
    let plain_listener = tokio::net::TcpListener::bind(args.metrics_listen)
        .await
        .map_err(|error| {
            format!(
                "cannot listen on {} (--metrics-listen): {error}",
                args.metrics_listen
            )
        })?;
    tracing::info!(webhook = %args.listen, metrics = %args.metrics_listen, "serving");
    let app = webhook::router(state.clone()).merge(server::health_routes(readiness.clone()));
    let cluster = if args.kube {
        let client = kube::Client::try_default()
            .await
            .map_err(|error| format!("--kube: cannot configure a Kubernetes client: {error}"))?;
        let options = portcullis::cluster::ClusterOptions {
            watch_kyverno_policies: args.watch_kyverno_policies,
        };
        Some(Arc::new(portcullis::cluster::Cluster::start(
            client,
            state.clone(),
            options,
        )))
    } else {
        None
    };
    let plain_app =
        webhook::handler::metrics_router(state).merge(server::health_routes(readiness.clone()));
    let _readiness_waiter = match &cluster {
        None => {
            readiness.set(true);
            None
        }
        Some(cluster) => {
            tracing::info!("not ready until namespaces and cluster policies are listed");
            let (cluster, readiness) = (cluster.clone(), readiness.clone());
            Some(tokio::spawn(async move {
                cluster.synced().await;
                tracing::info!("cluster state listed; ready");
                readiness.set(true);
            }))
        }
    };
    let options = ServeOptions {
        shutdown_delay: args.shutdown_delay,
        shutdown_timeout: args.shutdown_timeout,
        max_connections: usize::try_from(args.max_connections).unwrap_or(usize::MAX),
        ..ServeOptions::default()
    };
    server::serve(
        tls_listener,
        tls_config,
        app,
        plain_listener,
        plain_app,
        readiness,
        options,
        server::HandshakeRefusals::new(metrics.tls_client_refusals.clone()),
        server::shutdown_signal(),
    )
    .await
    .map_err(|error| format!("server failed: {error}"))?;
    tracing::info!("shut down cleanly");
    Ok(())
}
