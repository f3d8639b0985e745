//! The handful of Go formatting verbs whose output leaks into Kyverno's verdicts and messages:
//! `strconv.FormatFloat(f, 'E', -1, 64)`, `%f`, `%v`, `%q` and `%T` of decoded JSON values, and
//! `json.Marshal` of them in both flavours Kyverno uses: `encoding/json` (JMESPath) and jsoniter's
//! standard-library compatible configuration (templates, conditions).

use serde_json::Value;

/// Shortest round-trip digits and the decimal exponent of the first digit: `2.5` → ("25", 0).
fn shortest_digits(value: f64) -> (bool, String, i32) {
    let text = format!("{:e}", value.abs());
    let (mantissa, exp) = text.split_once('e').unwrap_or((text.as_str(), "0"));
    let digits: String = mantissa.chars().filter(char::is_ascii_digit).collect();
    (value.is_sign_negative(), digits, exp.parse().unwrap_or(0))
}

fn push_exponent(out: &mut String, marker: char, exp: i32) {
    out.push(marker);
    out.push(if exp < 0 { '-' } else { '+' });
    let magnitude = exp.unsigned_abs();
    if magnitude < 10 {
        out.push('0');
    }
    out.push_str(&magnitude.to_string());
}

fn push_mantissa(out: &mut String, digits: &str) {
    let (first, rest) = digits.split_at(1.min(digits.len()));
    out.push_str(first);
    if !rest.is_empty() {
        out.push('.');
        out.push_str(rest);
    }
}

/// `strconv.FormatFloat(v, 'E', -1, 64)`: `2.5` → `2.5E+00`, `1000` → `1E+03`.
pub fn format_e_upper(value: f64) -> String {
    let (negative, digits, exp) = shortest_digits(value);
    let mut out = String::new();
    if negative {
        out.push('-');
    }
    push_mantissa(&mut out, &digits);
    push_exponent(&mut out, 'E', exp);
    out
}

/// `fmt.Sprintf("%f", v)`: six decimals, correctly rounded (ties to even on the exact value).
pub fn format_f6(value: f64) -> String {
    format!("{value:.6}")
}

/// `%v` of a float64: shortest `%g`, switching to exponent form below 1e-4 and from 1e6 up.
pub fn format_v_float(value: f64) -> String {
    let (negative, digits, exp) = shortest_digits(value);
    let mut out = String::new();
    if negative {
        out.push('-');
    }
    if !(-4..6).contains(&exp) {
        push_mantissa(&mut out, &digits);
        push_exponent(&mut out, 'e', exp);
        return out;
    }
    let point = exp + 1;
    if point <= 0 {
        out.push_str("0.");
        out.extend(std::iter::repeat_n('0', point.unsigned_abs() as usize));
        out.push_str(&digits);
    } else {
        let point = point as usize;
        if digits.len() <= point {
            out.push_str(&digits);
            out.extend(std::iter::repeat_n('0', point - digits.len()));
        } else {
            out.push_str(&digits[..point]);
            out.push('.');
            out.push_str(&digits[point..]);
        }
    }
    out
}

/// `%v` of a JSON number as Kyverno holds it (int64 when integral and in range, else float64).
pub fn format_v_number(number: &serde_json::Number) -> String {
    match number.as_i64() {
        Some(i) => i.to_string(),
        None => format_v_float(number.as_f64().unwrap_or(0.0)),
    }
}

/// `%v` of a decoded JSON value: `map[a:1 b:[x y]]`, `<nil>`, strings unquoted, keys sorted;
/// at most `limit` bytes of it, then `…`.
///
/// Bounded, because it is quoted into the answer: the work is in proportion to `limit`, not to
/// the value (beyond sorting one object's keys).
pub fn format_v(value: &Value, limit: usize) -> String {
    write_tree(
        value,
        &v_syntax(|out, value| push_v_scalar(out, value, format_v_number)),
        limit,
    )
}

/// Go's `fmt.Sprint` of a decoded JSON value: all of its `%v`, for comparisons.
pub fn sprint(value: &Value) -> String {
    format_v(value, usize::MAX)
}

/// `%v` of a value decoded by `encoding/json` into `interface{}`, where every number is a float64
/// (`1e+06`, not `1000000`), as JMESPath holds them.
pub fn format_v_json(value: &Value) -> String {
    write_tree(
        value,
        &v_syntax(|out, value| {
            push_v_scalar(out, value, |n| format_v_float(n.as_f64().unwrap_or(0.0)))
        }),
        usize::MAX,
    )
}

