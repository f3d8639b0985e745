//! `portcullis check`: the engine run offline over manifest files, for CI before a GitOps sync.
//!
//! Exit codes are a contract: 0 when no Enforce rule fails, 1 when one does (or, as the [`Gate`]
//! asks, an Audit failure or a run where nothing matched), 2 when an input cannot be read or a
//! rule could not be evaluated (an error is never counted as a pass). Resources are judged in
//! parallel and reported in input order.

pub mod discover;
pub mod input;
pub mod progress;
pub mod render;
pub mod rendered;
pub mod stream;

use crate::eval::{self, Request, RuleOutcome, Status};
use crate::file_environment::{FileEnvironment, Shape};
use crate::matching::{Gvk, NAMESPACE_NAME_LABEL, Operation, labels_of};
use crate::policy::{FailureAction, Policy, PolicySet, Rule};
use crate::yaml::Location;
use input::{Inputs, Manifest};
use progress::Progress;
use rayon::prelude::*;
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

/// One (policy, rule, resource) result that applied.
#[derive(Debug, Clone)]
pub struct Finding<'p> {
    pub manifest: usize,
    pub policy: &'p Policy,
    pub rule: &'p Rule,
    /// The rule's own result as `kyverno test` reports it (`warn` only for unscored policies).
    pub status: Status,
    pub outcome: RuleOutcome<'p>,
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

impl Summary {
    pub fn add(&mut self, other: &Summary) {
        self.pass += other.pass;
        self.fail += other.fail;
        self.warn += other.warn;
        self.error += other.error;
        self.skip += other.skip;
    }
}

pub const EXIT_CLEAN: u8 = 0;
pub const EXIT_ENFORCE_FAILED: u8 = 1;
pub const EXIT_ERROR: u8 = 2;

/// What fails the run besides an Enforce failure.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Gate {
    /// Audit failures and `warn` results fail the run too.
    pub fail_on_warn: bool,
    /// A run in which no rule applied to any resource fails instead of passing vacuously.
    pub require_match: bool,
}

impl Gate {
    /// Whether this finding alone makes the run exit 1.
    pub fn fails(&self, finding: &Finding<'_>) -> bool {
        match finding.status {
            Status::Fail => finding.action == FailureAction::Enforce || self.fail_on_warn,
            Status::Warn => self.fail_on_warn,
            Status::Pass | Status::Error | Status::Skip => false,
        }
    }
}

impl CheckReport<'_> {
    /// Counts of the results; `error` counts the inputs that could not be checked too, since
    /// each of them is as much a reason for exit 2 as a rule that could not be evaluated.
    pub fn summary(&self, inputs: &Inputs) -> Summary {
        let mut summary = Summary {
            error: inputs.errors.len(),
            ..Summary::default()
        };
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
}

/// Labels of namespaces by name.
pub type NamespaceLabels = BTreeMap<String, BTreeMap<String, String>>;

/// What a `namespaceSelector` rule meets in a namespace whose labels neither
/// `--namespace-labels` nor a `Namespace` object in the input gives.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum UnknownNamespaces {
    /// The rule answers `error`: it cannot be decided, and an undecided rule is never a pass.
    #[default]
    Error,
    /// The namespace is judged as having no label but `kubernetes.io/metadata.name`, so a
    /// selector that needs other labels does not match.
    Skip,
}

/// What `check` knows besides the manifests.
#[derive(Debug, Default, Clone)]
pub struct CheckOptions {
    /// Namespace labels from `--namespace-labels` and `--values`; `Namespace` objects in the
    /// input win.
    pub namespace_labels: NamespaceLabels,
    pub unknown_namespaces: UnknownNamespaces,
    /// Values, objects for context entries, and the clock and seed of JMESPath functions.
    pub environment: Arc<FileEnvironment>,
}

/// How a user of `check` supplies the labels of a namespace it does not know.
const UNKNOWN_NAMESPACE_HINT: &str = "give them with --namespace-labels FILE, in Kyverno's Values format `namespaceSelector: [{name, labels}]`, or put the Namespace object in the input; --unknown-namespaces skip judges it without labels";

/// The namespace labels of a Kyverno `Values` file (`namespaceSelector: [{name, labels}]` or
/// `namespaces: [Namespace]`), as `kyverno test` reads them; values for variables belong in
/// `--values`, and are refused here rather than ignored.
pub fn read_namespace_labels(path: &Path) -> Result<NamespaceLabels, String> {
    let values = crate::kyverno_test::values::Values::load(path)?;
    if values.sets_variables() || !values.subresources().is_empty() {
        return Err(format!(
            "{}: sets values for variables or subresources, which belong in --values; this file is read for namespace labels only (namespaceSelector, namespaces)",
            path.display()
        ));
    }
    if values.namespace_labels.is_empty() {
        return Err(format!(
            "{}: no namespace labels; expected Kyverno's Values format, e.g. `namespaceSelector: [{{name: shop, labels: {{env: prod}}}}]`",
            path.display()
        ));
    }
    Ok(values.namespace_labels)
}

