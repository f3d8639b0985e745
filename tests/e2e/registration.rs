//! `serve --kube` registers its own webhooks against the real apiserver, as the portcullis
//! ServiceAccount with only the RBAC `deploy/` grants: the configuration follows the policy set
//! (one webhook per failure policy and timeout, the served certificate's CA), and once every
//! server is gone each webhook's own failure policy decides.
//!
//! The policies judge Secrets, ResourceQuotas and LimitRanges, which no other test creates
//! outside the namespaces never judged, so the cluster-wide registration disturbs no other test.

use crate::cluster::service_account_kubeconfig;
use crate::support::{
    OWN_URL, PATIENCE, Serve, WITHIN_SECONDS, admin, create, eventually, namespace, work_dir,
};
use base64::Engine;
use k8s_openapi::api::admissionregistration::v1::ValidatingWebhookConfiguration;
use k8s_openapi::api::core::v1::{ResourceQuota, Secret};
use kube::api::{Api, DeleteParams, ListParams};
use serde_json::{Value, json};
use std::path::Path;

fn team_policy(name: &str, kind: &str, extra: &str) -> String {
    format!(
        "apiVersion: kyverno.io/v1\nkind: ClusterPolicy\nmetadata:\n  name: {name}\nspec:\n  validationFailureAction: Enforce\n{extra}  rules:\n  - name: team-label\n    match:\n      any:\n      - resources:\n          kinds: [{kind}]\n    validate:\n      message: \"{name}: a team label is required\"\n      pattern:\n        metadata:\n          labels:\n            team: \"?*\"\n"
    )
}

fn write(dir: &Path, file: &str, text: &str) {
    std::fs::write(dir.join(file), text).unwrap_or_else(|error| panic!("{file}: {error}"));
}

/// The registered webhooks by name: failure policy, timeout and resources.
async fn registered(
    api: &Api<ValidatingWebhookConfiguration>,
) -> Result<Vec<(String, String, i32, Vec<String>)>, String> {
    let configuration = api
        .get("portcullis")
        .await
        .map_err(|error| error.to_string())?;
    Ok(configuration
        .webhooks
        .unwrap_or_default()
        .into_iter()
        .map(|webhook| {
            let resources = webhook
                .rules
                .unwrap_or_default()
                .into_iter()
                .flat_map(|rule| rule.resources.unwrap_or_default())
                .collect();
            (
                webhook.name,
                webhook.failure_policy.unwrap_or_default(),
                webhook.timeout_seconds.unwrap_or_default(),
                resources,
            )
        })
        .collect())
}

fn unlabelled(kind: &str, namespace: &str) -> Value {
    json!({"apiVersion": "v1", "kind": kind, "metadata": {"name": "unowned", "namespace": namespace}})
}

