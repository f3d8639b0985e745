//! What `{{ }}` variables read while one review is judged.
//!
//! Kyverno keeps one JSON document per request: `request` (the admission request, with the
//! requester's `roles` and `clusterRoles`), `serviceAccountName`, `serviceAccountNamespace` and
//! `images`; a rule's context entries and a foreach's `element` are added to it and taken away
//! again. Here the review's part is built once, on the first rule that reads a variable, and
//! shared by every rule; what a rule adds lives in [`Scope`] layers laid over it, so no rule
//! copies the review.

use super::Request;
use crate::expr::template::{ResolveError, Resolver};
use crate::jmespath::{self, Compiled, EvalError};
use crate::matching::Operation;
use serde_json::{Map, Value, json};
use std::cell::OnceCell;
use std::collections::HashMap;
use std::fmt;

/// A kind of lookup a context entry makes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lookup {
    ConfigMap,
    ApiCall,
    ImageRegistry,
}

/// Why a lookup gave no value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LookupError {
    /// Nothing here can answer it. The Kyverno CLI then leaves the context entry unloaded: a
    /// value fixed for the name stands, and a rule that reads the name without one fails on
    /// the unknown variable.
    NoSource(String),
    /// The lookup was made and failed; the entry's rule answers `error`.
    Failed(String),
}

impl fmt::Display for LookupError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LookupError::NoSource(why) | LookupError::Failed(why) => f.write_str(why),
        }
    }
}

/// What evaluation may look up beyond the review: the clock and other inputs of JMESPath
/// functions, ConfigMaps and API calls for context entries, and values fixed for variables.
/// `check` and `test` answer from files and mocks, `serve --kube` from its caches. Lookups are
/// synchronous and must not wait on the network for longer than the review may take.
pub trait Environment: Send + Sync {
    /// The clock, randomness and name resolution that JMESPath functions read.
    fn jmespath(&self) -> &jmespath::Environment;

    /// Why nothing here answers lookups of this kind, or `None` when something may. When
    /// nothing does, the Kyverno CLI leaves such entries unloaded without reading them, so that
    /// even an entry whose names cannot be substituted is no error; [`LookupError::NoSource`]
    /// is the same answer for one lookup.
    fn missing_source(&self, lookup: Lookup) -> Option<String> {
        let _ = lookup;
        None
    }

    /// The ConfigMap as Kyverno's `configMap` context entry gives it: `{data, metadata}`.
    fn config_map(&self, namespace: &str, name: &str) -> Result<Value, LookupError> {
        let _ = (namespace, name);
        Err(LookupError::Failed(
            "no ConfigMaps are known here: a configMap context entry needs the cluster \
             (`serve --kube`) or the ConfigMap as an input"
                .to_owned(),
        ))
    }

    /// The decoded JSON answer to a GET of `url_path` on the API server.
    fn api_get(&self, url_path: &str) -> Result<Value, LookupError> {
        let _ = url_path;
        Err(LookupError::Failed(
            "no API server is reachable here: an apiCall context entry needs the cluster \
             (`serve --kube`) or a mocked response"
                .to_owned(),
        ))
    }

    /// What the registry tells of an image, as Kyverno's `imageRegistry` context entry gives it
    /// (`image`, `resolvedImage`, `registry`, `repository`, `identifier`, `manifest`,
    /// `configData`).
    fn image_data(&self, reference: &str) -> Result<Value, LookupError> {
        let _ = reference;
        Err(LookupError::Failed(
            "Portcullis does not reach image registries: an imageRegistry context entry \
             cannot be loaded"
                .to_owned(),
        ))
    }

    /// Values fixed for variables of every rule of `policy` when it judges the resource named
    /// `resource` (the Kyverno CLI's `globalValues`, then the policy's values for that
    /// resource), in the order they are added. Kyverno adds them to the policy's context
    /// before any rule runs, so the rule's context entries replace them.
    fn request_values(&self, policy: &str, resource: &str) -> Vec<(&str, &Value)> {
        let _ = (policy, resource);
        Vec::new()
    }

