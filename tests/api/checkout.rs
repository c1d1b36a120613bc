//! Checkout quotes: server-side prices, shipping by table rate, tax by rules (inclusive and
//! exclusive), totals, immutable snapshots with expiry and staleness.

use cassa::{checkout, http::problem::ApiError, orders::OrderScope};
use cassa_tests::{Backend, TestApp, TestStore, both_backends, spawn_app};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::{catalog::create_product, support::assert_problem};

async fn put(app: &TestApp, key: &str, path: &str, body: Value) -> reqwest::Response {
    app.client
        .put(app.url(path))
        .bearer_auth(key)
        .header("idempotency-key", Uuid::now_v7().to_string())
        .json(&body)
        .send()
        .await
        .unwrap()
}

async fn post(app: &TestApp, token: &str, path: &str, body: Value) -> reqwest::Response {
    app.client
        .post(app.url(path))
        .bearer_auth(token)
        .header("idempotency-key", Uuid::now_v7().to_string())
        .json(&body)
        .send()
        .await
        .unwrap()
}

/// Rates and rules of a US store that also ships to Germany.
pub async fn configure(app: &TestApp, store: &TestStore) {
    let rates = json!({"rates": [
        {"service": "standard", "country": "US", "max_weight_grams": 1000, "amount": 500, "currency": "USD"},
        {"service": "standard", "country": "US", "max_weight_grams": 10000, "amount": 900, "currency": "USD"},
        {"service": "express", "country": "*", "max_weight_grams": 10000, "amount": 2500, "currency": "USD"},
    ]});
    assert_eq!(
        put(
            app,
            &store.sandbox_key,
            "/api/v1/admin/shipping/rates",
            rates
        )
        .await
        .status(),
        200
    );
    let rules = json!({"rules": [
        {"country": "US", "subdivision": "CA", "tax_code": "*", "rate": "0.0825"},
        {"country": "US", "subdivision": "CA", "tax_code": "food", "rate": "0"},
        {"country": "DE", "tax_code": "*", "rate": "0.19"},
    ]});
    assert_eq!(
        put(app, &store.sandbox_key, "/api/v1/admin/tax/rates", rules)
            .await
            .status(),
        200
    );
    // The store collects in California and Germany (the test clock is in 2026).
    let nexus = json!({"nexus": [
        {"country": "US", "subdivision": "CA", "since": "2020-01-01"},
        {"country": "DE", "since": "2020-01-01"},
    ]});
    assert_eq!(
        put(app, &store.sandbox_key, "/api/v1/admin/tax/nexus", nexus)
            .await
            .status(),
        200
    );
}

pub async fn order_for(
    app: &TestApp,
    store: &TestStore,
    token: &str,
    country: &str,
    subdivision: &str,
) -> Value {
    let shirt: Value = create_product(
        app,
        &store.sandbox_key,
        json!({"sku": format!("TEE-{}", Uuid::now_v7()),
        "name": "Tee", "unit_amount": 1999, "currency": "USD", "weight_grams": 200}),
    )
    .await
    .json()
    .await
    .unwrap();
    let snack: Value = create_product(app, &store.sandbox_key, json!({"sku": format!("SNACK-{}", Uuid::now_v7()),
        "name": "Snack", "unit_amount": 1190, "currency": "USD", "tax_code": "food", "weight_grams": 100,
        "price_includes_tax": true})).await.json().await.unwrap();
    let response = post(app, token, "/api/v1/me/orders", json!({
        "items": [{"product_id": shirt["id"], "quantity": 2}, {"product_id": snack["id"], "quantity": 1}],
        "shipping_address": {"name": "Ada", "line1": "1 Main St", "city": "Town", "subdivision": subdivision,
                             "postal_code": "90001", "country": country},
    }))
    .await;
    assert_eq!(response.status(), 201);
    response.json().await.unwrap()
}

