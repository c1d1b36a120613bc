//! The database restarting under payment load (issue #22): clients quote, authorize and capture
//! while the connection to PostgreSQL is cut (every open connection closed, new ones refused,
//! as a restart does) and restored. Clients behave as a storefront should: a transient answer
//! (`503 database_unavailable`, `409 idempotency_key_in_use`, `502 provider_outcome_unknown`, a
//! dropped connection) is retried with the same Idempotency-Key; an attempt refused for good
//! (`503 provider_unavailable`, an expired snapshot) is made again with a new quote and key.
//! Afterwards every order is paid exactly once, the ledger agrees with the PSP, and no request
//! ever got a 500.

use std::{
    collections::BTreeMap,
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, Ordering},
    },
    time::{Duration, Instant},
};

use cassa_tests::{Backend, SpawnOptions, spawn_app_with};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::payments::shop::{Shop, TOTAL};

/// Concurrent clients, and payments each makes.
const CLIENTS: usize = 6;
const PAYMENTS_PER_CLIENT: usize = 6;

/// What the clients saw, by `status code` (or `connection error`).
#[derive(Default)]
struct Seen {
    answers: Mutex<BTreeMap<String, usize>>,
    during_outage: Mutex<usize>,
}

impl Seen {
    fn note(&self, what: String, outage: bool) {
        *self.answers.lock().unwrap().entry(what).or_default() += 1;
        if outage {
            *self.during_outage.lock().unwrap() += 1;
        }
    }
}

struct Client {
    shop: Arc<Shop>,
    seen: Arc<Seen>,
    outage: Arc<AtomicBool>,
}

