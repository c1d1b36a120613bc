//! Idempotency-Key semantics on mutating store and customer endpoints.

use std::time::Duration;

use axum::{Router, routing::post};
use cassa::state::AppState;
use cassa_tests::{
    Backend, SpawnOptions, TestApp, TestStore, both_backends, spawn_app, spawn_app_with,
};
use serde_json::{Value, json};

use crate::support::assert_problem;

async fn create_customer(
    app: &TestApp,
    token: &str,
    key: Option<&str>,
    body: Value,
) -> reqwest::Response {
    let mut request = app
        .client
        .post(app.url("/api/v1/admin/customers"))
        .bearer_auth(token)
        .json(&body);
    if let Some(key) = key {
        request = request.header("idempotency-key", key);
    }
    request.send().await.unwrap()
}

async fn customer_count(app: &TestApp) -> i64 {
    let sql = "SELECT COUNT(*) FROM customers";
    cassa::on_db!(&app.db, pool => sqlx::query_scalar::<_, i64>(sql).fetch_one(pool).await).unwrap()
}

async fn missing_or_malformed_keys_are_400(backend: Backend) {
    let app = spawn_app(backend).await;
    let store = app.create_store("Shop", "USD").await;
    let response = create_customer(&app, &store.sandbox_key, None, json!({})).await;
    assert_problem(response, 400, "idempotency_key_missing").await;
    let long = "k".repeat(256);
    for bad in ["", long.as_str(), "has space"] {
        let response = create_customer(&app, &store.sandbox_key, Some(bad), json!({})).await;
        assert_problem(response, 400, "idempotency_key_invalid").await;
    }
    assert_eq!(customer_count(&app).await, 0);
    // Reads need no key; credentials are checked before keys.
    let response = app
        .client
        .post(app.url("/api/v1/admin/customers"))
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_problem(response, 401, "unauthorized").await;
}

async fn retries_replay_the_first_response_byte_for_byte(backend: Backend) {
    let app = spawn_app(backend).await;
    let store = app.create_store("Shop", "USD").await;
    let body = json!({"name": "Ada", "email": "ada@example.com"});
    let first = create_customer(&app, &store.sandbox_key, Some("create-ada"), body.clone()).await;
    assert_eq!(first.status(), 201);
    assert!(first.headers().get("idempotent-replayed").is_none());
    let first_bytes = first.bytes().await.unwrap();

    for _ in 0..3 {
        let again =
            create_customer(&app, &store.sandbox_key, Some("create-ada"), body.clone()).await;
        assert_eq!(again.status(), 201);
        assert_eq!(again.headers()["idempotent-replayed"], "true");
        assert_eq!(again.headers()["content-type"], "application/json");
        assert_eq!(again.bytes().await.unwrap(), first_bytes);
    }
    assert_eq!(
        customer_count(&app).await,
        1,
        "one customer, however many retries"
    );
}

async fn stored_client_errors_are_replayed_too(backend: Backend) {
    let app = spawn_app(backend).await;
    let store = app.create_store("Shop", "USD").await;
    let bad = json!({"name": "x".repeat(300)});
    let first = create_customer(&app, &store.sandbox_key, Some("bad-name"), bad.clone()).await;
    assert_eq!(first.status(), 422);
    let first_body: Value = first.json().await.unwrap();
    assert!(first_body["request_id"].is_string(), "{first_body}");
    let again = create_customer(&app, &store.sandbox_key, Some("bad-name"), bad).await;
    assert_eq!(again.status(), 422);
    assert_eq!(again.headers()["idempotent-replayed"], "true");
    assert_eq!(again.json::<Value>().await.unwrap(), first_body);
}

async fn a_key_reused_for_another_request_is_422(backend: Backend) {
    let app = spawn_app(backend).await;
    let store = app.create_store("Shop", "USD").await;
    let first = create_customer(&app, &store.sandbox_key, Some("k1"), json!({"name": "A"})).await;
    assert_eq!(first.status(), 201);
    let other = create_customer(&app, &store.sandbox_key, Some("k1"), json!({"name": "B"})).await;
    assert_problem(other, 422, "idempotency_key_reused").await;
    assert_eq!(customer_count(&app).await, 1);
}

