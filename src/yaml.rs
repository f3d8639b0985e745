//! The one YAML front end: text → `serde_json::Value` plus a source map.
//!
//! Scalars resolve the way kubectl resolves them (YAML 1.1 through sigs.k8s.io/yaml, see
//! `yaml/resolve.rs`), so what Portcullis judges offline is what the cluster would receive. JSON
//! manifests go through the same path, JSON being (close enough to) a subset of YAML. The
//! document is built from yaml-rust2's event stream with an explicit stack, so hostile nesting
//! ends in an error rather than a stack overflow, and the source map is a flat pre-order array
//! filled during the same walk: no path is materialised unless a caller asks for one.

mod resolve;
mod source_map;
#[cfg(test)]
mod tests;

pub use source_map::SourceMap;

use serde_json::map::Entry as MapEntry;
use serde_json::{Map, Value};
use source_map::{Node, NodeKind, key_hash};
use std::collections::{HashMap, HashSet};
use std::fmt;
use yaml_rust2::parser::{Event, Parser, Tag};
use yaml_rust2::scanner::{Marker, ScanError, TScalarStyle};

/// Deeper than any real manifest (CRD schemas reach a few dozen levels), shallow enough that
/// building, dropping and serialising the value never threatens the stack.
const MAX_DEPTH: usize = 256;

/// Nodes one document may copy through aliases; go-yaml stops near the same count, so anything
/// beyond is an expansion attack ("billion laughs"), not a manifest.
const MAX_ALIASED_NODES: usize = 400_000;

/// Beyond this many nodes a document's source map grows as it goes rather than being sized up
/// front from a guess.
const MAX_PRESIZED_NODES: usize = 1024;

/// Collections open at once in a typical manifest, to size the stack once.
const TYPICAL_DEPTH: usize = 16;

/// A 1-based line and column in a source text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Location {
    pub line: usize,
    pub column: usize,
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.line, self.column)
    }
}

impl Location {
    fn of(mark: Marker) -> Self {
        Self {
            line: mark.line(),
            column: mark.col() + 1,
        }
    }
}

/// One document of a multi-document stream. Empty and comment-only documents are kept
/// (as `Value::Null`) so that document numbers match what a reader counts in the file.
#[derive(Debug, Clone)]
pub struct Document {
    /// 0-based position in the stream.
    pub index: usize,
    pub start: Location,
    pub value: Value,
    pub source_map: SourceMap,
}

impl Document {
    /// Re-bases a document that was parsed on its own out of a larger stream: its position in
    /// that stream and the number of lines before the text it was parsed from.
    pub fn rebase(&mut self, index: usize, lines_before: usize) {
        self.index = index;
        self.start.line += lines_before;
        self.source_map.shift_lines(lines_before);
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct YamlError {
    pub location: Location,
    pub message: String,
}

impl fmt::Display for YamlError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.location, self.message)
    }
}

impl std::error::Error for YamlError {}

fn error(location: Location, message: impl Into<String>) -> YamlError {
    YamlError {
        location,
        message: message.into(),
    }
}

impl From<ScanError> for YamlError {
    fn from(scan: ScanError) -> Self {
        error(Location::of(*scan.marker()), scan.info())
    }
}

/// Parses every document of a YAML (or JSON) stream. A stream without any document (empty, or
/// only comments) yields no documents; an empty document between separators yields `Null`.
pub fn parse_documents(text: &str) -> Result<Vec<Document>, YamlError> {
    let mut parser = Parser::new_from_str(text);
    let mut documents = Vec::new();
    let mut builder: Option<Builder> = None;
    // Nodes are about one per line; the documents of one stream tend to look alike, so each
    // later document starts with the size of the one before (growing the array costs copies).
    let mut expected_nodes = text.lines().take(MAX_PRESIZED_NODES).count() + 8;
    loop {
        let (event, mark) = parser.next_token()?;
        let location = Location::of(mark);
        match event {
            Event::StreamEnd => return Ok(documents),
            Event::DocumentStart => builder = Some(Builder::new(location, expected_nodes)),
            Event::DocumentEnd => {
                if let Some(done) = builder.take() {
                    expected_nodes = done.source_map.nodes.len().min(MAX_PRESIZED_NODES);
                    documents.push(done.finish(documents.len()));
                }
            }
            Event::Nothing | Event::StreamStart => {}
            event => match builder.as_mut() {
                Some(builder) => builder.event(event, location)?,
                None => return Err(error(location, "content outside a document")),
            },
        }
    }
}

