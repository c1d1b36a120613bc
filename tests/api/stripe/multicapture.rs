//! Multicapture: a store whose Stripe account captures an authorization several times asks
//! for it on every authorization; where the card allows it, captures keep the rest held for
//! the next one (`final_capture=false`) and a void releases it; where the card does not, the
//! authorization is captured once, as without multicapture. Captures of one intent are made one
//! at a time, so a capture whose answer was lost is found by the total it left at Stripe.

use std::time::Duration;

use reqwest::Method;
use serde_json::{Value, json};

use super::{
    WEBHOOK_SECRET, pay,
    server::{Fault, SECRET_KEY, StripeServer},
    stripe_shop,
};
use crate::{
    payments::{Shop, shop::TOTAL},
    support::{assert_problem, json_of, send},
};
use cassa_tests::{Backend, both_backends};

/// A Stripe shop whose account has multicapture, set through the credentials API.
async fn multicapture_shop(backend: Backend) -> (Shop, StripeServer) {
    let (shop, stripe) = stripe_shop(backend, None).await;
    let body = json!({"secret_key": SECRET_KEY, "webhook_secret": WEBHOOK_SECRET,
        "multicapture": true});
    let path = "/api/v1/admin/credentials/stripe/sandbox";
    let key = &shop.store.sandbox_key;
    let put = send(&shop.app, Method::PUT, key, path, Some(body)).await;
    assert!(put.status().is_success(), "{}", put.text().await.unwrap());
    (shop, stripe)
}

/// The form fields of the requests to `path`.
fn forms(stripe: &StripeServer, path: &str) -> Vec<Vec<(String, String)>> {
    stripe
        .seen()
        .into_iter()
        .filter(|s| s.method == "POST" && s.path == path)
        .map(|s| s.form)
        .collect()
}

fn has(form: &[(String, String)], name: &str, value: &str) -> bool {
    form.iter().any(|(k, v)| k == name && v == value)
}

async fn intent_of(shop: &Shop, order: &str) -> Value {
    shop.detail(order).await["intents"][0].clone()
}

/// The ledger's invariants, and Stripe's intent holding what the ledger captured and refunded.
async fn agrees_with_stripe(shop: &Shop, stripe: &StripeServer, order: &str, pi: &str) {
    let detail = shop.ledger_invariants(order).await;
    let ours = &detail["intents"][0];
    let theirs = stripe.intent(pi);
    assert_eq!(
        (&theirs["amount_received"], &theirs["amount_refunded"]),
        (&ours["captured_amount"], &ours["refunded_amount"]),
        "{ours} {theirs}"
    );
}

/// An authorization made with `method`: its order, intent and Stripe PaymentIntent id.
async fn authorized(shop: &Shop, method: &str) -> (String, Value, String) {
    let (order, response) = pay(shop, method).await;
    let intent = json_of(response, 201).await;
    let pi = intent["provider_payment_id"].as_str().unwrap().to_owned();
    (order, intent, pi)
}

/// A capture of `amount` that succeeds.
async fn capture(shop: &Shop, order: &str, intent: &Value, amount: i64) {
    let captured = shop
        .op(order, intent, "capture", json!({"amount": amount}))
        .await;
    json_of(captured, 200).await;
}

fn amounts(intent: &Value) -> [i64; 3] {
    ["captured_amount", "capturable_amount", "released_amount"]
        .map(|f| intent[f].as_i64().unwrap_or(-1))
}

async fn a_multicapture_authorization_is_captured_in_parts_then_released(backend: Backend) {
    let (shop, stripe) = multicapture_shop(backend).await;
    let (order, intent, pi) = authorized(&shop, "pm_card_visa").await;
    let create = &forms(&stripe, "/v1/payment_intents")[0];
    assert!(has(
        create,
        "payment_method_options[card][request_multicapture]",
        "if_available"
    ));

    for (amount, total) in [(1000, 1000), (2000, 3000)] {
        capture(&shop, &order, &intent, amount).await;
        // Stripe captured it and still holds the rest for the next capture.
        assert_eq!(stripe.intent(&pi)["amount_received"], total);
        assert_eq!(stripe.intent(&pi)["status"], "requires_capture");
        let ours = intent_of(&shop, &order).await;
        assert_eq!(ours["status"], "partially_captured", "{ours}");
        assert_eq!(amounts(&ours), [total, TOTAL - total, 0], "{ours}");
    }
    let captures = forms(&stripe, &format!("/v1/payment_intents/{pi}/capture"));
    assert_eq!(captures.len(), 2);
    assert!(captures.iter().all(|f| has(f, "final_capture", "false")));

    // What was captured is refundable while the rest is still held.
    let refund = shop
        .op(&order, &intent, "refund", json!({"amount": 500}))
        .await;
    json_of(refund, 200).await;
    assert_eq!(stripe.refunds().len(), 1);

    json_of(shop.op(&order, &intent, "void", json!({})).await, 200).await;
    assert_eq!(stripe.intent(&pi)["status"], "succeeded");
    let ours = intent_of(&shop, &order).await;
    assert_eq!(amounts(&ours), [3000, 0, TOTAL - 3000], "{ours}");
    assert_eq!(ours["refunded_amount"], 500, "{ours}");
    agrees_with_stripe(&shop, &stripe, &order, &pi).await;
}

