//! Reading policies from files and directories, and turning every problem into an error that
//! names the file, line and field.
//!
//! Loading is all-or-nothing: a set with any error is refused whole, so a half-loaded policy set
//! can never replace a complete one.

use super::compile::{self, Located};
use super::exception::{self, EXCEPTION_API_VERSIONS, ExceptionSet, PolicyException};
use super::spec::{ExceptionDocument, PolicyDocument};
use super::{Origin, Policy, PolicySet};
use crate::json_path::{JsonPath, Segment};
use crate::walk::{self, Hidden, Kind};
use crate::yaml::{self, Location};
use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

const POLICY_API_VERSIONS: [&str; 3] = [
    "kyverno.io/v1",
    "kyverno.io/v2beta1",
    "portcullis.dev/v1alpha1",
];
const POLICY_KINDS: [&str; 2] = ["ClusterPolicy", "Policy"];

/// Policy kinds of Kyverno and Kubernetes that Portcullis recognises but does not evaluate, by API
/// group. A document of one of these is an `unsupported` policy, never a pass and never "not a
/// policy": a set that holds one is refused like any other unsupported feature.
const UNEVALUATED_POLICY_KINDS: [(&str, &[&str]); 3] = [
    (
        "policies.kyverno.io",
        &[
            "ValidatingPolicy",
            "NamespacedValidatingPolicy",
            "MutatingPolicy",
            "NamespacedMutatingPolicy",
            "GeneratingPolicy",
            "NamespacedGeneratingPolicy",
            "DeletingPolicy",
            "NamespacedDeletingPolicy",
            "ImageValidatingPolicy",
            "NamespacedImageValidatingPolicy",
            "PolicyException",
        ],
    ),
    (
        "admissionregistration.k8s.io",
        &[
            "ValidatingAdmissionPolicy",
            "ValidatingAdmissionPolicyBinding",
            "MutatingAdmissionPolicy",
            "MutatingAdmissionPolicyBinding",
        ],
    ),
    (
        "kyverno.io",
        &[
            "CleanupPolicy",
            "ClusterCleanupPolicy",
            "GlobalContextEntry",
        ],
    ),
];

fn is_unevaluated_policy_kind(api_version: &str, kind: &str) -> bool {
    let group = api_version
        .rsplit_once('/')
        .map_or("", |(group, _version)| group);
    UNEVALUATED_POLICY_KINDS
        .iter()
        .any(|(known_group, kinds)| *known_group == group && kinds.contains(&kind))
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LoadErrorKind {
    Io,
    Yaml,
    Invalid,
    /// A Kyverno feature Portcullis does not evaluate; refused rather than ignored.
    Unsupported {
        feature: String,
        policy: String,
        rule: String,
    },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoadError {
    pub kind: LoadErrorKind,
    pub file: PathBuf,
    pub location: Option<Location>,
    pub message: String,
}

impl fmt::Display for LoadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let file = self.file.display();
        match (&self.kind, self.location) {
            (
                LoadErrorKind::Unsupported {
                    feature,
                    policy,
                    rule,
                },
                location,
            ) => {
                let line = location.map_or(0, |location| location.line);
                // A whole policy kind has no rule to name.
                let place = if rule.is_empty() {
                    policy.clone()
                } else {
                    format!("{policy}/{rule}")
                };
                write!(f, "unsupported: {feature} in {place} ({file}:{line})")
            }
            (_, Some(location)) => write!(
                f,
                "{file}:{}:{}: {}",
                location.line, location.column, self.message
            ),
            (_, None) => write!(f, "{file}: {}", self.message),
        }
    }
}

impl std::error::Error for LoadError {}

/// Loads every `*.yaml` / `*.yml` under the given files and directories into one set.
pub fn load_paths(paths: &[PathBuf]) -> Result<PolicySet, Vec<LoadError>> {
    load_paths_with(paths, &mut LoadOptions::default()).map(|loaded| loaded.set)
}

/// How [`load_paths_with`] treats what is not a policy it can load. The default is
/// [`load_paths`]: everything is an error.
#[derive(Default)]
pub struct LoadOptions<'a> {
    /// In a directory walk, documents that are not policies at all — Kyverno's test files
    /// (`cli.kyverno.io`) and the resources beside them — are skipped with a note, as in
    /// Kyverno's repository layout. A file named explicitly is always read whole.
    pub skip_foreign: bool,
    /// A policy with an unsupported feature is left out (listed in [`Loaded::refused`]) instead
    /// of refusing the set.
    pub skip_unsupported: bool,
    /// Decides per entry of a directory walk, given the path relative to the directory named,
    /// whether a directory is entered and a file read.
    pub keep: Option<KeepEntry<'a>>,
}

