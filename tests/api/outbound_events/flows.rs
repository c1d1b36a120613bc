//! Shipments and reconciliation: a label bought, tracked to delivery by the carrier's webhooks
//! and another voided; a reconciliation run that finds a refund made in the processor's
//! dashboard. Each status reached, each exception and the completed run are events with the
//! objects the API returns.

use std::time::Duration;

use base64::Engine;

use cassa_tests::{Backend, SpawnOptions, both_backends, spawn_app_with};
use secrecy::ExposeSecret;
use serde_json::{Value, json};
use uuid::Uuid;

use super::{assert_envelope, events, get, of_type, one, types};
use crate::{
    payments::shop::Shop,
    support::{json_of, send},
};

async fn carrier_post(shop: &Shop, carrier_key: &str, path: &str) -> Value {
    let response = shop
        .app
        .client
        .post(shop.app.url(path))
        .bearer_auth(carrier_key)
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    json_of(response, 200).await
}

/// Moves the carrier's label of `tracking_number` one event on.
async fn advance(shop: &Shop, carrier_key: &str, tracking_number: &str) {
    let response = shop
        .app
        .client
        .get(shop.app.url("/sandbox-carrier/v1/labels?limit=100"))
        .bearer_auth(carrier_key)
        .send()
        .await
        .unwrap();
    let labels = json_of(response, 200).await;
    let label = labels["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["tracking_number"] == tracking_number)
        .expect("the carrier has the label")
        .clone();
    let path = format!(
        "/sandbox-carrier/v1/labels/{}/advance",
        label["id"].as_str().unwrap()
    );
    carrier_post(shop, carrier_key, &path).await;
}

/// Waits until the shipment has `events` tracking events and `status` (tracking webhooks are
/// processed in the background, by several workers: one step at a time keeps their order).
async fn wait_for(shop: &Shop, id: &str, events: usize, status: &str) -> Value {
    let path = format!("/api/v1/admin/shipments/{id}");
    for _ in 0..100 {
        let shipment = get(&shop.app, &shop.store.sandbox_key, &path).await;
        if shipment["status"] == status && shipment["tracking"].as_array().unwrap().len() == events
        {
            return shipment;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("shipment {id} never became {status} with {events} tracking events");
}

async fn a_shipment_s_statuses_are_events_with_the_shipment(backend: Backend) {
    // Webhook workers on: the carrier's tracking reaches the shipments.
    let app = spawn_app_with(
        backend,
        SpawnOptions {
            configure: Some(Box::new(|c| c.provider_timeout = Duration::from_secs(5))),
            ..Default::default()
        },
    )
    .await;
    let store = app.create_store("Parcels", "USD").await;
    crate::checkout::configure(&app, &store).await;
    let (_, token) = app.create_customer(&store).await;
    let shop = Shop { app, store, token };
    let key = shop.store.sandbox_key.clone();
    let carrier_key = format!("scr_{}", Uuid::now_v7().simple());
    let secret = base64::engine::general_purpose::STANDARD.encode([7u8; 32]);
    let credentials = json!({"api_key": carrier_key, "webhook_secret": format!("whsec_{secret}")});
    let path = "/api/v1/admin/credentials/sandbox_carrier/sandbox";
    let response = send(
        &shop.app,
        reqwest::Method::PUT,
        &key,
        path,
        Some(credentials),
    )
    .await;
    json_of(response, 200).await;
    let settings = json!({"ship_from": {"name": "Parcels", "line1": "500 Congress Ave",
        "city": "Austin", "subdivision": "TX", "postal_code": "78701", "country": "US"}});
    let path = "/api/v1/admin/shipping/settings";
    json_of(
        send(&shop.app, reqwest::Method::PUT, &key, path, Some(settings)).await,
        200,
    )
    .await;

    // Bought, then tracked to its door.
    let (order, _) = shop.authorized().await;
    let shipment = crate::shipments::buy_label(&shop.app, &key, &order).await;
    let id = shipment["id"].as_str().unwrap().to_owned();
    let tracking = shipment["tracking_number"].as_str().unwrap().to_owned();
    let steps = ["in_transit", "in_transit", "out_for_delivery", "delivered"];
    let mut delivered = Value::Null;
    for (n, status) in steps.into_iter().enumerate() {
        advance(&shop, &carrier_key, &tracking).await;
        delivered = wait_for(&shop, &id, n + 2, status).await;
    }

    // Another bought and voided before pickup.
    let (other, _) = shop.authorized().await;
    let second = crate::shipments::buy_label(&shop.app, &key, &other).await;
    let second_id = second["id"].as_str().unwrap().to_owned();
    let path = format!("/api/v1/admin/shipments/{second_id}/void");
    let voided = json_of(
        send(
            &shop.app,
            reqwest::Method::POST,
            &key,
            &path,
            Some(json!({})),
        )
        .await,
        200,
    )
    .await;

    let all = events(&shop.app, &shop.store.id).await;
    let shipment_events: Vec<&Value> = all
        .iter()
        .filter(|e| e["type"].as_str().unwrap().starts_with("shipment."))
        .collect();
    let of = |id: &str| -> Vec<&str> {
        shipment_events
            .iter()
            .filter(|e| e["data"]["object"]["id"] == id)
            .map(|e| e["type"].as_str().unwrap())
            .collect()
    };
    assert_eq!(
        of(&id),
        [
            "shipment.label_purchased",
            "shipment.in_transit",
            "shipment.out_for_delivery",
            "shipment.delivered",
        ]
    );
    assert_eq!(
        of(&second_id),
        ["shipment.label_purchased", "shipment.voided"]
    );
    for event in &shipment_events {
        assert_envelope(event, &shop.store.id);
    }
    // The purchase's object is what the purchase answered; the last ones are the shipments as
    // GET returns them now.
    let purchased = of_type(&all, "shipment.label_purchased");
    assert_eq!(purchased[0]["data"]["object"], shipment);
    assert_eq!(purchased[1]["data"]["object"], second);
    assert_eq!(one(&all, "shipment.delivered")["data"]["object"], delivered);
    let voided_event = one(&all, "shipment.voided");
    assert_eq!(voided_event["data"]["object"], voided);
    assert_eq!(voided_event["data"]["object"]["status"], "cancelled");
    let in_transit = &one(&all, "shipment.in_transit")["data"]["object"];
    assert_eq!(in_transit["status"], "in_transit");
    assert!(
        in_transit["history"]
            .as_array()
            .unwrap()
            .iter()
            .any(|h| h["kind"] == "status_changed"),
        "the change that emitted it is in its history: {in_transit}"
    );
}

async fn a_reconciliation_run_s_exceptions_and_its_completion_are_events(backend: Backend) {
    let shop = crate::reconciliation::recon_shop(backend, 500).await;
    crate::reconciliation::captured(&shop).await;
    let (drifted, intent) = crate::reconciliation::captured(&shop).await;
    // Refunded in the processor's dashboard: the run finds an amount mismatch.
    let secrets = shop.sandbox_secrets().await;
    let psp_key = secrets.get("api_key").unwrap().expose_secret().to_owned();
    let path = format!(
        "/sandbox-psp/v1/test/payments/{}/refund",
        intent["provider_payment_id"].as_str().unwrap()
    );
    let response = shop
        .app
        .client
        .post(shop.app.url(&path))
        .bearer_auth(psp_key)
        .json(&json!({"amount": 1000}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let before = events(&shop.app, &shop.store.id).await.len();

    // Past the threshold within which a difference may still be on its way.
    shop.app.clock.advance(chrono::Duration::hours(2));
    let run = crate::reconciliation::start(&shop).await;
    let run = crate::reconciliation::finish(&shop, &run).await;
    let items = crate::reconciliation::items(&shop, &run).await;
    assert_eq!(items.len(), 1, "{items:?}");
    assert_eq!(items[0]["order_id"], drifted.as_str());

    let all = events(&shop.app, &shop.store.id).await;
    assert_eq!(
        types(&all[before..]),
        [
            "reconciliation.exception_opened",
            "reconciliation.run_completed"
        ]
    );
    for event in &all[before..] {
        assert_envelope(event, &shop.store.id);
    }
    let opened = &all[before]["data"]["object"];
    assert_eq!(opened, &items[0]);
    assert_eq!(opened["kind"], "amount_mismatch");
    assert_eq!(all[before + 1]["data"]["object"], run);
    assert_eq!(run["exceptions"], 1);
}

both_backends!(
    a_shipment_s_statuses_are_events_with_the_shipment,
    a_reconciliation_run_s_exceptions_and_its_completion_are_events,
);
