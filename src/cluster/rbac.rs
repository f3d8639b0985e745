//! The role-binding reflector: which roles and cluster roles are bound to a requester, for rules
//! that match or exclude on `roles` / `clusterRoles`, resolved as Kyverno resolves them.
//!
//! - A RoleBinding to a `Role` grants `<namespace>:<role>` in `roles`.
//! - A RoleBinding to a `ClusterRole` grants the cluster role only to requests in the binding's
//!   own namespace.
//! - A ClusterRoleBinding to a `ClusterRole` grants it everywhere.
//!
//! Subjects are indexed by the name a review carries: a user's name, a group's name, and a
//! service account's `system:serviceaccount:<namespace>:<name>` (its namespace defaults to the
//! binding's). Writers rebuild the index and swap it whole, so a review never takes a lock.

use super::{Change, follow};
use crate::matching::UserInfo;
use crate::webhook::state::RoleLookup;
use arc_swap::ArcSwap;
use k8s_openapi::api::rbac::v1::{ClusterRoleBinding, RoleBinding, RoleRef, Subject};
use kube::ResourceExt;
use kube::api::Api;
use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex, PoisonError};
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// Who a binding names, by the field of a review that identifies them.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Holder {
    User(String),
    Group(String),
}

/// What one binding gives its holders.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Grant {
    /// `<namespace>:<role>`, in `roles` wherever the request is.
    Role(String),
    /// A cluster role bound in one namespace: only requests in that namespace have it.
    ClusterRoleIn {
        namespace: String,
        role: String,
    },
    ClusterRole(String),
}

/// A binding's identity: its namespace (`None` for a ClusterRoleBinding) and name.
type BindingKey = (Option<String>, String);

#[derive(Debug, Default)]
struct Bindings {
    role_bindings: HashMap<BindingKey, Vec<(Holder, Grant)>>,
    cluster_role_bindings: HashMap<BindingKey, Vec<(Holder, Grant)>>,
}

#[derive(Debug, Default)]
pub struct RoleBindingStore {
    bindings: Mutex<Bindings>,
    index: ArcSwap<HashMap<Holder, Vec<Grant>>>,
}

impl RoleBindingStore {
    /// Starts following RoleBindings and ClusterRoleBindings in every namespace; the receiver
    /// turns true once both have been listed completely.
    pub fn follow(client: kube::Client) -> (Arc<Self>, Vec<JoinHandle<()>>, watch::Receiver<bool>) {
        let store = Arc::new(Self::default());
        let (synced_tx, synced_rx) = watch::channel(false);
        let listed = Arc::new(Mutex::new((false, false)));
        let mark_listed = move |cluster_wide: bool| {
            let mut listed = listed.lock().unwrap_or_else(PoisonError::into_inner);
            if cluster_wide {
                listed.1 = true;
            } else {
                listed.0 = true;
            }
            if listed.0 && listed.1 {
                synced_tx.send_replace(true);
            }
        };
        let mark_cluster_listed = mark_listed.clone();
        let (feeding, cluster_feeding) = (store.clone(), store.clone());
        let namespaced_client = client.clone();
        let tasks = vec![
            tokio::spawn(async move {
                follow(
                    Api::<RoleBinding>::all(namespaced_client),
                    "rolebindings",
                    |change| {
                        let listed = matches!(change, Change::Snapshot(_));
                        feeding.apply_role_bindings(change);
                        if listed {
                            mark_listed(false);
                        }
                    },
                )
                .await;
            }),
            tokio::spawn(async move {
                follow(
                    Api::<ClusterRoleBinding>::all(client),
                    "clusterrolebindings",
                    |change| {
                        let listed = matches!(change, Change::Snapshot(_));
                        cluster_feeding.apply_cluster_role_bindings(change);
                        if listed {
                            mark_cluster_listed(true);
                        }
                    },
                )
                .await;
            }),
        ];
        (store, tasks, synced_rx)
    }

