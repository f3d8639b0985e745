//! What every end-to-end test needs: the control plane `run.sh` started, namespaces and webhook
//! configurations scoped to one test, `portcullis serve` on loopback, and requests whose answer
//! (status, message, `Warning` headers) is read as a client receives it.
//!
//! Tests run in parallel against one apiserver. Each installs its webhook configurations with
//! one more `namespaceSelector` expression, `e2e.portcullis.dev/test In (<scope>)`, and works
//! only in namespaces carrying that label, so no test's webhook judges another test's requests.

use base64::Engine;
use http_body_util::BodyExt;
use hyper::Request;
use kube::api::Api;
use kube::client::Body;
use kube::config::{KubeConfigOptions, Kubeconfig};
use serde_json::{Value, json};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

pub use crate::shared::{pod, repo_path};

/// The longest any one step may take: a server becoming ready, a webhook configuration taking
/// effect in the apiserver.
pub const PATIENCE: Duration = Duration::from_secs(30);
/// How long a change in the cluster may take to change decisions ("within seconds").
pub const WITHIN_SECONDS: Duration = Duration::from_secs(10);
pub const SCOPE_LABEL: &str = "e2e.portcullis.dev/test";
pub const FIELD_MANAGER: &str = "portcullis-e2e";

/// A path `run.sh` exported; without it there is no control plane, which is a failure.
pub fn required_env(name: &str) -> PathBuf {
    match std::env::var_os(name) {
        Some(value) if !value.is_empty() => PathBuf::from(value),
        _ => panic!(
            "{name} is not set: the end-to-end suite needs the control plane that \
             tests/e2e/run.sh starts; run it through that script"
        ),
    }
}

/// A directory for one test's files under the run's work directory, which `run.sh` keeps when
/// the suite fails.
pub fn work_dir(name: &str) -> PathBuf {
    let dir = required_env("PORTCULLIS_E2E_WORK").join(name);
    std::fs::create_dir_all(&dir).unwrap_or_else(|error| panic!("{}: {error}", dir.display()));
    dir
}

pub async fn client_from(kubeconfig: &Path) -> kube::Client {
    let config = Kubeconfig::read_from(kubeconfig)
        .unwrap_or_else(|error| panic!("{}: {error}", kubeconfig.display()));
    let config = kube::Config::from_custom_kubeconfig(config, &KubeConfigOptions::default())
        .await
        .unwrap_or_else(|error| panic!("{}: {error}", kubeconfig.display()));
    kube::Client::try_from(config).expect("a client for the e2e apiserver")
}

/// The suite's administrator (group `system:masters`).
pub async fn admin() -> kube::Client {
    client_from(&required_env("PORTCULLIS_E2E_KUBECONFIG")).await
}

/// Retries `probe` until it gives a value, for at most `within`; a timeout reports what the
/// last try saw.
pub async fn eventually<T>(
    what: &str,
    within: Duration,
    mut probe: impl AsyncFnMut() -> Result<T, String>,
) -> T {
    let deadline = Instant::now() + within;
    loop {
        match probe().await {
            Ok(value) => return value,
            Err(seen) => assert!(
                Instant::now() < deadline,
                "timed out after {within:?} waiting until {what}; last saw: {seen}"
            ),
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// What the apiserver answered, as the client received it.
#[derive(Debug, Clone)]
pub struct Answer {
    pub status: u16,
    pub body: Value,
    /// The text of every `Warning` header.
    pub warnings: Vec<String>,
}

impl Answer {
    pub fn admitted(&self) -> bool {
        (200..300).contains(&self.status)
    }

    /// The message of a refusal (a `Status` body).
    pub fn message(&self) -> &str {
        self.body["message"].as_str().unwrap_or_default()
    }

    pub fn expect_admitted(&self, what: &str) {
        assert!(self.admitted(), "{what} was refused: {self:#?}");
    }

    /// Asserts a refusal, returning its message.
    pub fn expect_refused(&self, what: &str) -> &str {
        assert!(!self.admitted(), "{what} was admitted: {self:#?}");
        self.message()
    }
}

/// Sends one request and reads the whole answer; only a transport failure panics.
pub async fn send(
    client: &kube::Client,
    method: &str,
    uri: &str,
    content_type: &str,
    body: Vec<u8>,
) -> Answer {
    let request = Request::builder()
        .method(method)
        .uri(uri)
        .header("content-type", content_type)
        .header("accept", "application/json")
        .body(Body::from(body))
        .expect("a well-formed request");
    let response = client
        .send(request)
        .await
        .unwrap_or_else(|error| panic!("{method} {uri}: {error}"));
    let status = response.status().as_u16();
    let warnings = response
        .headers()
        .get_all("warning")
        .iter()
        .map(|value| warning_text(&String::from_utf8_lossy(value.as_bytes())))
        .collect();
    let bytes = response
        .into_body()
        .collect()
        .await
        .unwrap_or_else(|error| panic!("{method} {uri}: reading the answer: {error}"))
        .to_bytes();
    let body = serde_json::from_slice(&bytes)
        .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into_owned()));
    Answer {
        status,
        body,
        warnings,
    }
}

/// `299 - "text"` → `text`: the apiserver quotes warnings as RFC 7234 says.
fn warning_text(header: &str) -> String {
    let quoted = header.splitn(3, ' ').nth(2).unwrap_or(header);
    quoted
        .strip_prefix('"')
        .and_then(|rest| rest.strip_suffix('"'))
        .map_or_else(
            || quoted.to_owned(),
            |text| text.replace("\\\"", "\"").replace("\\\\", "\\"),
        )
}

fn dry_run_query(dry_run: bool) -> &'static str {
    if dry_run { "?dryRun=All" } else { "" }
}

