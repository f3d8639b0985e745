//! Policies: wire types ([`spec`]), loading from files ([`load`]) and compilation into the
//! immutable [`PolicySet`] that evaluation reads ([`compile`]).

pub mod compile;
mod compile_expressions;
pub mod exception;
pub mod load;
mod refusals;
pub mod spec;

use crate::eval::context::Expressions;
use crate::expr::conditions::Conditions;
use crate::matching::{Filter, LabelSelector, MatchBlock};
use crate::pattern::Pattern;
use crate::pattern::wildcard::Wildcard;
use serde_json::Value;
use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;

pub use exception::{ExceptionSet, PolicyException};
pub use load::{LoadError, LoadErrorKind, load_paths, load_str};

/// Where a policy was written, for messages that send the reader to the right line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origin {
    pub file: PathBuf,
    pub line: usize,
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.file.display(), self.line)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FailureAction {
    Audit,
    Enforce,
}

impl FailureAction {
    /// Kyverno accepts exactly these spellings; anything else is rejected by its CRD schema.
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "Audit" | "audit" => Some(Self::Audit),
            "Enforce" | "enforce" => Some(Self::Enforce),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Audit => "audit",
            Self::Enforce => "enforce",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailurePolicy {
    Fail,
    Ignore,
}

#[derive(Debug, Clone)]
pub struct ActionOverride {
    pub action: FailureAction,
    /// Compiled at load, as match filters' namespaces are: every review's action is decided here.
    pub namespaces: Vec<Wildcard>,
    pub namespace_selector: Option<LabelSelector>,
}

/// An immutable, compiled set of policies; shared behind an `Arc` by every request. Each
/// policy is shared too, so sets built from others (files beside cluster policies, a reload
/// that keeps most of them) copy pointers, not policies.
#[derive(Debug, Clone, Default)]
pub struct PolicySet {
    pub policies: Vec<Arc<Policy>>,
    /// Kyverno PolicyExceptions, each judged for the rules it names in the order given here.
    pub exceptions: ExceptionSet,
}

impl From<Vec<Policy>> for PolicySet {
    fn from(policies: Vec<Policy>) -> Self {
        Self {
            policies: policies.into_iter().map(Arc::new).collect(),
            exceptions: ExceptionSet::default(),
        }
    }
}

impl PolicySet {
    /// Whether any rule reads `{{ }}` variables, whose `request.*` is the whole admission
    /// request.
    pub fn reads_variables(&self) -> bool {
        self.policies
            .iter()
            .flat_map(|policy| policy.rules.iter().chain(&policy.autogen_rules))
            .any(Rule::reads_variables)
            || self
                .exceptions
                .iter()
                .any(|exception| exception.conditions.is_some())
    }

    fn exception_filters(&self) -> impl Iterator<Item = &Filter> {
        self.exceptions
            .iter()
            .flat_map(|exception| exception.filters())
    }

    /// Whether any rule has a `configMap` or `apiCall` context entry, whose answer comes from
    /// the cluster (and may have to wait on the network).
    pub fn looks_up_cluster(&self) -> bool {
        self.policies
            .iter()
            .flat_map(|policy| policy.rules.iter().chain(&policy.autogen_rules))
            .flat_map(Rule::context_entries)
            .any(|entry| !matches!(entry.source, ContextSource::Variable { .. }))
    }

    pub fn rule_count(&self) -> usize {
        self.policies.iter().map(|policy| policy.rules.len()).sum()
    }

    /// Whether any rule matches or excludes on the requester's roles, which then have to be
    /// looked up for every review.
    pub fn reads_requester_roles(&self) -> bool {
        self.policies
            .iter()
            .flat_map(|policy| &policy.rules)
            .any(|rule| rule.reads(Filter::reads_requester_roles))
            || self.exception_filters().any(Filter::reads_requester_roles)
    }

    /// Whether any rule or failure-action override selects by namespace labels, which then have
    /// to be looked up for every review.
    pub fn reads_namespace_labels(&self) -> bool {
        self.policies.iter().any(|policy| {
            overrides_read_namespace_labels(&policy.action_overrides)
                || policy.rules.iter().any(|rule| {
                    rule.reads(Filter::reads_namespace_labels)
                        || overrides_read_namespace_labels(&rule.action_overrides)
                })
        }) || self.exception_filters().any(Filter::reads_namespace_labels)
    }