    pub fn apply_role_bindings(&self, change: Change<RoleBinding>) {
        let entry = |binding: &RoleBinding| {
            let namespace = binding.namespace().unwrap_or_default();
            let grant = match binding.role_ref.kind.as_str() {
                "Role" => Some(Grant::Role(format!(
                    "{namespace}:{}",
                    binding.role_ref.name
                ))),
                "ClusterRole" => Some(Grant::ClusterRoleIn {
                    namespace: namespace.clone(),
                    role: binding.role_ref.name.clone(),
                }),
                _ => None,
            };
            let key = (Some(namespace.clone()), binding.name_any());
            (key, grants(binding.subjects.as_deref(), &namespace, grant))
        };
        self.update(change, entry, |bindings| &mut bindings.role_bindings);
    }

    pub fn apply_cluster_role_bindings(&self, change: Change<ClusterRoleBinding>) {
        let entry = |binding: &ClusterRoleBinding| {
            let grant = cluster_role(&binding.role_ref).map(Grant::ClusterRole);
            let key = (None, binding.name_any());
            (key, grants(binding.subjects.as_deref(), "", grant))
        };
        self.update(change, entry, |bindings| {
            &mut bindings.cluster_role_bindings
        });
    }

    fn update<K>(
        &self,
        change: Change<K>,
        entry: impl Fn(&K) -> (BindingKey, Vec<(Holder, Grant)>),
        kind: impl Fn(&mut Bindings) -> &mut HashMap<BindingKey, Vec<(Holder, Grant)>>,
    ) {
        let mut bindings = self.bindings.lock().unwrap_or_else(PoisonError::into_inner);
        let of_kind = kind(&mut bindings);
        match change {
            Change::Snapshot(objects) => *of_kind = objects.iter().map(entry).collect(),
            Change::Applied(object) => {
                let (key, grants) = entry(&object);
                of_kind.insert(key, grants);
            }
            Change::Deleted(object) => {
                of_kind.remove(&entry(&object).0);
            }
        }
        let mut index: HashMap<Holder, Vec<Grant>> = HashMap::new();
        for (holder, grant) in bindings
            .role_bindings
            .values()
            .chain(bindings.cluster_role_bindings.values())
            .flatten()
        {
            index.entry(holder.clone()).or_default().push(grant.clone());
        }
        self.index.store(Arc::new(index));
    }
}

fn cluster_role(role_ref: &RoleRef) -> Option<String> {
    (role_ref.kind == "ClusterRole").then(|| role_ref.name.clone())
}

/// Every (holder, grant) pair of one binding; a binding to anything but a role grants nothing.
fn grants(
    subjects: Option<&[Subject]>,
    binding_namespace: &str,
    grant: Option<Grant>,
) -> Vec<(Holder, Grant)> {
    let Some(grant) = grant else {
        return Vec::new();
    };
    subjects
        .unwrap_or_default()
        .iter()
        .filter_map(|subject| {
            let holder = match subject.kind.as_str() {
                "User" => Holder::User(subject.name.clone()),
                "Group" => Holder::Group(subject.name.clone()),
                "ServiceAccount" => {
                    let namespace = subject
                        .namespace
                        .as_deref()
                        .filter(|namespace| !namespace.is_empty())
                        .unwrap_or(binding_namespace);
                    if namespace.is_empty() {
                        return None;
                    }
                    Holder::User(format!(
                        "system:serviceaccount:{namespace}:{}",
                        subject.name
                    ))
                }
                _ => return None,
            };
            Some((holder, grant.clone()))
        })
        .collect()
}

