//! The structural algorithm: a compiled pattern checked against one resource.
//!
//! Recursion follows the pattern, never the resource, so its depth is bounded by the policy.
//! Everything that Kyverno mutates or accumulates during one evaluation — the table of anchor
//! keys seen in the resource and the metadata label/annotation key rewrite — lives in
//! [`Evaluation`], so a compiled [`super::Pattern`] stays immutable and shareable.

use super::operand::{format_v, type_name};
use super::parse::{AnchorKind, ScalarPattern, parse_anchor};
use super::tree::{Entry, MapNode, Node, TagLink};
use super::wildcard;
use crate::json_path::JsonPath;
use crate::small_map;
use serde_json::{Map, Value};
use std::rc::Rc;

static NULL: Value = Value::Null;

/// How much of a resource value a mismatch message quotes: messages reach the answer and the
/// log, and a value can be as large as the object.
const QUOTED_VALUE_LIMIT: usize = 1024;

/// How many skipped elements a skip message names before counting the rest.
const NAMED_SKIPS: usize = 10;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A conditional anchor did not hold: the enclosing map does not apply.
    Conditional,
    /// A global anchor did not hold: the enclosing map does not apply.
    Global,
    /// A negation anchor's key is present: always a failure.
    Negation,
    /// Skips collected by a map or an array in which nothing applied.
    Skipped,
    Plain,
}

#[derive(Debug, Clone)]
pub struct Failure {
    pub kind: Kind,
    /// `None` where Kyverno reports an empty path.
    pub path: Option<JsonPath>,
    pub message: String,
}

impl Failure {
    fn plain(path: &Trail<'_>, message: String) -> Self {
        Self {
            kind: Kind::Plain,
            path: Some(path.to_path()),
            message,
        }
    }

    pub fn is_skip(&self) -> bool {
        matches!(self.kind, Kind::Conditional | Kind::Global | Kind::Skipped)
    }

    fn is_direct_skip(&self) -> bool {
        matches!(self.kind, Kind::Conditional | Kind::Global)
    }

    /// What `failures` add up to, and `more` that were not kept.
    fn skipped(failures: Vec<Failure>, more: usize, path: &Trail<'_>) -> Self {
        let named = failures.len().min(NAMED_SKIPS);
        let more = more + failures.len() - named;
        let mut message = failures[..named]
            .iter()
            .map(|f| f.message.as_str())
            .collect::<Vec<_>>()
            .join("; ");
        if more > 0 {
            message.push_str(&format!("; and {more} more"));
        }
        Self {
            kind: Kind::Skipped,
            path: Some(path.to_path()),
            message,
        }
    }
}

type Checked = Result<(), Failure>;

/// Where the check stands in the resource: one frame per step, each on the stack of the call
/// that took the step and linked to its parent's, so descending costs no allocation and keys
/// are borrowed from the pattern. A [`JsonPath`] is built only when a failure reports one.
#[derive(Debug)]
pub struct Trail<'a> {
    parent: Option<&'a Trail<'a>>,
    step: Step<'a>,
}

#[derive(Debug, Clone, Copy)]
enum Step<'a> {
    Root,
    Key(&'a str),
    Index(usize),
}

impl<'a> Trail<'a> {
    pub fn root() -> Self {
        Self {
            parent: None,
            step: Step::Root,
        }
    }

    fn key(&'a self, key: &'a str) -> Self {
        Self {
            parent: Some(self),
            step: Step::Key(key),
        }
    }

    fn index(&'a self, index: usize) -> Self {
        Self {
            parent: Some(self),
            step: Step::Index(index),
        }
    }

    fn to_path(&self) -> JsonPath {
        let mut steps = Vec::new();
        let mut frame = Some(self);
        while let Some(current) = frame {
            steps.push(current.step);
            frame = current.parent;
        }
        let mut path = JsonPath::root();
        for step in steps.iter().rev() {
            match step {
                Step::Root => {}
                Step::Key(key) => path.push_key(*key),
                Step::Index(index) => path.push_index(*index),
            }
        }
        path
    }

    fn kyverno(&self) -> String {
        self.to_path().kyverno()
    }

    fn child_key(&self, key: &str) -> JsonPath {
        self.to_path().child_key(key)
    }
}

/// Both tables start empty and unallocated: most patterns track no anchor and rewrite no
/// metadata key, and every rule of every review makes a new evaluation.
#[derive(Default)]
pub struct Evaluation {
    /// Raw anchor key → whether any visited resource map had its key; one entry per distinct
    /// key, and patterns hold a handful at most, so a list beats hashing.
    anchors: Vec<(String, bool)>,
    /// Rewritten `labels`/`annotations` maps, by tag id (grown on the first rewrite); once
    /// rewritten, later visits (other array elements included) see the rewritten map, as
    /// Kyverno's in-place edit does.
    rewritten: Vec<Option<Rc<MapNode>>>,
}

