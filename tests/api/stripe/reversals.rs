//! A refund Stripe fails after it had succeeded (the card was closed, the bank returned it):
//! Stripe puts the money back in the merchant's balance and sends `charge.refund.updated` (and
//! `refund.updated`, `refund.failed`) with the Refund object, `status: failed`. Once Stripe's
//! own list of the intent's refunds says so, the ledger reverses the refund (the transaction
//! `reversed`, the intent's refunded amount and status back, the tax re-committed), once however
//! many deliveries race; an event Stripe's state does not bear out moves nothing.

use reqwest::Method;
use serde_json::{Value, json};

use super::{WEBHOOK_SECRET, pay, server::StripeServer, stripe_shop};
use crate::{
    payments::{Shop, shop::TOTAL},
    support::{json_of, send},
};
use cassa_tests::{Backend, both_backends};

/// The reason Stripe gives for a refund the bank returned.
const REASON: &str = "expired_or_canceled_card";

/// The Stripe-shaped server's side of it (`server.rs` holds the rest of the mock).
impl StripeServer {
    /// Stripe fails the succeeded refund carrying our `reference`, as when the bank returns
    /// it: the refund is `failed` with `reason`, and the charge's refunded amount goes back
    /// down. Answers the Refund object as Stripe's events carry it.
    pub fn fail_refund(&self, reference: &str, reason: &str) -> Value {
        let mut inner = self.0.lock().unwrap();
        let failed = {
            let refund = inner
                .refunds
                .iter_mut()
                .find(|r| r["metadata"]["cassa_reference"] == reference)
                .expect("a refund with this reference");
            assert_eq!(refund["status"], "succeeded", "{refund}");
            refund["status"] = json!("failed");
            refund["failure_reason"] = json!(reason);
            refund.clone()
        };
        let intent = inner
            .intents
            .get_mut(failed["payment_intent"].as_str().unwrap())
            .unwrap();
        let refunded = intent["amount_refunded"].as_i64().unwrap();
        intent["amount_refunded"] = json!(refunded - failed["amount"].as_i64().unwrap());
        failed
    }

    /// Our refund (by its reference) as Stripe holds it.
    pub fn refund_of(&self, reference: &str) -> Value {
        self.refunds()
            .into_iter()
            .find(|r| r["metadata"]["cassa_reference"] == reference)
            .expect("a refund with this reference")
    }
}

/// Posts Stripe's signed `kind` event about `object` under `id`; answers the receipt (the
/// event is processed later).
async fn post_event(shop: &Shop, id: &str, kind: &str, object: &Value) -> Value {
    let event = json!({"id": id, "object": "event", "type": kind,
        "data": {"object": object}});
    let body = event.to_string();
    let signature = cassa::providers::signature::sign_stripe(
        WEBHOOK_SECRET,
        chrono::Utc::now().timestamp(),
        body.as_bytes(),
    );
    let response = shop
        .app
        .client
        .post(
            shop.app
                .url(&format!("/api/v1/webhooks/stripe/{}", shop.store.id)),
        )
        .header("stripe-signature", signature)
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .unwrap();
    json_of(response, 200).await
}

fn event_id() -> String {
    format!("evt_{}", uuid::Uuid::now_v7().simple())
}

/// Delivers a new signed `kind` event about `object` and processes the queue.
async fn deliver(shop: &Shop, kind: &str, object: &Value) -> Value {
    let received = post_event(shop, &event_id(), kind, object).await;
    cassa::webhooks::process_due(&shop.app.state).await.unwrap();
    received
}

/// A captured Stripe payment refunded by `refunds`: (order, intent, the refunds' ids).
async fn refunded(shop: &Shop, refunds: &[i64]) -> (String, Value, Vec<String>) {
    let (order, response) = pay(shop, "pm_card_visa").await;
    let intent = json_of(response, 201).await;
    json_of(shop.op(&order, &intent, "capture", json!({})).await, 200).await;
    for amount in refunds {
        let body = json!({"amount": amount});
        json_of(shop.op(&order, &intent, "refund", body).await, 200).await;
    }
    let detail = shop.detail(&order).await;
    let ids = transactions(&detail, "refund")
        .iter()
        .map(|t| t["id"].as_str().unwrap().to_owned())
        .collect();
    (order, intent, ids)
}

