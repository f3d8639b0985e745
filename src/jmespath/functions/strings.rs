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
pub(super) fn equal_fold<'a>(_: &Interpreter<'_>, args: Vec<Arg<'a>>) -> Result<'a> {
    let (a, b) = (str_at(&args, 0)?, str_at(&args, 1)?);
    let equal = a.chars().count() == b.chars().count()
        && a.chars().zip(b.chars()).all(|(x, y)| {
            x == y || simple_lower(x) == simple_lower(y) || simple_upper(x) == simple_upper(y)
        });
    boolean(equal)
}

/// Go maps case one character to one character; where Unicode's full mapping expands (`ß` to
/// `SS`), Go leaves the character as it is.
fn simple_upper(c: char) -> char {
    let mut upper = c.to_uppercase();
    match (upper.next(), upper.next()) {
        (Some(single), None) => single,
        _ => c,
    }
}

fn simple_lower(c: char) -> char {
    let mut lower = c.to_lowercase();
    match (lower.next(), lower.next()) {
        (Some(single), None) => single,
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

/// Compiles a Go (RE2) regular expression, from a small bounded cache: policies repeat the same
/// few patterns on every request.
pub(super) fn go_regex(pattern: &str) -> std::result::Result<Arc<Regex>, String> {
    const CAPACITY: usize = 512;
    static CACHE: OnceLock<Mutex<HashMap<String, Arc<Regex>>>> = OnceLock::new();
    let cache = CACHE.get_or_init(Default::default);
    if let Some(regex) = cache.lock().ok().and_then(|c| c.get(pattern).cloned()) {
        return Ok(regex);
    }
    let translated = translate_go_regex(pattern);
    let regex = Arc::new(
        Regex::new(&translated).map_err(|e| describe_regex_error(pattern, &translated, &e))?,
    );
    if let Ok(mut cache) = cache.lock() {
        if cache.len() >= CAPACITY {
            cache.clear();
        }
        cache.insert(pattern.to_owned(), regex.clone());
    }
    Ok(regex)
}

/// Go's `error parsing regexp: <code>: `<expression>`` message, from the syntax error that
/// regex-syntax finds in the same place.
pub(super) fn describe_regex_error(
    pattern: &str,
    translated: &str,
    error: &impl std::fmt::Display,
) -> String {
    use regex_syntax::ast::ErrorKind;
    let Err(syntax) = regex_syntax::ast::parse::Parser::new().parse(translated) else {
        let text = error.to_string();
        let reason = text
            .lines()
            .rev()
            .find_map(|line| line.strip_prefix("error: "))
            .unwrap_or(text.as_str());
        return format!("error parsing regexp: {reason}: `{pattern}`");
    };
    let span = syntax.span();
    // A zero-width span points at the operator that lacks its operand.
    let end = if span.end.offset > span.start.offset {
        span.end.offset
    } else {
        translated
            .get(span.start.offset..)
            .and_then(|rest| rest.chars().next())
            .map_or(span.start.offset, |c| span.start.offset + c.len_utf8())
    };
    let spanned = translated.get(span.start.offset..end).unwrap_or(pattern);
    let (code, expression) = match syntax.kind() {
        ErrorKind::GroupUnclosed => ("missing closing )", pattern),
        ErrorKind::GroupUnopened => ("unexpected )", pattern),
        ErrorKind::ClassUnclosed => (
            "missing closing ]",
            translated.get(span.start.offset..).unwrap_or(pattern),
        ),
        ErrorKind::RepetitionMissing => ("missing argument to repetition operator", spanned),
        ErrorKind::RepetitionCountInvalid | ErrorKind::RepetitionCountUnclosed => {
            ("invalid repeat count", spanned)
        }
        ErrorKind::EscapeUnrecognized | ErrorKind::EscapeUnexpectedEof => {
            ("invalid escape sequence", spanned)
        }
        ErrorKind::ClassRangeInvalid => ("invalid character class range", spanned),
        ErrorKind::GroupNameInvalid
        | ErrorKind::GroupNameDuplicate { .. }
        | ErrorKind::GroupNameEmpty
        | ErrorKind::GroupNameUnexpectedEof => ("invalid named capture", spanned),
        ErrorKind::FlagUnrecognized | ErrorKind::FlagUnexpectedEof => {
            ("invalid or unsupported Perl syntax", spanned)
        }
        other => return format!("error parsing regexp: {other}: `{pattern}`"),
    };
    format!("error parsing regexp: {code}: `{expression}`")
}

/// Rewrites what RE2 (Go) and Rust's `regex` read differently: Go's `\d`, `\w`, `\s` and `\b`
/// are ASCII-only, and Go quotes literal text with `\Q…\E`.
pub(super) fn translate_go_regex(pattern: &str) -> String {
    let mut out = String::with_capacity(pattern.len() + 8);
    let mut chars = pattern.chars().peekable();
    let mut in_class = false;
    // Right after `[` or `[^`, a `]` is a literal member of the class.
    let mut class_start = false;
    while let Some(c) = chars.next() {
        let at_class_start = std::mem::take(&mut class_start);
        match c {
            '\\' => {
                let Some(next) = chars.next() else {
                    out.push('\\');
                    break;
                };
                match (next, in_class) {
                    ('d', false) => out.push_str("[0-9]"),
                    ('d', true) => out.push_str("0-9"),
                    ('D', _) => out.push_str("[^0-9]"),
                    ('w', false) => out.push_str("[0-9A-Za-z_]"),
                    ('w', true) => out.push_str("0-9A-Za-z_"),
                    ('W', _) => out.push_str("[^0-9A-Za-z_]"),
                    ('s', false) => out.push_str("[\\t\\n\\f\\r ]"),
                    ('s', true) => out.push_str("\\t\\n\\f\\r "),
                    ('S', _) => out.push_str("[^\\t\\n\\f\\r ]"),
                    ('b', false) => out.push_str("(?-u:\\b)"),
                    ('B', false) => out.push_str("(?-u:\\B)"),
                    ('Q', _) => {
                        let mut literal = String::new();
                        while let Some(q) = chars.next() {
                            if q == '\\' && chars.peek() == Some(&'E') {
                                chars.next();
                                break;
                            }
                            literal.push(q);
                        }
                        out.push_str(&regex::escape(&literal));
                    }
                    (other, _) => {
                        out.push('\\');
                        out.push(other);
                    }
                }
            }
            '[' if !in_class => {
                in_class = true;
                class_start = true;
                out.push('[');
                if chars.peek() == Some(&'^') {
                    chars.next();
                    out.push('^');
                }
            }
            '[' if in_class && chars.peek() == Some(&':') => {
                // A POSIX class such as `[:alpha:]`, copied whole.
                out.push('[');
                for p in chars.by_ref() {
                    out.push(p);
                    if p == ']' {
                        break;
                    }
                }
            }
            ']' if in_class && !at_class_start => {
                in_class = false;
                out.push(']');
            }
            '[' if in_class => out.push_str("\\["),
            other => out.push(other),
        }
    }
    out
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
