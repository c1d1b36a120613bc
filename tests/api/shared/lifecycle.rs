//! The payment lifecycle on every provider: authorize, capture (partially where the provider
//! captures more than once; once, releasing the rest, where it does not), refunds up to what
//! was captured, voids, declines, idempotent replays that reach the provider once, and another
//! store's key that finds nothing.

use cassa_tests::Backend;
use serde_json::{Value, json};
use uuid::Uuid;

use super::{ProviderShop, Psp, provider::provider_id};
use crate::{
    payments::shop::TOTAL,
    support::{assert_problem, json_of},
};

fn amount(intent: &Value, field: &str) -> i64 {
    intent[field]
        .as_i64()
        .unwrap_or_else(|| panic!("{field} in {intent}"))
}

/// The operations of an intent's succeeded transactions, oldest first.
fn succeeded_operations(intent: &Value) -> Vec<String> {
    intent["transactions"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|t| t["status"] == "succeeded")
        .map(|t| t["operation"].as_str().unwrap().to_owned())
        .collect()
}

async fn a_payment_is_captured_and_refunded_up_to_its_captures(backend: Backend, psp: Psp) {
    let shop = ProviderShop::spawn(backend, psp).await;
    let (order, response) = shop.pay(shop.approved()).await;
    let intent = json_of(response, 201).await;
    assert_eq!(
        (intent["status"].as_str(), intent["provider"].as_str()),
        (Some("authorized"), Some(psp.name()))
    );
    assert_eq!(intent["authorized_amount"], TOTAL);
    let pid = provider_id(&intent).to_owned();
    let view = shop.provider_view(&pid).await;
    assert_eq!(
        (view.status.as_str(), view.amount, view.captured),
        ("authorized", TOTAL, 0)
    );

    let capture = |body: Value| shop.op(&order, &intent, "capture", body);
    let first = json_of(capture(json!({"amount": 1000})).await, 200).await;
    assert_eq!(first["captured_amount"], 1000);
    if shop.captures_once() {
        // The capture was final: the provider released the rest, and so does the ledger.
        assert_eq!(
            (
                first["status"].as_str(),
                first["released_amount"].as_i64(),
                first["capturable_amount"].as_i64()
            ),
            (Some("captured"), Some(TOTAL - 1000), Some(0)),
            "{first}"
        );
        assert_problem(
            capture(json!({"amount": 1})).await,
            409,
            "invalid_state_transition",
        )
        .await;
        assert_problem(
            shop.op(&order, &intent, "void", json!({})).await,
            409,
            "invalid_state_transition",
        )
        .await;
    } else {
        assert_eq!(
            (
                first["status"].as_str(),
                first["capturable_amount"].as_i64()
            ),
            (Some("partially_captured"), Some(TOTAL - 1000)),
            "{first}"
        );
        let second = json_of(capture(json!({"amount": 2000})).await, 200).await;
        assert_eq!(
            (
                second["status"].as_str(),
                second["captured_amount"].as_i64()
            ),
            (Some("partially_captured"), Some(3000))
        );
        assert_problem(
            capture(json!({"amount": TOTAL})).await,
            422,
            "amount_exceeds_capturable",
        )
        .await;
        let rest = json_of(capture(json!({})).await, 200).await;
        assert_eq!(
            (rest["status"].as_str(), rest["captured_amount"].as_i64()),
            (Some("captured"), Some(TOTAL))
        );
    }
    let captured = amount(&shop.detail(&order).await["intents"][0], "captured_amount");
    let view = shop.provider_view(&pid).await;
    assert_eq!(
        (view.status.as_str(), view.captured),
        ("captured", captured)
    );

    // Partial refunds up to what was captured; a refund beyond it is refused.
    let refund = |amount: i64| shop.op(&order, &intent, "refund", json!({"amount": amount}));
    let refunded = json_of(refund(300).await, 200).await;
    assert_eq!(
        (
            refunded["status"].as_str(),
            refunded["refunded_amount"].as_i64(),
            refunded["refundable_amount"].as_i64()
        ),
        (Some("partially_refunded"), Some(300), Some(captured - 300))
    );
    assert_problem(
        refund(captured - 300 + 1).await,
        422,
        "amount_exceeds_refundable",
    )
    .await;
    json_of(refund(200).await, 200).await;
    let all = json_of(refund(captured - 500).await, 200).await;
    assert_eq!(
        (all["status"].as_str(), all["refunded_amount"].as_i64()),
        (Some("refunded"), Some(captured))
    );
    assert_problem(refund(1).await, 409, "invalid_state_transition").await;
    assert_eq!(shop.provider_view(&pid).await.refunded, captured);

    let detail = shop.check_invariants(&order).await;
    assert_eq!(detail["order_status"], "paid");
    let expected: &[&str] = if shop.captures_once() {
        // The rest released with the capture is recorded as the release it was.
        &["authorize", "capture", "void", "refund", "refund", "refund"]
    } else {
        &[
            "authorize",
            "capture",
            "capture",
            "capture",
            "refund",
            "refund",
            "refund",
        ]
    };
    assert_eq!(succeeded_operations(&detail["intents"][0]), expected);
    shop.assert_one_call_per_transaction().await;
}

