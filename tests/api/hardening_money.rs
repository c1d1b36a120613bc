//! Money correctness under outages and misuse (issue 13, items 1–8): a refused request never
//! charges later, an unknown outcome is settled only by the provider's truth, ledger keys keep
//! the idempotency contract, ownership comes before any lookup by key, the rest of an
//! authorization can be released, the resolver neither starves nor stops, a failed attempt is
//! not a 503 loop, and amounts the provider or the snapshot get wrong never count as paid.

use std::time::Duration;

use cassa::clock::Clock;
use cassa_tests::{Backend, both_backends};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::{
    payments::{Shop, shop::status_of, shop_with_timeout},
    support::assert_problem,
};

const TOTAL: i64 = 6018;

/// The store's sandbox PSP credentials are gone (lost to a restore, or removed before the API
/// refused to delete credentials that payments still need): no client can be built for it.
async fn lose_credentials(shop: &Shop, store: &str) {
    let store: Uuid = store.parse().unwrap();
    cassa::on_db!(&shop.app.db, pool => {
        sqlx::query("DELETE FROM provider_credentials WHERE store_id = $1 AND provider = 'sandbox'")
            .bind(store).execute(pool).await.map(|_| ())
    })
    .unwrap();
    shop.app.state.caches.credentials.clear();
}

async fn shop(backend: Backend) -> Shop {
    shop_with_timeout(backend, Duration::from_secs(5)).await
}

/// Item 1: a capture refused with 503 because the provider's client cannot be built leaves
/// nothing behind: no pending row, no reservation, and nothing executes once it can be built.
async fn a_refused_capture_never_charges_later(backend: Backend) {
    let shop = shop(backend).await;
    let (order, intent) = shop.authorized().await;
    let secrets = shop.sandbox_secrets().await;
    lose_credentials(&shop, &shop.store.id).await;
    for _ in 0..3 {
        assert_problem(
            shop.op(&order, &intent, "capture", json!({"amount": 1000}))
                .await,
            503,
            "provider_unavailable",
        )
        .await;
    }
    let detail = shop.detail(&order).await;
    let now = &detail["intents"][0];
    assert_eq!(now["capturable_amount"], TOTAL, "{now}");
    assert_eq!(now["transactions"].as_array().unwrap().len(), 1, "{now}");

    // Once the client can be built again, nothing that was refused happens.
    shop.put_secrets(&secrets).await;
    shop.resolve().await;
    let detail = shop.check_invariants(&order).await;
    assert_eq!(detail["intents"][0]["captured_amount"], 0);
    let pid = intent["provider_payment_id"].as_str().unwrap();
    assert_eq!(shop.psp_row(pid).await.1, 0);
}
both_backends!(a_refused_capture_never_charges_later);

/// Item 2: a resend of an unknown authorization that the provider refuses to look at (401)
/// leaves it unknown, keeps the order taken, and the provider's truth settles it later.
async fn an_unknown_outcome_is_settled_only_by_the_provider(backend: Backend) {
    let shop = shop_with_timeout(backend, Duration::from_millis(800)).await;
    let (order, snapshot) = shop.quoted_order().await;
    assert_problem(
        shop.authorize_with(&order, &snapshot, "pm_card_timeout", "u-1")
            .await,
        502,
        "provider_outcome_unknown",
    )
    .await;
    // The PSP finishes the authorization; then the store's key stops working.
    tokio::time::sleep(Duration::from_millis(1600)).await;
    let secrets = shop.sandbox_secrets().await;
    shop.put_secrets(&Shop::altered(
        &secrets,
        Some("not_a_psp_key_0123456789abcdef"),
        None,
    ))
    .await;
    assert_problem(
        shop.authorize_with(&order, &snapshot, "pm_card_timeout", "u-1")
            .await,
        502,
        "provider_outcome_unknown",
    )
    .await;
    assert_eq!(shop.resolve().await, 0);
    let detail = shop.detail(&order).await;
    assert_eq!(detail["intents"][0]["status"], "unknown", "{detail}");
    // While it is unknown the order cannot be paid twice.
    let (_, fresh) = shop.quoted_order_of(&order).await;
    assert_problem(
        shop.authorize_with(&order, &fresh, "pm_card_visa", "u-2")
            .await,
        409,
        "payment_already_active",
    )
    .await;
    // The provider's truth, once it can be asked.
    shop.put_secrets(&secrets).await;
    shop.app.clock.advance(chrono::Duration::hours(2));
    assert_eq!(shop.resolve().await, 1);
    let detail = shop.check_invariants(&order).await;
    assert_eq!(detail["intents"][0]["status"], "authorized");
}
both_backends!(an_unknown_outcome_is_settled_only_by_the_provider);

