//! Text from manifests and test files as plain-text output carries it.

use std::borrow::Cow;

/// `text` with its control characters written as escapes (`\n`, `\u{1b}`), for plain-text
/// output. Names, values and file names come from manifests and test files, which whoever
/// opened the pull request wrote: a newline there would start a line of its own, which a CI
/// runner may read as a command (`::error`, `::add-mask::`), and an escape would reach the
/// reader's terminal.
pub fn printable(text: &str) -> Cow<'_, str> {
    if !text.chars().any(char::is_control) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for character in text.chars() {
        if character.is_control() {
            out.extend(character.escape_debug());
        } else {
            out.push(character);
        }
    }
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_characters_become_escapes() {
        assert!(matches!(printable("web-1 é"), Cow::Borrowed("web-1 é")));
        assert_eq!(
            printable("web\n::error::x\r\u{1b}[31m\u{85}\t"),
            "web\\n::error::x\\r\\u{1b}[31m\\u{85}\\t"
        );
    }
}
