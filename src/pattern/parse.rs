//! Syntax of the pattern language: anchor keys and scalar patterns, parsed once at policy load.
//!
//! A map key is an anchor when, after trimming whitespace, it reads `M(key)` with `M` one of
//! `+ < = X ^` or absent and a non-empty `key` without newlines. A string pattern is split on
//! every `|` into alternatives and each alternative on every `&` into parts (no escaping), and
//! every part is classified by its operator prefix or range shape; see [`Part`].

use super::operand::{self, Op, Operand, ValueView};
use serde_json::Value;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AnchorKind {
    /// `(k)`: if the key is absent or does not match, the enclosing map does not apply.
    Conditional,
    /// `<(k)`: like a conditional, but checked with the plain keys and absent means "applies".
    Global,
    /// `=(k)`: if the key is present, it must match.
    Equality,
    /// `X(k)`: the key must be absent.
    Negation,
    /// `^(k)`: every listed object must match some element of the array at `k`.
    Existence,
    /// `+(k)`: mutate-only; policy validation rejects it in validate patterns.
    AddIfNotPresent,
}

impl AnchorKind {
    pub fn modifier(self) -> &'static str {
        match self {
            AnchorKind::Conditional => "",
            AnchorKind::Global => "<",
            AnchorKind::Equality => "=",
            AnchorKind::Negation => "X",
            AnchorKind::Existence => "^",
            AnchorKind::AddIfNotPresent => "+",
        }
    }
}

/// The anchor kind and inner key of `raw`, or `None` for a plain key.
pub fn parse_anchor(raw: &str) -> Option<(AnchorKind, &str)> {
    let trimmed = raw.trim();
    let body = trimmed.strip_suffix(')')?;
    let (kind, inner) = if let Some(inner) = body.strip_prefix('(') {
        (AnchorKind::Conditional, inner)
    } else {
        let mut chars = body.chars();
        let kind = match chars.next()? {
            '+' => AnchorKind::AddIfNotPresent,
            '<' => AnchorKind::Global,
            '=' => AnchorKind::Equality,
            'X' => AnchorKind::Negation,
            '^' => AnchorKind::Existence,
            _ => return None,
        };
        (kind, chars.as_str().strip_prefix('(')?)
    };
    if inner.is_empty() || inner.contains('\n') {
        return None;
    }
    Some((kind, inner))
}

/// A scalar pattern, typed as Kyverno's decoder types it.
#[derive(Debug, Clone)]
pub enum ScalarPattern {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(StrPattern),
}

impl ScalarPattern {
    pub fn matches(&self, value: &Value) -> bool {
        match self {
            ScalarPattern::Null => operand::null_matches(value),
            ScalarPattern::Bool(b) => operand::bool_matches(*b, value),
            ScalarPattern::Int(i) => operand::int_matches(*i, value),
            ScalarPattern::Float(f) => operand::float_matches(*f, value),
            ScalarPattern::Str(s) => s.matches(value),
        }
    }

    /// The pattern as Go's `%v` prints it in mismatch messages.
    pub fn display(&self) -> String {
        match self {
            ScalarPattern::Null => "<nil>".to_owned(),
            ScalarPattern::Bool(b) => b.to_string(),
            ScalarPattern::Int(i) => i.to_string(),
            ScalarPattern::Float(f) => operand::format_v_float(*f),
            ScalarPattern::Str(s) => s.raw.clone(),
        }
    }

    pub fn as_str(&self) -> Option<&str> {
        match self {
            ScalarPattern::Str(s) => Some(&s.raw),
            _ => None,
        }
    }
}

/// One `&`-separated part of a string pattern.
#[derive(Debug, Clone)]
pub enum Part {
    Compare(Op, Operand),
    /// `a-b`: `>= a` and `<= b`.
    InRange(Operand, Operand),
    /// `a!-b`: `< a` or `> b`.
    NotInRange(Operand, Operand),
}

impl Part {
    fn parse(part: &str) -> Self {
        match classify(part) {
            Shape::Compare(op, operand) => Part::Compare(op, Operand::new(operand.trim())),
            Shape::InRange(low, high) => Part::InRange(Operand::new(low), Operand::new(high)),
            Shape::NotInRange(low, high) => Part::NotInRange(Operand::new(low), Operand::new(high)),
        }
    }

