//! Shipments end to end: rates from the hosted sandbox carrier and the rate table, a quote that
//! freezes a carrier rate, payment, the label, tracking from the carrier's signed webhooks, and
//! the refusals (duplicate purchase, price drift, undeliverable address, void after pickup, a
//! carrier that answers too late).

use cassa_tests::{Backend, TestApp, both_backends};
use serde_json::{Value, json};
use uuid::Uuid;

mod purchases;
mod shop;
mod tracking;

use shop::{Shop, post, shop, shop_with, webhook_secret};

use crate::support::{assert_problem, json_of, send};

async fn rates_quote_pay_buy_track_deliver(backend: Backend) {
    let shop = shop(backend).await;
    let order = shop.order_to("90001").await;
    let rates = shop.rates(&order).await;
    // Three carrier services and the store's own table, cheapest first.
    for service in ["ground", "express", "overnight"] {
        Shop::carrier_rate(&rates, service);
    }
    assert!(
        rates["rates"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["provider"] == "table_rate")
    );
    let amounts: Vec<i64> = rates["rates"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["amount"].as_i64().unwrap())
        .collect();
    assert!(amounts.windows(2).all(|w| w[0] <= w[1]), "{amounts:?}");
    assert!(!rates["packages"].as_array().unwrap().is_empty());

    let ground = Shop::carrier_rate(&rates, "ground").clone();
    let snapshot = shop.pay(&order, ground["id"].as_str()).await;
    assert_eq!(snapshot["totals"]["shipping"], ground["amount"]);
    assert_eq!(snapshot["provider"]["shipping"], "sandbox_carrier");
    assert_eq!(snapshot["provider"]["shipping_rate_id"], ground["id"]);
    let expiry = |v: &Value| {
        v.as_str()
            .unwrap()
            .parse::<chrono::DateTime<chrono::Utc>>()
            .unwrap()
    };
    assert!(expiry(&snapshot["expires_at"]) <= expiry(&ground["expires_at"]));

    let shipment = json_of(shop.buy(&order, json!({})).await, 201).await;
    assert_eq!(shipment["status"], "pre_transit", "{shipment}");
    assert_eq!(shipment["amount"], ground["amount"]);
    let id = shipment["id"].as_str().unwrap().to_owned();
    let tracking = shipment["tracking_number"].as_str().unwrap().to_owned();
    assert!(tracking.starts_with("SC"), "{tracking}");

    // A second purchase for the same order is refused; the carrier sold one label.
    assert_problem(shop.buy(&order, json!({})).await, 409, "shipment_exists").await;
    assert_eq!(shop.carrier_labels().await.len(), 1);

    // The label documents: a PDF and ZPL that carries the tracking number.
    let label = |format: &str| {
        shop.app
            .client
            .get(shop.app.url(&format!(
                "/api/v1/admin/shipments/{id}/label?format={format}"
            )))
            .bearer_auth(&shop.store.sandbox_key)
            .send()
    };
    let pdf = label("pdf").await.unwrap();
    assert_eq!(pdf.headers()["content-type"], "application/pdf");
    assert!(pdf.bytes().await.unwrap().starts_with(b"%PDF"));
    let zpl = label("zpl").await.unwrap().text().await.unwrap();
    assert!(zpl.contains(&tracking), "{zpl}");

    // Tracking: the carrier's webhooks move it to delivered.
    shop.advance(&tracking).await;
    shop.wait_for(&id, "in_transit").await;
    for _ in 0..3 {
        shop.advance(&tracking).await;
    }
    let delivered = shop.wait_for(&id, "delivered").await;
    let codes: Vec<&str> = delivered["tracking"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["raw_code"].as_str().unwrap())
        .collect();
    assert_eq!(
        codes,
        [
            "LABEL_CREATED",
            "PICKED_UP",
            "IN_TRANSIT",
            "OUT_FOR_DELIVERY",
            "DELIVERED"
        ]
    );
    let kinds: Vec<&str> = delivered["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds[..2], ["purchase_started", "purchased"]);

    // The customer sees the timeline, without the store's label links.
    let response = shop
        .app
        .client
        .get(
            shop.app
                .url(&format!("/api/v1/me/orders/{order}/shipping/tracking")),
        )
        .bearer_auth(&shop.token)
        .send()
        .await
        .unwrap();
    let mine = json_of(response, 200).await;
    assert_eq!(mine[0]["status"], "delivered");
    assert_eq!(mine[0]["tracking"].as_array().unwrap().len(), 5);
    // Nothing of the store's side: no label, cost, or who did what.
    for private in ["label", "amount", "history", "rate_id"] {
        assert!(
            mine[0][private].is_null(),
            "{private} shown to the customer: {mine}"
        );
    }

    // The list, filtered; another store sees none of it.
    let response = shop
        .app
        .client
        .get(
            shop.app
                .url("/api/v1/admin/shipments?status=delivered&carrier=sandbox_carrier"),
        )
        .bearer_auth(&shop.store.sandbox_key)
        .send()
        .await
        .unwrap();
    let page = json_of(response, 200).await;
    assert_eq!(page["data"][0]["id"], id.as_str());
    let other = shop.app.create_store("Other", "USD").await;
    let response = shop
        .app
        .client
        .get(shop.app.url(&format!("/api/v1/admin/shipments/{id}")))
        .bearer_auth(&other.sandbox_key)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 404);
}

