//! Managing the catalogue: `PATCH /products/{id}` (fields, archive, unarchive), the list's
//! search and archived filter, archived products refused by new orders, roles, idempotency,
//! and another store's or environment's product as a 404.

use cassa_tests::{Backend, TestApp, both_backends, spawn_app};
use reqwest::Method;
use serde_json::{Value, json};

use crate::{
    orders::place_order,
    support::{assert_problem, json_of},
    webhook_endpoints::{Caller, call, call_with_key, member},
};

const PRODUCTS: &str = "/api/v1/admin/products";

fn product_path(product: &Value) -> String {
    format!("{PRODUCTS}/{}", product["id"].as_str().unwrap())
}

async fn create(app: &TestApp, caller: &Caller, sku: &str, name: &str) -> Value {
    let body = json!({"sku": sku, "name": name, "unit_amount": 1234, "currency": "USD"});
    json_of(
        call(app, caller, Method::POST, PRODUCTS, Some(body)).await,
        201,
    )
    .await
}

async fn patch(app: &TestApp, caller: &Caller, product: &Value, body: Value) -> reqwest::Response {
    call(
        app,
        caller,
        Method::PATCH,
        &product_path(product),
        Some(body),
    )
    .await
}

/// The SKUs of a list page.
async fn skus(app: &TestApp, caller: &Caller, query: &str) -> Vec<String> {
    let page = json_of(
        call(
            app,
            caller,
            Method::GET,
            &format!("{PRODUCTS}{query}"),
            None,
        )
        .await,
        200,
    )
    .await;
    page["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["sku"].as_str().unwrap().to_owned())
        .collect()
}

async fn products_are_edited_archived_and_unarchived(backend: Backend) {
    let app = spawn_app(backend).await;
    let store = app.create_store("Shop", "USD").await;
    let key = Caller::key(&store.sandbox_key);
    let tee = create(&app, &key, "TEE-1", "T-shirt").await;
    assert_eq!(tee["archived_at"], Value::Null);

    let changed = json_of(
        patch(
            &app,
            &key,
            &tee,
            json!({"name": " Tee ", "sku": "TEE-2", "unit_amount": 1500, "tax_code": "Apparel",
                   "weight_grams": 200, "length_mm": 300, "width_mm": 200, "height_mm": 10,
                   "price_includes_tax": true}),
        )
        .await,
        200,
    )
    .await;
    assert_eq!(changed["name"], "Tee");
    assert_eq!(changed["sku"], "TEE-2");
    assert_eq!(changed["unit_amount"], 1500);
    assert_eq!(changed["currency"], "USD");
    assert_eq!(changed["tax_code"], "apparel");
    assert_eq!(changed["weight_grams"], 200);
    assert_eq!(
        (
            &changed["length_mm"],
            &changed["width_mm"],
            &changed["height_mm"]
        ),
        (&json!(300), &json!(200), &json!(10))
    );
    assert_eq!(changed["price_includes_tax"], true);
    let read = json_of(
        call(&app, &key, Method::GET, &product_path(&tee), None).await,
        200,
    )
    .await;
    assert_eq!(read, changed);

    // Absent fields keep their value.
    let renamed = json_of(patch(&app, &key, &tee, json!({"name": "Tee 2"})).await, 200).await;
    assert_eq!(renamed["unit_amount"], 1500);
    assert_eq!(renamed["sku"], "TEE-2");

    // Archived: still readable, hidden from the default list; archiving again keeps the time.
    let archived = json_of(
        patch(&app, &key, &tee, json!({"archived": true})).await,
        200,
    )
    .await;
    let stamp = archived["archived_at"].as_str().unwrap().to_owned();
    app.clock.advance(chrono::Duration::minutes(5));
    let again = json_of(
        patch(&app, &key, &tee, json!({"archived": true})).await,
        200,
    )
    .await;
    assert_eq!(again["archived_at"], stamp.as_str());
    assert_eq!(
        json_of(
            call(&app, &key, Method::GET, &product_path(&tee), None).await,
            200
        )
        .await["archived_at"],
        stamp.as_str()
    );
    let active = json_of(
        patch(&app, &key, &tee, json!({"archived": false})).await,
        200,
    )
    .await;
    assert_eq!(active["archived_at"], Value::Null);
}

async fn edits_are_validated(backend: Backend) {
    let app = spawn_app(backend).await;
    let store = app.create_store("Shop", "USD").await;
    let key = Caller::key(&store.sandbox_key);
    let tee = create(&app, &key, "TEE", "T-shirt").await;
    let mug = create(&app, &key, "MUG", "Mug").await;
    for (body, field) in [
        (json!({"sku": "has space"}), "sku"),
        (json!({"name": "  "}), "name"),
        (json!({"unit_amount": -1}), "unit_amount"),
        (json!({"tax_code": "no spaces"}), "tax_code"),
        (json!({"weight_grams": -1}), "weight_grams"),
        (json!({"length_mm": 10_001}), "length_mm"),
        (json!({"width_mm": -1}), "width_mm"),
        (json!({"height_mm": 10_001}), "height_mm"),
    ] {
        let problem = assert_problem(
            patch(&app, &key, &tee, body.clone()).await,
            422,
            "validation_failed",
        )
        .await;
        assert_eq!(problem["field"], field, "{body}");
    }
    // The currency is not a field of a change: refused, not silently ignored.
    assert_problem(
        patch(&app, &key, &tee, json!({"currency": "EUR"})).await,
        422,
        "invalid_body",
    )
    .await;
    // Another product's SKU.
    assert_problem(
        patch(&app, &key, &tee, json!({"sku": "MUG"})).await,
        409,
        "conflict",
    )
    .await;
    // Nothing of the refused changes was stored.
    let read = json_of(
        call(&app, &key, Method::GET, &product_path(&tee), None).await,
        200,
    )
    .await;
    assert_eq!(read["sku"], "TEE");
    assert_eq!(read["unit_amount"], 1234);
    assert_eq!(mug["sku"], "MUG");
    // List filters are validated too.
    for (query, field) in [
        ("?archived=maybe", "archived"),
        (&format!("?q={}", "x".repeat(101)), "q"),
        ("?limit=0", "limit"),
    ] {
        let path = format!("{PRODUCTS}{query}");
        let problem = assert_problem(
            call(&app, &key, Method::GET, &path, None).await,
            422,
            "validation_failed",
        )
        .await;
        assert_eq!(problem["field"], field, "{query}");
    }
}

async fn the_list_searches_and_filters_archived_products(backend: Backend) {
    let app = spawn_app(backend).await;
    let store = app.create_store("Shop", "USD").await;
    let key = Caller::key(&store.sandbox_key);
    let tee = create(&app, &key, "TEE-RED", "Red T-shirt").await;
    create(&app, &key, "MUG-1", "Coffee mug").await;
    create(&app, &key, "CAP_1", "Red cap").await;
    create(&app, &key, "HAT-100%", "Hat").await;
    json_of(
        patch(&app, &key, &tee, json!({"archived": true})).await,
        200,
    )
    .await;

    assert_eq!(skus(&app, &key, "").await, ["MUG-1", "CAP_1", "HAT-100%"]);
    assert_eq!(
        skus(&app, &key, "?archived=false").await,
        ["MUG-1", "CAP_1", "HAT-100%"]
    );
    assert_eq!(skus(&app, &key, "?archived=true").await, ["TEE-RED"]);
    assert_eq!(
        skus(&app, &key, "?archived=all").await,
        ["TEE-RED", "MUG-1", "CAP_1", "HAT-100%"]
    );
    // By name or SKU, case-insensitive, in the archived state asked for.
    assert_eq!(skus(&app, &key, "?q=red").await, ["CAP_1"]);
    assert_eq!(
        skus(&app, &key, "?q=RED&archived=all").await,
        ["TEE-RED", "CAP_1"]
    );
    assert_eq!(skus(&app, &key, "?q=mug-").await, ["MUG-1"]);
    // LIKE's wildcards are taken literally.
    assert_eq!(skus(&app, &key, "?q=_").await, ["CAP_1"]);
    assert_eq!(skus(&app, &key, "?q=%25").await, ["HAT-100%"]);
    assert!(skus(&app, &key, "?q=nothing").await.is_empty());
    // Keyset pages keep the filters.
    let first = json_of(
        call(
            &app,
            &key,
            Method::GET,
            &format!("{PRODUCTS}?archived=all&limit=2"),
            None,
        )
        .await,
        200,
    )
    .await;
    assert_eq!(first["has_more"], true);
    let last = first["data"][1]["id"].as_str().unwrap();
    assert_eq!(
        skus(
            &app,
            &key,
            &format!("?archived=all&limit=2&starting_after={last}")
        )
        .await,
        ["CAP_1", "HAT-100%"]
    );
    assert_eq!(
        skus(
            &app,
            &key,
            &format!("?q=red&archived=all&starting_after={last}")
        )
        .await,
        ["CAP_1"]
    );
}

async fn new_orders_refuse_archived_products(backend: Backend) {
    let app = spawn_app(backend).await;
    let store = app.create_store("Shop", "USD").await;
    let key = Caller::key(&store.sandbox_key);
    let tee = create(&app, &key, "TEE", "T-shirt").await;
    let (_, customer) = app.create_customer(&store).await;
    assert_eq!(place_order(&app, &customer, &tee).await.status(), 201);

    json_of(
        patch(&app, &key, &tee, json!({"archived": true})).await,
        200,
    )
    .await;
    let problem = assert_problem(
        place_order(&app, &customer, &tee).await,
        422,
        "product_archived",
    )
    .await;
    assert!(
        problem["detail"]
            .as_str()
            .unwrap()
            .contains("items[0].product_id"),
        "{problem}"
    );

    // Active again: sold again.
    json_of(
        patch(&app, &key, &tee, json!({"archived": false})).await,
        200,
    )
    .await;
    assert_eq!(place_order(&app, &customer, &tee).await.status(), 201);

    // The check where an order is written: it sees the archived state, and while the order's
    // transaction is open an archive of its product waits for it (PostgreSQL's row lock;
    // SQLite runs write transactions one at a time).
    let id: cassa::types::ProductId = tee["id"].as_str().unwrap().parse().unwrap();
    let mut tx = app.db.begin_write().await.unwrap();
    let none: Vec<cassa::types::ProductId> = Vec::new();
    assert_eq!(
        cassa::catalog::repo::archived_in(&mut tx, &[id])
            .await
            .unwrap(),
        none
    );
    let archiving = {
        let request = app
            .client
            .patch(app.url(&product_path(&tee)))
            .bearer_auth(&store.sandbox_key)
            .header("idempotency-key", "archive-while-ordering")
            .json(&json!({"archived": true}));
        tokio::spawn(async move { request.send().await.unwrap().status().as_u16() })
    };
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert!(!archiving.is_finished(), "the archive waits for the order");
    tx.commit().await.unwrap();
    assert_eq!(archiving.await.unwrap(), 200);
    let mut tx = app.db.begin_write().await.unwrap();
    assert_eq!(
        cassa::catalog::repo::archived_in(&mut tx, &[id])
            .await
            .unwrap(),
        [id]
    );
    tx.commit().await.unwrap();
}

async fn other_stores_and_environments_products_are_not_found(backend: Backend) {
    let app = spawn_app(backend).await;
    let store = app.create_store("Shop", "USD").await;
    let other = app.create_store("Other", "USD").await;
    let key = Caller::key(&store.sandbox_key);
    let tee = create(&app, &key, "TEE", "T-shirt").await;
    let owner = app.create_owner(&store, "owner@shop.test").await;
    let live = Caller::key(&app.create_live_key(&store, &owner).await);
    let other_key = Caller::key(&other.sandbox_key);
    for caller in [&live, &other_key] {
        assert_problem(
            patch(&app, caller, &tee, json!({"archived": true})).await,
            404,
            "not_found",
        )
        .await;
        assert!(skus(&app, caller, "?archived=all").await.is_empty());
    }
    let read = json_of(
        call(&app, &key, Method::GET, &product_path(&tee), None).await,
        200,
    )
    .await;
    assert_eq!(read["archived_at"], Value::Null);
    // A malformed id is as unknown as another store's.
    assert_problem(
        call(
            &app,
            &key,
            Method::PATCH,
            &format!("{PRODUCTS}/nope"),
            Some(json!({"name": "x"})),
        )
        .await,
        404,
        "not_found",
    )
    .await;
}

async fn production_catalogue_is_the_owners(backend: Backend) {
    let app = spawn_app(backend).await;
    let store = app.create_store("Shop", "USD").await;
    let owner = app.create_owner(&store, "owner@shop.test").await;
    let staff = member(&app, &store, "staff@shop.test", "staff").await;
    let staff_sandbox = Caller::user(&staff, &store, "sandbox");
    let staff_production = Caller::user(&staff, &store, "production");
    let owner_production = Caller::user(&owner, &store, "production");

    // Sandbox: staff run the catalogue.
    let tee = create(&app, &staff_sandbox, "TEE", "T-shirt").await;
    json_of(
        patch(&app, &staff_sandbox, &tee, json!({"archived": true})).await,
        200,
    )
    .await;

    // Production: staff read, owners change.
    let body = json!({"sku": "LIVE", "name": "Live", "unit_amount": 1, "currency": "USD"});
    assert_problem(
        call(&app, &staff_production, Method::POST, PRODUCTS, Some(body)).await,
        403,
        "forbidden",
    )
    .await;
    let live = create(&app, &owner_production, "LIVE", "Live").await;
    assert_problem(
        patch(&app, &staff_production, &live, json!({"name": "Mine"})).await,
        403,
        "forbidden",
    )
    .await;
    assert_problem(
        call(
            &app,
            &staff_production,
            Method::PUT,
            &format!("{}/prices", product_path(&live)),
            Some(json!({"prices": []})),
        )
        .await,
        403,
        "forbidden",
    )
    .await;
    assert_eq!(skus(&app, &staff_production, "").await, ["LIVE"]);
    json_of(
        patch(&app, &owner_production, &live, json!({"archived": true})).await,
        200,
    )
    .await;
}

async fn edits_are_idempotent(backend: Backend) {
    let app = spawn_app(backend).await;
    let store = app.create_store("Shop", "USD").await;
    let key = Caller::key(&store.sandbox_key);
    let tee = create(&app, &key, "TEE", "T-shirt").await;
    let path = product_path(&tee);

    // Without a key: refused.
    let response = app
        .client
        .patch(app.url(&path))
        .bearer_auth(&store.sandbox_key)
        .json(&json!({"archived": true}))
        .send()
        .await
        .unwrap();
    assert_problem(response, 400, "idempotency_key_missing").await;

    let body = json!({"archived": true});
    let first = call_with_key(
        &app,
        &key,
        Method::PATCH,
        &path,
        Some(body.clone()),
        "arch-1",
    )
    .await;
    assert!(first.headers().get("idempotent-replayed").is_none());
    let first = json_of(first, 200).await;
    // Made active again in between: the retry replays the first answer, changes nothing.
    json_of(
        patch(&app, &key, &tee, json!({"archived": false})).await,
        200,
    )
    .await;
    let again = call_with_key(&app, &key, Method::PATCH, &path, Some(body), "arch-1").await;
    assert_eq!(again.headers()["idempotent-replayed"], "true");
    assert_eq!(json_of(again, 200).await, first);
    let read = json_of(call(&app, &key, Method::GET, &path, None).await, 200).await;
    assert_eq!(read["archived_at"], Value::Null);
    // The same key for another change.
    assert_problem(
        call_with_key(
            &app,
            &key,
            Method::PATCH,
            &path,
            Some(json!({"archived": false})),
            "arch-1",
        )
        .await,
        422,
        "idempotency_key_reused",
    )
    .await;
}

/// Many edits of one product at once, each of its own field: every one lands (a read of the
/// product before the write of another would put back the field that one changed).
async fn racing_edits_of_different_fields_all_land(backend: Backend) {
    let app = spawn_app(backend).await;
    let store = app.create_store("Shop", "USD").await;
    let key = Caller::key(&store.sandbox_key);
    let tee = create(&app, &key, "TEE-1", "T-shirt").await;
    let edits = [
        json!({"name": "Race tee"}),
        json!({"tax_code": "txcd_99999999"}),
        json!({"weight_grams": 321}),
        json!({"length_mm": 11}),
        json!({"width_mm": 22}),
        json!({"height_mm": 33}),
        json!({"price_includes_tax": true}),
        json!({"unit_amount": 4321}),
    ];
    let answers = futures::future::join_all(
        edits
            .iter()
            .map(|body| patch(&app, &key, &tee, body.clone())),
    )
    .await;
    for answer in answers {
        assert_eq!(answer.status(), 200);
    }
    let path = product_path(&tee);
    let now = json_of(call(&app, &key, Method::GET, &path, None).await, 200).await;
    for body in &edits {
        for (field, value) in body.as_object().unwrap() {
            assert_eq!(&now[field], value, "{field} lost: {now}");
        }
    }
}

both_backends!(
    racing_edits_of_different_fields_all_land,
    products_are_edited_archived_and_unarchived,
    edits_are_validated,
    the_list_searches_and_filters_archived_products,
    new_orders_refuse_archived_products,
    other_stores_and_environments_products_are_not_found,
    production_catalogue_is_the_owners,
    edits_are_idempotent,
);
