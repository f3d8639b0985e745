//! Kyverno wildcards: `*` (any run, crossing `/`) and `?` (one character); nothing else is special.

pub fn matches(pattern: &str, text: &str) -> bool {
    pattern == text || pattern == "*"
}

/// Whether `text` contains a character that makes it a wildcard pattern.
pub fn has_wildcard(text: &str) -> bool {
    text.contains(['*', '?'])
}
