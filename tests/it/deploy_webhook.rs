//! The rendered webhook registration and the Deployment behind it, held to the rules that keep
//! a cluster safe under an admission webhook; and the checked-in webhook configuration held to
//! what `portcullis webhook-config` derives from `policies/`.

use crate::deploy_render::{Rendered, render_all};
use crate::fixtures::repo_path;
use portcullis::cli::parse_duration;
use serde_json::Value;
use std::process::Command;
use std::time::Duration;

fn webhook_config(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_portcullis"))
        .arg("webhook-config")
        .args(args)
        .output()
        .expect("run portcullis webhook-config")
}

#[test]
fn checked_in_webhook_configuration_matches_the_policies() {
    let policies = repo_path("policies");
    let output = webhook_config(&["--policies", policies.to_str().expect("utf-8")]);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let generated = String::from_utf8(output.stdout).expect("utf-8");
    let checked_in =
        std::fs::read_to_string(repo_path("deploy/base/webhook.yaml")).expect("webhook.yaml");
    assert!(
        generated == checked_in,
        "deploy/base/webhook.yaml is out of date with policies/; regenerate it with\n  \
         cargo run -- webhook-config --policies policies > deploy/base/webhook.yaml\n\
         generated:\n{generated}"
    );
}

#[test]
fn unknown_kinds_are_refused_with_their_policy() {
    let dir = tempfile::tempdir().expect("tempdir");
    let policy = dir.path().join("widgets.yaml");
    std::fs::write(
        &policy,
        "apiVersion: kyverno.io/v1\nkind: ClusterPolicy\nmetadata:\n  name: widgets\nspec:\n  rules:\n  - name: named\n    match:\n      any:\n      - resources:\n          kinds: [Widget]\n    validate:\n      pattern:\n        metadata:\n          name: \"?*\"\n",
    )
    .expect("write policy");
    let output = webhook_config(&["--policies", policy.to_str().expect("utf-8")]);
    assert_eq!(output.status.code(), Some(2));
    assert!(output.stdout.is_empty(), "printed a configuration anyway");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("widgets.yaml:") && stderr.contains("kind \"Widget\""),
        "{stderr}"
    );
    assert!(stderr.contains("group/version/Kind"), "{stderr}");
}

fn flag(args: &[Value], name: &str) -> Option<Duration> {
    args.iter()
        .filter_map(Value::as_str)
        .find_map(|arg| arg.strip_prefix(&format!("--{name}=")))
        .map(|text| parse_duration(text).unwrap_or_else(|error| panic!("--{name}: {error}")))
}