    /// The set itself, or one error per rule that reads a fact the serving process cannot know.
    /// Such a rule would otherwise never apply (a hole) or fail every review (a lockout), so the
    /// set is refused whole.
    pub fn require_knowable(self, facts: ClusterFacts) -> Result<Self, Vec<LoadError>> {
        let errors = self.unknowable(facts);
        if errors.is_empty() {
            Ok(self)
        } else {
            Err(errors)
        }
    }

    fn unknowable(&self, facts: ClusterFacts) -> Vec<LoadError> {
        let mut errors = Vec::new();
        for policy in &self.policies {
            let refuse = |rule: &str, field: &str, needs: &str| LoadError {
                kind: LoadErrorKind::Invalid,
                file: policy.origin.file.clone(),
                location: Some(crate::yaml::Location {
                    line: policy.origin.line,
                    column: 1,
                }),
                message: format!(
                    "rule {rule:?} of policy {:?} uses {field}, which needs --kube to know {needs}",
                    policy.qualified_name()
                ),
            };
            for rule in &policy.rules {
                if !facts.namespace_labels
                    && (rule.reads(Filter::reads_namespace_labels)
                        || overrides_read_namespace_labels(&rule.action_overrides))
                {
                    errors.push(refuse(&rule.name, "namespaceSelector", "namespace labels"));
                }
                if !facts.requester_roles && rule.reads(Filter::reads_requester_roles) {
                    errors.push(refuse(
                        &rule.name,
                        "roles or clusterRoles",
                        "the requester's roles",
                    ));
                }
                // Offline, Kyverno's CLI leaves image registry entries unloaded; a webhook
                // would have to answer them, and Portcullis has no registry client.
                if let Some(entry) = rule.context_entries().into_iter().find(|entry| {
                    matches!(
                        entry.source,
                        ContextSource::ImageRegistry { .. } | ContextSource::ServiceCall { .. }
                    )
                }) {
                    let feature = match entry.source {
                        ContextSource::ServiceCall { .. } => "context apiCall service",
                        _ => "context imageRegistry",
                    };
                    errors.push(LoadError {
                        kind: LoadErrorKind::Unsupported {
                            feature: feature.to_owned(),
                            policy: policy.qualified_name(),
                            rule: rule.name.clone(),
                        },
                        file: policy.origin.file.clone(),
                        location: Some(crate::yaml::Location {
                            line: policy.origin.line,
                            column: 1,
                        }),
                        message: format!(
                            "{feature} ({}) is not supported when serving: it needs a client \
                             Portcullis does not have",
                            entry.name
                        ),
                    });
                }
                let looks_up = rule.context_entries().into_iter().find(|entry| {
                    matches!(
                        entry.source,
                        ContextSource::ConfigMap { .. } | ContextSource::ApiCall { .. }
                    )
                });
                if let (false, Some(entry)) = (facts.lookups, looks_up) {
                    let field = match entry.source {
                        ContextSource::ConfigMap { .. } => "a configMap context entry",
                        _ => "an apiCall context entry",
                    };
                    errors.push(refuse(
                        &rule.name,
                        &format!("{field} ({})", entry.name),
                        "what it reads from the cluster",
                    ));
                }
            }
            if !facts.namespace_labels && overrides_read_namespace_labels(&policy.action_overrides)
            {
                errors.push(refuse(
                    "(every rule)",
                    "validationFailureActionOverrides.namespaceSelector",
                    "namespace labels",
                ));
            }
        }
        for exception in &self.exceptions {
            let refuse = |field: &str, needs: &str| LoadError {
                kind: LoadErrorKind::Invalid,
                file: exception.origin.file.clone(),
                location: Some(crate::yaml::Location {
                    line: exception.origin.line,
                    column: 1,
                }),
                message: format!(
                    "PolicyException {:?} uses {field}, which needs --kube to know {needs}",
                    exception.key
                ),
            };
            let filters = exception.filters();
            if !facts.namespace_labels && filters.iter().any(Filter::reads_namespace_labels) {
                errors.push(refuse("namespaceSelector", "namespace labels"));
            }
            if !facts.requester_roles && filters.iter().any(Filter::reads_requester_roles) {
                errors.push(refuse("roles or clusterRoles", "the requester's roles"));
            }
        }
        errors
    }
}

fn overrides_read_namespace_labels(overrides: &[ActionOverride]) -> bool {
    overrides
        .iter()
        .any(|candidate| candidate.namespace_selector.is_some())
}

/// Logs, once per load, the settings that are accepted but have no effect yet.
pub fn note_inert_settings(set: &PolicySet) {
    let mut by_setting: BTreeMap<&str, Vec<String>> = BTreeMap::new();
    for policy in &set.policies {
        for setting in &policy.inert_settings {
            by_setting
                .entry(setting)
                .or_default()
                .push(policy.qualified_name());
        }
    }
    for (setting, policies) in by_setting {
        tracing::info!(
            setting,
            policies = policies.join(", ").as_str(),
            "accepted, but has no effect: Portcullis runs no background scan yet"
        );
    }
}

/// What the serving process can tell about a review beyond the review itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClusterFacts {
    /// Labels of the request's namespace: `serve --kube` follows namespaces.
    pub namespace_labels: bool,
    /// RBAC roles bound to the requester: `serve --kube` follows role bindings.
    pub requester_roles: bool,
    /// ConfigMaps and API answers for context entries: `serve --kube` looks them up.
    pub lookups: bool,
}

