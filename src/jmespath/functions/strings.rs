//! Kyverno's string functions, with Go's `strings`, `regexp`, `path/filepath` and blang/semver
//! semantics.

use super::{
    Arg, EvalError, Interpreter, Result, boolean, error, f64_at, iface_to_string, number, owned,
    str_at, string, value_at,
};
use crate::coerce::number::go_f64_to_i64;
use crate::coerce::semver::{Range, Version};
use crate::expr::gopath;
use regex::Regex;
use serde_json::Value;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

pub(super) fn compare<'a>(_: &Interpreter<'_>, args: Vec<Arg<'a>>) -> Result<'a> {
    let ordering = str_at(&args, 0)?.cmp(str_at(&args, 1)?);
    number(ordering as i8 as f64)
}

/// Go's `unicode.SimpleFold`-based comparison, approximated by single-character case mappings.
/// Go's `strings.EqualFold`: character by character, equal under Unicode's simple case
/// folding, each character's orbit walked as `unicode.SimpleFold` walks it.
pub(super) fn equal_fold<'a>(_: &Interpreter<'_>, args: Vec<Arg<'a>>) -> Result<'a> {
    let (a, b) = (str_at(&args, 0)?, str_at(&args, 1)?);
    let equal = a.chars().count() == b.chars().count()
        && a.chars().zip(b.chars()).all(|(x, y)| {
            if x == y {
                return true;
            }
            let (low, high) = if x < y { (x, y) } else { (y, x) };
            let mut folded = simple_fold(low);
            while folded != low && folded < high {
                folded = simple_fold(folded);
            }
            folded == high
        });
    boolean(equal)
}

/// The orbits of Go's `unicode.SimpleFold` where a character folds with more than its lower and
/// upper case (`k`, `K`, `K`), or with none (`İ`, `ı`): `(from, to)`, by `from`.
#[rustfmt::skip]
const CASE_ORBIT: &[(u32, u32)] = &[
    (0x004B, 0x006B), (0x0053, 0x0073), (0x006B, 0x212A), (0x0073, 0x017F), (0x00B5, 0x039C),
    (0x00C5, 0x00E5), (0x00DF, 0x1E9E), (0x00E5, 0x212B), (0x0130, 0x0130), (0x0131, 0x0131),
    (0x017F, 0x0053), (0x01C4, 0x01C5), (0x01C5, 0x01C6), (0x01C6, 0x01C4), (0x01C7, 0x01C8),
    (0x01C8, 0x01C9), (0x01C9, 0x01C7), (0x01CA, 0x01CB), (0x01CB, 0x01CC), (0x01CC, 0x01CA),
    (0x01F1, 0x01F2), (0x01F2, 0x01F3), (0x01F3, 0x01F1), (0x0345, 0x0399), (0x0392, 0x03B2),
    (0x0395, 0x03B5), (0x0398, 0x03B8), (0x0399, 0x03B9), (0x039A, 0x03BA), (0x039C, 0x03BC),
    (0x03A0, 0x03C0), (0x03A1, 0x03C1), (0x03A3, 0x03C2), (0x03A6, 0x03C6), (0x03A9, 0x03C9),
    (0x03B2, 0x03D0), (0x03B5, 0x03F5), (0x03B8, 0x03D1), (0x03B9, 0x1FBE), (0x03BA, 0x03F0),
    (0x03BC, 0x00B5), (0x03C0, 0x03D6), (0x03C1, 0x03F1), (0x03C2, 0x03C3), (0x03C3, 0x03A3),
    (0x03C6, 0x03D5), (0x03C9, 0x2126), (0x03D0, 0x0392), (0x03D1, 0x03F4), (0x03D5, 0x03A6),
    (0x03D6, 0x03A0), (0x03F0, 0x039A), (0x03F1, 0x03A1), (0x03F4, 0x0398), (0x03F5, 0x0395),
    (0x0412, 0x0432), (0x0414, 0x0434), (0x041E, 0x043E), (0x0421, 0x0441), (0x0422, 0x0442),
    (0x042A, 0x044A), (0x0432, 0x1C80), (0x0434, 0x1C81), (0x043E, 0x1C82), (0x0441, 0x1C83),
    (0x0442, 0x1C84), (0x044A, 0x1C86), (0x0462, 0x0463), (0x0463, 0x1C87), (0x1C80, 0x0412),
    (0x1C81, 0x0414), (0x1C82, 0x041E), (0x1C83, 0x0421), (0x1C84, 0x1C85), (0x1C85, 0x0422),
    (0x1C86, 0x042A), (0x1C87, 0x0462), (0x1C88, 0xA64A), (0x1E60, 0x1E61), (0x1E61, 0x1E9B),
    (0x1E9B, 0x1E60), (0x1E9E, 0x00DF), (0x1FBE, 0x0345), (0x2126, 0x03A9), (0x212A, 0x004B),
    (0x212B, 0x00C5), (0xA64A, 0xA64B), (0xA64B, 0x1C88),
];

