//! What `{{ }}` variables read while one review is judged.
//!
//! Kyverno keeps one JSON document per request: `request` (the admission request, with the
//! requester's `roles` and `clusterRoles`), `serviceAccountName`, `serviceAccountNamespace` and
//! `images`; a rule's context entries and a foreach's `element` are added to it and taken away
//! again. Here the review's part is built once, on the first rule that reads a variable, and
//! shared by every rule; what a rule adds lives in [`Scope`] layers laid over it, so no rule
//! copies the review.

use super::Request;
use crate::expr::template::{ResolveError, Resolver, TemplateError};
use crate::jmespath::{self, Compiled, EvalError, Overlay};
use crate::matching::Operation;
use serde_json::{Map, Value, json};
use std::borrow::Cow;
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

    /// The decoded JSON answer of a service outside the cluster (`apiCall.service`).
    fn service_call(&self, method: &str, url: &str) -> Result<Value, LookupError> {
        Err(LookupError::Failed(format!(
            "no service is called here: {method} {url} needs a mocked response (a test's \
             apiCallResponses)"
        )))
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

/// The review's variables, each part built on first use and read in place: Kyverno's one
/// document is here an empty root with the review's parts laid over it (see [`Overlay`]).
pub struct ReviewVariables<'r> {
    request: Request<'r>,
    root: Value,
    /// `request` when the caller has no admission request: what an offline run knows.
    offline_request: OnceCell<Value>,
    roles: OnceCell<[Option<Value>; 2]>,
    user_info: OnceCell<Value>,
    service_account: OnceCell<Option<[Value; 2]>>,
    images: OnceCell<Result<Option<Value>, String>>,
}

impl<'r> ReviewVariables<'r> {
    pub fn new(request: Request<'r>) -> Self {
        Self {
            request,
            root: Value::Object(Map::new()),
            offline_request: OnceCell::new(),
            roles: OnceCell::new(),
            user_info: OnceCell::new(),
            service_account: OnceCell::new(),
            images: OnceCell::new(),
        }
    }

    pub fn request(&self) -> &Request<'r> {
        &self.request
    }

    fn request_node(&self) -> &Value {
        match self.request.admission_request {
            Some(sent) => sent,
            None => self
                .offline_request
                .get_or_init(|| offline_request(&self.request)),
        }
    }

    /// `request.roles` and `request.clusterRoles`: Kyverno leaves them out when empty.
    fn roles(&self) -> &[Option<Value>; 2] {
        self.roles.get_or_init(|| {
            let list = |names: &[String]| (!names.is_empty()).then(|| json!(names));
            match self.request.user {
                Some(user) => [list(&user.roles), list(&user.cluster_roles)],
                None => [None, None],
            }
        })
    }

    /// Kyverno's `AddServiceAccount`: set at admission, and offline only for a known user.
    fn service_account(&self) -> Option<&[Value; 2]> {
        self.service_account
            .get_or_init(|| {
                let username = match (self.request.user, self.request.admission_request) {
                    (Some(user), _) => user.username.as_str(),
                    (None, Some(_)) => "",
                    (None, None) => return None,
                };
                let (namespace, name) = service_account(username);
                Some([json!(name), json!(namespace)])
            })
            .as_ref()
    }

    /// `images`, from the new object: none on a DELETE, which has none (Kyverno's CLI and
    /// webhook both read the new resource). An error when the object's containers cannot be
    /// read, which Kyverno reports to the queries that name `images`.
    fn images_or_error(&self) -> &Result<Option<Value>, String> {
        self.images
            .get_or_init(|| crate::image::images_of(self.request.object))
    }

    fn images(&self) -> Option<&Value> {
        self.images_or_error().as_ref().ok()?.as_ref()
    }
}