fn transactions<'a>(detail: &'a Value, operation: &str) -> Vec<&'a Value> {
    detail["intents"][0]["transactions"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|t| t["operation"] == operation)
        .collect()
}

/// The payment history entries that record a reversal.
fn reversals(detail: &Value) -> Vec<Value> {
    detail["status_history"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|h| {
            h["subject"] == "payment"
                && h["reason"]
                    .as_str()
                    .is_some_and(|r| r.contains("reversed by the provider"))
        })
        .cloned()
        .collect()
}

/// The order's tax: (committed, reversed, net, sources of its commits).
async fn tax_of(shop: &Shop, order: &str) -> (i64, i64, i64, Vec<String>) {
    let path = format!("/api/v1/admin/orders/{order}/tax");
    let key = &shop.store.sandbox_key;
    let tax = json_of(send(&shop.app, Method::GET, key, &path, None).await, 200).await;
    let commits = tax["transactions"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|t| t["kind"] == "commit")
        .map(|t| t["source"].as_str().unwrap().to_owned())
        .collect();
    let amount = |field: &str| tax[field].as_i64().unwrap();
    (
        amount("committed"),
        amount("reversed"),
        amount("net"),
        commits,
    )
}

/// The ledger's amounts are its succeeded transactions' sums, and Stripe's refunded amount
/// is the ledger's.
async fn agrees_with_stripe(shop: &Shop, stripe: &StripeServer, order: &str) -> Value {
    let detail = shop.ledger_invariants(order).await;
    let ours = &detail["intents"][0];
    let pi = ours["provider_payment_id"].as_str().unwrap();
    assert_eq!(
        stripe.intent(pi)["amount_refunded"],
        ours["refunded_amount"],
        "{ours}"
    );
    detail
}

