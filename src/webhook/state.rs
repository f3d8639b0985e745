//! Shared state of the serving process: the active policy set (swapped atomically on reload),
//! metrics and readiness, and, with `serve --kube`, where namespace labels come from.
//!
//! The active set is the policies from files followed by the policies from the cluster; each
//! source is replaced whole by its own reloader and the union is swapped in atomically.

use super::deadline::OnTimeout;
use super::policy_metrics::PolicyMetrics;
use crate::defaults::PolicySource;
use crate::eval::{Environment, Offline};
use crate::matching::UserInfo;
use crate::metrics::Metrics;
use crate::policy::{self, ClusterFacts, PolicyException, PolicySet};
use crate::projection::Projection;
use crate::reload::{self, ReloadError, WatchOptions};
use arc_swap::ArcSwap;
use std::collections::{BTreeMap, HashSet};
use std::path::PathBuf;
use std::sync::{Arc, Mutex, OnceLock, PoisonError};
use std::time::Duration;
use tokio::sync::Semaphore;

/// Where the webhook finds the labels of a request's namespace.
pub trait NamespaceLabelLookup: Send + Sync {
    /// `None` when the namespace is not known (not yet seen, or deleted).
    fn labels(&self, namespace: &str) -> Option<Arc<BTreeMap<String, String>>>;
}

/// Where the webhook finds the RBAC roles bound to a requester (`serve --kube`).
pub trait RoleLookup: Send + Sync {
    /// Sets `roles` and `cluster_roles` for a request in `namespace` (`""` cluster-scoped).
    fn fill_roles(&self, user: &mut UserInfo, namespace: &str);
}

/// How the webhook treats slow clients and reviews that run out of time.
#[derive(Debug, Clone, Copy)]
pub struct WebhookOptions {
    /// The verdict when evaluation has not finished by the apiserver's deadline.
    pub on_timeout: OnTimeout,
    /// How long a client may take to send a request's body once its headers are in; hyper's
    /// header timeout does not cover the body, so a client dribbling one would hold a task.
    pub body_read_timeout: Duration,
    /// The most memory held at once for requests' bodies and the values read from them, over
    /// all requests. The body limit bounds one request, not how many arrive together: without
    /// this, a few clients sending the largest bodies at once would take more memory than the
    /// container has.
    pub body_memory: usize,
    /// Reviews judged at once by a set whose context entries look things up in the cluster:
    /// each holds a thread of the blocking pool while it may wait on the API server.
    pub lookup_reviews: usize,
}

/// Room for one body at the limit with all it can build, or hundreds of ordinary reviews.
pub const DEFAULT_BODY_MEMORY: usize = 4 * super::handler::BODY_LIMIT;

/// Well under the blocking pool's 512 threads, and more than a cluster's admission traffic
/// keeps waiting on lookups at once when the apiserver answers in milliseconds.
pub const DEFAULT_LOOKUP_REVIEWS: usize = 64;

impl Default for WebhookOptions {
    fn default() -> Self {
        Self {
            on_timeout: OnTimeout::Deny,
            body_read_timeout: Duration::from_secs(10),
            body_memory: DEFAULT_BODY_MEMORY,
            lookup_reviews: DEFAULT_LOOKUP_REVIEWS,
        }
    }
}

/// The policy set requests are judged by, with its metric handles; replaced whole on reload.
pub struct ActivePolicies {
    pub set: PolicySet,
    pub metrics: PolicyMetrics,
    /// What of a review's objects the set can read; the rest is checked, not built.
    pub projection: Projection,
    /// Whether a review's requester roles must be looked up before judging.
    pub reads_requester_roles: bool,
    /// Whether a review's namespace labels must be looked up before judging.
    pub reads_namespace_labels: bool,
    /// Whether rules read `{{ request.* }}`, which is the whole admission request.
    pub reads_variables: bool,
    /// Whether context entries read ConfigMaps or call the API server, so that judging may
    /// wait on the network and must not run on a runtime worker.
    pub looks_up_cluster: bool,
}

