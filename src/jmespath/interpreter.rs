//! The tree-walking evaluator, node by node as kyverno/go-jmespath evaluates them.
//!
//! Which errors each node swallows is the heart of Kyverno's dialect. A missing key
//! ([`EvalError::NotFound`]) becomes `null`:
//!
//! | node | swallowed |
//! |---|---|
//! | field on an object without the key | raised here |
//! | field on anything that is not an object | never raised: `null` |
//! | `a.b`, `a[0]` | nothing: an error on the left is the result |
//! | `a \|\| b` | NotFound on either side |
//! | `a && b` | NotFound on the left only |
//! | `!a`, `a == b`, `a < b` | NotFound in any operand |
//! | `a \| b` | NotFound in every stage |
//! | `f(a)` | NotFound in any argument (it becomes `null`) |
//! | `a[*].b`, `a[].b`, `a.*.b` | NotFound per element (the element is dropped) |
//! | `a[*]`, `[a, b]`, `{k: a}` | NotFound on the left of `[*]`; per item in multi-selects (`null`) |
//! | `a[]`, `a.*`, `a[?c]` | **any** error on the left makes the result `null` |
//! | `[?c]` | NotFound in the condition (false) and in the projected value (dropped) |
//!
//! Every other error propagates. Values are read in place ([`Cow::Borrowed`]) and copied only
//! when an expression builds something new.

use super::functions::{self, Arg};
use super::parser::Comparator;
use super::{Environment, EvalError, Node};
use serde_json::{Map, Value};
use std::borrow::Cow;
use std::cell::Cell;

pub(super) type Result<'a> = std::result::Result<Cow<'a, Value>, EvalError>;

static NULL: Value = Value::Null;

pub(super) fn null<'a>() -> Cow<'a, Value> {
    Cow::Borrowed(&NULL)
}

/// One evaluation: the environment it reads and the state of its random generator.
pub struct Interpreter<'e> {
    pub(super) environment: &'e Environment,
    random_state: Cell<Option<u64>>,
    overlay: Option<&'e dyn Overlay>,
}

/// Values laid over the data an evaluation reads, found by where they are asked for: Kyverno's
/// context is one document that rules and loops add to, and an overlay lets those additions and
/// the review's own parts be read in place instead of copied into one document.
pub trait Overlay {
    /// The value of `key` on `value`, when the overlay puts one there (before `value`'s own).
    fn field(&self, value: &Value, key: &str) -> Option<&Value>;

    /// `value` with what the overlay puts on it merged in, when it puts anything there; what
    /// `@` and projections read.
    fn merged(&self, value: &Value) -> Option<Value>;
}

impl<'e> Interpreter<'e> {
    pub(super) fn new(environment: &'e Environment) -> Self {
        Self {
            environment,
            random_state: Cell::new(None),
            overlay: None,
        }
    }

    pub(super) fn with_overlay(environment: &'e Environment, overlay: &'e dyn Overlay) -> Self {
        Self {
            overlay: Some(overlay),
            ..Self::new(environment)
        }
    }