impl Overlay for ReviewVariables<'_> {
    /// The review's own parts: on the root and on `request`.
    fn field(&self, value: &Value, key: &str) -> Option<&Value> {
        if std::ptr::eq(value, &self.root) {
            return match key {
                "request" => Some(self.request_node()),
                "serviceAccountName" => self.service_account().map(|account| &account[0]),
                "serviceAccountNamespace" => self.service_account().map(|account| &account[1]),
                "images" => self.images(),
                _ => None,
            };
        }
        if !std::ptr::eq(value, self.request_node()) {
            return None;
        }
        let sent = self.request.admission_request.is_some();
        match key {
            "object" if sent || !self.request.object.is_null() => Some(self.request.object),
            "oldObject" if sent || !self.request.old_object.is_null() => {
                Some(self.request.old_object)
            }
            "object" | "oldObject" => None,
            "roles" => self.roles()[0].as_ref(),
            "clusterRoles" => self.roles()[1].as_ref(),
            // Offline without a requester, Kyverno's CLI adds no userInfo at all.
            "userInfo" if !sent => {
                let user = self.request.user?;
                Some(self.user_info.get_or_init(|| {
                    let mut info = Map::new();
                    if !user.username.is_empty() {
                        info.insert("username".to_owned(), json!(user.username));
                    }
                    if !user.groups.is_empty() {
                        info.insert("groups".to_owned(), json!(user.groups));
                    }
                    Value::Object(info)
                }))
            }
            _ => None,
        }
    }

    /// The whole document, for `@` at its root or on `request`.
    fn merged(&self, value: &Value) -> Option<Value> {
        let is_root = std::ptr::eq(value, &self.root);
        if !is_root && !std::ptr::eq(value, self.request_node()) {
            return None;
        }
        let keys: &[&str] = if is_root {
            &[
                "request",
                "serviceAccountName",
                "serviceAccountNamespace",
                "images",
            ]
        } else {
            &["object", "oldObject", "roles", "clusterRoles", "userInfo"]
        };
        let mut merged = value.as_object().cloned().unwrap_or_default();
        for key in keys {
            if let Some(found) = self.field(value, key) {
                let found = match self.merged(found) {
                    Some(inner) => inner,
                    None => found.clone(),
                };
                merged.insert((*key).to_owned(), found);
            }
        }
        Some(Value::Object(merged))
    }
}

/// What the Kyverno CLI puts in `request` besides the objects and the user: the operation and
/// the resource's namespace.
fn offline_request(request: &Request<'_>) -> Value {
    json!({
        "operation": request.operation.to_string(),
        "namespace": request.namespace,
    })
}

/// Kyverno's `AddServiceAccount`: the part after `system:serviceaccount:` read as
/// `<namespace>:<name>`. Kyverno cuts the prefix's length off without checking that the name
/// starts with it, so any longer name is read the same way.
fn service_account(username: &str) -> (&str, &str) {
    const PREFIX: &str = "system:serviceaccount:";
    let account = username.get(PREFIX.len()..).unwrap_or_default();
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

/// One rule's view of the variables: the review's with the rule's layers over its root
/// (context entries, then each foreach element's names).
pub struct Scope<'s> {
    review: &'s ReviewVariables<'s>,
    layers: Vec<Layer<'s>>,
    expressions: &'s Expressions,
    environment: &'s dyn Environment,
    delete: bool,
    /// Context entries left unloaded for want of a source, with the layer they belong to and
    /// why, so that reading one names the entry.
    unloaded: Vec<(usize, String, String)>,
    /// Context entries whose load failed, with the layer they belong to and the error. Kyverno
    /// loads an entry only when a query first names it, so such a failure is the error of the
    /// queries that name the entry, and an entry nothing reads fails nothing.
    failed: Vec<(usize, String, String)>,
}