/// Whether a directory walk enters a directory or reads a file, by its relative path.
pub type KeepEntry<'a> = &'a mut dyn FnMut(&Path, Kind) -> bool;

/// A set loaded with [`load_paths_with`], and what was left out of it.
#[derive(Debug, Default)]
pub struct Loaded {
    pub set: PolicySet,
    /// Documents skipped as not policies, `file:line: why`.
    pub notes: Vec<String>,
    /// Policies left out for an unsupported feature, one error each.
    pub refused: Vec<LoadError>,
}

/// API groups whose documents may be policies; a document of any other group found in a
/// policy directory is not one, whatever its kind.
const POLICY_GROUPS: [&str; 4] = [
    "kyverno.io",
    "policies.kyverno.io",
    "portcullis.dev",
    "admissionregistration.k8s.io",
];

/// [`load_paths`], with the leniencies `options` asks for.
pub fn load_paths_with(
    paths: &[PathBuf],
    options: &mut LoadOptions<'_>,
) -> Result<Loaded, Vec<LoadError>> {
    let mut files = Vec::new();
    let mut errors = Vec::new();
    for path in paths {
        let mut keep_all = |_: &Path, _: Kind| true;
        let keep = match options.keep.as_deref_mut() {
            Some(keep) => keep,
            None => &mut keep_all,
        };
        if let Err(failed) = collect_policy_files(path, &mut files, keep) {
            errors.push(io_error(&failed.path, &failed.source));
        }
    }
    let mut loaded = Loaded::default();
    for (file, walked) in &files {
        match std::fs::read_to_string(file) {
            Ok(text) => {
                let leniency = Leniency {
                    skip_foreign: *walked && options.skip_foreign,
                    skip_unsupported: options.skip_unsupported,
                };
                if let Err(mut file_errors) = load_text(&text, file, leniency, &mut loaded) {
                    errors.append(&mut file_errors);
                }
            }
            Err(error) => errors.push(io_error(file, &error)),
        }
    }
    check_unique_names(&loaded.set.policies, &mut errors);
    check_unique_exceptions(&loaded.set.exceptions, &mut errors);
    if errors.is_empty() {
        Ok(loaded)
    } else {
        Err(errors)
    }
}

#[derive(Debug, Clone, Copy, Default)]
struct Leniency {
    skip_foreign: bool,
    skip_unsupported: bool,
}

/// The group of a document's `apiVersion` when the document is plainly not a policy: a
/// Kubernetes object of a group that holds none (core `v1` included).
fn foreign_group(value: &serde_json::Value) -> Option<&str> {
    let api_version = value.get("apiVersion")?.as_str()?;
    let group = api_version.rsplit_once('/').map_or("", |(group, _)| group);
    (!POLICY_GROUPS.contains(&group)).then_some(group)
}

/// Compiles every policy document of one file's text; `file` is used only in messages. A
/// PolicyException in it is an error: [`load_str_set`] reads those too.
pub fn load_str(text: &str, file: &Path) -> Result<Vec<Policy>, Vec<LoadError>> {
    let set = load_str_set(text, file)?;
    if let Some(exception) = set.exceptions.first() {
        return Err(vec![not_here(
            &exception.origin,
            format!("PolicyException {:?}", exception.key),
            "only policies are read here",
        )]);
    }
    // Just compiled, so nothing else holds them.
    Ok(set
        .policies
        .into_iter()
        .map(|policy| Arc::try_unwrap(policy).unwrap_or_else(|shared| (*shared).clone()))
        .collect())
}

/// Compiles every policy and PolicyException document of one file's text.
pub fn load_str_set(text: &str, file: &Path) -> Result<PolicySet, Vec<LoadError>> {
    let mut loaded = Loaded::default();
    load_text(text, file, Leniency::default(), &mut loaded)?;
    Ok(loaded.set)
}

