//! Go's regular expressions: a pattern is read as Go's `regexp/syntax` reads it with Perl flags
//! (what `regexp.Compile` uses), refused with Go's error where Go refuses it, and written out as
//! the Rust `regex` pattern that matches the same. Where the two syntaxes part ways: Go takes a
//! `{` that starts no valid repetition as a literal, caps repetition counts at 1000, refuses
//! stacked repetition operators (`a**`), Perl's look-arounds and back-references, flags other
//! than `imsU` and unknown POSIX or Unicode class names; it reads `\0` and `\12` as octal, `\d`,
//! `\s`, `\w` and `\b` as ASCII, and `[a&&b]` or `[[a]` as plain members, which Rust would read
//! as class operations.

use std::fmt::Write as _;

/// Go's message for an error: `error parsing regexp: <code>: `<text>``.
fn go_error(code: &str, text: &str) -> String {
    format!("error parsing regexp: {code}: `{text}`")
}

const INVALID_ESCAPE: &str = "invalid escape sequence";
const INVALID_CLASS_RANGE: &str = "invalid character class range";
const MISSING_BRACKET: &str = "missing closing ]";
const MISSING_REPEAT_ARGUMENT: &str = "missing argument to repetition operator";
const INVALID_REPEAT_COUNT: &str = "invalid repeat count";
const INVALID_NESTED_REPEAT: &str = "invalid nested repetition operator";
const INVALID_PERL_OP: &str = "invalid or unsupported Perl syntax";
const INVALID_NAMED_CAPTURE: &str = "invalid named capture";

/// Go's limit on a repetition count, and on the product of nested counts.
const MAX_REPEAT: u64 = 1000;

