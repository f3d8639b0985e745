//! Tokens of Kyverno's JMESPath dialect, as kyverno/go-jmespath's lexer cuts them.
//!
//! The fork's lexical quirks are kept because policies are written against them: a raw string
//! `'…'` knows only the `\'` escape, a JSON literal `` `…` `` only `` \` ``, a quoted identifier
//! is decoded as a JSON string, a number is an optional `-` and digits, and identifiers are
//! ASCII.

use super::CompileError;
use crate::coerce::gofmt::quote;
use std::fmt;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Kind {
    Unknown,
    Star,
    Dot,
    Filter,
    Flatten,
    Lparen,
    Rparen,
    Lbracket,
    Rbracket,
    Lbrace,
    Rbrace,
    Or,
    Pipe,
    Number,
    UnquotedIdentifier,
    QuotedIdentifier,
    Comma,
    Colon,
    Lt,
    Lte,
    Gt,
    Gte,
    Eq,
    Ne,
    JsonLiteral,
    StringLiteral,
    Current,
    Expref,
    And,
    Not,
    Eof,
}

impl fmt::Display for Kind {
    /// The fork's token names, which its syntax errors print.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = match self {
            Kind::Unknown => "tUnknown",
            Kind::Star => "tStar",
            Kind::Dot => "tDot",
            Kind::Filter => "tFilter",
            Kind::Flatten => "tFlatten",
            Kind::Lparen => "tLparen",
            Kind::Rparen => "tRparen",
            Kind::Lbracket => "tLbracket",
            Kind::Rbracket => "tRbracket",
            Kind::Lbrace => "tLbrace",
            Kind::Rbrace => "tRbrace",
            Kind::Or => "tOr",
            Kind::Pipe => "tPipe",
            Kind::Number => "tNumber",
            Kind::UnquotedIdentifier => "tUnquotedIdentifier",
            Kind::QuotedIdentifier => "tQuotedIdentifier",
            Kind::Comma => "tComma",
            Kind::Colon => "tColon",
            Kind::Lt => "tLT",
            Kind::Lte => "tLTE",
            Kind::Gt => "tGT",
            Kind::Gte => "tGTE",
            Kind::Eq => "tEQ",
            Kind::Ne => "tNE",
            Kind::JsonLiteral => "tJSONLiteral",
            Kind::StringLiteral => "tStringLiteral",
            Kind::Current => "tCurrent",
            Kind::Expref => "tExpref",
            Kind::And => "tAnd",
            Kind::Not => "tNot",
            Kind::Eof => "tEOF",
        };
        f.write_str(name)
    }
}

#[derive(Debug, Clone)]
pub(super) struct Token {
    pub kind: Kind,
    pub text: String,
    /// Byte offset of the token in the expression.
    pub offset: usize,
}

pub(super) fn tokenize(expression: &str) -> Result<Vec<Token>, CompileError> {
    let mut lexer = Lexer {
        text: expression,
        pos: 0,
        tokens: Vec::new(),
    };
    lexer.run()?;
    lexer.tokens.push(Token {
        kind: Kind::Eof,
        text: String::new(),
        offset: expression.len(),
    });
    Ok(lexer.tokens)
}

struct Lexer<'t> {
    text: &'t str,
    pos: usize,
    tokens: Vec<Token>,
}

