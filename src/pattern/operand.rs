//! Kyverno's type coercions for scalar patterns, in one place.
//!
//! Kyverno compares a pattern with a resource value after decoding both into Go types: integers
//! are `int64`, other numbers `float64`, and the comparison rules depend on those types:
//!
//! * A **bool** pattern matches only a bool. An **integer** pattern matches an int, a float without
//!   fraction, or a string that `strconv.ParseInt` accepts. A **float** pattern matches an int only
//!   when the pattern has no fraction, a float exactly, or a string `strconv.ParseFloat` accepts.
//!   A **null** pattern matches null, `0`, `0.0`, `""` and `false`.
//! * A **string** pattern is split into operator parts (see `parse.rs`); each part's operand is
//!   compared by the first rule that applies: both sides parse as Go durations ⇒ compare
//!   durations; both parse as Kubernetes quantities ⇒ compare quantities exactly; otherwise only
//!   `=`/`!` apply, as a wildcard match on the value's text.
//! * For the duration and quantity rules the value is turned into text first: strings as-is, null
//!   as `"0"` (which is why `"<10"` matches a missing field), ints in decimal, floats with `%f`
//!   (`1.500000`, never a valid duration). For the string rule floats use Go's shortest `'E'`
//!   form (`2.5E+00`), bools `true`/`false`, and null, objects and arrays match nothing.

pub mod duration;
mod gofmt;
mod quantity;
pub mod semver;

pub use gofmt::{format_v, json_marshal, sprint, type_name};
pub use quantity::Quantity;

use super::wildcard::Wildcard;
use serde_json::Value;
use std::cell::OnceCell;
use std::cmp::Ordering;

/// The operator of one `&`-separated part of a string pattern.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Equal,
    NotEqual,
    Greater,
    Less,
    GreaterEqual,
    LessEqual,
}

impl Op {
    fn accepts(self, ordering: Ordering) -> bool {
        match self {
            Op::Equal => ordering == Ordering::Equal,
            Op::NotEqual => ordering != Ordering::Equal,
            Op::Greater => ordering == Ordering::Greater,
            Op::Less => ordering == Ordering::Less,
            Op::GreaterEqual => ordering != Ordering::Less,
            Op::LessEqual => ordering != Ordering::Greater,
        }
    }
}

/// An operand with its duration and quantity readings decided once, at policy load.
#[derive(Debug, Clone)]
pub struct Operand {
    wildcard: Wildcard,
    duration: Option<i64>,
    quantity: Option<Quantity>,
}

impl Operand {
    pub fn new(text: &str) -> Self {
        Self {
            wildcard: Wildcard::new(text),
            duration: duration::parse(text),
            quantity: Quantity::parse(text),
        }
    }

    /// Whether `value` stands in relation `op` to this operand.
    pub fn compare(&self, op: Op, value: &ValueView<'_>) -> bool {
        // The resource value is read as a duration or quantity only when the operand is one:
        // most operands are plain text, and reading the value costs a copy and a parse.
        if let Some(expected) = self.duration {
            if let Some(actual) = value.duration() {
                return op.accepts(actual.cmp(&expected));
            }
        }
        if let Some(expected) = &self.quantity {
            if let Some(actual) = value.quantity() {
                return op.accepts(actual.cmp(expected));
            }
        }
        match value.text() {
            Some(text) => self.compare_text(op, &text),
            None => false,
        }
    }

    /// Neither a duration nor a quantity: [`Self::compare`] then only ever matches text.
    pub fn is_text_only(&self) -> bool {
        self.duration.is_none() && self.quantity.is_none()
    }

    /// The string rule: only `=` and `!` apply, as a wildcard match. This is the whole of
    /// [`Self::compare`] for a text-only operand against a string value.
    #[inline]
    pub fn compare_text(&self, op: Op, text: &str) -> bool {
        match op {
            Op::Equal => self.wildcard.matches(text),
            Op::NotEqual => !self.wildcard.matches(text),
            _ => false,
        }
    }
}

