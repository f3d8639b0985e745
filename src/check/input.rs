//! Inputs of `check`: files, directories and stdin, read into documents and Kubernetes
//! manifests, each manifest remembering where it was written.

use super::discover::{self, PathFilter};
use super::progress::Progress;
use crate::json_path::JsonPath;
use crate::matching::Gvk;
use crate::yaml::{self, Document, Location, YamlError};
use rayon::prelude::*;
use serde_json::Value;
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

#[derive(Debug, Default)]
pub struct Inputs {
    pub files: Vec<SourceFile>,
    pub manifests: Vec<Manifest>,
    /// Unreadable files and invalid YAML: each makes `check` exit 2.
    pub errors: Vec<String>,
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
}

impl Default for ReadOptions {
    fn default() -> Self {
        Self {
            filter: PathFilter::default(),
            default_namespace: "default".to_owned(),
        }
    }
}

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
    let texts = read_texts(paths, stdin, &options.filter, &mut inputs.errors);
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
                let file = inputs.files.len();
                inputs.files.push(SourceFile { name, documents });
                collect_manifests(&mut inputs, file, &options.default_namespace);
            }
            Err(error) if is_template(&text) => inputs.notes.push(format!(
                "{name}: skipped: a template ({{{{ }}}}) that is not YAML until rendered; check the rendered output, e.g. `helm template … | portcullis check -` ({}: {})",
                error.location, error.message
            )),
            Err(error) => inputs.errors.push(format!(
                "{name}:{}: invalid YAML: {}",
                error.location, error.message
            )),
        }
    }
    inputs
}

/// Reads the text of every input file, in order; unreadable ones become errors.
fn read_texts(
    paths: &[PathBuf],
    stdin: impl FnOnce() -> std::io::Result<String>,
    filter: &PathFilter,
    errors: &mut Vec<String>,
) -> Vec<(String, String)> {
    let mut texts = Vec::new();
    let mut stdin = Some(stdin);
    for path in paths {
        if path == Path::new("-") {
            match stdin.take().map(|read| read()) {
                Some(Ok(text)) => texts.push(("-".to_owned(), text)),
                Some(Err(error)) => errors.push(format!("-: cannot read standard input: {error}")),
                None => errors.push("-: standard input given more than once".to_owned()),
            }
            continue;
        }
        let found = match discover::files(path, filter) {
            Ok(found) => found,
            Err(error) => {
                errors.push(format!("{}: cannot read: {error}", path.display()));
                continue;
            }
        };
        for file in found {
            match std::fs::read_to_string(&file) {
                Ok(text) => texts.push((file.display().to_string(), text)),
                Err(error) => errors.push(format!("{}: cannot read: {error}", file.display())),
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
    for (index, document) in source.documents.iter_mut().enumerate() {
        let mut collector = Collector {
            file,
            document: index,
            label: (&source.name, document.start.line),
            default_namespace,
            manifests: &mut inputs.manifests,
            notes: &mut inputs.notes,
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
    default_namespace: &'a str,
    manifests: &'a mut Vec<Manifest>,
    notes: &'a mut Vec<String>,
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
        let missing = match (api_version.is_empty(), kind.is_empty()) {
            (true, true) => Some("no apiVersion and no kind"),
            (true, false) => Some("no apiVersion"),
            (false, true) => Some("no kind"),
            (false, false) => None,
        };
        if let Some(missing) = missing {
            self.note(&format!("{missing}, not a Kubernetes object"));
            return;
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