/// `POST`s `object` to its collection at `collection_url`, as `kubectl create` does.
pub async fn create_at(
    client: &kube::Client,
    collection_url: &str,
    object: &Value,
    dry_run: bool,
) -> Answer {
    let uri = format!("{collection_url}{}", dry_run_query(dry_run));
    let body = serde_json::to_vec(object).expect("JSON");
    send(client, "POST", &uri, "application/json", body).await
}

/// Creates a namespaced object of a built-in type.
pub async fn create<K>(client: &kube::Client, object: &Value, dry_run: bool) -> Answer
where
    K: kube::Resource<DynamicType = (), Scope = k8s_openapi::NamespaceResourceScope>,
{
    let namespace = object["metadata"]["namespace"]
        .as_str()
        .expect("a namespaced object names its namespace");
    let api = Api::<K>::namespaced(client.clone(), namespace);
    create_at(client, api.resource_url(), object, dry_run).await
}

/// Server-side apply of `object` at its own URL (`<collection>/<name>`).
pub async fn apply_at(
    client: &kube::Client,
    collection_url: &str,
    object: &Value,
    dry_run: bool,
) -> Answer {
    let name = object["metadata"]["name"].as_str().expect("a named object");
    let dry_run = if dry_run { "&dryRun=All" } else { "" };
    let uri = format!("{collection_url}/{name}?fieldManager={FIELD_MANAGER}&force=true{dry_run}");
    let body = serde_json::to_vec(object).expect("JSON");
    send(client, "PATCH", &uri, "application/apply-patch+yaml", body).await
}

/// Creates or updates a namespace labelled with the test's scope and `labels`.
pub async fn namespace(client: &kube::Client, name: &str, scope: &str, labels: Value) {
    let mut all = json!({SCOPE_LABEL: scope});
    if let (Some(all), Some(extra)) = (all.as_object_mut(), labels.as_object()) {
        all.extend(extra.clone());
    }
    let object = json!({
        "apiVersion": "v1", "kind": "Namespace",
        "metadata": {"name": name, "labels": all},
    });
    let api = Api::<k8s_openapi::api::core::v1::Namespace>::all(client.clone());
    apply_at(client, api.resource_url(), &object, false)
        .await
        .expect_admitted(&format!("namespace {name}"));
}

/// A Deployment whose pod template runs `image`.
pub fn deployment(name: &str, namespace: &str, image: &str) -> Value {
    json!({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {"containers": [{"name": "main", "image": image}]},
            },
        },
    })
}

