//! Issue #22: what the API fuzzer (`scripts/fuzz-api`, Schemathesis) found, each pinned by a
//! test that failed before its fix.

use cassa_tests::{Backend, TestApp, TestStore, both_backends, spawn_app};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::support::assert_problem;

async fn post(app: &TestApp, token: &str, path: &str, body: &str) -> reqwest::Response {
    app.client
        .post(app.url(path))
        .bearer_auth(token)
        .header("idempotency-key", Uuid::now_v7().to_string())
        .header("content-type", "application/json")
        .body(body.to_owned())
        .send()
        .await
        .unwrap()
}

async fn customer(app: &TestApp, store: &TestStore) -> String {
    let created = post(app, &store.sandbox_key, "/api/v1/admin/customers", "{}").await;
    assert_eq!(created.status(), 201);
    let body: Value = created.json().await.unwrap();
    body["id"].as_str().unwrap().to_owned()
}

/// `PUT /api/v1/me` (a route with only GET) was answered 400 `idempotency_key_missing`: the key
/// check ran before the router's 405.
async fn a_missing_method_is_405_before_any_idempotency_key_check(backend: Backend) {
    let app = spawn_app(backend).await;
    let store = app.create_store("Shop", "USD").await;
    let (_, token) = app.create_customer(&store).await;
    let response = app
        .client
        .put(app.url("/api/v1/me"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 405);
    // A documented mutation still asks for its key.
    let response = app
        .client
        .post(app.url("/api/v1/me/orders"))
        .bearer_auth(&token)
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_problem(response, 400, "idempotency_key_missing").await;
}

/// serde reads a struct from an array of its fields: `[null, null]` created a customer.
async fn an_array_is_not_an_object_body(backend: Backend) {
    let app = spawn_app(backend).await;
    let store = app.create_store("Shop", "USD").await;
    let response = post(
        &app,
        &store.sandbox_key,
        "/api/v1/admin/customers",
        "[null, null]",
    )
    .await;
    assert_problem(response, 422, "invalid_body").await;
    let response = post(&app, &store.sandbox_key, "/api/v1/admin/customers", "[]").await;
    assert_problem(response, 422, "invalid_body").await;
}

/// JSON has one number type: `600.0` is the integer 600 to JSON Schema and to clients that
/// write every number as a double; it was refused as `invalid_body`. A fraction still is.
async fn whole_numbers_written_as_floats_are_integers(backend: Backend) {
    let app = spawn_app(backend).await;
    let store = app.create_store("Shop", "USD").await;
    let id = customer(&app, &store).await;
    let path = format!("/api/v1/admin/customers/{id}/tokens");
    let response = post(&app, &store.sandbox_key, &path, r#"{"ttl_seconds": 600.0}"#).await;
    assert_eq!(response.status(), 201);
    // Decided on the digits, never through a double: these are not whole numbers.
    for body in [
        r#"{"ttl_seconds": 600.5}"#,
        r#"{"ttl_seconds": 599.99999999999999999}"#,
        r#"{"ttl_seconds": 6.0e2}"#,
    ] {
        let response = post(&app, &store.sandbox_key, &path, body).await;
        assert_problem(response, 422, "invalid_body").await;
    }
}

/// Reconciliation lists quietly clamped `limit=0` (and `limit=1000`) where every other list
/// refuses a page size outside its documented range.
async fn reconciliation_page_sizes_outside_their_range_are_refused(backend: Backend) {
    let app = spawn_app(backend).await;
    let store = app.create_store("Shop", "USD").await;
    for query in ["limit=0", "limit=101"] {
        let response = app
            .client
            .get(app.url(&format!("/api/v1/admin/reconciliation/runs?{query}")))
            .bearer_auth(&store.sandbox_key)
            .send()
            .await
            .unwrap();
        let problem = assert_problem(response, 422, "validation_failed").await;
        assert_eq!(problem["field"], "limit", "{query}");
    }
    let response = app
        .client
        .get(app.url("/api/v1/admin/reconciliation/runs?limit=100"))
        .bearer_auth(&store.sandbox_key)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
}

/// Adding an existing account to a store ignored the password the request gave, so a platform
/// admin could believe they had set an 11-character password.
async fn a_short_password_is_refused_even_for_an_existing_account(backend: Backend) {
    let app = spawn_app(backend).await;
    let first = app.create_store("First", "USD").await;
    let second = app.create_store("Second", "USD").await;
    let admin = app.admin_token().await;
    app.create_owner(&first, "someone@shop.test").await;
    let response = app
        .client
        .post(app.url(&format!("/api/v1/platform/stores/{}/users", second.id)))
        .bearer_auth(&admin)
        .json(&json!({"email": "someone@shop.test", "role": "staff", "password": "short-pass1"}))
        .send()
        .await
        .unwrap();
    let problem = assert_problem(response, 422, "validation_failed").await;
    assert_eq!(problem["field"], "password");
}

/// SKUs and shipping services were measured in bytes where the documents say characters: a
/// 40-letter SKU of accented letters (80 bytes) was refused.
async fn lengths_count_characters_not_bytes(backend: Backend) {
    let app = spawn_app(backend).await;
    let store = app.create_store("Shop", "USD").await;
    let sku = "é".repeat(40);
    let body = json!({"sku": sku, "name": "Mug", "unit_amount": 100, "currency": "USD"});
    let response = post(
        &app,
        &store.sandbox_key,
        "/api/v1/admin/products",
        &body.to_string(),
    )
    .await;
    assert_eq!(response.status(), 201);
    let service = "é".repeat(20);
    let rates = json!({"rates": [{"service": service, "country": "US", "max_weight_grams": 1000,
        "amount": 500, "currency": "USD"}]});
    let response = app
        .client
        .put(app.url("/api/v1/admin/shipping/rates"))
        .bearer_auth(&store.sandbox_key)
        .header("idempotency-key", Uuid::now_v7().to_string())
        .json(&rates)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
}

/// `0@0.com*` and `a,b@example.com` were accepted as emails; the document's `format: email`
/// refuses them, and so does the server now.
async fn emails_outside_the_documented_shape_are_refused(backend: Backend) {
    let app = spawn_app(backend).await;
    let store = app.create_store("Shop", "USD").await;
    for email in [
        "0@0.com*",
        "a,b@example.com",
        "þ@example.com",
        "a@-b.example",
    ] {
        let body = json!({"email": email}).to_string();
        let response = post(&app, &store.sandbox_key, "/api/v1/admin/customers", &body).await;
        assert_eq!(response.status(), 422, "{email}");
    }
    let body = json!({"email": "o.w+ner@xn--bcher-kva.example"}).to_string();
    let response = post(&app, &store.sandbox_key, "/api/v1/admin/customers", &body).await;
    assert_eq!(response.status(), 201);
}

both_backends!(
    a_missing_method_is_405_before_any_idempotency_key_check,
    an_array_is_not_an_object_body,
    whole_numbers_written_as_floats_are_integers,
    reconciliation_page_sizes_outside_their_range_are_refused,
    a_short_password_is_refused_even_for_an_existing_account,
    lengths_count_characters_not_bytes,
    emails_outside_the_documented_shape_are_refused,
);
