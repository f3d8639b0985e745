//! `{{ }}` variables and `$(...)` references in policy documents, substituted as Kyverno's
//! `variables.SubstituteAll` does.
//!
//! Every string value and every map key of a document is rewritten, references first:
//!
//! * `$(./../path)` reads another value of the same document, relative to where it is written
//!   (anchors in the document's keys are ignored when matching, and an operator prefix such as
//!   `$(<./../x)` is kept in front of the value). `\$(` escapes.
//! * `{{ expression }}` asks a [`Resolver`]. A string that is exactly one variable becomes the
//!   typed result (a map, a number...); otherwise the result is written into the string, strings
//!   as they are and anything else as Go's `json.Marshal` writes it. The string is then searched
//!   again for variables the results brought in, until none is left. `{{- expression }}` is
//!   shallow: its result is not searched again. `\{{` escapes and reads `{{` afterwards.
//!
//! Kyverno's text handling is kept, including its oddities: matches are found with Kyverno's
//! regular expressions, each result replaces the first occurrence of its variable's text, and a
//! variable's match takes the character before it, so `{{a}}{{b}}` needs two passes.

use super::gopath;
use crate::coerce::gofmt::{jsoniter_marshal, sprint};
use crate::coerce::number::{GoNumber, as_go_number};
use crate::pattern::{operator_prefix, parse_anchor};
use regex::Regex;
use serde_json::{Map, Value};
use std::fmt;
use std::sync::LazyLock;

/// Answers the expression inside `{{ }}`; the JMESPath evaluator over a review's context.
pub trait Resolver {
    /// The value of `expression` (already trimmed and without braces). Numbers should be
    /// float64s, as everything Kyverno's JMESPath returns is.
    fn resolve(&mut self, expression: &str) -> Result<Value, ResolveError>;

    /// Whether the request is a DELETE, on which Kyverno reads `request.object` as
    /// `request.oldObject` in every variable (see [`rewrite_for_delete`]).
    fn is_delete(&self) -> bool {
        false
    }
}

/// Why an expression has no value. The message is what Kyverno's `context.Query` reports
/// (`JMESPath query failed: Unknown key "x" in path`, `incorrect query ...`), which substitution
/// errors then quote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ResolveError {
    /// A field the expression names is missing (Kyverno's `NotFoundError`).
    NotFound(String),
    /// Anything else: syntax, function or context errors.
    Failed(String),
}

impl fmt::Display for ResolveError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ResolveError::NotFound(message) | ResolveError::Failed(message) => f.write_str(message),
        }
    }
}

/// Why a document could not be substituted; `Display` words it as Kyverno does. Callers prefix
/// what Kyverno prefixes at their site (`variable substitution failed: ` for patterns).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TemplateError {
    /// `failed to resolve <variable> at path <path>: <cause>`.
    Variable {
        variable: String,
        path: String,
        cause: ResolveError,
    },
    /// A `$(...)` reference that could not be resolved, with Kyverno's message.
    Reference(String),
    /// A map key whose variables resolved to something other than a string.
    KeyNotString(String),
    /// A shallow `{{- }}` variable inside a longer string resolved to something other than a
    /// string or null, where Kyverno's substitution panics.
    ShallowNotString { variable: String, path: String },
    /// Results kept bringing in new variables, or nested without end.
    Runaway { path: String, reason: String },
}

impl TemplateError {
    /// Whether the cause is a missing field, which some Kyverno sites treat as "skip".
    pub fn is_not_found(&self) -> bool {
        matches!(
            self,
            TemplateError::Variable {
                cause: ResolveError::NotFound(_),
                ..
            }
        )
    }
}

impl fmt::Display for TemplateError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TemplateError::Variable {
                variable,
                path,
                cause,
            } => write!(f, "failed to resolve {variable} at path {path}: {cause}"),
            TemplateError::Reference(message) => f.write_str(message),
            TemplateError::KeyNotString(key) => write!(
                f,
                "expected string after substituting variables in key \"{key}\""
            ),
            TemplateError::ShallowNotString { variable, path } => write!(
                f,
                "failed to resolve {variable} at path {path}: a shallow {{{{- }}}} variable \
                 inside a longer string must resolve to a string"
            ),
            TemplateError::Runaway { path, reason } => {
                write!(f, "variable substitution at path {path} {reason}")
            }
        }
    }
}

impl std::error::Error for TemplateError {}