/// One resource value with its numeric readings computed on first use, so that a pattern with
/// many parts parses the value at most once.
pub struct ValueView<'a> {
    value: &'a Value,
    duration: OnceCell<Option<i64>>,
    quantity: OnceCell<Option<Quantity>>,
}

impl<'a> ValueView<'a> {
    pub fn new(value: &'a Value) -> Self {
        Self {
            value,
            duration: OnceCell::new(),
            quantity: OnceCell::new(),
        }
    }

    /// Go's `convertNumberToString`: the text the duration and quantity rules parse.
    fn number_text(&self) -> Option<String> {
        match self.value {
            Value::Null => Some("0".to_owned()),
            Value::String(s) => Some(s.clone()),
            Value::Number(n) => Some(match as_go_number(n) {
                GoNumber::Int(i) => i.to_string(),
                GoNumber::Float(f) => gofmt::format_f6(f),
            }),
            Value::Bool(_) | Value::Array(_) | Value::Object(_) => None,
        }
    }

    fn duration(&self) -> Option<i64> {
        *self
            .duration
            .get_or_init(|| self.number_text().and_then(|text| duration::parse(&text)))
    }

    fn quantity(&self) -> Option<&Quantity> {
        self.quantity
            .get_or_init(|| self.number_text().and_then(|text| Quantity::parse(&text)))
            .as_ref()
    }

    /// The text the wildcard rule sees; `None` for values that never match it.
    fn text(&self) -> Option<std::borrow::Cow<'a, str>> {
        match self.value {
            Value::String(s) => Some(s.as_str().into()),
            Value::Bool(b) => Some(if *b { "true" } else { "false" }.into()),
            Value::Number(n) => Some(match as_go_number(n) {
                GoNumber::Int(i) => i.to_string().into(),
                GoNumber::Float(f) => gofmt::format_e_upper(f).into(),
            }),
            Value::Null | Value::Array(_) | Value::Object(_) => None,
        }
    }
}

/// A JSON number as Go's Kubernetes decoder types it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum GoNumber {
    Int(i64),
    Float(f64),
}

pub fn as_go_number(n: &serde_json::Number) -> GoNumber {
    match n.as_i64() {
        Some(i) => GoNumber::Int(i),
        None => GoNumber::Float(n.as_f64().unwrap_or(0.0)),
    }
}

/// `%v` of a float64 pattern or value.
pub fn format_v_float(value: f64) -> String {
    gofmt::format_v_float(value)
}

/// Go's `int64(f)` on amd64: out-of-range values become `math.MinInt64`.
pub fn go_f64_to_i64(f: f64) -> i64 {
    // -2⁶³ and 2⁶³ are exact in f64.
    const LOW: f64 = -9_223_372_036_854_775_808.0;
    if f.is_nan() || !(LOW..-LOW).contains(&f) {
        i64::MIN
    } else {
        f as i64
    }
}

/// `strconv.ParseFloat(s, 64)`: `None` where Go reports an error, overflow included. Go's
/// spelled-out `Inf`, `Infinity` and `NaN` (any case; a sign only before the infinities) read as
/// Go reads them; they never equal a JSON number but do order against one. Hexadecimal floats
/// (`0x1.8p1`) are read exactly up to 53 significant bits.
pub fn go_parse_float(text: &str) -> Option<f64> {
    let (sign, unsigned) = match text.as_bytes().first() {
        Some(b'-') => (-1.0, &text[1..]),
        Some(b'+') => (1.0, &text[1..]),
        _ => (1.0, text),
    };
    if unsigned.eq_ignore_ascii_case("inf") || unsigned.eq_ignore_ascii_case("infinity") {
        return Some(sign * f64::INFINITY);
    }
    if text.eq_ignore_ascii_case("nan") {
        return Some(f64::NAN);
    }
    let cleaned;
    let unsigned = if unsigned.contains('_') {
        if !go_underscores_ok(unsigned) {
            return None;
        }
        cleaned = unsigned.replace('_', "");
        cleaned.as_str()
    } else {
        unsigned
    };
    let parsed = match unsigned
        .strip_prefix("0x")
        .or_else(|| unsigned.strip_prefix("0X"))
    {
        Some(hex) => go_parse_hex_float(hex)?,
        // The sign was taken off above, so Rust must not accept a second one.
        None if unsigned.starts_with(['+', '-']) => return None,
        None => unsigned.parse::<f64>().ok()?,
    };
    Some(sign * parsed).filter(|f| f.is_finite())
}

