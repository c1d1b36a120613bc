//! Settling what Stripe's answer did not say, as Stripe's idempotency layer behaves: it keeps
//! a `500` under the key and replays it to every resend, and forgets keys after a day (when a
//! resend would act again). Each operation is looked for in Stripe's state before anything is
//! sent again, so nothing is done twice and nothing stays open for ever.

use serde_json::{Value, json};

use super::{
    WEBHOOK_SECRET, pay,
    server::{Fault, StripeServer},
    stripe_shop,
};
use crate::{
    payments::{Shop, shop::TOTAL},
    support::{assert_problem, json_of},
};
use cassa_tests::{Backend, both_backends};

/// Past the resolver's longest backoff, so the next pass takes every open transaction.
fn later(shop: &Shop) {
    shop.app.clock.advance(chrono::Duration::hours(2));
}

/// Past the day Stripe keeps keys and the hour its search may trail the last resend.
fn after_keys_expired(shop: &Shop) {
    shop.app.clock.advance(chrono::Duration::hours(26));
}

async fn intent_of(shop: &Shop, order: &str) -> Value {
    shop.detail(order).await["intents"][0].clone()
}

fn posts(stripe: &StripeServer, path: &str) -> Vec<Option<String>> {
    stripe
        .seen()
        .into_iter()
        .filter(|s| s.method == "POST" && s.path == path)
        .map(|s| s.idempotency_key)
        .collect()
}

async fn a_refund_whose_answer_was_lost_is_found_and_never_sent_twice(backend: Backend) {
    let (shop, stripe) = stripe_shop(backend, None).await;
    let (order, response) = pay(&shop, "pm_card_visa").await;
    let intent = json_of(response, 201).await;
    json_of(shop.op(&order, &intent, "capture", json!({})).await, 200).await;
    // Stripe refunds, then fails: the 500 is what its key now answers.
    stripe.fault(Fault::FailAfterWork);
    assert_problem(
        shop.op(&order, &intent, "refund", json!({"amount": 500}))
            .await,
        502,
        "provider_outcome_unknown",
    )
    .await;
    // A day later the key is forgotten: a resend would refund a second time.
    stripe.forget_keys();
    later(&shop);
    shop.resolve().await;
    let ours = intent_of(&shop, &order).await;
    assert_eq!(ours["refunded_amount"], 500, "{ours}");
    assert_eq!(ours["status"], "partially_refunded");
    assert_eq!(stripe.refunds().len(), 1, "{:?}", stripe.refunds());
    assert_eq!(posts(&stripe, "/v1/refunds").len(), 1);
}

async fn a_capture_stripe_never_did_is_sent_again_once_its_key_is_forgotten(backend: Backend) {
    let (shop, stripe) = stripe_shop(backend, None).await;
    let (order, response) = pay(&shop, "pm_card_visa").await;
    let intent = json_of(response, 201).await;
    let pi = intent["provider_payment_id"].as_str().unwrap().to_owned();
    let capture = format!("/v1/payment_intents/{pi}/capture");
    stripe.fault(Fault::FailBeforeWork);
    assert_problem(
        shop.op(&order, &intent, "capture", json!({"amount": 1000}))
            .await,
        502,
        "provider_outcome_unknown",
    )
    .await;
    // The intent still awaits capture, so the capture is sent again with its key: Stripe
    // replays its 500, and the outcome stays open rather than guessed.
    later(&shop);
    shop.resolve().await;
    assert_eq!(intent_of(&shop, &order).await["captured_amount"], 0);
    let keys = posts(&stripe, &capture);
    assert_eq!(keys.len(), 2);
    assert_eq!(keys[0], keys[1]);
    // Once Stripe forgot the key, the resend captures; Stripe released the rest with it, and
    // the ledger releases it too though no request was waiting for the capture.
    stripe.forget_keys();
    later(&shop);
    shop.resolve().await;
    assert_eq!(stripe.intent(&pi)["amount_received"], 1000);
    let ours = intent_of(&shop, &order).await;
    assert_eq!(
        (
            ours["captured_amount"].as_i64(),
            ours["released_amount"].as_i64(),
            ours["capturable_amount"].as_i64(),
        ),
        (Some(1000), Some(TOTAL - 1000), Some(0)),
        "{ours}"
    );
    // Nothing further was sent to Stripe to release it (the capture did).
    assert!(posts(&stripe, &format!("/v1/payment_intents/{pi}/cancel")).len() <= 1);
}