impl<'s> Scope<'s> {
    pub fn new(
        review: &'s ReviewVariables<'s>,
        expressions: &'s Expressions,
        environment: &'s dyn Environment,
    ) -> Self {
        Self {
            review,
            layers: Vec::new(),
            expressions,
            environment,
            delete: review.request().operation == Operation::Delete,
            unloaded: Vec::new(),
            failed: Vec::new(),
        }
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
            (Some(Value::Object(mut present)), Value::Object(added)) => {
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

    /// Records that loading the context entry `name` failed with `error`, which the queries
    /// that name it then answer.
    pub fn fail_entry(&mut self, name: &str, error: String) {
        self.failed
            .push((self.layers.len(), name.to_owned(), error));
    }

    /// Sets a context entry's value under its name as it is, dots and all, replacing what the
    /// name held: Kyverno's `ReplaceContextEntry`.
    pub fn replace_entry(&mut self, name: &str, value: Value) {
        self.put(name.to_owned(), value);
    }

    fn put(&mut self, first: String, value: Value) {
        self.unloaded.retain(|(_, name, _)| *name != first);
        self.failed.retain(|(_, name, _)| *name != first);
        match self.layers.last_mut() {
            Some(layer) => {
                layer.names.insert(first, value);
            }
            None => self.layers.push(Layer {
                names: Map::from_iter([(first, value)]),
                element: None,
            }),
        }
    }

    /// What `name` holds at the top level now, whole: the nearest layer's, else the review's
    /// with the parts it builds on use.
    fn visible(&self, name: &str) -> Option<Value> {
        let root = &self.review.root;
        let found = self.field(root, name)?;
        Some(self.review.merged(found).unwrap_or_else(|| found.clone()))
    }

    /// Opens a layer that [`Scope::pop`] removes again.
    pub fn push(&mut self) {
        self.layers.push(Layer::default());
    }

    /// Opens a layer for one foreach element: `element`, `element<nesting>`, `elementIndex`
    /// and `elementIndex<nesting>`. `scoped` when patterns judge the element rather than
    /// what they judged before.
    pub fn push_element(
        &mut self,
        element: Cow<'s, Value>,
        index: usize,
        nesting: usize,
        scoped: bool,
    ) {
        self.layers.push(Layer {
            names: Map::new(),
            element: Some(Element {
                value: element,
                index: json!(index),
                nesting,
                scoped,
            }),
        });
    }

    pub fn pop(&mut self) {
        self.layers.pop();
        let depth = self.layers.len();
        self.unloaded.retain(|(layer, _, _)| *layer <= depth);
        self.failed.retain(|(layer, _, _)| *layer <= depth);
    }

    /// The load error of a context entry `expression` names (or of `images`), which Kyverno
    /// would have tried to load for this query.
    fn failed_entry(&self, expression: &str) -> Result<(), ResolveError> {
        if let Err(error) = self.review.images_or_error() {
            if mentions(expression, "images") {
                return Err(ResolveError::Failed(error.clone()));
            }
        }
        match self
            .failed
            .iter()
            .find(|(_, name, _)| mentions(expression, name))
        {
            Some((_, _, error)) => Err(ResolveError::Failed(error.clone())),
            None => Ok(()),
        }
    }

    /// What patterns judge inside foreach: the innermost element that is in scope.
    pub fn pattern_target(&self) -> Option<&Value> {
        self.layers
            .iter()
            .rev()
            .filter_map(|layer| layer.element.as_ref())
            .find(|element| element.scoped)
            .map(|element| element.value.as_ref())
    }

    /// Makes queries use `expressions` (a PolicyException's, over the rule's variables) and
    /// gives back those used until now, to be put back.
    pub fn use_expressions(&mut self, expressions: &'s Expressions) -> &'s Expressions {
        std::mem::replace(&mut self.expressions, expressions)
    }

    pub fn environment(&self) -> &'s dyn Environment {
        self.environment
    }

    /// Substitutes the `{{ }}` variables and `$( )` references of `document`.
    pub fn substitute(&self, document: &Value) -> Result<Value, TemplateError> {
        crate::expr::template::substitute_all(document, &mut Resolving(self))
    }

    /// Evaluates a JMESPath expression over the variables (not a `{{ }}` template).
    pub fn query(&self, expression: &str) -> Result<Value, ResolveError> {
        self.query_with(expression, |value| value.into_owned())
    }

    /// A foreach list: the items `expression` gives, or its value as a list of one. While the
    /// rule has added no names, the list can only be a part of the review (or something an
    /// expression built), and its items are then read in place rather than copied.
    pub fn list(&self, expression: &str) -> Result<Vec<Cow<'s, Value>>, ResolveError> {
        let into_items = |list: Cow<'s, Value>| match list {
            Cow::Borrowed(Value::Array(items)) => items.iter().map(Cow::Borrowed).collect(),
            Cow::Owned(Value::Array(items)) => items.into_iter().map(Cow::Owned).collect(),
            other => vec![other],
        };
        self.failed_entry(expression)?;
        let names_added = self
            .layers
            .iter()
            .any(|layer| !layer.names.is_empty() || layer.element.is_some());
        let expressions: &'s Expressions = self.expressions;
        match expressions.get(expression) {
            Some(compiled) if !names_added => {
                let review: &'s ReviewVariables<'s> = self.review;
                let environment: &'s dyn Environment = self.environment;
                compiled
                    .search_with(&review.root, review, environment.jmespath())
                    .map(into_items)
                    .map_err(|error| self.unloaded_named(expression, query_error(error)))
            }
            _ => self.query_with(expression, |list| into_items(Cow::Owned(list.into_owned()))),
        }
    }