enum Collection {
    Sequence(Vec<Value>),
    Mapping {
        map: Map<String, Value>,
        /// The key awaiting its value; `None` inside means a merge key `<<`.
        pending: Option<(Option<String>, Location)>,
        /// Keys whose value came from a merge and was never written explicitly: an explicit key
        /// may override these, but not another explicit key.
        merged: HashSet<String>,
    },
}

struct Frame {
    node: usize,
    anchor: usize,
    /// Levels of nesting below this collection, for the depth bound of aliased copies.
    height: usize,
    collection: Collection,
}

enum Anchored {
    Scalar(resolve::Resolved, String),
    Collection(Value),
}

struct Anchor {
    content: Anchored,
    first: usize,
    end: usize,
    height: usize,
}

struct Builder {
    start: Location,
    frames: Vec<Frame>,
    source_map: SourceMap,
    anchors: HashMap<usize, Anchor>,
    aliased: usize,
    root: Value,
}

fn is_merge_key(text: &str, style: TScalarStyle, tag: Option<&str>) -> bool {
    text == "<<"
        && match tag {
            None => style == TScalarStyle::Plain,
            Some(tag) => tag == "tag:yaml.org,2002:merge",
        }
}

fn tag_text(tag: Option<Tag>) -> Option<String> {
    tag.map(|tag| tag.handle + &tag.suffix)
}

impl Builder {
    fn new(start: Location, expected_nodes: usize) -> Self {
        Self {
            start,
            frames: Vec::with_capacity(TYPICAL_DEPTH),
            source_map: SourceMap::with_capacity(expected_nodes),
            anchors: HashMap::new(),
            aliased: 0,
            root: Value::Null,
        }
    }

    fn finish(self, index: usize) -> Document {
        let root = self.source_map.nodes.first().map(|node| node.value);
        let start = root.map_or(self.start, |root| root.min(self.start));
        Document {
            index,
            start,
            value: self.root,
            source_map: self.source_map,
        }
    }

    fn event(&mut self, event: Event, location: Location) -> Result<(), YamlError> {
        match event {
            Event::Scalar(text, style, anchor, tag) => {
                self.scalar(text, style, anchor, tag_text(tag).as_deref(), location)
            }
            Event::Alias(id) => self.alias(id, location),
            Event::SequenceStart(anchor, _) => self.open(anchor, location, true),
            Event::MappingStart(anchor, _) => self.open(anchor, location, false),
            Event::SequenceEnd | Event::MappingEnd => self.close(),
            _ => Ok(()),
        }
    }

    fn at_key(&self) -> bool {
        matches!(
            self.frames.last(),
            Some(Frame {
                collection: Collection::Mapping { pending: None, .. },
                ..
            })
        )
    }

    /// Records a key; a block mapping's start event points past its first key, so the first
    /// key's position becomes the mapping's.
    fn set_key(&mut self, key: Option<String>, location: Location) {
        if let Some(frame) = self.frames.last_mut() {
            let node = &mut self.source_map.nodes[frame.node];
            node.value = node.value.min(location);
            if let Collection::Mapping { pending, .. } = &mut frame.collection {
                *pending = Some((key, location));
            }
        }
    }

    /// Appends the node for a value about to be delivered to the innermost collection.
    fn push_node(&mut self, kind: NodeKind, value: Location) -> usize {
        let index = self.source_map.nodes.len();
        // An open collection extends to the end of the array until it closes.
        let end = if kind == NodeKind::Scalar {
            index + 1
        } else {
            usize::MAX
        };
        let (segment, kind, key) = match self.frames.last() {
            None => (0, kind, None),
            Some(frame) => match &frame.collection {
                Collection::Sequence(items) => (items.len() as u64, kind, None),
                Collection::Mapping {
                    pending: Some((Some(key), at)),
                    ..
                } => (key_hash(key), kind, Some(*at)),
                Collection::Mapping {
                    pending: Some((None, at)),
                    ..
                } => (0, NodeKind::MergeSource, Some(*at)),
                Collection::Mapping { pending: None, .. } => (0, kind, None),
            },
        };
        self.source_map.nodes.push(Node {
            end,
            segment,
            kind,
            value,
            key,
        });
        index
    }

