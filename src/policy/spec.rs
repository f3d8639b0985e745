//! Wire types: Kyverno `ClusterPolicy` / `Policy` documents exactly as users write them.
//!
//! Every struct rejects unknown fields, so a misspelt `validationFailureActon` is a load error
//! with its line instead of a silently ignored setting. Fields Kyverno defines but Portcullis does
//! not implement are still declared (as raw values) so that compilation can refuse them by name.

use serde::Deserialize;
use serde_json::Value;
use std::collections::BTreeMap;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct PolicyDocument {
    pub api_version: String,
    pub kind: String,
    pub metadata: ObjectMeta,
    pub spec: PolicySpec,
    /// Written by controllers; never an input to evaluation.
    #[serde(default)]
    pub status: Option<Value>,
}

/// The whole of Kubernetes `ObjectMeta`, so that `kubectl get -o yaml` output loads too.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ObjectMeta {
    pub name: Option<String>,
    pub namespace: Option<String>,
    #[serde(default)]
    pub annotations: BTreeMap<String, String>,
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    pub generate_name: Option<Value>,
    pub uid: Option<Value>,
    pub resource_version: Option<Value>,
    pub generation: Option<Value>,
    pub creation_timestamp: Option<Value>,
    pub deletion_timestamp: Option<Value>,
    pub deletion_grace_period_seconds: Option<Value>,
    pub finalizers: Option<Value>,
    pub managed_fields: Option<Value>,
    pub owner_references: Option<Value>,
    pub self_link: Option<Value>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct PolicySpec {
    pub rules: Vec<RuleSpec>,
    pub validation_failure_action: Option<String>,
    #[serde(default)]
    pub validation_failure_action_overrides: Vec<ActionOverrideSpec>,
    pub background: Option<bool>,
    pub admission: Option<bool>,
    pub emit_warning: Option<bool>,
    pub apply_rules: Option<String>,
    pub failure_policy: Option<String>,
    pub webhook_timeout_seconds: Option<i64>,
    pub webhook_configuration: Option<WebhookConfigurationSpec>,
    pub schema_validation: Option<bool>,
    pub use_server_side_apply: Option<bool>,
    pub generate_existing: Option<Value>,
    pub generate_existing_on_policy_update: Option<Value>,
    pub mutate_existing_on_policy_update: Option<Value>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct WebhookConfigurationSpec {
    pub failure_policy: Option<String>,
    pub timeout_seconds: Option<i64>,
    pub match_conditions: Option<Value>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ActionOverrideSpec {
    pub action: String,
    #[serde(default)]
    pub namespaces: Vec<String>,
    pub namespace_selector: Option<LabelSelectorSpec>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RuleSpec {
    pub name: String,
    #[serde(rename = "match")]
    pub match_resources: MatchSpec,
    pub exclude: Option<MatchSpec>,
    pub validate: Option<ValidationSpec>,
    pub context: Option<Value>,
    pub preconditions: Option<Value>,
    pub cel_preconditions: Option<Value>,
    pub mutate: Option<Value>,
    pub generate: Option<Value>,
    pub verify_images: Option<Value>,
    pub image_extractors: Option<Value>,
    pub skip_background_requests: Option<bool>,
    pub report_properties: Option<Value>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ValidationSpec {
    pub message: Option<String>,
    pub pattern: Option<Value>,
    pub any_pattern: Option<Value>,
    pub deny: Option<Value>,
    pub foreach: Option<Value>,
    pub failure_action: Option<String>,
    #[serde(default)]
    pub failure_action_overrides: Vec<ActionOverrideSpec>,
    pub allow_existing_violations: Option<bool>,
    pub cel: Option<Value>,
    pub pod_security: Option<Value>,
    pub manifests: Option<Value>,
    pub assert: Option<Value>,
}

/// `match` / `exclude`: `any`, `all`, or the legacy inline filter written beside them.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct MatchSpec {
    pub any: Option<Vec<FilterSpec>>,
    pub all: Option<Vec<FilterSpec>>,
    pub resources: Option<ResourceSpec>,
    pub subjects: Option<Vec<SubjectSpec>>,
    pub roles: Option<Vec<String>>,
    pub cluster_roles: Option<Vec<String>>,
}

#[derive(Debug, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct FilterSpec {
    pub resources: Option<ResourceSpec>,
    pub subjects: Option<Vec<SubjectSpec>>,
    pub roles: Option<Vec<String>>,
    pub cluster_roles: Option<Vec<String>>,
}

#[derive(Debug, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ResourceSpec {
    pub kinds: Option<Vec<String>>,
    pub name: Option<String>,
    pub names: Option<Vec<String>>,
    pub namespaces: Option<Vec<String>>,
    pub annotations: Option<BTreeMap<String, String>>,
    pub selector: Option<LabelSelectorSpec>,
    pub namespace_selector: Option<LabelSelectorSpec>,
    pub operations: Option<Vec<String>>,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct LabelSelectorSpec {
    #[serde(default)]
    pub match_labels: BTreeMap<String, String>,
    #[serde(default)]
    pub match_expressions: Vec<LabelSelectorRequirementSpec>,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct LabelSelectorRequirementSpec {
    pub key: String,
    pub operator: String,
    #[serde(default)]
    pub values: Vec<String>,
}

#[derive(Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct SubjectSpec {
    pub kind: String,
    pub name: String,
    pub namespace: Option<String>,
    pub api_group: Option<String>,
}

/// A Kyverno `PolicyException` (`kyverno.io/v2`, `v2beta1`): rules of policies that do not apply
/// to the resources it matches.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ExceptionDocument {
    pub api_version: String,
    pub kind: String,
    pub metadata: ObjectMeta,
    pub spec: ExceptionSpec,
    #[serde(default)]
    pub status: Option<Value>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ExceptionSpec {
    /// Whether reports of a background scan honour the exception; Portcullis runs none.
    pub background: Option<bool>,
    /// Only `any` or `all`: the legacy inline filter of a rule's `match` is refused.
    #[serde(rename = "match")]
    pub match_resources: MatchSpec,
    pub conditions: Option<Value>,
    pub exceptions: Vec<ExceptionTargetSpec>,
    pub pod_security: Option<Value>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ExceptionTargetSpec {
    pub policy_name: String,
    pub rule_names: Vec<String>,
}
