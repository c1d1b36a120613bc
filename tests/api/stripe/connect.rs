//! A Connect store: its payments live in its own Stripe account, so every call about them
//! names it (`Stripe-Account`). The Stripe-shaped server keeps each account's objects apart as
//! Stripe does, so a call that forgot the header would find nothing.

use serde_json::json;

use super::{
    MOUNT, pay,
    server::{SECRET_KEY, VERSION},
    stripe_shop,
};
use crate::support::json_of;
use cassa_tests::{Backend, both_backends};

const ACCOUNT: &str = "acct_1ConnectStore";

async fn a_connect_stores_payments_exist_only_in_its_account(backend: Backend) {
    let (shop, stripe) = stripe_shop(backend, Some(ACCOUNT)).await;
    let (order, response) = pay(&shop, "pm_card_visa").await;
    let intent = json_of(response, 201).await;
    let pi = intent["provider_payment_id"].as_str().unwrap().to_owned();
    for (op, body) in [
        ("capture", json!({"amount": 1000})),
        ("refund", json!({"amount": 400})),
    ] {
        json_of(shop.op(&order, &intent, op, body).await, 200).await;
    }
    shop.resolve().await;
    let seen = stripe.seen();
    assert!(seen.len() >= 3, "{seen:?}");
    assert!(
        seen.iter().all(|s| s.account.as_deref() == Some(ACCOUNT)),
        "{seen:?}"
    );

    // The same intent asked for as the platform (or another account) does not exist.
    let url = shop
        .app
        .url(&format!("/api/v1{MOUNT}/v1/payment_intents/{pi}"));
    let get = |account: Option<&str>| {
        let mut request = shop
            .app
            .client
            .get(&url)
            .bearer_auth(SECRET_KEY)
            .header("stripe-version", VERSION);
        if let Some(account) = account {
            request = request.header("stripe-account", account);
        }
        request.send()
    };
    assert_eq!(get(None).await.unwrap().status(), 404);
    assert_eq!(get(Some("acct_1SomeoneElse")).await.unwrap().status(), 404);
    let ours = get(Some(ACCOUNT)).await.unwrap();
    assert_eq!(ours.status(), 200);
    assert_eq!(
        ours.json::<serde_json::Value>().await.unwrap()["amount_received"],
        1000
    );
}

both_backends!(a_connect_stores_payments_exist_only_in_its_account);
