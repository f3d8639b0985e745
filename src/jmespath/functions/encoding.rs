//! Kyverno's decoding and hashing functions: base64, JSON, YAML and hex digests.

use super::{Arg, EvalError, Interpreter, Result, owned, str_at, string};
use crate::coerce::gofmt::go_json_parse;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde_json::Value;
use std::fmt::Write as _;

/// `base64.StdEncoding.DecodeString`; the bytes become text as Go's JSON encoder would write
/// them (invalid UTF-8 as U+FFFD).
pub(super) fn base64_decode<'a>(_: &Interpreter<'_>, args: Vec<Arg<'a>>) -> Result<'a> {
    let bytes = go_base64_decode(str_at(&args, 0)?.as_bytes()).map_err(|offset| {
        EvalError::failed(format!("illegal base64 data at input byte {offset}"))
    })?;
    string(String::from_utf8_lossy(&bytes).into_owned())
}

/// Go's standard base64 decoder, quantum by quantum: line breaks are skipped anywhere, padding
/// is required, stray bits after the last byte are ignored, and an error is the offset Go
/// reports.
fn go_base64_decode(src: &[u8]) -> std::result::Result<Vec<u8>, usize> {
    fn sextet(byte: u8) -> Option<u8> {
        match byte {
            b'A'..=b'Z' => Some(byte - b'A'),
            b'a'..=b'z' => Some(byte - b'a' + 26),
            b'0'..=b'9' => Some(byte - b'0' + 52),
            b'+' => Some(62),
            b'/' => Some(63),
            _ => None,
        }
    }
    let skip_line_breaks = |mut at: usize| {
        while at < src.len() && matches!(src[at], b'\n' | b'\r') {
            at += 1;
        }
        at
    };
    let mut out = Vec::with_capacity(src.len() / 4 * 3);
    let mut si = 0;
    while si < src.len() {
        let mut quantum = [0u8; 4];
        let mut length = 4;
        let mut j = 0;
        while j < 4 {
            if si == src.len() {
                if j == 0 {
                    return Ok(out);
                }
                return Err(si - j);
            }
            let byte = src[si];
            si += 1;
            if let Some(value) = sextet(byte) {
                quantum[j] = value;
                j += 1;
                continue;
            }
            if matches!(byte, b'\n' | b'\r') {
                continue;
            }
            if byte != b'=' || j < 2 {
                return Err(si - 1);
            }
            if j == 2 {
                // The second `=` must follow, line breaks aside.
                si = skip_line_breaks(si);
                if si == src.len() {
                    return Err(src.len());
                }
                if src[si] != b'=' {
                    return Err(si - 1);
                }
                si += 1;
            }
            si = skip_line_breaks(si);
            if si < src.len() {
                return Err(si);
            }
            length = j;
            break;
        }
        let bits = u32::from(quantum[0]) << 18
            | u32::from(quantum[1]) << 12
            | u32::from(quantum[2]) << 6
            | u32::from(quantum[3]);
        let [_, first, second, third] = bits.to_be_bytes();
        out.extend_from_slice(&[first, second, third][..length - 1]);
    }
    Ok(out)
}

pub(super) fn base64_encode<'a>(_: &Interpreter<'_>, args: Vec<Arg<'a>>) -> Result<'a> {
    string(STANDARD.encode(str_at(&args, 0)?))
}

pub(super) fn parse_json<'a>(_: &Interpreter<'_>, args: Vec<Arg<'a>>) -> Result<'a> {
    owned(go_json_parse(str_at(&args, 0)?).map_err(EvalError::failed)?)
}

/// sigs.k8s.io/yaml's reading: the first document, with YAML 1.1 scalars as kubectl reads them.
pub(super) fn parse_yaml<'a>(_: &Interpreter<'_>, args: Vec<Arg<'a>>) -> Result<'a> {
    let text = str_at(&args, 0)?;
    let documents = crate::yaml::parse_documents(text)
        .map_err(|error| EvalError::failed(go_yaml_error(text, &error)))?;
    owned(
        documents
            .into_iter()
            .next()
            .map_or(Value::Null, |d| d.value),
    )
}

/// The messages of yaml-rust2's parser (its scanner's are the rest), which libyaml would raise
/// as parser errors.
const PARSER_PROBLEMS: &[&str] = &[
    "while parsing a node,",
    "while parsing node,",
    "while parsing a block mapping,",
    "while parsing a flow mapping,",
    "while parsing a flow sequence,",
    "while parsing a block collection,",
    "did not find expected <",
    "missing explicit document end",
];

/// go-yaml's wording of a YAML error: libyaml's problem without its context ("while parsing a
/// node, "), after a line number that go-yaml leaves out on the first line and otherwise
/// prints 1-based for scanner errors but 0-based for parser errors.
fn go_yaml_error(text: &str, error: &crate::yaml::YamlError) -> String {
    let message = error.message.as_str();
    // go-yaml reads infinities and NaN; converting them to JSON is what fails.
    if let Some(rest) = message.strip_prefix("unsupported value `") {
        let scalar = rest
            .split('`')
            .next()
            .unwrap_or_default()
            .to_ascii_lowercase();
        let shown = match scalar.as_str() {
            ".nan" => "NaN",
            s if s.starts_with('-') => "-Inf",
            _ => "+Inf",
        };
        return format!("json: unsupported value: {shown}");
    }
    if message.ends_with("found unknown anchor") {
        return format!(
            "yaml: unknown anchor '{}' referenced",
            undefined_alias(text)
        );
    }
    let parser = PARSER_PROBLEMS.iter().any(|p| message.starts_with(p));
    let problem = match message.split_once(", ") {
        Some((context, problem)) if context.starts_with("while ") => problem,
        _ => message,
    };
    let problem = match problem {
        "expected ',' or ']'" => "did not find expected ',' or ']'",
        other => other,
    };
    let line = error.location.line.saturating_sub(1);
    match (line, parser) {
        (0, _) => format!("yaml: {problem}"),
        (line, true) => format!("yaml: line {line}: {problem}"),
        (line, false) => format!("yaml: line {}: {problem}", line + 1),
    }
}

