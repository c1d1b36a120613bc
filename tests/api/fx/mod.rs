//! Multi-currency end to end: rates imported by the platform admin, a store settling in USD
//! that sells in JPY, KWD, ISK and HUF, orders priced at a locked rate (or from a price list),
//! snapshots with settlement totals, payments recording both amounts, refunds converted at the
//! locked rate, stale rates refused and the provider's own minor units honoured.

mod rates;

use std::time::Duration;

use cassa::types::Environment;
use cassa_tests::{Backend, TestApp, TestStore, both_backends};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::{
    payments::Shop,
    support::{assert_problem, json_of},
};

/// ECB reference rates (per EUR) of the test clock's day: USD→JPY is exactly 150, USD→KWD
/// 0.308.
const ECB_DAY: &str = "Date, USD, JPY, KWD, ISK, HUF, \n\
15 January 2026, 1.0500, 157.50, 0.32340, 150.00, 400.00, \n";

pub(crate) async fn import_rates(
    app: &TestApp,
    format: &str,
    source: Option<&str>,
    data: &str,
) -> reqwest::Response {
    let admin = app.admin_token().await;
    app.client
        .post(app.url("/api/v1/platform/fx-rates/imports"))
        .bearer_auth(admin)
        .json(&json!({"format": format, "source": source, "data": data}))
        .send()
        .await
        .unwrap()
}

/// A request with a JSON body (and a fresh Idempotency-Key).
async fn send(
    app: &TestApp,
    method: reqwest::Method,
    token: &str,
    path: &str,
    body: Value,
) -> reqwest::Response {
    crate::support::send(app, method, token, path, Some(body)).await
}

/// A shop settling in USD, selling in JPY, KWD, ISK and HUF, with the day's rates imported.
async fn fx_shop(backend: Backend, policy: Value) -> Shop {
    let shop = crate::payments::shop::shop(backend).await;
    let summary = json_of(import_rates(&shop.app, "ecb_csv", None, ECB_DAY).await, 201).await;
    assert_eq!(summary["imported"], 5);
    let mut body = json!({"settlement_currency": "USD",
        "presentment_currencies": ["JPY", "KWD", "ISK", "HUF", "GBP"]});
    if let (Some(b), Some(p)) = (body.as_object_mut(), policy.as_object()) {
        b.extend(p.clone());
    }
    let stored = json_of(
        send(
            &shop.app,
            reqwest::Method::PUT,
            &shop.store.sandbox_key,
            "/api/v1/admin/fx-policy",
            body,
        )
        .await,
        200,
    )
    .await;
    assert_eq!(stored["configured"], true);
    shop
}

/// Tee 1999 USD (exclusive) and a food item 1190 USD (inclusive, untaxed in CA).
async fn products(app: &TestApp, store: &TestStore) -> (Value, Value) {
    let tee = json_of(
        send(
            app,
            reqwest::Method::POST,
            &store.sandbox_key,
            "/api/v1/admin/products",
            json!({"sku": format!("TEE-{}", Uuid::now_v7()), "name": "Tee", "unit_amount": 1999,
               "currency": "USD", "weight_grams": 200}),
        )
        .await,
        201,
    )
    .await;
    let snack = json_of(
        send(
            app,
            reqwest::Method::POST,
            &store.sandbox_key,
            "/api/v1/admin/products",
            json!({"sku": format!("SNACK-{}", Uuid::now_v7()), "name": "Snack", "unit_amount": 1190,
               "currency": "USD", "tax_code": "food", "weight_grams": 100,
               "price_includes_tax": true}),
        )
        .await,
        201,
    )
    .await;
    (tee, snack)
}

async fn order_in(shop: &Shop, currency: &str, tee: &Value, snack: &Value) -> reqwest::Response {
    send(&shop.app, reqwest::Method::POST, &shop.token, "/api/v1/me/orders", json!({
        "currency": currency,
        "items": [{"product_id": tee["id"], "quantity": 2}, {"product_id": snack["id"], "quantity": 1}],
        "shipping_address": {"name": "Ada", "line1": "1 Main St", "city": "Town", "subdivision": "CA",
                             "postal_code": "90001", "country": "US"},
    }))
    .await
}

