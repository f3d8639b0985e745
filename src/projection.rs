//! The parts of a resource a policy set can read, and a JSON reader that builds only those.
//!
//! A Pod in an admission review is mostly `managedFields`, environment, probes and volumes that
//! no pattern looks at; building a `serde_json::Value` of all of it cost more than judging it.
//! Patterns name their keys statically, so a compiled set knows every path it can read: the
//! webhook builds those parts and checks the rest without keeping it. What is skipped is still
//! checked as strictly as a full parse (UTF-8, number range, nesting depth), so whether a body
//! is well-formed never depends on which policies are loaded; only the limit on values built,
//! [`MAX_VALUES`], counts what they read. `scan` reads the usual text at byte level; serde_json
//! reads, and judges, whatever `scan` is not sure of.

pub mod scan;

use crate::policy::{PolicySet, SourcedPattern, Validation};
use crate::small_map;
use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Number, Value};
use std::borrow::Cow;
use std::cell::Cell;
use std::collections::BTreeMap;
use std::fmt;

/// The most values one reading builds (every scalar, array and object kept counts; skipped
/// ones do not). A value takes up to [`BYTES_PER_VALUE`] however few bytes of JSON it came
/// from, so without a limit the 2-byte elements of `[0,0,…]` would turn an 8 MiB body into
/// 270 MB. A quarter of a million is both objects of an update at etcd's 1.5 MiB limit, built
/// whole at 12 bytes of JSON a value; policies read a few fields, and only those are built.
pub const MAX_VALUES: usize = 250_000;

/// What a built value can take, with its share of the array or map holding it while that
/// grows (measured: 64 bytes per element of a long array of small numbers once built).
const BYTES_PER_VALUE: usize = 96;

/// The most memory the values read from a text of `length` bytes can take: a value takes at
/// least two bytes of JSON (`0,`), and no reading builds more than [`MAX_VALUES`].
pub fn most_memory_built(length: usize) -> usize {
    (length / 2 + 1).min(MAX_VALUES) * BYTES_PER_VALUE
}

const TOO_MANY_VALUES: &str = "the review holds more values than can be judged";

/// Whether a reading failed for building more than [`MAX_VALUES`] values, or more of another
/// kept list than its limit allows ([`too_many_values`]).
pub fn is_too_many_values(error: &serde_json::Error) -> bool {
    error.to_string().starts_with(TOO_MANY_VALUES)
}

/// The error of a reading that would keep more than `limit` of `what`.
pub fn too_many_values<E: de::Error>(limit: usize, what: &str) -> E {
    E::custom(format_args!("{TOO_MANY_VALUES} (more than {limit} {what})"))
}

/// The values one reading has built, shared by the seeds of its strict path.
#[derive(Debug, Default)]
pub struct ValueCount(Cell<usize>);