async fn quotes_price_lines_shipping_and_tax_on_the_server(backend: Backend) {
    let app = spawn_app(backend).await;
    let store = app.create_store("Shop", "USD").await;
    configure(&app, &store).await;
    let (_, token) = app.create_customer(&store).await;
    let order = order_for(&app, &store, &token, "US", "CA").await;

    let response = post(
        &app,
        &token,
        "/api/v1/me/checkout/quote",
        json!({"order_id": order["id"],
        // Anything price-like from the client is ignored.
        "total": 1}),
    )
    .await;
    assert_eq!(response.status(), 201);
    let quote: Value = response.json().await.unwrap();
    let lines = quote["lines"].as_array().unwrap();
    // Tee: 2 × 1999 = 3998 exclusive at 8.25% → tax 330 (329.835 rounds half away from zero).
    assert_eq!(
        (lines[0]["net"].as_i64(), lines[0]["tax"].as_i64()),
        (Some(3998), Some(330))
    );
    assert_eq!(lines[0]["tax_rate"], "0.0825");
    // Snack: 1190 inclusive, food is untaxed in CA → net 1190, tax 0.
    assert_eq!(
        (lines[1]["net"].as_i64(), lines[1]["tax"].as_i64()),
        (Some(1190), Some(0))
    );
    // 500 g → the 1000 g US band of the cheapest service.
    assert_eq!(quote["provider"]["shipping_service"], "standard");
    assert_eq!(quote["provider"]["shipping"], "table_rate");
    assert_eq!(quote["provider"]["tax"], "rules");
    let totals = &quote["totals"];
    assert_eq!(totals["subtotal"], 3998 + 1190);
    assert_eq!(totals["shipping"], 500);
    assert_eq!(totals["tax"], 330);
    assert_eq!(totals["total"], 3998 + 1190 + 500 + 330);
    assert_eq!(quote["shipping_options"].as_array().unwrap().len(), 2);

    // The snapshot reads back identically (without the options).
    let id = quote["snapshot_id"].as_str().unwrap();
    let stored: Value = app
        .client
        .get(app.url(&format!("/api/v1/me/checkout/snapshots/{id}")))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(stored["totals"], quote["totals"]);
    assert_eq!(stored["lines"], quote["lines"]);

    // A chosen service is honoured; an unknown one is refused.
    let express: Value = post(
        &app,
        &token,
        "/api/v1/me/checkout/quote",
        json!({"order_id": order["id"], "shipping_service": "express"}),
    )
    .await
    .json()
    .await
    .unwrap();
    assert_eq!(express["totals"]["shipping"], 2500);
    let response = post(
        &app,
        &token,
        "/api/v1/me/checkout/quote",
        json!({"order_id": order["id"], "shipping_service": "teleport"}),
    )
    .await;
    let problem = assert_problem(response, 422, "validation_failed").await;
    assert_eq!(problem["field"], "shipping_service");
}

/// The store's configuration is cached for its quotes: a change made through the API is
/// quoted from the very next request (shipping rates, tax rates, nexus).
async fn a_configuration_change_is_quoted_at_once(backend: Backend) {
    let app = spawn_app(backend).await;
    let store = app.create_store("Shop", "USD").await;
    configure(&app, &store).await;
    let (_, token) = app.create_customer(&store).await;
    let order = order_for(&app, &store, &token, "US", "CA").await;
    let quote = || async {
        let response = post(
            &app,
            &token,
            "/api/v1/me/checkout/quote",
            json!({"order_id": order["id"]}),
        )
        .await;
        assert_eq!(response.status(), 201);
        let quote: Value = response.json().await.unwrap();
        quote["totals"].clone()
    };
    let first = quote().await;
    assert_eq!(
        (first["shipping"].as_i64(), first["tax"].as_i64()),
        (Some(500), Some(330))
    );
    let rates = json!({"rates": [
        {"service": "standard", "country": "US", "max_weight_grams": 10000, "amount": 700, "currency": "USD"},
    ]});
    let response = put(
        &app,
        &store.sandbox_key,
        "/api/v1/admin/shipping/rates",
        rates,
    )
    .await;
    assert_eq!(response.status(), 200);
    let rules =
        json!({"rules": [{"country": "US", "subdivision": "CA", "tax_code": "*", "rate": "0.10"}]});
    let response = put(&app, &store.sandbox_key, "/api/v1/admin/tax/rates", rules).await;
    assert_eq!(response.status(), 200);
    let second = quote().await;
    // Tee 3998 and snack 1190 (inclusive: 1082 net + 108 tax) at 10 %: 400 + 108.
    assert_eq!(
        (second["shipping"].as_i64(), second["tax"].as_i64()),
        (Some(700), Some(508))
    );
    // Without nexus in California nothing is collected there.
    let nexus = json!({"nexus": [{"country": "DE", "since": "2020-01-01"}]});
    let response = put(&app, &store.sandbox_key, "/api/v1/admin/tax/nexus", nexus).await;
    assert_eq!(response.status(), 200);
    assert_eq!(quote().await["tax"].as_i64(), Some(0));
}
both_backends!(a_configuration_change_is_quoted_at_once);

