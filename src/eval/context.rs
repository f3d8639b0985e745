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

/// What evaluation may look up beyond the review: the clock and other inputs of JMESPath
/// functions, ConfigMaps and API calls for context entries. `check` and `test` answer from
/// files and mocks, `serve --kube` from its caches. Lookups are synchronous and must not wait
/// on the network for longer than the review may take.
pub trait Environment: Send + Sync {
    /// The clock, randomness and name resolution that JMESPath functions read.
    fn jmespath(&self) -> &jmespath::Environment;

    /// The `data` of a ConfigMap, as Kyverno's `configMap` context entry returns it.
    fn config_map(&self, namespace: &str, name: &str) -> Result<Value, String> {
        let _ = (namespace, name);
        Err(
            "no ConfigMaps are known here: a configMap context entry needs the cluster \
             (`serve --kube`) or the ConfigMap as an input"
                .to_owned(),
        )
    }

    /// The decoded JSON answer to a GET of `url_path` on the API server.
    fn api_get(&self, url_path: &str) -> Result<Value, String> {
        let _ = url_path;
        Err(
            "no API server is reachable here: an apiCall context entry needs the cluster \
             (`serve --kube`) or a mocked response"
                .to_owned(),
        )
    }

    /// Values the caller fixes for variables of one rule, which take the place of whatever the
    /// rule's context would give them (the Kyverno CLI's values files).
    fn preset(&self, policy: &str, rule: &str) -> Option<&Map<String, Value>> {
        let _ = (policy, rule);
        None
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
        match self.layers.last_mut() {
            Some(layer) => {
                layer.insert(first, value);
            }
            None => self.layers.push(Map::from_iter([(first, value)])),
        }
    }

    /// Opens a layer that [`Scope::pop`] removes again (a foreach element's variables).
    pub fn push(&mut self) {
        self.layers.push(Map::new());
    }

    pub fn pop(&mut self) {
        self.layers.pop();
    }

    /// Makes queries use `expressions` (a PolicyException's, over the rule's variables) and
    /// gives back those used until now, to be put back.
    pub fn use_expressions(&mut self, expressions: &'s Expressions) -> &'s Expressions {
        std::mem::replace(&mut self.expressions, expressions)
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
            .map_err(|error| match error {
                EvalError::NotFound(_) => {
                    ResolveError::NotFound(format!("JMESPath query failed: {error}"))
                }
                EvalError::Failed(_) => {
                    ResolveError::Failed(format!("JMESPath query failed: {error}"))
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