/// Go's `unicode.SimpleFold`: the next character in the case-folding orbit of `c`.
fn simple_fold(c: char) -> char {
    if let Ok(at) = CASE_ORBIT.binary_search_by_key(&u32::from(c), |&(from, _)| from) {
        return char::from_u32(CASE_ORBIT[at].1).unwrap_or(c);
    }
    let lower = simple_lower(c);
    if lower != c { lower } else { simple_upper(c) }
}

/// Go's `unicode.ToUpper`: the simple mapping. Rust gives the full one, which differs where
/// Unicode's special casing writes several characters; of those, only the Greek letters with
/// a subscript iota have a simple uppercase (their titlecase form), and the rest stay.
fn simple_upper(c: char) -> char {
    let mut upper = c.to_uppercase();
    match (upper.next(), upper.next()) {
        (Some(single), None) => single,
        _ => match u32::from(c) {
            code @ (0x1F80..=0x1F87 | 0x1F90..=0x1F97 | 0x1FA0..=0x1FA7) => {
                char::from_u32(code + 8).unwrap_or(c)
            }
            0x1FB3 => '\u{1FBC}',
            0x1FC3 => '\u{1FCC}',
            0x1FF3 => '\u{1FFC}',
            _ => c,
        },
    }
}

/// Go's `unicode.ToLower`: the simple mapping, which differs from Rust's full one only for
/// `İ`.
fn simple_lower(c: char) -> char {
    let mut lower = c.to_lowercase();
    match (lower.next(), lower.next()) {
        (Some(single), None) => single,
        _ if c == '\u{130}' => 'i',
        _ => c,
    }
}

pub(super) fn to_upper<'a>(_: &Interpreter<'_>, args: Vec<Arg<'a>>) -> Result<'a> {
    string(
        str_at(&args, 0)?
            .chars()
            .map(simple_upper)
            .collect::<String>(),
    )
}

pub(super) fn to_lower<'a>(_: &Interpreter<'_>, args: Vec<Arg<'a>>) -> Result<'a> {
    string(
        str_at(&args, 0)?
            .chars()
            .map(simple_lower)
            .collect::<String>(),
    )
}

pub(super) fn replace<'a>(_: &Interpreter<'_>, args: Vec<Arg<'a>>) -> Result<'a> {
    let (text, old, new) = (str_at(&args, 0)?, str_at(&args, 1)?, str_at(&args, 2)?);
    let count = go_f64_to_i64(f64_at(&args, 3)?);
    let replaced = match usize::try_from(count) {
        Ok(count) => text.replacen(old, new, count),
        Err(_) => text.replace(old, new),
    };
    string(replaced)
}

pub(super) fn replace_all<'a>(_: &Interpreter<'_>, args: Vec<Arg<'a>>) -> Result<'a> {
    let (text, old, new) = (str_at(&args, 0)?, str_at(&args, 1)?, str_at(&args, 2)?);
    string(text.replace(old, new))
}

pub(super) fn trim<'a>(_: &Interpreter<'_>, args: Vec<Arg<'a>>) -> Result<'a> {
    let cutset = str_at(&args, 1)?;
    string(str_at(&args, 0)?.trim_matches(|c| cutset.contains(c)))
}

