//! What `check` and `test` can look up, all of it from files: values fixed for variables (a
//! Kyverno `Values` file), objects a context entry may read (ConfigMaps given as inputs, a test's
//! `clusterResources`), mocked API answers (a test's `apiCallResponses`), and the clock and seed
//! of JMESPath functions. Nothing here reaches the network or a cluster.
//!
//! It follows the Kyverno CLI: a `configMap` entry with no objects to read, or an `apiCall`
//! entry with neither objects nor a mock that answers it, is left unloaded, so a value fixed
//! for its name stands and a rule that reads it without one answers `error`.

use crate::eval::context::{Environment, Lookup, LookupError, merge_variable};
use crate::jmespath;
use crate::kyverno_test::values::{OPERATION, Values};
use crate::matching::{Gvk, Operation};
use crate::webhook_config::guess_plural;
use serde::Deserialize;
use serde_json::{Map, Value, json};
use std::path::Path;

/// Why an entry is left unloaded where nothing answers its kind of lookup.
const NO_CONFIG_MAPS: &str = "no objects are given to look ConfigMaps up in (`check --context`, a test's clusterResources), and no value is fixed for it";
const NO_API_ANSWERS: &str = "no objects are given to answer API calls from (`check --context`, a test's clusterResources) nor mocked answers (a test's apiCallResponses), and no value is fixed for it";

const NO_REGISTRY: &str = "no image registry is reached offline (as the Kyverno CLI without --registry), and no value is fixed for it";

/// The offline environment of `check` and `test`.
#[derive(Debug, Default)]
pub struct FileEnvironment {
    pub jmespath: jmespath::Environment,
    pub values: Values,
    /// The objects lookups read; `None` when none were given, and then no lookup is made.
    pub cluster: Option<Cluster>,
    pub mocks: Vec<ApiCallMock>,
}

impl FileEnvironment {
    /// This environment for one request whose operation the caller fixes (a test result's
    /// `operation`), which replaces the `request.operation` any value sets.
    pub fn with_operation<'e>(&'e self, operation: Option<&'e Value>) -> Judging<'e> {
        Judging {
            files: self,
            operation,
        }
    }
}

/// A [`FileEnvironment`] as one request sees it.
#[derive(Debug, Clone, Copy)]
pub struct Judging<'e> {
    files: &'e FileEnvironment,
    operation: Option<&'e Value>,
}

impl<'e> Judging<'e> {
    pub fn files(&self) -> &'e FileEnvironment {
        self.files
    }

    /// What `policy` adds to its context for the resource named `resource`, with the operation
    /// the caller fixed.
    pub fn values_for(&self, policy: &str, resource: &str) -> Vec<(&str, &Value)> {
        let mut values = self.files.values.request_values(policy, resource);
        if let Some(operation) = self.operation {
            for (name, value) in &mut values {
                if *name == OPERATION {
                    *value = operation;
                }
            }
        }
        values
    }
}

/// One resource as the Kyverno CLI presents it to one policy.
#[derive(Debug, Clone, PartialEq)]
pub struct Shape {
    pub operation: Operation,
    pub gvk: Gvk,
    pub subresource: String,
    pub object: Value,
    pub old_object: Value,
}

impl Judging<'_> {
    /// What the Kyverno CLI makes of a resource for one policy: the values fixed for the
    /// policy and the resource (by name) added to the request as to Kyverno's context, which
    /// gives the operation and any change to `request.object` or `request.oldObject`; and the
    /// parent kind of a subresource the values declare (unless cluster resources are given,
    /// as the Kyverno CLI then reads kinds from its cluster).
    pub fn shape(&self, policy: &str, name: &str, gvk: &Gvk, resource: &Value) -> Shape {
        let values = self.values_for(policy, name);
        let operation = match values
            .iter()
            .find(|(name, _)| *name == OPERATION)
            .and_then(|(_, value)| value.as_str())
        {
            Some("DELETE") => Operation::Delete,
            Some("UPDATE") => Operation::Update,
            _ => Operation::Create,
        };
        let mut request = Map::new();
        if operation != Operation::Delete {
            request.insert("object".to_owned(), resource.clone());
        }
        if operation != Operation::Create {
            request.insert("oldObject".to_owned(), resource.clone());
        }
        let mut document = Map::from_iter([("request".to_owned(), Value::Object(request))]);
        for (name, value) in &values {
            // Every name was parsed when the values were read, so none fails here.
            let _ = merge_variable(&mut document, name, (*value).clone());
        }
        let take = |key: &str| {
            document
                .get("request")
                .and_then(|request| request.get(key))
                .cloned()
                .unwrap_or(Value::Null)
        };
        let (object, old_object) = match operation {
            Operation::Delete => (Value::Null, take("oldObject")),
            Operation::Update => (take("object"), take("oldObject")),
            _ => (take("object"), Value::Null),
        };
        let mut gvk = gvk.clone();
        let mut subresource = String::new();
        if self.files.cluster.is_none() {
            for declared in self.files.values.subresources() {
                let sub = &declared.subresource;
                if gvk.group == sub.group && gvk.version == sub.version && gvk.kind == sub.kind {
                    let parent = &declared.parent_resource;
                    gvk = Gvk {
                        group: parent.group.clone(),
                        version: parent.version.clone(),
                        kind: parent.kind.clone(),
                    };
                    subresource = sub.name.split('/').nth(1).unwrap_or("").to_owned();
                }
            }
        }
        Shape {
            operation,
            gvk,
            subresource,
            object,
            old_object,
        }
    }
}

