//! The condition operators, each answering as Kyverno's handler for it does.
//!
//! Values are typed as Kyverno holds them: an integer literal of the policy is an `int64`, every
//! other number (fractions, and whatever a variable resolved to) a `float64`. The distinction is
//! visible: `Equals` between lists compares element types as Go's `reflect.DeepEqual` does, and
//! the `In` family turns numbers into text with Go's `%v` (`1e+06` for a float64 million).
//!
//! Where Kyverno's handler would panic (a non-string in the key list of the deprecated `In` and
//! `NotIn`), evaluation is an error instead.

use crate::coerce::duration;
use crate::coerce::gofmt::{sprint, type_name};
use crate::coerce::number::{GoNumber, as_go_number, go_f64_to_i64, go_parse_float};
use crate::coerce::quantity::Quantity;
use crate::coerce::semver::Version;
use crate::pattern::operand::{bool_matches, float_matches, int_matches};
use crate::pattern::{operator_prefix, string_pattern_matches, wildcard};
use serde_json::Value;
use std::cmp::Ordering;
use std::fmt;

/// A condition operator, decided at load.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operator {
    Equals,
    NotEquals,
    /// Deprecated in Kyverno; no wildcard on a key list.
    In,
    AnyIn,
    AllIn,
    /// Deprecated in Kyverno; no wildcard on a key list.
    NotIn,
    AnyNotIn,
    AllNotIn,
    /// `GreaterThan` and friends: durations, quantities, numbers, then semantic versions.
    Numeric(Comparison),
    /// The deprecated `Duration*` operators: durations and seconds only.
    Duration(Comparison),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Comparison {
    GreaterThan,
    GreaterThanOrEquals,
    LessThan,
    LessThanOrEquals,
    /// The operator was written in another case (`greaterthan`). Kyverno picks the handler
    /// case-insensitively but then compares the spelling exactly, so such a condition never
    /// holds.
    Miscased,
}

impl Comparison {
    fn holds(self, ordering: Option<Ordering>) -> bool {
        match (self, ordering) {
            (_, None) | (Comparison::Miscased, _) => false,
            (Comparison::GreaterThan, Some(o)) => o == Ordering::Greater,
            (Comparison::GreaterThanOrEquals, Some(o)) => o != Ordering::Less,
            (Comparison::LessThan, Some(o)) => o == Ordering::Less,
            (Comparison::LessThanOrEquals, Some(o)) => o != Ordering::Greater,
        }
    }

    fn floats(self, key: f64, value: f64) -> bool {
        self.holds(key.partial_cmp(&value))
    }
}

/// Kyverno's operator names (`kyvernov1.ConditionOperators`), in its order.
pub const OPERATOR_NAMES: [(&str, Operator); 18] = [
    ("Equal", Operator::Equals),
    ("Equals", Operator::Equals),
    ("NotEqual", Operator::NotEquals),
    ("NotEquals", Operator::NotEquals),
    ("In", Operator::In),
    ("AnyIn", Operator::AnyIn),
    ("AllIn", Operator::AllIn),
    ("NotIn", Operator::NotIn),
    ("AnyNotIn", Operator::AnyNotIn),
    ("AllNotIn", Operator::AllNotIn),
    (
        "GreaterThanOrEquals",
        Operator::Numeric(Comparison::GreaterThanOrEquals),
    ),
    ("GreaterThan", Operator::Numeric(Comparison::GreaterThan)),
    (
        "LessThanOrEquals",
        Operator::Numeric(Comparison::LessThanOrEquals),
    ),
    ("LessThan", Operator::Numeric(Comparison::LessThan)),
    (
        "DurationGreaterThanOrEquals",
        Operator::Duration(Comparison::GreaterThanOrEquals),
    ),
    (
        "DurationGreaterThan",
        Operator::Duration(Comparison::GreaterThan),
    ),
    (
        "DurationLessThanOrEquals",
        Operator::Duration(Comparison::LessThanOrEquals),
    ),
    ("DurationLessThan", Operator::Duration(Comparison::LessThan)),
];

/// How an operator name was recognised.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Spelling {
    /// Exactly one of [`OPERATOR_NAMES`].
    Exact(Operator),
    /// One of them in another case: `canonical` is the name as Kyverno writes it.
    Miscased {
        operator: Operator,
        canonical: &'static str,
    },
}

