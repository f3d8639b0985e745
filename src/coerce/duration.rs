//! Go `time.ParseDuration`, bit for bit: `[-+]?([0-9]*(\.[0-9]*)?[a-z]+)+` with units
//! `ns us µs μs ms s m h`, the bare string `0`, and Go's overflow and fraction rounding rules;
//! and `Duration.String`, its inverse (`1h30m0s`, `1.5s`, `300ms`, `0s`).

const UNITS: &[(&[u8], u64)] = &[
    (b"ns", 1),
    (b"us", 1_000),
    ("\u{b5}s".as_bytes(), 1_000),
    ("\u{3bc}s".as_bytes(), 1_000),
    (b"ms", 1_000_000),
    (b"s", 1_000_000_000),
    (b"m", 60_000_000_000),
    (b"h", 3_600_000_000_000),
];

const LIMIT: u64 = 1 << 63;

/// Nanoseconds, or `None` where Go reports an error.
pub fn parse(text: &str) -> Option<i64> {
    parse_with_error(text).ok()
}

/// Nanoseconds, or Go's error message (`time: unknown unit "d" in duration "1d"`).
pub fn parse_with_error(text: &str) -> Result<i64, String> {
    let invalid = || format!("time: invalid duration {}", quote(text));
    let mut s = text.as_bytes();
    let mut negative = false;
    if let Some(&c @ (b'-' | b'+')) = s.first() {
        negative = c == b'-';
        s = &s[1..];
    }
    if s == b"0" {
        return Ok(0);
    }
    if s.is_empty() {
        return Err(invalid());
    }
    let mut total: u64 = 0;
    while !s.is_empty() {
        if !(s[0] == b'.' || s[0].is_ascii_digit()) {
            return Err(invalid());
        }
        let before = s.len();
        let (mut value, rest) = leading_int(s).ok_or_else(invalid)?;
        s = rest;
        let had_int = before != s.len();
        let mut fraction = 0u64;
        let mut scale = 1f64;
        let mut had_fraction = false;
        if s.first() == Some(&b'.') {
            s = &s[1..];
            let before = s.len();
            let (f, sc, rest) = leading_fraction(s);
            fraction = f;
            scale = sc;
            s = rest;
            had_fraction = before != s.len();
        }
        if !had_int && !had_fraction {
            return Err(invalid());
        }
        let unit_len = s
            .iter()
            .position(|&c| c == b'.' || c.is_ascii_digit())
            .unwrap_or(s.len());
        if unit_len == 0 {
            return Err(format!("time: missing unit in duration {}", quote(text)));
        }
        let (unit_text, rest) = s.split_at(unit_len);
        s = rest;
        let Some(&(_, unit)) = UNITS.iter().find(|(name, _)| *name == unit_text) else {
            return Err(format!(
                "time: unknown unit {} in duration {}",
                quote(&String::from_utf8_lossy(unit_text)),
                quote(text)
            ));
        };
        if value > LIMIT / unit {
            return Err(invalid());
        }
        value *= unit;
        if fraction > 0 {
            // Go computes the fractional part in float64 and truncates, reproduced exactly here.
            value += (fraction as f64 * (unit as f64 / scale)) as u64;
            if value > LIMIT {
                return Err(invalid());
            }
        }
        // Go: `d += v` on a uint64, which wraps when both are 1<<63 (and then passes its check).
        total = total.wrapping_add(value);
        if total > LIMIT {
            return Err(invalid());
        }
    }
    if negative {
        return Ok((total as i64).wrapping_neg());
    }
    i64::try_from(total).map_err(|_| invalid())
}

/// The `time` package's own quoting in its error messages: `"` and `\` escaped, and every byte
/// of a character outside printable ASCII written as `\xNN`.
pub fn quote(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for c in text.chars() {
        if (c as u32) < 0x20 || !c.is_ascii() {
            let mut buffer = [0u8; 4];
            for byte in c.encode_utf8(&mut buffer).bytes() {
                out.push_str(&format!("\\x{byte:02x}"));
            }
        } else {
            if c == '"' || c == '\\' {
                out.push('\\');
            }
            out.push(c);
        }
    }
    out.push('"');
    out
}

/// Go's `Duration.String` of `nanos` nanoseconds.
pub fn format(nanos: i64) -> String {
    let mut magnitude = nanos.unsigned_abs();
    let mut out = String::new();
    if magnitude < 1_000_000_000 {
        // Below a second Go picks the largest unit that keeps an integer part: 1.2ms, 300µs.
        let (precision, unit) = match magnitude {
            0 => return "0s".to_owned(),
            1..=999 => (0, "ns"),
            1_000..=999_999 => (3, "\u{b5}s"),
            _ => (6, "ms"),
        };
        let fraction = push_fraction(&mut magnitude, precision);
        out.push_str(&magnitude.to_string());
        out.push_str(&fraction);
        out.push_str(unit);
    } else {
        let fraction = push_fraction(&mut magnitude, 9);
        let seconds = magnitude % 60;
        let minutes = magnitude / 60 % 60;
        let hours = magnitude / 3600;
        if hours > 0 {
            out.push_str(&format!("{hours}h{minutes}m"));
        } else if minutes > 0 {
            out.push_str(&format!("{minutes}m"));
        }
        out.push_str(&format!("{seconds}{fraction}s"));
    }
    if nanos < 0 {
        out.insert(0, '-');
    }
    out
}

