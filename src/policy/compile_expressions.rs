//! The expression parts of a rule: context entries, preconditions, deny conditions, foreach,
//! and the JMESPath expressions their `{{ }}` variables hold, all compiled once at load.

use super::compile::Located;
use super::load::LoadError;
use super::{ContextEntry, ContextSource, Foreach, SourcedPattern, Validation};
use crate::eval::context::Expressions;
use crate::expr::conditions::{Conditions, Site};
use crate::expr::template;
use crate::json_path::JsonPath;
use crate::pattern::wildcard::Wildcard;
use crate::pattern::{NumberMode, Pattern};
use regex::Regex;
use serde_json::Value;
use std::sync::LazyLock;

/// What the rule's parts report their errors into, and the expressions they collect.
pub(super) struct RuleCompiler<'a> {
    pub located: &'a Located<'a>,
    pub policy: &'a str,
    pub rule: &'a str,
    pub errors: &'a mut Vec<LoadError>,
    pub expressions: Expressions,
    /// Every `{{ }}` variable written in the rule, with where it was written.
    pub written: Vec<(String, JsonPath)>,
    /// Wildcards of the names the rule's context entries define, as Kyverno's policy
    /// validation allows them.
    pub context_names: Vec<String>,
}

/// What Kyverno's policy validation lets a variable name: with background processing on,
/// nothing about the requester (`request.` but not bare `request`, no service account).
static ALLOWED_IN_BACKGROUND: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"request\.|element|elementIndex|@|images|images\.|image\.|([a-z_0-9]+\()[^{}]")
        .expect("constant regex")
});
static ALLOWED: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"request|serviceAccountName|serviceAccountNamespace|element|elementIndex|@|images|image|([a-z_0-9]+\()[^{}]",
    )
    .expect("constant regex")
});
/// Variables about the requester, which background processing cannot know.
static USER_VARIABLES: LazyLock<[Regex; 5]> = LazyLock::new(|| {
    [
        "serviceAccountName",
        "serviceAccountNamespace",
        "request.userInfo",
        "request.roles",
        "request.clusterRoles",
    ]
    .map(|name| {
        Regex::new(&format!(
            r"(^|[^.]){}\b",
            regex::escape(name).replace("\\.", ".")
        ))
        .expect("constant regex")
    })
});