impl Operator {
    /// Reads an operator name the way Kyverno's `CreateOperatorHandler` does: Go's
    /// `strings.ToLower` on both sides. `None` for a name Kyverno has no handler for.
    pub fn recognise(name: &str) -> Option<Spelling> {
        if let Some(&(_, operator)) = OPERATOR_NAMES.iter().find(|(known, _)| *known == name) {
            return Some(Spelling::Exact(operator));
        }
        let lowered = go_to_lower(name);
        let &(canonical, operator) = OPERATOR_NAMES
            .iter()
            .find(|(known, _)| known.to_ascii_lowercase() == lowered)?;
        let operator = match operator {
            Operator::Numeric(_) => Operator::Numeric(Comparison::Miscased),
            Operator::Duration(_) => Operator::Duration(Comparison::Miscased),
            other => other,
        };
        Some(Spelling::Miscased {
            operator,
            canonical,
        })
    }

    /// `handler.Evaluate(key, value)` on values whose variables are already substituted.
    pub fn evaluate(self, key: &Value, value: &Value) -> Result<bool, OperatorError> {
        Ok(match self {
            Operator::Equals => equals(key, value).unwrap_or(false),
            // A key of a type Equals does not know is false under NotEquals too.
            Operator::NotEquals => equals(key, value).is_some_and(|equal| !equal),
            Operator::In => match scalar_key(key) {
                Key::Scalar(key) => legacy_scalar_in(&key, value).unwrap_or(false),
                Key::List(items) => {
                    legacy_list_in(&string_items(items, self)?, value, false).unwrap_or(false)
                }
                Key::Unsupported => false,
            },
            Operator::NotIn => match scalar_key(key) {
                Key::Scalar(key) => legacy_scalar_in(&key, value).is_some_and(|found| !found),
                Key::List(items) => {
                    legacy_list_in(&string_items(items, self)?, value, true).unwrap_or(false)
                }
                Key::Unsupported => false,
            },
            Operator::AnyIn | Operator::AllIn | Operator::AnyNotIn | Operator::AllNotIn => {
                set_operator(self, key, value)
            }
            Operator::Numeric(comparison) => numeric(comparison, key, value),
            Operator::Duration(comparison) => legacy_duration(comparison, key, value),
        })
    }
}

/// Go's `strings.ToLower`, which maps `İ` to a plain `i` where Rust's lowercase adds a dot.
fn go_to_lower(text: &str) -> String {
    let mut lowered = String::with_capacity(text.len());
    for c in text.chars() {
        if c == '\u{130}' {
            lowered.push('i');
        } else {
            lowered.extend(c.to_lowercase());
        }
    }
    lowered
}

/// Where Kyverno's handler panics instead of answering.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OperatorError {
    pub message: String,
}

impl fmt::Display for OperatorError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for OperatorError {}

// ---- Equals / NotEquals -------------------------------------------------------------------

/// `EqualHandler.Evaluate`; `None` for a key type it does not handle (null), which is false
/// under both Equals and NotEquals.
fn equals(key: &Value, value: &Value) -> Option<bool> {
    Some(match key {
        Value::Null => return None,
        Value::Bool(key) => bool_matches(*key, value),
        Value::Number(number) => match as_go_number(number) {
            GoNumber::Int(key) => int_matches(key, value),
            GoNumber::Float(key) => float_matches(key, value),
        },
        Value::String(text) => string_equals(text, key, value),
        Value::Array(_) | Value::Object(_) => {
            matches!(value, Value::Array(_) | Value::Object(_)) && go_deep_equal(key, value)
        }
    })
}

/// A string key: a duration on either side, then a quantity key (whose string value must be a
/// quantity too, with no wildcard fallback), then the value as a wildcard over the key.
fn string_equals(text: &str, key: &Value, value: &Value) -> bool {
    if let Some((key, value)) = durations(key, value) {
        return seconds(key) == seconds(value);
    }
    if let Some(quantity) = Quantity::parse(text)
        && let Value::String(other) = value
    {
        return Quantity::parse(other).is_some_and(|other| quantity.cmp(&other).is_eq());
    }
    match value {
        Value::String(pattern) => wildcard::matches(pattern, text),
        _ => false,
    }
}