    /// Values fixed for variables of one rule (the Kyverno CLI's rule `values` and the first
    /// of its `foreachValues`), added each time the rule or one of its foreach elements loads
    /// its context, before the context entries, which replace them.
    fn rule_values(&self, policy: &str, rule: &str) -> Vec<(&str, &Value)> {
        let _ = (policy, rule);
        Vec::new()
    }
}

/// An environment with no cluster and no mocks: the system clock, and every lookup an error
/// that names what it needed.
#[derive(Debug, Default)]
pub struct Offline {
    pub jmespath: jmespath::Environment,
}

impl Offline {
    /// One shared offline environment on the system clock, for callers with nothing to set.
    pub fn system() -> &'static Offline {
        static SYSTEM: std::sync::OnceLock<Offline> = std::sync::OnceLock::new();
        SYSTEM.get_or_init(Offline::default)
    }
}

impl Environment for Offline {
    fn jmespath(&self) -> &jmespath::Environment {
        &self.jmespath
    }
}

impl fmt::Debug for dyn Environment + '_ {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Environment")
    }
}

/// The review's variables, built on first use.
pub struct ReviewVariables<'r> {
    request: Request<'r>,
    document: OnceCell<Value>,
}

impl<'r> ReviewVariables<'r> {
    pub fn new(request: Request<'r>) -> Self {
        Self {
            request,
            document: OnceCell::new(),
        }
    }

    pub fn request(&self) -> &Request<'r> {
        &self.request
    }

    /// `{request, serviceAccountName, serviceAccountNamespace, images}`.
    pub fn document(&self) -> &Value {
        self.document.get_or_init(|| review_document(&self.request))
    }
}

/// Kyverno's context for one request: the admission request as the apiserver sent it when the
/// caller has it, else what an offline run knows of it (as the Kyverno CLI builds it).
fn review_document(request: &Request<'_>) -> Value {
    let mut review = match request.admission_request {
        Some(Value::Object(sent)) => sent.clone(),
        _ => offline_request(request),
    };
    let (username, groups, roles, cluster_roles) = match request.user {
        Some(user) => (
            user.username.as_str(),
            user.groups.clone(),
            user.roles.clone(),
            user.cluster_roles.clone(),
        ),
        None => ("", Vec::new(), Vec::new(), Vec::new()),
    };
    review.insert("roles".to_owned(), json!(roles));
    review.insert("clusterRoles".to_owned(), json!(cluster_roles));
    let user_info = review
        .entry("userInfo")
        .or_insert_with(|| Value::Object(Map::new()));
    if let Value::Object(user_info) = user_info {
        if !username.is_empty() {
            user_info.insert("username".to_owned(), json!(username));
        }
        if !groups.is_empty() {
            user_info.insert("groups".to_owned(), json!(groups));
        }
    }
    let (account_namespace, account_name) = service_account(username);
    let mut document = Map::new();
    document.insert("request".to_owned(), Value::Object(review));
    document.insert("serviceAccountName".to_owned(), json!(account_name));
    document.insert(
        "serviceAccountNamespace".to_owned(),
        json!(account_namespace),
    );
    let judged = if request.operation == Operation::Delete {
        request.old_object
    } else {
        request.object
    };
    if let Some(images) = crate::image::images_of(judged) {
        document.insert("images".to_owned(), images);
    }
    Value::Object(document)
}

fn offline_request(request: &Request<'_>) -> Map<String, Value> {
    let mut review = Map::new();
    review.insert("operation".to_owned(), json!(request.operation.to_string()));
    // The Kyverno CLI takes the namespace from the object it creates the context with, which
    // for a DELETE is empty.
    let namespace = if request.operation == Operation::Delete {
        ""
    } else {
        request.namespace
    };
    review.insert("namespace".to_owned(), json!(namespace));
    if !request.object.is_null() {
        review.insert("object".to_owned(), request.object.clone());
    }
    if !request.old_object.is_null() {
        review.insert("oldObject".to_owned(), request.old_object.clone());
    }
    review
}