async fn inclusive_prices_split_tax_out_of_the_gross(backend: Backend) {
    let app = spawn_app(backend).await;
    let store = app.create_store("Shop", "USD").await;
    configure(&app, &store).await;
    let (_, token) = app.create_customer(&store).await;
    let order = order_for(&app, &store, &token, "DE", "").await;
    let quote: Value = post(
        &app,
        &token,
        "/api/v1/me/checkout/quote",
        json!({"order_id": order["id"]}),
    )
    .await
    .json()
    .await
    .unwrap();
    let lines = quote["lines"].as_array().unwrap();
    // Snack 1190 incl. 19% → net 1000, tax 190; tee 3998 excl. → tax 759.62 → 760.
    assert_eq!(
        (lines[1]["net"].as_i64(), lines[1]["tax"].as_i64()),
        (Some(1000), Some(190))
    );
    assert_eq!(
        (lines[0]["net"].as_i64(), lines[0]["tax"].as_i64()),
        (Some(3998), Some(760))
    );
    assert_eq!(
        quote["provider"]["shipping_service"], "express",
        "only express ships abroad"
    );
    let t = &quote["totals"];
    assert_eq!(
        t["total"].as_i64().unwrap(),
        t["subtotal"].as_i64().unwrap()
            + t["shipping"].as_i64().unwrap()
            + t["tax"].as_i64().unwrap()
    );
}

async fn snapshots_expire_and_go_stale(backend: Backend) {
    let app = spawn_app(backend).await;
    let store = app.create_store("Shop", "USD").await;
    configure(&app, &store).await;
    let (customer_id, token) = app.create_customer(&store).await;
    let order = order_for(&app, &store, &token, "US", "CA").await;
    let quote: Value = post(
        &app,
        &token,
        "/api/v1/me/checkout/quote",
        json!({"order_id": order["id"]}),
    )
    .await
    .json()
    .await
    .unwrap();
    let scope = OrderScope {
        store_id: store.id.parse().unwrap(),
        environment: cassa::types::Environment::Sandbox,
        customer_id: Some(customer_id.parse().unwrap()),
    };
    let order_id = order["id"].as_str().unwrap().parse().unwrap();
    let snapshot_id = quote["snapshot_id"].as_str().unwrap().parse().unwrap();
    let payable = checkout::payable_snapshot(&app.state, scope, order_id, snapshot_id)
        .await
        .unwrap();
    assert_eq!(payable.total.0, quote["totals"]["total"].as_i64().unwrap());

    // A snapshot pays only for its own order.
    let second = order_for(&app, &store, &token, "US", "CA").await;
    let second_id = second["id"].as_str().unwrap().parse().unwrap();
    assert!(matches!(
        checkout::payable_snapshot(&app.state, scope, second_id, snapshot_id)
            .await
            .map_err(ApiError::from),
        Err(ApiError::NotFound)
    ));

    // Another customer of the store does not see it.
    let (_, other) = app.create_customer(&store).await;
    let response = app
        .client
        .get(app.url(&format!(
            "/api/v1/me/checkout/snapshots/{}",
            quote["snapshot_id"].as_str().unwrap()
        )))
        .bearer_auth(&other)
        .send()
        .await
        .unwrap();
    assert_problem(response, 404, "not_found").await;

    // The order changes: the snapshot no longer pays for it.
    let bump = "UPDATE orders SET revision = revision + 1 WHERE id = $1";
    cassa::on_db!(&app.db, pool => sqlx::query(bump).bind(cassa::types::OrderId(order_id.0)).execute(pool).await.map(|_| ())).unwrap();
    assert!(matches!(
        checkout::payable_snapshot(&app.state, scope, order_id, snapshot_id)
            .await
            .map_err(ApiError::from),
        Err(ApiError::SnapshotStale)
    ));

    // A fresh quote is payable until it expires (15 minutes by default).
    let fresh: Value = post(
        &app,
        &token,
        "/api/v1/me/checkout/quote",
        json!({"order_id": order["id"]}),
    )
    .await
    .json()
    .await
    .unwrap();
    let fresh_id = fresh["snapshot_id"].as_str().unwrap().parse().unwrap();
    app.clock.advance(chrono::Duration::minutes(14));
    assert!(
        checkout::payable_snapshot(&app.state, scope, order_id, fresh_id)
            .await
            .is_ok()
    );
    app.clock.advance(chrono::Duration::minutes(1));
    let err = checkout::payable_snapshot(&app.state, scope, order_id, fresh_id)
        .await
        .map_err(ApiError::from)
        .unwrap_err();
    assert!(matches!(err, ApiError::SnapshotExpired));
    assert_eq!(err.to_problem().code, "snapshot_expired");
    assert_eq!(err.to_problem().status, 422);
}

