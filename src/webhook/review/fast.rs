//! The review read with `projection::scan`: the envelope's strings borrowed from the body, the
//! objects projected, everything else checked in passing. It answers `None` for any body it
//! is not sure of (a duplicate field, an escaped key, a field of an unexpected type, anything
//! `scan` gives up on), and `read_review` then reads that body the strict way; so this path
//! only ever accepts what the strict one accepts, and builds the same review from it.

use super::{AdmissionRequest, AdmissionReviewIn, GroupVersionKind, UserInfoIn};
use crate::projection::Projection;
use crate::projection::scan::Scanner;
use std::borrow::Cow;

pub fn read_review<'a>(text: &'a str, projection: &Projection) -> Option<AdmissionReviewIn<'a>> {
    let mut scanner = Scanner::new(text);
    let mut review = AdmissionReviewIn::default();
    let mut seen = Seen::default();
    let mut entries = scanner.object(1)?;
    while let Some(key) = scanner.next_key(&mut entries)? {
        match scanner.plain(key)? {
            "apiVersion" => {
                seen.once(0)?;
                review.api_version = string(&mut scanner)?;
            }
            "kind" => {
                seen.once(1)?;
                review.kind = string(&mut scanner)?;
            }
            "request" => {
                seen.once(2)?;
                review.request = nullable(&mut scanner, |scanner| request(scanner, projection))?;
            }
            _ => scanner.skip(1)?,
        }
    }
    scanner.at_end().then_some(review)
}

/// Which fields a map has had, so that a second occurrence (an error) goes the strict way. A
/// field numbered beyond its room goes the strict way too, rather than share another's bit.
#[derive(Default)]
struct Seen(u64);

impl Seen {
    fn once(&mut self, field: u8) -> Option<()> {
        let bit = 1u64.checked_shl(u32::from(field))?;
        let first = self.0 & bit == 0;
        self.0 |= bit;
        first.then_some(())
    }
}

fn string<'a>(scanner: &mut Scanner<'a>) -> Option<Cow<'a, str>> {
    let string = scanner.string()?;
    scanner.decoded(string)
}

fn owned_string(scanner: &mut Scanner<'_>) -> Option<String> {
    Some(string(scanner)?.into_owned())
}

/// `request`: an object two containers deep.
fn request<'a>(scanner: &mut Scanner<'a>, projection: &Projection) -> Option<AdmissionRequest<'a>> {
    let mut request = AdmissionRequest::default();
    let mut seen = Seen::default();
    let mut entries = scanner.object(2)?;
    while let Some(key) = scanner.next_key(&mut entries)? {
        match scanner.plain(key)? {
            "uid" => {
                seen.once(0)?;
                request.uid = string(scanner)?;
            }
            "kind" => {
                seen.once(1)?;
                request.kind = nullable(scanner, group_version_kind)?;
            }
            "subResource" => {
                seen.once(2)?;
                request.sub_resource = string(scanner)?;
            }
            "name" => {
                seen.once(3)?;
                request.name = string(scanner)?;
            }
            "namespace" => {
                seen.once(4)?;
                request.namespace = string(scanner)?;
            }
            "operation" => {
                seen.once(5)?;
                request.operation = string(scanner)?;
            }
            "userInfo" => {
                seen.once(6)?;
                request.user_info = nullable(scanner, user_info)?;
            }
            "object" => {
                seen.once(7)?;
                request.object = scanner.projected(projection, 2)?;
            }
            "oldObject" => {
                seen.once(8)?;
                request.old_object = scanner.projected(projection, 2)?;
            }
            "dryRun" => {
                seen.once(9)?;
                request.dry_run = nullable(scanner, boolean)?;
            }
            _ => scanner.skip(2)?,
        }
    }
    Some(request)
}

/// `None` for `null`, else what `read` reads.
fn nullable<'a, T>(
    scanner: &mut Scanner<'a>,
    read: impl FnOnce(&mut Scanner<'a>) -> Option<T>,
) -> Option<Option<T>> {
    if scanner.next_token()? == b'n' {
        scanner.literal(b"null")?;
        return Some(None);
    }
    read(scanner).map(Some)
}

fn boolean(scanner: &mut Scanner<'_>) -> Option<bool> {
    match scanner.next_token()? {
        b't' => scanner.literal(b"true").map(|()| true),
        _ => scanner.literal(b"false").map(|()| false),
    }
}

