//! Webhook registration from the running server (`serve --kube`), as Kyverno registers its own:
//! once the server is ready, it writes the `ValidatingWebhookConfiguration` that sends it
//! exactly the kinds and operations of its live policy set, one webhook per failure policy and
//! timeout, with the `caBundle` of the certificate it serves; and writes it again whenever the
//! policies or the certificate change.
//!
//! Because nothing is registered before a server is ready, installing Portcullis can never make
//! the apiserver wait on a backend that does not exist yet. The configuration is not removed
//! when the server stops: then the webhooks' own failure policies decide, as configured. It is
//! labelled [`MANAGED_BY_LABEL`] so that uninstalling removes it.

use crate::webhook::AppState;
use crate::webhook_config::{self, CONFIGURATION_NAME, Endpoint};
use k8s_openapi::api::admissionregistration::v1::ValidatingWebhookConfiguration;
use kube::api::{Api, Patch, PatchParams};
use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;

/// `kubectl delete validatingwebhookconfigurations -l app.kubernetes.io/managed-by=portcullis`
/// removes what servers registered.
pub const MANAGED_BY_LABEL: (&str, &str) = ("app.kubernetes.io/managed-by", "portcullis");
const FIELD_MANAGER: &str = "portcullis";
const RETRY: Duration = Duration::from_secs(5);

/// Where registered webhooks point, and where the `caBundle` is read from.
#[derive(Debug, Clone)]
pub struct RegistrationOptions {
    /// The client config; its `ca_bundle` is filled from `ca_bundle_file` at every write.
    pub endpoint: Endpoint,
    /// The serving certificate chain (PEM).
    pub tls_cert: PathBuf,
    /// A PEM CA bundle; without it, `ca.crt` beside the certificate, else the chain's issuers.
    pub ca_bundle_file: Option<PathBuf>,
    /// Register every webhook with `failurePolicy: Ignore`, whatever the policies say.
    pub force_ignore: bool,
}

/// The CA bundle the apiserver should trust for the certificate at `tls_cert`.
pub fn ca_bundle(tls_cert: &Path, explicit: Option<&Path>) -> Result<Vec<u8>, String> {
    if let Some(path) = explicit {
        return read_ca_bundle(path);
    }
    let beside = tls_cert.with_file_name("ca.crt");
    if beside.is_file() {
        return read_ca_bundle(&beside);
    }
    let chain = read_text(tls_cert)?;
    let blocks = pem_certificates(&chain);
    // A chain names its issuers after the leaf; a lone certificate is self-signed.
    let issuers = if blocks.len() > 1 {
        &blocks[1..]
    } else {
        &blocks[..]
    };
    if issuers.is_empty() {
        return Err(format!(
            "{}: no PEM certificate for the webhooks' caBundle",
            tls_cert.display()
        ));
    }
    Ok(issuers.concat().into_bytes())
}

/// The PEM certificates of a CA bundle file, refusing a file that holds none.
pub fn read_ca_bundle(path: &Path) -> Result<Vec<u8>, String> {
    let certificates = pem_certificates(&read_text(path)?);
    if certificates.is_empty() {
        return Err(format!(
            "{}: no PEM certificate for the webhooks' caBundle",
            path.display()
        ));
    }
    Ok(certificates.concat().into_bytes())
}

fn read_text(path: &Path) -> Result<String, String> {
    std::fs::read_to_string(path)
        .map_err(|error| format!("cannot read {}: {error}", path.display()))
}

/// The PEM `CERTIFICATE` blocks of a text, each with its armour and a closing newline.
fn pem_certificates(text: &str) -> Vec<String> {
    const BEGIN: &str = "-----BEGIN CERTIFICATE-----";
    const END: &str = "-----END CERTIFICATE-----";
    let mut blocks = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find(BEGIN) {
        let Some(length) = rest[start..].find(END) else {
            break;
        };
        let end = start + length + END.len();
        blocks.push(format!("{}\n", &rest[start..end]));
        rest = &rest[end..];
    }
    blocks
}