/// Go's `\p` names (after its `canonicalName`: first letter upper case, the rest lower case,
/// no `_`, `-` or space) with the name Rust knows the same class by: Go 1.26's Unicode
/// categories and scripts, where Go finds them under that spelling, and its category aliases.
#[rustfmt::skip]
const UNICODE_CLASSES: &[(&str, &str)] = &[
    ("Adlam", "Adlam"), ("Ahom", "Ahom"), ("Any", "Any"), ("Arabic", "Arabic"), ("Armenian", "Armenian"),
    ("Ascii", "ASCII"), ("Assigned", "Assigned"), ("Avestan", "Avestan"), ("Balinese", "Balinese"),
    ("Bamum", "Bamum"), ("Batak", "Batak"), ("Bengali", "Bengali"), ("Bhaiksuki", "Bhaiksuki"),
    ("Bopomofo", "Bopomofo"), ("Brahmi", "Brahmi"), ("Braille", "Braille"), ("Buginese", "Buginese"),
    ("Buhid", "Buhid"), ("C", "C"), ("Carian", "Carian"), ("Casedletter", "LC"), ("Cc", "Cc"),
    ("Cf", "Cf"), ("Chakma", "Chakma"), ("Cham", "Cham"), ("Cherokee", "Cherokee"),
    ("Chorasmian", "Chorasmian"), ("Closepunctuation", "Pe"), ("Cn", "Cn"), ("Cntrl", "Cc"),
    ("Co", "Co"), ("Combiningmark", "M"), ("Common", "Common"), ("Connectorpunctuation", "Pc"),
    ("Control", "Cc"), ("Coptic", "Coptic"), ("Cs", "Cs"), ("Cuneiform", "Cuneiform"),
    ("Currencysymbol", "Sc"), ("Cypriot", "Cypriot"), ("Cyrillic", "Cyrillic"),
    ("Dashpunctuation", "Pd"), ("Decimalnumber", "Nd"), ("Deseret", "Deseret"),
    ("Devanagari", "Devanagari"), ("Digit", "Nd"), ("Dogra", "Dogra"), ("Duployan", "Duployan"),
    ("Elbasan", "Elbasan"), ("Elymaic", "Elymaic"), ("Enclosingmark", "Me"),
    ("Ethiopic", "Ethiopic"), ("Finalpunctuation", "Pf"), ("Format", "Cf"), ("Georgian", "Georgian"),
    ("Glagolitic", "Glagolitic"), ("Gothic", "Gothic"), ("Grantha", "Grantha"), ("Greek", "Greek"),
    ("Gujarati", "Gujarati"), ("Gurmukhi", "Gurmukhi"), ("Han", "Han"), ("Hangul", "Hangul"),
    ("Hanunoo", "Hanunoo"), ("Hatran", "Hatran"), ("Hebrew", "Hebrew"), ("Hiragana", "Hiragana"),
    ("Initialpunctuation", "Pi"), ("Inherited", "Inherited"), ("Javanese", "Javanese"),
    ("Kaithi", "Kaithi"), ("Kannada", "Kannada"), ("Katakana", "Katakana"), ("Kawi", "Kawi"),
    ("Kharoshthi", "Kharoshthi"), ("Khmer", "Khmer"), ("Khojki", "Khojki"),
    ("Khudawadi", "Khudawadi"), ("L", "L"), ("Lao", "Lao"), ("Latin", "Latin"), ("Lc", "LC"),
    ("Lepcha", "Lepcha"), ("Letter", "L"), ("Letternumber", "Nl"), ("Limbu", "Limbu"),
    ("Lineseparator", "Zl"), ("Lisu", "Lisu"), ("Ll", "Ll"), ("Lm", "Lm"), ("Lo", "Lo"),
    ("Lowercaseletter", "Ll"), ("Lt", "Lt"), ("Lu", "Lu"), ("Lycian", "Lycian"), ("Lydian", "Lydian"),
    ("M", "M"), ("Mahajani", "Mahajani"), ("Makasar", "Makasar"), ("Malayalam", "Malayalam"),
    ("Mandaic", "Mandaic"), ("Manichaean", "Manichaean"), ("Marchen", "Marchen"), ("Mark", "M"),
    ("Mathsymbol", "Sm"), ("Mc", "Mc"), ("Me", "Me"), ("Medefaidrin", "Medefaidrin"),
    ("Miao", "Miao"), ("Mn", "Mn"), ("Modi", "Modi"), ("Modifierletter", "Lm"),
    ("Modifiersymbol", "Sk"), ("Mongolian", "Mongolian"), ("Mro", "Mro"), ("Multani", "Multani"),
    ("Myanmar", "Myanmar"), ("N", "N"), ("Nabataean", "Nabataean"), ("Nandinagari", "Nandinagari"),
    ("Nd", "Nd"), ("Newa", "Newa"), ("Nko", "Nko"), ("Nl", "Nl"), ("No", "No"),
    ("Nonspacingmark", "Mn"), ("Number", "N"), ("Nushu", "Nushu"), ("Ogham", "Ogham"),
    ("Openpunctuation", "Ps"), ("Oriya", "Oriya"), ("Osage", "Osage"), ("Osmanya", "Osmanya"),
    ("Other", "C"), ("Otherletter", "Lo"), ("Othernumber", "No"), ("Otherpunctuation", "Po"),
    ("Othersymbol", "So"), ("P", "P"), ("Paragraphseparator", "Zp"), ("Palmyrene", "Palmyrene"),
    ("Pc", "Pc"), ("Pd", "Pd"), ("Pe", "Pe"), ("Pf", "Pf"), ("Phoenician", "Phoenician"),
    ("Pi", "Pi"), ("Po", "Po"), ("Privateuse", "Co"), ("Ps", "Ps"), ("Punct", "P"),
    ("Punctuation", "P"), ("Rejang", "Rejang"), ("Runic", "Runic"), ("S", "S"),
    ("Samaritan", "Samaritan"), ("Saurashtra", "Saurashtra"), ("Sc", "Sc"), ("Separator", "Z"),
    ("Sharada", "Sharada"), ("Shavian", "Shavian"), ("Siddham", "Siddham"), ("Sinhala", "Sinhala"),
    ("Sk", "Sk"), ("Sm", "Sm"), ("So", "So"), ("Sogdian", "Sogdian"), ("Soyombo", "Soyombo"),
    ("Spaceseparator", "Zs"), ("Spacingmark", "Mc"), ("Sundanese", "Sundanese"),
    ("Surrogate", "Cs"), ("Symbol", "S"), ("Syriac", "Syriac"), ("Tagalog", "Tagalog"),
    ("Tagbanwa", "Tagbanwa"), ("Takri", "Takri"), ("Tamil", "Tamil"), ("Tangsa", "Tangsa"),
    ("Tangut", "Tangut"), ("Telugu", "Telugu"), ("Thaana", "Thaana"), ("Thai", "Thai"),
    ("Tibetan", "Tibetan"), ("Tifinagh", "Tifinagh"), ("Tirhuta", "Tirhuta"), ("Titlecaseletter", "Lt"),
    ("Toto", "Toto"), ("Ugaritic", "Ugaritic"), ("Unassigned", "Cn"), ("Uppercaseletter", "Lu"),
    ("Vai", "Vai"), ("Vithkuqi", "Vithkuqi"), ("Wancho", "Wancho"), ("Yezidi", "Yezidi"),
    ("Yi", "Yi"), ("Z", "Z"), ("Zanabazarsquare", "Zanabazar_Square"), ("Zl", "Zl"), ("Zp", "Zp"),
    ("Zs", "Zs"),
];

