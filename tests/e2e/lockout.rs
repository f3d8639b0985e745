//! Lockout safety with the real apiserver: what `failurePolicy` does when the server is gone or
//! never answers, and that Portcullis answers by its own deadline before the apiserver gives up
//! on a review it cannot finish in time.

use crate::support::{
    Endpoint, PATIENCE, Serve, admin, create, eventually, install_webhook, namespace, pod,
    repo_path, scoped, webhook_config, with_each_webhook, work_dir,
};
use k8s_openapi::api::core::v1::{ConfigMap, Pod};
use portcullis::tls::{CertResolver, generate_dev_certs, load_certificate, server_config};
use serde_json::{Value, json};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};
use tokio::io::AsyncReadExt;
use tokio::task::{JoinHandle, JoinSet};

/// Installs `configuration` for `scope` with `failurePolicy`, makes the scope's namespace, and
/// returns its name.
async fn install_scope(
    client: &kube::Client,
    configuration: &Value,
    endpoint: &Endpoint,
    scope: &str,
    failure_policy: &str,
) -> String {
    let configuration = with_each_webhook(
        scoped(
            configuration.clone(),
            &format!("portcullis-{scope}"),
            scope,
            endpoint,
        ),
        "failurePolicy",
        json!(failure_policy),
    );
    install_webhook(client, &configuration).await;
    let name = format!("e2e-{scope}");
    namespace(client, &name, scope, json!({})).await;
    name
}

async fn until_denied(client: &kube::Client, namespace: &str) {
    let probe = pod("probe", namespace, &["nginx:latest"]);
    eventually(
        &format!("the webhook judges {namespace}"),
        PATIENCE,
        async || {
            let answer = create::<Pod>(client, &probe, true).await;
            if answer.admitted() {
                Err(format!("{answer:?}"))
            } else {
                Ok(())
            }
        },
    )
    .await;
}

#[tokio::test]
async fn a_stopped_server_blocks_under_fail_and_admits_under_ignore() {
    let client = admin().await;
    let policies = repo_path("policies");
    let mut serve = Serve::start(
        "stopped",
        &["--policies", policies.to_str().expect("UTF-8 path")],
        &[],
    )
    .await;
    let configuration = webhook_config(&[&policies]);
    let closed = install_scope(
        &client,
        &configuration,
        &serve.endpoint,
        "stopped-fail",
        "Fail",
    )
    .await;
    let open = install_scope(
        &client,
        &configuration,
        &serve.endpoint,
        "stopped-ignore",
        "Ignore",
    )
    .await;
    until_denied(&client, &closed).await;
    until_denied(&client, &open).await;

    serve.stop().await;

    let pinned = pod("pinned", &closed, &["nginx:1.25.3"]);
    let answer = create::<Pod>(&client, &pinned, false).await;
    let message = answer.expect_refused("a Pod under failurePolicy Fail with the server stopped");
    assert!(
        message.contains("failed calling webhook \"fail.validate.portcullis.dev\"")
            && message.contains("connection refused"),
        "{answer:#?}"
    );
    for image in ["nginx:1.25.3", "nginx:latest"] {
        let object = pod(
            &format!("web-{}", image.replace([':', '.'], "-")),
            &open,
            &[image],
        );
        create::<Pod>(&client, &object, false)
            .await
            .expect_admitted(&format!(
                "{image} under failurePolicy Ignore with the server stopped"
            ));
    }
}

/// A TLS server that takes requests and never answers them, counting the ones it received.
struct Silent {
    endpoint: Endpoint,
    requests: Arc<AtomicUsize>,
    task: JoinHandle<()>,
}

impl Silent {
    async fn start(dir: &Path) -> Silent {
        let files = generate_dev_certs(dir).expect("development certificates");
        let certificate = load_certificate(&files.cert, &files.key).expect("load them");
        let config = server_config(Arc::new(CertResolver::new(certificate.key)), None)
            .expect("TLS configuration");
        let acceptor = tokio_rustls::TlsAcceptor::from(config);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let address = listener.local_addr().expect("local address");
        let requests = Arc::new(AtomicUsize::new(0));
        let counted = requests.clone();
        let task = tokio::spawn(async move {
            // Dropped with the task, which aborts every connection it holds open.
            let mut connections = JoinSet::new();
            while let Ok((tcp, _)) = listener.accept().await {
                let (acceptor, counted) = (acceptor.clone(), counted.clone());
                connections.spawn(async move {
                    let Ok(mut tls) = acceptor.accept(tcp).await else {
                        return;
                    };
                    let mut buffer = vec![0; 64 * 1024];
                    while let Ok(read) = tls.read(&mut buffer).await {
                        if read == 0 {
                            break;
                        }
                        if buffer.starts_with(b"POST ") {
                            counted.fetch_add(1, Ordering::SeqCst);
                        }
                    }
                });
            }
        });
        Silent {
            endpoint: Endpoint {
                url: format!("https://{address}/validate"),
                ca: files.ca_cert,
            },
            requests,
            task,
        }
    }

    fn requests(&self) -> usize {
        self.requests.load(Ordering::SeqCst)
    }
}

impl Drop for Silent {
    fn drop(&mut self) {
        self.task.abort();
    }
}

