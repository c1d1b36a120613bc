//! Delivering events: signed with Standard Webhooks headers, retried on the documented
//! schedule with the manual clock, failed after it and the endpoint disabled, rotation's
//! double signatures, ordered endpoints, concurrent claimers, a hanging endpoint, and
//! production endpoints that never reach this server.

use std::time::Duration as StdDuration;

use cassa::{
    outbound::{EventType, NewEvent, deliver_due, schedule},
    providers::signature::SignatureError,
    types::{Environment, StoreId},
};
use cassa_tests::{Backend, SpawnOptions, TestApp, TestStore, both_backends, spawn_app_with};
use chrono::{DateTime, Duration, Utc};
use reqwest::Method;
use serde_json::{Value, json};

use super::{
    Caller, ENDPOINTS, call, create,
    receiver::{Receiver, Reply, url},
};
use crate::support::json_of;

pub struct Hooks {
    pub app: TestApp,
    pub receiver: Receiver,
    pub store: TestStore,
    pub key: Caller,
}

/// A server whose receivers are mounted, with `workers` delivery slots (0: the test drives
/// rounds with `deliver_due`) and an attempt budget of `timeout`.
pub async fn hooks(backend: Backend, workers: usize, timeout: StdDuration) -> Hooks {
    let receiver = Receiver::default();
    let app = spawn_app_with(
        backend,
        SpawnOptions {
            extra_api: Some(receiver.routes()),
            configure: Some(Box::new(move |config| {
                config.outbound_webhook_workers = workers;
                config.outbound_webhook_timeout = timeout;
            })),
            ..SpawnOptions::default()
        },
    )
    .await;
    let store = app.create_store("Shop", "USD").await;
    let key = Caller::key(&store.sandbox_key);
    Hooks {
        app,
        receiver,
        store,
        key,
    }
}

pub async fn by_hand(backend: Backend) -> Hooks {
    hooks(backend, 0, StdDuration::from_secs(10)).await
}

impl Hooks {
    /// An endpoint at receiver `name`; returns its id and secret.
    pub async fn endpoint(&self, name: &str, types: &[&str], extra: Value) -> (String, String) {
        let mut body = json!({"url": url(&self.app, name), "event_types": types});
        if let (Some(body), Some(extra)) = (body.as_object_mut(), extra.as_object()) {
            body.extend(extra.clone());
        }
        let created = create(&self.app, &self.key, body).await;
        (
            created["id"].as_str().unwrap().to_owned(),
            created["secret"].as_str().unwrap().to_owned(),
        )
    }

    pub fn store_id(&self) -> StoreId {
        self.store.id.parse().unwrap()
    }

    /// Emits events as a domain flow does (in a transaction of their own here); returns their
    /// public ids.
    pub async fn emit_in(&self, env: Environment, types: &[EventType]) -> Vec<String> {
        let mut tx = self.app.state.db.begin_write().await.unwrap();
        let events = types
            .iter()
            .enumerate()
            .map(|(i, t)| {
                NewEvent::of(
                    self.store_id(),
                    env,
                    *t,
                    &json!({"id": format!("obj_{i}")}),
                    self.app.clock.now_utc(),
                )
                .unwrap()
            })
            .collect();
        let ids = cassa::outbound::emit_all(&mut tx, events).await.unwrap();
        tx.commit().await.unwrap();
        cassa::outbound::wake(&self.app.state);
        ids.iter().map(|id| id.public()).collect()
    }

    pub async fn emit(&self, event_type: EventType) -> String {
        self.emit_in(Environment::Sandbox, &[event_type])
            .await
            .remove(0)
    }

    /// Rounds until nothing is due; how many deliveries were attempted.
    pub async fn deliver_all(&self) -> usize {
        let mut total = 0;
        loop {
            let n = deliver_due(&self.app.state).await.unwrap();
            if n == 0 {
                return total;
            }
            total += n;
        }
    }

