//! `match` / `exclude`: which rules apply to which requests.
//!
//! Filters are compiled from the wire types once; matching a request is then a walk over small
//! typed lists. Kind entries follow Kyverno's `group/version/Kind/subresource` grammar and every
//! name, namespace, kind and annotation comparison uses Kyverno's wildcard, as Kyverno does.

use crate::pattern::wildcard;
use crate::policy::spec::{FilterSpec, LabelSelectorSpec, MatchSpec, ResourceSpec, SubjectSpec};
use serde_json::{Map, Value};
use std::collections::BTreeMap;
use std::fmt;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Operation {
    Create,
    Update,
    Delete,
    Connect,
}

impl Operation {
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "CREATE" => Some(Self::Create),
            "UPDATE" => Some(Self::Update),
            "DELETE" => Some(Self::Delete),
            "CONNECT" => Some(Self::Connect),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Create => "CREATE",
            Self::Update => "UPDATE",
            Self::Delete => "DELETE",
            Self::Connect => "CONNECT",
        }
    }
}

impl fmt::Display for Operation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Group, version and kind of a resource; the core group is `""`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct Gvk {
    pub group: String,
    pub version: String,
    pub kind: String,
}

impl Gvk {
    /// From a manifest's `apiVersion` (`apps/v1`, `v1`) and `kind`.
    pub fn from_api_version(api_version: &str, kind: &str) -> Self {
        let (group, version) = match api_version.split_once('/') {
            Some((group, version)) => (group, version),
            None => ("", api_version),
        };
        Self {
            group: group.to_owned(),
            version: version.to_owned(),
            kind: kind.to_owned(),
        }
    }

    pub fn api_version(&self) -> String {
        if self.group.is_empty() {
            self.version.clone()
        } else {
            format!("{}/{}", self.group, self.version)
        }
    }
}

/// Who sent the request, as the apiserver tells it (plus RBAC roles when known).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UserInfo {
    pub username: String,
    pub groups: Vec<String>,
    pub roles: Vec<String>,
    pub cluster_roles: Vec<String>,
}

/// What matching sees of one request: the object's identity plus request facts.
#[derive(Debug, Clone, Copy)]
pub struct MatchTarget<'a> {
    pub operation: Operation,
    pub gvk: &'a Gvk,
    pub subresource: &'a str,
    /// The object judged (the old object for a DELETE).
    pub object: &'a Value,
    /// `""` for cluster-scoped resources.
    pub namespace: &'a str,
    /// Labels of the namespace the resource lives in; `None` when they cannot be known.
    pub namespace_labels: Option<&'a BTreeMap<String, String>>,
    /// `None` when there is no request user at all (offline checks).
    pub user: Option<&'a UserInfo>,
}