#[tokio::test]
async fn a_server_slower_than_timeout_seconds_is_cut_off() {
    let client = admin().await;
    let silent = Silent::start(&work_dir("silent")).await;
    let configuration = with_each_webhook(
        webhook_config(&[&repo_path("policies")]),
        "timeoutSeconds",
        json!(1),
    );
    let closed = install_scope(
        &client,
        &configuration,
        &silent.endpoint,
        "slow-fail",
        "Fail",
    )
    .await;
    let open = install_scope(
        &client,
        &configuration,
        &silent.endpoint,
        "slow-ignore",
        "Ignore",
    )
    .await;
    for (namespace, admitted) in [(&closed, false), (&open, true)] {
        let object = pod("pinned", namespace, &["nginx:1.25.3"]);
        // Until the apiserver has the configuration, the Pod is admitted without a call.
        let (answer, took) = eventually(
            &format!("the apiserver calls the silent server for {namespace}"),
            PATIENCE,
            async || {
                let before = silent.requests();
                let started = Instant::now();
                let answer = create::<Pod>(&client, &object, true).await;
                if silent.requests() > before {
                    Ok((answer, started.elapsed()))
                } else {
                    Err(format!("no call; {answer:?}"))
                }
            },
        )
        .await;
        assert!(
            took >= Duration::from_secs(1),
            "answered after {took:?}: {answer:#?}"
        );
        if admitted {
            answer.expect_admitted("a Pod under failurePolicy Ignore with a silent server");
        } else {
            let message =
                answer.expect_refused("a Pod under failurePolicy Fail with a silent server");
            assert!(
                message.contains("failed calling webhook \"fail.validate.portcullis.dev\"")
                    && message.contains("context deadline exceeded"),
                "{answer:#?}"
            );
        }
    }
}

/// Policies whose patterns take long enough that the set cannot be evaluated within the
/// apiserver's timeout, though each one alone finishes well within it: every one scans
/// ConfigMaps labelled `e2e.portcullis.dev/slow` for a string that is never there, with a
/// wildcard whose cost is the product of the pattern's and the value's lengths.
fn slow_policies(dir: &Path, count: usize) {
    let needle = format!("!*?{}b", "a".repeat(SLOW_PATTERN_LENGTH));
    let mut text = String::new();
    for index in 0..count {
        text.push_str(&format!(
            "---\napiVersion: kyverno.io/v1\nkind: ClusterPolicy\nmetadata:\n  name: e2e-slow-{index}\nspec:\n  validationFailureAction: Enforce\n  rules:\n  - name: scan\n    match:\n      any:\n      - resources:\n          kinds: [ConfigMap]\n          selector:\n            matchLabels:\n              e2e.portcullis.dev/slow: \"true\"\n    validate:\n      message: \"the blob holds the needle\"\n      pattern:\n        data:\n          blob: \"{needle}\"\n"
        ));
    }
    std::fs::write(dir.join("slow.yaml"), text).expect("write the slow policies");
}

const SLOW_PATTERN_LENGTH: usize = 200;
const SLOW_BLOB_LENGTH: usize = 10_000;
const SLOW_POLICIES: usize = 1500;

fn slow_config_map(name: &str, namespace: &str) -> Value {
    json!({
        "apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": name, "namespace": namespace, "labels": {"e2e.portcullis.dev/slow": "true"}},
        "data": {"blob": "a".repeat(SLOW_BLOB_LENGTH)},
    })
}

#[tokio::test]
async fn our_deadline_answers_before_the_apiserver_gives_up() {
    let client = admin().await;
    let dir = work_dir("slow-policies");
    slow_policies(&dir, SLOW_POLICIES);
    let policies = dir.to_str().expect("UTF-8 path");
    // 2 s: the apiserver asks for an answer within `?timeout=2s`; ours is due at 1.6 s.
    let configuration = with_each_webhook(webhook_config(&[&dir]), "timeoutSeconds", json!(2));
    for on_timeout in ["deny", "allow"] {
        let serve = Serve::start(
            &format!("deadline-{on_timeout}"),
            &["--policies", policies, "--on-timeout", on_timeout],
            &[],
        )
        .await;
        let scope = format!("deadline-{on_timeout}");
        let namespace =
            install_scope(&client, &configuration, &serve.endpoint, &scope, "Fail").await;
        let object = slow_config_map("slow", &namespace);
        let why = format!(
            "portcullis did not finish evaluating ConfigMap/{namespace}/slow within the apiserver's timeout"
        );
        // Until the apiserver has the configuration, the ConfigMap is admitted without a call.
        let answer = eventually(
            &format!("the apiserver calls the webhook for {namespace}"),
            PATIENCE,
            async || {
                let answer = create::<ConfigMap>(&client, &object, true).await;
                if !answer.admitted() || !answer.warnings.is_empty() {
                    Ok(answer)
                } else {
                    Err(format!("{answer:?}"))
                }
            },
        )
        .await;
        match on_timeout {
            "deny" => {
                let message =
                    answer.expect_refused("a review past its deadline, --on-timeout deny");
                assert_eq!(answer.status, 504, "{answer:#?}");
                assert!(message.contains(&why), "{answer:#?}");
            }
            _ => {
                answer.expect_admitted("a review past its deadline, --on-timeout allow");
                assert!(
                    answer
                        .warnings
                        .iter()
                        .any(|warning| warning.contains(&why)
                            && warning.ends_with("allowed unchecked")),
                    "{answer:#?}"
                );
            }
        }
        let metrics = serve.scrape().await;
        let counter =
            format!("portcullis_admission_deadline_exceeded_total{{on_timeout=\"{on_timeout}\"}} ");
        let exceeded: u64 = metrics
            .lines()
            .find_map(|line| line.strip_prefix(&counter))
            .and_then(|value| value.trim().parse().ok())
            .unwrap_or_else(|| panic!("no {counter} in\n{metrics}"));
        assert!(exceeded >= 1, "{counter}{exceeded}");
    }
}