impl ActivePolicies {
    fn new(set: PolicySet, metrics: &Metrics) -> Self {
        Self {
            metrics: PolicyMetrics::new(&set, metrics),
            projection: Projection::of_set(&set),
            reads_requester_roles: set.reads_requester_roles(),
            reads_namespace_labels: set.reads_namespace_labels(),
            reads_variables: set.reads_variables(),
            looks_up_cluster: set.looks_up_cluster(),
            set,
        }
    }
}

pub struct AppState {
    policies: ArcSwap<ActivePolicies>,
    sources: Mutex<PolicySources>,
    namespaces: OnceLock<Arc<dyn NamespaceLabelLookup>>,
    roles: OnceLock<Arc<dyn RoleLookup>>,
    /// What context entries look up (`serve --kube`); without one, every lookup is an error
    /// that names what it needed.
    environment: OnceLock<Arc<dyn Environment>>,
    offline: Offline,
    /// Bumped after every install, for whoever follows the active set (webhook registration).
    installs: tokio::sync::watch::Sender<u64>,
    pub metrics: Metrics,
    pub options: WebhookOptions,
    /// `options.body_memory` in bytes not yet taken by a request being read or judged.
    pub body_memory: Semaphore,
    /// `options.lookup_reviews` not yet taken by reviews judged off the runtime's workers.
    pub lookup_reviews: Arc<Semaphore>,
}

#[derive(Default)]
struct PolicySources {
    files: Arc<PolicySet>,
    cluster: Arc<PolicySet>,
    /// PolicyExceptions read from the cluster, followed apart from its policies.
    cluster_exceptions: Arc<Vec<Arc<PolicyException>>>,
}

impl AppState {
    pub fn new(policies: PolicySet, metrics: Metrics) -> Arc<Self> {
        Self::with_options(policies, metrics, WebhookOptions::default())
    }

    pub fn with_options(
        policies: PolicySet,
        metrics: Metrics,
        options: WebhookOptions,
    ) -> Arc<Self> {
        // The verdict this process gives out of time is a series from the first scrape, for
        // alerts on its increase.
        metrics
            .admission_deadline_exceeded
            .with_label_values(&[options.on_timeout.as_str()]);
        let state = Arc::new(Self {
            policies: ArcSwap::from_pointee(ActivePolicies::new(PolicySet::default(), &metrics)),
            sources: Mutex::default(),
            namespaces: OnceLock::new(),
            roles: OnceLock::new(),
            environment: OnceLock::new(),
            offline: Offline::default(),
            installs: tokio::sync::watch::Sender::new(0),
            metrics,
            body_memory: Semaphore::new(options.body_memory.min(Semaphore::MAX_PERMITS)),
            lookup_reviews: Arc::new(Semaphore::new(
                options.lookup_reviews.clamp(1, Semaphore::MAX_PERMITS),
            )),
            options,
        });
        state.replace_policies(policies);
        state
    }

    /// The active set with its metric handles; a request keeps the one it loaded. The guard
    /// spares the two workers a shared reference count to bump per review; it is for holding
    /// while judging, not across an `await`.
    pub fn policies(&self) -> arc_swap::Guard<Arc<ActivePolicies>> {
        self.policies.load()
    }

    /// Installs a complete, already compiled set of file policies; requests in flight keep the
    /// set they started with.
    pub fn replace_policies(&self, policies: PolicySet) {
        let mut sources = self.sources.lock().unwrap_or_else(PoisonError::into_inner);
        sources.files = Arc::new(policies);
        self.install(&sources);
    }

    /// Installs the complete set of policies read from the cluster.
    pub fn replace_cluster_policies(&self, policies: PolicySet) {
        let mut sources = self.sources.lock().unwrap_or_else(PoisonError::into_inner);
        sources.cluster = Arc::new(policies);
        self.install(&sources);
    }

