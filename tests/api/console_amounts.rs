//! Issue #21: the console takes capture and refund amounts in major units, read in the
//! payment's currency, and refuses what the currency cannot represent.

use cassa_tests::{Backend, both_backends};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::console::{admin_session, server_fn};
use crate::payments::shop;

async fn act(
    shop: &shop::Shop,
    cookie: &str,
    order: &str,
    intent: &str,
    action: &str,
    amount: &str,
) -> (bool, String) {
    let key = Uuid::now_v7().to_string();
    let response = server_fn(
        &shop.app,
        "payment_action",
        &[
            ("order_id", order),
            ("intent_id", intent),
            ("action", action),
            ("amount", amount),
            ("reason", ""),
            ("idempotency_key", &key),
            ("confirm", "yes"),
        ],
        cookie,
    )
    .await;
    let ok = response.status().is_success();
    (ok, response.text().await.unwrap())
}

async fn amounts_are_typed_in_major_units_of_the_payments_currency(backend: Backend) {
    let shop = shop::shop(backend).await;
    let (order, intent) = shop.authorized().await;
    let intent = intent["id"].as_str().unwrap().to_owned();
    let cookie = admin_session(&shop.app).await;
    let selected = server_fn(
        &shop.app,
        "select",
        &[("store_id", &shop.store.id)],
        &cookie,
    )
    .await;
    assert!(selected.status().is_success() || selected.status().is_redirection());

    for (typed, why) in [
        ("20.005", "USD amounts have 2 decimal place(s)"),
        ("2000x", "enter an amount such as 12.34"),
        ("-5", "enter an amount such as 12.34"),
    ] {
        let (ok, text) = act(&shop, &cookie, &order, &intent, "capture", typed).await;
        assert!(!ok && text.contains(why), "{typed}: {text}");
    }
    let (ok, text) = act(&shop, &cookie, &order, &intent, "capture", "20.00").await;
    assert!(ok, "{text}");
    assert!(text.contains("capture of $20.00 USD: done"), "{text}");
    let (ok, text) = act(&shop, &cookie, &order, &intent, "refund", "7.5").await;
    assert!(ok, "{text}");
    assert!(text.contains("refund of $7.50 USD: done"), "{text}");

    let detail: Value = shop
        .app
        .client
        .get(
            shop.app
                .url(&format!("/api/v1/admin/orders/{order}/payments")),
        )
        .bearer_auth(&shop.store.sandbox_key)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let paid = &detail["intents"][0];
    assert_eq!(paid["captured_amount"], json!(2000), "{detail}");
    assert_eq!(paid["refunded_amount"], json!(750), "{detail}");

    // The ledger's amount filters are typed the same way, in the store's currency.
    let ledger = |min: &'static str, max: &'static str| {
        let cookie = cookie.clone();
        let shop = &shop;
        async move {
            let response = server_fn(
                &shop.app,
                "payments",
                &[("min_amount", min), ("max_amount", max)],
                &cookie,
            )
            .await;
            let ok = response.status().is_success();
            (ok, response.text().await.unwrap())
        }
    };
    let (ok, text) = ledger("0.01", "").await;
    assert!(ok && text.contains(&intent), "{text}");
    let (ok, text) = ledger("", "0.01").await;
    assert!(ok && !text.contains(&intent), "{text}");
    let (ok, text) = ledger("0.001", "").await;
    assert!(
        !ok && text.contains("USD amounts have 2 decimal place(s)"),
        "{text}"
    );

    // The REST ledger filters by currency (the console passes the store's with its amounts).
    for (currency, listed) in [("USD", true), ("EUR", false)] {
        let page: Value = shop
            .app
            .client
            .get(
                shop.app
                    .url(&format!("/api/v1/admin/payments?currency={currency}")),
            )
            .bearer_auth(&shop.store.sandbox_key)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let found = page["data"]
            .as_array()
            .unwrap()
            .iter()
            .any(|i| i["id"] == intent.as_str());
        assert_eq!(found, listed, "{currency}: {page}");
    }
    let refused = shop
        .app
        .client
        .get(shop.app.url("/api/v1/admin/payments?currency=XYZ"))
        .bearer_auth(&shop.store.sandbox_key)
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 422);

    // Another store's payment is not found, whatever was typed: its currency is never read
    // out through the message.
    let other = shop.app.create_store("Other", "JPY").await;
    let selected = server_fn(&shop.app, "select", &[("store_id", &other.id)], &cookie).await;
    assert!(selected.status().is_success() || selected.status().is_redirection());
    let (ok, text) = act(&shop, &cookie, &order, &intent, "capture", "1.005").await;
    assert!(!ok && !text.contains("decimal"), "{text}");
}