pub(super) fn trim_prefix<'a>(_: &Interpreter<'_>, args: Vec<Arg<'a>>) -> Result<'a> {
    let (text, prefix) = (str_at(&args, 0)?, str_at(&args, 1)?);
    string(text.strip_prefix(prefix).unwrap_or(text))
}

pub(super) fn split<'a>(_: &Interpreter<'_>, args: Vec<Arg<'a>>) -> Result<'a> {
    let (text, separator) = (str_at(&args, 0)?, str_at(&args, 1)?);
    let parts: Vec<Value> = if separator.is_empty() {
        // Go splits into characters where Rust would add empty ends.
        text.chars().map(|c| Value::String(c.to_string())).collect()
    } else {
        text.split(separator)
            .map(|part| Value::String(part.to_owned()))
            .collect()
    };
    owned(Value::Array(parts))
}

/// The text of argument `index` as `ifaceToString` renders it, with Kyverno's error.
fn text_at<'x>(
    args: &'x [Arg<'_>],
    index: usize,
    function: &str,
) -> std::result::Result<std::borrow::Cow<'x, str>, EvalError> {
    iface_to_string(value_at(args, index)?)
        .ok_or_else(|| super::argument_type_error(function, index + 1, "String or Real"))
}

fn replace_all_matches<'a>(args: &[Arg<'a>], function: &str, literal: bool) -> Result<'a> {
    let pattern = str_at(args, 0)?;
    let source = text_at(args, 1, function)?;
    let replacement = text_at(args, 2, function)?;
    let regex = go_regex(pattern).map_err(|message| error(function, message))?;
    let replaced = if literal {
        regex.replace_all(&source, regex::NoExpand(&replacement))
    } else {
        regex.replace_all(&source, replacement.as_ref())
    };
    string(replaced.into_owned())
}

pub(super) fn regex_replace_all<'a>(_: &Interpreter<'_>, args: Vec<Arg<'a>>) -> Result<'a> {
    replace_all_matches(&args, "regex_replace_all", false)
}

pub(super) fn regex_replace_all_literal<'a>(_: &Interpreter<'_>, args: Vec<Arg<'a>>) -> Result<'a> {
    replace_all_matches(&args, "regex_replace_all_literal", true)
}

pub(super) fn regex_match<'a>(_: &Interpreter<'_>, args: Vec<Arg<'a>>) -> Result<'a> {
    let pattern = str_at(&args, 0)?;
    let source = text_at(&args, 1, "regex_match")?;
    // Kyverno returns `regexp.Match`'s error as it is, without the function name.
    let regex = go_regex(pattern).map_err(EvalError::failed)?;
    boolean(regex.is_match(&source))
}

pub(super) fn pattern_match<'a>(_: &Interpreter<'_>, args: Vec<Arg<'a>>) -> Result<'a> {
    let pattern = str_at(&args, 0)?;
    let source = text_at(&args, 1, "pattern_match")?;
    boolean(crate::pattern::wildcard::matches(pattern, &source))
}

pub(super) fn to_boolean<'a>(_: &Interpreter<'_>, args: Vec<Arg<'a>>) -> Result<'a> {
    let input = str_at(&args, 0)?;
    match input.to_lowercase().as_str() {
        "true" => boolean(true),
        "false" => boolean(false),
        _ => Err(error(
            "to_boolean",
            format!("lowercase argument must be 'true' or 'false' (provided: '{input}')"),
        )),
    }
}

/// `filepath.Join(path)` on Linux: `""` for an empty path, else Go's lexical `Clean`.
pub(super) fn path_canonicalize<'a>(_: &Interpreter<'_>, args: Vec<Arg<'a>>) -> Result<'a> {
    let path = str_at(&args, 0)?;
    if path.is_empty() {
        return string("");
    }
    string(gopath::clean(path))
}

pub(super) fn truncate<'a>(_: &Interpreter<'_>, args: Vec<Arg<'a>>) -> Result<'a> {
    let text = str_at(&args, 0)?;
    let length = f64_at(&args, 1)?.max(0.0);
    let length = go_f64_to_i64(length);
    let Ok(length) = usize::try_from(length) else {
        return string("");
    };
    string(text.chars().take(length).collect::<String>())
}