    /// Whether the part holds, given how one operand compares under one operator.
    fn holds(&self, compare: impl Fn(&Operand, Op) -> bool) -> bool {
        match self {
            Part::Compare(op, operand) => compare(operand, *op),
            Part::InRange(low, high) => {
                compare(low, Op::GreaterEqual) && compare(high, Op::LessEqual)
            }
            Part::NotInRange(low, high) => compare(low, Op::Less) || compare(high, Op::Greater),
        }
    }

    fn operands(&self) -> impl Iterator<Item = &Operand> {
        let (first, second) = match self {
            Part::Compare(_, operand) => (operand, None),
            Part::InRange(low, high) | Part::NotInRange(low, high) => (low, Some(high)),
        };
        std::iter::once(first).chain(second)
    }
}

/// How Kyverno's `GetOperatorFromStringPattern` reads a string: an operator prefix, a range, or
/// a plain operand.
enum Shape<'a> {
    Compare(Op, &'a str),
    InRange(&'a str, &'a str),
    NotInRange(&'a str, &'a str),
}

fn classify(part: &str) -> Shape<'_> {
    if part.len() >= 2 {
        let prefixes: [(&str, Op); 5] = [
            (">=", Op::GreaterEqual),
            ("<=", Op::LessEqual),
            (">", Op::Greater),
            ("<", Op::Less),
            ("!", Op::NotEqual),
        ];
        for (prefix, op) in prefixes {
            if let Some(rest) = part.strip_prefix(prefix) {
                return Shape::Compare(op, rest);
            }
        }
        if let Some((low, high)) = split_range(part, "!-") {
            return Shape::NotInRange(low, high);
        }
        if let Some((low, high)) = split_range(part, "-") {
            return Shape::InRange(low, high);
        }
    }
    Shape::Compare(Op::Equal, part)
}

/// The operator Kyverno's `GetOperatorFromStringPattern` finds at the start of `text`: one of
/// `>=`, `<=`, `>`, `<`, `!`, `!-` (a whole `a!-b` range), `-` (a whole `a-b` range), or `""`.
pub fn operator_prefix(text: &str) -> &'static str {
    match classify(text) {
        Shape::Compare(Op::GreaterEqual, _) => ">=",
        Shape::Compare(Op::LessEqual, _) => "<=",
        Shape::Compare(Op::Greater, _) => ">",
        Shape::Compare(Op::Less, _) => "<",
        Shape::Compare(Op::NotEqual, _) => "!",
        Shape::Compare(Op::Equal, _) => "",
        Shape::InRange(..) => "-",
        Shape::NotInRange(..) => "!-",
    }
}

/// Kyverno's `pattern.Validate(value, pattern)` for a string pattern: what the condition
/// operators fall back to when their value is a range such as `1-10`.
pub fn string_pattern_matches(pattern: &str, value: &Value) -> bool {
    StrPattern::new(pattern).matches(value)
}

/// `^(N)<sep>(N)$` with `N = [-|+]?\d+(\.\d+)?[A-Za-z]*`. A range endpoint contains neither `!`
/// nor a `-` after its first character, so the first separator after index 0 is the only
/// candidate split.
fn split_range<'a>(part: &'a str, separator: &str) -> Option<(&'a str, &'a str)> {
    let at = part.get(1..)?.find(separator)? + 1;
    let (low, high) = (&part[..at], &part[at + separator.len()..]);
    (is_range_number(low) && is_range_number(high)).then_some((low, high))
}

fn is_range_number(text: &str) -> bool {
    let bytes = text.as_bytes();
    let mut i = usize::from(matches!(bytes.first(), Some(b'-' | b'|' | b'+')));
    let digits = |i: &mut usize| {
        let start = *i;
        while *i < bytes.len() && bytes[*i].is_ascii_digit() {
            *i += 1;
        }
        *i > start
    };
    if !digits(&mut i) {
        return false;
    }
    if bytes.get(i) == Some(&b'.') {
        i += 1;
        if !digits(&mut i) {
            return false;
        }
    }
    bytes[i..].iter().all(u8::is_ascii_alphabetic)
}