async fn a_refund_stripe_fails_after_it_succeeded_is_reversed_in_the_ledger(backend: Backend) {
    let (shop, stripe) = stripe_shop(backend, None).await;
    let (order, intent, refunds) = refunded(&shop, &[1000]).await;
    let (_, _, after_first, _) = tax_of(&shop, &order).await;
    let body = json!({"amount": TOTAL - 1000});
    let intent = json_of(shop.op(&order, &intent, "refund", body).await, 200).await;
    assert_eq!(intent["status"], "refunded", "{intent}");
    let second = transactions(&shop.detail(&order).await, "refund")[1]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let (committed, _, net, _) = tax_of(&shop, &order).await;
    assert!(committed > 0 && net == 0, "{committed} {net}");

    // The bank returns the second refund: Stripe fails it and says so.
    let failed = stripe.fail_refund(&second, REASON);
    let first_event = event_id();
    post_event(&shop, &first_event, "charge.refund.updated", &failed).await;
    cassa::webhooks::process_due(&shop.app.state).await.unwrap();
    let detail = agrees_with_stripe(&shop, &stripe, &order).await;
    let ours = &detail["intents"][0];
    assert_eq!(
        (
            ours["status"].as_str(),
            ours["refunded_amount"].as_i64(),
            ours["refundable_amount"].as_i64(),
        ),
        (Some("partially_refunded"), Some(1000), Some(TOTAL - 1000)),
        "{ours}"
    );
    let reversed = transactions(&detail, "refund")
        .into_iter()
        .find(|t| t["id"] == second.as_str())
        .unwrap()
        .clone();
    assert_eq!(
        (
            reversed["status"].as_str(),
            reversed["failure_code"].as_str()
        ),
        (Some("reversed"), Some(REASON)),
        "{reversed}"
    );
    assert_eq!(
        transactions(&detail, "refund")[0]["id"].as_str(),
        Some(refunds[0].as_str())
    );
    let timeline = reversals(&detail);
    assert_eq!(timeline.len(), 1, "{detail}");
    assert_eq!(
        (
            timeline[0]["from_status"].as_str(),
            timeline[0]["to_status"].as_str(),
            timeline[0]["source"].as_str(),
        ),
        (
            Some("refunded"),
            Some("partially_refunded"),
            Some("webhook")
        ),
    );
    assert!(
        timeline[0]["reason"].as_str().unwrap().contains(REASON),
        "{timeline:?}"
    );
    // The tax the refund reversed is committed again: as after the first refund alone.
    let (_, _, net, commits) = tax_of(&shop, &order).await;
    assert_eq!(net, after_first);
    let reversal_source = format!("refund_reversal:{second}");
    assert_eq!(
        commits.iter().filter(|s| **s == reversal_source).count(),
        1,
        "{commits:?}"
    );
    // The list of payments says it too.
    let key = &shop.store.sandbox_key;
    let listed = json_of(
        send(&shop.app, Method::GET, key, "/api/v1/admin/payments", None).await,
        200,
    )
    .await;
    assert_eq!(listed["data"][0]["refunded_amount"], 1000, "{listed}");

    // The same delivery again, then Stripe's other events about it: nothing more.
    let again = post_event(&shop, &first_event, "charge.refund.updated", &failed).await;
    assert_eq!(again["duplicate"], true, "{again}");
    for kind in ["refund.updated", "refund.failed"] {
        deliver(&shop, kind, &stripe.refund_of(&second)).await;
    }
    let detail = agrees_with_stripe(&shop, &stripe, &order).await;
    assert_eq!(detail["intents"][0]["refunded_amount"], 1000);
    assert_eq!(reversals(&detail).len(), 1, "{detail}");
    assert_eq!(tax_of(&shop, &order).await.2, after_first);
    // The store's endpoints hear of it once: the refund as it stands now, and the tax again.
    let events = crate::outbound_events::events(&shop.app, &shop.store.id).await;
    let failed_events = crate::outbound_events::of_type(&events, "refund.failed");
    assert_eq!(
        failed_events.len(),
        1,
        "{:?}",
        crate::outbound_events::types(&events)
    );
    assert_eq!(failed_events[0]["data"]["object"], reversed);
    let recommitted = crate::outbound_events::of_type(&events, "tax.committed")
        .into_iter()
        .filter(|e| e["data"]["object"]["source"] == reversal_source.as_str())
        .count();
    assert_eq!(recommitted, 1);

    // The money is the merchant's again: the customer can be refunded again, and a reversal of
    // the last refund leaves the payment captured with its whole tax.
    let failed = stripe.fail_refund(&refunds[0], REASON);
    deliver(&shop, "refund.failed", &failed).await;
    let detail = agrees_with_stripe(&shop, &stripe, &order).await;
    let ours = &detail["intents"][0];
    assert_eq!(
        (
            ours["status"].as_str(),
            ours["refunded_amount"].as_i64(),
            ours["refundable_amount"].as_i64(),
        ),
        (Some("captured"), Some(0), Some(TOTAL)),
        "{ours}"
    );
    assert_eq!(tax_of(&shop, &order).await.2, committed);
    json_of(
        shop.op(&order, ours, "refund", json!({"amount": 500}))
            .await,
        200,
    )
    .await;
    assert_eq!(
        agrees_with_stripe(&shop, &stripe, &order).await["intents"][0]["refunded_amount"],
        500
    );

    // The console's ledger shows it.
    let cookie = crate::console::admin_session(&shop.app).await;
    let store_id = shop.store.id.as_str();
    crate::console::server_fn(&shop.app, "select", &[("store_id", store_id)], &cookie).await;
    let response = crate::console::server_fn(
        &shop.app,
        "order_payments",
        &[("order_id", &order)],
        &cookie,
    )
    .await;
    let view: Value = json_of(response, 200).await;
    let shown: Vec<&str> = view["intents"][0]["transactions"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|t| t["status"].as_str())
        .collect();
    assert_eq!(
        shown.iter().filter(|s| **s == "reversed").count(),
        2,
        "{view}"
    );
    let page = shop
        .app
        .client
        .get(shop.app.url(&format!("/orders/{order}")))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains("reversed by the provider"), "{page}");
}

