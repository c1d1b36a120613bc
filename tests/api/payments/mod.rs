//! The payment lifecycle: authorize from a snapshot, partial and multiple captures and refunds,
//! voids, every test payment method's outcome, retries with the same key, unknown outcomes
//! resolved later, and the ledger invariants under concurrency (checked against the PSP).

use std::time::Duration;

use cassa::payments::{Caller, Source};
use cassa_tests::{Backend, both_backends};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::support::assert_problem;

pub(crate) mod shop;

pub use shop::{Shop, shop_with_timeout};
use shop::{TOTAL, amounts, shop};

async fn authorize_capture_refund_with_a_status_timeline(backend: Backend) {
    let shop = shop(backend).await;
    let (order, intent) = shop.authorized().await;
    assert_eq!(intent["status"], "authorized");
    assert_eq!(intent["amount"], TOTAL);
    assert_eq!(intent["authorized_amount"], TOTAL);
    assert_eq!(intent["currency"], "USD");

    let i = amounts(
        shop.op(&order, &intent, "capture", json!({"amount": 1000}))
            .await,
        200,
    )
    .await;
    assert_eq!(
        (i["status"].as_str(), i["captured_amount"].as_i64()),
        (Some("partially_captured"), Some(1000))
    );
    // What may be done next, as the transition function sees it.
    assert_eq!(i["capturable_amount"], TOTAL - 1000);
    assert_eq!(i["refundable_amount"], 1000);
    // A void would release the uncaptured rest.
    assert_eq!(i["voidable"], true);
    assert_eq!(intent["voidable"], true);
    // No body: everything still capturable.
    let path = format!(
        "/api/v1/admin/orders/{order}/payments/{}/capture",
        intent["id"].as_str().unwrap()
    );
    let response = shop
        .app
        .client
        .post(shop.app.url(&path))
        .bearer_auth(&shop.store.sandbox_key)
        .header("idempotency-key", Uuid::now_v7().to_string())
        .send()
        .await
        .unwrap();
    let i = amounts(response, 200).await;
    assert_eq!(
        (i["status"].as_str(), i["captured_amount"].as_i64()),
        (Some("captured"), Some(TOTAL))
    );
    let i = amounts(
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
    assert_eq!(
        (i["status"].as_str(), i["refunded_amount"].as_i64()),
        (Some("partially_refunded"), Some(500))
    );
    assert_problem(
        shop.op(&order, &intent, "refund", json!({"amount": TOTAL}))
            .await,
        422,
        "amount_exceeds_refundable",
    )
    .await;
    let i = amounts(
        shop.op(&order, &intent, "refund", json!({"amount": TOTAL - 500}))
            .await,
        200,
    )
    .await;
    assert_eq!(i["status"], "refunded");
    assert_problem(
        shop.op(&order, &intent, "capture", json!({"amount": 1}))
            .await,
        409,
        "invalid_state_transition",
    )
    .await;

    let detail = shop.check_invariants(&order).await;
    assert_eq!(detail["order_status"], "paid");
    let txns = detail["intents"][0]["transactions"].as_array().unwrap();
    let ops: Vec<&str> = txns
        .iter()
        .map(|t| t["operation"].as_str().unwrap())
        .collect();
    assert_eq!(ops, ["authorize", "capture", "capture", "refund", "refund"]);
    assert_eq!(txns[3]["reason"], "damaged");
    assert!(txns.iter().all(|t| t["status"] == "succeeded"));
    let timeline: Vec<(String, String)> = detail["status_history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| {
            (
                h["subject"].as_str().unwrap().to_owned(),
                h["to_status"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    let expected = [
        ("payment", "requires_authorization"),
        ("payment", "authorized"),
        ("order", "paid"),
        ("payment", "partially_captured"),
        ("payment", "captured"),
        ("payment", "partially_refunded"),
        ("payment", "refunded"),
    ];
    assert_eq!(
        timeline,
        expected
            .iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect::<Vec<_>>()
    );
    let h = &detail["status_history"][3];
    assert_eq!(h["source"], "api");
    assert!(h["actor"].as_str().unwrap().starts_with("api_key:"));
    assert!(!h["correlation_id"].as_str().unwrap().is_empty());
}
both_backends!(authorize_capture_refund_with_a_status_timeline);

async fn every_test_payment_method_has_its_outcome(backend: Backend) {
    let shop = shop(backend).await;
    let key = || Uuid::now_v7().to_string();
    for (method, status, code) in [
        ("pm_card_declined", 402, "payment_declined"),
        ("pm_card_insufficient_funds", 402, "payment_declined"),
        ("pm_card_processing_error", 503, "provider_unavailable"),
        ("pm_card_nonsense", 422, "provider_rejected"),
    ] {
        let (order, snapshot) = shop.quoted_order().await;
        let body = assert_problem(
            shop.authorize_with(&order, &snapshot, method, &key()).await,
            status,
            code,
        )
        .await;
        let detail = shop.check_invariants(&order).await;
        assert_eq!(detail["intents"][0]["status"], "failed", "{method}: {body}");
        assert_eq!(detail["order_status"], "open");
        // A failed intent frees the order for another attempt.
        let retry = shop
            .authorize_with(&order, &snapshot, "pm_card_visa", &key())
            .await;
        assert_eq!(retry.status(), 201, "{method}");
    }
    let declined = shop.quoted_order().await;
    let body = assert_problem(
        shop.authorize_with(&declined.0, &declined.1, "pm_card_declined", &key())
            .await,
        402,
        "payment_declined",
    )
    .await;
    assert!(body["detail"].as_str().unwrap().contains("card_declined"));

    // Asynchronous: pending until the PSP settles, then resolved with get_transaction.
    let (order, snapshot) = shop.quoted_order().await;
    let pending = amounts(
        shop.authorize_with(&order, &snapshot, "pm_card_async", &key())
            .await,
        202,
    )
    .await;
    assert_eq!(pending["status"], "pending");
    let pid = pending["provider_payment_id"].as_str().unwrap();
    assert!(
        cassa_sandbox_psp::settle(&cassa::http::sandbox_psp::state(&shop.app.state), pid, true)
            .await
            .unwrap()
    );
    let settled = cassa::payments::resolve_open(&shop.app.state, chrono::Duration::zero())
        .await
        .unwrap();
    assert_eq!(settled, 1);
    let detail = shop.check_invariants(&order).await;
    assert_eq!(detail["intents"][0]["status"], "authorized");
    assert_eq!(detail["order_status"], "paid");
    let last = detail["status_history"].as_array().unwrap().last().unwrap();
    assert_eq!(
        (last["source"].as_str(), last["actor"].as_str()),
        (Some("job"), Some("job:resolver"))
    );

    // An asynchronous decline fails the intent.
    let (order, snapshot) = shop.quoted_order().await;
    let pending = amounts(
        shop.authorize_with(&order, &snapshot, "pm_card_async", &key())
            .await,
        202,
    )
    .await;
    let pid = pending["provider_payment_id"].as_str().unwrap();
    cassa_sandbox_psp::settle(
        &cassa::http::sandbox_psp::state(&shop.app.state),
        pid,
        false,
    )
    .await
    .unwrap();
    cassa::payments::resolve_open(&shop.app.state, chrono::Duration::zero())
        .await
        .unwrap();
    let detail = shop.check_invariants(&order).await;
    assert_eq!(detail["intents"][0]["status"], "failed");
    assert_eq!(detail["order_status"], "open");
}
both_backends!(every_test_payment_method_has_its_outcome);

async fn a_timeout_is_unknown_until_resolved(backend: Backend) {
    // The PSP answers `pm_card_timeout` after 1.5 s; Cassa gives up after 0.8 s.
    let shop = shop_with_timeout(backend, Duration::from_millis(800)).await;
    // Resolved by the job.
    let (order, snapshot) = shop.quoted_order().await;
    assert_problem(
        shop.authorize_with(&order, &snapshot, "pm_card_timeout", "t-1")
            .await,
        502,
        "provider_outcome_unknown",
    )
    .await;
    let detail = shop.detail(&order).await;
    assert_eq!(detail["intents"][0]["status"], "unknown");
    assert_eq!(detail["intents"][0]["transactions"][0]["status"], "unknown");
    tokio::time::sleep(Duration::from_millis(1600)).await;
    let settled = cassa::payments::resolve_open(&shop.app.state, chrono::Duration::zero())
        .await
        .unwrap();
    assert_eq!(settled, 1);
    let detail = shop.check_invariants(&order).await;
    assert_eq!(detail["intents"][0]["status"], "authorized");
    assert_eq!(
        detail["intents"][0]["transactions"][0]["status"],
        "succeeded"
    );

    // Resolved by the client's retry with the same key: one payment at the PSP.
    let (order, snapshot) = shop.quoted_order().await;
    assert_problem(
        shop.authorize_with(&order, &snapshot, "pm_card_timeout", "t-2")
            .await,
        502,
        "provider_outcome_unknown",
    )
    .await;
    tokio::time::sleep(Duration::from_millis(1600)).await;
    let intent = amounts(
        shop.authorize_with(&order, &snapshot, "pm_card_timeout", "t-2")
            .await,
        201,
    )
    .await;
    assert_eq!(intent["status"], "authorized");
    let detail = shop.check_invariants(&order).await;
    assert_eq!(detail["intents"].as_array().unwrap().len(), 1);
    assert_eq!(
        detail["intents"][0]["transactions"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    let psp_payments = shop
        .scalar(
            "SELECT COUNT(*) FROM sandbox_psp_payments WHERE amount = 6018 AND id = $1",
            intent["provider_payment_id"].as_str().unwrap(),
        )
        .await;
    assert_eq!(psp_payments, 1);
}
both_backends!(a_timeout_is_unknown_until_resolved);

async fn retries_with_the_same_key_act_once(backend: Backend) {
    let shop = shop(backend).await;
    let (order, snapshot) = shop.quoted_order().await;
    let first = amounts(
        shop.authorize_with(&order, &snapshot, "pm_card_visa", "same")
            .await,
        201,
    )
    .await;
    let again = shop
        .authorize_with(&order, &snapshot, "pm_card_visa", "same")
        .await;
    assert_eq!(again.headers()["idempotent-replayed"], "true");
    assert_eq!(amounts(again, 201).await["id"], first["id"]);

    // Below the HTTP layer (its record gone, e.g. after a 5xx released it), the ledger's own
    // unique guard still makes the same key one transaction and one provider call.
    let state = &shop.app.state;
    let store: cassa::types::StoreId = shop.store.id.parse().unwrap();
    let order_id: cassa::types::OrderId = order.parse().unwrap();
    let intent_id: cassa::types::PaymentIntentId = first["id"].as_str().unwrap().parse().unwrap();
    let caller = Caller {
        source: Source::Api,
        actor: "test".into(),
        correlation_id: "req-1".into(),
    };
    let env = cassa::types::Environment::Sandbox;
    for _ in 0..3 {
        let target = |key| cassa::payments::Target {
            store,
            env,
            order_id,
            intent_id,
            key,
            caller: &caller,
            reply: None,
        };
        let capture = cassa::payments::CaptureRequest {
            amount: Some(700),
            final_capture: None,
        };
        let (intent, txn) = cassa::payments::capture(state, target("cap-1"), capture)
            .await
            .unwrap();
        assert_eq!(intent.captured_amount, 700);
        assert_eq!(txn.amount, 700);
        let refund = cassa::payments::RefundRequest {
            amount: Some(200),
            reason: None,
        };
        let (_, txn) = cassa::payments::refund(state, target("ref-1"), refund)
            .await
            .unwrap();
        assert_eq!(txn.amount, 200);
    }
    let audit = |op: &'static str| {
        shop.scalar(
            "SELECT COUNT(*) FROM provider_call_audit WHERE operation = $1",
            op,
        )
    };
    assert_eq!(audit("authorize").await, 1);
    assert_eq!(audit("capture").await, 1);
    assert_eq!(audit("refund").await, 1);
    let detail = shop.check_invariants(&order).await;
    assert_eq!(detail["intents"][0]["captured_amount"], 700);
    assert_eq!(detail["intents"][0]["refunded_amount"], 200);
    assert_eq!(
        detail["intents"][0]["transactions"]
            .as_array()
            .unwrap()
            .len(),
        3
    );
}
both_backends!(retries_with_the_same_key_act_once);

async fn amounts_and_states_are_checked(backend: Backend) {
    let shop = shop(backend).await;
    let (order, snapshot) = shop.quoted_order().await;
    // A client total that differs from the snapshot.
    let response = shop
        .post(
            &shop.token,
            &format!("/api/v1/me/orders/{order}/payments/authorize"),
            "mismatch",
            json!({"snapshot_id": snapshot, "payment_method": "pm_card_visa", "amount": 1}),
        )
        .await;
    assert_problem(response, 422, "snapshot_mismatch").await;
    // An expired snapshot.
    shop.app.clock.advance(chrono::Duration::minutes(16));
    assert_problem(
        shop.authorize_with(&order, &snapshot, "pm_card_visa", "late")
            .await,
        422,
        "snapshot_expired",
    )
    .await;

    let (order, intent) = shop.authorized().await;
    assert_problem(
        shop.op(&order, &intent, "capture", json!({"amount": TOTAL + 1}))
            .await,
        422,
        "amount_exceeds_capturable",
    )
    .await;
    assert_problem(
        shop.op(&order, &intent, "capture", json!({"amount": 0}))
            .await,
        422,
        "validation_failed",
    )
    .await;
    assert_problem(
        shop.op(&order, &intent, "refund", json!({"amount": 10}))
            .await,
        409,
        "invalid_state_transition",
    )
    .await;
    // A paid order cannot be authorized again.
    let paid_snapshot = intent["snapshot_id"].as_str().unwrap();
    assert_problem(
        shop.authorize_with(&order, paid_snapshot, "pm_card_visa", "again")
            .await,
        409,
        "invalid_state_transition",
    )
    .await;
    let voided = amounts(shop.op(&order, &intent, "void", json!({})).await, 200).await;
    assert_eq!(voided["status"], "voided");
    assert_problem(
        shop.op(&order, &intent, "capture", json!({"amount": 1}))
            .await,
        409,
        "invalid_state_transition",
    )
    .await;
    let detail = shop.check_invariants(&order).await;
    assert_eq!(detail["order_status"], "open");

    let (order, intent) = shop.authorized().await;
    amounts(
        shop.op(&order, &intent, "capture", json!({"amount": 10}))
            .await,
        200,
    )
    .await;
    // A void after a partial capture releases the rest; the captured part stays.
    let released = amounts(shop.op(&order, &intent, "void", json!({})).await, 200).await;
    assert_eq!(
        (
            released["status"].as_str(),
            released["released_amount"].as_i64()
        ),
        (Some("captured"), Some(TOTAL - 10))
    );
    assert_problem(
        shop.op(&order, &intent, "void", json!({})).await,
        409,
        "invalid_state_transition",
    )
    .await;
    // Another store's key sees nothing.
    let other = shop.app.create_store("Other", "USD").await;
    let path = format!(
        "/api/v1/admin/orders/{order}/payments/{}/capture",
        intent["id"].as_str().unwrap()
    );
    assert_problem(
        shop.post(&other.sandbox_key, &path, "x", json!({"amount": 1}))
            .await,
        404,
        "not_found",
    )
    .await;
}
both_backends!(amounts_and_states_are_checked);

async fn pay_quotes_authorizes_and_captures_once(backend: Backend) {
    let shop = shop(backend).await;
    let order = crate::checkout::order_for(&shop.app, &shop.store, &shop.token, "US", "CA").await;
    let path = format!("/api/v1/me/orders/{}/pay", order["id"].as_str().unwrap());
    let body = json!({"payment_method": "pm_card_visa"});
    let paid = amounts(
        shop.post(&shop.token, &path, "pay-1", body.clone()).await,
        200,
    )
    .await;
    assert_eq!(paid["status"], "captured");
    assert_eq!(paid["captured_amount"], TOTAL);
    let replay = shop.post(&shop.token, &path, "pay-1", body).await;
    assert_eq!(replay.headers()["idempotent-replayed"], "true");
    let detail = shop.check_invariants(order["id"].as_str().unwrap()).await;
    assert_eq!(detail["intents"].as_array().unwrap().len(), 1);

    let declined_order =
        crate::checkout::order_for(&shop.app, &shop.store, &shop.token, "US", "CA").await;
    let path = format!(
        "/api/v1/me/orders/{}/pay",
        declined_order["id"].as_str().unwrap()
    );
    assert_problem(
        shop.post(
            &shop.token,
            &path,
            "pay-2",
            json!({"payment_method": "pm_card_declined"}),
        )
        .await,
        402,
        "payment_declined",
    )
    .await;
}
both_backends!(pay_quotes_authorizes_and_captures_once);

async fn the_ledger_lists_newest_first_with_filters(backend: Backend) {
    let shop = shop(backend).await;
    let mut ids = Vec::new();
    for _ in 0..3 {
        let (_, intent) = shop.authorized().await;
        ids.push(intent["id"].as_str().unwrap().to_owned());
    }
    let (order, snapshot) = shop.quoted_order().await;
    shop.authorize_with(&order, &snapshot, "pm_card_declined", "d")
        .await;
    let get = |query: String| {
        let shop = &shop;
        async move {
            let response = shop
                .app
                .client
                .get(shop.app.url(&format!("/api/v1/admin/payments?{query}")))
                .bearer_auth(&shop.store.sandbox_key)
                .send()
                .await
                .unwrap();
            assert_eq!(response.status(), 200);
            response.json::<Value>().await.unwrap()
        }
    };
    let page = get("limit=2&status=authorized".into()).await;
    let got: Vec<&str> = page["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["id"].as_str().unwrap())
        .collect();
    assert_eq!(got, [ids[2].as_str(), ids[1].as_str()]);
    assert_eq!(page["has_more"], true);
    let next = get(format!(
        "limit=2&status=authorized&starting_after={}",
        ids[1]
    ))
    .await;
    assert_eq!(next["data"][0]["id"], ids[0].as_str());
    assert_eq!(next["has_more"], false);
    let failed = get("status=failed".into()).await;
    assert_eq!(failed["data"].as_array().unwrap().len(), 1);
    assert_eq!(
        get("min_amount=6019".into()).await["data"]
            .as_array()
            .unwrap()
            .len(),
        0
    );
    let response = shop
        .app
        .client
        .get(shop.app.url("/api/v1/admin/payments?status=nonsense"))
        .bearer_auth(&shop.store.sandbox_key)
        .send()
        .await
        .unwrap();
    assert_problem(response, 422, "validation_failed").await;
}
both_backends!(the_ledger_lists_newest_first_with_filters);

async fn the_demo_seeds_a_store_with_payments_in_every_state(backend: Backend) {
    let app = cassa_tests::spawn_app(backend).await;
    let config = (*app.state.config).clone();
    assert!(cassa::demo::seed(config.clone(), 40).await.unwrap());
    // A second run finds the store and leaves the database alone.
    assert!(!cassa::demo::seed(config, 40).await.unwrap());
    const SQL: &str =
        "SELECT status, COUNT(*) FROM payment_intents GROUP BY status ORDER BY status";
    let counts: Vec<(String, i64)> =
        cassa::on_db!(&app.db, pool => sqlx::query_as(SQL).fetch_all(pool).await).unwrap();
    let statuses: Vec<&str> = counts.iter().map(|(s, _)| s.as_str()).collect();
    assert_eq!(
        statuses,
        [
            "authorized",
            "captured",
            "failed",
            "partially_captured",
            "partially_refunded",
            "pending",
            "refunded",
            "voided"
        ]
    );
    assert_eq!(counts.iter().map(|(_, n)| n).sum::<i64>(), 40);
}
both_backends!(the_demo_seeds_a_store_with_payments_in_every_state);
