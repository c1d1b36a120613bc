//! Orders: priced from the catalogue, normalized addresses, per-customer and per-store visibility.

use cassa_tests::{Backend, TestApp, both_backends, spawn_app};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::{catalog::create_product, support::assert_problem};

fn address() -> Value {
    json!({"name": " Ada Lovelace ", "line1": "1 Main St", "city": "Springfield",
           "subdivision": "il", "postal_code": "62701", "country": "United States"})
}

pub async fn place_order(app: &TestApp, token: &str, product: &Value) -> reqwest::Response {
    place_order_of(app, token, product, 2).await
}

/// Places an order of `quantity` units of `product`.
pub async fn place_order_of(
    app: &TestApp,
    token: &str,
    product: &Value,
    quantity: i64,
) -> reqwest::Response {
    post_order(
        app,
        token,
        json!({
            "items": [{"product_id": product["id"], "quantity": quantity}],
            "shipping_address": address(),
        }),
    )
    .await
}

async fn post_order(app: &TestApp, token: &str, body: Value) -> reqwest::Response {
    app.client
        .post(app.url("/api/v1/me/orders"))
        .bearer_auth(token)
        .header("idempotency-key", Uuid::now_v7().to_string())
        .json(&body)
        .send()
        .await
        .unwrap()
}

async fn product(app: &TestApp, key: &str, sku: &str, amount: i64, currency: &str) -> Value {
    let response = create_product(
        app,
        key,
        json!({"sku": sku, "name": sku, "unit_amount": amount, "currency": currency}),
    )
    .await;
    assert_eq!(response.status(), 201);
    response.json().await.unwrap()
}

async fn orders_take_prices_from_the_catalogue(backend: Backend) {
    let app = spawn_app(backend).await;
    let store = app.create_store("Shop", "USD").await;
    let tee = product(&app, &store.sandbox_key, "TEE", 1999, "USD").await;
    let mug = product(&app, &store.sandbox_key, "MUG", 850, "USD").await;
    let (customer_id, token) = app.create_customer(&store).await;
    let response = post_order(
        &app,
        &token,
        json!({
            // A price sent by the client is ignored.
            "items": [
                {"product_id": tee["id"], "quantity": 2, "unit_amount": 1},
                {"product_id": mug["id"], "quantity": 1},
                {"product_id": tee["id"], "quantity": 1},
            ],
            "shipping_address": address(),
        }),
    )
    .await;
    assert_eq!(response.status(), 201);
    let order: Value = response.json().await.unwrap();
    assert_eq!(order["customer_id"], customer_id.as_str());
    assert_eq!(order["currency"], "USD");
    assert_eq!(order["status"], "open");
    let items = order["items"].as_array().unwrap();
    assert_eq!(items.len(), 2, "repeated products merge");
    assert_eq!(items[0]["quantity"], 3);
    assert_eq!(items[0]["unit_amount"], 1999);
    assert_eq!(items[0]["amount"], 5997);
    assert_eq!(order["items_amount"], 5997 + 850);
    assert_eq!(order["shipping_address"]["country"], "US");
    assert_eq!(order["shipping_address"]["subdivision"], "IL");
    assert_eq!(order["shipping_address"]["name"], "Ada Lovelace");

    let id = order["id"].as_str().unwrap();
    let mine: Value = app
        .client
        .get(app.url(&format!("/api/v1/me/orders/{id}")))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(mine, order);
    let admin: Value = app
        .client
        .get(app.url(&format!("/api/v1/admin/orders/{id}")))
        .bearer_auth(&store.sandbox_key)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(admin, order);
    let list: Value = app
        .client
        .get(app.url("/api/v1/admin/orders"))
        .bearer_auth(&store.sandbox_key)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(list["data"][0]["items_amount"], 5997 + 850);
}

async fn invalid_orders_name_the_field(backend: Backend) {
    let app = spawn_app(backend).await;
    let store = app.create_store("Shop", "USD").await;
    let other = app.create_store("Other", "USD").await;
    let usd = product(&app, &store.sandbox_key, "USD-1", 100, "USD").await;
    let eur = product(&app, &store.sandbox_key, "EUR-1", 100, "EUR").await;
    let foreign = product(&app, &other.sandbox_key, "X", 100, "USD").await;
    let (_, token) = app.create_customer(&store).await;
    let line = |p: &Value, q: i64| json!({"product_id": p["id"], "quantity": q});
    for (body, field) in [
        (
            json!({"items": [line(&usd, 1)], "shipping_address": {"name": "A", "line1": "1", "city": "X", "country": "Narnia"}}),
            "shipping_address.country",
        ),
        (
            json!({"items": [line(&usd, 1)], "shipping_address": {"name": "A", "city": "X", "country": "US"}}),
            "shipping_address.line1",
        ),
        (json!({"items": [], "shipping_address": address()}), "items"),
        (
            json!({"items": [line(&usd, 0)], "shipping_address": address()}),
            "items",
        ),
        (
            json!({"items": [line(&foreign, 1)], "shipping_address": address()}),
            "items",
        ),
        (
            json!({"items": [line(&usd, 1), line(&eur, 1)], "shipping_address": address()}),
            "items",
        ),
    ] {
        let problem = assert_problem(
            post_order(&app, &token, body).await,
            422,
            "validation_failed",
        )
        .await;
        assert_eq!(problem["field"], field, "{problem}");
    }
}

async fn customers_see_only_their_own_orders(backend: Backend) {
    let app = spawn_app(backend).await;
    let store = app.create_store("Shop", "USD").await;
    let item = product(&app, &store.sandbox_key, "A", 100, "USD").await;
    let (_, alice) = app.create_customer(&store).await;
    let (_, bob) = app.create_customer(&store).await;
    let order: Value = place_order(&app, &alice, &item).await.json().await.unwrap();
    let path = format!("/api/v1/me/orders/{}", order["id"].as_str().unwrap());
    let response = app
        .client
        .get(app.url(&path))
        .bearer_auth(&bob)
        .send()
        .await
        .unwrap();
    let bobs = assert_problem(response, 404, "not_found").await;
    let missing = app
        .client
        .get(app.url(&format!("/api/v1/me/orders/{}", Uuid::now_v7())))
        .bearer_auth(&bob)
        .send()
        .await
        .unwrap();
    let missing = assert_problem(missing, 404, "not_found").await;
    assert_eq!(bobs["detail"], missing["detail"]);
    assert_eq!(
        app.client
            .get(app.url(&path))
            .bearer_auth(&alice)
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
}

both_backends!(
    orders_take_prices_from_the_catalogue,
    invalid_orders_name_the_field,
    customers_see_only_their_own_orders,
);
