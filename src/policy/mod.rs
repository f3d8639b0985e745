//! Policies: wire types ([`spec`]), loading from files ([`load`]) and compilation into the
//! immutable [`PolicySet`] that evaluation reads ([`compile`]).

pub mod compile;
pub mod load;
mod refusals;
pub mod spec;

use crate::matching::{LabelSelector, MatchBlock};
use crate::pattern::Pattern;
use crate::pattern::wildcard::Wildcard;
use serde_json::Value;
use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;

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

/// An immutable, compiled set of policies; shared behind an `Arc` by every request.
#[derive(Debug, Clone, Default)]
pub struct PolicySet {
    pub policies: Vec<Policy>,
}

impl PolicySet {
    pub fn rule_count(&self) -> usize {
        self.policies.iter().map(|policy| policy.rules.len()).sum()
    }
}

#[derive(Debug, Clone)]
pub struct Policy {
    pub name: String,
    /// Set for a namespaced `Policy`, which applies only inside its own namespace.
    pub namespace: Option<String>,
    pub origin: Origin,
    pub action: FailureAction,
    pub action_overrides: Vec<ActionOverride>,
    pub admission: bool,
    pub emit_warning: bool,
    /// `applyRules: One`: stop after the first rule that passes or fails.
    pub apply_one: bool,
    pub failure_policy: FailurePolicy,
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
    pub validation: Validation,
    pub message: Option<String>,
    pub failure_action: Option<FailureAction>,
    pub action_overrides: Vec<ActionOverride>,
    pub allow_existing_violations: bool,
}

impl Rule {
    /// Kyverno's `validation rule '<name>' passed.`
    pub fn pass_message_for(name: &str) -> String {
        format!("validation rule '{name}' passed.")
    }
}

#[derive(Debug, Clone)]
pub enum Validation {
    Pattern(SourcedPattern),
    AnyPattern(Vec<SourcedPattern>),
}

/// A compiled pattern with the value it came from; autogen wraps the source and recompiles.
#[derive(Debug, Clone)]
pub struct SourcedPattern {
    pub source: Value,
    pub compiled: Pattern,
}

/// Labels of namespaces known to the caller, by namespace name.
pub type NamespaceLabels = BTreeMap<String, BTreeMap<String, String>>;
