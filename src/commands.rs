//! The subcommands' glue: load what they need, run the library, report, choose the exit code.

use portcullis::check::discover::PathFilter;
use portcullis::check::progress::Progress;
use portcullis::check::render::{self, RenderOptions};
use portcullis::check::rendered::{Helm, Kustomize};
use portcullis::check::{self, Gate, input, stream};
use portcullis::cli::{
    CertsArgs, CheckArgs, CrdsArgs, LogFormat, ServeArgs, TestArgs, WebhookConfigArgs,
};
use portcullis::defaults::PolicySource;
use portcullis::file_environment::{self, Cluster, FileEnvironment};
use portcullis::kyverno_test::values::Values;
use portcullis::metrics::Metrics;
use portcullis::policy::load::LoadOptions;
use portcullis::policy::{ClusterFacts, LoadError, PolicySet};
use portcullis::printable::printable;
use portcullis::registration::RegistrationOptions;
use portcullis::server::{self, Readiness, ServeOptions};
use portcullis::webhook_config::{Client, Endpoint};
use portcullis::{reload, tls, webhook};
use std::io::IsTerminal;
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

/// What `check` can look up: `--values`, `--context` and the fixed inputs of functions.
fn check_environment(args: &CheckArgs) -> Result<FileEnvironment, String> {
    let values = match &args.values {
        Some(file) => Values::load(file).map_err(|message| format!("--values {message}"))?,
        None => Values::default(),
    };
    let cluster = if args.context.is_empty() {
        None
    } else {
        let mut cluster = Cluster::default();
        for file in &args.context {
            file_environment::load_context_file(file, &mut cluster)
                .map_err(|message| format!("--context {message}"))?;
        }
        Some(cluster)
    };
    Ok(FileEnvironment {
        jmespath: args.functions.environment(),
        values,
        cluster,
        mocks: Vec::new(),
    })
}

