//! Idempotency on the checkout hot path, where the handlers write the key's record inside
//! their own transactions (claim with the pending row, answer with the outcome): one key sent
//! many times at once acts once, and every answer, success or problem, replays byte for byte.

use std::time::Duration;

use cassa_tests::{Backend, both_backends};
use serde_json::{Value, json};

use crate::payments::{Shop, shop_with_timeout};

/// `n` identical requests with one key at once: (status, body bytes) of each.
async fn same_key_burst(
    shop: &Shop,
    token: &str,
    path: &str,
    key: &str,
    body: Value,
    n: usize,
) -> Vec<(u16, Vec<u8>)> {
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..n {
        let request = shop
            .app
            .client
            .post(shop.app.url(path))
            .bearer_auth(token)
            .header("idempotency-key", key)
            .json(&body);
        tasks.spawn(async move {
            let response = request.send().await.unwrap();
            let status = response.status().as_u16();
            (status, response.bytes().await.unwrap().to_vec())
        });
    }
    tasks.join_all().await
}

/// Every answer is the one success (first or replayed, the same bytes) or `409` in progress;
/// a later retry replays the success byte for byte. Returns the success body.
async fn acted_once(
    shop: &Shop,
    token: &str,
    path: &str,
    key: &str,
    body: Value,
    success: u16,
) -> Value {
    let answers = same_key_burst(shop, token, path, key, body.clone(), 12).await;
    let successes: Vec<&Vec<u8>> = answers
        .iter()
        .filter(|(s, _)| *s == success)
        .map(|(_, b)| b)
        .collect();
    assert!(!successes.is_empty(), "{answers:?}");
    assert!(successes.iter().all(|b| *b == successes[0]), "{answers:?}");
    for (status, bytes) in &answers {
        if *status != success {
            assert_eq!(*status, 409, "{}", String::from_utf8_lossy(bytes));
            let problem: Value = serde_json::from_slice(bytes).unwrap();
            assert_eq!(problem["code"], "idempotency_key_in_use");
        }
    }
    let replay = shop
        .app
        .client
        .post(shop.app.url(path))
        .bearer_auth(token)
        .header("idempotency-key", key)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(replay.status(), success);
    assert_eq!(replay.headers()["idempotent-replayed"], "true");
    assert_eq!(&replay.bytes().await.unwrap().to_vec(), successes[0]);
    serde_json::from_slice(successes[0]).unwrap()
}

async fn count(shop: &Shop, sql: &str, id: &str) -> i64 {
    let id: uuid::Uuid = id.parse().unwrap();
    cassa::on_db!(&shop.app.db, pool => sqlx::query_scalar(sql).bind(id).fetch_one(pool).await)
        .unwrap()
}

async fn count_text(shop: &Shop, sql: &str, text: &str) -> i64 {
    cassa::on_db!(&shop.app.db, pool => sqlx::query_scalar(sql).bind(text).fetch_one(pool).await)
        .unwrap()
}

async fn one_key_sent_many_times_at_once_acts_once(backend: Backend) {
    let shop = shop_with_timeout(backend, Duration::from_secs(20)).await;
    let order = crate::checkout::order_for(&shop.app, &shop.store, &shop.token, "US", "CA").await;
    let order = order["id"].as_str().unwrap().to_owned();

    let quote = acted_once(
        &shop,
        &shop.token,
        "/api/v1/me/checkout/quote",
        "quote-1",
        json!({"order_id": order}),
        201,
    )
    .await;
    let snapshots = "SELECT COUNT(*) FROM order_checkout_snapshots WHERE order_id = $1";
    assert_eq!(count(&shop, snapshots, &order).await, 1);

    let intent = acted_once(
        &shop,
        &shop.token,
        &format!("/api/v1/me/orders/{order}/payments/authorize"),
        "auth-1",
        json!({"snapshot_id": quote["snapshot_id"], "payment_method": "pm_card_visa"}),
        201,
    )
    .await;
    assert_eq!(intent["status"], "authorized");
    let intent_id = intent["id"].as_str().unwrap();

    let captured = acted_once(
        &shop,
        &shop.store.sandbox_key,
        &format!("/api/v1/admin/orders/{order}/payments/{intent_id}/capture"),
        "cap-1",
        json!({"amount": 1000}),
        200,
    )
    .await;
    assert_eq!(captured["captured_amount"], 1000);

    let detail = shop.check_invariants(&order).await;
    assert_eq!(detail["intents"].as_array().unwrap().len(), 1);
    assert_eq!(detail["intents"][0]["captured_amount"], 1000);
    let txns = detail["intents"][0]["transactions"].as_array().unwrap();
    assert_eq!(txns.len(), 2, "one authorization, one capture: {txns:?}");
    // One provider call each, audited in the transaction that recorded its outcome.
    let audited = "SELECT COUNT(*) FROM provider_call_audit WHERE correlation_id IN \
        (SELECT correlation_id FROM payment_transactions WHERE payment_intent_id = $1)";
    assert_eq!(count(&shop, audited, intent_id).await, 2);
}
both_backends!(one_key_sent_many_times_at_once_acts_once);

async fn problems_recorded_with_the_outcome_replay_byte_for_byte(backend: Backend) {
    let shop = shop_with_timeout(backend, Duration::from_secs(20)).await;
    let (order, snapshot) = shop.quoted_order().await;
    let path = format!("/api/v1/me/orders/{order}/payments/authorize");
    let body = json!({"snapshot_id": snapshot, "payment_method": "pm_card_declined"});
    let send = |key: &'static str, body: Value| {
        shop.app
            .client
            .post(shop.app.url(&path))
            .bearer_auth(&shop.token)
            .header("idempotency-key", key)
            .json(&body)
            .send()
    };

    // Declined at the provider: the problem (with the first request's id) is stored in the
    // transaction that records the failure.
    let first = send("declined-1", body.clone()).await.unwrap();
    assert_eq!(first.status(), 402);
    let first_bytes = first.bytes().await.unwrap().to_vec();
    let problem: Value = serde_json::from_slice(&first_bytes).unwrap();
    assert_eq!(problem["code"], "payment_declined");
    assert!(problem["request_id"].is_string(), "{problem}");
    let again = send("declined-1", body.clone()).await.unwrap();
    assert_eq!(again.status(), 402);
    assert_eq!(again.headers()["idempotent-replayed"], "true");
    assert_eq!(again.bytes().await.unwrap().to_vec(), first_bytes);
    let audited = "SELECT COUNT(*) FROM provider_call_audit WHERE correlation_id = $1";
    assert_eq!(
        count_text(&shop, audited, problem["request_id"].as_str().unwrap()).await,
        1
    );

    // Refused before anything was written (no such snapshot): stored after the handler, and
    // the key stays bound to that request.
    let missing = json!({"snapshot_id": uuid::Uuid::now_v7(), "payment_method": "pm_card_visa"});
    let first = send("missing-1", missing.clone()).await.unwrap();
    let status = first.status();
    assert!(status.is_client_error(), "{status}");
    let first_bytes = first.bytes().await.unwrap().to_vec();
    let again = send("missing-1", missing).await.unwrap();
    assert_eq!(again.status(), status);
    assert_eq!(again.headers()["idempotent-replayed"], "true");
    assert_eq!(again.bytes().await.unwrap().to_vec(), first_bytes);
    let reused = send("missing-1", body).await.unwrap();
    assert_eq!(reused.status(), 422);
    let problem: Value = reused.json().await.unwrap();
    assert_eq!(problem["code"], "idempotency_key_reused");
}
both_backends!(problems_recorded_with_the_outcome_replay_byte_for_byte);
