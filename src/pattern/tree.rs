//! The compiled pattern tree: maps with their keys pre-sorted into Kyverno's evaluation order,
//! arrays, and pre-parsed scalars, plus the load-time checks Kyverno's policy validation makes.

use super::parse::{AnchorKind, ScalarPattern, StrPattern, parse_anchor};
use super::{NumberMode, PatternError};
use crate::json_path::JsonPath;
use serde_json::Value;

#[derive(Debug, Clone)]
pub enum Node {
    Map(MapNode),
    Array(Vec<Node>),
    Scalar(ScalarPattern),
}

#[derive(Debug, Clone)]
pub struct Entry {
    /// The key as written; the anchor table and the sort order use this text.
    pub raw: String,
    pub anchor: Option<AnchorKind>,
    /// The resource key this entry looks up (the inner key for anchors).
    pub name: String,
    pub value: Node,
}

#[derive(Debug, Clone)]
pub struct MapNode {
    pub entries: Vec<Entry>,
    /// Conditional, equality, negation and existence keys, byte-wise sorted by raw text.
    pub anchor_order: Vec<usize>,
    /// Plain and global keys: globals and keys holding nested anchors first (in reverse sorted
    /// order, as Kyverno pushes each to the front of a list), then the rest in sorted order.
    pub other_order: Vec<usize>,
    /// Conditional and existence keys, whose absence turns a failure into an error.
    pub tracked: Vec<usize>,
    /// Where the metadata label/annotation wildcard rewrite applies, if anywhere.
    pub metadata: Option<MetadataLink>,
    /// Identifies a `labels`/`annotations` map whose keys the rewrite may replace.
    pub tag_id: Option<usize>,
}

#[derive(Debug, Clone)]
pub struct MetadataLink {
    /// Index of the `metadata` entry in this map.
    pub entry: usize,
    pub labels: Option<TagLink>,
    pub annotations: Option<TagLink>,
}

#[derive(Debug, Clone, Copy)]
pub struct TagLink {
    /// Index of the `labels`/`annotations` entry in the metadata map.
    pub entry: usize,
    pub id: usize,
}

impl MapNode {
    /// Orders and bookkeeping for a set of entries; used at load time and for rewritten maps.
    pub fn from_entries(entries: Vec<Entry>, tag_id: Option<usize>) -> Self {
        let mut anchors: Vec<usize> = Vec::new();
        let mut others: Vec<usize> = Vec::new();
        let mut tracked = Vec::new();
        for (i, entry) in entries.iter().enumerate() {
            match entry.anchor {
                Some(AnchorKind::Conditional | AnchorKind::Existence) => {
                    anchors.push(i);
                    tracked.push(i);
                }
                Some(AnchorKind::Equality | AnchorKind::Negation) => anchors.push(i),
                _ => others.push(i),
            }
        }
        anchors.sort_by(|&a, &b| entries[a].raw.cmp(&entries[b].raw));
        others.sort_by(|&a, &b| entries[a].raw.cmp(&entries[b].raw));
        let (mut front, back): (Vec<usize>, Vec<usize>) = others.into_iter().partition(|&i| {
            entries[i].anchor == Some(AnchorKind::Global) || has_nested_anchors(&entries[i].value)
        });
        front.reverse();
        front.extend(back);
        Self {
            entries,
            anchor_order: anchors,
            other_order: front,
            tracked,
            metadata: None,
            tag_id,
        }
    }
}

fn is_validation_anchor(kind: Option<AnchorKind>) -> bool {
    matches!(kind, Some(k) if k != AnchorKind::AddIfNotPresent)
}

fn has_nested_anchors(node: &Node) -> bool {
    match node {
        Node::Map(map) => map
            .entries
            .iter()
            .any(|e| is_validation_anchor(e.anchor) || has_nested_anchors(&e.value)),
        Node::Array(items) => items.iter().any(has_nested_anchors),
        Node::Scalar(_) => false,
    }
}

pub struct Compiler {
    mode: NumberMode,
    pub tags: usize,
}

