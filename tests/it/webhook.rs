//! The webhook handler in-process: real AdmissionReview JSON through the axum router.

use crate::fixtures::{pod, review, state};
use axum::body::Body;
use axum::http::{Request, StatusCode};
use http_body_util::BodyExt;
use portcullis::webhook;
use serde_json::{Value, json};
use tower::ServiceExt;

async fn post(
    state: &std::sync::Arc<portcullis::webhook::AppState>,
    body: Vec<u8>,
) -> (StatusCode, Value) {
    let request = Request::post("/validate")
        .header("content-type", "application/json")
        .body(Body::from(body))
        .unwrap();
    let response = webhook::router(state.clone())
        .oneshot(request)
        .await
        .unwrap();
    let status = response.status();
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    let value =
        serde_json::from_slice(&bytes).unwrap_or_else(|_| panic!("JSON body, got {bytes:?}"));
    (status, value)
}

#[tokio::test]
async fn denies_latest_image_with_kyverno_wording() {
    let state = state(&["policies"]);
    let body = review("uid-deny-1", &pod("web", "shop", &["nginx:latest"]));
    let (status, answer) = post(&state, serde_json::to_vec(&body).unwrap()).await;
    assert_eq!(status, StatusCode::OK);
    let response = &answer["response"];
    assert_eq!(answer["apiVersion"], "admission.k8s.io/v1");
    assert_eq!(answer["kind"], "AdmissionReview");
    assert_eq!(response["uid"], "uid-deny-1");
    assert_eq!(response["allowed"], false);
    assert_eq!(response["status"]["code"], 403);
    let message = response["status"]["message"].as_str().unwrap();
    assert!(
        message.starts_with(
            "\n\nresource Pod/shop/web was blocked due to the following policies \n\n"
        ),
        "{message}"
    );
    assert!(
        message.contains(
            "require-image-digest:\n  require-digest: 'validation error: Images must use a digest or SHA-based tag, not :latest. rule require-digest failed at path /spec/containers/0/image/'"
        ),
        "{message}"
    );
    assert!(
        !message.contains("disallow-latest-tag"),
        "one rule denies a :latest container, and passing rules are not listed: {message}"
    );
}

/// The two default policies divide the work: each image the pair refuses is refused by one
/// rule, whatever the container list and the image's shape.
#[test]
fn each_refused_image_is_refused_by_one_default_rule() {
    use portcullis::eval::{self, Request, Status};
    use portcullis::matching::{Gvk, Operation};
    let set = portcullis::defaults::embedded_policy_set().expect("default policies");
    let gvk = Gvk {
        group: String::new(),
        version: "v1".to_owned(),
        kind: "Pod".to_owned(),
    };
    let table: [(&str, &str, &[&str]); 14] = [
        ("containers", "nginx:latest", &["require-digest"]),
        (
            "containers",
            "registry.example.com:5000/app:latest",
            &["require-digest"],
        ),
        ("containers", "nginx", &["require-image-tag"]),
        (
            "containers",
            "registry.example.com:5000/app",
            &["require-image-tag"],
        ),
        ("containers", "nginx:1.25.3", &[]),
        ("containers", "registry.example.com:5000/app:1.0", &[]),
        ("containers", "nginx@sha256:0123456789abcdef", &[]),
        ("initContainers", "busybox:latest", &["validate-image-tag"]),
        ("initContainers", "busybox", &["require-image-tag"]),
        (
            "initContainers",
            "registry.example.com:5000/tools/migrate",
            &["require-image-tag"],
        ),
        ("initContainers", "busybox:1.36", &[]),
        (
            "ephemeralContainers",
            "busybox:latest",
            &["validate-image-tag"],
        ),
        (
            "ephemeralContainers",
            "registry.example.com:5000/debug",
            &["require-image-tag"],
        ),
        ("ephemeralContainers", "busybox:1.36", &[]),
    ];
    for (list, image, refused_by) in table {
        let mut object = pod("web", "shop", &["nginx:1.25.3"]);
        let container = json!([{"name": "c", "image": image}]);
        if list == "containers" {
            object["spec"]["containers"] = container;
        } else {
            object["spec"][list] = container;
        }
        let request = Request {
            operation: Operation::Create,
            gvk: &gvk,
            subresource: "",
            object: &object,
            old_object: &serde_json::Value::Null,
            namespace: "shop",
            namespace_labels: None,
            unknown_namespace_hint: "",
            user: None,
            admission: true,
            admission_request: None,
            environment: portcullis::eval::Offline::system(),
        };
        let report = eval::evaluate(&set, &request);
        let failed: Vec<&str> = report
            .results
            .iter()
            .filter(|result| result.outcome.status() == Status::Fail)
            .map(|result| result.rule.name.as_str())
            .collect();
        assert_eq!(failed, refused_by, "{list} {image}");
    }
}

