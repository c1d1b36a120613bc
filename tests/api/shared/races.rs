//! Concurrency on one intent, on every provider: bursts of captures and refunds with distinct
//! keys, the same key from many tasks, and captures racing a void. Afterwards the ledger
//! invariants hold, the provider's own state agrees, and every transaction reached the
//! provider once.

use cassa_tests::Backend;
use serde_json::{Value, json};
use uuid::Uuid;

use super::{ProviderShop, Psp};
use crate::payments::shop::TOTAL;

/// The Idempotency-Keys of a burst.
#[derive(Clone, Copy)]
enum Keys<'a> {
    /// A fresh key per request.
    Distinct,
    /// This key for every request.
    Same(&'a str),
}

/// Sends `n` copies of an operation on the intent at once; returns each (status, body).
async fn burst(
    shop: &ProviderShop,
    (order, intent): (&str, &Value),
    op: &str,
    body: Value,
    n: usize,
    keys: Keys<'_>,
) -> Vec<(u16, Value)> {
    let url = shop.app.url(&format!(
        "/api/v1/admin/orders/{order}/payments/{}/{op}",
        intent["id"].as_str().unwrap()
    ));
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..n {
        let request = shop
            .app
            .client
            .post(&url)
            .bearer_auth(&shop.store.sandbox_key)
            .header(
                "idempotency-key",
                match keys {
                    Keys::Distinct => Uuid::now_v7().to_string(),
                    Keys::Same(key) => key.to_owned(),
                },
            )
            .json(&body);
        tasks.spawn(async move {
            let response = request.send().await.unwrap();
            let status = response.status().as_u16();
            (status, response.json().await.unwrap_or(Value::Null))
        });
    }
    tasks.join_all().await
}

/// How many answers have `status`.
fn count(answers: &[(u16, Value)], status: u16) -> usize {
    answers.iter().filter(|(s, _)| *s == status).count()
}

/// Every answer that is not a 200 is one of `refusals` (status, problem code).
fn refused_only_as(answers: &[(u16, Value)], refusals: &[(u16, &str)]) {
    for (status, body) in answers.iter().filter(|(s, _)| *s != 200) {
        assert!(
            refusals
                .iter()
                .any(|(s, code)| s == status && body["code"] == *code),
            "{status} {body}"
        );
    }
}

async fn concurrent_captures_then_refunds_stay_within_the_ledger(backend: Backend, psp: Psp) {
    let shop = ProviderShop::spawn(backend, psp).await;
    let (order, intent) = shop.authorized().await;
    // 32 captures of 250 against 6018 authorized: 24 fit, or the first only where a capture
    // is final.
    let answers = burst(
        &shop,
        (&order, &intent),
        "capture",
        json!({"amount": 250}),
        32,
        Keys::Distinct,
    )
    .await;
    let expected = if shop.captures_once() {
        1
    } else {
        usize::try_from(TOTAL / 250).unwrap()
    };
    assert_eq!(count(&answers, 200), expected, "{answers:?}");
    let detail = shop.check_invariants(&order).await;
    let captured = detail["intents"][0]["captured_amount"].as_i64().unwrap();
    assert_eq!(captured, 250 * i64::try_from(expected).unwrap());
    // The others are refused as the ledger sees it, as they would be one after the other
    // (never sent to the provider to be refused there).
    refused_only_as(
        &answers,
        &[
            (422, "amount_exceeds_capturable"),
            (409, "invalid_state_transition"),
        ],
    );

    // 32 refunds against what was captured, of an amount of which 24 or 25 fit.
    let each = captured / 24;
    let fit = captured / each;
    let answers = burst(
        &shop,
        (&order, &intent),
        "refund",
        json!({"amount": each}),
        32,
        Keys::Distinct,
    )
    .await;
    assert_eq!(
        i64::try_from(count(&answers, 200)).unwrap(),
        fit,
        "{answers:?}"
    );
    refused_only_as(
        &answers,
        &[
            (422, "amount_exceeds_refundable"),
            (409, "invalid_state_transition"),
        ],
    );
    let detail = shop.check_invariants(&order).await;
    let ours = &detail["intents"][0];
    assert_eq!(ours["refunded_amount"], fit * each, "{ours}");
    if fit * each == captured {
        assert_eq!(ours["status"], "refunded", "{ours}");
    }
    shop.assert_one_call_per_transaction().await;
}