impl RuleCompiler<'_> {
    /// Compiles every `{{ }}` variable of `value` (strings and keys), naming the first error.
    /// `foreach_depth` is how many foreach loops enclose the value: `element` needs one.
    pub fn variables(&mut self, value: &Value, path: &JsonPath, foreach_depth: usize) {
        for (text, path) in variables_in(value, path) {
            for expression in template::variables(text) {
                self.expression(&expression, &path, foreach_depth, true);
                self.written.push((expression, path.clone()));
            }
        }
    }

    /// Kyverno's policy validation of variable names (`ValidateVariables`): every variable must
    /// name the request, a foreach element, images, a function call or a context entry; and
    /// with background processing on, none may name the requester.
    pub fn check_variables(&mut self, background: bool) {
        let allowed = if background {
            &*ALLOWED_IN_BACKGROUND
        } else {
            &*ALLOWED
        };
        for (expression, path) in &self.written {
            if background
                && USER_VARIABLES
                    .iter()
                    .any(|banned| banned.is_match(expression))
            {
                self.errors.push(self.located.invalid(
                    path,
                    format!(
                        "only select variables are allowed in background mode. Set \
                         spec.background=false to disable background mode for this policy \
                         rule: variable {{{{{expression}}}}} is not allowed"
                    ),
                ));
                continue;
            }
            let unquoted = expression.replace('"', "");
            let defined = self
                .context_names
                .iter()
                .any(|pattern| Wildcard::new(pattern).matches(&unquoted));
            if !allowed.is_match(&unquoted) && !defined {
                self.errors.push(self.located.invalid(
                    path,
                    format!(
                        "policy contains invalid variables: variable substitution failed for \
                         rule {}: variable {unquoted} must match regex \"{}\" or patterns {:?}",
                        self.rule,
                        allowed.as_str(),
                        self.context_names
                    ),
                ));
            }
        }
    }

    /// Compiles one JMESPath expression; `in_variable` when it was written inside `{{ }}`.
    pub fn expression(
        &mut self,
        expression: &str,
        path: &JsonPath,
        foreach_depth: usize,
        in_variable: bool,
    ) {
        if expression == "@" && in_variable {
            return;
        }
        if foreach_depth == 0 && names_element(expression) {
            self.errors.push(self.located.invalid(
                path,
                format!(
                    "rule {:?}: variable {{{{{expression}}}}} reads `element`, which only exists \
                     inside validate.foreach",
                    self.rule
                ),
            ));
            return;
        }
        for form in [
            expression.to_owned(),
            template::rewrite_for_delete(expression),
        ] {
            if let Err(error) = self.expressions.add(&form) {
                let shown = if in_variable {
                    format!("{{{{{expression}}}}}")
                } else {
                    expression.to_owned()
                };
                self.errors.push(self.located.invalid(
                    path,
                    format!("rule {:?}: invalid JMESPath in {shown}: {error}", self.rule),
                ));
                return;
            }
        }
    }

    pub fn conditions(
        &mut self,
        value: &Value,
        path: &JsonPath,
        site: Site,
        foreach_depth: usize,
    ) -> Option<Conditions> {
        match Conditions::compile(value, site) {
            Ok(conditions) => {
                self.variables(value, path, foreach_depth);
                Some(conditions)
            }
            Err(errors) => {
                for error in errors {
                    self.errors.push(self.located.invalid(
                        &path.join(&error.path),
                        format!("rule {:?}: {}", self.rule, error.message),
                    ));
                }
                None
            }
        }
    }

    /// `context:` entries. Sources Portcullis does not evaluate are refused by name.
    pub fn context(
        &mut self,
        value: &Value,
        path: &JsonPath,
        foreach_depth: usize,
    ) -> Vec<ContextEntry> {
        let Value::Array(entries) = value else {
            if !value.is_null() {
                self.errors.push(
                    self.located
                        .invalid(path, "context must be a list of entries".to_owned()),
                );
            }
            return Vec::new();
        };
        let mut compiled = Vec::new();
        for (index, entry) in entries.iter().enumerate() {
            let entry_path = path.child_index(index);
            if let Some(entry) = self.context_entry(entry, &entry_path, foreach_depth) {
                compiled.push(entry);
            }
        }
        compiled
    }

    fn context_entry(
        &mut self,
        entry: &Value,
        path: &JsonPath,
        foreach_depth: usize,
    ) -> Option<ContextEntry> {
        let Some(map) = entry.as_object() else {
            self.errors.push(
                self.located
                    .invalid(path, "a context entry must be an object".to_owned()),
            );
            return None;
        };
        let name = match map.get("name").and_then(Value::as_str) {
            Some(name) if !name.is_empty() => name.to_owned(),
            _ => {
                self.errors.push(self.located.invalid(
                    &path.child_key("name"),
                    "a context entry needs a name".to_owned(),
                ));
                return None;
            }
        };
        // Kyverno's policy validation knows the names of the rule's entries and of its
        // top-level foreach loops' entries, not those of nested loops.
        if foreach_depth <= 1 {
            if map.contains_key("configMap") {
                for part in ["data", "metadata", "data.*", "metadata.*"] {
                    self.context_names.push(format!("{name}.{part}"));
                }
            } else {
                self.context_names.push(format!("{name}*"));
            }
        }
        if foreach_depth == 0 {
            if let Some(refusal) = rule_context_refusal(&name, map) {
                self.errors.push(self.located.invalid(path, refusal));
                return None;
            }
        }
        for unsupported in ["globalReference"] {
            if map.contains_key(unsupported) {
                self.errors.push(self.located.unsupported(
                    &path.child_key(unsupported),
                    &format!("context {unsupported}"),
                    self.policy,
                    self.rule,
                ));
                return None;
            }
        }
        self.variables(entry, path, foreach_depth);
        let text = |value: Option<&Value>| value.and_then(Value::as_str).map(str::to_owned);
        let source = if let Some(variable) = map.get("variable") {
            let jmes_path = text(variable.get("jmesPath"));
            if let Some(query) = &jmes_path {
                if !query.contains("{{") {
                    self.expression(query, &path.child_key("variable"), foreach_depth, false);
                }
            }
            let value = variable.get("value").cloned();
            let default = variable.get("default").cloned();
            if value.is_none() && jmes_path.is_none() && default.is_none() {
                self.errors.push(self.located.invalid(
                    &path.child_key("variable"),
                    format!(
                        "context entry {name:?}: a variable needs a value, a jmesPath or a default"
                    ),
                ));
                return None;
            }
            ContextSource::Variable {
                value,
                jmes_path,
                default,
            }
        } else if let Some(config_map) = map.get("configMap") {
            ContextSource::ConfigMap {
                name: text(config_map.get("name")).unwrap_or_default(),
                namespace: text(config_map.get("namespace")).unwrap_or_default(),
            }
        } else if let Some(call) = map.get("apiCall") {
            let method = text(call.get("method")).unwrap_or_else(|| "GET".to_owned());
            let service_url = call
                .get("service")
                .and_then(|service| text(service.get("url")));
            if let Some(url) = service_url {
                let jmes_path = text(call.get("jmesPath"));
                if let Some(query) = &jmes_path {
                    if !query.contains("{{") {
                        self.expression(query, &path.child_key("apiCall"), foreach_depth, false);
                    }
                }
                return Some(ContextEntry {
                    name,
                    source: ContextSource::ServiceCall {
                        url,
                        method,
                        jmes_path,
                        default: call.get("default").cloned(),
                    },
                });
            }
            if method != "GET" || call.get("service").is_some() || call.get("data").is_some() {
                self.errors.push(self.located.unsupported(
                    &path.child_key("apiCall"),
                    "context apiCall other than a GET of urlPath",
                    self.policy,
                    self.rule,
                ));
                return None;
            }
            let jmes_path = text(call.get("jmesPath"));
            if let Some(query) = &jmes_path {
                if !query.contains("{{") {
                    self.expression(query, &path.child_key("apiCall"), foreach_depth, false);
                }
            }
            ContextSource::ApiCall {
                url_path: text(call.get("urlPath")).unwrap_or_default(),
                jmes_path,
                default: call.get("default").cloned(),
            }
        } else if let Some(registry) = map.get("imageRegistry") {
            let jmes_path = text(registry.get("jmesPath"));
            if let Some(query) = &jmes_path {
                if !query.contains("{{") {
                    self.expression(
                        query,
                        &path.child_key("imageRegistry"),
                        foreach_depth,
                        false,
                    );
                }
            }
            let Some(reference) = text(registry.get("reference")) else {
                self.errors.push(self.located.invalid(
                    &path.child_key("imageRegistry"),
                    format!("context entry {name:?}: an imageRegistry entry needs a reference"),
                ));
                return None;
            };
            ContextSource::ImageRegistry {
                reference,
                jmes_path,
            }
        } else {
            self.errors.push(self.located.invalid(
                path,
                format!(
                    "context entry {name:?} has no variable, configMap, apiCall or imageRegistry"
                ),
            ));
            return None;
        };
        Some(ContextEntry { name, source })
    }

    /// A pattern: compiled now when it holds no variables, else kept for each review.
    pub fn pattern(
        &mut self,
        value: &Value,
        path: &JsonPath,
        mode: NumberMode,
        foreach_depth: usize,
    ) -> Option<SourcedPattern> {
        if template::needs_substitution(value) {
            self.variables(value, path, foreach_depth);
            return Some(SourcedPattern {
                source: value.clone(),
                compiled: None,
            });
        }
        match Pattern::compile_with(value, mode) {
            Ok(compiled) => Some(SourcedPattern {
                source: value.clone(),
                compiled: Some(compiled),
            }),
            Err(error) => {
                self.errors.push(self.located.invalid(
                    &path.join(&error.path),
                    format!(
                        "invalid pattern at {}: {}",
                        error.path.kyverno(),
                        error.message
                    ),
                ));
                None
            }
        }
    }

    /// The preconditions of a top-level foreach are typed in Kyverno's CRD, whose schema lists
    /// the operators without the old spellings `Equal` and `NotEqual`; a policy using them
    /// there is rejected before any policy validation (nested loops are untyped and take them).
    fn schema_operators(&mut self, value: &Value, path: &JsonPath) {
        for list in ["any", "all"] {
            let items = value.get(list).and_then(Value::as_array);
            for (index, item) in items.into_iter().flatten().enumerate() {
                let Some(operator @ ("Equal" | "NotEqual")) =
                    item.get("operator").and_then(Value::as_str)
                else {
                    continue;
                };
                self.errors.push(self.located.invalid(
                    &path.child_key(list).child_index(index).child_key("operator"),
                    format!(
                        "rule {:?}: operator {operator:?} is not allowed in the preconditions of \
                         a foreach (Kyverno's schema takes only {operator}s there)",
                        self.rule
                    ),
                ));
            }
        }
    }

    /// `validate.foreach`: a list of loops, each with its own check.
    pub fn foreach(&mut self, value: &Value, path: &JsonPath, depth: usize) -> Option<Validation> {
        let Value::Array(loops) = value else {
            self.errors.push(
                self.located
                    .invalid(path, "foreach must be a list".to_owned()),
            );
            return None;
        };
        let mut compiled = Vec::new();
        for (index, each) in loops.iter().enumerate() {
            let each_path = path.child_index(index);
            let Some(map) = each.as_object() else {
                self.errors.push(
                    self.located
                        .invalid(&each_path, "a foreach entry must be an object".to_owned()),
                );
                continue;
            };
            let inner = depth + 1;
            let list = match map.get("list").and_then(Value::as_str) {
                Some(list) if !list.trim().is_empty() => list.to_owned(),
                _ => {
                    self.errors.push(self.located.invalid(
                        &each_path.child_key("list"),
                        "a foreach entry needs a list".to_owned(),
                    ));
                    continue;
                }
            };
            if list.contains("{{") {
                self.variables(&Value::String(list.clone()), &each_path, depth);
            } else {
                self.expression(list.trim(), &each_path.child_key("list"), depth, false);
            }
            let context = map
                .get("context")
                .map(|value| self.context(value, &each_path.child_key("context"), inner))
                .unwrap_or_default();
            if depth == 0 {
                if let Some(value) = map.get("preconditions") {
                    self.schema_operators(value, &each_path.child_key("preconditions"));
                }
            }
            let preconditions = map.get("preconditions").and_then(|value| {
                self.conditions(
                    value,
                    &each_path.child_key("preconditions"),
                    Site::ForeachPreconditions,
                    inner,
                )
            });
            let element_scope = map.get("elementScope").and_then(Value::as_bool);
            let check =
                match (
                    map.get("pattern"),
                    map.get("anyPattern"),
                    map.get("deny"),
                    map.get("foreach"),
                ) {
                    (Some(pattern), None, None, None) => self
                        .pattern(
                            pattern,
                            &each_path.child_key("pattern"),
                            NumberMode::Exact,
                            inner,
                        )
                        .map(Validation::Pattern),
                    (None, Some(Value::Array(patterns)), None, None) => patterns
                        .iter()
                        .enumerate()
                        .map(|(index, pattern)| {
                            self.pattern(
                                pattern,
                                &each_path.child_key("anyPattern").child_index(index),
                                NumberMode::Float,
                                inner,
                            )
                        })
                        .collect::<Option<Vec<_>>>()
                        .map(Validation::AnyPattern),
                    (None, None, Some(deny), None) => self
                        .conditions(
                            deny.get("conditions").unwrap_or(&Value::Null),
                            &each_path.child_key("deny").child_key("conditions"),
                            Site::ForeachDeny,
                            inner,
                        )
                        .map(Validation::Deny),
                    (None, None, None, Some(nested)) => {
                        self.foreach(nested, &each_path.child_key("foreach"), inner)
                    }
                    _ => {
                        self.errors.push(self.located.invalid(
                        &each_path,
                        "a foreach entry needs exactly one of pattern, anyPattern, deny and \
                         foreach"
                            .to_owned(),
                    ));
                        None
                    }
                };
            if let Some(check) = check {
                compiled.push(Foreach {
                    list,
                    element_scope,
                    context,
                    preconditions,
                    check: Box::new(check),
                });
            }
        }
        (compiled.len() == loops.len()).then_some(Validation::Foreach(compiled))
    }
}

