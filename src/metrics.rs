//! Prometheus metrics, owned by application state (no globals), so tests can encode a registry
//! of their own. Labels stay bounded: policy, rule, result, mode, operation, kind, reason,
//! on_timeout, exception (one per PolicyException loaded) — never a resource's namespace, name
//! or image.

mod review_counts;
mod sharded;

pub use review_counts::{MAX_KIND_LABELS, OTHER_KIND, ReviewCounts};
pub use sharded::{
    ShardedCounter, ShardedCounterVec, ShardedGauge, ShardedGaugeVec, ShardedHistogram,
    ShardedHistogramVec,
};

use prometheus::{Encoder, IntCounterVec, IntGauge, IntGaugeVec, Opts, Registry, TextEncoder};

/// Buckets from half a millisecond up to the apiserver's 10 s webhook timeout.
const LATENCY_BUCKETS: [f64; 15] = [
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
    10.0,
];

/// The `result` label values of `portcullis_policy_reload_total`,
/// `portcullis_tls_certificate_reload_total` and `portcullis_webhook_registration_total`.
pub const RELOAD_RESULTS: [&str; 2] = ["success", "error"];

#[derive(Clone)]
pub struct Metrics {
    registry: Registry,
    pub admission_requests: ReviewCounts,
    admission_review_durations: ShardedHistogramVec,
    pub admission_review_duration: ShardedHistogram,
    pub admission_request_errors: IntCounterVec,
    in_flight_family: ShardedGaugeVec,
    pub in_flight: ShardedGauge,
    pub admission_deadline_exceeded: IntCounterVec,
    pub policy_results: ShardedCounterVec,
    pub policy_exception_skips: ShardedCounterVec,
    pub policy_execution_duration: ShardedHistogramVec,
    pub policy_reloads: IntCounterVec,
    pub policies_loaded: IntGauge,
    pub policy_rules_loaded: IntGauge,
    pub certificate_reloads: IntCounterVec,
    pub certificate_expiry: IntGauge,
    pub webhook_registrations: IntCounterVec,
    pub tls_client_refusals: IntCounterVec,
    pub build_info: IntGaugeVec,
}

impl Metrics {
    pub fn new() -> Result<Self, prometheus::Error> {
        let registry = Registry::new();
        let admission_review_durations = ShardedHistogramVec::new(
            "portcullis_admission_review_duration_seconds",
            "Time from a review's body being read to its answer being ready.",
            &[],
            &LATENCY_BUCKETS,
        )?;
        let in_flight_family = ShardedGaugeVec::new(
            "portcullis_admission_requests_in_flight",
            "Admission reviews being evaluated now.",
            &[],
        )?;
        let metrics = Self {
            admission_requests: ReviewCounts::new(ShardedCounterVec::new(
                "portcullis_admission_requests_total",
                "Admission reviews answered, by operation, kind and decision.",
                &["operation", "kind", "allowed"],
            )?),
            admission_review_duration: admission_review_durations.with_label_values(&[]),
            admission_review_durations,
            admission_request_errors: IntCounterVec::new(
                Opts::new(
                    "portcullis_admission_request_errors_total",
                    "Requests refused before evaluation, by reason.",
                ),
                &["reason"],
            )?,
            in_flight: in_flight_family.with_label_values(&[]),
            in_flight_family,
            admission_deadline_exceeded: IntCounterVec::new(
                Opts::new(
                    "portcullis_admission_deadline_exceeded_total",
                    "Reviews not fully evaluated by the apiserver's deadline, by the verdict --on-timeout gave.",
                ),
                &["on_timeout"],
            )?,
            policy_results: ShardedCounterVec::new(
                "portcullis_policy_results_total",
                "Rule results at admission, by policy, rule, result and mode.",
                &["policy", "rule", "result", "mode"],
            )?,
            policy_exception_skips: ShardedCounterVec::new(
                "portcullis_policy_exception_skips_total",
                "Rule results at admission skipped by a PolicyException, by policy, rule and exception (namespace/name).",
                &["policy", "rule", "exception"],
            )?,
            policy_execution_duration: ShardedHistogramVec::new(
                "portcullis_policy_execution_duration_seconds",
                "Time spent evaluating one policy for one review.",
                &["policy"],
                &LATENCY_BUCKETS,
            )?,
            policy_reloads: IntCounterVec::new(
                Opts::new(
                    "portcullis_policy_reload_total",
                    "Policy set reloads, by result.",
                ),
                &["result"],
            )?,
            webhook_registrations: IntCounterVec::new(
                Opts::new(
                    "portcullis_webhook_registration_total",
                    "Writes of the ValidatingWebhookConfiguration by serve --kube, by result.",
                ),
                &["result"],
            )?,
            policies_loaded: IntGauge::new(
                "portcullis_policies_loaded",
                "Policies in the active set.",
            )?,
            policy_rules_loaded: IntGauge::new(
                "portcullis_policy_rules_loaded",
                "Rules in the active set (before autogen).",
            )?,
            certificate_reloads: IntCounterVec::new(
                Opts::new(
                    "portcullis_tls_certificate_reload_total",
                    "Serving certificate reloads, by result.",
                ),
                &["result"],
            )?,
            certificate_expiry: IntGauge::new(
                "portcullis_tls_certificate_expiry_timestamp_seconds",
                "Unix time at which the serving certificate expires.",
            )?,
            tls_client_refusals: IntCounterVec::new(
                Opts::new(
                    "portcullis_tls_client_certificate_refusals_total",
                    "TLS handshakes refused by client certificate verification (--client-ca), by reason.",
                ),
                &["reason"],
            )?,
            build_info: IntGaugeVec::new(
                Opts::new("portcullis_build_info", "Build information; always 1."),
                &["version"],
            )?,
            registry,
        };
        metrics.register_all()?;
        // Every result a reload can have is a series from the first scrape: an alert on
        // `increase()` sees nothing of a series whose first sample is already 1.
        for result in RELOAD_RESULTS {
            metrics.policy_reloads.with_label_values(&[result]);
            metrics.certificate_reloads.with_label_values(&[result]);
            metrics.webhook_registrations.with_label_values(&[result]);
        }
        for reason in crate::server::REFUSAL_REASONS {
            metrics.tls_client_refusals.with_label_values(&[reason]);
        }
        metrics
            .build_info
            .with_label_values(&[env!("CARGO_PKG_VERSION")])
            .set(1);
        Ok(metrics)
    }

