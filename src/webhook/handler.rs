//! `POST /validate`: `AdmissionReview` in, `AdmissionReview` out.
//!
//! Once a review has a `uid`, the apiserver always gets an `AdmissionReview` back; a body that is
//! not a well-formed review gets a 400 with a JSON error body naming what is wrong, and never a
//! panic. Evaluation errors follow the policies' failure policy, as in Kyverno. A body must
//! arrive within the body read timeout (408 otherwise) and the limit (413), and the apiserver's
//! `?timeout=` sets when the answer is due (`deadline`).

use super::deadline::{self, OnTimeout};
use super::review::{
    API_VERSIONS, AdmissionResponse, AdmissionReviewOut, ResponseStatus, read_review,
};
use super::state::AppState;
use crate::eval;
use crate::eval::admission::{self, ResourceName};
use crate::matching::{Gvk, Operation, UserInfo};
use crate::projection;
use crate::server::{self, Readiness, Refusal};
use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, FromRequest, Request, State};
use axum::http::{Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::Value;
use std::borrow::Cow;
use std::sync::Arc;
use std::task::Poll;
use std::time::Instant;
use tokio::sync::SemaphorePermit;

/// An UPDATE carries both objects; 8 MiB is well above what etcd accepts for one object.
pub const BODY_LIMIT: usize = 8 * 1024 * 1024;

pub fn router(state: Arc<AppState>) -> Router {
    Router::new()
        .route(
            "/validate",
            post(validate).fallback(
                |State(state): State<Arc<AppState>>, method: Method, uri: Uri| async move {
                    refuse(&state, Refusal::method_not_allowed(&method, &uri, "POST"))
                },
            ),
        )
        .fallback(|State(state): State<Arc<AppState>>, uri: Uri| async move {
            refuse(&state, Refusal::not_found(&uri))
        })
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .with_state(state)
}

/// The two applications `serve` runs: the webhook (with health checks) for the TLS listener,
/// and metrics with health checks for the plain one.
pub fn routers(state: Arc<AppState>, readiness: Readiness) -> (Router, Router) {
    let tls = router(state.clone()).merge(server::health_routes(readiness.clone()));
    let plain = metrics_router(state).merge(server::health_routes(readiness));
    (tls, plain)
}

/// The plain-HTTP side: `GET /metrics` in Prometheus text format.
pub fn metrics_router(state: Arc<AppState>) -> Router {
    Router::new()
        .route(
            "/metrics",
            get(|State(state): State<Arc<AppState>>| async move {
                (
                    [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
                    state.metrics.encode(),
                )
            })
            .fallback(|method: Method, uri: Uri| async move {
                Refusal::method_not_allowed(&method, &uri, "GET")
            }),
        )
        .fallback(|uri: Uri| async move { Refusal::not_found(&uri) })
        .with_state(state)
}

/// A 400: the body is not a review that can be judged.
fn malformed(reason: &'static str, message: impl Into<String>) -> Refusal {
    Refusal::new(StatusCode::BAD_REQUEST, reason, message)
}

async fn validate(State(state): State<Arc<AppState>>, request: Request) -> Response {
    let arrived = Instant::now();
    let _in_flight = InFlight::enter(&state);
    let outcome = async {
        let timeout = deadline::requested_timeout(request.uri().query())
            .map_err(|message| malformed("bad_timeout", message))?;
        let _body_memory = reserve_body_memory(declared_length(&request), &state).await?;
        let body = read_body(request, &state).await?;
        answer(&state, &body, deadline::answer_by(arrived, timeout))
    }
    .await;
    match outcome {
        Ok(body) => ([(header::CONTENT_TYPE, "application/json")], body).into_response(),
        Err(bad) => refuse(&state, bad),
    }
}

/// Counts, logs and answers a refusal. Its message is cut at [`MESSAGE_LIMIT`]: serde_json's
/// errors quote what they found, and a megabyte string where a boolean belongs would otherwise
/// come back whole, and be logged whole.
fn refuse(state: &AppState, mut refusal: Refusal) -> Response {
    if let Cow::Owned(cut) = bounded(&refusal.message, MESSAGE_LIMIT) {
        refusal.message = cut;
    }
    state
        .metrics
        .admission_request_errors
        .with_label_values(&[refusal.reason])
        .inc();
    // A 503 for lack of body memory is load shed, not a fault of ours.
    if refusal.status == StatusCode::INTERNAL_SERVER_ERROR {
        tracing::error!(
            reason = refusal.reason,
            status = refusal.status.as_u16(),
            error = refusal.message.as_str(),
            "admission request failed"
        );
    } else {
        tracing::warn!(
            reason = refusal.reason,
            status = refusal.status.as_u16(),
            error = refusal.message.as_str(),
            "refused admission request"
        );
    }
    refusal.into_response()
}

/// The longest error message a refusal carries.
const MESSAGE_LIMIT: usize = 1024;

/// The longest request field a log line carries: the apiserver's are far shorter (a name is
/// at most 253 bytes, a uid 36).
const FIELD_LIMIT: usize = 256;

/// `text` as a log line or an error body carries it: cut at `limit` bytes, with its length,
/// rather than written out whole for whoever sent it.
fn bounded(text: &str, limit: usize) -> Cow<'_, str> {
    if text.len() <= limit {
        return Cow::Borrowed(text);
    }
    let mut end = limit;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    Cow::Owned(format!("{}… ({} bytes)", &text[..end], text.len()))
}

/// The room a request may take, from the memory all requests share: its body twice (it
/// arrives in chunks that are then copied whole), at its declared length (hyper ends a body
/// there, so it cannot take more) or the body limit when none is declared, and the values the
/// reader may build from it. A request that finds too little waits, as long as it may take to
/// send its body, for requests before it to finish, then gets 503. One that needs more than
/// all of it takes all of it.
async fn reserve_body_memory(
    declared: Option<usize>,
    state: &AppState,
) -> Result<SemaphorePermit<'_>, Refusal> {
    // A declared length over the limit is refused with 413 by the read, before any of it.
    let body = declared.unwrap_or(BODY_LIMIT).min(BODY_LIMIT);
    let wanted = body
        .saturating_mul(2)
        .saturating_add(projection::most_memory_built(body))
        .min(state.options.body_memory);
    let permits = u32::try_from(wanted).unwrap_or(u32::MAX);
    if let Ok(room) = state.body_memory.try_acquire_many(permits) {
        return Ok(room);
    }
    let patience = state.options.body_read_timeout;
    match tokio::time::timeout(patience, state.body_memory.acquire_many(permits)).await {
        Ok(Ok(room)) => Ok(room),
        // The budget is never closed, so only the wait can end it.
        Ok(Err(_)) | Err(_) => Err(Refusal::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "busy",
            format!(
                "the {} bytes the server holds at once for request bodies and what is read from them are taken; the {wanted} this one needs did not free up within {patience:?}",
                state.options.body_memory
            ),
        )),
    }
}

