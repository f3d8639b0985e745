//! The side files a Kyverno test names: a `Values` file (values fixed for variables, namespace
//! labels, subresources) and a `UserInfo` file (who sends the requests). Both are read strictly,
//! as the Kyverno CLI reads them: an unknown field is an error that names the file.

use crate::eval::context::variable_path;
use crate::matching::{UserInfo, labels_of};
use serde::Deserialize;
use serde_json::{Map, Value};
use std::collections::BTreeMap;
use std::path::Path;

/// The YAML documents of a file the test names, or an error that names the file.
pub(crate) fn read_documents(path: &Path) -> Result<Vec<crate::yaml::Document>, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|error| format!("{}: cannot read: {error}", path.display()))?;
    crate::yaml::parse_documents(&text).map_err(|error| {
        format!(
            "{}:{}: invalid YAML: {}",
            path.display(),
            error.location,
            error.message
        )
    })
}

/// The one document of a file that holds a single `cli.kyverno.io` object, decoded strictly.
pub(crate) fn read_single<T: serde::de::DeserializeOwned>(
    path: &Path,
    what: &str,
) -> Result<T, String> {
    let mut documents: Vec<Value> = read_documents(path)?
        .into_iter()
        .map(|document| document.value)
        .filter(|value| !value.is_null())
        .collect();
    if documents.len() != 1 {
        return Err(format!(
            "{}: expected one {what} document, found {}",
            path.display(),
            documents.len()
        ));
    }
    let document = documents.remove(0);
    serde_path_to_error::deserialize(&document).map_err(|error| {
        format!(
            "{}: not a {what}: {} at {}",
            path.display(),
            error.inner(),
            error.path()
        )
    })
}

/// A `cli.kyverno.io/v1alpha1` `UserInfo` file: who sends the requests of a test.
pub(super) fn load_user_info(path: &Path) -> Result<UserInfo, String> {
    #[derive(Deserialize)]
    #[serde(deny_unknown_fields, rename_all = "camelCase")]
    struct UserInfoFile {
        api_version: Option<String>,
        kind: Option<String>,
        metadata: Option<Value>,
        #[serde(default)]
        roles: Vec<String>,
        #[serde(default)]
        cluster_roles: Vec<String>,
        #[serde(default)]
        user_info: RequestUser,
    }
    #[derive(Default, Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct RequestUser {
        #[serde(default)]
        username: String,
        #[serde(default)]
        groups: Vec<String>,
    }
    let document = read_documents(path)?
        .into_iter()
        .find(|document| !document.value.is_null())
        .ok_or_else(|| format!("{}: no UserInfo document", path.display()))?;
    let file: UserInfoFile =
        serde_path_to_error::deserialize(&document.value).map_err(|error| {
            format!(
                "{}: not a UserInfo: {} at {}",
                path.display(),
                error.inner(),
                error.path()
            )
        })?;
    let _ = (&file.api_version, &file.kind, &file.metadata);
    Ok(UserInfo {
        username: file.user_info.username,
        groups: file.user_info.groups,
        roles: file.roles,
        cluster_roles: file.cluster_roles,
    })
}