impl ClusterFacts {
    /// A server that follows the cluster knows both.
    pub fn following_cluster(kube: bool) -> Self {
        Self {
            namespace_labels: kube,
            requester_roles: kube,
            lookups: kube,
        }
    }
}

#[derive(Debug, Clone)]
pub struct Policy {
    pub name: String,
    /// Set for a namespaced `Policy`, which applies only inside its own namespace.
    pub namespace: Option<String>,
    /// How Kyverno keys the policy, and PolicyExceptions name it: `namespace/name`, or `name`
    /// for a ClusterPolicy and for a `Policy` written without a namespace (which applies in
    /// `default`).
    pub key: String,
    pub origin: Origin,
    pub action: FailureAction,
    pub action_overrides: Vec<ActionOverride>,
    pub admission: bool,
    pub emit_warning: bool,
    /// `applyRules: One`: stop after the first rule that passes or fails.
    pub apply_one: bool,
    pub failure_policy: FailurePolicy,
    /// How long the apiserver waits for the webhook on this policy's resources
    /// (`webhookConfiguration.timeoutSeconds`, or the older `webhookTimeoutSeconds`).
    pub webhook_timeout_seconds: Option<u8>,
    /// Settings written in the policy that only a background scan reads, which Portcullis does
    /// not run: accepted, and named once at load so nobody relies on them.
    pub inert_settings: Vec<&'static str>,
    /// `policies.kyverno.io/scored: "false"` turns failures into warnings in reports.
    pub scored: bool,
    pub rules: Vec<Rule>,
    /// Pod rules rewritten for pod controllers, evaluated only for controller kinds.
    pub autogen_rules: Vec<Rule>,
}

impl Policy {
    /// `name`, or `namespace/name` for a namespaced policy.
    pub fn qualified_name(&self) -> String {
        match &self.namespace {
            Some(namespace) => format!("{namespace}/{}", self.name),
            None => self.name.clone(),
        }
    }
}

#[derive(Debug, Clone)]
pub struct Rule {
    pub name: String,
    /// What a pass reports, worded once at load (see [`Rule::pass_message_for`]): every rule
    /// that passes any review reports it, so results borrow it instead of building it.
    pub pass_message: String,
    pub match_block: MatchBlock,
    pub exclude: Option<MatchBlock>,
    /// Loaded in order before the preconditions, each seeing those before it.
    pub context: Vec<ContextEntry>,
    pub preconditions: Option<Conditions>,
    pub validation: Validation,
    /// May hold `{{ }}` variables, substituted when a failure is worded.
    pub message: Option<String>,
    /// Every JMESPath expression the rule's variables, conditions and context entries hold,
    /// compiled at load.
    pub expressions: Expressions,
    /// [`Rule::judged_by_variables`], worked out once: every review of every rule asks.
    pub reads_variables: bool,
    pub failure_action: Option<FailureAction>,
    pub action_overrides: Vec<ActionOverride>,
    pub allow_existing_violations: bool,
}

impl Rule {
    /// Whether any filter of the rule's match or exclude block reads what `reads` asks about.
    fn reads(&self, reads: fn(&Filter) -> bool) -> bool {
        self.match_block
            .filters
            .iter()
            .chain(self.exclude.iter().flat_map(|exclude| &exclude.filters))
            .any(reads)
    }

    /// Whether judging the rule reads `{{ }}` variables, context or conditions: anything but
    /// patterns written out in full, which read only the object.
    pub fn reads_variables(&self) -> bool {
        self.reads_variables
    }