    /// The next 64 random bits: from the environment's seed when it has one, else from fresh
    /// entropy, with a splitmix64 step so that consecutive draws differ.
    pub(super) fn next_random(&self) -> u64 {
        let state = self
            .random_state
            .get()
            .unwrap_or_else(|| self.environment.seed.unwrap_or_else(entropy));
        let next = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
        self.random_state.set(Some(next));
        let mut z = next;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    pub(super) fn evaluate<'a>(&self, node: &'a Node, value: &'a Value) -> Result<'a>
    where
        'e: 'a,
    {
        match node {
            Node::Field(key) => match (self.overlay.and_then(|o| o.field(value, key)), value) {
                (Some(laid), _) => Ok(Cow::Borrowed(laid)),
                (None, Value::Object(map)) => match map.get(key) {
                    Some(found) => Ok(Cow::Borrowed(found)),
                    None => Err(EvalError::NotFound(key.clone())),
                },
                (None, _) => Ok(null()),
            },
            Node::Index(index) => Ok(match value {
                Value::Array(items) => resolve_index(*index, items.len())
                    .map_or_else(null, |i| Cow::Borrowed(&items[i])),
                _ => null(),
            }),
            Node::Slice(parts) => match value {
                Value::Array(items) => slice(items, parts).map(|v| Cow::Owned(Value::Array(v))),
                _ => Ok(null()),
            },
            Node::Literal(literal) => Ok(Cow::Borrowed(literal)),
            Node::Identity | Node::Current => {
                Ok(match self.overlay.and_then(|o| o.merged(value)) {
                    Some(merged) => Cow::Owned(merged),
                    None => Cow::Borrowed(value),
                })
            }
            Node::Subexpression(left, right) | Node::IndexExpression(left, right) => {
                let left = self.evaluate(left, value)?;
                self.apply(right, left)
            }
            Node::Projection(left, right) => {
                let left = not_found_as_null(self.evaluate(left, value))?;
                self.project(right, left)
            }
            Node::Flatten(inner) => {
                let Ok(inner) = self.evaluate(inner, value) else {
                    return Ok(null());
                };
                let Value::Array(items) = inner.as_ref() else {
                    return Ok(null());
                };
                let mut flattened = Vec::with_capacity(items.len());
                for item in items {
                    match item {
                        Value::Array(nested) => flattened.extend(nested.iter().cloned()),
                        other => flattened.push(other.clone()),
                    }
                }
                Ok(Cow::Owned(Value::Array(flattened)))
            }
            Node::ValueProjection(left, right) => {
                let Ok(left) = self.evaluate(left, value) else {
                    return Ok(null());
                };
                let Value::Object(map) = left.as_ref() else {
                    return Ok(null());
                };
                // The fork allocates the value list with its length and then appends, so the
                // right side also runs once per key on `null` before the values.
                let mut collected = Vec::new();
                for element in std::iter::repeat_n(&NULL, map.len()).chain(map.values()) {
                    let current = not_found_as_null(self.evaluate(right, element))?;
                    if !current.is_null() {
                        collected.push(current.into_owned());
                    }
                }
                Ok(Cow::Owned(Value::Array(collected)))
            }
            Node::FilterProjection {
                left,
                right,
                condition,
            } => {
                let Ok(left) = self.evaluate(left, value) else {
                    return Ok(null());
                };
                let Value::Array(items) = left.as_ref() else {
                    return Ok(null());
                };
                let mut collected = Vec::new();
                for item in items {
                    let keep = not_found_as_null(self.evaluate(condition, item))?;
                    if is_false(&keep) {
                        continue;
                    }
                    let current = not_found_as_null(self.evaluate(right, item))?;
                    if !current.is_null() {
                        collected.push(current.into_owned());
                    }
                }
                Ok(Cow::Owned(Value::Array(collected)))
            }
            Node::Comparison(comparator, left, right) => {
                let left = not_found_as_null(self.evaluate(left, value))?;
                let right = not_found_as_null(self.evaluate(right, value))?;
                Ok(Cow::Owned(compare(*comparator, &left, &right)))
            }
            Node::Or(left, right) => {
                let left = not_found_as_null(self.evaluate(left, value))?;
                if !is_false(&left) {
                    return Ok(left);
                }
                not_found_as_null(self.evaluate(right, value))
            }
            Node::And(left, right) => {
                let left = not_found_as_null(self.evaluate(left, value))?;
                if is_false(&left) {
                    return Ok(left);
                }
                self.evaluate(right, value)
            }
            Node::Not(inner) => {
                let inner = not_found_as_null(self.evaluate(inner, value))?;
                Ok(Cow::Owned(Value::Bool(is_false(&inner))))
            }
            Node::Pipe(left, right) => {
                let left = not_found_as_null(self.evaluate(left, value))?;
                not_found_as_null(self.apply(right, left))
            }
            Node::MultiSelectList(items) => {
                if value.is_null() {
                    return Ok(null());
                }
                let mut collected = Vec::with_capacity(items.len());
                for item in items {
                    collected.push(not_found_as_null(self.evaluate(item, value))?.into_owned());
                }
                Ok(Cow::Owned(Value::Array(collected)))
            }
            Node::MultiSelectHash(entries) => {
                if value.is_null() {
                    return Ok(null());
                }
                let mut collected = Map::new();
                for (key, item) in entries {
                    let current = not_found_as_null(self.evaluate(item, value))?;
                    collected.insert(key.clone(), current.into_owned());
                }
                Ok(Cow::Owned(Value::Object(collected)))
            }
            Node::Function(function, arguments) => {
                let mut args = Vec::with_capacity(arguments.len());
                for argument in arguments {
                    args.push(match argument {
                        Node::ExpRef(inner) => Arg::ExpRef(inner),
                        other => Arg::Value(not_found_as_null(self.evaluate(other, value))?),
                    });
                }
                functions::call(self, function, args)
            }
            Node::ExpRef(_) => Err(EvalError::failed(
                "an expression reference (&expr) is only meaningful as a function argument",
            )),
        }
    }

    /// Evaluates `node` against a value that is either borrowed from the input or was just
    /// built, copying out of the latter only what the node selects.
    pub(super) fn apply<'a>(&self, node: &'a Node, value: Cow<'a, Value>) -> Result<'a>
    where
        'e: 'a,
    {
        match value {
            Cow::Borrowed(value) => self.evaluate(node, value),
            Cow::Owned(value) => Ok(Cow::Owned(self.evaluate(node, &value)?.into_owned())),
        }
    }

    fn project<'a>(&self, right: &'a Node, left: Cow<'a, Value>) -> Result<'a>
    where
        'e: 'a,
    {
        let Value::Array(items) = left.as_ref() else {
            return Ok(null());
        };
        let mut collected = Vec::with_capacity(items.len());
        for item in items {
            let current = not_found_as_null(self.evaluate(right, item))?;
            if !current.is_null() {
                collected.push(current.into_owned());
            }
        }
        Ok(Cow::Owned(Value::Array(collected)))
    }
}

fn entropy() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    hasher.write_u128(nanos);
    hasher.finish()
}

