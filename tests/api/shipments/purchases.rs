//! A label is bought once: a lost carrier answer is resolved with the purchase's own key, and
//! many concurrent buyers share one label, one shipment and one capture.

use std::time::Duration;

use cassa_tests::{Backend, Instance, both_backends};
use serde_json::{Value, json};
use uuid::Uuid;

use super::{shop, shop_with};
use crate::support::{assert_problem, json_of};

async fn a_purchase_whose_answer_was_lost_is_resolved_never_bought_twice(backend: Backend) {
    // The carrier answers a 99903 purchase after 1.5 s; Cassa gives up after 0.5 s.
    let shop = shop_with(backend, Duration::from_millis(500)).await;
    let (order, _) = shop.paid_order("99903").await;
    let key = Uuid::now_v7().to_string();
    let buy = || {
        shop.app
            .client
            .post(
                shop.app
                    .url(&format!("/api/v1/admin/orders/{order}/shipments")),
            )
            .bearer_auth(&shop.store.sandbox_key)
            .header("idempotency-key", &key)
            .json(&json!({}))
            .send()
    };
    assert_problem(buy().await.unwrap(), 502, "carrier_outcome_unknown").await;
    tokio::time::sleep(Duration::from_millis(1600)).await;
    let shipment = json_of(buy().await.unwrap(), 201).await;
    assert_eq!(shipment["status"], "pre_transit");
    let labels = shop.carrier_labels().await;
    assert_eq!(labels.len(), 1, "one label at the carrier: {labels:?}");
    assert_eq!(labels[0]["tracking_number"], shipment["tracking_number"]);
    let kinds: Vec<&str> = shipment["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["purchase_started", "purchase_unknown", "purchased"]);
}

/// Many buyers of one order's label at once (the store's capture on shipment on): one label at
/// the carrier, one shipment, one capture. One buyer buys it (`201`); every other one, while
/// the purchase is in flight or after it, hears `shipment_exists` (a purchase whose buyer dies
/// is the resolver's to finish, never another buyer's).
async fn concurrent_buys_sell_one_label(backend: Backend) {
    let shop = shop(backend).await;
    shop.capture_on_shipment().await;
    let key = &shop.store.sandbox_key;
    let (order, snapshot) = shop.paid_order("90001").await;

    // Truly concurrent: each buyer on its own task, its own Idempotency-Key.
    let mut buyers = tokio::task::JoinSet::new();
    for _ in 0..12 {
        let request = shop
            .app
            .client
            .post(
                shop.app
                    .url(&format!("/api/v1/admin/orders/{order}/shipments")),
            )
            .bearer_auth(key)
            .header("idempotency-key", Uuid::now_v7().to_string())
            .json(&json!({}));
        buyers.spawn(async move {
            let response = request.send().await.unwrap();
            let status = response.status().as_u16();
            (
                status,
                response.json::<Value>().await.unwrap_or(Value::Null),
            )
        });
    }
    let answers = buyers.join_all().await;
    let sold: Vec<&Value> = answers
        .iter()
        .filter(|(status, _)| *status == 201)
        .map(|(_, body)| body)
        .collect();
    assert!(!sold.is_empty(), "one purchase: {answers:?}");
    for other in &sold {
        assert_eq!(other["id"], sold[0]["id"], "one shipment: {answers:?}");
        assert_eq!(other["tracking_number"], sold[0]["tracking_number"]);
    }
    for (status, body) in answers.iter().filter(|(status, _)| *status != 201) {
        assert_eq!(*status, 409, "{body}");
        assert_eq!(body["code"], "shipment_exists", "{body}");
    }
    let labels = shop.carrier_labels().await;
    assert_eq!(labels.len(), 1, "one label at the carrier: {labels:?}");
    assert_eq!(labels[0]["tracking_number"], sold[0]["tracking_number"]);

    let path = "/api/v1/admin/shipments?limit=100";
    let response = shop
        .app
        .client
        .get(shop.app.url(path))
        .bearer_auth(key)
        .send()
        .await
        .unwrap();
    let shipments = json_of(response, 200).await;
    assert_eq!(
        shipments["data"].as_array().unwrap().len(),
        1,
        "{shipments}"
    );

    let path = format!("/api/v1/admin/orders/{order}/payments");
    let response = shop
        .app
        .client
        .get(shop.app.url(&path))
        .bearer_auth(key)
        .send()
        .await
        .unwrap();
    let payments = json_of(response, 200).await;
    let intent = &payments["intents"][0];
    assert_eq!(
        intent["captured_amount"], snapshot["totals"]["total"],
        "{payments}"
    );
    let captures = intent["transactions"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|t| t["operation"] == "capture")
        .count();
    assert_eq!(captures, 1, "one capture: {payments}");
}

/// The captures of an order's first intent, and its captured amount.
fn captures(payments: &Value) -> (usize, Value) {
    let intent = &payments["intents"][0];
    let captures = intent["transactions"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|t| t["operation"] == "capture")
        .count();
    (captures, intent["captured_amount"].clone())
}

/// The request that bought the label lost its answer after the purchase was recorded (its
/// key's record released after a 5xx, or left by a process that died): the same key, sent
/// again, hears the shipment it bought, never `shipment_exists`. Another key still does.
async fn a_retried_purchase_hears_its_own_shipment(backend: Backend) {
    let shop = shop(backend).await;
    let (order, _) = shop.paid_order("90001").await;
    let key = Uuid::now_v7().to_string();
    let bought = json_of(shop.buy_with_key(&order, &key).await, 201).await;
    // What a released or never-completed record leaves: the key is free to run again.
    cassa::on_db!(&shop.app.db, pool => {
        sqlx::query("DELETE FROM idempotency_keys").execute(pool).await.map(|_| ())
    })
    .unwrap();
    let again = json_of(shop.buy_with_key(&order, &key).await, 201).await;
    assert_eq!(again["id"], bought["id"]);
    assert_eq!(again["tracking_number"], bought["tracking_number"]);
    let other = Uuid::now_v7().to_string();
    assert_problem(
        shop.buy_with_key(&order, &other).await,
        409,
        "shipment_exists",
    )
    .await;
    assert_eq!(
        shop.carrier_labels().await.len(),
        1,
        "one label at the carrier"
    );
}

/// A purchase whose request gave up (the carrier's answer was lost) and was never retried is
/// settled by the resolver with the purchase's own carrier key: one label, and the store's
/// capture on shipment made once. The request's key, retried later, hears the shipment.
async fn the_resolver_settles_a_purchase_nobody_retried(backend: Backend) {
    // The carrier answers a 99903 purchase after 1.5 s; Cassa gives up after 0.5 s.
    let shop = shop_with(backend, Duration::from_millis(500)).await;
    shop.capture_on_shipment().await;
    let (order, snapshot) = shop.paid_order("99903").await;
    let key = Uuid::now_v7().to_string();
    assert_problem(
        shop.buy_with_key(&order, &key).await,
        502,
        "carrier_outcome_unknown",
    )
    .await;
    assert_eq!(captures(&shop.payments(&order).await).0, 0);
    tokio::time::sleep(Duration::from_millis(1600)).await;

    let settled = cassa::fulfilment::resolve_open(&shop.app.state, chrono::Duration::zero())
        .await
        .unwrap();
    assert_eq!(settled, 1);
    let labels = shop.carrier_labels().await;
    assert_eq!(labels.len(), 1, "one label at the carrier: {labels:?}");
    let (count, captured) = captures(&shop.payments(&order).await);
    assert_eq!(count, 1, "one capture");
    assert_eq!(captured, snapshot["totals"]["total"]);
    // A second pass finds nothing open.
    let settled = cassa::fulfilment::resolve_open(&shop.app.state, chrono::Duration::zero())
        .await
        .unwrap();
    assert_eq!(settled, 0);

    let shipment = json_of(shop.buy_with_key(&order, &key).await, 201).await;
    assert_eq!(shipment["status"], "pre_transit");
    assert_eq!(shipment["tracking_number"], labels[0]["tracking_number"]);
    let kinds: Vec<&str> = shipment["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["purchase_started", "purchase_unknown", "purchased"]);
    assert_eq!(
        captures(&shop.payments(&order).await).0,
        1,
        "still one capture"
    );
    assert_eq!(shop.carrier_labels().await.len(), 1);
}

/// A buyer that recorded its label but died before the store's capture on shipment (the
/// shipment's capture is still due) leaves the capture to the resolver: made once, and not
/// again on the next pass.
async fn the_resolver_makes_a_capture_a_dead_buyer_left_due(backend: Backend) {
    let shop = shop(backend).await;
    let (order, snapshot) = shop.paid_order("90001").await;
    // Bought while the store did not capture on shipment: nothing captured.
    let shipment = json_of(
        shop.buy_with_key(&order, &Uuid::now_v7().to_string()).await,
        201,
    )
    .await;
    assert_eq!(captures(&shop.payments(&order).await).0, 0);
    // What a buyer of a store that captures on shipment leaves when it dies right after the
    // label was recorded.
    shop.capture_on_shipment().await;
    let id: Uuid = shipment["id"].as_str().unwrap().parse().unwrap();
    cassa::on_db!(&shop.app.db, pool => {
        sqlx::query("UPDATE shipments SET capture_due = true WHERE id = $1")
            .bind(id).execute(pool).await.map(|_| ())
    })
    .unwrap();
    for _ in 0..2 {
        let settled = cassa::fulfilment::resolve_open(&shop.app.state, chrono::Duration::zero())
            .await
            .unwrap();
        assert_eq!(settled, 0, "no purchase was open");
        let (count, captured) = captures(&shop.payments(&order).await);
        assert_eq!(count, 1, "one capture");
        assert_eq!(captured, snapshot["totals"]["total"]);
    }
}

/// A label voided before the capture a dead buyer left due is made: the sweep captures nothing
/// (a voided shipment ships nothing).
async fn a_void_before_the_capture_sweep_captures_nothing(backend: Backend) {
    let shop = shop(backend).await;
    let (order, _) = shop.paid_order("90001").await;
    let shipment = json_of(
        shop.buy_with_key(&order, &Uuid::now_v7().to_string()).await,
        201,
    )
    .await;
    shop.capture_on_shipment().await;
    let id: Uuid = shipment["id"].as_str().unwrap().parse().unwrap();
    cassa::on_db!(&shop.app.db, pool => {
        sqlx::query("UPDATE shipments SET capture_due = true WHERE id = $1")
            .bind(id).execute(pool).await.map(|_| ())
    })
    .unwrap();
    let voided = json_of(shop.void(&id.to_string()).await, 200).await;
    assert_eq!(voided["status"], "cancelled");
    cassa::fulfilment::resolve_open(&shop.app.state, chrono::Duration::zero())
        .await
        .unwrap();
    assert_eq!(
        captures(&shop.payments(&order).await).0,
        0,
        "voided: no capture"
    );
}

/// Another key's buy while a purchase is still open (no label yet) hears `shipment_exists` and
/// captures nothing: the store captures on shipment only once there is a label.
async fn a_buy_during_another_open_purchase_captures_nothing(backend: Backend) {
    // The carrier answers a 99903 purchase after 1.5 s; Cassa gives up after 0.5 s.
    let shop = shop_with(backend, Duration::from_millis(500)).await;
    shop.capture_on_shipment().await;
    let (order, _) = shop.paid_order("99903").await;
    let first = Uuid::now_v7().to_string();
    let response = shop.buy_with_key(&order, &first).await;
    assert_problem(response, 502, "carrier_outcome_unknown").await;
    let other = Uuid::now_v7().to_string();
    let response = shop.buy_with_key(&order, &other).await;
    assert_problem(response, 409, "shipment_exists").await;
    assert_eq!(
        captures(&shop.payments(&order).await).0,
        0,
        "no label, no capture"
    );
}

/// Purchases the two-instance test leaves open.
const OPEN_PURCHASES: usize = 8;

/// Purchases whose requests gave up, resolved by two instances' passes at the same time (one
/// PostgreSQL database; SQLite is one process's file): each purchase is driven by one of them,
/// so one label at the carrier and one capture per order.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_instances_resolve_each_open_purchase_once() {
    let Some(backend) = Backend::postgres() else {
        return;
    };
    let shop = shop_with(backend, Duration::from_millis(500)).await;
    shop.capture_on_shipment().await;
    let mut orders = Vec::new();
    for _ in 0..OPEN_PURCHASES {
        let (order, _) = shop.paid_order("99903").await;
        let key = Uuid::now_v7().to_string();
        let response = shop.buy_with_key(&order, &key).await;
        assert_problem(response, 502, "carrier_outcome_unknown").await;
        orders.push(order);
    }
    // The carrier completes the last purchase 1.5 s after it was asked.
    tokio::time::sleep(Duration::from_millis(1600)).await;

    let second = Instance::beside(&shop.app).await;
    let (a, b) = tokio::join!(
        cassa::fulfilment::resolve_open(&shop.app.state, chrono::Duration::zero()),
        cassa::fulfilment::resolve_open(&second.state, chrono::Duration::zero()),
    );
    second.stop().await;
    assert_eq!(a.unwrap() + b.unwrap(), OPEN_PURCHASES, "each settled once");
    let labels = shop.carrier_labels().await;
    assert_eq!(
        labels.len(),
        OPEN_PURCHASES,
        "one label per order: {labels:?}"
    );
    for order in &orders {
        assert_eq!(captures(&shop.payments(order).await).0, 1, "one capture");
    }
    let db = &shop.app.db;
    let count = |sql: &'static str| async move {
        cassa::on_db!(db, pool => {
            sqlx::query_scalar::<_, i64>(sql).fetch_one(pool).await
        })
        .unwrap()
    };
    let claimed_twice = "SELECT COUNT(*) FROM shipments WHERE resolve_attempts <> 1";
    assert_eq!(count(claimed_twice).await, 0, "each claimed by one pass");
    let purchased = "SELECT COUNT(*) FROM shipment_events WHERE kind = 'purchased'";
    assert_eq!(count(purchased).await, OPEN_PURCHASES as i64);
}

both_backends!(
    a_purchase_whose_answer_was_lost_is_resolved_never_bought_twice,
    concurrent_buys_sell_one_label,
    a_retried_purchase_hears_its_own_shipment,
    the_resolver_settles_a_purchase_nobody_retried,
    the_resolver_makes_a_capture_a_dead_buyer_left_due,
    a_buy_during_another_open_purchase_captures_nothing,
    a_void_before_the_capture_sweep_captures_nothing,
);
