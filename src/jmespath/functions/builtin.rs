//! The functions of the JMESPath specification, with kyverno/go-jmespath's behaviour where it
//! differs: `contains` on an array compares with Go's `==` (which cannot compare two objects or
//! two arrays), `to_number` reads Go's float syntax, `to_string` writes Go's JSON, and the
//! `*_by` functions type their results from the first element.

use super::{
    Arg, EvalError, Interpreter, Result, boolean, f64_at, number, owned, str_at, string, value_at,
};
use crate::coerce::gofmt::{json_marshal, type_name};
use crate::coerce::number::go_parse_float;
use crate::jmespath::Node;
use crate::jmespath::interpreter::{not_found_as_null, null};
use serde_json::{Map, Value};
use std::borrow::Cow;
use std::cmp::Ordering;

pub(super) fn abs<'a>(_: &Interpreter<'_>, args: Vec<Arg<'a>>) -> Result<'a> {
    number(f64_at(&args, 0)?.abs())
}

pub(super) fn ceil<'a>(_: &Interpreter<'_>, args: Vec<Arg<'a>>) -> Result<'a> {
    number(f64_at(&args, 0)?.ceil())
}

pub(super) fn floor<'a>(_: &Interpreter<'_>, args: Vec<Arg<'a>>) -> Result<'a> {
    number(f64_at(&args, 0)?.floor())
}

fn numbers(value: &Value) -> Option<Vec<f64>> {
    value.as_array()?.iter().map(Value::as_f64).collect()
}

fn strings(value: &Value) -> Option<Vec<&str>> {
    value.as_array()?.iter().map(Value::as_str).collect()
}

pub(super) fn avg<'a>(_: &Interpreter<'_>, args: Vec<Arg<'a>>) -> Result<'a> {
    let items = numbers(value_at(&args, 0)?).unwrap_or_default();
    number(items.iter().sum::<f64>() / items.len() as f64)
}

pub(super) fn contains<'a>(_: &Interpreter<'_>, args: Vec<Arg<'a>>) -> Result<'a> {
    let search = value_at(&args, 0)?;
    // Nothing equals an expression reference.
    let Some(element) = args.get(1).and_then(Arg::value) else {
        return boolean(false);
    };
    if let Value::String(text) = search {
        return boolean(element.as_str().is_some_and(|e| text.contains(e)));
    }
    let items = search.as_array().map(Vec::as_slice).unwrap_or_default();
    for item in items {
        match (item, element) {
            // Go's `==` on interface values panics for two maps or two slices.
            (Value::Object(_), Value::Object(_)) => {
                return Err(EvalError::failed(
                    "runtime error: comparing uncomparable type map[string]interface {}",
                ));
            }
            (Value::Array(_), Value::Array(_)) => {
                return Err(EvalError::failed(
                    "runtime error: comparing uncomparable type []interface {}",
                ));
            }
            (Value::Number(a), Value::Number(b)) if a.as_f64() == b.as_f64() => {
                return boolean(true);
            }
            (Value::String(a), Value::String(b)) if a == b => return boolean(true),
            (Value::Bool(a), Value::Bool(b)) if a == b => return boolean(true),
            (Value::Null, Value::Null) => return boolean(true),
            _ => {}
        }
    }
    boolean(false)
}

pub(super) fn starts_with<'a>(_: &Interpreter<'_>, args: Vec<Arg<'a>>) -> Result<'a> {
    boolean(str_at(&args, 0)?.starts_with(str_at(&args, 1)?))
}

pub(super) fn ends_with<'a>(_: &Interpreter<'_>, args: Vec<Arg<'a>>) -> Result<'a> {
    boolean(str_at(&args, 0)?.ends_with(str_at(&args, 1)?))
}

pub(super) fn join<'a>(_: &Interpreter<'_>, args: Vec<Arg<'a>>) -> Result<'a> {
    let separator = str_at(&args, 0)?;
    let items = strings(value_at(&args, 1)?).unwrap_or_default();
    string(items.join(separator))
}

pub(super) fn keys<'a>(_: &Interpreter<'_>, args: Vec<Arg<'a>>) -> Result<'a> {
    let map = value_at(&args, 0)?.as_object();
    let keys = map
        .into_iter()
        .flatten()
        .map(|(k, _)| Value::String(k.clone()));
    owned(Value::Array(keys.collect()))
}

pub(super) fn values<'a>(_: &Interpreter<'_>, args: Vec<Arg<'a>>) -> Result<'a> {
    let map = value_at(&args, 0)?.as_object();
    let values = map.into_iter().flatten().map(|(_, v)| v.clone());
    owned(Value::Array(values.collect()))
}

pub(super) fn length<'a>(_: &Interpreter<'_>, args: Vec<Arg<'a>>) -> Result<'a> {
    let count = match value_at(&args, 0)? {
        Value::String(s) => s.chars().count(),
        Value::Array(items) => items.len(),
        Value::Object(map) => map.len(),
        _ => return Err(EvalError::failed("could not compute length()")),
    };
    number(count as f64)
}