/// Kyverno's `AddServiceAccount`: `system:serviceaccount:<namespace>:<name>`, else empty.
fn service_account(username: &str) -> (&str, &str) {
    let Some(account) = username.strip_prefix("system:serviceaccount:") else {
        return ("", "");
    };
    let mut parts = account.split(':');
    match (parts.next(), parts.next()) {
        (Some(namespace), Some(name)) => (namespace, name),
        _ => ("", ""),
    }
}

/// The expressions a rule's variables hold, compiled at load; a variable that only appears
/// once substitution has run is compiled when it is met.
#[derive(Debug, Clone, Default)]
pub struct Expressions {
    compiled: HashMap<String, Compiled>,
}

impl Expressions {
    /// Compiles `expression` once; the error names the expression.
    pub fn add(&mut self, expression: &str) -> Result<(), jmespath::CompileError> {
        if !self.compiled.contains_key(expression) {
            let compiled = Compiled::new(expression)?;
            self.compiled.insert(expression.to_owned(), compiled);
        }
        Ok(())
    }

    /// The expressions with their text passed through `rewrite`, compiled again.
    pub fn map_text(
        &self,
        rewrite: &dyn Fn(&str) -> String,
    ) -> Result<Self, jmespath::CompileError> {
        let mut rewritten = Self::default();
        for expression in self.compiled.keys() {
            rewritten.add(&rewrite(expression))?;
        }
        Ok(rewritten)
    }

    fn get(&self, expression: &str) -> Option<&Compiled> {
        self.compiled.get(expression)
    }
}

/// One rule's view of the variables: the review's document with the rule's layers over it.
pub struct Scope<'s> {
    review: &'s Value,
    layers: Vec<Map<String, Value>>,
    expressions: &'s Expressions,
    environment: &'s dyn Environment,
    delete: bool,
    /// Context entries left unloaded for want of a source, with the layer they belong to and
    /// why, so that reading one names the entry.
    unloaded: Vec<(usize, String, String)>,
}

impl<'s> Scope<'s> {
    pub fn new(
        variables: &'s ReviewVariables<'_>,
        expressions: &'s Expressions,
        environment: &'s dyn Environment,
    ) -> Self {
        Self {
            review: variables.document(),
            layers: Vec::new(),
            expressions,
            environment,
            delete: variables.request().operation == Operation::Delete,
            unloaded: Vec::new(),
        }
    }

    /// Sets `name` for what follows, over anything the review or an earlier layer gives it.
    /// A dotted name (`a.b`) sets a nested value, as Kyverno's `AddVariable` does.
    pub fn set(&mut self, name: &str, value: Value) {
        let mut keys = name.split('.');
        let first = keys.next().unwrap_or(name).to_owned();
        let rest: Vec<&str> = keys.collect();
        let value = rest
            .iter()
            .rev()
            .fold(value, |inner, key| json!({ (*key): inner }));
        self.put(first, value);
    }

    /// Adds `value` under `name` as Kyverno's `AddVariable` does for values the caller fixes:
    /// the name is split at dots (a double-quoted part keeps its dots), and a map is merged
    /// key by key into the map already there, so `request.object.metadata.name` changes one
    /// field of the request.
    pub fn merge(&mut self, name: &str, value: Value) -> Result<(), String> {
        let keys = variable_path(name)?;
        self.merge_at(&keys, value);
        Ok(())
    }

    /// Adds what a configMap or apiCall context entry loaded, as Kyverno's `AddContextEntry`
    /// does: under the entry's name as it is, merged into a map already there.
    pub fn merge_entry(&mut self, name: &str, value: Value) {
        self.merge_at(&[name.to_owned()], value);
    }

