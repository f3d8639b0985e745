//! PolicyExceptions at evaluation: which of the exceptions naming a rule apply to one review,
//! judged as Kyverno's `MatchesException` judges them once the rule's context is loaded and its
//! preconditions hold.

use super::Request;
use super::context::{Expressions, ReviewVariables, Scope};
use super::outcome::RuleOutcome;
use crate::matching::MatchError;
use crate::policy::{Policy, PolicyException};
use serde_json::Value;

/// Kyverno's skip message: the keys follow the text with no separator, as Kyverno writes it.
pub fn skip_message(exceptions: &[&PolicyException]) -> String {
    let keys: Vec<&str> = exceptions
        .iter()
        .map(|exception| exception.key.as_str())
        .collect();
    format!(
        "rule is skipped due to policy exceptions{}",
        keys.join(", ")
    )
}

/// The exceptions of `candidates` that apply to `rule` of `policy`: named, matched, and their
/// conditions holding over `scope`, the rule's variables, or, for a rule that reads none, over
/// the review's. An empty list when none applies.
pub(super) fn applying<'p: 's, 's>(
    candidates: &[&'p PolicyException],
    policy: &Policy,
    rule: &str,
    variables: &'s ReviewVariables<'_>,
    scope: Option<&mut Scope<'s>>,
) -> Result<Vec<&'p PolicyException>, RuleOutcome<'p>> {
    if candidates.is_empty() {
        return Ok(Vec::new());
    }
    let request = variables.request();
    let matched = matching(candidates, policy, rule, request)?;
    if !matched
        .iter()
        .any(|exception| exception.conditions.is_some())
    {
        return Ok(matched);
    }
    Ok(match scope {
        Some(scope) => holding(matched, scope),
        None => {
            // Each exception brings its own expressions.
            static NONE: std::sync::OnceLock<Expressions> = std::sync::OnceLock::new();
            let expressions = NONE.get_or_init(Expressions::default);
            holding(
                matched,
                &mut Scope::new(variables, expressions, request.environment),
            )
        }
    })
}

/// The exceptions of `candidates` that name `rule` of `policy` and whose match block matches
/// the review's object (the old object on a DELETE). A match block that cannot be judged (a
/// namespace whose labels are unknown) is an error of the rule: whether it is excepted cannot
/// be told.
fn matching<'p>(
    candidates: &[&'p PolicyException],
    policy: &Policy,
    rule: &str,
    request: &Request<'_>,
) -> Result<Vec<&'p PolicyException>, RuleOutcome<'p>> {
    let object = if request.object.is_null() {
        request.old_object
    } else {
        request.object
    };
    let target = request.target(object);
    let mut matched = Vec::new();
    for &exception in candidates {
        if !exception.names_rule(policy, rule) {
            continue;
        }
        match exception.match_block.matches_exception(&target) {
            Ok(true) => matched.push(exception),
            Ok(false) => {}
            Err(MatchError(message)) => {
                return Err(RuleOutcome::Error {
                    message: format!(
                        "rule {rule} could not be evaluated: PolicyException {}: {message}",
                        exception.key
                    ),
                });
            }
        }
    }
    Ok(matched)
}

/// Those of `matched` whose conditions hold over `scope`, the rule's variables. A condition
/// that cannot be evaluated leaves its exception out, as Kyverno does.
fn holding<'p: 's, 's>(
    matched: Vec<&'p PolicyException>,
    scope: &mut Scope<'s>,
) -> Vec<&'p PolicyException> {
    matched
        .into_iter()
        .filter(|exception| {
            let Some(conditions) = &exception.conditions else {
                return true;
            };
            let rule_expressions = scope.use_expressions(&exception.expressions);
            let verdict = conditions.evaluate(|value: &Value| scope.substitute(value));
            scope.use_expressions(rule_expressions);
            verdict.is_ok_and(|verdict| verdict.holds)
        })
        .collect()
}
