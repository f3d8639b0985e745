//! Kyverno's functions over objects and arrays: `label_match`, `lookup`, `items` and
//! `object_from_lists`.

use super::{
    Arg, EvalError, Interpreter, Result, argument_type_error, boolean, error, iface_to_string,
    int_number, owned, value_at,
};
use crate::jmespath::interpreter::{go_equal, null};
use serde_json::{Map, Value};
use std::borrow::Cow;

/// Whether every key of the selector is in the labels with an equal value.
pub(super) fn label_match<'a>(_: &Interpreter<'_>, args: Vec<Arg<'a>>) -> Result<'a> {
    let (Value::Object(selector), Value::Object(labels)) =
        (value_at(&args, 0)?, value_at(&args, 1)?)
    else {
        return Err(argument_type_error("label_match", 0, "Object"));
    };
    let matched = selector
        .iter()
        .all(|(key, wanted)| labels.get(key).is_some_and(|value| go_equal(value, wanted)));
    boolean(matched)
}

pub(super) fn lookup<'a>(_: &Interpreter<'_>, mut args: Vec<Arg<'a>>) -> Result<'a> {
    let key = value_at(&args, 1)?.clone();
    let collection = args
        .swap_remove(0)
        .into_value()
        .ok_or_else(|| argument_type_error("lookup", 1, "Object or Array"))?;
    match (collection, &key) {
        (Cow::Borrowed(Value::Object(map)), Value::String(key)) => {
            Ok(map.get(key).map_or_else(null, Cow::Borrowed))
        }
        (Cow::Owned(Value::Object(mut map)), Value::String(key)) => {
            Ok(map.remove(key).map_or_else(null, Cow::Owned))
        }
        (Cow::Borrowed(Value::Object(_)) | Cow::Owned(Value::Object(_)), _) => {
            Err(argument_type_error("lookup", 2, "String"))
        }
        (collection @ (Cow::Borrowed(Value::Array(_)) | Cow::Owned(Value::Array(_))), key) => {
            let Some(index) = key.as_f64() else {
                return Err(argument_type_error("lookup", 2, "Number"));
            };
            let index = int_number(index).map_err(|reason| {
                EvalError::failed(format!("JMESPath function 'lookup': argument #2: {reason}"))
            })?;
            let Ok(index) = usize::try_from(index) else {
                return Ok(null());
            };
            Ok(match collection {
                Cow::Borrowed(Value::Array(items)) => {
                    items.get(index).map_or_else(null, Cow::Borrowed)
                }
                Cow::Owned(Value::Array(mut items)) if index < items.len() => {
                    Cow::Owned(items.swap_remove(index))
                }
                _ => null(),
            })
        }
        _ => Err(argument_type_error("lookup", 1, "Object or Array")),
    }
}

pub(super) fn items<'a>(_: &Interpreter<'_>, args: Vec<Arg<'a>>) -> Result<'a> {
    let (Value::String(key_name), Value::String(value_name)) =
        (value_at(&args, 1)?, value_at(&args, 2)?)
    else {
        return Err(argument_type_error("items", 2, "String"));
    };
    let pair = |key: Value, value: &Value| {
        let mut entry = Map::new();
        entry.insert(key_name.clone(), key);
        // With equal names the value wins, as the second write to a Go map does.
        entry.insert(value_name.clone(), value.clone());
        Value::Object(entry)
    };
    let entries: Vec<Value> = match value_at(&args, 0)? {
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            keys.into_iter()
                .map(|key| pair(Value::String(key.clone()), &map[key]))
                .collect()
        }
        Value::Array(items) => items
            .iter()
            .enumerate()
            .map(|(index, item)| pair(Value::from(index), item))
            .collect(),
        _ => return Err(argument_type_error("items", 1, "Object or Array")),
    };
    owned(Value::Array(entries))
}

pub(super) fn object_from_lists<'a>(_: &Interpreter<'_>, args: Vec<Arg<'a>>) -> Result<'a> {
    let (Value::Array(keys), Value::Array(values)) = (value_at(&args, 0)?, value_at(&args, 1)?)
    else {
        return Err(error(
            "object_from_lists",
            "argument #1 is not of type Array",
        ));
    };
    let mut object = Map::new();
    for (i, key) in keys.iter().enumerate() {
        let key = iface_to_string(key)
            .ok_or_else(|| argument_type_error("object_from_lists", 1, "StringArray"))?;
        object.insert(
            key.into_owned(),
            values.get(i).cloned().unwrap_or(Value::Null),
        );
    }
    owned(Value::Object(object))
}
