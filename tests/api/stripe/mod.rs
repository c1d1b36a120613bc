//! The Stripe adapter against the local Stripe-shaped server (`server.rs`): the payment
//! lifecycle through the same API as the sandbox PSP's, the request shapes Stripe documents,
//! and each error class (declines, invalid requests, rate limits with `Retry-After`, a lost
//! answer after Stripe did the work, a timeout) leading where the issue says.

mod challenge;
mod connect;
mod credentials_in_use;
mod disputes;
mod intents;
mod multicapture;
mod reads;
mod recovery;
mod reversals;
/// The Stripe-shaped server, for every test that needs Stripe.
pub(crate) mod server;

use std::{sync::Arc, time::Duration};

use cassa::{
    credentials::{self, Credentials},
    providers::{registry::PaymentRegistry, sandbox::SandboxAdapter, stripe::StripeAdapter},
    types::Environment,
};
use cassa_tests::{Backend, SpawnOptions, both_backends, spawn_app_with};
use serde_json::{Value, json};

use crate::{
    payments::{Shop, shop::TOTAL},
    support::{assert_problem, json_of},
};
use server::{Fault, SECRET_KEY, StripeServer, VERSION};

/// The store's Stripe webhook signing secret.
pub(crate) const WEBHOOK_SECRET: &str = "whsec_c3RyaXBlLXRlc3Qtc2VjcmV0";

/// Where the test server mounts the Stripe-shaped server (under `/api/v1`).
pub(super) const MOUNT: &str = "/stripe";

/// A shop whose payments go to Stripe (the local server), with `account` as its Connect
/// account when given.
pub(crate) async fn stripe_shop(backend: Backend, account: Option<&str>) -> (Shop, StripeServer) {
    stripe_shop_with(backend, account, cassa::providers::stripe::NAME, true).await
}

/// A shop on a server whose default provider is `default`, holding Stripe credentials when
/// `with_credentials`.
async fn stripe_shop_with(
    backend: Backend,
    account: Option<&str>,
    default: &'static str,
    with_credentials: bool,
) -> (Shop, StripeServer) {
    let stripe = StripeServer::default();
    let registry = PaymentRegistry::new(default)
        .register(Arc::new(SandboxAdapter))
        .register(Arc::new(StripeAdapter::new(&format!("/api/v1{MOUNT}"))));
    let app = spawn_app_with(
        backend,
        SpawnOptions {
            payment_providers: Some(registry),
            extra_api: Some(stripe.router(MOUNT)),
            configure: Some(Box::new(|c| {
                c.webhook_workers = 0;
                c.provider_timeout = Duration::from_secs(2);
            })),
            ..Default::default()
        },
    )
    .await;
    let store = app.create_store("Stripe shop", "USD").await;
    crate::checkout::configure(&app, &store).await;
    if with_credentials {
        put_stripe_credentials(&app, &store, account).await;
    }
    let (_, token) = app.create_customer(&store).await;
    (Shop { app, store, token }, stripe)
}

async fn put_stripe_credentials(
    app: &cassa_tests::TestApp,
    store: &cassa_tests::TestStore,
    account: Option<&str>,
) {
    let secrets = Credentials::new(cassa::providers::stripe::NAME)
        .with("secret_key", Some(SECRET_KEY.to_owned()))
        .with("webhook_secret", Some(WEBHOOK_SECRET.to_owned()))
        .with("account_id", account.map(str::to_owned));
    credentials::put(
        &app.state,
        store.id.parse().unwrap(),
        Environment::Sandbox,
        &secrets,
    )
    .await
    .unwrap();
}

async fn pay(shop: &Shop, method: &str) -> (String, reqwest::Response) {
    let (order, snapshot) = shop.quoted_order().await;
    let key = uuid::Uuid::now_v7().to_string();
    let response = shop.authorize_with(&order, &snapshot, method, &key).await;
    (order, response)
}

