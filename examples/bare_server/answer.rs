//! The bare server's whole work on a review: read the `uid` it must echo, skipping the rest,
//! and answer "allowed". Also measured alone by the `bare_server_answer` bench.

use serde::Deserialize;

#[derive(Deserialize)]
struct Review {
    request: ReviewRequest,
}

#[derive(Deserialize)]
struct ReviewRequest {
    uid: String,
}

/// The serialized "allowed" answer to the review in `body`.
pub fn allow(body: &[u8]) -> Result<String, serde_json::Error> {
    let review: Review = serde_json::from_slice(body)?;
    Ok(serde_json::json!({
        "apiVersion": "admission.k8s.io/v1",
        "kind": "AdmissionReview",
        "response": {"uid": review.request.uid, "allowed": true},
    })
    .to_string())
}