impl Environment for FileEnvironment {
    fn jmespath(&self) -> &jmespath::Environment {
        &self.jmespath
    }

    fn missing_source(&self, lookup: Lookup) -> Option<String> {
        match lookup {
            Lookup::ConfigMap if self.cluster.is_none() => Some(NO_CONFIG_MAPS.to_owned()),
            Lookup::ApiCall if self.cluster.is_none() && self.mocks.is_empty() => {
                Some(NO_API_ANSWERS.to_owned())
            }
            Lookup::ImageRegistry => Some(NO_REGISTRY.to_owned()),
            _ => None,
        }
    }

    fn config_map(&self, namespace: &str, name: &str) -> Result<Value, LookupError> {
        match &self.cluster {
            Some(cluster) => cluster.config_map(namespace, name),
            None => Err(LookupError::NoSource(NO_CONFIG_MAPS.to_owned())),
        }
    }

    fn service_call(&self, method: &str, url: &str) -> Result<Value, LookupError> {
        match ApiCallMock::find(&self.mocks, method, url) {
            Some(mock) => mock.answer(),
            None => Err(LookupError::NoSource(format!(
                "no apiCallResponses entry answers {method} {url}"
            ))),
        }
    }

    fn api_get(&self, url_path: &str) -> Result<Value, LookupError> {
        if let Some(mock) = ApiCallMock::find(&self.mocks, "GET", url_path) {
            return mock.answer();
        }
        match &self.cluster {
            Some(cluster) => cluster.get(url_path),
            None => Err(LookupError::NoSource(format!(
                "no apiCallResponses entry answers GET {url_path}, and no objects are given to \
                 answer it from (`check --context`, a test's clusterResources)"
            ))),
        }
    }

    fn request_values(&self, policy: &str, resource: &str) -> Vec<(&str, &Value)> {
        self.values.request_values(policy, resource)
    }

    fn rule_values(&self, policy: &str, rule: &str) -> Vec<(&str, &Value)> {
        self.values.rule_values(policy, rule)
    }
}

impl Environment for Judging<'_> {
    fn jmespath(&self) -> &jmespath::Environment {
        self.files.jmespath()
    }

    fn missing_source(&self, lookup: Lookup) -> Option<String> {
        self.files.missing_source(lookup)
    }

    fn config_map(&self, namespace: &str, name: &str) -> Result<Value, LookupError> {
        self.files.config_map(namespace, name)
    }

    fn service_call(&self, method: &str, url: &str) -> Result<Value, LookupError> {
        self.files.service_call(method, url)
    }

    fn api_get(&self, url_path: &str) -> Result<Value, LookupError> {
        self.files.api_get(url_path)
    }

    fn request_values(&self, policy: &str, resource: &str) -> Vec<(&str, &Value)> {
        self.values_for(policy, resource)
    }

    fn rule_values(&self, policy: &str, rule: &str) -> Vec<(&str, &Value)> {
        self.files.rule_values(policy, rule)
    }
}

/// Objects a lookup reads, as the Kyverno CLI's fake cluster serves them: a ConfigMap by
/// namespace and name, and a GET of an API path for one object or a list.
#[derive(Debug, Default)]
pub struct Cluster {
    objects: Vec<Value>,
    /// Resource names of kinds defined by CustomResourceDefinitions: (group, version, plural,
    /// kind).
    custom: Vec<(String, String, String, String)>,
}