/// The name of the first alias (`*name`) in `text` that no anchor (`&name`) before it defines.
fn undefined_alias(text: &str) -> &str {
    let name_at = |at: usize| {
        let rest = &text[at..];
        let end = rest
            .find(|c: char| c.is_whitespace() || ",[]{}".contains(c))
            .unwrap_or(rest.len());
        &rest[..end]
    };
    let mut anchors = Vec::new();
    for (at, c) in text.char_indices() {
        match c {
            '&' => anchors.push(name_at(at + 1)),
            '*' if !anchors.contains(&name_at(at + 1)) => return name_at(at + 1),
            _ => {}
        }
    }
    ""
}

fn hex(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len() * 2);
    for byte in bytes {
        let _ = write!(out, "{byte:02x}");
    }
    out
}

pub(super) fn sha256<'a>(_: &Interpreter<'_>, args: Vec<Arg<'a>>) -> Result<'a> {
    let digest = ring::digest::digest(&ring::digest::SHA256, str_at(&args, 0)?.as_bytes());
    string(hex(digest.as_ref()))
}

pub(super) fn sha1<'a>(_: &Interpreter<'_>, args: Vec<Arg<'a>>) -> Result<'a> {
    let digest = ring::digest::digest(
        &ring::digest::SHA1_FOR_LEGACY_USE_ONLY,
        str_at(&args, 0)?.as_bytes(),
    );
    string(hex(digest.as_ref()))
}

pub(super) fn md5<'a>(_: &Interpreter<'_>, args: Vec<Arg<'a>>) -> Result<'a> {
    string(hex(&md5_digest(str_at(&args, 0)?.as_bytes())))
}

/// MD5 (RFC 1321), which no dependency of ours provides.
fn md5_digest(input: &[u8]) -> [u8; 16] {
    const SHIFTS: [u32; 64] = [
        7, 12, 17, 22, 7, 12, 17, 22, 7, 12, 17, 22, 7, 12, 17, 22, 5, 9, 14, 20, 5, 9, 14, 20, 5,
        9, 14, 20, 5, 9, 14, 20, 4, 11, 16, 23, 4, 11, 16, 23, 4, 11, 16, 23, 4, 11, 16, 23, 6, 10,
        15, 21, 6, 10, 15, 21, 6, 10, 15, 21, 6, 10, 15, 21,
    ];
    let constants: Vec<u32> = (0..64)
        .map(|i| ((i as f64 + 1.0).sin().abs() * 4_294_967_296.0) as u32)
        .collect();
    let mut state: [u32; 4] = [0x6745_2301, 0xefcd_ab89, 0x98ba_dcfe, 0x1032_5476];
    let mut message = input.to_vec();
    message.push(0x80);
    while message.len() % 64 != 56 {
        message.push(0);
    }
    message.extend_from_slice(&((input.len() as u64).wrapping_mul(8)).to_le_bytes());
    for block in message.chunks_exact(64) {
        let words: Vec<u32> = block
            .chunks_exact(4)
            .map(|w| u32::from_le_bytes([w[0], w[1], w[2], w[3]]))
            .collect();
        let [mut a, mut b, mut c, mut d] = state;
        for i in 0..64 {
            let (f, g) = match i / 16 {
                0 => ((b & c) | (!b & d), i),
                1 => ((d & b) | (!d & c), (5 * i + 1) % 16),
                2 => (b ^ c ^ d, (3 * i + 5) % 16),
                _ => (c ^ (b | !d), (7 * i) % 16),
            };
            let rotated = a
                .wrapping_add(f)
                .wrapping_add(constants[i])
                .wrapping_add(words[g])
                .rotate_left(SHIFTS[i]);
            a = d;
            d = c;
            c = b;
            b = b.wrapping_add(rotated);
        }
        state[0] = state[0].wrapping_add(a);
        state[1] = state[1].wrapping_add(b);
        state[2] = state[2].wrapping_add(c);
        state[3] = state[3].wrapping_add(d);
    }
    let mut digest = [0u8; 16];
    for (i, word) in state.iter().enumerate() {
        digest[i * 4..i * 4 + 4].copy_from_slice(&word.to_le_bytes());
    }
    digest
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn md5_vectors() {
        let cases: &[(&str, &str)] = &[
            ("", "d41d8cd98f00b204e9800998ecf8427e"),
            ("abc", "900150983cd24fb0d6963f7d28e17f72"),
            (
                "12345678901234567890123456789012345678901234567890123456789012345678901234567890",
                "57edf4a22be3c955ac49da2e2107b67a",
            ),
        ];
        for (input, want) in cases {
            assert_eq!(hex(&md5_digest(input.as_bytes())), *want, "{input}");
        }
    }
}