fn strings(value: &Value) -> Vec<&str> {
    value
        .as_array()
        .map(|items| items.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default()
}

fn check_overlay(overlay: &Rendered, expected_failure_policy: &str) {
    let name = overlay.name;
    let configuration = overlay.find("ValidatingWebhookConfiguration");
    let webhooks = configuration["webhooks"].as_array().expect("webhooks");
    let service = overlay.find("Service");
    let namespace = service["metadata"]["namespace"]
        .as_str()
        .expect("namespace");
    let deployment = overlay.find("Deployment");
    let pod = &deployment["spec"]["template"]["spec"];
    let container = &pod["containers"][0];
    let args = container["args"].as_array().expect("args");
    // `serve`'s own defaults apply when the manifest does not set the flag.
    let delay = flag(args, "shutdown-delay").unwrap_or(Duration::from_secs(5));
    let drain = flag(args, "shutdown-timeout").unwrap_or(Duration::from_secs(30));
    let pre_stop = container["lifecycle"]["preStop"]["sleep"]["seconds"]
        .as_u64()
        .map_or(Duration::ZERO, Duration::from_secs);
    let grace = Duration::from_secs(pod["terminationGracePeriodSeconds"].as_u64().unwrap_or(30));
    assert!(
        grace >= pre_stop + delay + drain,
        "{name}: grace period {grace:?} < preStop {pre_stop:?} + delay {delay:?} + drain {drain:?}"
    );
    assert_eq!(
        pre_stop, delay,
        "{name}: preStop sleep should match --shutdown-delay"
    );

    for webhook in webhooks {
        let timeout = webhook["timeoutSeconds"].as_u64().expect("timeoutSeconds");
        assert!(
            (1..=10).contains(&timeout),
            "{name}: timeoutSeconds {timeout}"
        );
        assert!(
            Duration::from_secs(timeout) < drain,
            "{name}: a review in flight at shutdown must finish within --shutdown-timeout"
        );
        assert_eq!(webhook["sideEffects"], "None", "{name}");
        assert_eq!(webhook["failurePolicy"], expected_failure_policy, "{name}");
        assert_eq!(webhook["matchPolicy"], "Equivalent", "{name}");
        assert_eq!(
            strings(&webhook["admissionReviewVersions"]),
            ["v1"],
            "{name}"
        );
        let client = &webhook["clientConfig"]["service"];
        assert_eq!(client["name"], service["metadata"]["name"], "{name}");
        assert_eq!(client["namespace"], namespace, "{name}");
        let port = client["port"].as_u64().unwrap_or(443);
        assert!(
            service["spec"]["ports"]
                .as_array()
                .expect("ports")
                .iter()
                .any(|p| p["port"] == port && p["targetPort"] == "webhook"),
            "{name}: the webhook calls a port the Service does not route to the server"
        );
        let expressions = webhook["namespaceSelector"]["matchExpressions"]
            .as_array()
            .expect("namespaceSelector");
        let not_in = |key: &str| -> Vec<&str> {
            expressions
                .iter()
                .filter(|e| e["key"] == key && e["operator"] == "NotIn")
                .flat_map(|e| strings(&e["values"]))
                .collect()
        };
        let excluded = not_in("kubernetes.io/metadata.name");
        assert!(
            excluded.contains(&"kube-system") && excluded.contains(&namespace),
            "{name}: kube-system and {namespace} must never be judged: {excluded:?}"
        );
        assert_eq!(not_in("portcullis.dev/ignore"), ["true"], "{name}");
        assert!(
            overlay
                .objects
                .iter()
                .any(|object| object["kind"] == "Namespace"
                    && object["metadata"]["name"] == namespace
                    && object["metadata"]["labels"]["portcullis.dev/ignore"] == "true"),
            "{name}: the {namespace} Namespace should carry portcullis.dev/ignore=true"
        );
        let resources: Vec<&str> = webhook["rules"]
            .as_array()
            .expect("rules")
            .iter()
            .flat_map(|rule| strings(&rule["resources"]))
            .collect();
        for resource in [
            "pods",
            "pods/ephemeralcontainers",
            "deployments",
            "cronjobs",
        ] {
            assert!(resources.contains(&resource), "{name}: {resource} not sent");
        }
    }
}

fn has_arg(overlay: &Rendered, wanted: &str) -> bool {
    let args = &overlay.find("Deployment")["spec"]["template"]["spec"]["containers"][0]["args"];
    strings(args).contains(&wanted)
}

#[test]
fn rendered_webhooks_are_safe() {
    let scratch = tempfile::tempdir().expect("tempdir");
    let Some(overlays) = render_all(scratch.path()) else {
        return;
    };
    for overlay in &overlays {
        let token =
            &overlay.find("Deployment")["spec"]["template"]["spec"]["automountServiceAccountToken"];
        match overlay.name {
            "base" => {
                check_overlay(overlay, "Fail");
                assert!(!has_arg(overlay, "--kube"), "base is file-only");
                assert_eq!(token, false);
            }
            "production" => {
                check_overlay(overlay, "Fail");
                assert!(has_arg(overlay, "--kube"));
                assert_eq!(token, true, "--kube needs the ServiceAccount token");
                let injected = overlay.find("ValidatingWebhookConfiguration")["metadata"]
                    ["annotations"]["cert-manager.io/inject-ca-from"]
                    .as_str()
                    .expect("inject-ca-from annotation");
                let (namespace, certificate) = injected.split_once('/').expect("ns/name");
                let serving = overlay
                    .objects
                    .iter()
                    .find(|o| o["kind"] == "Certificate" && o["metadata"]["name"] == certificate)
                    .expect("the injected Certificate is rendered");
                assert_eq!(serving["metadata"]["namespace"], namespace);
                assert!(
                    strings(&serving["spec"]["dnsNames"]).contains(&"portcullis.portcullis.svc")
                );
                assert_eq!(overlay.find("Deployment")["spec"]["replicas"], 3);
            }
            "dev" => {
                check_overlay(overlay, "Ignore");
                let bundle = overlay.find("ValidatingWebhookConfiguration")["webhooks"][0]
                    ["clientConfig"]["caBundle"]
                    .as_str()
                    .expect("dev caBundle");
                assert!(
                    bundle.starts_with("LS0tLS1CRUdJTi"),
                    "a base64 PEM: {bundle}"
                );
                assert_eq!(overlay.find("Deployment")["spec"]["replicas"], 1);
            }
            other => panic!("unexpected overlay {other}"),
        }
    }
}

#[test]
fn rbac_reads_and_writes_only_status() {
    let scratch = tempfile::tempdir().expect("tempdir");
    let Some(overlays) = render_all(scratch.path()) else {
        return;
    };
    for overlay in &overlays {
        for rule in overlay.find("ClusterRole")["rules"]
            .as_array()
            .expect("rules")
        {
            let verbs = strings(&rule["verbs"]);
            let resources = strings(&rule["resources"]);
            assert!(!verbs.contains(&"*") && !resources.contains(&"*"), "{rule}");
            let writes = verbs
                .iter()
                .any(|verb| !["get", "list", "watch"].contains(verb));
            if writes {
                assert!(
                    verbs.iter().all(|verb| ["update", "patch"].contains(verb)),
                    "{rule}"
                );
                assert!(resources.iter().all(|r| r.ends_with("/status")), "{rule}");
            }
        }
    }
}
