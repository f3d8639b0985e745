//! Scalar resolution, reproducing what `kubectl apply` sends to the apiserver.
//!
//! kubectl reads manifests with sigs.k8s.io/yaml, which decodes with go-yaml v2 into
//! `interface{}` (YAML 1.1 rules: `yes`/`on`/`y` are booleans, `0755` is octal) and then
//! marshals the result with `encoding/json`. A policy gate that resolved scalars by YAML 1.2
//! rules would judge a different object than the one the cluster stores, so this module follows
//! go-yaml v2's `resolve()` and sigs.k8s.io/yaml's key conversion rule for rule, with Go's
//! `strconv` number syntax (Go 1.13+: `0x`, `0o`, `0b` prefixes and leading-zero octal).

use serde_json::{Number, Value};
use std::borrow::Cow;

/// The type go-yaml v2 assigns to a scalar; the text stays with the caller so that strings,
/// timestamps and keys can reuse it without copying.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) enum Resolved {
    Null,
    Bool(bool),
    Int(i64),
    Uint(u64),
    Float(f64),
    /// go-yaml v2 keeps timestamps decoded into `interface{}` as their original text.
    Timestamp,
    Str,
}

impl Resolved {
    fn tag(self) -> &'static str {
        match self {
            Resolved::Null => "null",
            Resolved::Bool(_) => "bool",
            Resolved::Int(_) | Resolved::Uint(_) => "int",
            Resolved::Float(_) => "float",
            Resolved::Timestamp => "timestamp",
            Resolved::Str => "str",
        }
    }
}

const CORE_PREFIX: &str = "tag:yaml.org,2002:";

/// Resolves one scalar. `plain` is false for quoted and block scalars; `tag` is the expanded
/// tag (`tag:yaml.org,2002:int`, `!local`, `!`), if any.
///
/// The table, as go-yaml v2 applies it to untagged plain scalars:
/// - `""`, `~`, `null`, `Null`, `NULL` → null;
/// - `y Y yes Yes YES true True TRUE on On ON` → true, `n N no No NO false False FALSE off Off
///   OFF` → false;
/// - `.inf`, `+.inf`, `-.inf`, `.nan` (also `Inf`/`INF`, `NaN`/`NAN` spellings) → float, which
///   `encoding/json` then refuses, so they are errors as values (keys keep their text);
/// - text starting with a sign or digit: underscores removed, then Go `ParseInt(s, 0, 64)`
///   (decimal, `0x`, `0o`, `0b`, leading-`0` octal), then `ParseUint` (no sign), then a decimal
///   float (`1e3`, `1.`, `-.5`) that does not overflow; otherwise a string (`09` is octal-invalid
///   and so resolves as the float 9, `1e400` stays a string);
/// - text starting with `.`: a decimal float (`.5`);
/// - anything else is a string. Quoted and block scalars are strings unless tagged.
///
/// Explicit `!!str !!int !!float !!bool !!null !!timestamp` tags re-check the resolved type
/// (`!!float` also accepts ints that fit in 64 bits signed); a mismatch is an error, as in
/// go-yaml. `!!binary` is base64-decoded; any other tag leaves the text a string.
pub(super) fn resolve(text: &str, plain: bool, tag: Option<&str>) -> Result<Resolved, String> {
    let tag = match tag {
        None if !plain => return Ok(Resolved::Str),
        None => "",
        Some(tag) => match tag.strip_prefix(CORE_PREFIX) {
            Some(core @ ("str" | "int" | "float" | "bool" | "null" | "timestamp")) => core,
            _ => return Ok(Resolved::Str),
        },
    };
    if tag == "str" {
        return Ok(Resolved::Str);
    }
    let resolved = implicit(text, tag.is_empty() || tag == "timestamp");
    match (tag, resolved) {
        ("", _) => Ok(resolved),
        ("float", Resolved::Int(int)) => Ok(Resolved::Float(int as f64)),
        _ if tag == resolved.tag() => Ok(resolved),
        _ => Err(format!(
            "cannot decode !!{} `{text}` as a !!{tag}",
            resolved.tag()
        )),
    }
}