async fn a_price_change_needs_acceptance(backend: Backend) {
    let shop = shop(backend).await;
    let order = shop.order_to("90001").await;
    // Paid with the rate table's price: there is no carrier rate to buy by default.
    let snapshot = shop.pay(&order, None).await;
    let refused = shop.buy(&order, json!({})).await;
    assert_problem(refused, 422, "validation_failed").await;
    let rates = json_of(
        post(
            &shop.app,
            &shop.store.sandbox_key,
            &format!("/api/v1/admin/orders/{order}/shipping/rates"),
            json!({}),
        )
        .await,
        200,
    )
    .await;
    let express = Shop::carrier_rate(&rates, "express");
    assert_ne!(express["amount"], snapshot["totals"]["shipping"]);
    let drift = shop.buy(&order, json!({"rate_id": express["id"]})).await;
    assert_problem(drift, 409, "shipping_price_changed").await;
    assert!(shop.carrier_labels().await.is_empty());
    let accepted = shop
        .buy(
            &order,
            json!({"rate_id": express["id"], "accept_price_change": true}),
        )
        .await;
    let shipment = json_of(accepted, 201).await;
    assert_eq!(shipment["service"], "express");
    assert_eq!(shipment["amount"], express["amount"]);
}

async fn unpaid_orders_and_undeliverable_addresses_do_not_ship(backend: Backend) {
    let shop = shop(backend).await;
    let order = shop.order_to("90001").await;
    let rates = shop.rates(&order).await;
    let ground = Shop::carrier_rate(&rates, "ground");
    let unpaid = shop.buy(&order, json!({"rate_id": ground["id"]})).await;
    assert_problem(unpaid, 409, "order_not_paid").await;

    let nowhere = shop.order_to("00000").await;
    let response = post(
        &shop.app,
        &shop.token,
        &format!("/api/v1/me/orders/{nowhere}/shipping/rates"),
        json!({}),
    )
    .await;
    // The rate table still prices it (it knows no addresses); the carrier's refusal is named.
    let rates = json_of(response, 200).await;
    assert!(
        rates["rates"]
            .as_array()
            .unwrap()
            .iter()
            .all(|r| r["provider"] != "sandbox_carrier")
    );
    assert_eq!(
        rates["errors"][0]["code"], "address_undeliverable",
        "{rates}"
    );
}

async fn a_label_is_voided_only_before_pickup(backend: Backend) {
    let shop = shop(backend).await;
    let order = shop.order_to("90001").await;
    let rates = shop.rates(&order).await;
    let ground = Shop::carrier_rate(&rates, "ground").clone();
    shop.pay(&order, ground["id"].as_str()).await;
    let first = json_of(shop.buy(&order, json!({})).await, 201).await;
    let id = first["id"].as_str().unwrap();
    let voided = post(
        &shop.app,
        &shop.store.sandbox_key,
        &format!("/api/v1/admin/shipments/{id}/void"),
        json!({}),
    )
    .await;
    let voided = json_of(voided, 200).await;
    assert_eq!(voided["status"], "cancelled");
    // A refunded label is never printed again.
    assert!(voided["label"].is_null(), "{voided}");
    let label = shop
        .app
        .client
        .get(shop.app.url(&format!("/api/v1/admin/shipments/{id}/label")))
        .bearer_auth(&shop.store.sandbox_key)
        .send()
        .await
        .unwrap();
    assert_eq!(label.status(), 404);
    // A voided label frees the order for another one, at a new rate (the carrier sells a rate
    // once).
    let rates = json_of(
        post(
            &shop.app,
            &shop.store.sandbox_key,
            &format!("/api/v1/admin/orders/{order}/shipping/rates"),
            json!({}),
        )
        .await,
        200,
    )
    .await;
    let again = Shop::carrier_rate(&rates, "ground");
    assert_eq!(
        again["amount"], ground["amount"],
        "the same price: no acceptance needed"
    );
    let second = json_of(shop.buy(&order, json!({"rate_id": again["id"]})).await, 201).await;
    let second_id = second["id"].as_str().unwrap();
    shop.advance(second["tracking_number"].as_str().unwrap())
        .await;
    shop.wait_for(second_id, "in_transit").await;
    let late = post(
        &shop.app,
        &shop.store.sandbox_key,
        &format!("/api/v1/admin/shipments/{second_id}/void"),
        json!({}),
    )
    .await;
    assert_problem(late, 409, "invalid_state_transition").await;
}

