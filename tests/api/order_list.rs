//! The orders list's filters and keyset pages (REST and console) and the console's streamed
//! CSV export: never another store's or environment's order, each filter alone, every batch.

use cassa_tests::{Backend, TestApp, TestStore, both_backends, spawn_app};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::{
    catalog::create_product,
    console::{admin_session, server_fn},
    orders::place_order_of,
    support::assert_problem,
};

/// A customer with `email` and a token for them, made with `key` (its environment's).
async fn customer(app: &TestApp, key: &str, email: &str) -> (String, String) {
    let customer: Value = app
        .client
        .post(app.url("/api/v1/admin/customers"))
        .bearer_auth(key)
        .header("idempotency-key", Uuid::now_v7().to_string())
        .json(&json!({"name": "Customer", "email": email}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let id = customer["id"].as_str().expect("customer id").to_owned();
    let token = token(app, key, &id).await;
    (id, token)
}

/// A fresh token of a customer (tokens live hours; the tests move the clock by days).
async fn token(app: &TestApp, key: &str, id: &str) -> String {
    let token: Value = app
        .client
        .post(app.url(&format!("/api/v1/admin/customers/{id}/tokens")))
        .bearer_auth(key)
        .header("idempotency-key", Uuid::now_v7().to_string())
        .json(&json!({}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    token["token"].as_str().expect("token").to_owned()
}

async fn product(app: &TestApp, key: &str, sku: &str, amount: i64) -> Value {
    let response = create_product(
        app,
        key,
        json!({"sku": sku, "name": sku, "unit_amount": amount, "currency": "USD"}),
    )
    .await;
    assert_eq!(response.status(), 201);
    response.json().await.unwrap()
}

/// Places an order of `quantity` × `product`; returns its id.
async fn order(app: &TestApp, token: &str, product: &Value, quantity: i64) -> String {
    let response = place_order_of(app, token, product, quantity).await;
    assert_eq!(response.status(), 201);
    let order: Value = response.json().await.unwrap();
    order["id"].as_str().expect("order id").to_owned()
}

async fn admin_list(app: &TestApp, key: &str, query: &str) -> Value {
    let response = app
        .client
        .get(app.url(&format!("/api/v1/admin/orders?{query}")))
        .bearer_auth(key)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200, "{query}");
    response.json().await.unwrap()
}

fn ids(page: &Value) -> Vec<String> {
    page["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["id"].as_str().unwrap().to_owned())
        .collect()
}

/// The console's session, showing `store` (sandbox).
async fn console(app: &TestApp, store: &TestStore) -> String {
    let cookie = admin_session(app).await;
    let selected = server_fn(app, "select", &[("store_id", &store.id)], &cookie).await;
    assert!(selected.status().is_success() || selected.status().is_redirection());
    cookie
}

async fn console_page(app: &TestApp, cookie: &str, form: &[(&str, &str)]) -> Value {
    let response = server_fn(app, "orders_page", form, cookie).await;
    assert_eq!(response.status(), 200);
    response.json().await.unwrap()
}

fn row_ids(page: &Value) -> Vec<String> {
    page["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["id"].as_str().unwrap().to_owned())
        .collect()
}

async fn csv(app: &TestApp, cookie: &str, query: &str) -> (reqwest::header::HeaderMap, String) {
    let response = app
        .client
        .get(app.url(&format!("/console/exports/orders.csv?{query}")))
        .header("cookie", cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200, "{query}");
    let headers = response.headers().clone();
    (headers, response.text().await.unwrap())
}

/// The order ids of a CSV file's rows, in order.
fn csv_ids(text: &str) -> Vec<String> {
    text.split("\r\n")
        .skip(1)
        .filter(|l| !l.is_empty())
        .map(|l| l.split(',').next().unwrap().to_owned())
        .collect()
}

/// Three sandbox orders of one store over three days, plus orders of the same customer email
/// in another store and in the store's production: each filter, on the API and the console,
/// and the export, see only the three.
async fn filters_pages_and_export_stay_in_the_store_and_environment(backend: Backend) {
    let app = spawn_app(backend).await;
    let store = app.create_store("Shop", "USD").await;
    let key = &store.sandbox_key;
    let tee = product(&app, key, "TEE", 1999).await;
    let mug = product(&app, key, "MUG", 850).await;
    let (ada, ada_token) = customer(&app, key, "Ada@Shop.example").await;
    let (bob, _) = customer(&app, key, "bob+x@shop.example").await;
    let first = order(&app, &ada_token, &tee, 1).await; // 19.99, 2026-01-15
    app.clock.advance(chrono::Duration::days(1));
    let second = order(&app, &token(&app, key, &bob).await, &mug, 2).await; // 17.00, 2026-01-16
    app.clock.advance(chrono::Duration::days(1));
    let third = order(&app, &token(&app, key, &ada).await, &tee, 3).await; // 59.97, 2026-01-17

    // Same email elsewhere: another store, and this store's production.
    let other = app.create_store("Other", "USD").await;
    let other_tee = product(&app, &other.sandbox_key, "TEE", 1999).await;
    let (_, other_token) = customer(&app, &other.sandbox_key, "ada@shop.example").await;
    let foreign = order(&app, &other_token, &other_tee, 1).await;
    let owner = app.create_owner(&store, "owner@shop.example").await;
    let live = app.create_live_key(&store, &owner).await;
    let live_tee = product(&app, &live, "TEE", 1999).await;
    let (_, live_token) = customer(&app, &live, "ada@shop.example").await;
    let production = order(&app, &live_token, &live_tee, 1).await;

    // REST: oldest first, filtered, keyset pages.
    let all = admin_list(&app, key, "").await;
    assert_eq!(ids(&all), [first.as_str(), second.as_str(), third.as_str()]);
    assert_eq!(all["data"][0]["customer_email"], "ada@shop.example");
    assert_eq!(all["data"][2]["item_count"], 3);
    assert_eq!(all["data"][2]["items_amount"], 5997);
    assert_eq!(ids(&admin_list(&app, key, "status=open").await).len(), 3);
    assert!(ids(&admin_list(&app, key, "status=paid").await).is_empty());
    let range = "created_from=2026-01-16T00:00:00Z&created_to=2026-01-17T00:00:00Z";
    assert_eq!(ids(&admin_list(&app, key, range).await), [second.as_str()]);
    assert_eq!(
        ids(&admin_list(&app, key, &format!("customer_id={ada}")).await),
        [first.as_str(), third.as_str()]
    );
    assert_eq!(
        ids(&admin_list(&app, key, &format!("customer_id={bob}")).await),
        [second.as_str()]
    );
    assert_eq!(
        ids(&admin_list(&app, key, "min_amount=1700&max_amount=1999").await),
        [first.as_str(), second.as_str()]
    );
    assert!(ids(&admin_list(&app, key, "currency=EUR&min_amount=1").await).is_empty());
    assert_eq!(
        ids(&admin_list(&app, key, "q=ADA%40shop.example").await),
        [first.as_str(), third.as_str()]
    );
    assert_eq!(
        ids(&admin_list(&app, key, &format!("q={third}")).await),
        [third.as_str()]
    );
    for stranger in [&foreign, &production] {
        assert!(ids(&admin_list(&app, key, &format!("q={stranger}")).await).is_empty());
    }
    let page = admin_list(&app, key, "limit=2").await;
    assert_eq!(ids(&page), [first.as_str(), second.as_str()]);
    assert_eq!(page["has_more"], true);
    let page = admin_list(&app, key, &format!("limit=2&starting_after={second}")).await;
    assert_eq!(ids(&page), [third.as_str()]);
    assert_eq!(page["has_more"], false);
    for bad in ["status=shipped", "q=hello", "min_amount=5&max_amount=4"] {
        let response = app
            .client
            .get(app.url(&format!("/api/v1/admin/orders?{bad}")))
            .bearer_auth(key)
            .send()
            .await
            .unwrap();
        assert_problem(response, 422, "validation_failed").await;
    }

    // Console: newest first, amounts typed in major units, emails shown.
    let cookie = console(&app, &store).await;
    let page = console_page(&app, &cookie, &[]).await;
    assert_eq!(
        row_ids(&page),
        [third.as_str(), second.as_str(), first.as_str()]
    );
    assert_eq!(page["rows"][0]["amount"], "$59.97 USD");
    assert_eq!(page["rows"][0]["customer_email"], "ada@shop.example");
    assert_eq!(page["rows"][1]["customer_email"], "bob+x@shop.example");
    assert_eq!(page["currency"], "USD");
    let filtered = |form: Vec<(&'static str, String)>| {
        let (app, cookie) = (&app, &cookie);
        async move {
            let form: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
            console_page(app, cookie, &form).await
        }
    };
    let by = |k: &'static str, v: &str| vec![(k, v.to_owned())];
    assert_eq!(row_ids(&filtered(by("status", "open")).await).len(), 3);
    assert!(row_ids(&filtered(by("status", "cancelled")).await).is_empty());
    let days = vec![
        ("from", "2026-01-16".to_owned()),
        ("to", "2026-01-16".to_owned()),
    ];
    assert_eq!(row_ids(&filtered(days).await), [second.as_str()]);
    assert_eq!(
        row_ids(&filtered(by("customer", &ada)).await),
        [third.as_str(), first.as_str()]
    );
    assert_eq!(
        row_ids(&filtered(by("min_amount", "17.01")).await),
        [third.as_str(), first.as_str()]
    );
    assert_eq!(
        row_ids(&filtered(by("max_amount", "19.99")).await),
        [second.as_str(), first.as_str()]
    );
    assert_eq!(
        row_ids(&filtered(by("q", " BOB+X@shop.example ")).await),
        [second.as_str()]
    );
    assert!(row_ids(&filtered(by("q", &foreign)).await).is_empty());
    assert!(row_ids(&filtered(by("q", &production)).await).is_empty());
    let refused = filtered(by("min_amount", "12.345")).await;
    assert_eq!(refused["errors"][0][0], "min_amount");
    assert!(row_ids(&refused).is_empty());
    let none = filtered(by("status", "cancelled")).await;
    assert_eq!(none["store_has_orders"], true);

    // The export: same filters, same order as the page, same amounts in plain major units.
    let (headers, text) = csv(&app, &cookie, "").await;
    assert!(
        headers["content-disposition"]
            .to_str()
            .unwrap()
            .starts_with("attachment; filename=\"orders-sandbox-")
    );
    assert!(
        headers["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/csv")
    );
    let lines: Vec<&str> = text.split("\r\n").filter(|l| !l.is_empty()).collect();
    assert_eq!(
        lines[0],
        "order_id,created_at,status,customer_email,currency,items_amount,item_count"
    );
    assert_eq!(
        lines[1],
        format!("{third},2026-01-17T12:00:00Z,open,ada@shop.example,USD,59.97,3")
    );
    assert_eq!(
        csv_ids(&text),
        [third.as_str(), second.as_str(), first.as_str()]
    );
    let (_, text) = csv(&app, &cookie, "q=ada%40shop.example&min_amount=20").await;
    assert_eq!(csv_ids(&text), [third.as_str()]);
    let (_, text) = csv(&app, &cookie, "from=2026-01-16&to=2026-01-16").await;
    assert_eq!(csv_ids(&text), [second.as_str()]);
    let (_, text) = csv(&app, &cookie, &format!("customer={bob}")).await;
    assert_eq!(csv_ids(&text), [second.as_str()]);
    let (_, text) = csv(&app, &cookie, "status=paid").await;
    assert!(csv_ids(&text).is_empty());
    let refused = app
        .client
        .get(app.url("/console/exports/orders.csv?max_amount=1.234"))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 422);
    let anonymous = app.get("/console/exports/orders.csv").await;
    assert_eq!(anonymous.status(), 401);

    // The other environment's list is its own.
    let live_page = admin_list(&app, &live, "").await;
    assert_eq!(ids(&live_page), [production.as_str()]);
}

/// An export longer than one batch has every row once, newest first; the console pages
/// through the same orders; an email that looks like a formula is written as text.
async fn a_long_export_is_complete_in_order_and_formulas_are_text(backend: Backend) {
    let app = spawn_app(backend).await;
    let store = app.create_store("Shop", "USD").await;
    let key = &store.sandbox_key;
    let tee = product(&app, key, "TEE", 1999).await;
    let (_, plain) = customer(&app, key, "plain@shop.example").await;
    let (_, formula) = customer(&app, key, "=1+2@evil.example").await;
    let (_, minus) = customer(&app, key, "-2+3@evil.example").await;
    let mut placed = Vec::new();
    for n in 0..230 {
        let token = match n {
            7 => &formula,
            8 => &minus,
            _ => &plain,
        };
        placed.push(order(&app, token, &tee, 1).await);
    }
    placed.reverse();

    let cookie = console(&app, &store).await;
    let (_, text) = csv(&app, &cookie, "").await;
    assert_eq!(csv_ids(&text), placed, "every row once, newest first");
    assert!(
        text.contains(",open,'=1+2@evil.example,USD,19.99,1\r\n"),
        "{text}"
    );
    assert!(
        text.contains(",open,'-2+3@evil.example,USD,19.99,1\r\n"),
        "{text}"
    );

    let mut seen = Vec::new();
    let mut after = String::new();
    loop {
        let page = console_page(&app, &cookie, &[("after", &after)]).await;
        seen.extend(row_ids(&page));
        match page["next_after"].as_str() {
            Some(next) => after = next.to_owned(),
            None => break,
        }
    }
    assert_eq!(seen, placed);
}

/// A store without orders gets the empty state (not "nothing matches").
async fn a_store_without_orders_is_told_how_orders_are_made(backend: Backend) {
    let app = spawn_app(backend).await;
    let store = app.create_store("Shop", "USD").await;
    let cookie = console(&app, &store).await;
    let page = console_page(&app, &cookie, &[]).await;
    assert_eq!(page["store_has_orders"], false);
    let html = app
        .client
        .get(app.url("/orders"))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(html.contains("POST /api/v1/me/orders"), "{html}");
    assert!(
        html.contains(r#"href="/console/exports/orders.csv""#),
        "{html}"
    );
}

both_backends!(
    filters_pages_and_export_stay_in_the_store_and_environment,
    a_long_export_is_complete_in_order_and_formulas_are_text,
    a_store_without_orders_is_told_how_orders_are_made,
);