/// `%s` of a value decoded by `encoding/json` into `interface{}`: strings as they are, maps and
/// lists as `%v` writes them, and Go's complaint for every other scalar
/// (`%!s(float64=1)`, `%!s(bool=true)`, `%!s(<nil>)`).
pub fn format_s_json(value: &Value) -> String {
    write_tree(
        value,
        &v_syntax(|out, value| match value {
            Value::Null => out.push_str("%!s(<nil>)"),
            Value::Bool(b) => out.push_str(&format!("%!s(bool={b})")),
            Value::Number(n) => out.push_str(&format!(
                "%!s(float64={})",
                format_v_float(n.as_f64().unwrap_or(0.0))
            )),
            other => push_v_scalar(out, other, format_v_number),
        }),
        usize::MAX,
    )
}

const fn v_syntax(scalar: fn(&mut String, &Value)) -> Syntax {
    Syntax {
        list: ("[", "]"),
        map: ("map[", "]"),
        separator: " ",
        key: |out, key| out.push_str(key),
        scalar,
    }
}

fn push_v_scalar(out: &mut String, value: &Value, number: fn(&serde_json::Number) -> String) {
    match value {
        Value::Null => out.push_str("<nil>"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => out.push_str(&number(n)),
        Value::String(s) => out.push_str(s),
        Value::Array(_) | Value::Object(_) => {}
    }
}

/// `%q` of a string: `strconv.Quote`, double-quoted with Go escapes for quotes, backslashes and
/// characters that are not printable.
pub fn quote(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{7}' => out.push_str("\\a"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '\u{b}' => out.push_str("\\v"),
            c if (c as u32) < 0x20 || c == '\u{7f}' => {
                out.push_str(&format!("\\x{:02x}", c as u32))
            }
            c if c.is_control() || c == '\u{feff}' || c == '\u{2028}' || c == '\u{2029}' => {
                if (c as u32) > 0xffff {
                    out.push_str(&format!("\\U{:08x}", c as u32));
                } else {
                    out.push_str(&format!("\\u{:04x}", c as u32));
                }
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// `json.Marshal` (`encoding/json`) of a value decoded into `interface{}`, as JMESPath holds it:
/// keys sorted, no spaces, every number a float64 (`1e+21`, `1e-7`), and `<`, `>`, `&`, U+2028
/// and U+2029 escaped as `encoding/json` escapes them.
pub fn json_marshal(value: &Value) -> String {
    write_tree(
        value,
        &json_syntax(push_json_string, |out, value| {
            push_json_scalar(out, value, push_json_string, |out, n| {
                out.push_str(&json_float(n.as_f64().unwrap_or(0.0)))
            })
        }),
        usize::MAX,
    )
}

/// `json.Marshal` of a decoded JSON value, as Kyverno's jsoniter (standard-library compatible
/// configuration) writes it where Kyverno calls it (templates, conditions): keys sorted, integers
/// kept as integers, `<`, `>`, `&`, U+2028 and U+2029 escaped as `\uXXXX`, control characters
/// other than `\n`, `\r`, `\t` as `\u00XX`, and floats in Go's shortest form (`1e+21`, `1e-07`,
/// never `1.0`).
pub fn jsoniter_marshal(value: &Value) -> String {
    write_tree(
        value,
        &json_syntax(push_jsoniter_string, |out, value| {
            push_json_scalar(out, value, push_jsoniter_string, |out, n| {
                match n.as_i64() {
                    Some(i) => out.push_str(&i.to_string()),
                    // Beyond int64, Kubernetes' decoder already holds a number as float64.
                    None => out.push_str(&jsoniter_float(n.as_f64().unwrap_or(0.0))),
                }
            })
        }),
        usize::MAX,
    )
}

const fn json_syntax(key: fn(&mut String, &str), scalar: fn(&mut String, &Value)) -> Syntax {
    Syntax {
        list: ("[", "]"),
        map: ("{", "}"),
        separator: ",",
        key,
        scalar,
    }
}

fn push_json_scalar(
    out: &mut String,
    value: &Value,
    string: fn(&mut String, &str),
    number: fn(&mut String, &serde_json::Number),
) {
    match value {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => number(out, n),
        Value::String(s) => string(out, s),
        Value::Array(_) | Value::Object(_) => {}
    }
}

/// How [`write_tree`] spells lists, maps and scalars.
struct Syntax {
    list: (&'static str, &'static str),
    map: (&'static str, &'static str),
    separator: &'static str,
    /// Writes a map key; the `:` after it is written for every syntax.
    key: fn(&mut String, &str),
    scalar: fn(&mut String, &Value),
}

/// Writes a value with map keys sorted, at most `limit` bytes of it and then `…`. Iterative,
/// because the value may come from the admission request and be nested arbitrarily.
fn write_tree(value: &Value, syntax: &Syntax, limit: usize) -> String {
    enum Item<'a> {
        Value(&'a Value),
        Text(&'static str),
        Key(&'a str),
    }
    let mut out = String::new();
    // Past `limit` the text is cut anyway; each push stops one character beyond it.
    let push = |out: &mut String, text: &str| {
        let room = limit.saturating_add(1).saturating_sub(out.len());
        let mut end = room.min(text.len());
        while !text.is_char_boundary(end) {
            end += 1;
        }
        out.push_str(&text[..end]);
    };
    let mut piece = String::new();
    let mut stack = vec![Item::Value(value)];
    while let Some(item) = stack.pop() {
        if out.len() > limit {
            break;
        }
        match item {
            Item::Text(text) => push(&mut out, text),
            Item::Key(key) => {
                piece.clear();
                (syntax.key)(&mut piece, key);
                piece.push(':');
                push(&mut out, &piece);
            }
            Item::Value(Value::Array(items)) => {
                push(&mut out, syntax.list.0);
                stack.push(Item::Text(syntax.list.1));
                // Every element takes a byte at least: no more than `limit` can be shown.
                let shown = &items[..items.len().min(limit.saturating_add(1))];
                for (i, item) in shown.iter().enumerate().rev() {
                    stack.push(Item::Value(item));
                    if i > 0 {
                        stack.push(Item::Text(syntax.separator));
                    }
                }
            }
            Item::Value(Value::Object(map)) => {
                push(&mut out, syntax.map.0);
                stack.push(Item::Text(syntax.map.1));
                let mut entries: Vec<(&String, &Value)> = map.iter().collect();
                if entries.len() > limit.saturating_add(1) {
                    entries.select_nth_unstable_by(limit + 1, |a, b| a.0.cmp(b.0));
                    entries.truncate(limit + 1);
                }
                entries.sort_by(|a, b| a.0.cmp(b.0));
                for (i, (key, item)) in entries.into_iter().enumerate().rev() {
                    stack.push(Item::Value(item));
                    stack.push(Item::Key(key));
                    if i > 0 {
                        stack.push(Item::Text(syntax.separator));
                    }
                }
            }
            Item::Value(scalar) => {
                piece.clear();
                (syntax.scalar)(&mut piece, scalar);
                push(&mut out, &piece);
            }
        }
    }
    if out.len() > limit {
        let mut end = limit;
        while !out.is_char_boundary(end) {
            end -= 1;
        }
        out.truncate(end);
        out.push('…');
    }
    out
}

/// `encoding/json`'s float64 form: shortest digits, plain from 1e-6 up to 1e21, exponent outside
/// with as few digits as it needs (`1e-7`).
pub fn json_float(value: f64) -> String {
    float_with_exponent(value, |out, exp| {
        out.push('e');
        out.push(if exp < 0 { '-' } else { '+' });
        out.push_str(&exp.unsigned_abs().to_string());
    })
}

/// A float64 as jsoniter writes it: as [`json_float`], but the exponent keeps two digits
/// (`1e-07`, `1e+21`).
pub fn jsoniter_float(value: f64) -> String {
    float_with_exponent(value, |out, exp| push_exponent(out, 'e', exp))
}

/// Go's `'f'` format with shortest digits from 1e-6 up to 1e21 (and for zero), `'e'` outside,
/// its exponent written by `exponent`.
fn float_with_exponent(value: f64, exponent: fn(&mut String, i32)) -> String {
    let magnitude = value.abs();
    if magnitude == 0.0 || (1e-6..1e21).contains(&magnitude) {
        // Rust's shortest round-trip digits, never in exponent form: Go's 'f' with precision -1.
        return format!("{value}");
    }
    let (negative, digits, exp) = shortest_digits(value);
    let mut out = String::new();
    if negative {
        out.push('-');
    }
    push_mantissa(&mut out, &digits);
    exponent(&mut out, exp);
    out
}

/// `encoding/json`'s string escaping: `\b` and `\f` by name, other control characters as
/// `\u00XX`.
fn push_json_string(out: &mut String, text: &str) {
    push_escaped(out, text, true);
}

/// jsoniter's string escaping: every control character but `\n`, `\r`, `\t` as `\u00XX`.
fn push_jsoniter_string(out: &mut String, text: &str) {
    push_escaped(out, text, false);
}

fn push_escaped(out: &mut String, text: &str, backspace_formfeed_by_name: bool) {
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' if backspace_formfeed_by_name => out.push_str("\\b"),
            '\u{c}' if backspace_formfeed_by_name => out.push_str("\\f"),
            '<' | '>' | '&' | '\u{0}'..='\u{1f}' => push_u00(out, c as u8),
            '\u{2028}' => out.push_str("\\u2028"),
            '\u{2029}' => out.push_str("\\u2029"),
            c => out.push(c),
        }
    }
    out.push('"');
}

fn push_u00(out: &mut String, byte: u8) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    out.push_str("\\u00");
    out.push(char::from(HEX[usize::from(byte >> 4)]));
    out.push(char::from(HEX[usize::from(byte & 0xf)]));
}

/// `json.Unmarshal` into `interface{}`: serde_json's reading, with Go's replacement of a
/// `\u` escape of a lone surrogate by U+FFFD (serde_json refuses those), and Go's words for
/// what it refuses.
pub fn go_json_parse(text: &str) -> Result<Value, String> {
    match serde_json::from_str(text) {
        Ok(value) => Ok(value),
        Err(error) => match replace_lone_surrogates(text) {
            Some(replaced) => serde_json::from_str(&replaced)
                .map_err(|error| json_syntax_error(&replaced, &error)),
            None => Err(json_syntax_error(text, &error)),
        },
    }
}

/// `text` with every `\u` escape of a surrogate that is not half of a pair written as
/// `\ufffd`, or `None` when it has none.
fn replace_lone_surrogates(text: &str) -> Option<String> {
    let surrogate = |at: usize| -> Option<u32> {
        let hex = text.get(at + 2..at + 6)?;
        let code = u32::from_str_radix(hex, 16).ok()?;
        (text.get(at..at + 2) == Some("\\u") && (0xD800..0xE000).contains(&code)).then_some(code)
    };
    let bytes = text.as_bytes();
    let mut out = String::with_capacity(text.len());
    let mut changed = false;
    let (mut at, mut copied) = (0, 0);
    while at < bytes.len() {
        if bytes[at] != b'\\' {
            at += 1;
            continue;
        }
        match surrogate(at) {
            Some(0xD800..0xDC00) if surrogate(at + 6).is_some_and(|low| low >= 0xDC00) => {
                at += 12;
            }
            Some(_) => {
                out.push_str(&text[copied..at]);
                out.push_str("\\ufffd");
                at += 6;
                copied = at;
                changed = true;
            }
            // Any other escape: its second character cannot start one.
            None => at += 2,
        }
    }
    out.push_str(&text[copied..]);
    changed.then_some(out)
}

/// The message `encoding/json` gives for text that serde_json refuses: the syntax error of
/// Go's scanner (`unexpected end of JSON input`, `invalid character 'b' looking for beginning
/// of value`), which checks the whole text before anything is decoded, and then the decoder's
/// refusal of a number beyond float64.
pub fn json_syntax_error(text: &str, error: &serde_json::Error) -> String {
    if let Some(syntax) = go_json_syntax_error(text.as_bytes()) {
        return syntax;
    }
    if error.to_string().starts_with("number out of range") {
        return format!(
            "json: cannot unmarshal number {} into Go value of type float64",
            number_ending_at(text, error.line(), error.column())
        );
    }
    error.to_string()
}

/// Go's `encoding/json` scanner (`checkValid`): the first syntax error of `text`, in Go's
/// words, or `None` when the text is JSON.
fn go_json_syntax_error(text: &[u8]) -> Option<String> {
    #[derive(Clone, Copy, PartialEq)]
    enum Parse {
        ObjectKey,
        ObjectValue,
        ArrayValue,
    }
    #[derive(Clone, Copy, PartialEq)]
    enum State {
        BeginValueOrEmpty,
        BeginValue,
        BeginStringOrEmpty,
        BeginString,
        EndValue,
        EndTop,
        InString,
        InStringEsc,
        InStringEscU(u8),
        Neg,
        One,
        Zero,
        Dot,
        Dot0,
        E,
        ESign,
        E0,
        /// Inside `true`, `false` or `null`: the literal and how much of it is read.
        Literal(&'static str, usize),
    }
    const MAX_NESTING: usize = 10_000;
    let invalid = |c: u8, context: &str| {
        Some(format!(
            "invalid character {} {context}",
            quote_char(char::from(c))
        ))
    };
    let mut stack: Vec<Parse> = Vec::new();
    let mut state = State::BeginValue;
    // One step of the scanner; `Err` carries the error message.
    let mut step = |state: &mut State, c: u8| -> std::result::Result<(), Option<String>> {
        let space = matches!(c, b' ' | b'\t' | b'\r' | b'\n');
        loop {
            match *state {
                State::BeginValueOrEmpty | State::BeginValue => {
                    if space {
                        return Ok(());
                    }
                    if *state == State::BeginValueOrEmpty && c == b']' {
                        *state = State::EndValue;
                        continue;
                    }
                    *state = match c {
                        b'{' | b'[' => {
                            if stack.len() >= MAX_NESTING {
                                return Err(invalid(c, "exceeded max depth"));
                            }
                            if c == b'{' {
                                stack.push(Parse::ObjectKey);
                                State::BeginStringOrEmpty
                            } else {
                                stack.push(Parse::ArrayValue);
                                State::BeginValueOrEmpty
                            }
                        }
                        b'"' => State::InString,
                        b'-' => State::Neg,
                        b'0' => State::Zero,
                        b'1'..=b'9' => State::One,
                        b't' => State::Literal("true", 1),
                        b'f' => State::Literal("false", 1),
                        b'n' => State::Literal("null", 1),
                        _ => return Err(invalid(c, "looking for beginning of value")),
                    };
                    return Ok(());
                }
                State::BeginStringOrEmpty | State::BeginString => {
                    if space {
                        return Ok(());
                    }
                    if *state == State::BeginStringOrEmpty && c == b'}' {
                        if let Some(top) = stack.last_mut() {
                            *top = Parse::ObjectValue;
                        }
                        *state = State::EndValue;
                        continue;
                    }
                    if c == b'"' {
                        *state = State::InString;
                        return Ok(());
                    }
                    return Err(invalid(c, "looking for beginning of object key string"));
                }
                State::EndValue => {
                    let Some(&top) = stack.last() else {
                        *state = State::EndTop;
                        continue;
                    };
                    if space {
                        return Ok(());
                    }
                    match (top, c) {
                        (Parse::ObjectKey, b':') => {
                            if let Some(top) = stack.last_mut() {
                                *top = Parse::ObjectValue;
                            }
                            *state = State::BeginValue;
                        }
                        (Parse::ObjectKey, _) => return Err(invalid(c, "after object key")),
                        (Parse::ObjectValue, b',') => {
                            if let Some(top) = stack.last_mut() {
                                *top = Parse::ObjectKey;
                            }
                            *state = State::BeginString;
                        }
                        (Parse::ObjectValue, b'}') | (Parse::ArrayValue, b']') => {
                            stack.pop();
                            *state = if stack.is_empty() {
                                State::EndTop
                            } else {
                                State::EndValue
                            };
                        }
                        (Parse::ObjectValue, _) => {
                            return Err(invalid(c, "after object key:value pair"));
                        }
                        (Parse::ArrayValue, b',') => *state = State::BeginValue,
                        (Parse::ArrayValue, _) => return Err(invalid(c, "after array element")),
                    }
                    return Ok(());
                }
                State::EndTop => {
                    if space {
                        return Ok(());
                    }
                    return Err(invalid(c, "after top-level value"));
                }
                State::InString => {
                    match c {
                        b'"' => *state = State::EndValue,
                        b'\\' => *state = State::InStringEsc,
                        0..0x20 => return Err(invalid(c, "in string literal")),
                        _ => {}
                    }
                    return Ok(());
                }
                State::InStringEsc => {
                    *state = match c {
                        b'b' | b'f' | b'n' | b'r' | b't' | b'\\' | b'/' | b'"' => State::InString,
                        b'u' => State::InStringEscU(0),
                        _ => return Err(invalid(c, "in string escape code")),
                    };
                    return Ok(());
                }
                State::InStringEscU(read) => {
                    if !c.is_ascii_hexdigit() {
                        return Err(invalid(c, "in \\u hexadecimal character escape"));
                    }
                    *state = if read == 3 {
                        State::InString
                    } else {
                        State::InStringEscU(read + 1)
                    };
                    return Ok(());
                }
                State::Neg => {
                    *state = match c {
                        b'0' => State::Zero,
                        b'1'..=b'9' => State::One,
                        _ => return Err(invalid(c, "in numeric literal")),
                    };
                    return Ok(());
                }
                State::One if c.is_ascii_digit() => return Ok(()),
                State::One | State::Zero => {
                    *state = match c {
                        b'.' => State::Dot,
                        b'e' | b'E' => State::E,
                        _ => {
                            *state = State::EndValue;
                            continue;
                        }
                    };
                    return Ok(());
                }
                State::Dot => {
                    if !c.is_ascii_digit() {
                        return Err(invalid(c, "after decimal point in numeric literal"));
                    }
                    *state = State::Dot0;
                    return Ok(());
                }
                State::Dot0 if c.is_ascii_digit() => return Ok(()),
                State::Dot0 => {
                    if matches!(c, b'e' | b'E') {
                        *state = State::E;
                        return Ok(());
                    }
                    *state = State::EndValue;
                }
                State::E if matches!(c, b'+' | b'-') => {
                    *state = State::ESign;
                    return Ok(());
                }
                State::E | State::ESign => {
                    if !c.is_ascii_digit() {
                        return Err(invalid(c, "in exponent of numeric literal"));
                    }
                    *state = State::E0;
                    return Ok(());
                }
                State::E0 if c.is_ascii_digit() => return Ok(()),
                State::E0 => *state = State::EndValue,
                State::Literal(word, read) => {
                    let expected = word.as_bytes()[read];
                    if c != expected {
                        return Err(invalid(
                            c,
                            &format!(
                                "in literal {word} (expecting {})",
                                quote_char(char::from(expected))
                            ),
                        ));
                    }
                    *state = if read + 1 == word.len() {
                        State::EndValue
                    } else {
                        State::Literal(word, read + 1)
                    };
                    return Ok(());
                }
            }
        }
    };
    for &c in text {
        if let Err(message) = step(&mut state, c) {
            return message;
        }
    }
    // At the end, a space completes a number or shows an unfinished literal.
    if state != State::EndTop {
        if let Err(message) = step(&mut state, b' ') {
            return message;
        }
    }
    if state != State::EndTop {
        return Some("unexpected end of JSON input".to_owned());
    }
    None
}

/// The number whose last character is at `line`:`column` (1-based) of `text`.
fn number_ending_at(text: &str, line: usize, column: usize) -> &str {
    let Some(line) = text.lines().nth(line.saturating_sub(1)) else {
        return "";
    };
    let end = column.min(line.len());
    let Some(before) = line.get(..end) else {
        return "";
    };
    let start = before
        .rfind(|c: char| !matches!(c, '0'..='9' | '.' | 'e' | 'E' | '+' | '-'))
        .map_or(0, |at| at + 1);
    &before[start..]
}

/// `encoding/json`'s `quoteChar`.
fn quote_char(c: char) -> String {
    match c {
        '\'' => r"'\''".to_owned(),
        '"' => "'\"'".to_owned(),
        c => {
            let quoted = quote(&c.to_string());
            format!("'{}'", &quoted[1..quoted.len() - 1])
        }
    }
}

/// `%T` of a decoded JSON value.
pub fn type_name(value: &Value) -> &'static str {
    match value {
        Value::Null => "<nil>",
        Value::Bool(_) => "bool",
        Value::Number(n) if n.is_i64() => "int64",
        Value::Number(_) => "float64",
        Value::String(_) => "string",
        Value::Array(_) => "[]interface {}",
        Value::Object(_) => "map[string]interface {}",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn s_of_decoded_json() {
        assert_eq!(format_s_json(&json!("text")), "text");
        assert_eq!(
            format_s_json(&json!({"name": "{{x}}", "count": 3, "on": true, "none": null})),
            "map[count:%!s(float64=3) name:{{x}} none:%!s(<nil>) on:%!s(bool=true)]"
        );
        assert_eq!(format_s_json(&json!(["a", 1.5])), "[a %!s(float64=1.5)]");
    }

    #[test]
    fn e_upper() {
        let cases: &[(f64, &str)] = &[
            (2.5, "2.5E+00"),
            (8080.0, "8.08E+03"),
            (1000.0, "1E+03"),
            (1.0, "1E+00"),
            (0.0, "0E+00"),
            (-0.0, "-0E+00"),
            (-1.5, "-1.5E+00"),
            (1e21, "1E+21"),
            (1e-7, "1E-07"),
            (1.2345e100, "1.2345E+100"),
            (0.1 + 0.2, "3.0000000000000004E-01"),
        ];
        for &(value, want) in cases {
            assert_eq!(format_e_upper(value), want, "{value}");
        }
    }

    #[test]
    fn f6() {
        let cases: &[(f64, &str)] = &[
            (0.0, "0.000000"),
            (3.1, "3.100000"),
            (-3.1, "-3.100000"),
            (1.5, "1.500000"),
            (0.0078125, "0.007812"),
            (1e-7, "0.000000"),
        ];
        for &(value, want) in cases {
            assert_eq!(format_f6(value), want, "{value}");
        }
    }

    #[test]
    fn v_formatting() {
        let cases: &[(f64, &str)] = &[
            (5.0, "5"),
            (2.5, "2.5"),
            (0.0001, "0.0001"),
            (0.00001, "1e-05"),
            (123456789.0, "1.23456789e+08"),
            (100000.0, "100000"),
            (1000000.0, "1e+06"),
            (1e21, "1e+21"),
            (-0.5, "-0.5"),
        ];
        for &(value, want) in cases {
            assert_eq!(format_v_float(value), want, "{value}");
        }
        assert_eq!(format_v(&json!(null), 1024), "<nil>");
        assert_eq!(
            format_v(&json!(["a", 1, 2.5, true, null]), 1024),
            "[a 1 2.5 true <nil>]"
        );
        assert_eq!(
            format_v(&json!({"b": [1, {"c": "x"}], "a": {}}), 1024),
            "map[a:map[] b:[1 map[c:x]]]"
        );
        assert_eq!(type_name(&json!(1)), "int64");
        assert_eq!(type_name(&json!(1.5)), "float64");
        assert_eq!(type_name(&json!({})), "map[string]interface {}");
        assert_eq!(format_v_json(&json!([1000000, 1, 2.5])), "[1e+06 1 2.5]");
    }

    #[test]
    fn a_value_is_quoted_up_to_its_limit() {
        let exact = json!(["ab", "cd"]);
        assert_eq!(format_v(&exact, 7), "[ab cd]");
        assert_eq!(format_v(&exact, 6), "[ab cd…");
        assert_eq!(format_v(&exact, 3), "[ab…");
        // A cut never splits a character.
        assert_eq!(format_v(&json!("aé"), 2), "a…");
        // Sorted keys, the smallest first, even when most are left out.
        let keys: serde_json::Map<String, Value> = (0..10_000)
            .rev()
            .map(|i| (format!("k{i:05}"), json!(i)))
            .collect();
        assert_eq!(format_v(&Value::Object(keys), 20), "map[k00000:0 k00001:…");
        let long = json!(vec!["x"; 1_000_000]);
        let quoted = format_v(&long, 1024);
        assert_eq!(quoted.len(), 1024 + '…'.len_utf8());
        assert!(quoted.starts_with("[x x x") && quoted.ends_with('…'));
        let deep = (0..1_000).fold(json!("end"), |inner, _| json!([inner]));
        assert_eq!(format_v(&deep, 4), "[[[[…");
    }

    #[test]
    fn jsoniter_marshal_as_jsoniter() {
        let cases: &[(Value, &str)] = &[
            (json!(null), "null"),
            (json!(true), "true"),
            (json!(3), "3"),
            (json!(-3), "-3"),
            (json!(3.0), "3"),
            (json!(2.5), "2.5"),
            (json!(0.000001), "0.000001"),
            (json!(0.0000001), "1e-07"),
            (json!(1.5e-10), "1.5e-10"),
            (json!(1e20), "100000000000000000000"),
            (json!(1e21), "1e+21"),
            (json!(1.25e300), "1.25e+300"),
            (json!(u64::MAX), "18446744073709552000"),
            (json!("a\"b\\c"), r#""a\"b\\c""#),
            (json!("<a&b>"), r#""\u003ca\u0026b\u003e""#),
            (
                json!("\n\r\t\u{8}\u{c}\u{1}"),
                r#""\n\r\t\u0008\u000c\u0001""#,
            ),
            (json!("\u{2028}\u{2029}é"), r#""\u2028\u2029é""#),
            (json!([1, "x", [], {}]), r#"[1,"x",[],{}]"#),
            (
                json!({"b": {"y": 1, "x": [true]}, "a": null, "<": 0}),
                r#"{"\u003c":0,"a":null,"b":{"x":[true],"y":1}}"#,
            ),
        ];
        for (value, want) in cases {
            assert_eq!(jsoniter_marshal(value), *want, "{value}");
        }
    }

    #[test]
    fn json_marshal_as_go() {
        let cases: &[(Value, &str)] = &[
            (json!(null), "null"),
            (
                json!({"b": 1, "a": [true, "x"]}),
                r#"{"a":[true,"x"],"b":1}"#,
            ),
            (json!(1e21), "1e+21"),
            (json!(1e20), "100000000000000000000"),
            (json!(1e-7), "1e-7"),
            (json!(0.000001), "0.000001"),
            (json!(1.2), "1.2"),
            (json!(3.0), "3"),
            (json!(-2.5e-300), "-2.5e-300"),
            (json!("<a&b>\u{2028}"), r#""\u003ca\u0026b\u003e\u2028""#),
            (json!("q\"\\\n\u{1}\u{8}"), r#""q\"\\\n\u0001\b""#),
        ];
        for (value, want) in cases {
            assert_eq!(json_marshal(value), *want, "{value}");
        }
    }

    #[test]
    fn json_syntax_errors() {
        let cases: &[(&str, &str)] = &[
            ("", "unexpected end of JSON input"),
            ("[1,", "unexpected end of JSON input"),
            (
                "bad",
                "invalid character 'b' looking for beginning of value",
            ),
            (
                "{bad}",
                "invalid character 'b' looking for beginning of object key string",
            ),
            ("[1 2]", "invalid character '2' after array element"),
            ("{\"a\" 1}", "invalid character '1' after object key"),
            ("1 2", "invalid character '2' after top-level value"),
            (
                "[1,]",
                "invalid character ']' looking for beginning of value",
            ),
            (
                "nul",
                "invalid character ' ' in literal null (expecting 'l')",
            ),
            (
                "tRue",
                "invalid character 'R' in literal true (expecting 'r')",
            ),
            ("01", "invalid character '1' after top-level value"),
            ("[01]", "invalid character '1' after array element"),
            ("-", "invalid character ' ' in numeric literal"),
            (
                "1.",
                "invalid character ' ' after decimal point in numeric literal",
            ),
            (
                "1e+",
                "invalid character ' ' in exponent of numeric literal",
            ),
            ("\"a\\x\"", "invalid character 'x' in string escape code"),
            (
                "\"\\u12g4\"",
                "invalid character 'g' in \\u hexadecimal character escape",
            ),
            ("\"a\tb\"", "invalid character '\\t' in string literal"),
            ("\"abc", "unexpected end of JSON input"),
            ("é", "invalid character 'Ã' looking for beginning of value"),
            (
                "{\"a\":1 \"b\"",
                "invalid character '\"' after object key:value pair",
            ),
            (
                "[1e400, x]",
                "invalid character 'x' looking for beginning of value",
            ),
            (
                "{\"a\": -1e999}",
                "json: cannot unmarshal number -1e999 into Go value of type float64",
            ),
        ];
        for (text, want) in cases {
            let error = serde_json::from_str::<Value>(text).err();
            let got = error.map(|e| json_syntax_error(text, &e));
            assert_eq!(got.as_deref(), Some(*want), "{text}");
        }
    }

    #[test]
    fn go_quote() {
        assert_eq!(quote("a\"b\\c\n"), r#""a\"b\\c\n""#);
        assert_eq!(quote("\u{1}é"), r#""\x01é""#);
    }
}