/// The values of a test: a `Values` file's, or those written inline in the test.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ValuesSpec {
    #[serde(default)]
    global_values: Map<String, Value>,
    #[serde(default)]
    policies: Vec<PolicyValues>,
    #[serde(default, rename = "namespaceSelector")]
    namespace_selectors: Vec<NamespaceSelector>,
    #[serde(default)]
    namespaces: Vec<Value>,
    #[serde(default)]
    subresources: Vec<Subresource>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct PolicyValues {
    name: String,
    #[serde(default)]
    resources: Vec<ResourceValues>,
    #[serde(default)]
    rules: Vec<RuleValues>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct ResourceValues {
    name: String,
    #[serde(default)]
    values: Map<String, Value>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct RuleValues {
    name: String,
    #[serde(default)]
    values: Map<String, Value>,
    #[serde(default)]
    foreach_values: Map<String, Value>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct NamespaceSelector {
    name: String,
    #[serde(default)]
    labels: Option<BTreeMap<String, String>>,
}

/// One `subresources` entry: requests for `subresource` are judged as requests for that
/// subresource of `parent_resource`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Subresource {
    pub subresource: ApiResource,
    pub parent_resource: ApiResource,
}

/// Kubernetes' `metav1.APIResource`, as a values file writes it.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ApiResource {
    pub name: String,
    #[serde(default)]
    pub singular_name: String,
    #[serde(default)]
    pub namespaced: bool,
    #[serde(default)]
    pub group: String,
    #[serde(default)]
    pub version: String,
    pub kind: String,
    #[serde(default)]
    pub verbs: Option<Vec<String>>,
    #[serde(default)]
    pub short_names: Option<Vec<String>>,
    #[serde(default)]
    pub categories: Option<Vec<String>>,
    #[serde(default)]
    pub storage_version_hash: Option<String>,
}

/// The value that sets the request's operation.
pub const OPERATION: &str = "request.operation";

/// What a test or `check --values` fixes besides its resources, as the Kyverno CLI reads it:
/// values for variables (`globalValues`, per policy and resource, per rule), the labels of
/// namespaces, and which kinds are subresources of which.
#[derive(Debug, Default, Clone)]
pub struct Values {
    spec: ValuesSpec,
    /// Labels by namespace: `namespaceSelector`, then `namespaces`, which take precedence.
    pub namespace_labels: BTreeMap<String, BTreeMap<String, String>>,
}

impl Values {
    /// A `Values` file; Kyverno refuses one without `apiVersion` and `kind` as written for a
    /// schema it no longer reads, and so does this.
    pub fn load(path: &Path) -> Result<Self, String> {
        let hint = |error: String| {
            format!(
                "{error}; expected Kyverno's Values format, e.g. `apiVersion: cli.kyverno.io/v1alpha1`, \
                 `kind: Values`, `namespaceSelector: [{{name: shop, labels: {{env: prod}}}}]`"
            )
        };
        let mut document: Map<String, Value> = read_single(path, "Values").map_err(hint)?;
        let mut header = |key: &str| document.remove(key);
        let (api_version, kind, _metadata) =
            (header("apiVersion"), header("kind"), header("metadata"));
        let named = |value: &Option<Value>| {
            value
                .as_ref()
                .and_then(Value::as_str)
                .is_some_and(|text| !text.is_empty())
        };
        if !named(&api_version) || !named(&kind) {
            return Err(format!(
                "{}: a Values file needs apiVersion cli.kyverno.io/v1alpha1 and kind Values \
                 (the Kyverno CLI refuses the older schema without them)",
                path.display()
            ));
        }
        Self::from_inline(&Value::Object(document), &path.display().to_string())
    }

    /// The values written inline in a test (`values:`), which `origin` names in errors.
    pub fn from_inline(value: &Value, origin: &str) -> Result<Self, String> {
        let spec: ValuesSpec = serde_path_to_error::deserialize(value).map_err(|error| {
            format!(
                "{origin}: not a Values document: {} at {}",
                error.inner(),
                error.path()
            )
        })?;
        Self::from_spec(spec, origin)
    }

    fn from_spec(mut spec: ValuesSpec, origin: &str) -> Result<Self, String> {
        let mut names: Vec<&str> = spec.global_values.keys().map(String::as_str).collect();
        for policy in &spec.policies {
            for resource in &policy.resources {
                names.extend(resource.values.keys().map(String::as_str));
            }
            for rule in &policy.rules {
                names.extend(rule.values.keys().map(String::as_str));
                for (name, list) in &rule.foreach_values {
                    match list {
                        Value::Array(items) if !items.is_empty() => names.push(name),
                        _ => {
                            return Err(format!(
                                "{origin}: foreachValues {name} of rule {} of policy {}: \
                                 expected a list with at least one value",
                                rule.name, policy.name
                            ));
                        }
                    }
                }
            }
        }
        for name in names {
            variable_path(name).map_err(|error| format!("{origin}: {error}"))?;
        }
        if let Some(operation) = spec.global_values.get("request.operation") {
            match operation.as_str() {
                Some("" | "CREATE" | "UPDATE" | "DELETE" | "CONNECT") => {}
                _ => {
                    return Err(format!(
                        "{origin}: invalid request.operation value {operation}, must be one of \
                         CREATE, UPDATE, DELETE, CONNECT"
                    ));
                }
            }
        }
        let mut namespace_labels = BTreeMap::new();
        for selector in &spec.namespace_selectors {
            namespace_labels.insert(
                selector.name.clone(),
                selector.labels.clone().unwrap_or_default(),
            );
        }
        for namespace in &spec.namespaces {
            let name = namespace
                .pointer("/metadata/name")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_owned();
            namespace_labels.insert(name, labels_of(namespace.pointer("/metadata/labels")));
        }
        // Kyverno reads values as JSON, where every number is a float.
        for value in spec.global_values.values_mut() {
            crate::kyverno_test::normalise_numbers(value);
        }
        for policy in &mut spec.policies {
            for resource in &mut policy.resources {
                resource
                    .values
                    .values_mut()
                    .for_each(crate::kyverno_test::normalise_numbers);
            }
            for rule in &mut policy.rules {
                rule.values
                    .values_mut()
                    .chain(rule.foreach_values.values_mut())
                    .for_each(crate::kyverno_test::normalise_numbers);
            }
        }
        Ok(Self {
            spec,
            namespace_labels,
        })
    }

    /// `globalValues`, then the values of `policy` for the resource named `resource` (every
    /// entry of the policy's name counts, later ones winning): what the Kyverno CLI adds to a
    /// policy's context before its rules run. It also sets `request.operation` to `CREATE`
    /// when no value does, which the request's own operation already says.
    pub fn request_values(&self, policy: &str, resource: &str) -> Vec<(&str, &Value)> {
        fn put<'v>(values: &mut Vec<(&'v str, &'v Value)>, name: &'v str, value: &'v Value) {
            match values.iter_mut().find(|(present, _)| *present == name) {
                Some(slot) => slot.1 = value,
                None => values.push((name, value)),
            }
        }
        let mut values: Vec<(&str, &Value)> = Vec::new();
        for (name, value) in &self.spec.global_values {
            put(&mut values, name, value);
        }
        for entry in self
            .spec
            .policies
            .iter()
            .filter(|entry| entry.name == policy)
        {
            for named in entry
                .resources
                .iter()
                .filter(|named| named.name == resource)
            {
                for (name, value) in &named.values {
                    put(&mut values, name, value);
                }
            }
        }
        values
    }

    /// The rule's `values` and the first of each of its `foreachValues`, found as the Kyverno
    /// CLI finds them: the first entry of the policy's name with a rule of that name, the
    /// rule's generated `autogen-` names included.
    pub fn rule_values(&self, policy: &str, rule: &str) -> Vec<(&str, &Value)> {
        let found = self
            .spec
            .policies
            .iter()
            .filter(|entry| entry.name == policy)
            .find_map(|entry| {
                entry.rules.iter().find(|values| {
                    rule == values.name
                        || rule.strip_prefix("autogen-") == Some(values.name.as_str())
                        || rule.strip_prefix("autogen-cronjob-") == Some(values.name.as_str())
                })
            });
        let Some(found) = found else {
            return Vec::new();
        };
        let foreach = found
            .foreach_values
            .iter()
            .filter_map(|(name, list)| list.get(0).map(|first| (name.as_str(), first)));
        found
            .values
            .iter()
            .map(|(name, value)| (name.as_str(), value))
            .chain(foreach)
            .collect()
    }

    /// Whether any value is fixed for a variable at all.
    pub fn sets_variables(&self) -> bool {
        !self.spec.global_values.is_empty()
            || self.spec.policies.iter().any(|policy| {
                policy
                    .resources
                    .iter()
                    .any(|resource| !resource.values.is_empty())
                    || policy
                        .rules
                        .iter()
                        .any(|rule| !rule.values.is_empty() || !rule.foreach_values.is_empty())
            })
    }

    /// Whether some policy has values of its own for resources of this name, so that policies
    /// may see the same resource differently.
    pub fn has_resource_values(&self, resource: &str) -> bool {
        self.spec.policies.iter().any(|policy| {
            policy
                .resources
                .iter()
                .any(|named| named.name == resource && !named.values.is_empty())
        })
    }

    pub fn subresources(&self) -> &[Subresource] {
        &self.spec.subresources
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn values(spec: Value) -> Result<Values, String> {
        Values::from_inline(&spec, "inline")
    }

    fn pairs(list: Vec<(&str, &Value)>) -> Vec<(String, Value)> {
        list.into_iter()
            .map(|(name, value)| (name.to_owned(), value.clone()))
            .collect()
    }

    #[test]
    fn values_are_found_as_the_kyverno_cli_finds_them() {
        let values = values(json!({
            "globalValues": {"request.mode": "dev", "shared": 1},
            "policies": [
                {"name": "p", "resources": [{"name": "web", "values": {"shared": 2, "a": "x"}}],
                 "rules": [{"name": "r", "values": {"v": "first"}, "foreachValues": {"each": ["e1", "e2"]}}]},
                {"name": "p", "resources": [{"name": "web", "values": {"a": "y"}}],
                 "rules": [{"name": "r", "values": {"v": "second"}}, {"name": "other", "values": {"o": true}}]},
            ],
        }))
        .expect("valid values");
        // Globals, then every entry of the policy for the resource, later ones winning; numbers
        // are floats, as Kyverno reads them.
        assert_eq!(
            pairs(values.request_values("p", "web")),
            [
                ("request.mode".to_owned(), json!("dev")),
                ("shared".to_owned(), json!(2.0)),
                ("a".to_owned(), json!("y")),
            ]
        );
        assert_eq!(
            pairs(values.request_values("q", "web")),
            [
                ("request.mode".to_owned(), json!("dev")),
                ("shared".to_owned(), json!(1.0))
            ]
        );
        // The first entry with the rule, its generated names included; the first of each
        // foreachValues list.
        let rule = [
            ("v".to_owned(), json!("first")),
            ("each".to_owned(), json!("e1")),
        ];
        assert_eq!(pairs(values.rule_values("p", "r")), rule);
        assert_eq!(pairs(values.rule_values("p", "autogen-r")), rule);
        assert_eq!(pairs(values.rule_values("p", "autogen-cronjob-r")), rule);
        assert_eq!(
            pairs(values.rule_values("p", "other")),
            [("o".to_owned(), json!(true))]
        );
        assert!(values.rule_values("p", "autogen-other-r").is_empty());
        assert!(values.has_resource_values("web") && !values.has_resource_values("api"));
    }

    #[test]
    fn values_kyverno_would_refuse_are_refused() {
        let refused = |spec: Value| values(spec).err().unwrap_or_default();
        assert!(
            refused(json!({"policies": [{"name": "p", "rules": [{"name": "r", "foreachValues": {"x": []}}]}]}))
                .contains("foreachValues x of rule r of policy p: expected a list with at least one value")
        );
        assert!(refused(json!({"globalValues": {"a\"b": 1}})).contains("invalid variable name"));
        assert!(
            refused(json!({"globalValues": {"request.operation": "PATCH"}}))
                .contains("invalid request.operation value \"PATCH\"")
        );
        assert!(refused(json!({"policy": []})).contains("unknown field `policy`"));
    }
}
