//! Inputs of `check`: files, directories and stdin, read into documents and Kubernetes
//! manifests, each manifest remembering where it was written.

use super::discover::{self, PathFilter};
use super::progress::Progress;
use crate::json_path::JsonPath;
use crate::matching::Gvk;
use crate::yaml::{self, Document, Location, SourceMap, YamlError};
use rayon::prelude::*;
use serde_json::Value;
use std::fmt;
use std::path::{Path, PathBuf};

/// Kinds that live outside namespaces. Every other kind, custom resources included, is treated
/// as namespaced and defaults to namespace `default`, as `kubectl apply` would place it.
const CLUSTER_SCOPED_KINDS: [&str; 27] = [
    "APIService",
    "CSIDriver",
    "CSINode",
    "CertificateSigningRequest",
    "ClusterIssuer",
    "ClusterPolicy",
    "ClusterPolicyReport",
    "ClusterRole",
    "ClusterRoleBinding",
    "ComponentStatus",
    "CustomResourceDefinition",
    "FlowSchema",
    "IngressClass",
    "MutatingWebhookConfiguration",
    "Namespace",
    "Node",
    "PersistentVolume",
    "PodSecurityPolicy",
    "PriorityClass",
    "PriorityLevelConfiguration",
    "RuntimeClass",
    "StorageClass",
    "ValidatingAdmissionPolicy",
    "ValidatingAdmissionPolicyBinding",
    "ValidatingWebhookConfiguration",
    "VolumeAttachment",
    "ClusterImagePolicy",
];

pub fn is_cluster_scoped(kind: &str) -> bool {
    CLUSTER_SCOPED_KINDS.contains(&kind)
}

/// One input file, parsed; `name` is how reports refer to it (`-` is stdin).
#[derive(Debug)]
pub struct SourceFile {
    pub name: String,
    pub documents: Vec<Document>,
}

/// A Kubernetes object found in the input: a whole document or one item of a `List`.
#[derive(Debug, Clone)]
pub struct Manifest {
    pub file: usize,
    pub document: usize,
    /// Where the object sits inside its document: root, or `/items/N` for a `List` item.
    pub base: JsonPath,
    pub gvk: Gvk,
    /// Defaulted to `default` for namespaced kinds written without one; `""` when cluster-scoped.
    pub namespace: String,
    pub name: String,
}

/// An input that could not be checked: an unreadable file, invalid YAML, half a Kubernetes
/// object, or an input that held nothing to check. Each makes `check` exit 2.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InputError {
    /// The report name of the file (`-` for stdin).
    pub file: String,
    /// Where in the file, when the problem has a place.
    pub location: Option<Location>,
    pub message: String,
}

impl InputError {
    pub fn new(
        file: impl Into<String>,
        location: Option<Location>,
        message: impl Into<String>,
    ) -> Self {
        Self {
            file: file.into(),
            location,
            message: message.into(),
        }
    }
}

impl fmt::Display for InputError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.location {
            Some(location) => write!(f, "{}:{location}: {}", self.file, self.message),
            None => write!(f, "{}: {}", self.file, self.message),
        }
    }
}

#[derive(Debug, Default)]
pub struct Inputs {
    pub files: Vec<SourceFile>,
    pub manifests: Vec<Manifest>,
    /// Each makes `check` exit 2.
    pub errors: Vec<InputError>,
    /// Documents that were skipped as not being Kubernetes objects, for `--verbose`.
    pub notes: Vec<String>,
}

impl Inputs {
    pub fn object(&self, manifest: &Manifest) -> &Value {
        let document = &self.files[manifest.file].documents[manifest.document].value;
        resolve(document, &manifest.base).unwrap_or(&Value::Null)
    }

    /// Where the node at `path` inside the manifest was written (the nearest existing node above
    /// it when the field is missing).
    pub fn locate(&self, manifest: &Manifest, path: Option<&JsonPath>) -> Location {
        let document = &self.files[manifest.file].documents[manifest.document];
        let full = match path {
            Some(path) => manifest.base.join(path),
            None => manifest.base.clone(),
        };
        document.source_map.nearest(&full).unwrap_or(document.start)
    }
}