/// Item 3: the ledger answers a key only for the same request from the same credential.
async fn ledger_keys_respect_the_idempotency_contract(backend: Backend) {
    let shop = shop(backend).await;
    let (order, intent) = shop.authorized().await;
    let first = shop
        .op_with_key(&order, &intent, "capture", json!({"amount": 1000}), "cap-k")
        .await;
    assert_eq!(first.status(), 200);
    // The HTTP record is gone (expired, or released after a 5xx): the ledger still refuses a
    // different request under the key.
    shop.forget_http_records().await;
    assert_problem(
        shop.op_with_key(&order, &intent, "capture", json!({"amount": 2000}), "cap-k")
            .await,
        422,
        "idempotency_key_reused",
    )
    .await;
    // Another credential of the store using the same key makes its own capture.
    let owner = shop
        .app
        .create_owner(&shop.store, "owner@hardening.test")
        .await;
    let created: Value = shop
        .app
        .client
        .post(shop.app.url("/api/v1/admin/api-keys"))
        .bearer_auth(&owner)
        .header("cassa-store", &shop.store.id)
        .header("cassa-environment", "sandbox")
        .header("idempotency-key", Uuid::now_v7().to_string())
        .json(&json!({"name": "second"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let second = created["secret"].as_str().unwrap();
    let path = format!(
        "/api/v1/admin/orders/{order}/payments/{}/capture",
        intent["id"].as_str().unwrap()
    );
    let (status, body) = status_of(
        shop.post(second, &path, "cap-k", json!({"amount": 1000}))
            .await,
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["captured_amount"], 2000, "{body}");
    shop.check_invariants(&order).await;
}
both_backends!(ledger_keys_respect_the_idempotency_contract);

/// A capture retried under its key after the key's HTTP record is gone, once nothing is left
/// to capture: the rules would refuse a new capture, and the retry is answered with the first
/// one (the key's transaction is looked up only when the fresh path stops).
async fn a_finished_capture_retried_without_its_record_answers_the_first(backend: Backend) {
    let shop = shop(backend).await;
    let (order, intent) = shop.authorized().await;
    let (status, first) = status_of(
        shop.op_with_key(&order, &intent, "capture", json!({}), "cap-all")
            .await,
    )
    .await;
    assert_eq!(status, 200, "{first}");
    assert_eq!(first["status"], "captured", "{first}");
    shop.forget_http_records().await;
    let (status, again) = status_of(
        shop.op_with_key(&order, &intent, "capture", json!({}), "cap-all")
            .await,
    )
    .await;
    assert_eq!(status, 200, "{again}");
    assert_eq!(
        again["captured_amount"], first["captured_amount"],
        "{again}"
    );
    assert_eq!(again["status"], "captured", "{again}");
    // Captured once at the provider.
    let pid = first["provider_payment_id"].as_str().unwrap();
    assert_eq!(
        shop.psp_row(pid).await.1,
        first["captured_amount"].as_i64().unwrap()
    );
    shop.check_invariants(&order).await;
}
both_backends!(a_finished_capture_retried_without_its_record_answers_the_first);

/// A finished capture's key reused for another amount after its HTTP record is gone: the
/// rules refuse a new capture, and the answer is still that the key was used for another
/// request (not the rule's refusal).
async fn a_finished_capture_key_reused_for_another_amount_is_422(backend: Backend) {
    let shop = shop(backend).await;
    let (order, intent) = shop.authorized().await;
    let (status, first) = status_of(
        shop.op_with_key(&order, &intent, "capture", json!({}), "cap-k")
            .await,
    )
    .await;
    assert_eq!(status, 200, "{first}");
    shop.forget_http_records().await;
    assert_problem(
        shop.op_with_key(&order, &intent, "capture", json!({"amount": 2000}), "cap-k")
            .await,
        422,
        "idempotency_key_reused",
    )
    .await;
    shop.check_invariants(&order).await;
}
both_backends!(a_finished_capture_key_reused_for_another_amount_is_422);

/// A partial capture retried under its key after the key's HTTP record is gone: the rules
/// allow another capture, so the retry reaches the ledger's unique key, and is answered with
/// the first capture instead of capturing again.
async fn a_partial_capture_retried_without_its_record_captures_once(backend: Backend) {
    let shop = shop(backend).await;
    let (order, intent) = shop.authorized().await;
    let body = json!({"amount": 1000});
    let (status, first) = status_of(
        shop.op_with_key(&order, &intent, "capture", body.clone(), "cap-part")
            .await,
    )
    .await;
    assert_eq!(status, 200, "{first}");
    assert_eq!(first["captured_amount"], 1000, "{first}");
    shop.forget_http_records().await;
    let (status, again) = status_of(
        shop.op_with_key(&order, &intent, "capture", body, "cap-part")
            .await,
    )
    .await;
    assert_eq!(status, 200, "{again}");
    assert_eq!(again["captured_amount"], 1000, "{again}");
    let pid = first["provider_payment_id"].as_str().unwrap();
    assert_eq!(shop.psp_row(pid).await.1, 1000);
    shop.check_invariants(&order).await;
}
both_backends!(a_partial_capture_retried_without_its_record_captures_once);

/// Item 4: another customer sending this customer's order id and key finds nothing.
async fn ownership_comes_before_idempotency(backend: Backend) {
    let shop = shop(backend).await;
    let (order, snapshot) = shop.quoted_order().await;
    let mine = shop
        .authorize_with(&order, &snapshot, "pm_card_visa", "own-1")
        .await;
    assert_eq!(mine.status(), 201);
    let (_, other) = shop.app.create_customer(&shop.store).await;
    let response = shop
        .post(
            &other,
            &format!("/api/v1/me/orders/{order}/payments/authorize"),
            "own-1",
            json!({"snapshot_id": snapshot, "payment_method": "pm_card_visa"}),
        )
        .await;
    assert_problem(response, 404, "not_found").await;
}
both_backends!(ownership_comes_before_idempotency);

/// Item 5: the uncaptured rest of an authorization can be released, by a void after a partial
/// capture, by a final capture, and by a full refund of a partial capture.
async fn the_rest_of_an_authorization_is_released(backend: Backend) {
    let shop = shop(backend).await;
    let rest = TOTAL - 1000;

    // Void after a partial capture.
    let (order, intent) = shop.authorized().await;
    assert_eq!(
        shop.op(&order, &intent, "capture", json!({"amount": 1000}))
            .await
            .status(),
        200
    );
    let (status, after) = status_of(shop.op(&order, &intent, "void", json!({})).await).await;
    assert_eq!(status, 200, "{after}");
    assert_eq!(
        (
            after["status"].as_str(),
            after["captured_amount"].as_i64(),
            after["released_amount"].as_i64(),
            after["capturable_amount"].as_i64(),
            after["voidable"].as_bool(),
        ),
        (
            Some("captured"),
            Some(1000),
            Some(rest),
            Some(0),
            Some(false)
        )
    );
    let pid = intent["provider_payment_id"].as_str().unwrap();
    assert_eq!(shop.psp_row(pid).await, ("captured".into(), 1000, 0, rest));
    shop.check_invariants(&order).await;

    // A final capture in one call.
    let (order, intent) = shop.authorized().await;
    let (status, after) = status_of(
        shop.op(
            &order,
            &intent,
            "capture",
            json!({"amount": 1000, "final_capture": true}),
        )
        .await,
    )
    .await;
    assert_eq!(status, 200, "{after}");
    assert_eq!(
        (after["status"].as_str(), after["released_amount"].as_i64()),
        (Some("captured"), Some(rest))
    );
    let pid = intent["provider_payment_id"].as_str().unwrap();
    assert_eq!(shop.psp_row(pid).await, ("captured".into(), 1000, 0, rest));

    // A full refund of a partial capture releases the rest too.
    let (order, intent) = shop.authorized().await;
    shop.op(&order, &intent, "capture", json!({"amount": 1000}))
        .await;
    let (status, after) = status_of(
        shop.op(&order, &intent, "refund", json!({"amount": 1000}))
            .await,
    )
    .await;
    assert_eq!(status, 200, "{after}");
    assert_eq!(
        (
            after["status"].as_str(),
            after["refunded_amount"].as_i64(),
            after["released_amount"].as_i64()
        ),
        (Some("refunded"), Some(1000), Some(rest))
    );
    let pid = intent["provider_payment_id"].as_str().unwrap();
    assert_eq!(
        shop.psp_row(pid).await,
        ("captured".into(), 1000, 1000, rest)
    );
    shop.check_invariants(&order).await;
}
both_backends!(the_rest_of_an_authorization_is_released);

/// Item 6: a pass takes the oldest *due* rows and moves every row it tries back in the queue,
/// so a batch of rows that keep failing cannot starve a row that can be settled.
async fn the_resolver_cannot_starve(backend: Backend) {
    let shop = shop(backend).await;
    // A second store whose open transactions can never be resolved (no credentials).
    let other = shop.app.create_store("Broken", "USD").await;
    crate::checkout::configure(&shop.app, &other).await;
    let (_, token) = shop.app.create_customer(&other).await;
    let (_, stuck) = shop.authorized_in(&other, &token).await;
    let stuck_id: Uuid = stuck["id"].as_str().unwrap().parse().unwrap();
    let old = shop.app.clock.now() - chrono::Duration::hours(1);
    for n in 0..100 {
        const SQL: &str = "INSERT INTO payment_transactions (id, payment_intent_id, store_id, \
            environment, operation, idempotency_key, amount, currency, status, correlation_id, \
            actor, attempts, next_attempt_at, created_at, updated_at) \
            VALUES ($1, $2, $3, 'sandbox', 'capture', $4, 1, 'USD', 'unknown', 'c', 'test', 0, $5, $5, $5)";
        cassa::on_db!(&shop.app.db, pool => {
            sqlx::query(SQL).bind(Uuid::now_v7()).bind(stuck_id)
                .bind(other.id.parse::<Uuid>().unwrap()).bind(format!("k{n}")).bind(old)
                .execute(pool).await.map(|_| ())
        })
        .unwrap();
    }
    lose_credentials(&shop, &other.id).await;

    // A settleable row: an asynchronous authorization the PSP has approved.
    let (order, snapshot) = shop.quoted_order().await;
    let pending: Value = shop
        .authorize_with(&order, &snapshot, "pm_card_async", "async-1")
        .await
        .json()
        .await
        .unwrap();
    let pid = pending["provider_payment_id"].as_str().unwrap();
    assert!(
        cassa_sandbox_psp::settle(&cassa::http::sandbox_psp::state(&shop.app.state), pid, true)
            .await
            .unwrap()
    );
    // Two passes at most: the first may be spent on the stuck rows, which then wait.
    let settled = shop.resolve().await + shop.resolve().await;
    assert_eq!(settled, 1);
    let detail = shop.check_invariants(&order).await;
    assert_eq!(detail["intents"][0]["status"], "authorized");
}
both_backends!(the_resolver_cannot_starve);

/// Item 7: a transaction that failed because the provider was unavailable is final for its
/// key: the same key replays the stored problem, without `Retry-After`.
async fn a_failed_attempt_is_not_a_503_loop(backend: Backend) {
    let shop = shop(backend).await;
    let (order, snapshot) = shop.quoted_order().await;
    let first = shop
        .authorize_with(&order, &snapshot, "pm_card_processing_error", "loop-1")
        .await;
    assert!(first.headers().get("retry-after").is_none());
    assert_problem(first, 503, "provider_unavailable").await;
    let again = shop
        .authorize_with(&order, &snapshot, "pm_card_processing_error", "loop-1")
        .await;
    assert_eq!(again.headers()["idempotent-replayed"], "true");
    assert!(again.headers().get("retry-after").is_none());
    // A replay carries the first request's id in its body.
    let (status, problem) = status_of(again).await;
    assert_eq!(
        (status, problem["code"].as_str()),
        (503, Some("provider_unavailable"))
    );
    // Nothing was charged: the order can be paid with a new key.
    let paid = shop
        .authorize_with(&order, &snapshot, "pm_card_visa", "loop-2")
        .await;
    assert_eq!(paid.status(), 201);
}
both_backends!(a_failed_attempt_is_not_a_503_loop);

/// Item 7: `pay` that authorized but could not capture says so, and the same key resumes the
/// capture.
async fn pay_resumes_a_capture_with_the_same_key(backend: Backend) {
    let shop = shop(backend).await;
    let order = crate::checkout::order_for(&shop.app, &shop.store, &shop.token, "US", "CA").await;
    let order = order["id"].as_str().unwrap().to_owned();
    let path = format!("/api/v1/me/orders/{order}/pay");
    let pay = |key: &'static str| {
        shop.post(
            &shop.token,
            &path,
            key,
            json!({"payment_method": "pm_card_async"}),
        )
    };
    let (status, pending) = status_of(pay("pay-1").await).await;
    assert_eq!(status, 202, "{pending}");
    let pid = pending["provider_payment_id"].as_str().unwrap().to_owned();
    cassa_sandbox_psp::settle(
        &cassa::http::sandbox_psp::state(&shop.app.state),
        &pid,
        true,
    )
    .await
    .unwrap();
    shop.resolve().await;
    // The 202 is remembered for a day; this test is about the ledger after that.
    shop.forget_http_records().await;
    // The provider cannot be reached for the capture.
    let secrets = shop.sandbox_secrets().await;
    shop.put_secrets(&Shop::altered(
        &secrets,
        Some("sbx_outage_0123456789abcdef"),
        None,
    ))
    .await;
    let (status, problem) = status_of(pay("pay-1").await).await;
    assert_eq!(
        (status, problem["code"].as_str()),
        (503, Some("capture_unavailable")),
        "{problem}"
    );
    assert!(
        problem["detail"]
            .as_str()
            .unwrap()
            .contains(pending["id"].as_str().unwrap())
    );
    shop.put_secrets(&secrets).await;
    let (status, captured) = status_of(pay("pay-1").await).await;
    assert_eq!(status, 200, "{captured}");
    assert_eq!(captured["status"], "captured");
    assert_eq!(shop.psp_row(&pid).await.1, TOTAL);
    shop.check_invariants(&order).await;
}
both_backends!(pay_resumes_a_capture_with_the_same_key);

/// Item 8: a zero total is a 422, never a 500; an authorization of another amount than asked
/// is voided at the provider.
async fn wrong_amounts_are_never_paid(backend: Backend) {
    let shop = shop(backend).await;
    // The provider approves half of what was asked.
    let (order, snapshot) = shop.quoted_order().await;
    let (status, problem) = status_of(
        shop.authorize_with(&order, &snapshot, "pm_card_partial_authorization", "half-1")
            .await,
    )
    .await;
    assert_eq!(
        (status, problem["code"].as_str()),
        (422, Some("provider_rejected")),
        "{problem}"
    );
    let detail = shop.check_invariants(&order).await;
    let intent = &detail["intents"][0];
    assert_eq!(intent["status"], "failed");
    assert_eq!(intent["failure_code"], "amount_mismatch");
    let pid: String = shop
        .scalar_text(
            "SELECT provider_txn_id FROM payment_transactions WHERE idempotency_key LIKE '%half-1'",
        )
        .await;
    assert_eq!(shop.psp_row(&pid).await.0, "voided");

    // A free order.
    let free: Value = crate::catalog::create_product(
        &shop.app,
        &shop.store.sandbox_key,
        json!({"sku": "FREE-1", "name": "Sticker", "unit_amount": 0, "currency": "USD", "weight_grams": 0}),
    )
    .await
    .json()
    .await
    .unwrap();
    let rates = json!({"rates": [
        {"service": "standard", "country": "US", "max_weight_grams": 10000, "amount": 0, "currency": "USD"},
    ]});
    let put = shop
        .app
        .client
        .put(shop.app.url("/api/v1/admin/shipping/rates"))
        .bearer_auth(&shop.store.sandbox_key)
        .header("idempotency-key", Uuid::now_v7().to_string())
        .json(&rates)
        .send()
        .await
        .unwrap();
    assert_eq!(put.status(), 200);
    let order: Value = shop
        .post(
            &shop.token,
            "/api/v1/me/orders",
            &Uuid::now_v7().to_string(),
            json!({"items": [{"product_id": free["id"], "quantity": 1}],
                   "shipping_address": {"name": "Ada", "line1": "1 Main St", "city": "Town",
                       "subdivision": "CA", "postal_code": "90001", "country": "US"}}),
        )
        .await
        .json()
        .await
        .unwrap();
    let order = order["id"].as_str().unwrap();
    let quote: Value = shop
        .post(
            &shop.token,
            "/api/v1/me/checkout/quote",
            &Uuid::now_v7().to_string(),
            json!({"order_id": order}),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(quote["totals"]["total"], 0, "{quote}");
    assert_problem(
        shop.authorize_with(
            order,
            quote["snapshot_id"].as_str().unwrap(),
            "pm_card_visa",
            "free-1",
        )
        .await,
        422,
        "amount_invalid",
    )
    .await;
}
both_backends!(wrong_amounts_are_never_paid);

/// Item 5 under a race: two identical final captures with one key capture once and release
/// once; the key then replays the whole flow's answer.
async fn a_final_capture_retried_concurrently_acts_once(backend: Backend) {
    let shop = shop(backend).await;
    let (order, intent) = shop.authorized().await;
    let body = json!({"amount": 1000, "final_capture": true});
    let (a, b) = tokio::join!(
        shop.op_with_key(&order, &intent, "capture", body.clone(), "final-1"),
        shop.op_with_key(&order, &intent, "capture", body.clone(), "final-1"),
    );
    let statuses = [a.status().as_u16(), b.status().as_u16()];
    assert!(statuses.contains(&200), "{statuses:?}");
    assert!(
        statuses.iter().all(|s| [200, 409].contains(s)),
        "{statuses:?}"
    );
    let (status, replayed) = status_of(
        shop.op_with_key(&order, &intent, "capture", body, "final-1")
            .await,
    )
    .await;
    assert_eq!(status, 200, "{replayed}");
    assert_eq!(
        (
            replayed["status"].as_str(),
            replayed["released_amount"].as_i64()
        ),
        (Some("captured"), Some(TOTAL - 1000))
    );
    let detail = shop.check_invariants(&order).await;
    let ops: Vec<&str> = detail["intents"][0]["transactions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["operation"].as_str().unwrap())
        .collect();
    assert_eq!(ops, ["authorize", "capture", "void"]);
    let pid = intent["provider_payment_id"].as_str().unwrap();
    assert_eq!(
        shop.psp_row(pid).await,
        ("captured".into(), 1000, 0, TOTAL - 1000)
    );
}
both_backends!(a_final_capture_retried_concurrently_acts_once);
