//! The parts of a resource a policy set can read, and a JSON reader that builds only those.
//!
//! A Pod in an admission review is mostly `managedFields`, environment, probes and volumes that
//! no pattern looks at; building a `serde_json::Value` of all of it cost more than judging it.
//! Patterns name their keys statically, so a compiled set knows every path it can read: the
//! webhook builds those parts and checks the rest without keeping it. What is skipped is still
//! checked as strictly as a full parse (UTF-8, number range, nesting depth), so whether a body
//! is accepted never depends on which policies are loaded. `scan` reads the usual text at byte
//! level; serde_json reads, and judges, whatever `scan` is not sure of.

pub mod scan;

use crate::policy::{PolicySet, Validation};
use serde::de::{DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Number, Value};
use std::borrow::Cow;
use std::collections::BTreeMap;
use std::fmt;

/// Which parts of a value to build.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Projection {
    /// The value and everything below it.
    #[default]
    Whole,
    /// Of a map, only these keys; of an array, these keys of each element. Other values are
    /// built whole, so a pattern that expects a map still sees what is there instead.
    Fields(BTreeMap<String, Projection>),
}

impl Projection {
    /// Nothing of a map; the starting point of a union.
    pub fn nothing() -> Self {
        Self::Fields(BTreeMap::new())
    }

    /// Widens `self` to also cover everything `other` covers.
    pub fn merge(&mut self, other: Projection) {
        match (&mut *self, other) {
            (Self::Whole, _) => {}
            (this, Self::Whole) => *this = Self::Whole,
            (Self::Fields(mine), Self::Fields(theirs)) => {
                for (key, projection) in theirs {
                    match mine.get_mut(&key) {
                        Some(existing) => existing.merge(projection),
                        None => {
                            mine.insert(key, projection);
                        }
                    }
                }
            }
        }
    }

    /// What every rule of `set` can read of the object it judges: its patterns (autogen rules
    /// included), what its match and exclude filters read of `metadata`, and the object's name
    /// and namespace, which denials and namespaced policies use.
    pub fn of_set(set: &PolicySet) -> Self {
        let mut metadata = vec!["name", "namespace"];
        let mut projection = Self::nothing();
        for policy in &set.policies {
            for rule in policy.rules.iter().chain(&policy.autogen_rules) {
                let blocks = std::iter::once(&rule.match_block).chain(&rule.exclude);
                for filter in blocks.flat_map(|block| &block.filters) {
                    metadata.extend(filter.metadata_keys());
                }
                match &rule.validation {
                    Validation::Pattern(pattern) => projection.merge(pattern.compiled.reads()),
                    Validation::AnyPattern(patterns) => {
                        for pattern in patterns {
                            projection.merge(pattern.compiled.reads());
                        }
                    }
                }
            }
        }
        let metadata = metadata
            .into_iter()
            .map(|key| (key.to_owned(), Self::Whole))
            .collect();
        projection.merge(Self::Fields(BTreeMap::from([(
            "metadata".to_owned(),
            Self::Fields(metadata),
        )])));
        projection
    }
}

/// Reads one JSON value through a projection.
pub struct Projected<'p>(pub &'p Projection);

impl<'de> DeserializeSeed<'de> for Projected<'_> {
    type Value = Value;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Value, D::Error> {
        match self.0 {
            Projection::Whole => serde::Deserialize::deserialize(deserializer),
            Projection::Fields(fields) => deserializer.deserialize_any(FieldsVisitor {
                projection: self.0,
                fields,
            }),
        }
    }
}

/// Builds scalars exactly as `serde_json::Value`'s own visitor does, maps and arrays projected.
struct FieldsVisitor<'p> {
    /// The `Fields` projection itself, which applies to each element of an array.
    projection: &'p Projection,
    fields: &'p BTreeMap<String, Projection>,
}