async fn provider_configuration_is_validated(backend: Backend) {
    let app = spawn_app(backend).await;
    let store = app.create_store("Shop", "USD").await;
    for (path, body, field) in [
        (
            "/api/v1/admin/tax/rates",
            json!({"rules": [{"country": "US", "tax_code": "*", "rate": "1.5"}]}),
            "rules[0].rate",
        ),
        (
            "/api/v1/admin/tax/rates",
            json!({"rules": [
                {"country": "US", "tax_code": "*", "rate": "0.1"},
                {"country": "Narnia", "tax_code": "*", "rate": "0.1"},
            ]}),
            "rules[1].country",
        ),
        (
            // Two rates of one jurisdiction and code on the same days: the later row is named.
            "/api/v1/admin/tax/rates",
            json!({"rules": [
                {"country": "DE", "tax_code": "*", "rate": "0.19"},
                {"country": "US", "tax_code": "*", "rate": "0.05"},
                {"country": "DE", "tax_code": "*", "rate": "0.07"},
            ]}),
            "rules[2].valid_from",
        ),
        (
            "/api/v1/admin/shipping/rates",
            json!({"rates": [{"service": "s", "country": "US", "max_weight_grams": 1, "amount": -1, "currency": "USD"}]}),
            "rates[0].amount",
        ),
        (
            "/api/v1/admin/shipping/rates",
            json!({"rates": [
                {"service": "s", "country": "US", "max_weight_grams": 1, "amount": 1, "currency": "USD"},
                {"service": "s", "country": "US", "max_weight_grams": -1, "amount": 1, "currency": "USD"},
            ]}),
            "rates[1].max_weight_grams",
        ),
        (
            "/api/v1/admin/shipping/rates",
            json!({"rates": [{"service": "s", "country": "US", "max_weight_grams": 1, "amount": 1, "currency": "XYZ"}]}),
            "rates[0].currency",
        ),
        (
            "/api/v1/admin/shipping/rates",
            json!({"rates": vec![json!({"service": "s", "country": "US", "max_weight_grams": 1, "amount": 1, "currency": "USD"}); 1001]}),
            "rates",
        ),
    ] {
        let problem = assert_problem(
            put(&app, &store.sandbox_key, path, body).await,
            422,
            "validation_failed",
        )
        .await;
        assert_eq!(problem["field"], field);
    }
    // Nothing configured: no rate covers the order.
    let (_, token) = app.create_customer(&store).await;
    let order = order_for(&app, &store, &token, "US", "CA").await;
    let response = post(
        &app,
        &token,
        "/api/v1/me/checkout/quote",
        json!({"order_id": order["id"]}),
    )
    .await;
    let problem = assert_problem(response, 422, "validation_failed").await;
    assert_eq!(problem["field"], "shipping_address.country");
}

both_backends!(
    quotes_price_lines_shipping_and_tax_on_the_server,
    inclusive_prices_split_tax_out_of_the_gross,
    snapshots_expire_and_go_stale,
    provider_configuration_is_validated,
);