async fn a_release_refused_after_a_late_capture_is_tried_again(backend: Backend) {
    let (shop, stripe) = stripe_shop(backend, None).await;
    let (order, response) = pay(&shop, "pm_card_visa").await;
    let intent = json_of(response, 201).await;
    let pi = intent["provider_payment_id"].as_str().unwrap().to_owned();
    let cancel = format!("/v1/payment_intents/{pi}/cancel");
    // Stripe captures (releasing the rest), then its answer is lost.
    stripe.fault(Fault::FailAfterWork);
    assert_problem(
        shop.op(&order, &intent, "capture", json!({"amount": 1000}))
            .await,
        502,
        "provider_outcome_unknown",
    )
    .await;
    // The resolver finds the capture (a read, let through); the ledger's release of the rest
    // then meets Stripe's rate limit twice and is refused.
    stripe.fault(Fault::Delay(std::time::Duration::ZERO));
    stripe.fault(Fault::RateLimited);
    stripe.fault(Fault::RateLimited);
    later(&shop);
    shop.resolve().await;
    let held = intent_of(&shop, &order).await;
    assert_eq!(
        (
            held["status"].as_str(),
            held["captured_amount"].as_i64(),
            held["released_amount"].as_i64(),
        ),
        (Some("partially_captured"), Some(1000), Some(0)),
        "{held}"
    );
    assert_eq!(posts(&stripe, &cancel).len(), 2);
    // A later pass releases it under a key of its own, as Stripe's intent confirms.
    later(&shop);
    shop.resolve().await;
    let ours = intent_of(&shop, &order).await;
    assert_eq!(
        (
            ours["status"].as_str(),
            ours["captured_amount"].as_i64(),
            ours["released_amount"].as_i64(),
            ours["capturable_amount"].as_i64(),
            ours["voidable"].as_bool(),
        ),
        (
            Some("captured"),
            Some(1000),
            Some(TOTAL - 1000),
            Some(0),
            Some(false)
        ),
        "{ours}"
    );
    let voids: Vec<&Value> = ours["transactions"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|t| t["operation"] == "void")
        .collect();
    assert_eq!(
        voids
            .iter()
            .map(|t| t["status"].as_str())
            .collect::<Vec<_>>(),
        [Some("failed"), Some("succeeded")],
        "{ours}"
    );
    let keys = posts(&stripe, &cancel);
    assert_eq!(keys.len(), 3);
    assert_ne!(keys[0], keys[2]);
    // Released once: nothing more to sweep.
    later(&shop);
    shop.resolve().await;
    assert_eq!(posts(&stripe, &cancel).len(), 3);
}

async fn a_pending_refund_is_not_money_returned_until_stripe_says(backend: Backend) {
    let (shop, stripe) = stripe_shop(backend, None).await;
    let (order, response) = pay(&shop, "pm_card_visa").await;
    let intent = json_of(response, 201).await;
    json_of(shop.op(&order, &intent, "capture", json!({})).await, 200).await;
    stripe.hold_refunds();
    let accepted = json_of(
        shop.op(&order, &intent, "refund", json!({"amount": 700}))
            .await,
        202,
    )
    .await;
    assert_eq!(accepted["refunded_amount"], 0, "{accepted}");
    later(&shop);
    shop.resolve().await;
    assert_eq!(intent_of(&shop, &order).await["refunded_amount"], 0);
    // The bank took it: the resolver finds the refund by our reference.
    stripe.settle_refunds();
    later(&shop);
    shop.resolve().await;
    let ours = intent_of(&shop, &order).await;
    assert_eq!(ours["refunded_amount"], 700, "{ours}");
    assert_eq!(stripe.refunds().len(), 1);
}

