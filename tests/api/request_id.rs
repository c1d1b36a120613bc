use cassa_tests::{Backend, both_backends, spawn_app};
use uuid::Uuid;

use crate::support::assert_problem;

async fn sane_incoming_id_is_echoed(backend: Backend) {
    let app = spawn_app(backend).await;
    let response = app
        .client
        .get(app.url("/healthz"))
        .header("x-request-id", "storefront-42.abc")
        .send()
        .await
        .unwrap();
    assert_eq!(response.headers()["x-request-id"], "storefront-42.abc");

    let response = app
        .client
        .get(app.url("/api/v1/missing"))
        .header("x-request-id", "trace-7")
        .send()
        .await
        .unwrap();
    let problem = assert_problem(response, 404, "not_found").await;
    assert_eq!(problem["request_id"], "trace-7");
}

async fn missing_or_insane_id_is_replaced_by_a_uuid(backend: Backend) {
    let app = spawn_app(backend).await;
    let long = "x".repeat(300);
    for incoming in [None, Some("has spaces"), Some(long.as_str()), Some("")] {
        let mut request = app.client.get(app.url("/healthz"));
        if let Some(id) = incoming {
            request = request.header("x-request-id", id);
        }
        let response = request.send().await.unwrap();
        let id = response.headers()["x-request-id"].to_str().unwrap();
        let parsed = Uuid::parse_str(id).expect("generated ids are UUIDs");
        assert_eq!(parsed.get_version_num(), 7);
    }
}

async fn every_response_gets_a_distinct_id(backend: Backend) {
    let app = spawn_app(backend).await;
    let a = app.get("/healthz").await.headers()["x-request-id"].clone();
    let b = app.get("/").await.headers()["x-request-id"].clone();
    assert_ne!(a, b);
}

both_backends!(
    sane_incoming_id_is_echoed,
    missing_or_insane_id_is_replaced_by_a_uuid,
    every_response_gets_a_distinct_id,
);