/// A missing key read as `null`; every other error kept.
pub(super) fn not_found_as_null(result: Result<'_>) -> Result<'_> {
    match result {
        Err(EvalError::NotFound(_)) => Ok(null()),
        other => other,
    }
}

/// JMESPath's falsy values: `null`, `false`, and empty strings, arrays and objects.
pub fn is_false(value: &Value) -> bool {
    match value {
        Value::Null => true,
        Value::Bool(b) => !b,
        Value::String(s) => s.is_empty(),
        Value::Array(items) => items.is_empty(),
        Value::Object(map) => map.is_empty(),
        Value::Number(_) => false,
    }
}

/// `reflect.DeepEqual` on values decoded by `encoding/json`, where all numbers are float64.
pub fn go_equal(left: &Value, right: &Value) -> bool {
    match (left, right) {
        (Value::Number(a), Value::Number(b)) => a.as_f64() == b.as_f64(),
        (Value::Array(a), Value::Array(b)) => {
            a.len() == b.len() && a.iter().zip(b).all(|(x, y)| go_equal(x, y))
        }
        (Value::Object(a), Value::Object(b)) => {
            a.len() == b.len()
                && a.iter()
                    .all(|(key, x)| b.get(key).is_some_and(|y| go_equal(x, y)))
        }
        (a, b) => a == b,
    }
}

fn compare(comparator: Comparator, left: &Value, right: &Value) -> Value {
    match comparator {
        Comparator::Equal => return Value::Bool(go_equal(left, right)),
        Comparator::NotEqual => return Value::Bool(!go_equal(left, right)),
        _ => {}
    }
    let (Some(a), Some(b)) = (left.as_f64(), right.as_f64()) else {
        return Value::Null;
    };
    Value::Bool(match comparator {
        Comparator::Less => a < b,
        Comparator::LessEqual => a <= b,
        Comparator::Greater => a > b,
        _ => a >= b,
    })
}

fn resolve_index(index: i64, len: usize) -> Option<usize> {
    let len = i64::try_from(len).ok()?;
    let index = if index < 0 { index + len } else { index };
    (0..len).contains(&index).then_some(index as usize)
}

fn slice(items: &[Value], parts: &[Option<i64>; 3]) -> std::result::Result<Vec<Value>, EvalError> {
    let len = i64::try_from(items.len()).unwrap_or(i64::MAX);
    let step = match parts[2] {
        None => 1,
        Some(0) => return Err(EvalError::failed("Invalid slice, step cannot be 0")),
        Some(step) => step,
    };
    let cap = |actual: i64| -> i64 {
        if actual < 0 {
            let shifted = actual.saturating_add(len);
            if shifted < 0 {
                if step < 0 { -1 } else { 0 }
            } else {
                shifted
            }
        } else if actual >= len {
            if step < 0 { len - 1 } else { len }
        } else {
            actual
        }
    };
    let start = parts[0].map_or(if step < 0 { len - 1 } else { 0 }, cap);
    let stop = parts[1].map_or(if step < 0 { -1 } else { len }, cap);
    let mut result = Vec::new();
    let mut i = start;
    while (step > 0 && i < stop) || (step < 0 && i > stop) {
        if let Some(item) = usize::try_from(i).ok().and_then(|i| items.get(i)) {
            result.push(item.clone());
        }
        i = match i.checked_add(step) {
            Some(next) => next,
            None => break,
        };
    }
    Ok(result)
}
