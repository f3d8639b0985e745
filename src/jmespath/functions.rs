//! The function table: the 26 functions of the JMESPath specification as kyverno/go-jmespath
//! implements them, and Kyverno's 51 (`sum` among them, replacing the standard one).
//!
//! Before a function runs its arguments are checked as the fork checks them: the count must
//! match exactly (`incorrect number of args`) and each argument must have one of the declared
//! types (`Invalid type for: <value>, expected: []jmespath.JpType{...}`); a variadic function's
//! arguments need only reach the minimum count (`Invalid arity.`), with no type checked. A
//! function declared without arguments (`time_now`) accepts any. The handlers then report their
//! own errors in Kyverno's words.

mod arithmetic;
mod builtin;
mod collections;
mod encoding;
mod network;
mod random;
mod re2;
mod strings;
mod time;
mod x509;

use super::interpreter::{Interpreter, Result};
use super::{EvalError, Node};
use crate::coerce::gofmt::format_v_json;
use serde_json::Value;
use std::borrow::Cow;
use std::fmt;

/// An argument as a function receives it: a value, or an expression reference (`&expr`).
pub(super) enum Arg<'a> {
    Value(Cow<'a, Value>),
    ExpRef(&'a Node),
}

impl<'a> Arg<'a> {
    fn value(&self) -> Option<&Value> {
        match self {
            Arg::Value(value) => Some(value),
            Arg::ExpRef(_) => None,
        }
    }

    fn into_value(self) -> Option<Cow<'a, Value>> {
        match self {
            Arg::Value(value) => Some(value),
            Arg::ExpRef(_) => None,
        }
    }

    /// The argument as a value, with an expression reference (which an argument of any type
    /// takes) as Go's encoder writes the fork's reference: `{}`, a struct without exported
    /// fields.
    fn into_encoded(self) -> Cow<'a, Value> {
        match self {
            Arg::Value(value) => value,
            Arg::ExpRef(_) => Cow::Owned(Value::Object(serde_json::Map::new())),
        }
    }
}

/// The fork's argument types.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum JpType {
    Number,
    String,
    Array,
    Object,
    ArrayNumber,
    ArrayString,
    Expref,
    Any,
}

use JpType::{Any, Array, ArrayNumber, ArrayString, Expref, Number, Object, String as Str};

impl JpType {
    fn accepts(self, arg: &Arg<'_>) -> bool {
        let Some(value) = arg.value() else {
            return matches!(self, Expref | Any);
        };
        match self {
            Number => value.is_number(),
            Str => value.is_string(),
            Array => value.is_array(),
            Object => value.is_object(),
            ArrayNumber => value
                .as_array()
                .is_some_and(|items| items.iter().all(Value::is_number)),
            ArrayString => value
                .as_array()
                .is_some_and(|items| items.iter().all(Value::is_string)),
            Expref => false,
            Any => true,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Number => "number",
            Str => "string",
            Array => "array",
            Object => "object",
            ArrayNumber => "array[number]",
            ArrayString => "array[string]",
            Expref => "expref",
            Any => "any",
        }
    }
}

type Handler = for<'i, 'e, 'a> fn(&'i Interpreter<'e>, Vec<Arg<'a>>) -> Result<'a>;

pub(super) struct Function {
    pub name: &'static str,
    /// The accepted types of each argument; empty means "any arguments, unchecked".
    args: &'static [&'static [JpType]],
    /// The last argument may repeat (and must appear at least once); the types are the
    /// specification's, which the fork does not check for a variadic function.
    variadic: bool,
    handler: Handler,
}

impl fmt::Debug for Function {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name)
    }
}

const fn f(name: &'static str, args: &'static [&'static [JpType]], handler: Handler) -> Function {
    Function {
        name,
        args,
        variadic: false,
        handler,
    }
}

const fn variadic(
    name: &'static str,
    args: &'static [&'static [JpType]],
    handler: Handler,
) -> Function {
    Function {
        name,
        args,
        variadic: true,
        handler,
    }
}

