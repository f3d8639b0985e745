//! A stand-in for the JMESPath evaluator in tests: dotted paths with `[n]` indices over a
//! document, answering as JMESPath would for those (a missing key is Kyverno's not-found error,
//! a field of a non-object is null), and recording what it was asked.

use super::template::{ResolveError, Resolver};
use serde_json::Value;

pub struct Context {
    pub data: Value,
    pub delete: bool,
    pub asked: Vec<String>,
}

impl Context {
    pub fn new(data: Value) -> Self {
        Self {
            data,
            delete: false,
            asked: Vec::new(),
        }
    }
}

impl Resolver for Context {
    fn resolve(&mut self, expression: &str) -> Result<Value, ResolveError> {
        self.asked.push(expression.to_owned());
        if expression.is_empty() || expression.contains([' ', '{', '}']) {
            return Err(ResolveError::Failed(format!(
                "incorrect query {expression}: not a dotted path"
            )));
        }
        let mut value = &self.data;
        for segment in expression.split('.') {
            let (name, index) = match segment.split_once('[') {
                Some((name, rest)) => (name, rest.trim_end_matches(']').parse::<usize>().ok()),
                None => (segment, None),
            };
            if !name.is_empty() {
                value = match value {
                    Value::Object(map) => map.get(name).ok_or_else(|| {
                        ResolveError::NotFound(format!("Unknown key \"{name}\" in path"))
                    })?,
                    _ => &Value::Null,
                };
            }
            if let Some(index) = index {
                value = value.get(index).unwrap_or(&Value::Null);
            }
        }
        Ok(value.clone())
    }

    fn is_delete(&self) -> bool {
        self.delete
    }
}

/// A document as Go's `encoding/json` decodes it into `interface{}`: every number a float64.
pub fn go_decoded(value: &Value) -> Value {
    match value {
        Value::Number(number) => number.as_f64().map_or(Value::Null, Value::from),
        Value::Array(items) => Value::Array(items.iter().map(go_decoded).collect()),
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(key, item)| (key.clone(), go_decoded(item)))
                .collect(),
        ),
        other => other.clone(),
    }
}

/// The Kyverno fixture: cases and what Kyverno v1.19 answered for them.
pub fn fixture() -> (Value, Value) {
    let parse = |text: &str| -> Value {
        serde_json::from_str(text).unwrap_or_else(|error| panic!("fixture: {error}"))
    };
    (
        parse(include_str!(
            "../../tests/fixtures/kyverno-expressions/cases.json"
        )),
        parse(include_str!(
            "../../tests/fixtures/kyverno-expressions/results.json"
        )),
    )
}
