//! A local apiserver that speaks the Kubernetes list/watch protocol over plain HTTP, so the
//! cluster followers run against real JSON and a real chunked watch stream: lists carry a
//! `resourceVersion`, watches resume from one, send bookmarks when asked to, and answer a
//! resource version older than the kept history with an `ERROR` event of code `410 Gone`, as the
//! apiserver does after compaction. Status patches are applied and recorded for assertions.

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use futures::stream;
use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};
use tokio::sync::watch;

/// A collection the fake serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Kind {
    pub group_version: &'static str,
    pub kind: &'static str,
    pub plural: &'static str,
    pub namespaced: bool,
}

pub const NAMESPACE: Kind = Kind {
    group_version: "v1",
    kind: "Namespace",
    plural: "namespaces",
    namespaced: false,
};
pub const CLUSTER_POLICY: Kind = Kind {
    group_version: "portcullis.dev/v1alpha1",
    kind: "ClusterPolicy",
    plural: "clusterpolicies",
    namespaced: false,
};
pub const POLICY: Kind = Kind {
    group_version: "portcullis.dev/v1alpha1",
    kind: "Policy",
    plural: "policies",
    namespaced: true,
};
pub const KYVERNO_CLUSTER_POLICY: Kind = Kind {
    group_version: "kyverno.io/v1",
    kind: "ClusterPolicy",
    plural: "clusterpolicies",
    namespaced: false,
};
pub const KYVERNO_POLICY: Kind = Kind {
    group_version: "kyverno.io/v1",
    kind: "Policy",
    plural: "policies",
    namespaced: true,
};
pub const ROLE_BINDING: Kind = Kind {
    group_version: "rbac.authorization.k8s.io/v1",
    kind: "RoleBinding",
    plural: "rolebindings",
    namespaced: true,
};
pub const CLUSTER_ROLE_BINDING: Kind = Kind {
    group_version: "rbac.authorization.k8s.io/v1",
    kind: "ClusterRoleBinding",
    plural: "clusterrolebindings",
    namespaced: false,
};
pub const POLICY_EXCEPTION: Kind = Kind {
    group_version: "kyverno.io/v2",
    kind: "PolicyException",
    plural: "policyexceptions",
    namespaced: true,
};
const KINDS: [Kind; 8] = [
    NAMESPACE,
    CLUSTER_POLICY,
    POLICY,
    KYVERNO_CLUSTER_POLICY,
    KYVERNO_POLICY,
    ROLE_BINDING,
    CLUSTER_ROLE_BINDING,
    POLICY_EXCEPTION,
];

/// One request as the fake received it.
#[derive(Debug, Clone)]
pub struct Recorded {
    pub method: Method,
    pub path: String,
    pub query: String,
    pub content_type: String,
    pub body: Value,
}

type ObjectKey = (Kind, String, String);

#[derive(Default)]
struct Inner {
    revision: u64,
    objects: BTreeMap<ObjectKey, Value>,
    events: Vec<(u64, Kind, &'static str, Value)>,
    /// Watches from an older resource version get `410 Gone`.
    oldest_watchable: u64,
    /// Bumped to end every open watch with `410 Gone`.
    expiry: u64,
    requests: Vec<Recorded>,
    /// Collections answered with `403 Forbidden`, as with missing RBAC.
    forbidden: BTreeSet<Kind>,
}

struct Shared {
    inner: Mutex<Inner>,
    changed: watch::Sender<u64>,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().expect("fake apiserver lock")
    }
}

