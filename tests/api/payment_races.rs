//! Concurrency on one payment intent: bursts of captures and refunds with different keys, and
//! captures racing a void. Afterwards the ledger invariants hold and agree with the PSP.

use std::time::Duration;

use cassa_tests::{Backend, both_backends};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::payments::{Shop, shop_with_timeout};

/// Sends `n` copies of an operation at once, each with its own key; returns the statuses.
async fn burst(
    shop: &Shop,
    order: &str,
    intent: &Value,
    op: &str,
    amount: i64,
    n: usize,
) -> Vec<u16> {
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..n {
        let client = shop.app.client.clone();
        let url = shop.app.url(&format!(
            "/api/v1/admin/orders/{order}/payments/{}/{op}",
            intent["id"].as_str().unwrap()
        ));
        let key = shop.store.sandbox_key.clone();
        tasks.spawn(async move {
            client
                .post(url)
                .bearer_auth(key)
                .header("idempotency-key", Uuid::now_v7().to_string())
                .json(&json!({"amount": amount}))
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        });
    }
    tasks.join_all().await
}

async fn concurrent_captures_and_refunds_never_exceed_the_ledger(backend: Backend) {
    let shop = shop_with_timeout(backend, Duration::from_secs(20)).await;
    let (order, intent) = shop.authorized().await;
    // 50 captures of 150 against 6018 authorized: exactly 40 fit.
    let statuses = burst(&shop, &order, &intent, "capture", 150, 50).await;
    assert_eq!(
        statuses.iter().filter(|s| **s == 200).count(),
        40,
        "{statuses:?}"
    );
    assert!(
        statuses.iter().all(|s| *s == 200 || *s == 422),
        "{statuses:?}"
    );
    let detail = shop.check_invariants(&order).await;
    assert_eq!(detail["intents"][0]["captured_amount"], 6000);

    // 50 refunds of 150 against 6000 captured: exactly 40 fit.
    let statuses = burst(&shop, &order, &intent, "refund", 150, 50).await;
    assert_eq!(
        statuses.iter().filter(|s| **s == 200).count(),
        40,
        "{statuses:?}"
    );
    let detail = shop.check_invariants(&order).await;
    assert_eq!(detail["intents"][0]["refunded_amount"], 6000);
    assert_eq!(detail["intents"][0]["status"], "refunded");
}
both_backends!(concurrent_captures_and_refunds_never_exceed_the_ledger);

async fn a_capture_racing_a_void_never_captures_a_voided_payment(backend: Backend) {
    let shop = shop_with_timeout(backend, Duration::from_secs(20)).await;
    for _ in 0..3 {
        let (order, intent) = shop.authorized().await;
        let (captures, void) = tokio::join!(
            burst(&shop, &order, &intent, "capture", 100, 10),
            burst(&shop, &order, &intent, "void", 0, 1),
        );
        let detail = shop.check_invariants(&order).await;
        let status = detail["intents"][0]["status"].as_str().unwrap().to_owned();
        let captured = captures.iter().filter(|s| **s == 200).count() as i64;
        let intent_now = &detail["intents"][0];
        if void[0] == 200 && status == "voided" {
            assert_eq!(captured, 0, "{captures:?}");
        } else if void[0] == 200 {
            // The void came after some captures: it released the rest, and no capture got in
            // after it.
            assert_eq!(status, "captured", "{intent_now}");
            assert_eq!(intent_now["captured_amount"], captured * 100);
            assert_eq!(
                intent_now["released_amount"].as_i64().unwrap(),
                intent_now["authorized_amount"].as_i64().unwrap() - captured * 100
            );
        } else {
            assert_eq!(void[0], 409);
            assert_eq!(detail["intents"][0]["captured_amount"], captured * 100);
        }
    }
}
both_backends!(a_capture_racing_a_void_never_captures_a_voided_payment);
