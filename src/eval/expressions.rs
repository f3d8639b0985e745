//! One rule, once it applies: its context, its preconditions and its check, worded as
//! Kyverno's validate handler words them. A rule with no variables anywhere takes a path that
//! builds no variables at all.

use super::context::{ReviewVariables, Scope};
use super::{Budget, Judged, RuleOutcome, exceptions};
use crate::expr::conditions::{self, Conditions, EvaluationError};
use crate::expr::template::{self, ResolveError, TemplateError};
use crate::matching::Operation;
use crate::pattern::{NumberMode, Pattern, PatternOutcome};
use crate::policy::{
    ContextEntry, ContextSource, Foreach, Policy, PolicyException, Rule, SourcedPattern, Validation,
};
use serde_json::{Value, json};
use std::borrow::Cow;

/// The rule's outcome; [`Judged::NotApplicable`] when Kyverno gives no response at all (a
/// pattern on a DELETE, a foreach whose lists had nothing to judge), [`Judged::Excepted`] when
/// PolicyExceptions of `exceptions` apply once the context is loaded and the preconditions hold.
pub(super) fn judge<'p>(
    policy: &Policy,
    rule: &'p Rule,
    exceptions: &[&'p PolicyException],
    variables: &ReviewVariables<'_>,
    budget: &Budget,
) -> Judged<'p> {
    let request = variables.request();
    if !rule.reads_variables() {
        // No context and no preconditions: exceptions come first.
        match exceptions::applying(exceptions, policy, &rule.name, variables, None) {
            Err(outcome) => return Judged::Outcome(outcome),
            Ok(applied) if !applied.is_empty() => return Judged::Excepted(applied),
            Ok(_) => {}
        }
        if request.operation == Operation::Delete {
            return Judged::NotApplicable;
        }
        return Judged::Outcome(static_patterns(rule, request.object));
    }
    let mut scope = Scope::new(variables, &rule.expressions, request.environment);
    scope.push();
    if let Err(error) = load_context(&rule.context, &mut scope) {
        return Judged::Outcome(error_outcome("failed to load context", &error));
    }
    if let Some(preset) = request.environment.preset(&policy.name, &rule.name) {
        for (name, value) in preset {
            scope.set(name, value.clone());
        }
    }
    let mut judging = Judging {
        rule,
        request_object: if request.operation == Operation::Delete {
            None
        } else {
            Some(request.object)
        },
        budget,
    };
    if let Some(outcome) = judging.preconditions(&rule.preconditions, &mut scope) {
        return Judged::Outcome(outcome);
    }
    match exceptions::applying(exceptions, policy, &rule.name, variables, Some(&mut scope)) {
        Err(outcome) => return Judged::Outcome(outcome),
        Ok(applied) if !applied.is_empty() => return Judged::Excepted(applied),
        Ok(_) => {}
    }
    match judging.judge(&None, &rule.validation, &mut scope, None, 0) {
        Some(outcome) => Judged::Outcome(outcome),
        None => Judged::NotApplicable,
    }
}

fn static_patterns<'p>(rule: &'p Rule, object: &serde_json::Value) -> RuleOutcome<'p> {
    let message = rule.message.as_deref().map(Cow::Borrowed);
    match &rule.validation {
        Validation::Pattern(SourcedPattern {
            compiled: Some(pattern),
            ..
        }) => single_pattern(rule, message.as_deref(), pattern, object),
        Validation::AnyPattern(patterns) => {
            let compiled: Vec<&Pattern> = patterns
                .iter()
                .filter_map(|pattern| pattern.compiled.as_ref())
                .collect();
            any_pattern(rule, message.as_deref(), &compiled, object)
        }
        _ => RuleOutcome::Error {
            message: format!("rule {} has no compiled pattern", rule.name),
        },
    }
}

/// Kyverno's `RuleError` wording: what failed, then why.
fn error_outcome<'p>(what: &str, error: &dyn std::fmt::Display) -> RuleOutcome<'p> {
    RuleOutcome::Error {
        message: format!("{what}: {error}"),
    }
}

