//! Inbound webhooks: verified before trusted, stored once, processed asynchronously exactly
//! once in effect, retried with backoff, dead-lettered, replayable; the sandbox PSP's own
//! webhooks settle asynchronous payments.

use std::time::Duration;

use cassa::{
    credentials,
    providers::signature,
    types::{Environment, StoreId},
    webhooks,
};
use cassa_tests::{
    AsSandbox, Backend, SpawnOptions, TestApp, TestStore, both_backends, spawn_app_with,
};
use secrecy::ExposeSecret;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::support::assert_problem;

struct Hooks {
    app: TestApp,
    store: TestStore,
    token: String,
    secret: String,
}

async fn hooks(backend: Backend, workers: usize) -> Hooks {
    let app = spawn_app_with(
        backend,
        SpawnOptions {
            configure: Some(Box::new(move |c| {
                c.webhook_workers = workers;
                c.webhook_max_attempts = 3;
                c.provider_timeout = Duration::from_millis(1500);
                c.sandbox_psp_timeout_delay = Duration::from_millis(2500);
            })),
            ..Default::default()
        },
    )
    .await;
    let store = app.create_store("Shop", "USD").await;
    crate::checkout::configure(&app, &store).await;
    let (_, token) = app.create_customer(&store).await;
    let store_id: StoreId = store.id.parse().unwrap();
    let Some(cassa_tests::SandboxFields { webhook_secret, .. }) =
        credentials::load(&app.state, store_id, "sandbox", Environment::Sandbox)
            .await
            .unwrap()
            .sandbox()
    else {
        panic!("the store has sandbox credentials");
    };
    Hooks {
        secret: webhook_secret.expose_secret().to_owned(),
        app,
        store,
        token,
    }
}

impl Hooks {
    fn url(&self) -> String {
        self.app
            .url(&format!("/api/v1/webhooks/sandbox/{}", self.store.id))
    }

    async fn send(&self, id: &str, ts: i64, body: &str, signature: &str) -> reqwest::Response {
        self.app
            .client
            .post(self.url())
            .header("content-type", "application/json")
            .header("webhook-id", id)
            .header("webhook-timestamp", ts.to_string())
            .header("webhook-signature", signature)
            .body(body.to_owned())
            .send()
            .await
            .unwrap()
    }

    /// Posts `event` signed with the store's secret; returns the response.
    async fn deliver(&self, id: &str, event: &Value) -> reqwest::Response {
        let body = event.to_string();
        let ts = chrono::Utc::now().timestamp();
        let sig = signature::sign_standard(&self.secret, id, ts, body.as_bytes()).unwrap();
        self.send(id, ts, &body, &sig).await
    }

    async fn authorize_at_psp(&self, intent: &Value) {
        authorize_at_psp(&self.app, intent).await;
    }

