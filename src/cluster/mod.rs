//! Cluster awareness for `serve --kube`: live namespace labels for `namespaceSelector` rules
//! ([`namespaces`]), requesters' roles for `roles` / `clusterRoles` ([`rbac`]), policies
//! read from custom resources ([`crd`], [`policies`]), Kyverno's PolicyExceptions
//! ([`exceptions`]), and the answers to `configMap` and `apiCall` context entries
//! ([`environment`], [`config_maps`], [`api_get`]).
//!
//! Everything here follows the apiserver with list + watch (kube-runtime's `watcher`, which
//! relists after `410 Gone` and resumes from bookmarks) and folds the events into complete
//! snapshots, so a consumer never sees a half-listed cluster. Nothing here is on the request
//! path: the webhook reads an in-memory map and an atomically swapped policy set.
//!
//! Failure mode: while the apiserver cannot be reached, the last known labels and policies stay
//! in force. A namespace created during that time is unknown, so rules with a
//! `namespaceSelector` answer `error` for it, and an `Enforce` policy with `failurePolicy: Fail`
//! then denies. The server reports ready only after the first complete list of every followed
//! resource.

pub mod api_get;
pub mod config_maps;
pub mod crd;
pub mod environment;
pub mod exceptions;
pub mod namespaces;
pub mod policies;
pub mod rbac;

use crate::webhook::AppState;
use futures::StreamExt;
use kube::Resource;
use kube::api::Api;
use kube::runtime::WatchStreamExt;
use kube::runtime::watcher::{self, Event};
use serde::de::DeserializeOwned;
use std::fmt::Debug;
use std::sync::Arc;
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// One step of a followed resource, as a consumer of complete state wants it.
#[derive(Debug)]
pub enum Change<K> {
    /// Every object that exists, after the first list and after every relist.
    Snapshot(Vec<K>),
    Applied(K),
    Deleted(K),
}

/// Lists and watches `api` for as long as the task lives, calling `on_change` for every
/// [`Change`]. Errors (apiserver down, RBAC, an expired resource version) are logged and retried
/// with kube-runtime's default backoff.
pub async fn follow<K>(api: Api<K>, what: &str, on_change: impl FnMut(Change<K>))
where
    K: Resource + Clone + DeserializeOwned + Debug + Send + 'static,
{
    follow_with(api, watcher::Config::default(), what, on_change).await;
}

/// [`follow`] with a watcher configuration, such as a field selector naming one object.
pub async fn follow_with<K>(
    api: Api<K>,
    config: watcher::Config,
    what: &str,
    mut on_change: impl FnMut(Change<K>),
) where
    K: Resource + Clone + DeserializeOwned + Debug + Send + 'static,
{
    let mut listing: Option<Vec<K>> = None;
    let stream = watcher::watcher(api, config).default_backoff();
    let mut stream = std::pin::pin!(stream);
    while let Some(event) = stream.next().await {
        match event {
            Ok(Event::Init) => listing = Some(Vec::new()),
            Ok(Event::InitApply(object)) => listing.get_or_insert_with(Vec::new).push(object),
            Ok(Event::InitDone) => {
                let objects = listing.take().unwrap_or_default();
                tracing::debug!(resource = what, objects = objects.len(), "listed");
                on_change(Change::Snapshot(objects));
            }
            Ok(Event::Apply(object)) => on_change(Change::Applied(object)),
            Ok(Event::Delete(object)) => on_change(Change::Deleted(object)),
            Err(error) => {
                tracing::warn!(resource = what, error = %error, "watch failed; retrying");
            }
        }
    }
}

#[derive(Debug, Clone, Default)]
pub struct ClusterOptions {
    /// Also enforce `kyverno.io/v1` `ClusterPolicy` and `Policy` objects (read-only).
    pub watch_kyverno_policies: bool,
    /// Also apply `kyverno.io` PolicyExceptions of this namespace (`*`: of every namespace),
    /// read-only.
    pub exception_namespace: Option<String>,
    /// The server registers its own webhooks: a cluster policy whose kinds cannot be named in
    /// webhook rules would never be sent a review, so it is left out and its status says why.
    pub registers_webhooks: bool,
    /// The bounds on GETs for `apiCall` and `configMap` context entries.
    pub lookups: api_get::LookupOptions,
}

/// The running followers; dropping it stops them.
pub struct Cluster {
    tasks: Vec<JoinHandle<()>>,
    synced: Vec<watch::Receiver<bool>>,
}

impl Cluster {
    /// Starts following namespaces, role bindings, policy objects and the ConfigMaps policies
    /// name, feeding `state`, whose context entries it then answers.
    pub fn start(client: kube::Client, state: Arc<AppState>, options: ClusterOptions) -> Self {
        let (namespaces, namespace_task, namespaces_synced) =
            namespaces::NamespaceStore::follow(client.clone());
        state.attach_namespace_labels(namespaces);
        let (roles, role_tasks, roles_synced) = rbac::RoleBindingStore::follow(client.clone());
        state.attach_role_lookup(roles);
        let config_maps = Arc::new(config_maps::ConfigMapStore::default());
        let gets = api_get::ApiGets::new(
            client.clone(),
            tokio::runtime::Handle::current(),
            options.lookups,
        );
        state.attach_environment(Arc::new(environment::ClusterEnvironment::new(
            config_maps.clone(),
            gets,
        )));
        // Not awaited for readiness: until a watch has listed, its ConfigMap is read by GET,
        // and a watch RBAC refuses must not keep the server from ever becoming ready.
        let config_map_task =
            config_maps::follow_config_maps(client.clone(), state.clone(), config_maps);
        let mut tasks = vec![namespace_task, config_map_task];
        let mut synced = vec![namespaces_synced, roles_synced];
        if let Some(namespace) = &options.exception_namespace {
            let (exception_tasks, exceptions_synced) =
                exceptions::follow_exceptions(client.clone(), state.clone(), namespace);
            tasks.extend(exception_tasks);
            synced.push(exceptions_synced);
        }
        let (policy_tasks, policies_synced) = policies::follow_policies(client, state, options);
        tasks.extend(role_tasks);
        tasks.extend(policy_tasks);
        synced.push(policies_synced);
        Self { tasks, synced }
    }

    /// Completes once every followed resource has been listed completely once.
    pub async fn synced(&self) {
        for synced in &self.synced {
            let mut synced = synced.clone();
            // An error means the follower is gone; then readiness must not come.
            if synced.wait_for(|done| *done).await.is_err() {
                std::future::pending::<()>().await;
            }
        }
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}
