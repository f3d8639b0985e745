//! Kyverno wildcards: `*` (any run, crossing `/`) and `?` (one character); nothing else is special.
//!
//! This is the matcher Kyverno uses everywhere a "wildcard" is mentioned (kinds, names,
//! namespaces, label keys, string patterns). It works on Unicode scalar values, is anchored at
//! both ends, is case-sensitive and has no escaping: `[`, `{` and `\` are ordinary characters.
//! The algorithm is the classic single-backtrack-point greedy matcher, so its cost is bounded by
//! `len(pattern) * len(text)` instead of growing exponentially with the number of stars.

/// Whether `text` matches `pattern` as a whole.
pub fn matches(pattern: &str, text: &str) -> bool {
    if pattern.is_empty() {
        return text.is_empty();
    }
    if pattern == "*" || pattern == text {
        return true;
    }
    if !has_wildcard(pattern) {
        return false;
    }
    // Bytes give the same answer as characters unless a `?` must consume one multi-byte
    // character: a literal pattern character is a whole UTF-8 sequence, whose lead byte never
    // matches a continuation byte, so a byte-wise match cannot end inside a character.
    if text.is_ascii() || !pattern.contains('?') {
        return matches_units(pattern.as_bytes(), text.as_bytes(), b'*', b'?');
    }
    let pattern: Vec<char> = pattern.chars().collect();
    let text: Vec<char> = text.chars().collect();
    matches_units(&pattern, &text, '*', '?')
}

fn matches_units<T: Copy + PartialEq>(pat: &[T], txt: &[T], star: T, one: T) -> bool {
    let (mut p, mut t) = (0usize, 0usize);
    // Position of the last `*` seen and of the text index it is currently assumed to cover up to.
    let mut backtrack: Option<(usize, usize)> = None;
    while t < txt.len() {
        match pat.get(p) {
            Some(&unit) if unit == star => {
                backtrack = Some((p, t));
                p += 1;
            }
            Some(&unit) if unit == one || unit == txt[t] => {
                p += 1;
                t += 1;
            }
            _ => match backtrack {
                // Let the last star swallow one more character and retry from just after it.
                Some((star_at, covered)) => {
                    p = star_at + 1;
                    t = covered + 1;
                    backtrack = Some((star_at, covered + 1));
                }
                None => return false,
            },
        }
    }
    pat[p..].iter().all(|&unit| unit == star)
}

/// A wildcard pattern sorted at policy load into the cheapest matcher that gives the same
/// answers as [`matches`], so the per-request work is a comparison or a few substring searches
/// instead of the general backtracking loop.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Wildcard {
    shape: Shape,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Shape {
    /// No wildcard character: the text must equal it.
    Exact(Box<str>),
    /// Only stars (at least one): every text matches.
    Any,
    /// Stars but no `?`: the text starts with `first`, ends with `last` and holds every one of
    /// `middle` in order between them, none overlapping.
    Stars {
        first: Box<str>,
        middle: Box<[Box<str>]>,
        last: Box<str>,
    },
    /// A `?` somewhere: the general matcher.
    General(Box<str>),
}

impl Wildcard {
    pub fn new(pattern: &str) -> Self {
        let shape = if !has_wildcard(pattern) {
            Shape::Exact(pattern.into())
        } else if pattern.contains('?') {
            Shape::General(pattern.into())
        } else if pattern.bytes().all(|byte| byte == b'*') {
            Shape::Any
        } else {
            // A pattern with a star always splits around its first and its last one.
            let (first, rest) = pattern.split_once('*').unwrap_or((pattern, ""));
            let (middle, last) = rest.rsplit_once('*').unwrap_or(("", rest));
            Shape::Stars {
                first: first.into(),
                middle: middle
                    .split('*')
                    .filter(|segment| !segment.is_empty())
                    .map(Box::from)
                    .collect(),
                last: last.into(),
            }
        };
        Self { shape }
    }