    fn register_all(&self) -> Result<(), prometheus::Error> {
        let collectors: [Box<dyn prometheus::core::Collector>; 16] = [
            Box::new(self.admission_requests.family().clone()),
            Box::new(self.admission_deadline_exceeded.clone()),
            Box::new(self.admission_review_durations.clone()),
            Box::new(self.admission_request_errors.clone()),
            Box::new(self.in_flight_family.clone()),
            Box::new(self.policy_results.clone()),
            Box::new(self.policy_exception_skips.clone()),
            Box::new(self.policy_execution_duration.clone()),
            Box::new(self.policy_reloads.clone()),
            Box::new(self.policies_loaded.clone()),
            Box::new(self.policy_rules_loaded.clone()),
            Box::new(self.certificate_reloads.clone()),
            Box::new(self.certificate_expiry.clone()),
            Box::new(self.webhook_registrations.clone()),
            Box::new(self.tls_client_refusals.clone()),
            Box::new(self.build_info.clone()),
        ];
        for collector in collectors {
            self.registry.register(collector)?;
        }
        Ok(())
    }

    /// The registry in Prometheus text format.
    pub fn encode(&self) -> String {
        let mut buffer = Vec::new();
        // Encoding into a Vec cannot fail for I/O; a collector error leaves what was written.
        let _ = TextEncoder::new().encode(&self.registry.gather(), &mut buffer);
        String::from_utf8_lossy(&buffer).into_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_scrape_has_every_reload_series_at_zero() {
        let text = Metrics::new().expect("metrics").encode();
        for family in [
            "portcullis_policy_reload_total",
            "portcullis_tls_certificate_reload_total",
            "portcullis_webhook_registration_total",
        ] {
            for result in RELOAD_RESULTS {
                let series = format!("{family}{{result=\"{result}\"}} 0\n");
                assert!(text.contains(&series), "{series} missing from\n{text}");
            }
        }
        for reason in crate::server::REFUSAL_REASONS {
            let series = format!(
                "portcullis_tls_client_certificate_refusals_total{{reason=\"{reason}\"}} 0\n"
            );
            assert!(text.contains(&series), "{series} missing from\n{text}");
        }
    }
}