pub(super) fn semver_compare<'a>(_: &Interpreter<'_>, args: Vec<Arg<'a>>) -> Result<'a> {
    // Kyverno ignores a version that does not parse and compares 0.0.0 instead.
    let version = Version::parse(str_at(&args, 0)?).unwrap_or_else(|_| Version::zero());
    let range = Range::parse(str_at(&args, 1)?).map_err(EvalError::failed)?;
    boolean(range.contains(&version))
}

/// The compiled size a pattern may reach (the `regex` crate's default is 10 MiB).
const REGEX_SIZE_LIMIT: usize = 128 << 20;

/// Compiles a Go (RE2) regular expression, from a small bounded cache: policies repeat the same
/// few patterns on every request.
pub(super) fn go_regex(pattern: &str) -> std::result::Result<Arc<Regex>, String> {
    const CAPACITY: usize = 512;
    static CACHE: OnceLock<Mutex<HashMap<String, Arc<Regex>>>> = OnceLock::new();
    let cache = CACHE.get_or_init(Default::default);
    if let Some(regex) = cache.lock().ok().and_then(|c| c.get(pattern).cloned()) {
        return Ok(regex);
    }
    let translated = super::re2::translate(pattern)?;
    // Go caps counts at 1000 but builds large classes compactly: `\pL{1000}` is within Go's
    // limits and beyond the `regex` crate's default size.
    let regex = regex::RegexBuilder::new(&translated)
        .size_limit(REGEX_SIZE_LIMIT)
        .build()
        .map_err(|e| rust_regex_error(pattern, &e))?;
    let regex = Arc::new(regex);
    if let Ok(mut cache) = cache.lock() {
        if cache.len() >= CAPACITY {
            cache.clear();
        }
        cache.insert(pattern.to_owned(), regex.clone());
    }
    Ok(regex)
}

/// What Go would say of a pattern that reads as Go's but that Rust cannot build (one too
/// large): Rust's reason, in Go's form.
pub(super) fn rust_regex_error(pattern: &str, error: &impl std::fmt::Display) -> String {
    let text = error.to_string();
    let reason = text
        .lines()
        .rev()
        .find_map(|line| line.strip_prefix("error: "))
        .unwrap_or(text.as_str());
    format!("error parsing regexp: {reason}: `{pattern}`")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_regex_translation() {
        let cases: &[(&str, &str, bool)] = &[
            (r"^\d+$", "123", true),
            (r"^\d+$", "١٢٣", false),
            (r"^\w+$", "héllo", false),
            (r"^[\w-]+$", "a-b_c", true),
            (r"^\s$", "\u{a0}", false),
            (r"^\s$", "\u{b}", false),
            (r"^[^\d]+$", "abc", true),
            (r"^[\D]+$", "abc", true),
            (r"^\Qa.b\E$", "a.b", true),
            (r"^\Qa.b\E$", "axb", false),
            (r"^[]a]+$", "]a", true),
            (r"^[[:alpha:]]+$", "abc", true),
            (r"\bfoo\b", "a foo b", true),
            (r"^.$", "é", true),
        ];
        for (pattern, text, want) in cases {
            let regex = go_regex(pattern).unwrap_or_else(|e| panic!("{pattern}: {e}"));
            assert_eq!(regex.is_match(text), *want, "{pattern} on {text:?}");
        }
        let errors: &[(&str, &str)] = &[
            ("(a", "error parsing regexp: missing closing ): `(a`"),
            ("a)", "error parsing regexp: unexpected ): `a)`"),
            ("a[b", "error parsing regexp: missing closing ]: `[b`"),
            (
                "*a",
                "error parsing regexp: missing argument to repetition operator: `*`",
            ),
            (
                r"\q",
                r"error parsing regexp: invalid escape sequence: `\q`",
            ),
            (
                "[z-a]",
                "error parsing regexp: invalid character class range: `z-a`",
            ),
        ];
        for (pattern, want) in errors {
            assert_eq!(go_regex(pattern).err().as_deref(), Some(*want), "{pattern}");
        }
    }
}
