//! Tracking from the carrier's signed webhooks: late and duplicate events never move a
//! shipment back.

use std::time::Duration;

use cassa_tests::{Backend, both_backends};
use serde_json::{Value, json};
use uuid::Uuid;

use super::{Shop, shop, webhook_secret};
use crate::support::json_of;

/// Signed like the carrier signs, straight to this server: whether it was new.
async fn deliver(shop: &Shop, payload: Value) -> bool {
    let body = payload.to_string();
    let id = payload["id"].as_str().unwrap();
    let now = chrono::Utc::now().timestamp();
    let signature =
        cassa_sandbox_psp::sign_standard(&webhook_secret(), id, now, body.as_bytes()).unwrap();
    let response = shop
        .app
        .client
        .post(shop.app.url(&format!(
            "/api/v1/webhooks/sandbox_carrier/{}",
            shop.store.id
        )))
        .header("webhook-id", id)
        .header("webhook-timestamp", now.to_string())
        .header("webhook-signature", signature)
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .unwrap();
    let received = json_of(response, 200).await;
    !received["duplicate"].as_bool().unwrap()
}

fn event(label: &str, sequence: i64, code: &str) -> Value {
    json!({"id": format!("evt_{}", Uuid::now_v7().simple()), "type": "tracker.updated",
        "created_at": "2026-12-01T10:00:00Z",
        "data": {"label_id": label, "tracking_number": "x", "reference": null,
            "sequence": sequence, "code": code, "description": code,
            "occurred_at": "2026-12-01T10:00:00Z", "location": null}})
}

async fn late_and_duplicate_tracking_events_never_move_a_shipment_back(backend: Backend) {
    let shop = shop(backend).await;
    let order = shop.order_to("90001").await;
    let rates = shop.rates(&order).await;
    let ground = Shop::carrier_rate(&rates, "ground").clone();
    shop.pay(&order, ground["id"].as_str()).await;
    let shipment = json_of(shop.buy(&order, json!({})).await, 201).await;
    let id = shipment["id"].as_str().unwrap();
    let label = shop
        .carrier_labels()
        .await
        .into_iter()
        .find(|l| l["tracking_number"] == shipment["tracking_number"])
        .unwrap();
    let label = label["id"].as_str().unwrap();
    // Out for delivery arrives first; the earlier events straggle in after it, one twice.
    assert!(deliver(&shop, event(label, 4, "OUT_FOR_DELIVERY")).await);
    shop.wait_for(id, "out_for_delivery").await;
    let late = event(label, 2, "PICKED_UP");
    assert!(deliver(&shop, late.clone()).await);
    assert!(
        !deliver(&shop, late).await,
        "a redelivery is acknowledged, once"
    );
    // The same position again under another event id: stored, and a no-op on the timeline.
    assert!(deliver(&shop, event(label, 2, "PICKED_UP")).await);
    assert!(deliver(&shop, event(label, 3, "IN_TRANSIT")).await);
    tokio::time::sleep(Duration::from_millis(800)).await;
    let shipment = shop.wait_for(id, "out_for_delivery").await;
    let sequences: Vec<i64> = shipment["tracking"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["sequence"].as_i64().unwrap())
        .collect();
    assert_eq!(sequences, [1, 2, 3, 4], "each position once, in order");
    assert!(deliver(&shop, event(label, 5, "DELIVERED")).await);
    shop.wait_for(id, "delivered").await;
}
both_backends!(late_and_duplicate_tracking_events_never_move_a_shipment_back);