pub(super) fn map<'a>(interpreter: &Interpreter<'_>, args: Vec<Arg<'a>>) -> Result<'a> {
    let (Some(Arg::ExpRef(node)), Some(items)) = (args.first(), args.get(1).and_then(Arg::value))
    else {
        return Err(EvalError::failed("map needs an expression and an array"));
    };
    let items = items.as_array().map(Vec::as_slice).unwrap_or_default();
    let mut mapped = Vec::with_capacity(items.len());
    for item in items {
        mapped.push(not_found_as_null(interpreter.evaluate(node, item))?.into_owned());
    }
    owned(Value::Array(mapped))
}

/// The greatest (or least) number or string; `null` for an empty array.
fn extreme<'a>(args: Vec<Arg<'a>>, wanted: Ordering) -> Result<'a> {
    let value = value_at(&args, 0)?;
    if let Some(items) = numbers(value) {
        let best = items.into_iter().reduce(|best, item| {
            if item.partial_cmp(&best) == Some(wanted) {
                item
            } else {
                best
            }
        });
        return best.map_or_else(|| Ok(null()), number);
    }
    let best = strings(value)
        .unwrap_or_default()
        .into_iter()
        .reduce(
            |best, item| {
                if item.cmp(best) == wanted { item } else { best }
            },
        );
    Ok(best.map_or_else(null, |s| Cow::Owned(Value::String(s.to_owned()))))
}

pub(super) fn max<'a>(_: &Interpreter<'_>, args: Vec<Arg<'a>>) -> Result<'a> {
    extreme(args, Ordering::Greater)
}

pub(super) fn min<'a>(_: &Interpreter<'_>, args: Vec<Arg<'a>>) -> Result<'a> {
    extreme(args, Ordering::Less)
}

/// The key of one element for `max_by`, `min_by` and `sort_by`.
#[derive(PartialEq, PartialOrd)]
enum Key {
    Number(f64),
    Text(String),
}

impl Key {
    fn of(value: &Value) -> Option<Key> {
        match value {
            Value::Number(n) => n.as_f64().map(Key::Number),
            Value::String(s) => Some(Key::Text(s.clone())),
            _ => None,
        }
    }

    fn same_kind(&self, other: &Key) -> bool {
        matches!(
            (self, other),
            (Key::Number(_), Key::Number(_)) | (Key::Text(_), Key::Text(_))
        )
    }
}

fn array_and_expression<'x, 'a>(
    args: &'x [Arg<'a>],
) -> std::result::Result<(&'x [Value], &'a Node), EvalError> {
    match (args.first().and_then(Arg::value), args.get(1)) {
        (Some(items), Some(Arg::ExpRef(node))) => Ok((
            items.as_array().map(Vec::as_slice).unwrap_or_default(),
            node,
        )),
        _ => Err(EvalError::failed("expected an array and an expression")),
    }
}

fn extreme_by<'a>(
    interpreter: &Interpreter<'_>,
    args: Vec<Arg<'a>>,
    wanted: Ordering,
) -> Result<'a> {
    let (items, node) = array_and_expression(&args)?;
    let Some((first, rest)) = items.split_first() else {
        return Ok(null());
    };
    if rest.is_empty() {
        return owned(first.clone());
    }
    let start = not_found_as_null(interpreter.evaluate(node, first))?;
    let Some(mut best_key) = Key::of(&start) else {
        return Err(EvalError::failed("invalid type, must be number of string"));
    };
    let mut best = first;
    for item in rest {
        let result = not_found_as_null(interpreter.evaluate(node, item))?;
        let key = Key::of(&result).filter(|key| key.same_kind(&best_key));
        let Some(key) = key else {
            let kind = if matches!(best_key, Key::Number(_)) {
                "number"
            } else {
                "string"
            };
            return Err(EvalError::failed(format!("invalid type, must be {kind}")));
        };
        if key.partial_cmp(&best_key) == Some(wanted) {
            best_key = key;
            best = item;
        }
    }
    owned(best.clone())
}

pub(super) fn max_by<'a>(interpreter: &Interpreter<'_>, args: Vec<Arg<'a>>) -> Result<'a> {
    extreme_by(interpreter, args, Ordering::Greater)
}

pub(super) fn min_by<'a>(interpreter: &Interpreter<'_>, args: Vec<Arg<'a>>) -> Result<'a> {
    extreme_by(interpreter, args, Ordering::Less)
}