    /// The endpoint's deliveries, oldest first: status, attempts, next attempt.
    pub async fn deliveries(&self, endpoint: &str) -> Vec<(String, i32, Option<DateTime<Utc>>)> {
        let id: uuid::Uuid = endpoint.parse().unwrap();
        cassa::on_db!(&self.app.db, pool => {
            sqlx::query_as(
                "SELECT status, attempt_count, next_attempt_at FROM webhook_deliveries \
                 WHERE endpoint_id = $1 ORDER BY created_at, event_id",
            )
            .bind(id)
            .fetch_all(pool)
            .await
        })
        .unwrap()
    }

    /// The recorded attempts of the endpoint, oldest first: status code, error, body.
    pub async fn attempts(
        &self,
        endpoint: &str,
    ) -> Vec<(DateTime<Utc>, Option<i32>, Option<String>, Option<String>)> {
        let id: uuid::Uuid = endpoint.parse().unwrap();
        cassa::on_db!(&self.app.db, pool => {
            sqlx::query_as(
                "SELECT attempted_at, status_code, error, response_body \
                 FROM webhook_delivery_attempts WHERE endpoint_id = $1 ORDER BY attempted_at, id",
            )
            .bind(id)
            .fetch_all(pool)
            .await
        })
        .unwrap()
    }

    pub async fn get(&self, endpoint: &str) -> Value {
        json_of(
            call(
                &self.app,
                &self.key,
                Method::GET,
                &format!("{ENDPOINTS}/{endpoint}"),
                None,
            )
            .await,
            200,
        )
        .await
    }
}

/// The manual clock's time (without naming the server's `Clock` trait everywhere).
pub trait Now {
    fn now_utc(&self) -> DateTime<Utc>;
}

impl Now for cassa::clock::ManualClock {
    fn now_utc(&self) -> DateTime<Utc> {
        cassa::clock::Clock::now(self)
    }
}

async fn a_delivery_is_signed_and_retried_with_backoff_until_it_succeeds(backend: Backend) {
    let h = by_hand(backend).await;
    let (endpoint, secret) = h.endpoint("erp", &["order.paid"], json!({})).await;
    let (elsewhere, _) = h.endpoint("other", &["refund.succeeded"], json!({})).await;
    h.receiver.script(
        "erp",
        &[Reply::Status(500), Reply::Status(503), Reply::Status(200)],
    );
    let event = h.emit(EventType::OrderPaid).await;
    let start = h.app.clock.now_utc();

    assert_eq!(deliver_due(&h.app.state).await.unwrap(), 1);
    let [(status, attempts, Some(next))] = &h.deliveries(&endpoint).await[..] else {
        panic!("one pending delivery");
    };
    let (attempts, next) = (*attempts, *next);
    assert_eq!((status.as_str(), attempts), ("pending", 1));
    assert!(next >= start + Duration::seconds(5) && next <= start + Duration::milliseconds(5500));
    assert!(h.get(&endpoint).await["failing_since"].is_string());
    assert_eq!(deliver_due(&h.app.state).await.unwrap(), 0, "not due yet");

    h.app.clock.set(next);
    assert_eq!(deliver_due(&h.app.state).await.unwrap(), 1);
    let [(_, 2, Some(next))] = h.deliveries(&endpoint).await[..] else {
        panic!("still pending after the second attempt");
    };
    let second = h.app.clock.now_utc();
    assert!(
        next >= second + Duration::minutes(5) && next <= second + Duration::minutes(5) * 11 / 10
    );
    h.app.clock.set(next - Duration::seconds(1));
    assert_eq!(deliver_due(&h.app.state).await.unwrap(), 0);
    h.app.clock.set(next);
    assert_eq!(deliver_due(&h.app.state).await.unwrap(), 1);
    let [(status, 3, None)] = &h.deliveries(&endpoint).await[..] else {
        panic!("delivered after three attempts");
    };
    assert_eq!(status, "succeeded");
    assert_eq!(h.get(&endpoint).await["failing_since"], Value::Null);

    // Every attempt carried the same id and the stored payload, signed with the secret.
    let got = h.receiver.received("erp");
    assert_eq!(got.len(), 3);
    let payload: String = cassa::on_db!(&h.app.db, pool => {
        sqlx::query_scalar("SELECT payload FROM outbound_events").fetch_one(pool).await
    })
    .unwrap();
    for request in &got {
        assert_eq!(request.id, event);
        assert_eq!(request.body, payload);
        assert_eq!(request.content_type, "application/json");
        assert_eq!(request.verify(&secret), Ok(()));
        assert_eq!(request.json()["type"], "order.paid");
        assert_eq!(request.json()["id"], event);
    }
    let attempts = h.attempts(&endpoint).await;
    let codes: Vec<Option<i32>> = attempts.iter().map(|a| a.1).collect();
    assert_eq!(codes, [Some(500), Some(503), Some(200)]);
    // The first KiB of each answer (the test server renders its receiver's 5xx as problems).
    assert!(attempts[0].3.as_deref().unwrap().contains("internal_error"));
    assert_eq!(attempts[2].3.as_deref(), Some("erp answered 200"));
    assert!(
        attempts.iter().all(|a| a.2.is_none()),
        "answers are no errors"
    );
    assert!(h.receiver.received("other").is_empty());
    assert!(h.deliveries(&elsewhere).await.is_empty());
}

