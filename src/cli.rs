//! Command-line interface. Every `serve` flag has an environment twin (`PORTCULLIS_LISTEN`, …)
//! so a Deployment can configure the server without rewriting its arguments.

use clap::{Args, Parser, Subcommand, ValueEnum};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

#[derive(Debug, Parser)]
#[command(
    name = "portcullis",
    version,
    about = "Kubernetes admission policy gate for Kyverno validate policies"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve the validating admission webhook over TLS, with metrics on a plain port.
    Serve(ServeArgs),
    /// Check manifest files, directories or stdin (`-`) against the policies, offline.
    Check(CheckArgs),
    /// Run Kyverno-style kyverno-test.yaml suites found under the given paths.
    Test(TestArgs),
    /// Generate a development CA and a serving certificate for the in-cluster service names.
    Certs(CertsArgs),
    /// Print the CustomResourceDefinitions of portcullis.dev ClusterPolicy and Policy.
    Crds(CrdsArgs),
    /// Print the ValidatingWebhookConfiguration whose rules cover exactly what the policies match.
    WebhookConfig(WebhookConfigArgs),
}

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address of the HTTPS webhook listener.
    #[arg(long, env = "PORTCULLIS_LISTEN", default_value = "0.0.0.0:8443")]
    pub listen: SocketAddr,
    /// Address of the plain-HTTP listener for /metrics, /healthz and /readyz.
    #[arg(
        long,
        env = "PORTCULLIS_METRICS_LISTEN",
        default_value = "0.0.0.0:9090"
    )]
    pub metrics_listen: SocketAddr,
    /// Policy files or directories (repeatable). Without it: `policies/` when that directory
    /// exists, else the default policy set built into the binary.
    #[arg(long = "policies", env = "PORTCULLIS_POLICIES", value_delimiter = ',')]
    pub policies: Vec<PathBuf>,
    /// Kyverno PolicyException files or directories (repeatable), reloaded like the policies.
    /// Policy files may hold PolicyExceptions too.
    #[arg(
        long = "exceptions",
        env = "PORTCULLIS_EXCEPTIONS",
        value_delimiter = ','
    )]
    pub exceptions: Vec<PathBuf>,
    /// PEM certificate chain of the serving certificate.
    #[arg(long, env = "PORTCULLIS_TLS_CERT", default_value = crate::tls::DEFAULT_CERT_PATH)]
    pub tls_cert: PathBuf,
    /// PEM private key of the serving certificate.
    #[arg(long, env = "PORTCULLIS_TLS_KEY", default_value = crate::tls::DEFAULT_KEY_PATH)]
    pub tls_key: PathBuf,
    /// CA bundle for client certificates: turns on mutual TLS (only callers with a certificate
    /// from this CA, such as a kube-apiserver configured with one, are admitted).
    #[arg(long, env = "PORTCULLIS_CLIENT_CA")]
    pub client_ca: Option<PathBuf>,
    /// How long to keep accepting after SIGTERM, so endpoints stop routing to this pod first.
    #[arg(long, env = "PORTCULLIS_SHUTDOWN_DELAY", default_value = "5s", value_parser = parse_duration)]
    pub shutdown_delay: Duration,
    /// How long in-flight requests may take to finish once the listener has stopped.
    #[arg(long, env = "PORTCULLIS_SHUTDOWN_TIMEOUT", default_value = "30s", value_parser = parse_duration)]
    pub shutdown_timeout: Duration,
    /// The verdict for a review not fully evaluated by 80% of the apiserver's `?timeout=`:
    /// `deny` matches `failurePolicy: Fail` (the apiserver would deny once it gives up), with a
    /// message saying why; `allow` admits with a warning.
    #[arg(long, env = "PORTCULLIS_ON_TIMEOUT", value_enum, default_value_t = crate::webhook::deadline::OnTimeout::Deny)]
    pub on_timeout: crate::webhook::deadline::OnTimeout,
    /// How long a client may take to send a request body once its headers are in.
    #[arg(long, env = "PORTCULLIS_BODY_READ_TIMEOUT", default_value = "10s", value_parser = parse_duration)]
    pub body_read_timeout: Duration,
    /// MiB held at once for request bodies and the values read from them, over all requests; a
    /// request that would go over waits up to --body-read-timeout for others to finish, then
    /// gets 503.
    #[arg(long, env = "PORTCULLIS_BODY_MEMORY_MIB", default_value_t = (crate::webhook::state::DEFAULT_BODY_MEMORY >> 20) as u16, value_parser = clap::value_parser!(u16).range(1..))]
    pub body_memory_mib: u16,
    /// Webhook connections open at once; at the limit, new ones wait in the listen queue until
    /// one closes.
    #[arg(long, env = "PORTCULLIS_MAX_CONNECTIONS", default_value_t = crate::server::DEFAULT_MAX_CONNECTIONS, value_parser = clap::value_parser!(u32).range(1..))]
    pub max_connections: u32,
    #[arg(long, env = "PORTCULLIS_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,
    /// Follow the cluster (in-cluster service account, else kubeconfig): namespace labels for
    /// namespaceSelector rules, and portcullis.dev ClusterPolicy/Policy objects beside the files.
    #[arg(long, env = "PORTCULLIS_KUBE")]
    pub kube: bool,
    /// With --kube: also enforce kyverno.io/v1 ClusterPolicy and Policy objects (read-only).
    #[arg(long, env = "PORTCULLIS_WATCH_KYVERNO_POLICIES", requires = "kube")]
    pub watch_kyverno_policies: bool,
    /// With --kube: how long one GET for an apiCall context entry (or a ConfigMap no watch
    /// holds) may take; a review waits for it no longer than its own deadline either way.
    #[arg(long, env = "PORTCULLIS_LOOKUP_TIMEOUT", default_value = "5s", value_parser = parse_duration, requires = "kube")]
    pub lookup_timeout: Duration,
    /// With --kube: how long the answer to such a GET is reused (0s: never).
    #[arg(long, env = "PORTCULLIS_LOOKUP_CACHE_TTL", default_value = "2s", value_parser = parse_duration, requires = "kube")]
    pub lookup_cache_ttl: Duration,
    /// With --kube: such GETs on the wire at once; the others queue within their timeout.
    #[arg(long, env = "PORTCULLIS_LOOKUPS_IN_FLIGHT", default_value_t = 16, value_parser = clap::value_parser!(u32).range(1..), requires = "kube")]
    pub lookups_in_flight: u32,
    /// Reviews judged at once by policies with configMap or apiCall context entries, each on a
    /// thread of its own while it may wait on the API server; the others wait, within their
    /// deadline, for room.
    #[arg(long, env = "PORTCULLIS_LOOKUP_REVIEWS", default_value_t = crate::webhook::state::DEFAULT_LOOKUP_REVIEWS as u32, value_parser = clap::value_parser!(u32).range(1..))]
    pub lookup_reviews: u32,
    /// With --kube: also apply kyverno.io PolicyException objects of this namespace (`*`: of
    /// every namespace), as Kyverno's --exceptionNamespace.
    #[arg(
        long,
        env = "PORTCULLIS_WATCH_POLICY_EXCEPTIONS",
        value_name = "NAMESPACE",
        requires = "kube"
    )]
    pub watch_policy_exceptions: Option<String>,
    /// With --kube: do not write the ValidatingWebhookConfiguration; register it yourself
    /// (`portcullis webhook-config`).
    #[arg(long, env = "PORTCULLIS_NO_WEBHOOK_REGISTRATION", requires = "kube")]
    pub no_webhook_registration: bool,
    /// Service the registered webhooks call, as namespace/name (port 443, path /validate).
    #[arg(
        long,
        env = "PORTCULLIS_WEBHOOK_SERVICE",
        default_value = "portcullis/portcullis",
        conflicts_with = "webhook_url"
    )]
    pub webhook_service: String,
    /// URL the registered webhooks call instead of a Service, for a server outside the cluster.
    #[arg(long, env = "PORTCULLIS_WEBHOOK_URL")]
    pub webhook_url: Option<String>,
    /// PEM CA bundle for the registered webhooks' caBundle. Default: ca.crt beside
    /// --tls-cert (as cert-manager and `portcullis certs` write it), else the issuers in the
    /// --tls-cert chain.
    #[arg(long, env = "PORTCULLIS_WEBHOOK_CA_BUNDLE")]
    pub webhook_ca_bundle: Option<PathBuf>,
    /// Register every webhook with failurePolicy Ignore, whatever the policies say: a stopped
    /// server then never blocks the cluster (development clusters).
    #[arg(long, env = "PORTCULLIS_FORCE_FAILURE_POLICY_IGNORE")]
    pub force_failure_policy_ignore: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OutputFormat {
    /// One line per result, grouped by file, and a summary (colour on a terminal).
    Text,
    /// The JSON contract documented in the README.
    Json,
    /// JUnit XML: one testcase per resource and rule.
    Junit,
    /// SARIF 2.1.0, for GitHub code scanning.
    Sarif,
    /// GitHub Actions workflow commands (annotations).
    Github,
}

