//! The handful of Go formatting verbs whose output leaks into Kyverno's verdicts and messages:
//! `strconv.FormatFloat(f, 'E', -1, 64)`, `%f`, `%v` and `%T` of decoded JSON values, and
//! `json.Marshal` as Kyverno's `jsoniter.ConfigCompatibleWithStandardLibrary` writes it.

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
        &Syntax {
            list: ("[", "]"),
            map: ("map[", "]"),
            separator: " ",
            key: |out, key| out.push_str(key),
            scalar: |out, value| match value {
                Value::Null => out.push_str("<nil>"),
                Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
                Value::Number(n) => out.push_str(&format_v_number(n)),
                Value::String(s) => out.push_str(s),
                Value::Array(_) | Value::Object(_) => {}
            },
        },
        limit,
    )
}

/// Go's `fmt.Sprint` of a decoded JSON value: all of its `%v`, for comparisons.
pub fn sprint(value: &Value) -> String {
    format_v(value, usize::MAX)
}

/// `json.Marshal` of a decoded JSON value, as Kyverno's jsoniter (standard-library compatible
/// configuration) writes it: keys sorted, `<`, `>`, `&`, U+2028 and U+2029 escaped as `\uXXXX`,
/// control characters other than `\n`, `\r`, `\t` as `\u00XX`, and floats in Go's shortest
/// form (`1e+21`, `1e-07`, never `1.0`).
pub fn json_marshal(value: &Value) -> String {
    write_tree(
        value,
        &Syntax {
            list: ("[", "]"),
            map: ("{", "}"),
            separator: ",",
            key: push_json_string,
            scalar: |out, value| match value {
                Value::Null => out.push_str("null"),
                Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
                // Beyond int64, Kubernetes' decoder already holds a number as float64.
                Value::Number(n) => match n.as_i64() {
                    Some(i) => out.push_str(&i.to_string()),
                    None => out.push_str(&json_float(n.as_f64().unwrap_or(0.0))),
                },
                Value::String(s) => push_json_string(out, s),
                Value::Array(_) | Value::Object(_) => {}
            },
        },
        usize::MAX,
    )
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

/// A float64 as jsoniter writes it: Go's `'f'` format, or `'e'` below 1e-6 and from 1e21 up
/// (`1e-07`, `1e+21`; unlike `encoding/json`, the exponent keeps its two digits).
fn json_float(value: f64) -> String {
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
    push_exponent(&mut out, 'e', exp);
    out
}

fn push_json_string(out: &mut String, text: &str) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '<' | '>' | '&' | '\u{0}'..='\u{1f}' => {
                let byte = c as u8;
                out.push_str("\\u00");
                out.push(char::from(HEX[usize::from(byte >> 4)]));
                out.push(char::from(HEX[usize::from(byte & 0xf)]));
            }
            '\u{2028}' => out.push_str("\\u2028"),
            '\u{2029}' => out.push_str("\\u2029"),
            c => out.push(c),
        }
    }
    out.push('"');
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
    fn json_marshal_as_jsoniter() {
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
            assert_eq!(json_marshal(value), *want, "{value}");
        }
    }
}
