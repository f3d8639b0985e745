//! Admission through the real API: the configuration `portcullis webhook-config` derives from
//! `policies/` (and an Audit policy of the suite's own), calling a `portcullis serve` on loopback
//! by URL, judges what clients create, and clients read our answers: the denial message, the
//! `Warning` headers, the same answers for server-side dry runs, and the namespaces it never
//! judges.

use crate::support::{
    Answer, PATIENCE, Serve, admin, create, deployment, eventually, install_webhook, namespace,
    pod, repo_path, scoped, webhook_config,
};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::Pod;
use kube::api::Api;
use serde_json::json;

/// A test's webhook, server and namespace.
struct Judged {
    client: kube::Client,
    namespace: String,
    _serve: Serve,
}

const AUDIT_POLICIES: &str = "tests/e2e/policies/audit";
/// `:latest` in a container is refused by the seed policy `require-image-digest` (and only by
/// it: `disallow-latest-tag` covers what the seed does not).
const LATEST_MESSAGE: &str = "Images must use a digest or SHA-based tag, not :latest";

/// `portcullis serve` with the repository's policies and the suite's Audit policy, the webhook
/// configuration generated from the same files, and a namespace `scope` that it judges; returns
/// once the apiserver calls the webhook (a `:latest` Pod is denied).
async fn judged(scope: &str) -> Judged {
    let client = admin().await;
    let policies = repo_path("policies");
    let audit = repo_path(AUDIT_POLICIES);
    let serve = Serve::start(
        scope,
        &[
            "--policies",
            policies.to_str().expect("UTF-8 path"),
            "--policies",
            audit.to_str().expect("UTF-8 path"),
        ],
        &[],
    )
    .await;
    let configuration = scoped(
        webhook_config(&[&policies, &audit]),
        &format!("portcullis-{scope}"),
        scope,
        &serve.endpoint,
    );
    install_webhook(&client, &configuration).await;
    let namespace = format!("e2e-{scope}");
    crate::support::namespace(&client, &namespace, scope, json!({})).await;
    let probe = pod("probe", &namespace, &["nginx:latest"]);
    eventually("the apiserver calls the webhook", PATIENCE, async || {
        let answer = create::<Pod>(&client, &probe, true).await;
        if answer.admitted() {
            Err(format!("{answer:?}"))
        } else {
            Ok(())
        }
    })
    .await;
    Judged {
        client,
        namespace,
        _serve: serve,
    }
}

/// The parts of a denial the client must see: who denied it, which resource, policy and rule,
/// and the policy's own message.
fn assert_denied_by_latest_rule(answer: &Answer, resource: &str, rule: &str) {
    let message = answer.expect_refused(resource);
    assert_eq!(answer.status, 403, "{answer:#?}");
    for part in [
        "admission webhook \"fail.validate.portcullis.dev\" denied the request",
        &format!("resource {resource} was blocked due to the following policies"),
        "require-image-digest:",
        &format!("{rule}:"),
        LATEST_MESSAGE,
    ] {
        assert!(message.contains(part), "{part:?} missing from {message:?}");
    }
}

#[tokio::test]
async fn a_latest_pod_is_denied_with_our_message() {
    let judged = judged("deny-latest").await;
    let object = pod("web", &judged.namespace, &["nginx:latest"]);
    let answer = create::<Pod>(&judged.client, &object, false).await;
    assert_denied_by_latest_rule(
        &answer,
        &format!("Pod/{}/web", judged.namespace),
        "require-digest",
    );
    let pods = Api::<Pod>::namespaced(judged.client.clone(), &judged.namespace);
    assert!(
        pods.get_opt("web").await.expect("GET").is_none(),
        "a denied Pod was stored"
    );
}

#[tokio::test]
async fn a_pinned_pod_is_admitted() {
    let judged = judged("admit-pinned").await;
    let object = pod("web", &judged.namespace, &["nginx:1.25.3"]);
    create::<Pod>(&judged.client, &object, false)
        .await
        .expect_admitted("nginx:1.25.3");
    let pods = Api::<Pod>::namespaced(judged.client.clone(), &judged.namespace);
    let stored = pods.get("web").await.expect("the admitted Pod is stored");
    assert_eq!(
        stored.spec.expect("spec").containers[0].image.as_deref(),
        Some("nginx:1.25.3")
    );
}