/// Loads the PolicyExceptions of the given files and directories (`--exceptions`); any other
/// document there is an error.
pub fn load_exception_paths(
    paths: &[PathBuf],
) -> Result<Vec<Arc<PolicyException>>, Vec<LoadError>> {
    let set = load_paths(paths)?;
    let errors: Vec<LoadError> = set
        .policies
        .iter()
        .map(|policy| {
            not_here(
                &policy.origin,
                format!("policy {:?}", policy.qualified_name()),
                "only PolicyExceptions are read from --exceptions",
            )
        })
        .collect();
    if errors.is_empty() {
        Ok(set.exceptions.into_vec())
    } else {
        Err(errors)
    }
}

/// `set` with `exceptions` added after its own; an exception named like one already in the set
/// is an error.
pub fn with_exceptions(
    mut set: PolicySet,
    exceptions: Vec<Arc<PolicyException>>,
) -> Result<PolicySet, Vec<LoadError>> {
    let mut all = std::mem::take(&mut set.exceptions).into_vec();
    for exception in exceptions {
        // A file named both as policies and as exceptions is read once.
        let again = all
            .iter()
            .any(|known| known.key == exception.key && known.origin == exception.origin);
        if !again {
            all.push(exception);
        }
    }
    set.exceptions = ExceptionSet::new(all);
    let mut errors = Vec::new();
    check_unique_exceptions(&set.exceptions, &mut errors);
    if errors.is_empty() {
        Ok(set)
    } else {
        Err(errors)
    }
}

fn not_here(origin: &Origin, what: String, why: &str) -> LoadError {
    LoadError {
        kind: LoadErrorKind::Invalid,
        file: origin.file.clone(),
        location: Some(Location {
            line: origin.line,
            column: 1,
        }),
        message: format!("{what}: {why}"),
    }
}

/// Adds the policies of one file's text to `loaded`, or gives the file's errors.
fn load_text(
    text: &str,
    file: &Path,
    leniency: Leniency,
    loaded: &mut Loaded,
) -> Result<(), Vec<LoadError>> {
    let documents = yaml::parse_documents(text).map_err(|error| {
        vec![LoadError {
            kind: LoadErrorKind::Yaml,
            file: file.to_owned(),
            location: Some(error.location),
            message: format!("invalid YAML: {}", error.message),
        }]
    })?;
    let mut policies = Vec::new();
    let mut exceptions = Vec::new();
    let mut errors = Vec::new();
    for document in &documents {
        if document.value.is_null() {
            continue;
        }
        if leniency.skip_foreign {
            if let Some(group) = foreign_group(&document.value) {
                let kind = document.value.get("kind").and_then(|kind| kind.as_str());
                loaded.notes.push(format!(
                    "{}:{}: skipped document {}: {} ({}) is not a policy",
                    file.display(),
                    document.start.line,
                    document.index + 1,
                    kind.unwrap_or("a document without kind"),
                    if group.is_empty() {
                        "core API group"
                    } else {
                        group
                    }
                ));
                continue;
            }
        }
        let located = Located { file, document };
        match load_document(&located) {
            Ok(Loadable::Policy(policy)) => policies.push(policy),
            Ok(Loadable::Exception(exception)) => exceptions.push(exception),
            Err(document_errors)
                if leniency.skip_unsupported
                    && document_errors
                        .iter()
                        .all(|error| matches!(error.kind, LoadErrorKind::Unsupported { .. })) =>
            {
                loaded.refused.extend(document_errors);
            }
            Err(mut document_errors) => errors.append(&mut document_errors),
        }
    }
    check_unique_names(&policies, &mut errors);
    check_unique_exceptions(&exceptions, &mut errors);
    if errors.is_empty() {
        loaded
            .set
            .policies
            .extend(policies.into_iter().map(Arc::new));
        let mut all = std::mem::take(&mut loaded.set.exceptions).into_vec();
        all.extend(exceptions.into_iter().map(Arc::new));
        loaded.set.exceptions = ExceptionSet::new(all);
        Ok(())
    } else {
        Err(errors)
    }
}

/// What one document compiles to.
enum Loadable {
    Policy(Policy),
    Exception(PolicyException),
}