impl Cluster {
    /// Adds an object; a CustomResourceDefinition also names the resources of its kind.
    pub fn add(&mut self, object: Value) {
        if object.get("kind").and_then(Value::as_str) == Some("CustomResourceDefinition") {
            let text = |pointer: &str| {
                object
                    .pointer(pointer)
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .to_owned()
            };
            let group = text("/spec/group");
            let plural = text("/spec/names/plural");
            let kind = text("/spec/names/kind");
            for version in object
                .pointer("/spec/versions")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                if let Some(name) = version.get("name").and_then(Value::as_str) {
                    self.custom.push((
                        group.clone(),
                        name.to_owned(),
                        plural.clone(),
                        kind.clone(),
                    ));
                }
            }
        }
        self.objects.push(object);
    }

    /// The `Namespace` object of this name, if given.
    pub fn namespace(&self, name: &str) -> Option<&Value> {
        self.objects.iter().find(|object| {
            text_at(object, "/apiVersion") == "v1"
                && text_at(object, "/kind") == "Namespace"
                && text_at(object, "/metadata/name") == name
        })
    }

    /// Kyverno's ConfigMap context entry: the ConfigMap's `data` and `metadata`.
    fn config_map(&self, namespace: &str, name: &str) -> Result<Value, LookupError> {
        match self.find(&Gvk::from_api_version("v1", "ConfigMap"), namespace, name) {
            Some(found) => Ok(json!({
                "data": found.get("data").cloned().unwrap_or(Value::Null),
                "metadata": found.get("metadata").cloned().unwrap_or_else(|| json!({})),
            })),
            None => Err(LookupError::Failed(format!(
                "failed to get configmap {namespace}/{name} : configmaps \"{name}\" not found"
            ))),
        }
    }

    fn find(&self, gvk: &Gvk, namespace: &str, name: &str) -> Option<&Value> {
        self.of_kind(gvk, namespace)
            .into_iter()
            .find(|object| text_at(object, "/metadata/name") == name)
    }

    /// Objects of a kind; in one namespace unless `namespace` is empty.
    fn of_kind(&self, gvk: &Gvk, namespace: &str) -> Vec<&Value> {
        let api_version = gvk.api_version();
        self.objects
            .iter()
            .filter(|object| {
                text_at(object, "/apiVersion") == api_version
                    && text_at(object, "/kind") == gvk.kind
                    && (namespace.is_empty() || text_at(object, "/metadata/namespace") == namespace)
            })
            .collect()
    }

    /// A GET of an API path: `/api/v1[/namespaces/NS]/RESOURCE[/NAME]` or
    /// `/apis/GROUP/VERSION[/namespaces/NS]/RESOURCE[/NAME]`; without a name, the list.
    fn get(&self, url_path: &str) -> Result<Value, LookupError> {
        let failed = |why: String| Err(LookupError::Failed(why));
        if url_path.contains('?') {
            return failed(format!(
                "{url_path}: query parameters are not served from cluster resources"
            ));
        }
        let parts: Vec<&str> = url_path.trim_start_matches('/').split('/').collect();
        let (group, rest) = match parts.as_slice() {
            ["api", version, rest @ ..] => (("", *version), rest),
            ["apis", group, version, rest @ ..] => ((*group, *version), rest),
            _ => return failed(format!("failed to parse path: {url_path}")),
        };
        let (namespace, resource, name) = match rest {
            ["namespaces", namespace, resource, name] => (*namespace, *resource, *name),
            ["namespaces", namespace, resource] => (*namespace, *resource, ""),
            [resource, name] => ("", *resource, *name),
            [resource] => ("", *resource, ""),
            _ => return failed(format!("failed to parse path: {url_path}")),
        };
        let (group, version) = group;
        let Some(kind) = self.kind_of(group, version, resource) else {
            return failed(format!(
                "{url_path}: no {resource} of {} among the cluster resources",
                Gvk {
                    group: group.to_owned(),
                    version: version.to_owned(),
                    kind: String::new()
                }
                .api_version()
            ));
        };
        let gvk = Gvk {
            group: group.to_owned(),
            version: version.to_owned(),
            kind,
        };
        if name.is_empty() {
            let items: Vec<Value> = self.of_kind(&gvk, namespace).into_iter().cloned().collect();
            return Ok(json!({
                "apiVersion": gvk.api_version(),
                "kind": format!("{}List", gvk.kind),
                "metadata": {"continue": "", "resourceVersion": ""},
                "items": items,
            }));
        }
        match self.find(&gvk, namespace, name) {
            Some(object) => Ok(object.clone()),
            None => {
                let resource = if group.is_empty() {
                    resource.to_owned()
                } else {
                    format!("{resource}.{group}")
                };
                failed(format!(
                    "failed to get resource {}/{}/{name}: {resource} \"{name}\" not found",
                    gvk.api_version(),
                    gvk.kind
                ))
            }
        }
    }

    /// The kind a resource name stands for: a CRD's, else that of a given object whose kind's
    /// plural it is.
    fn kind_of(&self, group: &str, version: &str, resource: &str) -> Option<String> {
        if let Some((.., kind)) = self
            .custom
            .iter()
            .find(|(g, v, plural, _)| g == group && v == version && plural == resource)
        {
            return Some(kind.clone());
        }
        let api_version = Gvk {
            group: group.to_owned(),
            version: version.to_owned(),
            kind: String::new(),
        }
        .api_version();
        self.objects
            .iter()
            .filter(|object| text_at(object, "/apiVersion") == api_version)
            .map(|object| text_at(object, "/kind"))
            .find(|kind| guess_plural(kind) == resource)
            .map(str::to_owned)
    }
}