/// Go's POSIX classes inside brackets.
const POSIX_CLASSES: &[&str] = &[
    "alnum", "alpha", "ascii", "blank", "cntrl", "digit", "graph", "lower", "print", "punct",
    "space", "upper", "word", "xdigit",
];

/// Go's `canonicalName` of a Unicode class name.
fn canonical_name(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    for c in name.chars().filter(|c| !matches!(c, '_' | '-' | ' ')) {
        if out.is_empty() {
            out.push(c.to_ascii_uppercase());
        } else {
            out.push(c.to_ascii_lowercase());
        }
    }
    out
}

/// The Rust pattern for a Go pattern, or Go's error message.
pub(super) fn translate(pattern: &str) -> Result<String, String> {
    let mut translator = Translator {
        pattern,
        at: 0,
        out: String::with_capacity(pattern.len() + 16),
        level: Level::default(),
        open: Vec::new(),
        pending_flags: None,
        last_repeat: None,
        names: Vec::new(),
    };
    translator.run()?;
    Ok(translator.out)
}

#[derive(Clone, Copy, Default, PartialEq)]
struct Flags {
    fold_case: bool,
    multi_line: bool,
    dot_nl: bool,
    ungreedy: bool,
}

impl Flags {
    fn written(self) -> String {
        let mut on = String::new();
        let mut off = String::new();
        for (set, letter) in [
            (self.fold_case, 'i'),
            (self.multi_line, 'm'),
            (self.dot_nl, 's'),
            (self.ungreedy, 'U'),
        ] {
            if set { &mut on } else { &mut off }.push(letter);
        }
        if off.is_empty() {
            on
        } else {
            format!("{on}-{off}")
        }
    }
}

/// One group's state: what its finished parts need of the repetition budget, its last atom's
/// need (`None` where a repetition has nothing to repeat), and its flags.
#[derive(Clone, Copy, Default)]
struct Level {
    need: u64,
    last_atom: Option<u64>,
    flags: Flags,
}

impl Level {
    fn finish_atom(&mut self) {
        if let Some(need) = self.last_atom.take() {
            self.need = self.need.max(need);
        }
    }
}

struct Translator<'p> {
    pattern: &'p str,
    /// Byte offset of the next character to read.
    at: usize,
    out: String,
    level: Level,
    open: Vec<Level>,
    /// Flags set by `(?flags)`, written before the next atom (Rust allows no repetition right
    /// after a flag group, Go applies it to the atom before).
    pending_flags: Option<Flags>,
    /// Where the previous token started, when it was a repetition operator.
    last_repeat: Option<usize>,
    names: Vec<String>,
}