pub struct FakeApi {
    pub url: String,
    shared: Arc<Shared>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for FakeApi {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl FakeApi {
    pub async fn start() -> Self {
        let (changed, _) = watch::channel(0);
        let shared = Arc::new(Shared {
            inner: Mutex::new(Inner {
                revision: 100,
                ..Inner::default()
            }),
            changed,
        });
        let app = Router::new().fallback(handle).with_state(shared.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind the fake apiserver");
        let url = format!("http://{}", listener.local_addr().expect("local addr"));
        let task = tokio::spawn(async move {
            axum::serve(listener, app).await.expect("fake apiserver");
        });
        Self { url, shared, task }
    }

    pub fn client(&self) -> kube::Client {
        let config = kube::Config::new(self.url.parse().expect("fake apiserver url"));
        kube::Client::try_from(config).expect("client for the fake apiserver")
    }

    /// Creates or replaces an object, as `kubectl apply` would; the generation moves when the
    /// spec (or, for a namespace, the labels) changes.
    pub fn put(&self, kind: Kind, mut object: Value) {
        let mut inner = self.shared.lock();
        inner.revision += 1;
        let revision = inner.revision;
        let key = key_of(kind, &object);
        let previous = inner.objects.get(&key).cloned();
        let generation = match &previous {
            Some(old) if old.get("spec") == object.get("spec") => {
                old["metadata"]["generation"].as_i64().unwrap_or(1)
            }
            Some(old) => old["metadata"]["generation"].as_i64().unwrap_or(1) + 1,
            None => 1,
        };
        object["apiVersion"] = json!(kind.group_version);
        object["kind"] = json!(kind.kind);
        let metadata = &mut object["metadata"];
        metadata["resourceVersion"] = json!(revision.to_string());
        metadata["generation"] = json!(generation);
        metadata["uid"] = json!(format!("00000000-0000-4000-8000-{revision:012}"));
        metadata["creationTimestamp"] = json!("2026-01-01T00:00:00Z");
        if let Some(status) = previous.as_ref().and_then(|old| old.get("status")) {
            if object.get("status").is_none() {
                object["status"] = status.clone();
            }
        }
        let event = if previous.is_some() {
            "MODIFIED"
        } else {
            "ADDED"
        };
        inner.events.push((revision, kind, event, object.clone()));
        inner.objects.insert(key, object);
        drop(inner);
        self.shared.changed.send_replace(revision);
    }

    pub fn delete(&self, kind: Kind, namespace: &str, name: &str) {
        let mut inner = self.shared.lock();
        let Some(mut object) = inner
            .objects
            .remove(&(kind, namespace.to_owned(), name.to_owned()))
        else {
            panic!(
                "fake apiserver: no {} {namespace}/{name} to delete",
                kind.kind
            );
        };
        inner.revision += 1;
        let revision = inner.revision;
        object["metadata"]["resourceVersion"] = json!(revision.to_string());
        inner.events.push((revision, kind, "DELETED", object));
        drop(inner);
        self.shared.changed.send_replace(revision);
    }

    /// Forgets the event history (as etcd compaction does) and ends every open watch with
    /// `410 Gone`, so clients can only catch up by listing again.
    pub fn compact_and_expire_watches(&self) {
        let mut inner = self.shared.lock();
        inner.oldest_watchable = inner.revision + 1;
        inner.events.clear();
        inner.expiry += 1;
        let revision = inner.revision;
        drop(inner);
        self.shared.changed.send_replace(revision);
    }

    /// Answers lists and watches of `kind` with `403 Forbidden` until [`FakeApi::permit`].
    pub fn forbid(&self, kind: Kind) {
        self.shared.lock().forbidden.insert(kind);
    }

    pub fn permit(&self, kind: Kind) {
        self.shared.lock().forbidden.remove(&kind);
    }

    pub fn object(&self, kind: Kind, namespace: &str, name: &str) -> Option<Value> {
        self.shared
            .lock()
            .objects
            .get(&(kind, namespace.to_owned(), name.to_owned()))
            .cloned()
    }

    pub fn requests(&self) -> Vec<Recorded> {
        self.shared.lock().requests.clone()
    }

    /// Lists (not watches) of one collection received so far.
    pub fn list_count(&self, kind: Kind) -> usize {
        let path = collection_path(kind);
        self.requests()
            .iter()
            .filter(|request| {
                request.method == Method::GET
                    && request.path == path
                    && !request.query.contains("watch=true")
            })
            .count()
    }
}

fn key_of(kind: Kind, object: &Value) -> ObjectKey {
    let namespace = if kind.namespaced {
        object["metadata"]["namespace"]
            .as_str()
            .unwrap_or("default")
    } else {
        ""
    };
    let name = object["metadata"]["name"]
        .as_str()
        .expect("object has a name");
    (kind, namespace.to_owned(), name.to_owned())
}

fn collection_path(kind: Kind) -> String {
    if kind.group_version == "v1" {
        format!("/api/v1/{}", kind.plural)
    } else {
        format!("/apis/{}/{}", kind.group_version, kind.plural)
    }
}

fn query_param<'a>(query: &'a str, name: &str) -> Option<&'a str> {
    query
        .split('&')
        .filter_map(|pair| pair.split_once('='))
        .find(|(key, _)| *key == name)
        .map(|(_, value)| value)
}

fn status(code: u16, reason: &str, message: &str) -> Value {
    json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure", "message": message, "reason": reason, "code": code})
}

fn json_response(code: StatusCode, body: &Value) -> Response {
    (
        code,
        [(header::CONTENT_TYPE, "application/json")],
        body.to_string(),
    )
        .into_response()
}

async fn handle(
    State(shared): State<Arc<Shared>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let path = uri.path().to_owned();
    let query = uri.query().unwrap_or("").to_owned();
    shared.lock().requests.push(Recorded {
        method: method.clone(),
        path: path.clone(),
        query: query.clone(),
        content_type: headers
            .get(header::CONTENT_TYPE)
            .and_then(|value| value.to_str().ok())
            .unwrap_or("")
            .to_owned(),
        body: serde_json::from_slice(&body).unwrap_or(Value::Null),
    });
    for kind in KINDS {
        let collection = collection_path(kind);
        let Some(rest) = path.strip_prefix(&collection) else {
            continue;
        };
        if rest.is_empty() && method == Method::GET {
            if shared.lock().forbidden.contains(&kind) {
                let message = format!(
                    "{} is forbidden: User \"system:anonymous\" cannot list resource \"{}\"",
                    kind.plural, kind.plural
                );
                return json_response(StatusCode::FORBIDDEN, &status(403, "Forbidden", &message));
            }
            return if query_param(&query, "watch") == Some("true") {
                watch_collection(shared, kind, None, &query)
            } else {
                list_collection(&shared, kind, None)
            };
        }
        if let Some(name) = rest
            .strip_prefix('/')
            .and_then(|rest| rest.strip_suffix("/status"))
        {
            if method == Method::PATCH && !kind.namespaced {
                return patch_status(&shared, (kind, String::new(), name.to_owned()), &body);
            }
        }
    }
    // Namespaced status: /apis/<group>/<version>/namespaces/<ns>/<plural>/<name>/status
    for kind in KINDS.iter().filter(|kind| kind.namespaced) {
        let prefix = format!("/apis/{}/namespaces/", kind.group_version);
        let Some(rest) = path.strip_prefix(&prefix) else {
            continue;
        };
        let parts: Vec<&str> = rest.split('/').collect();
        // One namespace's collection: /apis/<group>/<version>/namespaces/<ns>/<plural>
        if let [namespace, plural] = parts.as_slice() {
            if *plural == kind.plural && method == Method::GET {
                let namespace = Some(*namespace);
                return if query_param(&query, "watch") == Some("true") {
                    watch_collection(shared, *kind, namespace, &query)
                } else {
                    list_collection(&shared, *kind, namespace)
                };
            }
        }
        if let [namespace, plural, name, "status"] = parts.as_slice() {
            if *plural == kind.plural && method == Method::PATCH {
                return patch_status(
                    &shared,
                    (*kind, (*namespace).to_owned(), (*name).to_owned()),
                    &body,
                );
            }
        }
    }
    json_response(
        StatusCode::NOT_FOUND,
        &status(
            404,
            "NotFound",
            &format!("the fake apiserver does not serve {method} {path}"),
        ),
    )
}

/// `namespace`: only that namespace's objects, else all of them.
fn list_collection(shared: &Shared, kind: Kind, namespace: Option<&str>) -> Response {
    let inner = shared.lock();
    let items: Vec<&Value> = inner
        .objects
        .iter()
        .filter(|((object_kind, object_namespace, _), _)| {
            *object_kind == kind && namespace.is_none_or(|namespace| object_namespace == namespace)
        })
        .map(|(_, object)| object)
        .collect();
    json_response(
        StatusCode::OK,
        &json!({
            "apiVersion": kind.group_version,
            "kind": format!("{}List", kind.kind),
            "metadata": {"resourceVersion": inner.revision.to_string()},
            "items": items,
        }),
    )
}

struct WatchCursor {
    shared: Arc<Shared>,
    kind: Kind,
    namespace: Option<String>,
    after: u64,
    expiry: u64,
    bookmarks: bool,
    bookmark_sent: bool,
    changed: watch::Receiver<u64>,
    done: bool,
}

fn event_line(event: &str, object: &Value) -> Result<Bytes, std::io::Error> {
    Ok(Bytes::from(format!(
        "{}\n",
        json!({"type": event, "object": object})
    )))
}

fn watch_collection(
    shared: Arc<Shared>,
    kind: Kind,
    namespace: Option<&str>,
    query: &str,
) -> Response {
    let after: u64 = query_param(query, "resourceVersion")
        .and_then(|version| version.parse().ok())
        .unwrap_or(0);
    let (expiry, changed) = (shared.lock().expiry, shared.changed.subscribe());
    let cursor = WatchCursor {
        shared,
        kind,
        namespace: namespace.map(str::to_owned),
        after,
        expiry,
        bookmarks: query_param(query, "allowWatchBookmarks") == Some("true"),
        bookmark_sent: false,
        changed,
        done: false,
    };
    let events = stream::unfold(cursor, |mut cursor| async move {
        if cursor.done {
            return None;
        }
        loop {
            {
                let shared = cursor.shared.clone();
                let inner = shared.lock();
                if cursor.after < inner.oldest_watchable || inner.expiry != cursor.expiry {
                    cursor.done = true;
                    let gone = status(
                        410,
                        "Expired",
                        &format!(
                            "too old resource version: {} ({})",
                            cursor.after, inner.oldest_watchable
                        ),
                    );
                    return Some((event_line("ERROR", &gone), cursor));
                }
                let next = inner.events.iter().find(|(revision, kind, _, object)| {
                    *revision > cursor.after
                        && *kind == cursor.kind
                        && cursor.namespace.as_deref().is_none_or(|namespace| {
                            object["metadata"]["namespace"].as_str() == Some(namespace)
                        })
                });
                if let Some((revision, _, event, object)) = next {
                    cursor.after = *revision;
                    let line = event_line(event, object);
                    return Some((line, cursor));
                }
                if cursor.bookmarks && !cursor.bookmark_sent {
                    cursor.bookmark_sent = true;
                    cursor.after = inner.revision;
                    let bookmark = json!({
                        "apiVersion": cursor.kind.group_version,
                        "kind": cursor.kind.kind,
                        "metadata": {"resourceVersion": inner.revision.to_string()},
                    });
                    return Some((event_line("BOOKMARK", &bookmark), cursor));
                }
            }
            if cursor.changed.changed().await.is_err() {
                return None;
            }
        }
    });
    Response::builder()
        .status(StatusCode::OK)
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from_stream(events))
        .expect("watch response")
}