    /// An order paid with `pm_card_async`: (order id, intent) with the intent `pending`.
    async fn pending_payment(&self) -> (String, Value) {
        let order =
            crate::checkout::order_for(&self.app, &self.store, &self.token, "US", "CA").await;
        let order_id = order["id"].as_str().unwrap().to_owned();
        let path = format!("/api/v1/me/orders/{order_id}/pay");
        let response = self
            .app
            .client
            .post(self.app.url(&path))
            .bearer_auth(&self.token)
            .header("idempotency-key", Uuid::now_v7().to_string())
            .json(&json!({"payment_method": "pm_card_async"}))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 202);
        let intent: Value = response.json().await.unwrap();
        assert_eq!(intent["status"], "pending");
        (order_id, intent)
    }

    async fn detail(&self, order: &str) -> Value {
        self.app
            .client
            .get(
                self.app
                    .url(&format!("/api/v1/admin/orders/{order}/payments")),
            )
            .bearer_auth(&self.store.sandbox_key)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }

    async fn events(&self, query: &str) -> Vec<Value> {
        let page: Value = self
            .app
            .client
            .get(
                self.app
                    .url(&format!("/api/v1/admin/webhooks/events?{query}")),
            )
            .bearer_auth(&self.store.sandbox_key)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        page["data"].as_array().unwrap().clone()
    }

    async fn wait_for_status(&self, order: &str, status: &str) -> Value {
        for _ in 0..100 {
            let detail = self.detail(order).await;
            if detail["intents"][0]["status"] == status {
                return detail;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("the intent of {order} never became {status}");
    }
}

/// The PSP authorizes the intent's pending payment (its state only: the webhook it would send
/// is what the test delivers itself). Events are hints; the PSP's state is the truth.
pub(crate) async fn authorize_at_psp(app: &TestApp, intent: &Value) {
    const SQL: &str = "UPDATE sandbox_psp_payments SET status = 'authorized' WHERE id = $1";
    let pid = intent["provider_payment_id"].as_str().unwrap();
    cassa::on_db!(&app.db, pool => {
        sqlx::query(SQL).bind(pid).execute(pool).await.map(|r| r.rows_affected())
    })
    .unwrap();
}

/// The sandbox PSP's `payment.authorized` event for the intent's payment.
pub(crate) fn authorized_event(intent: &Value, amount: i64) -> Value {
    json!({
        "id": format!("evt_{}", Uuid::now_v7().simple()),
        "type": "payment.authorized",
        "data": {"payment": {"id": intent["provider_payment_id"], "status": "authorized",
                             "amount": amount, "captured_amount": 0, "refunded_amount": 0}},
    })
}

async fn forged_stale_and_tampered_deliveries_are_rejected_and_duplicates_are_no_ops(
    backend: Backend,
) {
    let h = hooks(backend, 0).await;
    let (order, intent) = h.pending_payment().await;
    h.authorize_at_psp(&intent).await;
    let event = authorized_event(&intent, 6018);
    let body = event.to_string();
    let now = chrono::Utc::now().timestamp();

    let forged = signature::sign_standard(
        "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
        "msg_1",
        now,
        body.as_bytes(),
    )
    .unwrap();
    assert_problem(
        h.send("msg_1", now, &body, &forged).await,
        401,
        "invalid_signature",
    )
    .await;
    let stale = signature::sign_standard(&h.secret, "msg_1", now - 301, body.as_bytes()).unwrap();
    assert_problem(
        h.send("msg_1", now - 301, &body, &stale).await,
        401,
        "invalid_signature",
    )
    .await;
    let good = signature::sign_standard(&h.secret, "msg_1", now, body.as_bytes()).unwrap();
    let tampered = body.replace("6018", "6019");
    assert_problem(
        h.send("msg_1", now, &tampered, &good).await,
        401,
        "invalid_signature",
    )
    .await;
    let missing = h
        .app
        .client
        .post(h.url())
        .body(body.clone())
        .send()
        .await
        .unwrap();
    assert_problem(missing, 400, "invalid_signature").await;
    // Nothing rejected is ever processed.
    assert_eq!(webhooks::process_due(&h.app.state).await.unwrap(), 0);
    assert_eq!(h.detail(&order).await["intents"][0]["status"], "pending");
    // Rejections are sampled: the first one of the minute is kept for the console.
    let rejected = h.events("status=rejected").await;
    assert_eq!(rejected.len(), 1);
    assert!(rejected.iter().all(|e| e["signature_valid"] == false));

    // The genuine delivery is stored once; its duplicate is a 2xx no-op.
    let first: Value = h
        .send("msg_1", now, &body, &good)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(first["duplicate"], false);
    let again = h.send("msg_1", now, &body, &good).await;
    assert_eq!(again.status(), 200);
    assert_eq!(again.json::<Value>().await.unwrap()["duplicate"], true);
    assert_eq!(webhooks::process_due(&h.app.state).await.unwrap(), 1);
    let detail = h.detail(&order).await;
    assert_eq!(detail["intents"][0]["status"], "authorized");
    let last = detail["status_history"]
        .as_array()
        .unwrap()
        .last()
        .unwrap()
        .clone();
    assert_eq!(
        (last["source"].as_str(), last["actor"].as_str()),
        (Some("webhook"), Some("webhook:sandbox"))
    );
    // A late contradicting event (a failure after the success) changes nothing.
    let failed = json!({"id": "evt_late", "type": "payment.failed",
        "data": {"payment": {"id": intent["provider_payment_id"], "status": "failed", "amount": 6018}}});
    assert_eq!(h.deliver("msg_2", &failed).await.status(), 200);
    assert_eq!(webhooks::process_due(&h.app.state).await.unwrap(), 1);
    let after = h.detail(&order).await;
    assert_eq!(after["intents"][0]["status"], "authorized");
    assert_eq!(after["status_history"], detail["status_history"]);
    let processed = h.events("status=processed").await;
    assert_eq!(processed.len(), 2);
}
both_backends!(forged_stale_and_tampered_deliveries_are_rejected_and_duplicates_are_no_ops);

/// Concurrent deliveries are stored many per commit: a burst in which every event arrives
/// twice at once still stores each event once and tells each receiver which it was.
async fn a_concurrent_burst_with_duplicates_stores_each_event_once(backend: Backend) {
    let h = hooks(backend, 0).await;
    let sends = (0..20).flat_map(|n| {
        let event =
            json!({"id": format!("evt_burst_{n}"), "type": "payment.updated", "data": {"n": n}});
        let id = format!("msg_burst_{n}");
        [(id.clone(), event.clone()), (id, event)]
    });
    let answers = futures::future::join_all(sends.map(|(id, event)| {
        let h = &h;
        async move {
            let response = h.deliver(&id, &event).await;
            assert_eq!(response.status(), 200);
            let body: Value = response.json().await.unwrap();
            (id, body["duplicate"].as_bool().unwrap())
        }
    }))
    .await;
    for n in 0..20 {
        let id = format!("msg_burst_{n}");
        let fresh = answers.iter().filter(|(i, dup)| *i == id && !dup).count();
        assert_eq!(fresh, 1, "{id} stored by exactly one of its two deliveries");
    }
    assert_eq!(h.events("limit=100").await.len(), 20);
}
both_backends!(a_concurrent_burst_with_duplicates_stores_each_event_once);

async fn the_sandbox_psp_settles_asynchronous_payments_by_webhook(backend: Backend) {
    let h = hooks(backend, 1).await;
    let (order, intent) = h.pending_payment().await;
    let pid = intent["provider_payment_id"].as_str().unwrap();
    assert!(
        cassa_sandbox_psp::settle(&cassa::http::sandbox_psp::state(&h.app.state), pid, true)
            .await
            .unwrap()
    );
    let detail = h.wait_for_status(&order, "authorized").await;
    let last = detail["status_history"]
        .as_array()
        .unwrap()
        .last()
        .unwrap()
        .clone();
    assert_eq!(last["source"], "webhook");

    // A timeout whose answer was lost is completed by the PSP's late webhook.
    let (order, snapshot) = {
        let order = crate::checkout::order_for(&h.app, &h.store, &h.token, "US", "CA").await;
        let id = order["id"].as_str().unwrap().to_owned();
        let quote: Value = h
            .app
            .client
            .post(h.app.url("/api/v1/me/checkout/quote"))
            .bearer_auth(&h.token)
            .header("idempotency-key", Uuid::now_v7().to_string())
            .json(&json!({"order_id": id}))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        (id, quote["snapshot_id"].as_str().unwrap().to_owned())
    };
    let response = h
        .app
        .client
        .post(
            h.app
                .url(&format!("/api/v1/me/orders/{order}/payments/authorize")),
        )
        .bearer_auth(&h.token)
        .header("idempotency-key", "timeout-1")
        .json(&json!({"snapshot_id": snapshot, "payment_method": "pm_card_timeout"}))
        .send()
        .await
        .unwrap();
    assert_problem(response, 502, "provider_outcome_unknown").await;
    let detail = h.wait_for_status(&order, "authorized").await;
    assert_eq!(
        detail["intents"][0]["transactions"][0]["status"],
        "succeeded"
    );
    assert!(detail["intents"][0]["provider_payment_id"].is_string());
}
both_backends!(the_sandbox_psp_settles_asynchronous_payments_by_webhook);

async fn failures_back_off_then_dead_letter_and_a_replay_processes_once(backend: Backend) {
    let h = hooks(backend, 0).await;
    let (order, intent) = h.pending_payment().await;
    h.authorize_at_psp(&intent).await;
    let pid = intent["provider_payment_id"].as_str().unwrap().to_owned();
    // The cause: our ledger does not know the provider's payment id yet.
    let hide =
        "UPDATE payment_intents SET provider_payment_id = NULL WHERE provider_payment_id = $1";
    cassa::on_db!(&h.app.db, pool => sqlx::query(hide).bind(&pid).execute(pool).await.map(|r| r.rows_affected())).unwrap();
    cassa::on_db!(&h.app.db, pool => {
        sqlx::query("UPDATE payment_transactions SET provider_txn_id = NULL WHERE provider_txn_id = $1")
            .bind(&pid).execute(pool).await.map(|r| r.rows_affected())
    })
    .unwrap();
    assert_eq!(
        h.deliver("msg_dlq", &authorized_event(&intent, 6018))
            .await
            .status(),
        200
    );

    let mut last_next = None;
    for attempt in 1..=3 {
        assert_eq!(
            webhooks::process_due(&h.app.state).await.unwrap(),
            1,
            "attempt {attempt}"
        );
        // Not due again until its backoff has passed.
        assert_eq!(webhooks::process_due(&h.app.state).await.unwrap(), 0);
        let event = h.events("").await[0].clone();
        assert_eq!(event["attempt_count"], attempt);
        assert!(
            event["last_error"]
                .as_str()
                .unwrap()
                .contains("no authorize")
        );
        if attempt < 3 {
            assert_eq!(event["status"], "pending");
            let next: chrono::DateTime<chrono::Utc> =
                event["next_attempt_at"].as_str().unwrap().parse().unwrap();
            let delay = (next - cassa::clock::Clock::now(&h.app.clock)).num_milliseconds();
            let nominal = 2000 << (attempt - 1);
            assert!(
                delay >= nominal * 8 / 10 && delay <= nominal * 12 / 10,
                "{delay}"
            );
            if let Some(prev) = last_next {
                assert!(next > prev);
            }
            last_next = Some(next);
            h.app.clock.advance(chrono::Duration::minutes(1));
        } else {
            assert_eq!(event["status"], "dead");
        }
    }
    let dead = h.events("status=dead").await;
    assert_eq!(dead.len(), 1);

    // Fix the cause, replay: processed once; a second replay changes nothing.
    let show = "UPDATE payment_intents SET provider_payment_id = $1 WHERE order_id = $2";
    let order_id: Uuid = order.parse().unwrap();
    cassa::on_db!(&h.app.db, pool => sqlx::query(show).bind(&pid).bind(order_id).execute(pool).await.map(|r| r.rows_affected())).unwrap();
    let show_txn =
        "UPDATE payment_transactions SET provider_txn_id = $1 WHERE payment_intent_id = $2";
    let intent_id: Uuid = intent["id"].as_str().unwrap().parse().unwrap();
    cassa::on_db!(&h.app.db, pool => sqlx::query(show_txn).bind(&pid).bind(intent_id).execute(pool).await.map(|r| r.rows_affected())).unwrap();
    let replay = |id: String| {
        let h = &h;
        async move {
            h.app
                .client
                .post(
                    h.app
                        .url(&format!("/api/v1/admin/webhooks/events/{id}/replay")),
                )
                .bearer_auth(&h.store.sandbox_key)
                .header("idempotency-key", Uuid::now_v7().to_string())
                .send()
                .await
                .unwrap()
        }
    };
    let id = dead[0]["id"].as_str().unwrap().to_owned();
    assert_eq!(replay(id.clone()).await.status(), 202);
    assert_eq!(webhooks::process_due(&h.app.state).await.unwrap(), 1);
    let detail = h.detail(&order).await;
    assert_eq!(detail["intents"][0]["status"], "authorized");
    assert_eq!(replay(id.clone()).await.status(), 202);
    assert_eq!(webhooks::process_due(&h.app.state).await.unwrap(), 1);
    assert_eq!(
        h.detail(&order).await["status_history"],
        detail["status_history"]
    );
    // Pending events cannot be replayed; forged ones never.
    let rejected = h
        .send("msg_x", chrono::Utc::now().timestamp(), "{}", "v1,AAAA")
        .await;
    assert_eq!(rejected.status(), 401);
    let forged = h.events("status=rejected").await[0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_problem(replay(forged).await, 409, "invalid_state_transition").await;
}
both_backends!(failures_back_off_then_dead_letter_and_a_replay_processes_once);

async fn a_worker_that_dies_mid_processing_leaves_the_event_claimable(backend: Backend) {
    let h = hooks(backend, 0).await;
    let (order, intent) = h.pending_payment().await;
    h.authorize_at_psp(&intent).await;
    assert_eq!(
        h.deliver("msg_crash", &authorized_event(&intent, 6018))
            .await
            .status(),
        200
    );
    // A worker claims it and dies before finishing.
    assert_eq!(webhooks::claim(&h.app.state, 10).await.unwrap().len(), 1);
    assert_eq!(webhooks::process_due(&h.app.state).await.unwrap(), 0);
    assert_eq!(h.detail(&order).await["intents"][0]["status"], "pending");
    // Its lease runs out: another worker takes it and processes it.
    h.app.clock.advance(chrono::Duration::seconds(61));
    assert_eq!(webhooks::process_due(&h.app.state).await.unwrap(), 1);
    let event = h.events("").await[0].clone();
    assert_eq!(
        (event["status"].as_str(), event["attempt_count"].as_i64()),
        (Some("processed"), Some(2))
    );
    let detail = h.detail(&order).await;
    let authorized = detail["status_history"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["to_status"] == "authorized")
        .count();
    assert_eq!(authorized, 1);
}
both_backends!(a_worker_that_dies_mid_processing_leaves_the_event_claimable);

async fn a_webhook_racing_the_api_and_the_resolver_keeps_the_ledger_consistent(backend: Backend) {
    let h = hooks(backend, 0).await;
    for _ in 0..3 {
        let (order, intent) = h.pending_payment().await;
        let pid = intent["provider_payment_id"].as_str().unwrap();
        cassa_sandbox_psp::settle(&cassa::http::sandbox_psp::state(&h.app.state), pid, true)
            .await
            .unwrap();
        assert_eq!(
            h.deliver(
                &format!("msg_{}", Uuid::now_v7()),
                &authorized_event(&intent, 6018)
            )
            .await
            .status(),
            200
        );
        let capture = || {
            let client = h.app.client.clone();
            let url = h.app.url(&format!(
                "/api/v1/admin/orders/{order}/payments/{}/capture",
                intent["id"].as_str().unwrap()
            ));
            let key = h.store.sandbox_key.clone();
            async move {
                client
                    .post(url)
                    .bearer_auth(key)
                    .header("idempotency-key", Uuid::now_v7().to_string())
                    .json(&json!({"amount": 1000}))
                    .send()
                    .await
                    .unwrap()
                    .status()
                    .as_u16()
            }
        };
        let (webhook, resolver, c1, c2) = tokio::join!(
            webhooks::process_due(&h.app.state),
            cassa::payments::resolve_open(&h.app.state, chrono::Duration::zero()),
            capture(),
            capture(),
        );
        webhook.unwrap();
        resolver.unwrap();
        assert!(
            [200, 409, 502].contains(&c1) && [200, 409, 502].contains(&c2),
            "{c1} {c2}"
        );
        let detail = h.detail(&order).await;
        let i = &detail["intents"][0];
        let captures: i64 = i["transactions"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|t| t["operation"] == "capture" && t["status"] == "succeeded")
            .map(|t| t["amount"].as_i64().unwrap())
            .sum();
        assert_eq!(i["captured_amount"].as_i64().unwrap(), captures);
        assert_eq!(i["authorized_amount"], 6018);
        let authorized = detail["status_history"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| e["to_status"] == "authorized")
            .count();
        assert_eq!(authorized, 1);
    }
}
both_backends!(a_webhook_racing_the_api_and_the_resolver_keeps_the_ledger_consistent);

/// Two more server processes on the same PostgreSQL database work off a burst of 1,000 events:
/// each is processed exactly once (one claim each, never two).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_process_a_burst_of_1000_events_exactly_once() {
    let Some(backend) = Backend::postgres() else {
        return;
    };
    let h = hooks(backend, 0).await;
    let mut tasks = tokio::task::JoinSet::new();
    for chunk in 0..10 {
        let client = h.app.client.clone();
        let url = h.url();
        let secret = h.secret.clone();
        tasks.spawn(async move {
            for i in 0..100 {
                let id = format!("msg_burst_{chunk}_{i}");
                let body = json!({"id": id, "type": "payment.updated", "data": {}}).to_string();
                let ts = chrono::Utc::now().timestamp();
                let sig = signature::sign_standard(&secret, &id, ts, body.as_bytes()).unwrap();
                let r = client
                    .post(&url)
                    .header("webhook-id", &id)
                    .header("webhook-timestamp", ts.to_string())
                    .header("webhook-signature", sig)
                    .body(body)
                    .send()
                    .await
                    .unwrap();
                assert_eq!(r.status(), 200);
            }
        });
    }
    tasks.join_all().await;

    let mut instances = Vec::new();
    for _ in 0..2 {
        let mut config = (*h.app.state.config).clone();
        config.listen_addr = "127.0.0.1:0".parse().unwrap();
        config.webhook_workers = 2;
        let app = cassa::startup::Application::build_with(
            config,
            cassa::startup::BuildOptions {
                payment_providers: None,
                carriers: None,
                clock: Some(std::sync::Arc::new(h.app.clock.clone())),
                extra_api: None,
            },
        )
        .await
        .unwrap();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(app.run_until_stopped(async move {
            let _ = stopped.await;
        }));
        instances.push((stop, task));
    }
    const DONE: &str = "SELECT COUNT(*) FROM webhook_events WHERE status = 'processed'";
    let mut processed = 0;
    for _ in 0..600 {
        processed = cassa::on_db!(&h.app.db, pool => sqlx::query_scalar::<_, i64>(DONE).fetch_one(pool).await).unwrap();
        if processed == 1000 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    for (stop, task) in instances {
        let _ = stop.send(());
        task.await.unwrap().unwrap();
    }
    assert_eq!(processed, 1000);
    const CLAIMS: &str = "SELECT COUNT(*) FROM webhook_events WHERE attempt_count <> 1";
    let extra: i64 =
        cassa::on_db!(&h.app.db, pool => sqlx::query_scalar(CLAIMS).fetch_one(pool).await).unwrap();
    assert_eq!(extra, 0, "an event was claimed more than once");
}

/// Item 9 of issue 13: a verified event belongs to the environment whose secret signed it; it
/// settles only that environment's transactions, is listed only there, and moves money only as
/// far as the provider confirms.
async fn events_belong_to_one_environment_and_are_only_hints(backend: Backend) {
    let h = hooks(backend, 0).await;

    // A signed event that the provider does not confirm moves nothing.
    let (order, intent) = h.pending_payment().await;
    assert_eq!(
        h.deliver("msg_hint", &authorized_event(&intent, 6018))
            .await
            .status(),
        200
    );
    assert_eq!(webhooks::process_due(&h.app.state).await.unwrap(), 1);
    assert_eq!(h.detail(&order).await["intents"][0]["status"], "pending");
    let event = h.events("").await[0].clone();
    assert_eq!(event["environment"], "sandbox");
    // Retried later (the provider may confirm it yet), never applied on its word.
    assert_eq!(event["status"], "pending");
    assert!(
        event["last_error"]
            .as_str()
            .unwrap()
            .contains("not confirmed")
    );

    // Events are listed and read only in their environment.
    let owner = h.app.create_owner(&h.store, "owner@webhooks.test").await;
    let live = h.app.create_live_key(&h.store, &owner).await;
    let listed: Value = h
        .app
        .client
        .get(h.app.url("/api/v1/admin/webhooks/events"))
        .bearer_auth(&live)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(listed["data"].as_array().unwrap().len(), 0, "{listed}");
    let read = h
        .app
        .client
        .get(h.app.url(&format!(
            "/api/v1/admin/webhooks/events/{}",
            event["id"].as_str().unwrap()
        )))
        .bearer_auth(&live)
        .send()
        .await
        .unwrap();
    assert_problem(read, 404, "not_found").await;

    // An event signed with the sandbox secret never settles a production transaction, even one
    // the provider did authorize.
    let (order, intent) = h.pending_payment().await;
    h.authorize_at_psp(&intent).await;
    let intent_id: Uuid = intent["id"].as_str().unwrap().parse().unwrap();
    for sql in [
        "UPDATE payment_intents SET environment = 'production' WHERE id = $1",
        "UPDATE payment_transactions SET environment = 'production' WHERE payment_intent_id = $1",
    ] {
        cassa::on_db!(&h.app.db, pool => sqlx::query(sql).bind(intent_id).execute(pool).await.map(|r| r.rows_affected()))
            .unwrap();
    }
    assert_eq!(
        h.deliver("msg_cross", &authorized_event(&intent, 6018))
            .await
            .status(),
        200
    );
    assert_eq!(webhooks::process_due(&h.app.state).await.unwrap(), 1);
    let status: String = cassa::on_db!(&h.app.db, pool => {
        sqlx::query_scalar("SELECT status FROM payment_intents WHERE id = $1").bind(intent_id)
            .fetch_one(pool).await
    })
    .unwrap();
    assert_eq!(status, "pending");
    let cross = h
        .events("")
        .await
        .into_iter()
        .find(|e| e["provider_event_id"] == "msg_cross")
        .unwrap();
    assert!(
        cross["last_error"]
            .as_str()
            .unwrap()
            .contains("in this store and environment"),
        "{cross}"
    );
    let _ = order;
}
both_backends!(events_belong_to_one_environment_and_are_only_hints);
