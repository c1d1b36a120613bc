//! The console's Customers pages through their server functions: the list (newest first,
//! keyset pages, search by part of an email or by id), the create form's refusals per field,
//! a customer's orders and lifetime value (captured minus refunded, per currency, as the API's
//! `GET /customers/{id}` answers it too), storefront tokens under the API's policy, and
//! isolation (another store's customer is not found, before any role check).

use cassa::money::format_amount;
use cassa_tests::{Backend, TestApp, both_backends, spawn_app};
use serde_json::{Value, json};

use crate::{
    payments::shop::{TOTAL, shop},
    support::{console_answer as answer, console_fn, console_sign_in, send},
    webhook_endpoints::{Caller, STAFF_PASSWORD, call, member},
};

async fn refusal(response: reqwest::Response) -> String {
    assert!(!response.status().is_success());
    response.text().await.unwrap()
}

async fn page(app: &TestApp, cookie: &str, query: &[(&str, &str)]) -> Value {
    answer(console_fn(app, "customers_page", query, Some(cookie)).await).await
}

async fn detail(app: &TestApp, cookie: &str, id: &str) -> reqwest::Response {
    console_fn(app, "customer_detail", &[("customer_id", id)], Some(cookie)).await
}

async fn select(app: &TestApp, cookie: &str, store: &str, environment: &str) {
    let selected = console_fn(
        app,
        "select",
        &[("store_id", store), ("environment", environment)],
        Some(cookie),
    )
    .await;
    assert!(selected.status().is_success() || selected.status().is_redirection());
}