async fn a_delivery_failing_past_its_schedule_fails_and_disables_the_endpoint(backend: Backend) {
    let h = by_hand(backend).await;
    let (endpoint, _) = h.endpoint("down", &["order.paid"], json!({})).await;
    let (_, watch_secret) = h
        .endpoint("watch", &["webhook_endpoint.disabled"], json!({}))
        .await;
    h.receiver.otherwise("down", Reply::Status(500));
    h.emit(EventType::OrderPaid).await;

    let mut attempts = 0;
    loop {
        assert_eq!(deliver_due(&h.app.state).await.unwrap(), 1);
        attempts += 1;
        let [(status, count, next)] = &h.deliveries(&endpoint).await[..] else {
            panic!("one delivery");
        };
        let (status, count, next) = (status.clone(), *count, *next);
        assert_eq!(count, attempts);
        let Some(next) = next else {
            assert_eq!(status, "failed");
            break;
        };
        assert_eq!(status, "pending");
        assert_eq!(h.get(&endpoint).await["enabled"], true, "after {attempts}");
        let nominal = Duration::seconds(schedule::RETRY_DELAYS_SECS[attempts as usize - 1]);
        let waited = next - h.app.clock.now_utc();
        assert!(
            waited >= nominal && waited <= nominal * 11 / 10,
            "after attempt {attempts}: {waited}"
        );
        h.app.clock.set(next);
    }
    assert_eq!(attempts, schedule::MAX_ATTEMPTS);
    assert_eq!(h.receiver.received("down").len(), 11);

    // Every attempt failed for the whole schedule: the endpoint is disabled, and says why.
    let read = h.get(&endpoint).await;
    assert_eq!(read["enabled"], false);
    assert_eq!(read["disabled_reason"], "failing");
    let first = h.attempts(&endpoint).await[0].0;
    let failing: DateTime<Utc> = serde_json::from_value(read["failing_since"].clone()).unwrap();
    assert_eq!(failing, first);

    // The store's other endpoint hears of it.
    assert_eq!(h.deliver_all().await, 1);
    let told = h.receiver.received("watch");
    assert_eq!(told.len(), 1);
    assert_eq!(told[0].verify(&watch_secret), Ok(()));
    let event = told[0].json();
    assert_eq!(event["type"], "webhook_endpoint.disabled");
    assert_eq!(event["data"]["object"]["id"], endpoint.as_str());
    assert_eq!(event["data"]["object"]["disabled_reason"], "failing");

    // Nothing more goes to it until it is enabled again, which starts its health over.
    h.emit(EventType::OrderPaid).await;
    assert_eq!(h.deliveries(&endpoint).await.len(), 1);
    let enabled = json_of(
        call(
            &h.app,
            &h.key,
            Method::PATCH,
            &format!("{ENDPOINTS}/{endpoint}"),
            Some(json!({"enabled": true})),
        )
        .await,
        200,
    )
    .await;
    assert_eq!(enabled["disabled_reason"], Value::Null);
    assert_eq!(enabled["failing_since"], Value::Null);
}