/// `reflect.DeepEqual` on decoded JSON: an int64 never equals a float64.
fn go_deep_equal(left: &Value, right: &Value) -> bool {
    let mut pending = vec![(left, right)];
    while let Some(pair) = pending.pop() {
        let same = match pair {
            (Value::Null, Value::Null) => true,
            (Value::Bool(a), Value::Bool(b)) => a == b,
            (Value::Number(a), Value::Number(b)) => as_go_number(a) == as_go_number(b),
            (Value::String(a), Value::String(b)) => a == b,
            (Value::Array(a), Value::Array(b)) => {
                pending.extend(a.iter().zip(b));
                a.len() == b.len()
            }
            (Value::Object(a), Value::Object(b)) => {
                a.len() == b.len()
                    && a.iter().all(|(name, item)| match b.get(name) {
                        Some(other) => {
                            pending.push((item, other));
                            true
                        }
                        None => false,
                    })
            }
            _ => false,
        };
        if !same {
            return false;
        }
    }
    true
}

// ---- durations ------------------------------------------------------------------------------

const SECOND: i64 = 1_000_000_000;

/// Kyverno's `parseDuration`: at least one side must be a string Go reads as a duration (the
/// bare `"0"` does not count); a number on the other side is seconds. Nanoseconds.
fn durations(key: &Value, value: &Value) -> Option<(i64, i64)> {
    let text_duration = |side: &Value| match side {
        Value::String(text) if text != "0" => duration::parse(text),
        _ => None,
    };
    let (key_duration, value_duration) = (text_duration(key), text_duration(value));
    if key_duration.is_none() && value_duration.is_none() {
        return None;
    }
    Some((
        key_duration.or_else(|| number_seconds(key))?,
        value_duration.or_else(|| number_seconds(value))?,
    ))
}

/// `time.Duration(n) * time.Second` of a number side.
fn number_seconds(side: &Value) -> Option<i64> {
    match side {
        Value::Number(number) => Some(go_seconds(as_go_number(number))),
        _ => None,
    }
}

/// `time.Duration(n) * time.Second`: a float is truncated first, and the product wraps.
fn go_seconds(number: GoNumber) -> i64 {
    match number {
        GoNumber::Int(i) => i.wrapping_mul(SECOND),
        GoNumber::Float(f) => go_f64_to_i64(f).wrapping_mul(SECOND),
    }
}

/// `time.Duration.Seconds()`, computed as Go does so that equal durations compare equal.
fn seconds(nanos: i64) -> f64 {
    (nanos / SECOND) as f64 + (nanos % SECOND) as f64 / 1e9
}

// ---- the In family --------------------------------------------------------------------------

enum Key<'a> {
    Scalar(String),
    List(&'a [Value]),
    Unsupported,
}

/// Scalars become text with Go's `fmt.Sprint`; null and maps are not handled.
fn scalar_key(key: &Value) -> Key<'_> {
    match key {
        Value::String(text) => Key::Scalar(text.clone()),
        Value::Number(_) | Value::Bool(_) => Key::Scalar(sprint(key)),
        Value::Array(items) => Key::List(items),
        Value::Null | Value::Object(_) => Key::Unsupported,
    }
}

/// The deprecated operators assert every key item is a string.
fn string_items(items: &[Value], operator: Operator) -> Result<Vec<&str>, OperatorError> {
    items
        .iter()
        .enumerate()
        .map(|(index, item)| match item {
            Value::String(text) => Ok(text.as_str()),
            other => Err(OperatorError {
                message: format!(
                    "operator {operator:?} needs a list of strings as its key, but item {index} \
                     is {}; Kyverno stops with a panic here",
                    type_name(other)
                ),
            }),
        })
        .collect()
}

/// Wildcard match in both directions.
fn either_matches(a: &str, b: &str) -> bool {
    wildcard::matches(a, b) || wildcard::matches(b, a)
}

