//! The namespace reflector: namespace name → labels, kept current by list + watch, read by the
//! webhook for every request whose rules carry a `namespaceSelector`.
//!
//! Only labels are kept (not whole `Namespace` objects with their managed fields), and a relist
//! replaces the map in one step, so a lookup sees either the old or the new complete state.

use super::{Change, follow};
use crate::webhook::state::NamespaceLabelLookup;
use k8s_openapi::api::core::v1::Namespace;
use kube::ResourceExt;
use kube::api::Api;
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, PoisonError, RwLock};
use tokio::sync::watch;
use tokio::task::JoinHandle;

type Labels = Arc<BTreeMap<String, String>>;

#[derive(Debug, Default)]
pub struct NamespaceStore {
    labels: RwLock<HashMap<String, Labels>>,
}

impl NamespaceStore {
    /// Starts following every namespace; the receiver turns true after the first complete list.
    pub fn follow(client: kube::Client) -> (Arc<Self>, JoinHandle<()>, watch::Receiver<bool>) {
        let store = Arc::new(Self::default());
        let (synced_tx, synced_rx) = watch::channel(false);
        let feeding = store.clone();
        let task = tokio::spawn(async move {
            follow(Api::<Namespace>::all(client), "namespaces", |change| {
                let listed = matches!(change, Change::Snapshot(_));
                feeding.apply(change);
                if listed {
                    synced_tx.send_replace(true);
                }
            })
            .await;
        });
        (store, task, synced_rx)
    }

    pub fn apply(&self, change: Change<Namespace>) {
        let mut labels = self.labels.write().unwrap_or_else(PoisonError::into_inner);
        match change {
            Change::Snapshot(namespaces) => {
                *labels = namespaces
                    .into_iter()
                    .map(|namespace| (namespace.name_any(), Arc::new(namespace.labels().clone())))
                    .collect();
                tracing::info!(namespaces = labels.len(), "namespace labels synced");
            }
            Change::Applied(namespace) => {
                labels.insert(namespace.name_any(), Arc::new(namespace.labels().clone()));
            }
            Change::Deleted(namespace) => {
                labels.remove(&namespace.name_any());
            }
        }
    }

    pub fn len(&self) -> usize {
        self.labels
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl NamespaceLabelLookup for NamespaceStore {
    fn labels(&self, namespace: &str) -> Option<Labels> {
        self.labels
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .get(namespace)
            .cloned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use kube::api::ObjectMeta;

    fn namespace(name: &str, labels: &[(&str, &str)]) -> Namespace {
        Namespace {
            metadata: ObjectMeta {
                name: Some(name.to_owned()),
                labels: Some(
                    labels
                        .iter()
                        .map(|(key, value)| ((*key).to_owned(), (*value).to_owned()))
                        .collect(),
                ),
                ..ObjectMeta::default()
            },
            ..Namespace::default()
        }
    }

    #[test]
    fn a_relist_replaces_everything_and_changes_apply_one_by_one() {
        let store = NamespaceStore::default();
        store.apply(Change::Snapshot(vec![
            namespace("a", &[("team", "x")]),
            namespace("b", &[]),
        ]));
        assert_eq!(store.labels("a").expect("a is known")["team"], "x");
        store.apply(Change::Applied(namespace("a", &[("team", "y")])));
        assert_eq!(store.labels("a").expect("a is known")["team"], "y");
        store.apply(Change::Deleted(namespace("b", &[])));
        assert!(store.labels("b").is_none());
        store.apply(Change::Snapshot(vec![namespace("c", &[])]));
        assert!(
            store.labels("a").is_none(),
            "a relist forgets what it did not list"
        );
        assert_eq!(store.len(), 1);
    }
}