async fn a_payment_goes_through_stripe_from_authorization_to_refund(backend: Backend) {
    let (shop, stripe) = stripe_shop(backend, Some("acct_1Connected")).await;
    let (order, response) = pay(&shop, "pm_card_visa").await;
    let intent = json_of(response, 201).await;
    assert_eq!(
        (intent["status"].as_str(), intent["provider"].as_str()),
        (Some("authorized"), Some("stripe"))
    );
    let pi = intent["provider_payment_id"].as_str().unwrap().to_owned();
    assert!(pi.starts_with("pi_"), "{pi}");
    // What Stripe received: a form with the manual capture flow, our reference, the pinned
    // version, the Connect account and the key derived from our transaction.
    let create = &stripe.seen()[0];
    let form = |name: &str| {
        create
            .form
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
    };
    assert_eq!(form("amount"), Some(TOTAL.to_string()));
    assert_eq!(form("currency").as_deref(), Some("usd"));
    assert_eq!(form("capture_method").as_deref(), Some("manual"));
    assert_eq!(form("confirm").as_deref(), Some("true"));
    assert_eq!(
        form("metadata[cassa_reference]"),
        intent_txn(&shop, &order, "authorize").await
    );
    assert_eq!(create.version.as_deref(), Some(VERSION));
    assert_eq!(create.account.as_deref(), Some("acct_1Connected"));
    assert!(
        create
            .idempotency_key
            .as_deref()
            .is_some_and(|k| k.len() >= 16)
    );

    json_of(shop.op(&order, &intent, "capture", json!({})).await, 200).await;
    assert_eq!(stripe.intent(&pi)["amount_received"], TOTAL);
    let refunded = json_of(
        shop.op(&order, &intent, "refund", json!({"amount": 1000}))
            .await,
        200,
    )
    .await;
    assert_eq!(
        (
            refunded["status"].as_str(),
            refunded["refunded_amount"].as_i64()
        ),
        (Some("partially_refunded"), Some(1000))
    );
    json_of(
        shop.op(&order, &intent, "refund", json!({"amount": TOTAL - 1000}))
            .await,
        200,
    )
    .await;
    assert_eq!(stripe.intent(&pi)["amount_refunded"], TOTAL);
    // Every POST carried its own key; the reads carried none.
    let posts: Vec<_> = stripe
        .seen()
        .into_iter()
        .filter(|s| s.method == "POST")
        .collect();
    assert_eq!(posts.len(), 4);
    let keys: std::collections::HashSet<_> = posts
        .iter()
        .filter_map(|s| s.idempotency_key.clone())
        .collect();
    assert_eq!(keys.len(), 4);
    // The audit keeps Stripe's answers without the intent's client secret.
    let audited: Vec<String> = cassa::on_db!(&shop.app.db, pool => sqlx::query_scalar(
        "SELECT response_body FROM provider_call_audit WHERE provider = 'stripe'")
        .fetch_all(pool).await)
    .unwrap();
    assert!(!audited.is_empty());
    assert!(
        audited.iter().all(|body| !body.contains("_secret_")),
        "{audited:?}"
    );
}

/// The reference our transaction of `operation` gave the provider (its id).
async fn intent_txn(shop: &Shop, order: &str, operation: &str) -> Option<String> {
    let detail = shop.detail(order).await;
    detail["intents"][0]["transactions"]
        .as_array()?
        .iter()
        .find(|t| t["operation"] == operation)
        .and_then(|t| t["id"].as_str().map(str::to_owned))
}

async fn a_voided_authorization_is_cancelled_at_stripe(backend: Backend) {
    let (shop, stripe) = stripe_shop(backend, None).await;
    let (order, response) = pay(&shop, "pm_card_visa").await;
    let intent = json_of(response, 201).await;
    let voided = json_of(shop.op(&order, &intent, "void", json!({})).await, 200).await;
    assert_eq!(voided["status"], "voided");
    let pi = intent["provider_payment_id"].as_str().unwrap();
    assert_eq!(stripe.intent(pi)["status"], "canceled");
    assert!(stripe.seen().iter().all(|s| s.account.is_none()));
}

async fn declines_are_402_with_stripes_decline_code(backend: Backend) {
    let (shop, _stripe) = stripe_shop(backend, None).await;
    let (_, response) = pay(&shop, "pm_card_chargeDeclined").await;
    let problem = assert_problem(response, 402, "payment_declined").await;
    assert!(
        problem["detail"]
            .as_str()
            .unwrap_or_default()
            .contains("generic_decline"),
        "{problem}"
    );
    let (_, response) = pay(&shop, "pm_card_chargeDeclinedInsufficientFunds").await;
    let problem = assert_problem(response, 402, "payment_declined").await;
    assert!(
        problem["detail"]
            .as_str()
            .unwrap_or_default()
            .contains("insufficient_funds"),
        "{problem}"
    );
    // An invalid request is the provider's refusal, final for this request.
    let (_, response) = pay(&shop, "pm_card_unknown").await;
    assert_problem(response, 422, "provider_rejected").await;
}