/// Whether the tag asks for base64 decoding (the text must then go through [`binary`]).
pub(super) fn is_binary(tag: Option<&str>) -> bool {
    tag.and_then(|tag| tag.strip_prefix(CORE_PREFIX)) == Some("binary")
}

fn implicit(text: &str, timestamps: bool) -> Resolved {
    let Some(&first) = text.as_bytes().first() else {
        return Resolved::Null;
    };
    if let Some(named) = named(text) {
        return named;
    }
    match first {
        b'.' if is_decimal_float(text) => finite(text).unwrap_or(Resolved::Str),
        b'+' | b'-' | b'0'..=b'9' => {
            if timestamps && is_timestamp(text) {
                return Resolved::Timestamp;
            }
            let digits = match text.contains('_') {
                true => Cow::Owned(text.replace('_', "")),
                false => Cow::Borrowed(text),
            };
            if let Some(number) = go_parse_int(&digits) {
                return number;
            }
            if is_decimal_float(&digits) {
                return finite(&digits).unwrap_or(Resolved::Str);
            }
            Resolved::Str
        }
        _ => Resolved::Str,
    }
}

fn named(text: &str) -> Option<Resolved> {
    Some(match text {
        "~" | "null" | "Null" | "NULL" => Resolved::Null,
        "y" | "Y" | "yes" | "Yes" | "YES" | "true" | "True" | "TRUE" | "on" | "On" | "ON" => {
            Resolved::Bool(true)
        }
        "n" | "N" | "no" | "No" | "NO" | "false" | "False" | "FALSE" | "off" | "Off" | "OFF" => {
            Resolved::Bool(false)
        }
        ".nan" | ".NaN" | ".NAN" => Resolved::Float(f64::NAN),
        ".inf" | ".Inf" | ".INF" | "+.inf" | "+.Inf" | "+.INF" => Resolved::Float(f64::INFINITY),
        "-.inf" | "-.Inf" | "-.INF" => Resolved::Float(f64::NEG_INFINITY),
        _ => return None,
    })
}

/// Go's `ParseInt(s, 0, 64)` falling back to `ParseUint(s, 0, 64)`.
fn go_parse_int(text: &str) -> Option<Resolved> {
    let (negative, signed, rest) = match text.as_bytes().first() {
        Some(b'-') => (true, true, &text[1..]),
        Some(b'+') => (false, true, &text[1..]),
        _ => (false, false, text),
    };
    let prefix = rest
        .as_bytes()
        .get(..2)
        .map(|p| [p[0], p[1].to_ascii_lowercase()]);
    let (radix, digits) = match prefix {
        Some([b'0', b'x']) => (16, &rest[2..]),
        Some([b'0', b'o']) => (8, &rest[2..]),
        Some([b'0', b'b']) => (2, &rest[2..]),
        Some([b'0', _]) => (8, &rest[1..]),
        _ => (10, rest),
    };
    // `from_str_radix` would accept a second sign; Go does not.
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return None;
    }
    let magnitude = u64::from_str_radix(digits, radix).ok()?;
    if negative {
        return 0i64.checked_sub_unsigned(magnitude).map(Resolved::Int);
    }
    match i64::try_from(magnitude) {
        Ok(int) => Some(Resolved::Int(int)),
        Err(_) if !signed => Some(Resolved::Uint(magnitude)),
        Err(_) => None,
    }
}