static FUNCTIONS: &[Function] = &[
    // The JMESPath specification, as the fork implements it.
    f("abs", &[&[Number]], builtin::abs),
    f("avg", &[&[ArrayNumber]], builtin::avg),
    f("ceil", &[&[Number]], builtin::ceil),
    f("contains", &[&[Array, Str], &[Any]], builtin::contains),
    f("ends_with", &[&[Str], &[Str]], builtin::ends_with),
    f("floor", &[&[Number]], builtin::floor),
    f("join", &[&[Str], &[ArrayString]], builtin::join),
    f("keys", &[&[Object]], builtin::keys),
    f("length", &[&[Str, Array, Object]], builtin::length),
    f("map", &[&[Expref], &[Array]], builtin::map),
    f("max", &[&[ArrayNumber, ArrayString]], builtin::max),
    f("max_by", &[&[Array], &[Expref]], builtin::max_by),
    variadic("merge", &[&[Object]], builtin::merge),
    f("min", &[&[ArrayNumber, ArrayString]], builtin::min),
    f("min_by", &[&[Array], &[Expref]], builtin::min_by),
    variadic("not_null", &[&[Any]], builtin::not_null),
    f("reverse", &[&[Array, Str]], builtin::reverse),
    f("sort", &[&[ArrayString, ArrayNumber]], builtin::sort),
    f("sort_by", &[&[Array], &[Expref]], builtin::sort_by),
    f("starts_with", &[&[Str], &[Str]], builtin::starts_with),
    f("to_array", &[&[Any]], builtin::to_array),
    f("to_number", &[&[Any]], builtin::to_number),
    f("to_string", &[&[Any]], builtin::to_string),
    f("type", &[&[Any]], builtin::type_of),
    f("values", &[&[Object]], builtin::values),
    // Kyverno's, from pkg/engine/jmespath/functions.go.
    f("compare", &[&[Str], &[Str]], strings::compare),
    f("equal_fold", &[&[Str], &[Str]], strings::equal_fold),
    f(
        "replace",
        &[&[Str], &[Str], &[Str], &[Number]],
        strings::replace,
    ),
    f(
        "replace_all",
        &[&[Str], &[Str], &[Str]],
        strings::replace_all,
    ),
    f("to_upper", &[&[Str]], strings::to_upper),
    f("to_lower", &[&[Str]], strings::to_lower),
    f("trim", &[&[Str], &[Str]], strings::trim),
    f("trim_prefix", &[&[Str], &[Str]], strings::trim_prefix),
    f("split", &[&[Str], &[Str]], strings::split),
    f(
        "regex_replace_all",
        &[&[Str], &[Str, Number], &[Str, Number]],
        strings::regex_replace_all,
    ),
    f(
        "regex_replace_all_literal",
        &[&[Str], &[Str, Number], &[Str, Number]],
        strings::regex_replace_all_literal,
    ),
    f(
        "regex_match",
        &[&[Str], &[Str, Number]],
        strings::regex_match,
    ),
    f(
        "pattern_match",
        &[&[Str], &[Str, Number]],
        strings::pattern_match,
    ),
    f(
        "label_match",
        &[&[Object], &[Object]],
        collections::label_match,
    ),
    f("to_boolean", &[&[Str]], strings::to_boolean),
    f("add", &[&[Any], &[Any]], arithmetic::add),
    f("sum", &[&[Array]], arithmetic::sum),
    f("subtract", &[&[Any], &[Any]], arithmetic::subtract),
    f("multiply", &[&[Any], &[Any]], arithmetic::multiply),
    f("divide", &[&[Any], &[Any]], arithmetic::divide),
    f("modulo", &[&[Any], &[Any]], arithmetic::modulo),
    f("round", &[&[Number], &[Number]], arithmetic::round),
    f("base64_decode", &[&[Str]], encoding::base64_decode),
    f("base64_encode", &[&[Str]], encoding::base64_encode),
    f("time_since", &[&[Str], &[Str], &[Str]], time::since),
    f("time_now", &[], time::now),
    f("time_now_utc", &[], time::now_utc),
    f("path_canonicalize", &[&[Str]], strings::path_canonicalize),
    f("truncate", &[&[Str], &[Number]], strings::truncate),
    f("semver_compare", &[&[Str], &[Str]], strings::semver_compare),
    f("parse_json", &[&[Str]], encoding::parse_json),
    f("parse_yaml", &[&[Str]], encoding::parse_yaml),
    f(
        "lookup",
        &[&[Object, Array], &[Str, Number]],
        collections::lookup,
    ),
    f(
        "items",
        &[&[Object, Array], &[Str], &[Str]],
        collections::items,
    ),
    f(
        "object_from_lists",
        &[&[Array], &[Array]],
        collections::object_from_lists,
    ),
    f("random", &[&[Str]], random::random),
    f("x509_decode", &[&[Str]], x509::decode),
    f("time_to_cron", &[&[Str]], time::to_cron),
    f("time_add", &[&[Str], &[Str]], time::add),
    f("time_parse", &[&[Str], &[Str]], time::parse),
    f("time_utc", &[&[Str]], time::utc),
    f("time_diff", &[&[Str], &[Str]], time::diff),
    f("time_before", &[&[Str], &[Str]], time::before),
    f("time_after", &[&[Str], &[Str]], time::after),
    f("time_between", &[&[Str], &[Str], &[Str]], time::between),
    f("time_truncate", &[&[Str], &[Str]], time::truncate),
    f("image_normalize", &[&[Str]], network::image_normalize),
    f("is_external_url", &[&[Str]], network::is_external_url),
    f("sha256", &[&[Str]], encoding::sha256),
    f("sha1", &[&[Str]], encoding::sha1),
    f("md5", &[&[Str]], encoding::md5),
];

pub(super) fn lookup(name: &str) -> Option<&'static Function> {
    FUNCTIONS.iter().find(|function| function.name == name)
}

/// Every function name.
#[cfg(test)]
pub(super) fn names() -> impl Iterator<Item = &'static str> {
    FUNCTIONS.iter().map(|function| function.name)
}

