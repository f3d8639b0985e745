//! `portcullis check`: the engine run offline over manifest files, for CI before a GitOps sync.
//!
//! Exit codes are a contract: 0 when no Enforce rule fails, 1 when one does, 2 when an input
//! cannot be read or a rule could not be evaluated (an error is never counted as a pass).

pub mod input;
pub mod render;

use crate::eval::{self, Request, RuleOutcome, Status};
use crate::matching::Operation;
use crate::policy::{FailureAction, Policy, PolicySet, Rule};
use crate::yaml::Location;
use input::{Inputs, Manifest};
use serde_json::Value;
use std::collections::BTreeMap;

/// One (policy, rule, resource) result that applied.
#[derive(Debug, Clone)]
pub struct Finding<'p> {
    pub manifest: usize,
    pub policy: &'p Policy,
    pub rule: &'p Rule,
    /// The rule's own result as `kyverno test` reports it (`warn` only for unscored policies).
    pub status: Status,
    pub outcome: RuleOutcome,
    pub action: FailureAction,
    pub location: Location,
}

#[derive(Debug, Default)]
pub struct CheckReport<'p> {
    pub findings: Vec<Finding<'p>>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Summary {
    pub pass: usize,
    pub fail: usize,
    pub warn: usize,
    pub error: usize,
    pub skip: usize,
}

pub const EXIT_CLEAN: u8 = 0;
pub const EXIT_ENFORCE_FAILED: u8 = 1;
pub const EXIT_ERROR: u8 = 2;

impl CheckReport<'_> {
    pub fn summary(&self) -> Summary {
        let mut summary = Summary::default();
        for finding in &self.findings {
            *match finding.status {
                Status::Pass => &mut summary.pass,
                Status::Fail => &mut summary.fail,
                Status::Warn => &mut summary.warn,
                Status::Error => &mut summary.error,
                Status::Skip => &mut summary.skip,
            } += 1;
        }
        summary
    }

    pub fn exit_code(&self, inputs: &Inputs) -> u8 {
        let summary = self.summary();
        if !inputs.errors.is_empty() || summary.error > 0 {
            EXIT_ERROR
        } else if self.findings.iter().any(|finding| {
            finding.status == Status::Fail && finding.action == FailureAction::Enforce
        }) {
            EXIT_ENFORCE_FAILED
        } else {
            EXIT_CLEAN
        }
    }
}

/// Labels of the `Namespace` objects in the input, which `namespaceSelector` rules consult.
fn namespace_labels(inputs: &Inputs) -> BTreeMap<String, BTreeMap<String, String>> {
    let mut labels = BTreeMap::new();
    for manifest in inputs
        .manifests
        .iter()
        .filter(|manifest| manifest.gvk.kind == "Namespace" && manifest.gvk.group.is_empty())
    {
        let found = inputs
            .object(manifest)
            .pointer("/metadata/labels")
            .and_then(Value::as_object)
            .map(|map| {
                map.iter()
                    .filter_map(|(key, value)| {
                        value.as_str().map(|value| (key.clone(), value.to_owned()))
                    })
                    .collect()
            })
            .unwrap_or_default();
        labels.insert(manifest.name.clone(), found);
    }
    labels
}

pub fn run<'p>(set: &'p PolicySet, inputs: &Inputs) -> CheckReport<'p> {
    let namespaces = namespace_labels(inputs);
    let no_labels = BTreeMap::new();
    let mut report = CheckReport::default();
    for (index, manifest) in inputs.manifests.iter().enumerate() {
        let object = inputs.object(manifest);
        let request = Request {
            operation: Operation::Create,
            gvk: &manifest.gvk,
            subresource: "",
            object,
            old_object: &Value::Null,
            namespace: &manifest.namespace,
            namespace_labels: Some(namespaces.get(&manifest.namespace).unwrap_or(&no_labels)),
            user: None,
            admission: false,
        };
        for result in eval::evaluate(set, &request).results {
            report
                .findings
                .push(finding(inputs, index, manifest, result));
        }
    }
    report
}

fn finding<'p>(
    inputs: &Inputs,
    index: usize,
    manifest: &Manifest,
    result: eval::RuleResult<'p>,
) -> Finding<'p> {
    let status = match result.outcome.status() {
        Status::Fail if !result.policy.scored => Status::Warn,
        status => status,
    };
    Finding {
        manifest: index,
        location: inputs.locate(manifest, result.outcome.path()),
        policy: result.policy,
        rule: result.rule,
        status,
        outcome: result.outcome,
        action: result.action,
    }
}