impl Evaluation {
    /// Whether a conditional or existence anchor key was never found in the resource.
    pub fn anchor_keys_missing(&self) -> bool {
        self.anchors.iter().any(|(_, present)| !present)
    }

    pub fn check(&mut self, resource: &Value, node: &Node, path: &Trail<'_>) -> Checked {
        match node {
            Node::Map(map) => {
                let Value::Object(object) = resource else {
                    return Err(Failure::plain(
                        path,
                        format!(
                            "pattern and resource have different structures. Path: {}. Expected map[string]interface {{}}, found {}",
                            path.kyverno(),
                            type_name(resource)
                        ),
                    ));
                };
                let rewritten = map
                    .tag_id
                    .and_then(|id| self.rewritten.get(id).cloned().flatten());
                let map = rewritten.as_deref().unwrap_or(map);
                self.record_anchor_keys(map, object);
                self.check_map(object, map, path)
            }
            Node::Array(items) => {
                let Value::Array(elements) = resource else {
                    return Err(Failure::plain(
                        path,
                        format!(
                            "validation rule failed at path {}, resource does not satisfy the expected overlay pattern",
                            path.kyverno()
                        ),
                    ));
                };
                self.check_array(resource, elements, items, path)
            }
            Node::Scalar(scalar) => check_scalar(resource, scalar, path),
        }
    }

    fn record_anchor_keys(&mut self, map: &MapNode, object: &Map<String, Value>) {
        for &i in &map.tracked {
            let entry = &map.entries[i];
            let present = object.contains_key(&entry.name);
            match self.anchors.iter_mut().find(|(raw, _)| *raw == entry.raw) {
                Some((_, seen)) => *seen |= present,
                None => self.anchors.push((entry.raw.clone(), present)),
            }
        }
    }

    fn check_map(
        &mut self,
        object: &Map<String, Value>,
        map: &MapNode,
        path: &Trail<'_>,
    ) -> Checked {
        self.rewrite_metadata(object, map);
        // Most maps hold no anchor: they skip the bookkeeping, whose list of skips alone would
        // cost every visit a drop.
        if !map.anchor_order.is_empty() {
            self.check_anchors(object, map, path)?;
        }
        for &i in &map.other_order {
            self.check_entry(object, &map.entries[i], path)?;
        }
        Ok(())
    }

    /// The anchor keys of a map, which go first: a map where none applied is skipped.
    fn check_anchors(
        &mut self,
        object: &Map<String, Value>,
        map: &MapNode,
        path: &Trail<'_>,
    ) -> Checked {
        let mut applied = 0usize;
        let mut skips: Vec<Failure> = Vec::new();
        for &i in &map.anchor_order {
            match self.check_entry(object, &map.entries[i], path) {
                Ok(()) => applied += 1,
                Err(failure) if failure.is_skip() => skips.push(failure),
                // The map is going to be skipped anyway, so a real failure here does not count.
                Err(_) if skips.iter().any(Failure::is_direct_skip) => {}
                Err(failure) => return Err(failure),
            }
        }
        if !skips.is_empty() && (applied == 0 || skips.iter().any(Failure::is_direct_skip)) {
            return Err(Failure::skipped(skips, 0, path));
        }
        Ok(())
    }