pub(super) fn call<'a>(
    interpreter: &Interpreter<'_>,
    function: &'static Function,
    args: Vec<Arg<'a>>,
) -> Result<'a> {
    if function.variadic {
        // The fork counts a variadic function's arguments but checks none of their types.
        if args.len() < function.args.len() {
            return Err(EvalError::failed("Invalid arity."));
        }
    } else if !function.args.is_empty() {
        if args.len() != function.args.len() {
            return Err(EvalError::failed("incorrect number of args"));
        }
        for (arg, types) in args.iter().zip(function.args) {
            if !types.iter().any(|t| t.accepts(arg)) {
                return Err(type_error(arg, types));
            }
        }
    }
    (function.handler)(interpreter, args)
}

fn type_error(arg: &Arg<'_>, types: &[JpType]) -> EvalError {
    let shown = match arg {
        Arg::Value(value) => format_v_json(value),
        Arg::ExpRef(_) => "&expression".to_owned(),
    };
    let expected: Vec<String> = types.iter().map(|t| format!("\"{}\"", t.name())).collect();
    EvalError::failed(format!(
        "Invalid type for: {shown}, expected: []jmespath.JpType{{{}}}",
        expected.join(", ")
    ))
}

/// Kyverno's `formatError(genericError, name, message)`.
fn error(function: &str, message: impl fmt::Display) -> EvalError {
    EvalError::failed(format!("JMESPath function '{function}': {message}"))
}

/// Kyverno's `invalidArgumentTypeError`: `argument #N is not of type T`.
fn argument_type_error(function: &str, position: usize, expected: &str) -> EvalError {
    error(
        function,
        format!("argument #{position} is not of type {expected}"),
    )
}

/// The value of a checked argument; the checks make the error unreachable.
fn value_at<'x>(args: &'x [Arg<'_>], index: usize) -> std::result::Result<&'x Value, EvalError> {
    args.get(index)
        .and_then(Arg::value)
        .ok_or_else(|| EvalError::failed(format!("argument #{} is missing", index + 1)))
}

fn str_at<'x>(args: &'x [Arg<'_>], index: usize) -> std::result::Result<&'x str, EvalError> {
    value_at(args, index)?
        .as_str()
        .ok_or_else(|| EvalError::failed(format!("argument #{} is not a string", index + 1)))
}

fn f64_at(args: &[Arg<'_>], index: usize) -> std::result::Result<f64, EvalError> {
    value_at(args, index)?
        .as_f64()
        .ok_or_else(|| EvalError::failed(format!("argument #{} is not a number", index + 1)))
}

fn owned<'a>(value: Value) -> Result<'a> {
    Ok(Cow::Owned(value))
}

fn string<'a>(text: impl Into<String>) -> Result<'a> {
    owned(Value::String(text.into()))
}

fn boolean<'a>(b: bool) -> Result<'a> {
    owned(Value::Bool(b))
}

/// A float64 result as a JSON number: whole numbers as integers, as Go's encoder writes them.
fn number<'a>(value: f64) -> Result<'a> {
    to_json_number(value).map(Cow::Owned)
}

pub(super) fn to_json_number(value: f64) -> std::result::Result<Value, EvalError> {
    const LIMIT: f64 = 9_223_372_036_854_775_808.0;
    // Negative zero stays a float: Go's encoder writes it `-0`.
    let negative_zero = value == 0.0 && value.is_sign_negative();
    if value.fract() == 0.0 && (-LIMIT..LIMIT).contains(&value) && !negative_zero {
        return Ok(Value::from(value as i64));
    }
    serde_json::Number::from_f64(value)
        .map(Value::Number)
        .ok_or_else(|| {
            let shown = if value.is_nan() {
                "NaN"
            } else if value > 0.0 {
                "+Inf"
            } else {
                "-Inf"
            };
            EvalError::failed(format!("json: unsupported value: {shown}"))
        })
}

/// Kyverno's `ifaceToString`: strings as they are, numbers through float32
/// (`strconv.FormatFloat(f, 'f', -1, 32)`), booleans as `true`/`false`.
fn iface_to_string(value: &Value) -> Option<Cow<'_, str>> {
    match value {
        Value::String(s) => Some(Cow::Borrowed(s)),
        Value::Number(n) => Some(Cow::Owned(format!("{}", n.as_f64()? as f32))),
        Value::Bool(b) => Some(Cow::Borrowed(if *b { "true" } else { "false" })),
        _ => None,
    }
}

/// Kyverno's `intNumber`: a float that is a whole number within the range of `int`.
fn int_number(value: f64) -> std::result::Result<i64, String> {
    if !value.is_finite() || value.trunc() != value {
        return Err(format!(
            "expected an integer number but got: {}",
            crate::coerce::gofmt::format_v_float(value)
        ));
    }
    const LIMIT: f64 = 9_223_372_036_854_775_808.0;
    if !(-LIMIT..LIMIT).contains(&value) {
        return Err(format!(
            "number is outside the range of integer numbers: {}",
            crate::coerce::gofmt::format_v_float(value)
        ));
    }
    Ok(value as i64)
}