async fn quote(shop: &Shop, order: &Value) -> reqwest::Response {
    send(
        &shop.app,
        reqwest::Method::POST,
        &shop.token,
        "/api/v1/me/checkout/quote",
        json!({"order_id": order["id"]}),
    )
    .await
}

async fn authorize(shop: &Shop, order: &Value, snapshot: &Value) -> reqwest::Response {
    let path = format!(
        "/api/v1/me/orders/{}/payments/authorize",
        order["id"].as_str().unwrap()
    );
    send(
        &shop.app,
        reqwest::Method::POST,
        &shop.token,
        &path,
        json!({"snapshot_id": snapshot["snapshot_id"], "payment_method": "pm_card_visa"}),
    )
    .await
}

/// What the PSP holds for the intent, in its own units.
async fn at_psp(shop: &Shop, intent: &Value) -> (i64, i64, i64) {
    let client = cassa_tests::sandbox_client(
        &shop.app.state,
        shop.store.id.parse().unwrap(),
        Environment::Sandbox,
        Duration::from_secs(5),
    )
    .await
    .unwrap();
    let t = client
        .get_transaction("fx-test", intent["provider_payment_id"].as_str().unwrap())
        .await
        .unwrap();
    (t.amount.0, t.captured.0, t.refunded.0)
}

fn transactions<'a>(detail: &'a Value, operation: &'a str) -> impl Iterator<Item = &'a Value> + 'a {
    detail["intents"][0]["transactions"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(move |t| t["operation"] == operation && t["status"] == "succeeded")
}

fn settled_sum(detail: &Value, operation: &str) -> i64 {
    transactions(detail, operation)
        .map(|t| t["settlement_amount"].as_i64().unwrap())
        .sum()
}

