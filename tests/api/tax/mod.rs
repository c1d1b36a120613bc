//! Tax through the API on both databases: a state + county + city stack stored per line and
//! jurisdiction, nexus (none → no tax, with the reason), exemption certificates (recorded,
//! applied, isolated, revoked), a rate change honoured on its date, and taxable shipping. The
//! tax ledger (commit, reverse, finalize) is in `ledger.rs`, exports in `exports.rs`.

mod exports;
mod fake_service;
mod ledger;
mod service;

use cassa_tests::{Backend, TestApp, TestStore, both_backends, spawn_app};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::{
    catalog::create_product,
    support::{assert_problem, json_of, send},
};

pub(super) async fn put(app: &TestApp, store: &TestStore, path: &str, body: Value) -> Value {
    let response = send(
        app,
        reqwest::Method::PUT,
        &store.sandbox_key,
        path,
        Some(body),
    )
    .await;
    json_of(response, 200).await
}

/// The README's Los Angeles fixture: California 7.25 %, Los Angeles County 0.25 % (postal
/// codes 900xx), the City of Los Angeles 2.25 %; the state also taxes shipping.
pub(super) fn los_angeles() -> Value {
    json!({"rules": [
        {"country": "US", "subdivision": "CA", "tax_code": "*", "rate": "0.0725", "shipping_taxable": true},
        {"country": "US", "subdivision": "CA", "county": "Los Angeles", "postal_codes": ["900*"], "tax_code": "*", "rate": "0.0025"},
        {"country": "US", "subdivision": "CA", "city": "Los Angeles", "tax_code": "*", "rate": "0.0225"},
        {"country": "US", "subdivision": "NY", "tax_code": "*", "rate": "0.04"},
    ]})
}

pub(super) async fn shop(app: &TestApp) -> TestStore {
    let store = app.create_store("Tax shop", "USD").await;
    put(app, &store, "/api/v1/admin/shipping/rates", json!({"rates": [
        {"service": "standard", "country": "US", "max_weight_grams": 10000, "amount": 1000, "currency": "USD"},
    ]}))
    .await;
    put(app, &store, "/api/v1/admin/tax/rates", los_angeles()).await;
    put(
        app,
        &store,
        "/api/v1/admin/tax/nexus",
        json!({"nexus": [
            {"country": "US", "subdivision": "CA", "since": "2020-01-01"},
        ]}),
    )
    .await;
    store
}

/// A customer's order of one 100.00 lamp to `city`, `subdivision`, `postal_code`, and its quote.
pub(super) async fn quote(
    app: &TestApp,
    store: &TestStore,
    token: &str,
    city: &str,
    subdivision: &str,
    postal_code: &str,
) -> Value {
    let product: Value = create_product(
        app,
        &store.sandbox_key,
        json!({"sku": format!("LAMP-{}", Uuid::now_v7()), "name": "Lamp", "unit_amount": 10000,
               "currency": "USD", "weight_grams": 900}),
    )
    .await
    .json()
    .await
    .unwrap();
    let order = json_of(
        send(
            app,
            reqwest::Method::POST,
            token,
            "/api/v1/me/orders",
            Some(json!({
                "items": [{"product_id": product["id"], "quantity": 1}],
                "shipping_address": {"name": "Ada", "line1": "1 Main St", "city": city,
                    "subdivision": subdivision, "postal_code": postal_code, "country": "US"},
            })),
        )
        .await,
        201,
    )
    .await;
    let body = json!({"order_id": order["id"]});
    json_of(
        send(
            app,
            reqwest::Method::POST,
            token,
            "/api/v1/me/checkout/quote",
            Some(body),
        )
        .await,
        201,
    )
    .await
}

pub(super) fn parts(snapshot: &Value, line_no: i64) -> Vec<(String, i64, Option<String>)> {
    snapshot["tax_lines"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|l| l["line_no"] == line_no)
        .map(|l| {
            (
                l["jurisdiction"].as_str().unwrap().to_owned(),
                l["tax"].as_i64().unwrap(),
                l["reason"].as_str().map(str::to_owned),
            )
        })
        .collect()
}