impl MatchTarget<'_> {
    fn metadata(&self) -> Option<&Map<String, Value>> {
        self.object.get("metadata").and_then(Value::as_object)
    }

    fn metadata_str(&self, key: &str) -> &str {
        self.metadata()
            .and_then(|meta| meta.get(key))
            .and_then(Value::as_str)
            .unwrap_or("")
    }

    fn metadata_map(&self, key: &str) -> Option<&Map<String, Value>> {
        self.metadata()
            .and_then(|meta| meta.get(key))
            .and_then(Value::as_object)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MatchError(pub String);

impl fmt::Display for MatchError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A problem in a `match`/`exclude` block found at load; `field` is relative to the block.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MatchSpecError {
    pub field: String,
    pub message: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Combine {
    Any,
    All,
    /// The legacy inline form: exactly one filter.
    Inline,
}

#[derive(Debug, Clone)]
pub struct MatchBlock {
    pub combine: Combine,
    pub filters: Vec<Filter>,
}

#[derive(Debug, Clone, Default)]
pub struct Filter {
    pub kinds: Vec<KindSelector>,
    /// The kinds as written, which autogen inspects by their exact text.
    pub kind_texts: Vec<String>,
    pub names: Vec<String>,
    pub namespaces: Vec<String>,
    pub annotations: Vec<(String, String)>,
    pub selector: Option<LabelSelector>,
    pub namespace_selector: Option<LabelSelector>,
    pub operations: Vec<Operation>,
    pub roles: Vec<String>,
    pub cluster_roles: Vec<String>,
    pub subjects: Vec<Subject>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KindSelector {
    pub group: String,
    pub version: String,
    pub kind: String,
    pub subresource: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Subject {
    User(String),
    Group(String),
    ServiceAccount { namespace: String, name: String },
}

#[derive(Debug, Clone, Default)]
pub struct LabelSelector {
    pub match_labels: Vec<(String, String)>,
    pub expressions: Vec<LabelExpression>,
}

#[derive(Debug, Clone)]
pub enum LabelExpression {
    In(String, Vec<String>),
    NotIn(String, Vec<String>),
    Exists(String),
    DoesNotExist(String),
}

/// Whether a filter is judging inclusion (`match`) or exclusion: absent user info is ignored by
/// the former and never matches in the latter, so offline checks exclude nothing by user.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Side {
    Match,
    Exclude,
}

impl MatchBlock {
    pub fn compile(spec: &MatchSpec) -> Result<Self, MatchSpecError> {
        let (combine, filters, prefix) = if let Some(any) = &spec.any {
            (Combine::Any, any.iter().collect::<Vec<_>>(), "any")
        } else if let Some(all) = &spec.all {
            (Combine::All, all.iter().collect(), "all")
        } else {
            let inline = FilterSpec {
                resources: None,
                subjects: None,
                roles: spec.roles.clone(),
                cluster_roles: spec.cluster_roles.clone(),
            };
            let compiled =
                Filter::compile(&inline, spec.resources.as_ref(), spec.subjects.as_deref())
                    .map_err(|error| error.under(""))?;
            return Ok(Self {
                combine: Combine::Inline,
                filters: vec![compiled],
            });
        };
        let filters = filters
            .iter()
            .enumerate()
            .map(|(index, filter)| {
                Filter::compile(
                    filter,
                    filter.resources.as_ref(),
                    filter.subjects.as_deref(),
                )
                .map_err(|error| error.under(&format!("{prefix}[{index}].")))
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Self { combine, filters })
    }

    pub fn matches(&self, target: &MatchTarget<'_>) -> Result<bool, MatchError> {
        self.evaluate(target, Side::Match)
    }

    /// An exclude block; an empty one excludes nothing.
    pub fn excludes(&self, target: &MatchTarget<'_>) -> Result<bool, MatchError> {
        self.evaluate(target, Side::Exclude)
    }

    fn evaluate(&self, target: &MatchTarget<'_>, side: Side) -> Result<bool, MatchError> {
        match self.combine {
            Combine::Any => {
                for filter in &self.filters {
                    if filter.matches(target, side)? {
                        return Ok(true);
                    }
                }
                Ok(false)
            }
            Combine::All => {
                if self.filters.is_empty() {
                    return Ok(false);
                }
                for filter in &self.filters {
                    if !filter.matches(target, side)? {
                        return Ok(false);
                    }
                }
                Ok(true)
            }
            Combine::Inline => match self.filters.first() {
                Some(filter) => filter.matches(target, side),
                None => Ok(false),
            },
        }
    }

    /// Every kind text named by any filter, for autogen and webhook rules.
    pub fn kind_texts(&self) -> impl Iterator<Item = &str> {
        self.filters
            .iter()
            .flat_map(|filter| filter.kind_texts.iter().map(String::as_str))
    }
}

impl MatchSpecError {
    fn under(self, prefix: &str) -> Self {
        Self {
            field: format!("{prefix}{}", self.field),
            message: self.message,
        }
    }
}

impl Filter {
    fn compile(
        spec: &FilterSpec,
        resources: Option<&ResourceSpec>,
        subjects: Option<&[SubjectSpec]>,
    ) -> Result<Self, MatchSpecError> {
        let mut filter = Filter {
            roles: spec.roles.clone().unwrap_or_default(),
            cluster_roles: spec.cluster_roles.clone().unwrap_or_default(),
            ..Filter::default()
        };
        for (index, subject) in subjects.unwrap_or_default().iter().enumerate() {
            filter
                .subjects
                .push(Subject::compile(subject).map_err(|message| MatchSpecError {
                    field: format!("subjects[{index}].kind"),
                    message,
                })?);
        }
        let Some(resources) = resources else {
            return Ok(filter);
        };
        for (index, text) in resources.kinds.iter().flatten().enumerate() {
            let kind = KindSelector::parse(text).ok_or_else(|| MatchSpecError {
                field: format!("resources.kinds[{index}]"),
                message: format!("invalid kind {text:?}: expected Kind, version/Kind or group/version/Kind[/subresource]"),
            })?;
            filter.kinds.push(kind);
            filter.kind_texts.push(text.clone());
        }
        filter.names.extend(resources.name.iter().cloned());
        filter
            .names
            .extend(resources.names.iter().flatten().cloned());
        filter.namespaces = resources.namespaces.clone().unwrap_or_default();
        filter.annotations = resources
            .annotations
            .iter()
            .flatten()
            .map(|(key, value)| (key.clone(), value.clone()))
            .collect();
        if let Some(selector) = &resources.selector {
            filter.selector = Some(
                LabelSelector::compile(selector)
                    .map_err(|error| error.under("resources.selector."))?,
            );
        }
        if let Some(selector) = &resources.namespace_selector {
            filter.namespace_selector = Some(
                LabelSelector::compile(selector)
                    .map_err(|error| error.under("resources.namespaceSelector."))?,
            );
        }
        for (index, text) in resources.operations.iter().flatten().enumerate() {
            filter
                .operations
                .push(Operation::parse(text).ok_or_else(|| MatchSpecError {
                    field: format!("resources.operations[{index}]"),
                    message: format!(
                        "unknown operation {text:?}: expected CREATE, UPDATE, DELETE or CONNECT"
                    ),
                })?);
        }
        Ok(filter)
    }

    /// True when the filter names any resource attribute (Kyverno's "match cannot be empty").
    fn has_resource_attributes(&self) -> bool {
        !(self.kinds.is_empty()
            && self.names.is_empty()
            && self.namespaces.is_empty()
            && self.annotations.is_empty()
            && self.selector.is_none()
            && self.namespace_selector.is_none()
            && self.operations.is_empty())
    }

    fn has_user_attributes(&self) -> bool {
        !(self.roles.is_empty() && self.cluster_roles.is_empty() && self.subjects.is_empty())
    }

    /// Whether autogen may rewrite rules using this filter: it must not pick pods by identity.
    pub fn selects_by_identity(&self) -> bool {
        !self.names.is_empty() || self.selector.is_some() || !self.annotations.is_empty()
    }

    fn matches(&self, target: &MatchTarget<'_>, side: Side) -> Result<bool, MatchError> {
        if !self.has_resource_attributes() && !self.has_user_attributes() {
            return Ok(false);
        }
        if !self.operations.is_empty() && !self.operations.contains(&target.operation) {
            return Ok(false);
        }
        if !self.kinds.is_empty()
            && !self
                .kinds
                .iter()
                .any(|kind| kind.matches(target.gvk, target.subresource))
        {
            return Ok(false);
        }
        if !self.names.is_empty() {
            let name = match target.metadata_str("name") {
                "" => target.metadata_str("generateName"),
                name => name,
            };
            if !self
                .names
                .iter()
                .any(|pattern| wildcard::matches(pattern, name))
            {
                return Ok(false);
            }
        }
        if !self.namespaces.is_empty() {
            let namespace = if target.gvk.kind == "Namespace" && target.gvk.group.is_empty() {
                target.metadata_str("name")
            } else {
                target.namespace
            };
            if !self
                .namespaces
                .iter()
                .any(|pattern| wildcard::matches(pattern, namespace))
            {
                return Ok(false);
            }
        }
        if !self.annotations.is_empty() {
            let actual = target.metadata_map("annotations");
            let all_present = self.annotations.iter().all(|(key, value)| {
                actual.is_some_and(|actual| {
                    actual.iter().any(|(actual_key, actual_value)| {
                        wildcard::matches(key, actual_key)
                            && actual_value
                                .as_str()
                                .is_some_and(|actual_value| wildcard::matches(value, actual_value))
                    })
                })
            });
            if !all_present {
                return Ok(false);
            }
        }
        if let Some(selector) = &self.selector {
            if !selector.matches_object_labels(target.metadata_map("labels")) {
                return Ok(false);
            }
        }
        if let Some(selector) = &self.namespace_selector {
            if target.gvk.kind == "Namespace" && target.gvk.group.is_empty() {
                return Ok(false);
            }
            let Some(labels) = target.namespace_labels else {
                return Err(MatchError(format!(
                    "namespace {:?} is unknown: its labels are not available (the namespace reflector of `serve --kube` has not seen it, or it was deleted; without --kube no labels are known), so its namespaceSelector cannot be evaluated",
                    target.namespace
                )));
            };
            if !selector.matches_labels(labels) {
                return Ok(false);
            }
        }
        if self.has_user_attributes() {
            match (target.user, side) {
                (None, Side::Match) => {}
                (None, Side::Exclude) => return Ok(false),
                (Some(user), _) => {
                    if !self.matches_user(user) {
                        return Ok(false);
                    }
                }
            }
        }
        Ok(true)
    }

    fn matches_user(&self, user: &UserInfo) -> bool {
        let roles =
            self.roles.is_empty() || self.roles.iter().any(|role| user.roles.contains(role));
        let cluster_roles = self.cluster_roles.is_empty()
            || self
                .cluster_roles
                .iter()
                .any(|role| user.cluster_roles.contains(role));
        let subjects =
            self.subjects.is_empty() || self.subjects.iter().any(|subject| subject.matches(user));
        roles && cluster_roles && subjects
    }
}

impl KindSelector {
    /// Kyverno's kind grammar; `None` for more than four `/`-separated parts.
    pub fn parse(text: &str) -> Option<Self> {
        let parts: Vec<&str> = text.split('/').collect();
        let any = || "*".to_owned();
        let (group, version, kind_part, subresource) = match parts.as_slice() {
            [kind] => (any(), any(), *kind, None),
            ["*", "*"] => (any(), any(), "*", Some("*")),
            ["*", subresource] if subresource.starts_with(|c: char| c.is_ascii_lowercase()) => {
                (any(), any(), "*", Some(*subresource))
            }
            [first, second] if is_version(first) => (any(), (*first).to_owned(), *second, None),
            [kind, subresource] => (any(), any(), *kind, Some(*subresource)),
            [first, kind, subresource] if is_version(first) => {
                (any(), (*first).to_owned(), *kind, Some(*subresource))
            }
            [group, version, kind] => ((*group).to_owned(), (*version).to_owned(), *kind, None),
            [group, version, kind, subresource] => (
                (*group).to_owned(),
                (*version).to_owned(),
                *kind,
                Some(*subresource),
            ),
            _ => return None,
        };
        let (kind, subresource) = match subresource {
            Some(subresource) => (kind_part.to_owned(), subresource.to_owned()),
            None => match kind_part.split_once('.') {
                Some((kind, subresource)) => (kind.to_owned(), subresource.to_owned()),
                None => (kind_part.to_owned(), String::new()),
            },
        };
        if kind.is_empty() {
            return None;
        }
        Some(Self {
            group,
            version,
            kind,
            subresource,
        })
    }

    pub fn matches(&self, gvk: &Gvk, subresource: &str) -> bool {
        let subresource_matches = if self.subresource.is_empty() {
            // Kyverno keeps matching ephemeral-container updates with plain `Pod` for
            // backwards compatibility; every other subresource needs to be named.
            subresource.is_empty() || (gvk.kind == "Pod" && subresource == "ephemeralcontainers")
        } else {
            wildcard::matches(&self.subresource, subresource)
        };
        subresource_matches
            && wildcard::matches(&self.group, &gvk.group)
            && wildcard::matches(&self.version, &gvk.version)
            && wildcard::matches(&self.kind, &gvk.kind)
    }
}

/// `v1`, `v2beta3`, `*`: a version where Kyverno's grammar allows one in first position.
fn is_version(text: &str) -> bool {
    if text == "*" {
        return true;
    }
    let Some(rest) = text.strip_prefix('v') else {
        return false;
    };
    let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
    if digits == 0 {
        return false;
    }
    let rest = &rest[digits..];
    if rest.is_empty() {
        return true;
    }
    let Some(level) = rest
        .strip_prefix("alpha")
        .or_else(|| rest.strip_prefix("beta"))
    else {
        return false;
    };
    !level.is_empty() && level.bytes().all(|byte| byte.is_ascii_digit())
}

impl Subject {
    fn compile(spec: &SubjectSpec) -> Result<Self, String> {
        match spec.kind.as_str() {
            "User" => Ok(Self::User(spec.name.clone())),
            "Group" => Ok(Self::Group(spec.name.clone())),
            "ServiceAccount" => Ok(Self::ServiceAccount {
                namespace: spec.namespace.clone().unwrap_or_default(),
                name: spec.name.clone(),
            }),
            other => Err(format!(
                "unknown subject kind {other:?}: expected User, Group or ServiceAccount"
            )),
        }
    }

    fn matches(&self, user: &UserInfo) -> bool {
        match self {
            Self::User(name) => wildcard::matches(name, &user.username),
            Self::Group(name) => user
                .groups
                .iter()
                .any(|group| wildcard::matches(name, group)),
            Self::ServiceAccount { namespace, name } => wildcard::matches(
                &format!("system:serviceaccount:{namespace}:{name}"),
                &user.username,
            ),
        }
    }
}

impl LabelSelector {
    pub fn compile(spec: &LabelSelectorSpec) -> Result<Self, MatchSpecError> {
        let mut expressions = Vec::with_capacity(spec.match_expressions.len());
        for (index, requirement) in spec.match_expressions.iter().enumerate() {
            let field = || format!("matchExpressions[{index}]");
            let key = requirement.key.clone();
            let values = requirement.values.clone();
            let needs_values = |values: &Vec<String>| {
                if values.is_empty() {
                    Err(MatchSpecError {
                        field: format!("{}.values", field()),
                        message: format!(
                            "operator {} needs at least one value",
                            requirement.operator
                        ),
                    })
                } else {
                    Ok(())
                }
            };
            let no_values = |values: &Vec<String>| {
                if values.is_empty() {
                    Ok(())
                } else {
                    Err(MatchSpecError {
                        field: format!("{}.values", field()),
                        message: format!("operator {} takes no values", requirement.operator),
                    })
                }
            };
            expressions.push(match requirement.operator.as_str() {
                "In" => needs_values(&values).map(|()| LabelExpression::In(key, values))?,
                "NotIn" => needs_values(&values).map(|()| LabelExpression::NotIn(key, values))?,
                "Exists" => no_values(&values).map(|()| LabelExpression::Exists(key))?,
                "DoesNotExist" => {
                    no_values(&values).map(|()| LabelExpression::DoesNotExist(key))?
                }
                other => {
                    return Err(MatchSpecError {
                        field: format!("{}.operator", field()),
                        message: format!(
                            "unknown operator {other:?}: expected In, NotIn, Exists or DoesNotExist"
                        ),
                    });
                }
            });
        }
        Ok(Self {
            match_labels: spec
                .match_labels
                .iter()
                .map(|(key, value)| (key.clone(), value.clone()))
                .collect(),
            expressions,
        })
    }

    fn matches_object_labels(&self, labels: Option<&Map<String, Value>>) -> bool {
        let labels: BTreeMap<String, String> = labels
            .into_iter()
            .flatten()
            .filter_map(|(key, value)| value.as_str().map(|value| (key.clone(), value.to_owned())))
            .collect();
        self.matches_labels(&labels)
    }

    /// Kubernetes label-selector semantics, plus Kyverno's wildcard extension for matchLabels.
    pub fn matches_labels(&self, labels: &BTreeMap<String, String>) -> bool {
        let labels_match = self.match_labels.iter().all(|(key, value)| {
            if wildcard::has_wildcard(key) || wildcard::has_wildcard(value) {
                labels.iter().any(|(actual_key, actual_value)| {
                    wildcard::matches(key, actual_key) && wildcard::matches(value, actual_value)
                })
            } else {
                labels.get(key) == Some(value)
            }
        });
        labels_match
            && self.expressions.iter().all(|expression| match expression {
                LabelExpression::In(key, values) => {
                    labels.get(key).is_some_and(|value| values.contains(value))
                }
                LabelExpression::NotIn(key, values) => {
                    labels.get(key).is_none_or(|value| !values.contains(value))
                }
                LabelExpression::Exists(key) => labels.contains_key(key),
                LabelExpression::DoesNotExist(key) => !labels.contains_key(key),
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn selector(text: &str) -> KindSelector {
        KindSelector::parse(text).unwrap_or_else(|| panic!("{text} parses"))
    }

    #[test]
    fn kind_grammar() {
        let table = [
            ("Pod", ("*", "*", "Pod", "")),
            ("*", ("*", "*", "*", "")),
            ("*/*", ("*", "*", "*", "*")),
            ("*/status", ("*", "*", "*", "status")),
            ("v1/Pod", ("*", "v1", "Pod", "")),
            ("Pod/exec", ("*", "*", "Pod", "exec")),
            ("Pod.exec", ("*", "*", "Pod", "exec")),
            ("v1/Pod/eviction", ("*", "v1", "Pod", "eviction")),
            ("apps/v1/Deployment", ("apps", "v1", "Deployment", "")),
            (
                "networking.k8s.io/v1/NetworkPolicy/status",
                ("networking.k8s.io", "v1", "NetworkPolicy", "status"),
            ),
            ("tekton.dev/*/TaskRun", ("tekton.dev", "*", "TaskRun", "")),
            (
                "v2beta1/HorizontalPodAutoscaler",
                ("*", "v2beta1", "HorizontalPodAutoscaler", ""),
            ),
        ];
        for (text, (group, version, kind, subresource)) in table {
            let parsed = selector(text);
            assert_eq!(
                (
                    parsed.group.as_str(),
                    parsed.version.as_str(),
                    parsed.kind.as_str(),
                    parsed.subresource.as_str()
                ),
                (group, version, kind, subresource),
                "{text}"
            );
        }
        assert_eq!(KindSelector::parse("a/b/c/d/e"), None);
    }

    #[test]
    fn kind_matching() {
        let pod = Gvk::from_api_version("v1", "Pod");
        let deployment = Gvk::from_api_version("apps/v1", "Deployment");
        let cronjob_beta = Gvk::from_api_version("batch/v1beta1", "CronJob");
        let table = [
            ("Pod", &pod, "", true),
            ("Pod", &pod, "exec", false),
            ("Pod", &pod, "ephemeralcontainers", true),
            ("Pod/exec", &pod, "exec", true),
            ("v1/Pod", &pod, "", true),
            ("v2/Pod", &pod, "", false),
            ("apps/v1/Deployment", &deployment, "", true),
            ("Deployment", &deployment, "", true),
            ("batch/v1/CronJob", &cronjob_beta, "", false),
            ("*", &deployment, "", true),
            ("*/*", &pod, "status", true),
            ("pod", &pod, "", false),
        ];
        for (text, gvk, subresource, expected) in table {
            assert_eq!(
                selector(text).matches(gvk, subresource),
                expected,
                "{text} vs {gvk:?}/{subresource}"
            );
        }
    }

    #[test]
    fn label_selectors() {
        let labels: BTreeMap<String, String> = [("app", "web"), ("tier", "front")]
            .into_iter()
            .map(|(k, v)| (k.into(), v.into()))
            .collect();
        let spec = |yaml: serde_json::Value| -> LabelSelector {
            let spec: LabelSelectorSpec = serde_json::from_value(yaml).expect("selector spec");
            LabelSelector::compile(&spec).expect("valid selector")
        };
        use serde_json::json;
        let table = [
            (json!({"matchLabels": {"app": "web"}}), true),
            (json!({"matchLabels": {"app": "db"}}), false),
            (json!({"matchLabels": {"app": "w*"}}), true),
            (json!({"matchLabels": {"ti*": "fr?nt"}}), true),
            (
                json!({"matchExpressions": [{"key": "app", "operator": "In", "values": ["web", "api"]}]}),
                true,
            ),
            (
                json!({"matchExpressions": [{"key": "app", "operator": "NotIn", "values": ["web"]}]}),
                false,
            ),
            (
                json!({"matchExpressions": [{"key": "zone", "operator": "NotIn", "values": ["a"]}]}),
                true,
            ),
            (
                json!({"matchExpressions": [{"key": "tier", "operator": "Exists"}]}),
                true,
            ),
            (
                json!({"matchExpressions": [{"key": "tier", "operator": "DoesNotExist"}]}),
                false,
            ),
            (json!({}), true),
        ];
        for (yaml, expected) in table {
            assert_eq!(
                spec(yaml.clone()).matches_labels(&labels),
                expected,
                "{yaml}"
            );
        }
        let bad: LabelSelectorSpec =
            serde_json::from_value(json!({"matchExpressions": [{"key": "a", "operator": "Has"}]}))
                .expect("spec");
        assert!(LabelSelector::compile(&bad).is_err());
    }
}