async fn keys_are_scoped_per_store(backend: Backend) {
    let app = spawn_app(backend).await;
    let a: TestStore = app.create_store("A", "USD").await;
    let b: TestStore = app.create_store("B", "USD").await;
    let body = json!({"name": "Same"});
    let in_a = create_customer(&app, &a.sandbox_key, Some("shared"), body.clone()).await;
    let in_b = create_customer(&app, &b.sandbox_key, Some("shared"), body).await;
    assert_eq!(in_a.status(), 201);
    assert_eq!(in_b.status(), 201);
    assert!(in_b.headers().get("idempotent-replayed").is_none());
    assert_eq!(customer_count(&app).await, 2);
}

async fn keys_expire_after_24_hours(backend: Backend) {
    let app = spawn_app(backend).await;
    let store = app.create_store("Shop", "USD").await;
    let first = create_customer(
        &app,
        &store.sandbox_key,
        Some("daily"),
        json!({"name": "A"}),
    )
    .await;
    assert_eq!(first.status(), 201);
    app.clock.advance(chrono::Duration::hours(24));
    let purged = cassa::jobs::purge_expired(&app.state).await.unwrap();
    assert_eq!(purged.idempotency_keys, 1);
    let later = create_customer(
        &app,
        &store.sandbox_key,
        Some("daily"),
        json!({"name": "B"}),
    )
    .await;
    assert_eq!(later.status(), 201);
    assert!(later.headers().get("idempotent-replayed").is_none());
}

/// A slow mutation and a failing one under `/api/v1/admin`, behind the real idempotency layer.
fn slow_admin_routes() -> Router<AppState> {
    async fn slow() -> &'static str {
        tokio::time::sleep(Duration::from_millis(800)).await;
        "slow done"
    }
    // Outlives any budget a test sets, however loaded the machine is.
    async fn slower() -> &'static str {
        tokio::time::sleep(Duration::from_secs(10)).await;
        "slower done"
    }
    async fn fail() -> axum::http::StatusCode {
        axum::http::StatusCode::SERVICE_UNAVAILABLE
    }
    Router::new()
        .route("/admin/test/slow", post(slow))
        .route("/admin/test/slower", post(slower))
        .route("/admin/test/fail", post(fail))
}

async fn spawn_with_slow_routes(backend: Backend, timeout_ms: u64) -> TestApp {
    spawn_app_with(
        backend,
        SpawnOptions {
            extra_api: Some(slow_admin_routes()),
            configure: Some(Box::new(move |config| {
                config.request_timeout = Duration::from_millis(timeout_ms);
            })),
            ..Default::default()
        },
    )
    .await
}

async fn post_with_key(app: &TestApp, path: &str, token: &str, key: &str) -> reqwest::Response {
    app.client
        .post(app.url(path))
        .bearer_auth(token)
        .header("idempotency-key", key)
        .send()
        .await
        .unwrap()
}

async fn a_retry_while_the_first_is_in_flight_is_409(backend: Backend) {
    let app = spawn_with_slow_routes(backend, 30_000).await;
    let store = app.create_store("Shop", "USD").await;
    let first = {
        let client = app.client.clone();
        let url = app.url("/api/v1/admin/test/slow");
        let token = store.sandbox_key.clone();
        tokio::spawn(async move {
            client
                .post(url)
                .bearer_auth(token)
                .header("idempotency-key", "slow-1")
                .send()
                .await
                .unwrap()
        })
    };
    tokio::time::sleep(Duration::from_millis(250)).await;
    let second = post_with_key(
        &app,
        "/api/v1/admin/test/slow",
        &store.sandbox_key,
        "slow-1",
    )
    .await;
    assert_problem(second, 409, "idempotency_key_in_use").await;
    let first = first.await.unwrap();
    assert_eq!(first.status(), 200);
    let third = post_with_key(
        &app,
        "/api/v1/admin/test/slow",
        &store.sandbox_key,
        "slow-1",
    )
    .await;
    assert_eq!(third.headers()["idempotent-replayed"], "true");
    assert_eq!(third.text().await.unwrap(), "slow done");
}

async fn a_stale_lock_is_taken_over(backend: Backend) {
    // The request is abandoned at 2 s, leaving its record in flight like a crashed process. (The
    // budget covers the set-up's sign-ins too, which hash passwords: a shorter one fails them on
    // a loaded machine.)
    let app = spawn_with_slow_routes(backend, 2_000).await;
    let store = app.create_store("Shop", "USD").await;
    let slower = "/api/v1/admin/test/slower";
    let abandoned = post_with_key(&app, slower, &store.sandbox_key, "crash").await;
    assert_problem(abandoned, 503, "request_timeout").await;
    let retry = post_with_key(&app, slower, &store.sandbox_key, "crash").await;
    assert_problem(retry, 409, "idempotency_key_in_use").await;
    app.clock.advance(chrono::Duration::seconds(91));
    // Recoverable: the next attempt owns the key (and is itself abandoned by the short budget,
    // which proves it ran instead of answering 409).
    let recovered = post_with_key(&app, slower, &store.sandbox_key, "crash").await;
    assert_problem(recovered, 503, "request_timeout").await;
}