async fn a_rotated_secret_signs_beside_the_new_one_until_it_expires(backend: Backend) {
    let h = by_hand(backend).await;
    let (endpoint, old) = h.endpoint("erp", &["*"], json!({})).await;
    let rotated = json_of(
        call(
            &h.app,
            &h.key,
            Method::POST,
            &format!("{ENDPOINTS}/{endpoint}/rotate-secret"),
            Some(json!({"overlap_seconds": 3600})),
        )
        .await,
        200,
    )
    .await;
    let new = rotated["secret"].as_str().unwrap().to_owned();

    h.emit(EventType::OrderPaid).await;
    assert_eq!(h.deliver_all().await, 1);
    let during = h.receiver.received("erp").remove(0);
    assert_eq!(
        during.signature.split(' ').count(),
        2,
        "{}",
        during.signature
    );
    assert_eq!(during.verify(&old), Ok(()));
    assert_eq!(during.verify(&new), Ok(()));

    h.app.clock.advance(Duration::seconds(3601));
    h.emit(EventType::OrderPaid).await;
    assert_eq!(h.deliver_all().await, 1);
    let after = h.receiver.received("erp").remove(1);
    assert_eq!(after.signature.split(' ').count(), 1);
    assert_eq!(after.verify(&new), Ok(()));
    assert_eq!(after.verify(&old), Err(SignatureError::Mismatch));
}

async fn an_ordered_endpoint_gets_one_event_at_a_time_in_order(backend: Backend) {
    let h = by_hand(backend).await;
    let (ordered, _) = h
        .endpoint("ordered", &["*"], json!({"ordered": true}))
        .await;
    h.endpoint("loose", &["*"], json!({})).await;
    h.receiver.script("ordered", &[Reply::Status(500)]);
    h.receiver.script("loose", &[Reply::Status(500)]);
    let events = h
        .emit_in(
            Environment::Sandbox,
            &[
                EventType::OrderPaid,
                EventType::RefundSucceeded,
                EventType::TaxCommitted,
            ],
        )
        .await;

    // The loose endpoint gets all three at once; the ordered one only its first, which fails.
    assert_eq!(deliver_due(&h.app.state).await.unwrap(), 4);
    assert_eq!(h.receiver.received("loose").len(), 3);
    assert_eq!(h.receiver.received("ordered").len(), 1);
    assert_eq!(
        deliver_due(&h.app.state).await.unwrap(),
        0,
        "the rest wait for the first"
    );

    let [(_, _, Some(next)), ..] = h.deliveries(&ordered).await[..] else {
        panic!("the first is pending");
    };
    h.app.clock.set(next);
    h.deliver_all().await;
    let ids: Vec<String> = h
        .receiver
        .received("ordered")
        .into_iter()
        .map(|r| r.id)
        .collect();
    assert_eq!(
        ids,
        [&events[0], &events[0], &events[1], &events[2]].map(String::clone),
        "in emission order, one at a time"
    );
    assert!(
        h.deliveries(&ordered)
            .await
            .iter()
            .all(|(status, _, _)| status == "succeeded")
    );
}

async fn concurrent_rounds_never_deliver_one_attempt_twice(backend: Backend) {
    let h = by_hand(backend).await;
    let (endpoint, _) = h.endpoint("erp", &["order.paid"], json!({})).await;
    let events = h
        .emit_in(Environment::Sandbox, &[EventType::OrderPaid; 150])
        .await;
    let rounds = (0..4).map(|_| {
        let state = h.app.state.clone();
        tokio::spawn(async move {
            let mut total = 0;
            loop {
                match deliver_due(&state).await.unwrap() {
                    0 => return total,
                    n => total += n,
                }
            }
        })
    });
    let claimed: usize = futures::future::join_all(rounds)
        .await
        .into_iter()
        .map(Result::unwrap)
        .sum();
    assert_eq!(claimed, 150, "every delivery claimed exactly once");
    let mut ids: Vec<String> = h
        .receiver
        .received("erp")
        .into_iter()
        .map(|r| r.id)
        .collect();
    assert_eq!(ids.len(), 150, "no attempt sent twice");
    ids.sort();
    let mut expected = events.clone();
    expected.sort();
    assert_eq!(ids, expected);
    let deliveries = h.deliveries(&endpoint).await;
    assert!(
        deliveries
            .iter()
            .all(|(status, attempts, _)| status == "succeeded" && *attempts == 1)
    );
    assert_eq!(h.attempts(&endpoint).await.len(), 150);
}