fn resolve<'v>(value: &'v Value, path: &JsonPath) -> Option<&'v Value> {
    path.segments()
        .iter()
        .try_fold(value, |value, segment| match segment {
            crate::json_path::Segment::Key(key) => value.get(key),
            crate::json_path::Segment::Index(index) => value.get(index),
        })
}

/// How `check` reads its inputs.
#[derive(Debug)]
pub struct ReadOptions {
    pub filter: PathFilter,
    /// The namespace of a namespaced object written without one (`kubectl apply -n`).
    pub default_namespace: String,
    /// An input that yields nothing to check is accepted instead of being an error.
    pub allow_empty: bool,
}

impl Default for ReadOptions {
    fn default() -> Self {
        Self {
            filter: PathFilter::default(),
            default_namespace: "default".to_owned(),
            allow_empty: false,
        }
    }
}

/// The name standard input goes by in reports.
pub const STDIN_NAME: &str = "-";

/// Why an empty input is refused, after what was empty: a gate that read nothing has checked
/// nothing, and a pipe hides the failure of the command that should have filled it.
const EMPTY_IS_AN_ERROR: &str =
    "nothing was checked, so passing would be vacuous (--allow-empty accepts an empty input)";

/// Reads every path (`-` is stdin) with the default options.
pub fn read(paths: &[PathBuf], stdin: impl FnOnce() -> std::io::Result<String>) -> Inputs {
    read_with(paths, stdin, &ReadOptions::default(), &Progress::hidden())
}

/// Reads every path (`-` is stdin); directories are walked as [`discover`] says. Documents are
/// parsed in parallel on the current rayon pool, and kept in input order.
pub fn read_with(
    paths: &[PathBuf],
    stdin: impl FnOnce() -> std::io::Result<String>,
    options: &ReadOptions,
    progress: &Progress,
) -> Inputs {
    let mut inputs = Inputs::default();
    let texts = read_texts(paths, stdin, options, &mut inputs.errors);
    let pieces: Vec<(usize, usize, &str)> = texts
        .iter()
        .enumerate()
        .flat_map(|(file, (_, text))| {
            split_stream(text)
                .into_iter()
                .map(move |(lines_before, piece)| (file, lines_before, piece))
        })
        .collect();
    progress.start("parsing documents", pieces.len());
    let parsed: Vec<Result<Vec<Document>, YamlError>> = pieces
        .par_iter()
        .map(|&(_, lines_before, piece)| {
            let parsed = yaml::parse_documents(piece).map_err(|mut error| {
                error.location.line += lines_before;
                error
            });
            progress.advance();
            parsed
        })
        .collect();
    let mut per_file: Vec<Result<Vec<Document>, YamlError>> =
        texts.iter().map(|_| Ok(Vec::new())).collect();
    for (&(file, lines_before, _), result) in pieces.iter().zip(parsed) {
        let Ok(documents) = &mut per_file[file] else {
            continue;
        };
        match result {
            Ok(parsed) => {
                for mut document in parsed {
                    document.rebase(documents.len(), lines_before);
                    documents.push(document);
                }
            }
            Err(error) => per_file[file] = Err(error),
        }
    }
    for ((name, text), result) in texts.into_iter().zip(per_file) {
        match result {
            Ok(documents) => {
                if name == STDIN_NAME
                    && !options.allow_empty
                    && documents.iter().all(|document| document.value.is_null())
                {
                    inputs.errors.push(InputError::new(
                        STDIN_NAME,
                        None,
                        format!("no documents on standard input; did the command piped into portcullis fail? {EMPTY_IS_AN_ERROR}"),
                    ));
                }
                let file = inputs.files.len();
                inputs.files.push(SourceFile { name, documents });
                collect_manifests(&mut inputs, file, &options.default_namespace);
            }
            Err(error) if is_template(&text) => inputs.notes.push(format!(
                "{name}: skipped: a template ({{{{ }}}}) that is not YAML until rendered; check the rendered output, e.g. `helm template … | portcullis check -` ({}: {})",
                error.location, error.message
            )),
            Err(error) => inputs.errors.push(InputError::new(
                name,
                Some(error.location),
                format!("invalid YAML: {}", error.message),
            )),
        }
    }
    if !options.allow_empty && inputs.manifests.is_empty() && inputs.errors.is_empty() {
        inputs.errors.push(InputError::new(
            paths
                .iter()
                .map(|path| path.display().to_string())
                .collect::<Vec<_>>()
                .join(", "),
            None,
            format!(
                "no Kubernetes objects in {} file(s) read (--verbose lists what was skipped); {EMPTY_IS_AN_ERROR}",
                inputs.files.len()
            ),
        ));
    }
    inputs
}

