//! The engine: `evaluate(&PolicySet, &Request) -> Report`. Pure and synchronous; the webhook and
//! `check` are thin adapters over it, so the cluster and CI never disagree about a verdict.

pub mod admission;
pub mod outcome;

pub use outcome::{Report, RuleOutcome, RuleResult, Status};

use crate::autogen;
use crate::matching::{Gvk, MatchError, MatchTarget, Operation, UserInfo};
use crate::pattern::PatternOutcome;
use crate::policy::{
    ActionOverride, FailureAction, Policy, PolicySet, Rule, SourcedPattern, Validation,
};
use serde_json::Value;
use std::borrow::Cow;
use std::collections::BTreeMap;

/// One resource to judge, with the request facts rules can match on.
#[derive(Debug, Clone, Copy)]
pub struct Request<'a> {
    pub operation: Operation,
    pub gvk: &'a Gvk,
    pub subresource: &'a str,
    /// `Value::Null` when there is none (DELETE).
    pub object: &'a Value,
    /// `Value::Null` unless the request is an UPDATE or DELETE.
    pub old_object: &'a Value,
    /// `""` for cluster-scoped resources.
    pub namespace: &'a str,
    pub namespace_labels: Option<&'a BTreeMap<String, String>>,
    /// Why `namespace_labels` can be `None` and how to supply them, for the error that
    /// `namespaceSelector` rules then answer.
    pub unknown_namespace_hint: &'a str,
    pub user: Option<&'a UserInfo>,
    /// True at admission: policies with `admission: false` sit out.
    pub admission: bool,
}

impl<'a> Request<'a> {
    fn target(&self, object: &'a Value) -> MatchTarget<'a> {
        MatchTarget {
            operation: self.operation,
            gvk: self.gvk,
            subresource: self.subresource,
            object,
            namespace: self.namespace,
            namespace_labels: self.namespace_labels,
            unknown_namespace_hint: self.unknown_namespace_hint,
            user: self.user,
        }
    }

    fn object_namespace(object: &Value) -> Option<&str> {
        object.get("metadata")?.get("namespace")?.as_str()
    }
}

pub fn evaluate<'p>(set: &'p PolicySet, request: &Request<'_>) -> Report<'p> {
    let mut report = Report::with_room_for(set);
    for policy in &set.policies {
        evaluate_policy(policy, request, &mut report);
    }
    report
}

pub fn evaluate_policy<'p>(policy: &'p Policy, request: &Request<'_>, report: &mut Report<'p>) {
    if request.admission && !policy.admission {
        return;
    }
    if let Some(namespace) = &policy.namespace {
        let in_namespace = |object: &Value| {
            object.is_null()
                || Request::object_namespace(object).unwrap_or(request.namespace) == namespace
        };
        if request.namespace != namespace
            || !in_namespace(request.object)
            || !in_namespace(request.old_object)
        {
            return;
        }
    }
    // Generated rules are only for controller kinds; for those they replace any rule of the
    // policy written under a generated name. Two plain loops, not a filtered chain: every
    // policy of every review takes this path.
    let controller = autogen::is_controller_kind(&request.gvk.kind);
    for rule in &policy.rules {
        if controller && rule.name.starts_with("autogen-") {
            continue;
        }
        if judge(policy, rule, request, report) == Next::Stop {
            return;
        }
    }
    if controller {
        for rule in &policy.autogen_rules {
            if judge(policy, rule, request, report) == Next::Stop {
                return;
            }
        }
    }
}

#[derive(PartialEq, Eq)]
enum Next {
    Continue,
    /// `applyRules: One` and the rule passed or failed.
    Stop,
}

/// One rule into the report, if it applies.
fn judge<'p>(
    policy: &'p Policy,
    rule: &'p Rule,
    request: &Request<'_>,
    report: &mut Report<'p>,
) -> Next {
    let Some(outcome) = evaluate_rule(policy, rule, request) else {
        return Next::Continue;
    };
    let decisive = matches!(outcome, RuleOutcome::Pass { .. } | RuleOutcome::Fail { .. });
    let action = effective_action(policy, rule, request);
    report.results.push(RuleResult {
        policy,
        rule,
        outcome,
        action,
    });
    if policy.apply_one && decisive {
        Next::Stop
    } else {
        Next::Continue
    }
}

/// `None` when the rule does not apply: no response at all, not even a skip.
fn evaluate_rule<'p>(
    policy: &Policy,
    rule: &'p Rule,
    request: &Request<'_>,
) -> Option<RuleOutcome<'p>> {
    match rule_applies(rule, request) {
        Ok(false) => return None,
        Ok(true) => {}
        // Not Kyverno's pattern error: the rule could not even be matched, so its violation
        // message would mislead.
        Err(MatchError(message)) => {
            return Some(RuleOutcome::Error {
                message: format!("rule {} could not be evaluated: {message}", rule.name),
            });
        }
    }
    // Kyverno does not validate a deleted object against a pattern.
    if request.operation == Operation::Delete {
        return None;
    }
    let outcome = validate(rule, request.object);
    let enforced = rule.failure_action.unwrap_or(policy.action) == FailureAction::Enforce;
    if enforced
        && request.operation == Operation::Update
        && rule.allow_existing_violations
        && matches!(outcome, RuleOutcome::Fail { .. })
        && !request.old_object.is_null()
    {
        // Kyverno matches the old object as a made-up user that no filter names, since whoever
        // created it need not be who updates it: a rule that picks requests by user does not
        // call the old object's violation its own.
        let nobody = UserInfo {
            username: "kyverno:kyverno-invalid-controller".to_owned(),
            groups: vec!["kyverno:invalidgroup".to_owned()],
            roles: vec!["kyverno:invalidrole".to_owned()],
            cluster_roles: vec!["kyverno:invalidrole".to_owned()],
        };
        let old_request = Request {
            operation: Operation::Create,
            object: request.old_object,
            old_object: &Value::Null,
            user: Some(&nobody),
            ..*request
        };
        if rule_applies(rule, &old_request).unwrap_or(false)
            && matches!(validate(rule, request.old_object), RuleOutcome::Fail { .. })
        {
            return Some(RuleOutcome::Skip {
                message: Cow::Borrowed(
                    "skipping the rule evaluation as pre-existing violations are allowed",
                ),
            });
        }
    }
    Some(outcome)
}