impl Lexer<'_> {
    fn peek(&self) -> Option<char> {
        self.text[self.pos..].chars().next()
    }

    fn push(&mut self, kind: Kind, start: usize, text: impl Into<String>) {
        self.tokens.push(Token {
            kind,
            text: text.into(),
            offset: start,
        });
    }

    fn run(&mut self) -> Result<(), CompileError> {
        while let Some(c) = self.peek() {
            let start = self.pos;
            self.pos += c.len_utf8();
            match c {
                'a'..='z' | 'A'..='Z' | '_' => {
                    while matches!(self.peek(), Some('a'..='z' | 'A'..='Z' | '0'..='9' | '_')) {
                        self.pos += 1;
                    }
                    self.push(Kind::UnquotedIdentifier, start, &self.text[start..self.pos]);
                }
                '.' => self.push(Kind::Dot, start, "."),
                '*' => self.push(Kind::Star, start, "*"),
                ',' => self.push(Kind::Comma, start, ","),
                ':' => self.push(Kind::Colon, start, ":"),
                '{' => self.push(Kind::Lbrace, start, "{"),
                '}' => self.push(Kind::Rbrace, start, "}"),
                ']' => self.push(Kind::Rbracket, start, "]"),
                '(' => self.push(Kind::Lparen, start, "("),
                ')' => self.push(Kind::Rparen, start, ")"),
                '@' => self.push(Kind::Current, start, "@"),
                '-' | '0'..='9' => {
                    while matches!(self.peek(), Some('0'..='9')) {
                        self.pos += 1;
                    }
                    self.push(Kind::Number, start, &self.text[start..self.pos]);
                }
                '[' => match self.peek() {
                    Some('?') => {
                        self.pos += 1;
                        self.push(Kind::Filter, start, "[?");
                    }
                    Some(']') => {
                        self.pos += 1;
                        self.push(Kind::Flatten, start, "[]");
                    }
                    _ => self.push(Kind::Lbracket, start, "["),
                },
                '"' => {
                    let raw = self.until('"')?;
                    let decoded: String =
                        serde_json::from_str(&format!("\"{raw}\"")).map_err(|error| {
                            CompileError::new(start, format!("invalid quoted identifier: {error}"))
                        })?;
                    self.push(Kind::QuotedIdentifier, start, decoded);
                }
                '\'' => {
                    let value = self.raw_string()?;
                    self.push(Kind::StringLiteral, start, value);
                }
                '`' => {
                    let raw = self.until('`')?;
                    let value = raw.replace("\\`", "`");
                    self.push(Kind::JsonLiteral, start, value);
                }
                '|' => self.one_or_two(start, '|', Kind::Or, Kind::Pipe),
                '<' => self.one_or_two(start, '=', Kind::Lte, Kind::Lt),
                '>' => self.one_or_two(start, '=', Kind::Gte, Kind::Gt),
                '!' => self.one_or_two(start, '=', Kind::Ne, Kind::Not),
                '=' => self.one_or_two(start, '=', Kind::Eq, Kind::Unknown),
                '&' => self.one_or_two(start, '&', Kind::And, Kind::Expref),
                ' ' | '\t' | '\n' | '\r' => {}
                other => {
                    return Err(CompileError::new(
                        start,
                        format!("Unknown char: {}", quote_rune_ascii(other)),
                    ));
                }
            }
        }
        Ok(())
    }

    fn one_or_two(&mut self, start: usize, second: char, double: Kind, single: Kind) {
        if self.peek() == Some(second) {
            self.pos += second.len_utf8();
            let text = self.text[start..self.pos].to_owned();
            self.push(double, start, text);
        } else {
            let text = self.text[start..self.pos].to_owned();
            self.push(single, start, text);
        }
    }

    /// The text up to the closing `end`, skipping any character after a backslash.
    fn until(&mut self, end: char) -> Result<&str, CompileError> {
        let start = self.pos;
        let mut chars = self.text[start..].char_indices();
        while let Some((i, c)) = chars.next() {
            if c == end {
                self.pos = start + i + c.len_utf8();
                return Ok(&self.text[start..start + i]);
            }
            if c == '\\' {
                chars.next();
            }
        }
        Err(CompileError::new(
            self.text.len(),
            format!("Unclosed delimiter: {end}"),
        ))
    }

    /// A raw string literal: only `\'` is an escape, every other backslash is kept.
    fn raw_string(&mut self) -> Result<String, CompileError> {
        let mut value = String::new();
        let mut chars = self.text[self.pos..].char_indices().peekable();
        let start = self.pos;
        while let Some((i, c)) = chars.next() {
            match c {
                '\'' => {
                    self.pos = start + i + 1;
                    return Ok(value);
                }
                '\\' if chars.peek().map(|&(_, next)| next) == Some('\'') => {
                    chars.next();
                    value.push('\'');
                }
                c => value.push(c),
            }
        }
        Err(CompileError::new(
            self.text.len(),
            "Unclosed delimiter: '".to_owned(),
        ))
    }
}