/// Reads the text of every input file, in order; unreadable ones become errors.
fn read_texts(
    paths: &[PathBuf],
    stdin: impl FnOnce() -> std::io::Result<String>,
    options: &ReadOptions,
    errors: &mut Vec<InputError>,
) -> Vec<(String, String)> {
    let mut texts = Vec::new();
    let mut stdin = Some(stdin);
    for path in paths {
        if path == Path::new(STDIN_NAME) {
            match stdin.take().map(|read| read()) {
                Some(Ok(text)) => texts.push((STDIN_NAME.to_owned(), text)),
                Some(Err(error)) => errors.push(InputError::new(
                    STDIN_NAME,
                    None,
                    format!("cannot read standard input: {error}"),
                )),
                None => errors.push(InputError::new(
                    STDIN_NAME,
                    None,
                    "standard input given more than once",
                )),
            }
            continue;
        }
        let found = match discover::files(path, &options.filter) {
            Ok(found) => found,
            Err(error) => {
                errors.push(InputError::new(
                    path.display().to_string(),
                    None,
                    format!("cannot read: {error}"),
                ));
                continue;
            }
        };
        if found.is_empty() && !options.allow_empty {
            errors.push(InputError::new(
                path.display().to_string(),
                None,
                format!(
                    "no .yaml, .yml or .json files in this directory{}; {EMPTY_IS_AN_ERROR}",
                    if options.filter.is_active() {
                        " that --include/--exclude let through"
                    } else {
                        ""
                    }
                ),
            ));
        }
        for file in found {
            match std::fs::read_to_string(&file) {
                Ok(text) => texts.push((file.display().to_string(), text)),
                Err(error) => errors.push(InputError::new(
                    file.display().to_string(),
                    None,
                    format!("cannot read: {error}"),
                )),
            }
        }
    }
    texts
}

/// A Helm chart's `templates/` file (or any Go template): `{{ }}` actions make it YAML only
/// after rendering. Only consulted once the file has failed to parse, so a rendered manifest
/// that merely contains braces in a string is still checked.
fn is_template(text: &str) -> bool {
    text.find("{{")
        .is_some_and(|open| text[open..].contains("}}"))
}

/// Splits a stream before each `---` marker line, with the number of lines before each piece,
/// so that documents can be parsed in parallel. YAML forbids a line that starts with `---` and a
/// blank inside any content, so such a line always starts a new document; the pieces parse to
/// exactly the documents of the whole. Directives (`%YAML`, `%TAG`) belong to the document after
/// them, so a stream with any is kept whole.
fn split_stream(text: &str) -> Vec<(usize, &str)> {
    let mut pieces = Vec::new();
    let (mut start, mut start_line, mut offset) = (0, 0, 0);
    for (line, raw) in text.split_inclusive('\n').enumerate() {
        if raw.starts_with('%') {
            return vec![(0, text)];
        }
        if offset > start && is_document_marker(raw) {
            pieces.push((start_line, &text[start..offset]));
            (start, start_line) = (offset, line);
        }
        offset += raw.len();
    }
    pieces.push((start_line, &text[start..]));
    pieces
}

fn is_document_marker(line: &str) -> bool {
    line.strip_prefix("---")
        .is_some_and(|rest| rest.is_empty() || rest.starts_with([' ', '\t', '\r', '\n']))
}

fn collect_manifests(inputs: &mut Inputs, file: usize, default_namespace: &str) {
    let source = &mut inputs.files[file];
    let chart_metadata = is_chart_metadata(&source.name);
    for (index, document) in source.documents.iter_mut().enumerate() {
        let mut collector = Collector {
            file,
            document: index,
            label: (&source.name, document.start.line),
            source_map: &document.source_map,
            chart_metadata,
            default_namespace,
            manifests: &mut inputs.manifests,
            notes: &mut inputs.notes,
            errors: &mut inputs.errors,
        };
        match &mut document.value {
            Value::Null => {}
            value @ Value::Object(_) => collector.push_object(value, JsonPath::root()),
            _ => collector.note("not a Kubernetes object"),
        }
    }
}

