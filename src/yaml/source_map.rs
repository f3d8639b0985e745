//! The source map: where each node of a document was written, kept as one flat array filled
//! in pre-order during the parse, so that building it costs one push per node and no path or
//! key is copied. Paths are only walked when a caller asks for a location.

use super::Location;
use crate::json_path::{JsonPath, Segment};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum NodeKind {
    Scalar,
    Sequence,
    Mapping,
    /// The value of a `<<` key: its keys are re-recorded on the enclosing mapping, so lookups
    /// skip the node itself.
    MergeSource,
}

/// One node in pre-order. Children of node `i` are found by hopping from `i + 1` over each
/// child's `end`, so the array needs no pointers and an aliased subtree copies as a block.
#[derive(Debug, Clone, Copy)]
pub(super) struct Node {
    pub(super) end: usize,
    /// Sequence index, or a hash of the mapping key (keys are unique within a mapping).
    pub(super) segment: u64,
    pub(super) kind: NodeKind,
    pub(super) value: Location,
    pub(super) key: Option<Location>,
}

/// Where each node of a document was written.
#[derive(Debug, Clone, Default)]
pub struct SourceMap {
    pub(super) nodes: Vec<Node>,
}

/// FNV-1a: keys are short and only told apart within one mapping, where a 64-bit collision
/// between distinct keys is not a practical concern, and it is several times cheaper than
/// SipHash on the one-hash-per-mapping-entry path of every parse.
pub(super) fn key_hash(key: &str) -> u64 {
    key.bytes().fold(0xcbf2_9ce4_8422_2325, |hash, byte| {
        (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3)
    })
}

impl SourceMap {
    /// Where the value at `path` starts, when the document has that node.
    pub fn value(&self, path: &JsonPath) -> Option<Location> {
        self.find(path).0.map(|i| self.nodes[i].value)
    }

    /// Where the mapping key that leads to `path` is written.
    pub fn key(&self, path: &JsonPath) -> Option<Location> {
        self.find(path).0.and_then(|i| self.nodes[i].key)
    }

    /// The location of the deepest node on `path` that exists (the root at worst).
    pub fn nearest(&self, path: &JsonPath) -> Option<Location> {
        self.find(path).1.map(|i| self.nodes[i].value)
    }

    pub(super) fn with_capacity(nodes: usize) -> Self {
        Self {
            nodes: Vec::with_capacity(nodes),
        }
    }

    /// Moves every location down by `lines`, for a document parsed out of a larger stream.
    pub(super) fn shift_lines(&mut self, lines: usize) {
        for node in &mut self.nodes {
            node.value.line += lines;
            if let Some(key) = &mut node.key {
                key.line += lines;
            }
        }
    }

    pub(super) fn children(&self, parent: usize) -> impl Iterator<Item = usize> + '_ {
        let end = self.nodes[parent].end.min(self.nodes.len());
        std::iter::successors(Some(parent + 1), move |&i| {
            self.nodes.get(i).map(|node| node.end)
        })
        .take_while(move |&i| i < end)
    }

    /// The node at `path` if it exists, and the deepest node found on the way.
    fn find(&self, path: &JsonPath) -> (Option<usize>, Option<usize>) {
        if self.nodes.is_empty() {
            return (None, None);
        }
        let mut current = 0;
        for segment in path.segments() {
            // Pointers parse numeric tokens as indices, so `/labels/0` may name a key "0".
            let wanted = match (self.nodes[current].kind, segment) {
                (NodeKind::Mapping, Segment::Key(key)) => Some(key_hash(key)),
                (NodeKind::Mapping, Segment::Index(index)) => Some(key_hash(&index.to_string())),
                (NodeKind::Sequence, Segment::Index(index)) => Some(*index as u64),
                (NodeKind::Sequence, Segment::Key(key)) => key
                    .parse::<u64>()
                    .ok()
                    .filter(|_| key == "0" || !key.starts_with(['0', '+'])),
                _ => None,
            };
            // A later record of the same key (an override after a merge) wins, as in the value.
            let found = wanted.and_then(|wanted| {
                self.children(current)
                    .filter(|&i| self.nodes[i].kind != NodeKind::MergeSource)
                    .filter(|&i| self.nodes[i].segment == wanted)
                    .last()
            });
            match found {
                Some(child) => current = child,
                None => return (None, Some(current)),
            }
        }
        (Some(current), Some(current))
    }
}