/// Go's `underscoreOK`: `_` only between digits, or between a base prefix and a digit.
fn go_underscores_ok(unsigned: &str) -> bool {
    let bytes = unsigned.as_bytes();
    let hex = bytes.len() >= 2 && bytes[0] == b'0' && bytes[1].eq_ignore_ascii_case(&b'x');
    let prefix = bytes.len() >= 2 && bytes[0] == b'0' && b"bBoOxX".contains(&bytes[1]);
    // What was seen last: a digit (or base prefix), an underscore, or anything else.
    let (mut saw, start) = if prefix { (b'0', 2) } else { (b'^', 0) };
    for &c in &bytes[start..] {
        if c.is_ascii_digit() || (hex && c.is_ascii_hexdigit()) {
            saw = b'0';
        } else if c == b'_' {
            if saw != b'0' {
                return false;
            }
            saw = b'_';
        } else if saw == b'_' {
            return false;
        } else {
            saw = b'!';
        }
    }
    saw != b'_'
}

/// The hexadecimal float after `0x`: hex digits with at most one `.`, then a required binary
/// exponent `p±d`.
fn go_parse_hex_float(text: &str) -> Option<f64> {
    let (mantissa, exponent) = text.split_once(['p', 'P'])?;
    let exponent: i32 = match exponent.strip_prefix('+') {
        Some(digits) if !digits.starts_with(['+', '-']) => digits.parse().ok()?,
        Some(_) => return None,
        None => exponent.parse().ok()?,
    };
    let (whole, fraction) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    if whole.is_empty() && fraction.is_empty() {
        return None;
    }
    let mut value: u64 = 0;
    let mut scale = exponent;
    for (index, c) in whole.chars().chain(fraction.chars()).enumerate() {
        let digit = u64::from(c.to_digit(16)?);
        if index >= whole.len() {
            scale = scale.checked_sub(4)?;
        }
        match value.checked_mul(16) {
            Some(shifted) if shifted < 1 << 60 => value = shifted | digit,
            // Digits beyond 60 bits: the integer part still scales, the rest is rounded off.
            _ if index < whole.len() => scale = scale.checked_add(4)?,
            _ => {}
        }
    }
    Some(value as f64 * 2f64.powi(scale))
}

pub fn bool_matches(pattern: bool, value: &Value) -> bool {
    matches!(value, Value::Bool(b) if *b == pattern)
}

pub fn int_matches(pattern: i64, value: &Value) -> bool {
    match value {
        Value::Number(n) => match as_go_number(n) {
            GoNumber::Int(i) => i == pattern,
            GoNumber::Float(f) => f.trunc() == f && go_f64_to_i64(f) == pattern,
        },
        Value::String(s) => s.parse::<i64>().is_ok_and(|i| i == pattern),
        _ => false,
    }
}

pub fn float_matches(pattern: f64, value: &Value) -> bool {
    match value {
        Value::Number(n) => match as_go_number(n) {
            GoNumber::Int(i) => pattern.trunc() == pattern && go_f64_to_i64(pattern) == i,
            GoNumber::Float(f) => f == pattern,
        },
        Value::String(s) => go_parse_float(s).is_some_and(|f| f == pattern),
        _ => false,
    }
}

