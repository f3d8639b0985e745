//! `admission.k8s.io` `AdmissionReview` wire types: only the fields the engine needs are read,
//! and of the objects only what the active policies can look at, which keeps parsing cheap.

mod fast;

use crate::projection::{Projected, Projection, ValueCount};
use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, Visitor};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::borrow::Cow;
use std::fmt;

pub const API_VERSIONS: [&str; 2] = ["admission.k8s.io/v1", "admission.k8s.io/v1beta1"];

/// Strings borrow from the body when they hold no escapes.
#[derive(Debug, Default, PartialEq)]
pub struct AdmissionReviewIn<'a> {
    pub api_version: Cow<'a, str>,
    pub kind: Cow<'a, str>,
    pub request: Option<AdmissionRequest<'a>>,
}

/// `object` and `oldObject` hold only what the active policies can read (see `projection`).
#[derive(Debug, Default, PartialEq)]
pub struct AdmissionRequest<'a> {
    pub uid: Cow<'a, str>,
    pub kind: Option<GroupVersionKind>,
    pub sub_resource: Cow<'a, str>,
    pub name: Cow<'a, str>,
    pub namespace: Cow<'a, str>,
    pub operation: Cow<'a, str>,
    pub user_info: Option<UserInfoIn>,
    pub object: Value,
    pub old_object: Value,
    pub dry_run: Option<bool>,
}

/// Every field of the review's `request` but `object` and `oldObject` (which the review reader
/// has already built), for `{{ request.* }}` variables: the apiserver's own fields, including
/// those nothing else reads (`options`, `userInfo.extra`, `requestResource`...).
pub fn request_fields(body: &[u8]) -> Result<Value, serde_json::Error> {
    use serde::de::{IgnoredAny, MapAccess, Visitor};

    struct Fields;

    impl<'de> Visitor<'de> for Fields {
        type Value = Value;

        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("an admission request")
        }

        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
            let mut fields = serde_json::Map::new();
            while let Some(key) = map.next_key::<String>()? {
                if key == "object" || key == "oldObject" {
                    map.next_value::<IgnoredAny>()?;
                } else {
                    let value = map.next_value::<Value>()?;
                    fields.insert(key, value);
                }
            }
            Ok(Value::Object(fields))
        }
    }

    struct Request(Value);

    impl<'de> Deserialize<'de> for Request {
        fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
            deserializer.deserialize_map(Fields).map(Request)
        }
    }

    #[derive(Deserialize)]
    struct Review {
        request: Request,
    }

    serde_json::from_slice::<Review>(body).map(|review| review.request.0)
}

/// Parses a review, building of its objects only what `projection` covers; a body that is not
/// one JSON document of the review's shape is an error with serde_json's position.
///
/// A byte-level reader (`fast`) takes the body first; whatever it is not sure of, serde_json
/// reads again from the start and judges, so both accept and refuse the same bodies.
pub fn read_review<'a>(
    body: &'a [u8],
    projection: &Projection,
) -> serde_json::Result<AdmissionReviewIn<'a>> {
    // One check of the whole body is cheaper than serde_json's check of each string it reads.
    let text = std::str::from_utf8(body).map_err(|error| {
        <serde_json::Error as de::Error>::custom(format!(
            "invalid UTF-8 at byte {}",
            error.valid_up_to()
        ))
    })?;
    if let Some(review) = fast::read_review(text, projection) {
        return Ok(review);
    }
    read_review_strictly(text, projection)
}

/// The reading that decides: serde_json's, with its errors.
fn read_review_strictly<'a>(
    text: &'a str,
    projection: &Projection,
) -> serde_json::Result<AdmissionReviewIn<'a>> {
    let mut deserializer = serde_json::Deserializer::from_str(text);
    let values = ValueCount::default();
    // One count of the values built for both objects.
    let objects = Projected {
        projection,
        values: &values,
    };
    let review = deserializer.deserialize_map(ReviewVisitor(objects))?;
    deserializer.end()?;
    Ok(review)
}

/// Which of `names` a map key is, without allocating it; `None` for keys we do not read.
struct FieldName(&'static [&'static str]);

impl<'de> DeserializeSeed<'de> for FieldName {
    type Value = Option<usize>;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_str(self)
    }
}

impl Visitor<'_> for FieldName {
    type Value = Option<usize>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a field name")
    }

    fn visit_str<E>(self, key: &str) -> Result<Self::Value, E> {
        Ok(self.0.iter().position(|name| *name == key))
    }
}

/// Stores a field's value, refusing a second occurrence as serde's derive does.
fn set_once<T, E: de::Error>(slot: &mut Option<T>, name: &'static str, value: T) -> Result<(), E> {
    if slot.replace(value).is_some() {
        return Err(E::duplicate_field(name));
    }
    Ok(())
}

struct ReviewVisitor<'p>(Projected<'p>);

