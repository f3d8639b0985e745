//! Kyverno `validate.pattern` language, compiled once into a typed tree.
//!
//! [`Pattern::compile`] checks a pattern the way Kyverno's policy validation does and turns it
//! into an immutable tree (`tree.rs`) of maps with pre-sorted keys, arrays and pre-parsed scalar
//! patterns (`parse.rs`, `operand.rs`). [`Pattern::evaluate`] runs Kyverno's structural algorithm
//! (`validate.rs`) against one resource and maps the result to pass / fail / skip / error exactly
//! as Kyverno's `MatchPattern` does, quirks included. Rule-level messages and `anyPattern`
//! combination belong to the caller.

pub mod operand;
mod parse;
mod tree;
mod validate;
pub mod wildcard;

pub use parse::{AnchorKind, operator_prefix, parse_anchor, string_pattern_matches};

use crate::json_path::JsonPath;
use crate::projection::Projection;
use serde_json::Value;
use std::fmt;
use tree::{Compiler, Node};
use validate::{Evaluation, Kind, Trail};

/// How numbers written in the pattern are typed. Kyverno keeps integers in `pattern` but
/// re-decodes `anyPattern` through Go's JSON decoder, turning every number into a float.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum NumberMode {
    #[default]
    Exact,
    Float,
}

/// A compiled pattern; immutable, so one instance serves any number of concurrent evaluations.
#[derive(Debug, Clone)]
pub struct Pattern {
    root: Node,
}

/// The outcome of one pattern against one resource, before the rule wraps it in a message.
#[derive(Debug, Clone, PartialEq)]
pub enum PatternOutcome {
    Pass,
    Fail { path: JsonPath, message: String },
    Skip { message: String },
    Error { message: String },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PatternError {
    /// Where in the pattern the problem is, relative to the pattern's root.
    pub path: JsonPath,
    pub message: String,
}

impl fmt::Display for PatternError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.path.kyverno(), self.message)
    }
}

impl std::error::Error for PatternError {}

impl Pattern {
    pub fn compile(value: &Value) -> Result<Self, PatternError> {
        Self::compile_with(value, NumberMode::Exact)
    }

    /// Rejects what Kyverno's policy validation rejects: the mutate-only `+(key)` anchor and
    /// existence anchors `^(key)` whose value is not a non-empty list.
    pub fn compile_with(value: &Value, mode: NumberMode) -> Result<Self, PatternError> {
        let mut compiler = Compiler::new(mode);
        let root = compiler.compile(value, &mut JsonPath::root())?;
        Ok(Self { root })
    }

    /// The parts of a resource this pattern can read.
    pub fn reads(&self) -> Projection {
        reads(&self.root)
    }

    pub fn evaluate(&self, resource: &Value) -> PatternOutcome {
        let mut evaluation = Evaluation::default();
        let Err(failure) = evaluation.check(resource, &self.root, &Trail::root()) else {
            return PatternOutcome::Pass;
        };
        if failure.is_skip() {
            return PatternOutcome::Skip {
                message: failure.message,
            };
        }
        if failure.kind == Kind::Negation
            && let Some(path) = failure.path
        {
            return PatternOutcome::Fail {
                path,
                message: failure.message,
            };
        }
        // A failure while some conditional/existence anchor key never appeared in the resource
        // is reported by Kyverno as an execution error without a path.
        if evaluation.anchor_keys_missing() {
            return PatternOutcome::Error {
                message: failure.message,
            };
        }
        match failure.path {
            Some(path) => PatternOutcome::Fail {
                path,
                message: failure.message,
            },
            None => PatternOutcome::Error {
                message: failure.message,
            },
        }
    }
}

/// What of a resource a pattern can look at: the keys its maps name, each element of an array
/// under the union of the array's element patterns, and whole values under scalars. A map with
/// a wildcard key (and an empty map, which Kyverno compares as a value) reads everything.
fn reads(node: &Node) -> Projection {
    match node {
        Node::Scalar(_) => Projection::Whole,
        Node::Array(items) if items.is_empty() => Projection::Whole,
        Node::Array(items) => items.iter().fold(Projection::nothing(), |mut union, item| {
            union.merge(reads(item));
            union
        }),
        Node::Map(map)
            if map.entries.is_empty()
                || map
                    .entries
                    .iter()
                    .any(|entry| wildcard::has_wildcard(&entry.name)) =>
        {
            Projection::Whole
        }
        Node::Map(map) => map
            .entries
            .iter()
            .fold(Projection::nothing(), |mut union, entry| {
                union.merge(Projection::Fields(
                    [(entry.name.clone(), reads(&entry.value))].into(),
                ));
                union
            }),
    }
}

#[cfg(test)]
mod tests;