pub fn check(args: &CheckArgs) -> ExitCode {
    let source = PolicySource::resolve(&args.policies);
    // First, so that a run from the wrong directory cannot pass on a set nobody meant.
    match &source {
        PolicySource::Paths(_) => eprintln!("policies: {}", printable(&source.describe())),
        PolicySource::Embedded => eprintln!(
            "policies: {} (no --policies given and no ./{} directory)",
            source.describe(),
            portcullis::defaults::DEFAULT_POLICY_DIR
        ),
    }
    let filter = match PathFilter::new(&args.include, &args.exclude) {
        Ok(filter) => filter,
        Err(message) => {
            eprintln!("error: {message}");
            return ExitCode::from(check::EXIT_ERROR);
        }
    };
    let mut keep = |relative: &std::path::Path, kind| filter.keeps(relative, kind);
    let mut load_options = LoadOptions {
        skip_foreign: true,
        skip_unsupported: args.skip_unsupported,
        keep: Some(&mut keep),
    };
    let loaded = match source.load_with(&mut load_options) {
        Ok(loaded) => loaded,
        Err(errors) => {
            report_load_errors(&errors);
            return ExitCode::from(check::EXIT_ERROR);
        }
    };
    if args.verbose {
        for note in &loaded.notes {
            eprintln!("note: {}", printable(note));
        }
    }
    for refused in &loaded.refused {
        eprintln!(
            "refused (--skip-unsupported): {}",
            printable(&refused.to_string())
        );
    }
    let set = match portcullis::policy::load::load_exception_paths(&args.exceptions)
        .and_then(|exceptions| portcullis::policy::load::with_exceptions(loaded.set, exceptions))
    {
        Ok(set) => set,
        Err(errors) => {
            report_load_errors(&errors);
            return ExitCode::from(check::EXIT_ERROR);
        }
    };
    if set.policies.is_empty() && !loaded.refused.is_empty() {
        eprintln!(
            "error: every policy in {} uses a feature Portcullis does not evaluate; nothing is left to check with",
            printable(&source.describe())
        );
        return ExitCode::from(check::EXIT_ERROR);
    }
    if set.policies.is_empty() && !args.allow_empty {
        eprintln!(
            "error: no policies in {}: an empty policy set passes every resource (--allow-empty accepts it)",
            printable(&source.describe())
        );
        return ExitCode::from(check::EXIT_ERROR);
    }
    let mut check_options = check::CheckOptions {
        unknown_namespaces: args.unknown_namespaces,
        ..check::CheckOptions::default()
    };
    for file in &args.namespace_labels {
        match check::read_namespace_labels(file) {
            Ok(labels) => check_options.namespace_labels.extend(labels),
            Err(message) => {
                eprintln!("error: --namespace-labels {}", printable(&message));
                return ExitCode::from(check::EXIT_ERROR);
            }
        }
    }
    match check_environment(args) {
        Ok(environment) => {
            check_options.namespace_labels.extend(
                environment
                    .values
                    .namespace_labels
                    .iter()
                    .map(|(name, labels)| (name.clone(), labels.clone())),
            );
            check_options.environment = Arc::new(environment);
        }
        Err(message) => {
            eprintln!("error: {}", printable(&message));
            return ExitCode::from(check::EXIT_ERROR);
        }
    }
    let kustomize = match Kustomize::find(args.kustomize_bin.as_deref()) {
        Ok(kustomize) => kustomize,
        Err(message) => {
            eprintln!("error: {}", printable(&message));
            return ExitCode::from(check::EXIT_ERROR);
        }
    };
    let options = input::ReadOptions {
        filter,
        default_namespace: args.namespace.clone(),
        allow_empty: args.allow_empty,
        kustomize,
        helm: Helm::find(&args.helm_values),
        stdin_name: args
            .stdin_filename
            .clone()
            .unwrap_or_else(|| input::STDIN_NAME.to_owned()),
    };
    let mut pool = rayon::ThreadPoolBuilder::new();
    if let Some(jobs) = args.jobs {
        pool = pool.num_threads(usize::from(jobs));
    }
    // The global pool: the report writer streams from this thread while chunks are judged on it.
    if let Err(error) = pool.build_global() {
        eprintln!(
            "error: cannot start {} worker threads: {error}",
            args.jobs.unwrap_or(0)
        );
        return ExitCode::from(check::EXIT_ERROR);
    }
    let progress = if std::io::stderr().is_terminal() {
        Progress::on_stderr()
    } else {
        Progress::hidden()
    };
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
    let origin = render::PolicyOrigin::of(&source, set.policies.len(), &loaded.refused);
    let stdout = std::io::BufWriter::new(std::io::stdout().lock());
    let written = render::Sink::new(args.output, render_options, &set, origin, stdout).and_then(
        |mut sink| {
            {
                stream::stream(
                    &args.paths,
                    // Copied to a temporary file, so that standard input is read in chunks too.
                    || {
                        let mut spool = tempfile::tempfile()?;
                        std::io::copy(&mut std::io::stdin().lock(), &mut spool)?;
                        Ok(input::Content::Spooled(spool))
                    },
                    &stream::Run {
                        set: &set,
                        read: &options,
                        check: &check_options,
                        progress: &progress,
                    },
                    &mut sink,
                    &mut |inputs| {
                        for error in &inputs.errors {
                            eprintln!("error: {}", printable(&error.to_string()));
                        }
                        for warning in &inputs.warnings {
                            eprintln!("warning: {}", printable(warning));
                        }
                        if args.verbose {
                            for note in &inputs.notes {
                                eprintln!("note: {}", printable(note));
                            }
                        }
                    },
                )
            }?;
            let matched = sink.totals().matched;
            sink.finish().map(|code| (code, matched))
        },
    );
    drop(progress);
    match written {
        Ok((code, matched)) => {
            if gate.require_match && !matched {
                eprintln!("error: no resource matched any policy (--require-match)");
            }
            ExitCode::from(code)
        }
        Err(error) => {
            eprintln!("error: cannot write the report: {error}");
            ExitCode::from(check::EXIT_ERROR)
        }
    }
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
                    inputs.ca_cert.display()
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
    let ca_bundle = match &args.ca_bundle {
        None => None,
        Some(path) => match portcullis::registration::read_ca_bundle(path) {
            Ok(pem) => Some(pem),
            Err(error) => {
                eprintln!("error: --ca-bundle: {error}");
                return ExitCode::from(check::EXIT_ERROR);
            }
        },
    };
    let endpoint = Endpoint {
        client: match &args.url {
            Some(url) => Client::Url(url.clone()),
            None => Endpoint::default().client,
        },
        ca_bundle,
    };
    match portcullis::webhook_config::configuration(
        &set,
        &endpoint,
        args.force_failure_policy_ignore,
    ) {
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

/// Where `serve --kube` registers its webhooks, unless registration is turned off.
fn registration_options(args: &ServeArgs) -> Result<Option<RegistrationOptions>, String> {
    if !args.kube || args.no_webhook_registration {
        return Ok(None);
    }
    let client = match &args.webhook_url {
        Some(url) => Client::Url(url.clone()),
        None => match args.webhook_service.split_once('/') {
            Some((namespace, name)) if !namespace.is_empty() && !name.is_empty() => {
                Client::Service {
                    namespace: namespace.to_owned(),
                    name: name.to_owned(),
                }
            }
            _ => {
                return Err(format!(
                    "--webhook-service {:?}: expected namespace/name",
                    args.webhook_service
                ));
            }
        },
    };
    Ok(Some(RegistrationOptions {
        endpoint: Endpoint {
            client,
            ca_bundle: None,
        },
        tls_cert: args.tls_cert.clone(),
        ca_bundle_file: args.webhook_ca_bundle.clone(),
        force_ignore: args.force_failure_policy_ignore,
    }))
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
        .load_with_exceptions(&args.exceptions)
        .and_then(|set| set.require_knowable(facts))
        .map_err(|errors| {
            errors
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join("\n")
                + "\nrefusing to start with invalid policies"
        })?;
    tracing::info!(policies = set.policies.len(), rules = set.rule_count(), exceptions = set.exceptions.len(), source = %source.describe(), "loaded policies");
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
        lookup_reviews: usize::try_from(args.lookup_reviews).unwrap_or(usize::MAX),
    };
    let state = webhook::AppState::with_options(set, metrics.clone(), webhook_options);
    let readiness = Readiness::new();
    let certificate_metrics = metrics.clone();
    let (certificate_changed, certificate_changes) = tokio::sync::watch::channel(0u64);
    let _certificate_reloader = tls::spawn_certificate_reloader(
        args.tls_cert.clone(),
        args.tls_key.clone(),
        resolver,
        reload::WatchOptions::default(),
        move |result| match result {
            Ok(info) => {
                certificate_metrics.certificate_reloads.with_label_values(&["success"]).inc();
                certificate_metrics.certificate_expiry.set(info.not_after);
                certificate_changed.send_modify(|generation| *generation += 1);
                tracing::info!(serial = %info.serial, not_after = info.not_after, "serving certificate reloaded");
            }
            Err(error) => {
                certificate_metrics.certificate_reloads.with_label_values(&["error"]).inc();
                tracing::error!(error = %error, "serving certificate not reloaded; keeping the previous one");
            }
        },
    )
    .map_err(|error| format!("cannot watch the certificate files: {error}"))?;
    let _policy_reloader = webhook::state::spawn_policy_reloader(
        source.clone(),
        args.exceptions.clone(),
        facts,
        state.clone(),
        reload::WatchOptions::default(),
    )
    .map_err(|error| format!("cannot watch the policy paths: {error}"))?;

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
    let registration = registration_options(&args)?;
    let cluster = if args.kube {
        let client = kube::Client::try_default()
            .await
            .map_err(|error| format!("--kube: cannot configure a Kubernetes client: {error}"))?;
        let options = portcullis::cluster::ClusterOptions {
            watch_kyverno_policies: args.watch_kyverno_policies,
            exception_namespace: args.watch_policy_exceptions.clone(),
            registers_webhooks: registration.is_some(),
            lookups: portcullis::cluster::api_get::LookupOptions {
                call_timeout: args.lookup_timeout,
                cache_ttl: args.lookup_cache_ttl,
                in_flight: usize::try_from(args.lookups_in_flight).unwrap_or(usize::MAX),
                ..Default::default()
            },
        };
        Some((
            Arc::new(portcullis::cluster::Cluster::start(
                client.clone(),
                state.clone(),
                options,
            )),
            client,
        ))
    } else {
        None
    };
    let plain_app = webhook::handler::metrics_router(state.clone())
        .merge(server::health_routes(readiness.clone()));
    let _readiness_waiter = match &cluster {
        None => {
            readiness.set(true);
            None
        }
        Some((cluster, client)) => {
            tracing::info!(
                "not ready until namespaces, role bindings, cluster policies and followed PolicyExceptions are listed"
            );
            let (cluster, client, readiness) = (cluster.clone(), client.clone(), readiness.clone());
            Some(tokio::spawn(async move {
                cluster.synced().await;
                tracing::info!("cluster state listed; ready");
                readiness.set(true);
                // Registered only now, so the apiserver never waits on a server that cannot
                // answer yet.
                if let Some(options) = registration {
                    portcullis::registration::run(client, state, options, certificate_changes)
                        .await;
                }
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