async fn a_rate_limit_is_retried_after_the_time_stripe_asks(backend: Backend) {
    let (shop, stripe) = stripe_shop(backend, None).await;
    stripe.fault(Fault::RateLimited);
    let (_, response) = pay(&shop, "pm_card_visa").await;
    let intent = json_of(response, 201).await;
    assert_eq!(intent["status"], "authorized");
    let creates: Vec<_> = stripe
        .seen()
        .into_iter()
        .filter(|s| s.path == "/v1/payment_intents")
        .collect();
    assert_eq!(creates.len(), 2, "one refused, one retried");
    assert_eq!(creates[0].idempotency_key, creates[1].idempotency_key);
}

async fn a_lost_answer_is_settled_by_asking_stripe(backend: Backend) {
    let (shop, stripe) = stripe_shop(backend, None).await;
    let (order, response) = pay(&shop, "pm_card_visa").await;
    let intent = json_of(response, 201).await;
    // Stripe captures, then its answer is a 500: the outcome is unknown, never guessed.
    stripe.fault(Fault::FailAfterWork);
    assert_problem(
        shop.op(&order, &intent, "capture", json!({})).await,
        502,
        "provider_outcome_unknown",
    )
    .await;
    // The resolver asks Stripe (Stripe's intent shows the capture) and records it.
    shop.resolve().await;
    let detail = shop.detail(&order).await;
    assert_eq!(detail["intents"][0]["status"], "captured", "{detail}");
    assert_eq!(detail["intents"][0]["captured_amount"], TOTAL);
    // A timeout is the same: Stripe did it, the answer came too late.
    let (order, response) = pay(&shop, "pm_card_visa").await;
    let intent = json_of(response, 201).await;
    stripe.fault(Fault::Delay(Duration::from_secs(3)));
    assert_problem(
        shop.op(&order, &intent, "void", json!({})).await,
        502,
        "provider_outcome_unknown",
    )
    .await;
    shop.resolve().await;
    let detail: Value = shop.detail(&order).await;
    assert_eq!(detail["intents"][0]["status"], "voided", "{detail}");
}

async fn three_d_secure_is_settled_by_stripes_signed_event(backend: Backend) {
    let (shop, stripe) = stripe_shop(backend, None).await;
    let (order, response) = pay(&shop, "pm_card_threeDSecure2Required").await;
    // Waiting for the customer: accepted, not authorized.
    let intent = json_of(response, 202).await;
    assert_eq!(intent["status"], "pending");
    // The storefront gets what Stripe asks of the customer (without a return URL, Stripe.js's
    // challenge; `challenge.rs` has the redirect a return URL gives).
    assert_eq!(intent["next_action"]["type"], "use_stripe_sdk", "{intent}");
    assert!(!intent.to_string().contains("_secret_"), "{intent}");
    let pi = intent["provider_payment_id"].as_str().unwrap().to_owned();
    stripe.complete_action(&pi);
    let event = json!({"id": format!("evt_{}", uuid::Uuid::now_v7().simple()), "object": "event",
        "type": "payment_intent.amount_capturable_updated", "data": {"object": stripe.intent(&pi)}});
    let body = event.to_string();
    let signature = cassa::providers::signature::sign_stripe(
        WEBHOOK_SECRET,
        chrono::Utc::now().timestamp(),
        body.as_bytes(),
    );
    let path = format!("/api/v1/webhooks/stripe/{}", shop.store.id);
    let post = |signature: String| {
        shop.app
            .client
            .post(shop.app.url(&path))
            .header("stripe-signature", signature)
            .header("content-type", "application/json")
            .body(body.clone())
            .send()
    };
    assert_eq!(post("t=1,v1=00".to_owned()).await.unwrap().status(), 401);
    assert_eq!(post(signature).await.unwrap().status(), 200);
    cassa::webhooks::process_due(&shop.app.state).await.unwrap();
    let detail = shop.detail(&order).await;
    assert_eq!(detail["intents"][0]["status"], "authorized", "{detail}");
    assert_eq!(detail["intents"][0]["authorized_amount"], TOTAL);
}