/// go-yaml's `^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$`.
fn is_decimal_float(text: &str) -> bool {
    let bytes = text.as_bytes();
    let digits_from = |mut i: usize| {
        while bytes.get(i).is_some_and(u8::is_ascii_digit) {
            i += 1;
        }
        i
    };
    let mut i = usize::from(matches!(bytes.first(), Some(b'+' | b'-')));
    let integer_end = digits_from(i);
    let had_integer = integer_end > i;
    i = integer_end;
    if bytes.get(i) == Some(&b'.') {
        let fraction_end = digits_from(i + 1);
        if !had_integer && fraction_end == i + 1 {
            return false;
        }
        i = fraction_end;
    } else if !had_integer {
        return false;
    }
    if matches!(bytes.get(i), Some(b'e' | b'E')) {
        i += 1 + usize::from(matches!(bytes.get(i + 1), Some(b'+' | b'-')));
        let exponent_end = digits_from(i);
        if exponent_end == i {
            return false;
        }
        i = exponent_end;
    }
    i == bytes.len()
}

/// Go's `ParseFloat` reports overflow as an error, which makes go-yaml fall back to a string.
fn finite(text: &str) -> Option<Resolved> {
    text.parse::<f64>()
        .ok()
        .filter(|f| f.is_finite())
        .map(Resolved::Float)
}

/// The timestamp layouts go-yaml v2 accepts: `2006-1-2`, `2006-1-2 15:4:5.999999999` and
/// `2006-1-2T15:4:5.999999999Z07:00` (also with a lower-case `t`).
fn is_timestamp(text: &str) -> bool {
    fn number(s: &str, min_len: usize, max_len: usize, max: u32) -> Option<(u32, &str)> {
        let len = s
            .bytes()
            .take(max_len)
            .take_while(u8::is_ascii_digit)
            .count();
        let value = s[..len]
            .parse()
            .ok()
            .filter(|v| *v <= max && len >= min_len)?;
        Some((value, &s[len..]))
    }
    let date = || -> Option<&str> {
        let (_, rest) = number(text, 4, 4, 9999)?;
        let (month, rest) = number(rest.strip_prefix('-')?, 1, 2, 12)?;
        let (day, rest) = number(rest.strip_prefix('-')?, 1, 2, 31)?;
        (month > 0 && day > 0).then_some(rest)
    };
    let Some(rest) = date() else { return false };
    if rest.is_empty() {
        return true;
    }
    let zoned = matches!(rest.as_bytes()[0], b'T' | b't');
    if !zoned && !rest.starts_with(' ') {
        return false;
    }
    let time = || -> Option<&str> {
        let (_, rest) = number(&rest[1..], 1, 2, 23)?;
        let (_, rest) = number(rest.strip_prefix(':')?, 1, 2, 59)?;
        let (_, mut rest) = number(rest.strip_prefix(':')?, 1, 2, 59)?;
        if let Some(fraction) = rest.strip_prefix('.') {
            rest = fraction.trim_start_matches(|c: char| c.is_ascii_digit());
        }
        Some(rest)
    };
    match time() {
        Some("") => !zoned,
        Some("Z") => zoned,
        Some(zone) if zoned => {
            let zone = zone.as_bytes();
            zone.len() == 6
                && matches!(zone[0], b'+' | b'-')
                && zone[3] == b':'
                && [1, 2, 4, 5].iter().all(|&i| zone[i].is_ascii_digit())
        }
        _ => false,
    }
}

const I64_MIN: f64 = i64::MIN as f64;

/// The JSON value `encoding/json` writes for a resolved scalar. Go prints integral floats
/// without a fraction (`1e3` becomes `1000`), so such floats become JSON integers here too.
pub(super) fn to_json(resolved: Resolved, text: String) -> Result<Value, String> {
    Ok(match resolved {
        Resolved::Null => Value::Null,
        Resolved::Bool(b) => Value::Bool(b),
        Resolved::Int(i) => Value::from(i),
        Resolved::Uint(u) => Value::from(u),
        Resolved::Float(f) if !f.is_finite() => {
            return Err(format!(
                "unsupported value `{text}`: JSON has no infinity or NaN"
            ));
        }
        Resolved::Float(f) if f.fract() == 0.0 && (I64_MIN..-I64_MIN).contains(&f) => {
            Value::from(f as i64)
        }
        Resolved::Float(f) if f.fract() == 0.0 && (0.0..-2.0 * I64_MIN).contains(&f) => {
            Value::from(f as u64)
        }
        Resolved::Float(f) => Number::from_f64(f).map_or(Value::Null, Value::Number),
        Resolved::Timestamp | Resolved::Str => Value::String(text),
    })
}