struct Judging<'a, 'p> {
    rule: &'p Rule,
    /// What patterns judge when no foreach element is in scope; `None` on a DELETE.
    request_object: Option<&'a Value>,
    budget: &'a Budget,
}

impl<'p> Judging<'_, 'p> {
    /// Preconditions, then the check, with the scope's context already loaded.
    fn judge(
        &mut self,
        preconditions: &Option<Conditions>,
        check: &Validation,
        scope: &mut Scope<'_>,
        element: Option<&Value>,
        nesting: usize,
    ) -> Option<RuleOutcome<'p>> {
        if let Some(outcome) = self.preconditions(preconditions, scope) {
            return Some(outcome);
        }
        match check {
            Validation::Deny(conditions) => Some(self.deny(conditions, scope)),
            Validation::Pattern(_) | Validation::AnyPattern(_) => {
                let object = element.or(self.request_object)?;
                Some(self.patterns(check, scope, object))
            }
            Validation::Foreach(loops) => self.foreach(loops, scope, element, nesting),
        }
    }

    /// The outcome when the preconditions do not hold or cannot be evaluated; `None` when
    /// judging goes on.
    fn preconditions(
        &self,
        preconditions: &Option<Conditions>,
        scope: &mut Scope<'_>,
    ) -> Option<RuleOutcome<'p>> {
        match evaluate_conditions(preconditions.as_ref()?, scope) {
            Err(error) => Some(error_outcome("failed to evaluate preconditions", &error)),
            Ok(verdict) if !verdict.holds => Some(RuleOutcome::Skip {
                message: Cow::Owned(conditions::preconditions_not_met(&verdict.message)),
            }),
            Ok(_) => None,
        }
    }

    fn deny(&self, conditions: &Conditions, scope: &mut Scope<'_>) -> RuleOutcome<'p> {
        match evaluate_conditions(conditions, scope) {
            Err(error) => error_outcome("failed to check deny conditions", &error),
            Ok(verdict) if verdict.holds => RuleOutcome::Fail {
                path: None,
                message: conditions::deny_message(
                    &self.rule.name,
                    self.rule.message.as_deref().unwrap_or(""),
                    &verdict.message,
                    |message| template::substitute_all(message, scope),
                ),
            },
            Ok(_) => RuleOutcome::Pass {
                message: Cow::Borrowed(&self.rule.pass_message),
            },
        }
    }

    fn patterns(
        &self,
        check: &Validation,
        scope: &mut Scope<'_>,
        object: &Value,
    ) -> RuleOutcome<'p> {
        let patterns: Result<Vec<Cow<'_, Pattern>>, RuleOutcome<'p>> = match check {
            Validation::Pattern(pattern) => {
                substituted(pattern, NumberMode::Exact, scope).map(|one| vec![one])
            }
            Validation::AnyPattern(patterns) => patterns
                .iter()
                .map(|pattern| substituted(pattern, NumberMode::Float, scope))
                .collect(),
            _ => {
                return RuleOutcome::Error {
                    message: format!("rule {} has no pattern", self.rule.name),
                };
            }
        };
        let patterns = match patterns {
            Ok(patterns) => patterns,
            Err(outcome) => return outcome,
        };
        let message = match self.rule.message.as_deref() {
            Some(message) if message.contains("{{") => {
                match template::substitute_all(&Value::String(message.to_owned()), scope) {
                    Ok(Value::String(message)) => Ok(Some(Cow::Owned(message))),
                    Ok(_) => Ok(Some(Cow::Borrowed(message))),
                    Err(error) => Err(error),
                }
            }
            other => Ok(other.map(Cow::Borrowed)),
        };
        let message = match message {
            Ok(message) => message,
            Err(error) => {
                return RuleOutcome::Error {
                    message: format!(
                        "validation error: variables substitution error in rule {} execution \
                         error: {error}",
                        self.rule.name
                    ),
                };
            }
        };
        let compiled: Vec<&Pattern> = patterns.iter().map(AsRef::as_ref).collect();
        match (check, compiled.as_slice()) {
            (Validation::Pattern(_), [pattern]) => {
                single_pattern(self.rule, message.as_deref(), pattern, object)
            }
            _ => any_pattern(self.rule, message.as_deref(), &compiled, object),
        }
    }

    /// Kyverno's `validateForEach`.
    fn foreach(
        &mut self,
        loops: &[Foreach],
        scope: &mut Scope<'_>,
        element: Option<&Value>,
        nesting: usize,
    ) -> Option<RuleOutcome<'p>> {
        let mut applied = 0usize;
        let mut list_error: Option<String> = None;
        for each in loops {
            let elements = match evaluate_list(&each.list, scope) {
                Ok(elements) => elements,
                Err(error) if error.contains("Unknown key") => continue,
                Err(error) => {
                    list_error = Some(error);
                    continue;
                }
            };
            let (outcome, count) = self.elements(each, &elements, scope, element, nesting);
            if !matches!(outcome, RuleOutcome::Pass { .. }) {
                return Some(outcome);
            }
            applied += count;
        }
        if applied == 0 {
            return list_error.map(|error| RuleOutcome::Error {
                message: format!("failed to evaluate list: {error}"),
            });
        }
        Some(RuleOutcome::Pass {
            message: Cow::Borrowed("rule passed"),
        })
    }

    /// Kyverno's `validateElements`: the first element that neither passes nor skips decides.
    fn elements(
        &mut self,
        each: &Foreach,
        elements: &[Value],
        scope: &mut Scope<'_>,
        outer_element: Option<&Value>,
        nesting: usize,
    ) -> (RuleOutcome<'p>, usize) {
        let mut applied = 0;
        for (index, item) in elements.iter().enumerate() {
            if item.is_null() {
                continue;
            }
            if self.budget.is_spent() {
                return (
                    RuleOutcome::Error {
                        message: "validation failure: the review's deadline passed inside foreach"
                            .to_owned(),
                    },
                    applied,
                );
            }
            let scoped = match (each.element_scope, item.is_object()) {
                (Some(true), false) => {
                    return (
                        RuleOutcome::Error {
                            message: format!(
                                "failed to process foreach: cannot use elementScope=true foreach \
                                 rules for elements that are not maps, expected type=map got \
                                 type={}",
                                go_type(item)
                            ),
                        },
                        applied,
                    );
                }
                (Some(scope), _) => scope,
                (None, is_map) => is_map,
            };
            let element = if scoped { Some(item) } else { outer_element };
            scope.push();
            scope.set("element", item.clone());
            scope.set(&format!("element{nesting}"), item.clone());
            scope.set("elementIndex", json!(index));
            scope.set(&format!("elementIndex{nesting}"), json!(index));
            let outcome = match load_context(&each.context, scope) {
                Err(error) => Some(error_outcome("failed to load context", &error)),
                Ok(()) => self.judge(
                    &each.preconditions,
                    &each.check,
                    scope,
                    element,
                    nesting + 1,
                ),
            };
            scope.pop();
            match outcome {
                None | Some(RuleOutcome::Skip { .. }) => continue,
                Some(RuleOutcome::Pass { .. }) => applied += 1,
                Some(RuleOutcome::Error { message })
                    if message.contains("failed to evaluate preconditions") =>
                {
                    continue;
                }
                Some(RuleOutcome::Error { message }) => {
                    return (
                        RuleOutcome::Error {
                            message: format!("validation failure: {message}"),
                        },
                        applied,
                    );
                }
                Some(RuleOutcome::Fail { message, path }) => {
                    return (
                        RuleOutcome::Fail {
                            path,
                            message: format!("validation failure: {message}"),
                        },
                        applied,
                    );
                }
            }
        }
        (
            RuleOutcome::Pass {
                message: Cow::Borrowed(""),
            },
            applied,
        )
    }
}

