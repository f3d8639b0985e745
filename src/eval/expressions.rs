//! One rule, once it applies: its context, its preconditions and its check, worded as
//! Kyverno's validate handler words them. A rule with no variables anywhere takes a path that
//! builds no variables at all.

use super::context::{Lookup, LookupError, ReviewVariables, Scope};
use super::{Budget, Judged, RuleOutcome, exceptions};
use crate::coerce::gofmt::format_s_json;
use crate::expr::conditions::{self, Conditions, EvaluationError};
use crate::expr::template::TemplateError;
use crate::matching::Operation;
use crate::pattern::{NumberMode, Pattern, PatternOutcome};
use crate::policy::{
    ContextEntry, ContextSource, Foreach, Policy, PolicyException, Rule, SourcedPattern, Validation,
};
use serde_json::Value;
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
    let judged = if request.object.is_null() {
        request.old_object
    } else {
        request.object
    };
    let resource = judged
        .pointer("/metadata/name")
        .and_then(Value::as_str)
        .unwrap_or("");
    for (name, value) in request.environment.request_values(&policy.name, resource) {
        if let Err(error) = scope.merge(name, value.clone()) {
            return Judged::Outcome(error_outcome("failed to add variable to context", &error));
        }
    }
    let rule_values = request.environment.rule_values(&policy.name, &rule.name);
    let policy_namespace = policy.namespace.as_deref();
    if let Err(error) = load_context(&rule.context, &rule_values, &mut scope, policy_namespace) {
        return Judged::Outcome(error_outcome("failed to load context", &error));
    }
    let mut judging = Judging {
        rule,
        rule_values,
        policy_namespace,
        request_object: if request.operation == Operation::Delete {
            None
        } else {
            Some(request.object)
        },
        budget,
    };
    if let Some(outcome) = judging.preconditions(&rule.preconditions, &scope) {
        return Judged::Outcome(outcome);
    }
    match exceptions::applying(exceptions, policy, &rule.name, variables, Some(&mut scope)) {
        Err(outcome) => return Judged::Outcome(outcome),
        Ok(applied) if !applied.is_empty() => return Judged::Excepted(applied),
        Ok(_) => {}
    }
    match judging.judge(&None, &rule.validation, &mut scope, 0) {
        Some(outcome) => Judged::Outcome(outcome),
        None => Judged::NotApplicable,
    }
}

