//! Inputs of `check`: files, directories and stdin, read into documents and Kubernetes
//! manifests, each manifest remembering where it was written.

use super::discover::{self, Found, PathFilter};
use super::progress::Progress;
use super::rendered::{self, Helm, Kustomize};
use crate::json_path::JsonPath;
use crate::matching::Gvk;
use crate::yaml::{self, Document, Location, SourceMap, YamlError};
use rayon::prelude::*;
use serde_json::Value;
use std::collections::HashMap;
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
    /// The output of a render (kustomize, Helm), whose objects are reported at the files they
    /// were written in; not a file of the repository.
    pub rendered: bool,
    /// A later chunk of a file read in chunks: the same file as the chunk before.
    pub continued: bool,
}

/// Where a manifest was written, when that is not where it was read: in a render's output.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Origin {
    #[default]
    AsRead,
    /// A document of another input file, which kustomize's origin annotation names.
    Written { file: usize, document: usize },
    /// A Helm template (an input file without documents: it is not YAML until rendered); lines
    /// count from the template's `# Source:` comment in the output.
    Template { file: usize, lines_before: usize },
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
    pub origin: Origin,
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
    /// What was not checked as it will be applied, printed whatever the verbosity: a tree that
    /// could not be rendered for want of a renderer.
    pub warnings: Vec<String>,
}

impl Inputs {
    pub fn object(&self, manifest: &Manifest) -> &Value {
        let document = &self.files[manifest.file].documents[manifest.document].value;
        resolve(document, &manifest.base).unwrap_or(&Value::Null)
    }

    /// Where the node at `path` inside the manifest was written (the nearest existing node above
    /// it when the field is missing), in the file [`Self::report_file`] names.
    pub fn locate(&self, manifest: &Manifest, path: Option<&JsonPath>) -> Location {
        let as_read = || {
            let document = &self.files[manifest.file].documents[manifest.document];
            let full = match path {
                Some(path) => manifest.base.join(path),
                None => manifest.base.clone(),
            };
            document.source_map.nearest(&full).unwrap_or(document.start)
        };
        match manifest.origin {
            Origin::AsRead => as_read(),
            Origin::Written { file, document } => self.files[file].documents.get(document).map_or(
                Location { line: 1, column: 1 },
                |document| {
                    document
                        .source_map
                        .nearest(path.unwrap_or(&JsonPath::root()))
                        .unwrap_or(document.start)
                },
            ),
            Origin::Template { lines_before, .. } => {
                let location = as_read();
                Location {
                    line: location.line.saturating_sub(lines_before).max(1),
                    column: location.column,
                }
            }
        }
    }

    /// The index of the file a manifest is reported at: where it was written.
    pub fn report_file(&self, manifest: &Manifest) -> usize {
        match manifest.origin {
            Origin::AsRead => manifest.file,
            Origin::Written { file, .. } | Origin::Template { file, .. } => file,
        }
    }

    /// The files of the repository that were read: every input file but renders' output.
    pub fn file_count(&self) -> usize {
        self.files
            .iter()
            .filter(|file| !file.rendered && !file.continued)
            .count()
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
    /// Renders directories that hold a kustomization; without it their files are read as
    /// written, patches left out, with a warning.
    pub kustomize: Option<Kustomize>,
    /// Renders Helm charts; without it a chart is skipped with a warning.
    pub helm: Option<Helm>,
    /// How reports name standard input (`--stdin-filename`).
    pub stdin_name: String,
}

impl Default for ReadOptions {
    fn default() -> Self {
        Self {
            filter: PathFilter::default(),
            default_namespace: "default".to_owned(),
            allow_empty: false,
            kustomize: None,
            helm: None,
            stdin_name: STDIN_NAME.to_owned(),
        }
    }
}

/// The text of one input, and how to attribute what it holds to the files it was written in.
/// One input of documents, in input order, read chunk by chunk: a file, standard input, or a
/// render's output, with how to attribute what it holds to the files it was written in.
pub struct Source {
    name: String,
    attribution: Attribution,
    content: Content,
}

/// Where a source's text is.
pub enum Content {
    /// A file, read when its turn comes.
    Path(PathBuf),
    /// Text already read: a render's output, or standard input when it was read whole.
    Text(String),
    /// Standard input, copied to a temporary file so that it is read in chunks like a file.
    Spooled(std::fs::File),
}

enum Attribution {
    /// A file, or standard input as written.
    AsRead { stdin: bool },
    /// `kustomize build` output, whose origin annotations are relative to the wrapper.
    Kustomize(tempfile::TempDir),
    /// `helm template` output (a chart's, or one piped in), whose `# Source:` comments name
    /// templates below the chart's parent directory.
    Helm { chart: Option<PathBuf>, stdin: bool },
}

impl Source {
    fn is_stdin(&self) -> bool {
        matches!(
            self.attribution,
            Attribution::AsRead { stdin: true } | Attribution::Helm { stdin: true, .. }
        )
    }

