//! The ConfigMaps that `configMap` context entries name, kept current by list + watch.
//!
//! Only the ConfigMaps the active policies name are followed, each by a watch with a
//! `metadata.name` field selector (which RBAC can grant by `resourceNames`):
//!
//! - a fixed name and namespace: that one object;
//! - a fixed name in a templated namespace (`{{ request.namespace }}`): that name in every
//!   namespace, for a ClusterPolicy; a namespaced Policy can only read its own namespace, so
//!   there it is that one object;
//! - an empty namespace: `default` for a ClusterPolicy, the policy's own for a Policy, as in
//!   Kyverno.
//!
//! A templated name (`{{ request.object.metadata.labels.config }}`) could be any ConfigMap:
//! following them all would hold every ConfigMap of the cluster (or of a namespace) in memory,
//! and need the right to read them all, for the few a review names. Those are read when a
//! review needs them, by a GET bounded like an `apiCall` and kept for a few seconds
//! ([`super::api_get`]); so is a ConfigMap whose watch has not listed yet (a policy just
//! installed, or a watch RBAC refuses), so no review waits for a watch to start.
//!
//! The followed set changes with the policies: after every install, watches for names no
//! policy needs any more stop and their objects are forgotten, and new ones start.

use super::{Change, follow_with};
use crate::policy::{ContextSource, PolicySet};
use crate::webhook::AppState;
use arc_swap::ArcSwap;
use k8s_openapi::api::core::v1::ConfigMap;
use kube::ResourceExt;
use kube::api::Api;
use kube::runtime::watcher;
use serde_json::{Value, json};
use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex, PoisonError};
use tokio::task::JoinHandle;

/// One followed name: in one namespace, or in all (`None`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Watched {
    pub namespace: Option<String>,
    pub name: String,
}

impl Watched {
    fn label(&self) -> String {
        match &self.namespace {
            Some(namespace) => format!("configmap {namespace}/{}", self.name),
            None => format!("configmap */{}", self.name),
        }
    }
}

/// The ConfigMaps worth following for `set`: every fixed name its `configMap` entries hold.
pub fn watched(set: &PolicySet) -> BTreeSet<Watched> {
    let mut watched = BTreeSet::new();
    for policy in &set.policies {
        let own = policy.namespace.as_deref();
        let entries = policy
            .rules
            .iter()
            .chain(&policy.autogen_rules)
            .flat_map(|rule| rule.context_entries());
        for entry in entries {
            let ContextSource::ConfigMap { name, namespace } = &entry.source else {
                continue;
            };
            if is_templated(name) || !is_object_name(name) {
                continue;
            }
            let namespace = if is_templated(namespace) {
                own.map(str::to_owned)
            } else if namespace.is_empty() {
                Some(own.unwrap_or("default").to_owned())
            } else if own.is_some_and(|own| own != namespace) || !is_object_name(namespace) {
                // Refused when judged: a Policy reads only its own namespace.
                continue;
            } else {
                Some(namespace.clone())
            };
            watched.insert(Watched {
                namespace,
                name: name.clone(),
            });
        }
    }
    watched
}

fn is_templated(text: &str) -> bool {
    text.contains("{{")
}

/// A DNS subdomain, as ConfigMap and namespace names are: also safe in a URL path and a field
/// selector as it stands.
pub fn is_object_name(text: &str) -> bool {
    !text.is_empty()
        && text.len() <= 253
        && text
            .bytes()
            .all(|byte| byte.is_ascii_lowercase() || byte.is_ascii_digit() || b"-.".contains(&byte))
        && text.starts_with(|c: char| c.is_ascii_alphanumeric())
        && text.ends_with(|c: char| c.is_ascii_alphanumeric())
}

/// What a `configMap` context entry holds: the object's `data` and `metadata`, as Kyverno's
/// loader builds it from the object (`binaryData` is not part of it).
pub fn context_value(object: &Value) -> Value {
    json!({
        "data": object.get("data").cloned().unwrap_or(Value::Null),
        "metadata": object.get("metadata").cloned().unwrap_or(Value::Null),
    })
}

