//! `portcullis serve` as a process: SIGTERM in the middle of a burst, startup failures that
//! exit at once with a clear message, the JSON log line of each review, request fields escaped in
//! the text log, and policy hot reload
//! (a file written in place, a Kubernetes `..data` symlink swap, an invalid set refused)
//! followed by a scrape of every metric family.

use crate::fixtures::{pod, repo_path, review};
use crate::serve_tls::free_port;
use crate::transport::support::{Connection, PATIENCE, plain_request};
use crate::webhook_semantics::{EXPECTED_FAMILIES, assert_bounded_metrics};
use crate::webhook_support::{Serve, post, serve_command, wait_exit};
use serde_json::{Value, json};
use std::os::unix::fs::symlink;
use std::path::Path;
use std::time::{Duration, Instant};

async fn allowed(connection: &mut Connection, uid: &str, object: &Value) -> bool {
    let body = serde_json::to_vec(&review(uid, object)).unwrap();
    let (status, answer) = post(connection, "/validate", body).await.expect("answer");
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["response"]["uid"], uid);
    answer["response"]["allowed"].as_bool().expect("allowed")
}

#[tokio::test]
async fn sigterm_during_a_burst_answers_every_request_sent_before_it() {
    let workdir = tempfile::tempdir().unwrap();
    let mut server = Serve::start(
        workdir.path(),
        &["--shutdown-delay", "1s", "--shutdown-timeout", "5s"],
    )
    .await;
    let started = Instant::now();
    let mut clients = tokio::task::JoinSet::new();
    for client in 0..25 {
        let mut connection = server.connect().await;
        clients.spawn(async move {
            // (sent at, answered correctly) for every request this client started.
            let mut log = Vec::new();
            for index in 0..10_000 {
                let uid = format!("burst-{client}-{index}");
                let deny = index % 2 == 0;
                let image = if deny { "nginx:latest" } else { "nginx:1.25.3" };
                let body =
                    serde_json::to_vec(&review(&uid, &pod("web", "shop", &[image]))).unwrap();
                let sent = started.elapsed();
                match post(&mut connection, "/validate", body).await {
                    Ok((status, answer)) => {
                        let correct = status == 200
                            && answer["response"]["uid"] == uid.as_str()
                            && answer["response"]["allowed"] == !deny;
                        log.push((sent, correct));
                    }
                    Err(_) => {
                        log.push((sent, false));
                        break;
                    }
                }
                if started.elapsed() > PATIENCE {
                    break;
                }
            }
            log
        });
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let signalled = started.elapsed();
    server.sigterm();
    let mut before = 0;
    while let Some(joined) = clients.join_next().await {
        for (sent, correct) in joined.expect("client task") {
            if sent < signalled {
                before += 1;
                assert!(
                    correct,
                    "a request sent {sent:?} in, before SIGTERM at {signalled:?}, got no correct answer"
                );
            }
        }
    }
    assert!(before >= 25, "only {before} requests before the signal");
    let exit = server.exit(PATIENCE).await;
    assert!(exit.success(), "exit after SIGTERM: {exit}");
}

#[tokio::test]
async fn a_second_interrupt_ends_the_drain_at_once() {
    let workdir = tempfile::tempdir().unwrap();
    let mut server = Serve::start(workdir.path(), &["--shutdown-delay", "60s"]).await;
    // A keep-alive connection the drain would wait for.
    let _connection = server.connect().await;
    server.sigint();
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(
        server.child.try_wait().unwrap().is_none(),
        "the first SIGINT drains, it does not exit:\n{}",
        server.log_text()
    );
    let interrupted = Instant::now();
    server.sigint();
    let exit = server.exit(PATIENCE).await;
    assert!(
        interrupted.elapsed() < Duration::from_secs(5),
        "{:?} after the second SIGINT",
        interrupted.elapsed()
    );
    assert!(exit.success(), "{exit}");
    let log = server.log_text();
    assert!(
        log.contains("interrupted again: closing every connection now"),
        "{log}"
    );
}

#[tokio::test]
async fn startup_fails_fast_with_a_clear_message() {
    let workdir = tempfile::tempdir().unwrap();
    let dir = workdir.path();
    std::fs::write(dir.join("garbage.crt"), "not a certificate\n").unwrap();
    std::fs::write(dir.join("garbage.key"), "not a key\n").unwrap();
    std::fs::create_dir(dir.join("a-directory.crt")).unwrap();
    let typo = repo_path("tests/fixtures/policies-bad/typo");
    let busy = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let busy_addr = busy.local_addr().unwrap();
    let (garbage_crt, garbage_key) = (dir.join("garbage.crt"), dir.join("garbage.key"));
    let directory_crt = dir.join("a-directory.crt");
    let typo_text = typo.to_string_lossy();
    let selector = repo_path("tests/fixtures/policies-namespace-selector");
    let selector_text = selector.to_string_lossy();
    let roles = repo_path("tests/fixtures/policies-roles");
    let roles_text = roles.to_string_lossy();
    let lookups = repo_path("tests/fixtures/policies-lookups");
    let lookups_text = lookups.to_string_lossy();
    let image_registry = repo_path("tests/fixtures/policies-image-registry");
    let image_registry_text = image_registry.to_string_lossy();
    let (free_a, free_b) = (free_port(), free_port());
    let table: [(&str, _, _, Vec<&str>, String); 9] = [
        (
            "unreadable certificate",
            free_a,
            free_b,
            vec![
                "--tls-cert",
                garbage_crt.to_str().unwrap(),
                "--tls-key",
                garbage_key.to_str().unwrap(),
            ],
            garbage_crt.display().to_string(),
        ),
        (
            "certificate path is a directory",
            free_a,
            free_b,
            vec![
                "--tls-cert",
                directory_crt.to_str().unwrap(),
                "--tls-key",
                garbage_key.to_str().unwrap(),
            ],
            directory_crt.display().to_string(),
        ),
        (
            "invalid policies",
            free_a,
            free_b,
            vec!["--policies", &typo_text],
            "typo.yaml".to_owned(),
        ),
        (
            "namespaceSelector without --kube",
            free_a,
            free_b,
            vec!["--policies", &selector_text],
            "rule \"no-latest-in-restricted\" of policy \"restricted-namespaces-pin-images\" uses namespaceSelector, which needs --kube to know namespace labels".to_owned(),
        ),
        (
            "clusterRoles without --kube",
            free_a,
            free_b,
            vec!["--policies", &roles_text],
            "uses roles or clusterRoles, which needs --kube to know the requester's roles"
                .to_owned(),
        ),
        (
            "configMap context without --kube",
            free_a,
            free_b,
            vec!["--policies", &lookups_text],
            "rule \"registry-listed\" of policy \"allowed-registries\" uses a configMap context entry (registries), which needs --kube to know what it reads from the cluster".to_owned(),
        ),
        (
            "imageRegistry context, which no webhook answers",
            free_a,
            free_b,
            vec!["--policies", &image_registry_text],
            "unsupported: context imageRegistry in non-root-images/image-user".to_owned(),
        ),
        (
            "webhook port in use",
            busy_addr,
            free_b,
            vec![],
            format!("cannot listen on {busy_addr} (--listen)"),
        ),
        (
            "metrics port in use",
            free_a,
            busy_addr,
            vec![],
            format!("cannot listen on {busy_addr} (--metrics-listen)"),
        ),
    ];
    for (case, listen, metrics, args, expected) in table {
        for json in [false, true] {
            let log = dir.join("startup.log");
            let mut args = args.clone();
            if json {
                args.extend(["--log-format", "json"]);
            }
            let mut child = serve_command(dir, &listen, &metrics, &args, &log)
                .spawn()
                .expect("spawn");
            let exit = wait_exit(&mut child, PATIENCE).await;
            let stderr = std::fs::read_to_string(&log).unwrap();
            assert!(!exit.success(), "{case}: exited {exit}");
            assert_eq!(exit.code(), Some(2), "{case}: {stderr}");
            if !json {
                // Said once, as text.
                assert_eq!(
                    stderr.matches(&expected).count(),
                    1,
                    "{case}: stderr should name {expected:?} once:\n{stderr}"
                );
                continue;
            }
            // Every line a JSON object, the reason in exactly one of them, at level ERROR.
            let lines: Vec<Value> = stderr
                .lines()
                .map(|line| {
                    serde_json::from_str(line)
                        .unwrap_or_else(|_| panic!("{case}: not a JSON line: {line:?}"))
                })
                .collect();
            let naming: Vec<&Value> = lines
                .iter()
                .filter(|line| {
                    line["error"]
                        .as_str()
                        .is_some_and(|e| e.contains(&expected))
                })
                .collect();
            assert_eq!(naming.len(), 1, "{case}: {stderr}");
            assert_eq!(naming[0]["level"], "ERROR", "{case}: {stderr}");
        }
    }
    drop(busy);
}

#[tokio::test]
async fn one_json_log_line_per_review_and_no_request_bodies() {
    let workdir = tempfile::tempdir().unwrap();
    let mut server = Serve::start(
        workdir.path(),
        &["--log-format", "json", "--shutdown-delay", "0s"],
    )
    .await;
    let mut connection = server.connect().await;
    let marker = "body-marker-7f3a";
    let mut denied_pod = pod("web", "shop", &["nginx:latest"]);
    denied_pod["metadata"]["annotations"] = json!({"note": marker});
    let mut allowed_pod = pod("api", "shop", &["nginx:1.25.3"]);
    allowed_pod["metadata"]["annotations"] = json!({"note": marker});
    assert!(!allowed(&mut connection, "log-deny", &denied_pod).await);
    assert!(allowed(&mut connection, "log-allow", &allowed_pod).await);
    let (status, _) = post(
        &mut connection,
        "/validate",
        format!("{{\"{marker}\"").into_bytes(),
    )
    .await
    .unwrap();
    assert_eq!(status, 400);
    server.sigterm();
    assert!(server.exit(PATIENCE).await.success());

    let log = server.log_text();
    assert!(
        !log.contains(marker),
        "a request body reached the log:\n{log}"
    );
    let lines: Vec<Value> = log
        .lines()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|_| panic!("not JSON: {line}")))
        .collect();
    let reviews: Vec<&Value> = lines
        .iter()
        .filter(|line| line["message"] == "admission review")
        .collect();
    assert_eq!(reviews.len(), 2, "{log}");
    for (line, uid, name, decision) in [
        (reviews[0], "log-deny", "web", "deny"),
        (reviews[1], "log-allow", "api", "allow"),
    ] {
        assert_eq!(line["level"], "INFO", "{line}");
        assert_eq!(line["uid"], uid, "{line}");
        assert_eq!(line["kind"], "Pod", "{line}");
        assert_eq!(line["namespace"], "shop", "{line}");
        assert_eq!(line["name"], name, "{line}");
        assert_eq!(line["operation"], "CREATE", "{line}");
        assert_eq!(line["decision"], decision, "{line}");
        assert!(line["latency_us"].is_u64(), "{line}");
    }
    let refused: Vec<&Value> = lines
        .iter()
        .filter(|line| line["message"] == "refused admission request")
        .collect();
    assert_eq!(refused.len(), 1, "{log}");
    assert_eq!(refused[0]["level"], "WARN");
    assert_eq!(refused[0]["reason"], "malformed_json");
}