fn static_patterns<'p>(rule: &'p Rule, object: &serde_json::Value) -> RuleOutcome<'p> {
    let mut message = || Ok(rule.message.clone());
    match &rule.validation {
        Validation::Pattern(SourcedPattern {
            compiled: Some(pattern),
            ..
        }) => single_pattern(rule, &mut message, pattern, object),
        Validation::AnyPattern(patterns) => any_pattern(
            rule,
            &mut message,
            patterns
                .iter()
                .filter_map(|pattern| pattern.compiled.as_ref()),
            object,
        ),
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
    /// What the caller fixes for the rule's variables, added again at each foreach element.
    rule_values: Vec<(&'a str, &'a Value)>,
    /// A namespaced policy's namespace, the only one its lookups may read.
    policy_namespace: Option<&'a str>,
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
        nesting: usize,
    ) -> Option<RuleOutcome<'p>> {
        if let Some(outcome) = self.preconditions(preconditions, scope) {
            return Some(outcome);
        }
        match check {
            Validation::Deny(conditions) => Some(self.deny(conditions, scope)),
            Validation::Pattern(_) | Validation::AnyPattern(_) => {
                let scope: &Scope<'_> = scope;
                let object = scope.pattern_target().or(self.request_object);
                self.patterns(check, scope, object)
            }
            Validation::Foreach(loops) => self.foreach(loops, scope, nesting),
        }
    }

    /// The outcome when the preconditions do not hold or cannot be evaluated; `None` when
    /// judging goes on.
    fn preconditions(
        &self,
        preconditions: &Option<Conditions>,
        scope: &Scope<'_>,
    ) -> Option<RuleOutcome<'p>> {
        match evaluate_conditions(preconditions.as_ref()?, scope) {
            Err(error) => Some(error_outcome("failed to evaluate preconditions", &error)),
            Ok(verdict) if !verdict.holds => Some(RuleOutcome::Skip {
                message: Cow::Owned(conditions::preconditions_not_met(&verdict.message)),
            }),
            Ok(_) => None,
        }
    }

    fn deny(&self, conditions: &Conditions, scope: &Scope<'_>) -> RuleOutcome<'p> {
        match evaluate_conditions(conditions, scope) {
            Err(error) => error_outcome("failed to check deny conditions", &error),
            Ok(verdict) if verdict.holds => RuleOutcome::Fail {
                path: None,
                message: conditions::deny_message(
                    &self.rule.name,
                    self.rule.message.as_deref().unwrap_or(""),
                    &verdict.message,
                    |message| scope.substitute(message),
                ),
            },
            Ok(_) => RuleOutcome::Pass {
                message: Cow::Borrowed(&self.rule.pass_message),
            },
        }
    }

    /// Kyverno substitutes the patterns before it looks at what they judge, so a variable that
    /// fails is an error even on a DELETE, which otherwise gets no response (`None`).
    fn patterns(
        &self,
        check: &Validation,
        scope: &Scope<'_>,
        object: Option<&Value>,
    ) -> Option<RuleOutcome<'p>> {
        let patterns: Result<Vec<Cow<'_, Pattern>>, RuleOutcome<'p>> = match check {
            Validation::Pattern(pattern) => {
                substituted(pattern, NumberMode::Exact, scope).map(|one| vec![one])
            }
            Validation::AnyPattern(patterns) => substituted_any(patterns, scope),
            _ => {
                return Some(RuleOutcome::Error {
                    message: format!("rule {} has no pattern", self.rule.name),
                });
            }
        };
        let patterns = match patterns {
            Ok(patterns) => patterns,
            Err(outcome) => return Some(outcome),
        };
        let object = object?;
        let written = self.rule.message.as_deref();
        let mut message = || match written {
            Some(text) if text.contains("{{") || text.contains("$(") => {
                match scope.substitute(&Value::String(text.to_owned())) {
                    Ok(Value::String(message)) => Ok(Some(message)),
                    Ok(_) => Ok(Some(text.to_owned())),
                    Err(error) => Err(error),
                }
            }
            other => Ok(other.map(str::to_owned)),
        };
        let compiled: Vec<&Pattern> = patterns.iter().map(AsRef::as_ref).collect();
        Some(match (check, compiled.as_slice()) {
            (Validation::Pattern(_), [pattern]) => {
                single_pattern(self.rule, &mut message, pattern, object)
            }
            _ => any_pattern(self.rule, &mut message, compiled.iter().copied(), object),
        })
    }

    /// Kyverno's `validateForEach`.
    fn foreach<'s>(
        &mut self,
        loops: &[Foreach],
        scope: &mut Scope<'s>,
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
            let (outcome, count) = self.elements(each, elements, scope, nesting);
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
    fn elements<'s>(
        &mut self,
        each: &Foreach,
        elements: Vec<Cow<'s, Value>>,
        scope: &mut Scope<'s>,
        nesting: usize,
    ) -> (RuleOutcome<'p>, usize) {
        let mut applied = 0;
        for (index, item) in elements.into_iter().enumerate() {
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
                                go_type(&item)
                            ),
                        },
                        applied,
                    );
                }
                (Some(scope), _) => scope,
                (None, is_map) => is_map,
            };
            scope.push_element(item, index, nesting, scoped);
            let outcome = match load_context(
                &each.context,
                &self.rule_values,
                scope,
                self.policy_namespace,
            ) {
                Err(error) => Some(error_outcome("failed to load context", &error)),
                Ok(()) => self.judge(&each.preconditions, &each.check, scope, nesting + 1),
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
    scope: &Scope<'_>,
) -> Result<Cow<'a, Pattern>, RuleOutcome<'p>> {
    if let Some(compiled) = &pattern.compiled {
        return Ok(Cow::Borrowed(compiled));
    }
    let source = scope
        .substitute(&pattern.source)
        .map_err(|error| error_outcome("variable substitution failed", &error))?;
    compile_substituted(&source, mode).map(Cow::Owned)
}