    /// Installs the complete set of PolicyExceptions read from the cluster.
    pub fn replace_cluster_exceptions(&self, exceptions: Vec<Arc<PolicyException>>) {
        let mut sources = self.sources.lock().unwrap_or_else(PoisonError::into_inner);
        sources.cluster_exceptions = Arc::new(exceptions);
        self.install(&sources);
    }

    /// Changes once per install of a new active set.
    pub fn watch_installs(&self) -> tokio::sync::watch::Receiver<u64> {
        self.installs.subscribe()
    }

    /// The policies currently loaded from files.
    pub fn file_policies(&self) -> Arc<PolicySet> {
        self.sources
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .files
            .clone()
    }

    /// Files win a name clash: a cluster policy named like a file policy is left out (the
    /// cluster source reports it in the object's status), and so is a cluster exception named
    /// like a file exception.
    fn install(&self, sources: &PolicySources) {
        let taken: HashSet<(Option<&str>, &str)> = sources
            .files
            .policies
            .iter()
            .map(|policy| (policy.namespace.as_deref(), policy.name.as_str()))
            .collect();
        let mut policies = sources.files.policies.clone();
        policies.extend(
            sources
                .cluster
                .policies
                .iter()
                .filter(|policy| {
                    !taken.contains(&(policy.namespace.as_deref(), policy.name.as_str()))
                })
                .cloned(),
        );
        let mut exceptions = sources.files.exceptions.to_vec();
        let file_exceptions: HashSet<&str> = sources
            .files
            .exceptions
            .iter()
            .map(|exception| exception.key.as_str())
            .collect();
        for exception in sources.cluster_exceptions.iter() {
            if file_exceptions.contains(exception.key.as_str()) {
                tracing::warn!(
                    exception = exception.key.as_str(),
                    "a PolicyException of this name is loaded from files; the cluster's is left out"
                );
            } else {
                exceptions.push(exception.clone());
            }
        }
        let policies = PolicySet {
            policies,
            exceptions: exceptions.into(),
        };
        self.metrics
            .policies_loaded
            .set(i64::try_from(policies.policies.len()).unwrap_or(i64::MAX));
        self.metrics
            .policy_rules_loaded
            .set(i64::try_from(policies.rule_count()).unwrap_or(i64::MAX));
        self.policies
            .store(Arc::new(ActivePolicies::new(policies, &self.metrics)));
        self.installs.send_modify(|generation| *generation += 1);
    }

    /// Makes the webhook look up namespace labels (`serve --kube`); without it they are unknown
    /// and rules with a `namespaceSelector` answer `error`.
    pub fn attach_namespace_labels(&self, lookup: Arc<dyn NamespaceLabelLookup>) {
        if self.namespaces.set(lookup).is_err() {
            tracing::warn!("a namespace label source is already attached; keeping the first");
        }
    }

    /// Makes the webhook resolve requesters' roles from RBAC bindings (`serve --kube`).
    pub fn attach_role_lookup(&self, lookup: Arc<dyn RoleLookup>) {
        if self.roles.set(lookup).is_err() {
            tracing::warn!("a role source is already attached; keeping the first");
        }
    }

    /// Makes context entries look things up in the cluster (`serve --kube`).
    pub fn attach_environment(&self, environment: Arc<dyn Environment>) {
        if self.environment.set(environment).is_err() {
            tracing::warn!("a lookup environment is already attached; keeping the first");
        }
    }

    pub fn environment(&self) -> &dyn Environment {
        match self.environment.get() {
            Some(environment) => environment.as_ref(),
            None => &self.offline,
        }
    }

    /// Fills in the requester's roles when a role source is attached. Without one, a set that
    /// reads roles is refused at load, so nothing is left to guess.
    pub fn fill_roles(&self, user: &mut UserInfo, namespace: &str) {
        if let Some(lookup) = self.roles.get() {
            lookup.fill_roles(user, namespace);
        }
    }