async fn an_event_stripe_does_not_bear_out_reverses_nothing(backend: Backend) {
    let (shop, stripe) = stripe_shop(backend, None).await;
    let (order, _, refunds) = refunded(&shop, &[1000]).await;
    let before = shop.detail(&order).await;
    let tax_before = tax_of(&shop, &order).await;
    // Signed, and saying the refund failed, while Stripe's own refund has succeeded.
    let mut claimed = stripe.refund_of(&refunds[0]);
    claimed["status"] = json!("failed");
    claimed["failure_reason"] = json!(REASON);
    let received = deliver(&shop, "charge.refund.updated", &claimed).await;
    let detail = agrees_with_stripe(&shop, &stripe, &order).await;
    assert_eq!(detail["intents"][0], before["intents"][0], "{detail}");
    assert_eq!(detail["status_history"], before["status_history"]);
    assert_eq!(tax_of(&shop, &order).await, tax_before);
    // Looked at and done with: Stripe was asked, and said the refund stands.
    let path = format!(
        "/api/v1/admin/webhooks/events/{}",
        received["id"].as_str().unwrap()
    );
    let key = &shop.store.sandbox_key;
    let event = json_of(send(&shop.app, Method::GET, key, &path, None).await, 200).await;
    assert_eq!(event["status"], "processed", "{event}");
    assert!(
        stripe
            .seen()
            .iter()
            .any(|s| s.method == "GET" && s.path == "/v1/refunds")
    );
}

async fn concurrent_deliveries_reverse_a_refund_once(backend: Backend) {
    let (shop, stripe) = stripe_shop(backend, None).await;
    let (order, _, refunds) = refunded(&shop, &[TOTAL]).await;
    let (committed, ..) = tax_of(&shop, &order).await;
    let failed = stripe.fail_refund(&refunds[0], REASON);
    // Stripe's three events about it, each delivered (and retried) several times over.
    let kinds = ["charge.refund.updated", "refund.updated", "refund.failed"];
    for i in 0..12 {
        post_event(&shop, &event_id(), kinds[i % kinds.len()], &failed).await;
    }
    let claimed = cassa::webhooks::claim(&shop.app.state, 32).await.unwrap();
    assert_eq!(claimed.len(), 12);
    let mut tasks = tokio::task::JoinSet::new();
    for event in claimed {
        let state = shop.app.state.clone();
        tasks.spawn(async move { cassa::webhooks::process_event(&state, &event).await });
    }
    let results = tasks.join_all().await;
    assert!(results.iter().all(Result::is_ok), "{results:?}");
    let detail = agrees_with_stripe(&shop, &stripe, &order).await;
    let ours = &detail["intents"][0];
    assert_eq!(
        (ours["status"].as_str(), ours["refunded_amount"].as_i64()),
        (Some("captured"), Some(0)),
        "{ours}"
    );
    assert_eq!(reversals(&detail).len(), 1, "{detail}");
    // What the refund reversed is committed again, once: the capture's tax stands.
    let (_, _, net, commits) = tax_of(&shop, &order).await;
    assert_eq!(net, committed);
    let source = format!("refund_reversal:{}", refunds[0]);
    assert_eq!(commits.iter().filter(|s| **s == source).count(), 1);
    // And reported once, whichever delivery won.
    let events = crate::outbound_events::events(&shop.app, &shop.store.id).await;
    assert_eq!(
        crate::outbound_events::of_type(&events, "refund.failed").len(),
        1,
        "{:?}",
        crate::outbound_events::types(&events)
    );
}

both_backends!(
    a_refund_stripe_fails_after_it_succeeded_is_reversed_in_the_ledger,
    an_event_stripe_does_not_bear_out_reverses_nothing,
    concurrent_deliveries_reverse_a_refund_once,
);