/// A JSON merge patch of the status subresource (RFC 7386, on `status` only).
fn patch_status(shared: &Shared, key: ObjectKey, body: &[u8]) -> Response {
    let Ok(patch) = serde_json::from_slice::<Value>(body) else {
        return json_response(
            StatusCode::BAD_REQUEST,
            &status(400, "BadRequest", "patch is not JSON"),
        );
    };
    let mut inner = shared.lock();
    let Some(mut object) = inner.objects.get(&key).cloned() else {
        return json_response(
            StatusCode::NOT_FOUND,
            &status(
                404,
                "NotFound",
                &format!("{} {} not found", key.0.kind, key.2),
            ),
        );
    };
    if let Some(status_patch) = patch.get("status") {
        merge(&mut object["status"], status_patch);
    }
    inner.revision += 1;
    let revision = inner.revision;
    object["metadata"]["resourceVersion"] = json!(revision.to_string());
    inner
        .events
        .push((revision, key.0, "MODIFIED", object.clone()));
    inner.objects.insert(key, object.clone());
    drop(inner);
    shared.changed.send_replace(revision);
    json_response(StatusCode::OK, &object)
}

fn merge(target: &mut Value, patch: &Value) {
    match patch {
        Value::Object(fields) => {
            if !target.is_object() {
                *target = json!({});
            }
            if let Value::Object(target_fields) = target {
                for (key, value) in fields {
                    if value.is_null() {
                        target_fields.remove(key);
                    } else {
                        merge(
                            target_fields.entry(key.clone()).or_insert(Value::Null),
                            value,
                        );
                    }
                }
            }
        }
        other => *target = other.clone(),
    }
}

/// Polls `condition` until it holds or `within` passes; the followers are asynchronous, so
/// tests wait for a state instead of sleeping for a guessed time.
pub async fn eventually(what: &str, within: Duration, mut condition: impl FnMut() -> bool) {
    let deadline = Instant::now() + within;
    while !condition() {
        assert!(Instant::now() < deadline, "timed out waiting until {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
