//! A byte-level reader for the JSON of an admission review, taken before `Projected`: it
//! builds a projected value and checks what it skips without serde's value-by-value dispatch.
//! It gives up (`None`) on anything it cannot prove serde_json accepts exactly so (a lone
//! surrogate, a number it cannot prove in range, nesting near the limit, any syntax error);
//! the caller then reads the text again through serde_json, which gives the verdict and its
//! error. So this reader decides how fast a body is read, never whether it is accepted.

use super::{MAX_VALUES, Projection};
use serde_json::{Map, Value};
use std::borrow::Cow;

/// Containers nested deeper than this are left to serde_json, which refuses the 128th; the
/// review's own envelope counts towards it too.
pub const MAX_DEPTH: usize = 120;

/// Integers of at most this many digits fit `u64` and `i64` without a check.
const SAFE_DIGITS: usize = 18;

pub struct Scanner<'a> {
    text: &'a str,
    pos: usize,
    /// Values built so far, counted as `ValueCount` counts them on the strict path.
    values: usize,
}

/// Where a string is in the text, quotes included. Small enough to come back in registers:
/// a wider one (a slice and a flag) went through the stack, and reading it back stalled.
#[derive(Debug, Clone, Copy)]
pub struct Str {
    start: u32,
    end: u32,
    escaped: bool,
}

/// Where the reader is in a container: before its first entry or after one.
pub struct Entries {
    first: bool,
}

impl<'a> Scanner<'a> {
    pub fn new(text: &'a str) -> Self {
        Self {
            text,
            pos: 0,
            values: 0,
        }
    }

    /// Counts one more built value; past `MAX_VALUES` the strict path gives the error.
    fn built(&mut self) -> Option<()> {
        self.values += 1;
        (self.values <= MAX_VALUES).then_some(())
    }