/// A customer created through the API with `key`; returns its id.
async fn customer(app: &TestApp, key: &str, body: Value) -> String {
    let response = send(
        app,
        reqwest::Method::POST,
        key,
        "/api/v1/admin/customers",
        Some(body),
    )
    .await;
    assert_eq!(response.status(), 201);
    response.json::<Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

fn ids(page: &Value) -> Vec<String> {
    page["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap().to_owned())
        .collect()
}

async fn the_list_pages_newest_first_searches_and_refuses_fields(backend: Backend) {
    let app = spawn_app(backend).await;
    let store = app.create_store("Shop", "USD").await;
    let other = app.create_store("Other", "USD").await;
    let foreign = customer(&app, &other.sandbox_key, json!({"email": "ada@other.test"})).await;
    member(&app, &store, "staff@shop.test", "staff").await;
    let cookie = console_sign_in(&app, "staff@shop.test", STAFF_PASSWORD).await;

    // Nothing yet: the empty state, not "nothing matches".
    let empty = page(&app, &cookie, &[]).await;
    assert_eq!(empty["store_has_customers"], false);
    assert_eq!(empty["rows"], json!([]));

    // Each field refused beside itself, both at once; nothing stored.
    let long = "x".repeat(201);
    let refused = answer(
        console_fn(
            &app,
            "create_customer",
            &[("email", "not-an-email"), ("name", &long)],
            Some(&cookie),
        )
        .await,
    )
    .await;
    let fields: Vec<&str> = refused["Refused"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["field"].as_str().unwrap())
        .collect();
    assert_eq!(fields, ["email", "name"], "{refused}");
    assert_eq!(refused["Refused"][0]["message"], "must be an email address");
    assert_eq!(
        refused["Refused"][1]["message"],
        "must be 1 to 200 characters"
    );
    assert_eq!(page(&app, &cookie, &[]).await["store_has_customers"], false);

    let saved = answer(
        console_fn(
            &app,
            "create_customer",
            &[("email", " Ada@Shop.Test "), ("name", "Ada Lovelace")],
            Some(&cookie),
        )
        .await,
    )
    .await;
    assert_eq!(saved["Saved"]["message"], "Added ada@shop.test.");
    let ada = saved["Saved"]["id"].as_str().unwrap().to_owned();
    // As the API reads it.
    let api = call(
        &app,
        &Caller::key(&store.sandbox_key),
        reqwest::Method::GET,
        &format!("/api/v1/admin/customers/{ada}"),
        None,
    )
    .await
    .json::<Value>()
    .await
    .unwrap();
    assert_eq!(api["email"], "ada@shop.test");
    assert_eq!(api["name"], "Ada Lovelace");
    // A customer may be known by neither field yet.
    let blank = answer(
        console_fn(
            &app,
            "create_customer",
            &[("email", ""), ("name", "")],
            Some(&cookie),
        )
        .await,
    )
    .await;
    assert!(blank["Saved"]["id"].is_string(), "{blank}");

    // 28 more: two pages of 25, newest first, each customer once.
    let mut created = vec![
        ada.clone(),
        blank["Saved"]["id"].as_str().unwrap().to_owned(),
    ];
    for n in 0..28 {
        let email = format!("shopper{n:02}@shop.test");
        created.push(customer(&app, &store.sandbox_key, json!({"email": email})).await);
    }
    created.reverse();
    let first = page(&app, &cookie, &[]).await;
    assert_eq!(first["store_has_customers"], true);
    assert_eq!(ids(&first), created[..25]);
    let after = first["next_after"].as_str().unwrap().to_owned();
    assert_eq!(after, created[24]);
    let second = page(&app, &cookie, &[("after", &after)]).await;
    assert_eq!(ids(&second), created[25..]);
    assert_eq!(second["next_after"], Value::Null);
    assert_eq!(second["paged"], true);

    // Search: part of an email, any case; an id; another store's customers never.
    let found = page(&app, &cookie, &[("q", "ADA@")]).await;
    assert_eq!(ids(&found), [ada.as_str()]);
    assert_eq!(found["rows"][0]["name"], "Ada Lovelace");
    let shoppers = page(&app, &cookie, &[("q", "shopper1")]).await;
    assert_eq!(ids(&shoppers).len(), 10);
    assert_eq!(
        ids(&page(&app, &cookie, &[("q", &ada)]).await),
        [ada.as_str()]
    );
    // `%` and `_` are letters, not wildcards.
    assert_eq!(
        ids(&page(&app, &cookie, &[("q", "shopper_")]).await),
        Vec::<String>::new()
    );
    let nobody = page(&app, &cookie, &[("q", &foreign)]).await;
    assert_eq!(nobody["rows"], json!([]));
    assert_eq!(nobody["store_has_customers"], true);
    assert_eq!(
        page(&app, &cookie, &[("q", "other.test")]).await["rows"],
        json!([])
    );
    let refused = page(&app, &cookie, &[("after", "not-a-cursor")]).await;
    assert_eq!(refused["filter_error"]["field"], "after");
    let refused = page(&app, &cookie, &[("q", &"a".repeat(255))]).await;
    assert_eq!(refused["filter_error"]["field"], "q");

    // Another store's customer is not found; so is an environment's other.
    let text = refusal(detail(&app, &cookie, &foreign).await).await;
    assert!(text.contains("No such customer"), "{text}");
    select(&app, &cookie, &store.id, "production").await;
    let text = refusal(detail(&app, &cookie, &ada).await).await;
    assert!(text.contains("No such customer"), "{text}");
    assert_eq!(page(&app, &cookie, &[]).await["store_has_customers"], false);
}

async fn a_customers_page_shows_orders_and_captured_minus_refunded(backend: Backend) {
    let shop = shop(backend).await;
    let app = &shop.app;
    let me = send(app, reqwest::Method::GET, &shop.token, "/api/v1/me", None).await;
    let id = me.json::<Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();

    // Captured in full, then partly refunded; a second payment only authorized.
    let (paid, intent) = shop.authorized().await;
    let captured = shop.op(&paid, &intent, "capture", json!({})).await;
    assert_eq!(captured.status(), 200);
    let refunded = shop
        .op(&paid, &intent, "refund", json!({"amount": 500}))
        .await;
    assert_eq!(refunded.status(), 200);
    let (held, _) = shop.authorized().await;

    // The API's answer: per currency, in minor units.
    let api = call(
        app,
        &Caller::key(&shop.store.sandbox_key),
        reqwest::Method::GET,
        &format!("/api/v1/admin/customers/{id}"),
        None,
    )
    .await;
    assert_eq!(api.status(), 200);
    let api: Value = api.json().await.unwrap();
    assert_eq!(
        api["lifetime_value"],
        json!([{"amount": TOTAL - 500, "currency": "USD"}])
    );
    assert_eq!(api["id"], id.as_str());

    member(app, &shop.store, "staff@shop.test", "staff").await;
    let cookie = console_sign_in(app, "staff@shop.test", STAFF_PASSWORD).await;
    let shown = answer(detail(app, &cookie, &id).await).await;
    assert_eq!(
        shown["lifetime_value"],
        json!([format_amount(TOTAL - 500, "USD")])
    );
    let orders: Vec<&str> = shown["orders"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["id"].as_str().unwrap())
        .collect();
    assert_eq!(orders, [held.as_str(), paid.as_str()]);
    assert_eq!(shown["more_orders"], false);
    assert_eq!(shown["can_issue_token"], true);

    // A customer who never paid has no lifetime value, not a zero.
    let (other, _) = app.create_customer(&shop.store).await;
    assert_eq!(
        answer(detail(app, &cookie, &other).await).await["lifetime_value"],
        json!([])
    );

    // Another store's key does not find this customer.
    let stranger = app.create_store("Stranger", "USD").await;
    let response = call(
        app,
        &Caller::key(&stranger.sandbox_key),
        reqwest::Method::GET,
        &format!("/api/v1/admin/customers/{id}"),
        None,
    )
    .await;
    assert_eq!(response.status(), 404);
}

async fn tokens_follow_the_apis_policy_and_are_shown_once(backend: Backend) {
    let app = spawn_app(backend).await;
    let store = app.create_store("Shop", "USD").await;
    let other = app.create_store("Other", "USD").await;
    let other_owner = app.create_owner(&other, "owner@other.test").await;
    let other_live = app.create_live_key(&other, &other_owner).await;
    let foreign = customer(&app, &other_live, json!({"name": "F"})).await;
    let owner = app.create_owner(&store, "owner@shop.test").await;
    let live = app.create_live_key(&store, &owner).await;
    let staff_token = member(&app, &store, "staff@shop.test", "staff").await;
    let cookie = console_sign_in(&app, "staff@shop.test", STAFF_PASSWORD).await;

    // Sandbox: staff mint a token, and it works on /api/v1/me.
    let sandbox = customer(&app, &store.sandbox_key, json!({"name": "S"})).await;
    let issued = answer(
        console_fn(
            &app,
            "issue_customer_token",
            &[("customer_id", &sandbox)],
            Some(&cookie),
        )
        .await,
    )
    .await;
    let token = issued["token"].as_str().unwrap().to_owned();
    assert!(issued["expires_at"]["text"].is_string());
    let me = send(&app, reqwest::Method::GET, &token, "/api/v1/me", None).await;
    assert_eq!(me.status(), 200);
    assert_eq!(me.json::<Value>().await.unwrap()["id"], sandbox.as_str());
    // Never readable again: the page holds no token, the database only its hash.
    let again = answer(detail(&app, &cookie, &sandbox).await).await;
    assert!(!again.to_string().contains(&token));
    let stored: i64 = cassa::on_db!(&app.db, pool => {
        sqlx::query_scalar("SELECT COUNT(*) FROM customer_tokens")
            .fetch_one(pool)
            .await
    })
    .unwrap();
    assert_eq!(stored, 1);

    // Production: staff read, the page is read-only, and minting is refused as the API
    // refuses it.
    select(&app, &cookie, &store.id, "production").await;
    let production = customer(&app, &live, json!({"name": "P"})).await;
    let shown = answer(detail(&app, &cookie, &production).await).await;
    assert_eq!(shown["can_issue_token"], false);
    let text = refusal(
        console_fn(
            &app,
            "issue_customer_token",
            &[("customer_id", &production)],
            Some(&cookie),
        )
        .await,
    )
    .await;
    assert!(text.contains("not allowed"), "{text}");
    let path = format!("/api/v1/admin/customers/{production}/tokens");
    let as_staff = Caller::user(&staff_token, &store, "production");
    let response = call(
        &app,
        &as_staff,
        reqwest::Method::POST,
        &path,
        Some(json!({})),
    )
    .await;
    assert_eq!(response.status(), 403);
    // Another store's customer is not found, before the role is looked at.
    let text = refusal(
        console_fn(
            &app,
            "issue_customer_token",
            &[("customer_id", &foreign)],
            Some(&cookie),
        )
        .await,
    )
    .await;
    assert!(text.contains("No such customer"), "{text}");
    let response = call(
        &app,
        &as_staff,
        reqwest::Method::POST,
        &format!("/api/v1/admin/customers/{foreign}/tokens"),
        Some(json!({})),
    )
    .await;
    assert_eq!(response.status(), 404);

    // Owners mint production's; so does the store's production key.
    let as_owner = Caller::user(&owner, &store, "production");
    let response = call(
        &app,
        &as_owner,
        reqwest::Method::POST,
        &path,
        Some(json!({})),
    )
    .await;
    assert_eq!(response.status(), 201);
    let key = Caller::key(&live);
    let response = call(&app, &key, reqwest::Method::POST, &path, Some(json!({}))).await;
    assert_eq!(response.status(), 201);
}

both_backends!(
    the_list_pages_newest_first_searches_and_refuses_fields,
    a_customers_page_shows_orders_and_captured_minus_refunded,
    tokens_follow_the_apis_policy_and_are_shown_once
);
