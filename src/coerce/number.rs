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

/// `strconv.ParseFloat(s, 64)` for finite results; `None` where Go reports an error or where
/// the result could never equal a JSON number (infinities, NaN).
pub fn go_parse_float(text: &str) -> Option<f64> {
    let cleaned;
    let text = if text.contains('_') {
        // Go allows `_` only between digits (no base prefix is accepted here).
        let bytes = text.as_bytes();
        let ok = bytes.iter().enumerate().all(|(i, &c)| {
            c != b'_'
                || (i > 0
                    && bytes[i - 1].is_ascii_digit()
                    && bytes.get(i + 1).is_some_and(u8::is_ascii_digit))
        });
        if !ok {
            return None;
        }
        cleaned = text.replace('_', "");
        cleaned.as_str()
    } else {
        text
    };
    let unsigned = text.strip_prefix(['+', '-']).unwrap_or(text);
    if unsigned.starts_with("0x") || unsigned.starts_with("0X") {
        return None;
    }
    text.parse::<f64>().ok().filter(|f| f.is_finite())
}