    fn merge_at(&mut self, keys: &[String], value: Value) {
        let Some((first, rest)) = keys.split_first() else {
            return;
        };
        let value = rest
            .iter()
            .rev()
            .fold(value, |inner, key| json!({ (key.as_str()): inner }));
        let merged = match (self.visible(first), value) {
            (Some(Value::Object(present)), Value::Object(added)) => {
                let mut present = present.clone();
                merge_maps(added, &mut present);
                Value::Object(present)
            }
            (_, value) => value,
        };
        self.put(first.clone(), merged);
    }

    /// Records that the context entry `name` was not loaded, and why.
    pub fn leave_unloaded(&mut self, name: &str, why: String) {
        self.unloaded
            .push((self.layers.len(), name.to_owned(), why));
    }

    fn put(&mut self, first: String, value: Value) {
        self.unloaded.retain(|(_, name, _)| *name != first);
        match self.layers.last_mut() {
            Some(layer) => {
                layer.insert(first, value);
            }
            None => self.layers.push(Map::from_iter([(first, value)])),
        }
    }

    /// What `name` holds at the top level now: the nearest layer's, else the review's.
    fn visible(&self, name: &str) -> Option<&Value> {
        self.layers
            .iter()
            .rev()
            .find_map(|layer| layer.get(name))
            .or_else(|| self.review.get(name))
    }

    /// Opens a layer that [`Scope::pop`] removes again (a foreach element's variables).
    pub fn push(&mut self) {
        self.layers.push(Map::new());
    }

    pub fn pop(&mut self) {
        self.layers.pop();
        let depth = self.layers.len();
        self.unloaded.retain(|(layer, _, _)| *layer <= depth);
    }

    pub fn environment(&self) -> &'s dyn Environment {
        self.environment
    }

    /// Evaluates a JMESPath expression over the variables (not a `{{ }}` template).
    pub fn query(&self, expression: &str) -> Result<Value, ResolveError> {
        let owned;
        let compiled = match self.expressions.get(expression) {
            Some(compiled) => compiled,
            None => {
                owned = Compiled::new(expression).map_err(|error| {
                    ResolveError::Failed(format!("incorrect query {expression}: {error}"))
                })?;
                &owned
            }
        };
        let layers: Vec<&Map<String, Value>> = self.layers.iter().collect();
        compiled
            .search_layered(self.review, &layers, self.environment.jmespath())
            .map_err(|error| {
                let unloaded = self
                    .unloaded
                    .iter()
                    .find(|(_, name, _)| mentions(expression, name))
                    .map(|(_, name, why)| format!(" (context entry {name} was not loaded: {why})"))
                    .unwrap_or_default();
                let message = format!("JMESPath query failed: {error}{unloaded}");
                match error {
                    EvalError::NotFound(_) => ResolveError::NotFound(message),
                    EvalError::Failed(_) => ResolveError::Failed(message),
                }
            })
    }
}

impl Resolver for Scope<'_> {
    fn resolve(&mut self, expression: &str) -> Result<Value, ResolveError> {
        self.query(expression)
    }

    fn is_delete(&self) -> bool {
        self.delete
    }
}