fn text_at<'v>(value: &'v Value, pointer: &str) -> &'v str {
    value.pointer(pointer).and_then(Value::as_str).unwrap_or("")
}

/// One `apiCallResponses` entry of a test: the answer to a call by URL (an `apiCall.service`)
/// or by API path (an `apiCall.urlPath`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ApiCallMock {
    #[serde(default)]
    url: String,
    #[serde(default)]
    url_path: String,
    #[serde(default)]
    method: String,
    response: MockResponse,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct MockResponse {
    #[serde(default)]
    status_code: u16,
    #[serde(default)]
    body: Value,
}

impl ApiCallMock {
    /// The entries of a test's `apiCallResponses`, checked as the Kyverno CLI checks them.
    pub fn parse_all(value: &Value) -> Result<Vec<Self>, String> {
        let mocks: Vec<Self> = serde_path_to_error::deserialize(value)
            .map_err(|error| format!("apiCallResponses: {} at {}", error.inner(), error.path()))?;
        let mut keys = Vec::new();
        for (index, mock) in mocks.iter().enumerate() {
            mock.validate(index)?;
            let key = mock.key();
            if keys.contains(&key) {
                return Err(format!(
                    "apiCallResponses: duplicate entry for {:?} (key {key:?}): each method and url must be unique",
                    mock.target()
                ));
            }
            keys.push(key);
        }
        Ok(mocks)
    }

    fn validate(&self, index: usize) -> Result<(), String> {
        let (url, url_path) = (self.url.trim(), self.url_path.trim());
        let at = format!("apiCallResponses[{index}]");
        match (url.is_empty(), url_path.is_empty()) {
            (true, true) => return Err(format!("{at}: either url or urlPath is required")),
            (false, false) => return Err(format!("{at}: url and urlPath are mutually exclusive")),
            _ => {}
        }
        if !url.is_empty() {
            let host = url
                .strip_prefix("https://")
                .or_else(|| url.strip_prefix("http://"))
                .ok_or_else(|| format!("{at}: url {url:?} must be an absolute https/http URL"))?;
            if host.split(['/', '?', '#']).next().is_none_or(str::is_empty) {
                return Err(format!("{at}: url {url:?} has scheme but no host"));
            }
        }
        if !url_path.is_empty() && !url_path.starts_with('/') {
            return Err(format!(
                "{at}: urlPath {url_path:?} must be an absolute path starting with '/'"
            ));
        }
        if !matches!(self.method().as_str(), "" | "GET" | "POST") {
            return Err(format!("{at}: method must be GET or POST"));
        }
        if !self.response.body.is_object() {
            return Err(format!(
                "{at} {:?}: response.body must be a JSON object",
                self.target()
            ));
        }
        let status = self.response.status_code;
        if status != 0 && !(100..=599).contains(&status) {
            return Err(format!(
                "{at} {:?}: statusCode {status} must be between 100 and 599",
                self.target()
            ));
        }
        Ok(())
    }

    fn method(&self) -> String {
        self.method.trim().to_uppercase()
    }

    fn target(&self) -> &str {
        let url = self.url.trim();
        if url.is_empty() {
            self.url_path.trim()
        } else {
            url
        }
    }

    fn key(&self) -> String {
        match self.method().as_str() {
            "" => self.target().to_owned(),
            method => format!("{method}:{}", self.target()),
        }
    }