fn load_document(located: &Located<'_>) -> Result<Loadable, Vec<LoadError>> {
    let value = &located.document.value;
    let text_at = |key: &str| {
        value
            .get(key)
            .and_then(|field| field.as_str())
            .unwrap_or("")
    };
    let (api_version, kind) = (text_at("apiVersion"), text_at("kind"));
    if is_unevaluated_policy_kind(api_version, kind) {
        let name = value
            .get("metadata")
            .and_then(|metadata| metadata.get("name"))
            .and_then(|name| name.as_str())
            .unwrap_or("");
        return Err(vec![located.unsupported(
            &JsonPath::root().child_key("kind"),
            kind,
            name,
            "",
        )]);
    }
    if kind == "PolicyException" && api_version.starts_with("kyverno.io/") {
        return load_exception(located, api_version).map(Loadable::Exception);
    }
    if !POLICY_KINDS.contains(&kind) {
        let field = if value.get("kind").is_some() {
            "kind"
        } else {
            ""
        };
        return Err(vec![located.invalid(
            &JsonPath::root().child_key(field),
            format!(
                "document {} is not a policy (kind {kind:?}); expected ClusterPolicy, Policy or PolicyException",
                located.document.index + 1
            ),
        )]);
    }
    if !POLICY_API_VERSIONS.contains(&api_version) {
        return Err(vec![located.invalid(
            &JsonPath::root().child_key("apiVersion"),
            format!(
                "unsupported apiVersion {api_version:?} for {kind}; expected one of {}",
                POLICY_API_VERSIONS.join(", ")
            ),
        )]);
    }
    let document: PolicyDocument = serde_path_to_error::deserialize(value).map_err(|error| {
        let (path, message) = describe_deserialize_error(&error);
        vec![located.invalid(&path, message)]
    })?;
    compile::compile_policy(&document, located).map(Loadable::Policy)
}

fn load_exception(
    located: &Located<'_>,
    api_version: &str,
) -> Result<PolicyException, Vec<LoadError>> {
    if !EXCEPTION_API_VERSIONS.contains(&api_version) {
        return Err(vec![located.invalid(
            &JsonPath::root().child_key("apiVersion"),
            format!(
                "unsupported apiVersion {api_version:?} for PolicyException; expected one of {}",
                EXCEPTION_API_VERSIONS.join(", ")
            ),
        )]);
    }
    let document: ExceptionDocument = serde_path_to_error::deserialize(&located.document.value)
        .map_err(|error| {
            let (path, message) = describe_deserialize_error(&error);
            vec![located.invalid(&path, message)]
        })?;
    exception::compile_exception(&document, located)
}

/// Turns serde's path and message into a JSON path that points at the offending key itself
/// (serde reports an unknown field at its parent) and a message naming the field.
fn describe_deserialize_error(
    error: &serde_path_to_error::Error<serde_json::Error>,
) -> (JsonPath, String) {
    let mut path = JsonPath::root();
    for segment in error.path().iter() {
        match segment {
            serde_path_to_error::Segment::Seq { index } => path.push_index(*index),
            serde_path_to_error::Segment::Map { key } => path.push_key(key.clone()),
            serde_path_to_error::Segment::Enum { .. } | serde_path_to_error::Segment::Unknown => {}
        }
    }
    let inner = error.inner().to_string();
    if let Some(field) = backticked(&inner, "unknown field `") {
        // serde_path_to_error's path already ends with the unknown key.
        if !matches!(path.segments().last(), Some(Segment::Key(key)) if key == field) {
            path.push_key(field);
        }
        let parent = path.parent().dotted();
        let place = if parent.is_empty() {
            String::from("the document")
        } else {
            parent
        };
        let expected = inner
            .split_once(", expected")
            .map(|(_, rest)| format!(" (expected{rest})"))
            .unwrap_or_default();
        return (
            path,
            format!("unknown field {field:?} in {place}{expected}"),
        );
    }
    if let Some(field) = backticked(&inner, "missing field `") {
        let place = if path.is_root() {
            String::from("the document")
        } else {
            path.dotted()
        };
        return (path, format!("missing required field {field:?} in {place}"));
    }
    let field = if path.is_root() {
        String::from("document")
    } else {
        path.dotted()
    };
    (path, format!("{field}: {inner}"))
}

fn backticked<'a>(text: &'a str, prefix: &str) -> Option<&'a str> {
    let rest = text.strip_prefix(prefix)?;
    rest.split_once('`').map(|(field, _)| field)
}

