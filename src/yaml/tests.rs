use super::*;
use crate::json_path::JsonPath;
use serde_json::json;

fn one(text: &str) -> Document {
    let mut documents = parse_documents(text).unwrap();
    assert_eq!(documents.len(), 1, "{text:?}");
    documents.remove(0)
}

fn err(text: &str) -> String {
    parse_documents(text).unwrap_err().to_string()
}

fn path(pointer: &str) -> JsonPath {
    JsonPath::parse_pointer(pointer).unwrap()
}

fn loc(location: Option<Location>) -> String {
    location.map_or("-".into(), |l| l.to_string())
}

#[test]
fn plain_scalars_resolve_as_go_yaml_v2() {
    let cases: &[(&str, Value)] = &[
        ("~", json!(null)),
        ("null", json!(null)),
        ("Null", json!(null)),
        ("NULL", json!(null)),
        ("", json!(null)),
        ("nULL", json!("nULL")),
        ("y", json!(true)),
        ("Y", json!(true)),
        ("yes", json!(true)),
        ("Yes", json!(true)),
        ("YES", json!(true)),
        ("yEs", json!("yEs")),
        ("on", json!(true)),
        ("On", json!(true)),
        ("ON", json!(true)),
        ("true", json!(true)),
        ("True", json!(true)),
        ("TRUE", json!(true)),
        ("n", json!(false)),
        ("N", json!(false)),
        ("no", json!(false)),
        ("No", json!(false)),
        ("NO", json!(false)),
        ("off", json!(false)),
        ("Off", json!(false)),
        ("OFF", json!(false)),
        ("false", json!(false)),
        ("False", json!(false)),
        ("FALSE", json!(false)),
        ("0", json!(0)),
        ("42", json!(42)),
        ("+1", json!(1)),
        ("-0", json!(0)),
        ("-17", json!(-17)),
        ("0755", json!(493)),
        ("-0755", json!(-493)),
        ("0o17", json!(15)),
        ("0x1F", json!(31)),
        ("0X1f", json!(31)),
        ("-0x1F", json!(-31)),
        ("0b1010", json!(10)),
        ("-0b1010", json!(-10)),
        ("1_000", json!(1000)),
        ("0x_1F", json!(31)),
        ("08", json!(8)),
        ("09.5", json!(9.5)),
        ("9223372036854775807", json!(9_223_372_036_854_775_807i64)),
        ("-9223372036854775808", json!(i64::MIN)),
        ("18446744073709551615", json!(u64::MAX)),
        ("0xFFFFFFFFFFFFFFFF", json!(u64::MAX)),
        ("0x10000000000000000", json!("0x10000000000000000")),
        ("-18446744073709551615", json!(-1.8446744073709552e19)),
        (
            "123456789012345678901234567890",
            json!(1.2345678901234568e29),
        ),
        ("1e3", json!(1000)),
        ("1E3", json!(1000)),
        ("1.5", json!(1.5)),
        ("1.", json!(1)),
        (".5", json!(0.5)),
        ("-.5", json!(-0.5)),
        ("+.5e1", json!(5)),
        ("1_000.5", json!(1000.5)),
        ("6.02e23", json!(6.02e23)),
        ("1e400", json!("1e400")),
        ("1e", json!("1e")),
        (".", json!(".")),
        ("._5", json!("._5")),
        ("+", json!("+")),
        ("0x", json!("0x")),
        ("12:30", json!("12:30")),
        ("1,000", json!("1,000")),
        ("2001-12-14", json!("2001-12-14")),
        ("2001-12-14T21:59:43.10Z", json!("2001-12-14T21:59:43.10Z")),
        ("<<", json!("<<")),
        ("nginx:1.25", json!("nginx:1.25")),
        ("\"0755\"", json!("0755")),
        ("'yes'", json!("yes")),
        ("\"\"", json!("")),
        ("\"1e3\"", json!("1e3")),
        ("|\n  0755\n", json!("0755\n")),
        (">-\n  on\n", json!("on")),
        ("!!str 0755", json!("0755")),
        ("!!str", json!("")),
        ("!!int \"0755\"", json!(493)),
        ("!!bool \"yes\"", json!(true)),
        ("!!float 1", json!(1)),
        ("!!float \"1.5\"", json!(1.5)),
        ("!!null ~", json!(null)),
        ("!!null \"\"", json!(null)),
        ("!!timestamp 2001-12-14", json!("2001-12-14")),
        ("!<tag:yaml.org,2002:int> \"3\"", json!(3)),
        ("!custom 42", json!("42")),
        ("! 42", json!("42")),
        ("!!binary aGVsbG8=", json!("hello")),
        ("!!binary |\n  aGVs\n  bG8=\n", json!("hello")),
    ];
    for (text, expected) in cases {
        let document =
            parse_documents(&format!("v: {text}\n")).unwrap_or_else(|e| panic!("{text:?}: {e}"));
        assert_eq!(&document[0].value["v"], expected, "v: {text}");
    }
}