async fn a_jpy_order_is_priced_paid_and_refunded_at_its_locked_rate(backend: Backend) {
    let shop = fx_shop(backend, json!({})).await;
    let (tee, snack) = products(&shop.app, &shop.store).await;
    let order = json_of(order_in(&shop, "jpy", &tee, &snack).await, 201).await;
    assert_eq!(order["currency"], "JPY");
    assert_eq!(order["fx"]["rate"], "150");
    assert_eq!(order["fx"]["source"], "ecb");
    assert_eq!(order["fx"]["settlement_currency"], "USD");
    assert_eq!(order["fx"]["as_of"], "2026-01-15T00:00:00Z");
    // 19.99 USD × 150 = 2998.5 yen → 2999 (half away from zero); 11.90 × 150 = 1785.
    let items = order["items"].as_array().unwrap();
    assert_eq!(
        (
            items[0]["unit_amount"].as_i64(),
            items[0]["price_source"].as_str()
        ),
        (Some(2999), Some("converted"))
    );
    assert_eq!(items[1]["unit_amount"], 1785);

    let snapshot = json_of(quote(&shop, &order).await, 201).await;
    assert_eq!(snapshot["currency"], "JPY");
    // Shipping 5.00 USD converted (the store has no JPY rates): 750 yen. Tax 8.25% of 5998 =
    // 494.835 → 495. Total 5998 + 1785 + 750 + 495 = 9028 yen.
    assert_eq!(snapshot["totals"]["shipping"], 750);
    assert_eq!(snapshot["totals"]["tax"], 495);
    assert_eq!(snapshot["totals"]["total"], 9028);
    let fx = &snapshot["fx"];
    assert_eq!(
        (fx["rate"].as_str(), fx["markup_bps"].as_i64()),
        (Some("150"), Some(0))
    );
    // 9028 / 150 = 60.1866… USD → 6019 cents; the parts add up to it exactly.
    assert_eq!(fx["settlement_total"], 6019);
    let s = &fx["settlement"];
    assert_eq!(
        s["subtotal"].as_i64().unwrap()
            + s["shipping"].as_i64().unwrap()
            + s["tax"].as_i64().unwrap(),
        6019
    );
    assert_eq!(s["shipping"], 500);
    // The snapshot reads back as it was taken.
    let path = format!(
        "/api/v1/me/checkout/snapshots/{}",
        snapshot["snapshot_id"].as_str().unwrap()
    );
    let read = json_of(
        shop.app
            .client
            .get(shop.app.url(&path))
            .bearer_auth(&shop.token)
            .send()
            .await
            .unwrap(),
        200,
    )
    .await;
    assert_eq!(read["fx"], snapshot["fx"]);

    let intent = json_of(authorize(&shop, &order, &snapshot).await, 201).await;
    assert_eq!(
        (intent["currency"].as_str(), intent["amount"].as_i64()),
        (Some("JPY"), Some(9028))
    );
    assert_eq!(intent["settlement"]["currency"], "USD");
    assert_eq!(intent["settlement"]["amount"], 6019);
    // JPY has no minor unit at the PSP either.
    assert_eq!(at_psp(&shop, &intent).await.0, 9028);

    let order_id = order["id"].as_str().unwrap();
    json_of(
        shop.op(order_id, &intent, "capture", json!({"amount": 5000}))
            .await,
        200,
    )
    .await;
    let captured = json_of(shop.op(order_id, &intent, "capture", json!({})).await, 200).await;
    assert_eq!(captured["settlement"]["captured"], 6019);
    // Refunds a yen at a time convert as steps of the running total: 1, 0, 1 cents.
    for _ in 0..3 {
        json_of(
            shop.op(order_id, &intent, "refund", json!({"amount": 1}))
                .await,
            200,
        )
        .await;
    }
    let detail = shop.detail(order_id).await;
    let steps: Vec<i64> = transactions(&detail, "refund")
        .map(|t| t["settlement_amount"].as_i64().unwrap())
        .collect();
    assert_eq!(steps, vec![1, 0, 1]);
    assert_eq!(
        transactions(&detail, "capture")
            .map(|t| t["settlement_amount"].as_i64().unwrap())
            .collect::<Vec<_>>(),
        vec![3333, 2686]
    );
    assert!(transactions(&detail, "capture").all(|t| t["settlement_currency"] == "USD"));
    json_of(
        shop.op(order_id, &intent, "refund", json!({"amount": 9025}))
            .await,
        200,
    )
    .await;
    let detail = shop.detail(order_id).await;
    // Everything refunded: exactly what was captured, never a cent more.
    assert_eq!(settled_sum(&detail, "refund"), 6019);
    assert_eq!(settled_sum(&detail, "capture"), 6019);
    assert_eq!(detail["intents"][0]["settlement"]["refunded"], 6019);
    assert_eq!(at_psp(&shop, &intent).await, (9028, 9028, 9028));
}

async fn a_kwd_order_uses_three_decimals(backend: Backend) {
    let shop = fx_shop(backend, json!({})).await;
    let (tee, snack) = products(&shop.app, &shop.store).await;
    let order = json_of(order_in(&shop, "KWD", &tee, &snack).await, 201).await;
    // 0.3234 / 1.05 = 0.308 KWD per USD: 19.99 USD = 6.15692 KWD → 6157 fils; 11.90 → 3665.
    assert_eq!(order["fx"]["rate"], "0.308");
    let items = order["items"].as_array().unwrap();
    assert_eq!(
        (
            items[0]["unit_amount"].as_i64(),
            items[1]["unit_amount"].as_i64()
        ),
        (Some(6157), Some(3665))
    );
    let snapshot = json_of(quote(&shop, &order).await, 201).await;
    // Shipping 5.00 USD = 1.540 KWD; tax 8.25% of 12314 = 1015.905 → 1016 fils.
    assert_eq!(snapshot["totals"]["shipping"], 1540);
    assert_eq!(snapshot["totals"]["tax"], 1016);
    assert_eq!(snapshot["totals"]["total"], 18535);
    // 18.535 KWD / 0.308 = 60.1785… USD → 6018 cents.
    assert_eq!(snapshot["fx"]["settlement_total"], 6018);
    let intent = json_of(authorize(&shop, &order, &snapshot).await, 201).await;
    assert_eq!(at_psp(&shop, &intent).await.0, 18535);
    let order_id = order["id"].as_str().unwrap();
    json_of(shop.op(order_id, &intent, "capture", json!({})).await, 200).await;
    let refunded = json_of(
        shop.op(order_id, &intent, "refund", json!({"amount": 1000}))
            .await,
        200,
    )
    .await;
    // 1.000 KWD / 0.308 = 3.2467… USD → 325 cents.
    assert_eq!(refunded["settlement"]["refunded"], 325);
    assert_eq!(refunded["settlement"]["captured"], 6018);
}