async fn a_stacked_destination_is_taxed_and_stored_per_jurisdiction(backend: Backend) {
    let app = spawn_app(backend).await;
    let store = shop(&app).await;
    let (_, token) = app.create_customer(&store).await;
    let snapshot = quote(&app, &store, &token, "Los Angeles", "CA", "90012").await;
    assert_eq!(
        parts(&snapshot, 1),
        [
            ("US-CA".to_owned(), 725, None),
            ("US-CA/county:LOS ANGELES".to_owned(), 25, None),
            ("US-CA/city:LOS ANGELES".to_owned(), 225, None),
        ]
    );
    // Shipping: only the state taxes it (7.25 % of 10.00).
    assert_eq!(parts(&snapshot, 0), [("US-CA".to_owned(), 73, None)]);
    let totals = &snapshot["totals"];
    assert_eq!(totals["shipping_tax"], 73);
    assert_eq!(totals["tax"], 975 + 73);
    assert_eq!(totals["total"], 10000 + 1000 + 975 + 73);
    // Shipping (line 0) first, then the lines in order, each line's parts in level order.
    let line = &snapshot["tax_lines"][1];
    assert_eq!(line["line_no"], 1);
    assert_eq!(line["tax_code"], "general");
    assert_eq!(snapshot["tax_lines"][0]["tax_code"], "shipping");
    assert_eq!(line["engine"], "rules");
    assert_eq!(line["rounding"], "line_half_up_largest_remainder");
    assert_eq!(line["taxable"], 10000);
    assert_eq!(snapshot["tax_date"], "2026-01-15");
    // The stored snapshot reads back the same lines.
    let id = snapshot["snapshot_id"].as_str().unwrap();
    let response = app
        .client
        .get(app.url(&format!("/api/v1/me/checkout/snapshots/{id}")))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    let stored = json_of(response, 200).await;
    assert_eq!(stored["tax_lines"], snapshot["tax_lines"]);
    assert_eq!(stored["totals"], snapshot["totals"]);
}

async fn without_nexus_a_destination_carries_no_tax_and_says_why(backend: Backend) {
    let app = spawn_app(backend).await;
    let store = shop(&app).await;
    let (_, token) = app.create_customer(&store).await;
    let snapshot = quote(&app, &store, &token, "New York", "NY", "10001").await;
    assert_eq!(snapshot["totals"]["tax"], 0);
    assert_eq!(
        parts(&snapshot, 1),
        [("US-NY".to_owned(), 0, Some("no_nexus".to_owned()))]
    );
    // No rule and no nexus: the line still says why.
    let snapshot = quote(&app, &store, &token, "Austin", "TX", "78701").await;
    assert_eq!(
        parts(&snapshot, 1),
        [("US-TX".to_owned(), 0, Some("no_nexus".to_owned()))]
    );
}

async fn an_exemption_certificate_applies_until_revoked_and_stays_in_its_store(backend: Backend) {
    let app = spawn_app(backend).await;
    let store = shop(&app).await;
    let (customer, token) = app.create_customer(&store).await;
    let path = format!("/api/v1/admin/customers/{customer}/tax-exemptions");
    let certificate = json!({"certificate_id": "CA-RESALE-77", "jurisdictions": ["us-ca"],
        "expires_on": "2026-12-31"});
    let post = |body: Value, key: &str| {
        let (path, key) = (path.clone(), key.to_owned());
        let app = &app;
        async move { send(app, reqwest::Method::POST, &key, &path, Some(body)).await }
    };
    let exemption = json_of(post(certificate.clone(), &store.sandbox_key).await, 201).await;
    assert_eq!(exemption["jurisdictions"], json!(["US-CA"]));
    assert_problem(
        post(certificate.clone(), &store.sandbox_key).await,
        409,
        "certificate_exists",
    )
    .await;
    let invalid = json!({"certificate_id": "X", "jurisdictions": ["Narnia"]});
    assert_problem(
        post(invalid, &store.sandbox_key).await,
        422,
        "validation_failed",
    )
    .await;

    let snapshot = quote(&app, &store, &token, "Los Angeles", "CA", "90012").await;
    assert_eq!(snapshot["totals"]["tax"], 0);
    for line in snapshot["tax_lines"].as_array().unwrap() {
        assert_eq!(line["reason"], "exempt", "{line}");
        assert_eq!(line["certificate_id"], "CA-RESALE-77");
    }
    assert_eq!(snapshot["tax_lines"][0]["exempt"], 1000, "shipping");
    assert_eq!(snapshot["tax_lines"][1]["exempt"], 10000);

    // Another store sees neither the customer nor the certificate.
    let other = app.create_store("Other", "USD").await;
    assert_problem(
        post(certificate, &other.sandbox_key).await,
        404,
        "not_found",
    )
    .await;
    let exemption_id = exemption["id"].as_str().unwrap();
    let one = format!("{path}/{exemption_id}");
    let response = send(
        &app,
        reqwest::Method::DELETE,
        &other.sandbox_key,
        &one,
        None,
    )
    .await;
    assert_problem(response, 404, "not_found").await;

    let response = send(
        &app,
        reqwest::Method::DELETE,
        &store.sandbox_key,
        &one,
        None,
    )
    .await;
    assert_eq!(response.status(), 204);
    let listed = app
        .client
        .get(app.url(&path))
        .bearer_auth(&store.sandbox_key)
        .send()
        .await
        .unwrap();
    assert_eq!(json_of(listed, 200).await, json!([]));
    let snapshot = quote(&app, &store, &token, "Los Angeles", "CA", "90012").await;
    assert_eq!(snapshot["totals"]["tax"], 975 + 73);
}