#[test]
fn scalar_errors_carry_their_location() {
    let cases = [
        (
            "v: .inf",
            "1:4: unsupported value `.inf`: JSON has no infinity or NaN",
        ),
        (
            "v: -.Inf",
            "1:4: unsupported value `-.Inf`: JSON has no infinity or NaN",
        ),
        (
            "v: .nan",
            "1:4: unsupported value `.nan`: JSON has no infinity or NaN",
        ),
        (
            "a:\n  v: !!int abc",
            "2:12: cannot decode !!str `abc` as a !!int",
        ),
        (
            "v: !!int 1.5",
            "1:10: cannot decode !!float `1.5` as a !!int",
        ),
        ("v: !!bool 1", "1:11: cannot decode !!int `1` as a !!bool"),
        ("v: !!null x", "1:11: cannot decode !!str `x` as a !!null"),
        (
            "v: !!float 18446744073709551615",
            "1:12: cannot decode !!int `18446744073709551615` as a !!float",
        ),
        (
            "v: !!timestamp 5",
            "1:16: cannot decode !!int `5` as a !!timestamp",
        ),
        (
            "v: !!binary a===",
            "1:13: !!binary value contains invalid base64 data",
        ),
    ];
    for (text, expected) in cases {
        assert_eq!(err(text), expected, "{text}");
    }
}

#[test]
fn mapping_keys_become_json_text() {
    let cases: &[(&str, &str)] = &[
        ("1: a", "1"),
        ("0x10: a", "16"),
        ("true: a", "true"),
        ("yes: a", "true"),
        ("off: a", "false"),
        ("1.5: a", "1.5"),
        ("1e3: a", "1000"),
        ("1e6: a", "1e+06"),
        ("0.0001: a", "0.0001"),
        ("0.00001: a", "1e-05"),
        ("3.14159265358979: a", "3.1415927"),
        (".inf: a", ".inf"),
        ("-.inf: a", "-.inf"),
        (".nan: a", ".nan"),
        ("2001-12-14: a", "2001-12-14"),
        ("\"1\": a", "1"),
        ("'null': a", "null"),
        ("\"<<\": a", "<<"),
    ];
    for (text, key) in cases {
        let document = one(text);
        let object = document.value.as_object().unwrap();
        assert_eq!(object.keys().collect::<Vec<_>>(), [key], "{text}");
        assert_eq!(
            loc(document.source_map.key(&JsonPath::root().child_key(*key))),
            "1:1",
            "{text}"
        );
    }
    let refused = [
        ("~: a", "1:1: unsupported map key `~`"),
        ("? \n: a", "2:1: unsupported map key ``"),
        (
            "18446744073709551615: a",
            "1:1: unsupported map key `18446744073709551615`",
        ),
        ("? [a]\n: 1", "1:3: invalid map key: a collection"),
        ("? {a: 1}\n: 1", "1:3: invalid map key: a collection"),
        ("a: &x [1]\n*x : 2", "2:1: invalid map key: a collection"),
    ];
    for (text, expected) in refused {
        assert!(err(text).starts_with(expected), "{text}: {}", err(text));
    }
}

#[test]
fn duplicate_keys_are_errors() {
    let cases = [
        (
            "image: a\nimage: b",
            "2:1: duplicate key \"image\" (first defined at 1:1)",
        ),
        (
            "spec:\n  x: 1\n  y: 2\n  x: 3",
            "4:3: duplicate key \"x\" (first defined at 2:3)",
        ),
        (
            "{a: 1, a: 2}",
            "1:8: duplicate key \"a\" (first defined at 1:2)",
        ),
        (
            "1: a\n\"1\": b",
            "2:1: duplicate key \"1\" (first defined at 1:1)",
        ),
        (
            "a: 1\n<<: {b: 2}\na: 3",
            "3:1: duplicate key \"a\" (first defined at 1:1)",
        ),
    ];
    for (text, expected) in cases {
        assert_eq!(err(text), expected, "{text}");
    }
}