/// The JSON object key sigs.k8s.io/yaml makes of a scalar mapping key: strings stay, ints and
/// bools print, floats print as Go's `FormatFloat(f, 'g', -1, 32)`; null and integers beyond
/// `i64` are refused.
pub(super) fn key_string(resolved: Resolved, text: String) -> Result<String, String> {
    match resolved {
        Resolved::Str | Resolved::Timestamp => Ok(text),
        Resolved::Int(i) => Ok(i.to_string()),
        Resolved::Bool(b) => Ok(b.to_string()),
        Resolved::Float(f) => Ok(go_format_float32(f)),
        Resolved::Null | Resolved::Uint(_) => Err(format!("unsupported map key `{text}`")),
    }
}

fn go_format_float32(f: f64) -> String {
    let f = f as f32;
    if f.is_nan() {
        return ".nan".into();
    }
    if f.is_infinite() {
        return if f > 0.0 { ".inf" } else { "-.inf" }.into();
    }
    // Rust's `{:e}` yields the same shortest round-trip digits Go uses.
    let shortest = format!("{:e}", f.abs());
    let (mantissa, exponent) = shortest.split_once('e').unwrap_or((&shortest, "0"));
    let digits: String = mantissa.chars().filter(char::is_ascii_digit).collect();
    let exponent: i32 = exponent.parse().unwrap_or(0);
    let sign = if f.is_sign_negative() { "-" } else { "" };
    if !(-4..6).contains(&exponent) {
        let (head, tail) = digits.split_at(1);
        let dot = if tail.is_empty() { "" } else { "." };
        let exp_sign = if exponent < 0 { '-' } else { '+' };
        return format!("{sign}{head}{dot}{tail}e{exp_sign}{:02}", exponent.abs());
    }
    let point = exponent + 1;
    if point <= 0 {
        let zeros = "0".repeat(point.unsigned_abs() as usize);
        return format!("{sign}0.{zeros}{digits}");
    }
    let point = point as usize;
    if digits.len() <= point {
        return format!("{sign}{digits}{}", "0".repeat(point - digits.len()));
    }
    format!("{sign}{}.{}", &digits[..point], &digits[point..])
}

/// Go's `base64.StdEncoding.DecodeString` (line breaks ignored, padding required), with the
/// bytes read as UTF-8 the way `encoding/json` writes a Go string: invalid bytes become U+FFFD.
pub(super) fn binary(text: &str) -> Result<String, String> {
    let invalid = || "!!binary value contains invalid base64 data".to_string();
    let sextet = |c: u8| match c {
        b'A'..=b'Z' => Some(c - b'A'),
        b'a'..=b'z' => Some(c - b'a' + 26),
        b'0'..=b'9' => Some(c - b'0' + 52),
        b'+' => Some(62),
        b'/' => Some(63),
        _ => None,
    };
    let clean: Vec<u8> = text
        .bytes()
        .filter(|b| !matches!(b, b'\r' | b'\n'))
        .collect();
    if clean.len() % 4 != 0 {
        return Err(invalid());
    }
    let mut out = Vec::with_capacity(clean.len() / 4 * 3);
    let quads = clean.len() / 4;
    for (n, quad) in clean.chunks(4).enumerate() {
        let padding = quad.iter().rev().take_while(|&&b| b == b'=').count();
        if padding > 2 || (padding > 0 && n + 1 != quads) {
            return Err(invalid());
        }
        let mut bits = 0u32;
        for &c in &quad[..4 - padding] {
            bits = bits << 6 | u32::from(sextet(c).ok_or_else(invalid)?);
        }
        bits <<= 6 * padding;
        out.extend_from_slice(&bits.to_be_bytes()[1..4 - padding]);
    }
    Ok(String::from_utf8_lossy(&out).into_owned())
}
