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

/// Whether `text` contains a character that makes it a wildcard pattern.
pub fn has_wildcard(text: &str) -> bool {
    text.contains(['*', '?'])
}

#[cfg(test)]
mod tests {
    use super::*;

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
            assert_eq!(matches(pattern, text), expected, "{pattern:?} vs {text:?}");
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
        ];
        for &(pattern, text, want) in cases {
            assert_eq!(
                matches(pattern, text),
                want,
                "matches({pattern:?}, {text:?})"
            );
        }
    }

    #[test]
    fn many_stars_stay_fast() {
        let text = "a".repeat(5000);
        let pattern = format!("{}b", "*a".repeat(30));
        assert!(!matches(&pattern, &text));
        assert!(matches(&format!("{}*", "*a".repeat(30)), &text));
    }

    #[test]
    fn detects_wildcards() {
        assert!(has_wildcard("a*"));
        assert!(has_wildcard("a?"));
        assert!(!has_wildcard("a[b]{c}\\d"));
    }
}