impl<'p> Translator<'p> {
    fn rest(&self) -> &'p str {
        &self.pattern[self.at..]
    }

    fn peek(&self) -> Option<char> {
        self.rest().chars().next()
    }

    fn next(&mut self) -> Option<char> {
        let c = self.peek()?;
        self.at += c.len_utf8();
        Some(c)
    }

    /// Starts an atom: the pending flags go first, and the atom before is finished.
    fn atom(&mut self, need: u64) {
        if let Some(flags) = self.pending_flags.take() {
            let _ = write!(self.out, "(?{})", flags.written());
            self.level.flags = flags;
        }
        self.level.finish_atom();
        self.level.last_atom = Some(need);
    }

    fn run(&mut self) -> Result<(), String> {
        while let Some(c) = self.peek() {
            let start = self.at;
            let mut repeat = None;
            match c {
                '(' => self.open_group()?,
                ')' => self.close_group()?,
                '|' => {
                    self.next();
                    self.level.finish_atom();
                    self.out.push('|');
                }
                '^' | '$' | '.' => {
                    self.next();
                    self.atom(0);
                    self.out.push_str(match c {
                        '^' => "(?:^)",
                        '$' => "(?:$)",
                        _ => ".",
                    });
                }
                '[' => {
                    let class = self.class()?;
                    self.atom(0);
                    self.out.push_str(&class);
                }
                '*' | '+' | '?' => {
                    self.next();
                    self.repeat(start, None)?;
                    repeat = Some(start);
                }
                '{' => match self.repeat_count() {
                    Some(counts) => {
                        self.repeat(start, Some(counts))?;
                        repeat = Some(start);
                    }
                    None => {
                        self.next();
                        self.atom(0);
                        self.out.push_str("\\{");
                    }
                },
                '\\' => self.escape()?,
                c => {
                    self.next();
                    self.atom(0);
                    push_literal(&mut self.out, c);
                }
            }
            self.last_repeat = repeat;
        }
        if !self.open.is_empty() {
            return Err(go_error("missing closing )", self.pattern));
        }
        Ok(())
    }

    /// `{n}`, `{n,}` or `{n,m}` at the current position, as Go's `parseRepeat` reads it: the
    /// counts (`None` for no maximum, `-1` for a number too big) and where the operator ends.
    fn repeat_count(&self) -> Option<(i64, Option<i64>, usize)> {
        fn int(text: &str) -> Option<(i64, &str)> {
            let digits = text.len() - text.trim_start_matches(|c: char| c.is_ascii_digit()).len();
            if digits == 0 || (digits >= 2 && text.starts_with('0')) {
                return None;
            }
            let mut value: i64 = 0;
            for b in text[..digits].bytes() {
                if value >= 100_000_000 {
                    value = -1;
                    break;
                }
                value = value * 10 + i64::from(b - b'0');
            }
            Some((value, &text[digits..]))
        }
        let text = self.rest().strip_prefix('{')?;
        let (min, text) = int(text)?;
        let (mut min, max, text) = if let Some(text) = text.strip_prefix(',') {
            if let Some(text) = text.strip_prefix('}') {
                (min, None, text)
            } else {
                let (max, text) = int(text)?;
                let text = text.strip_prefix('}')?;
                (min, Some(max), text)
            }
        } else {
            (min, Some(min), text.strip_prefix('}')?)
        };
        if max == Some(-1) {
            min = -1;
        }
        Some((min, max, self.pattern.len() - text.len()))
    }

    /// A repetition operator starting at `start` (the cursor is after `*`, `+` or `?`, or at
    /// the `{` of `counts`).
    fn repeat(
        &mut self,
        start: usize,
        counts: Option<(i64, Option<i64>, usize)>,
    ) -> Result<(), String> {
        if let Some((min, max, end)) = counts {
            self.at = end;
            let too_big = |n: i64| u64::try_from(n).map_or(true, |n| n > MAX_REPEAT);
            if too_big(min) || max.is_some_and(too_big) || max.is_some_and(|max| min > max) {
                return Err(go_error(INVALID_REPEAT_COUNT, &self.pattern[start..end]));
            }
        }
        let operator_end = self.at;
        if self.peek() == Some('?') {
            self.next();
        }
        if let Some(last) = self.last_repeat {
            return Err(go_error(
                INVALID_NESTED_REPEAT,
                &self.pattern[last..self.at],
            ));
        }
        let Some(need) = self.level.last_atom else {
            return Err(go_error(
                MISSING_REPEAT_ARGUMENT,
                &self.pattern[start..self.at],
            ));
        };
        let need = match counts {
            Some((min, max, _)) => {
                // Go's `repeatIsValid`: along any path, each count divides what is left of 1000.
                let bound = u64::try_from(max.unwrap_or(min)).unwrap_or(0);
                let need = match (max, bound) {
                    (Some(0), _) => 0,
                    (_, 0) => need,
                    _ => bound.max(need.saturating_mul(bound)),
                };
                if (min >= 2 || max.is_some_and(|max| max >= 2)) && need > MAX_REPEAT {
                    return Err(go_error(
                        INVALID_REPEAT_COUNT,
                        &self.pattern[start..self.at],
                    ));
                }
                need
            }
            None => need,
        };
        self.level.last_atom = Some(need);
        match counts {
            Some((min, Some(max), _)) if min == max => {
                let _ = write!(self.out, "{{{min}}}");
            }
            Some((min, Some(max), _)) => {
                let _ = write!(self.out, "{{{min},{max}}}");
            }
            Some((min, None, _)) => {
                let _ = write!(self.out, "{{{min},}}");
            }
            None => self.out.push_str(&self.pattern[start..operator_end]),
        }
        if self.at > operator_end {
            self.out.push('?');
        }
        Ok(())
    }

    fn open_group(&mut self) -> Result<(), String> {
        let start = self.at;
        self.next();
        if self.peek() != Some('?') {
            self.atom(0);
            self.out.push('(');
            self.push_level();
            return Ok(());
        }
        let rest = &self.pattern[start..];
        let named = if rest.len() > 4 && rest[2..].starts_with("P<") {
            Some(4)
        } else if rest.len() > 3 && rest[2..].starts_with('<') {
            Some(3)
        } else {
            None
        };
        if let Some(begin) = named {
            let Some(end) = rest.find('>') else {
                return Err(go_error(INVALID_NAMED_CAPTURE, rest));
            };
            let name = &rest[begin..end];
            if name.is_empty() || !name.bytes().all(|b| b == b'_' || b.is_ascii_alphanumeric()) {
                return Err(go_error(INVALID_NAMED_CAPTURE, &rest[..=end]));
            }
            self.at = start + end + 1;
            // Rust refuses a name used twice, Go numbers both: the second gets a name of its own.
            let mut unique = name.to_owned();
            while self.names.contains(&unique) {
                unique.push('_');
            }
            self.names.push(unique.clone());
            self.atom(0);
            let _ = write!(self.out, "(?P<{unique}>");
            self.push_level();
            return Ok(());
        }
        self.next();
        let mut flags = self.pending_flags.unwrap_or(self.level.flags);
        let mut negated = false;
        let mut saw_flag = false;
        loop {
            let Some(c) = self.next() else {
                return Err(go_error(INVALID_PERL_OP, &self.pattern[start..self.at]));
            };
            let set = !negated;
            match c {
                'i' => flags.fold_case = set,
                'm' => flags.multi_line = set,
                's' => flags.dot_nl = set,
                'U' => flags.ungreedy = set,
                '-' if !negated => {
                    negated = true;
                    saw_flag = false;
                    continue;
                }
                ':' | ')' if !negated || saw_flag => {
                    if c == ')' {
                        self.pending_flags = Some(flags);
                    } else {
                        self.atom(0);
                        let _ = write!(self.out, "(?{}:", flags.written());
                        self.push_level();
                        self.level.flags = flags;
                    }
                    return Ok(());
                }
                _ => return Err(go_error(INVALID_PERL_OP, &self.pattern[start..self.at])),
            }
            saw_flag = true;
        }
    }

    fn push_level(&mut self) {
        let flags = self.pending_flags.unwrap_or(self.level.flags);
        self.open.push(self.level);
        self.level = Level {
            flags,
            ..Level::default()
        };
    }

    fn close_group(&mut self) -> Result<(), String> {
        self.next();
        let Some(outer) = self.open.pop() else {
            return Err(go_error("unexpected )", self.pattern));
        };
        self.level.finish_atom();
        let need = self.level.need;
        self.level = outer;
        // Flags set inside the group end with it.
        self.pending_flags = None;
        self.level.finish_atom();
        self.level.last_atom = Some(need);
        self.out.push(')');
        Ok(())
    }

    fn escape(&mut self) -> Result<(), String> {
        let start = self.at;
        let rest = self.rest();
        let written = match rest[1..].chars().next() {
            Some('A') => Some("(?:\\A)"),
            Some('z') => Some("(?:\\z)"),
            Some('b') => Some("(?-u:\\b)"),
            Some('B') => Some("(?-u:\\B)"),
            Some('C') => return Err(go_error(INVALID_ESCAPE, "\\C")),
            _ => None,
        };
        if let Some(written) = written {
            self.at += 2;
            self.atom(0);
            self.out.push_str(written);
            return Ok(());
        }
        if let Some(quoted) = rest.strip_prefix("\\Q") {
            let (literal, skip) = match quoted.find("\\E") {
                Some(end) => (&quoted[..end], end + 4),
                None => (quoted, rest.len()),
            };
            self.at = start + skip;
            for c in literal.chars() {
                self.atom(0);
                push_literal(&mut self.out, c);
            }
            return Ok(());
        }
        if let Some((class, end)) = self.unicode_class(start)? {
            self.at = end;
            self.atom(0);
            self.out.push_str(&class);
            return Ok(());
        }
        if let Some((class, end)) = perl_class(rest, false) {
            self.at = start + end;
            self.atom(0);
            self.out.push_str(class);
            return Ok(());
        }
        let (c, end) = parse_escape(rest)?;
        self.at = start + end;
        self.atom(0);
        push_literal(&mut self.out, c);
        Ok(())
    }

    /// `\pN`, `\p{Name}`, `\PN` or `\P{^Name}` at `start`: the Rust class and where it ends.
    fn unicode_class(&self, start: usize) -> Result<Option<(String, usize)>, String> {
        let text = &self.pattern[start..];
        let negated = match text.get(..2) {
            Some("\\p") => false,
            Some("\\P") => true,
            _ => return Ok(None),
        };
        let after = &text[2..];
        let (sequence, name) = match after.chars().next() {
            None => return Err(go_error(INVALID_CLASS_RANGE, text)),
            Some('{') => match text.find('}') {
                Some(end) => (&text[..=end], &text[3..end]),
                None => return Err(go_error(INVALID_CLASS_RANGE, text)),
            },
            Some(c) => (&text[..2 + c.len_utf8()], &after[..c.len_utf8()]),
        };
        let (negated, name) = match name.strip_prefix('^') {
            Some(name) => (!negated, name),
            None => (negated, name),
        };
        let canonical = canonical_name(name);
        let Ok(found) = UNICODE_CLASSES.binary_search_by_key(&canonical.as_str(), |&(go, _)| go)
        else {
            return Err(go_error(INVALID_CLASS_RANGE, sequence));
        };
        let rust = UNICODE_CLASSES[found].1;
        let class = format!("\\{}{{{rust}}}", if negated { 'P' } else { 'p' });
        Ok(Some((class, start + sequence.len())))
    }

    /// A bracketed class at the cursor, written for Rust with every member spelled out.
    fn class(&mut self) -> Result<String, String> {
        let whole = self.rest();
        let start = self.at;
        self.next();
        let mut out = String::from("[");
        if self.peek() == Some('^') {
            self.next();
            out.push('^');
        }
        let mut first = true;
        loop {
            let rest = self.rest();
            if rest.starts_with(']') && !first {
                self.next();
                break;
            }
            first = false;
            if rest.is_empty() {
                return Err(go_error(MISSING_BRACKET, whole));
            }
            if let Some(inner) = rest.strip_prefix("[:") {
                if let Some(end) = inner.find(":]") {
                    let name = &rest[..end + 4];
                    let inner = &name[2..name.len() - 2];
                    if !POSIX_CLASSES.contains(&inner.strip_prefix('^').unwrap_or(inner)) {
                        return Err(go_error(INVALID_CLASS_RANGE, name));
                    }
                    out.push_str(name);
                    self.at += name.len();
                    continue;
                }
            }
            let here = self.at;
            if let Some((class, end)) = self.unicode_class(here)? {
                out.push_str(&class);
                self.at = end;
                continue;
            }
            if let Some((class, end)) = perl_class(rest, true) {
                out.push_str(class);
                self.at += end;
                continue;
            }
            let low = self.class_char(whole)?;
            let mut high = low;
            let rest = self.rest();
            if rest.len() >= 2 && rest.starts_with('-') && !rest[1..].starts_with(']') {
                self.next();
                high = self.class_char(whole)?;
                if high < low {
                    return Err(go_error(INVALID_CLASS_RANGE, &self.pattern[here..self.at]));
                }
            }
            push_class_char(&mut out, low);
            if high != low {
                out.push('-');
                push_class_char(&mut out, high);
            }
        }
        out.push(']');
        debug_assert!(self.at > start);
        Ok(out)
    }

    fn class_char(&mut self, whole: &str) -> Result<char, String> {
        let rest = self.rest();
        if rest.starts_with('\\') {
            let (c, end) = parse_escape(rest)?;
            self.at += end;
            return Ok(c);
        }
        self.next().ok_or_else(|| go_error(MISSING_BRACKET, whole))
    }
}