/// `json.Unmarshal(text, &[]string)`: `null` is an empty list, a null item an empty string.
fn json_string_list(text: &str) -> Option<Vec<String>> {
    let list: Option<Vec<Option<String>>> = serde_json::from_str(text).ok()?;
    Some(
        list.unwrap_or_default()
            .into_iter()
            .map(Option::unwrap_or_default)
            .collect(),
    )
}

/// `json.Valid`.
fn json_valid(text: &str) -> bool {
    serde_json::from_str::<serde::de::IgnoredAny>(text).is_ok()
}

/// The value text of the newer operators: a JSON list of strings when it is valid JSON (and
/// `None`, an invalid type, when that JSON is not such a list), otherwise itself.
fn text_items(text: &str) -> Option<Vec<String>> {
    if json_valid(text) {
        json_string_list(text)
    } else {
        Some(vec![text.to_owned()])
    }
}

/// `pattern.Validate(key, rangeText)`.
fn in_range(range: &str, key: &str) -> bool {
    string_pattern_matches(range, &Value::String(key.to_owned()))
}

/// Whether some item of a list value, as `%v` text, matches a scalar key either way.
fn some_item_matches(items: &[Value], key: &str) -> bool {
    items.iter().any(|item| either_matches(&sprint(item), key))
}

/// `keyExistsInArray` of `In`/`NotIn`: `None` when the value has a type it cannot search.
fn legacy_scalar_in(key: &str, value: &Value) -> Option<bool> {
    match value {
        Value::Array(items) => Some(some_item_matches(items, key)),
        Value::String(text) => {
            if wildcard::matches(text, key) {
                return Some(true);
            }
            Some(json_string_list(text)?.iter().any(|item| item == key))
        }
        _ => None,
    }
}

/// `setExistsInArray` of `In`/`NotIn`: exact set membership, no wildcards. A one-item key equal
/// to a string value is "in" for both operators.
fn legacy_list_in(keys: &[&str], value: &Value, not_in: bool) -> Option<bool> {
    let items: Vec<String> = match value {
        Value::Array(items) => items
            .iter()
            .map(|item| item.as_str().map(str::to_owned))
            .collect::<Option<_>>()?,
        Value::String(text) => {
            if keys.len() == 1 && keys[0] == text {
                return Some(true);
            }
            json_string_list(text)?
        }
        _ => return None,
    };
    let contains = |key: &&str| items.iter().any(|item| item == key);
    Some(if not_in {
        !keys.iter().all(contains)
    } else {
        keys.iter().all(contains)
    })
}

/// `AnyIn`, `AllIn`, `AnyNotIn`, `AllNotIn`.
fn set_operator(operator: Operator, key: &Value, value: &Value) -> bool {
    let negated = matches!(operator, Operator::AnyNotIn | Operator::AllNotIn);
    match scalar_key(key) {
        Key::Scalar(key) => scalar_in(&key, value).is_some_and(|found| found != negated),
        Key::List(items) => {
            let keys: Vec<String> = items.iter().map(sprint).collect();
            let answer = if matches!(operator, Operator::AnyIn | Operator::AnyNotIn) {
                any_set(&keys, value, negated)
            } else {
                all_set(&keys, value, negated)
            };
            answer.unwrap_or(false)
        }
        Key::Unsupported => false,
    }
}

/// `anyKeyExistsInArray` / `allKeyExistsInArray` (the same code): `None` for a value type they
/// cannot search. A JSON list in the value is matched exactly, a range with the pattern rules.
fn scalar_in(key: &str, value: &Value) -> Option<bool> {
    match value {
        Value::Array(items) => Some(some_item_matches(items, key)),
        Value::String(text) => {
            if wildcard::matches(text, key) {
                return Some(true);
            }
            if operator_prefix(text) == "-" {
                return Some(in_range(text, key));
            }
            Some(text_items(text)?.iter().any(|item| item == key))
        }
        _ => None,
    }
}