/// A string pattern: alternatives (`|`) of conjunctions (`&`) of parts.
#[derive(Debug, Clone)]
pub struct StrPattern {
    raw: String,
    alternatives: Vec<Vec<Part>>,
    /// No operand is a duration or a quantity, so a string value is judged by wildcards on its
    /// text alone, without the numeric readings of [`ValueView`]. Image, name and label
    /// patterns are all of this kind.
    text_only: bool,
}

impl StrPattern {
    pub fn new(raw: &str) -> Self {
        let alternatives = raw
            .split('|')
            .map(|alternative| {
                alternative
                    .trim_matches(' ')
                    .split('&')
                    .map(|part| Part::parse(part.trim_matches(' ')))
                    .collect()
            })
            .collect::<Vec<Vec<Part>>>();
        let text_only = alternatives
            .iter()
            .flatten()
            .flat_map(Part::operands)
            .all(Operand::is_text_only);
        Self {
            raw: raw.to_owned(),
            alternatives,
            text_only,
        }
    }

    pub fn matches(&self, value: &Value) -> bool {
        if let Value::String(text) = value {
            if *text == self.raw {
                return true;
            }
            if self.text_only {
                return self.holds(|operand, op| operand.compare_text(op, text));
            }
        }
        let view = ValueView::new(value);
        self.holds(|operand, op| operand.compare(op, &view))
    }

