//! The scanner against serde_json: every value in every place, nesting near the limit, stops.

use super::*;
use crate::projection::{from_str, from_str_strictly};

/// Keeps `kept` and the `kept` of each element of `list`; skips everything else.
fn projection() -> Projection {
    let element = Projection::Fields([("kept".to_owned(), Projection::Whole)].into());
    Projection::Fields(
        [
            ("kept".to_owned(), Projection::Whole),
            ("list".to_owned(), element),
        ]
        .into(),
    )
}

/// Checks that the scanner accepts nothing serde_json refuses and builds what serde_json
/// builds, and that `from_str` answers as serde_json alone does; whether the scanner read
/// `text` itself.
fn agrees(text: &str) -> bool {
    let projection = projection();
    let strict = from_str_strictly(text, &projection).map_err(|error| error.to_string());
    let mut scanner = Scanner::new(text);
    let fast = scanner
        .projected(&projection, 0)
        .filter(|_| scanner.at_end());
    if let Some(value) = &fast {
        assert_eq!(Ok(value), strict.as_ref(), "{text}");
    }
    let combined = from_str(text, &projection).map_err(|error| error.to_string());
    assert_eq!(combined, strict, "{text}");
    fast.is_some()
}

/// Where a value can sit: read whole, read through `Fields`, skipped, skipped deeper.
const PLACES: [&str; 7] = [
    "V",
    r#"{"kept": V}"#,
    r#"{"skipped": V, "kept": 1}"#,
    r#"{"skipped": [V, V]}"#,
    r#"{"skipped": {"k": V}}"#,
    r#"{"list": [{"kept": V, "other": V}, V]}"#,
    "{\"list\":\n[ V ] ,\t\"kept\" :V\r}",
];

/// Values the scanner reads itself wherever they are.
const COMMON: &[&str] = &[
    r#""plain""#,
    r#""""#,
    r#""a somewhat longer string, past eight bytes""#,
    r#""quote \" backslash \\ slash \/ \b\f\n\r\t""#,
    r#""\u00e9 \u0041 \uFFFF \ud83d\ude00 \uD83D\uDE00""#,
    "\"é ☃ 😀 \u{7f}\"",
    "0",
    "7",
    "-7",
    "123456789012345678",
    "-123456789012345678",
    "1234567890123456789",
    "99999999999999999999",
    "-0",
    "1.5",
    "-0.25",
    "1e3",
    "1E+3",
    "2.5e-3",
    "1e-400",
    "0e400",
    "true",
    "false",
    "null",
    "[]",
    "{}",
    "[ ]",
    "{ }",
    r#"[1, "a", [true], {"x": null}]"#,
    r#"{"a": {"b": [1, {"c": "d"}]}, "e": -1}"#,
    r#"{"k\u0065pt": 1, "kept": 2}"#,
    r#"{"kept": 1, "kept": 2}"#,
];

/// Values serde_json refuses, and some it accepts that only it can judge.
const HARD: &[&str] = &[
    "1e400",
    "-1e400",
    "1.8e308",
    "1e309",
    "01",
    "-01",
    "1.",
    ".5",
    "-",
    "+1",
    "1e",
    "1e+",
    "1.e3",
    "0x10",
    "NaN",
    "Infinity",
    r#""\ud800""#,
    r#""\udc00""#,
    r#""\ud800\u0041""#,
    r#""\ud800x""#,
    r#""\ud800\n""#,
    r#""\ud800\ud800""#,
    r#""\x""#,
    r#""\u12""#,
    r#""\u12G4""#,
    "\"tab\there\"",
    "\"nul\u{0}\"",
    "\"unterminated",
    "\"ends in a backslash\\",
    "tru",
    "nul",
    "falsey",
    "True",
    "[1,]",
    "[,1]",
    "[1 2]",
    "[1,,2]",
    "{\"a\":1,}",
    "{,\"a\":1}",
    "{\"a\" 1}",
    "{\"a\":1 \"b\":2}",
    "{\"a\":}",
    "{1:2}",
    "{\"a\"::1}",
    "[",
    "{",
    "]",
    "}",
    "",
    "[1]]",
    "{\"a\":1}}",
];