/// What the store knows of one ConfigMap.
#[derive(Debug, PartialEq)]
pub enum Known {
    Found(Arc<Value>),
    /// A listed watch covers it and it does not exist.
    Missing,
    /// No listed watch covers it: ask the apiserver.
    NotWatched,
}

#[derive(Debug, Default, Clone)]
struct Listing {
    /// Which start of the watch feeds it: a stopped watch's late events are dropped.
    generation: u64,
    synced: bool,
    /// By namespace; the name is the watch's.
    objects: HashMap<String, Arc<Value>>,
}

#[derive(Debug, Default)]
pub struct ConfigMapStore {
    /// Replaced whole on every change, so a lookup takes no lock.
    listings: ArcSwap<HashMap<Watched, Arc<Listing>>>,
    /// Serializes writers and counts watch starts.
    generations: Mutex<u64>,
}

impl ConfigMapStore {
    pub fn lookup(&self, namespace: &str, name: &str) -> Known {
        let listings = self.listings.load();
        let keys = [
            Watched {
                namespace: Some(namespace.to_owned()),
                name: name.to_owned(),
            },
            Watched {
                namespace: None,
                name: name.to_owned(),
            },
        ];
        for key in &keys {
            match listings.get(key) {
                Some(listing) if listing.synced => {
                    return match listing.objects.get(namespace) {
                        Some(value) => Known::Found(value.clone()),
                        None => Known::Missing,
                    };
                }
                _ => {}
            }
        }
        Known::NotWatched
    }

    /// The names followed now, listed or not.
    pub fn followed(&self) -> Vec<Watched> {
        let mut followed: Vec<Watched> = self.listings.load().keys().cloned().collect();
        followed.sort();
        followed
    }

    /// Registers a watch about to start; the generation tags its changes.
    pub fn begin(&self, key: &Watched) -> u64 {
        let mut generations = self
            .generations
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        *generations += 1;
        let generation = *generations;
        let mut listings = HashMap::clone(&self.listings.load());
        listings.insert(
            key.clone(),
            Arc::new(Listing {
                generation,
                ..Listing::default()
            }),
        );
        self.listings.store(Arc::new(listings));
        generation
    }

    /// Drops a watch that stopped, and what it listed.
    pub fn forget(&self, key: &Watched) {
        let _writing = self
            .generations
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let mut listings = HashMap::clone(&self.listings.load());
        listings.remove(key);
        self.listings.store(Arc::new(listings));
    }

    pub fn apply(&self, key: &Watched, generation: u64, change: Change<ConfigMap>) {
        let _writing = self
            .generations
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let current = self.listings.load();
        let Some(listing) = current
            .get(key)
            .filter(|listing| listing.generation == generation)
        else {
            return;
        };
        let mut listing = Listing::clone(listing);
        let entry = |object: &ConfigMap| {
            let value = serde_json::to_value(object).unwrap_or(Value::Null);
            (
                object.namespace().unwrap_or_default(),
                Arc::new(context_value(&value)),
            )
        };
        match change {
            Change::Snapshot(objects) => {
                listing.objects = objects.iter().map(entry).collect();
                listing.synced = true;
                tracing::info!(configmap = %key.label(), objects = listing.objects.len(), "configmap listed");
            }
            Change::Applied(object) => {
                let (namespace, value) = entry(&object);
                listing.objects.insert(namespace, value);
            }
            Change::Deleted(object) => {
                listing
                    .objects
                    .remove(&object.namespace().unwrap_or_default());
            }
        }
        let mut listings = HashMap::clone(&current);
        listings.insert(key.clone(), Arc::new(listing));
        self.listings.store(Arc::new(listings));
    }
}

/// The watches running, stopped when dropped (with the task that owns them).
struct Watches(HashMap<Watched, JoinHandle<()>>);

impl Drop for Watches {
    fn drop(&mut self) {
        for task in self.0.values() {
            task.abort();
        }
    }
}