async fn server_errors_release_the_key(backend: Backend) {
    let app = spawn_with_slow_routes(backend, 30_000).await;
    let store = app.create_store("Shop", "USD").await;
    for _ in 0..2 {
        let response =
            post_with_key(&app, "/api/v1/admin/test/fail", &store.sandbox_key, "flaky").await;
        assert_eq!(response.status(), 503);
        assert!(response.headers().get("idempotent-replayed").is_none());
    }
}

/// A mutation under `/api/v1/admin` whose first call waits at `gate` until the test opens it;
/// every call answers with its number.
#[derive(Default)]
struct Gate {
    calls: std::sync::atomic::AtomicUsize,
    entered: tokio::sync::Notify,
    open: tokio::sync::Notify,
}

fn gated_routes(gate: std::sync::Arc<Gate>) -> Router<AppState> {
    Router::new().route(
        "/admin/test/gated",
        post(move || {
            let gate = gate.clone();
            async move {
                let n = gate.calls.fetch_add(1, std::sync::atomic::Ordering::SeqCst) + 1;
                if n == 1 {
                    gate.entered.notify_one();
                    gate.open.notified().await;
                }
                format!("answer {n}")
            }
        }),
    )
}

/// A request that was only slow, not dead, has its lock taken over after the timeout; the
/// request that took it answers first. The slow one ending later must not replace the stored
/// answer (nor answer differently): one key, one answer. Found by the payment simulation
/// (`scripts/simulate --seed 370`): a held authorization answered `captured` after its retry
/// had answered and stored `authorized`, and later retries replayed `captured`.
async fn a_late_request_never_replaces_the_answer_of_the_one_that_took_its_lock(backend: Backend) {
    let gate = std::sync::Arc::new(Gate::default());
    let app = spawn_app_with(
        backend,
        SpawnOptions {
            extra_api: Some(gated_routes(gate.clone())),
            ..Default::default()
        },
    )
    .await;
    let store = app.create_store("Shop", "USD").await;
    let path = "/api/v1/admin/test/gated";
    let slow = {
        let client = app.client.clone();
        let url = app.url(path);
        let token = store.sandbox_key.clone();
        tokio::spawn(async move {
            client
                .post(url)
                .bearer_auth(token)
                .header("idempotency-key", "late")
                .send()
                .await
                .unwrap()
        })
    };
    gate.entered.notified().await;
    app.clock.advance(chrono::Duration::seconds(91));
    let took_over = post_with_key(&app, path, &store.sandbox_key, "late").await;
    assert_eq!(took_over.status(), 200);
    assert_eq!(took_over.text().await.unwrap(), "answer 2");
    gate.open.notify_one();
    let slow = slow.await.unwrap();
    assert_eq!(slow.status(), 200);
    assert_eq!(slow.text().await.unwrap(), "answer 2");
    let retry = post_with_key(&app, path, &store.sandbox_key, "late").await;
    assert_eq!(retry.headers()["idempotent-replayed"], "true");
    assert_eq!(retry.text().await.unwrap(), "answer 2");
}

/// Two held calls under `/api/v1/admin`: the first waits for `first` and then fails with a 503
/// (which releases the key), the second waits for `second` and answers; later calls answer at
/// once. Each call answers with its number.
#[derive(Default)]
struct TwoGates {
    calls: std::sync::atomic::AtomicUsize,
    entered: tokio::sync::Notify,
    first: tokio::sync::Notify,
    second: tokio::sync::Notify,
}

fn two_gated_routes(gates: std::sync::Arc<TwoGates>) -> Router<AppState> {
    Router::new().route(
        "/admin/test/two-gates",
        post(move || {
            let gates = gates.clone();
            async move {
                let n = gates
                    .calls
                    .fetch_add(1, std::sync::atomic::Ordering::SeqCst)
                    + 1;
                let status = match n {
                    1 => {
                        gates.entered.notify_one();
                        gates.first.notified().await;
                        axum::http::StatusCode::SERVICE_UNAVAILABLE
                    }
                    2 => {
                        gates.entered.notify_one();
                        gates.second.notified().await;
                        axum::http::StatusCode::OK
                    }
                    _ => axum::http::StatusCode::OK,
                };
                (status, format!("answer {n}"))
            }
        }),
    )
}