impl<'de> Visitor<'de> for FieldsVisitor<'_> {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any valid JSON value")
    }

    fn visit_bool<E>(self, value: bool) -> Result<Value, E> {
        Ok(Value::Bool(value))
    }

    fn visit_i64<E>(self, value: i64) -> Result<Value, E> {
        Ok(Value::Number(value.into()))
    }

    fn visit_u64<E>(self, value: u64) -> Result<Value, E> {
        Ok(Value::Number(value.into()))
    }

    fn visit_f64<E>(self, value: f64) -> Result<Value, E> {
        Ok(Number::from_f64(value).map_or(Value::Null, Value::Number))
    }

    fn visit_str<E>(self, value: &str) -> Result<Value, E> {
        Ok(Value::String(value.to_owned()))
    }

    fn visit_string<E>(self, value: String) -> Result<Value, E> {
        Ok(Value::String(value))
    }

    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_none<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(0));
        while let Some(item) = seq.next_element_seed(Projected(self.projection))? {
            items.push(item);
        }
        Ok(Value::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut kept = Map::new();
        while let Some(key) = map.next_key_seed(KeySeed)? {
            match self.fields.get(key.as_ref()) {
                Some(projection) => {
                    let value = map.next_value_seed(Projected(projection))?;
                    kept.insert(key.into_owned(), value);
                }
                None => map.next_value_seed(Checked)?,
            }
        }
        Ok(Value::Object(kept))
    }
}

/// A map key, borrowed from the input when it has no escapes.
struct KeySeed;

impl<'de> DeserializeSeed<'de> for KeySeed {
    type Value = Cow<'de, str>;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_str(KeyVisitor)
    }
}

struct KeyVisitor;

impl<'de> Visitor<'de> for KeyVisitor {
    type Value = Cow<'de, str>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a string key")
    }

    fn visit_borrowed_str<E>(self, value: &'de str) -> Result<Self::Value, E> {
        Ok(Cow::Borrowed(value))
    }

    fn visit_str<E>(self, value: &str) -> Result<Self::Value, E> {
        Ok(Cow::Owned(value.to_owned()))
    }

    fn visit_string<E>(self, value: String) -> Result<Self::Value, E> {
        Ok(Cow::Owned(value))
    }
}

/// A value nobody reads, parsed as strictly as a kept one and dropped as it goes: serde's
/// `IgnoredAny` would skip without checking number range or nesting depth.
struct Checked;

impl<'de> DeserializeSeed<'de> for Checked {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Checked {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any valid JSON value")
    }

    fn visit_bool<E>(self, _: bool) -> Result<(), E> {
        Ok(())
    }

    fn visit_i64<E>(self, _: i64) -> Result<(), E> {
        Ok(())
    }

    fn visit_u64<E>(self, _: u64) -> Result<(), E> {
        Ok(())
    }

    fn visit_f64<E>(self, _: f64) -> Result<(), E> {
        Ok(())
    }

    fn visit_str<E>(self, _: &str) -> Result<(), E> {
        Ok(())
    }

    fn visit_unit<E>(self) -> Result<(), E> {
        Ok(())
    }

    fn visit_none<E>(self) -> Result<(), E> {
        Ok(())
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while seq.next_element_seed(Checked)?.is_some() {}
        Ok(())
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        while map.next_key_seed(Checked)?.is_some() {
            map.next_value_seed(Checked)?;
        }
        Ok(())
    }
}

/// Builds the projected value of a whole JSON text: `scan` first, serde_json when it gives up.
pub fn from_str(text: &str, projection: &Projection) -> Result<Value, serde_json::Error> {
    let mut scanner = scan::Scanner::new(text);
    if let Some(value) = scanner.projected(projection, 0)
        && scanner.at_end()
    {
        return Ok(value);
    }
    from_str_strictly(text, projection)
}

