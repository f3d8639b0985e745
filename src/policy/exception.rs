//! Kyverno `PolicyException`s (`kyverno.io/v2`, `v2beta1`): which rules of which policies stand
//! aside for the resources an exception matches, compiled once at load.
//!
//! An exception names policies as Kyverno keys them (`name` for a ClusterPolicy,
//! `namespace/name` for a Policy) and their rules by wildcard. Its own namespace does not limit
//! what it matches: that is its `match` block's work. Which namespaces exceptions are read from
//! is the caller's choice (the Kyverno CLI reads every exception it is given; the admission
//! controller only those of its `--exceptionNamespace`).

use super::compile::{Located, compile_match};
use super::compile_expressions::variables_in;
use super::load::LoadError;
use super::spec::ExceptionDocument;
use super::{Origin, Policy};
use crate::eval::context::Expressions;
use crate::expr::conditions::{Conditions, Site};
use crate::expr::template;
use crate::json_path::JsonPath;
use crate::matching::{Filter, MatchBlock};
use crate::pattern::wildcard::Wildcard;
use serde_json::Value;
use std::collections::HashMap;
use std::sync::Arc;

/// The API versions of `kyverno.io` PolicyExceptions Kyverno reads.
pub const EXCEPTION_API_VERSIONS: [&str; 2] = ["kyverno.io/v2", "kyverno.io/v2beta1"];

/// The operators the PolicyException CRD's schema allows in `conditions`: the apiserver and the
/// Kyverno CLI both refuse any other spelling, deprecated ones (`In`, `NotIn`) included.
const CONDITION_OPERATORS: [&str; 14] = [
    "Equals",
    "NotEquals",
    "AnyIn",
    "AllIn",
    "AnyNotIn",
    "AllNotIn",
    "GreaterThanOrEquals",
    "GreaterThan",
    "LessThanOrEquals",
    "LessThan",
    "DurationGreaterThanOrEquals",
    "DurationGreaterThan",
    "DurationLessThanOrEquals",
    "DurationLessThan",
];

#[derive(Debug, Clone)]
pub struct PolicyException {
    pub name: String,
    pub namespace: Option<String>,
    /// `namespace/name`, or `name` without a namespace: how Kyverno names the exception in
    /// the message of a rule it skips.
    pub key: String,
    pub origin: Origin,
    pub targets: Vec<ExceptionTarget>,
    pub match_block: MatchBlock,
    /// Evaluated over the variables of the rule being excepted, its context entries included.
    pub conditions: Option<Conditions>,
    /// The JMESPath expressions of `conditions`, compiled at load.
    pub expressions: Expressions,
}

/// One entry of `spec.exceptions`: a policy and the rules of it that are excepted.
#[derive(Debug, Clone)]
pub struct ExceptionTarget {
    /// As written: `name` for a ClusterPolicy, `namespace/name` for a Policy.
    pub policy: String,
    pub rules: Vec<Wildcard>,
}

impl ExceptionTarget {
    /// Kyverno compares the name exactly, against `cache.MetaObjectToName(policy)`.
    fn names_policy(&self, policy: &Policy) -> bool {
        self.policy == policy.key
    }
}

impl PolicyException {
    /// Whether an entry names `policy` and, by wildcard, the rule `rule` of it (autogen rules
    /// by their generated names).
    pub fn names_rule(&self, policy: &Policy, rule: &str) -> bool {
        self.targets.iter().any(|target| {
            target.names_policy(policy) && target.rules.iter().any(|name| name.matches(rule))
        })
    }

    /// Every filter of the match block, for what the set must look up to judge them.
    pub fn filters(&self) -> &[Filter] {
        &self.match_block.filters
    }
}

pub(super) fn compile_exception(
    document: &ExceptionDocument,
    located: &Located<'_>,
) -> Result<PolicyException, Vec<LoadError>> {
    let mut errors = Vec::new();
    let root = JsonPath::root();
    let name = document.metadata.name.clone().unwrap_or_default();
    if name.is_empty() {
        errors.push(located.invalid(
            &root.child_key("metadata"),
            "PolicyException has no metadata.name".to_owned(),
        ));
    }
    let spec = &document.spec;
    let spec_path = root.child_key("spec");
    if spec
        .pod_security
        .as_ref()
        .is_some_and(|controls| !is_empty(controls))
    {
        // Kyverno narrows a podSecurity rule by these controls; Portcullis evaluates no
        // podSecurity rule, and taking them as a whole exception would except more than asked.
        errors.push(located.unsupported(
            &spec_path.child_key("podSecurity"),
            "podSecurity",
            &name,
            "",
        ));
    }
    let targets_path = spec_path.child_key("exceptions");
    if spec.exceptions.is_empty() {
        errors.push(located.invalid(
            &targets_path,
            format!("PolicyException {name:?} names no policy in spec.exceptions"),
        ));
    }
    let mut targets = Vec::new();
    for (index, target) in spec.exceptions.iter().enumerate() {
        if target.policy_name.is_empty() {
            errors.push(located.invalid(
                &targets_path.child_index(index).child_key("policyName"),
                "an exception requires a policy name".to_owned(),
            ));
        }
        targets.push(ExceptionTarget {
            policy: target.policy_name.clone(),
            rules: target
                .rule_names
                .iter()
                .map(|rule| Wildcard::new(rule))
                .collect(),
        });
    }
    let match_path = spec_path.child_key("match");
    let spec_match = &spec.match_resources;
    let inline = [
        ("resources", spec_match.resources.is_some()),
        ("subjects", spec_match.subjects.is_some()),
        ("roles", spec_match.roles.is_some()),
        ("clusterRoles", spec_match.cluster_roles.is_some()),
    ];
    for (field, _) in inline.iter().filter(|(_, written)| *written) {
        errors.push(located.invalid(
            &match_path.child_key(*field),
            format!("unknown field {field:?} in spec.match (expected `any` or `all`)"),
        ));
    }
    if spec_match.any.is_some() && spec_match.all.is_some() {
        errors.push(located.invalid(
            &match_path,
            "spec.match: can't specify any and all together".to_owned(),
        ));
    }
    let match_block = compile_match(spec_match, &match_path, located, &mut errors);
    let mut expressions = Expressions::default();
    let conditions = spec.conditions.as_ref().and_then(|value| {
        let path = spec_path.child_key("conditions");
        compile_conditions(value, &path, &name, located, &mut expressions, &mut errors)
    });
    let Some(match_block) = match_block.filter(|_| errors.is_empty()) else {
        return Err(errors);
    };
    let namespace = document
        .metadata
        .namespace
        .clone()
        .filter(|namespace| !namespace.is_empty());
    Ok(PolicyException {
        key: match &namespace {
            Some(namespace) => format!("{namespace}/{name}"),
            None => name.clone(),
        },
        name,
        namespace,
        origin: Origin {
            file: located.file.to_owned(),
            line: located.document.start.line,
        },
        targets,
        match_block,
        conditions,
        expressions,
    })
}

