//! Semantic versions as `github.com/blang/semver/v4` parses and orders them, the library behind
//! Kyverno's numeric condition operators.
//!
//! Cargo's `semver` crate reads the same grammar but differs where it matters here: it accepts
//! numeric pre-release identifiers beyond `u64` (blang rejects them) and its `Ord` looks at build
//! metadata (blang ignores it).

use std::cmp::Ordering;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Version {
    major: u64,
    minor: u64,
    patch: u64,
    pre: Vec<Identifier>,
}

/// One dot-separated pre-release identifier: numbers order numerically and before words.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum Identifier {
    Numeric(u64),
    Alphanumeric(String),
}

impl Version {
    /// `semver.Parse`: `MAJOR.MINOR.PATCH[-PRE][+BUILD]`, no leading zeros, no `v` prefix.
    pub fn parse(text: &str) -> Option<Self> {
        let mut parts = text.splitn(3, '.');
        let major = number(parts.next()?)?;
        let minor = number(parts.next()?)?;
        let mut rest = parts.next()?;
        if let Some((head, build)) = rest.split_once('+') {
            if !build
                .split('.')
                .all(|id| !id.is_empty() && id.bytes().all(is_alphanumeric))
            {
                return None;
            }
            rest = head;
        }
        let mut pre = Vec::new();
        if let Some((head, release)) = rest.split_once('-') {
            for id in release.split('.') {
                pre.push(pre_release(id)?);
            }
            rest = head;
        }
        let patch = number(rest)?;
        Some(Self {
            major,
            minor,
            patch,
            pre,
        })
    }
}

impl Ord for Version {
    fn cmp(&self, other: &Self) -> Ordering {
        (self.major, self.minor, self.patch)
            .cmp(&(other.major, other.minor, other.patch))
            .then_with(|| match (self.pre.is_empty(), other.pre.is_empty()) {
                // A release ranks above its pre-releases.
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

fn is_alphanumeric(byte: u8) -> bool {
    byte.is_ascii_alphanumeric() || byte == b'-'
}

fn has_leading_zero(text: &str) -> bool {
    text.len() > 1 && text.starts_with('0')
}

fn number(text: &str) -> Option<u64> {
    if !text.bytes().all(|b| b.is_ascii_digit()) || has_leading_zero(text) {
        return None;
    }
    text.parse().ok()
}

fn pre_release(id: &str) -> Option<Identifier> {
    if id.is_empty() {
        return None;
    }
    if id.bytes().all(|b| b.is_ascii_digit()) {
        return number(id).map(Identifier::Numeric);
    }
    id.bytes()
        .all(is_alphanumeric)
        .then(|| Identifier::Alphanumeric(id.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

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
            assert!(Version::parse(text).is_some(), "{text:?}");
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
            assert!(Version::parse(text).is_none(), "{text:?}");
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
            let (low, high) = (Version::parse(pair[0]), Version::parse(pair[1]));
            assert!(low < high, "{} < {}", pair[0], pair[1]);
        }
        let equal = |a: &str, b: &str| Version::parse(a).cmp(&Version::parse(b));
        assert_eq!(equal("1.2.3+a", "1.2.3+b"), Ordering::Equal);
        assert_eq!(equal("1.2.3-B", "1.2.3-a"), Ordering::Less);
    }
}