    /// What [`Rule::reads_variables`] answers, from the rule's parts.
    pub fn judged_by_variables(&self) -> bool {
        let fixed = |pattern: &SourcedPattern| pattern.compiled.is_some();
        !(self.context.is_empty()
            && self.preconditions.is_none()
            && !self
                .message
                .as_deref()
                .is_some_and(|message| message.contains("{{"))
            && match &self.validation {
                Validation::Pattern(pattern) => fixed(pattern),
                Validation::AnyPattern(patterns) => patterns.iter().all(fixed),
                Validation::Deny(_) | Validation::Foreach(_) => false,
            })
    }

    /// Whether a DELETE can get a response from the rule: its check judges the old object, or
    /// loading its context or evaluating its preconditions can fail, which Kyverno does before
    /// it finds that a pattern has nothing to judge.
    pub fn responds_to_delete(&self) -> bool {
        !self.context.is_empty() || self.preconditions.is_some() || self.validation.judges_delete()
    }

    /// Every context entry of the rule, those of its foreach loops (at any depth) included.
    pub fn context_entries(&self) -> Vec<&ContextEntry> {
        fn of_check<'r>(check: &'r Validation, entries: &mut Vec<&'r ContextEntry>) {
            if let Validation::Foreach(loops) = check {
                for each in loops {
                    entries.extend(&each.context);
                    of_check(&each.check, entries);
                }
            }
        }
        let mut entries: Vec<&ContextEntry> = self.context.iter().collect();
        of_check(&self.validation, &mut entries);
        entries
    }

    /// Kyverno's `validation rule '<name>' passed.`
    pub fn pass_message_for(name: &str) -> String {
        format!("validation rule '{name}' passed.")
    }
}

#[derive(Debug, Clone)]
pub enum Validation {
    Pattern(SourcedPattern),
    AnyPattern(Vec<SourcedPattern>),
    /// `deny.conditions`: the rule fails when they hold.
    Deny(Conditions),
    Foreach(Vec<Foreach>),
}

impl Validation {
    /// Whether the check judges a DELETE (against the old object). Kyverno never matches a
    /// deleted object against a pattern; conditions do see it, and so does a foreach, whose
    /// list is read from the old object and whose elements patterns judge.
    pub fn judges_delete(&self) -> bool {
        match self {
            Validation::Pattern(_) | Validation::AnyPattern(_) => false,
            Validation::Deny(_) | Validation::Foreach(_) => true,
        }
    }
}

/// One `validate.foreach` entry: a list to walk and, for each element, what to check.
#[derive(Debug, Clone)]
pub struct Foreach {
    /// The JMESPath expression of the list, with `{{ }}` variables allowed in it.
    pub list: String,
    /// `elementScope`: whether patterns judge the element (the default when the list's items
    /// are objects) or the whole resource.
    pub element_scope: Option<bool>,
    pub context: Vec<ContextEntry>,
    pub preconditions: Option<Conditions>,
    pub check: Box<Validation>,
}

/// A compiled pattern with the value it came from; autogen wraps the source and recompiles.
#[derive(Debug, Clone)]
pub struct SourcedPattern {
    pub source: Value,
    /// `None` when the source holds `{{ }}` variables: it is then substituted and compiled
    /// for each review, as Kyverno does.
    pub compiled: Option<Pattern>,
}

/// A rule's `context` entry: a name and where its value comes from.
#[derive(Debug, Clone)]
pub struct ContextEntry {
    pub name: String,
    pub source: ContextSource,
}

#[derive(Debug, Clone)]
pub enum ContextSource {
    /// `variable`: `value` (substituted), else the whole context, queried with `jmes_path`;
    /// `default` when that gives nothing.
    Variable {
        value: Option<Value>,
        jmes_path: Option<String>,
        default: Option<Value>,
    },
    /// `configMap`: name and namespace may hold variables.
    ConfigMap { name: String, namespace: String },
    /// `apiCall` with the GET method: the answer, queried with `jmes_path`.
    ApiCall {
        url_path: String,
        jmes_path: Option<String>,
        default: Option<Value>,
    },
    /// `imageRegistry`: what the registry tells of the image `reference` (which may hold
    /// variables), queried with `jmes_path`.
    /// `apiCall` with a `service`: a call to a URL outside the cluster, answered offline by a
    /// test's `apiCallResponses`.
    ServiceCall {
        url: String,
        method: String,
        jmes_path: Option<String>,
        default: Option<Value>,
    },
    ImageRegistry {
        reference: String,
        jmes_path: Option<String>,
    },
}

/// Labels of namespaces known to the caller, by namespace name.
pub type NamespaceLabels = BTreeMap<String, BTreeMap<String, String>>;
