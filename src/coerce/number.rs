//! Numbers as Go holds them after decoding JSON, and Go's conversions between numbers and text.

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

#[cfg(test)]
mod tests {
    use super::*;

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
}