#[test]
fn streams_keep_empty_and_comment_only_documents() {
    let cases: &[(&str, &[Value], &[&str])] = &[
        ("", &[], &[]),
        ("# only a comment\n", &[], &[]),
        ("a: 1\n", &[json!({"a": 1})], &["1:1"]),
        ("---\na: 1\n", &[json!({"a": 1})], &["1:1"]),
        (
            "a: 1\n---\n",
            &[json!({"a": 1}), json!(null)],
            &["1:1", "2:1"],
        ),
        (
            "a: 1\n---\n# gone\n---\nb: 2\n",
            &[json!({"a": 1}), json!(null), json!({"b": 2})],
            &["1:1", "2:1", "4:1"],
        ),
        ("---\n---\n", &[json!(null), json!(null)], &["1:1", "2:1"]),
        (
            "a: 1\n...\n---\nb: 2\n...\n",
            &[json!({"a": 1}), json!({"b": 2})],
            &["1:1", "3:1"],
        ),
        (
            "# head\n---\n- x\n--- text\n",
            &[json!(["x"]), json!("text")],
            &["2:1", "4:1"],
        ),
        ("%YAML 1.1\n---\na: 1\n", &[json!({"a": 1})], &["2:1"]),
    ];
    for (text, values, starts) in cases {
        let documents = parse_documents(text).unwrap();
        let got: Vec<&Value> = documents.iter().map(|d| &d.value).collect();
        assert_eq!(got, values.iter().collect::<Vec<_>>(), "{text:?}");
        let got: Vec<String> = documents.iter().map(|d| d.start.to_string()).collect();
        assert_eq!(got, *starts, "{text:?}");
        assert!(documents.iter().enumerate().all(|(i, d)| d.index == i));
    }
}

const DEPLOYMENT: &str = "\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  labels: {app: web, \"0\": zero}
spec:
  template:
    spec:
      containers:
        - name: app
          image: nginx:1.25
          ports:
          - containerPort: 80
        - name: sidecar
          image:
          args: [--a, \"--b\"]
";

#[test]
fn source_map_locates_values_and_keys() {
    let document = one(DEPLOYMENT);
    let cases = [
        ("", "1:1", "-"),
        ("/kind", "2:7", "2:1"),
        ("/metadata", "4:3", "3:1"),
        ("/metadata/name", "4:9", "4:3"),
        ("/metadata/labels", "5:11", "5:3"),
        ("/metadata/labels/app", "5:17", "5:12"),
        ("/metadata/labels/0", "5:27", "5:22"),
        ("/spec/template/spec/containers", "10:9", "9:7"),
        ("/spec/template/spec/containers/0", "10:11", "-"),
        ("/spec/template/spec/containers/0/image", "11:18", "11:11"),
        (
            "/spec/template/spec/containers/0/ports/0/containerPort",
            "13:28",
            "13:13",
        ),
        ("/spec/template/spec/containers/1/name", "14:17", "14:11"),
        ("/spec/template/spec/containers/1/image", "15:11", "15:11"),
        ("/spec/template/spec/containers/1/args/1", "16:23", "-"),
        ("/spec/template/spec/containers/2", "-", "-"),
        ("/spec/template/spec/containers/0/missing/deeper", "-", "-"),
        ("/kind/x", "-", "-"),
    ];
    for (pointer, value, key) in cases {
        let p = path(pointer);
        assert_eq!(loc(document.source_map.value(&p)), value, "value {pointer}");
        assert_eq!(loc(document.source_map.key(&p)), key, "key {pointer}");
    }
    let nearest = [
        ("/spec/template/spec/containers/0/missing/deeper", "10:11"),
        ("/spec/template/spec/containers/7", "10:9"),
        ("/kind/x", "2:7"),
        ("/nope", "1:1"),
        ("/spec/template/spec/containers/0/image", "11:18"),
    ];
    for (pointer, expected) in nearest {
        assert_eq!(
            loc(document.source_map.nearest(&path(pointer))),
            expected,
            "nearest {pointer}"
        );
    }
    let by_key = JsonPath::root()
        .child_key("spec")
        .child_key("template")
        .child_key("spec");
    let by_key = by_key
        .child_key("containers")
        .child_key("1")
        .child_key("name");
    assert_eq!(loc(document.source_map.value(&by_key)), "14:17");
}

#[test]
fn anchors_aliases_and_merge_keys() {
    let text = "\
base: &base
  image: nginx
  pull: Always
list: &list [a, b]
copy: *list
scalar: &s 0755
again: *s
&k key: 1
*s : 2
ref: *k
merged:
  <<: *base
  pull: Never
before:
  pull: Never
  <<: *base
many:
  <<: [{x: 1, w: 1}, {x: 2, z: 2}]
inline:
  <<: {a: 1}
  b: 2
";
    let document = one(text);
    let v = &document.value;
    assert_eq!(v["copy"], json!(["a", "b"]));
    assert_eq!(v["again"], json!(493));
    assert_eq!(v["key"], json!(1));
    assert_eq!(v["493"], json!(2));
    assert_eq!(v["ref"], json!("key"));
    assert_eq!(v["merged"], json!({"image": "nginx", "pull": "Never"}));
    // go-yaml v2 applies a merge where it is written: it overrides the keys before it.
    assert_eq!(v["before"], json!({"image": "nginx", "pull": "Always"}));
    assert_eq!(v["many"], json!({"x": 1, "w": 1, "z": 2}));
    assert_eq!(v["inline"], json!({"a": 1, "b": 2}));
    let sm = &document.source_map;
    let cases = [
        ("/copy", "5:7"),
        ("/copy/1", "4:17"),
        ("/again", "7:8"),
        ("/merged/image", "2:10"),
        ("/merged/pull", "13:9"),
        ("/before/pull", "3:9"),
        ("/many/x", "18:12"),
        ("/many/z", "18:32"),
        ("/inline/a", "20:11"),
        ("/inline/b", "21:6"),
    ];
    for (pointer, expected) in cases {
        assert_eq!(loc(sm.value(&path(pointer))), expected, "{pointer}");
    }
    assert_eq!(loc(sm.key(&path("/merged/image"))), "2:3");
    let merge_errors = [
        (
            "a:\n  <<: 1",
            "2:7: map merge requires map or sequence of maps as the value",
        ),
        (
            "a:\n  <<: [[1]]",
            "2:7: map merge requires map or sequence of maps as the value",
        ),
        (
            "x: &x [1]\na:\n  <<: *x",
            "3:7: map merge requires map or sequence of maps as the value",
        ),
    ];
    for (text, expected) in merge_errors {
        assert_eq!(err(text), expected, "{text}");
    }
    assert_eq!(one("a:\n  !!merge <<: {b: 1}").value["a"]["b"], json!(1));
}

#[test]
fn hostile_input_is_bounded() {
    let laughs = "\
a: &a [x, x, x, x, x, x, x, x, x, x]
b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]
c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]
d: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c, *c]
e: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d, *d]
f: &f [*e, *e, *e, *e, *e, *e, *e, *e, *e, *e]
g: &g [*f, *f, *f, *f, *f, *f, *f, *f, *f, *f]
";
    assert!(
        err(laughs).ends_with("document contains excessive aliasing"),
        "{}",
        err(laughs)
    );
    assert_eq!(err("a: &a [1, *a]"), "1:11: anchor value contains itself");
    assert!(err("a: *nope").contains("unknown anchor"));
    for deep in [
        "[".repeat(10_000),
        "- ".repeat(10_000) + "x",
        "a:\n".to_string() + &" {b:".repeat(10_000),
    ] {
        let message = err(&deep);
        assert!(
            message.contains("nesting deeper than 256 levels")
                || message.contains("recursion limit"),
            "{message}"
        );
    }
    let nested = (0..200).fold("x".to_string(), |inner, _| format!("[{inner}]"));
    let chained = format!(
        "a: &a {nested}\nb: &b [[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[*a]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]\n"
    );
    assert!(
        err(&chained).ends_with("nesting deeper than 256 levels"),
        "{}",
        err(&chained)
    );
    let just_fits = (0..255).fold("x".to_string(), |inner, _| format!("[{inner}]"));
    assert!(parse_documents(&format!("a: {just_fits}")).is_ok());
}