async fn capture_on_shipment_captures_the_authorization(backend: Backend) {
    let shop = shop(backend).await;
    let settings = json!({
        "ship_from": {"name": "Parcels Inc", "line1": "500 Congress Ave", "city": "Austin",
                      "subdivision": "TX", "postal_code": "78701", "country": "US"},
        "capture_on_shipment": true,
    });
    let response = send(
        &shop.app,
        reqwest::Method::PUT,
        &shop.store.sandbox_key,
        "/api/v1/admin/shipping/settings",
        Some(settings),
    )
    .await;
    assert_eq!(json_of(response, 200).await["capture_on_shipment"], true);
    let order = shop.order_to("90001").await;
    let rates = shop.rates(&order).await;
    let ground = Shop::carrier_rate(&rates, "ground").clone();
    let snapshot = shop.pay(&order, ground["id"].as_str()).await;
    json_of(shop.buy(&order, json!({})).await, 201).await;
    let response = shop
        .app
        .client
        .get(
            shop.app
                .url(&format!("/api/v1/admin/orders/{order}/payments")),
        )
        .bearer_auth(&shop.store.sandbox_key)
        .send()
        .await
        .unwrap();
    let payments = json_of(response, 200).await;
    let intent = &payments["intents"][0];
    assert_eq!(intent["status"], "captured", "{payments}");
    assert_eq!(intent["captured_amount"], snapshot["totals"]["total"]);
}

/// A label for a paid order of the store of `key`: the sandbox carrier's account, a ship-from
/// address, a carrier rate (at whatever price) and the purchase. The shipment.
pub(crate) async fn ship_paid_order(app: &TestApp, key: &str, order: &str) -> Value {
    let credentials = json!({"api_key": format!("scr_{}", Uuid::now_v7().simple()),
        "webhook_secret": webhook_secret()});
    let path = "/api/v1/admin/credentials/sandbox_carrier/sandbox";
    json_of(
        send(app, reqwest::Method::PUT, key, path, Some(credentials)).await,
        200,
    )
    .await;
    let settings = json!({"ship_from": {"name": "Shop", "line1": "500 Congress Ave",
        "city": "Austin", "subdivision": "TX", "postal_code": "78701", "country": "US"}});
    let path = "/api/v1/admin/shipping/settings";
    json_of(
        send(app, reqwest::Method::PUT, key, path, Some(settings)).await,
        200,
    )
    .await;
    buy_label(app, key, order).await
}

/// Buys a ground label for a paid order of a store that keeps sandbox carrier credentials
/// and a ship-from address. The shipment.
pub(crate) async fn buy_label(app: &TestApp, key: &str, order: &str) -> Value {
    let path = format!("/api/v1/admin/orders/{order}/shipping/rates");
    let rates = json_of(post(app, key, &path, json!({})).await, 200).await;
    let rate = Shop::carrier_rate(&rates, "ground");
    let path = format!("/api/v1/admin/orders/{order}/shipments");
    let body = json!({"rate_id": rate["id"], "accept_price_change": true});
    json_of(post(app, key, &path, body).await, 201).await
}

both_backends!(
    rates_quote_pay_buy_track_deliver,
    a_price_change_needs_acceptance,
    unpaid_orders_and_undeliverable_addresses_do_not_ship,
    a_label_is_voided_only_before_pickup,
    capture_on_shipment_captures_the_authorization,
);