/// An event committed after a newer one of an ordered endpoint was claimed (its time read
/// before its transaction's locks) waits for that attempt: never two requests in flight.
async fn an_ordered_endpoint_never_has_two_attempts_in_flight(backend: Backend) {
    let h = by_hand(backend).await;
    let (ordered, _) = h
        .endpoint("ordered", &["*"], json!({"ordered": true}))
        .await;
    let t = h.app.clock.now_utc();
    let newer = h.emit(EventType::RefundSucceeded).await;
    // A worker holds the newer one's attempt.
    let lease = t + Duration::minutes(5);
    let held = cassa::on_db!(&h.app.db, pool => {
        sqlx::query("UPDATE webhook_deliveries SET status = 'delivering', locked_until = $1, \
            attempt_count = 1")
            .bind(lease).execute(pool).await.map(|r| r.rows_affected())
    })
    .unwrap();
    assert_eq!(held, 1);
    h.app.clock.set(t - Duration::seconds(1));
    let older = h.emit(EventType::OrderPaid).await;
    h.app.clock.set(t);
    assert_eq!(
        deliver_due(&h.app.state).await.unwrap(),
        0,
        "the older event waits for the attempt in flight"
    );
    // Once that attempt is settled (its lease runs out here: its worker died), the older
    // goes first, then the newer again.
    h.app.clock.set(lease);
    h.deliver_all().await;
    let ids: Vec<String> = h
        .receiver
        .received("ordered")
        .into_iter()
        .map(|r| r.id)
        .collect();
    assert_eq!(ids, [older, newer]);
    assert!(
        h.deliveries(&ordered)
            .await
            .iter()
            .all(|(status, _, _)| status == "succeeded")
    );
}

/// A retry waits its delay from the end of the failed attempt, not its start: an attempt that
/// timed out after longer than the first delay is not due again at once.
async fn a_retry_waits_from_the_end_of_the_attempt(backend: Backend) {
    let h = hooks(backend, 0, StdDuration::from_secs(1)).await;
    let (slow, _) = h.endpoint("slow", &["order.paid"], json!({})).await;
    h.receiver.otherwise("slow", Reply::Hang);
    h.emit(EventType::OrderPaid).await;
    let state = h.app.state.clone();
    let round = tokio::spawn(async move { deliver_due(&state).await.unwrap() });
    assert!(
        h.receiver
            .wait_for("slow", 1, StdDuration::from_secs(20))
            .await
    );
    // The attempt lasts long on the server's clock before it times out.
    h.app.clock.advance(Duration::seconds(30));
    let ended = h.app.clock.now_utc();
    assert_eq!(round.await.unwrap(), 1);
    h.receiver.release();
    let [(status, 1, Some(next))] = &h.deliveries(&slow).await[..] else {
        panic!("one delivery, attempted once");
    };
    assert_eq!(status, "pending");
    let first_delay = Duration::seconds(schedule::RETRY_DELAYS_SECS[0]);
    assert!(
        *next >= ended + first_delay,
        "due at {next}, ended at {ended}"
    );
    assert_eq!(deliver_due(&h.app.state).await.unwrap(), 0);
}

async fn a_hanging_endpoint_does_not_hold_back_another(backend: Backend) {
    // Real workers, and an attempt budget far longer than the test waits: a worker that
    // delivered one at a time would reach the second endpoint only after the first's timeout.
    let h = hooks(backend, 4, StdDuration::from_secs(120)).await;
    let (slow, _) = h.endpoint("slow", &["order.paid"], json!({})).await;
    let (fast, _) = h.endpoint("fast", &["refund.succeeded"], json!({})).await;
    h.receiver.otherwise("slow", Reply::Hang);
    h.emit(EventType::OrderPaid).await;
    assert!(
        h.receiver
            .wait_for("slow", 1, StdDuration::from_secs(20))
            .await,
        "the slow endpoint's attempt started"
    );
    h.emit(EventType::RefundSucceeded).await;
    let delivered = h
        .receiver
        .wait_for("fast", 1, StdDuration::from_secs(30))
        .await;
    h.receiver.release();
    assert!(delivered, "the fast endpoint waited for the slow one");
    let settled = async {
        loop {
            let slow = h.deliveries(&slow).await;
            let fast = h.deliveries(&fast).await;
            if slow
                .iter()
                .chain(&fast)
                .all(|(status, _, _)| status == "succeeded")
            {
                return;
            }
            tokio::time::sleep(StdDuration::from_millis(50)).await;
        }
    };
    tokio::time::timeout(StdDuration::from_secs(30), settled)
        .await
        .expect("both deliveries succeed once the slow endpoint answers");
    assert_eq!(h.receiver.received("slow").len(), 1);
    assert_eq!(h.receiver.received("fast").len(), 1);
}