#[test]
fn json_input_parses_through_the_same_path() {
    let text = "{\"apiVersion\": \"v1\",\t\"kind\": \"Pod\",\n \"metadata\": {\"name\": \"p\", \"labels\": {}},\n \"spec\": {\"containers\": [{\"image\": \"a\\tb\\u00e9\", \"n\": 1.5e3, \"o\": \"0755\", \"t\": true, \"z\": null, \"e\": []}]}}";
    let document = one(text);
    let expected = json!({
        "apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "labels": {}},
        "spec": {"containers": [{"image": "a\tb\u{e9}", "n": 1500, "o": "0755", "t": true, "z": null, "e": []}]}
    });
    assert_eq!(document.value, expected);
    assert_eq!(
        loc(document.source_map.value(&path("/spec/containers/0/image"))),
        "3:36"
    );
    assert_eq!(loc(document.source_map.value(&path("/metadata"))), "2:14");
    assert_eq!(
        one("[1, \"x\", {\"a\": [null]}]").value,
        json!([1, "x", {"a": [null]}])
    );
}

#[test]
fn syntax_errors_carry_their_location() {
    let cases = [
        (
            "a: 1\n b: 2\n",
            "2:3: mapping values are not allowed in this context",
        ),
        (
            "a:\n  - x\n  y: 1\n",
            "3:3: while parsing a block collection, did not find expected '-' indicator",
        ),
        (
            "a: [1, 2\n",
            "2:1: while parsing a flow sequence, expected ',' or ']'",
        ),
        (
            "a: \"open\n",
            "1:4: while scanning a quoted scalar, found unexpected end of stream",
        ),
        (
            "ok: 1\n---\nkey: value: x\n",
            "3:11: mapping values are not allowed in this context",
        ),
    ];
    for (text, expected) in cases {
        assert_eq!(err(text), expected, "{text:?}");
    }
}
