//! Policies from the cluster: `portcullis.dev/v1alpha1` `ClusterPolicy` / `Policy` objects, and
//! with `--watch-kyverno-policies` also Kyverno's `kyverno.io/v1` ones, compiled exactly like
//! policy files and installed beside them as one atomically swapped set.
//!
//! Unlike a policy directory, which loads all-or-nothing because one commit wrote it, cluster
//! objects are written independently by different people: one invalid object is left out and
//! the others keep being enforced. The server says why in the object's `status` (`ready: false`
//! and the error naming `ClusterPolicy/<name>` and the field). Kyverno's objects are only read,
//! never written: their problems are logged. A cluster policy named like a file policy is left
//! out too (files win), and so is a Kyverno policy named like a `portcullis.dev` one.
//!
//! Status is written only when it differs from what the object already carries, so several
//! replicas converge on the same status instead of fighting, and the watch event a status write
//! causes does not cause another write. A status just written is not written again while the
//! watch still delivers older versions of the object.

use super::crd::{self, PolicyStatus};
use super::{Change, ClusterOptions, follow};
use crate::json_path::JsonPath;
use crate::policy::{self, Origin, Policy, PolicySet};
use crate::webhook::AppState;
use crate::webhook_config;
use crate::yaml::{self, Location};
use kube::ResourceExt;
use kube::api::{Api, ApiResource, DynamicObject, GroupVersionKind, Patch, PatchParams};
use serde_json::{Value, json};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::Path;
use std::sync::Arc;
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;

/// Where a cluster policy comes from. The order is the precedence on a name clash.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Source {
    ClusterPolicy,
    Policy,
    KyvernoClusterPolicy,
    KyvernoPolicy,
}

impl Source {
    pub fn api_resource(self) -> ApiResource {
        let kyverno = |kind, plural| {
            ApiResource::from_gvk_with_plural(
                &GroupVersionKind::gvk("kyverno.io", "v1", kind),
                plural,
            )
        };
        match self {
            Self::ClusterPolicy => ApiResource::erase::<crd::ClusterPolicy>(&()),
            Self::Policy => ApiResource::erase::<crd::Policy>(&()),
            Self::KyvernoClusterPolicy => kyverno("ClusterPolicy", "clusterpolicies"),
            Self::KyvernoPolicy => kyverno("Policy", "policies"),
        }
    }

    /// Only our own objects get a status; Kyverno's belong to Kyverno.
    pub fn owns_status(self) -> bool {
        matches!(self, Self::ClusterPolicy | Self::Policy)
    }

    fn namespaced(self) -> bool {
        matches!(self, Self::Policy | Self::KyvernoPolicy)
    }
}

/// One policy object in the cluster.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ObjectKey {
    pub source: Source,
    pub namespace: Option<String>,
    pub name: String,
}

impl ObjectKey {
    fn of(source: Source, object: &DynamicObject) -> Self {
        Self {
            source,
            namespace: source
                .namespaced()
                .then(|| object.namespace().unwrap_or_default()),
            name: object.name_any(),
        }
    }

    /// How messages name the object: `ClusterPolicy/name`, `Policy/namespace/name`, with the
    /// group for Kyverno's (`kyverno.io/v1 ClusterPolicy/name`).
    pub fn label(&self) -> String {
        let kind = match self.source {
            Source::ClusterPolicy | Source::KyvernoClusterPolicy => "ClusterPolicy",
            Source::Policy | Source::KyvernoPolicy => "Policy",
        };
        let group = if self.source.owns_status() {
            ""
        } else {
            "kyverno.io/v1 "
        };
        match &self.namespace {
            Some(namespace) => format!("{group}{kind}/{namespace}/{}", self.name),
            None => format!("{group}{kind}/{}", self.name),
        }
    }
}

/// Compiles one object with the policy-file loader. Errors name the object and the JSON path
/// of the offending field, since a cluster object has no file and no lines of its own.
pub fn compile_object(key: &ObjectKey, object: &Value) -> Result<Policy, String> {
    let label = key.label();
    // Pretty JSON is YAML the loader reads, with every key on a line of its own, so each error
    // location maps back to exactly one field.
    let text = serde_json::to_string_pretty(object)
        .map_err(|error| format!("{label}: cannot encode the object: {error}"))?;
    match policy::load_str(&text, Path::new(&label)) {
        Ok(mut policies) if policies.len() == 1 => {
            let mut policy = policies.remove(0);
            policy.origin = Origin {
                file: label.into(),
                line: 1,
            };
            Ok(policy)
        }
        Ok(policies) => Err(format!(
            "{label}: expected one policy, got {}",
            policies.len()
        )),
        Err(errors) => Err(describe_errors(&label, &text, &errors)),
    }
}