#[tokio::test]
async fn a_latest_deployment_is_denied_through_autogen() {
    let judged = judged("autogen").await;
    let object = deployment("web", &judged.namespace, "nginx:latest");
    let answer = create::<Deployment>(&judged.client, &object, false).await;
    assert_denied_by_latest_rule(
        &answer,
        &format!("Deployment/{}/web", judged.namespace),
        "autogen-require-digest",
    );
    let pinned = deployment("api", &judged.namespace, "nginx:1.25.3");
    create::<Deployment>(&judged.client, &pinned, false)
        .await
        .expect_admitted("a Deployment of nginx:1.25.3");
}

#[tokio::test]
async fn server_side_dry_run_gets_the_same_answers() {
    let judged = judged("dry-run").await;
    let client = &judged.client;
    let namespace = &judged.namespace;
    let cases = [
        (pod("latest", namespace, &["nginx:latest"]), false),
        (pod("pinned", namespace, &["nginx:1.25.3"]), true),
    ];
    for (object, admitted) in &cases {
        let dry = create::<Pod>(client, object, true).await;
        let real = create::<Pod>(client, object, false).await;
        assert_eq!(dry.admitted(), *admitted, "dry run: {dry:#?}");
        assert_eq!(real.admitted(), *admitted, "real: {real:#?}");
        if !admitted {
            assert_eq!(dry.status, real.status);
            assert_eq!(dry.message(), real.message());
        }
        assert_eq!(dry.warnings, real.warnings);
    }
    let deployments = [
        deployment("latest", namespace, "nginx:latest"),
        deployment("pinned", namespace, "nginx:1.25.3"),
    ];
    for object in &deployments {
        let dry = create::<Deployment>(client, object, true).await;
        let real = create::<Deployment>(client, object, false).await;
        assert_eq!(dry.admitted(), real.admitted(), "{dry:#?}\n{real:#?}");
        assert_eq!(dry.message(), real.message());
    }
    // A dry run that was admitted stored nothing; the real create did.
    let dry_only = pod("dry-only", namespace, &["nginx:1.25.3"]);
    create::<Pod>(client, &dry_only, true)
        .await
        .expect_admitted("dry run of nginx:1.25.3");
    let pods = Api::<Pod>::namespaced(client.clone(), namespace);
    assert!(pods.get_opt("dry-only").await.expect("GET").is_none());
    assert!(pods.get_opt("pinned").await.expect("GET").is_some());
}

#[tokio::test]
async fn an_audit_failure_reaches_the_client_as_a_warning() {
    let judged = judged("audit").await;
    let unlabelled = pod("unlabelled", &judged.namespace, &["nginx:1.25.3"]);
    let answer = create::<Pod>(&judged.client, &unlabelled, false).await;
    answer.expect_admitted("an Audit failure");
    let expected = "policy e2e-audit-team-label.require-team-label: ";
    let warning = answer
        .warnings
        .iter()
        .find(|warning| warning.starts_with(expected))
        .unwrap_or_else(|| panic!("no warning {expected:?}: {answer:#?}"));
    assert!(
        warning.contains("Pods should carry a team label."),
        "{warning}"
    );

    let mut labelled = pod("labelled", &judged.namespace, &["nginx:1.25.3"]);
    labelled["metadata"]["labels"] = json!({"team": "payments"});
    let answer = create::<Pod>(&judged.client, &labelled, false).await;
    answer.expect_admitted("a Pod that passes the Audit policy");
    assert!(answer.warnings.is_empty(), "{answer:#?}");
}

#[tokio::test]
async fn an_excluded_namespace_is_admitted() {
    let judged = judged("excluded").await;
    // In the test's scope, so only the generated exclusion can keep the webhook out.
    let excluded = "e2e-excluded-ignored";
    namespace(
        &judged.client,
        excluded,
        "excluded",
        json!({"portcullis.dev/ignore": "true"}),
    )
    .await;
    // kube-system, excluded by name; the scope label only brings it into this test's webhook.
    namespace(&judged.client, "kube-system", "excluded", json!({})).await;
    for excluded in [excluded, "kube-system"] {
        let object = pod("web", excluded, &["nginx:latest"]);
        let answer = create::<Pod>(&judged.client, &object, false).await;
        answer.expect_admitted(&format!("nginx:latest in {excluded}"));
        assert!(
            answer.warnings.is_empty(),
            "not judged, so no Audit warning: {answer:#?}"
        );
    }
    // The same Pod in a judged namespace of the same scope is still denied.
    let judged_pod = pod("web", &judged.namespace, &["nginx:latest"]);
    let answer = create::<Pod>(&judged.client, &judged_pod, false).await;
    assert!(!answer.admitted(), "{answer:#?}");
}