    /// The entry for a call: one for its method first, else one for any method.
    fn find<'m>(mocks: &'m [Self], method: &str, url: &str) -> Option<&'m Self> {
        let keyed = format!("{method}:{url}");
        mocks
            .iter()
            .find(|mock| mock.key() == keyed)
            .or_else(|| mocks.iter().find(|mock| mock.key() == url))
    }

    fn answer(&self) -> Result<Value, LookupError> {
        let status = match self.response.status_code {
            0 => 200,
            status => status,
        };
        if !(200..300).contains(&status) {
            return Err(LookupError::Failed(format!(
                "HTTP {status} from the apiCallResponses entry for {} (an apiCall treats non-2xx as failure)",
                self.target()
            )));
        }
        Ok(self.response.body.clone())
    }
}

/// A test's `clusterResources` file: one `cli.kyverno.io/v1alpha1` `ClusterResource`, whose
/// CRD files are named relative to `base` (the test's folder).
pub fn load_cluster_resources(
    path: &Path,
    base: &Path,
    cluster: &mut Cluster,
) -> Result<(), String> {
    let document: Value = crate::kyverno_test::values::read_single(path, "ClusterResource")?;
    load_cluster_resource(document, &path.display().to_string(), base, cluster)
}

/// One `ClusterResource` document, read strictly as the Kyverno CLI reads it.
fn load_cluster_resource(
    document: Value,
    at: &str,
    base: &Path,
    cluster: &mut Cluster,
) -> Result<(), String> {
    #[derive(Deserialize)]
    #[serde(deny_unknown_fields, rename_all = "camelCase")]
    struct ClusterResourceFile {
        api_version: Option<String>,
        kind: Option<String>,
        metadata: Option<Value>,
        spec: ClusterResourceSpec,
    }
    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    struct ClusterResourceSpec {
        #[serde(default)]
        crds: Vec<String>,
        #[serde(default)]
        resources: Vec<Value>,
    }
    let file: ClusterResourceFile =
        serde_path_to_error::deserialize(&document).map_err(|error| {
            format!(
                "{at}: not a ClusterResource: {} at {}",
                error.inner(),
                error.path()
            )
        })?;
    let _ = (&file.api_version, &file.kind, &file.metadata);
    for crd in &file.spec.crds {
        let definition: Value =
            crate::kyverno_test::values::read_single(&base.join(crd), "CustomResourceDefinition")?;
        cluster.add(definition);
    }
    for mut object in file.spec.resources {
        crate::kyverno_test::normalise_numbers(&mut object);
        cluster.add(object);
    }
    Ok(())
}