    fn bytes(&self) -> &'a [u8] {
        self.text.as_bytes()
    }

    fn peek(&self) -> Option<u8> {
        self.bytes().get(self.pos).copied()
    }

    /// The next byte that is not JSON whitespace, not consumed.
    pub fn next_token(&mut self) -> Option<u8> {
        self.pos = token(self.bytes(), self.pos)?;
        self.peek()
    }

    /// Whether only whitespace is left.
    pub fn at_end(&mut self) -> bool {
        self.next_token().is_none()
    }

    /// Consumes `literal` (`null`, `true`, `false`) at the next token.
    pub fn literal(&mut self, literal: &[u8]) -> Option<()> {
        self.next_token()?;
        self.pos = literal_end(self.bytes(), self.pos, literal)?;
        Some(())
    }

    /// Consumes the `{` of an object nested `depth` containers deep.
    pub fn object(&mut self, depth: usize) -> Option<Entries> {
        self.open(b'{', depth)
    }

    /// Consumes the `[` of an array nested `depth` containers deep.
    pub fn array(&mut self, depth: usize) -> Option<Entries> {
        self.open(b'[', depth)
    }

    fn open(&mut self, bracket: u8, depth: usize) -> Option<Entries> {
        if depth > MAX_DEPTH || self.next_token()? != bracket {
            return None;
        }
        self.pos += 1;
        Some(Entries { first: true })
    }

    /// Whether the array has another element, consuming the comma before it or its `]`.
    pub fn next_element(&mut self, entries: &mut Entries) -> Option<bool> {
        self.next_entry(entries, b']')
    }

    /// The object's next key with its colon consumed, or `None` at its `}`.
    pub fn next_key(&mut self, entries: &mut Entries) -> Option<Option<Str>> {
        if !self.next_entry(entries, b'}')? {
            return Some(None);
        }
        let key = self.string()?;
        (self.next_token()? == b':').then(|| self.pos += 1)?;
        Some(Some(key))
    }

    fn next_entry(&mut self, entries: &mut Entries, close: u8) -> Option<bool> {
        let token = self.next_token()?;
        if token == close {
            self.pos += 1;
            return Some(false);
        }
        if entries.first {
            entries.first = false;
            return Some(true);
        }
        if token != b',' {
            return None;
        }
        self.pos += 1;
        // `[1,]` and `{"a":1,}` are errors: after a comma comes a value.
        if self.next_token()? == close {
            return None;
        }
        Some(true)
    }

    /// A string at the next token, its escapes checked as serde_json checks them for a
    /// `String`: known escapes only, and a `\u` surrogate only as half of a pair.
    pub fn string(&mut self) -> Option<Str> {
        if self.next_token()? != b'"' {
            return None;
        }
        let start = self.pos;
        let (end, escaped) = string_end(self.bytes(), start + 1)?;
        self.pos = end;
        Some(Str {
            start: u32::try_from(start).ok()?,
            end: u32::try_from(end).ok()?,
            escaped,
        })
    }

    /// The text of `string` without escapes, borrowed when there were none.
    pub fn decoded(&self, string: Str) -> Option<Cow<'a, str>> {
        let quoted = &self.text[string.start as usize..string.end as usize];
        if string.escaped {
            serde_json::from_str::<String>(quoted).ok().map(Cow::Owned)
        } else {
            Some(Cow::Borrowed(&quoted[1..quoted.len() - 1]))
        }
    }

    /// The text of `string`, when it had no escapes.
    pub fn plain(&self, string: Str) -> Option<&'a str> {
        let inner = &self.text[string.start as usize + 1..string.end as usize - 1];
        (!string.escaped).then_some(inner)
    }

    /// A number at the next token: its text, and whether it is a plain integer that fits
    /// `i64` or `u64` as it is, so that it needs no range check.
    fn number(&mut self) -> Option<(&'a str, bool)> {
        self.next_token()?;
        let start = self.pos;
        let negative = self.peek()? == b'-';
        if negative {
            self.pos += 1;
        }
        let digits_start = self.pos;
        match self.peek()? {
            b'0' => {
                self.pos += 1;
                // A leading zero stands alone.
                if self.peek().is_some_and(|byte| byte.is_ascii_digit()) {
                    return None;
                }
            }
            b'1'..=b'9' => self.digits(),
            _ => return None,
        }
        let digits = self.pos - digits_start;
        // serde_json reads `-0` as the float -0.0.
        let mut plain = digits <= SAFE_DIGITS && !(negative && self.bytes()[digits_start] == b'0');
        if self.peek() == Some(b'.') {
            self.pos += 1;
            self.some_digits()?;
            plain = false;
        }
        if matches!(self.peek(), Some(b'e' | b'E')) {
            self.pos += 1;
            if matches!(self.peek(), Some(b'+' | b'-')) {
                self.pos += 1;
            }
            self.some_digits()?;
            plain = false;
        }
        Some((&self.text[start..self.pos], plain))
    }

    /// A number at the next token, as serde_json builds it.
    fn number_value(&mut self) -> Option<Value> {
        let (text, plain) = self.number()?;
        if !plain {
            return checked_number(text);
        }
        Some(match text.strip_prefix('-') {
            Some(magnitude) => Value::from(-magnitude.parse::<i64>().ok()?),
            None => Value::from(text.parse::<u64>().ok()?),
        })
    }

    fn digits(&mut self) {
        while self.peek().is_some_and(|byte| byte.is_ascii_digit()) {
            self.pos += 1;
        }
    }

    fn some_digits(&mut self) -> Option<()> {
        let start = self.pos;
        self.digits();
        (self.pos > start).then_some(())
    }

    /// Checks one value nested `depth` containers deep without building it: one loop over
    /// the bytes, with the kind of each open container on a bit stack.
    pub fn skip(&mut self, depth: usize) -> Option<()> {
        let bytes = self.bytes();
        // Bit `n` is set when the container `n` levels into the skipped value is an object.
        let mut objects: u128 = 0;
        let mut open = 0usize;
        let mut pos = self.pos;
        loop {
            // A value starts at `pos`, give or take whitespace.
            pos = token(bytes, pos)?;
            match bytes[pos] {
                b'"' => pos = string_end(bytes, pos + 1)?.0,
                bracket @ (b'{' | b'[') => {
                    if depth + open + 1 > MAX_DEPTH {
                        return None;
                    }
                    let object = bracket == b'{';
                    objects = objects << 1 | u128::from(object);
                    open += 1;
                    pos = token(bytes, pos + 1)?;
                    match (object, bytes[pos]) {
                        (true, b'}') | (false, b']') => {
                            objects >>= 1;
                            open -= 1;
                            pos += 1;
                        }
                        (true, _) => {
                            pos = key_end(bytes, pos)?;
                            continue;
                        }
                        (false, _) => continue,
                    }
                }
                b't' => pos = literal_end(bytes, pos, b"true")?,
                b'f' => pos = literal_end(bytes, pos, b"false")?,
                b'n' => pos = literal_end(bytes, pos, b"null")?,
                _ => {
                    self.pos = pos;
                    let (text, plain) = self.number()?;
                    if !plain {
                        checked_number(text)?;
                    }
                    pos = self.pos;
                }
            }
            // A value has ended: close containers until one continues with a comma.
            loop {
                if open == 0 {
                    self.pos = pos;
                    return Some(());
                }
                pos = token(bytes, pos)?;
                let object = objects & 1 == 1;
                match (object, bytes[pos]) {
                    (_, b',') => {
                        pos += 1;
                        if object {
                            pos = key_end(bytes, token(bytes, pos)?)?;
                        }
                        break;
                    }
                    (true, b'}') | (false, b']') => {
                        objects >>= 1;
                        open -= 1;
                        pos += 1;
                    }
                    _ => return None,
                }
            }
        }
    }

    /// One value nested `depth` containers deep, built as `Projected` builds it: of a map under
    /// `Fields` only the keys named, everything under `Whole`.
    pub fn projected(&mut self, projection: &Projection, depth: usize) -> Option<Value> {
        self.built()?;
        match self.next_token()? {
            b'"' => {
                let string = self.string()?;
                Some(Value::String(self.decoded(string)?.into_owned()))
            }
            b'{' => {
                let mut entries = self.object(depth + 1)?;
                let mut kept = Map::new();
                while let Some(key) = self.next_key(&mut entries)? {
                    let key = self.decoded(key)?;
                    match projection.of_key(&key) {
                        Some(projection) => {
                            let value = self.projected(projection, depth + 1)?;
                            kept.insert(key.into_owned(), value);
                        }
                        None => self.skip(depth + 1)?,
                    }
                }
                Some(Value::Object(kept))
            }
            b'[' => {
                let mut entries = self.array(depth + 1)?;
                let mut items = Vec::new();
                while self.next_element(&mut entries)? {
                    items.push(self.projected(projection, depth + 1)?);
                }
                Some(Value::Array(items))
            }
            b't' => self.literal(b"true").map(|()| Value::Bool(true)),
            b'f' => self.literal(b"false").map(|()| Value::Bool(false)),
            b'n' => self.literal(b"null").map(|()| Value::Null),
            _ => self.number_value(),
        }
    }
}

