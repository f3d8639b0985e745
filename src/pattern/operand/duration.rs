//! Go `time.ParseDuration`, bit for bit: `[-+]?([0-9]*(\.[0-9]*)?[a-z]+)+` with units
//! `ns us µs μs ms s m h`, the bare string `0`, and Go's overflow and fraction rounding rules.

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
    let mut s = text.as_bytes();
    let mut negative = false;
    if let Some(&c @ (b'-' | b'+')) = s.first() {
        negative = c == b'-';
        s = &s[1..];
    }
    if s == b"0" {
        return Some(0);
    }
    if s.is_empty() {
        return None;
    }
    let mut total: u64 = 0;
    while !s.is_empty() {
        if !(s[0] == b'.' || s[0].is_ascii_digit()) {
            return None;
        }
        let before = s.len();
        let (mut value, rest) = leading_int(s)?;
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
            return None;
        }
        let unit_len = s
            .iter()
            .position(|&c| c == b'.' || c.is_ascii_digit())
            .unwrap_or(s.len());
        if unit_len == 0 {
            return None;
        }
        let (unit_text, rest) = s.split_at(unit_len);
        s = rest;
        let unit = UNITS.iter().find(|(name, _)| *name == unit_text)?.1;
        if value > LIMIT / unit {
            return None;
        }
        value *= unit;
        if fraction > 0 {
            // Go computes the fractional part in float64 and truncates, reproduced exactly here.
            value += (fraction as f64 * (unit as f64 / scale)) as u64;
            if value > LIMIT {
                return None;
            }
        }
        // Go: `d += v` on a uint64, which wraps when both are 1<<63 (and then passes its check).
        total = total.wrapping_add(value);
        if total > LIMIT {
            return None;
        }
    }
    if negative {
        return Some((total as i64).wrapping_neg());
    }
    i64::try_from(total).ok()
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
    }
}
