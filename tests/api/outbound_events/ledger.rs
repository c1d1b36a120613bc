//! Payments, orders and tax: authorize → capture part → refund → void the rest, and a decline;
//! each change's events carry the objects the API returns for it, and reach the endpoints of
//! the store and environment that subscribe to them.

use cassa_tests::{Backend, both_backends};
use serde_json::json;
use uuid::Uuid;

use super::{assert_envelope, endpoint, events, fan_out, get, of_type, one, types, without};
use crate::payments::shop::{TOTAL, amounts, shop};

async fn the_ledger_s_changes_are_events_with_their_objects(backend: Backend) {
    let shop = shop(backend).await;
    let key = shop.store.sandbox_key.clone();
    let (order, intent) = shop.authorized().await;
    amounts(
        shop.op(&order, &intent, "capture", json!({"amount": 1000}))
            .await,
        200,
    )
    .await;
    amounts(
        shop.op(
            &order,
            &intent,
            "refund",
            json!({"amount": 500, "reason": "damaged"}),
        )
        .await,
        200,
    )
    .await;
    let last = amounts(shop.op(&order, &intent, "void", json!({})).await, 200).await;
    assert_eq!(last["released_amount"], TOTAL - 1000, "{last}");
    let (declined_order, snapshot) = shop.quoted_order().await;
    let response = shop
        .authorize_with(
            &declined_order,
            &snapshot,
            "pm_card_declined",
            &Uuid::now_v7().to_string(),
        )
        .await;
    assert_eq!(response.status(), 402);

    let all = events(&shop.app, &shop.store.id).await;
    assert_eq!(
        types(&all),
        [
            "payment_intent.authorized",
            "order.paid",
            "payment_intent.partially_captured",
            "tax.committed",
            "payment_intent.refunded",
            "refund.succeeded",
            "tax.reversed",
            "payment_intent.voided",
            "payment_intent.failed",
        ]
    );
    for event in &all {
        assert_envelope(event, &shop.store.id);
        // The clock of the test server: the changes' own time.
        assert_eq!(event["created"], "2026-01-15T12:00:00Z");
    }
    let ids: std::collections::BTreeSet<&str> =
        all.iter().map(|e| e["id"].as_str().unwrap()).collect();
    assert_eq!(ids.len(), all.len(), "ids are unique");

    // Each intent event is the intent as it was then; the last one as GET returns it now.
    let object = |t: &str| one(&all, t)["data"]["object"].clone();
    let authorized = object("payment_intent.authorized");
    assert_eq!(
        (authorized["id"].as_str(), authorized["status"].as_str()),
        (intent["id"].as_str(), Some("authorized"))
    );
    assert_eq!(authorized, intent, "the authorization's answer");
    let partial = object("payment_intent.partially_captured");
    assert_eq!(partial["captured_amount"], 1000);
    assert_eq!(partial["status"], "partially_captured");
    let refunded = object("payment_intent.refunded");
    assert_eq!(
        (
            refunded["refunded_amount"].as_i64(),
            refunded["status"].as_str()
        ),
        (Some(500), Some("partially_refunded"))
    );
    let detail = shop.detail(&order).await;
    let now = &detail["intents"][0];
    assert_eq!(
        object("payment_intent.voided"),
        without(now, &["transactions", "disputes"])
    );
    let refund = now["transactions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["operation"] == "refund")
        .unwrap();
    assert_eq!(&object("refund.succeeded"), refund);
    assert_eq!(refund["reason"], "damaged");

    // The order as GET returns it, paid.
    let paid = object("order.paid");
    assert_eq!(
        paid,
        get(&shop.app, &key, &format!("/api/v1/admin/orders/{order}")).await
    );
    assert_eq!(paid["status"], "paid");

    // The tax transactions as the order's tax shows them.
    let tax = get(
        &shop.app,
        &key,
        &format!("/api/v1/admin/orders/{order}/tax"),
    )
    .await;
    let moved = tax["transactions"].as_array().unwrap();
    assert_eq!(moved.len(), 2, "{tax}");
    let committed = object("tax.committed");
    assert_eq!(committed, moved[0]);
    assert_eq!(
        (committed["kind"].as_str(), committed["order_id"].as_str()),
        (Some("commit"), Some(order.as_str()))
    );
    assert_eq!(committed["payment_intent_id"], intent["id"]);
    let capture = now["transactions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["operation"] == "capture")
        .unwrap();
    assert_eq!(
        committed["source"],
        format!("capture:{}", capture["id"].as_str().unwrap())
    );
    assert_eq!(object("tax.reversed"), moved[1]);
    assert_eq!(
        moved[1]["source"],
        format!("refund:{}", refund["id"].as_str().unwrap())
    );

    // The decline, with why.
    let failed = object("payment_intent.failed");
    let declined = shop.detail(&declined_order).await;
    assert_eq!(
        failed,
        without(&declined["intents"][0], &["transactions", "disputes"])
    );
    assert_eq!(failed["status"], "failed");
    assert!(failed["failure_code"].is_string(), "{failed}");
    // A failed authorization does not pay the order.
    assert_eq!(of_type(&all, "order.paid").len(), 1);
}

async fn events_reach_the_enabled_endpoints_of_their_store_and_environment_subscribed_to_them(
    backend: Backend,
) {
    let shop = shop(backend).await;
    let key = shop.store.sandbox_key.clone();
    let everything = endpoint(&shop.app, &key, json!({"event_types": ["*"]})).await;
    let captures = endpoint(
        &shop.app,
        &key,
        json!({"event_types": ["payment_intent.captured", "payment_intent.partially_captured"]}),
    )
    .await;
    let refunds = endpoint(
        &shop.app,
        &key,
        json!({"event_types": ["refund.succeeded"]}),
    )
    .await;
    // None of these hear of the store's sandbox payments.
    endpoint(
        &shop.app,
        &key,
        json!({"event_types": ["*"], "enabled": false}),
    )
    .await;
    let owner = shop
        .app
        .create_owner(&shop.store, "owner@outbound.test")
        .await;
    let live = shop.app.create_live_key(&shop.store, &owner).await;
    endpoint(
        &shop.app,
        &live,
        json!({"url": "https://hooks.example.com/cassa", "event_types": ["*"]}),
    )
    .await;
    let other = shop.app.create_store("Other", "USD").await;
    endpoint(&shop.app, &other.sandbox_key, json!({"event_types": ["*"]})).await;

    let (order, intent) = shop.authorized().await;
    amounts(shop.op(&order, &intent, "capture", json!({})).await, 200).await;
    amounts(
        shop.op(&order, &intent, "refund", json!({"amount": 100}))
            .await,
        200,
    )
    .await;

    let all = events(&shop.app, &shop.store.id).await;
    assert_eq!(
        types(&all),
        [
            "payment_intent.authorized",
            "order.paid",
            "payment_intent.captured",
            "tax.committed",
            "payment_intent.refunded",
            "refund.succeeded",
            "tax.reversed",
        ]
    );
    let sorted = |ids: &[&String]| {
        let mut ids: Vec<String> = ids.iter().map(|s| s.to_string()).collect();
        ids.sort();
        ids
    };
    let only = sorted(&[&everything]);
    let expected: std::collections::BTreeMap<String, Vec<String>> = [
        ("payment_intent.authorized", only.clone()),
        ("order.paid", only.clone()),
        ("payment_intent.captured", sorted(&[&everything, &captures])),
        ("tax.committed", only.clone()),
        ("payment_intent.refunded", only.clone()),
        ("refund.succeeded", sorted(&[&everything, &refunds])),
        ("tax.reversed", only),
    ]
    .into_iter()
    .map(|(t, ids)| (t.to_owned(), ids))
    .collect();
    assert_eq!(fan_out(&shop.app, &shop.store.id).await, expected);
    // Another store's events and endpoints stay apart.
    assert!(events(&shop.app, &other.id).await.is_empty());
    assert!(fan_out(&shop.app, &other.id).await.is_empty());
}

/// A capture and a void the provider refuses (the authorization lapsed there) move nothing,
/// and, as the catalogue says, emit nothing: `payment_intent.failed` is the authorization's.
async fn a_refused_capture_or_void_emits_nothing(backend: Backend) {
    use secrecy::ExposeSecret;

    let shop = shop(backend).await;
    let (order, intent) = shop.authorized().await;
    let authorized = events(&shop.app, &shop.store.id).await;
    assert_eq!(
        types(&authorized),
        ["payment_intent.authorized", "order.paid"]
    );
    let secrets = shop.sandbox_secrets().await;
    let psp_key = secrets.get("api_key").unwrap().expose_secret().to_owned();
    let lapse = format!(
        "/sandbox-psp/v1/test/payments/{}/expire",
        intent["provider_payment_id"].as_str().unwrap()
    );
    let response = shop
        .app
        .client
        .post(shop.app.url(&lapse))
        .bearer_auth(psp_key)
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);

    for op in ["capture", "void"] {
        let response = shop.op(&order, &intent, op, json!({})).await;
        assert!(
            response.status().is_client_error(),
            "{op}: {}",
            response.status()
        );
    }
    let detail = get(
        &shop.app,
        &shop.store.sandbox_key,
        &format!("/api/v1/admin/orders/{order}/payments"),
    )
    .await;
    let refused: Vec<(&str, &str)> = detail["intents"][0]["transactions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| {
            (
                t["operation"].as_str().unwrap(),
                t["status"].as_str().unwrap(),
            )
        })
        .filter(|(operation, _)| *operation != "authorize")
        .collect();
    assert_eq!(
        refused,
        [("capture", "failed"), ("void", "failed")],
        "{detail}"
    );
    assert_eq!(detail["intents"][0]["status"], "authorized", "{detail}");
    assert_eq!(events(&shop.app, &shop.store.id).await, authorized);
}

both_backends!(
    the_ledger_s_changes_are_events_with_their_objects,
    events_reach_the_enabled_endpoints_of_their_store_and_environment_subscribed_to_them,
    a_refused_capture_or_void_emits_nothing,
);