fn declared_length(request: &Request) -> Option<usize> {
    request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|length| length.to_str().ok()?.parse().ok())
}

/// The whole body, within the body limit and the body read timeout; axum's rejections become
/// our JSON errors with their own status (413 for a body over the limit).
async fn read_body(request: Request, state: &Arc<AppState>) -> Result<Bytes, Refusal> {
    let patience = state.options.body_read_timeout;
    let mut reading = std::pin::pin!(Bytes::from_request(request, state));
    // A review usually arrives with its headers; arming a timer for it would cost more than
    // reading it.
    let first_try = std::future::poll_fn(|cx| Poll::Ready(reading.as_mut().poll(cx))).await;
    let read = match first_try {
        Poll::Ready(read) => read,
        Poll::Pending => match tokio::time::timeout(patience, reading).await {
            Ok(read) => read,
            Err(_) => {
                return Err(Refusal::new(
                    StatusCode::REQUEST_TIMEOUT,
                    "body_timeout",
                    format!("request body not received within {patience:?}"),
                ));
            }
        },
    };
    read.map_err(|rejection| {
        Refusal::new(
            rejection.status(),
            if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
                "too_large"
            } else {
                "unreadable_body"
            },
            rejection.body_text(),
        )
    })
}

struct InFlight<'a>(&'a AppState);

impl<'a> InFlight<'a> {
    fn enter(state: &'a AppState) -> Self {
        state.metrics.in_flight.inc();
        Self(state)
    }
}

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.metrics.in_flight.dec();
    }
}