/// The patterns of an anyPattern, substituted as one list as Kyverno does: a `{{@}}` reads the
/// path below the list's index, and the first variable that fails fails them all.
fn substituted_any<'a, 'p>(
    patterns: &'a [SourcedPattern],
    scope: &Scope<'_>,
) -> Result<Vec<Cow<'a, Pattern>>, RuleOutcome<'p>> {
    if let Some(compiled) = patterns
        .iter()
        .map(|pattern| pattern.compiled.as_ref().map(Cow::Borrowed))
        .collect::<Option<Vec<_>>>()
    {
        return Ok(compiled);
    }
    let sources = Value::Array(
        patterns
            .iter()
            .map(|pattern| pattern.source.clone())
            .collect(),
    );
    let substituted = scope
        .substitute(&sources)
        .map_err(|error| error_outcome("variable substitution failed", &error))?;
    let Value::Array(items) = substituted else {
        return Err(RuleOutcome::Error {
            message: "variable substitution failed: anyPattern is no longer a list".to_owned(),
        });
    };
    items
        .iter()
        .map(|item| compile_substituted(item, NumberMode::Float).map(Cow::Owned))
        .collect()
}

fn compile_substituted<'p>(source: &Value, mode: NumberMode) -> Result<Pattern, RuleOutcome<'p>> {
    Pattern::compile_with(source, mode).map_err(|error| RuleOutcome::Error {
        message: format!(
            "variable substitution failed: the substituted pattern is invalid at {}: {}",
            error.path.kyverno(),
            error.message
        ),
    })
}

/// A foreach list: a JMESPath query (after its variables), a single value standing for a list
/// of one.
fn evaluate_list<'s>(list: &str, scope: &Scope<'s>) -> Result<Vec<Cow<'s, Value>>, String> {
    if !list.contains("{{") {
        return scope.list(list.trim()).map_err(|error| error.to_string());
    }
    match scope.substitute(&Value::String(list.to_owned())) {
        Ok(Value::String(query)) => scope.list(query.trim()).map_err(|error| error.to_string()),
        Ok(Value::Array(items)) => Ok(items.into_iter().map(Cow::Owned).collect()),
        Ok(other) => Ok(vec![Cow::Owned(other)]),
        Err(error) => Err(error.to_string()),
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
    scope: &Scope<'_>,
) -> Result<conditions::Verdict, EvaluationError<TemplateError>> {
    conditions.evaluate(|value| scope.substitute(value))
}

/// Kyverno's context loader: the values fixed for the rule first, then the entries in order,
/// each seeing those before it and replacing what a value gave its name. An entry that
/// nothing here can look up is left unloaded, as the Kyverno CLI leaves it; one whose load
/// fails fails only the queries that name it, as Kyverno loads an entry when a query first
/// does. A namespaced policy's `configMap` and `apiCall` entries may only read its own
/// namespace, as in Kyverno.
fn load_context(
    entries: &[ContextEntry],
    values: &[(&str, &Value)],
    scope: &mut Scope<'_>,
    policy_namespace: Option<&str>,
) -> Result<(), String> {
    for (name, value) in values {
        scope.merge(name, (*value).clone())?;
    }
    for entry in entries {
        match load_entry(entry, scope, policy_namespace) {
            // Kyverno replaces what a variable entry's name held, and merges a looked-up
            // answer into it.
            Ok(value) if matches!(entry.source, ContextSource::Variable { .. }) => {
                scope.replace_entry(&entry.name, value)
            }
            Ok(value) => scope.merge_entry(&entry.name, value),
            Err(LoadError::NoSource(why)) => scope.leave_unloaded(&entry.name, why),
            Err(LoadError::Failed(error)) => scope.fail_entry(&entry.name, error),
        }
    }
    Ok(())
}

/// Why a context entry gave no value.
enum LoadError {
    /// Nothing here can look it up: the entry is left unloaded.
    NoSource(String),
    Failed(String),
}

impl From<String> for LoadError {
    fn from(error: String) -> Self {
        LoadError::Failed(error)
    }
}