/// The pattern itself when it holds no variables, else its source substituted and compiled.
fn substituted<'a, 'p>(
    pattern: &'a SourcedPattern,
    mode: NumberMode,
    scope: &mut Scope<'_>,
) -> Result<Cow<'a, Pattern>, RuleOutcome<'p>> {
    if let Some(compiled) = &pattern.compiled {
        return Ok(Cow::Borrowed(compiled));
    }
    let source = template::substitute_all(&pattern.source, scope)
        .map_err(|error| error_outcome("variable substitution failed", &error))?;
    Pattern::compile_with(&source, mode)
        .map(Cow::Owned)
        .map_err(|error| RuleOutcome::Error {
            message: format!(
                "variable substitution failed: the substituted pattern is invalid at {}: {}",
                error.path.kyverno(),
                error.message
            ),
        })
}

/// A foreach list: a JMESPath query (after its variables), a single value standing for a list
/// of one.
fn evaluate_list(list: &str, scope: &mut Scope<'_>) -> Result<Vec<Value>, String> {
    let query = if list.contains("{{") {
        match template::substitute_all(&Value::String(list.to_owned()), scope) {
            Ok(Value::String(query)) => query,
            Ok(other) => return Ok(into_list(other)),
            Err(error) => return Err(error.to_string()),
        }
    } else {
        list.to_owned()
    };
    scope
        .query(query.trim())
        .map(into_list)
        .map_err(|error| error.to_string())
}