    /// Whether `text` matches as a whole; always the same answer as [`matches`]. Inlined, so
    /// the common exact and match-all shapes (kinds, names, namespaces) cost no call.
    #[inline]
    pub fn matches(&self, text: &str) -> bool {
        match &self.shape {
            Shape::Exact(exact) => same_bytes(exact.as_bytes(), text.as_bytes()),
            Shape::Any => true,
            Shape::Stars {
                first,
                middle,
                last,
            } => matches_stars(first, middle, last, text),
            Shape::General(pattern) => matches(pattern, text),
        }
    }
}

/// The [`Shape::Stars`] matcher.
fn matches_stars(first: &str, middle: &[Box<str>], last: &str, text: &str) -> bool {
    // Checking the length first keeps prefix and suffix from overlapping.
    let (first, last, bytes) = (first.as_bytes(), last.as_bytes(), text.as_bytes());
    if bytes.len() < first.len() + last.len()
        || !same_bytes(&bytes[..first.len()], first)
        || !same_bytes(&bytes[bytes.len() - last.len()..], last)
    {
        return false;
    }
    // Bytes, not characters: a segment is whole UTF-8 sequences, so wherever its bytes occur
    // they are whole characters of the text too.
    let mut rest = &bytes[first.len()..bytes.len() - last.len()];
    // The leftmost occurrence of each segment leaves the most room for the next, so a greedy
    // scan finds a match whenever one exists.
    for segment in middle.iter() {
        match find(rest, segment.as_bytes()) {
            Some(at) => rest = &rest[at + segment.len()..],
            None => return false,
        }
    }
    true
}

/// Slice equality without a call into the C library: the segments compared here are a few
/// bytes long, often none, where `memcmp`'s fixed cost dominates.
fn same_bytes(left: &[u8], right: &[u8]) -> bool {
    left.len() == right.len() && left.iter().zip(right).all(|(a, b)| a == b)
}

/// Byte offset of the first occurrence of `needle`; a one-byte needle (`*:*`, `*@*`, `*/*`) is
/// found by a vectorized byte search without the substring searcher's setup.
fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    match needle {
        &[byte] => memchr::memchr(byte, haystack),
        _ => memchr::memmem::find(haystack, needle),
    }
}