fn load_entry(
    entry: &ContextEntry,
    scope: &Scope<'_>,
    policy_namespace: Option<&str>,
) -> Result<Value, LoadError> {
    match &entry.source {
        ContextSource::Variable {
            value,
            jmes_path,
            default,
        } => Ok(load_variable(
            &entry.name,
            value.as_ref(),
            jmes_path.as_deref(),
            default.as_ref(),
            scope,
        )?),
        ContextSource::ConfigMap { name, namespace } => {
            if let Some(why) = scope.environment().missing_source(Lookup::ConfigMap) {
                return Err(LoadError::NoSource(why));
            }
            let map_name = substitute_text(&entry.name, name, scope)?;
            let mut namespace = substitute_text(&entry.name, namespace, scope)?;
            if namespace.is_empty() {
                namespace = policy_namespace.unwrap_or("default").to_owned();
            }
            if let Some(own) = policy_namespace.filter(|own| *own != namespace) {
                return Err(LoadError::Failed(format!(
                    "failed to retrieve config map for context entry {name}: context entry \
                     {name}: configMap namespace {namespace:?} is different from policy \
                     namespace {own:?}",
                    name = entry.name
                )));
            }
            scope
                .environment()
                .config_map(&namespace, &map_name)
                .map_err(|error| match error {
                    LookupError::NoSource(why) => LoadError::NoSource(why),
                    LookupError::Failed(why) => LoadError::Failed(format!(
                        "failed to retrieve config map for context entry {}: {why}",
                        entry.name
                    )),
                })
        }
        ContextSource::ApiCall {
            url_path,
            jmes_path,
            default,
        } => {
            if let Some(why) = scope.environment().missing_source(Lookup::ApiCall) {
                return Err(LoadError::NoSource(why));
            }
            Ok(load_api_call(
                &entry.name,
                url_path,
                None,
                jmes_path.as_deref(),
                default.as_ref(),
                scope,
                policy_namespace,
            )?)
        }
        ContextSource::ServiceCall {
            url,
            method,
            jmes_path,
            default,
        } => {
            if let Some(why) = scope.environment().missing_source(Lookup::ApiCall) {
                return Err(LoadError::NoSource(why));
            }
            Ok(load_api_call(
                &entry.name,
                url,
                Some(method),
                jmes_path.as_deref(),
                default.as_ref(),
                scope,
                None,
            )?)
        }
        ContextSource::ImageRegistry {
            reference,
            jmes_path,
        } => {
            if let Some(why) = scope.environment().missing_source(Lookup::ImageRegistry) {
                return Err(LoadError::NoSource(why));
            }
            let reference = substitute_text(&entry.name, reference, scope)?;
            let data = scope
                .environment()
                .image_data(&reference)
                .map_err(|error| match error {
                    LookupError::NoSource(why) => LoadError::NoSource(why),
                    LookupError::Failed(why) => LoadError::Failed(format!(
                        "failed to load image data for context entry {}: {why}",
                        entry.name
                    )),
                })?;
            let Some(path) = jmes_path else {
                return Ok(data);
            };
            let path = substitute_text(&entry.name, path, scope)?;
            crate::jmespath::search(&path, &data, scope.environment().jmespath()).map_err(|error| {
                LoadError::Failed(format!(
                    "failed to apply JMESPath {path} for context entry {}: {error}",
                    entry.name
                ))
            })
        }
    }
}

fn substitute_entry(name: &str, value: &Value, scope: &Scope<'_>) -> Result<Value, String> {
    scope.substitute(value).map_err(|error| {
        format!(
            "failed to substitute variables in context entry {name} {}: {error}",
            format_s_json(value)
        )
    })
}

fn substitute_text(name: &str, text: &str, scope: &Scope<'_>) -> Result<String, String> {
    match substitute_entry(name, &Value::String(text.to_owned()), scope)? {
        Value::String(text) => Ok(text),
        other => Ok(other.to_string()),
    }
}