/// Judges one serialized review and serializes the answer, timing it for
/// `portcullis_admission_review_duration_seconds`; evaluation that has not finished by
/// `answer_by` stops between rules and is answered as `--on-timeout` says.
pub fn answer(
    state: &AppState,
    body: &[u8],
    answer_by: Option<Instant>,
) -> Result<Vec<u8>, Refusal> {
    let started = Instant::now();
    let active = state.policies();
    let mut review = read_review(body, &active.projection).map_err(|error| {
        if projection::is_too_many_values(&error) {
            return Refusal::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "too_many_values",
                format!("request body is too large to judge: {error}"),
            );
        }
        malformed(
            "malformed_json",
            format!("request body is not a valid AdmissionReview: {error}"),
        )
    })?;
    if !API_VERSIONS.contains(&review.api_version.as_ref()) || review.kind != "AdmissionReview" {
        return Err(malformed(
            "wrong_type",
            format!(
                "expected kind AdmissionReview of apiVersion admission.k8s.io/v1 or v1beta1, got kind {:?} of apiVersion {:?}",
                review.kind, review.api_version
            ),
        ));
    }
    let mut request = review
        .request
        .take()
        .ok_or_else(|| malformed("missing_request", "AdmissionReview has no request"))?;
    if request.uid.is_empty() {
        return Err(malformed(
            "missing_uid",
            "AdmissionReview request has no uid",
        ));
    }
    let operation = Operation::parse(&request.operation).ok_or_else(|| {
        malformed(
            "bad_operation",
            format!(
                "request {}: unknown operation {:?}",
                request.uid, request.operation
            ),
        )
    })?;
    let kind = request
        .kind
        .take()
        .filter(|kind| !kind.kind.is_empty() && !kind.version.is_empty())
        .ok_or_else(|| {
            malformed(
                "missing_kind",
                format!(
                    "request {}: request.kind needs a version and a kind",
                    request.uid
                ),
            )
        })?;
    let judged = if operation == Operation::Delete {
        &request.old_object
    } else {
        &request.object
    };
    for (field, value) in [
        ("object", &request.object),
        ("oldObject", &request.old_object),
    ] {
        if !matches!(value, Value::Object(_) | Value::Null) {
            return Err(malformed(
                "bad_object",
                format!("request {}: {field} must be an object", request.uid),
            ));
        }
    }
    if !judged.is_object() && operation != Operation::Connect {
        let field = if operation == Operation::Delete {
            "oldObject"
        } else {
            "object"
        };
        return Err(malformed(
            "bad_object",
            format!("request {}: {operation} needs an {field}", request.uid),
        ));
    }

    let gvk = Gvk {
        group: kind.group,
        version: kind.version,
        kind: kind.kind,
    };
    let user = request.user_info.take().map(|info| {
        let mut user = UserInfo {
            username: info.username,
            groups: info.groups,
            ..UserInfo::default()
        };
        if active.reads_requester_roles {
            state.fill_roles(&mut user, &request.namespace);
        }
        user
    });
    let namespace_labels = if active.reads_namespace_labels {
        state.namespace_labels(&request.namespace)
    } else {
        None
    };
    // Variables read `request.*` as the apiserver sent it, every field of it; a set that reads
    // none is spared the second parse.
    let sent_request = if active.reads_variables {
        Some(
            crate::webhook::review::request_fields(body).map_err(|error| {
                malformed(
                    "malformed_json",
                    format!("request body is not a valid AdmissionReview: {error}"),
                )
            })?,
        )
    } else {
        None
    };
    let eval_request = eval::Request {
        operation,
        gvk: &gvk,
        subresource: &request.sub_resource,
        object: &request.object,
        old_object: &request.old_object,
        namespace: &request.namespace,
        namespace_labels: namespace_labels.as_deref(),
        unknown_namespace_hint: "the namespace reflector of `serve --kube` has not seen it, or it was deleted; without --kube no labels are known",
        user: user.as_ref(),
        admission: true,
        admission_request: sent_request.as_ref(),
        environment: state.environment(),
    };
    let report = eval::evaluate_observed(
        &active.set,
        &eval_request,
        &eval::Budget::until(answer_by),
        &mut active.metrics.observer(&state.metrics),
    );
    let name = match request.name.as_ref() {
        "" => judged
            .pointer("/metadata/name")
            .and_then(Value::as_str)
            .unwrap_or(""),
        name => name,
    };
    let resource = ResourceName {
        kind: &gvk.kind,
        namespace: &request.namespace,
        name,
    };
    let mut decision = admission::decide(&report, resource);
    let mut code = 403;
    // A violation found before the deadline stands; only an unfinished "allow" is in doubt.
    if report.unfinished && decision.allowed {
        let on_timeout = state.options.on_timeout;
        state
            .metrics
            .admission_deadline_exceeded
            .with_label_values(&[on_timeout.as_str()])
            .inc();
        let why = format!(
            "portcullis did not finish evaluating {}/{}/{} within the apiserver's timeout",
            gvk.kind, request.namespace, name
        );
        // The review's own line, with its uid, follows and names the resource.
        tracing::warn!(
            uid = bounded(&request.uid, FIELD_LIMIT).as_ref(),
            on_timeout = on_timeout.as_str(),
            "evaluation did not finish within the apiserver's timeout"
        );
        match on_timeout {
            OnTimeout::Deny => {
                decision.allowed = false;
                decision.message = Some(why);
                code = 504;
            }
            OnTimeout::Allow => decision.warnings.push(format!("{why}; allowed unchecked")),
        }
    }
    state
        .metrics
        .admission_requests
        .count(operation, &gvk.kind, decision.allowed);
    let latency_us = u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX);
    tracing::info!(
        uid = bounded(&request.uid, FIELD_LIMIT).as_ref(),
        kind = bounded(&gvk.kind, FIELD_LIMIT).as_ref(),
        namespace = bounded(&request.namespace, FIELD_LIMIT).as_ref(),
        name = bounded(name, FIELD_LIMIT).as_ref(),
        operation = operation.as_str(),
        subresource = bounded(&request.sub_resource, FIELD_LIMIT).as_ref(),
        dry_run = request.dry_run.unwrap_or(false),
        decision = if decision.allowed { "allow" } else { "deny" },
        latency_us,
        "admission review"
    );
    let response = AdmissionReviewOut {
        api_version: &review.api_version,
        kind: "AdmissionReview",
        response: AdmissionResponse {
            uid: &request.uid,
            allowed: decision.allowed,
            status: decision.message.map(|message| ResponseStatus {
                status: "Failure",
                code,
                message,
            }),
            warnings: decision.warnings,
        },
    };
    let answer = serde_json::to_vec(&response).map_err(|error| {
        Refusal::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            format!(
                "request {}: cannot encode the response: {error}",
                request.uid
            ),
        )
    })?;
    state
        .metrics
        .admission_review_duration
        .observe(started.elapsed().as_secs_f64());
    Ok(answer)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::defaults::embedded_policy_set;
    use crate::metrics::Metrics;
    use crate::policy::{PolicySet, load_str};
    use crate::webhook::state::NamespaceLabelLookup;
    use std::collections::BTreeMap;
    use std::path::Path;
    use std::sync::atomic::{AtomicUsize, Ordering};

    const REVIEW: &str = include_str!("../../benches/fixtures/pod-review.json");

    #[derive(Default)]
    struct CountedLookups(AtomicUsize);

    impl NamespaceLabelLookup for CountedLookups {
        fn labels(&self, _namespace: &str) -> Option<Arc<BTreeMap<String, String>>> {
            self.0.fetch_add(1, Ordering::Relaxed);
            Some(Arc::default())
        }
    }

    #[test]
    fn namespace_labels_are_looked_up_only_for_sets_that_read_them() {
        let state = AppState::new(
            embedded_policy_set().expect("default policies"),
            Metrics::new().expect("metrics"),
        );
        let lookups = Arc::new(CountedLookups::default());
        state.attach_namespace_labels(lookups.clone());
        answer(&state, REVIEW.as_bytes(), None).expect("answered");
        assert_eq!(lookups.0.load(Ordering::Relaxed), 0);

        let selecting = "apiVersion: kyverno.io/v1\nkind: ClusterPolicy\nmetadata:\n  name: selecting\nspec:\n  rules:\n  - name: r\n    match:\n      any:\n      - resources:\n          kinds: [Pod]\n          namespaceSelector:\n            matchLabels:\n              team: a\n    validate:\n      pattern:\n        spec: {}\n";
        let set = load_str(selecting, Path::new("selecting.yaml")).expect("policy");
        state.replace_policies(PolicySet::from(set));
        answer(&state, REVIEW.as_bytes(), None).expect("answered");
        assert_eq!(lookups.0.load(Ordering::Relaxed), 1);
    }

    #[test]
    fn bounded_text_is_cut_on_a_character_boundary_with_its_length() {
        assert_eq!(bounded("short", 8), "short");
        assert_eq!(bounded("exactly8", 8), "exactly8");
        assert_eq!(bounded("abcdefghij", 4), "abcd… (10 bytes)");
        // "é" takes bytes 3 and 4; a cut at 4 falls inside it.
        assert_eq!(bounded("abcéfg", 4), "abc… (7 bytes)");
    }
}