impl ValueCount {
    /// Counts one more built value; an error once there are more than [`MAX_VALUES`].
    fn add<E: de::Error>(&self) -> Result<(), E> {
        let built = self.0.get() + 1;
        self.0.set(built);
        if built > MAX_VALUES {
            return Err(too_many_values(MAX_VALUES, "values in its objects"));
        }
        Ok(())
    }
}

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
    /// What to build of the value under `key` in a map read through `self`; `None` when that
    /// value is only checked.
    pub fn of_key(&self, key: &str) -> Option<&Projection> {
        match self {
            Self::Whole => Some(&Self::Whole),
            Self::Fields(fields) => small_map::lookup(fields, key, || fields.get(key)),
        }
    }

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
    /// included), what its match and exclude filters and its PolicyExceptions read, and the
    /// object's name and namespace, which denials and namespaced policies use.
    pub fn of_set(set: &PolicySet) -> Self {
        let mut metadata = vec!["name", "namespace"];
        let mut projection = Self::nothing();
        for exception in &set.exceptions {
            // Conditions may read any field, as expressions do.
            if exception.conditions.is_some() {
                return Self::Whole;
            }
            for filter in exception.filters() {
                metadata.extend(filter.metadata_keys());
            }
        }
        for policy in &set.policies {
            for rule in policy.rules.iter().chain(&policy.autogen_rules) {
                let blocks = std::iter::once(&rule.match_block).chain(&rule.exclude);
                for filter in blocks.flat_map(|block| &block.filters) {
                    metadata.extend(filter.metadata_keys());
                }
                let patterns: &[SourcedPattern] = match &rule.validation {
                    Validation::Pattern(pattern) => std::slice::from_ref(pattern),
                    Validation::AnyPattern(patterns) => patterns,
                    // Expressions may read any field, and a field left out would look like a
                    // missing key to them.
                    Validation::Deny(_) | Validation::Foreach(_) => return Self::Whole,
                };
                if rule.reads_variables() {
                    return Self::Whole;
                }
                for pattern in patterns {
                    match &pattern.compiled {
                        Some(compiled) => projection.merge(compiled.reads()),
                        None => return Self::Whole,
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

/// Reads one JSON value through a projection, counting what it builds in `values`.
#[derive(Clone, Copy)]
pub struct Projected<'p> {
    pub projection: &'p Projection,
    pub values: &'p ValueCount,
}

impl<'de> DeserializeSeed<'de> for Projected<'_> {
    type Value = Value;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Value, D::Error> {
        deserializer.deserialize_any(ProjectedVisitor {
            projection: self.projection,
            values: self.values,
        })
    }
}

/// Builds values exactly as `serde_json::Value`'s own visitor does (a later duplicate key
/// replaces an earlier one), maps and arrays projected.
struct ProjectedVisitor<'p> {
    /// The projection itself, which applies to each element of an array.
    projection: &'p Projection,
    values: &'p ValueCount,
}

impl<'p> ProjectedVisitor<'p> {
    fn seed(&self, projection: &'p Projection) -> Projected<'p> {
        Projected {
            projection,
            values: self.values,
        }
    }
}

impl<'de> Visitor<'de> for ProjectedVisitor<'_> {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any valid JSON value")
    }

    fn visit_bool<E: de::Error>(self, value: bool) -> Result<Value, E> {
        self.values.add()?;
        Ok(Value::Bool(value))
    }

    fn visit_i64<E: de::Error>(self, value: i64) -> Result<Value, E> {
        self.values.add()?;
        Ok(Value::Number(value.into()))
    }

    fn visit_u64<E: de::Error>(self, value: u64) -> Result<Value, E> {
        self.values.add()?;
        Ok(Value::Number(value.into()))
    }

    fn visit_f64<E: de::Error>(self, value: f64) -> Result<Value, E> {
        self.values.add()?;
        Ok(Number::from_f64(value).map_or(Value::Null, Value::Number))
    }

    fn visit_str<E: de::Error>(self, value: &str) -> Result<Value, E> {
        self.values.add()?;
        Ok(Value::String(value.to_owned()))
    }

    fn visit_string<E: de::Error>(self, value: String) -> Result<Value, E> {
        self.values.add()?;
        Ok(Value::String(value))
    }

    fn visit_unit<E: de::Error>(self) -> Result<Value, E> {
        self.values.add()?;
        Ok(Value::Null)
    }

    fn visit_none<E: de::Error>(self) -> Result<Value, E> {
        self.values.add()?;
        Ok(Value::Null)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        self.values.add()?;
        let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(0));
        while let Some(item) = seq.next_element_seed(self.seed(self.projection))? {
            items.push(item);
        }
        Ok(Value::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        self.values.add()?;
        let mut kept = Map::new();
        while let Some(key) = map.next_key_seed(KeySeed)? {
            match self.projection.of_key(&key) {
                Some(projection) => {
                    let value = map.next_value_seed(self.seed(projection))?;
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
    let values = ValueCount::default();
    let value = Projected {
        projection,
        values: &values,
    }
    .deserialize(&mut deserializer)?;
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
