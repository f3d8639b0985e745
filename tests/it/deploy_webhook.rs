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

/// `webhook-config` writes what a server would register for the policies: each webhook calls
/// the given URL with the given CA, and honours the policies' failure policy and timeout.
#[test]
fn webhook_config_takes_a_url_and_a_ca_bundle() {
    let dir = tempfile::tempdir().expect("tempdir");
    let ca = dir.path().join("ca.crt");
    std::fs::write(
        &ca,
        "-----BEGIN CERTIFICATE-----\nQ0E=\n-----END CERTIFICATE-----\n",
    )
    .expect("write ca");
    let policies = repo_path("policies");
    let output = webhook_config(&[
        "--policies",
        policies.to_str().expect("utf-8"),
        "--url",
        "https://127.0.0.1:8443/validate",
        "--ca-bundle",
        ca.to_str().expect("utf-8"),
    ]);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let text = String::from_utf8(output.stdout).expect("utf-8");
    let documents = portcullis::yaml::parse_documents(&text).expect("YAML");
    let configuration = &documents[0].value;
    let webhooks = configuration["webhooks"].as_array().expect("webhooks");
    assert!(!webhooks.is_empty(), "{text}");
    for webhook in webhooks {
        assert_eq!(
            webhook["clientConfig"]["url"], "https://127.0.0.1:8443/validate",
            "{text}"
        );
        assert_eq!(
            webhook["clientConfig"]["caBundle"],
            "LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0tClEwRT0KLS0tLS1FTkQgQ0VSVElGSUNBVEUtLS0tLQo=",
            "{text}"
        );
        assert_eq!(webhook["failurePolicy"], "Fail", "{text}");
        assert_eq!(webhook["timeoutSeconds"], 10, "{text}");
    }
    let missing = webhook_config(&["--ca-bundle", "/nonexistent/ca.crt"]);
    assert_eq!(missing.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&missing.stderr)
            .contains("--ca-bundle: cannot read /nonexistent/ca.crt"),
        "{}",
        String::from_utf8_lossy(&missing.stderr)
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

/// What the servers of an overlay would register for the default policies, given the
/// overlay's own flags.
fn registered_webhooks(overlay: &Rendered) -> Vec<Value> {
    let mut args = vec![
        "--policies".to_owned(),
        repo_path("policies").to_string_lossy().into_owned(),
    ];
    if has_arg(overlay, "--force-failure-policy-ignore") {
        args.push("--force-failure-policy-ignore".to_owned());
    }
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let output = webhook_config(&args);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let text = String::from_utf8(output.stdout).expect("utf-8");
    let documents = portcullis::yaml::parse_documents(&text).expect("YAML");
    documents[0].value["webhooks"]
        .as_array()
        .expect("webhooks")
        .clone()
}

fn check_overlay(overlay: &Rendered, expected_failure_policy: &str) {
    let name = overlay.name;
    assert!(
        !overlay
            .objects
            .iter()
            .any(|object| object["kind"] == "ValidatingWebhookConfiguration"),
        "{name}: a static webhook configuration can land before a ready server"
    );
    assert!(
        has_arg(overlay, "--kube"),
        "{name}: the servers register their webhooks"
    );
    assert!(!has_arg(overlay, "--no-webhook-registration"), "{name}");
    let service = overlay.find("Service");
    let namespace = service["metadata"]["namespace"]
        .as_str()
        .expect("namespace");
    let deployment = overlay.find("Deployment");
    let pod = &deployment["spec"]["template"]["spec"];
    assert_eq!(
        pod["automountServiceAccountToken"], true,
        "{name}: --kube needs the ServiceAccount token"
    );
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
    // The servers register webhooks for the Service named by --webhook-service (default
    // portcullis/portcullis, port 443), with ca.crt beside the serving certificate.
    assert_eq!(service["metadata"]["name"], "portcullis", "{name}");
    assert_eq!(namespace, "portcullis", "{name}");
    assert!(
        service["spec"]["ports"]
            .as_array()
            .expect("ports")
            .iter()
            .any(|p| p["port"] == 443 && p["targetPort"] == "webhook"),
        "{name}: the webhooks call a port the Service does not route to the server"
    );
    assert!(
        has_arg(overlay, "--tls-cert=/etc/portcullis/tls/tls.crt"),
        "{name}: ca.crt is read beside the certificate mounted from the Secret"
    );
    assert!(
        overlay
            .objects
            .iter()
            .any(|object| object["kind"] == "Namespace"
                && object["metadata"]["name"] == namespace
                && object["metadata"]["labels"]["portcullis.dev/ignore"] == "true"),
        "{name}: the {namespace} Namespace should carry portcullis.dev/ignore=true"
    );

    let webhooks = registered_webhooks(overlay);
    assert!(!webhooks.is_empty(), "{name}");
    for webhook in &webhooks {
        let timeout = webhook["timeoutSeconds"].as_u64().expect("timeoutSeconds");
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
        let tls_secret_keys = |overlay: &Rendered| -> Vec<String> {
            overlay
                .objects
                .iter()
                .find(|o| o["kind"] == "Secret" && o["type"] == "kubernetes.io/tls")
                .and_then(|secret| secret["data"].as_object())
                .map(|data| data.keys().cloned().collect())
                .unwrap_or_default()
        };
        match overlay.name {
            "base" => check_overlay(overlay, "Fail"),
            "production" => {
                check_overlay(overlay, "Fail");
                let serving = overlay
                    .objects
                    .iter()
                    .find(|o| {
                        o["kind"] == "Certificate" && o["spec"]["secretName"] == "portcullis-tls"
                    })
                    .expect("the serving Certificate is rendered");
                let issuer = serving["spec"]["issuerRef"]["name"]
                    .as_str()
                    .expect("issuer");
                assert!(
                    overlay.objects.iter().any(|o| o["kind"] == "Issuer"
                        && o["metadata"]["name"] == issuer
                        && o["spec"]["ca"].is_object()),
                    "a CA issuer writes ca.crt into the Secret, which becomes the caBundle"
                );
                assert!(
                    strings(&serving["spec"]["dnsNames"]).contains(&"portcullis.portcullis.svc")
                );
                assert_eq!(overlay.find("Deployment")["spec"]["replicas"], 3);
            }
            "dev" => {
                check_overlay(overlay, "Ignore");
                let mut keys = tls_secret_keys(overlay);
                keys.sort();
                assert_eq!(keys, ["ca.crt", "tls.crt", "tls.key"]);
                assert_eq!(overlay.find("Deployment")["spec"]["replicas"], 1);
            }
            other => panic!("unexpected overlay {other}"),
        }
    }
}

/// The ServiceAccount reads what `--kube` follows, and writes only its policies' status and
/// the one webhook configuration the servers register; what context entries look up is granted
/// by aggregation only, and nothing is granted there by default.
#[test]
fn rbac_reads_and_writes_only_status_and_its_own_registration() {
    let scratch = tempfile::tempdir().expect("tempdir");
    let Some(overlays) = render_all(scratch.path()) else {
        return;
    };
    for overlay in &overlays {
        let roles: Vec<&Value> = overlay
            .objects
            .iter()
            .filter(|object| object["kind"] == "ClusterRole")
            .collect();
        let names: Vec<&str> = roles
            .iter()
            .map(|role| role["metadata"]["name"].as_str().unwrap_or(""))
            .collect();
        assert_eq!(
            names,
            ["portcullis", "portcullis-lookups"],
            "{}",
            overlay.name
        );
        let lookups = roles[1];
        assert_eq!(lookups["rules"], serde_json::json!([]), "{lookups}");
        assert_eq!(
            lookups["aggregationRule"]["clusterRoleSelectors"],
            serde_json::json!([{"matchLabels": {"portcullis.dev/aggregate-to-lookups": "true"}}])
        );
        for rule in roles[0]["rules"].as_array().expect("rules") {
            let verbs = strings(&rule["verbs"]);
            let resources = strings(&rule["resources"]);
            assert!(!verbs.contains(&"*") && !resources.contains(&"*"), "{rule}");
            let writes = verbs
                .iter()
                .any(|verb| !["get", "list", "watch"].contains(verb));
            if !writes {
                continue;
            }
            if resources == ["validatingwebhookconfigurations"] {
                if verbs == ["create"] {
                    continue;
                }
                assert_eq!(strings(&rule["resourceNames"]), ["portcullis"], "{rule}");
                assert!(!verbs.contains(&"delete"), "{rule}");
            } else {
                assert!(
                    verbs.iter().all(|verb| ["update", "patch"].contains(verb)),
                    "{rule}"
                );
                assert!(resources.iter().all(|r| r.ends_with("/status")), "{rule}");
            }
        }
    }
}