async fn a_fresh_authorization_is_voided_at_the_provider(backend: Backend, psp: Psp) {
    let shop = ProviderShop::spawn(backend, psp).await;
    let (order, intent) = shop.authorized().await;
    let voided = json_of(shop.op(&order, &intent, "void", json!({})).await, 200).await;
    assert_eq!(
        (
            voided["status"].as_str(),
            voided["released_amount"].as_i64(),
            voided["captured_amount"].as_i64()
        ),
        (Some("voided"), Some(TOTAL), Some(0))
    );
    assert_eq!(
        shop.provider_view(provider_id(&intent)).await.status,
        "voided"
    );
    for (op, body) in [
        ("capture", json!({"amount": 1})),
        ("refund", json!({"amount": 1})),
        ("void", json!({})),
    ] {
        assert_problem(
            shop.op(&order, &intent, op, body).await,
            409,
            "invalid_state_transition",
        )
        .await;
    }
    let detail = shop.check_invariants(&order).await;
    // A voided payment leaves the order to be paid again.
    assert_eq!(detail["order_status"], "open");
    assert_eq!(
        succeeded_operations(&detail["intents"][0]),
        ["authorize", "void"]
    );
    shop.assert_one_call_per_transaction().await;
}

async fn a_declined_card_fails_the_intent_and_the_order_can_be_paid(backend: Backend, psp: Psp) {
    let shop = ProviderShop::spawn(backend, psp).await;
    let (order, snapshot) = shop.quoted_order().await;
    let key = || Uuid::now_v7().to_string();
    assert_problem(
        shop.authorize_with(&order, &snapshot, shop.declined(), &key())
            .await,
        402,
        "payment_declined",
    )
    .await;
    let detail = shop.check_invariants(&order).await;
    assert_eq!(detail["intents"][0]["status"], "failed", "{detail}");
    assert_eq!(detail["order_status"], "open");
    let paid = json_of(
        shop.authorize_with(&order, &snapshot, shop.approved(), &key())
            .await,
        201,
    )
    .await;
    assert_eq!(paid["status"], "authorized");
    let detail = shop.check_invariants(&order).await;
    assert_eq!(detail["order_status"], "paid");
    shop.assert_one_call_per_transaction().await;
}

/// The first answer to a key and its replay: the same status and body, the replay marked.
async fn same_answer(first: reqwest::Response, replay: reqwest::Response, status: u16) -> Value {
    let replayed = replay
        .headers()
        .get("idempotent-replayed")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let (first_status, first_body) = (first.status().as_u16(), first.text().await.unwrap());
    let (replay_status, replay_body) = (replay.status().as_u16(), replay.text().await.unwrap());
    assert_eq!(first_status, status, "{first_body}");
    assert_eq!(replay_status, status, "{replay_body}");
    assert_eq!(replayed.as_deref(), Some("true"));
    assert_eq!(first_body, replay_body);
    serde_json::from_str(&first_body).unwrap()
}