#[tokio::test]
async fn registration_follows_the_policy_set_and_failure_policies_outlive_the_server() {
    let client = admin().await;
    let scope = "registration";
    let dir = work_dir(scope);
    let policies = dir.join("policies");
    std::fs::create_dir_all(&policies).expect("policies dir");
    write(
        &policies,
        "secrets.yaml",
        &team_policy("e2e-secrets", "Secret", ""),
    );
    write(
        &policies,
        "quotas.yaml",
        &team_policy(
            "e2e-quotas",
            "ResourceQuota",
            "  failurePolicy: Ignore\n  webhookTimeoutSeconds: 5\n",
        ),
    );
    let kubeconfig = service_account_kubeconfig(&client, &dir).await;
    let policies_arg = policies.to_str().expect("UTF-8 path");
    let mut serve = Serve::start(
        scope,
        &[
            "--kube",
            "--policies",
            policies_arg,
            "--webhook-url",
            OWN_URL,
        ],
        &[("KUBECONFIG", &kubeconfig)],
    )
    .await;
    let api = Api::<ValidatingWebhookConfiguration>::all(client.clone());

    eventually("the server registers its webhooks", PATIENCE, async || {
        let seen = registered(&api).await?;
        let expected = vec![
            (
                "fail.validate.portcullis.dev".to_owned(),
                "Fail".to_owned(),
                10,
                vec!["secrets".to_owned()],
            ),
            (
                "ignore-5s.validate.portcullis.dev".to_owned(),
                "Ignore".to_owned(),
                5,
                vec!["resourcequotas".to_owned()],
            ),
        ];
        if seen == expected {
            Ok(())
        } else {
            Err(format!("{seen:?}"))
        }
    })
    .await;
    let configuration = api.get("portcullis").await.expect("registered");
    let labels = configuration.metadata.labels.clone().unwrap_or_default();
    assert_eq!(
        labels
            .get("app.kubernetes.io/managed-by")
            .map(String::as_str),
        Some("portcullis"),
        "labelled for uninstall"
    );
    let ca = std::fs::read(&serve.endpoint.ca).expect("the server's CA");
    for webhook in configuration.webhooks.as_deref().unwrap_or_default() {
        assert_eq!(
            webhook.client_config.url.as_deref(),
            Some(serve.endpoint.url.as_str())
        );
        let bundle = webhook
            .client_config
            .ca_bundle
            .as_ref()
            .expect("a caBundle");
        assert_eq!(
            base64::engine::general_purpose::STANDARD.encode(&bundle.0),
            base64::engine::general_purpose::STANDARD.encode(&ca),
            "the caBundle is the CA of the certificate the server serves"
        );
    }

    let judged = "e2e-registration";
    namespace(&client, judged, scope, json!({})).await;
    let refused = create::<Secret>(&client, &unlabelled("Secret", judged), true).await;
    assert!(!refused.admitted(), "{refused:?}");
    assert!(
        refused
            .message()
            .contains("e2e-secrets: a team label is required"),
        "{refused:?}"
    );

    // A new policy file is picked up, reloaded, and registered.
    write(
        &policies,
        "limits.yaml",
        &team_policy("e2e-limits", "LimitRange", "  failurePolicy: Ignore\n"),
    );
    eventually(
        "the registration follows a new policy",
        WITHIN_SECONDS,
        async || {
            let seen = registered(&api).await?;
            if seen.iter().any(|(name, policy, timeout, resources)| {
                name == "ignore.validate.portcullis.dev"
                    && policy == "Ignore"
                    && *timeout == 10
                    && resources == &["limitranges".to_owned()]
            }) {
                Ok(())
            } else {
                Err(format!("{seen:?}"))
            }
        },
    )
    .await;
    std::fs::remove_file(policies.join("limits.yaml")).expect("remove limits.yaml");
    eventually(
        "the registration follows a removed policy",
        WITHIN_SECONDS,
        async || {
            let seen = registered(&api).await?;
            if seen.len() == 2 && !seen.iter().any(|(name, ..)| name.starts_with("ignore.")) {
                Ok(())
            } else {
                Err(format!("{seen:?}"))
            }
        },
    )
    .await;

    // Every server gone: the configuration stays, and each webhook's failure policy decides.
    serve.stop().await;
    let blocked = create::<Secret>(&client, &unlabelled("Secret", judged), true).await;
    assert!(!blocked.admitted(), "{blocked:?}");
    assert!(
        blocked
            .message()
            .contains("failed calling webhook \"fail.validate.portcullis.dev\""),
        "{blocked:?}"
    );
    let quota = create::<ResourceQuota>(&client, &unlabelled("ResourceQuota", judged), true).await;
    assert!(quota.admitted(), "an Ignore webhook is harmless: {quota:?}");

    // Uninstalling removes it by its label.
    api.delete_collection(
        &DeleteParams::default(),
        &ListParams::default().labels("app.kubernetes.io/managed-by=portcullis"),
    )
    .await
    .expect("delete by label");
    // The apiserver drops a deleted configuration from its webhook cache a moment later.
    eventually(
        "uninstalling by label lets requests through",
        WITHIN_SECONDS,
        async || {
            let after = create::<Secret>(&client, &unlabelled("Secret", judged), true).await;
            if after.admitted() {
                Ok(())
            } else {
                Err(format!("{after:?}"))
            }
        },
    )
    .await;
}