/// Labels of the `Namespace` objects in the input, which `namespaceSelector` rules consult, over
/// those given in `--namespace-labels`.
fn namespace_labels(inputs: &Inputs, given: &NamespaceLabels) -> NamespaceLabels {
    let mut labels = given.clone();
    for (name, found) in &mut labels {
        found.insert(NAMESPACE_NAME_LABEL.to_owned(), name.clone());
    }
    for manifest in inputs
        .manifests
        .iter()
        .filter(|manifest| manifest.gvk.kind == "Namespace" && manifest.gvk.group.is_empty())
    {
        let mut found = labels_of(inputs.object(manifest).pointer("/metadata/labels"));
        found.insert(NAMESPACE_NAME_LABEL.to_owned(), manifest.name.clone());
        labels.insert(manifest.name.clone(), found);
    }
    labels
}

pub fn run<'p>(set: &'p PolicySet, inputs: &Inputs) -> CheckReport<'p> {
    run_with(set, inputs, &CheckOptions::default(), &Progress::hidden())
}

/// Judges every manifest on the current rayon pool; findings come back in input order.
pub fn run_with<'p>(
    set: &'p PolicySet,
    inputs: &Inputs,
    options: &CheckOptions,
    progress: &Progress,
) -> CheckReport<'p> {
    let mut namespaces = namespace_labels(inputs, &options.namespace_labels);
    if options.unknown_namespaces == UnknownNamespaces::Skip {
        for manifest in &inputs.manifests {
            if !manifest.namespace.is_empty() && !namespaces.contains_key(&manifest.namespace) {
                let only_name =
                    BTreeMap::from([(NAMESPACE_NAME_LABEL.to_owned(), manifest.namespace.clone())]);
                namespaces.insert(manifest.namespace.clone(), only_name);
            }
        }
    }
    // Cluster-scoped resources have no namespace, hence no labels to select on.
    let cluster_scoped = BTreeMap::new();
    let environment = options.environment.with_operation(None);
    let shapes_resources = {
        let values = &options.environment.values;
        values.sets_variables() || !values.subresources().is_empty()
    };
    progress.start("checking resources", inputs.manifests.len());
    let per_manifest: Vec<Vec<Finding<'p>>> = inputs
        .manifests
        .par_iter()
        .enumerate()
        .map(|(index, manifest)| {
            let object = inputs.object(manifest);
            let judge = |operation: Operation,
                         gvk: &Gvk,
                         subresource: &str,
                         object: &Value,
                         old_object: &Value| {
                let request = Request {
                    operation,
                    gvk,
                    subresource,
                    object,
                    old_object,
                    namespace: &manifest.namespace,
                    namespace_labels: if manifest.namespace.is_empty() {
                        Some(&cluster_scoped)
                    } else {
                        namespaces.get(&manifest.namespace)
                    },
                    unknown_namespace_hint: UNKNOWN_NAMESPACE_HINT,
                    user: None,
                    admission: false,
                    admission_request: None,
                    environment: &environment,
                };
                eval::evaluate(set, &request).results
            };
            let judge_shape = |shape: &Shape| {
                judge(
                    shape.operation,
                    &shape.gvk,
                    &shape.subresource,
                    &shape.object,
                    &shape.old_object,
                )
            };
            // Values can make each policy see the resource differently: the resource is judged
            // once per way it is seen, each time for the policies that see it so.
            let results = if !shapes_resources {
                judge(Operation::Create, &manifest.gvk, "", object, &Value::Null)
            } else if !options
                .environment
                .values
                .has_resource_values(&manifest.name)
            {
                judge_shape(&environment.shape("", &manifest.name, &manifest.gvk, object))
            } else {
                let shapes: Vec<Shape> = set
                    .policies
                    .iter()
                    .map(|policy| {
                        environment.shape(&policy.name, &manifest.name, &manifest.gvk, object)
                    })
                    .collect();
                let mut distinct: Vec<&Shape> = Vec::new();
                for shape in &shapes {
                    if !distinct.contains(&shape) {
                        distinct.push(shape);
                    }
                }
                let mut results: Vec<(usize, eval::RuleResult<'p>)> = Vec::new();
                for shape in distinct {
                    for result in judge_shape(shape) {
                        let place = set
                            .policies
                            .iter()
                            .position(|policy| std::ptr::eq(&**policy, result.policy));
                        if let Some(place) = place.filter(|&place| shapes[place] == *shape) {
                            results.push((place, result));
                        }
                    }
                }
                results.sort_by_key(|(place, _)| *place);
                results.into_iter().map(|(_, result)| result).collect()
            };
            let findings = results
                .into_iter()
                .map(|result| finding(inputs, index, manifest, result))
                .collect();
            progress.advance();
            findings
        })
        .collect();
    CheckReport {
        findings: per_manifest.into_iter().flatten().collect(),
    }
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