/// A slow request whose lock was taken over ends with a 5xx while the request that took it
/// over still runs: its release must not free the key, or a third request claims it and runs
/// beside the second (two executions under one key). Each claim carries its own token, and
/// only the current holder completes or releases the record.
async fn a_late_failure_never_frees_a_key_another_request_holds(backend: Backend) {
    let gates = std::sync::Arc::new(TwoGates::default());
    let app = spawn_app_with(
        backend,
        SpawnOptions {
            extra_api: Some(two_gated_routes(gates.clone())),
            ..Default::default()
        },
    )
    .await;
    let store = app.create_store("Shop", "USD").await;
    let path = "/api/v1/admin/test/two-gates";
    let send = || {
        let client = app.client.clone();
        let url = app.url(path);
        let token = store.sandbox_key.clone();
        tokio::spawn(async move {
            client
                .post(url)
                .bearer_auth(token)
                .header("idempotency-key", "held")
                .send()
                .await
                .unwrap()
        })
    };
    let slow = send();
    gates.entered.notified().await;
    app.clock.advance(chrono::Duration::seconds(91));
    let took_over = send();
    gates.entered.notified().await;
    gates.first.notify_one();
    let slow = slow.await.unwrap();
    assert_eq!(slow.status(), 503);
    // The second request still holds the key: a third is refused, not run.
    let third = post_with_key(&app, path, &store.sandbox_key, "held").await;
    assert_problem(third, 409, "idempotency_key_in_use").await;
    assert_eq!(gates.calls.load(std::sync::atomic::Ordering::SeqCst), 2);
    gates.second.notify_one();
    let took_over = took_over.await.unwrap();
    assert_eq!(took_over.status(), 200);
    assert_eq!(took_over.text().await.unwrap(), "answer 2");
    let retry = post_with_key(&app, path, &store.sandbox_key, "held").await;
    assert_eq!(retry.headers()["idempotent-replayed"], "true");
    assert_eq!(retry.text().await.unwrap(), "answer 2");
    assert_eq!(gates.calls.load(std::sync::atomic::Ordering::SeqCst), 2);
}

both_backends!(
    a_late_failure_never_frees_a_key_another_request_holds,
    a_late_request_never_replaces_the_answer_of_the_one_that_took_its_lock,
    missing_or_malformed_keys_are_400,
    retries_replay_the_first_response_byte_for_byte,
    stored_client_errors_are_replayed_too,
    a_key_reused_for_another_request_is_422,
    keys_are_scoped_per_store,
    keys_expire_after_24_hours,
    a_retry_while_the_first_is_in_flight_is_409,
    a_stale_lock_is_taken_over,
    server_errors_release_the_key,
);

/// Every documented mutation under `/api/v1/admin` and `/api/v1/me` requires a key and says so
/// in the OpenAPI document; a new route cannot slip past the layer.
async fn every_documented_mutation_requires_a_key(backend: Backend) {
    let app = spawn_app(backend).await;
    let store = app.create_store("Shop", "USD").await;
    let doc: Value = serde_json::from_str(&cassa::http::openapi_json()).unwrap();
    let mut checked = 0;
    for (path, item) in doc["paths"].as_object().unwrap() {
        if !(path.starts_with("/api/v1/admin/") || path.starts_with("/api/v1/me")) {
            continue;
        }
        for (method, operation) in item.as_object().unwrap() {
            if method == "get" {
                continue;
            }
            let documented = operation["parameters"].as_array().is_some_and(|ps| {
                ps.iter()
                    .any(|p| p["name"] == "idempotency-key" && p["in"] == "header")
            });
            assert!(
                documented,
                "{method} {path} does not document Idempotency-Key"
            );
            let concrete: String = path
                .split('/')
                .map(|seg| {
                    if seg.starts_with('{') {
                        uuid::Uuid::now_v7().to_string()
                    } else {
                        seg.to_owned()
                    }
                })
                .collect::<Vec<_>>()
                .join("/");
            let method = reqwest::Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
            let response = app
                .client
                .request(method.clone(), app.url(&concrete))
                .bearer_auth(&store.sandbox_key)
                .json(&json!({}))
                .send()
                .await
                .unwrap();
            assert_eq!(response.status(), 400, "{method} {path} without a key");
            assert_problem(response, 400, "idempotency_key_missing").await;
            checked += 1;
        }
    }
    assert!(checked >= 4, "checked {checked}");
}

both_backends!(every_documented_mutation_requires_a_key);