async fn stale_missing_and_unoffered_rates_are_refused(backend: Backend) {
    let shop = fx_shop(backend, json!({"max_rate_age_secs": 45_000})).await;
    let (tee, snack) = products(&shop.app, &shop.store).await;
    assert_problem(
        order_in(&shop, "EUR", &tee, &snack).await,
        422,
        "currency_not_offered",
    )
    .await;
    // GBP is offered but no feed gave a GBP rate.
    assert_problem(
        order_in(&shop, "GBP", &tee, &snack).await,
        422,
        "fx_rate_missing",
    )
    .await;
    assert_problem(
        order_in(&shop, "XYZ", &tee, &snack).await,
        422,
        "validation_failed",
    )
    .await;
    // The products' own currency needs no rate.
    let usd = json_of(order_in(&shop, "USD", &tee, &snack).await, 201).await;
    assert_eq!(usd["fx"], Value::Null);
    assert_eq!(usd["items"][0]["price_source"], "catalogue");

    let order = json_of(order_in(&shop, "JPY", &tee, &snack).await, 201).await;
    // Half an hour and a second later the rate (fixed at midnight) is older than this store's
    // twelve and a half hours (the customer's token still lives).
    shop.app
        .clock
        .advance(chrono::Duration::minutes(30) + chrono::Duration::seconds(1));
    assert_problem(quote(&shop, &order).await, 422, "fx_rate_stale").await;
    assert_problem(
        order_in(&shop, "JPY", &tee, &snack).await,
        422,
        "fx_rate_stale",
    )
    .await;
    // Rates fixed at 12:30 make new orders possible again; the old order keeps its lock.
    let next = r#"{"base": "EUR", "timestamp": 1768480200, "rates": {"USD": 1.05, "JPY": 158.55}}"#;
    json_of(
        import_rates(&shop.app, "json", Some("ecb"), next).await,
        201,
    )
    .await;
    assert_problem(quote(&shop, &order).await, 422, "fx_rate_stale").await;
    let fresh = json_of(order_in(&shop, "JPY", &tee, &snack).await, 201).await;
    assert_eq!(fresh["fx"]["rate"], "151");
    json_of(quote(&shop, &fresh).await, 201).await;
}

