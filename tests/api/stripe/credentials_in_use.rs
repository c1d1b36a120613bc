//! Credentials that payments still need: while an authorization holds funds on a card, or an
//! operation awaits Stripe's outcome, the store's Stripe credentials are neither deleted nor
//! switched to another account (the resolver, voids and releases could reach it no more); a
//! new key for the same account is always taken.

use reqwest::Method;
use serde_json::{Value, json};

use super::{WEBHOOK_SECRET, pay, server::SECRET_KEY, stripe_shop};
use crate::{
    payments::Shop,
    support::{assert_problem, console_fn, console_sign_in, json_of, send},
};
use cassa_tests::{Backend, both_backends};

const PATH: &str = "/api/v1/admin/credentials/stripe/sandbox";
const ACCOUNT: &str = "acct_1StoreOwnAccount";

async fn delete(shop: &Shop) -> reqwest::Response {
    send(
        &shop.app,
        Method::DELETE,
        &shop.store.sandbox_key,
        PATH,
        None,
    )
    .await
}

async fn put(shop: &Shop, secret_key: &str, account: Option<&str>) -> reqwest::Response {
    let body = json!({"secret_key": secret_key, "webhook_secret": WEBHOOK_SECRET,
        "account_id": account});
    send(
        &shop.app,
        Method::PUT,
        &shop.store.sandbox_key,
        PATH,
        Some(body),
    )
    .await
}

/// The stored Stripe credentials, masked.
async fn stored(shop: &Shop) -> Option<Value> {
    let listed = json_of(
        send(
            &shop.app,
            Method::GET,
            &shop.store.sandbox_key,
            "/api/v1/admin/credentials",
            None,
        )
        .await,
        200,
    )
    .await;
    listed
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["provider"] == "stripe")
        .map(|c| c["masked"].clone())
}

async fn an_authorization_keeps_its_account_until_it_is_voided(backend: Backend) {
    let (shop, _stripe) = stripe_shop(backend, Some(ACCOUNT)).await;
    let (order, response) = pay(&shop, "pm_card_visa").await;
    let intent = json_of(response, 201).await;

    let refused = assert_problem(delete(&shop).await, 409, "credentials_in_use").await;
    let detail = refused["detail"].as_str().unwrap();
    assert!(detail.starts_with("1 payment made through"), "{detail}");
    assert!(detail.contains("void or settle it first"), "{detail}");
    assert!(stored(&shop).await.is_some());
    // Another Connect account, or the platform's own, would not know the payment either.
    for other in [Some("acct_1AnotherAccount"), None] {
        assert_problem(
            put(&shop, SECRET_KEY, other).await,
            409,
            "credentials_in_use",
        )
        .await;
    }
    // A rotated key for the same account is taken (and the payment's provider still
    // reached with it: the Stripe-shaped server knows only the one key, restored here).
    json_of(
        put(&shop, "sk_test_rotated_0123456789abcdefghij", Some(ACCOUNT)).await,
        200,
    )
    .await;
    json_of(put(&shop, SECRET_KEY, Some(ACCOUNT)).await, 200).await;
    assert_eq!(stored(&shop).await.unwrap()["account_id"], ACCOUNT);

    // The console's form says why, from the same rule.
    let owner = "owner@stripe-shop.test";
    shop.app.create_owner(&shop.store, owner).await;
    let cookie = console_sign_in(&shop.app, owner, "owner-password-123").await;
    let form = [
        ("provider", "stripe"),
        ("primary_secret", SECRET_KEY),
        ("webhook_secret", WEBHOOK_SECRET),
        ("setting", "acct_1AnotherAccount"),
    ];
    let answered = console_fn(&shop.app, "put_credentials", &form, Some(&cookie)).await;
    assert!(!answered.status().is_success());
    let text = answered.text().await.unwrap();
    assert!(text.contains("still holds funds on a card"), "{text}");
    assert_eq!(stored(&shop).await.unwrap()["account_id"], ACCOUNT);

    json_of(shop.op(&order, &intent, "void", json!({})).await, 200).await;
    json_of(
        put(&shop, SECRET_KEY, Some("acct_1AnotherAccount")).await,
        200,
    )
    .await;
    assert_eq!(delete(&shop).await.status(), 204);
    assert!(stored(&shop).await.is_none());
}

async fn an_outcome_stripe_has_not_given_keeps_the_credentials(backend: Backend) {
    let (shop, stripe) = stripe_shop(backend, None).await;
    let (order, response) = pay(&shop, "pm_card_visa").await;
    let intent = json_of(response, 201).await;
    // Captured in full: nothing is held on the card any more, but the refund is on its way.
    json_of(shop.op(&order, &intent, "capture", json!({})).await, 200).await;
    stripe.hold_refunds();
    json_of(
        shop.op(&order, &intent, "refund", json!({"amount": 700}))
            .await,
        202,
    )
    .await;
    assert_problem(delete(&shop).await, 409, "credentials_in_use").await;
    assert_problem(
        put(&shop, SECRET_KEY, Some(ACCOUNT)).await,
        409,
        "credentials_in_use",
    )
    .await;
    stripe.settle_refunds();
    shop.app.clock.advance(chrono::Duration::hours(2));
    shop.resolve().await;
    assert_eq!(
        shop.detail(&order).await["intents"][0]["refunded_amount"],
        700
    );
    assert_eq!(delete(&shop).await.status(), 204);
}

both_backends!(
    an_authorization_keeps_its_account_until_it_is_voided,
    an_outcome_stripe_has_not_given_keeps_the_credentials,
);