    fn scalar(
        &mut self,
        text: String,
        style: TScalarStyle,
        anchor: usize,
        tag: Option<&str>,
        location: Location,
    ) -> Result<(), YamlError> {
        let plain = style == TScalarStyle::Plain;
        let at = |message| error(location, message);
        let text = if resolve::is_binary(tag) {
            resolve::binary(&text).map_err(at)?
        } else {
            text
        };
        let resolved = resolve::resolve(&text, plain, tag).map_err(at)?;
        if anchor != 0 {
            let first = self.source_map.nodes.len();
            let content = Anchored::Scalar(resolved, text.clone());
            self.anchors.insert(
                anchor,
                Anchor {
                    content,
                    first,
                    end: first + 1,
                    height: 0,
                },
            );
        }
        if self.at_key() {
            let key = match is_merge_key(&text, style, tag) {
                true => None,
                false => Some(resolve::key_string(resolved, text).map_err(at)?),
            };
            self.set_key(key, location);
            return Ok(());
        }
        // An empty value has no position of its own; its key is the best place to point at.
        let pending_key = match self.frames.last() {
            Some(Frame {
                collection:
                    Collection::Mapping {
                        pending: Some((_, key)),
                        ..
                    },
                ..
            }) => Some(*key),
            _ => None,
        };
        let location = match pending_key {
            _ if !text.is_empty() || !plain || tag.is_some() => location,
            Some(key) => key,
            None if self.frames.is_empty() => self.start,
            None => location,
        };
        let value = resolve::to_json(resolved, text).map_err(at)?;
        let node = self.push_node(NodeKind::Scalar, location);
        self.deliver(value, node, 0)
    }

    fn alias(&mut self, id: usize, location: Location) -> Result<(), YamlError> {
        let Some(anchor) = self.anchors.get(&id) else {
            return Err(error(location, "anchor value contains itself"));
        };
        let (first, end, height) = (anchor.first, anchor.end, anchor.height);
        self.aliased += end - first;
        if self.aliased > MAX_ALIASED_NODES {
            return Err(error(location, "document contains excessive aliasing"));
        }
        if self.frames.len() + height > MAX_DEPTH {
            return Err(error(
                location,
                format!("nesting deeper than {MAX_DEPTH} levels"),
            ));
        }
        let at = |message| error(location, message);
        let at_key = self.at_key();
        let (value, kind) = match (&anchor.content, at_key) {
            (Anchored::Scalar(resolved, text), true) => {
                let key = resolve::key_string(*resolved, text.clone()).map_err(at)?;
                self.set_key(Some(key), location);
                return Ok(());
            }
            (Anchored::Collection(_), true) => {
                return Err(at("invalid map key: a collection".into()));
            }
            (Anchored::Scalar(resolved, text), false) => (
                resolve::to_json(*resolved, text.clone()).map_err(at)?,
                NodeKind::Scalar,
            ),
            (Anchored::Collection(value), false) => {
                (value.clone(), self.source_map.nodes[first].kind)
            }
        };
        let node = self.push_node(kind, location);
        let nodes = &mut self.source_map.nodes;
        nodes.extend_from_within(first + 1..end);
        for copied in &mut nodes[node + 1..] {
            copied.end = copied.end + node - first;
        }
        nodes[node].end = nodes.len();
        self.deliver(value, node, height)
    }

    fn open(&mut self, anchor: usize, location: Location, sequence: bool) -> Result<(), YamlError> {
        if self.at_key() {
            return Err(error(location, "invalid map key: a collection"));
        }
        if self.frames.len() >= MAX_DEPTH {
            return Err(error(
                location,
                format!("nesting deeper than {MAX_DEPTH} levels"),
            ));
        }
        let (kind, collection) = match sequence {
            true => (NodeKind::Sequence, Collection::Sequence(Vec::new())),
            false => (
                NodeKind::Mapping,
                Collection::Mapping {
                    map: Map::new(),
                    pending: None,
                    merged: HashSet::new(),
                },
            ),
        };
        let node = self.push_node(kind, location);
        self.frames.push(Frame {
            node,
            anchor,
            height: 0,
            collection,
        });
        Ok(())
    }