/// `anySetExistsInArray`: a number or bool value is a one-item list here.
fn any_set(keys: &[String], value: &Value, any_not_in: bool) -> Option<bool> {
    let items: Vec<String> = match value {
        Value::Array(items) => items.iter().map(sprint).collect(),
        Value::Number(_) | Value::Bool(_) => vec![sprint(value)],
        Value::String(text) => {
            if keys.len() == 1 && keys[0] == *text {
                return Some(!any_not_in);
            }
            if operator_prefix(text) == "-" {
                // Kyverno turns the first `-` into `!-` to test "outside the range".
                let range = if any_not_in {
                    text.replacen('-', "!-", 1)
                } else {
                    text.clone()
                };
                return Some(keys.iter().any(|key| in_range(&range, key)));
            }
            text_items(text)?
        }
        Value::Null | Value::Object(_) => return None,
    };
    let found = |key: &String| items.iter().any(|item| either_matches(key, item));
    Some(if any_not_in {
        !keys.iter().all(found)
    } else {
        keys.iter().any(found)
    })
}

/// `allSetExistsInArray`: unlike [`any_set`], a number or bool value is an invalid type.
fn all_set(keys: &[String], value: &Value, all_not_in: bool) -> Option<bool> {
    let items: Vec<String> = match value {
        Value::Array(items) => items.iter().map(sprint).collect(),
        Value::String(text) => {
            if keys.len() == 1 && keys[0] == *text {
                return Some(!all_not_in);
            }
            if operator_prefix(text) == "-" {
                return Some(if all_not_in {
                    !keys.iter().any(|key| in_range(text, key))
                } else {
                    keys.iter().all(|key| in_range(text, key))
                });
            }
            text_items(text)?
        }
        _ => return None,
    };
    let found = |key: &String| items.iter().any(|item| either_matches(key, item));
    Some(if all_not_in {
        !keys.iter().any(found)
    } else {
        keys.iter().all(found)
    })
}

// ---- numeric comparisons --------------------------------------------------------------------

/// `NumericOperatorHandler`.
fn numeric(comparison: Comparison, key: &Value, value: &Value) -> bool {
    match key {
        Value::Number(number) => number_key(comparison, as_go_number(number), value),
        Value::String(text) => string_key(comparison, text, key, value),
        _ => false,
    }
}

/// `float64(n)` of a decoded number.
fn go_f64(number: GoNumber) -> f64 {
    match number {
        GoNumber::Int(i) => i as f64,
        GoNumber::Float(f) => f,
    }
}

/// An int or float key: a number value compares as float64; a string value as a duration
/// (the key then being seconds), else as a float.
fn number_key(comparison: Comparison, key: GoNumber, value: &Value) -> bool {
    match value {
        Value::Number(other) => comparison.floats(go_f64(key), go_f64(as_go_number(other))),
        Value::String(text) => {
            if text != "0"
                && let Some(duration) = duration::parse(text)
            {
                return comparison.floats(seconds(go_seconds(key)), seconds(duration));
            }
            // Kyverno retries with `strconv.ParseInt`, which reads nothing `ParseFloat` rejects.
            go_parse_float(text).is_some_and(|other| comparison.floats(go_f64(key), other))
        }
        _ => false,
    }
}

/// A string key: duration, then quantity (both sides strings), then float, then semver.
fn string_key(comparison: Comparison, text: &str, key: &Value, value: &Value) -> bool {
    if let Some((key, value)) = durations(key, value) {
        return comparison.floats(seconds(key), seconds(value));
    }
    if let Value::String(other) = value
        && let (Some(key), Some(other)) = (Quantity::parse(text), Quantity::parse(other))
    {
        return comparison.holds(Some(key.cmp(&other)));
    }
    if let Some(number) = go_parse_float(text) {
        return number_key(comparison, GoNumber::Float(number), value);
    }
    match (Version::parse(text), value) {
        (Ok(version), Value::String(other)) => {
            Version::parse(other).is_ok_and(|other| comparison.holds(Some(version.cmp(&other))))
        }
        _ => false,
    }
}

/// The deprecated `Duration*` operators: numbers are seconds, strings must be durations (`"0"`
/// included), and the durations compare exactly.
fn legacy_duration(comparison: Comparison, key: &Value, value: &Value) -> bool {
    let side = |side: &Value| match side {
        Value::Number(_) => number_seconds(side),
        Value::String(text) => duration::parse(text),
        _ => None,
    };
    match (side(key), side(value)) {
        (Some(key), Some(value)) => comparison.holds(Some(key.cmp(&value))),
        _ => false,
    }
}