/// The reading that decides, for texts `scan` is not sure of: serde_json's, with its errors.
fn from_str_strictly(text: &str, projection: &Projection) -> Result<Value, serde_json::Error> {
    let mut deserializer = serde_json::Deserializer::from_str(text);
    let value = Projected(projection).deserialize(&mut deserializer)?;
    deserializer.end()?;
    Ok(value)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pattern::Pattern;
    use serde_json::json;

    fn reads(pattern: Value) -> Projection {
        Pattern::compile(&pattern).unwrap().reads()
    }

    fn fields(entries: &[(&str, Projection)]) -> Projection {
        Projection::Fields(
            entries
                .iter()
                .map(|(key, projection)| ((*key).to_owned(), projection.clone()))
                .collect(),
        )
    }

    #[test]
    fn patterns_read_the_keys_they_name() {
        use Projection::Whole;
        let pattern = json!({"spec": {
            "containers": [{"image": "!*:latest", "=(securityContext)": {"privileged": false}}],
            "=(initContainers)": [{"image": "*"}],
        }});
        let container = fields(&[
            ("image", Whole),
            ("securityContext", fields(&[("privileged", Whole)])),
        ]);
        let expected = fields(&[(
            "spec",
            fields(&[
                ("containers", container),
                ("initContainers", fields(&[("image", Whole)])),
            ]),
        )]);
        assert_eq!(reads(pattern), expected);
    }

    #[test]
    fn wildcard_keys_and_empty_maps_read_everything_below() {
        use Projection::Whole;
        let labels = reads(json!({"metadata": {"labels": {"app.kubernetes.io/*": "?*"}}}));
        assert_eq!(
            labels,
            fields(&[("metadata", fields(&[("labels", Whole)]))])
        );
        assert_eq!(reads(json!({"spec": {}})), fields(&[("spec", Whole)]));
    }

    #[test]
    fn merging_widens_and_whole_absorbs() {
        use Projection::Whole;
        let mut union = fields(&[("a", fields(&[("x", Whole)]))]);
        union.merge(fields(&[("a", fields(&[("y", Whole)])), ("b", Whole)]));
        let expected = fields(&[("a", fields(&[("x", Whole), ("y", Whole)])), ("b", Whole)]);
        assert_eq!(union, expected);
        union.merge(fields(&[("a", Whole)]));
        assert_eq!(union, fields(&[("a", Whole), ("b", Whole)]));
    }

    #[test]
    fn a_pod_review_object_keeps_only_what_the_default_policies_read() {
        let set = crate::defaults::embedded_policy_set().unwrap();
        let projection = Projection::of_set(&set);
        let review: Value =
            serde_json::from_str(include_str!("../benches/fixtures/pod-review.json")).unwrap();
        let object = review["request"]["object"].to_string();
        let read = from_str(&object, &projection).unwrap();
        let whole = &review["request"]["object"];
        assert_eq!(read["metadata"]["name"], whole["metadata"]["name"]);
        assert_eq!(
            read["metadata"]["namespace"],
            whole["metadata"]["namespace"]
        );
        // No rule selects by labels or annotations.
        for unread in ["labels", "annotations", "managedFields"] {
            assert!(read["metadata"].get(unread).is_none(), "{unread}");
        }
        assert!(read["spec"].get("volumes").is_none());
        let containers = read["spec"]["containers"].as_array().unwrap();
        assert_eq!(containers.len(), 2);
        assert_eq!(
            containers[0],
            json!({"image": "registry.example.com/shop/web:1.42.0"})
        );
    }

    #[test]
    fn skipped_parts_are_checked_as_strictly_as_kept_ones() {
        let projection = fields(&[("kept", Projection::Whole)]);
        let deep = format!("{}1{}", "[".repeat(200), "]".repeat(200));
        for skipped in ["1e999", deep.as_str(), r#""\x""#, "[1,]", "tru"] {
            let text = format!(r#"{{"kept": 1, "skipped": {skipped}}}"#);
            assert!(
                from_str(&text, &projection).is_err(),
                "accepted {skipped:?}"
            );
        }
        let text = r#"{"kept": 1, "skipped": {"a": [1.5, -2, "s\n", null, true]}}"#;
        assert_eq!(from_str(text, &projection).unwrap(), json!({"kept": 1}));
    }
}
