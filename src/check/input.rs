//! Inputs of `check`: files, directories and stdin, read into documents and Kubernetes
//! manifests, each manifest remembering where it was written.

use crate::json_path::JsonPath;
use crate::matching::Gvk;
use crate::yaml::{self, Document, Location};
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

/// Reads every path (`-` is stdin); directories are walked recursively for `.yaml`, `.yml` and
/// `.json` files, in sorted order so output is stable.
pub fn read(paths: &[PathBuf], stdin: impl FnOnce() -> std::io::Result<String>) -> Inputs {
    let mut inputs = Inputs::default();
    let mut files = Vec::new();
    let mut stdin = Some(stdin);
    for path in paths {
        if path == Path::new("-") {
            match stdin.take().map(|read| read()) {
                Some(Ok(text)) => files.push(("-".to_owned(), text)),
                Some(Err(error)) => inputs
                    .errors
                    .push(format!("-: cannot read standard input: {error}")),
                None => inputs
                    .errors
                    .push("-: standard input given more than once".to_owned()),
            }
            continue;
        }
        let mut found = Vec::new();
        if let Err(error) = walk(path, &mut found) {
            inputs
                .errors
                .push(format!("{}: cannot read: {error}", path.display()));
            continue;
        }
        for file in found {
            match std::fs::read_to_string(&file) {
                Ok(text) => files.push((file.display().to_string(), text)),
                Err(error) => inputs
                    .errors
                    .push(format!("{}: cannot read: {error}", file.display())),
            }
        }
    }
    for (name, text) in files {
        match yaml::parse_documents(&text) {
            Ok(documents) => {
                let file = inputs.files.len();
                inputs.files.push(SourceFile { name, documents });
                collect_manifests(&mut inputs, file);
            }
            Err(error) => inputs.errors.push(format!(
                "{name}:{}: invalid YAML: {}",
                error.location, error.message
            )),
        }
    }
    inputs
}

fn walk(path: &Path, found: &mut Vec<PathBuf>) -> std::io::Result<()> {
    if !std::fs::metadata(path)?.is_dir() {
        found.push(path.to_owned());
        return Ok(());
    }
    let mut entries = std::fs::read_dir(path)?
        .map(|entry| entry.map(|entry| entry.path()))
        .collect::<Result<Vec<_>, _>>()?;
    entries.sort();
    for entry in entries {
        let name = entry
            .file_name()
            .and_then(|name| name.to_str())
            .unwrap_or("");
        if name.starts_with('.') {
            continue;
        }
        if entry.is_dir() {
            walk(&entry, found)?;
        } else if entry
            .extension()
            .and_then(|ext| ext.to_str())
            .is_some_and(|ext| matches!(ext, "yaml" | "yml" | "json"))
        {
            found.push(entry);
        }
    }
    Ok(())
}

fn collect_manifests(inputs: &mut Inputs, file: usize) {
    let source = &mut inputs.files[file];
    for (index, document) in source.documents.iter_mut().enumerate() {
        let label = format!("{}:{}", source.name, document.start.line);
        match &mut document.value {
            Value::Null => {}
            value @ Value::Object(_) => push_object(
                value,
                file,
                index,
                JsonPath::root(),
                &label,
                &mut inputs.manifests,
                &mut inputs.notes,
            ),
            _ => inputs.notes.push(format!(
                "{label}: skipped document {}: not a Kubernetes object",
                index + 1
            )),
        }
    }
}

/// Registers one object (or the items of a `List`) and gives a namespaced object without a
/// namespace the `default` one, so patterns see what the apiserver would store.
fn push_object(
    value: &mut Value,
    file: usize,
    document: usize,
    base: JsonPath,
    label: &str,
    manifests: &mut Vec<Manifest>,
    notes: &mut Vec<String>,
) {
    let text = |value: &Value, key: &str| {
        value
            .get(key)
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_owned()
    };
    let (api_version, kind) = (text(value, "apiVersion"), text(value, "kind"));
    if api_version.is_empty() || kind.is_empty() {
        notes.push(format!(
            "{label}: skipped document {}: no apiVersion and kind, not a Kubernetes object",
            document + 1
        ));
        return;
    }
    if kind.ends_with("List") {
        if let Some(items) = value.get_mut("items").and_then(Value::as_array_mut) {
            for (index, item) in items.iter_mut().enumerate() {
                push_object(
                    item,
                    file,
                    document,
                    base.child_key("items").child_index(index),
                    label,
                    manifests,
                    notes,
                );
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
            if let Some(meta) = value.get_mut("metadata").and_then(Value::as_object_mut) {
                meta.insert("namespace".to_owned(), Value::String("default".to_owned()));
            }
            "default".to_owned()
        } else {
            written
        }
    };
    let name = match metadata(value, "name") {
        name if name.is_empty() => metadata(value, "generateName"),
        name => name,
    };
    manifests.push(Manifest {
        file,
        document,
        base,
        gvk: Gvk::from_api_version(&api_version, &kind),
        namespace,
        name,
    });
}