    fn close(&mut self) -> Result<(), YamlError> {
        let Some(frame) = self.frames.pop() else {
            return Ok(());
        };
        let end = self.source_map.nodes.len();
        self.source_map.nodes[frame.node].end = end;
        let value = match frame.collection {
            Collection::Sequence(items) => Value::Array(items),
            Collection::Mapping { map, .. } => Value::Object(map),
        };
        let height = frame.height + 1;
        if frame.anchor != 0 {
            let content = Anchored::Collection(value.clone());
            self.anchors.insert(
                frame.anchor,
                Anchor {
                    content,
                    first: frame.node,
                    end,
                    height,
                },
            );
        }
        self.deliver(value, frame.node, height)
    }

    /// Hands a finished value to the innermost collection (or makes it the document).
    fn deliver(&mut self, value: Value, node: usize, height: usize) -> Result<(), YamlError> {
        let Some(frame) = self.frames.last_mut() else {
            self.root = value;
            return Ok(());
        };
        frame.height = frame.height.max(height);
        let parent = frame.node;
        let (map, pending, merged) = match &mut frame.collection {
            Collection::Sequence(items) => {
                items.push(value);
                return Ok(());
            }
            Collection::Mapping {
                map,
                pending,
                merged,
            } => (map, pending, merged),
        };
        let Some((key, key_at)) = pending.take() else {
            return Ok(());
        };
        let Some(key) = key else {
            return merge(map, merged, &mut self.source_map, value, node);
        };
        match map.entry(key) {
            MapEntry::Vacant(slot) => {
                slot.insert(value);
            }
            MapEntry::Occupied(mut slot) if merged.remove(slot.key()) => {
                slot.insert(value);
            }
            MapEntry::Occupied(slot) => {
                let hash = key_hash(slot.key());
                let first = self.source_map.children(parent).find(|&i| {
                    let node = &self.source_map.nodes[i];
                    node.kind != NodeKind::MergeSource && node.segment == hash
                });
                let first = first
                    .and_then(|i| self.source_map.nodes[i].key)
                    .unwrap_or(key_at);
                let message = format!("duplicate key {:?} (first defined at {first})", slot.key());
                return Err(error(key_at, message));
            }
        }
        Ok(())
    }
}

/// Applies a `<<` value the way go-yaml v2 does: entries are written in document order, so a
/// merge overrides keys written before it and is overridden by keys written after it; in a
/// sequence of maps, earlier maps win.
fn merge(
    map: &mut Map<String, Value>,
    merged: &mut HashSet<String>,
    source_map: &mut SourceMap,
    value: Value,
    node: usize,
) -> Result<(), YamlError> {
    let at = source_map.nodes[node].value;
    let wrong = || {
        error(
            at,
            "map merge requires map or sequence of maps as the value",
        )
    };
    let sources: Vec<(Map<String, Value>, usize)> = match value {
        Value::Object(object) => vec![(object, node)],
        Value::Array(items) => {
            let children: Vec<usize> = source_map.children(node).collect();
            let mut sources = Vec::with_capacity(items.len());
            for (item, child) in items.into_iter().zip(children).rev() {
                match item {
                    Value::Object(object) => sources.push((object, child)),
                    _ => return Err(wrong()),
                }
            }
            sources
        }
        _ => return Err(wrong()),
    };
    for (object, source) in sources {
        for (key, value) in object {
            let hash = key_hash(&key);
            let origin = source_map
                .children(source)
                .filter(|&i| source_map.nodes[i].segment == hash)
                .last();
            let origin = source_map.nodes[origin.unwrap_or(source)];
            if !map.contains_key(&key) {
                merged.insert(key.clone());
            }
            map.insert(key, value);
            let index = source_map.nodes.len();
            source_map.nodes.push(Node {
                end: index + 1,
                segment: hash,
                kind: NodeKind::Scalar,
                ..origin
            });
        }
    }
    Ok(())
}
