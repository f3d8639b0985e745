//! The namespace reflector: namespace name → labels, kept current by list + watch, read by the
//! webhook for every request whose rules carry a `namespaceSelector`.
//!
//! Only labels are kept (not whole `Namespace` objects with their managed fields). Lookups take
//! no lock: every change builds a new map beside the current one and swaps it in, so a lookup
//! sees either the old or the new complete state and never waits for a relist.

use super::{Change, follow};
use crate::webhook::state::NamespaceLabelLookup;
use arc_swap::ArcSwap;
use k8s_openapi::api::core::v1::Namespace;
use kube::ResourceExt;
use kube::api::Api;
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use tokio::sync::watch;
use tokio::task::JoinHandle;

type Labels = Arc<BTreeMap<String, String>>;

#[derive(Debug, Default)]
pub struct NamespaceStore {
    labels: ArcSwap<HashMap<String, Labels>>,
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

    /// One change, from the one task that follows namespaces: each replaces the map whole.
    /// Copying it for a single namespace's event costs a pointer per namespace, and events are
    /// rare next to the lookups of every review.
    pub fn apply(&self, change: Change<Namespace>) {
        match change {
            Change::Snapshot(namespaces) => self.relist(namespaces),
            Change::Applied(namespace) => {
                let mut labels = HashMap::clone(&self.labels.load());
                labels.insert(namespace.name_any(), Arc::new(namespace.labels().clone()));
                self.labels.store(Arc::new(labels));
            }
            Change::Deleted(namespace) => {
                let mut labels = HashMap::clone(&self.labels.load());
                labels.remove(&namespace.name_any());
                self.labels.store(Arc::new(labels));
            }
        }
    }

    /// Builds the complete new map while lookups go on reading the old one.
    fn relist(&self, namespaces: impl IntoIterator<Item = Namespace>) {
        let labels: HashMap<String, Labels> = namespaces
            .into_iter()
            .map(|namespace| (namespace.name_any(), Arc::new(namespace.labels().clone())))
            .collect();
        let count = labels.len();
        self.labels.store(Arc::new(labels));
        tracing::info!(namespaces = count, "namespace labels synced");
    }

    pub fn len(&self) -> usize {
        self.labels.load().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl NamespaceLabelLookup for NamespaceStore {
    fn labels(&self, namespace: &str) -> Option<Labels> {
        self.labels.load().get(namespace).cloned()
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

    #[test]
    fn lookups_during_a_relist_read_the_previous_map_without_waiting() {
        let store = Arc::new(NamespaceStore::default());
        store.apply(Change::Snapshot(vec![namespace("a", &[("team", "x")])]));
        // Each namespace the relist reads looks `a` up first, as a review would meanwhile. A
        // lookup that had to wait for the relist would never return.
        let mut seen = Vec::new();
        let (done_tx, done_rx) = std::sync::mpsc::channel();
        let relisting = store.clone();
        let relist = std::thread::spawn(move || {
            let mut listed =
                vec![namespace("a", &[("team", "y")]), namespace("b", &[])].into_iter();
            relisting.relist(std::iter::from_fn(|| {
                let team = relisting.labels("a").map(|labels| labels["team"].clone());
                seen.push(team);
                listed.next()
            }));
            let _ = done_tx.send(seen);
        });
        let seen = done_rx
            .recv_timeout(std::time::Duration::from_secs(10))
            .expect("a lookup waited for the relist");
        relist.join().expect("the relist");
        let x = Some("x".to_owned());
        assert_eq!(seen, [x.clone(), x.clone(), x]);
        assert_eq!(store.labels("a").expect("a is known")["team"], "y");
        assert_eq!(store.len(), 2);
    }
}