#[derive(Debug, Args)]
pub struct CheckArgs {
    /// Policy files or directories (repeatable); defaults as for `serve`.
    #[arg(long = "policies", value_delimiter = ',')]
    pub policies: Vec<PathBuf>,
    /// Kyverno PolicyException files or directories (repeatable). Policy files may hold
    /// PolicyExceptions too.
    #[arg(long = "exceptions", value_delimiter = ',')]
    pub exceptions: Vec<PathBuf>,
    #[arg(long, short, value_enum, default_value_t = OutputFormat::Text)]
    pub output: OutputFormat,
    /// Also list passing and skipped results, and documents skipped as not Kubernetes objects.
    #[arg(long, short)]
    pub verbose: bool,
    /// Read only files matching this glob, relative to the directory given (repeatable). A glob
    /// without `/` matches a name at any depth; files named on the command line are always read.
    #[arg(long, value_name = "GLOB")]
    pub include: Vec<String>,
    /// Skip files and directories matching this glob, relative to the directory given
    /// (repeatable), e.g. `--exclude 'values*.yaml' --exclude 'charts'`.
    #[arg(long, value_name = "GLOB")]
    pub exclude: Vec<String>,
    /// Labels of namespaces for namespaceSelector rules, in Kyverno's Values format
    /// (`namespaceSelector: [{name, labels}]`), as `kyverno test` reads it (repeatable).
    /// Namespace objects in the input take precedence.
    #[arg(long, value_name = "FILE")]
    pub namespace_labels: Vec<PathBuf>,
    /// Kyverno's Values format, as `kyverno apply --values-file` and `kyverno test` read it:
    /// values fixed for variables (`globalValues`, per policy and resource, per rule),
    /// namespace labels (`namespaceSelector`, `namespaces`) and `subresources`.
    #[arg(long, value_name = "FILE")]
    pub values: Option<PathBuf>,
    /// Objects that configMap and apiCall context entries read, as a cluster would serve them:
    /// ConfigMaps and any other objects, or a Kyverno `ClusterResource` file (repeatable).
    /// Without it those entries are left unloaded, as the Kyverno CLI leaves them offline.
    #[arg(long, value_name = "FILE")]
    pub context: Vec<PathBuf>,
    #[command(flatten)]
    pub functions: FunctionInputs,
    /// What a namespaceSelector rule answers for a namespace whose labels are not given:
    /// `error` (it cannot be decided), or `skip` (judged with only kubernetes.io/metadata.name).
    #[arg(long, value_enum, default_value_t = crate::check::UnknownNamespaces::Error)]
    pub unknown_namespaces: crate::check::UnknownNamespaces,
    /// Leave out the policies that use a feature Portcullis does not evaluate, listing each,
    /// instead of refusing the whole set; exit 2 when none is left.
    #[arg(long)]
    pub skip_unsupported: bool,
    /// The kustomize renderer for directories that hold a kustomization: a `kubectl` (run as
    /// `kubectl kustomize`) or a `kustomize` binary (`kustomize build`). Default: `kubectl`,
    /// else `kustomize`, from PATH.
    #[arg(long, value_name = "PATH")]
    pub kustomize_bin: Option<PathBuf>,
    /// Values file for `helm template` of every chart directory checked (repeatable).
    #[arg(long, value_name = "FILE")]
    pub helm_values: Vec<PathBuf>,
    /// The file name reports give standard input (`-`), e.g. the file it was rendered from.
    #[arg(long, value_name = "NAME")]
    pub stdin_filename: Option<String>,
    /// Namespace of namespaced resources written without one, as `kubectl apply -n`.
    #[arg(long, short = 'n', value_name = "NS", default_value = "default")]
    pub namespace: String,
    /// Exit 1 on Audit failures and warnings too, not only on Enforce failures.
    #[arg(long)]
    pub fail_on_warn: bool,
    /// Exit 1 when no rule applied to any resource, instead of passing vacuously.
    #[arg(long)]
    pub require_match: bool,
    /// Accept an input that holds nothing to check (empty standard input, a directory without
    /// manifests, no Kubernetes objects) and an empty policy set, instead of exiting 2.
    #[arg(long)]
    pub allow_empty: bool,
    /// Parallel jobs (default: the number of CPUs).
    #[arg(long, short = 'j', value_name = "N", value_parser = clap::value_parser!(u16).range(1..))]
    pub jobs: Option<u16>,
    /// Manifest files or directories; `-` reads standard input.
    #[arg(required = true)]
    pub paths: Vec<PathBuf>,
}

