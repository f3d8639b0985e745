//! `portcullis test --output json`: every expectation with what the engine gave for it, so that
//! a caller can compare the actual results rather than only whether expectations held.

use super::{CaseResult, Observed, Verdict};
use serde::Serialize;

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct CaseView<'a> {
    test_file: String,
    policy: &'a str,
    rule: &'a str,
    resource: &'a str,
    expected: &'a str,
    /// `pass` (the expectation held), `fail`, `error` or `unsupported`.
    verdict: &'static str,
    /// Why the expectation failed or could not run; the unsupported features' names.
    #[serde(skip_serializing_if = "Option::is_none")]
    reason: Option<String>,
    observed: Vec<ObservedView<'a>>,
}

#[derive(Serialize)]
struct ObservedView<'a> {
    rule: &'a str,
    kind: &'a str,
    namespace: &'a str,
    name: &'a str,
    result: &'a str,
    message: &'a str,
}

impl<'a> From<&'a Observed> for ObservedView<'a> {
    fn from(observed: &'a Observed) -> Self {
        ObservedView {
            rule: &observed.rule,
            kind: &observed.kind,
            namespace: &observed.namespace,
            name: &observed.name,
            result: &observed.result,
            message: &observed.message,
        }
    }
}

/// The cases as one pretty-printed JSON array.
pub(super) fn render(cases: &[CaseResult]) -> String {
    let views: Vec<CaseView<'_>> = cases
        .iter()
        .map(|case| {
            let (verdict, reason) = match &case.verdict {
                Verdict::Pass => ("pass", None),
                Verdict::Mismatch(why) => ("fail", Some(why.clone())),
                Verdict::Error(why) => ("error", Some(why.clone())),
                Verdict::Unsupported(features) => ("unsupported", Some(features.join(", "))),
            };
            CaseView {
                test_file: case.test_file.display().to_string(),
                policy: &case.policy,
                rule: &case.rule,
                resource: &case.resource,
                expected: &case.expected,
                verdict,
                reason,
                observed: case.observed.iter().map(ObservedView::from).collect(),
            }
        })
        .collect();
    serde_json::to_string_pretty(&views).unwrap_or_else(|error| {
        // Serialising strings and string slices cannot fail; say so if it ever does.
        format!("{{\"error\": \"cannot render JSON: {error}\"}}")
    })
}