/// `request.kind`, three containers deep, as an object only.
fn group_version_kind(scanner: &mut Scanner<'_>) -> Option<GroupVersionKind> {
    let mut kind = GroupVersionKind {
        group: String::new(),
        version: String::new(),
        kind: String::new(),
    };
    let mut seen = Seen::default();
    let mut entries = scanner.object(3)?;
    while let Some(key) = scanner.next_key(&mut entries)? {
        match scanner.plain(key)? {
            "group" => {
                seen.once(0)?;
                kind.group = owned_string(scanner)?;
            }
            "version" => {
                seen.once(1)?;
                kind.version = owned_string(scanner)?;
            }
            "kind" => {
                seen.once(2)?;
                kind.kind = owned_string(scanner)?;
            }
            _ => scanner.skip(3)?,
        }
    }
    Some(kind)
}

/// `request.userInfo`, three containers deep, as an object only.
fn user_info(scanner: &mut Scanner<'_>) -> Option<UserInfoIn> {
    let mut info = UserInfoIn {
        username: String::new(),
        groups: Vec::new(),
    };
    let mut seen = Seen::default();
    let mut entries = scanner.object(3)?;
    while let Some(key) = scanner.next_key(&mut entries)? {
        match scanner.plain(key)? {
            "username" => {
                seen.once(0)?;
                info.username = owned_string(scanner)?;
            }
            "groups" => {
                seen.once(1)?;
                let mut groups = scanner.array(4)?;
                while scanner.next_element(&mut groups)? {
                    if info.groups.len() == super::MAX_GROUPS {
                        return None;
                    }
                    info.groups.push(owned_string(scanner)?);
                }
            }
            _ => scanner.skip(3)?,
        }
    }
    Some(info)
}

#[cfg(test)]
mod tests {
    use super::super::read_review_strictly;
    use super::*;

    #[test]
    fn every_field_has_its_own_place_among_more_than_sixteen() {
        let mut seen = Seen::default();
        for field in 0..64 {
            assert_eq!(seen.once(field), Some(()), "first time of {field}");
        }
        for field in 0..64 {
            assert_eq!(seen.once(field), None, "second time of {field}");
        }
        // Past its room a field is never taken for a first occurrence.
        let mut fresh = Seen::default();
        assert_eq!(fresh.once(64), None);
        assert_eq!(fresh.once(u8::MAX), None);
        assert_eq!(fresh.once(0), Some(()));
    }

    const FIXTURE: &str = include_str!("../../../benches/fixtures/pod-review.json");

    fn projection() -> Projection {
        Projection::of_set(&crate::defaults::embedded_policy_set().unwrap())
    }

    /// Checks that `body` reads as serde_json alone reads it (the same review or the same
    /// error) and that this reader accepts nothing serde_json refuses; whether it read `body`.
    fn agrees(body: &[u8], projection: &Projection) -> bool {
        let strict = std::str::from_utf8(body)
            .map_err(|error| error.to_string())
            .and_then(|text| {
                read_review_strictly(text, projection).map_err(|error| error.to_string())
            });
        let fast = std::str::from_utf8(body)
            .ok()
            .and_then(|text| read_review(text, projection));
        if let Some(review) = &fast {
            assert_eq!(
                Ok(review),
                strict.as_ref(),
                "{}",
                String::from_utf8_lossy(body)
            );
        }
        if let Ok(text) = std::str::from_utf8(body) {
            let combined = super::super::read_review(text.as_bytes(), projection);
            assert_eq!(
                combined.map_err(|error| error.to_string()),
                strict,
                "{text}"
            );
        }
        fast.is_some()
    }

    #[test]
    fn reads_a_review_as_serde_json_does() {
        let projection = projection();
        assert!(agrees(FIXTURE.as_bytes(), &projection));
        let review = read_review(FIXTURE, &projection).unwrap();
        let request = review.request.unwrap();
        assert!(matches!(request.uid, Cow::Borrowed(_)));
        assert_eq!(request.kind.unwrap().kind, "Pod");
        assert_eq!(request.user_info.unwrap().groups.len(), 3);
        assert_eq!(
            request.object["spec"]["containers"][1]["image"],
            "registry.example.com/shop/exporter:0.9.1"
        );
    }

