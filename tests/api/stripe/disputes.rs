//! Stripe's dispute events (`charge.dispute.created`, `.updated`, `.closed`), signed with the
//! store's secret: recorded on the intent they name within the store and environment, on the
//! order's history, never moving a decided dispute back and never touching the ledger or
//! another store.

use reqwest::Method;
use serde_json::{Value, json};

use super::{WEBHOOK_SECRET, pay, put_stripe_credentials, stripe_shop};
use crate::{
    payments::{Shop, shop::TOTAL},
    support::{assert_problem, json_of, send},
};
use cassa_tests::{Backend, both_backends};

/// A Dispute object as Stripe's API reference shows it.
fn dispute(id: &str, payment_intent: &str, amount: i64, reason: &str, status: &str) -> Value {
    json!({
        "id": id,
        "object": "dispute",
        "amount": amount,
        "balance_transactions": [],
        "charge": "ch_3MtJUT2eZvKYlo2C1aBcDeFg",
        "created": 1_680_651_737,
        "currency": "usd",
        "evidence_details": {"due_by": 1_682_294_399, "has_evidence": false, "past_due": false,
            "submission_count": 0},
        "is_charge_refundable": false,
        "livemode": false,
        "metadata": {},
        "payment_intent": payment_intent,
        "reason": reason,
        "status": status
    })
}

/// Delivers a signed event of `kind` about `object` to `store`'s Stripe endpoint, processes
/// the queue, and answers the stored event's id.
async fn deliver(shop: &Shop, store: &str, kind: &str, object: Value) -> String {
    let event = json!({"id": format!("evt_{}", uuid::Uuid::now_v7().simple()),
        "object": "event", "type": kind, "data": {"object": object}});
    let body = event.to_string();
    let signature = cassa::providers::signature::sign_stripe(
        WEBHOOK_SECRET,
        chrono::Utc::now().timestamp(),
        body.as_bytes(),
    );
    let response = shop
        .app
        .client
        .post(shop.app.url(&format!("/api/v1/webhooks/stripe/{store}")))
        .header("stripe-signature", signature)
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .unwrap();
    let received = json_of(response, 200).await;
    cassa::webhooks::process_due(&shop.app.state).await.unwrap();
    received["id"].as_str().unwrap().to_owned()
}

/// The status of a stored event.
async fn event_status(shop: &Shop, id: &str) -> Value {
    let path = format!("/api/v1/admin/webhooks/events/{id}");
    let event = json_of(
        send(&shop.app, Method::GET, &shop.store.sandbox_key, &path, None).await,
        200,
    )
    .await;
    event["status"].clone()
}

async fn disputes_of(shop: &Shop, key: &str, query: &str) -> Value {
    let path = format!("/api/v1/admin/disputes{query}");
    json_of(send(&shop.app, Method::GET, key, &path, None).await, 200).await
}