    /// The source's documents as pieces that parse on their own, in chunks of at least
    /// `chunk_bytes` (all at once when `None`), each piece with the number of lines before it.
    pub fn chunks(
        &self,
        chunk_bytes: Option<usize>,
    ) -> std::io::Result<impl Iterator<Item = std::io::Result<Vec<(usize, String)>>>> {
        let reader: Box<dyn std::io::BufRead> = match &self.content {
            Content::Path(path) => Box::new(std::io::BufReader::new(std::fs::File::open(path)?)),
            Content::Text(text) => Box::new(std::io::Cursor::new(text.as_bytes())),
            Content::Spooled(file) => {
                let mut file = file.try_clone()?;
                std::io::Seek::rewind(&mut file)?;
                Box::new(std::io::BufReader::new(file))
            }
        };
        Ok(Chunks {
            pieces: Pieces {
                lines: reader,
                line: 0,
                pending: None,
                whole: false,
                done: false,
            },
            chunk_bytes,
        })
    }
}

/// Pieces of a stream, split before each `---` marker line, with the number of lines before each
/// piece, so that documents can be parsed in parallel and a stream read in chunks. YAML forbids a
/// line that starts with `---` and a blank inside any content, so such a line always starts a
/// new document; the pieces parse to exactly the documents of the whole. Directives (`%YAML`,
/// `%TAG`) belong to the document after them, so from the first one on the rest of the stream is
/// kept in one piece.
struct Pieces<'a> {
    lines: Box<dyn std::io::BufRead + 'a>,
    /// Lines read so far.
    line: usize,
    /// A marker line read ahead: it starts the next piece.
    pending: Option<String>,
    /// A directive was seen: the rest of the stream is one piece.
    whole: bool,
    done: bool,
}

impl Iterator for Pieces<'_> {
    type Item = std::io::Result<(usize, String)>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        let mut piece = self.pending.take().unwrap_or_default();
        let start = self.line - usize::from(!piece.is_empty());
        loop {
            let mut raw = String::new();
            match self.lines.read_line(&mut raw) {
                Err(error) => {
                    self.done = true;
                    return Some(Err(error));
                }
                Ok(0) => {
                    self.done = true;
                    return Some(Ok((start, piece)));
                }
                Ok(_) => {}
            }
            self.line += 1;
            if raw.starts_with('%') {
                self.whole = true;
            }
            if !self.whole && !piece.is_empty() && is_document_marker(&raw) {
                self.pending = Some(raw);
                return Some(Ok((start, piece)));
            }
            piece.push_str(&raw);
        }
    }
}

struct Chunks<'a> {
    pieces: Pieces<'a>,
    chunk_bytes: Option<usize>,
}

impl Iterator for Chunks<'_> {
    type Item = std::io::Result<Vec<(usize, String)>>;

    fn next(&mut self) -> Option<Self::Item> {
        let mut chunk = Vec::new();
        let mut bytes = 0;
        for piece in self.pieces.by_ref() {
            match piece {
                Ok((lines_before, text)) => {
                    bytes += text.len();
                    chunk.push((lines_before, text));
                }
                Err(error) => return Some(Err(error)),
            }
            if self.chunk_bytes.is_some_and(|limit| bytes >= limit) {
                return Some(Ok(chunk));
            }
        }
        (!chunk.is_empty()).then_some(Ok(chunk))
    }
}