    /// The labels of `namespace` when a lookup is attached and knows it; a cluster-scoped
    /// resource (`""`) has an empty label set then.
    pub fn namespace_labels(&self, namespace: &str) -> Option<Arc<BTreeMap<String, String>>> {
        let lookup = self.namespaces.get()?;
        if namespace.is_empty() {
            return Some(Arc::default());
        }
        lookup.labels(namespace)
    }
}

/// Recompiles the whole policy set, with the PolicyExceptions of `exceptions`, off the request
/// path on every change of their files, and installs it only when every file compiled;
/// otherwise the running set stays, and the error is logged and counted in
/// `portcullis_policy_reload_total{result="error"}`. `None` when no file is read.
pub fn spawn_policy_reloader(
    source: PolicySource,
    exceptions: Vec<PathBuf>,
    facts: ClusterFacts,
    state: Arc<AppState>,
    options: WatchOptions,
) -> Result<Option<tokio::task::JoinHandle<()>>, ReloadError> {
    let mut watched = match &source {
        PolicySource::Paths(paths) => paths.clone(),
        PolicySource::Embedded => Vec::new(),
    };
    watched.extend(exceptions.iter().cloned());
    if watched.is_empty() {
        return Ok(None);
    }
    let mut watcher = reload::watch(watched, options)?;
    Ok(Some(tokio::spawn(async move {
        while watcher.changed().await {
            let (source, exceptions) = (source.clone(), exceptions.clone());
            // Compiling and installing (the projection, the metric handles) both take time in
            // proportion to the set: on the blocking pool, not on a worker.
            let installing = state.clone();
            let loaded =
                tokio::task::spawn_blocking(move || -> Result<(), Vec<policy::LoadError>> {
                    let set = source
                        .load_with_exceptions(&exceptions)
                        .and_then(|set| set.require_knowable(facts))?;
                    tracing::info!(
                        policies = set.policies.len(),
                        rules = set.rule_count(),
                        exceptions = set.exceptions.len(),
                        "policies reloaded"
                    );
                    policy::note_inert_settings(&set);
                    installing.replace_policies(set);
                    Ok(())
                })
                .await;
            match loaded {
                Ok(Ok(())) => {
                    state
                        .metrics
                        .policy_reloads
                        .with_label_values(&["success"])
                        .inc();
                }
                Ok(Err(errors)) => {
                    state
                        .metrics
                        .policy_reloads
                        .with_label_values(&["error"])
                        .inc();
                    for error in &errors {
                        tracing::error!(
                            error = error.to_string().as_str(),
                            "policy reload refused; keeping the running policies"
                        );
                    }
                }
                Err(error) => {
                    state
                        .metrics
                        .policy_reloads
                        .with_label_values(&["error"])
                        .inc();
                    tracing::error!(error = %error, "policy reload task failed; keeping the running policies");
                }
            }
        }
    })))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::defaults::embedded_policy_set;
    use std::path::Path;

    #[test]
    fn installing_shares_the_policies_it_is_given() {
        let files = embedded_policy_set().expect("default policies");
        let cluster = PolicySet::from(
            policy::load_str(
                "apiVersion: kyverno.io/v1\nkind: ClusterPolicy\nmetadata:\n  name: from-cluster\nspec:\n  rules:\n  - name: r\n    match:\n      any:\n      - resources:\n          kinds: [Pod]\n    validate:\n      pattern:\n        spec: {}\n",
                Path::new("cluster.yaml"),
            )
            .expect("cluster policy"),
        );
        let given: Vec<Arc<policy::Policy>> = files
            .policies
            .iter()
            .chain(&cluster.policies)
            .cloned()
            .collect();
        let state = AppState::new(files, Metrics::new().expect("metrics"));
        state.replace_cluster_policies(cluster);
        let active = state.policies();
        assert_eq!(active.set.policies.len(), given.len());
        for (installed, given) in active.set.policies.iter().zip(&given) {
            assert!(
                Arc::ptr_eq(installed, given),
                "{} was copied on install",
                given.name
            );
        }
    }
}