/// The text log writes request fields escaped, so a client that reaches the port cannot start a
/// line of its own (a newline in a `uid`) or send terminal escapes to whoever reads the log.
#[tokio::test]
async fn request_fields_cannot_forge_or_colour_text_log_lines() {
    let workdir = tempfile::tempdir().unwrap();
    let mut server = Serve::start(
        workdir.path(),
        &["--log-format", "text", "--shutdown-delay", "0s"],
    )
    .await;
    let mut connection = server.connect().await;
    let forged = "2001-01-01T00:00:00.000000Z  INFO portcullis::webhook::handler: admission review uid=forged decision=\"allow\"";
    let hostile = format!("hostile\n{forged}\r\u{1b}[31m");
    let mut judged = review(&hostile, &pod("web", "shop", &["nginx:1.25.3"]));
    judged["request"]["namespace"] = json!(format!("shop\n{forged}"));
    judged["request"]["kind"]["kind"] = json!(format!("Pod\n{forged}"));
    let (status, answer) = post(
        &mut connection,
        "/validate",
        judged.to_string().into_bytes(),
    )
    .await
    .expect("answer");
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["response"]["uid"], hostile.as_str());
    let mut refused = review(&hostile, &pod("web", "shop", &["nginx:1.25.3"]));
    refused["request"]["operation"] = json!("BOGUS");
    let (status, _) = post(
        &mut connection,
        "/validate",
        refused.to_string().into_bytes(),
    )
    .await
    .expect("answer");
    assert_eq!(status, 400);
    server.sigterm();
    assert!(server.exit(PATIENCE).await.success());

    let log = server.log_text();
    assert!(
        !log.contains('\u{1b}'),
        "a terminal escape reached the log:\n{log}"
    );
    assert!(
        !log.contains('\r'),
        "a carriage return reached the log:\n{log}"
    );
    let forged_lines: Vec<&str> = log
        .lines()
        .filter(|line| line.starts_with("2001-01-01"))
        .collect();
    assert!(
        forged_lines.is_empty(),
        "forged lines: {forged_lines:?}\n{log}"
    );
    let review_line = log
        .lines()
        .find(|line| line.contains("admission review uid="))
        .unwrap_or_else(|| panic!("no review line:\n{log}"));
    for field in [
        r#"uid="hostile\n2001-01-01"#,
        r#"kind="Pod\n2001-01-01"#,
        r#"namespace="shop\n2001-01-01"#,
    ] {
        assert!(
            review_line.contains(field),
            "{field} not escaped: {review_line}"
        );
    }
    let refused_line = log
        .lines()
        .find(|line| line.contains("refused admission request"))
        .unwrap_or_else(|| panic!("no refusal line:\n{log}"));
    assert!(
        refused_line.contains(r#"reason="bad_operation""#)
            && refused_line.contains(r#"hostile\n2001"#),
        "{refused_line}"
    );
}

const REQUIRE_TEAM: &str = r#"apiVersion: kyverno.io/v1
kind: ClusterPolicy
metadata:
  name: require-team-label
spec:
  validationFailureAction: Enforce
  rules:
  - name: team
    match:
      any:
      - resources:
          kinds: [Pod]
    validate:
      message: "Pods need a team label."
      pattern:
        metadata:
          labels:
            team: "?*"
"#;

async fn metric(server: &Serve, line_start: &str) -> u64 {
    let (_, body) = plain_request(server.metrics, "/metrics")
        .await
        .expect("scrape");
    String::from_utf8_lossy(&body)
        .lines()
        .find_map(|line| line.strip_prefix(line_start)?.trim().parse().ok())
        .unwrap_or(0)
}

/// Polls until `probe` returns `expected`; reloads are debounced and run off the request path.
async fn eventually(what: &str, mut probe: impl AsyncFnMut() -> bool) {
    let deadline = Instant::now() + PATIENCE;
    while !probe().await {
        assert!(Instant::now() < deadline, "never happened: {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn swap_data(dir: &Path, version: &str, files: &[(&str, &str)]) {
    let target = dir.join(version);
    std::fs::create_dir(&target).unwrap();
    for (name, text) in files {
        std::fs::write(target.join(name), text).unwrap();
    }
    // As the kubelet does: a new symlink renamed over `..data` in one step.
    symlink(version, dir.join("..data_tmp")).unwrap();
    std::fs::rename(dir.join("..data_tmp"), dir.join("..data")).unwrap();
}

#[tokio::test]
async fn policies_reload_in_place_and_through_a_data_symlink_swap() {
    let workdir = tempfile::tempdir().unwrap();
    let latest_policy =
        std::fs::read_to_string(repo_path("policies/disallow-latest-tag.yaml")).unwrap();
    let typo =
        std::fs::read_to_string(repo_path("tests/fixtures/policies-bad/typo/typo.yaml")).unwrap();
    let plain = workdir.path().join("plain");
    std::fs::create_dir(&plain).unwrap();
    std::fs::write(plain.join("latest.yaml"), &latest_policy).unwrap();
    // The ConfigMap layout: files are symlinks through `..data` into a versioned directory.
    let mounted = workdir.path().join("mounted");
    std::fs::create_dir(&mounted).unwrap();
    swap_data(&mounted, "..v1", &[("policy.yaml", REQUIRE_TEAM)]);
    symlink("..data/policy.yaml", mounted.join("policy.yaml")).unwrap();
    let policies = format!("{},{}", plain.display(), mounted.display());
    let exceptions = repo_path("tests/fixtures/exceptions/never.yaml");
    let exceptions = exceptions.to_str().expect("utf-8 path");
    let server = Serve::start(
        workdir.path(),
        &["--policies", &policies, "--exceptions", exceptions],
    )
    .await;
    // The first scrape already has every reload series, at 0, for alerts on their increase.
    let (_, first_scrape) = plain_request(server.metrics, "/metrics").await.unwrap();
    let first_scrape = String::from_utf8_lossy(&first_scrape);
    for series in [
        r#"portcullis_policy_reload_total{result="success"} 0"#,
        r#"portcullis_policy_reload_total{result="error"} 0"#,
        r#"portcullis_tls_certificate_reload_total{result="success"} 0"#,
        r#"portcullis_tls_certificate_reload_total{result="error"} 0"#,
        r#"portcullis_admission_deadline_exceeded_total{on_timeout="deny"} 0"#,
        r#"portcullis_policy_exception_skips_total{exception="exceptions/never",policy="disallow-latest-tag",rule="require-image-tag"} 0"#,
    ] {
        assert!(
            first_scrape.lines().any(|line| line == series),
            "{series} missing:\n{first_scrape}"
        );
    }
    let mut connection = server.connect().await;

    // Untagged: what `disallow-latest-tag` refuses in a container on its own.
    let mut labelled_untagged = pod("web", "shop", &["nginx"]);
    labelled_untagged["metadata"]["labels"] = json!({"team": "a"});
    let unlabelled_pinned = pod("web", "shop", &["nginx:1.25.3"]);
    let mut labelled_pinned = unlabelled_pinned.clone();
    labelled_pinned["metadata"]["labels"] = json!({"team": "a"});
    assert!(!allowed(&mut connection, "r0", &labelled_untagged).await);
    assert!(!allowed(&mut connection, "r1", &unlabelled_pinned).await);
    assert!(allowed(&mut connection, "r2", &labelled_pinned).await);
    // A review out of time while policies are loaded, for the deadline metric scraped below.
    let body = serde_json::to_vec(&review("m-timeout", &labelled_pinned)).unwrap();
    post(&mut connection, "/validate?timeout=0s", body)
        .await
        .unwrap();
    let successes = r#"portcullis_policy_reload_total{result="success"}"#;
    let errors = r#"portcullis_policy_reload_total{result="error"}"#;

    // Writing a file in place: the latest-tag policy is removed, so the labelled latest passes.
    std::fs::write(plain.join("latest.yaml"), "# no policies here\n").unwrap();
    eventually("in-place write takes effect", async || {
        allowed(&mut connection, "r3", &labelled_untagged).await
    })
    .await;
    // A `..data` swap to a set without the team rule: the unlabelled pod passes too.
    swap_data(&mounted, "..v2", &[("policy.yaml", "# no policies here\n")]);
    eventually("the symlink swap takes effect", async || {
        allowed(&mut connection, "r4", &unlabelled_pinned).await
    })
    .await;
    let successes_before = metric(&server, successes).await;
    assert!(
        successes_before >= 2,
        "{successes_before} successful reloads"
    );

    // Invalid sets, by either route, are refused and the running set stays.
    let errors_before = metric(&server, errors).await;
    swap_data(&mounted, "..v3", &[("policy.yaml", &typo)]);
    eventually("the invalid swap is refused", async || {
        metric(&server, errors).await > errors_before
    })
    .await;
    std::fs::write(
        plain.join("latest.yaml"),
        format!("{latest_policy}\n---\n{typo}"),
    )
    .unwrap();
    let errors_after_swap = metric(&server, errors).await;
    eventually("the invalid write is refused", async || {
        metric(&server, errors).await > errors_after_swap
    })
    .await;
    assert!(allowed(&mut connection, "r5", &labelled_untagged).await);
    assert!(allowed(&mut connection, "r6", &unlabelled_pinned).await);
    assert_eq!(metric(&server, successes).await, successes_before);

    // Rotating the certificate in place, then one scrape shows every family, bounded.
    let rotated = std::process::Command::new(env!("CARGO_BIN_EXE_portcullis"))
        .args(["certs", "--dir"])
        .arg(workdir.path().join("certs-dev"))
        .output()
        .unwrap();
    assert!(rotated.status.success());
    let certificate_reloads = r#"portcullis_tls_certificate_reload_total{result="success"}"#;
    eventually("the certificate reloads", async || {
        metric(&server, certificate_reloads).await >= 1
    })
    .await;
    post(&mut connection, "/validate", b"{".to_vec())
        .await
        .unwrap();
    let (_, scraped) = plain_request(server.metrics, "/metrics").await.unwrap();
    let text = String::from_utf8_lossy(&scraped);
    let all: Vec<&str> = EXPECTED_FAMILIES.iter().map(|(name, _)| *name).collect();
    assert_bounded_metrics(&text, &all, &["shop", "web", "nginx", "r0"]);
}