/// Whether `text` contains a character that makes it a wildcard pattern.
pub fn has_wildcard(text: &str) -> bool {
    text.contains(['*', '?'])
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Both matchers must give `want`: the compiled one is only a faster route to `matches`.
    fn assert_both(pattern: &str, text: &str, want: bool) {
        assert_eq!(
            matches(pattern, text),
            want,
            "matches({pattern:?}, {text:?})"
        );
        assert_eq!(
            Wildcard::new(pattern).matches(text),
            want,
            "Wildcard::new({pattern:?}).matches({text:?})"
        );
    }

    #[test]
    fn multi_byte_text_matches_by_characters() {
        let cases: &[(&str, &str, bool)] = &[
            ("*é*", "xéy", true),
            ("é*", "éa", true),
            ("*a", "éa", true),
            ("a*b", "aéb", true),
            ("é", "e", false),
            ("a?b", "aéb", true),
            ("a??b", "aéb", false),
            ("*?", "é", true),
            ("caf?", "café", true),
        ];
        for &(pattern, text, expected) in cases {
            assert_both(pattern, text, expected);
        }
    }

    #[test]
    fn wildcard_table() {
        let cases: &[(&str, &str, bool)] = &[
            ("", "", true),
            ("", "a", false),
            ("*", "", true),
            ("*", "anything/with/slashes", true),
            ("?", "", false),
            ("?", "a", true),
            ("?", "é", true),
            ("?", "ab", false),
            ("??", "ab", true),
            ("a*", "a", true),
            ("a*", "abc", true),
            ("a*", "ba", false),
            ("*a", "ba", true),
            ("*a", "ab", false),
            ("*right", "leftright", true),
            ("*right", "right", true),
            ("*right", "leftmiddle", false),
            ("ab*ba", "abbeba", true),
            ("ab*ba", "abbca", false),
            ("ab?ba", "abbba", true),
            ("ab?ba", "abbbba", false),
            ("ab?ba", "", false),
            ("*:latest", "nginx:latest", true),
            ("*:latest", "nginx", false),
            ("*:*", "registry:5000/img", true),
            ("*:*", "nginx", false),
            ("1E+*", "1E+00", true),
            ("Pod", "pod", false),
            ("[abc]", "a", false),
            ("[abc]", "[abc]", true),
            ("a\\*", "a\\xyz", true),
            ("{a,b}", "{a,b}", true),
            ("a.b", "axb", false),
            ("kube-*", "kube-system", true),
            ("*-snippet", "server-snippet", true),
            ("app.kubernetes.io/*", "app.kubernetes.io/name", true),
            ("*?", "", false),
            ("?*", "x", true),
            ("*a*b*c", "xaybzc", true),
            ("*a*b*c", "xaybzcd", false),
            ("a**b", "ab", true),
            ("**", "", true),
            ("**", "xyz", true),
            ("a*a", "a", false),
            ("a*a", "aa", true),
            ("ab*bc", "abc", false),
            ("ab*bc", "abbc", true),
            ("*ab*ab*", "xabyab", true),
            ("*ab*ab*", "xaby", false),
            ("*ab*ab*", "aab", false),
            ("*aab", "aaab", true),
            ("*:*/*:*", "registry:5000/shop/web:1.2", true),
            ("*:*/*:*", "registry:5000/shop/web", false),
            ("*/*:*", "ghcr.io/shop/web:1.2", true),
            ("*/*:*", "nginx:1.2", false),
            ("*:*/*", "ghcr.io/shop/web:1.2", false),
            ("*:*/*", "registry:5000/web", true),
            ("*@*", "web@sha256:abc", true),
            ("*@*", "web:1.2", false),
            ("*é*é", "aébé", true),
            ("*é*é", "aéb", false),
            ("é*", "e", false),
            ("*?*", "", false),
            ("x*?*y", "xy", false),
            ("x*?*y", "xéy", true),
        ];
        for &(pattern, text, want) in cases {
            assert_both(pattern, text, want);
        }
    }

    /// Every pattern over `a`, `é`, `*` and `?` up to four characters against every text over
    /// `a`, `b` and `é` up to four characters: the compiled matcher never disagrees.
    #[test]
    fn compiled_agrees_with_matches_exhaustively() {
        fn words(alphabet: &[char], max: usize) -> Vec<String> {
            let mut all = vec![String::new()];
            let mut layer = vec![String::new()];
            for _ in 0..max {
                layer = layer
                    .iter()
                    .flat_map(|word| alphabet.iter().map(move |c| format!("{word}{c}")))
                    .collect();
                all.extend(layer.iter().cloned());
            }
            all
        }
        let texts = words(&['a', 'b', 'é'], 4);
        for pattern in words(&['a', 'é', '*', '?'], 4) {
            let compiled = Wildcard::new(&pattern);
            for text in &texts {
                assert_eq!(
                    compiled.matches(text),
                    matches(&pattern, text),
                    "{pattern:?} vs {text:?}"
                );
            }
        }
    }

    #[test]
    fn many_stars_stay_fast() {
        let text = "a".repeat(5000);
        let pattern = format!("{}b", "*a".repeat(30));
        assert!(!matches(&pattern, &text));
        assert!(!Wildcard::new(&pattern).matches(&text));
        let trailing = format!("{}*", "*a".repeat(30));
        assert!(matches(&trailing, &text));
        assert!(Wildcard::new(&trailing).matches(&text));
    }

    #[test]
    fn detects_wildcards() {
        assert!(has_wildcard("a*"));
        assert!(has_wildcard("a?"));
        assert!(!has_wildcard("a[b]{c}\\d"));
    }
}