pub(super) fn sort_by<'a>(interpreter: &Interpreter<'_>, args: Vec<Arg<'a>>) -> Result<'a> {
    let (items, node) = array_and_expression(&args)?;
    if items.len() < 2 {
        return owned(Value::Array(items.to_vec()));
    }
    let start = not_found_as_null(interpreter.evaluate(node, &items[0]))?;
    let Some(first_key) = Key::of(&start) else {
        return Err(EvalError::failed("invalid type, must be number of string"));
    };
    // The fork's comparator fails on any error or on a key of the other kind, NotFound included.
    let mut keyed = Vec::with_capacity(items.len());
    for item in items {
        let key = interpreter
            .evaluate(node, item)
            .ok()
            .and_then(|result| Key::of(&result))
            .filter(|key| key.same_kind(&first_key))
            .ok_or_else(|| EvalError::failed("error in sort_by comparison"))?;
        keyed.push((key, item));
    }
    keyed.sort_by(|a, b| a.0.partial_cmp(&b.0).unwrap_or(Ordering::Equal));
    owned(Value::Array(
        keyed.into_iter().map(|(_, item)| item.clone()).collect(),
    ))
}

/// Unchecked, as every variadic function: the fork's type assertion fails on an argument that
/// is no object, and that panic's message is the error.
pub(super) fn merge<'a>(_: &Interpreter<'_>, args: Vec<Arg<'a>>) -> Result<'a> {
    let mut merged = Map::new();
    for arg in &args {
        let map = match arg {
            Arg::Value(value) => match value.as_ref() {
                Value::Object(map) => map,
                Value::Null => return Err(not_an_object("nil")),
                Value::Number(_) => return Err(not_an_object("float64")),
                other => return Err(not_an_object(type_name(other))),
            },
            Arg::ExpRef(_) => return Err(not_an_object("jmespath.expRef")),
        };
        merged.extend(map.iter().map(|(k, v)| (k.clone(), v.clone())));
    }
    owned(Value::Object(merged))
}

fn not_an_object(concrete: &str) -> EvalError {
    EvalError::failed(format!(
        "interface conversion: interface {{}} is {concrete}, not map[string]interface {{}}"
    ))
}

pub(super) fn not_null<'a>(_: &Interpreter<'_>, args: Vec<Arg<'a>>) -> Result<'a> {
    for arg in args {
        let value = arg.into_encoded();
        if !value.is_null() {
            return Ok(value);
        }
    }
    Ok(null())
}

pub(super) fn reverse<'a>(_: &Interpreter<'_>, args: Vec<Arg<'a>>) -> Result<'a> {
    match value_at(&args, 0)? {
        Value::String(s) => string(s.chars().rev().collect::<String>()),
        Value::Array(items) => owned(Value::Array(items.iter().rev().cloned().collect())),
        _ => Err(EvalError::failed("reverse needs a string or an array")),
    }
}

pub(super) fn sort<'a>(_: &Interpreter<'_>, args: Vec<Arg<'a>>) -> Result<'a> {
    let value = value_at(&args, 0)?;
    if let Some(mut items) = numbers(value) {
        items.sort_by(|a, b| a.partial_cmp(b).unwrap_or(Ordering::Equal));
        let sorted: std::result::Result<Vec<Value>, EvalError> =
            items.into_iter().map(super::to_json_number).collect();
        return owned(Value::Array(sorted?));
    }
    let mut items = strings(value).unwrap_or_default();
    items.sort_unstable();
    owned(Value::Array(
        items
            .into_iter()
            .map(|s| Value::String(s.to_owned()))
            .collect(),
    ))
}

pub(super) fn to_array<'a>(_: &Interpreter<'_>, mut args: Vec<Arg<'a>>) -> Result<'a> {
    let value = args
        .pop()
        .map(Arg::into_encoded)
        .ok_or_else(|| EvalError::failed("to_array needs an argument"))?;
    if value.is_array() {
        return Ok(value);
    }
    owned(Value::Array(vec![value.into_owned()]))
}

pub(super) fn to_string<'a>(_: &Interpreter<'_>, mut args: Vec<Arg<'a>>) -> Result<'a> {
    let value = args
        .pop()
        .map(Arg::into_encoded)
        .ok_or_else(|| EvalError::failed("to_string needs an argument"))?;
    if value.is_string() {
        return Ok(value);
    }
    string(json_marshal(&value))
}

/// The fork's `type` and `to_number` know no type for an expression reference.
fn typed_value<'x>(args: &'x [Arg<'_>]) -> std::result::Result<&'x Value, EvalError> {
    match args.first() {
        Some(Arg::ExpRef(_)) => Err(EvalError::failed("unknown type")),
        _ => value_at(args, 0),
    }
}

pub(super) fn to_number<'a>(_: &Interpreter<'_>, args: Vec<Arg<'a>>) -> Result<'a> {
    match typed_value(&args)? {
        Value::Number(n) => number(n.as_f64().unwrap_or_default()),
        Value::String(s) => go_parse_float(s).map_or_else(|| Ok(null()), number),
        _ => Ok(null()),
    }
}

pub(super) fn type_of<'a>(_: &Interpreter<'_>, args: Vec<Arg<'a>>) -> Result<'a> {
    string(match typed_value(&args)? {
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
        Value::Null => "null",
        Value::Bool(_) => "boolean",
    })
}