impl RoleLookup for RoleBindingStore {
    fn fill_roles(&self, user: &mut UserInfo, namespace: &str) {
        let index = self.index.load();
        let (mut roles, mut cluster_roles) = (BTreeSet::new(), BTreeSet::new());
        let holders = std::iter::once(Holder::User(user.username.clone()))
            .chain(user.groups.iter().cloned().map(Holder::Group));
        for holder in holders {
            for grant in index.get(&holder).into_iter().flatten() {
                match grant {
                    Grant::Role(role) => {
                        roles.insert(role.clone());
                    }
                    Grant::ClusterRoleIn {
                        namespace: bound_in,
                        role,
                    } if bound_in == namespace => {
                        cluster_roles.insert(role.clone());
                    }
                    Grant::ClusterRoleIn { .. } => {}
                    Grant::ClusterRole(role) => {
                        cluster_roles.insert(role.clone());
                    }
                }
            }
        }
        user.roles = roles.into_iter().collect();
        user.cluster_roles = cluster_roles.into_iter().collect();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use kube::api::ObjectMeta;

    fn subject(kind: &str, name: &str, namespace: Option<&str>) -> Subject {
        Subject {
            kind: kind.to_owned(),
            name: name.to_owned(),
            namespace: namespace.map(str::to_owned),
            api_group: None,
        }
    }

    fn role_binding(
        namespace: &str,
        name: &str,
        role_kind: &str,
        role: &str,
        subjects: Vec<Subject>,
    ) -> RoleBinding {
        RoleBinding {
            metadata: ObjectMeta {
                name: Some(name.to_owned()),
                namespace: Some(namespace.to_owned()),
                ..ObjectMeta::default()
            },
            role_ref: RoleRef {
                api_group: "rbac.authorization.k8s.io".to_owned(),
                kind: role_kind.to_owned(),
                name: role.to_owned(),
            },
            subjects: Some(subjects),
        }
    }

    fn cluster_role_binding(name: &str, role: &str, subjects: Vec<Subject>) -> ClusterRoleBinding {
        ClusterRoleBinding {
            metadata: ObjectMeta {
                name: Some(name.to_owned()),
                ..ObjectMeta::default()
            },
            role_ref: RoleRef {
                api_group: "rbac.authorization.k8s.io".to_owned(),
                kind: "ClusterRole".to_owned(),
                name: role.to_owned(),
            },
            subjects: Some(subjects),
        }
    }

    fn roles_of(
        store: &RoleBindingStore,
        username: &str,
        groups: &[&str],
        namespace: &str,
    ) -> (Vec<String>, Vec<String>) {
        let mut user = UserInfo {
            username: username.to_owned(),
            groups: groups.iter().map(|group| (*group).to_owned()).collect(),
            ..UserInfo::default()
        };
        store.fill_roles(&mut user, namespace);
        (user.roles, user.cluster_roles)
    }

    /// The cases of Kyverno's `GetRoleRef`: roles are namespaced names, a cluster role bound in
    /// a namespace counts only there, and service accounts are found by their username.
    #[test]
    fn roles_resolve_as_kyverno_resolves_them() {
        let store = RoleBindingStore::default();
        store.apply_role_bindings(Change::Snapshot(vec![
            role_binding(
                "shop",
                "devs",
                "Role",
                "deployer",
                vec![subject("Group", "devs", None)],
            ),
            role_binding(
                "shop",
                "viewers",
                "ClusterRole",
                "view",
                vec![subject("User", "alice", None)],
            ),
            role_binding(
                "shop",
                "ci",
                "Role",
                "ci",
                vec![subject("ServiceAccount", "builder", None)],
            ),
        ]));
        store.apply_cluster_role_bindings(Change::Snapshot(vec![cluster_role_binding(
            "admins",
            "cluster-admin",
            vec![
                subject("User", "alice", None),
                subject("ServiceAccount", "ctl", Some("kube-system")),
            ],
        )]));

        assert_eq!(
            roles_of(&store, "alice", &["devs"], "shop"),
            (
                vec!["shop:deployer".to_owned()],
                vec!["cluster-admin".to_owned(), "view".to_owned()]
            )
        );
        assert_eq!(
            roles_of(&store, "alice", &[], "other"),
            (vec![], vec!["cluster-admin".to_owned()]),
            "a cluster role bound in shop does not hold in other"
        );
        assert_eq!(
            roles_of(&store, "system:serviceaccount:shop:builder", &[], "other"),
            (vec!["shop:ci".to_owned()], vec![])
        );
        assert_eq!(
            roles_of(&store, "system:serviceaccount:kube-system:ctl", &[], ""),
            (vec![], vec!["cluster-admin".to_owned()])
        );
        assert_eq!(
            roles_of(&store, "bob", &["viewers"], "shop"),
            (vec![], vec![])
        );

        store.apply_cluster_role_bindings(Change::Deleted(cluster_role_binding(
            "admins",
            "cluster-admin",
            vec![],
        )));
        assert_eq!(roles_of(&store, "alice", &[], "other"), (vec![], vec![]));
        store.apply_role_bindings(Change::Applied(role_binding(
            "shop",
            "devs",
            "Role",
            "reader",
            vec![subject("Group", "devs", None)],
        )));
        assert_eq!(
            roles_of(&store, "carol", &["devs"], "shop").0,
            vec!["shop:reader".to_owned()],
            "a changed binding replaces what it granted"
        );
    }
}