/// The keys of a variable name as Kyverno's `AddVariable` reads it: a CSV record with `.` for
/// the comma, so `a."b.c".d` is `a`, `b.c`, `d`, and a quote inside a quoted part is doubled.
pub fn variable_path(name: &str) -> Result<Vec<String>, String> {
    let invalid = |why: &str| Err(format!("invalid variable name {name:?}: {why}"));
    if name.is_empty() {
        return invalid("it is empty");
    }
    let mut keys = Vec::new();
    let mut chars = name.chars().peekable();
    loop {
        let mut key = String::new();
        if chars.peek() == Some(&'"') {
            chars.next();
            loop {
                match chars.next() {
                    Some('"') if chars.peek() == Some(&'"') => {
                        chars.next();
                        key.push('"');
                    }
                    Some('"') => break,
                    Some(c) => key.push(c),
                    None => return invalid("a quoted part is not closed"),
                }
            }
            match chars.next() {
                None => {
                    keys.push(key);
                    return Ok(keys);
                }
                Some('.') => keys.push(key),
                Some(_) => return invalid("text follows a quoted part"),
            }
        } else {
            loop {
                match chars.next() {
                    Some('.') => break,
                    Some('"') => return invalid("a quote inside an unquoted part"),
                    Some(c) => key.push(c),
                    None => {
                        keys.push(key);
                        return Ok(keys);
                    }
                }
            }
            keys.push(key);
        }
    }
}

/// Adds `value` under `name` to a plain document as [`Scope::merge`] adds it to a scope: what a
/// caller needs to see the request as Kyverno's context holds it once values are added.
pub fn merge_variable(
    document: &mut Map<String, Value>,
    name: &str,
    value: Value,
) -> Result<(), String> {
    let keys = variable_path(name)?;
    let nested = keys
        .iter()
        .rev()
        .fold(value, |inner, key| json!({ (key.as_str()): inner }));
    if let Value::Object(added) = nested {
        merge_maps(added, document);
    }
    Ok(())
}

/// Whether `expression` reads the variable `name`, by the test Kyverno uses to load a context
/// entry when a query needs it: the name, not after a dot or a word character, and not followed
/// by a word character.
fn mentions(expression: &str, name: &str) -> bool {
    let word = |c: char| c.is_ascii_alphanumeric() || c == '_';
    expression.match_indices(name).any(|(at, _)| {
        let before = expression[..at].chars().next_back();
        let after = expression[at + name.len()..].chars().next();
        before.is_none_or(|c| c != '.' && !c.is_ascii_alphanumeric())
            && after.is_none_or(|c| !word(c))
    })
}

/// Kyverno's `mergeMaps`: maps merge key by key, anything else replaces what was there.
fn merge_maps(added: Map<String, Value>, present: &mut Map<String, Value>) {
    for (key, value) in added {
        match (value, present.get_mut(&key)) {
            (Value::Object(inner), Some(Value::Object(below))) => merge_maps(inner, below),
            (value, _) => {
                present.insert(key, value);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::variable_path;

    #[test]
    fn an_expression_mentions_a_variable_by_its_whole_name() {
        use super::mentions;
        assert!(mentions("settings.data.allowed", "settings"));
        assert!(mentions("parse_json(settings.data)", "settings"));
        assert!(mentions("length(@) > `1` && settings", "settings"));
        assert!(!mentions("request.object.settings", "settings"));
        assert!(!mentions("mysettings.data", "settings"));
        assert!(!mentions("settings_v2.data", "settings"));
        assert!(mentions("_settings", "settings"));
    }

    #[test]
    fn variable_names_split_like_a_csv_record_on_dots() {
        let path = |name: &str| variable_path(name);
        assert_eq!(path("a.b.c"), Ok(vec!["a".into(), "b".into(), "c".into()]));
        assert_eq!(
            path(r#"request.object.metadata.annotations."hpedevops.net/platform""#),
            Ok([
                "request",
                "object",
                "metadata",
                "annotations",
                "hpedevops.net/platform"
            ]
            .map(String::from)
            .to_vec())
        );
        assert_eq!(path(r#""a""b".c"#), Ok(vec![r#"a"b"#.into(), "c".into()]));
        assert_eq!(path("a..b"), Ok(vec!["a".into(), "".into(), "b".into()]));
        assert!(path("").is_err());
        assert!(path(r#"a"b"#).is_err());
        assert!(path(r#""a"b"#).is_err());
        assert!(path(r#""ab"#).is_err());
    }
}