/// Registers the objects of one document.
struct Collector<'a> {
    file: usize,
    document: usize,
    /// File name and line of the document, for notes.
    label: (&'a str, usize),
    source_map: &'a SourceMap,
    /// A Helm `Chart.yaml`, whose `apiVersion` without `kind` is the chart's, not half an object.
    chart_metadata: bool,
    default_namespace: &'a str,
    manifests: &'a mut Vec<Manifest>,
    notes: &'a mut Vec<String>,
    errors: &'a mut Vec<InputError>,
}

/// Helm's chart metadata: an `apiVersion` (`v1`, `v2`) and no `kind`.
fn is_chart_metadata(name: &str) -> bool {
    Path::new(name)
        .file_name()
        .is_some_and(|file| file == "Chart.yaml")
}

/// API groups of build-time configuration that look like objects but never reach an apiserver.
const BUILD_CONFIG_GROUPS: [&str; 2] = ["kustomize.config.k8s.io", "config.kubernetes.io"];

impl Collector<'_> {
    fn note(&mut self, why: &str) {
        let (name, line) = self.label;
        self.notes.push(format!(
            "{name}:{line}: skipped document {}: {why}",
            self.document + 1
        ));
    }

    /// Registers one object (or the items of a `List`) and gives a namespaced object without a
    /// namespace the default one, so patterns see what the apiserver would store.
    fn push_object(&mut self, value: &mut Value, base: JsonPath) {
        let text = |value: &Value, key: &str| {
            value
                .get(key)
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_owned()
        };
        let (api_version, kind) = (text(value, "apiVersion"), text(value, "kind"));
        match (api_version.is_empty(), kind.is_empty()) {
            (true, true) => {
                self.note("no apiVersion and no kind, not a Kubernetes object");
                return;
            }
            (false, true) if base.is_root() && self.chart_metadata => {
                self.note("Helm chart metadata (apiVersion without kind), not a Kubernetes object");
                return;
            }
            (true, false) | (false, true) => {
                let (present, missing) = if kind.is_empty() {
                    ("apiVersion", "kind")
                } else {
                    ("kind", "apiVersion")
                };
                let (name, _) = self.label;
                self.errors.push(InputError::new(
                    name,
                    self.source_map.key(&base.child_key(present)),
                    format!(
                        "document {}{}: {present} without {missing}; kubectl would refuse this object, so it cannot be checked",
                        self.document + 1,
                        if base.is_root() {
                            String::new()
                        } else {
                            format!(" at {}", base.pointer())
                        }
                    ),
                ));
                return;
            }
            (false, false) => {}
        }
        let gvk = Gvk::from_api_version(&api_version, &kind);
        if base.is_root() && BUILD_CONFIG_GROUPS.contains(&gvk.group.as_str()) {
            self.note(&format!(
                "{kind} ({api_version}) is build configuration, not an object sent to the cluster; check the rendered output"
            ));
            return;
        }
        if kind.ends_with("List") {
            if let Some(items) = value.get_mut("items").and_then(Value::as_array_mut) {
                for (index, item) in items.iter_mut().enumerate() {
                    self.push_object(item, base.child_key("items").child_index(index));
                }
                return;
            }
        }
        let metadata = |value: &Value, key: &str| {
            value
                .get("metadata")
                .and_then(|meta| meta.get(key))
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_owned()
        };
        let namespace = if is_cluster_scoped(&kind) {
            String::new()
        } else {
            let written = metadata(value, "namespace");
            if written.is_empty() {
                let namespace = self.default_namespace.to_owned();
                if let Some(meta) = value.get_mut("metadata").and_then(Value::as_object_mut) {
                    meta.insert("namespace".to_owned(), Value::String(namespace.clone()));
                }
                namespace
            } else {
                written
            }
        };
        let name = match metadata(value, "name") {
            name if name.is_empty() => metadata(value, "generateName"),
            name => name,
        };
        self.manifests.push(Manifest {
            file: self.file,
            document: self.document,
            base,
            gvk,
            namespace,
            name,
        });
    }
}