    /// Whether some alternative has every part holding.
    fn holds(&self, compare: impl Fn(&Operand, Op) -> bool) -> bool {
        self.alternatives
            .iter()
            .any(|parts| parts.iter().all(|part| part.holds(&compare)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn anchors() {
        use AnchorKind::*;
        let cases: &[(&str, Option<(AnchorKind, &str)>)] = &[
            ("(image)", Some((Conditional, "image"))),
            ("<(type)", Some((Global, "type"))),
            ("=(hostNetwork)", Some((Equality, "hostNetwork"))),
            ("X(hostPath)", Some((Negation, "hostPath"))),
            ("^(containers)", Some((Existence, "containers"))),
            ("+(x)", Some((AddIfNotPresent, "x"))),
            ("  =(a) ", Some((Equality, "a"))),
            ("((a))", Some((Conditional, "(a)"))),
            (
                "=(app.kubernetes.io/*)",
                Some((Equality, "app.kubernetes.io/*")),
            ),
            ("()", None),
            ("=()", None),
            ("image", None),
            ("x(a)", None),
            ("Y(a)", None),
            ("=a)", None),
            ("(a", None),
            ("(a\nb)", None),
            ("=(a)b", None),
        ];
        for &(raw, want) in cases {
            assert_eq!(parse_anchor(raw), want, "{raw:?}");
        }
    }

    #[test]
    fn range_shapes() {
        type Case<'a> = (&'a str, &'a str, Option<(&'a str, &'a str)>);
        let cases: &[Case] = &[
            ("0-2", "-", Some(("0", "2"))),
            ("-10--8", "-", Some(("-10", "-8"))),
            ("-10-+8", "-", Some(("-10", "+8"))),
            ("128Mi-512Mi", "-", Some(("128Mi", "512Mi"))),
            ("2.5-3.5", "-", Some(("2.5", "3.5"))),
            ("10!-20", "!-", Some(("10", "20"))),
            ("-10!--8", "!-", Some(("-10", "-8"))),
            ("1 - 5", "-", None),
            ("5.10.84-1", "-", None),
            ("a-b", "-", None),
            ("1.-2", "-", None),
            ("1-2-3", "-", None),
        ];
        for &(part, separator, want) in cases {
            assert_eq!(split_range(part, separator), want, "{part:?}");
        }
    }

    fn string_matches(pattern: &str, value: Value) -> bool {
        StrPattern::new(pattern).matches(&value)
    }

    #[test]
    fn string_patterns() {
        let cases: &[(&str, Value, bool)] = &[
            // Kyverno's TestValidateValueWithStringPattern_* and ranges
            (">= 3", json!(4), true),
            ("0-2", json!(0), true),
            ("0-2", json!(1), true),
            ("0-2", json!(2), true),
            ("0-2", json!(3), false),
            ("10!-20", json!(0), true),
            ("10!-20", json!(15), false),
            ("10!-20", json!(25), true),
            ("0.00001-2.00001", json!(0), false),
            ("0.00001-2.00001", json!(1), true),
            ("0.00001-2.00001", json!(2), true),
            ("0.00001-2.00001", json!(2.0001), false),
            ("0.00001!-2.00001", json!(0), true),
            ("0.00001!-2.00001", json!(1), false),
            ("0.00001!-2.00001", json!(2), false),
            ("0.00001!-2.00001", json!(2.0001), true),
            ("2-2", json!(2), true),
            ("2!-2", json!(2), false),
            ("2.99998-3", json!(2.99999), true),
            ("2.99998!-3", json!(2.99997), true),
            ("2.99998!-3", json!(3.00001), true),
            ("128Mi-512Mi", json!("256Mi"), true),
            ("128Mi-512Mi", json!("1024Mi"), false),
            ("128Mi-512Mi", json!("64Mi"), false),
            ("128Mi!-512Mi", json!("256Mi"), false),
            ("128Mi!-512Mi", json!("1024Mi"), true),
            ("128Mi!-512Mi", json!("64Mi"), true),
            ("-10-8", json!(-9), true),
            ("-10--8", json!(9), false),
            ("-10!--8", json!(9), true),
            ("-10Mi!--8Mi", json!("9Mi"), true),
            ("-10!--8", json!(-9), false),
            ("-10Mi-8Mi", json!("-9Mi"), true),
            ("-10Mi!-8Mi", json!("9Mi"), true),
            ("-10-+8", json!(0), true),
            ("-10Mi-+8Mi", json!("7Mi"), true),
            ("-10!-+8", json!(10), true),
            ("-10Mi!-+8Mi", json!("10Mi"), true),
            ("+0-+1", json!(0), true),
            ("+0Mi-+1024Mi", json!("10Mi"), true),
            ("+0!-+1", json!(10), true),
            ("+0Mi!-+1024Mi", json!("1025Mi"), true),
            // TestValidate string rows
            ("192.168.88.1 | 10.100.11.*", json!("10.100.11.54"), true),
            (">1 & <20", json!("10"), true),
            (">1 & <20 | >31 & <33", json!("10"), true),
            (">1 & <20 | >31 & <33", json!("32"), true),
            (">1 & <20 | >31 & <33", json!("21"), false),
            // Test_validateStringPatterns
            ("!5.10.84-1", json!("5.16.5-arch1-1"), true),
            ("5.10.84-1", json!("5.10.84-1"), true),
            ("!5.10.84-1", json!("!5.10.84-1"), true),
            ("!5.10.84-1", json!("5.10.84-1"), false),
            ("!5.10.84-1 & !5.15.2-1", json!("5.16.5-arch1-1"), true),
            ("!5.10.84-1 & !5.15.2-1", json!("5.10.84-1"), false),
            ("!5.10.84-1 & !5.15.2-1", json!("5.15.2-1"), false),
            // section 6 consequences
            ("a|b", json!("a|b"), true),
            ("a | b", json!("b"), true),
            ("a & b | c", json!("c"), true),
            ("80", json!(80), true),
            ("80", json!("080"), true),
            ("80", json!("8e1"), true),
            ("<10m", json!("5m"), true),
            ("<=2", json!("500m"), true),
            ("<10", json!(null), true),
            (">=0", json!(null), true),
            ("0", json!(null), true),
            ("0-5", json!(null), true),
            (">0", json!(null), false),
            ("!0", json!(null), false),
            ("1-5", json!(null), false),
            ("?*", json!(null), false),
            ("", json!(null), false),
            ("!foo", json!(null), false),
            ("?*", json!(5), true),
            ("?*", json!(false), true),
            ("?*", json!(""), false),
            ("*", json!(""), true),
            ("true", json!(true), true),
            (">1Gi", json!("1025Mi"), true),
            ("!*:latest", json!("nginx"), true),
            ("!*:latest", json!("nginx:latest"), false),
            ("*:*", json!("registry:5000/img"), true),
            ("!5-10", json!(7), true),
            ("1 - 5", json!(3), false),
            ("1 - 5", json!("1 - 5"), true),
            ("!", json!("!"), true),
            (">", json!(">"), true),
            (">=", json!(5), false),
            ("0 | >=1024", json!(0), true),
            ("0 | >=1024", json!(80), false),
            ("0 | >=1024", json!(8080), true),
            ("0 | >=1024", json!(null), true),
            ("100-200 | 500-600", json!(150), true),
            ("100-200 | 500-600", json!(300), false),
            ("100-200 | 500-600", json!(600), true),
        ];
        for (pattern, value, want) in cases {
            assert_eq!(
                string_matches(pattern, value.clone()),
                *want,
                "{pattern:?} vs {value}"
            );
        }
    }

    #[test]
    fn typed_scalar_patterns() {
        let cases: &[(ScalarPattern, Value, bool)] = &[
            (ScalarPattern::Bool(true), json!(true), true),
            (ScalarPattern::Bool(true), json!(false), false),
            (ScalarPattern::Bool(false), json!(true), false),
            (ScalarPattern::Bool(false), json!(false), true),
            (ScalarPattern::Bool(false), json!(null), false),
            (ScalarPattern::Null, json!("value"), false),
            (ScalarPattern::Null, json!(""), true),
            (ScalarPattern::Null, json!(0.0), true),
            (ScalarPattern::Null, json!(0), true),
            (ScalarPattern::Null, json!(false), true),
            (ScalarPattern::Float(7.0), json!(7.0), true),
            (ScalarPattern::Int(10), json!(10), true),
            (ScalarPattern::Int(10), json!(8), false),
            (ScalarPattern::Int(8), json!(8.0), true),
            (ScalarPattern::Int(8), json!(8.1), false),
            (ScalarPattern::Int(8), json!("8"), true),
            (ScalarPattern::Int(8), json!("8.1"), false),
            (ScalarPattern::Int(8), json!(false), false),
            (ScalarPattern::Float(8.0), json!(8), true),
            (ScalarPattern::Float(8.1), json!(8), false),
            (ScalarPattern::Float(8.0), json!("8"), true),
            (ScalarPattern::Float(8.1), json!("8.1"), true),
            (ScalarPattern::Float(8.1), json!("abc"), false),
            (ScalarPattern::Float(8.0), json!(false), false),
        ];
        for (pattern, value, want) in cases {
            assert_eq!(pattern.matches(value), *want, "{pattern:?} vs {value}");
        }
        assert_eq!(ScalarPattern::Float(5.0).display(), "5");
        assert_eq!(ScalarPattern::Null.display(), "<nil>");
    }
    /// The text-only shortcut for strings gives the answer the operand rules give through
    /// [`ValueView`], for text-only patterns; patterns with a duration or quantity operand keep
    /// taking the general path.
    #[test]
    fn text_only_shortcut_agrees_with_the_operand_rules() {
        let patterns = [
            "*@* | !*/* & *:* | */*:* & !*:*/* | *:*/*:*",
            "!*:latest",
            "?*",
            "a*&!*b|x",
            "!a | !b & c*",
            "",
            "*",
            "<10 | *s",
            "1Gi | big*",
            ">= 3",
        ];
        let texts = [
            "registry.example.com/shop/web:1.42.0",
            "nginx",
            "nginx:latest",
            "registry:5000/app",
            "web@sha256:abc",
            "ab",
            "axb",
            "x",
            "c1",
            "",
            "5s",
            "1Gi",
            "bigger",
            "4",
        ];
        for pattern in patterns {
            let compiled = StrPattern::new(pattern);
            let text_only = compiled
                .alternatives
                .iter()
                .flatten()
                .flat_map(Part::operands)
                .all(Operand::is_text_only);
            assert_eq!(compiled.text_only, text_only, "{pattern:?}");
            for text in texts {
                let value = json!(text);
                let view = ValueView::new(&value);
                let by_operands = compiled.raw == text
                    || compiled.holds(|operand: &Operand, op| operand.compare(op, &view));
                assert_eq!(
                    compiled.matches(&value),
                    by_operands,
                    "{pattern:?} vs {text:?}"
                );
            }
        }
        assert!(StrPattern::new("!*:latest").text_only);
        assert!(!StrPattern::new("<10 | *s").text_only);
    }
}