pub fn null_matches(value: &Value) -> bool {
    match value {
        Value::Null => true,
        Value::Bool(b) => !b,
        Value::String(s) => s.is_empty(),
        Value::Number(n) => match as_go_number(n) {
            GoNumber::Int(i) => i == 0,
            GoNumber::Float(f) => f == 0.0,
        },
        Value::Array(_) | Value::Object(_) => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn cmp(value: Value, operand: &str, op: Op) -> bool {
        Operand::new(operand).compare(op, &ValueView::new(&value))
    }

    #[test]
    fn compare_table() {
        use Op::*;
        let cases: &[(Value, &str, Op, bool)] = &[
            // Kyverno's TestValidateNumberWithStr_LessFloatAndInt
            (json!(7.00001), "7.000001", Greater, true),
            (json!(7.00001), "7", NotEqual, true),
            (json!(7.0), "7", Equal, true),
            (json!(6.000000001), "6", Less, false),
            // TestValidateQuantity_InvalidQuantity
            (json!("1024Gi"), "", Equal, false),
            (json!("gii"), "1024Gi", Equal, false),
            // TestValidateDuration
            (json!("12s"), "12s", Equal, true),
            (json!("12s"), "15s", NotEqual, true),
            (json!("12s"), "15s", Less, true),
            (json!("12s"), "15s", LessEqual, true),
            (json!("12s"), "12s", LessEqual, true),
            (json!("15s"), "12s", Less, false),
            (json!("15s"), "12s", LessEqual, false),
            (json!("15s"), "12s", Greater, true),
            (json!("15s"), "12s", GreaterEqual, true),
            (json!("12s"), "12s", GreaterEqual, true),
            (json!("12s"), "15s", Greater, false),
            (json!("12s"), "15s", GreaterEqual, false),
            // TestValidateQuantity_Equal
            (json!("1024Gi"), "1024Gi", Equal, true),
            (json!("1024Mi"), "1Gi", Equal, true),
            (json!("0.2"), "200m", Equal, true),
            (json!("500"), "500", Equal, true),
            (json!("2048"), "1024", Equal, false),
            (json!(1024), "1024", Equal, true),
            // TestValidateQuantity_Operation
            (json!("1Gi"), "1000Mi", Greater, true),
            (json!("1G"), "1Gi", Less, true),
            (json!("500m"), "0.5", GreaterEqual, true),
            (json!("1"), "500m", GreaterEqual, true),
            (json!("0.5"), ".5", LessEqual, true),
            (json!("0.2"), ".5", LessEqual, true),
            (json!("0.2"), ".5", NotEqual, true),
            (json!("500m"), "0.6", GreaterEqual, false),
            // Test_compareString
            (json!("anything"), "*", Equal, true),
            (json!(""), "*", Equal, true),
            (json!(null), "ab?ba", Equal, false),
            (json!(""), "", Equal, true),
            (json!(1), "1", Equal, true),
            (json!(1.0), "1E+*", Equal, true),
            (json!(true), "true", Equal, true),
            // durations win over quantities, `m` meaning minutes
            (json!("5m"), "10m", Less, true),
            (json!("20m"), "10m", Less, false),
            (json!("500m"), "2", LessEqual, true),
            // null reads as "0" for numbers but matches nothing as text
            (json!(null), "10", Less, true),
            (json!(null), "0", GreaterEqual, true),
            (json!(null), "0", Greater, false),
            (json!(null), "foo", NotEqual, false),
            (json!(null), "*", Equal, false),
            // floats: %f for numbers, 'E' for text
            (json!(1.5), "1.5", Equal, true),
            (json!(2.5), "2.5E+00", Equal, true),
            (json!(8080.0), "8.08E+03", Equal, true),
            (json!(1.5), "1.5s", Equal, false),
            // non-numeric operators on text never match
            (json!("b"), "a", Greater, false),
            (json!({"a": 1}), "*", Equal, false),
            (json!([1]), "*", NotEqual, false),
            (json!(false), "false", Equal, true),
            (json!(false), "0", Equal, false),
        ];
        for (value, operand, op, want) in cases {
            assert_eq!(
                cmp(value.clone(), operand, *op),
                *want,
                "{value} {op:?} {operand:?}"
            );
        }
    }

    #[test]
    fn typed_patterns() {
        assert!(int_matches(8, &json!(8)));
        assert!(int_matches(8, &json!(8.0)));
        assert!(!int_matches(8, &json!(8.1)));
        assert!(int_matches(8, &json!("8")));
        assert!(int_matches(8, &json!("+8")));
        assert!(!int_matches(8, &json!("8.0")));
        assert!(!int_matches(8, &json!(" 8")));
        assert!(!int_matches(8, &json!(false)));
        assert!(!int_matches(0, &json!(null)));
        assert!(float_matches(8.0, &json!(8)));
        assert!(!float_matches(8.1, &json!(8)));
        assert!(float_matches(8.0, &json!("8")));
        assert!(float_matches(8.1, &json!("8.1")));
        assert!(float_matches(5.0, &json!("5.0")));
        assert!(float_matches(5.0, &json!("5e0")));
        assert!(float_matches(1000.0, &json!("1_000")));
        assert!(!float_matches(1000.0, &json!("1__000")));
        assert!(!float_matches(8.1, &json!("abc")));
        assert!(!float_matches(8.0, &json!(false)));
        assert!(float_matches(7.9914, &json!(7.9914)));
        assert!(!float_matches(7.99141, &json!(7.9914)));
        assert!(bool_matches(true, &json!(true)));
        assert!(!bool_matches(true, &json!("true")));
        for value in [json!(null), json!(0), json!(0.0), json!(""), json!(false)] {
            assert!(null_matches(&value), "{value}");
        }
        for value in [
            json!(1),
            json!(1.0),
            json!("abc"),
            json!(true),
            json!({}),
            json!([]),
        ] {
            assert!(!null_matches(&value), "{value}");
        }
        assert_eq!(go_f64_to_i64(1e300), i64::MIN);
    }

    #[test]
    fn go_floats() {
        let cases: &[(&str, Option<f64>)] = &[
            ("1.5", Some(1.5)),
            ("-1", Some(-1.0)),
            ("+.5e1", Some(5.0)),
            ("1.", Some(1.0)),
            ("1_000", Some(1000.0)),
            ("1__000", None),
            ("_1", None),
            ("1_", None),
            ("1e1_0", Some(1e10)),
            ("0x1p3", Some(8.0)),
            ("0X1.8P1", Some(3.0)),
            ("-0x_1p-2", Some(-0.25)),
            ("0x.8p0", Some(0.5)),
            ("0x10", None),
            ("0xp3", None),
            ("0x1p", None),
            ("0x1p+-3", None),
            ("+-1", None),
            ("1e400", None),
            (" 5", None),
            ("inf", Some(f64::INFINITY)),
            ("-Infinity", Some(f64::NEG_INFINITY)),
            ("+nan", None),
            ("0b1", None),
        ];
        for &(text, want) in cases {
            assert_eq!(go_parse_float(text), want, "{text:?}");
        }
        assert!(go_parse_float("NaN").is_some_and(f64::is_nan));
    }

    #[test]
    fn number_text_conversion() {
        let text = |v: Value| ValueView::new(&v).number_text();
        assert_eq!(text(json!(null)).as_deref(), Some("0"));
        assert_eq!(text(json!("abc")).as_deref(), Some("abc"));
        assert_eq!(text(json!(3.1)).as_deref(), Some("3.100000"));
        assert_eq!(text(json!(-3.1)).as_deref(), Some("-3.100000"));
        assert_eq!(text(json!(0.0)).as_deref(), Some("0.000000"));
        assert_eq!(text(json!(-3)).as_deref(), Some("-3"));
        assert_eq!(text(json!(false)), None);
    }
}