    #[test]
    fn escaped_and_plain_envelope_strings_read_alike() {
        let projection = projection();
        let escaped = FIXTURE
            .replacen(r#""uid":"705ab4f5"#, r#""uid":"\u0037\/05ab4f5"#, 1)
            .replacen(r#""namespace":"shop""#, r#""namespace":"sh\u006fp""#, 1)
            .replacen(r#""username":"system:"#, r#""username":"\u0073ystem:"#, 1);
        assert_ne!(escaped, FIXTURE);
        assert!(agrees(escaped.as_bytes(), &projection));
        let plain = read_review(FIXTURE, &projection).unwrap();
        let escaped = read_review(&escaped, &projection).unwrap();
        let (plain, escaped) = (plain.request.unwrap(), escaped.request.unwrap());
        assert_eq!(escaped.uid, plain.uid.replacen('7', "7/", 1));
        assert!(matches!(escaped.uid, Cow::Owned(_)));
        assert_eq!(escaped.namespace, plain.namespace);
        assert_eq!(escaped.user_info, plain.user_info);
    }

    #[test]
    fn unusual_envelopes_are_left_to_serde_json() {
        let projection = projection();
        for body in [
            r#"{"request":{"uid":"a","uid":"b"}}"#,
            r#"{"kind":"AdmissionReview","kind":"x"}"#,
            r#"{"request":null,"request":{}}"#,
            r#"{"request":{"kind":["","v1","Pod"]}}"#,
            r#"{"request":{"kind":{"kind":"Pod","kind":"Pod"}}}"#,
            r#"{"request":{"kind":{"kind":null}}}"#,
            r#"{"request":{"userInfo":{"groups":null}}}"#,
            r#"{"request":{"userInfo":{"groups":["a",1]}}}"#,
            r#"{"request":{"userInfo":{"extra":{"x":1e999}}}}"#,
            r#"{"request":{"options":{"x":"\ud800"}}}"#,
            r#"{"extra":[1,]}"#,
            r#"{"request":{"dryRun":"yes"}}"#,
            r#"{"request":{"dryRun":nul}}"#,
            r#"{"request":{"u\u0069d":"a"}}"#,
            r#"{"request":{"object":{"spec":{"x":1e400}}}}"#,
            r#"{"request":{"oldObject":{"metadata":{"name":"\udc00"}}}}"#,
            r#"{"request":{}} x"#,
            r#"{"request":{}},"#,
            r#"[]"#,
            r#""AdmissionReview""#,
            "",
        ] {
            assert!(!agrees(body.as_bytes(), &projection), "{body}");
        }
        for body in [
            r#"{}"#,
            r#" {"request" : null } "#,
            r#"{"request":{"kind":null,"userInfo":null,"dryRun":null,"object":null}}"#,
            r#"{"request":{"kind":{},"userInfo":{"groups":[]},"dryRun":false}}"#,
            r#"{"request":{"object":[1,{"metadata":{"name":"n"}}],"oldObject":"s"}}"#,
        ] {
            assert!(agrees(body.as_bytes(), &projection), "{body}");
        }
    }

    #[test]
    fn nesting_in_every_part_of_a_review_reads_as_serde_json_reads_it() {
        let projection = projection();
        for depth in 115..=130 {
            let deep = format!("{}1{}", "[".repeat(depth), "]".repeat(depth));
            for (at, with) in [
                (r#""restartPolicy":"Always""#, format!(r#""unread":{deep}"#)),
                (
                    r#""image":"registry.example.com/shop/web:1.42.0""#,
                    format!(r#""image":{deep}"#),
                ),
                (r#""options":"#, format!(r#""unread":{deep},"options":"#)),
                (r#""uid":"1f2e"#, format!(r#""extra":{deep},"uid":"1f2e"#)),
            ] {
                let body = FIXTURE.replacen(at, &with, 1);
                assert_ne!(body, FIXTURE, "{at}");
                agrees(body.as_bytes(), &projection);
            }
        }
    }

    /// Every byte of a real review replaced by each character that changes JSON's structure,
    /// and deleted: whatever comes out, both readings agree.
    #[test]
    fn every_one_byte_edit_of_a_review_reads_as_serde_json_reads_it() {
        let projection = projection();
        let fixture = FIXTURE.as_bytes();
        let mut read_fast = 0;
        for at in 0..fixture.len() {
            for replacement in [None, Some(b'"'), Some(b'\\'), Some(b','), Some(b'}')]
                .into_iter()
                .chain([Some(b']'), Some(b'1'), Some(b'e'), Some(b' '), Some(0xff)])
            {
                let mut body = fixture.to_vec();
                match replacement {
                    Some(byte) => body[at] = byte,
                    None => {
                        body.remove(at);
                    }
                }
                read_fast += usize::from(agrees(&body, &projection));
            }
        }
        // Most edits land inside a string and leave a review the fast reader still reads.
        assert!(read_fast > fixture.len() * 5, "{read_fast}");
    }
}
