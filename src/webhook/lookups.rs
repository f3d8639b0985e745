//! Judging reviews whose policies look things up in the cluster (`configMap` and `apiCall`
//! context entries under `serve --kube`).
//!
//! Evaluation is synchronous, and a lookup may have to wait on the API server. Such reviews are
//! judged on tokio's blocking pool, at most [`super::WebhookOptions::lookup_reviews`] at once,
//! with the thread marked for lookups until the review's deadline; every other review stays on
//! its request task, as it costs microseconds. A review that finds no room before its deadline
//! is answered as out of time (`--on-timeout`) without a rule being judged.

use super::handler::answer;
use super::state::AppState;
use crate::server::Refusal;
use axum::body::Bytes;
use axum::http::StatusCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

pub async fn answer_with_lookups(
    state: &Arc<AppState>,
    body: Bytes,
    answer_by: Option<Instant>,
) -> Result<Vec<u8>, Refusal> {
    // The apiserver always states its timeout; a caller that does not gets the default one.
    let until = answer_by.unwrap_or_else(|| {
        Instant::now() + Duration::from_secs(u64::from(crate::webhook_config::TIMEOUT_SECONDS))
    });
    let room = tokio::time::timeout_at(until.into(), state.lookup_reviews.clone().acquire_owned());
    let Ok(Ok(room)) = room.await else {
        // A spent budget stops before the first rule: no lookup is made here.
        return answer(state, &body, Some(Instant::now()));
    };
    let judging = state.clone();
    tokio::task::spawn_blocking(move || {
        let _room = room;
        crate::cluster::environment::with_lookups(until, || answer(&judging, &body, answer_by))
    })
    .await
    .unwrap_or_else(|error| {
        Err(Refusal::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            format!("judging the review failed: {error}"),
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cluster::environment::lookups_until;
    use crate::eval::Environment;
    use crate::metrics::Metrics;
    use crate::policy::{PolicySet, load_str};
    use crate::webhook::WebhookOptions;
    use http_body_util::BodyExt;
    use serde_json::{Value, json};
    use std::path::Path;
    use std::sync::Mutex;
    use std::sync::mpsc;

    const REVIEW: &str = include_str!("../../benches/fixtures/pod-review.json");

    /// Admits a Pod when the API answers `allowed: true` for its name.
    const POLICY: &str = "apiVersion: kyverno.io/v1\nkind: ClusterPolicy\nmetadata:\n  name: asks\nspec:\n  validationFailureAction: Enforce\n  rules:\n  - name: ask\n    match:\n      any:\n      - resources:\n          kinds: [Pod]\n    context:\n    - name: verdict\n      apiCall:\n        urlPath: \"/check/{{ request.object.metadata.name }}\"\n        jmesPath: allowed\n    validate:\n      message: \"the API said no\"\n      deny:\n        conditions:\n          any:\n          - key: \"{{ verdict }}\"\n            operator: Equals\n            value: false\n";

    /// Answers an apiCall only once the test lets it, and only on a thread marked for lookups.
    struct Gated {
        jmespath: crate::jmespath::Environment,
        release: Mutex<mpsc::Receiver<bool>>,
    }

    use crate::eval::context::LookupError;

    impl Environment for Gated {
        fn jmespath(&self) -> &crate::jmespath::Environment {
            &self.jmespath
        }

        fn api_get(&self, url_path: &str) -> Result<Value, LookupError> {
            if lookups_until().is_none() {
                return Err(LookupError::Failed(format!(
                    "GET {url_path} on a request task"
                )));
            }
            let release = self
                .release
                .lock()
                .map_err(|error| LookupError::Failed(error.to_string()))?;
            let allowed = release
                .recv_timeout(Duration::from_secs(5))
                .map_err(|_| LookupError::Failed(format!("GET {url_path} was never released")))?;
            Ok(json!({ "allowed": allowed }))
        }
    }

    fn state(lookup_reviews: usize) -> (Arc<AppState>, mpsc::Sender<bool>) {
        let set = load_str(POLICY, Path::new("asks.yaml")).expect("policy");
        let options = WebhookOptions {
            lookup_reviews,
            ..WebhookOptions::default()
        };
        let state = AppState::with_options(
            PolicySet::from(set),
            Metrics::new().expect("metrics"),
            options,
        );
        assert!(state.policies().looks_up_cluster);
        let (release, gate) = mpsc::channel();
        state.attach_environment(Arc::new(Gated {
            jmespath: crate::jmespath::Environment::default(),
            release: Mutex::new(gate),
        }));
        (state, release)
    }

    async fn review(state: &Arc<AppState>, timeout: &str) -> Value {
        use tower::ServiceExt;
        let request = axum::http::Request::post(format!("/validate?timeout={timeout}"))
            .header("content-type", "application/json")
            // As the apiserver sends it: without a length, a body takes all the body memory.
            .header("content-length", REVIEW.len())
            .body(axum::body::Body::from(REVIEW))
            .expect("request");
        let response = super::super::router(state.clone())
            .oneshot(request)
            .await
            .expect("infallible router");
        let bytes = response
            .into_body()
            .collect()
            .await
            .expect("body")
            .to_bytes();
        serde_json::from_slice(&bytes).expect("a review")
    }

    fn one_worker() -> tokio::runtime::Runtime {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .expect("runtime")
    }

    /// With one worker, a lookup that waited on it would keep the task that releases it from
    /// ever running.
    #[test]
    fn a_review_waiting_on_a_lookup_leaves_the_workers_free() {
        let runtime = one_worker();
        let (state, release) = state(4);
        let verdicts = runtime.block_on(async {
            let pending = tokio::spawn({
                let state = state.clone();
                async move { review(&state, "10s").await }
            });
            // Runs on the only worker while the review waits.
            tokio::spawn(async move {
                tokio::time::sleep(Duration::from_millis(50)).await;
                release.send(false).expect("release");
            })
            .await
            .expect("the worker was free");
            pending.await.expect("review")
        });
        let response = &verdicts["response"];
        assert_eq!(response["allowed"], false, "{verdicts}");
        let message = response["status"]["message"].as_str().unwrap_or_default();
        assert!(message.contains("the API said no"), "{message}");
    }

    #[test]
    fn a_review_with_no_room_before_its_deadline_is_out_of_time_unjudged() {
        let runtime = one_worker();
        let (state, release) = state(1);
        let (first, second) = runtime.block_on(async {
            let first = tokio::spawn({
                let state = state.clone();
                async move { review(&state, "10s").await }
            });
            tokio::time::sleep(Duration::from_millis(50)).await;
            // The one room is taken by the first review, waiting on its lookup.
            let second = review(&state, "250ms").await;
            release.send(true).expect("release");
            (first.await.expect("review"), second)
        });
        assert_eq!(first["response"]["allowed"], true, "{first}");
        assert_eq!(second["response"]["allowed"], false, "{second}");
        assert_eq!(second["response"]["status"]["code"], 504, "{second}");
        let message = second["response"]["status"]["message"]
            .as_str()
            .unwrap_or_default();
        assert!(message.contains("did not finish evaluating"), "{message}");
    }
}
