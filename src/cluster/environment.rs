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
use crate::eval::context::LookupError;
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

/// Until when lookups may block this thread; `None` where they may not.
pub fn lookups_until() -> Option<Instant> {
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

    fn config_map(&self, namespace: &str, name: &str) -> Result<Value, LookupError> {
        let failed = |why: &str| {
            LookupError::Failed(format!(
                "failed to get configmap {namespace}/{name} : {why}"
            ))
        };
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

    fn api_get(&self, url_path: &str) -> Result<Value, LookupError> {
        self.get(url_path)
            .map(|answer| Value::clone(&answer))
            .map_err(LookupError::Failed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cluster::Change;
    use crate::cluster::api_get::LookupOptions;
    use crate::cluster::config_maps::Watched;
    use crate::eval::{self, Request, RuleOutcome};
    use crate::matching::{Gvk, Operation};
    use crate::policy::{PolicySet, load_str};
    use k8s_openapi::api::core::v1::ConfigMap;
    use kube::api::ObjectMeta;
    use serde_json::json;
    use std::path::Path;

    /// An environment whose store follows `shop/limits` (`max: "2"`) and whose GETs go to a
    /// port nothing listens on.
    fn environment(runtime: &tokio::runtime::Runtime) -> ClusterEnvironment {
        let store = Arc::new(ConfigMapStore::default());
        let key = Watched {
            namespace: Some("shop".to_owned()),
            name: "limits".to_owned(),
        };
        let generation = store.begin(&key);
        let limits = ConfigMap {
            metadata: ObjectMeta {
                name: Some("limits".to_owned()),
                namespace: Some("shop".to_owned()),
                ..ObjectMeta::default()
            },
            data: Some([("max".to_owned(), "2".to_owned())].into()),
            ..ConfigMap::default()
        };
        store.apply(&key, generation, Change::Snapshot(vec![limits]));
        let config = kube::Config::new("http://127.0.0.1:9".parse().expect("URL"));
        let client = runtime
            .block_on(async { kube::Client::try_from(config) })
            .expect("client");
        let gets = ApiGets::new(client, runtime.handle().clone(), LookupOptions::default());
        ClusterEnvironment::new(store, gets)
    }

    fn runtime() -> tokio::runtime::Runtime {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .expect("runtime")
    }

    #[test]
    fn followed_config_maps_answer_with_data_and_metadata_and_say_when_missing() {
        let runtime = runtime();
        let environment = environment(&runtime);
        let limits = environment.config_map("shop", "limits").expect("followed");
        assert_eq!(limits["data"], json!({"max": "2"}));
        assert_eq!(limits["metadata"]["namespace"], "shop");
        let key = Watched {
            namespace: Some("shop".to_owned()),
            name: "absent".to_owned(),
        };
        let generation = environment.config_maps.begin(&key);
        environment
            .config_maps
            .apply(&key, generation, Change::Snapshot(Vec::new()));
        assert_eq!(
            environment
                .config_map("shop", "absent")
                .expect_err("missing")
                .to_string(),
            "failed to get configmap shop/absent : configmap \"absent\" not found"
        );
        assert_eq!(
            environment
                .config_map("shop", "../secrets/x")
                .expect_err("not a name")
                .to_string(),
            "failed to get configmap shop/../secrets/x : the name \"../secrets/x\" is not a \
             valid object name"
        );
    }

    #[test]
    fn lookups_that_would_wait_are_refused_off_lookup_threads_and_bounded_on_them() {
        let runtime = runtime();
        let environment = environment(&runtime);
        let error = environment
            .api_get("/api/v1/namespaces/shop")
            .expect_err("not a lookup thread")
            .to_string();
        assert!(error.contains("was not made"), "{error}");
        let error = environment
            .config_map("shop", "other")
            .expect_err("no watch, no lookup thread")
            .to_string();
        assert!(error.contains("was not made"), "{error}");
        // On a lookup thread the GET is made, and fails as the connection does.
        let error = with_lookups(Instant::now() + std::time::Duration::from_secs(5), || {
            environment.api_get("/api/v1/namespaces/shop")
        })
        .expect_err("nothing listens")
        .to_string();
        assert!(
            error.starts_with("failed to GET resource with raw url: /api/v1/namespaces/shop: "),
            "{error}"
        );
        assert_eq!(lookups_until(), None, "the mark ends with the review");
    }

    fn judge(policy: &str, environment: &dyn Environment) -> RuleOutcome<'static> {
        let set = PolicySet::from(load_str(policy, Path::new("p.yaml")).expect("policy"));
        let set: &'static PolicySet = Box::leak(Box::new(set));
        let gvk = Gvk {
            group: String::new(),
            version: "v1".to_owned(),
            kind: "Pod".to_owned(),
        };
        let pod = json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "web", "namespace": "shop"}, "spec": {"containers": [{"name": "c", "image": "nginx"}]}});
        let request = Request {
            operation: Operation::Create,
            gvk: &gvk,
            subresource: "",
            object: &pod,
            old_object: &Value::Null,
            namespace: "shop",
            namespace_labels: None,
            unknown_namespace_hint: "",
            user: None,
            admission: true,
            admission_request: None,
            environment,
        };
        let mut report = eval::evaluate(set, &request);
        report.results.remove(0).outcome
    }

    fn policy(kind: &str, entry: &str) -> String {
        let namespace = if kind == "Policy" {
            "\n  namespace: shop"
        } else {
            ""
        };
        format!(
            "apiVersion: kyverno.io/v1\nkind: {kind}\nmetadata:\n  name: p{namespace}\nspec:\n  validationFailureAction: Enforce\n  rules:\n  - name: r\n    match:\n      any:\n      - resources:\n          kinds: [Pod]\n    context:\n    - name: found\n{entry}    validate:\n      message: \"at most {{{{ found.data.max }}}}\"\n      deny:\n        conditions:\n          any:\n          - key: \"{{{{ found.data.max }}}}\"\n            operator: Equals\n            value: \"2\"\n"
        )
    }

    #[test]
    fn a_namespaced_policy_reads_its_own_namespace_only() {
        let runtime = runtime();
        let environment = environment(&runtime);
        let own = "      configMap:\n        name: limits\n";
        // The empty namespace is the Policy's own; a ClusterPolicy's is `default`.
        let outcome = judge(&policy("Policy", own), &environment);
        assert!(
            matches!(&outcome, RuleOutcome::Fail { message, .. } if message == "at most 2"),
            "{outcome:?}"
        );
        let outcome = judge(&policy("ClusterPolicy", own), &environment);
        assert!(
            matches!(&outcome, RuleOutcome::Error { message } if message.contains("configmap default/limits")),
            "{outcome:?}"
        );
        let other = "      configMap:\n        name: limits\n        namespace: kube-system\n";
        let outcome = judge(&policy("Policy", other), &environment);
        assert!(
            matches!(&outcome, RuleOutcome::Error { message } if message.ends_with(
                "context entry found: configMap namespace \"kube-system\" is different from policy namespace \"shop\""
            )),
            "{outcome:?}"
        );
        for (path, error) in [
            (
                "/api/v1/namespaces/kube-system/secrets",
                "path /api/v1/namespaces/kube-system/secrets refers to namespace kube-system, which is different from the policy namespace shop",
            ),
            (
                "/api/v1/namespaces/shop/../kube-system/pods",
                "path /api/v1/namespaces/kube-system/pods refers to namespace kube-system",
            ),
            (
                "/api/v1/nodes",
                "path /api/v1/nodes does not contain a namespace segment, which is required for namespaced policies",
            ),
        ] {
            // A default does not stand in for a refused path.
            let entry =
                format!("      apiCall:\n        urlPath: \"{path}\"\n        default: {{}}\n");
            let outcome = judge(&policy("Policy", &entry), &environment);
            assert!(
                matches!(&outcome, RuleOutcome::Error { message } if message.contains(error)),
                "{path}: {outcome:?}"
            );
        }
    }
}