fn into_list(value: Value) -> Vec<Value> {
    match value {
        Value::Array(items) => items,
        other => vec![other],
    }
}

fn go_type(value: &Value) -> &'static str {
    match value {
        Value::Null => "<nil>",
        Value::Bool(_) => "bool",
        Value::Number(_) => "float64",
        Value::String(_) => "string",
        Value::Array(_) => "[]interface {}",
        Value::Object(_) => "map[string]interface {}",
    }
}

fn evaluate_conditions(
    conditions: &Conditions,
    scope: &mut Scope<'_>,
) -> Result<conditions::Verdict, EvaluationError<TemplateError>> {
    conditions.evaluate(|value| template::substitute_all(value, scope))
}

/// Loads context entries in order, each seeing those before it.
fn load_context(entries: &[ContextEntry], scope: &mut Scope<'_>) -> Result<(), String> {
    for entry in entries {
        let value = load_entry(entry, scope)?;
        scope.set(&entry.name, value);
    }
    Ok(())
}

fn load_entry(entry: &ContextEntry, scope: &mut Scope<'_>) -> Result<Value, String> {
    let name = &entry.name;
    let substitute = |value: &Value, scope: &mut Scope<'_>| {
        template::substitute_all(value, scope).map_err(|error| {
            format!("failed to substitute variables in context entry {name} {value}: {error}")
        })
    };
    match &entry.source {
        ContextSource::Variable {
            value,
            jmes_path,
            default,
        } => {
            let path = match jmes_path {
                Some(path) => match substitute(&Value::String(path.clone()), scope)? {
                    Value::String(path) => Some(path),
                    _ => return Err(format!("jmespath value must be a string {name} {path}")),
                },
                None => None,
            };
            let default = match default {
                Some(default) => Some(substitute(default, scope)?),
                None => None,
            };
            let mut output = default.clone();
            match (value, &path) {
                (Some(value), path) => {
                    let variable = substitute(value, scope)?;
                    match path {
                        Some(path) => {
                            match crate::jmespath::search(
                                path,
                                &variable,
                                scope.environment().jmespath(),
                            ) {
                                Ok(found) => output = Some(found),
                                Err(error) if default.is_none() => {
                                    return Err(format!(
                                        "failed to apply jmespath {path} to variable {variable}: {error}"
                                    ));
                                }
                                Err(_) => {}
                            }
                        }
                        None => output = Some(variable),
                    }
                }
                (None, Some(path)) => match scope.query(path) {
                    Ok(Value::Null) => {}
                    Ok(found) => output = Some(found),
                    Err(error) if default.is_none() => {
                        return Err(format!(
                            "failed to apply jmespath {path} to variable <nil>: {}",
                            strip_query_prefix(&error)
                        ));
                    }
                    Err(_) => {}
                },
                (None, None) => {}
            }
            match output {
                None | Some(Value::Null) => Err(format!(
                    "failed to add context entry for variable {name} since it evaluated to nil"
                )),
                Some(value) => Ok(value),
            }
        }
        ContextSource::ConfigMap {
            name: map_name,
            namespace,
        } => {
            let text = |value: &str, scope: &mut Scope<'_>| -> Result<String, String> {
                match substitute(&Value::String(value.to_owned()), scope)? {
                    Value::String(text) => Ok(text),
                    other => Ok(other.to_string()),
                }
            };
            let map_name = text(map_name, scope)?;
            let mut namespace = text(namespace, scope)?;
            if namespace.is_empty() {
                namespace = "default".to_owned();
            }
            scope
                .environment()
                .config_map(&namespace, &map_name)
                .map_err(|error| {
                    format!("failed to retrieve config map for context entry {name}: {error}")
                })
        }
        ContextSource::ApiCall {
            url_path,
            jmes_path,
            default,
        } => {
            let url = match substitute(&Value::String(url_path.clone()), scope)? {
                Value::String(url) => url,
                other => other.to_string(),
            };
            let answer = match scope.environment().api_get(&url) {
                Ok(answer) => answer,
                Err(error) => match default {
                    Some(default) => return substitute(default, scope),
                    None => return Err(format!("failed to load context entry {name}: {error}")),
                },
            };
            match jmes_path {
                None => Ok(answer),
                Some(path) => {
                    let path = match substitute(&Value::String(path.clone()), scope)? {
                        Value::String(path) => path,
                        other => other.to_string(),
                    };
                    match crate::jmespath::search(&path, &answer, scope.environment().jmespath()) {
                        Ok(found) => Ok(found),
                        Err(error) => match default {
                            Some(default) => substitute(default, scope),
                            None => Err(format!(
                                "failed to apply JMESPath {path} for context entry {name}: {error}"
                            )),
                        },
                    }
                }
            }
        }
    }
}

