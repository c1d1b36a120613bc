//! 3-D Secure: the storefront's return URL goes to Stripe (so the challenge redirects without
//! the intent's client secret ever leaving the platform), and a challenge the customer never
//! completes is cancelled at Stripe and failed after an hour instead of pending for ever.

use serde_json::{Value, json};

use super::{server::StripeServer, stripe_shop};
use crate::{
    payments::Shop,
    support::{assert_problem, json_of},
};
use cassa_tests::{Backend, both_backends};

async fn authorize(
    shop: &Shop,
    method: &str,
    return_url: Option<&str>,
) -> (String, reqwest::Response) {
    let (order, snapshot) = shop.quoted_order().await;
    let mut body = json!({"snapshot_id": snapshot, "payment_method": method});
    if let Some(url) = return_url {
        body["return_url"] = json!(url);
    }
    let key = uuid::Uuid::now_v7().to_string();
    let path = format!("/api/v1/me/orders/{order}/payments/authorize");
    (order, shop.post(&shop.token, &path, &key, body).await)
}

fn sent_return_urls(stripe: &StripeServer) -> Vec<String> {
    stripe
        .seen()
        .into_iter()
        .filter(|s| s.path == "/v1/payment_intents")
        .filter_map(|s| {
            s.form
                .into_iter()
                .find(|(k, _)| k == "return_url")
                .map(|(_, v)| v)
        })
        .collect()
}

async fn the_challenge_returns_the_customer_to_the_storefront(backend: Backend) {
    let (shop, stripe) = stripe_shop(backend, None).await;
    let url = "https://shop.example/checkout/done?order=1";
    let (_, response) = authorize(&shop, "pm_card_threeDSecure2Required", Some(url)).await;
    let intent = json_of(response, 202).await;
    assert_eq!(
        intent["next_action"]["redirect_to_url"]["return_url"], url,
        "{intent}"
    );
    // The intent's client secret completes the payment from a browser: never passed on.
    assert!(!intent.to_string().contains("_secret_"), "{intent}");
    assert_eq!(sent_return_urls(&stripe), vec![url.to_owned()]);
    // A developer's storefront may use http in the sandbox.
    let (_, response) = authorize(&shop, "pm_card_visa", Some("http://localhost:3000/done")).await;
    json_of(response, 201).await;
    for refused in [
        "ftp://shop.example/done",
        "https://user:password@shop.example/done",
        "/relative/done",
        &format!("https://shop.example/{}", "a".repeat(2100)),
    ] {
        let (_, response) = authorize(&shop, "pm_card_visa", Some(refused)).await;
        assert_problem(response, 422, "validation_failed").await;
    }
    assert_eq!(sent_return_urls(&stripe).len(), 2, "refused before Stripe");
}

async fn ours(shop: &Shop, order: &str) -> Value {
    shop.detail(order).await["intents"][0].clone()
}

async fn an_abandoned_challenge_is_cancelled_after_an_hour(backend: Backend) {
    let (shop, stripe) = stripe_shop(backend, None).await;
    let (order, response) = authorize(&shop, "pm_card_threeDSecure2Required", None).await;
    let intent = json_of(response, 202).await;
    let pi = intent["provider_payment_id"].as_str().unwrap().to_owned();
    // Within the hour the customer may still come back.
    shop.app.clock.advance(chrono::Duration::minutes(30));
    shop.resolve().await;
    assert_eq!(ours(&shop, &order).await["status"], "pending");
    assert_eq!(stripe.intent(&pi)["status"], "requires_action");
    shop.app.clock.advance(chrono::Duration::minutes(45));
    shop.resolve().await;
    let failed: Value = ours(&shop, &order).await;
    assert_eq!(
        (failed["status"].as_str(), failed["failure_code"].as_str()),
        (Some("failed"), Some("authentication_abandoned")),
        "{failed}"
    );
    assert_eq!(stripe.intent(&pi)["status"], "canceled");
}

/// Delivers Stripe's signed `kind` event about the intent `pi` as the mock holds it.
pub(super) async fn deliver(shop: &Shop, stripe: &StripeServer, kind: &str, pi: &str) {
    let event = json!({"id": format!("evt_{}", uuid::Uuid::now_v7().simple()), "object": "event",
        "type": kind, "data": {"object": stripe.intent(pi)}});
    let body = event.to_string();
    let signature = cassa::providers::signature::sign_stripe(
        super::WEBHOOK_SECRET,
        chrono::Utc::now().timestamp(),
        body.as_bytes(),
    );
    let path = format!("/api/v1/webhooks/stripe/{}", shop.store.id);
    let response = shop
        .app
        .client
        .post(shop.app.url(&path))
        .header("stripe-signature", signature)
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    cassa::webhooks::process_due(&shop.app.state).await.unwrap();
}

async fn a_payment_stripe_cancelled_on_its_own_is_released(backend: Backend) {
    let (shop, stripe) = stripe_shop(backend, None).await;
    let (order, response) = authorize(&shop, "pm_card_visa", None).await;
    let intent = json_of(response, 201).await;
    let pi = intent["provider_payment_id"].as_str().unwrap().to_owned();
    // An event Stripe's intent does not bear out cancels nothing, and sends no cancel.
    deliver(&shop, &stripe, "payment_intent.canceled", &pi).await;
    assert_eq!(ours(&shop, &order).await["status"], "authorized");
    assert_eq!(stripe.intent(&pi)["status"], "requires_capture");
    // Stripe lets the authorization expire: the ledger releases it and the order is open.
    stripe.cancel(&pi);
    shop.app.clock.advance(chrono::Duration::hours(2));
    cassa::webhooks::process_due(&shop.app.state).await.unwrap();
    let released = ours(&shop, &order).await;
    assert_eq!(
        (
            released["status"].as_str(),
            released["released_amount"].as_i64()
        ),
        (Some("voided"), released["amount"].as_i64()),
        "{released}"
    );
    assert_eq!(shop.detail(&order).await["order_status"], "open");
    // Told again: nothing more.
    deliver(&shop, &stripe, "payment_intent.canceled", &pi).await;
    assert_eq!(ours(&shop, &order).await["status"], "voided");
}

both_backends!(
    a_payment_stripe_cancelled_on_its_own_is_released,
    the_challenge_returns_the_customer_to_the_storefront,
    an_abandoned_challenge_is_cancelled_after_an_hour,
);
