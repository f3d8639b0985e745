//! PolicyExceptions from the cluster: Kyverno's `kyverno.io/v2` PolicyException objects of one
//! namespace, or of every namespace (`*`), as Kyverno's `--exceptionNamespace` chooses them.
//! They are compiled like exception files and installed beside them, and apply to file and
//! cluster policies alike.
//!
//! As with cluster policies, objects are written independently: one that does not compile is
//! left out and logged, and the others keep applying. They belong to Kyverno and are only read.

use super::policies::describe_errors;
use super::{Change, follow};
use crate::policy::{Origin, PolicyException, load::load_str_set};
use crate::webhook::AppState;
use kube::ResourceExt;
use kube::api::{Api, ApiResource, DynamicObject, GroupVersionKind};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;

/// `namespace` for Kyverno's "every namespace".
pub const ALL_NAMESPACES: &str = "*";

pub fn api_resource() -> ApiResource {
    ApiResource::from_gvk_with_plural(
        &GroupVersionKind::gvk("kyverno.io", "v2", "PolicyException"),
        "policyexceptions",
    )
}

/// How messages name an object: `kyverno.io/v2 PolicyException/namespace/name`.
fn label(namespace: &str, name: &str) -> String {
    format!("kyverno.io/v2 PolicyException/{namespace}/{name}")
}

/// Compiles one object with the file loader; errors name the object and the field path.
pub fn compile_object(
    namespace: &str,
    name: &str,
    object: &Value,
) -> Result<PolicyException, String> {
    let label = label(namespace, name);
    // Pretty JSON is YAML the loader reads, every key on a line of its own.
    let text = serde_json::to_string_pretty(object)
        .map_err(|error| format!("{label}: cannot encode the object: {error}"))?;
    let set = load_str_set(&text, Path::new(&label))
        .map_err(|errors| describe_errors(&label, &text, &errors))?;
    match (set.policies.len(), &*set.exceptions) {
        (0, [exception]) => {
            let mut exception = (**exception).clone();
            exception.origin = Origin {
                file: label.into(),
                line: 1,
            };
            Ok(exception)
        }
        _ => Err(format!("{label}: expected one PolicyException")),
    }
}

/// Every exception object seen, each compiled once per change.
#[derive(Default)]
pub struct ClusterExceptions {
    entries: BTreeMap<(String, String), Result<Arc<PolicyException>, String>>,
}

impl ClusterExceptions {
    pub fn apply(&mut self, change: Change<DynamicObject>) {
        let resource = api_resource();
        let key =
            |object: &DynamicObject| (object.namespace().unwrap_or_default(), object.name_any());
        let upsert = |entries: &mut BTreeMap<_, _>, object: DynamicObject| {
            let (namespace, name) = key(&object);
            let compiled = serde_json::to_value(&object)
                .map_err(|error| {
                    format!(
                        "{}: cannot read the object: {error}",
                        label(&namespace, &name)
                    )
                })
                .and_then(|mut value| {
                    // List items may come without their type; the collection says what they are.
                    value["apiVersion"] = json!(resource.api_version);
                    value["kind"] = json!(resource.kind);
                    compile_object(&namespace, &name, &value)
                })
                .map(Arc::new);
            if let Err(error) = &compiled {
                // As an escaped string: the text is written by whoever may create an
                // exception, and must not start lines of its own.
                tracing::warn!(
                    exception = %label(&namespace, &name),
                    error = error.as_str(),
                    "PolicyException left out"
                );
            }
            entries.insert((namespace, name), compiled);
        };
        match change {
            Change::Snapshot(objects) => {
                self.entries.clear();
                for object in objects {
                    upsert(&mut self.entries, object);
                }
            }
            Change::Applied(object) => upsert(&mut self.entries, object),
            Change::Deleted(object) => {
                self.entries.remove(&key(&object));
            }
        }
    }

    /// The exceptions that compiled, ordered by namespace and name as Kyverno orders them.
    pub fn exceptions(&self) -> Vec<Arc<PolicyException>> {
        self.entries
            .values()
            .filter_map(|compiled| compiled.as_ref().ok().cloned())
            .collect()
    }
}

/// Follows the PolicyExceptions of `namespace` ([`ALL_NAMESPACES`] for all) into `state`: a
/// follower task and the task that compiles and installs. The receiver turns true once they
/// have been listed.
pub fn follow_exceptions(
    client: kube::Client,
    state: Arc<AppState>,
    namespace: &str,
) -> (Vec<JoinHandle<()>>, watch::Receiver<bool>) {
    let resource = api_resource();
    let api = if namespace == ALL_NAMESPACES {
        Api::<DynamicObject>::all_with(client, &resource)
    } else {
        Api::<DynamicObject>::namespaced_with(client, namespace, &resource)
    };
    let (changes_tx, mut changes_rx) = mpsc::unbounded_channel::<Change<DynamicObject>>();
    let (synced_tx, synced_rx) = watch::channel(false);
    let follower = tokio::spawn(async move {
        follow(api, &resource.plural, |change| {
            // The receiver lives as long as the installing task; both end together.
            let _ = changes_tx.send(change);
        })
        .await;
    });
    let installer = tokio::spawn(async move {
        let mut exceptions = ClusterExceptions::default();
        while let Some(first) = changes_rx.recv().await {
            // Coalesce a burst (a relist, a kubectl apply of a folder) into one install.
            let mut batch = vec![first];
            while let Ok(next) = changes_rx.try_recv() {
                batch.push(next);
            }
            let listed = batch
                .iter()
                .any(|change| matches!(change, Change::Snapshot(_)));
            // Installing rebuilds the active set: on the blocking pool, off the workers.
            let installing = state.clone();
            let installed = tokio::task::spawn_blocking(move || {
                for change in batch {
                    exceptions.apply(change);
                }
                let compiled = exceptions.exceptions();
                tracing::info!(
                    exceptions = compiled.len(),
                    "cluster PolicyExceptions installed"
                );
                installing.replace_cluster_exceptions(compiled);
                exceptions
            })
            .await;
            exceptions = match installed {
                Ok(exceptions) => exceptions,
                Err(error) => {
                    tracing::error!(error = %error, "installing PolicyExceptions failed; no longer following them");
                    return;
                }
            };
            if listed {
                synced_tx.send_replace(true);
            }
        }
    });
    (vec![follower, installer], synced_rx)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn object(spec: Value) -> Value {
        json!({"apiVersion": "kyverno.io/v2", "kind": "PolicyException", "metadata": {"name": "e", "namespace": "team"}, "spec": spec})
    }

    #[test]
    fn errors_name_the_object_and_the_field_path() {
        let spec = json!({"exceptions": [{"policyName": "p", "ruleNames": ["r"]}], "match": {"any": [{"resources": {"kinds": ["Pod"], "operations": ["PATCH"]}}]}});
        let error = compile_object("team", "e", &object(spec)).expect_err("PATCH is no operation");
        assert!(
            error.starts_with("kyverno.io/v2 PolicyException/team/e at spec.match.any[0].resources.operations[0]: unknown operation \"PATCH\""),
            "{error}"
        );
    }

    #[test]
    fn a_compiled_object_is_named_by_its_namespace_and_name() {
        let spec = json!({"exceptions": [{"policyName": "p", "ruleNames": ["r"]}], "match": {"any": [{"resources": {"kinds": ["Pod"]}}]}});
        let exception = compile_object("team", "e", &object(spec)).expect("compiles");
        assert_eq!(exception.key, "team/e");
        assert_eq!(
            exception.origin.to_string(),
            "kyverno.io/v2 PolicyException/team/e:1"
        );
    }
}