/// `(^|[^\\])(\{\{(?:\{[^{}]*\}|[^{}])*\}\})`: a variable at the start or after any character
/// but a backslash; single braces may appear inside (JMESPath object literals), double may not.
static VARIABLE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(^|[^\\])(\{\{(?:\{[^{}]*\}|[^{}])*\}\})").expect("constant regex")
});
/// Whether a match starts with the variable itself rather than the character before it.
static VARIABLE_AT_START: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^\{\{(\{[^{}]*\}|[^{}])*\}\}").expect("constant regex"));
static REFERENCE: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^\$\(.[^ ]*\)|[^\\]\$\(.[^ ]*\)").expect("constant regex"));
static ESCAPED_REFERENCE: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"\\\$\(.[^ )]*\)").expect("constant regex"));

/// How many times one string may be searched again, and how long it may grow, before
/// substitution gives up. Kyverno has no limit: a variable whose value brings itself back spins.
const MAX_ROUNDS: usize = 64;
const MAX_LENGTH: usize = 1 << 20;
/// How deep documents, and values substituted into them, may nest.
const MAX_DEPTH: usize = 256;

/// Substitutes references, then variables, in `document` (Kyverno's `SubstituteAll`).
pub fn substitute_all<R: Resolver + ?Sized>(
    document: &Value,
    resolver: &mut R,
) -> Result<Value, TemplateError> {
    if !needs_substitution(document) {
        return Ok(document.clone());
    }
    let referenced = substitute_references(document)?;
    let mut variables = Variables { resolver };
    traverse(&referenced, &mut String::new(), 0, &mut variables)
}

/// Substitutes only the `$(...)` references of `document`.
pub fn substitute_references(document: &Value) -> Result<Value, TemplateError> {
    traverse(
        document,
        &mut String::new(),
        0,
        &mut References { document },
    )
}

/// Whether substitution could change `document`: some string or key holds `{{` or `$(`.
pub fn needs_substitution(document: &Value) -> bool {
    let marked = |text: &str| text.contains("{{") || text.contains("$(");
    let mut pending = vec![document];
    while let Some(value) = pending.pop() {
        match value {
            Value::String(text) if marked(text) => return true,
            Value::Array(items) => pending.extend(items),
            Value::Object(map) => {
                if map.keys().any(|key| marked(key)) {
                    return true;
                }
                pending.extend(map.values());
            }
            _ => {}
        }
    }
    false
}

/// Whether any string or key of `document` holds a `{{ }}` variable, as Kyverno's policy
/// validation finds them (`\{\{[^{}]*\}\}`).
pub fn has_variables(document: &Value) -> bool {
    static ANY_VARIABLE: LazyLock<Regex> =
        LazyLock::new(|| Regex::new(r"\{\{[^{}]*\}\}").expect("constant regex"));
    let mut pending = vec![document];
    while let Some(value) = pending.pop() {
        match value {
            Value::String(text) if ANY_VARIABLE.is_match(text) => return true,
            Value::Array(items) => pending.extend(items),
            Value::Object(map) => {
                if map.keys().any(|key| ANY_VARIABLE.is_match(key)) {
                    return true;
                }
                pending.extend(map.values());
            }
            _ => {}
        }
    }
    false
}

/// `document` with every string value and map key passed through `rewrite`.
pub fn map_strings(document: &Value, rewrite: &dyn Fn(&str) -> String) -> Value {
    match document {
        Value::String(text) => Value::String(rewrite(text)),
        Value::Array(items) => Value::Array(
            items
                .iter()
                .map(|item| map_strings(item, rewrite))
                .collect(),
        ),
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(key, value)| (rewrite(key), map_strings(value, rewrite)))
                .collect(),
        ),
        other => other.clone(),
    }
}

/// The expressions of the variables `text` holds on a first reading, trimmed, without braces
/// and without the shallow marker.
pub fn variables(text: &str) -> Vec<String> {
    VARIABLE
        .find_iter(text)
        .map(|found| variable_name(split_variable(found.as_str()).1).0)
        .collect()
}

/// Kyverno's DELETE rewrite of a variable: every `request.object` reads `request.oldObject`.
pub fn rewrite_for_delete(expression: &str) -> String {
    expression.replace("request.object", "request.oldObject")
}

/// What one traversal does to each string value and each map key.
trait Action {
    fn rewrite(&mut self, text: &str, path: &str) -> Result<Value, TemplateError>;
}