/// The load errors of one object's `text`, each naming the object and the JSON path of the
/// field it is about.
pub(super) fn describe_errors(label: &str, text: &str, errors: &[policy::LoadError]) -> String {
    let document = yaml::parse_documents(text)
        .ok()
        .and_then(|mut docs| docs.pop());
    errors
        .iter()
        .map(|error| {
            let path = match (&document, error.location) {
                (Some(document), Some(location)) => path_at(document, location),
                _ => JsonPath::root(),
            };
            if path.is_root() {
                format!("{label}: {}", error.message)
            } else {
                format!("{label} at {}: {}", path.dotted(), error.message)
            }
        })
        .collect::<Vec<_>>()
        .join("; ")
}

/// The field whose key (or, failing that, whose value) starts at `location`.
fn path_at(document: &yaml::Document, location: Location) -> JsonPath {
    fn walk(value: &Value, path: &mut JsonPath, visit: &mut dyn FnMut(&JsonPath)) {
        visit(path);
        match value {
            Value::Object(map) => {
                for (key, child) in map {
                    path.push_key(key.clone());
                    walk(child, path, visit);
                    path.pop();
                }
            }
            Value::Array(items) => {
                for (index, child) in items.iter().enumerate() {
                    path.push_index(index);
                    walk(child, path, visit);
                    path.pop();
                }
            }
            _ => {}
        }
    }
    let map = &document.source_map;
    let (mut by_key, mut by_value) = (None, None);
    walk(&document.value, &mut JsonPath::root(), &mut |path| {
        if map.key(path) == Some(location) {
            by_key = Some(path.clone());
        } else if map.value(path) == Some(location) {
            by_value = Some(path.clone());
        }
    });
    by_key.or(by_value).unwrap_or_else(JsonPath::root)
}

struct Entry {
    object: Value,
    compiled: Result<Arc<Policy>, String>,
}

/// Every policy object seen, each compiled once per change.
#[derive(Default)]
pub struct ClusterPolicies {
    /// Leave out policies the webhook registration cannot cover.
    pub require_registrable: bool,
    entries: BTreeMap<ObjectKey, Entry>,
    /// Statuses written whose watch event has not arrived yet.
    in_flight: HashMap<ObjectKey, PolicyStatus>,
}

impl ClusterPolicies {
    pub fn apply(&mut self, source: Source, change: Change<DynamicObject>) {
        let resource = source.api_resource();
        let upsert = |entries: &mut BTreeMap<ObjectKey, Entry>, object: DynamicObject| {
            let key = ObjectKey::of(source, &object);
            let mut value = match serde_json::to_value(&object) {
                Ok(value) => value,
                Err(error) => {
                    let compiled = Err(format!("{}: cannot read the object: {error}", key.label()));
                    entries.insert(
                        key,
                        Entry {
                            object: Value::Null,
                            compiled,
                        },
                    );
                    return;
                }
            };
            // List items may come without their type; the collection says what they are.
            value["apiVersion"] = json!(resource.api_version);
            value["kind"] = json!(resource.kind);
            let compiled = compile_object(&key, &value).map(Arc::new);
            if let Err(error) = &compiled {
                // As an escaped string: a namespaced Policy's text, and so its errors, are
                // written by whoever may create one, and must not start lines of their own.
                tracing::warn!(policy = %key.label(), error = error.to_string().as_str(), "cluster policy left out");
            }
            entries.insert(
                key,
                Entry {
                    object: value,
                    compiled,
                },
            );
        };
        match change {
            Change::Snapshot(objects) => {
                self.entries.retain(|key, _| key.source != source);
                for object in objects {
                    upsert(&mut self.entries, object);
                }
            }
            Change::Applied(object) => upsert(&mut self.entries, object),
            Change::Deleted(object) => {
                self.entries.remove(&ObjectKey::of(source, &object));
            }
        }
    }