    fn check_entry(
        &mut self,
        object: &Map<String, Value>,
        entry: &Entry,
        path: &Trail<'_>,
    ) -> Checked {
        let found = small_map::lookup(object, &entry.name, || object.get(&entry.name));
        match entry.anchor {
            None | Some(AnchorKind::AddIfNotPresent) => match &entry.value {
                Node::Scalar(scalar) if scalar.as_str() == Some("*") => match found {
                    Some(value) if !value.is_null() => Ok(()),
                    _ => Err(Failure::plain(path, format!("{}/{} not found", path.kyverno(), entry.name))),
                },
                // A leaf is judged here, as `check` would, without another trip through it.
                Node::Scalar(scalar) => {
                    check_scalar(found.unwrap_or(&NULL), scalar, &path.key(&entry.name))
                }
                _ => self.check_child(found.unwrap_or(&NULL), entry, path),
            },
            Some(AnchorKind::Conditional) => match found {
                Some(value) => self.check_child(value, entry, path).map_err(|failure| Failure {
                    kind: Kind::Conditional,
                    path: failure.path,
                    message: format!("conditional anchor mismatch: {}", failure.message),
                }),
                None => Err(Failure {
                    kind: Kind::Conditional,
                    path: Some(path.child_key(&entry.name)),
                    message: "conditional anchor mismatch: conditional anchor key doesn't exist in the resource"
                        .to_owned(),
                }),
            },
            Some(AnchorKind::Global) => match found {
                Some(value) => self.check_child(value, entry, path).map_err(|failure| Failure {
                    kind: Kind::Global,
                    path: failure.path,
                    message: format!("global anchor mismatch: {}", failure.message),
                }),
                None => Ok(()),
            },
            Some(AnchorKind::Equality) => match found {
                Some(value) => self.check_child(value, entry, path),
                None => Ok(()),
            },
            Some(AnchorKind::Negation) => match found {
                Some(_) => {
                    let at = path.child_key(&entry.name);
                    let message = format!("negation anchor matched in resource: {} is not allowed", at.kyverno());
                    Err(Failure { kind: Kind::Negation, path: Some(at), message })
                }
                None => Ok(()),
            },
            Some(AnchorKind::Existence) => match found {
                Some(value) => self.check_existence(value, &entry.value, &path.key(&entry.name)),
                None => Ok(()),
            },
        }
    }

    fn check_child(&mut self, value: &Value, entry: &Entry, path: &Trail<'_>) -> Checked {
        self.check(value, &entry.value, &path.key(&entry.name))
    }

    fn check_existence(&mut self, value: &Value, pattern: &Node, path: &Trail<'_>) -> Checked {
        let Value::Array(elements) = value else {
            return Err(Failure::plain(
                path,
                format!(
                    "invalid resource type {}: Existence ^ () anchor can be used only on list/array type resource",
                    type_name(value)
                ),
            ));
        };
        let Node::Array(wanted) = pattern else {
            return Err(Failure::plain(
                path,
                "invalid pattern type: Pattern has to be of list to compare against resource"
                    .to_owned(),
            ));
        };
        for item in wanted {
            if !matches!(item, Node::Map(_)) {
                return Err(Failure::plain(
                    path,
                    "invalid pattern type []interface {}: Pattern has to be of type map to compare against items in resource"
                        .to_owned(),
                ));
            }
            let mut satisfied = false;
            for (i, element) in elements.iter().enumerate() {
                let result = self.check(element, item, &path.index(i));
                if result.is_ok() {
                    satisfied = true;
                    break;
                }
            }
            if !satisfied {
                return Err(Failure::plain(
                    path,
                    format!(
                        "existence anchor validation failed at path {}",
                        path.kyverno()
                    ),
                ));
            }
        }
        Ok(())
    }

    fn check_array(
        &mut self,
        resource: &Value,
        elements: &[Value],
        items: &[Node],
        path: &Trail<'_>,
    ) -> Checked {
        let Some(first) = items.first() else {
            return Err(Failure::plain(path, "pattern Array empty".to_owned()));
        };
        match first {
            // Only the first pattern element is used, against every resource element.
            Node::Map(_) => self.check_elements(elements.iter().map(|e| (e, first)), path),
            Node::Scalar(scalar) => check_scalar(resource, scalar, path),
            Node::Array(_) => {
                if elements.len() < items.len() {
                    return Err(Failure {
                        kind: Kind::Plain,
                        path: None,
                        message: format!(
                            "validate Array failed, array length mismatch, resource Array len is {} and pattern Array len is {}",
                            elements.len(),
                            items.len()
                        ),
                    });
                }
                self.check_elements(elements.iter().zip(items), path)
            }
        }
    }

    /// Elements are checked in order; skipped ones are ignored unless none applied.
    fn check_elements<'v, 'n>(
        &mut self,
        pairs: impl Iterator<Item = (&'v Value, &'n Node)>,
        path: &Trail<'_>,
    ) -> Checked {
        let mut applied = 0usize;
        // Allocated by the first skip; most arrays have none, and then there is nothing to drop.
        // Only those the message names are kept: an array may have any number of elements.
        let mut skips: Option<Vec<Failure>> = None;
        let mut more_skips = 0usize;
        for (i, (element, node)) in pairs.enumerate() {
            let result = self.check(element, node, &path.index(i));
            match result {
                Ok(()) => applied += 1,
                Err(failure) if failure.is_skip() => {
                    let skips = skips.get_or_insert_with(Vec::new);
                    if skips.len() < NAMED_SKIPS {
                        skips.push(failure);
                    } else {
                        more_skips += 1;
                    }
                }
                Err(failure) => return Err(failure),
            }
        }
        match skips {
            Some(skips) if applied == 0 => Err(Failure::skipped(skips, more_skips, path)),
            _ => Ok(()),
        }
    }