#[derive(Debug, Args)]
pub struct TestArgs {
    /// Do not fail the run for test cases whose policies use features Portcullis does not
    /// evaluate; they are still listed and counted as unsupported.
    #[arg(long)]
    pub allow_unsupported: bool,
    /// Print every expectation, not only mismatches.
    #[arg(long, short)]
    pub verbose: bool,
    /// `json` prints every expectation with the rule responses it was compared with.
    #[arg(long, short, value_enum, default_value_t = TestOutput::Text)]
    pub output: TestOutput,
    #[command(flatten)]
    pub functions: FunctionInputs,
    /// Test files or directories searched for kyverno-test.yaml.
    #[arg(required = true)]
    pub paths: Vec<PathBuf>,
}

/// What JMESPath functions read besides their arguments, fixed for a reproducible run.
#[derive(Debug, Clone, Default, Args)]
pub struct FunctionInputs {
    /// The time `time_now`, `time_now_utc` and `time_since` read, as RFC 3339
    /// (`2026-01-31T12:00:00Z`); by default the system clock.
    #[arg(long, value_name = "RFC3339", value_parser = parse_now)]
    pub now: Option<time::OffsetDateTime>,
    /// Seed of `random`, which then draws the same strings on every run; by default fresh
    /// randomness.
    #[arg(long, value_name = "N")]
    pub seed: Option<u64>,
}

