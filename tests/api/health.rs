use cassa_tests::{Backend, both_backends, spawn_app};
use serde_json::Value;

async fn healthz_is_ok(backend: Backend) {
    let app = spawn_app(backend).await;
    let response = app.get("/healthz").await;
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["status"], "ok");
    assert_eq!(body["version"], env!("CARGO_PKG_VERSION"));
}

async fn readyz_checks_the_database(backend: Backend) {
    let app = spawn_app(backend.clone()).await;
    let response = app.get("/readyz").await;
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["status"], "ready");
    assert_eq!(body["database"], backend.name());
}

async fn migrations_run_on_start_up(backend: Backend) {
    let app = spawn_app(backend).await;
    let applied = app.db.applied_migrations().await.unwrap();
    assert!(applied >= 1);
    assert_eq!(applied, app.db.known_migrations() as i64);
}

async fn metrics_are_prometheus_text(backend: Backend) {
    let app = spawn_app(backend).await;
    assert_eq!(app.get("/healthz").await.status(), 200);
    let response = app.get("/metrics").await;
    assert_eq!(response.status(), 200);
    let content_type = response.headers()["content-type"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        content_type.starts_with("text/plain; version=0.0.4"),
        "{content_type}"
    );
    let text = response.text().await.unwrap();
    assert!(
        text.contains("# TYPE http_requests_total counter"),
        "{text}"
    );
    assert!(
        text.contains(r#"http_requests_total{method="GET",route="/healthz",status="200"}"#),
        "{text}"
    );
    assert!(
        text.contains("http_request_duration_seconds_bucket"),
        "{text}"
    );
    assert!(text.contains("db_pool_connections"), "{text}");
}

both_backends!(
    healthz_is_ok,
    readyz_checks_the_database,
    migrations_run_on_start_up,
    metrics_are_prometheus_text,
);