/// Follows the ConfigMaps the active policies name, changing the watches after every install.
pub fn follow_config_maps(
    client: kube::Client,
    state: Arc<AppState>,
    store: Arc<ConfigMapStore>,
) -> JoinHandle<()> {
    tokio::spawn(async move {
        let mut installs = state.watch_installs();
        let mut running = Watches(HashMap::new());
        loop {
            installs.borrow_and_update();
            let wanted = watched(&state.policies().set);
            running.0.retain(|key, task| {
                let keep = wanted.contains(key);
                if !keep {
                    task.abort();
                    store.forget(key);
                    tracing::info!(configmap = %key.label(), "no policy names it; no longer followed");
                }
                keep
            });
            for key in wanted {
                if let std::collections::hash_map::Entry::Vacant(vacant) = running.0.entry(key) {
                    let task = start_watch(&client, &store, vacant.key().clone());
                    vacant.insert(task);
                }
            }
            if installs.changed().await.is_err() {
                return;
            }
        }
    })
}

fn start_watch(client: &kube::Client, store: &Arc<ConfigMapStore>, key: Watched) -> JoinHandle<()> {
    let api: Api<ConfigMap> = match &key.namespace {
        Some(namespace) => Api::namespaced(client.clone(), namespace),
        None => Api::all(client.clone()),
    };
    let config = watcher::Config::default().fields(&format!("metadata.name={}", key.name));
    let generation = store.begin(&key);
    let store = store.clone();
    tokio::spawn(async move {
        let label = key.label();
        follow_with(api, config, &label, |change| {
            store.apply(&key, generation, change);
        })
        .await;
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::load_str;
    use kube::api::ObjectMeta;
    use std::collections::BTreeMap;
    use std::path::Path;

    fn set(text: &str) -> PolicySet {
        PolicySet::from(load_str(text, Path::new("p.yaml")).expect("policies load"))
    }

    fn policy(kind: &str, namespace: Option<&str>, entries: &str) -> String {
        let namespace = namespace.map_or(String::new(), |ns| format!("\n  namespace: {ns}"));
        format!(
            "apiVersion: kyverno.io/v1\nkind: {kind}\nmetadata:\n  name: p{namespace}\nspec:\n  rules:\n  - name: r\n    match:\n      any:\n      - resources:\n          kinds: [Pod]\n    context:\n{entries}    validate:\n      deny:\n        conditions:\n          any:\n          - key: a\n            operator: Equals\n            value: b\n"
        )
    }

    fn entry(name: &str, namespace: &str) -> String {
        format!(
            "    - name: e{}\n      configMap:\n        name: \"{name}\"\n        namespace: \"{namespace}\"\n",
            name.len() + namespace.len()
        )
    }

    fn key(namespace: Option<&str>, name: &str) -> Watched {
        Watched {
            namespace: namespace.map(str::to_owned),
            name: name.to_owned(),
        }
    }

    #[test]
    fn fixed_names_are_followed_and_templated_ones_are_not() {
        let entries = [
            entry("limits", "shop"),
            entry("limits", ""),
            entry("team", "{{ request.namespace }}"),
            entry("{{ request.object.metadata.labels.config }}", "shop"),
            entry("Not_A_Name", "shop"),
        ]
        .concat();
        let cluster = set(&policy("ClusterPolicy", None, &entries));
        assert_eq!(
            watched(&cluster).into_iter().collect::<Vec<_>>(),
            vec![
                key(None, "team"),
                key(Some("default"), "limits"),
                key(Some("shop"), "limits"),
            ]
        );
        // A Policy reads its own namespace only: a templated or empty one is its own, another
        // is refused when judged and never followed.
        let namespaced = set(&policy("Policy", Some("team-a"), &entries));
        assert_eq!(
            watched(&namespaced).into_iter().collect::<Vec<_>>(),
            vec![key(Some("team-a"), "limits"), key(Some("team-a"), "team")]
        );
    }

    #[test]
    fn foreach_and_autogen_entries_count_too() {
        let text = "apiVersion: kyverno.io/v1\nkind: ClusterPolicy\nmetadata:\n  name: p\nspec:\n  rules:\n  - name: r\n    match:\n      any:\n      - resources:\n          kinds: [Pod]\n    validate:\n      foreach:\n      - list: request.object.spec.containers\n        context:\n        - name: allowed\n          configMap:\n            name: registries\n            namespace: platform\n        deny:\n          conditions:\n            any:\n            - key: a\n              operator: Equals\n              value: b\n";
        let set = set(text);
        assert!(set.looks_up_cluster());
        assert_eq!(
            watched(&set).into_iter().collect::<Vec<_>>(),
            vec![key(Some("platform"), "registries")]
        );
    }

    /// The watches follow the policy set: a reload starts the new names' and stops the old.
    #[test]
    fn followed_names_change_with_the_policies() {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .expect("runtime");
        let named = |name: &str| set(&policy("ClusterPolicy", None, &entry(name, "shop")));
        let state = AppState::new(
            named("first"),
            crate::metrics::Metrics::new().expect("metrics"),
        );
        let store = Arc::new(ConfigMapStore::default());
        // Nothing listens there: the watches retry, and what is followed is all that shows.
        let config = kube::Config::new("http://127.0.0.1:9".parse().expect("URL"));
        let client = runtime
            .block_on(async { kube::Client::try_from(config) })
            .expect("client");
        let _following = runtime.enter();
        let task = follow_config_maps(client, state.clone(), store.clone());
        let until = |wanted: Vec<Watched>| {
            let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
            while store.followed() != wanted {
                assert!(
                    std::time::Instant::now() < deadline,
                    "followed {:?}, not {wanted:?}",
                    store.followed()
                );
                std::thread::sleep(std::time::Duration::from_millis(10));
            }
        };
        until(vec![key(Some("shop"), "first")]);
        state.replace_policies(named("second"));
        until(vec![key(Some("shop"), "second")]);
        state.replace_policies(PolicySet::default());
        until(vec![]);
        task.abort();
    }

    fn config_map(namespace: &str, name: &str, data: &[(&str, &str)]) -> ConfigMap {
        ConfigMap {
            metadata: ObjectMeta {
                name: Some(name.to_owned()),
                namespace: Some(namespace.to_owned()),
                ..ObjectMeta::default()
            },
            data: Some(
                data.iter()
                    .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                    .collect::<BTreeMap<_, _>>(),
            ),
            ..ConfigMap::default()
        }
    }

    #[test]
    fn lookups_answer_only_from_listed_watches() {
        let store = ConfigMapStore::default();
        let one = key(Some("shop"), "limits");
        let every = key(None, "team");
        assert_eq!(store.lookup("shop", "limits"), Known::NotWatched);
        let generation = store.begin(&one);
        assert_eq!(
            store.lookup("shop", "limits"),
            Known::NotWatched,
            "not listed yet"
        );
        store.apply(
            &one,
            generation,
            Change::Snapshot(vec![config_map("shop", "limits", &[("max", "3")])]),
        );
        let Known::Found(found) = store.lookup("shop", "limits") else {
            panic!("listed");
        };
        assert_eq!(found["data"], json!({"max": "3"}));
        assert_eq!(found["metadata"]["name"], "limits");
        assert_eq!(store.lookup("other", "limits"), Known::NotWatched);

        let all = store.begin(&every);
        store.apply(&every, all, Change::Snapshot(vec![]));
        assert_eq!(store.lookup("anywhere", "team"), Known::Missing);
        store.apply(
            &every,
            all,
            Change::Applied(config_map("a", "team", &[("owner", "x")])),
        );
        assert!(matches!(store.lookup("a", "team"), Known::Found(_)));
        store.apply(&every, all, Change::Deleted(config_map("a", "team", &[])));
        assert_eq!(store.lookup("a", "team"), Known::Missing);

        // A watch that stopped neither answers nor takes late events.
        store.forget(&one);
        store.apply(
            &one,
            generation,
            Change::Applied(config_map("shop", "limits", &[])),
        );
        assert_eq!(store.lookup("shop", "limits"), Known::NotWatched);
        let restarted = store.begin(&one);
        store.apply(&one, generation, Change::Snapshot(vec![]));
        assert_eq!(
            store.lookup("shop", "limits"),
            Known::NotWatched,
            "the old watch's list is not the new one's"
        );
        store.apply(&one, restarted, Change::Snapshot(vec![]));
        assert_eq!(store.lookup("shop", "limits"), Known::Missing);
    }
}