/// Kyverno's `jsonutils.Traversal` with an action for leaves and keys: the action runs first,
/// and if it produced a map or list, that is traversed too. Paths are written as Kyverno writes
/// them (`/spec/containers/0/name`, `/` inside a key escaped as `\/`).
fn traverse(
    element: &Value,
    path: &mut String,
    depth: usize,
    action: &mut impl Action,
) -> Result<Value, TemplateError> {
    if depth > MAX_DEPTH {
        return Err(TemplateError::Runaway {
            path: path.clone(),
            reason: format!("nests deeper than {MAX_DEPTH} levels"),
        });
    }
    let rewritten;
    let element = match element {
        Value::String(text) => {
            rewritten = action.rewrite(text, path)?;
            &rewritten
        }
        other => other,
    };
    match element {
        Value::Array(items) => {
            let mut out = Vec::with_capacity(items.len());
            for (index, item) in items.iter().enumerate() {
                let length = path.len();
                path.push('/');
                path.push_str(&index.to_string());
                out.push(traverse(item, path, depth + 1, action)?);
                path.truncate(length);
            }
            Ok(Value::Array(out))
        }
        Value::Object(map) => {
            let mut out = Map::new();
            for (key, item) in map {
                // Keys are rewritten with the path of the map holding them.
                let new_key = match traverse(&Value::String(key.clone()), path, depth + 1, action)?
                {
                    Value::String(new_key) => new_key,
                    Value::Null => key.clone(),
                    _ => return Err(TemplateError::KeyNotString(key.clone())),
                };
                let length = path.len();
                path.push('/');
                path.push_str(&key.replace('/', "\\/"));
                let value = traverse(item, path, depth + 1, action)?;
                path.truncate(length);
                // Kyverno renames keys inside a map it is still iterating, so which entry wins a
                // collision depends on Go's map order; here the later key in sorted order does.
                out.insert(new_key, value);
            }
            Ok(Value::Object(out))
        }
        other => Ok(other.clone()),
    }
}

/// Splits a match of [`VARIABLE`] or [`REFERENCE`] into the character taken before the
/// variable (none when the match starts with it) and the variable itself.
fn split_prefix(found: &str, at_start: bool) -> (&str, &str) {
    if at_start {
        return ("", found);
    }
    let width = found.chars().next().map_or(0, char::len_utf8);
    found.split_at(width)
}

fn split_variable(found: &str) -> (&str, &str) {
    split_prefix(found, VARIABLE_AT_START.is_match(found))
}

/// Kyverno's `replaceBracesAndTrimSpaces`: the expression, and whether it is shallow (`{{- }}`).
fn variable_name(variable: &str) -> (String, bool) {
    let stripped = variable.replace("{{", "").replace("}}", "");
    let trimmed = stripped.trim();
    match trimmed.strip_prefix('-') {
        Some(shallow) => (shallow.trim().to_owned(), true),
        None => (trimmed.to_owned(), false),
    }
}

struct Variables<'a, R: ?Sized> {
    resolver: &'a mut R,
}

impl<R: Resolver + ?Sized> Action for Variables<'_, R> {
    fn rewrite(&mut self, text: &str, path: &str) -> Result<Value, TemplateError> {
        if !text.contains("{{") {
            return Ok(Value::String(text.to_owned()));
        }
        let mut value = text.to_owned();
        let mut found: Vec<String> = matches(&VARIABLE, &value);
        let mut rounds = 0;
        while !found.is_empty() {
            rounds += 1;
            if rounds > MAX_ROUNDS || value.len() > MAX_LENGTH {
                return Err(TemplateError::Runaway {
                    path: path.to_owned(),
                    reason: format!(
                        "did not finish: after {} rounds its values still bring in new \
                         variables",
                        rounds - 1
                    ),
                });
            }
            let original = value.clone();
            let mut shallow = false;
            for whole in &found {
                let (prefix, variable) = split_variable(whole);
                let (mut expression, is_shallow) = variable_name(variable);
                shallow = is_shallow;
                if prefix.len() > 1 {
                    // Kyverno cuts the match one byte in, so a non-ASCII character before
                    // `{{` leaves the rest of its bytes at the front of the expression.
                    return Err(TemplateError::Variable {
                        variable: expression,
                        path: path.to_owned(),
                        cause: ResolveError::Failed(format!(
                            "the character {prefix:?} before `{{{{` is not ASCII, which Kyverno \
                             cannot read in front of a variable"
                        )),
                    });
                }
                if expression == "@" {
                    expression = self.at(path);
                }
                if self.resolver.is_delete() {
                    expression = rewrite_for_delete(&expression);
                }
                let resolved = self.resolver.resolve(&expression).map_err(|cause| {
                    TemplateError::Variable {
                        variable: expression.clone(),
                        path: path.to_owned(),
                        cause,
                    }
                })?;
                if original == variable {
                    return Ok(resolved);
                }
                let replacement = match resolved {
                    Value::String(text) if shallow => text.replace("{{", "\\{{"),
                    Value::String(text) => text,
                    Value::Null => "null".to_owned(),
                    _ if shallow => {
                        return Err(TemplateError::ShallowNotString {
                            variable: expression,
                            path: path.to_owned(),
                        });
                    }
                    other => jsoniter_marshal(&other),
                };
                value = value.replacen(
                    &format!("{prefix}{variable}"),
                    &format!("{prefix}{replacement}"),
                    1,
                );
            }
            found = if shallow {
                Vec::new()
            } else {
                matches(&VARIABLE, &value)
            };
        }
        Ok(Value::String(value.replace("\\{{", "{{")))
    }
}

