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
        match key.plain()? {
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
                if scanner.next_token()? == b'n' {
                    scanner.literal(b"null")?;
                } else {
                    review.request = Some(request(&mut scanner, projection)?);
                }
            }
            _ => scanner.skip(1)?,
        }
    }
    scanner.at_end().then_some(review)
}

/// Which fields a map has had, so that a second occurrence (an error) goes the strict way.
#[derive(Default)]
struct Seen(u16);

impl Seen {
    fn once(&mut self, field: u8) -> Option<()> {
        let bit = 1 << field;
        let first = self.0 & bit == 0;
        self.0 |= bit;
        first.then_some(())
    }
}

fn string<'a>(scanner: &mut Scanner<'a>) -> Option<Cow<'a, str>> {
    scanner.string()?.decoded()
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
        match key.plain()? {
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
        match key.plain()? {
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
        match key.plain()? {
            "username" => {
                seen.once(0)?;
                info.username = owned_string(scanner)?;
            }
            "groups" => {
                seen.once(1)?;
                let mut groups = scanner.array(4)?;
                while scanner.next_element(&mut groups)? {
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
    use super::*;

    #[test]
    fn reads_the_bench_fixture() {
        let set = crate::defaults::embedded_policy_set().unwrap();
        let projection = Projection::of_set(&set);
        let text = include_str!("../../../benches/fixtures/pod-review.json");
        assert!(read_review(text, &projection).is_some());
    }
}