fn rule_applies(rule: &Rule, request: &Request<'_>) -> Result<bool, MatchError> {
    let mut object = request.object;
    let mut matched = rule.match_block.matches(&request.target(object))?;
    if !matched && object.is_null() && !request.old_object.is_null() {
        object = request.old_object;
        matched = rule.match_block.matches(&request.target(object))?;
    }
    if !matched {
        return Ok(false);
    }
    match &rule.exclude {
        Some(exclude) => Ok(!exclude.excludes(&request.target(object))?),
        None => Ok(true),
    }
}

/// Runs the rule's pattern(s) against one object and words the outcome as Kyverno does.
pub fn validate<'p>(rule: &'p Rule, object: &Value) -> RuleOutcome<'p> {
    match &rule.validation {
        Validation::Pattern(pattern) => single_pattern(rule, pattern, object),
        Validation::AnyPattern(patterns) => any_pattern(rule, patterns, object),
    }
}

fn single_pattern<'p>(rule: &'p Rule, pattern: &SourcedPattern, object: &Value) -> RuleOutcome<'p> {
    match pattern.compiled.evaluate(object) {
        PatternOutcome::Pass => passed(rule),
        PatternOutcome::Fail { path, .. } => RuleOutcome::Fail {
            message: format!(
                "{}rule {} failed at path {}",
                message_prefix(rule),
                rule.name,
                path.kyverno()
            ),
            path: Some(path),
        },
        PatternOutcome::Skip { message } => RuleOutcome::Skip {
            message: Cow::Owned(message),
        },
        PatternOutcome::Error { message } => RuleOutcome::Error {
            message: execution_error(rule, &message),
        },
    }
}

fn any_pattern<'p>(rule: &'p Rule, patterns: &[SourcedPattern], object: &Value) -> RuleOutcome<'p> {
    let mut failures = Vec::new();
    let mut skips = Vec::new();
    let mut first_failure_path = None;
    for (index, pattern) in patterns.iter().enumerate() {
        match pattern.compiled.evaluate(object) {
            PatternOutcome::Pass => {
                return RuleOutcome::Pass {
                    message: Cow::Owned(format!(
                        "validation rule '{}' anyPattern[{index}] passed.",
                        rule.name
                    )),
                };
            }
            PatternOutcome::Skip { message } => {
                skips.push(format!("rule {}[{index}] skipped: {message}", rule.name))
            }
            PatternOutcome::Fail { path, .. } => {
                failures.push(format!(
                    "rule {}[{index}] failed at path {}",
                    rule.name,
                    path.kyverno()
                ));
                first_failure_path.get_or_insert(path);
            }
            PatternOutcome::Error { message } => {
                failures.push(format!("rule {}[{index}] failed: {message}", rule.name))
            }
        }
    }
    if !failures.is_empty() {
        return RuleOutcome::Fail {
            message: format!("{}{}", message_prefix(rule), failures.join(" ")),
            path: first_failure_path,
        };
    }
    if !skips.is_empty() {
        return RuleOutcome::Skip {
            message: Cow::Owned(skips.join(" ")),
        };
    }
    passed(rule)
}

/// The rule's pass message, worded at load and borrowed here.
fn passed(rule: &Rule) -> RuleOutcome<'_> {
    RuleOutcome::Pass {
        message: Cow::Borrowed(&rule.pass_message),
    }
}

/// `validation error: <message>. ` — the period is added only when the message lacks one.
fn message_prefix(rule: &Rule) -> String {
    match rule.message.as_deref() {
        Some(message) if !message.is_empty() => {
            let period = if message.ends_with('.') { "" } else { "." };
            format!("validation error: {message}{period} ")
        }
        _ => "validation error: ".to_owned(),
    }
}

fn execution_error(rule: &Rule, error: &str) -> String {
    format!(
        "{}rule {} execution error: {error}",
        message_prefix(rule),
        rule.name
    )
}

/// The first that applies: rule overrides, the rule's action, policy overrides, the policy's.
pub fn effective_action(policy: &Policy, rule: &Rule, request: &Request<'_>) -> FailureAction {
    matching_override(&rule.action_overrides, request)
        .or(rule.failure_action)
        .or_else(|| matching_override(&policy.action_overrides, request))
        .unwrap_or(policy.action)
}

/// The action of the first override that applies. A plain loop: most rules and policies have
/// no overrides, and every result of every review asks.
fn matching_override(overrides: &[ActionOverride], request: &Request<'_>) -> Option<FailureAction> {
    for candidate in overrides {
        if override_matches(candidate, request) {
            return Some(candidate.action);
        }
    }
    None
}

fn override_matches(candidate: &ActionOverride, request: &Request<'_>) -> bool {
    let namespaces = candidate.namespaces.is_empty()
        || candidate
            .namespaces
            .iter()
            .any(|pattern| pattern.matches(request.namespace));
    let selector = match &candidate.namespace_selector {
        None => true,
        Some(selector) => request
            .namespace_labels
            .is_some_and(|labels| selector.matches_labels(labels)),
    };
    namespaces && selector
}