impl<R: Resolver + ?Sized> Variables<'_, R> {
    /// `{{@}}`: the JMESPath of the value being substituted, below `target` when the context
    /// has one and `request.object` otherwise. Kyverno drops the path's first two segments
    /// (those of `validate.pattern` in the rule it was designed for) and anything up to
    /// `foreach`.
    fn at(&mut self, path: &str) -> String {
        let mut segments = parse_path(path);
        if let Some(at) = segments.iter().position(|segment| segment == "foreach") {
            segments.drain(..=at);
        }
        let segments = if segments.len() <= 2 {
            Vec::new()
        } else {
            segments.split_off(2)
        };
        let prefix: &[&str] = if self.resolver.resolve("target").is_ok() {
            &["target"]
        } else {
            &["request", "object"]
        };
        jmespath_of(prefix.iter().map(|s| (*s).to_owned()).chain(segments))
    }
}

fn matches(regex: &Regex, text: &str) -> Vec<String> {
    regex
        .find_iter(text)
        .map(|found| found.as_str().to_owned())
        .collect()
}

/// Kyverno's `jsonpointer.ParsePath`: `/` separates, `\` escapes the next character, `"`
/// quotes (and is dropped), empty segments are skipped.
fn parse_path(path: &str) -> Vec<String> {
    let mut segments = Vec::new();
    let mut current = String::new();
    let (mut escaped, mut quoted) = (false, false);
    for c in path.chars() {
        if escaped {
            current.push(c);
            escaped = false;
        } else if c == '\\' {
            escaped = true;
        } else if c == '"' {
            quoted = !quoted;
        } else if c == '/' && !quoted {
            if !current.is_empty() {
                segments.push(std::mem::take(&mut current));
            }
        } else if c == '\u{fffd}' {
            // Go's decoder reports U+FFFD as the end of the string.
            break;
        } else {
            current.push(c);
        }
    }
    if escaped {
        // Go decodes the end of the string as U+FFFD and writes it after a dangling `\`.
        current.push('\u{fffd}');
    }
    if !current.is_empty() {
        segments.push(current);
    }
    segments
}

/// Kyverno's `Pointer.JMESPath`: indices as `[n]`, plain names bare, others quoted.
fn jmespath_of(segments: impl Iterator<Item = String>) -> String {
    let mut out = String::new();
    for segment in segments {
        if segment.bytes().all(|b| b.is_ascii_digit()) && segment.parse::<u64>().is_ok() {
            out.push('[');
            out.push_str(&segment);
            out.push(']');
            continue;
        }
        if !out.is_empty() {
            out.push('.');
        }
        let bare = segment
            .chars()
            .next()
            .is_some_and(|c| c == '(' || c == '_' || c.is_ascii_alphabetic())
            && segment
                .chars()
                .all(|c| c == ')' || c == '_' || c.is_ascii_alphanumeric());
        if bare {
            out.push_str(&segment);
            continue;
        }
        out.push('"');
        for c in segment.chars() {
            match c {
                '"' => out.push_str("\\\""),
                '\\' => out.push_str("\\\\"),
                '\u{8}' => out.push_str("\\b"),
                '\u{c}' => out.push_str("\\f"),
                '\n' => out.push_str("\\n"),
                '\r' => out.push_str("\\r"),
                '\t' => out.push_str("\\t"),
                c if u32::from(c) < 0x20 => out.push_str(&format!("\\u{:04x}", u32::from(c))),
                c => out.push(c),
            }
        }
        out.push('"');
    }
    out
}

struct References<'a> {
    document: &'a Value,
}