/// The configuration a server with this policy set registers. Policies whose kinds cannot be
/// named in webhook rules are left out of it and returned, so they can be reported.
pub fn desired_configuration(
    state: &AppState,
    endpoint: &Endpoint,
    force_ignore: bool,
) -> (Value, Vec<webhook_config::UnknownKind>) {
    let active = state.policies();
    let (webhooks, unknown) = match webhook_config::webhooks(&active.set, endpoint, force_ignore) {
        Ok(webhooks) => (webhooks, Vec::new()),
        Err(unknown) => {
            let left_out: Vec<_> = active
                .set
                .policies
                .iter()
                .filter(|policy| {
                    !unknown
                        .iter()
                        .any(|kind| kind.policy == policy.qualified_name())
                })
                .cloned()
                .collect();
            let covered = crate::policy::PolicySet {
                policies: left_out,
                exceptions: Default::default(),
            };
            (
                webhook_config::webhooks(&covered, endpoint, force_ignore).unwrap_or_default(),
                unknown,
            )
        }
    };
    let configuration = json!({
        "apiVersion": "admissionregistration.k8s.io/v1",
        "kind": "ValidatingWebhookConfiguration",
        "metadata": {
            "name": CONFIGURATION_NAME,
            "labels": {MANAGED_BY_LABEL.0: MANAGED_BY_LABEL.1},
        },
        "webhooks": webhooks,
    });
    (configuration, unknown)
}

/// Registers now, then again after every change of the policy set or of `certificate_changes`,
/// for as long as the task lives. A failed write is logged and retried.
pub async fn run(
    client: kube::Client,
    state: Arc<AppState>,
    options: RegistrationOptions,
    mut certificate_changes: watch::Receiver<u64>,
) {
    let api: Api<ValidatingWebhookConfiguration> = Api::all(client);
    let mut installs = state.watch_installs();
    let params = PatchParams::apply(FIELD_MANAGER).force();
    loop {
        installs.borrow_and_update();
        certificate_changes.borrow_and_update();
        let written = match ca_bundle(&options.tls_cert, options.ca_bundle_file.as_deref()) {
            Err(error) => {
                tracing::error!(error = error.as_str(), "webhooks not registered");
                false
            }
            Ok(bundle) => {
                let endpoint = Endpoint {
                    ca_bundle: Some(bundle),
                    ..options.endpoint.clone()
                };
                let (configuration, unknown) =
                    desired_configuration(&state, &endpoint, options.force_ignore);
                for kind in &unknown {
                    tracing::error!(error = %kind, "policy left out of the webhook registration");
                }
                let webhooks = configuration["webhooks"].as_array().map_or(0, Vec::len);
                match api
                    .patch(CONFIGURATION_NAME, &params, &Patch::Apply(&configuration))
                    .await
                {
                    Ok(_) => {
                        state
                            .metrics
                            .webhook_registrations
                            .with_label_values(&["success"])
                            .inc();
                        tracing::info!(webhooks, "webhooks registered");
                        true
                    }
                    Err(error) => {
                        state
                            .metrics
                            .webhook_registrations
                            .with_label_values(&["error"])
                            .inc();
                        tracing::error!(error = %error, "webhook registration failed; retrying");
                        false
                    }
                }
            }
        };
        if !written {
            tokio::time::sleep(RETRY).await;
            continue;
        }
        tokio::select! {
            changed = installs.changed() => if changed.is_err() { return },
            changed = certificate_changes.changed() => if changed.is_err() { return },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LEAF: &str = "-----BEGIN CERTIFICATE-----\nTEVBRg==\n-----END CERTIFICATE-----\n";
    const CA: &str = "-----BEGIN CERTIFICATE-----\nQ0E=\n-----END CERTIFICATE-----\n";

    #[test]
    fn the_ca_bundle_is_ca_crt_beside_the_certificate_else_the_chain_issuers() {
        let dir = tempfile::tempdir().expect("tempdir");
        let cert = dir.path().join("tls.crt");
        std::fs::write(&cert, format!("{LEAF}{CA}")).expect("write");
        assert_eq!(ca_bundle(&cert, None).expect("chain"), CA.as_bytes());
        std::fs::write(&cert, LEAF).expect("write");
        assert_eq!(
            ca_bundle(&cert, None).expect("self-signed"),
            LEAF.as_bytes()
        );
        std::fs::write(dir.path().join("ca.crt"), CA).expect("write");
        assert_eq!(ca_bundle(&cert, None).expect("beside"), CA.as_bytes());
        let explicit = dir.path().join("bundle.pem");
        std::fs::write(&explicit, "no certificate here").expect("write");
        let error = ca_bundle(&cert, Some(&explicit)).expect_err("not PEM");
        assert!(error.contains("bundle.pem: no PEM certificate"), "{error}");
    }
}