fn strip_query_prefix(error: &ResolveError) -> String {
    let text = error.to_string();
    text.strip_prefix("JMESPath query failed: ")
        .map(str::to_owned)
        .unwrap_or(text)
}

fn single_pattern<'p>(
    rule: &'p Rule,
    message: Option<&str>,
    pattern: &Pattern,
    object: &Value,
) -> RuleOutcome<'p> {
    match pattern.evaluate(object) {
        PatternOutcome::Pass => passed(rule),
        PatternOutcome::Fail { path, .. } => RuleOutcome::Fail {
            message: format!(
                "{}rule {} failed at path {}",
                message_prefix(message),
                rule.name,
                path.kyverno()
            ),
            path: Some(path),
        },
        PatternOutcome::Skip { message } => RuleOutcome::Skip {
            message: Cow::Owned(message),
        },
        PatternOutcome::Error { message: error } => RuleOutcome::Error {
            message: format!(
                "{}rule {} execution error: {error}",
                message_prefix(message),
                rule.name
            ),
        },
    }
}

fn any_pattern<'p>(
    rule: &'p Rule,
    message: Option<&str>,
    patterns: &[&Pattern],
    object: &Value,
) -> RuleOutcome<'p> {
    let mut failures = Vec::new();
    let mut skips = Vec::new();
    let mut first_failure_path = None;
    for (index, pattern) in patterns.iter().enumerate() {
        match pattern.evaluate(object) {
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
            message: format!("{}{}", message_prefix(message), failures.join(" ")),
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
fn message_prefix(message: Option<&str>) -> String {
    match message {
        Some(message) if !message.is_empty() => {
            let period = if message.ends_with('.') { "" } else { "." };
            format!("validation error: {message}{period} ")
        }
        _ => "validation error: ".to_owned(),
    }
}