/// What reading a source has seen so far, across its chunks.
#[derive(Debug, Default)]
pub struct SourceState {
    chunks: usize,
    documents: usize,
    saw_document: bool,
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
    let sources = sources(paths, || stdin().map(Content::Text), options, &mut inputs);
    for source in &sources {
        let mut state = SourceState::default();
        match source.chunks(None) {
            Ok(chunks) => {
                for chunk in chunks {
                    match chunk {
                        Ok(pieces) => {
                            read_chunk(&mut inputs, source, &mut state, pieces, options, progress);
                        }
                        Err(error) => inputs.errors.push(source.unreadable(&error)),
                    }
                }
            }
            Err(error) => inputs.errors.push(source.unreadable(&error)),
        }
        finish_source(&mut inputs, source, &state, options);
    }
    let (manifests, files, has_errors) = (
        inputs.manifests.len(),
        inputs.file_count(),
        !inputs.errors.is_empty(),
    );
    if let Some(error) = nothing_read(paths, manifests, files, has_errors, options) {
        inputs.errors.push(error);
    }
    inputs
}

impl Source {
    pub fn unreadable(&self, error: &std::io::Error) -> InputError {
        InputError::new(self.name.clone(), None, format!("cannot read: {error}"))
    }

    /// Counts the pieces of the source and calls `namespace` with every `Namespace` object
    /// found in it, parsing only the pieces that mention the kind: `namespaceSelector` rules
    /// need every namespace's labels before the first resource is judged.
    pub fn scan(&self, namespace: &mut dyn FnMut(&str, &Value)) -> std::io::Result<usize> {
        let mut count = 0;
        for chunk in self.chunks(Some(1 << 20))? {
            for (_, piece) in chunk? {
                count += 1;
                if !piece.contains("Namespace") {
                    continue;
                }
                for document in yaml::parse_documents(&piece).unwrap_or_default() {
                    let items = document.value.get("items").and_then(Value::as_array);
                    for object in
                        std::iter::once(&document.value).chain(items.into_iter().flatten())
                    {
                        let is_namespace = object.get("kind").and_then(Value::as_str)
                            == Some("Namespace")
                            && object.get("apiVersion").and_then(Value::as_str) == Some("v1");
                        let name = object.pointer("/metadata/name").and_then(Value::as_str);
                        if let (true, Some(name)) = (is_namespace, name) {
                            namespace(name, object);
                        }
                    }
                }
            }
        }
        Ok(count)
    }
}

