//! Tax through the API on both databases: a state + county + city stack stored per line and
//! jurisdiction, nexus (none → no tax, with the reason), exemption certificates (recorded,
//! applied, isolated, revoked), a rate change honoured on its date, and taxable shipping.

use cassa_tests::{Backend, TestApp, TestStore, both_backends, spawn_app};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::{catalog::create_product, support::assert_problem};

async fn send(
    app: &TestApp,
    method: reqwest::Method,
    token: &str,
    path: &str,
    body: Option<Value>,
) -> reqwest::Response {
    let mut request = app
        .client
        .request(method, app.url(path))
        .bearer_auth(token)
        .header("idempotency-key", Uuid::now_v7().to_string());
    if let Some(body) = body {
        request = request.json(&body);
    }
    request.send().await.unwrap()
}

async fn json_of(response: reqwest::Response, status: u16) -> Value {
    let actual = response.status().as_u16();
    let body: Value = response.json().await.unwrap_or(Value::Null);
    assert_eq!(actual, status, "{body}");
    body
}

async fn put(app: &TestApp, store: &TestStore, path: &str, body: Value) -> Value {
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
fn los_angeles() -> Value {
    json!({"rules": [
        {"country": "US", "subdivision": "CA", "tax_code": "*", "rate": "0.0725", "shipping_taxable": true},
        {"country": "US", "subdivision": "CA", "county": "Los Angeles", "postal_codes": ["900*"], "tax_code": "*", "rate": "0.0025"},
        {"country": "US", "subdivision": "CA", "city": "Los Angeles", "tax_code": "*", "rate": "0.0225"},
        {"country": "US", "subdivision": "NY", "tax_code": "*", "rate": "0.04"},
    ]})
}

async fn shop(app: &TestApp) -> TestStore {
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
async fn quote(
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

fn parts(snapshot: &Value, line_no: i64) -> Vec<(String, i64, Option<String>)> {
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
async fn authorize(app: &TestApp, token: &str, snapshot: &Value) -> Value {
    let order = snapshot["order_id"].as_str().unwrap();
    let path = format!("/api/v1/me/orders/{order}/payments/authorize");
    let body = json!({"snapshot_id": snapshot["snapshot_id"], "payment_method": "pm_card_visa"});
    json_of(
        send(app, reqwest::Method::POST, token, &path, Some(body)).await,
        201,
    )
    .await
}

async fn act(
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

async fn order_tax(app: &TestApp, store: &TestStore, order: &str) -> Value {
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
fn net_per_line(tax: &Value) -> std::collections::BTreeMap<(i64, String), i64> {
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

async fn captures_commit_tax_and_refunds_reverse_it_to_exactly_nothing(backend: Backend) {
    let app = spawn_app(backend).await;
    let store = shop(&app).await;
    let (_, token) = app.create_customer(&store).await;
    let snapshot = quote(&app, &store, &token, "Los Angeles", "CA", "90012").await;
    let total = snapshot["totals"]["total"].as_i64().unwrap();
    let order = snapshot["order_id"].as_str().unwrap().to_owned();
    let intent = authorize(&app, &token, &snapshot).await;
    assert_eq!(
        order_tax(&app, &store, &order).await["committed"],
        0,
        "authorizing commits nothing"
    );

    // Half, then the rest: the commits add up to the snapshot's tax exactly.
    act(&app, &store, &intent, "capture", Some(total / 2)).await;
    let tax = order_tax(&app, &store, &order).await;
    // Each jurisdiction line commits half of its tax, rounded on its own: 73, 725, 25, 225 →
    // 37 + 363 + 13 + 113.
    assert_eq!(tax["committed"], 526);
    act(&app, &store, &intent, "capture", None).await;
    let tax = order_tax(&app, &store, &order).await;
    assert_eq!(tax["committed"], 1048);
    assert_eq!(tax["transactions"].as_array().unwrap().len(), 2);
    let committed = net_per_line(&tax);
    assert_eq!(committed[&(1, "US-CA".to_owned())], 725);
    assert_eq!(committed[&(0, "US-CA".to_owned())], 73);

    // Refunds in thirds: never more than committed on any line, exactly all at the end.
    let third = total / 3;
    act(&app, &store, &intent, "refund", Some(third)).await;
    let tax = order_tax(&app, &store, &order).await;
    // A third of each line: 24 + 242 + 8 + 75.
    assert_eq!(tax["reversed"], 349);
    act(&app, &store, &intent, "refund", Some(third)).await;
    for (key, net) in net_per_line(&order_tax(&app, &store, &order).await) {
        assert!(net >= 0 && net <= committed[&key], "{key:?}: {net}");
    }
    act(&app, &store, &intent, "refund", Some(total - 2 * third)).await;
    let tax = order_tax(&app, &store, &order).await;
    assert_eq!(
        (tax["reversed"].as_i64(), tax["net"].as_i64()),
        (Some(1048), Some(0))
    );
    assert!(net_per_line(&tax).values().all(|net| *net == 0), "{tax}");
    let kinds: Vec<&str> = tax["transactions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["kind"].as_str().unwrap())
        .collect();
    assert_eq!(
        kinds,
        ["commit", "commit", "reversal", "reversal", "reversal"]
    );

    // Another store cannot read it.
    let other = app.create_store("Other", "USD").await;
    let response = app
        .client
        .get(app.url(&format!("/api/v1/admin/orders/{order}/tax")))
        .bearer_auth(&other.sandbox_key)
        .send()
        .await
        .unwrap();
    assert_problem(response, 404, "not_found").await;
}

async fn a_void_before_capture_commits_nothing(backend: Backend) {
    let app = spawn_app(backend).await;
    let store = shop(&app).await;
    let (_, token) = app.create_customer(&store).await;
    let snapshot = quote(&app, &store, &token, "Los Angeles", "CA", "90012").await;
    let intent = authorize(&app, &token, &snapshot).await;
    act(&app, &store, &intent, "void", None).await;
    let tax = order_tax(&app, &store, snapshot["order_id"].as_str().unwrap()).await;
    assert_eq!(tax["committed"], 0);
    assert_eq!(tax["transactions"], json!([]));
}

/// Many partial captures of one payment at once: each succeeded capture commits its share
/// once, and together exactly the snapshot's tax.
async fn concurrent_captures_commit_the_tax_exactly_once(backend: Backend) {
    let app = spawn_app(backend).await;
    let store = shop(&app).await;
    let (_, token) = app.create_customer(&store).await;
    let snapshot = quote(&app, &store, &token, "Los Angeles", "CA", "90012").await;
    let total = snapshot["totals"]["total"].as_i64().unwrap();
    let order = snapshot["order_id"].as_str().unwrap().to_owned();
    let intent = authorize(&app, &token, &snapshot).await;
    let path = format!(
        "/api/v1/admin/orders/{order}/payments/{}/capture",
        intent["id"].as_str().unwrap()
    );
    let mut captures = tokio::task::JoinSet::new();
    for _ in 0..8 {
        let request = app
            .client
            .post(app.url(&path))
            .bearer_auth(&store.sandbox_key)
            .header("idempotency-key", Uuid::now_v7().to_string())
            .json(&json!({"amount": total / 4}));
        captures.spawn(async move { request.send().await.unwrap().status().as_u16() });
    }
    let statuses = captures.join_all().await;
    let succeeded = statuses.iter().filter(|s| **s == 200).count();
    assert_eq!(succeeded, 4, "four quarters fit: {statuses:?}");
    let tax = order_tax(&app, &store, &order).await;
    assert_eq!(tax["committed"], 1048, "{tax}");
    assert_eq!(tax["transactions"].as_array().unwrap().len(), 4);
}

async fn get(app: &TestApp, store: &TestStore, path: &str) -> reqwest::Response {
    app.client
        .get(app.url(path))
        .bearer_auth(&store.sandbox_key)
        .send()
        .await
        .unwrap()
}

/// CSV rows (header excluded) as maps from column to value.
fn csv_rows(text: &str) -> Vec<std::collections::HashMap<String, String>> {
    let mut lines = text.split("\r\n").filter(|l| !l.is_empty());
    let header: Vec<String> = lines
        .next()
        .unwrap()
        .split(',')
        .map(str::to_owned)
        .collect();
    lines
        .map(|l| {
            header
                .iter()
                .cloned()
                .zip(l.split(',').map(str::to_owned))
                .collect()
        })
        .collect()
}

fn sum(rows: &[std::collections::HashMap<String, String>], column: &str) -> i64 {
    rows.iter().map(|r| r[column].parse::<i64>().unwrap()).sum()
}

async fn exports_add_up_to_the_ledger_and_download_again_byte_for_byte(backend: Backend) {
    let app = spawn_app(backend).await;
    let store = shop(&app).await;
    let (_, token) = app.create_customer(&store).await;
    // Two Los Angeles orders (one refunded by a third) and one to New York (no nexus).
    let mut orders = Vec::new();
    for (city, subdivision, postal) in [
        ("Los Angeles", "CA", "90012"),
        ("Los Angeles", "CA", "90012"),
        ("New York", "NY", "10001"),
    ] {
        let snapshot = quote(&app, &store, &token, city, subdivision, postal).await;
        let intent = authorize(&app, &token, &snapshot).await;
        act(&app, &store, &intent, "capture", None).await;
        orders.push((snapshot, intent));
    }
    let third = orders[0].0["totals"]["total"].as_i64().unwrap() / 3;
    act(&app, &store, &orders[0].1, "refund", Some(third)).await;
    let mut ledger_net = 0;
    let mut ledger_reversed = 0;
    let mut ledger_lines = 0;
    for (snapshot, _) in &orders {
        let tax = order_tax(&app, &store, snapshot["order_id"].as_str().unwrap()).await;
        ledger_net += tax["net"].as_i64().unwrap();
        ledger_reversed += tax["reversed"].as_i64().unwrap();
        for t in tax["transactions"].as_array().unwrap() {
            ledger_lines += t["lines"].as_array().unwrap().len();
        }
    }
    assert_eq!(ledger_net, 2 * 1048 - 349);
    // Exports read what was committed before they started, less the settle window (5 s).
    app.clock.advance(chrono::Duration::seconds(10));

    let path = "/api/v1/admin/tax/reports/export?from=2026-01-15&to=2026-01-15";
    let response = get(&app, &store, path).await;
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.headers()["content-type"],
        "text/csv; charset=utf-8"
    );
    let export_id = response.headers()["cassa-export-id"]
        .to_str()
        .unwrap()
        .to_owned();
    let first = response.bytes().await.unwrap();
    let rows = csv_rows(std::str::from_utf8(&first).unwrap());
    let ca: Vec<_> = rows
        .iter()
        .filter(|r| r["jurisdiction"] == "US-CA")
        .collect();
    assert_eq!(ca.len(), 1);
    assert_eq!(ca[0]["commits"], "2");
    assert_eq!(ca[0]["reversals"], "1");
    assert_eq!(sum(&rows, "net"), ledger_net, "{rows:?}");
    assert_eq!(sum(&rows, "tax_reversed"), ledger_reversed);
    // Where the store has no nexus nothing was taxed, so nothing is filed.
    assert!(
        rows.iter().all(|r| r["jurisdiction"] != "US-NY"),
        "{rows:?}"
    );

    // Per transaction line, as CSV and as JSON: the same sums.
    let path =
        "/api/v1/admin/tax/reports/export?from=2026-01-01&to=2026-01-31&group_by=transaction";
    let text = get(&app, &store, path).await.text().await.unwrap();
    let lines = csv_rows(&text);
    assert_eq!(lines.len(), ledger_lines);
    let signed: i64 = lines
        .iter()
        .map(|l| l["tax"].parse::<i64>().unwrap() * if l["kind"] == "commit" { 1 } else { -1 })
        .sum();
    assert_eq!(signed, ledger_net);
    let path = "/api/v1/admin/tax/reports/export?from=2026-01-01&to=2026-01-31&format=json";
    let json: Value = get(&app, &store, path).await.json().await.unwrap();
    let net: i64 = json
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["net"].as_i64().unwrap())
        .sum();
    assert_eq!(net, ledger_net);
    // Another period holds nothing.
    let path = "/api/v1/admin/tax/reports/export?from=2026-01-16&to=2026-01-31";
    assert_eq!(
        csv_rows(&get(&app, &store, path).await.text().await.unwrap()).len(),
        0
    );
    let path = "/api/v1/admin/tax/reports/export?from=2026-01-16&to=2026-01-15";
    assert_problem(get(&app, &store, path).await, 422, "validation_failed").await;

    // Recorded, and the same bytes again, even after more tax was committed.
    let exports = json_of(get(&app, &store, "/api/v1/admin/tax/exports").await, 200).await;
    assert_eq!(exports.as_array().unwrap().len(), 4);
    let recorded = exports
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["id"] == export_id.as_str())
        .unwrap()
        .clone();
    assert_eq!(recorded["status"], "completed");
    assert_eq!(recorded["rows"], rows.len());
    use sha2::Digest;
    let digest = format!("{:x}", sha2::Sha256::digest(&first));
    assert_eq!(recorded["sha256"], digest.as_str());
    act(&app, &store, &orders[1].1, "refund", Some(third)).await;
    let again = get(
        &app,
        &store,
        &format!("/api/v1/admin/tax/exports/{export_id}/download"),
    )
    .await;
    assert_eq!(again.status(), 200);
    assert_eq!(again.bytes().await.unwrap(), first);

    let other = app.create_store("Other", "USD").await;
    let response = get(
        &app,
        &other,
        &format!("/api/v1/admin/tax/exports/{export_id}/download"),
    )
    .await;
    assert_problem(response, 404, "not_found").await;
}

async fn finalizing_commits_in_full_once_and_releasing_takes_back_what_was_not_sold(
    backend: Backend,
) {
    let app = spawn_app(backend).await;
    let store = shop(&app).await;
    let (_, token) = app.create_customer(&store).await;
    let snapshot = quote(&app, &store, &token, "Los Angeles", "CA", "90012").await;
    let order = snapshot["order_id"].as_str().unwrap().to_owned();
    let path = format!("/api/v1/admin/orders/{order}/tax/finalize");
    let finalize = || send(&app, reqwest::Method::POST, &store.sandbox_key, &path, None);
    assert_problem(finalize().await, 409, "order_not_paid").await;
    let intent = authorize(&app, &token, &snapshot).await;
    let tax = json_of(finalize().await, 200).await;
    assert_eq!(tax["committed"], 1048);
    // Again, and from the customer's storefront: nothing more.
    json_of(finalize().await, 200).await;
    let mine = format!("/api/v1/me/orders/{order}/tax/finalize");
    let tax = json_of(
        send(&app, reqwest::Method::POST, &token, &mine, None).await,
        200,
    )
    .await;
    assert_eq!(tax["transactions"].as_array().unwrap().len(), 1, "{tax}");
    let stranger = app.create_customer(&store).await.1;
    let response = send(&app, reqwest::Method::POST, &stranger, &mine, None).await;
    assert_problem(response, 404, "not_found").await;

    // Half is captured, the rest released: the tax of the unsold half goes back.
    let total = snapshot["totals"]["total"].as_i64().unwrap();
    act(&app, &store, &intent, "capture", Some(total / 2)).await;
    assert_eq!(
        order_tax(&app, &store, &order).await["net"],
        1048,
        "still finalized in full"
    );
    act(&app, &store, &intent, "void", None).await;
    let tax = order_tax(&app, &store, &order).await;
    assert_eq!(
        (tax["committed"].as_i64(), tax["net"].as_i64()),
        (Some(1048), Some(526))
    );
    assert_eq!(tax["transactions"][1]["kind"], "reversal");
    assert!(
        tax["transactions"][1]["source"]
            .as_str()
            .unwrap()
            .starts_with("void:")
    );
}

/// An order paid again after its first payment was voided is finalized afresh: the second
/// payment's tax is its own (keyed by payment, not by order).
async fn a_second_payment_after_a_void_is_finalized_afresh(backend: Backend) {
    let app = spawn_app(backend).await;
    let store = shop(&app).await;
    let (_, token) = app.create_customer(&store).await;
    let first = quote(&app, &store, &token, "Los Angeles", "CA", "90012").await;
    let order = first["order_id"].as_str().unwrap().to_owned();
    let path = format!("/api/v1/admin/orders/{order}/tax/finalize");
    let finalize = || send(&app, reqwest::Method::POST, &store.sandbox_key, &path, None);
    let a = authorize(&app, &token, &first).await;
    json_of(finalize().await, 200).await;
    act(&app, &store, &a, "void", None).await;
    assert_eq!(order_tax(&app, &store, &order).await["net"], 0);

    let body = json!({"order_id": order});
    let second = json_of(
        send(
            &app,
            reqwest::Method::POST,
            &token,
            "/api/v1/me/checkout/quote",
            Some(body),
        )
        .await,
        201,
    )
    .await;
    let b = authorize(&app, &token, &second).await;
    let tax = json_of(finalize().await, 200).await;
    assert_eq!(tax["net"], 1048, "{tax}");
    let total = second["totals"]["total"].as_i64().unwrap();
    act(&app, &store, &b, "capture", Some(total / 2)).await;
    assert_eq!(order_tax(&app, &store, &order).await["net"], 1048);
}

both_backends!(
    a_stacked_destination_is_taxed_and_stored_per_jurisdiction,
    without_nexus_a_destination_carries_no_tax_and_says_why,
    an_exemption_certificate_applies_until_revoked_and_stays_in_its_store,
    a_rate_change_is_honoured_from_its_date,
    captures_commit_tax_and_refunds_reverse_it_to_exactly_nothing,
    a_void_before_capture_commits_nothing,
    concurrent_captures_commit_the_tax_exactly_once,
    exports_add_up_to_the_ledger_and_download_again_byte_for_byte,
    finalizing_commits_in_full_once_and_releasing_takes_back_what_was_not_sold,
    a_second_payment_after_a_void_is_finalized_afresh,
);