/// Kyverno's `validateRuleContext`, which checks the entries written directly under a rule (not
/// those of foreach loops): no entry may be named after one of Kyverno's own variables, and a
/// variable needs a value or a jmesPath, and a jmesPath for a default.
fn rule_context_refusal(name: &str, entry: &serde_json::Map<String, Value>) -> Option<String> {
    const PREDEFINED: [&str; 6] = [
        "images",
        "request",
        "serviceAccountName",
        "serviceAccountNamespace",
        "element",
        "elementIndex",
    ];
    if let Some(predefined) = PREDEFINED
        .iter()
        .find(|predefined| name == **predefined || name.starts_with(&format!("{predefined}.")))
    {
        return Some(format!(
            "entry name {name} is invalid as it conflicts with a pre-defined variable {predefined}"
        ));
    }
    let variable = entry
        .get("variable")
        .filter(|variable| !variable.is_null())?;
    let present = |field: &str| variable.get(field).is_some_and(|value| !value.is_null());
    let has_path = variable
        .get("jmesPath")
        .and_then(Value::as_str)
        .is_some_and(|path| !path.is_empty());
    if !present("value") && !has_path {
        return Some(format!(
            "context entry {name:?}: a variable must define a value or a jmesPath expression"
        ));
    }
    if present("default") && !has_path {
        return Some(format!(
            "context entry {name:?}: a variable must define a default value only when a \
             jmesPath expression is defined"
        ));
    }
    None
}