async fn the_order_page_shows_customer_lines_address_and_paid_totals(backend: Backend) {
    let shop = shop::shop(backend).await;
    let (order, intent) = shop.authorized().await;
    let cookie = admin_session(&shop.app).await;
    server_fn(
        &shop.app,
        "select",
        &[("store_id", &shop.store.id)],
        &cookie,
    )
    .await;
    let response = server_fn(
        &shop.app,
        "order_payments",
        &[("order_id", &order)],
        &cookie,
    )
    .await;
    assert!(response.status().is_success());
    let page: Value = response.json().await.unwrap();
    let summary = &page["summary"];

    let api: Value = shop
        .app
        .client
        .get(shop.app.url(&format!("/api/v1/admin/orders/{order}")))
        .bearer_auth(&shop.store.sandbox_key)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(summary["customer_id"], api["customer_id"], "{page}");
    let lines = summary["lines"].as_array().unwrap();
    let items = api["items"].as_array().unwrap();
    assert_eq!(lines.len(), items.len());
    for (line, item) in lines.iter().zip(items) {
        assert_eq!(line["sku"], item["sku"]);
        assert_eq!(line["quantity"], item["quantity"]);
    }
    let address = api["shipping_address"]["line1"].as_str().unwrap();
    assert!(
        summary["address"]
            .as_array()
            .unwrap()
            .iter()
            .any(|l| l == address),
        "{summary}"
    );
    // The totals are the paid snapshot's: its total is what was authorized.
    assert_eq!(summary["quoted"], true);
    let totals = summary["totals"].as_array().unwrap();
    let labels: Vec<&str> = totals.iter().map(|t| t[0].as_str().unwrap()).collect();
    assert_eq!(labels, ["Subtotal", "Shipping", "Tax", "Total"]);
    let amount = intent["amount"].as_i64().unwrap();
    let total = format!("${}.{:02} USD", amount / 100, amount % 100);
    assert_eq!(totals[3][1], json!(total), "{summary}");

    // Another store's order is not shown.
    let other = shop.app.create_store("Other", "USD").await;
    server_fn(&shop.app, "select", &[("store_id", &other.id)], &cookie).await;
    let response = server_fn(
        &shop.app,
        "order_payments",
        &[("order_id", &order)],
        &cookie,
    )
    .await;
    assert!(!response.status().is_success());
}

/// What a list server function answers for a day range.
async fn listed(shop: &shop::Shop, cookie: &str, fun: &str, day: &str) -> String {
    let response = server_fn(&shop.app, fun, &[("from", day), ("to", day)], cookie).await;
    assert!(response.status().is_success());
    response.text().await.unwrap()
}

async fn ledger_and_order_days_are_the_stores_days(backend: Backend) {
    let shop = shop::shop(backend).await;
    // The test clock says 2026-01-15 12:00 UTC: already 2026-01-16 in Kiritimati (UTC+14).
    let (order, intent) = shop.authorized().await;
    let intent = intent["id"].as_str().unwrap().to_owned();
    let cookie = admin_session(&shop.app).await;
    server_fn(
        &shop.app,
        "select",
        &[("store_id", &shop.store.id)],
        &cookie,
    )
    .await;
    // In UTC the payment is the 15th's.
    assert!(
        listed(&shop, &cookie, "payments", "2026-01-15")
            .await
            .contains(&intent)
    );
    assert!(
        listed(&shop, &cookie, "orders_page", "2026-01-15")
            .await
            .contains(&order)
    );
    let changed = server_fn(
        &shop.app,
        "update_store_profile",
        &[("name", "Shop"), ("timezone", "Pacific/Kiritimati")],
        &cookie,
    )
    .await;
    assert!(
        changed.status().is_success(),
        "{}",
        changed.text().await.unwrap()
    );
    // The console reads the zone at sign-in: a fresh session sees it.
    let cookie = admin_session(&shop.app).await;
    server_fn(
        &shop.app,
        "select",
        &[("store_id", &shop.store.id)],
        &cookie,
    )
    .await;
    for (fun, id) in [("payments", &intent), ("orders_page", &order)] {
        assert!(
            !listed(&shop, &cookie, fun, "2026-01-15").await.contains(id),
            "{fun}"
        );
        assert!(
            listed(&shop, &cookie, fun, "2026-01-16").await.contains(id),
            "{fun}"
        );
    }
}

both_backends!(
    ledger_and_order_days_are_the_stores_days,
    the_order_page_shows_customer_lines_address_and_paid_totals,
    amounts_are_typed_in_major_units_of_the_payments_currency
);