impl<'de> Visitor<'de> for ReviewVisitor<'_> {
    type Value = AdmissionReviewIn<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an AdmissionReview object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        const NAMES: &[&str] = &["apiVersion", "kind", "request"];
        let (mut api_version, mut kind, mut request) = (None, None, None);
        while let Some(field) = map.next_key_seed(FieldName(NAMES))? {
            match field {
                Some(0) => set_once(&mut api_version, NAMES[0], owned(map.next_value()?))?,
                Some(1) => set_once(&mut kind, NAMES[1], owned(map.next_value()?))?,
                Some(2) => set_once(
                    &mut request,
                    NAMES[2],
                    map.next_value_seed(OptionalRequest(self.0))?,
                )?,
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(AdmissionReviewIn {
            api_version: api_version.unwrap_or_default(),
            kind: kind.unwrap_or_default(),
            request: request.flatten(),
        })
    }
}

/// `request`, which may be `null`.
struct OptionalRequest<'p>(Projected<'p>);

impl<'de> DeserializeSeed<'de> for OptionalRequest<'_> {
    type Value = Option<AdmissionRequest<'de>>;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_option(self)
    }
}

impl<'de> Visitor<'de> for OptionalRequest<'_> {
    type Value = Option<AdmissionRequest<'de>>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an AdmissionRequest object or null")
    }

    fn visit_none<E>(self) -> Result<Self::Value, E> {
        Ok(None)
    }

    fn visit_unit<E>(self) -> Result<Self::Value, E> {
        Ok(None)
    }

    fn visit_some<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer
            .deserialize_map(RequestVisitor(self.0))
            .map(Some)
    }
}

struct RequestVisitor<'p>(Projected<'p>);

impl<'de> Visitor<'de> for RequestVisitor<'_> {
    type Value = AdmissionRequest<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an AdmissionRequest object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        const NAMES: &[&str] = &[
            "uid",
            "kind",
            "subResource",
            "name",
            "namespace",
            "operation",
            "userInfo",
            "object",
            "oldObject",
            "dryRun",
        ];
        let mut uid = None;
        let mut kind = None;
        let mut sub_resource = None;
        let mut name = None;
        let mut namespace = None;
        let mut operation = None;
        let mut user_info = None;
        let mut object = None;
        let mut old_object = None;
        let mut dry_run = None;
        while let Some(field) = map.next_key_seed(FieldName(NAMES))? {
            let Some(index) = field else {
                map.next_value::<IgnoredAny>()?;
                continue;
            };
            let name_of = NAMES[index];
            match index {
                0 => set_once(&mut uid, name_of, owned(map.next_value()?))?,
                1 => set_once(&mut kind, name_of, map.next_value()?)?,
                2 => set_once(&mut sub_resource, name_of, owned(map.next_value()?))?,
                3 => set_once(&mut name, name_of, owned(map.next_value()?))?,
                4 => set_once(&mut namespace, name_of, owned(map.next_value()?))?,
                5 => set_once(&mut operation, name_of, owned(map.next_value()?))?,
                6 => set_once(&mut user_info, name_of, map.next_value()?)?,
                7 => set_once(&mut object, name_of, map.next_value_seed(self.0)?)?,
                8 => set_once(&mut old_object, name_of, map.next_value_seed(self.0)?)?,
                _ => set_once(&mut dry_run, name_of, map.next_value()?)?,
            }
        }
        Ok(AdmissionRequest {
            uid: uid.unwrap_or_default(),
            kind: kind.flatten(),
            sub_resource: sub_resource.unwrap_or_default(),
            name: name.unwrap_or_default(),
            namespace: namespace.unwrap_or_default(),
            operation: operation.unwrap_or_default(),
            user_info: user_info.flatten(),
            object: object.unwrap_or_default(),
            old_object: old_object.unwrap_or_default(),
            dry_run: dry_run.flatten(),
        })
    }
}

/// A `String` field read the strict way, as the struct holds it.
fn owned<'a>(text: String) -> Cow<'a, str> {
    Cow::Owned(text)
}

#[derive(Debug, Deserialize, PartialEq)]
pub struct GroupVersionKind {
    #[serde(default)]
    pub group: String,
    #[serde(default)]
    pub version: String,
    #[serde(default)]
    pub kind: String,
}

/// More groups than any identity provider puts in a token; each is kept as a string, so a
/// body of `"",` repeated would otherwise build millions of them.
pub const MAX_GROUPS: usize = 4096;

#[derive(Debug, Deserialize, PartialEq)]
pub struct UserInfoIn {
    #[serde(default)]
    pub username: String,
    #[serde(default, deserialize_with = "at_most_max_groups")]
    pub groups: Vec<String>,
}

fn at_most_max_groups<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Vec<String>, D::Error> {
    struct Groups;

    impl<'de> Visitor<'de> for Groups {
        type Value = Vec<String>;

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a sequence")
        }

        fn visit_seq<A: de::SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
            let mut groups = Vec::new();
            while let Some(group) = seq.next_element()? {
                if groups.len() == MAX_GROUPS {
                    return Err(crate::projection::too_many_values(MAX_GROUPS, "groups"));
                }
                groups.push(group);
            }
            Ok(groups)
        }
    }

    deserializer.deserialize_seq(Groups)
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AdmissionReviewOut<'a> {
    pub api_version: &'a str,
    pub kind: &'static str,
    pub response: AdmissionResponse<'a>,
}