/// Exceptions are named by namespace and name, as in the cluster.
fn check_unique_exceptions<E: std::borrow::Borrow<PolicyException>>(
    exceptions: &[E],
    errors: &mut Vec<LoadError>,
) {
    let mut seen: HashMap<&str, &PolicyException> = HashMap::new();
    for exception in exceptions.iter().map(E::borrow) {
        if let Some(first) = seen.get(exception.key.as_str()) {
            if first.origin == exception.origin {
                continue;
            }
            let already = not_here(
                &exception.origin,
                format!("duplicate PolicyException name {:?}", exception.key),
                &format!("already defined at {}", first.origin),
            );
            if !errors.contains(&already) {
                errors.push(already);
            }
        } else {
            seen.insert(&exception.key, exception);
        }
    }
}

fn check_unique_names<P: std::borrow::Borrow<Policy>>(policies: &[P], errors: &mut Vec<LoadError>) {
    let mut seen: HashMap<(Option<&str>, &str), &Policy> = HashMap::new();
    for policy in policies.iter().map(P::borrow) {
        let key = (policy.namespace.as_deref(), policy.name.as_str());
        if let Some(first) = seen.get(&key) {
            if first.origin == policy.origin {
                continue;
            }
            let already = LoadError {
                kind: LoadErrorKind::Invalid,
                file: policy.origin.file.clone(),
                location: Some(Location {
                    line: policy.origin.line,
                    column: 1,
                }),
                message: format!(
                    "duplicate policy name {:?}: already defined at {}",
                    policy.qualified_name(),
                    first.origin
                ),
            };
            if !errors.contains(&already) {
                errors.push(already);
            }
        } else {
            seen.insert(key, policy);
        }
    }
}

/// Collects policy files in a stable order. Entries starting with `.` are skipped: Kubernetes
/// mounts ConfigMaps with `..data` and timestamped `..2024_…` directories beside the
/// symlinks, and reading those too would load every policy twice. Only a regular file is read as
/// given; anything else is walked as a directory, so a pipe or device fails here by name instead
/// of blocking a load or a reload.
/// Each file comes with whether it was found by walking a directory.
fn collect_policy_files(
    path: &Path,
    files: &mut Vec<(PathBuf, bool)>,
    keep: &mut dyn FnMut(&Path, Kind) -> bool,
) -> Result<(), walk::WalkError> {
    let metadata = std::fs::metadata(path).map_err(|source| walk::WalkError {
        path: path.to_owned(),
        source,
    })?;
    if metadata.is_file() {
        files.push((path.to_owned(), false));
        return Ok(());
    }
    let mut found = Vec::new();
    let walked = walk::dir(path, Hidden::Skip, &mut found, |entry, kind| {
        !is_kustomization(entry)
            && (kind == Kind::Dir
                || entry
                    .extension()
                    .and_then(|ext| ext.to_str())
                    .is_some_and(|ext| ext == "yaml" || ext == "yml"))
            && keep(entry.strip_prefix(path).unwrap_or(entry), kind)
    });
    files.extend(found.into_iter().map(|file| (file, true)));
    walked
}

/// Kustomize's own file, which lives beside policies so that deployments can generate their
/// ConfigMap from the same folder.
pub(crate) fn is_kustomization(path: &Path) -> bool {
    path.file_name()
        .and_then(|name| name.to_str())
        .is_some_and(|name| {
            matches!(
                name,
                "kustomization.yaml" | "kustomization.yml" | "Kustomization"
            )
        })
}

fn io_error(path: &Path, error: &std::io::Error) -> LoadError {
    LoadError {
        kind: LoadErrorKind::Io,
        file: path.to_owned(),
        location: None,
        message: format!("cannot read: {error}"),
    }
}

impl Located<'_> {
    /// The best location for a field: its key when it exists, else the nearest node above it.
    pub(super) fn locate(&self, path: &JsonPath) -> Location {
        let map = &self.document.source_map;
        map.key(path)
            .or_else(|| map.nearest(path))
            .unwrap_or(self.document.start)
    }

    pub(super) fn invalid(&self, path: &JsonPath, message: String) -> LoadError {
        LoadError {
            kind: LoadErrorKind::Invalid,
            file: self.file.to_owned(),
            location: Some(self.locate(path)),
            message,
        }
    }

    pub(super) fn unsupported(
        &self,
        path: &JsonPath,
        feature: &str,
        policy: &str,
        rule: &str,
    ) -> LoadError {
        LoadError {
            kind: LoadErrorKind::Unsupported {
                feature: feature.to_owned(),
                policy: policy.to_owned(),
                rule: rule.to_owned(),
            },
            file: self.file.to_owned(),
            location: Some(self.locate(path)),
            message: format!("{feature} is not supported"),
        }
    }
}