fn idempotent_requests(metrics: &str, mode: &str) -> u64 {
    let series = format!("idempotent_requests_total{{mode=\"{mode}\"}} ");
    metrics
        .lines()
        .find_map(|line| line.strip_prefix(series.as_str()))
        .map_or(0, |value| value.trim().parse().unwrap())
}

/// The quote and the payment operations are declared at their routes to hold the key in their
/// own transactions; the route template the edge matches must be the one declared, or they
/// would silently fall back to the slower default.
async fn declared_routes_hold_the_key_in_their_own_transaction(backend: Backend) {
    let shop = crate::payments::shop::shop(backend).await;
    let before = shop.app.get("/metrics").await.text().await.unwrap();
    let (order, _) = shop.quoted_order().await;
    let after = shop.app.get("/metrics").await.text().await.unwrap();
    assert!(
        idempotent_requests(&after, "in_transaction")
            > idempotent_requests(&before, "in_transaction"),
        "the quote of {order} did not run in its own transaction:\n{after}"
    );
    assert!(idempotent_requests(&after, "claim_first") > 0, "{after}");

    let declared = cassa::http::idempotency::InTransaction::from_openapi(&cassa::http::openapi());
    let declared: Vec<String> = declared
        .operations()
        .into_iter()
        .map(|(method, path)| format!("{method} {path}"))
        .collect();
    assert_eq!(
        declared,
        [
            "POST /api/v1/admin/orders/{order_id}/payments/{intent_id}/capture",
            "POST /api/v1/admin/orders/{order_id}/payments/{intent_id}/refund",
            "POST /api/v1/admin/orders/{order_id}/payments/{intent_id}/void",
            "POST /api/v1/me/checkout/quote",
            "POST /api/v1/me/orders",
            "POST /api/v1/me/orders/{order_id}/payments/authorize",
        ]
    );
}

both_backends!(declared_routes_hold_the_key_in_their_own_transaction);

/// A console user names the store in a header; the same store spelled another way is the same
/// scope, so the same key cannot run the request twice.
async fn a_store_spelled_differently_is_the_same_scope(backend: Backend) {
    let app = spawn_app(backend).await;
    let store = app.create_store("Shop", "USD").await;
    let owner = app.create_owner(&store, "owner@shop.test").await;
    let create = |store_header: String| {
        app.client
            .post(app.url("/api/v1/admin/products"))
            .bearer_auth(&owner)
            .header("cassa-store", store_header)
            .header("idempotency-key", "same-key")
            .json(&json!({"sku": "ONE", "name": "One", "unit_amount": 100, "currency": "USD"}))
            .send()
    };
    let first = create(store.id.clone()).await.unwrap();
    assert_eq!(first.status(), 201);
    let again = create(store.id.to_uppercase()).await.unwrap();
    assert_eq!(again.status(), 201);
    assert_eq!(again.headers()["idempotent-replayed"], "true");
}

both_backends!(a_store_spelled_differently_is_the_same_scope);

async fn twenty_concurrent_requests_with_one_key_execute_once(backend: Backend) {
    let app = spawn_app(backend).await;
    let store = app.create_store("Shop", "USD").await;
    let tasks: Vec<_> = (0..20)
        .map(|_| {
            let client = app.client.clone();
            let url = app.url("/api/v1/admin/customers");
            let token = store.sandbox_key.clone();
            tokio::spawn(async move {
                let response = client
                    .post(url)
                    .bearer_auth(token)
                    .header("idempotency-key", "stampede")
                    .json(&json!({"name": "Once"}))
                    .send()
                    .await
                    .unwrap();
                let status = response.status().as_u16();
                let replayed = response.headers().get("idempotent-replayed").is_some();
                let body: Value = response.json().await.unwrap();
                (status, replayed, body)
            })
        })
        .collect();
    let mut executed = Vec::new();
    let mut replayed = Vec::new();
    for task in tasks {
        match task.await.unwrap() {
            (201, false, body) => executed.push(body),
            (201, true, body) => replayed.push(body),
            (409, _, body) => assert_eq!(body["code"], "idempotency_key_in_use"),
            other => panic!("unexpected outcome {other:?}"),
        }
    }
    assert_eq!(executed.len(), 1, "exactly one request executes");
    for body in &replayed {
        assert_eq!(body, &executed[0], "replays carry the first response");
    }
    assert_eq!(customer_count(&app).await, 1, "exactly one side effect");
}

both_backends!(twenty_concurrent_requests_with_one_key_execute_once);