/// Where the next token is at or after `pos`: JSON whitespace skipped, `None` at the end.
fn token(bytes: &[u8], mut pos: usize) -> Option<usize> {
    while matches!(*bytes.get(pos)?, b' ' | b'\n' | b'\t' | b'\r') {
        pos += 1;
    }
    Some(pos)
}

/// Past `literal` at `pos`.
fn literal_end(bytes: &[u8], pos: usize, literal: &[u8]) -> Option<usize> {
    let end = pos + literal.len();
    (bytes.get(pos..end)? == literal).then_some(end)
}

/// Past a key that starts at `pos` and the colon after it.
fn key_end(bytes: &[u8], pos: usize) -> Option<usize> {
    if bytes[pos] != b'"' {
        return None;
    }
    let pos = token(bytes, string_end(bytes, pos + 1)?.0)?;
    (bytes[pos] == b':').then_some(pos + 1)
}

/// Past the closing quote of a string whose opening quote is just before `pos`, and whether
/// it had escapes; escapes are checked as serde_json checks them for a `String`: known ones
/// only, and a `\u` surrogate only as half of a pair.
fn string_end(bytes: &[u8], mut pos: usize) -> Option<(usize, bool)> {
    let mut escaped = false;
    loop {
        pos += plain_run(bytes.get(pos..)?);
        match *bytes.get(pos)? {
            b'"' => return Some((pos + 1, escaped)),
            b'\\' => {
                escaped = true;
                pos = escape_end(bytes, pos + 1)?;
            }
            _ => return None,
        }
    }
}

/// Past the escape whose backslash is just before `pos`.
#[cold]
fn escape_end(bytes: &[u8], pos: usize) -> Option<usize> {
    match *bytes.get(pos)? {
        b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't' => Some(pos + 1),
        b'u' => match hex4(bytes, pos + 1)? {
            0xD800..=0xDBFF => {
                if bytes.get(pos + 5..pos + 7)? != b"\\u" {
                    return None;
                }
                matches!(hex4(bytes, pos + 7)?, 0xDC00..=0xDFFF).then_some(pos + 11)
            }
            0xDC00..=0xDFFF => None,
            _ => Some(pos + 5),
        },
        _ => None,
    }
}

fn hex4(bytes: &[u8], pos: usize) -> Option<u32> {
    let mut value = 0;
    for &digit in bytes.get(pos..pos + 4)? {
        value = value << 4 | char::from(digit).to_digit(16)?;
    }
    Some(value)
}

/// A number serde_json must judge (range, and `-0`), judged by it alone.
fn checked_number(text: &str) -> Option<Value> {
    serde_json::from_str(text).ok()
}

/// How many bytes at the start of `bytes` a string takes as they are: up to its closing
/// quote, a backslash or a control character, eight at a time.
fn plain_run(bytes: &[u8]) -> usize {
    const ONES: u64 = u64::from_ne_bytes([0x01; 8]);
    const HIGHS: u64 = u64::from_ne_bytes([0x80; 8]);
    let has_zero_byte = |word: u64| word.wrapping_sub(ONES) & !word & HIGHS;
    let mut run = 0;
    while let Some(chunk) = bytes[run..].first_chunk::<8>() {
        let word = u64::from_le_bytes(*chunk);
        let stops = has_zero_byte(word ^ (ONES * u64::from(b'"')))
            | has_zero_byte(word ^ (ONES * u64::from(b'\\')))
            | (word.wrapping_sub(ONES * 0x20) & !word & HIGHS);
        if stops != 0 {
            // Only bytes above a real stop can be false alarms, so the lowest one is real.
            return run + (stops.trailing_zeros() / 8) as usize;
        }
        run += 8;
    }
    run + bytes[run..]
        .iter()
        .position(|&byte| byte == b'"' || byte == b'\\' || byte < 0x20)
        .unwrap_or(bytes.len() - run)
}

#[cfg(test)]
mod tests;
