//! From a report to an admission decision: who blocks, and the message the user reads.
//!
//! The rules are Kyverno's: a policy is in the *enforce group* when anything in it can enforce;
//! a failing rule blocks only when its own effective action is Enforce, an erroring rule blocks
//! when its enforce-group policy fails closed (and is a warning when it lets the request through); the denial lists every policy and rule that did
//! not pass, as a YAML map, so users who know Kyverno's messages read ours the same way.

use super::outcome::{Report, Status};
use crate::policy::{FailureAction, FailurePolicy, Policy};
use std::collections::BTreeMap;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    pub allowed: bool,
    /// The denial message; `None` when allowed.
    pub message: Option<String>,
    /// Audit-mode failures and `emitWarning` results, shown by kubectl as `Warning:` lines.
    pub warnings: Vec<String>,
}

/// How the resource is named in a denial: `Kind/namespace/name` (empty namespace kept).
#[derive(Debug, Clone, Copy)]
pub struct ResourceName<'a> {
    pub kind: &'a str,
    pub namespace: &'a str,
    pub name: &'a str,
}

pub fn in_enforce_group(policy: &Policy) -> bool {
    let enforce = |action: FailureAction| action == FailureAction::Enforce;
    enforce(policy.action)
        || policy
            .action_overrides
            .iter()
            .any(|entry| enforce(entry.action))
        || policy.rules.iter().any(|rule| {
            rule.failure_action.is_some_and(enforce)
                || rule
                    .action_overrides
                    .iter()
                    .any(|entry| enforce(entry.action))
        })
}

pub fn decide(report: &Report<'_>, resource: ResourceName<'_>) -> Decision {
    let fails_closed = report.results.iter().any(|result| {
        in_enforce_group(result.policy) && result.policy.failure_policy == FailurePolicy::Fail
    });
    let mut blocked = false;
    let mut listed: BTreeMap<&str, BTreeMap<&str, &str>> = BTreeMap::new();
    let mut warnings = Vec::new();
    for result in &report.results {
        let status = result.outcome.status();
        let enforce_group = in_enforce_group(result.policy);
        match status {
            Status::Fail if enforce_group && result.action == FailureAction::Enforce => {
                blocked = true
            }
            Status::Error if enforce_group && fails_closed => blocked = true,
            _ => {}
        }
        if enforce_group && !matches!(status, Status::Pass | Status::Skip) {
            listed
                .entry(&result.policy.name)
                .or_default()
                .insert(&result.rule.name, result.outcome.message());
        }
        let audit_failure = status == Status::Fail && result.action == FailureAction::Audit;
        if audit_failure || (result.policy.emit_warning && status != Status::Skip) {
            let warning = format!(
                "policy {}.{}: {}",
                result.policy.name,
                result.rule.name,
                result.outcome.message()
            );
            if !warnings.contains(&warning) {
                warnings.push(warning);
            }
        }
    }
    if !blocked {
        // A rule that could not be evaluated let the request through (its policy fails open
        // or only audits); say so rather than admit in silence.
        for result in &report.results {
            if result.outcome.status() == Status::Error {
                let warning = format!(
                    "policy {}.{}: not enforced, the rule could not be evaluated: {}",
                    result.policy.name,
                    result.rule.name,
                    result.outcome.message()
                );
                if !warnings.contains(&warning) {
                    warnings.push(warning);
                }
            }
        }
        return Decision {
            allowed: true,
            message: None,
            warnings,
        };
    }
    let mut message = format!(
        "\n\nresource {}/{}/{} was blocked due to the following policies \n\n",
        resource.kind, resource.namespace, resource.name
    );
    for (policy, rules) in &listed {
        message.push_str(&yaml_scalar(policy));
        message.push_str(":\n");
        for (rule, text) in rules {
            message.push_str("  ");
            message.push_str(&yaml_scalar(rule));
            message.push_str(": ");
            message.push_str(&yaml_scalar(text));
            message.push('\n');
        }
    }
    Decision {
        allowed: false,
        message: Some(message),
        warnings,
    }
}

/// A YAML scalar as a YAML emitter would write it: plain when that reads back as the same
/// string, single-quoted otherwise, double-quoted when it holds control characters.
pub fn yaml_scalar(text: &str) -> String {
    if text.chars().any(|c| c.is_control()) {
        return serde_json::Value::String(text.to_owned()).to_string();
    }
    if plain_is_safe(text) {
        return text.to_owned();
    }
    format!("'{}'", text.replace('\'', "''"))
}

fn plain_is_safe(text: &str) -> bool {
    let Some(first) = text.chars().next() else {
        return false;
    };
    let reserved_word = matches!(
        text.to_ascii_lowercase().as_str(),
        "true" | "false" | "yes" | "no" | "on" | "off" | "y" | "n" | "null" | "~"
    );
    let numeric = text.parse::<f64>().is_ok() || text.starts_with("0x") || text.starts_with('.');
    !(reserved_word
        || numeric
        || "-?:,[]{}#&*!|>'\"%@`".contains(first)
        || text.starts_with(' ')
        || text.ends_with(' ')
        || text.ends_with(':')
        || text.contains(": ")
        || text.contains(" #"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn yaml_scalars_quote_only_when_needed() {
        let table = [
            ("require-digest", "require-digest"),
            (
                "validation error: bad. rule x failed at path /a/",
                "'validation error: bad. rule x failed at path /a/'",
            ),
            ("it's: here", "'it''s: here'"),
            ("true", "'true'"),
            ("123", "'123'"),
            ("", "''"),
            ("*wild", "'*wild'"),
            ("line\nbreak", "\"line\\nbreak\""),
        ];
        for (input, expected) in table {
            assert_eq!(yaml_scalar(input), expected, "{input:?}");
        }
    }
}
