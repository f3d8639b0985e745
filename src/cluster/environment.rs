//! What `serve --kube` answers context entries with: ConfigMaps from their watches (else a
//! bounded GET), and `apiCall` GETs through [`ApiGets`].
//!
//! The [`Environment`] trait is synchronous, and evaluation knows nothing of threads. A lookup
//! that has to wait on the network may only do so on a thread the webhook set aside for it,
//! with the review's deadline: [`with_lookups`] marks such a thread for the time of one review.
//! Anywhere else (a runtime worker, which must never block) such a lookup is an error naming
//! the entry, never a wait and never a pass.

use super::api_get::ApiGets;
use super::config_maps::{self, ConfigMapStore, Known};
use crate::eval::Environment;
use crate::jmespath;
use serde_json::Value;
use std::cell::Cell;
use std::sync::Arc;
use std::time::Instant;

thread_local! {
    /// Set while this thread judges a review that may wait on lookups: until when.
    static LOOKUPS_UNTIL: Cell<Option<Instant>> = const { Cell::new(None) };
}

/// Runs `judge` with lookups allowed to block this thread until `until`. The caller makes sure
/// the thread is not a runtime worker.
pub fn with_lookups<R>(until: Instant, judge: impl FnOnce() -> R) -> R {
    struct Reset(Option<Instant>);
    impl Drop for Reset {
        fn drop(&mut self) {
            LOOKUPS_UNTIL.with(|cell| cell.set(self.0));
        }
    }
    let _reset = Reset(LOOKUPS_UNTIL.with(|cell| cell.replace(Some(until))));
    judge()
}

fn lookups_until() -> Option<Instant> {
    LOOKUPS_UNTIL.with(Cell::get)
}

pub struct ClusterEnvironment {
    jmespath: jmespath::Environment,
    config_maps: Arc<ConfigMapStore>,
    gets: Arc<ApiGets>,
}

impl ClusterEnvironment {
    pub fn new(config_maps: Arc<ConfigMapStore>, gets: Arc<ApiGets>) -> Self {
        Self {
            jmespath: jmespath::Environment::default(),
            config_maps,
            gets,
        }
    }

    fn get(&self, path: &str) -> Result<Arc<Value>, String> {
        let Some(until) = lookups_until() else {
            return Err(format!(
                "GET {path} was not made: this review was judged on a request task, where \
                 nothing may wait on the API server (the policies changed while it arrived)"
            ));
        };
        self.gets.get_blocking(path, until)
    }
}

impl Environment for ClusterEnvironment {
    fn jmespath(&self) -> &jmespath::Environment {
        &self.jmespath
    }

    fn config_map(&self, namespace: &str, name: &str) -> Result<Value, String> {
        let failed = |why: &str| format!("failed to get configmap {namespace}/{name} : {why}");
        match self.config_maps.lookup(namespace, name) {
            Known::Found(value) => Ok(Value::clone(&value)),
            Known::Missing => Err(failed(&format!("configmap \"{name}\" not found"))),
            Known::NotWatched => {
                for (field, text) in [("namespace", namespace), ("name", name)] {
                    if !config_maps::is_object_name(text) {
                        return Err(failed(&format!(
                            "the {field} {text:?} is not a valid object name"
                        )));
                    }
                }
                let path = format!("/api/v1/namespaces/{namespace}/configmaps/{name}");
                self.get(&path)
                    .map(|object| config_maps::context_value(&object))
                    .map_err(|error| failed(&error))
            }
        }
    }

    fn api_get(&self, url_path: &str) -> Result<Value, String> {
        self.get(url_path).map(|answer| Value::clone(&answer))
    }
}
