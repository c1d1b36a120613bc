//! Every malformed request gets a 4xx problem+json, never a 500 or a hang.

use std::time::Duration;

use cassa_tests::{Backend, SpawnOptions, both_backends, spawn_app, spawn_app_with};

use crate::support::{assert_problem, probe_routes};

async fn app_with_probes(backend: Backend) -> cassa_tests::TestApp {
    spawn_app_with(
        backend,
        SpawnOptions {
            extra_api: Some(probe_routes()),
            configure: Some(Box::new(|config| {
                config.body_limit_bytes = 1024;
                config.request_timeout = Duration::from_millis(200);
            })),
            ..Default::default()
        },
    )
    .await
}

async fn unknown_api_route_is_404(backend: Backend) {
    let app = spawn_app(backend).await;
    for path in ["/api/v1/nope", "/api/v2/anything", "/api"] {
        assert_problem(app.get(path).await, 404, "not_found").await;
    }
}

async fn wrong_method_is_405_with_allow(backend: Backend) {
    let app = spawn_app(backend).await;
    let response = app.client.delete(app.url("/healthz")).send().await.unwrap();
    let allow = response.headers()["allow"].to_str().unwrap().to_owned();
    assert!(allow.contains("GET"), "{allow}");
    assert_problem(response, 405, "method_not_allowed").await;
}

async fn valid_json_passes_the_edge(backend: Backend) {
    let app = app_with_probes(backend).await;
    let response = app
        .client
        .post(app.url("/api/v1/test/echo"))
        .json(&serde_json::json!({"message": "hi", "count": 2}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["message"], "hi");
}

async fn malformed_json_is_400(backend: Backend) {
    let app = app_with_probes(backend).await;
    for body in ["{", "{\"message\": }", "not json", ""] {
        let response = app
            .client
            .post(app.url("/api/v1/test/echo"))
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .unwrap();
        let problem = assert_problem(response, 400, "malformed_json").await;
        assert!(!problem["detail"].as_str().unwrap().is_empty());
    }
}

async fn wrong_shape_is_422(backend: Backend) {
    let app = app_with_probes(backend).await;
    for body in [
        serde_json::json!({"message": "hi"}),
        serde_json::json!({"message": "hi", "count": -1}),
        serde_json::json!([1, 2, 3]),
    ] {
        let response = app
            .client
            .post(app.url("/api/v1/test/echo"))
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_problem(response, 422, "invalid_body").await;
    }
}

async fn wrong_content_type_is_415(backend: Backend) {
    let app = app_with_probes(backend).await;
    for content_type in [
        None,
        Some("text/plain"),
        Some("application/x-www-form-urlencoded"),
    ] {
        let mut request = app
            .client
            .post(app.url("/api/v1/test/echo"))
            .body(r#"{"message":"hi","count":1}"#);
        if let Some(ct) = content_type {
            request = request.header("content-type", ct);
        }
        assert_problem(request.send().await.unwrap(), 415, "unsupported_media_type").await;
    }
}

async fn oversized_body_is_413(backend: Backend) {
    let app = app_with_probes(backend).await;
    let big = format!(r#"{{"message":"{}","count":1}}"#, "x".repeat(4096));
    let response = app
        .client
        .post(app.url("/api/v1/test/echo"))
        .header("content-type", "application/json")
        .body(big)
        .send()
        .await
        .unwrap();
    assert_problem(response, 413, "payload_too_large").await;
}

async fn slow_request_times_out_with_503(backend: Backend) {
    let app = app_with_probes(backend).await;
    let response = app.get("/api/v1/test/slow").await;
    assert_eq!(response.headers()["retry-after"], "1");
    assert_problem(response, 503, "request_timeout").await;
}

async fn panic_is_a_500_problem_and_the_server_survives(backend: Backend) {
    let app = app_with_probes(backend).await;
    let problem = assert_problem(app.get("/api/v1/test/panic").await, 500, "internal_error").await;
    assert!(!problem["detail"].as_str().unwrap().contains("on purpose"));
    assert_eq!(app.get("/healthz").await.status(), 200);
}

both_backends!(
    unknown_api_route_is_404,
    wrong_method_is_405_with_allow,
    valid_json_passes_the_edge,
    malformed_json_is_400,
    wrong_shape_is_422,
    wrong_content_type_is_415,
    oversized_body_is_413,
    slow_request_times_out_with_503,
    panic_is_a_500_problem_and_the_server_survives,
);