async fn a_rate_change_is_honoured_from_its_date(backend: Backend) {
    let app = spawn_app(backend).await;
    let store = shop(&app).await;
    // The test clock stands at 2026-01-15: the old rate ends the day before.
    put(&app, &store, "/api/v1/admin/tax/rates", json!({"rules": [
        {"country": "US", "subdivision": "CA", "tax_code": "*", "rate": "0.07", "valid_to": "2026-01-15"},
        {"country": "US", "subdivision": "CA", "tax_code": "*", "rate": "0.08", "valid_from": "2026-01-15"},
    ]}))
    .await;
    let (_, token) = app.create_customer(&store).await;
    let snapshot = quote(&app, &store, &token, "Fresno", "CA", "93650").await;
    assert_eq!(parts(&snapshot, 1), [("US-CA".to_owned(), 800, None)]);
    app.clock.set("2026-01-14T23:00:00Z".parse().unwrap());
    let snapshot = quote(&app, &store, &token, "Fresno", "CA", "93650").await;
    assert_eq!(parts(&snapshot, 1), [("US-CA".to_owned(), 700, None)]);
    assert_eq!(snapshot["tax_date"], "2026-01-14");
    // Overlapping rates are refused.
    let response = send(&app, reqwest::Method::PUT, &store.sandbox_key, "/api/v1/admin/tax/rates",
        Some(json!({"rules": [
            {"country": "US", "subdivision": "CA", "tax_code": "*", "rate": "0.07"},
            {"country": "US", "subdivision": "CA", "tax_code": "*", "rate": "0.08", "valid_from": "2026-01-15"},
        ]}))).await;
    assert_problem(response, 422, "validation_failed").await;
}

/// Authorizes a snapshot's total with the test card: the intent.
pub(super) async fn authorize(app: &TestApp, token: &str, snapshot: &Value) -> Value {
    let order = snapshot["order_id"].as_str().unwrap();
    let path = format!("/api/v1/me/orders/{order}/payments/authorize");
    let body = json!({"snapshot_id": snapshot["snapshot_id"], "payment_method": "pm_card_visa"});
    json_of(
        send(app, reqwest::Method::POST, token, &path, Some(body)).await,
        201,
    )
    .await
}

pub(super) async fn act(
    app: &TestApp,
    store: &TestStore,
    intent: &Value,
    action: &str,
    amount: Option<i64>,
) -> Value {
    let path = format!(
        "/api/v1/admin/orders/{}/payments/{}/{action}",
        intent["order_id"].as_str().unwrap(),
        intent["id"].as_str().unwrap()
    );
    let body = amount.map(|a| json!({"amount": a})).unwrap_or(json!({}));
    let response = send(
        app,
        reqwest::Method::POST,
        &store.sandbox_key,
        &path,
        Some(body),
    )
    .await;
    json_of(response, 200).await
}

pub(super) async fn order_tax(app: &TestApp, store: &TestStore, order: &str) -> Value {
    let response = app
        .client
        .get(app.url(&format!("/api/v1/admin/orders/{order}/tax")))
        .bearer_auth(&store.sandbox_key)
        .send()
        .await
        .unwrap();
    json_of(response, 200).await
}

/// Per jurisdiction line (`line_no`, position in the order listed): committed − reversed.
pub(super) fn net_per_line(tax: &Value) -> std::collections::BTreeMap<(i64, String), i64> {
    let mut net = std::collections::BTreeMap::new();
    for t in tax["transactions"].as_array().unwrap() {
        let sign = if t["kind"] == "commit" { 1 } else { -1 };
        for l in t["lines"].as_array().unwrap() {
            let key = (
                l["line_no"].as_i64().unwrap(),
                l["jurisdiction"].as_str().unwrap().to_owned(),
            );
            *net.entry(key).or_insert(0) += sign * l["tax"].as_i64().unwrap();
        }
    }
    net
}

both_backends!(
    a_stacked_destination_is_taxed_and_stored_per_jurisdiction,
    without_nexus_a_destination_carries_no_tax_and_says_why,
    an_exemption_certificate_applies_until_revoked_and_stays_in_its_store,
    a_rate_change_is_honoured_from_its_date,
);