impl Action for References<'_> {
    fn rewrite(&mut self, text: &str, path: &str) -> Result<Value, TemplateError> {
        if !text.contains("$(") {
            return Ok(Value::String(text.to_owned()));
        }
        let mut value = text.to_owned();
        for whole in matches(&REFERENCE, text) {
            let (prefix, reference) = split_prefix(&whole, whole.starts_with("$("));
            let resolved = if prefix.len() > 1 {
                // Kyverno cuts the match one byte in; the rest of the character then spoils
                // the path, which finds nothing.
                None
            } else {
                self.resolve(reference, path)?
            };
            match resolved {
                None => {
                    return Err(TemplateError::Reference(format!(
                        "got nil resolved variable {reference} at path {path}: <nil>"
                    )));
                }
                Some(Value::String(resolved)) => {
                    value = value.replacen(&whole, &format!("{prefix}{resolved}"), 1);
                }
                Some(_) => {
                    return Err(TemplateError::Reference(format!(
                        "NotResolvedReferenceErr,reference {reference} not resolved at path {path}"
                    )));
                }
            }
        }
        for escaped in matches(&ESCAPED_REFERENCE, &value) {
            value = value.replace(&escaped, &escaped[1..]);
        }
        Ok(Value::String(value))
    }
}

impl References<'_> {
    /// Kyverno's `resolveReference`: `None` where it finds nothing (or a null).
    fn resolve(&self, reference: &str, path: &str) -> Result<Option<Value>, TemplateError> {
        let failed = |message: String| {
            TemplateError::Reference(format!(
                "failed to resolve {reference} at path {path}: {message}"
            ))
        };
        let target = reference.trim_matches(['$', '(', ')']);
        let operator = operator_prefix(target);
        let target = &target[operator.len()..];
        if target.is_empty() {
            return Err(failed("expected path, found empty reference".to_owned()));
        }
        let absolute = if target.starts_with('/') {
            target.to_owned()
        } else {
            gopath::join(&[path, target])
        };
        let found = value_at(self.document, &absolute);
        if operator.is_empty() {
            return Ok(found);
        }
        let text = match &found {
            Some(Value::String(text)) => text.clone(),
            Some(Value::Number(number)) => match as_go_number(number) {
                GoNumber::Int(i) => i.to_string(),
                GoNumber::Float(f) => format!("{f:.6}"),
            },
            other => {
                return Err(failed(format!(
                    "incorrect expression: operator {operator} does not match with value {}",
                    other.as_ref().map_or_else(|| "<nil>".to_owned(), sprint)
                )));
            }
        };
        Ok(Some(Value::String(format!("{operator}{text}"))))
    }
}

/// Kyverno's `getValueFromReference`: the last leaf whose path, anchors removed, is `target`;
/// a map's path also names its keys (the last key there wins).
fn value_at(document: &Value, target: &str) -> Option<Value> {
    fn visit(
        value: &Value,
        path: &mut String,
        depth: usize,
        target: &str,
        found: &mut Option<Value>,
    ) {
        if depth > MAX_DEPTH {
            return;
        }
        match value {
            Value::Array(items) => {
                for (index, item) in items.iter().enumerate() {
                    let length = path.len();
                    path.push('/');
                    path.push_str(&index.to_string());
                    visit(item, path, depth + 1, target, found);
                    path.truncate(length);
                }
            }
            Value::Object(map) => {
                let names_keys = without_anchors(path) == target;
                for (key, item) in map {
                    if names_keys {
                        *found = Some(Value::String(key.clone()));
                    }
                    let length = path.len();
                    path.push('/');
                    path.push_str(&key.replace('/', "\\/"));
                    visit(item, path, depth + 1, target, found);
                    path.truncate(length);
                }
            }
            leaf => {
                if without_anchors(path) == target {
                    *found = Some(leaf.clone());
                }
            }
        }
    }
    let mut found = None;
    visit(document, &mut String::new(), 0, target, &mut found);
    found.filter(|value| !value.is_null())
}

/// Kyverno's `anchor.RemoveAnchorsFromPath`.
fn without_anchors(path: &str) -> String {
    let mut parts: Vec<&str> = path.split('/').collect();
    if parts.first() == Some(&"") {
        parts.remove(0);
    }
    let parts: Vec<&str> = parts
        .into_iter()
        .map(|part| parse_anchor(part).map_or(part, |(_, key)| key))
        .collect();
    let joined = gopath::join(&parts);
    if path.starts_with('/') {
        format!("/{joined}")
    } else {
        joined
    }
}

#[cfg(test)]
mod tests;