/// Splits off the last `precision` decimal digits of `value` as `.ddd` without trailing zeros
/// (empty when they are all zero), leaving the integer part in `value`.
fn push_fraction(value: &mut u64, precision: u32) -> String {
    let divisor = 10u64.pow(precision);
    let fraction = *value % divisor;
    *value /= divisor;
    if fraction == 0 {
        return String::new();
    }
    let digits = format!("{fraction:0width$}", width = precision as usize);
    format!(".{}", digits.trim_end_matches('0'))
}

fn leading_int(s: &[u8]) -> Option<(u64, &[u8])> {
    let mut x: u64 = 0;
    let mut i = 0;
    while i < s.len() && s[i].is_ascii_digit() {
        if x > LIMIT / 10 {
            return None;
        }
        x = x * 10 + u64::from(s[i] - b'0');
        if x > LIMIT {
            return None;
        }
        i += 1;
    }
    Some((x, &s[i..]))
}

fn leading_fraction(s: &[u8]) -> (u64, f64, &[u8]) {
    let mut x: u64 = 0;
    let mut scale = 1f64;
    let mut overflow = false;
    let mut i = 0;
    while i < s.len() && s[i].is_ascii_digit() {
        if !overflow {
            if x > (LIMIT - 1) / 10 {
                overflow = true;
            } else {
                let y = x * 10 + u64::from(s[i] - b'0');
                if y > LIMIT {
                    overflow = true;
                } else {
                    x = y;
                    scale *= 10.0;
                }
            }
        }
        i += 1;
    }
    (x, scale, &s[i..])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_durations() {
        let cases: &[(&str, Option<i64>)] = &[
            ("0", Some(0)),
            ("-0", Some(0)),
            ("+0", Some(0)),
            ("12s", Some(12_000_000_000)),
            ("1.5h", Some(5_400_000_000_000)),
            ("1h30m", Some(5_400_000_000_000)),
            ("-1m", Some(-60_000_000_000)),
            ("10m", Some(600_000_000_000)),
            ("300ms", Some(300_000_000)),
            ("1us", Some(1_000)),
            ("1\u{b5}s", Some(1_000)),
            ("1\u{3bc}s", Some(1_000)),
            ("1ns", Some(1)),
            (".5s", Some(500_000_000)),
            ("5.s", Some(5_000_000_000)),
            ("1.0000000001s", Some(1_000_000_000)),
            ("9223372036854775807ns", Some(i64::MAX)),
            ("-9223372036854775808ns", Some(i64::MIN)),
            ("9223372036854775808ns", None),
            ("", None),
            ("-", None),
            ("1", None),
            ("80", None),
            ("1d", None),
            (".s", None),
            ("1.500000", None),
            ("1 s", None),
            ("s", None),
            ("1h-1m", None),
            // Two terms of 1<<63 each wrap to 0 in Go's uint64 sum, which it then accepts.
            ("9223372036854775808ns9223372036854775808ns", Some(0)),
            ("-9223372036854775808ns9223372036854775808ns", Some(0)),
            ("9223372036854775808ns9223372036854775808ns1ns", Some(1)),
            ("5124095576030431h1h", None),
        ];
        for &(text, want) in cases {
            assert_eq!(parse(text), want, "{text:?}");
        }
        let errors: &[(&str, &str)] = &[
            ("", r#"time: invalid duration """#),
            ("1", r#"time: missing unit in duration "1""#),
            ("1d", r#"time: unknown unit "d" in duration "1d""#),
            ("x", r#"time: invalid duration "x""#),
            (
                "1é",
                r#"time: unknown unit "\xc3\xa9" in duration "1\xc3\xa9""#,
            ),
        ];
        for (text, want) in errors {
            assert_eq!(
                parse_with_error(text).err().as_deref(),
                Some(*want),
                "{text:?}"
            );
        }
    }

    #[test]
    fn go_strings() {
        let cases: &[(i64, &str)] = &[
            (0, "0s"),
            (1, "1ns"),
            (1_100, "1.1\u{b5}s"),
            (2_200_000, "2.2ms"),
            (300_000_000, "300ms"),
            (1_500_000_000, "1.5s"),
            (5_400_000_000_000, "1h30m0s"),
            (3_600_000_000_000, "1h0m0s"),
            (60_000_000_000, "1m0s"),
            (514_285_714_285, "8m34.285714285s"),
            (-90_000_000_000, "-1m30s"),
            (i64::MIN, "-2562047h47m16.854775808s"),
            (i64::MAX, "2562047h47m16.854775807s"),
        ];
        for &(nanos, want) in cases {
            assert_eq!(format(nanos), want, "{nanos}");
        }
    }
}