async fn an_explicit_price_list_wins_over_conversion(backend: Backend) {
    let shop = fx_shop(backend, json!({"markup_bps": 200, "rounding": "up"})).await;
    let (tee, snack) = products(&shop.app, &shop.store).await;
    let path = format!(
        "/api/v1/admin/products/{}/prices",
        tee["id"].as_str().unwrap()
    );
    let priced = json_of(
        send(
            &shop.app,
            reqwest::Method::PUT,
            &shop.store.sandbox_key,
            &path,
            json!({"prices": [{"currency": "JPY", "unit_amount": 3000}]}),
        )
        .await,
        200,
    )
    .await;
    assert_eq!(
        priced["prices"],
        json!([{"currency": "JPY", "unit_amount": 3000}])
    );
    // Its own currency, or a currency twice, is not a price list.
    assert_problem(
        send(
            &shop.app,
            reqwest::Method::PUT,
            &shop.store.sandbox_key,
            &path,
            json!({"prices": [{"currency": "USD", "unit_amount": 1}]}),
        )
        .await,
        422,
        "validation_failed",
    )
    .await;
    assert_problem(send(&shop.app, reqwest::Method::PUT, &shop.store.sandbox_key, &path,
        json!({"prices": [{"currency": "JPY", "unit_amount": 1}, {"currency": "JPY", "unit_amount": 2}]})).await,
        422, "validation_failed").await;

    // Another store's product is not found, whatever the body.
    let other = shop.app.create_store("Other", "USD").await;
    assert_problem(
        send(
            &shop.app,
            reqwest::Method::PUT,
            &other.sandbox_key,
            &path,
            json!({"prices": []}),
        )
        .await,
        404,
        "not_found",
    )
    .await;

    let order = json_of(order_in(&shop, "JPY", &tee, &snack).await, 201).await;
    let items = order["items"].as_array().unwrap();
    assert_eq!(
        (
            items[0]["unit_amount"].as_i64(),
            items[0]["price_source"].as_str()
        ),
        (Some(3000), Some("price_list"))
    );
    // The snack converts with the 2% markup, rounded up: 11.90 × 150 × 1.02 = 1820.7 → 1821.
    assert_eq!(
        (
            items[1]["unit_amount"].as_i64(),
            items[1]["price_source"].as_str()
        ),
        (Some(1821), Some("converted"))
    );
    assert_eq!(order["fx"]["markup_bps"], 200);
    // Settlement converts back at the rate without the markup.
    let snapshot = json_of(quote(&shop, &order).await, 201).await;
    let total = snapshot["totals"]["total"].as_i64().unwrap();
    let settled = snapshot["fx"]["settlement_total"].as_i64().unwrap();
    assert_eq!(settled, (total * 100 + 75) / 150, "{snapshot}");
}

async fn the_providers_minor_units_are_honoured(backend: Backend) {
    let shop = fx_shop(backend, json!({})).await;
    let (tee, snack) = products(&shop.app, &shop.store).await;
    // ISK has no decimals (ISO 4217); the sandbox PSP writes it with two.
    let order = json_of(order_in(&shop, "ISK", &tee, &snack).await, 201).await;
    let snapshot = json_of(quote(&shop, &order).await, 201).await;
    let total = snapshot["totals"]["total"].as_i64().unwrap();
    let intent = json_of(authorize(&shop, &order, &snapshot).await, 201).await;
    assert_eq!(intent["amount"], total);
    assert_eq!(at_psp(&shop, &intent).await.0, total * 100);
    let order_id = order["id"].as_str().unwrap();
    let captured = json_of(
        shop.op(order_id, &intent, "capture", json!({"amount": 1000}))
            .await,
        200,
    )
    .await;
    assert_eq!(captured["captured_amount"], 1000);
    assert_eq!(at_psp(&shop, &intent).await.1, 100_000);

    // HUF has two decimals (ISO 4217); the sandbox PSP takes whole forints only, so a total
    // with fillér is refused before anything is recorded, never rounded.
    let order = json_of(order_in(&shop, "HUF", &tee, &snack).await, 201).await;
    let snapshot = json_of(quote(&shop, &order).await, 201).await;
    assert_ne!(
        snapshot["totals"]["total"].as_i64().unwrap() % 100,
        0,
        "{snapshot}"
    );
    assert_problem(
        authorize(&shop, &order, &snapshot).await,
        422,
        "amount_not_representable",
    )
    .await;
    let detail = shop.detail(order["id"].as_str().unwrap()).await;
    assert_eq!(detail["intents"], json!([]));
}

