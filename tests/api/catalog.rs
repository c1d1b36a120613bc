//! Products: prices in minor units, validated fields, SKU uniqueness, keyset pages, isolation.

use cassa_tests::{Backend, TestApp, both_backends, spawn_app};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::support::assert_problem;

pub async fn create_product(app: &TestApp, key: &str, body: Value) -> reqwest::Response {
    app.client
        .post(app.url("/api/v1/admin/products"))
        .bearer_auth(key)
        .header("idempotency-key", Uuid::now_v7().to_string())
        .json(&body)
        .send()
        .await
        .unwrap()
}

async fn products_are_created_read_and_listed(backend: Backend) {
    let app = spawn_app(backend).await;
    let store = app.create_store("Shop", "USD").await;
    let response = create_product(
        &app,
        &store.sandbox_key,
        json!({"sku": "TEE-1", "name": " T-shirt ", "unit_amount": 1999, "currency": "USD",
               "tax_code": "Apparel", "weight_grams": 180}),
    )
    .await;
    assert_eq!(response.status(), 201);
    let product: Value = response.json().await.unwrap();
    assert_eq!(product["name"], "T-shirt");
    assert_eq!(product["unit_amount"], 1999);
    assert_eq!(product["tax_code"], "apparel");
    assert_eq!(product["price_includes_tax"], false);
    let id = product["id"].as_str().unwrap();

    let fetched: Value = app
        .client
        .get(app.url(&format!("/api/v1/admin/products/{id}")))
        .bearer_auth(&store.sandbox_key)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(fetched, product);

    for i in 2..=4 {
        let body = json!({"sku": format!("SKU-{i}"), "name": "Item", "unit_amount": 100, "currency": "JPY"});
        assert_eq!(
            create_product(&app, &store.sandbox_key, body)
                .await
                .status(),
            201
        );
    }
    let page: Value = app
        .client
        .get(app.url("/api/v1/admin/products?limit=3"))
        .bearer_auth(&store.sandbox_key)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(page["data"].as_array().unwrap().len(), 3);
    assert_eq!(page["has_more"], true);
}

async fn product_fields_are_validated(backend: Backend) {
    let app = spawn_app(backend).await;
    let store = app.create_store("Shop", "USD").await;
    let base = json!({"sku": "A", "name": "A", "unit_amount": 1, "currency": "USD"});
    for (patch, field) in [
        (json!({"sku": "has space"}), "sku"),
        (json!({"name": ""}), "name"),
        (json!({"unit_amount": -1}), "unit_amount"),
        (json!({"currency": "ABC"}), "currency"),
        (json!({"tax_code": "no spaces allowed"}), "tax_code"),
        (json!({"weight_grams": -5}), "weight_grams"),
    ] {
        let mut body = base.clone();
        for (k, v) in patch.as_object().unwrap() {
            body[k] = v.clone();
        }
        let problem = assert_problem(
            create_product(&app, &store.sandbox_key, body).await,
            422,
            "validation_failed",
        )
        .await;
        assert_eq!(problem["field"], field);
    }
    assert_eq!(
        create_product(&app, &store.sandbox_key, base.clone())
            .await
            .status(),
        201
    );
    assert_problem(
        create_product(&app, &store.sandbox_key, base).await,
        409,
        "conflict",
    )
    .await;
}

async fn products_stay_in_their_environment(backend: Backend) {
    let app = spawn_app(backend).await;
    let store = app.create_store("Shop", "USD").await;
    let owner = app.create_owner(&store, "owner@shop.test").await;
    let live_key = &app.create_live_key(&store, &owner).await;
    let product: Value = create_product(
        &app,
        &store.sandbox_key,
        json!({"sku": "A", "name": "A", "unit_amount": 1, "currency": "USD"}),
    )
    .await
    .json()
    .await
    .unwrap();
    let path = format!("/api/v1/admin/products/{}", product["id"].as_str().unwrap());
    let response = app
        .client
        .get(app.url(&path))
        .bearer_auth(live_key)
        .send()
        .await
        .unwrap();
    assert_problem(response, 404, "not_found").await;
    // The same SKU may exist once per environment.
    let again = create_product(
        &app,
        live_key,
        json!({"sku": "A", "name": "A", "unit_amount": 1, "currency": "USD"}),
    )
    .await;
    assert_eq!(again.status(), 201);
}

both_backends!(
    products_are_created_read_and_listed,
    product_fields_are_validated,
    products_stay_in_their_environment,
);