impl Compiler {
    pub fn new(mode: NumberMode) -> Self {
        Self { mode, tags: 0 }
    }

    pub fn compile(&mut self, value: &Value, path: &mut JsonPath) -> Result<Node, PatternError> {
        Ok(match value {
            Value::Null => Node::Scalar(ScalarPattern::Null),
            Value::Bool(b) => Node::Scalar(ScalarPattern::Bool(*b)),
            Value::Number(n) => Node::Scalar(match (self.mode, n.as_i64()) {
                (NumberMode::Exact, Some(i)) => ScalarPattern::Int(i),
                _ => ScalarPattern::Float(n.as_f64().unwrap_or(0.0)),
            }),
            Value::String(s) => Node::Scalar(ScalarPattern::Str(StrPattern::new(s))),
            Value::Array(items) => {
                let mut nodes = Vec::with_capacity(items.len());
                for (i, item) in items.iter().enumerate() {
                    path.push_index(i);
                    nodes.push(self.compile(item, path)?);
                    path.pop();
                }
                Node::Array(nodes)
            }
            Value::Object(map) => Node::Map(self.compile_map(map, path)?),
        })
    }

    fn compile_map(
        &mut self,
        map: &serde_json::Map<String, Value>,
        path: &mut JsonPath,
    ) -> Result<MapNode, PatternError> {
        let mut entries = Vec::with_capacity(map.len());
        for (raw, value) in map {
            path.push_key(raw.as_str());
            let anchor = parse_anchor(raw);
            let fail = |message: &str| PatternError {
                path: path.clone(),
                message: message.to_owned(),
            };
            match anchor {
                Some((AnchorKind::AddIfNotPresent, _)) => {
                    return Err(fail(&format!("unsupported anchor {raw}")));
                }
                Some((AnchorKind::Existence, _)) => match value {
                    Value::Array(items) if items.is_empty() => {
                        return Err(fail("existence anchor: should have at least one value"));
                    }
                    Value::Array(_) => {}
                    _ => return Err(fail("existence anchor should have value of type list")),
                },
                _ => {}
            }
            let node = self.compile(value, path)?;
            path.pop();
            entries.push(Entry {
                raw: raw.clone(),
                anchor: anchor.map(|(kind, _)| kind),
                name: anchor.map_or(raw.as_str(), |(_, inner)| inner).to_owned(),
                value: node,
            });
        }
        let mut node = MapNode::from_entries(entries, None);
        node.metadata = self.link_metadata(&mut node);
        Ok(node)
    }

    /// Marks the `labels`/`annotations` maps under this map's `metadata` for the rewrite.
    fn link_metadata(&mut self, node: &mut MapNode) -> Option<MetadataLink> {
        let entry = find_tag(&node.entries, "metadata")?;
        let Node::Map(metadata) = &mut node.entries[entry].value else {
            return None;
        };
        let mut link = MetadataLink {
            entry,
            labels: None,
            annotations: None,
        };
        for (tag, slot) in [
            ("labels", &mut link.labels),
            ("annotations", &mut link.annotations),
        ] {
            let Some(index) = find_tag(&metadata.entries, tag) else {
                continue;
            };
            let Node::Map(tag_map) = &mut metadata.entries[index].value else {
                continue;
            };
            let id = match tag_map.tag_id {
                Some(id) => id,
                None => {
                    self.tags += 1;
                    tag_map.tag_id = Some(self.tags - 1);
                    self.tags - 1
                }
            };
            *slot = Some(TagLink { entry: index, id });
        }
        Some(link)
    }
}

/// Kyverno's `getPatternValue`: the entry named `tag`, plainly or inside any anchor. Go picks
/// among several candidates in map order; the plain key is preferred here.
pub fn find_tag(entries: &[Entry], tag: &str) -> Option<usize> {
    entries.iter().position(|e| e.raw == tag).or_else(|| {
        entries
            .iter()
            .position(|e| e.anchor.is_some() && e.name == tag)
    })
}