    /// Kyverno's `ExpandInMetadata`: wildcard keys under `metadata.labels`/`annotations` become
    /// the first matching resource key, and only string-valued entries survive.
    fn rewrite_metadata(&mut self, object: &Map<String, Value>, map: &MapNode) {
        let Some(link) = &map.metadata else { return };
        let Some(resource_metadata) = object.get("metadata").filter(|v| !v.is_null()) else {
            return;
        };
        let Node::Map(pattern_metadata) = &map.entries[link.entry].value else {
            return;
        };
        for (tag, tag_link) in [("labels", link.labels), ("annotations", link.annotations)] {
            if let Some(tag_link) = tag_link {
                self.rewrite_tag(tag, tag_link, pattern_metadata, resource_metadata);
            }
        }
    }

    fn rewrite_tag(
        &mut self,
        tag: &str,
        link: TagLink,
        pattern_metadata: &MapNode,
        resource_metadata: &Value,
    ) {
        let Some(resource_keys) = resource_tag_keys(resource_metadata, tag) else {
            return;
        };
        let Node::Map(compiled) = &pattern_metadata.entries[link.entry].value else {
            return;
        };
        let current = self.rewritten.get(link.id).cloned().flatten();
        let current = current.as_deref().unwrap_or(compiled);
        let mut entries: Vec<Entry> = Vec::new();
        for entry in &current.entries {
            if !matches!(&entry.value, Node::Scalar(ScalarPattern::Str(_))) {
                continue;
            }
            let raw = if wildcard::has_wildcard(&entry.raw) {
                match parse_anchor(&entry.raw) {
                    Some((kind, inner)) => {
                        let key = first_match(inner, &resource_keys).unwrap_or(inner);
                        format!("{}({})", kind.modifier(), key)
                    }
                    None => first_match(&entry.raw, &resource_keys)
                        .unwrap_or(&entry.raw)
                        .to_owned(),
                }
            } else {
                entry.raw.clone()
            };
            let anchor = parse_anchor(&raw);
            let rewritten = Entry {
                anchor: anchor.map(|(kind, _)| kind),
                name: anchor.map_or(raw.as_str(), |(_, inner)| inner).to_owned(),
                raw,
                value: entry.value.clone(),
            };
            // Two keys rewritten to the same text collapse into one, as in a Go map.
            match entries.iter_mut().find(|e| e.raw == rewritten.raw) {
                Some(existing) => *existing = rewritten,
                None => entries.push(rewritten),
            }
        }
        if self.rewritten.len() <= link.id {
            self.rewritten.resize(link.id + 1, None);
        }
        self.rewritten[link.id] = Some(Rc::new(MapNode::from_entries(entries, Some(link.id))));
    }
}

/// The string-valued keys of the resource's labels/annotations map, or `None` when the resource
/// has no such map (in which case Kyverno leaves the pattern alone).
fn resource_tag_keys<'r>(metadata: &'r Value, tag: &str) -> Option<Vec<&'r str>> {
    let Value::Object(metadata) = metadata else {
        return None;
    };
    let value = metadata.get(tag).or_else(|| {
        metadata
            .iter()
            .find(|(k, _)| parse_anchor(k).is_some_and(|(_, inner)| inner == tag))
            .map(|(_, v)| v)
    })?;
    let Value::Object(tags) = value else {
        return None;
    };
    Some(
        tags.iter()
            .filter(|(_, v)| v.is_string())
            .map(|(k, _)| k.as_str())
            .collect(),
    )
}

fn first_match<'r>(pattern: &str, keys: &[&'r str]) -> Option<&'r str> {
    keys.iter()
        .copied()
        .find(|key| wildcard::matches(pattern, key))
}

fn mismatch(resource: &Value, scalar: &ScalarPattern, path: &Trail<'_>) -> Failure {
    Failure::plain(
        path,
        format!(
            "resource value '{}' does not match '{}' at path {}",
            format_v(resource, QUOTED_VALUE_LIMIT),
            scalar.display(),
            path.kyverno()
        ),
    )
}

/// A scalar against an array means every element must match it (an empty array passes); the
/// message then quotes the whole array.
fn check_scalar(resource: &Value, scalar: &ScalarPattern, path: &Trail<'_>) -> Checked {
    let matched = match resource {
        Value::Array(elements) => elements.iter().all(|e| scalar.matches(e)),
        _ => scalar.matches(resource),
    };
    if matched {
        Ok(())
    } else {
        Err(mismatch(resource, scalar, path))
    }
}