/// A `--context` file: Kubernetes objects (a `List`'s items included) and Kyverno
/// `ClusterResource` documents, whose CRD files are named relative to the file.
pub fn load_context_file(path: &Path, cluster: &mut Cluster) -> Result<(), String> {
    let documents = crate::kyverno_test::values::read_documents(path)?;
    let base = path.parent().unwrap_or(Path::new("."));
    for document in documents {
        let at = format!("{}:{}", path.display(), document.start);
        let mut object = document.value;
        if object.is_null() {
            continue;
        }
        let kind = text_at(&object, "/kind").to_owned();
        if text_at(&object, "/apiVersion").is_empty() || kind.is_empty() {
            return Err(format!(
                "{at}: not a Kubernetes object: apiVersion and kind are required"
            ));
        }
        if kind == "ClusterResource"
            && text_at(&object, "/apiVersion").starts_with("cli.kyverno.io/")
        {
            load_cluster_resource(object, &at, base, cluster)?;
            continue;
        }
        crate::kyverno_test::normalise_numbers(&mut object);
        match object.get_mut("items") {
            Some(Value::Array(items)) if kind.ends_with("List") => {
                for item in std::mem::take(items) {
                    cluster.add(item);
                }
            }
            _ => cluster.add(object),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cluster() -> Cluster {
        let mut cluster = Cluster::default();
        for object in [
            json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "shop"}}),
            json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "a", "namespace": "shop"}, "data": {"k": "v"}}),
            json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "b", "namespace": "lab"}}),
            json!({"apiVersion": "networking.k8s.io/v1", "kind": "IngressClass", "metadata": {"name": "nginx"}}),
        ] {
            cluster.add(object);
        }
        cluster
    }

    fn failure(answer: Result<Value, LookupError>) -> String {
        match answer {
            Err(LookupError::Failed(why)) => why,
            other => panic!("expected a failed lookup, got {other:?}"),
        }
    }

    #[test]
    fn api_paths_answer_as_the_kyverno_cli_fake_cluster_does() {
        let cluster = cluster();
        let names = |answer: Value| -> Vec<String> {
            answer["items"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|item| item["metadata"]["name"].as_str().unwrap_or("").to_owned())
                .collect()
        };
        let all = cluster.get("/api/v1/configmaps").expect("list");
        assert_eq!(all["kind"], "ConfigMapList");
        assert_eq!(names(all), ["a", "b"]);
        assert_eq!(
            names(
                cluster
                    .get("/api/v1/namespaces/lab/configmaps")
                    .expect("list")
            ),
            ["b"]
        );
        assert_eq!(
            cluster
                .get("/api/v1/namespaces/shop/configmaps/a")
                .expect("get")["data"]["k"],
            "v"
        );
        assert_eq!(
            cluster
                .get("/apis/networking.k8s.io/v1/ingressclasses/nginx")
                .expect("get")["kind"],
            "IngressClass"
        );
        assert_eq!(
            failure(cluster.get("/apis/networking.k8s.io/v1/ingressclasses/traefik")),
            "failed to get resource networking.k8s.io/v1/IngressClass/traefik: ingressclasses.networking.k8s.io \"traefik\" not found"
        );
        assert_eq!(
            failure(cluster.get("/api/v1/namespaces/shop/configmaps/b")),
            "failed to get resource v1/ConfigMap/b: configmaps \"b\" not found"
        );
        assert_eq!(
            failure(cluster.get("/api/v1/services")),
            "/api/v1/services: no services of v1 among the cluster resources"
        );
        assert!(
            failure(cluster.get("/api/v1/pods?labelSelector=app")).contains("query parameters")
        );
        assert_eq!(
            failure(cluster.get("/healthz")),
            "failed to parse path: /healthz"
        );
        let map = cluster.config_map("shop", "a").expect("config map");
        assert_eq!(
            map,
            json!({"data": {"k": "v"}, "metadata": {"name": "a", "namespace": "shop"}})
        );
        assert_eq!(
            failure(cluster.config_map("shop", "b")),
            "failed to get configmap shop/b : configmaps \"b\" not found"
        );
    }

    #[test]
    fn mocks_answer_by_method_first_and_fail_on_other_statuses() {
        let mocks = ApiCallMock::parse_all(&json!([
            {"urlPath": "/x", "response": {"body": {"any": true}}},
            {"urlPath": "/x", "method": "get", "response": {"body": {"get": true}}},
            {"url": "https://example.com/y", "response": {"statusCode": 404, "body": {}}},
        ]))
        .expect("valid mocks");
        let answer = |method, url| ApiCallMock::find(&mocks, method, url).map(ApiCallMock::answer);
        assert_eq!(answer("GET", "/x"), Some(Ok(json!({"get": true}))));
        assert_eq!(answer("POST", "/x"), Some(Ok(json!({"any": true}))));
        assert_eq!(answer("GET", "/z"), None);
        assert_eq!(
            answer("GET", "https://example.com/y").map(failure),
            Some("HTTP 404 from the apiCallResponses entry for https://example.com/y (an apiCall treats non-2xx as failure)".to_owned())
        );
        let refused = |entries: Value| ApiCallMock::parse_all(&entries).err().unwrap_or_default();
        assert!(
            refused(json!([{"urlPath": "x", "response": {"body": {}}}]))
                .contains("must be an absolute path")
        );
        assert!(
            refused(json!([{"url": "ftp://h/x", "response": {"body": {}}}]))
                .contains("absolute https/http URL")
        );
        assert!(
            refused(json!([{"url": "https:///x", "response": {"body": {}}}])).contains("no host")
        );
        assert!(
            refused(json!([{"urlPath": "/x", "method": "PUT", "response": {"body": {}}}]))
                .contains("GET or POST")
        );
        assert!(
            refused(json!([{"urlPath": "/x", "response": {"body": []}}]))
                .contains("must be a JSON object")
        );
        assert!(
            refused(json!([{"urlPath": "/x", "response": {"statusCode": 42, "body": {}}}]))
                .contains("between 100 and 599")
        );
        assert!(
            refused(json!([
                {"urlPath": "/x", "response": {"body": {}}},
                {"urlPath": "/x", "response": {"body": {}}},
            ]))
            .contains("duplicate entry")
        );
    }
}
