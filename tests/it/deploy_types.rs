//! Minimal types for the CRD-defined objects `deploy/` renders (cert-manager, Prometheus
//! Operator), which k8s-openapi does not cover. Each declares only the fields our manifests
//! use, spelt as the upstream API spells them, and rejects every other field: a typo or a field
//! that does not exist fails the strict check instead of being ignored by the cluster's
//! pruning. Metadata and selectors use k8s-openapi's own types.

// The fields exist to be checked on the way in; nothing reads them.
#![allow(dead_code)]

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::Value;
use std::collections::BTreeMap;

/// Reads the object into `T`, which rejects unknown fields, and checks that its metadata
/// round-trips through k8s-openapi's `ObjectMeta`.
pub fn strict<T: DeserializeOwned>(object: &Value) -> Result<(), String> {
    serde_json::from_value::<T>(object.clone()).map_err(|error| error.to_string())?;
    let metadata: ObjectMeta =
        serde_json::from_value(object["metadata"].clone()).map_err(|error| error.to_string())?;
    let back = serde_json::to_value(&metadata).map_err(|error| error.to_string())?;
    if back == object["metadata"] {
        Ok(())
    } else {
        Err(format!("metadata fields lost: {}", object["metadata"]))
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Object<Spec> {
    pub api_version: String,
    pub kind: String,
    pub metadata: Value,
    pub spec: Spec,
}

pub type Certificate = Object<CertificateSpec>;
pub type Issuer = Object<IssuerSpec>;
pub type ServiceMonitor = Object<ServiceMonitorSpec>;
pub type PrometheusRule = Object<PrometheusRuleSpec>;

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct CertificateSpec {
    pub secret_name: String,
    pub issuer_ref: IssuerRef,
    #[serde(rename = "isCA")]
    pub is_ca: Option<bool>,
    pub common_name: Option<String>,
    pub dns_names: Option<Vec<String>>,
    pub duration: Option<String>,
    pub renew_before: Option<String>,
    pub usages: Option<Vec<KeyUsage>>,
    pub private_key: Option<PrivateKey>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IssuerRef {
    pub name: String,
    pub kind: Option<String>,
    pub group: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct PrivateKey {
    pub algorithm: Option<KeyAlgorithm>,
    pub size: Option<u32>,
    pub rotation_policy: Option<RotationPolicy>,
}

#[derive(Deserialize)]
pub enum KeyAlgorithm {
    #[serde(rename = "RSA")]
    Rsa,
    #[serde(rename = "ECDSA")]
    Ecdsa,
    Ed25519,
}

#[derive(Deserialize)]
pub enum RotationPolicy {
    Never,
    Always,
}

/// The key usages cert-manager accepts that a serving certificate may carry.
#[derive(Deserialize)]
pub enum KeyUsage {
    #[serde(rename = "server auth")]
    ServerAuth,
    #[serde(rename = "digital signature")]
    DigitalSignature,
    #[serde(rename = "key encipherment")]
    KeyEncipherment,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct IssuerSpec {
    pub self_signed: Option<BTreeMap<String, Value>>,
    pub ca: Option<CaIssuer>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct CaIssuer {
    pub secret_name: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ServiceMonitorSpec {
    pub selector: LabelSelector,
    pub endpoints: Vec<Endpoint>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Endpoint {
    pub port: String,
    pub path: Option<String>,
    pub interval: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PrometheusRuleSpec {
    pub groups: Vec<RuleGroup>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuleGroup {
    pub name: String,
    pub rules: Vec<AlertRule>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AlertRule {
    pub alert: String,
    pub expr: String,
    #[serde(rename = "for")]
    pub for_duration: Option<String>,
    pub labels: Option<BTreeMap<String, String>>,
    pub annotations: Option<BTreeMap<String, String>>,
}