#[tokio::test]
async fn allows_pinned_image() {
    let state = state(&["policies"]);
    let body = review("uid-allow-1", &pod("web", "shop", &["nginx:1.25.3"]));
    let (status, answer) = post(&state, serde_json::to_vec(&body).unwrap()).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(answer["response"]["uid"], "uid-allow-1");
    assert_eq!(answer["response"]["allowed"], true);
    assert!(answer["response"].get("status").is_none());
    assert!(answer["response"].get("warnings").is_none());
}

#[tokio::test]
async fn denies_untagged_image_in_init_container() {
    let state = state(&["policies"]);
    let mut object = pod("web", "shop", &["nginx:1.25.3"]);
    object["spec"]["initContainers"] =
        json!([{"name": "init", "image": "registry.example.com:5000/tools/migrate"}]);
    let (_, answer) = post(
        &state,
        serde_json::to_vec(&review("uid-init", &object)).unwrap(),
    )
    .await;
    assert_eq!(answer["response"]["allowed"], false);
    let message = answer["response"]["status"]["message"].as_str().unwrap();
    assert!(
        message.contains("rule require-image-tag failed at path /spec/initContainers/0/image/"),
        "{message}"
    );
}

#[tokio::test]
async fn audit_mode_allows_with_warning() {
    let state = state(&["tests/fixtures/policies-audit"]);
    let body = review("uid-audit", &pod("web", "shop", &["nginx:latest"]));
    let (status, answer) = post(&state, serde_json::to_vec(&body).unwrap()).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(answer["response"]["allowed"], true);
    let warnings = answer["response"]["warnings"].as_array().expect("warnings");
    assert_eq!(
        warnings,
        &vec![json!(
            "policy audit-latest.no-latest: validation error: Images should not use :latest. rule no-latest failed at path /spec/containers/0/image/"
        )]
    );
}

#[tokio::test]
async fn other_kinds_are_allowed() {
    let state = state(&["policies"]);
    let config_map = json!({
        "apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": "settings", "namespace": "shop"},
        "data": {"image": "nginx:latest"},
    });
    let (status, answer) = post(
        &state,
        serde_json::to_vec(&review("uid-cm", &config_map)).unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(answer["response"]["allowed"], true);
}

#[tokio::test]
async fn deployment_with_latest_is_denied_through_autogen() {
    let state = state(&["policies"]);
    let deployment = json!({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "api", "namespace": "shop"},
        "spec": {"template": {"spec": {"containers": [{"name": "api", "image": "api:latest"}]}}},
    });
    let (_, answer) = post(
        &state,
        serde_json::to_vec(&review("uid-deploy", &deployment)).unwrap(),
    )
    .await;
    assert_eq!(answer["response"]["allowed"], false);
    let message = answer["response"]["status"]["message"].as_str().unwrap();
    assert!(message.contains("autogen-require-digest"), "{message}");
    assert!(
        message.contains("/spec/template/spec/containers/0/image/"),
        "{message}"
    );
}

#[tokio::test]
async fn malformed_bodies_get_400_with_json_error() {
    let state = state(&["policies"]);
    let cases: [(&[u8], &str); 5] = [
        (b"{not json", "malformed_json"),
        (br#"{"apiVersion":"v1","kind":"Pod"}"#, "wrong_type"),
        (br#"{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview"}"#, "missing_request"),
        (br#"{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"operation":"CREATE"}}"#, "missing_uid"),
        (
            br#"{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"uid":"u","operation":"CREATE","kind":{"group":"","version":"v1","kind":"Pod"},"object":"oops"}}"#,
            "bad_object",
        ),
    ];
    for (body, reason) in cases {
        let (status, answer) = post(&state, body.to_vec()).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{reason}");
        assert_eq!(answer["reason"], reason);
        assert!(
            answer["error"]
                .as_str()
                .is_some_and(|error| !error.is_empty()),
            "{answer}"
        );
    }
    let metrics = state.metrics.encode();
    assert!(
        metrics.contains(r#"portcullis_admission_request_errors_total{reason="malformed_json"} 1"#),
        "{metrics}"
    );
}