#[derive(Debug, Serialize)]
pub struct AdmissionResponse<'a> {
    pub uid: &'a str,
    pub allowed: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<ResponseStatus>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
}

#[derive(Debug, Serialize)]
pub struct ResponseStatus {
    pub status: &'static str,
    pub code: u16,
    pub message: String,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn only_image() -> Projection {
        let container = Projection::Fields([("image".to_owned(), Projection::Whole)].into());
        let spec = Projection::Fields([("containers".to_owned(), container)].into());
        Projection::Fields([("spec".to_owned(), spec)].into())
    }

    #[test]
    fn reads_the_envelope_and_the_projected_objects() {
        let body = json!({
            "apiVersion": "admission.k8s.io/v1",
            "kind": "AdmissionReview",
            "extra": {"ignored": [1, 2]},
            "request": {
                "uid": "u1",
                "kind": {"group": "", "version": "v1", "kind": "Pod"},
                "subResource": "ephemeralcontainers",
                "name": "web",
                "namespace": "shop",
                "operation": "UPDATE",
                "userInfo": {"username": "alice", "groups": ["dev"], "uid": "x"},
                "object": {"spec": {"containers": [{"name": "c", "image": "nginx:1"}]}},
                "oldObject": {"spec": {"nodeName": "n1"}},
                "dryRun": true,
                "options": {"kind": "UpdateOptions"},
            },
        });
        let body = body.to_string();
        let review = read_review(body.as_bytes(), &only_image()).unwrap();
        assert_eq!(review.api_version, "admission.k8s.io/v1");
        let request = review.request.unwrap();
        assert_eq!(
            (
                request.uid.as_ref(),
                request.name.as_ref(),
                request.namespace.as_ref()
            ),
            ("u1", "web", "shop")
        );
        assert_eq!(request.sub_resource, "ephemeralcontainers");
        assert_eq!(request.operation, "UPDATE");
        assert_eq!(request.kind.unwrap().kind, "Pod");
        assert_eq!(request.user_info.unwrap().groups, ["dev"]);
        assert_eq!(request.dry_run, Some(true));
        assert_eq!(
            request.object,
            json!({"spec": {"containers": [{"image": "nginx:1"}]}})
        );
        assert_eq!(request.old_object, json!({"spec": {}}));
    }

    #[test]
    fn a_null_or_missing_request_and_objects_read_as_absent() {
        let review = read_review(
            br#"{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":null}"#,
            &only_image(),
        )
        .unwrap();
        assert!(review.request.is_none());
        let review = read_review(
            br#"{"request":{"uid":"u","oldObject":null}}"#,
            &only_image(),
        )
        .unwrap();
        let request = review.request.unwrap();
        assert!(request.object.is_null() && request.old_object.is_null());
    }

    #[test]
    fn keeps_at_most_max_groups_on_both_paths() {
        let with_groups = |count: usize| {
            let groups: Vec<String> = (0..count).map(|index| format!("g{index}")).collect();
            json!({"request": {"uid": "u", "userInfo": {"groups": groups}}}).to_string()
        };
        let fits = with_groups(MAX_GROUPS);
        assert!(fast::read_review(&fits, &only_image()).is_some());
        let review = read_review(fits.as_bytes(), &only_image()).unwrap();
        assert_eq!(
            review.request.unwrap().user_info.unwrap().groups.len(),
            MAX_GROUPS
        );

        let over = with_groups(MAX_GROUPS + 1);
        assert!(fast::read_review(&over, &only_image()).is_none());
        let error = read_review(over.as_bytes(), &only_image()).unwrap_err();
        assert!(crate::projection::is_too_many_values(&error), "{error}");
        assert!(error.to_string().contains("4096 groups"), "{error}");
    }

    #[test]
    fn refuses_what_serde_would_refuse() {
        for (body, wanted) in [
            (
                &br#"{"request":{"uid":"a","uid":"b"}}"#[..],
                "duplicate field `uid`",
            ),
            (
                br#"{"kind":"AdmissionReview","kind":"x"}"#,
                "duplicate field `kind`",
            ),
            (br#"{"request":{"uid":7}}"#, "invalid type"),
            (br#"{"request":"req"}"#, "invalid type"),
            (br#"[]"#, "invalid type"),
            (
                b"{\"request\":{\"name\":\"\xff\"}}",
                "invalid UTF-8 at byte 20",
            ),
            (br#"{"request":{}} x"#, "trailing characters"),
        ] {
            let error = read_review(body, &only_image()).unwrap_err().to_string();
            assert!(
                error.contains(wanted),
                "{}: {error}",
                String::from_utf8_lossy(body)
            );
        }
    }
}
