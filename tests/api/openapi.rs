use cassa_tests::{Backend, both_backends, spawn_app};

const REGENERATE: &str = "api/openapi.json is stale: regenerate it with \
     `cargo run -q -p cassa -- openapi > api/openapi.json` and commit the result";

fn committed() -> String {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../api/openapi.json");
    std::fs::read_to_string(path).unwrap_or_default()
}

#[test]
fn committed_document_matches_the_code() {
    assert!(committed() == cassa::http::openapi_json(), "{REGENERATE}");
}

#[test]
fn document_is_openapi_3_1_and_lists_the_operations() {
    let doc: serde_json::Value = serde_json::from_str(&cassa::http::openapi_json()).unwrap();
    assert!(doc["openapi"].as_str().unwrap().starts_with("3.1"));
    for path in ["/healthz", "/readyz", "/metrics", "/api/v1/openapi.json"] {
        assert!(doc["paths"].get(path).is_some(), "missing {path}");
    }
    assert!(doc["components"]["schemas"].get("Problem").is_some());
}

async fn served_document_matches_the_committed_one(backend: Backend) {
    let app = spawn_app(backend).await;
    let response = app.get("/api/v1/openapi.json").await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "application/json");
    assert!(
        response.text().await.unwrap() == committed(),
        "{REGENERATE}"
    );
}

both_backends!(served_document_matches_the_committed_one);