async fn whole_forints_are_paid_and_a_fraction_is_refused(backend: Backend) {
    let shop = fx_shop(backend, json!({})).await;
    let (tee, snack) = products(&shop.app, &shop.store).await;
    let key = &shop.store.sandbox_key;
    // Explicit prices and a shipping rate in whole forints; no tax is collected in France.
    for (product, amount) in [(&tee, 761_500), (&snack, 453_300)] {
        let path = format!(
            "/api/v1/admin/products/{}/prices",
            product["id"].as_str().unwrap()
        );
        let prices = json!({"prices": [{"currency": "HUF", "unit_amount": amount}]});
        json_of(
            send(&shop.app, reqwest::Method::PUT, key, &path, prices).await,
            200,
        )
        .await;
    }
    let rates = json!({"rates": [{"service": "standard", "country": "*",
        "max_weight_grams": 10000, "amount": 250_000, "currency": "HUF"}]});
    json_of(
        send(
            &shop.app,
            reqwest::Method::PUT,
            key,
            "/api/v1/admin/shipping/rates",
            rates,
        )
        .await,
        200,
    )
    .await;
    let order = json_of(send(&shop.app, reqwest::Method::POST, &shop.token, "/api/v1/me/orders", json!({
        "currency": "HUF",
        "items": [{"product_id": tee["id"], "quantity": 2}, {"product_id": snack["id"], "quantity": 1}],
        "shipping_address": {"name": "Ada", "line1": "1 rue de Rivoli", "city": "Paris",
                             "postal_code": "75001", "country": "FR"},
    })).await, 201).await;
    let snapshot = json_of(quote(&shop, &order).await, 201).await;
    assert_eq!(
        snapshot["totals"]["total"],
        2 * 761_500 + 453_300 + 250_000,
        "{snapshot}"
    );
    let intent = json_of(authorize(&shop, &order, &snapshot).await, 201).await;
    // 22,263.00 HUF is 22,263 at a PSP that counts whole forints.
    assert_eq!(at_psp(&shop, &intent).await.0, 22_263);
    let order_id = order["id"].as_str().unwrap();
    // 1,234.56 HUF cannot be captured there: refused, nothing reserved.
    assert_problem(
        shop.op(order_id, &intent, "capture", json!({"amount": 123_456}))
            .await,
        422,
        "amount_not_representable",
    )
    .await;
    let captured = json_of(
        shop.op(order_id, &intent, "capture", json!({"amount": 100_000}))
            .await,
        200,
    )
    .await;
    assert_eq!(captured["captured_amount"], 100_000);
    assert_eq!(at_psp(&shop, &intent).await.1, 1000);
    assert_problem(
        shop.op(order_id, &intent, "refund", json!({"amount": 99_999}))
            .await,
        422,
        "amount_not_representable",
    )
    .await;
}

both_backends!(
    a_jpy_order_is_priced_paid_and_refunded_at_its_locked_rate,
    a_kwd_order_uses_three_decimals,
    stale_missing_and_unoffered_rates_are_refused,
    an_explicit_price_list_wins_over_conversion,
    the_providers_minor_units_are_honoured,
    a_payment_in_other_units_reconciles,
    whole_forints_are_paid_and_a_fraction_is_refused,
);

async fn a_payment_in_other_units_reconciles(backend: Backend) {
    // The PSP lists payments by its own (wall-clock) creation times: rates of this hour.
    let shop = crate::reconciliation::recon_shop(backend, 500).await;
    let now = chrono::Utc::now().timestamp() - 60;
    let feed = format!(r#"{{"base": "USD", "timestamp": {now}, "rates": {{"ISK": 142.86}}}}"#);
    json_of(
        import_rates(&shop.app, "json", Some("test"), &feed).await,
        201,
    )
    .await;
    let policy = json!({"settlement_currency": "USD", "presentment_currencies": ["ISK"]});
    json_of(
        send(
            &shop.app,
            reqwest::Method::PUT,
            &shop.store.sandbox_key,
            "/api/v1/admin/fx-policy",
            policy,
        )
        .await,
        200,
    )
    .await;
    let (tee, snack) = products(&shop.app, &shop.store).await;
    let order = json_of(order_in(&shop, "ISK", &tee, &snack).await, 201).await;
    let snapshot = json_of(quote(&shop, &order).await, 201).await;
    let intent = json_of(authorize(&shop, &order, &snapshot).await, 201).await;
    let order_id = order["id"].as_str().unwrap();
    json_of(shop.op(order_id, &intent, "capture", json!({})).await, 200).await;
    // The PSP's list says 100 × our amounts; read in its units, they agree. (A run looks at
    // payments made before it was asked for.)
    shop.app.clock.advance(chrono::Duration::minutes(1));
    let run = crate::reconciliation::start(&shop).await;
    let run = crate::reconciliation::finish(&shop, &run).await;
    assert_eq!(
        (run["matched"].as_i64(), run["exceptions"].as_i64()),
        (Some(1), Some(0)),
        "{run}"
    );
}