#[test]
fn values_read_as_serde_json_reads_them_wherever_they_are() {
    let out_of_range = "9".repeat(400);
    let in_range = "9".repeat(300);
    let values = COMMON.iter().chain(HARD).copied();
    for value in values.chain([out_of_range.as_str(), in_range.as_str()]) {
        for place in PLACES {
            let text = place.replace('V', value);
            let read = agrees(&text);
            if COMMON.contains(&value) {
                assert!(read, "the scanner gave up on {text}");
            }
        }
    }
}

#[test]
fn nesting_is_left_to_serde_json_near_its_limit() {
    for depth in 100..=135 {
        for (open, close) in [("[", "]"), (r#"{"a":"#, "}")] {
            let deep = format!("{}1{}", open.repeat(depth), close.repeat(depth));
            for place in PLACES {
                agrees(&place.replace('V', &deep));
            }
        }
    }
    let deep = format!("{}1{}", "[".repeat(100), "]".repeat(100));
    assert!(agrees(&format!(r#"{{"skipped": {deep}}}"#)));
    let deep = format!("{}1{}", "[".repeat(129), "]".repeat(129));
    assert!(from_str(&format!(r#"{{"skipped": {deep}}}"#), &projection()).is_err());
}

#[test]
fn strings_borrow_unless_they_hold_escapes() {
    let mut scanner = Scanner::new(r#" "plain" "t\u0061b\tbed""#);
    let plain = scanner.string().unwrap();
    assert_eq!(scanner.plain(plain), Some("plain"));
    assert!(matches!(
        scanner.decoded(plain),
        Some(Cow::Borrowed("plain"))
    ));
    let escaped = scanner.string().unwrap();
    assert_eq!(scanner.plain(escaped), None);
    assert_eq!(scanner.decoded(escaped).unwrap(), "tab\tbed");
    assert!(scanner.at_end());
}

#[test]
fn plain_runs_stop_at_the_first_quote_backslash_or_control_character() {
    for length in 0..20 {
        let plain = "x".repeat(length);
        for stop in ["\"", "\\", "\n", "\u{1}", "\u{1f}"] {
            let text = format!("{plain}{stop}é\"\\");
            assert_eq!(plain_run(text.as_bytes()), length, "{text:?}");
        }
        assert_eq!(
            plain_run(format!("{plain}é ~\u{7f}").as_bytes()),
            length + 5
        );
    }
}

/// `[0,0,…]` with `count` elements where `place` puts it.
fn zeros(place: &str, count: usize) -> String {
    let array = format!("[{}]", vec!["0"; count].join(","));
    place.replacen('V', &array, 1)
}

#[test]
fn both_readers_build_at_most_max_values_and_refuse_more() {
    use crate::projection::{MAX_VALUES, is_too_many_values};
    // Built: the outer object, the array and its elements.
    for (place, projection) in [
        (r#"{"kept": V}"#, projection()),
        (r#"{"kept": V}"#, Projection::Whole),
        (r#"{"list": [{"kept": V}]}"#, projection()),
    ] {
        let containers = if place.contains("list") { 4 } else { 2 };
        let fits = zeros(place, MAX_VALUES - containers);
        let over = zeros(place, MAX_VALUES - containers + 1);

        let mut scanner = Scanner::new(&fits);
        assert!(scanner.projected(&projection, 0).is_some(), "{place}");
        let built = from_str(&fits, &projection).unwrap();
        assert_eq!(
            built,
            from_str_strictly(&fits, &projection).unwrap(),
            "{place}"
        );

        let mut scanner = Scanner::new(&over);
        assert!(scanner.projected(&projection, 0).is_none(), "{place}");
        for error in [
            from_str(&over, &projection).unwrap_err(),
            from_str_strictly(&over, &projection).unwrap_err(),
        ] {
            assert!(is_too_many_values(&error), "{place}: {error}");
        }
    }
    // What is skipped is checked, not built, and does not count.
    let skipped = zeros(r#"{"skipped": V, "kept": 1}"#, MAX_VALUES * 2);
    assert_eq!(
        from_str(&skipped, &projection()).unwrap(),
        serde_json::json!({"kept": 1})
    );
}