async fn the_same_key_from_many_tasks_acts_once(backend: Backend, psp: Psp) {
    let shop = ProviderShop::spawn(backend, psp).await;
    let (order, intent) = shop.authorized().await;
    let (fresh_order, fresh) = shop.authorized().await;
    for (target, op, body) in [
        ((&order, &intent), "capture", json!({"amount": 1000})),
        ((&order, &intent), "refund", json!({"amount": 300})),
        ((&fresh_order, &fresh), "void", json!({})),
    ] {
        let calls = shop.provider_calls(op).await;
        let key = format!("{op}-{}", Uuid::now_v7());
        let target = (target.0.as_str(), target.1);
        let answers = burst(&shop, target, op, body, 24, Keys::Same(&key)).await;
        // The first request's answer, or its replay, or "still in use"; never another answer.
        let ok: Vec<&Value> = answers
            .iter()
            .filter(|(s, _)| *s == 200)
            .map(|(_, b)| b)
            .collect();
        assert!(!ok.is_empty(), "{op}: {answers:?}");
        assert!(ok.windows(2).all(|w| w[0] == w[1]), "{op}: {ok:?}");
        refused_only_as(&answers, &[(409, "idempotency_key_in_use")]);
        assert_eq!(shop.provider_calls(op).await, calls + 1, "{op}");
        let detail = shop.check_invariants(target.0).await;
        let transactions = detail["intents"][0]["transactions"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|t| t["operation"] == op)
            .count();
        assert_eq!(transactions, 1, "{op}: {detail}");
    }
    let detail = shop.check_invariants(&order).await;
    assert_eq!(detail["intents"][0]["captured_amount"], 1000);
    assert_eq!(detail["intents"][0]["refunded_amount"], 300);
    let detail = shop.check_invariants(&fresh_order).await;
    assert_eq!(detail["intents"][0]["status"], "voided");
    shop.assert_one_call_per_transaction().await;
}

async fn a_capture_racing_a_void_never_captures_a_voided_payment(backend: Backend, psp: Psp) {
    let shop = ProviderShop::spawn(backend, psp).await;
    for _ in 0..3 {
        let (order, intent) = shop.authorized().await;
        let target = (order.as_str(), &intent);
        let capture = json!({"amount": 100});
        let (captures, void) = tokio::join!(
            burst(&shop, target, "capture", capture, 16, Keys::Distinct),
            burst(&shop, target, "void", json!({}), 1, Keys::Distinct),
        );
        let detail = shop.check_invariants(&order).await;
        let ours = &detail["intents"][0];
        let captured = i64::try_from(count(&captures, 200)).unwrap() * 100;
        if shop.captures_once() {
            assert!(captured <= 100, "{captures:?}");
        }
        assert_eq!(ours["captured_amount"], captured, "{ours}");
        let (void_status, void_body) = &void[0];
        match (*void_status, ours["status"].as_str().unwrap()) {
            (200, "voided") => assert_eq!(captured, 0, "{captures:?}"),
            // The void came after some captures: it released the rest, and no capture got in
            // after it.
            (200, status) => {
                assert_eq!(status, "captured", "{ours}");
                assert_eq!(ours["released_amount"], TOTAL - captured, "{ours}");
            }
            (409, _) => assert_eq!(void_body["code"], "invalid_state_transition"),
            _ => panic!("void answered {void_status} {void_body}"),
        }
    }
    shop.assert_one_call_per_transaction().await;
}

both_providers!(
    concurrent_captures_then_refunds_stay_within_the_ledger,
    the_same_key_from_many_tasks_acts_once,
    a_capture_racing_a_void_never_captures_a_voided_payment,
);
