//! What the harness waits for and reads on a restarted server: the shop settled (the resolver
//! and workers done), a reconciliation run or a rotation ended.

use std::time::{Duration, Instant};

use cassa_tests::shop::{Api, Store};
use reqwest::Method;
use serde_json::Value;

use crate::Run;

/// How long the restarted server may take to settle what the dead one left.
const RECOVERY: Duration = Duration::from_secs(90);

/// The store's shipments (the newest 100: a shop of the harness has one).
pub async fn shipments(api: &Api, store: &Store) -> Vec<Value> {
    let answer = api
        .send(
            Method::GET,
            "/api/v1/admin/shipments?limit=100",
            &store.key,
            None,
            None,
        )
        .await;
    assert_eq!(answer.status, 200, "shipments: {}", answer.body);
    answer.json()["data"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

/// Waits until the shop has no open payment transaction, no webhook event left to
/// process and no label purchase open (the resolver and the workers of the restarted server at work).
pub async fn settle(run: &Run, shop_index: usize) {
    let shop = &run.shops[shop_index];
    let started = Instant::now();
    loop {
        let mut open = Vec::new();
        for order in &shop.orders {
            let payments = run.api.payments(&shop.store, order).await;
            for intent in payments["intents"].as_array().cloned().unwrap_or_default() {
                for t in cassa_tests::ledger::txns(&intent) {
                    if matches!(t["status"].as_str(), Some("pending" | "unknown")) {
                        open.push(format!("{} {}", t["operation"], t["status"]));
                    }
                }
            }
        }
        for event in crate::checks::events(&run.api, &shop.store).await {
            if event["status"] != "processed" {
                open.push(format!(
                    "event {} {}",
                    event["provider_event_id"], event["status"]
                ));
            }
        }
        for shipment in shipments(&run.api, &shop.store).await {
            if shipment["status"] == "purchasing" {
                open.push(format!("shipment {} purchasing", shipment["id"]));
            }
            let order = shipment["order_id"].as_str().unwrap_or_default();
            if shipment["label"].is_object() && !captured_once(&run.api, &shop.store, order).await {
                open.push(format!("shipment {}'s capture", shipment["id"]));
            }
        }
        if open.is_empty() {
            return;
        }
        assert!(
            started.elapsed() < RECOVERY,
            "still open after {RECOVERY:?} of recovery: {open:?}"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// Whether the order's payment is captured in full by exactly one capture (what capture on
/// shipment makes of a label, whoever made it).
pub async fn captured_once(api: &Api, store: &Store, order: &str) -> bool {
    let payments = api.payments(store, order).await;
    let intent = &payments["intents"][0];
    let captures = cassa_tests::ledger::txns(intent)
        .iter()
        .filter(|t| t["operation"] == "capture" && t["status"] == "succeeded")
        .count();
    captures == 1 && intent["captured_amount"] == intent["amount"]
}

/// Waits until the store's reconciliation run `id` has ended; the run.
pub async fn reconciliation_done(api: &Api, store: &Store, id: &str) -> Value {
    let started = Instant::now();
    loop {
        let path = format!("/api/v1/admin/reconciliation/runs/{id}");
        let answer = api.send(Method::GET, &path, &store.key, None, None).await;
        let found = answer.json();
        if matches!(found["status"].as_str(), Some("completed" | "failed")) {
            return found;
        }
        assert!(
            started.elapsed() < RECOVERY,
            "reconciliation run {id} not ended after {RECOVERY:?}: {} {}",
            answer.status,
            answer.body
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// Waits until the rotation is completed; its status.
pub async fn rotation_done(run: &Run, id: &str) -> String {
    let started = Instant::now();
    loop {
        let answer = run
            .api
            .send(
                Method::GET,
                &format!("/api/v1/platform/keys/rotations/{id}"),
                &run.admin,
                None,
                None,
            )
            .await;
        let rotation = answer.json();
        if rotation["status"] == "completed" {
            return format!(
                "rotation to version {} completed",
                rotation["target_version"]
            );
        }
        assert!(
            started.elapsed() < RECOVERY,
            "rotation {id} not completed after {RECOVERY:?}: {} {}",
            answer.status,
            answer.body
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}