fn is_empty(value: &Value) -> bool {
    match value {
        Value::Null => true,
        Value::Array(items) => items.is_empty(),
        _ => false,
    }
}

/// `spec.conditions`: `{any, all}` with operators the CRD allows, and every `{{ }}` variable
/// compiled.
fn compile_conditions(
    value: &Value,
    path: &JsonPath,
    exception: &str,
    located: &Located<'_>,
    expressions: &mut Expressions,
    errors: &mut Vec<LoadError>,
) -> Option<Conditions> {
    for block in ["any", "all"] {
        let Some(Value::Array(conditions)) = value.get(block) else {
            continue;
        };
        for (index, condition) in conditions.iter().enumerate() {
            let operator = condition.get("operator").and_then(Value::as_str);
            if let Some(operator) = operator.filter(|name| !CONDITION_OPERATORS.contains(name)) {
                errors.push(
                    located.invalid(
                        &path
                            .child_key(block)
                            .child_index(index)
                            .child_key("operator"),
                        format!(
                            "unsupported operator {operator:?}: expected one of {}",
                            CONDITION_OPERATORS.join(", ")
                        ),
                    ),
                );
            }
        }
    }
    let compiled = match Conditions::compile(value, Site::Exception) {
        Ok(compiled) => compiled,
        Err(problems) => {
            for problem in problems {
                errors.push(located.invalid(
                    &path.join(&problem.path),
                    format!("PolicyException {exception:?}: {}", problem.message),
                ));
            }
            return None;
        }
    };
    for (text, text_path) in variables_in(value, path) {
        for expression in template::variables(text) {
            for form in [
                expression.clone(),
                template::rewrite_for_delete(&expression),
            ] {
                if let Err(error) = expressions.add(&form) {
                    errors.push(located.invalid(
                        &text_path,
                        format!(
                            "PolicyException {exception:?}: invalid JMESPath in {{{{{expression}}}}}: {error}"
                        ),
                    ));
                    break;
                }
            }
        }
    }
    Some(compiled)
}

/// The PolicyExceptions of a policy set, in the order they are judged, indexed by the policies
/// they name: a review looks up each policy's exceptions instead of scanning all of them for
/// every policy. Immutable once built, like the set.
#[derive(Debug, Clone, Default)]
pub struct ExceptionSet {
    exceptions: Vec<Arc<PolicyException>>,
    /// Policy key (as [`Policy::key`]) → positions in `exceptions`, ascending.
    by_policy: HashMap<String, Vec<usize>>,
}

impl ExceptionSet {
    pub fn new(exceptions: Vec<Arc<PolicyException>>) -> Self {
        let mut by_policy: HashMap<String, Vec<usize>> = HashMap::new();
        for (index, exception) in exceptions.iter().enumerate() {
            for target in &exception.targets {
                let positions = by_policy.entry(target.policy.clone()).or_default();
                if positions.last() != Some(&index) {
                    positions.push(index);
                }
            }
        }
        Self {
            exceptions,
            by_policy,
        }
    }

    /// The exceptions that name `policy` in some entry, in order.
    pub fn naming<'s>(&'s self, policy: &Policy) -> impl Iterator<Item = &'s PolicyException> {
        let positions = if self.exceptions.is_empty() {
            None
        } else {
            self.by_policy.get(&policy.key)
        };
        positions
            .into_iter()
            .flatten()
            .filter_map(|&index| self.exceptions.get(index).map(|exception| &**exception))
    }

    /// The exceptions, given back to build another set from.
    pub fn into_vec(self) -> Vec<Arc<PolicyException>> {
        self.exceptions
    }
}

impl std::ops::Deref for ExceptionSet {
    type Target = [Arc<PolicyException>];

    fn deref(&self) -> &Self::Target {
        &self.exceptions
    }
}

impl From<Vec<Arc<PolicyException>>> for ExceptionSet {
    fn from(exceptions: Vec<Arc<PolicyException>>) -> Self {
        Self::new(exceptions)
    }
}

impl<'s> IntoIterator for &'s ExceptionSet {
    type Item = &'s Arc<PolicyException>;
    type IntoIter = std::slice::Iter<'s, Arc<PolicyException>>;

    fn into_iter(self) -> Self::IntoIter {
        self.exceptions.iter()
    }
}