/// `portcullis webhook-config` over `policies`, as the object it prints.
pub fn webhook_config(policies: &[&Path]) -> Value {
    let mut command = Command::new(env!("CARGO_BIN_EXE_portcullis"));
    command.arg("webhook-config");
    for path in policies {
        command.arg("--policies").arg(path);
    }
    let output = command.output().expect("run portcullis webhook-config");
    assert!(
        output.status.success(),
        "portcullis webhook-config: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let text = String::from_utf8(output.stdout).expect("UTF-8");
    crate::shared::yaml_objects(&text, "webhook-config's output")
        .into_iter()
        .next()
        .expect("webhook-config prints a configuration")
}

/// Where the apiserver calls a webhook: a URL on loopback and the CA its certificate chains to.
pub struct Endpoint {
    pub url: String,
    pub ca: PathBuf,
}

/// `configuration` renamed to `name`, calling `endpoint` and judging only namespaces in `scope`;
/// everything else stays as given.
pub fn scoped(mut configuration: Value, name: &str, scope: &str, endpoint: &Endpoint) -> Value {
    let ca = std::fs::read(&endpoint.ca)
        .unwrap_or_else(|error| panic!("{}: {error}", endpoint.ca.display()));
    configuration["metadata"] = json!({"name": name});
    let webhooks = configuration["webhooks"]
        .as_array_mut()
        .expect("a configuration has webhooks");
    for webhook in webhooks {
        webhook["clientConfig"] = json!({
            "url": endpoint.url,
            "caBundle": base64::engine::general_purpose::STANDARD.encode(&ca),
        });
        let selector = &mut webhook["namespaceSelector"];
        if selector.is_null() {
            *selector = json!({});
        }
        let expression = json!({"key": SCOPE_LABEL, "operator": "In", "values": [scope]});
        match selector["matchExpressions"].as_array_mut() {
            Some(expressions) => expressions.push(expression),
            None => selector["matchExpressions"] = json!([expression]),
        }
    }
    configuration
}

/// Sets a field of every webhook in the configuration.
pub fn with_each_webhook(mut configuration: Value, field: &str, value: Value) -> Value {
    for webhook in configuration["webhooks"]
        .as_array_mut()
        .expect("a configuration has webhooks")
    {
        webhook[field] = value.clone();
    }
    configuration
}

/// Creates or replaces a `ValidatingWebhookConfiguration` through the API.
pub async fn install_webhook(client: &kube::Client, configuration: &Value) {
    use k8s_openapi::api::admissionregistration::v1::ValidatingWebhookConfiguration;
    let api = Api::<ValidatingWebhookConfiguration>::all(client.clone());
    let name = configuration["metadata"]["name"].as_str().unwrap_or("?");
    apply_at(client, api.resource_url(), configuration, false)
        .await
        .expect_admitted(&format!("ValidatingWebhookConfiguration {name}"));
}

pub fn free_port() -> SocketAddr {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind an ephemeral port");
    listener.local_addr().expect("local address")
}

/// A plain HTTP/1.1 GET, for the metrics listener: status and body.
pub async fn plain_get(address: SocketAddr, path: &str) -> Option<(u16, String)> {
    let mut stream = tokio::net::TcpStream::connect(address).await.ok()?;
    let request = format!("GET {path} HTTP/1.1\r\nHost: {address}\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await.ok()?;
    let mut response = Vec::new();
    stream.read_to_end(&mut response).await.ok()?;
    let text = String::from_utf8_lossy(&response);
    let status = text.split(' ').nth(1)?.parse().ok()?;
    let body = text.split_once("\r\n\r\n").map_or("", |(_, body)| body);
    Some((status, body.to_owned()))
}

/// `portcullis serve` on loopback ports, in its own directory under the run's work directory
/// (where it writes its development CA and its log).
/// An argument to [`Serve::start`] that stands for the server's own webhook URL, which is known
/// only once its port is chosen.
pub const OWN_URL: &str = "{own webhook url}";

pub struct Serve {
    child: Child,
    pub endpoint: Endpoint,
    pub metrics: SocketAddr,
    pub log: PathBuf,
}

impl Serve {
    /// Starts the server with `args` after the listen flags and `env`, and waits until
    /// `/readyz` answers 200.
    pub async fn start(name: &str, args: &[&str], env: &[(&str, &Path)]) -> Serve {
        let dir = work_dir(&format!("serve-{name}"));
        let (listen, metrics) = (free_port(), free_port());
        let log = dir.join("serve.log");
        let mut command = Command::new(env!("CARGO_BIN_EXE_portcullis"));
        let url = format!("https://{listen}/validate");
        command
            .args(["serve", "--listen", &listen.to_string()])
            .args(["--metrics-listen", &metrics.to_string()])
            .args(["--shutdown-delay", "0s", "--shutdown-timeout", "5s"])
            .args(
                args.iter()
                    .map(|arg| if *arg == OWN_URL { url.as_str() } else { arg }),
            )
            .current_dir(&dir)
            .env("RUST_LOG", "info")
            .env_remove("KUBECONFIG")
            .env_remove("KUBERNETES_SERVICE_HOST")
            .env_remove("KUBERNETES_SERVICE_PORT")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).expect("log file"));
        for (key, value) in env {
            command.env(key, value);
        }
        let child = command.spawn().expect("spawn portcullis serve");
        let mut serve = Serve {
            child,
            endpoint: Endpoint {
                url,
                ca: dir.join("certs-dev/ca.crt"),
            },
            metrics,
            log,
        };
        serve.wait_ready().await;
        serve
    }

    async fn wait_ready(&mut self) {
        let deadline = Instant::now() + PATIENCE;
        loop {
            if let Some((200, _)) = plain_get(self.metrics, "/readyz").await {
                return;
            }
            if let Ok(Some(exit)) = self.child.try_wait() {
                panic!("portcullis serve exited ({exit}):\n{}", self.log_text());
            }
            assert!(
                Instant::now() < deadline,
                "portcullis serve was not ready within {PATIENCE:?}:\n{}",
                self.log_text()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// The metrics page.
    pub async fn scrape(&self) -> String {
        match plain_get(self.metrics, "/metrics").await {
            Some((200, body)) => body,
            other => panic!("GET /metrics: {other:?}"),
        }
    }

    /// SIGTERM, then waits for the exit.
    pub async fn stop(&mut self) {
        let status = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .expect("run kill");
        assert!(status.success(), "kill -TERM failed");
        let deadline = Instant::now() + PATIENCE;
        while self.child.try_wait().expect("child state").is_none() {
            assert!(
                Instant::now() < deadline,
                "portcullis serve ignored SIGTERM"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
