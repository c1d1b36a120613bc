//! The tax a merchant files: captures commit it, refunds and voids reverse it, explicit
//! finalization commits it in full; always per payment, exact at the ends, never reversed
//! beyond what was committed.

use cassa_tests::{Backend, both_backends, spawn_app};
use serde_json::json;
use uuid::Uuid;

use super::{act, authorize, net_per_line, order_tax, quote, shop};
use crate::support::{assert_problem, json_of, send};

async fn captures_commit_tax_and_refunds_reverse_it_to_exactly_nothing(backend: Backend) {
    let app = spawn_app(backend).await;
    let store = shop(&app).await;
    let (_, token) = app.create_customer(&store).await;
    let snapshot = quote(&app, &store, &token, "Los Angeles", "CA", "90012").await;
    let total = snapshot["totals"]["total"].as_i64().unwrap();
    let order = snapshot["order_id"].as_str().unwrap().to_owned();
    let intent = authorize(&app, &token, &snapshot).await;
    assert_eq!(
        order_tax(&app, &store, &order).await["committed"],
        0,
        "authorizing commits nothing"
    );

    // Half, then the rest: the commits add up to the snapshot's tax exactly.
    act(&app, &store, &intent, "capture", Some(total / 2)).await;
    let tax = order_tax(&app, &store, &order).await;
    // Each jurisdiction line commits half of its tax, rounded on its own: 73, 725, 25, 225 →
    // 37 + 363 + 13 + 113.
    assert_eq!(tax["committed"], 526);
    act(&app, &store, &intent, "capture", None).await;
    let tax = order_tax(&app, &store, &order).await;
    assert_eq!(tax["committed"], 1048);
    assert_eq!(tax["transactions"].as_array().unwrap().len(), 2);
    let committed = net_per_line(&tax);
    assert_eq!(committed[&(1, "US-CA".to_owned())], 725);
    assert_eq!(committed[&(0, "US-CA".to_owned())], 73);

    // Refunds in thirds: never more than committed on any line, exactly all at the end.
    let third = total / 3;
    act(&app, &store, &intent, "refund", Some(third)).await;
    let tax = order_tax(&app, &store, &order).await;
    // A third of each line: 24 + 242 + 8 + 75.
    assert_eq!(tax["reversed"], 349);
    act(&app, &store, &intent, "refund", Some(third)).await;
    for (key, net) in net_per_line(&order_tax(&app, &store, &order).await) {
        assert!(net >= 0 && net <= committed[&key], "{key:?}: {net}");
    }
    act(&app, &store, &intent, "refund", Some(total - 2 * third)).await;
    let tax = order_tax(&app, &store, &order).await;
    assert_eq!(
        (tax["reversed"].as_i64(), tax["net"].as_i64()),
        (Some(1048), Some(0))
    );
    assert!(net_per_line(&tax).values().all(|net| *net == 0), "{tax}");
    let kinds: Vec<&str> = tax["transactions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["kind"].as_str().unwrap())
        .collect();
    assert_eq!(
        kinds,
        ["commit", "commit", "reversal", "reversal", "reversal"]
    );

    // Another store cannot read it.
    let other = app.create_store("Other", "USD").await;
    let response = app
        .client
        .get(app.url(&format!("/api/v1/admin/orders/{order}/tax")))
        .bearer_auth(&other.sandbox_key)
        .send()
        .await
        .unwrap();
    assert_problem(response, 404, "not_found").await;
}

async fn a_void_before_capture_commits_nothing(backend: Backend) {
    let app = spawn_app(backend).await;
    let store = shop(&app).await;
    let (_, token) = app.create_customer(&store).await;
    let snapshot = quote(&app, &store, &token, "Los Angeles", "CA", "90012").await;
    let intent = authorize(&app, &token, &snapshot).await;
    act(&app, &store, &intent, "void", None).await;
    let tax = order_tax(&app, &store, snapshot["order_id"].as_str().unwrap()).await;
    assert_eq!(tax["committed"], 0);
    assert_eq!(tax["transactions"], json!([]));
}

/// Many partial captures of one payment at once: each succeeded capture commits its share
/// once, and together exactly the snapshot's tax.
async fn concurrent_captures_commit_the_tax_exactly_once(backend: Backend) {
    let app = spawn_app(backend).await;
    let store = shop(&app).await;
    let (_, token) = app.create_customer(&store).await;
    let snapshot = quote(&app, &store, &token, "Los Angeles", "CA", "90012").await;
    let total = snapshot["totals"]["total"].as_i64().unwrap();
    let order = snapshot["order_id"].as_str().unwrap().to_owned();
    let intent = authorize(&app, &token, &snapshot).await;
    let path = format!(
        "/api/v1/admin/orders/{order}/payments/{}/capture",
        intent["id"].as_str().unwrap()
    );
    let mut captures = tokio::task::JoinSet::new();
    for _ in 0..8 {
        let request = app
            .client
            .post(app.url(&path))
            .bearer_auth(&store.sandbox_key)
            .header("idempotency-key", Uuid::now_v7().to_string())
            .json(&json!({"amount": total / 4}));
        captures.spawn(async move { request.send().await.unwrap().status().as_u16() });
    }
    let statuses = captures.join_all().await;
    let succeeded = statuses.iter().filter(|s| **s == 200).count();
    assert_eq!(succeeded, 4, "four quarters fit: {statuses:?}");
    let tax = order_tax(&app, &store, &order).await;
    assert_eq!(tax["committed"], 1048, "{tax}");
    assert_eq!(tax["transactions"].as_array().unwrap().len(), 4);
}

async fn finalizing_commits_in_full_once_and_releasing_takes_back_what_was_not_sold(
    backend: Backend,
) {
    let app = spawn_app(backend).await;
    let store = shop(&app).await;
    let (_, token) = app.create_customer(&store).await;
    let snapshot = quote(&app, &store, &token, "Los Angeles", "CA", "90012").await;
    let order = snapshot["order_id"].as_str().unwrap().to_owned();
    let path = format!("/api/v1/admin/orders/{order}/tax/finalize");
    let finalize = || send(&app, reqwest::Method::POST, &store.sandbox_key, &path, None);
    assert_problem(finalize().await, 409, "order_not_paid").await;
    let intent = authorize(&app, &token, &snapshot).await;
    let tax = json_of(finalize().await, 200).await;
    assert_eq!(tax["committed"], 1048);
    // Again, and from the customer's storefront: nothing more.
    json_of(finalize().await, 200).await;
    let mine = format!("/api/v1/me/orders/{order}/tax/finalize");
    let tax = json_of(
        send(&app, reqwest::Method::POST, &token, &mine, None).await,
        200,
    )
    .await;
    assert_eq!(tax["transactions"].as_array().unwrap().len(), 1, "{tax}");
    let stranger = app.create_customer(&store).await.1;
    let response = send(&app, reqwest::Method::POST, &stranger, &mine, None).await;
    assert_problem(response, 404, "not_found").await;

    // Half is captured, the rest released: the tax of the unsold half goes back.
    let total = snapshot["totals"]["total"].as_i64().unwrap();
    act(&app, &store, &intent, "capture", Some(total / 2)).await;
    assert_eq!(
        order_tax(&app, &store, &order).await["net"],
        1048,
        "still finalized in full"
    );
    act(&app, &store, &intent, "void", None).await;
    let tax = order_tax(&app, &store, &order).await;
    assert_eq!(
        (tax["committed"].as_i64(), tax["net"].as_i64()),
        (Some(1048), Some(526))
    );
    assert_eq!(tax["transactions"][1]["kind"], "reversal");
    assert!(
        tax["transactions"][1]["source"]
            .as_str()
            .unwrap()
            .starts_with("void:")
    );
}

/// An order paid again after its first payment was voided is finalized afresh: the second
/// payment's tax is its own (keyed by payment, not by order).
async fn a_second_payment_after_a_void_is_finalized_afresh(backend: Backend) {
    let app = spawn_app(backend).await;
    let store = shop(&app).await;
    let (_, token) = app.create_customer(&store).await;
    let first = quote(&app, &store, &token, "Los Angeles", "CA", "90012").await;
    let order = first["order_id"].as_str().unwrap().to_owned();
    let path = format!("/api/v1/admin/orders/{order}/tax/finalize");
    let finalize = || send(&app, reqwest::Method::POST, &store.sandbox_key, &path, None);
    let a = authorize(&app, &token, &first).await;
    json_of(finalize().await, 200).await;
    act(&app, &store, &a, "void", None).await;
    assert_eq!(order_tax(&app, &store, &order).await["net"], 0);

    let body = json!({"order_id": order});
    let second = json_of(
        send(
            &app,
            reqwest::Method::POST,
            &token,
            "/api/v1/me/checkout/quote",
            Some(body),
        )
        .await,
        201,
    )
    .await;
    let b = authorize(&app, &token, &second).await;
    let tax = json_of(finalize().await, 200).await;
    assert_eq!(tax["net"], 1048, "{tax}");
    let total = second["totals"]["total"].as_i64().unwrap();
    act(&app, &store, &b, "capture", Some(total / 2)).await;
    assert_eq!(order_tax(&app, &store, &order).await["net"], 1048);
}

both_backends!(
    captures_commit_tax_and_refunds_reverse_it_to_exactly_nothing,
    a_void_before_capture_commits_nothing,
    concurrent_captures_commit_the_tax_exactly_once,
    finalizing_commits_in_full_once_and_releasing_takes_back_what_was_not_sold,
    a_second_payment_after_a_void_is_finalized_afresh,
);