    /// Applies a burst of changes, installs the resulting set beside the file policies, and
    /// returns the statuses to write.
    fn install(
        &mut self,
        batch: Vec<(Source, Change<DynamicObject>)>,
        state: &AppState,
    ) -> Vec<(ObjectKey, PolicyStatus)> {
        for (source, change) in batch {
            self.apply(source, change);
        }
        let (set, statuses) = self.build(&state.file_policies());
        tracing::info!(
            policies = set.policies.len(),
            rules = set.rule_count(),
            "cluster policies installed"
        );
        policy::note_inert_settings(&set);
        state.replace_cluster_policies(set);
        statuses
    }

    /// The set to install beside `files`, and the status each owned object should carry.
    pub fn build(&mut self, files: &PolicySet) -> (PolicySet, Vec<(ObjectKey, PolicyStatus)>) {
        let mut taken: HashSet<(Option<String>, String)> = files
            .policies
            .iter()
            .map(|policy| (policy.namespace.clone(), policy.name.clone()))
            .collect();
        let mut policies = Vec::new();
        let mut statuses = Vec::new();
        let entries = &self.entries;
        self.in_flight.retain(|key, _| entries.contains_key(key));
        for (key, entry) in &self.entries {
            let outcome = entry
                .compiled
                .as_ref()
                .map_err(Clone::clone)
                .and_then(|policy| {
                    if self.require_registrable {
                        if let Err(unknown) = webhook_config::rules([&**policy]) {
                            let kinds: Vec<String> =
                                unknown.iter().map(|kind| format!("{:?}", kind.kind)).collect();
                            return Err(format!(
                                "{}: kind {} cannot be registered with the apiserver, so no review of it would arrive; write a custom resource as group/version/Kind (e.g. example.com/v1/Widget)",
                                key.label(),
                                kinds.join(", ")
                            ));
                        }
                    }
                    if taken.insert((policy.namespace.clone(), policy.name.clone())) {
                        Ok(policy)
                    } else {
                        Err(format!(
                            "{}: a policy named {:?} is already loaded; this one is left out",
                            key.label(),
                            policy.qualified_name()
                        ))
                    }
                });
            let status = match outcome {
                Ok(policy) => {
                    policies.push(Arc::clone(policy));
                    PolicyStatus {
                        ready: true,
                        rule_count: u32::try_from(policy.rules.len()).unwrap_or(u32::MAX),
                        error: None,
                        observed_generation: None,
                    }
                }
                Err(error) => PolicyStatus {
                    ready: false,
                    rule_count: 0,
                    error: Some(error),
                    observed_generation: None,
                },
            };
            if key.source.owns_status() {
                let status = PolicyStatus {
                    observed_generation: entry
                        .object
                        .pointer("/metadata/generation")
                        .and_then(Value::as_i64),
                    ..status
                };
                let current = entry
                    .object
                    .get("status")
                    .and_then(|status| serde_json::from_value::<PolicyStatus>(status.clone()).ok());
                if current.as_ref() == Some(&status) {
                    self.in_flight.remove(key);
                } else if self.in_flight.get(key) != Some(&status) {
                    statuses.push((key.clone(), status));
                }
            }
        }
        (
            PolicySet {
                policies,
                exceptions: Default::default(),
            },
            statuses,
        )
    }
}