/// Parses one chunk of a source's pieces in parallel and adds its documents and objects to
/// `inputs`, attributed to the files they were written in. An invalid piece makes the chunk an
/// error (or, for a template, a note): its documents are not checked.
pub fn read_chunk(
    inputs: &mut Inputs,
    source: &Source,
    state: &mut SourceState,
    pieces: Vec<(usize, String)>,
    options: &ReadOptions,
    progress: &Progress,
) {
    let parsed: Vec<Result<Vec<Document>, YamlError>> = pieces
        .par_iter()
        .map(|(lines_before, piece)| {
            let parsed = yaml::parse_documents(piece).map_err(|mut error| {
                error.location.line += lines_before;
                error
            });
            progress.advance();
            parsed
        })
        .collect();
    let mut documents = Vec::new();
    let mut failed = None;
    for ((lines_before, _), result) in pieces.iter().zip(parsed) {
        match result {
            Ok(parsed) => {
                for mut document in parsed {
                    document.rebase(state.documents + documents.len(), *lines_before);
                    documents.push(document);
                }
            }
            Err(error) => {
                failed.get_or_insert(error);
            }
        }
    }
    state.chunks += 1;
    state.documents += documents.len();
    let name = source.name.clone();
    if let Some(error) = failed {
        if pieces.iter().any(|(_, piece)| is_template(piece)) {
            inputs.notes.push(format!(
                "{name}: skipped: a template ({{{{ }}}}) that is not YAML until rendered; check the rendered output, e.g. `helm template … | portcullis check -` ({}: {})",
                error.location, error.message
            ));
        } else {
            inputs.errors.push(InputError::new(
                name,
                Some(error.location),
                format!("invalid YAML: {}", error.message),
            ));
        }
        return;
    }
    state.saw_document |= documents.iter().any(|document| !document.value.is_null());
    let file = inputs.files.len();
    let first = inputs.manifests.len();
    inputs.files.push(SourceFile {
        name,
        documents,
        rendered: !matches!(source.attribution, Attribution::AsRead { .. }),
        continued: state.chunks > 1,
    });
    collect_manifests(inputs, file, &options.default_namespace);
    match &source.attribution {
        Attribution::AsRead { .. } => {}
        Attribution::Kustomize(wrapper) => attribute_kustomize(inputs, first, wrapper.path()),
        Attribution::Helm { chart, .. } => {
            let sources: Vec<(usize, &str)> = pieces
                .iter()
                .flat_map(|(lines_before, piece)| {
                    rendered::helm_sources(piece)
                        .into_iter()
                        .map(move |(line, source)| (line + lines_before, source))
                })
                .collect();
            attribute_helm(inputs, first, &sources, chart.as_deref());
        }
    }
}

/// What is known once a source has been read whole: whether standard input held anything.
pub fn finish_source(
    inputs: &mut Inputs,
    source: &Source,
    state: &SourceState,
    options: &ReadOptions,
) {
    if source.is_stdin() && !options.allow_empty && !state.saw_document {
        inputs.errors.push(InputError::new(
            source.name.clone(),
            None,
            format!("no documents on standard input; did the command piped into portcullis fail? {EMPTY_IS_AN_ERROR}"),
        ));
    }
}

/// The error for a run that found no Kubernetes object at all, unless it has errors already or
/// `--allow-empty` accepts it.
pub fn nothing_read(
    paths: &[PathBuf],
    manifests: usize,
    files: usize,
    has_errors: bool,
    options: &ReadOptions,
) -> Option<InputError> {
    (!options.allow_empty && manifests == 0 && !has_errors).then(|| {
        InputError::of_run(
            paths,
            format!(
                "no Kubernetes objects in {files} file(s) read (--verbose lists what was skipped); {EMPTY_IS_AN_ERROR}"
            ),
        )
    })
}