async fn production_deliveries_never_reach_this_server(backend: Backend) {
    let h = by_hand(backend).await;
    let owner = h.app.create_owner(&h.store, "owner@shop.test").await;
    let live = Caller::key(&h.app.create_live_key(&h.store, &owner).await);
    let created = create(
        &h.app,
        &live,
        json!({"url": "https://hooks.example.com/erp", "event_types": ["*"]}),
    )
    .await;
    let endpoint = created["id"].as_str().unwrap();
    // As if the stored URL named this server after all (a row from before a rule, a bug):
    // delivery refuses it anyway, while a sandbox endpoint may use it.
    let id: uuid::Uuid = endpoint.parse().unwrap();
    let own = url(&h.app, "erp");
    cassa::on_db!(&h.app.db, pool => {
        sqlx::query("UPDATE webhook_endpoints SET url = $1 WHERE id = $2")
            .bind(&own).bind(id).execute(pool).await.map(|r| r.rows_affected())
    })
    .unwrap();
    h.emit_in(Environment::Production, &[EventType::OrderPaid])
        .await;
    assert_eq!(h.deliver_all().await, 1);
    assert!(h.receiver.received("erp").is_empty());
    let attempts = h.attempts(endpoint).await;
    assert_eq!(attempts.len(), 1);
    assert_eq!(attempts[0].1, None);
    let error = attempts[0].2.clone().unwrap();
    assert!(error.starts_with("refused:"), "{error}");
}

async fn sandbox_deliveries_reach_only_this_servers_receivers(backend: Backend) {
    let h = by_hand(backend).await;
    let sandbox = Caller::key(&h.store.sandbox_key);
    let created = create(
        &h.app,
        &sandbox,
        json!({"url": url(&h.app, "erp"), "event_types": ["*"]}),
    )
    .await;
    let endpoint = created["id"].as_str().unwrap();
    // As if the stored URL named another route of this server (a row from before the rule):
    // delivery refuses it, so a sandbox store never aims signed requests at the API.
    let id: uuid::Uuid = endpoint.parse().unwrap();
    let elsewhere = format!("{}/api/v1/admin/stores", h.app.address);
    cassa::on_db!(&h.app.db, pool => {
        sqlx::query("UPDATE webhook_endpoints SET url = $1 WHERE id = $2")
            .bind(&elsewhere).bind(id).execute(pool).await.map(|r| r.rows_affected())
    })
    .unwrap();
    h.emit_in(Environment::Sandbox, &[EventType::OrderPaid])
        .await;
    assert_eq!(h.deliver_all().await, 1);
    let attempts = h.attempts(endpoint).await;
    assert_eq!(attempts.len(), 1);
    assert_eq!(attempts[0].1, None);
    let error = attempts[0].2.clone().unwrap();
    assert!(error.starts_with("refused:"), "{error}");
}

both_backends!(
    a_delivery_is_signed_and_retried_with_backoff_until_it_succeeds,
    a_delivery_failing_past_its_schedule_fails_and_disables_the_endpoint,
    a_rotated_secret_signs_beside_the_new_one_until_it_expires,
    an_ordered_endpoint_gets_one_event_at_a_time_in_order,
    concurrent_rounds_never_deliver_one_attempt_twice,
    an_ordered_endpoint_never_has_two_attempts_in_flight,
    a_retry_waits_from_the_end_of_the_attempt,
    a_hanging_endpoint_does_not_hold_back_another,
    production_deliveries_never_reach_this_server,
    sandbox_deliveries_reach_only_this_servers_receivers,
);
