//! Tenant isolation, enumerated from the OpenAPI document: every store-scoped route that takes
//! an object id is called with store B's credential on store A's object and must answer exactly
//! like a missing id. A route added later without a scope check fails here; a route with a new
//! kind of id fails until it gets a fixture below.
//!
//! Parameters named `*_id` are object ids. Other parameters select within the caller's own
//! store (`{provider}`, `{environment}`) and get fixed values; a route without any id names no
//! object of another store, so it has nothing to leak and is skipped.

use std::collections::HashMap;

use cassa_tests::{AsSandbox, Backend, TestApp, both_backends, spawn_app};
use serde_json::{Value, json};
use uuid::Uuid;

/// Ids of store A's objects, by path parameter name.
async fn fixtures(
    app: &TestApp,
    key_a: &str,
    owner_a: &str,
    store_a: &str,
    customer_token_a: &str,
) -> HashMap<String, String> {
    let customer: Value = app
        .client
        .post(app.url("/api/v1/admin/customers"))
        .bearer_auth(key_a)
        .header("idempotency-key", Uuid::now_v7().to_string())
        .json(&json!({"name": "A's customer"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let key: Value = app
        .client
        .post(app.url("/api/v1/admin/api-keys"))
        .bearer_auth(owner_a)
        .header("idempotency-key", Uuid::now_v7().to_string())
        .header("cassa-store", store_a)
        .json(&json!({"name": "A's key"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let product: Value = crate::catalog::create_product(
        app,
        key_a,
        json!({"sku": "A-1", "name": "A's product", "unit_amount": 500, "currency": "USD"}),
    )
    .await
    .json()
    .await
    .unwrap();
    crate::checkout::configure(
        app,
        &cassa_tests::TestStore {
            id: store_a.to_owned(),
            sandbox_key: key_a.to_owned(),
        },
    )
    .await;
    let order: Value = crate::orders::place_order(app, customer_token_a, &product)
        .await
        .json()
        .await
        .unwrap();
    let quote: Value = app
        .client
        .post(app.url("/api/v1/me/checkout/quote"))
        .bearer_auth(customer_token_a)
        .header("idempotency-key", Uuid::now_v7().to_string())
        .json(&json!({"order_id": order["id"]}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let intent: Value = app
        .client
        .post(app.url(&format!(
            "/api/v1/me/orders/{}/payments/authorize",
            order["id"].as_str().unwrap()
        )))
        .bearer_auth(customer_token_a)
        .header("idempotency-key", Uuid::now_v7().to_string())
        .json(&json!({"snapshot_id": quote["snapshot_id"], "payment_method": "pm_card_visa"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let shipment =
        crate::shipments::ship_paid_order(app, key_a, order["id"].as_str().unwrap()).await;
    // A webhook event of store A, delivered signed with A's secret.
    let store_id: cassa::types::StoreId = store_a.parse().unwrap();
    let Some(cassa_tests::SandboxFields {
        webhook_secret,
        api_key,
        ..
    }) = cassa::credentials::load(
        &app.state,
        store_id,
        "sandbox",
        cassa::types::Environment::Sandbox,
    )
    .await
    .unwrap()
    .sandbox()
    else {
        panic!("store A has sandbox credentials");
    };
    let body = json!({"id": "evt_a", "type": "payment.updated", "data": {}}).to_string();
    let ts = chrono::Utc::now().timestamp();
    let signature = cassa::providers::signature::sign_standard(
        secrecy::ExposeSecret::expose_secret(&webhook_secret),
        "msg_a",
        ts,
        body.as_bytes(),
    )
    .unwrap();
    let received: Value = app
        .client
        .post(app.url(&format!("/api/v1/webhooks/sandbox/{store_a}")))
        .header("webhook-id", "msg_a")
        .header("webhook-timestamp", ts.to_string())
        .header("webhook-signature", signature)
        .body(body)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let exemption: Value = app
        .client
        .post(app.url(&format!(
            "/api/v1/admin/customers/{}/tax-exemptions",
            customer["id"].as_str().unwrap()
        )))
        .bearer_auth(key_a)
        .header("idempotency-key", Uuid::now_v7().to_string())
        .json(&json!({"certificate_id": "A-CERT", "jurisdictions": ["US-CA"]}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let export = app
        .client
        .get(app.url("/api/v1/admin/tax/reports/export?from=2026-01-01&to=2026-01-31"))
        .bearer_auth(key_a)
        .send()
        .await
        .unwrap();
    let export_id = export.headers()["cassa-export-id"]
        .to_str()
        .unwrap()
        .to_owned();
    export.bytes().await.unwrap();
    // A reconciliation run of store A that found a payment only the PSP has (the PSP keeps the
    // wall clock, so the period is around today).
    let stray = app
        .client
        .post(app.url("/sandbox-psp/v1/test/payments"))
        .bearer_auth(secrecy::ExposeSecret::expose_secret(&api_key))
        .json(&json!({"amount": 100, "currency": "USD"}))
        .send()
        .await
        .unwrap();
    assert_eq!(stray.status(), 200);
    let today = chrono::Utc::now().date_naive();
    let run: Value = app
        .client
        .post(app.url("/api/v1/admin/reconciliation/runs"))
        .bearer_auth(key_a)
        .header("idempotency-key", Uuid::now_v7().to_string())
        .json(&json!({"from": today.pred_opt().unwrap(), "to": today.succ_opt().unwrap()}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    while cassa::reconciliation::run_due(&app.state).await.unwrap() {}
    let run_id = run["id"].as_str().unwrap().to_owned();
    let items: Value = app
        .client
        .get(app.url(&format!("/api/v1/admin/reconciliation/runs/{run_id}/items")))
        .bearer_auth(key_a)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let item_id = items[0]["id"].as_str().unwrap().to_owned();
    let webhook_endpoint: Value = app
        .client
        .post(app.url("/api/v1/admin/webhook-endpoints"))
        .bearer_auth(key_a)
        .header("idempotency-key", Uuid::now_v7().to_string())
        .json(&json!({"url": "https://hooks.invalid/a", "event_types": ["*"]}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let ping: Value = app
        .client
        .post(app.url(&format!(
            "/api/v1/admin/webhook-endpoints/{}/ping",
            webhook_endpoint["id"].as_str().unwrap()
        )))
        .bearer_auth(key_a)
        .header("idempotency-key", Uuid::now_v7().to_string())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    HashMap::from([
        (
            "endpoint_id".to_owned(),
            webhook_endpoint["id"].as_str().unwrap().to_owned(),
        ),
        (
            "delivery_id".to_owned(),
            ping["id"].as_str().unwrap().to_owned(),
        ),
        ("run_id".to_owned(), run_id),
        ("item_id".to_owned(), item_id),
        ("export_id".to_owned(), export_id),
        (
            "exemption_id".to_owned(),
            exemption["id"].as_str().unwrap().to_owned(),
        ),
        (
            "event_id".to_owned(),
            received["id"].as_str().unwrap().to_owned(),
        ),
        (
            "shipment_id".to_owned(),
            shipment["id"].as_str().unwrap().to_owned(),
        ),
        (
            "intent_id".to_owned(),
            intent["id"].as_str().unwrap().to_owned(),
        ),
        (
            "snapshot_id".to_owned(),
            quote["snapshot_id"].as_str().unwrap().to_owned(),
        ),
        (
            "order_id".to_owned(),
            order["id"].as_str().unwrap().to_owned(),
        ),
        (
            "product_id".to_owned(),
            product["id"].as_str().unwrap().to_owned(),
        ),
        (
            "customer_id".to_owned(),
            customer["id"].as_str().unwrap().to_owned(),
        ),
        ("key_id".to_owned(), key["id"].as_str().unwrap().to_owned()),
        ("user_id".to_owned(), {
            let sql = "SELECT user_id FROM store_memberships WHERE store_id = $1";
            let store: cassa::types::StoreId = store_a.parse().unwrap();
            let id: cassa::types::UserId = cassa::on_db!(&app.db, pool => {
                sqlx::query_scalar(sql).bind(store).fetch_one(pool).await
            })
            .unwrap();
            id.to_string()
        }),
    ])
}

fn fill(path: &str, ids: &HashMap<String, String>) -> String {
    let mut out = String::new();
    let mut rest = path;
    while let Some(start) = rest.find('{') {
        let end = rest[start..].find('}').unwrap() + start;
        let name = &rest[start + 1..end];
        let id = ids.get(name).unwrap_or_else(|| {
            panic!("no isolation fixture for path parameter {{{name}}} in {path}: add one")
        });
        out.push_str(&rest[..start]);
        out.push_str(id);
        rest = &rest[end + 1..];
    }
    out.push_str(rest);
    out
}

async fn call(app: &TestApp, method: &str, path: &str, token: &str) -> reqwest::Response {
    let method = reqwest::Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
    let mut request = app
        .client
        .request(method.clone(), app.url(path))
        .bearer_auth(token)
        .header("idempotency-key", Uuid::now_v7().to_string());
    if method != reqwest::Method::GET && method != reqwest::Method::DELETE {
        request = request.json(&json!({}));
    }
    request.send().await.unwrap()
}

fn without_request_id(mut body: Value) -> Value {
    body.as_object_mut().unwrap().remove("request_id");
    body
}

async fn another_stores_objects_are_indistinguishable_from_missing_ones(backend: Backend) {
    let app = spawn_app(backend).await;
    let a = app.create_store("A", "USD").await;
    let b = app.create_store("B", "USD").await;
    let owner_a = app.create_owner(&a, "owner@a.test").await;
    let (_, customer_a) = app.create_customer(&a).await;
    let (_, customer_b) = app.create_customer(&b).await;
    let ids_a = fixtures(&app, &a.sandbox_key, &owner_a, &a.id, &customer_a).await;
    let missing: HashMap<String, String> = ids_a
        .iter()
        .map(|(k, v)| {
            let value = if k.ends_with("_id") {
                Uuid::now_v7().to_string()
            } else {
                v.clone()
            };
            (k.clone(), value)
        })
        .collect();

    let doc: Value = serde_json::from_str(&cassa::http::openapi_json()).unwrap();
    let mut checked = 0;
    // Deletions last: store A's own call deletes the object the other routes still need.
    let mut operations: Vec<(&String, &String)> = doc["paths"]
        .as_object()
        .unwrap()
        .iter()
        .flat_map(|(path, item)| item.as_object().unwrap().keys().map(move |m| (path, m)))
        .collect();
    operations.sort_by_key(|(_, method)| *method == "delete");
    for (path, method) in operations {
        let scoped = path.starts_with("/api/v1/admin/") || path.starts_with("/api/v1/me/");
        if !scoped || !path.contains("_id}") {
            continue;
        }
        // Store routes take the store's key; customer routes a customer token.
        let (token_b, token_a) = if path.starts_with("/api/v1/me/") {
            (customer_b.as_str(), customer_a.as_str())
        } else {
            (b.sandbox_key.as_str(), a.sandbox_key.as_str())
        };
        let foreign = call(&app, method, &fill(path, &ids_a), token_b).await;
        assert_eq!(
            foreign.status(),
            404,
            "{method} {path} with store B's key on A's object"
        );
        let foreign: Value = foreign.json().await.unwrap();
        let absent = call(&app, method, &fill(path, &missing), token_b).await;
        assert_eq!(absent.status(), 404, "{method} {path} with a missing id");
        let absent: Value = absent.json().await.unwrap();
        assert_eq!(
            without_request_id(foreign),
            without_request_id(absent),
            "{method} {path}: another store's object must look exactly like a missing one"
        );
        // Store A still sees its own object (the 404 above is isolation, not a broken route).
        let own = call(&app, method, &fill(path, &ids_a), token_a).await;
        assert_ne!(own.status(), 404, "{method} {path} with store A's own key");
        checked += 1;
    }
    assert!(
        checked >= 3,
        "expected the customer and key routes, checked {checked}"
    );
}

both_backends!(another_stores_objects_are_indistinguishable_from_missing_ones);