async fn each_mutation_replayed_with_its_key_reaches_the_provider_once(backend: Backend, psp: Psp) {
    let shop = ProviderShop::spawn(backend, psp).await;
    let key = |name: &str| format!("{name}-{}", Uuid::now_v7());

    let (order, snapshot) = shop.quoted_order().await;
    let authorize = key("authorize");
    let pay = || shop.authorize_with(&order, &snapshot, shop.approved(), &authorize);
    let intent = same_answer(pay().await, pay().await, 201).await;
    assert_eq!(shop.provider_calls("authorize").await, 1);

    let capture = key("capture");
    let body = json!({"amount": 1000});
    let op = |name: &'static str, body: Value, key: String| {
        let (shop, order, intent) = (&shop, &order, &intent);
        async move { shop.op_with_key(order, intent, name, body, &key).await }
    };
    let captured = same_answer(
        op("capture", body.clone(), capture.clone()).await,
        op("capture", body, capture).await,
        200,
    )
    .await;
    assert_eq!(captured["captured_amount"], 1000);
    assert_eq!(shop.provider_calls("capture").await, 1);

    let refund = key("refund");
    let body = json!({"amount": 300});
    let refunded = same_answer(
        op("refund", body.clone(), refund.clone()).await,
        op("refund", body, refund).await,
        200,
    )
    .await;
    assert_eq!(refunded["refunded_amount"], 300);
    assert_eq!(shop.provider_calls("refund").await, 1);

    // A void of a fresh authorization, replayed.
    let (fresh_order, fresh) = shop.authorized().await;
    let voids = shop.provider_calls("void").await;
    let void = key("void");
    let again = || shop.op_with_key(&fresh_order, &fresh, "void", json!({}), &void);
    let voided = same_answer(again().await, again().await, 200).await;
    assert_eq!(voided["status"], "voided");
    assert_eq!(shop.provider_calls("void").await, voids + 1);

    // One transaction per key.
    let detail = shop.check_invariants(&order).await;
    let operations = succeeded_operations(&detail["intents"][0]);
    let count = |op: &str| operations.iter().filter(|o| *o == op).count();
    assert_eq!(
        (count("authorize"), count("capture"), count("refund")),
        (1, 1, 1),
        "{operations:?}"
    );
    let detail = shop.check_invariants(&fresh_order).await;
    assert_eq!(
        succeeded_operations(&detail["intents"][0]),
        ["authorize", "void"]
    );
    shop.assert_one_call_per_transaction().await;
}

async fn another_stores_key_finds_nothing_of_the_intent(backend: Backend, psp: Psp) {
    let shop = ProviderShop::spawn(backend, psp).await;
    let (order, intent) = shop.authorized().await;
    let before = shop.detail(&order).await;
    let other = shop.app.create_store("Other", "USD").await;
    let id = intent["id"].as_str().unwrap();
    for (op, body) in [
        ("capture", json!({"amount": 1})),
        ("void", json!({})),
        ("refund", json!({"amount": 1})),
    ] {
        let path = format!("/api/v1/admin/orders/{order}/payments/{id}/{op}");
        let key = Uuid::now_v7().to_string();
        assert_problem(
            shop.post(&other.sandbox_key, &path, &key, body).await,
            404,
            "not_found",
        )
        .await;
    }
    let read = shop
        .app
        .client
        .get(
            shop.app
                .url(&format!("/api/v1/admin/orders/{order}/payments")),
        )
        .bearer_auth(&other.sandbox_key)
        .send()
        .await
        .unwrap();
    assert_problem(read, 404, "not_found").await;
    // Nothing moved, nothing was sent.
    assert_eq!(shop.check_invariants(&order).await, before);
    for op in ["capture", "void", "refund"] {
        assert_eq!(shop.provider_calls(op).await, 0, "{op}");
    }
}

both_providers!(
    a_payment_is_captured_and_refunded_up_to_its_captures,
    a_fresh_authorization_is_voided_at_the_provider,
    a_declined_card_fails_the_intent_and_the_order_can_be_paid,
    each_mutation_replayed_with_its_key_reaches_the_provider_once,
    another_stores_key_finds_nothing_of_the_intent,
);