/// Starts one follower per source and the task that compiles, installs and writes status.
/// The receiver turns true once every source has been listed.
pub fn follow_policies(
    client: kube::Client,
    state: Arc<AppState>,
    options: ClusterOptions,
) -> (Vec<JoinHandle<()>>, watch::Receiver<bool>) {
    let mut sources = vec![Source::ClusterPolicy, Source::Policy];
    if options.watch_kyverno_policies {
        sources.extend([Source::KyvernoClusterPolicy, Source::KyvernoPolicy]);
    }
    let (changes_tx, mut changes_rx) = mpsc::unbounded_channel::<(Source, Change<DynamicObject>)>();
    let mut tasks: Vec<JoinHandle<()>> = sources
        .iter()
        .map(|&source| {
            let api = Api::<DynamicObject>::all_with(client.clone(), &source.api_resource());
            let changes = changes_tx.clone();
            tokio::spawn(async move {
                let what = source.api_resource().plural;
                follow(api, &what, |change| {
                    // The receiver lives as long as the compile task; both end together.
                    let _ = changes.send((source, change));
                })
                .await;
            })
        })
        .collect();
    drop(changes_tx);
    let (synced_tx, synced_rx) = watch::channel(false);
    tasks.push(tokio::spawn(async move {
        let mut policies = ClusterPolicies {
            require_registrable: options.registers_webhooks,
            ..ClusterPolicies::default()
        };
        let mut listed = HashSet::new();
        while let Some(first) = changes_rx.recv().await {
            // Coalesce a burst (a relist, a kubectl apply of a folder) into one rebuild.
            let mut batch = vec![first];
            while let Ok(next) = changes_rx.try_recv() {
                batch.push(next);
            }
            for (source, change) in &batch {
                if matches!(change, Change::Snapshot(_)) {
                    listed.insert(*source);
                }
            }
            // Compiling hundreds of objects takes milliseconds: on the blocking pool, so the
            // workers keep answering reviews meanwhile.
            let installing = state.clone();
            let installed = tokio::task::spawn_blocking(move || {
                let statuses = policies.install(batch, &installing);
                (policies, statuses)
            })
            .await;
            let statuses;
            (policies, statuses) = match installed {
                Ok(installed) => installed,
                Err(error) => {
                    tracing::error!(error = %error, "installing cluster policies failed; no longer following them");
                    return;
                }
            };
            for (key, status) in statuses {
                if write_status(&client, &key, &status).await {
                    policies.in_flight.insert(key, status);
                }
            }
            if listed.len() == sources.len() {
                synced_tx.send_replace(true);
            }
        }
    }));
    (tasks, synced_rx)
}

/// Merge-patches `status` (the status subresource); a failure is logged and retried with the
/// next change, since the object still carries the old status.
async fn write_status(client: &kube::Client, key: &ObjectKey, status: &PolicyStatus) -> bool {
    let resource = key.source.api_resource();
    let api: Api<DynamicObject> = match &key.namespace {
        Some(namespace) => Api::namespaced_with(client.clone(), namespace, &resource),
        None => Api::all_with(client.clone(), &resource),
    };
    let patch = Patch::Merge(json!({ "status": status }));
    match api
        .patch_status(&key.name, &PatchParams::default(), &patch)
        .await
    {
        Ok(_) => {
            tracing::debug!(policy = %key.label(), ready = status.ready, "status written");
            true
        }
        Err(error) => {
            tracing::warn!(policy = %key.label(), error = error.to_string().as_str(), "cannot write the policy status");
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(source: Source, namespace: Option<&str>, name: &str) -> ObjectKey {
        ObjectKey {
            source,
            namespace: namespace.map(str::to_owned),
            name: name.to_owned(),
        }
    }

    fn object(kind: &str, spec: Value) -> Value {
        json!({"apiVersion": "portcullis.dev/v1alpha1", "kind": kind, "metadata": {"name": "p", "namespace": "shop", "generation": 4}, "spec": spec})
    }

    #[test]
    fn errors_name_the_object_and_the_field_path() {
        let spec = json!({"rules": [
            {"name": "ok", "match": {"any": [{"resources": {"kinds": ["Pod"]}}]}, "validate": {"pattern": {"spec": {}}}},
            {"name": "gen", "match": {"any": [{"resources": {"kinds": ["Pod"]}}]}, "generate": {"kind": "ConfigMap"}},
        ]});
        let error = compile_object(
            &key(Source::Policy, Some("shop"), "p"),
            &object("Policy", spec),
        )
        .expect_err("generate is refused");
        assert!(
            error.starts_with("Policy/shop/p at spec.rules[1].generate: generate is not supported"),
            "{error}"
        );
        let kyverno = key(Source::KyvernoClusterPolicy, None, "p");
        let error = compile_object(&kyverno, &object("ClusterPolicy", json!({"rules": "none"})))
            .expect_err("rules must be a list");
        assert!(
            error.starts_with("kyverno.io/v1 ClusterPolicy/p at spec.rules: "),
            "{error}"
        );
    }

    #[test]
    fn a_compiled_object_is_named_by_its_kind_and_namespace() {
        let spec = json!({"rules": [{"name": "r", "match": {"any": [{"resources": {"kinds": ["Pod"]}}]}, "validate": {"pattern": {"spec": {}}}}]});
        let policy = compile_object(
            &key(Source::Policy, Some("shop"), "p"),
            &object("Policy", spec),
        )
        .expect("compiles");
        assert_eq!(policy.qualified_name(), "shop/p");
        assert_eq!(policy.origin.to_string(), "Policy/shop/p:1");
    }
}
