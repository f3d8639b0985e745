//! Outcomes are data: what one rule concluded about one resource, with Kyverno's messages.

use crate::json_path::JsonPath;
use crate::policy::{FailureAction, Policy, PolicyException, PolicySet, Rule};
use std::borrow::Cow;
use std::fmt;

/// Pass and skip messages are mostly fixed text worded at load (a rule's pass message) or
/// constants, so they borrow from the policy set for `'p`; every rule of every review makes
/// one of these, and only reports ever read the message.
#[derive(Debug, Clone, PartialEq)]
pub enum RuleOutcome<'p> {
    Pass {
        message: Cow<'p, str>,
    },
    /// `path` is where the resource departs from the pattern, when there is one place.
    Fail {
        path: Option<JsonPath>,
        message: String,
    },
    Skip {
        message: Cow<'p, str>,
    },
    Error {
        message: String,
    },
}

/// The result names Kyverno's CLI and reports use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Status {
    Pass,
    Fail,
    Warn,
    Error,
    Skip,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pass => "pass",
            Self::Fail => "fail",
            Self::Warn => "warn",
            Self::Error => "error",
            Self::Skip => "skip",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "pass" => Some(Self::Pass),
            "fail" => Some(Self::Fail),
            "warn" => Some(Self::Warn),
            "error" => Some(Self::Error),
            "skip" => Some(Self::Skip),
            _ => None,
        }
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl RuleOutcome<'_> {
    pub fn status(&self) -> Status {
        match self {
            Self::Pass { .. } => Status::Pass,
            Self::Fail { .. } => Status::Fail,
            Self::Skip { .. } => Status::Skip,
            Self::Error { .. } => Status::Error,
        }
    }

    pub fn message(&self) -> &str {
        match self {
            Self::Pass { message } | Self::Skip { message } => message,
            Self::Fail { message, .. } | Self::Error { message } => message,
        }
    }

    pub fn path(&self) -> Option<&JsonPath> {
        match self {
            Self::Fail { path, .. } => path.as_ref(),
            _ => None,
        }
    }
}

/// One rule's verdict on one resource, with the action that verdict carries.
#[derive(Debug, Clone)]
pub struct RuleResult<'p> {
    pub policy: &'p Policy,
    pub rule: &'p Rule,
    pub outcome: RuleOutcome<'p>,
    /// The effective failure action for this resource, overrides applied.
    pub action: FailureAction,
    /// The PolicyExceptions that excepted the rule, whose outcome is then a skip.
    pub exceptions: Vec<&'p PolicyException>,
}

/// Every rule result of every policy that applied to one resource, in policy and rule order.
#[derive(Debug, Clone, Default)]
pub struct Report<'p> {
    pub results: Vec<RuleResult<'p>>,
    /// The budget ran out before every rule that applies was judged; `results` holds those
    /// judged before.
    pub unfinished: bool,
}

impl Report<'_> {
    /// An empty report with room for a result from every rule of `set`, so judging a resource
    /// does not reallocate it result by result.
    pub fn with_room_for(set: &PolicySet) -> Self {
        let rules = set.policies.iter().map(|policy| policy.rules.len()).sum();
        Self {
            results: Vec::with_capacity(rules),
            unfinished: false,
        }
    }

    pub fn failures(&self) -> impl Iterator<Item = &RuleResult<'_>> {
        self.results
            .iter()
            .filter(|result| result.outcome.status() == Status::Fail)
    }
}