async fn a_partial_capture_releases_the_rest_as_stripe_does(backend: Backend) {
    let (shop, stripe) = stripe_shop(backend, None).await;
    let (order, response) = pay(&shop, "pm_card_visa").await;
    let intent = json_of(response, 201).await;
    let pi = intent["provider_payment_id"].as_str().unwrap().to_owned();
    let captured = json_of(
        shop.op(&order, &intent, "capture", json!({"amount": 1000}))
            .await,
        200,
    )
    .await;
    // Stripe captured 10.00 and released the rest: the ledger says the same, so nothing
    // claims the rest is still capturable.
    assert_eq!(stripe.intent(&pi)["amount_received"], 1000);
    let detail = shop.detail(&order).await;
    let ours = &detail["intents"][0];
    assert_eq!(
        (
            ours["captured_amount"].as_i64(),
            ours["released_amount"].as_i64()
        ),
        (Some(1000), Some(TOTAL - 1000)),
        "{detail}"
    );
    assert_eq!(ours["capturable_amount"], 0);
    assert_eq!(captured["captured_amount"], 1000);
    json_of(
        shop.op(&order, &intent, "refund", json!({"amount": 1000}))
            .await,
        200,
    )
    .await;
    assert_eq!(stripe.intent(&pi)["amount_refunded"], 1000);
}

async fn a_store_chooses_stripe_for_its_new_payments(backend: Backend) {
    let (shop, stripe) = stripe_shop_with(backend, None, "sandbox", false).await;
    let key = &shop.store.sandbox_key;
    let path = "/api/v1/admin/payment-provider";
    let get = || crate::support::send(&shop.app, reqwest::Method::GET, key, path, None);
    let put = |provider: &str| {
        crate::support::send(
            &shop.app,
            reqwest::Method::PUT,
            key,
            path,
            Some(json!({"provider": provider})),
        )
    };
    let default = json_of(get().await, 200).await;
    assert_eq!(
        (default["provider"].as_str(), default["chosen"].as_bool()),
        (Some("sandbox"), Some(false))
    );
    // Not a provider, or one it holds no credentials for: refused, nothing stored.
    assert_problem(put("paypal").await, 422, "validation_failed").await;
    assert_problem(put("stripe").await, 422, "validation_failed").await;
    let (order, response) = pay(&shop, "pm_card_visa").await;
    assert_eq!(json_of(response, 201).await["provider"], "sandbox");

    put_stripe_credentials(&shop.app, &shop.store, None).await;
    let chosen = json_of(put("stripe").await, 200).await;
    // A live key is never sandbox's; an account id is Stripe's shape.
    let credentials = "/api/v1/admin/credentials/stripe/sandbox";
    for body in [
        json!({"secret_key": "sk_live_0123456789", "webhook_secret": WEBHOOK_SECRET}),
        json!({"secret_key": SECRET_KEY, "webhook_secret": WEBHOOK_SECRET, "account_id": "acct_1\r\nX: y"}),
    ] {
        assert_problem(
            crate::support::send(
                &shop.app,
                reqwest::Method::PUT,
                key,
                credentials,
                Some(body),
            )
            .await,
            422,
            "validation_failed",
        )
        .await;
    }
    assert_eq!(
        (chosen["provider"].as_str(), chosen["chosen"].as_bool()),
        (Some("stripe"), Some(true))
    );
    let (stripe_order, response) = pay(&shop, "pm_card_visa").await;
    let intent = json_of(response, 201).await;
    assert_eq!(intent["provider"], "stripe");
    assert!(
        stripe
            .seen()
            .iter()
            .any(|s| s.path == "/v1/payment_intents")
    );
    // The payment made before keeps its provider.
    assert_eq!(
        shop.detail(&order).await["intents"][0]["provider"],
        "sandbox"
    );
    // Without its credentials the choice goes back to the default (once the payment made
    // through them no longer holds funds).
    json_of(
        shop.op(&stripe_order, &intent, "void", json!({})).await,
        200,
    )
    .await;
    let deleted =
        crate::support::send(&shop.app, reqwest::Method::DELETE, key, credentials, None).await;
    assert!(deleted.status().is_success(), "{}", deleted.status());
    let back = json_of(get().await, 200).await;
    assert_eq!(
        (back["provider"].as_str(), back["chosen"].as_bool()),
        (Some("sandbox"), Some(false))
    );
}

both_backends!(
    a_store_chooses_stripe_for_its_new_payments,
    a_partial_capture_releases_the_rest_as_stripe_does,
    three_d_secure_is_settled_by_stripes_signed_event,
    a_payment_goes_through_stripe_from_authorization_to_refund,
    a_voided_authorization_is_cancelled_at_stripe,
    declines_are_402_with_stripes_decline_code,
    a_rate_limit_is_retried_after_the_time_stripe_asks,
    a_lost_answer_is_settled_by_asking_stripe,
);