/// The sources of every path, in order, with every tree rendered; paths that cannot be walked
/// and failed renders become errors, trees without a renderer warnings.
pub fn sources(
    paths: &[PathBuf],
    stdin: impl FnOnce() -> std::io::Result<Content>,
    options: &ReadOptions,
    inputs: &mut Inputs,
) -> Vec<Source> {
    let mut texts = Vec::new();
    let mut stdin = Some(stdin);
    let errors = &mut inputs.errors;
    for path in paths {
        if path == Path::new(STDIN_NAME) {
            let name = options.stdin_name.clone();
            match stdin.take().map(|read| read()) {
                Some(Ok(content)) => {
                    let mut source = Source {
                        name,
                        attribution: Attribution::AsRead { stdin: true },
                        content,
                    };
                    if source.has_helm_sources() {
                        source.attribution = Attribution::Helm {
                            chart: None,
                            stdin: true,
                        };
                    }
                    texts.push(source);
                }
                Some(Err(error)) => errors.push(InputError::new(
                    name,
                    None,
                    format!("cannot read standard input: {error}"),
                )),
                None => errors.push(InputError::new(
                    name,
                    None,
                    "standard input given more than once",
                )),
            }
            continue;
        }
        let found = match discover::entries(path, &options.filter, true) {
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
        for found in found {
            match found {
                Found::File(file) => read_file(&file, &mut texts),
                Found::Kustomization(dir) => match &options.kustomize {
                    Some(kustomize) => match kustomize.render(&dir) {
                        Ok((text, wrapper)) => texts.push(Source {
                            name: format!("{} (rendered by {})", dir.display(), kustomize.describe()),
                            content: Content::Text(text),
                            attribution: Attribution::Kustomize(wrapper),
                        }),
                        Err(message) => errors.push(InputError::new(
                            dir.display().to_string(),
                            None,
                            format!("the kustomization does not render, so nothing in it was checked: {message}"),
                        )),
                    },
                    None => read_unrendered(&dir, options, &mut texts, errors, &mut inputs.warnings),
                },
                Found::Chart(dir) => match &options.helm {
                    Some(helm) => match helm.render(&dir) {
                        Ok(text) => texts.push(Source {
                            name: format!("{} (rendered by helm template)", dir.display()),
                            content: Content::Text(text),
                            attribution: Attribution::Helm {
                                chart: Some(dir),
                                stdin: false,
                            },
                        }),
                        Err(message) => errors.push(InputError::new(
                            dir.display().to_string(),
                            None,
                            format!("the chart does not render, so nothing in it was checked: {message}"),
                        )),
                    },
                    None => inputs.warnings.push(format!(
                        "{}: a Helm chart, not checked: helm is not on PATH to render it (or check `helm template` output on standard input)",
                        dir.display()
                    )),
                },
            }
        }
    }
    texts
}

fn read_file(file: &Path, texts: &mut Vec<Source>) {
    texts.push(Source {
        name: file.display().to_string(),
        content: Content::Path(file.to_owned()),
        attribution: Attribution::AsRead { stdin: false },
    });
}

impl Source {
    /// Whether the text holds Helm's `# Source:` comments (read up to the first document).
    fn has_helm_sources(&self) -> bool {
        let Ok(mut chunks) = self.chunks(Some(1)) else {
            return false;
        };
        chunks.any(|chunk| {
            chunk.is_ok_and(|pieces| {
                pieces
                    .iter()
                    .any(|(_, piece)| !rendered::helm_sources(piece).is_empty())
            })
        })
    }
}

/// A kustomize tree with no renderer to build it: its files are read as written, except the
/// patches its kustomizations name, which are fragments and would be judged as whole objects.
fn read_unrendered(
    dir: &Path,
    options: &ReadOptions,
    texts: &mut Vec<Source>,
    errors: &mut Vec<InputError>,
    warnings: &mut Vec<String>,
) {
    let found = match discover::entries(dir, &options.filter, false) {
        Ok(found) => found,
        Err(error) => {
            errors.push(InputError::new(
                dir.display().to_string(),
                None,
                format!("cannot read: {error}"),
            ));
            return;
        }
    };
    let files: Vec<PathBuf> = found
        .into_iter()
        .filter_map(|found| match found {
            Found::File(file) => Some(file),
            Found::Kustomization(_) | Found::Chart(_) => None,
        })
        .collect();
    let mut patches = Vec::new();
    for file in files
        .iter()
        .filter(|file| crate::policy::load::is_kustomization(file))
    {
        match rendered::patch_files(file) {
            Ok(found) => patches.extend(found.iter().filter_map(|patch| patch.canonicalize().ok())),
            Err(message) => errors.push(InputError::new(file.display().to_string(), None, message)),
        }
    }
    let mut skipped = Vec::new();
    for file in files {
        if file
            .canonicalize()
            .is_ok_and(|file| patches.contains(&file))
        {
            skipped.push(file.display().to_string());
        } else {
            read_file(&file, texts);
        }
    }
    warnings.push(format!(
        "{}: a kustomization, not rendered: neither kubectl nor kustomize is on PATH (--kustomize-bin names one); its files are checked as written{}",
        dir.display(),
        if skipped.is_empty() {
            String::new()
        } else {
            format!(", without the patches {}", skipped.join(", "))
        }
    ));
}

/// Reports the objects of a kustomize render, from `first` on, at the files their origin
/// annotations name, and takes the annotation off again: the user's objects do not carry it.
fn attribute_kustomize(inputs: &mut Inputs, first: usize, wrapper: &Path) {
    let wrapper = wrapper
        .canonicalize()
        .unwrap_or_else(|_| wrapper.to_owned());
    let mut sources: HashMap<PathBuf, usize> = HashMap::new();
    for index in first..inputs.manifests.len() {
        let manifest = &inputs.manifests[index];
        let document = &mut inputs.files[manifest.file].documents[manifest.document].value;
        let Some(annotation) = take_origin_annotation(document) else {
            continue;
        };
        let Some(path) = rendered::origin_path(&annotation) else {
            continue;
        };
        let source = rendered::resolve(&wrapper, path);
        let file = match sources.get(&source) {
            Some(&file) => file,
            None => {
                let Some(documents) = std::fs::read_to_string(&source)
                    .ok()
                    .and_then(|text| yaml::parse_documents(&text).ok())
                else {
                    continue;
                };
                inputs.files.push(SourceFile {
                    name: rendered::report_name(&source),
                    documents,
                    rendered: false,
                    continued: false,
                });
                sources.insert(source, inputs.files.len() - 1);
                inputs.files.len() - 1
            }
        };
        let manifest = &inputs.manifests[index];
        let documents = &inputs.files[file].documents;
        let same_kind = |document: &&Document| {
            document.value.get("kind").and_then(Value::as_str) == Some(&manifest.gvk.kind)
        };
        let document = documents
            .iter()
            .filter(same_kind)
            .find(|document| {
                document
                    .value
                    .pointer("/metadata/name")
                    .and_then(Value::as_str)
                    == Some(&manifest.name)
            })
            .or_else(|| documents.iter().find(same_kind))
            .map_or(0, |document| document.index);
        inputs.manifests[index].origin = Origin::Written { file, document };
    }
}

fn take_origin_annotation(object: &mut Value) -> Option<String> {
    let metadata = object.get_mut("metadata")?.as_object_mut()?;
    let annotations = metadata.get_mut("annotations")?.as_object_mut()?;
    let origin = annotations.remove(rendered::ORIGIN_ANNOTATION)?;
    if annotations.is_empty() {
        metadata.remove("annotations");
    }
    origin.as_str().map(str::to_owned)
}

/// Reports the objects of Helm output, from `first` on, at the templates its `# Source:`
/// comments name (below the chart's parent directory for a chart that was rendered here).
fn attribute_helm(
    inputs: &mut Inputs,
    first: usize,
    sources: &[(usize, &str)],
    chart: Option<&Path>,
) {
    let mut templates: HashMap<String, usize> = HashMap::new();
    for index in first..inputs.manifests.len() {
        // The object's first line: the document's own start may be the `---` above the comment.
        let start = inputs.locate(&inputs.manifests[index], None).line;
        let Some(&(line, source)) = sources.iter().rev().find(|(line, _)| *line < start) else {
            continue;
        };
        let name = match chart {
            // `chart/templates/x.yaml`: the first component is the chart's name.
            Some(dir) => {
                let below = source.split_once('/').map_or(source, |(_, below)| below);
                dir.join(below).display().to_string()
            }
            None => source.to_owned(),
        };
        let file = *templates.entry(name.clone()).or_insert_with(|| {
            inputs.files.push(SourceFile {
                name,
                documents: Vec::new(),
                rendered: false,
                continued: false,
            });
            inputs.files.len() - 1
        });
        inputs.manifests[index].origin = Origin::Template {
            file,
            lines_before: line,
        };
    }
}

/// A Helm chart's `templates/` file (or any Go template): `{{ }}` actions make it YAML only
/// after rendering. Only consulted once the file has failed to parse, so a rendered manifest
/// that merely contains braces in a string is still checked.
fn is_template(text: &str) -> bool {
    text.find("{{")
        .is_some_and(|open| text[open..].contains("}}"))
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
            origin: Origin::AsRead,
        });
    }
}