impl Client {
    /// Sends one request until it gets an answer that is not transient: (status, body).
    async fn settled(&self, token: &str, path: &str, key: &str, body: &Value) -> (u16, Value) {
        let deadline = Instant::now() + Duration::from_secs(120);
        let mut in_use_since: Option<Instant> = None;
        loop {
            assert!(Instant::now() < deadline, "{path} never settled");
            let outage = self.outage.load(Ordering::SeqCst);
            let sent = self
                .shop
                .app
                .client
                .post(self.shop.app.url(path))
                .bearer_auth(token)
                .header("idempotency-key", key)
                .json(body)
                .send()
                .await;
            let response = match sent {
                Ok(response) => response,
                Err(_) => {
                    self.seen.note("connection error".into(), outage);
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            };
            let status = response.status().as_u16();
            let body: Value = response.json().await.unwrap_or(Value::Null);
            let code = body["code"].as_str().unwrap_or("").to_owned();
            self.seen.note(format!("{status} {code}"), outage);
            assert_ne!(status, 500, "{path}: {body}");
            match (status, code.as_str()) {
                (503, "database_unavailable") | (502, "provider_outcome_unknown") => {}
                (409, "idempotency_key_in_use") => {
                    // A request the outage cut off keeps its lock until the lock times out;
                    // once the database is back, move the server's clock past it.
                    let since = *in_use_since.get_or_insert_with(Instant::now);
                    if !self.outage.load(Ordering::SeqCst)
                        && since.elapsed() > Duration::from_secs(2)
                    {
                        self.shop.app.clock.advance(chrono::Duration::seconds(
                            cassa::idempotency::LOCK_TIMEOUT_SECS + 1,
                        ));
                        in_use_since = None;
                    }
                }
                _ => return (status, body),
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Quotes, authorizes and captures `order` until it is paid; the number of attempts.
    async fn pay(&self, order: &str) -> usize {
        let shop = &self.shop;
        for attempt in 1..=10 {
            let (status, quote) = self
                .settled(
                    &shop.token,
                    "/api/v1/me/checkout/quote",
                    &Uuid::now_v7().to_string(),
                    &json!({"order_id": order}),
                )
                .await;
            assert_eq!(status, 201, "{quote}");
            let (status, intent) = self
                .settled(
                    &shop.token,
                    &format!("/api/v1/me/orders/{order}/payments/authorize"),
                    &Uuid::now_v7().to_string(),
                    &json!({"snapshot_id": quote["snapshot_id"], "payment_method": "pm_card_visa"}),
                )
                .await;
            match (status, intent["code"].as_str()) {
                (201, _) => {}
                // Final for its key: the provider was not reached, or the quote went stale
                // while the client waited. A new attempt.
                (503, Some("provider_unavailable")) | (422, Some("snapshot_expired")) => continue,
                _ => panic!("authorize: {status} {intent}"),
            }
            let path = format!(
                "/api/v1/admin/orders/{order}/payments/{}/capture",
                intent["id"].as_str().unwrap()
            );
            let (status, captured) = self
                .settled(
                    &shop.store.sandbox_key,
                    &path,
                    &Uuid::now_v7().to_string(),
                    &json!({}),
                )
                .await;
            assert_eq!(status, 200, "capture: {captured}");
            assert_eq!(captured["captured_amount"], TOTAL, "{captured}");
            return attempt;
        }
        panic!("order {order} was never paid");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_database_restart_under_payment_load_loses_nothing() {
    let Some(backend) = Backend::postgres() else {
        return;
    };
    let app = spawn_app_with(
        backend,
        SpawnOptions {
            through_proxy: true,
            configure: Some(Box::new(|config| {
                config.database.acquire_timeout = Duration::from_secs(1);
                config.webhook_workers = 0;
                config.provider_timeout = Duration::from_secs(5);
            })),
            ..Default::default()
        },
    )
    .await;
    let store = app.create_store("Shop", "USD").await;
    crate::checkout::configure(&app, &store).await;
    let (_, token) = app.create_customer(&store).await;
    let shop = Arc::new(Shop { app, store, token });
    let mut orders = Vec::new();
    for _ in 0..CLIENTS * PAYMENTS_PER_CLIENT {
        let order =
            crate::checkout::order_for(&shop.app, &shop.store, &shop.token, "US", "CA").await;
        orders.push(order["id"].as_str().unwrap().to_owned());
    }

    let seen = Arc::new(Seen::default());
    let outage = Arc::new(AtomicBool::new(false));
    let paid = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let mut clients = Vec::new();
    for chunk in orders.chunks(PAYMENTS_PER_CLIENT) {
        let client = Client {
            shop: shop.clone(),
            seen: seen.clone(),
            outage: outage.clone(),
        };
        let chunk = chunk.to_vec();
        let paid = paid.clone();
        clients.push(tokio::spawn(async move {
            let mut attempts = 0;
            for order in chunk {
                attempts += client.pay(&order).await;
                paid.fetch_add(1, Ordering::SeqCst);
            }
            attempts
        }));
    }
    // The outage starts once the load is running and some payments have gone through.
    let deadline = Instant::now() + Duration::from_secs(120);
    while paid.load(Ordering::SeqCst) < CLIENTS {
        assert!(Instant::now() < deadline, "the load never got going");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let proxy = shop.app.proxy.as_ref().expect("proxy");
    outage.store(true, Ordering::SeqCst);
    proxy.cut();
    tokio::time::sleep(Duration::from_secs(3)).await;
    proxy.restore();
    outage.store(false, Ordering::SeqCst);
    let mut attempts = 0;
    for client in clients {
        attempts += client.await.unwrap();
    }

    // Outcomes the outage left open are settled by the resolver, as in production.
    cassa::payments::resolve_open(&shop.app.state, chrono::Duration::zero())
        .await
        .unwrap();
    for order in &orders {
        let detail = shop.check_invariants(order).await;
        let captured: i64 = detail["intents"]
            .as_array()
            .unwrap()
            .iter()
            .map(|intent| intent["captured_amount"].as_i64().unwrap())
            .sum();
        assert_eq!(captured, TOTAL, "order {order} paid {captured}: {detail}");
    }
    let answers = seen.answers.lock().unwrap().clone();
    let during = *seen.during_outage.lock().unwrap();
    println!(
        "{} orders paid once each in {attempts} attempts; {during} answers during the outage; \
         answers seen: {answers:?}",
        orders.len()
    );
    assert!(
        answers
            .keys()
            .any(|k| k.starts_with("503") || k == "connection error"),
        "the outage was never felt: {answers:?}"
    );
}