/// Whether a variable reads the foreach element (`element`, `elementIndex`, `element0`...).
/// Every string of `value` that may hold `{{ }}` variables (values and keys), with its path.
pub(super) fn variables_in<'v>(value: &'v Value, path: &JsonPath) -> Vec<(&'v str, JsonPath)> {
    let mut pending = vec![(value, path.clone())];
    let mut texts: Vec<(&str, JsonPath)> = Vec::new();
    while let Some((value, path)) = pending.pop() {
        match value {
            Value::String(text) => texts.push((text, path)),
            Value::Array(items) => pending.extend(
                items
                    .iter()
                    .enumerate()
                    .map(|(index, item)| (item, path.child_index(index))),
            ),
            Value::Object(map) => {
                for (key, item) in map {
                    let item_path = path.child_key(key);
                    texts.push((key, item_path.clone()));
                    pending.push((item, item_path));
                }
            }
            _ => {}
        }
    }
    texts
}

fn names_element(expression: &str) -> bool {
    let mut rest = expression;
    while let Some(at) = rest.find("element") {
        let before = rest[..at].chars().next_back();
        let boundary = before.is_none_or(|c| !(c.is_alphanumeric() || c == '_' || c == '.'));
        let after = &rest[at + "element".len()..];
        let whole = after
            .chars()
            .next()
            .is_none_or(|c| !(c.is_alphanumeric() || c == '_'))
            || after.starts_with("Index")
            || after.starts_with(|c: char| c.is_ascii_digit());
        if boundary && whole {
            return true;
        }
        rest = &rest[at + "element".len()..];
    }
    false
}