    /// Evaluates a JMESPath expression and hands `take` the result, borrowed where it is a
    /// part of the variables.
    pub fn query_with<T>(
        &self,
        expression: &str,
        take: impl FnOnce(Cow<'_, Value>) -> T,
    ) -> Result<T, ResolveError> {
        self.failed_entry(expression)?;
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
        compiled
            .search_with(&self.review.root, self, self.environment.jmespath())
            .map(take)
            .map_err(|error| self.unloaded_named(expression, query_error(error)))
    }

    /// The error, naming the unloaded context entry `expression` reads if there is one.
    fn unloaded_named(&self, expression: &str, error: ResolveError) -> ResolveError {
        let Some((_, name, why)) = self
            .unloaded
            .iter()
            .find(|(_, name, _)| mentions(expression, name))
        else {
            return error;
        };
        let hint = format!(" (context entry {name} was not loaded: {why})");
        match error {
            ResolveError::NotFound(message) => ResolveError::NotFound(message + &hint),
            ResolveError::Failed(message) => ResolveError::Failed(message + &hint),
        }
    }
}

/// Kyverno's wording of a failed query (`context.Query`).
fn query_error(error: EvalError) -> ResolveError {
    match error {
        EvalError::NotFound(_) => ResolveError::NotFound(format!("JMESPath query failed: {error}")),
        EvalError::Failed(_) => ResolveError::Failed(format!("JMESPath query failed: {error}")),
    }
}

/// Names one rule or loop adds, and the foreach element it is judging.
#[derive(Default)]
struct Layer<'s> {
    names: Map<String, Value>,
    element: Option<Element<'s>>,
}

struct Element<'s> {
    /// Borrowed from the review when the list was a part of it.
    value: Cow<'s, Value>,
    index: Value,
    nesting: usize,
    scoped: bool,
}

impl Layer<'_> {
    fn get(&self, key: &str) -> Option<&Value> {
        if let Some(found) = self.names.get(key) {
            return Some(found);
        }
        let element = self.element.as_ref()?;
        let nested = |name: &str| {
            key.strip_prefix(name)
                .is_some_and(|rest| rest.parse() == Ok(element.nesting))
        };
        if key == "elementIndex" || nested("elementIndex") {
            Some(&element.index)
        } else if key == "element" || nested("element") {
            Some(&element.value)
        } else {
            None
        }
    }

    fn entries(&self) -> Vec<(String, Value)> {
        let mut entries: Vec<(String, Value)> = self
            .names
            .iter()
            .map(|(key, value)| (key.clone(), value.clone()))
            .collect();
        if let Some(element) = &self.element {
            let nesting = element.nesting;
            entries.push(("element".to_owned(), element.value.clone().into_owned()));
            entries.push((
                format!("element{nesting}"),
                element.value.clone().into_owned(),
            ));
            entries.push(("elementIndex".to_owned(), element.index.clone()));
            entries.push((format!("elementIndex{nesting}"), element.index.clone()));
        }
        entries
    }
}

impl Overlay for Scope<'_> {
    fn field(&self, value: &Value, key: &str) -> Option<&Value> {
        if std::ptr::eq(value, &self.review.root) {
            if let Some(found) = self.layers.iter().rev().find_map(|layer| layer.get(key)) {
                return Some(found);
            }
        }
        self.review.field(value, key)
    }

    fn merged(&self, value: &Value) -> Option<Value> {
        let mut merged = self.review.merged(value)?;
        if std::ptr::eq(value, &self.review.root) {
            if let Value::Object(map) = &mut merged {
                for layer in &self.layers {
                    map.extend(layer.entries());
                }
            }
        }
        Some(merged)
    }
}

/// `{{ }}` substitution reading a scope.
pub struct Resolving<'a, 's>(pub &'a Scope<'s>);

impl Resolver for Resolving<'_, '_> {
    fn resolve(&mut self, expression: &str) -> Result<Value, ResolveError> {
        self.0.query(expression)
    }

    fn is_delete(&self) -> bool {
        self.0.delete
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