async fn an_authorization_whose_answer_was_lost_is_found_by_its_reference(backend: Backend) {
    let (shop, stripe) = stripe_shop(backend, None).await;
    stripe.fault(Fault::FailAfterWork);
    let (order, response) = pay(&shop, "pm_card_visa").await;
    assert_problem(response, 502, "provider_outcome_unknown").await;
    // While Stripe keeps the key the authorization is resent with it: Stripe replays its 500.
    shop.resolve().await;
    assert_eq!(intent_of(&shop, &order).await["status"], "unknown");
    // Past the last possible resend Stripe's search is trusted: the intent carrying our
    // reference settles it.
    after_keys_expired(&shop);
    shop.resolve().await;
    let ours = intent_of(&shop, &order).await;
    assert_eq!(ours["status"], "authorized", "{ours}");
    assert_eq!(ours["authorized_amount"], TOTAL);
    let creates = posts(&stripe, "/v1/payment_intents");
    assert_eq!(
        creates.len(),
        2,
        "the first call and one resend with its key"
    );
    assert_eq!(creates[0], creates[1]);
}

async fn an_authorization_stripe_never_made_fails_and_is_never_made_late(backend: Backend) {
    let (shop, stripe) = stripe_shop(backend, None).await;
    stripe.fault(Fault::FailBeforeWork);
    let (order, response) = pay(&shop, "pm_card_visa").await;
    assert_problem(response, 502, "provider_outcome_unknown").await;
    // A day on, the last resend may still be on its way into the search: not failed yet.
    shop.app.clock.advance(chrono::Duration::hours(24));
    shop.resolve().await;
    assert_eq!(intent_of(&shop, &order).await["status"], "unknown");
    after_keys_expired(&shop);
    shop.resolve().await;
    let ours = intent_of(&shop, &order).await;
    assert_eq!(ours["status"], "failed", "{ours}");
    assert_eq!(ours["failure_code"], "not_found_at_provider", "{ours}");
    assert_eq!(posts(&stripe, "/v1/payment_intents").len(), 1);
}

async fn another_accounts_events_never_touch_the_store(backend: Backend) {
    let (shop, stripe) = stripe_shop(backend, Some("acct_1StoreOwnAccount")).await;
    let (order, response) = pay(&shop, "pm_card_threeDSecure2Required").await;
    let intent = json_of(response, 202).await;
    let pi = intent["provider_payment_id"].as_str().unwrap().to_owned();
    stripe.complete_action(&pi);
    let deliver = |account: Option<&str>| {
        let mut event = json!({"id": format!("evt_{}", uuid::Uuid::now_v7().simple()),
            "object": "event", "type": "payment_intent.amount_capturable_updated",
            "data": {"object": stripe.intent(&pi)}});
        if let Some(account) = account {
            event["account"] = json!(account);
        }
        let body = event.to_string();
        let signature = cassa::providers::signature::sign_stripe(
            WEBHOOK_SECRET,
            chrono::Utc::now().timestamp(),
            body.as_bytes(),
        );
        shop.app
            .client
            .post(
                shop.app
                    .url(&format!("/api/v1/webhooks/stripe/{}", shop.store.id)),
            )
            .header("stripe-signature", signature)
            .header("content-type", "application/json")
            .body(body)
            .send()
    };
    // Another connected account's, and the platform's own: acknowledged, never stored.
    for account in [Some("acct_1SomeoneElse"), None] {
        let received = json_of(deliver(account).await.unwrap(), 200).await;
        assert_eq!(received["id"], Value::Null, "{received}");
    }
    cassa::webhooks::process_due(&shop.app.state).await.unwrap();
    assert_eq!(intent_of(&shop, &order).await["status"], "pending");
    let received = json_of(deliver(Some("acct_1StoreOwnAccount")).await.unwrap(), 200).await;
    assert!(received["id"].is_string(), "{received}");
    cassa::webhooks::process_due(&shop.app.state).await.unwrap();
    assert_eq!(intent_of(&shop, &order).await["status"], "authorized");
}

both_backends!(
    a_refund_whose_answer_was_lost_is_found_and_never_sent_twice,
    a_capture_stripe_never_did_is_sent_again_once_its_key_is_forgotten,
    a_release_refused_after_a_late_capture_is_tried_again,
    a_pending_refund_is_not_money_returned_until_stripe_says,
    an_authorization_whose_answer_was_lost_is_found_by_its_reference,
    an_authorization_stripe_never_made_fails_and_is_never_made_late,
    another_accounts_events_never_touch_the_store,
);
