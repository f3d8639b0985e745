//! Semantic versions and ranges as blang/semver v4 reads them, which is what Kyverno uses for
//! `semver_compare` and for the numeric condition operators.
//!
//! blang's range grammar has quirks that policies depend on, kept here: parts are separated by
//! single spaces unless the space follows `<`, `>` or `=`; a part of one character is dropped; a
//! `x` anywhere in a part makes it a wildcard (`>=1.2.x` is `>=1.2.0`, `1.x` is
//! `>=1.0.0 <2.0.0`), and `!1.x` expands to `<1.0.0 >=2.0.0`, which no version satisfies.

use super::gofmt::quote;
use std::cmp::Ordering;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Version {
    pub major: u64,
    pub minor: u64,
    pub patch: u64,
    pre: Vec<Prerelease>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Prerelease {
    Number(u64),
    Text(String),
}

const ALPHANUMERIC: &str = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ-0123456789";

fn contains_only(text: &str, set: &str) -> bool {
    text.chars().all(|c| set.contains(c))
}

fn only_digits(text: &str) -> bool {
    text.bytes().all(|b| b.is_ascii_digit())
}

fn has_leading_zero(text: &str) -> bool {
    text.len() > 1 && text.starts_with('0')
}

/// `strconv.ParseUint(text, 10, 64)` on text already known to be digits.
fn parse_u64(text: &str) -> Result<u64, String> {
    if text.is_empty() {
        return Err(format!(
            "strconv.ParseUint: parsing {}: invalid syntax",
            quote(text)
        ));
    }
    text.parse().map_err(|_| {
        format!(
            "strconv.ParseUint: parsing {}: value out of range",
            quote(text)
        )
    })
}

impl Version {
    /// blang's strict `Parse`: `MAJOR.MINOR.PATCH[-PRE][+BUILD]`, no leading zeros, no `v`.
    pub fn parse(text: &str) -> Result<Self, String> {
        if text.is_empty() {
            return Err("Version string empty".to_owned());
        }
        let mut parts = text.splitn(3, '.');
        let (Some(major), Some(minor), Some(rest)) = (parts.next(), parts.next(), parts.next())
        else {
            return Err("No Major.Minor.Patch elements found".to_owned());
        };
        let number = |text: &str, name: &str| -> Result<u64, String> {
            if !only_digits(text) {
                return Err(format!(
                    "Invalid character(s) found in {name} number {}",
                    quote(text)
                ));
            }
            if has_leading_zero(text) {
                let capitalised = format!("{}{}", name[..1].to_uppercase(), &name[1..]);
                return Err(format!(
                    "{capitalised} number must not contain leading zeroes {}",
                    quote(text)
                ));
            }
            parse_u64(text)
        };
        let major = number(major, "major")?;
        let minor = number(minor, "minor")?;
        let mut patch_text = rest;
        let mut build = None;
        if let Some(at) = patch_text.find('+') {
            build = Some(&patch_text[at + 1..]);
            patch_text = &patch_text[..at];
        }
        let mut prerelease = None;
        if let Some(at) = patch_text.find('-') {
            prerelease = Some(&patch_text[at + 1..]);
            patch_text = &patch_text[..at];
        }
        let patch = number(patch_text, "patch")?;
        let mut pre = Vec::new();
        for part in prerelease.into_iter().flat_map(|p| p.split('.')) {
            pre.push(Prerelease::parse(part)?);
        }
        for part in build.into_iter().flat_map(|b| b.split('.')) {
            if part.is_empty() {
                return Err("Build meta data is empty".to_owned());
            }
            if !contains_only(part, ALPHANUMERIC) {
                return Err(format!(
                    "Invalid character(s) found in build meta data {}",
                    quote(part)
                ));
            }
        }
        Ok(Self {
            major,
            minor,
            patch,
            pre,
        })
    }

    /// The version Kyverno compares when `Parse` fails and the error is ignored: `0.0.0`.
    pub fn zero() -> Self {
        Self {
            major: 0,
            minor: 0,
            patch: 0,
            pre: Vec::new(),
        }
    }
}

impl Prerelease {
    fn parse(text: &str) -> Result<Self, String> {
        if text.is_empty() {
            return Err("Prerelease is empty".to_owned());
        }
        if only_digits(text) {
            if has_leading_zero(text) {
                return Err(format!(
                    "Numeric PreRelease version must not contain leading zeroes {}",
                    quote(text)
                ));
            }
            return parse_u64(text).map(Prerelease::Number);
        }
        if contains_only(text, ALPHANUMERIC) {
            return Ok(Prerelease::Text(text.to_owned()));
        }
        Err(format!(
            "Invalid character(s) found in prerelease {}",
            quote(text)
        ))
    }
}

impl Ord for Prerelease {
    fn cmp(&self, other: &Self) -> Ordering {
        match (self, other) {
            (Prerelease::Number(a), Prerelease::Number(b)) => a.cmp(b),
            (Prerelease::Number(_), Prerelease::Text(_)) => Ordering::Less,
            (Prerelease::Text(_), Prerelease::Number(_)) => Ordering::Greater,
            (Prerelease::Text(a), Prerelease::Text(b)) => a.cmp(b),
        }
    }
}

impl PartialOrd for Prerelease {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Version {
    fn cmp(&self, other: &Self) -> Ordering {
        (self.major, self.minor, self.patch)
            .cmp(&(other.major, other.minor, other.patch))
            .then_with(|| match (self.pre.is_empty(), other.pre.is_empty()) {
                (true, true) => Ordering::Equal,
                (true, false) => Ordering::Greater,
                (false, true) => Ordering::Less,
                (false, false) => self.pre.cmp(&other.pre),
            })
    }
}

impl PartialOrd for Version {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Comparator {
    Equal,
    NotEqual,
    Greater,
    GreaterEqual,
    Less,
    LessEqual,
}

impl Comparator {
    fn parse(text: &str) -> Option<Self> {
        Some(match text {
            "" | "=" | "==" => Comparator::Equal,
            "!" | "!=" => Comparator::NotEqual,
            ">" => Comparator::Greater,
            ">=" => Comparator::GreaterEqual,
            "<" => Comparator::Less,
            "<=" => Comparator::LessEqual,
            _ => return None,
        })
    }

    fn accepts(self, ordering: Ordering) -> bool {
        match self {
            Comparator::Equal => ordering == Ordering::Equal,
            Comparator::NotEqual => ordering != Ordering::Equal,
            Comparator::Greater => ordering == Ordering::Greater,
            Comparator::GreaterEqual => ordering != Ordering::Less,
            Comparator::Less => ordering == Ordering::Less,
            Comparator::LessEqual => ordering != Ordering::Greater,
        }
    }
}

/// A blang range: alternatives (`||`) of conjunctions (space-separated comparisons).
#[derive(Debug, Clone)]
pub struct Range {
    alternatives: Vec<Vec<(Comparator, Version)>>,
}

impl Range {
    pub fn parse(text: &str) -> Result<Self, String> {
        let parts = split_and_trim(text);
        let alternatives = split_or_parts(&parts)?;
        let mut parsed = Vec::with_capacity(alternatives.len());
        for alternative in alternatives {
            let mut conjunction = Vec::new();
            for part in expand_wildcards(alternative)? {
                let (operator, version) = split_comparator_version(&part)?;
                let comparator = Comparator::parse(&operator).ok_or_else(|| {
                    format!(
                        "Could not parse Range {}: Could not parse comparator {} in {}",
                        quote(&part),
                        quote(&operator),
                        quote(&format!("{operator}{version}"))
                    )
                })?;
                let version = Version::parse(&version).map_err(|error| {
                    format!(
                        "Could not parse Range {}: Could not parse version {} in {}: {error}",
                        quote(&part),
                        quote(&version),
                        quote(&format!("{operator}{version}"))
                    )
                })?;
                conjunction.push((comparator, version));
            }
            parsed.push(conjunction);
        }
        Ok(Self {
            alternatives: parsed,
        })
    }

    pub fn contains(&self, version: &Version) -> bool {
        self.alternatives.iter().any(|conjunction| {
            conjunction
                .iter()
                .all(|(comparator, bound)| comparator.accepts(version.cmp(bound)))
        })
    }
}

fn split_and_trim(text: &str) -> Vec<String> {
    let bytes = text.as_bytes();
    let mut result = Vec::new();
    let mut last = 0usize;
    let mut last_char = 0u8;
    for (i, &b) in bytes.iter().enumerate() {
        if b == b' ' && !matches!(last_char, b'>' | b'<' | b'=') {
            if last + 1 < i {
                result.push(&text[last..i]);
            }
            last = i + 1;
        } else if b != b' ' {
            last_char = b;
        }
    }
    if last + 1 < bytes.len() {
        result.push(&text[last..]);
    }
    result
        .into_iter()
        .map(|part| part.replace(' ', ""))
        .collect()
}

fn split_or_parts(parts: &[String]) -> Result<Vec<&[String]>, String> {
    let mut alternatives = Vec::new();
    let mut last = 0;
    for (i, part) in parts.iter().enumerate() {
        if part == "||" {
            if i == 0 {
                return Err("First element in range is '||'".to_owned());
            }
            alternatives.push(&parts[last..i]);
            last = i + 1;
        }
    }
    if last == parts.len() {
        return Err("Last element in range is '||'".to_owned());
    }
    alternatives.push(&parts[last..]);
    Ok(alternatives)
}

fn split_comparator_version(part: &str) -> Result<(String, String), String> {
    let Some(at) = part.find(|c: char| c.is_ascii_digit()) else {
        return Err(format!(
            "Could not get version from string: {}",
            quote(part)
        ));
    };
    Ok((part[..at].trim().to_owned(), part[at..].to_owned()))
}

#[derive(Clone, Copy, PartialEq)]
enum Wildcard {
    None,
    Major,
    Minor,
    Patch,
}

fn expand_wildcards(parts: &[String]) -> Result<Vec<String>, String> {
    let mut expanded = Vec::with_capacity(parts.len());
    for part in parts {
        if !part.contains('x') {
            expanded.push(part.clone());
            continue;
        }
        let (operator, version) = split_comparator_version(part)?;
        let pieces: Vec<&str> = version.split('.').collect();
        let wildcard = match (pieces.last() == Some(&"x"), pieces.len()) {
            (true, 1) => Wildcard::Major,
            (true, 2) => Wildcard::Minor,
            (true, 3) => Wildcard::Patch,
            _ => Wildcard::None,
        };
        let flat = flatten_wildcard(&version);
        let (result_operator, increment) = match operator.as_str() {
            ">" => (">=", true),
            ">=" => (">=", false),
            "<" => ("<", false),
            "<=" => ("<", true),
            "" | "=" | "==" => {
                expanded.push(format!(">={flat}"));
                ("<", true)
            }
            "!=" | "!" => {
                expanded.push(format!("<{flat}"));
                (">=", true)
            }
            _ => ("", false),
        };
        let result_version = if increment {
            match wildcard {
                Wildcard::Patch => increment_piece(&flat, 1),
                Wildcard::Minor => increment_piece(&flat, 0),
                Wildcard::Major | Wildcard::None => String::new(),
            }
        } else {
            flat
        };
        expanded.push(format!("{result_operator}{result_version}"));
    }
    Ok(expanded)
}

/// `1.2.x` → `1.2.0`, `1.x` and `1.x.x` → `1.0.0`.
fn flatten_wildcard(version: &str) -> String {
    let flat = version.replacen(".x.x", ".x", 1).replacen(".x", ".0", 1);
    if flat.split('.').count() == 2 {
        format!("{flat}.0")
    } else {
        flat
    }
}

/// Adds one to the dot-separated piece at `index`; blang ignores the error and yields "" when
/// the piece is not a number.
fn increment_piece(version: &str, index: usize) -> String {
    let mut pieces: Vec<String> = version.split('.').map(str::to_owned).collect();
    let Some(piece) = pieces.get_mut(index) else {
        return String::new();
    };
    match piece.parse::<i64>() {
        Ok(n) => *piece = (n + 1).to_string(),
        Err(_) => return String::new(),
    }
    pieces.join(".")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(text: &str) -> Version {
        Version::parse(text).unwrap_or_else(|e| panic!("{text}: {e}"))
    }

    #[test]
    fn versions() {
        assert!(v("1.2.3") < v("1.10.0"));
        assert!(v("1.0.0-alpha") < v("1.0.0"));
        assert!(v("1.0.0-alpha") < v("1.0.0-alpha.1"));
        assert!(v("1.0.0-alpha.1") < v("1.0.0-alpha.beta"));
        assert!(v("1.0.0-2") < v("1.0.0-11"));
        assert!(v("1.0.0+build.1") == v("1.0.0+build.1"));
        assert_eq!(v("1.0.0+a").cmp(&v("1.0.0+b")), Ordering::Equal);
        let errors: &[(&str, &str)] = &[
            ("", "Version string empty"),
            ("1.2", "No Major.Minor.Patch elements found"),
            (
                "v1.2.3",
                r#"Invalid character(s) found in major number "v1""#,
            ),
            (
                "01.2.3",
                r#"Major number must not contain leading zeroes "01""#,
            ),
            (
                "1.02.3",
                r#"Minor number must not contain leading zeroes "02""#,
            ),
            (
                "1.2.03",
                r#"Patch number must not contain leading zeroes "03""#,
            ),
            ("1.2.3-", "Prerelease is empty"),
            (
                "1.2.3-01",
                r#"Numeric PreRelease version must not contain leading zeroes "01""#,
            ),
            ("1.2.3+", "Build meta data is empty"),
            (
                "1.2.3-a_b",
                r#"Invalid character(s) found in prerelease "a_b""#,
            ),
        ];
        for (text, want) in errors {
            assert_eq!(Version::parse(text).err().as_deref(), Some(*want), "{text}");
        }
    }

    #[test]
    fn ranges() {
        let cases: &[(&str, &str, bool)] = &[
            ("4.1.3", ">=4.1.x", true),
            ("4.1.3", "!4.x.x", false),
            ("1.8.6", ">1.0.0 <2.0.0", true),
            ("2.1.5", "<2.0.0 || >=3.0.0", false),
            ("3.0.0", "<2.0.0 || >=3.0.0", true),
            ("1.2.3", ">= 1.2.3", true),
            ("1.2.3", "1.2.x", true),
            ("1.3.0", "1.2.x", false),
            ("1.9.9", "1.x", true),
            ("2.0.0", "1.x", false),
            ("1.2.3", "<=1.2.x", true),
            ("1.3.0", "<=1.2.x", false),
            ("1.3.0", ">1.2.x", true),
            ("1.2.9", ">1.2.x", false),
            ("1.2.3", "=1.2.3", true),
            ("1.2.3", "!=1.2.3", false),
            ("1.2.4", "!1.2.3", true),
            ("1.2.3-rc.1", "<1.2.3", true),
        ];
        for (version, range, want) in cases {
            let range_parsed = Range::parse(range).unwrap_or_else(|e| panic!("{range}: {e}"));
            assert_eq!(
                range_parsed.contains(&v(version)),
                *want,
                "{version} in {range}"
            );
        }
        let errors: &[(&str, &str)] = &[
            ("", "Last element in range is '||'"),
            ("|| 1.0.0", "First element in range is '||'"),
            ("1.0.0 ||", "Last element in range is '||'"),
            ("abc", r#"Could not get version from string: "abc""#),
            (
                "~1.0.0",
                r#"Could not parse Range "~1.0.0": Could not parse comparator "~" in "~1.0.0""#,
            ),
            (
                ">1.0",
                r#"Could not parse Range ">1.0": Could not parse version "1.0" in ">1.0": No Major.Minor.Patch elements found"#,
            ),
            // A part of one character is dropped, so a lone wildcard is an empty range.
            ("x", "Last element in range is '||'"),
            (
                "1 .2.3",
                r#"Could not parse Range ".2.3": Could not parse comparator "." in ".2.3""#,
            ),
        ];
        for (range, want) in errors {
            assert_eq!(
                Range::parse(range).err().as_deref(),
                Some(*want),
                "{range:?}"
            );
        }
    }

    #[test]
    fn parses_as_blang_does() {
        let valid = [
            "1.2.3",
            "0.0.0",
            "1.2.3-alpha",
            "1.2.3-alpha.1",
            "1.2.3-0.3.7",
            "1.2.3-x.7.z.92",
            "1.2.3--",
            "1.2.3-beta-1",
            "1.2.3+build",
            "1.2.3+build.01",
            "1.2.3-rc.1+build-5",
            "1.2.3+b-1",
            "18446744073709551615.0.0",
        ];
        for text in valid {
            assert!(Version::parse(text).is_ok(), "{text:?}");
        }
        let invalid = [
            "",
            "1",
            "1.2",
            "v1.2.3",
            "01.2.3",
            "1.02.3",
            "1.2.03",
            "1.2.3-",
            "1.2.3-a..b",
            "1.2.3-01",
            "1.2.3+",
            "1.2.3+a..b",
            "1.2.3-a_b",
            "1.2.3-18446744073709551616",
            "18446744073709551616.0.0",
            "1.2.3.4",
            " 1.2.3",
            "1.2.3 ",
            "1.2.x",
            "1.2.3-ä",
        ];
        for text in invalid {
            assert!(Version::parse(text).is_err(), "{text:?}");
        }
    }

    #[test]
    fn orders_as_semver_2() {
        let ascending = [
            "1.0.0-alpha",
            "1.0.0-alpha.1",
            "1.0.0-alpha.beta",
            "1.0.0-beta",
            "1.0.0-beta.2",
            "1.0.0-beta.11",
            "1.0.0-rc.1",
            "1.0.0",
            "1.0.1",
            "1.1.0",
            "2.0.0",
        ];
        for pair in ascending.windows(2) {
            assert!(v(pair[0]) < v(pair[1]), "{} < {}", pair[0], pair[1]);
        }
        assert_eq!(v("1.2.3+a").cmp(&v("1.2.3+b")), Ordering::Equal);
        assert_eq!(v("1.2.3-B").cmp(&v("1.2.3-a")), Ordering::Less);
    }
}