async fn a_card_without_multicapture_is_captured_once(backend: Backend) {
    let (shop, stripe) = multicapture_shop(backend).await;
    let (order, intent, pi) = authorized(&shop, "pm_card_unionpay").await;
    capture(&shop, &order, &intent, 1000).await;
    // Stripe released the rest with the capture, and the ledger says so.
    assert_eq!(stripe.intent(&pi)["status"], "succeeded");
    let captures = forms(&stripe, &format!("/v1/payment_intents/{pi}/capture"));
    assert!(!has(&captures[0], "final_capture", "false"), "{captures:?}");
    let ours = intent_of(&shop, &order).await;
    assert_eq!(amounts(&ours), [1000, 0, TOTAL - 1000], "{ours}");
    let again = shop
        .op(&order, &intent, "capture", json!({"amount": 1000}))
        .await;
    assert_problem(again, 409, "invalid_state_transition").await;
}

async fn a_lost_capture_answer_is_found_by_the_total_it_left(backend: Backend) {
    let (shop, stripe) = multicapture_shop(backend).await;
    let (order, intent, pi) = authorized(&shop, "pm_card_visa").await;
    capture(&shop, &order, &intent, 1000).await;
    stripe.fault(Fault::FailAfterWork);
    let lost = shop
        .op(&order, &intent, "capture", json!({"amount": 2000}))
        .await;
    assert_problem(lost, 502, "provider_outcome_unknown").await;
    // Stripe forgot the key: only its intent's total says the second capture was made.
    stripe.forget_keys();
    shop.app.clock.advance(chrono::Duration::hours(2));
    shop.resolve().await;
    let ours = intent_of(&shop, &order).await;
    assert_eq!(amounts(&ours), [3000, TOTAL - 3000, 0], "{ours}");
    assert_eq!(stripe.intent(&pi)["amount_received"], 3000);
    let captures = forms(&stripe, &format!("/v1/payment_intents/{pi}/capture"));
    assert_eq!(captures.len(), 2, "the lost capture was never sent again");
    agrees_with_stripe(&shop, &stripe, &order, &pi).await;
}

async fn a_second_capture_while_one_is_on_its_way_is_refused(backend: Backend) {
    let (shop, stripe) = multicapture_shop(backend).await;
    let (order, intent, pi) = authorized(&shop, "pm_card_visa").await;
    stripe.fault(Fault::Delay(Duration::from_millis(1500)));
    let slow = shop.op(&order, &intent, "capture", json!({"amount": 1000}));
    let second = async {
        // Once the first capture is recorded as on its way (phase 1), not after a guessed time.
        let open = "SELECT count(*) FROM payment_transactions WHERE operation = $1 \
            AND status = 'pending'";
        while shop.scalar(open, "capture").await != 1 {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        shop.op(&order, &intent, "capture", json!({"amount": 2000}))
            .await
    };
    let (slow, second) = tokio::join!(slow, second);
    json_of(slow, 200).await;
    assert_problem(second, 409, "invalid_state_transition").await;
    // Once the first is recorded the next capture goes through.
    capture(&shop, &order, &intent, 2000).await;
    assert_eq!(stripe.intent(&pi)["amount_received"], 3000);
    agrees_with_stripe(&shop, &stripe, &order, &pi).await;
}

async fn a_multicapture_payment_stripe_cancelled_after_a_capture_releases_its_rest(
    backend: Backend,
) {
    let (shop, stripe) = multicapture_shop(backend).await;
    let (order, intent, pi) = authorized(&shop, "pm_card_visa").await;
    capture(&shop, &order, &intent, 1000).await;
    // Stripe cancels it on its own (an expiry, its dashboard): the capture stays, the rest is
    // released, and the intent reads succeeded rather than canceled.
    stripe.cancel(&pi);
    assert_eq!(stripe.intent(&pi)["status"], "succeeded");
    super::challenge::deliver(&shop, &stripe, "payment_intent.canceled", &pi).await;
    let ours = intent_of(&shop, &order).await;
    assert_eq!(ours["status"], "captured", "{ours}");
    assert_eq!(amounts(&ours), [1000, 0, TOTAL - 1000], "{ours}");
    agrees_with_stripe(&shop, &stripe, &order, &pi).await;
}

both_backends!(
    a_multicapture_payment_stripe_cancelled_after_a_capture_releases_its_rest,
    a_multicapture_authorization_is_captured_in_parts_then_released,
    a_card_without_multicapture_is_captured_once,
    a_lost_capture_answer_is_found_by_the_total_it_left,
    a_second_capture_while_one_is_on_its_way_is_refused,
);