impl FunctionInputs {
    /// The JMESPath environment with what was fixed.
    pub fn environment(&self) -> crate::jmespath::Environment {
        let mut environment = crate::jmespath::Environment::default();
        if let Some(now) = self.now {
            environment = environment.with_now(now);
        }
        if let Some(seed) = self.seed {
            environment = environment.with_seed(seed);
        }
        environment
    }
}

/// An RFC 3339 time, as Go's `time.RFC3339` layout reads it.
fn parse_now(text: &str) -> Result<time::OffsetDateTime, String> {
    crate::coerce::gotime::parse("2006-01-02T15:04:05Z07:00", text)
        .map_err(|error| format!("expected an RFC 3339 time such as 2026-01-31T12:00:00Z: {error}"))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum TestOutput {
    /// A line per mismatch (per expectation with --verbose) and a summary.
    Text,
    /// One JSON array of every expectation, its verdict and the rule responses it was
    /// compared with (documented in the README).
    Json,
}

#[derive(Debug, Args)]
pub struct CertsArgs {
    /// Directory for ca.crt, ca.key, tls.crt and tls.key.
    #[arg(long, default_value = "certs-dev")]
    pub dir: PathBuf,
    /// Also write the serving certificate and a caBundle patch for a kustomize overlay into
    /// `<DIR>/generated/` (git-ignored), e.g. `--kustomize deploy/overlays/dev`.
    #[arg(long, value_name = "DIR")]
    pub kustomize: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct WebhookConfigArgs {
    /// Policy files or directories (repeatable); defaults as for `serve`.
    #[arg(long = "policies", value_delimiter = ',')]
    pub policies: Vec<PathBuf>,
    /// Send reviews to this URL instead of the in-cluster Service `portcullis/portcullis`.
    #[arg(long)]
    pub url: Option<String>,
    /// PEM file whose certificates become the webhooks' `caBundle` (left out otherwise, for
    /// an overlay or cert-manager to inject).
    #[arg(long)]
    pub ca_bundle: Option<PathBuf>,
    /// Every webhook with failurePolicy Ignore, whatever the policies say.
    #[arg(long)]
    pub force_failure_policy_ignore: bool,
}

#[derive(Debug, Args)]
pub struct CrdsArgs {
    /// Write one file per CRD into this directory instead of printing them.
    #[arg(long)]
    pub dir: Option<PathBuf>,
}

/// `500ms`, `5s`, `2m`, or a bare number of seconds.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let value: f64 = number
        .parse()
        .map_err(|_| format!("invalid duration {text:?}: expected e.g. 500ms, 5s or 2m"))?;
    let seconds = match unit {
        "ms" => value / 1000.0,
        "" | "s" => value,
        "m" => value * 60.0,
        _ => return Err(format!("invalid duration unit in {text:?}: use ms, s or m")),
    };
    Duration::try_from_secs_f64(seconds)
        .map_err(|error| format!("invalid duration {text:?}: {error}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("5s"), Ok(Duration::from_secs(5)));
        assert_eq!(parse_duration("2"), Ok(Duration::from_secs(2)));
        assert_eq!(parse_duration("1m"), Ok(Duration::from_secs(60)));
        assert!(parse_duration("5h").is_err());
        assert!(parse_duration("fast").is_err());
    }

    #[test]
    fn now_is_rfc3339() {
        let now = parse_now("2026-01-31T12:00:00+01:00").map(|t| t.unix_timestamp());
        assert_eq!(now, Ok(1_769_857_200));
        assert!(parse_now("2026-01-31 12:00").is_err());
        assert!(parse_now("yesterday").is_err());
    }

    #[test]
    fn cli_is_consistent() {
        use clap::CommandFactory;
        Cli::command().debug_assert();
    }
}
