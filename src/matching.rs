//! `match` / `exclude`: which rules apply to which requests.
//!
//! Filters are compiled from the wire types once; matching a request is then a walk over small
//! typed lists. Kind entries follow Kyverno's `group/version/Kind/subresource` grammar and every
//! name, namespace, kind and annotation comparison uses Kyverno's wildcard, as Kyverno does.

use crate::pattern::wildcard::{self, Wildcard};
use crate::policy::spec::{FilterSpec, MatchSpec, ResourceSpec, SubjectSpec};
use serde_json::{Map, Value};
use std::collections::BTreeMap;
use std::fmt;

mod kind;
mod selector;

pub use kind::KindSelector;
pub use selector::{LabelExpression, LabelSelector, labels_of};

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
/// The label the apiserver sets on every namespace to its name.
pub const NAMESPACE_NAME_LABEL: &str = "kubernetes.io/metadata.name";

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
    /// Why labels can be unknown here and how to supply them: the end of the error a
    /// `namespaceSelector` answers when `namespace_labels` is `None`.
    pub unknown_namespace_hint: &'a str,
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
    /// Name, namespace and annotation wildcards, compiled at load: every review tests them.
    pub names: Vec<Wildcard>,
    pub namespaces: Vec<Wildcard>,
    pub annotations: Vec<(Wildcard, Wildcard)>,
    pub selector: Option<LabelSelector>,
    pub namespace_selector: Option<LabelSelector>,
    pub operations: Vec<Operation>,
    pub roles: Vec<String>,
    pub cluster_roles: Vec<String>,
    pub subjects: Vec<Subject>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Subject {
    User(String),
    Group(String),
    ServiceAccount { namespace: String, name: String },
}

/// Whether a filter is judging inclusion (`match`) or exclusion: absent user info is ignored by
/// the former and never matches in the latter, so offline checks exclude nothing by user.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Side {
    Match,
    Exclude,
    /// A PolicyException's `match`, which Kyverno judges with a matcher of its own: it ignores
    /// `operations`, leaves `namespaceSelector` out for a Namespace, and judges user info
    /// against an empty user when the request has none.
    Exception,
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

    /// A PolicyException's match block (see [`Side::Exception`]).
    pub fn matches_exception(&self, target: &MatchTarget<'_>) -> Result<bool, MatchError> {
        self.evaluate(target, Side::Exception)
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
        filter.names = (resources.name.iter())
            .chain(resources.names.iter().flatten())
            .map(|name| Wildcard::new(name))
            .collect();
        filter.namespaces = (resources.namespaces.iter().flatten())
            .map(|namespace| Wildcard::new(namespace))
            .collect();
        filter.annotations = (resources.annotations.iter().flatten())
            .map(|(key, value)| (Wildcard::new(key), Wildcard::new(value)))
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

    /// Whether this filter reads the labels of the request's namespace.
    pub fn reads_namespace_labels(&self) -> bool {
        self.namespace_selector.is_some()
    }

    /// Whether this filter reads the RBAC roles bound to the requester.
    pub fn reads_requester_roles(&self) -> bool {
        !(self.roles.is_empty() && self.cluster_roles.is_empty())
    }

    fn has_user_attributes(&self) -> bool {
        !(self.roles.is_empty() && self.cluster_roles.is_empty() && self.subjects.is_empty())
    }

    /// The `metadata` keys of the object this filter reads, besides `name`.
    pub fn metadata_keys(&self) -> impl Iterator<Item = &'static str> {
        [
            (!self.names.is_empty(), "generateName"),
            (!self.annotations.is_empty(), "annotations"),
            (self.selector.is_some(), "labels"),
        ]
        .into_iter()
        .filter_map(|(read, key)| read.then_some(key))
    }

    /// Whether autogen may rewrite rules using this filter: it must not pick pods by identity.
    pub fn selects_by_identity(&self) -> bool {
        !self.names.is_empty() || self.selector.is_some() || !self.annotations.is_empty()
    }

    fn matches(&self, target: &MatchTarget<'_>, side: Side) -> Result<bool, MatchError> {
        if !self.has_resource_attributes() && !self.has_user_attributes() {
            return Ok(false);
        }
        if side != Side::Exception
            && !self.operations.is_empty()
            && !self.operations.contains(&target.operation)
        {
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
            if !self.names.iter().any(|pattern| pattern.matches(name)) {
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
                .any(|pattern| pattern.matches(namespace))
            {
                return Ok(false);
            }
        }
        if !self.annotations.is_empty() {
            let actual = target.metadata_map("annotations");
            let all_present = self.annotations.iter().all(|(key, value)| {
                actual.is_some_and(|actual| {
                    actual.iter().any(|(actual_key, actual_value)| {
                        key.matches(actual_key)
                            && actual_value
                                .as_str()
                                .is_some_and(|actual_value| value.matches(actual_value))
                    })
                })
            });
            if !all_present {
                return Ok(false);
            }
        }
        if let Some(selector) = &self.selector {
            if !selector
                .matches_object_labels(target.metadata().and_then(|meta| meta.get("labels")))
            {
                return Ok(false);
            }
        }
        let namespace_object = target.gvk.kind == "Namespace" && target.gvk.group.is_empty();
        if let Some(selector) = self
            .namespace_selector
            .as_ref()
            .filter(|_| !(namespace_object && side == Side::Exception))
        {
            if namespace_object {
                return Ok(false);
            }
            let only_name;
            let labels = match target.namespace_labels {
                Some(labels) => labels,
                // The apiserver sets this one label on every namespace, so a selector on it alone
                // is decided by the name.
                None if selector.keys().all(|key| key == NAMESPACE_NAME_LABEL) => {
                    only_name = BTreeMap::from([(
                        NAMESPACE_NAME_LABEL.to_owned(),
                        target.namespace.to_owned(),
                    )]);
                    &only_name
                }
                None => {
                    return Err(MatchError(format!(
                        "namespace {:?} is unknown: its labels are not available ({}), so its namespaceSelector cannot be evaluated",
                        target.namespace, target.unknown_namespace_hint
                    )));
                }
            };
            if !selector.matches_labels(labels) {
                return Ok(false);
            }
        }
        if self.has_user_attributes() {
            match (target.user, side) {
                (None, Side::Match) => {}
                (None, Side::Exclude) => return Ok(false),
                (None, Side::Exception) => {
                    if !self.matches_user(&UserInfo::default()) {
                        return Ok(false);
                    }
                }
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