fn load_variable(
    name: &str,
    value: Option<&Value>,
    jmes_path: Option<&str>,
    default: Option<&Value>,
    scope: &Scope<'_>,
) -> Result<Value, String> {
    let path = match jmes_path {
        Some(path) => match substitute_entry(name, &Value::String(path.to_owned()), scope)? {
            Value::String(path) => Some(path),
            _ => return Err(format!("jmespath value must be a string {name} {path}")),
        },
        None => None,
    };
    let default = match default {
        Some(default) => Some(substitute_entry(name, default, scope)?),
        None => None,
    };
    let mut output = default.clone();
    match (value, &path) {
        (Some(value), path) => {
            let variable = substitute_entry(name, value, scope)?;
            match path {
                Some(path) => {
                    match crate::jmespath::search(path, &variable, scope.environment().jmespath()) {
                        Ok(found) => output = Some(found),
                        // Kyverno's message names the (shadowed, failed) result, so always
                        // `<nil>`.
                        Err(error) if default.is_none() => {
                            return Err(format!(
                                "failed to apply jmespath {path} to variable <nil>: {error}"
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
                    "failed to apply jmespath {path} to variable <nil>: {error}"
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

fn load_api_call(
    name: &str,
    url_path: &str,
    service_method: Option<&str>,
    jmes_path: Option<&str>,
    default: Option<&Value>,
    scope: &Scope<'_>,
    policy_namespace: Option<&str>,
) -> Result<Value, LoadError> {
    let url = substitute_text(name, url_path, scope)?;
    if let Some(own) = policy_namespace {
        namespaced_url_path(&url, own)
            .map_err(|error| format!("failed to load context entry {name}: {error}"))?;
    }
    let called = match service_method {
        Some(method) => scope.environment().service_call(method, &url),
        None => scope.environment().api_get(&url),
    };
    let answer = match called {
        Ok(answer) => answer,
        Err(LookupError::NoSource(why)) => return Err(LoadError::NoSource(why)),
        Err(LookupError::Failed(error)) => match default {
            Some(default) => return Ok(substitute_entry(name, default, scope)?),
            None => {
                return Err(LoadError::Failed(format!(
                    "failed to load context entry {name}: {error}"
                )));
            }
        },
    };
    let Some(path) = jmes_path else {
        return Ok(answer);
    };
    let path = substitute_text(name, path, scope)?;
    match crate::jmespath::search(&path, &answer, scope.environment().jmespath()) {
        Ok(found) => Ok(found),
        Err(error) => match default {
            Some(default) => Ok(substitute_entry(name, default, scope)?),
            None => Err(LoadError::Failed(format!(
                "failed to apply JMESPath {path} for context entry {name}: {error}"
            ))),
        },
    }
}

/// The rule's message when a pattern fails, its variables substituted only then, as Kyverno
/// does; `None` when the rule has none.
type FailureMessage<'m> = dyn FnMut() -> Result<Option<String>, TemplateError> + 'm;

/// Kyverno's `buildErrorMessage`: the rule's message before what failed, or, when its
/// variables cannot be substituted, a note saying so in its place. The result stands.
fn failure_text(rule: &Rule, message: &mut FailureMessage<'_>, what: &str, cause: &str) -> String {
    match message() {
        Ok(message) => format!("{}{what}", message_prefix(message.as_deref())),
        Err(_) => format!(
            "validation error: variables substitution error in rule {} execution error: {cause}",
            rule.name
        ),
    }
}

fn single_pattern<'p>(
    rule: &'p Rule,
    message: &mut FailureMessage<'_>,
    pattern: &Pattern,
    object: &Value,
) -> RuleOutcome<'p> {
    match pattern.evaluate(object) {
        PatternOutcome::Pass => passed(rule),
        PatternOutcome::Fail {
            path,
            message: cause,
        } => RuleOutcome::Fail {
            message: failure_text(
                rule,
                message,
                &format!("rule {} failed at path {}", rule.name, path.kyverno()),
                &cause,
            ),
            path: Some(path),
        },
        PatternOutcome::Skip { message } => RuleOutcome::Skip {
            message: Cow::Owned(message),
        },
        PatternOutcome::Error { message: error } => RuleOutcome::Error {
            message: failure_text(
                rule,
                message,
                &format!("rule {} execution error: {error}", rule.name),
                &error,
            ),
        },
    }
}

fn any_pattern<'p, 'a>(
    rule: &'p Rule,
    message: &mut FailureMessage<'_>,
    patterns: impl Iterator<Item = &'a Pattern>,
    object: &Value,
) -> RuleOutcome<'p> {
    let mut failures = Vec::new();
    let mut skips = Vec::new();
    let mut first_failure_path = None;
    for (index, pattern) in patterns.enumerate() {
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
        let failures = failures.join(" ");
        return RuleOutcome::Fail {
            message: failure_text(rule, message, &failures, &failures),
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

/// Kyverno's rule for a namespaced policy's `apiCall`: the cleaned path must name the policy's
/// own namespace (`/api[s]/…/namespaces/<namespace>/…`).
fn namespaced_url_path(url: &str, own: &str) -> Result<(), String> {
    let cleaned = crate::expr::gopath::clean(url);
    let named = cleaned
        .strip_prefix("/api/")
        .or_else(|| cleaned.strip_prefix("/apis/"))
        .and_then(|rest| rest.split_once("/namespaces/"))
        .map(|(_, rest)| rest.split('/').next().unwrap_or(""))
        .filter(|namespace| !namespace.is_empty());
    match named {
        Some(namespace) if namespace == own => Ok(()),
        Some(namespace) => Err(format!(
            "path {cleaned} refers to namespace {namespace}, which is different from the policy \
             namespace {own}"
        )),
        None => Err(format!(
            "path {cleaned} does not contain a namespace segment, which is required for \
             namespaced policies"
        )),
    }
}