/// `strconv.QuoteRuneToASCII`.
fn quote_rune_ascii(c: char) -> String {
    let quoted = quote(&c.to_string());
    let inner = &quoted[1..quoted.len() - 1];
    let inner = if inner == "'" {
        "\\'".to_owned()
    } else if inner == "\\\"" {
        "\"".to_owned()
    } else if c.is_ascii() {
        inner.to_owned()
    } else if (c as u32) > 0xffff {
        format!("\\U{:08x}", c as u32)
    } else {
        format!("\\u{:04x}", c as u32)
    };
    format!("'{inner}'")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(expression: &str) -> Vec<(Kind, String)> {
        tokenize(expression)
            .unwrap_or_else(|e| panic!("{expression}: {e}"))
            .into_iter()
            .map(|t| (t.kind, t.text))
            .collect()
    }

    #[test]
    fn tokens() {
        use Kind::*;
        let cases: &[(&str, &[(Kind, &str)])] = &[
            (
                "foo.bar",
                &[
                    (UnquotedIdentifier, "foo"),
                    (Dot, "."),
                    (UnquotedIdentifier, "bar"),
                ],
            ),
            (
                "a[-1]",
                &[
                    (UnquotedIdentifier, "a"),
                    (Lbracket, "["),
                    (Number, "-1"),
                    (Rbracket, "]"),
                ],
            ),
            (
                "[?a]",
                &[(Filter, "[?"), (UnquotedIdentifier, "a"), (Rbracket, "]")],
            ),
            ("a[]", &[(UnquotedIdentifier, "a"), (Flatten, "[]")]),
            (
                "a||b|c",
                &[
                    (UnquotedIdentifier, "a"),
                    (Or, "||"),
                    (UnquotedIdentifier, "b"),
                    (Pipe, "|"),
                    (UnquotedIdentifier, "c"),
                ],
            ),
            (
                "a&&&b",
                &[
                    (UnquotedIdentifier, "a"),
                    (And, "&&"),
                    (Expref, "&"),
                    (UnquotedIdentifier, "b"),
                ],
            ),
            (
                "!a != b",
                &[
                    (Not, "!"),
                    (UnquotedIdentifier, "a"),
                    (Ne, "!="),
                    (UnquotedIdentifier, "b"),
                ],
            ),
            (
                "a = b",
                &[
                    (UnquotedIdentifier, "a"),
                    (Unknown, "="),
                    (UnquotedIdentifier, "b"),
                ],
            ),
            (r#""a\"b""#, &[(QuotedIdentifier, "a\"b")]),
            (r"'it\'s \n'", &[(StringLiteral, r"it's \n")]),
            ("`\"a\\`b\"`", &[(JsonLiteral, "\"a`b\"")]),
            ("a_1B", &[(UnquotedIdentifier, "a_1B")]),
        ];
        for (expression, want) in cases {
            let mut got = kinds(expression);
            assert_eq!(got.pop().map(|t| t.0), Some(Eof));
            let want: Vec<(Kind, String)> =
                want.iter().map(|(k, t)| (*k, (*t).to_owned())).collect();
            assert_eq!(got, want, "{expression}");
        }
    }

    #[test]
    fn errors() {
        let cases: &[(&str, &str, usize)] = &[
            ("a#", "Unknown char: '#'", 1),
            ("é", r"Unknown char: '\u00e9'", 0),
            ("'abc", "Unclosed delimiter: '", 4),
            ("`abc", "Unclosed delimiter: `", 4),
            ("\"abc", "Unclosed delimiter: \"", 4),
            (r"'a\'", "Unclosed delimiter: '", 4),
        ];
        for (expression, message, offset) in cases {
            let error = tokenize(expression).expect_err(expression);
            assert_eq!(error.message, *message, "{expression}");
            assert_eq!(error.offset, *offset, "{expression}");
        }
    }
}