/// `\d`, `\s`, `\w` and their negations, which Go reads as ASCII classes: the Rust class and
/// the length of the escape.
fn perl_class(text: &str, in_class: bool) -> Option<(&'static str, usize)> {
    let class = match (text.get(..2)?, in_class) {
        ("\\d", false) => "[0-9]",
        ("\\d", true) => "0-9",
        ("\\D", _) => "[^0-9]",
        ("\\s", false) => "[\\t\\n\\f\\r ]",
        ("\\s", true) => "\\t\\n\\f\\r ",
        ("\\S", _) => "[^\\t\\n\\f\\r ]",
        ("\\w", false) => "[0-9A-Za-z_]",
        ("\\w", true) => "0-9A-Za-z_",
        ("\\W", _) => "[^0-9A-Za-z_]",
        _ => return None,
    };
    Some((class, 2))
}

/// Go's `parseEscape`: one escaped character at the start of `text` (which starts with `\`)
/// and the length of the escape.
fn parse_escape(text: &str) -> Result<(char, usize), String> {
    let mut chars = text[1..].char_indices().map(|(i, c)| (i + 1, c));
    let Some((_, c)) = chars.next() else {
        return Err(go_error("trailing backslash at end of expression", ""));
    };
    let invalid = |end: usize| Err(go_error(INVALID_ESCAPE, &text[..end]));
    let after = 1 + c.len_utf8();
    let octal = |b: Option<&u8>| b.is_some_and(|b| (b'0'..=b'7').contains(b));
    match c {
        '1'..='7' if !octal(text.as_bytes().get(after)) => invalid(after),
        '0'..='7' => {
            let bytes = text.as_bytes();
            let mut value = u32::from(bytes[1] - b'0');
            let mut end = 2;
            while end < 4 && octal(bytes.get(end)) {
                value = value * 8 + u32::from(bytes[end] - b'0');
                end += 1;
            }
            Ok((char::from_u32(value).unwrap_or('\0'), end))
        }
        'x' => {
            let hex = &text[after..];
            if let Some(braced) = hex.strip_prefix('{') {
                let mut value: u32 = 0;
                for (i, h) in braced.char_indices() {
                    if h == '}' {
                        if i == 0 {
                            break;
                        }
                        return Ok((char::from_u32(value).unwrap_or('\u{fffd}'), after + 2 + i));
                    }
                    let Some(digit) = h.to_digit(16) else {
                        return invalid(after + 1 + i + h.len_utf8());
                    };
                    value = value * 16 + digit;
                    if value > 0x10FFFF {
                        return invalid(after + 1 + i + h.len_utf8());
                    }
                }
                return invalid(
                    text.len()
                        .min(after + 1 + braced.find('}').map_or(braced.len(), |e| e + 1)),
                );
            }
            let mut digits = hex.chars();
            match (digits.next(), digits.next()) {
                (Some(high), Some(low)) => match (high.to_digit(16), low.to_digit(16)) {
                    (Some(high), Some(low)) => {
                        Ok((char::from_u32(high * 16 + low).unwrap_or('\0'), after + 2))
                    }
                    _ => invalid(after + high.len_utf8() + low.len_utf8()),
                },
                (Some(high), None) => invalid(after + high.len_utf8()),
                _ => invalid(after),
            }
        }
        'a' => Ok(('\u{7}', after)),
        'f' => Ok(('\u{c}', after)),
        'n' => Ok(('\n', after)),
        'r' => Ok(('\r', after)),
        't' => Ok(('\t', after)),
        'v' => Ok(('\u{b}', after)),
        c if c.is_ascii() && !c.is_ascii_alphanumeric() => Ok((c, after)),
        _ => invalid(after),
    }
}

fn push_literal(out: &mut String, c: char) {
    if c.is_alphanumeric() || c == ' ' || c == '_' {
        out.push(c);
    } else {
        let _ = write!(out, "\\x{{{:x}}}", u32::from(c));
    }
}

fn push_class_char(out: &mut String, c: char) {
    if c.is_alphanumeric() {
        out.push(c);
    } else {
        let _ = write!(out, "\\x{{{:x}}}", u32::from(c));
    }
}