fn dispute_history(detail: &Value) -> Vec<(String, String)> {
    detail["status_history"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|h| h["subject"] == "dispute")
        .map(|h| {
            (
                h["to_status"].as_str().unwrap().to_owned(),
                h["reason"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

async fn a_dispute_is_recorded_on_its_intent_and_moves_forward_only(backend: Backend) {
    let (shop, _stripe) = stripe_shop(backend, None).await;
    let (order, response) = pay(&shop, "pm_card_visa").await;
    let intent = json_of(response, 201).await;
    json_of(shop.op(&order, &intent, "capture", json!({})).await, 200).await;
    let pi = intent["provider_payment_id"].as_str().unwrap().to_owned();
    let store = shop.store.id.clone();
    let dp = "dp_1MtJUT2eZvKYlo2CNaw2HvEv";

    let created = dispute(dp, &pi, 2500, "fraudulent", "needs_response");
    let first = deliver(&shop, &store, "charge.dispute.created", created.clone()).await;
    assert_eq!(event_status(&shop, &first).await, "processed");
    let detail = shop.detail(&order).await;
    let ours = &detail["intents"][0];
    let disputes = ours["disputes"].as_array().unwrap();
    assert_eq!(disputes.len(), 1, "{detail}");
    let recorded = &disputes[0];
    assert_eq!(
        (
            recorded["provider_dispute_id"].as_str(),
            recorded["amount"].as_i64(),
            recorded["currency"].as_str(),
            recorded["reason"].as_str(),
            recorded["status"].as_str(),
            recorded["payment_intent_id"].as_str(),
        ),
        (
            Some(dp),
            Some(2500),
            Some("USD"),
            Some("fraudulent"),
            Some("needs_response"),
            intent["id"].as_str(),
        ),
        "{recorded}"
    );
    assert!(recorded["id"].is_string() && recorded["created_at"].is_string());
    // A dispute is not a refund: the ledger is as it was.
    assert_eq!(
        (
            ours["status"].as_str(),
            ours["captured_amount"].as_i64(),
            ours["refunded_amount"].as_i64(),
            ours["refundable_amount"].as_i64(),
        ),
        (Some("captured"), Some(TOTAL), Some(0), Some(TOTAL)),
        "{ours}"
    );
    assert_eq!(
        dispute_history(&detail),
        vec![(
            "needs_response".to_owned(),
            "dispute opened: fraudulent".to_owned()
        )]
    );

    // The same event again, and a late `created` after the review: nothing moves.
    deliver(&shop, &store, "charge.dispute.created", created.clone()).await;
    let review = dispute(dp, &pi, 2500, "fraudulent", "under_review");
    deliver(&shop, &store, "charge.dispute.updated", review).await;
    deliver(&shop, &store, "charge.dispute.created", created).await;
    let detail = shop.detail(&order).await;
    assert_eq!(
        detail["intents"][0]["disputes"][0]["status"],
        "under_review"
    );
    assert_eq!(dispute_history(&detail).len(), 2, "{detail}");

    // Lost is final: a `closed` saying otherwise, or a replayed `updated`, never reverts it.
    let lost = dispute(dp, &pi, 2500, "fraudulent", "lost");
    deliver(&shop, &store, "charge.dispute.closed", lost.clone()).await;
    for (kind, status) in [
        ("charge.dispute.closed", "won"),
        ("charge.dispute.updated", "under_review"),
        ("charge.dispute.created", "needs_response"),
    ] {
        deliver(
            &shop,
            &store,
            kind,
            dispute(dp, &pi, 2500, "fraudulent", status),
        )
        .await;
    }
    deliver(&shop, &store, "charge.dispute.closed", lost).await;
    let detail = shop.detail(&order).await;
    let disputes = detail["intents"][0]["disputes"].as_array().unwrap();
    assert_eq!(disputes.len(), 1);
    assert_eq!(disputes[0]["status"], "lost", "{detail}");
    assert_eq!(
        dispute_history(&detail),
        vec![
            (
                "needs_response".to_owned(),
                "dispute opened: fraudulent".to_owned()
            ),
            ("under_review".to_owned(), "dispute under review".to_owned()),
            ("lost".to_owned(), "dispute lost".to_owned()),
        ]
    );
    assert_eq!(detail["intents"][0]["refunded_amount"], 0);

    // The console shows it on the order page (badge and table) and in the store's list.
    let cookie = crate::console::admin_session(&shop.app).await;
    let store_id = shop.store.id.as_str();
    let selected =
        crate::console::server_fn(&shop.app, "select", &[("store_id", store_id)], &cookie).await;
    assert!(selected.status().is_success() || selected.status().is_redirection());
    let response = crate::console::server_fn(
        &shop.app,
        "order_payments",
        &[("order_id", &order)],
        &cookie,
    )
    .await;
    let view: Value = json_of(response, 200).await;
    let shown = &view["intents"][0]["disputes"][0];
    assert_eq!(
        (
            shown["amount"].as_str(),
            shown["reason"].as_str(),
            shown["status"].as_str()
        ),
        (Some("$25.00 USD"), Some("fraudulent"), Some("lost")),
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
    assert!(page.contains("disputed: lost"), "{page}");
    assert!(page.contains("data-testid=\"disputes\""), "{page}");
    let listed = crate::console::server_fn(&shop.app, "disputes", &[], &cookie).await;
    let listed: Value = json_of(listed, 200).await;
    assert_eq!(listed["rows"][0]["order_id"].as_str(), Some(order.as_str()));

    // The store's list, with its status filter and pages.
    let key = &shop.store.sandbox_key;
    let page = disputes_of(&shop, key, "").await;
    assert_eq!(page["data"].as_array().map(Vec::len), Some(1), "{page}");
    assert_eq!(page["data"][0]["order_id"].as_str(), Some(order.as_str()));
    assert_eq!(page["has_more"], false);
    let lost = disputes_of(&shop, key, "?status=lost").await;
    assert_eq!(lost["data"].as_array().map(Vec::len), Some(1));
    let open = disputes_of(&shop, key, "?status=needs_response").await;
    assert_eq!(open["data"].as_array().map(Vec::len), Some(0));
    for query in ["?status=opened", "?limit=0", "?limit=101"] {
        let path = format!("/api/v1/admin/disputes{query}");
        assert_problem(
            send(&shop.app, Method::GET, key, &path, None).await,
            422,
            "validation_failed",
        )
        .await;
    }
}

async fn disputes_page_newest_first(backend: Backend) {
    let (shop, _stripe) = stripe_shop(backend, None).await;
    let (_, response) = pay(&shop, "pm_card_visa").await;
    let intent = json_of(response, 201).await;
    let pi = intent["provider_payment_id"].as_str().unwrap().to_owned();
    let store = shop.store.id.clone();
    for n in 0..3 {
        let object = dispute(
            &format!("dp_{n}"),
            &pi,
            100,
            "duplicate",
            "warning_needs_response",
        );
        deliver(&shop, &store, "charge.dispute.created", object).await;
    }
    let key = &shop.store.sandbox_key;
    let first = disputes_of(&shop, key, "?limit=2").await;
    let ids: Vec<&str> = first["data"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|d| d["provider_dispute_id"].as_str())
        .collect();
    assert_eq!(ids, ["dp_2", "dp_1"]);
    assert_eq!(first["has_more"], true);
    let after = first["data"][1]["id"].as_str().unwrap();
    let rest = disputes_of(&shop, key, &format!("?limit=2&starting_after={after}")).await;
    assert_eq!(rest["data"][0]["provider_dispute_id"], "dp_0");
    assert_eq!(rest["has_more"], false);
}

async fn another_stores_payment_is_never_disputed_through_this_store(backend: Backend) {
    let (shop, _stripe) = stripe_shop(backend, None).await;
    // A second store on the same server, paying through Stripe too.
    let other = shop.app.create_store("Other shop", "USD").await;
    crate::checkout::configure(&shop.app, &other).await;
    put_stripe_credentials(&shop.app, &other, None).await;
    let (_, other_token) = shop.app.create_customer(&other).await;
    let (other_order, other_intent) = shop.authorized_in(&other, &other_token).await;
    let other_pi = other_intent["provider_payment_id"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(other_pi.starts_with("pi_"), "{other_intent}");

    // Signed with this store's secret, naming the other store's payment.
    let object = dispute("dp_other", &other_pi, 1000, "fraudulent", "needs_response");
    let event = deliver(&shop, &shop.store.id, "charge.dispute.created", object).await;
    // Done with, not retried for ever.
    assert_eq!(event_status(&shop, &event).await, "processed");
    let empty = disputes_of(&shop, &shop.store.sandbox_key, "").await;
    assert_eq!(empty["data"].as_array().map(Vec::len), Some(0), "{empty}");
    let others = disputes_of(&shop, &other.sandbox_key, "").await;
    assert_eq!(others["data"].as_array().map(Vec::len), Some(0), "{others}");
    // An unknown payment is the same no-op.
    let object = dispute(
        "dp_nowhere",
        "pi_unknown",
        1000,
        "fraudulent",
        "needs_response",
    );
    let event = deliver(&shop, &shop.store.id, "charge.dispute.created", object).await;
    assert_eq!(event_status(&shop, &event).await, "processed");

    // Delivered to the other store, it is recorded there, and only there.
    let object = dispute("dp_other", &other_pi, 1000, "fraudulent", "needs_response");
    deliver(&shop, &other.id, "charge.dispute.created", object).await;
    let others = disputes_of(&shop, &other.sandbox_key, "").await;
    assert_eq!(others["data"].as_array().map(Vec::len), Some(1), "{others}");
    assert_eq!(
        others["data"][0]["order_id"].as_str(),
        Some(other_order.as_str())
    );
    let mine = disputes_of(&shop, &shop.store.sandbox_key, "").await;
    assert_eq!(mine["data"].as_array().map(Vec::len), Some(0), "{mine}");
}

both_backends!(
    a_dispute_is_recorded_on_its_intent_and_moves_forward_only,
    disputes_page_newest_first,
    another_stores_payment_is_never_disputed_through_this_store,
);
