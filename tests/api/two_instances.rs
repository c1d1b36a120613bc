//! Two server instances on one PostgreSQL database run the same background jobs at the same
//! time, each on its own pool, and every item is still worked exactly once: the payment
//! resolver (one provider call and one recorded outcome per stuck payment), the key rotation
//! (every credential re-encrypted once, all readable, no concurrent write lost), retention
//! (behind its lease) and reconciliation (one scheduled run per store and day, each run worked
//! by one runner). Outbound delivery and inbound webhook processing have their own two-instance
//! tests (`outbound_events/two_instances.rs`, `webhooks.rs`).
//!
//! SQLite is one process's file (its writers are serialized in the process), so these run on
//! PostgreSQL only.

use std::{sync::Arc, time::Duration};

use cassa::{
    credentials::{self, keys},
    types::{Environment, StoreId},
};
use cassa_tests::{Backend, Instance, SpawnOptions, TestApp, TestStore, spawn_app_with};
use secrecy::ExposeSecret;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::payments::shop::Shop;

async fn count(app: &TestApp, sql: &str) -> i64 {
    cassa::on_db!(&app.db, pool => sqlx::query_scalar::<_, i64>(sql).fetch_one(pool).await).unwrap()
}

/// A shop whose background resolver and webhook workers never run on their own: the test
/// runs both instances' resolver passes itself, at the same time.
async fn resolver_shop(backend: Backend) -> Shop {
    let app = spawn_app_with(
        backend,
        SpawnOptions {
            configure: Some(Box::new(|c| {
                c.webhook_workers = 0;
                c.resolver_interval = Duration::from_secs(3600);
                // `pm_card_timeout` is answered after 1.5 s: Cassa gives up before.
                c.provider_timeout = Duration::from_millis(800);
                c.sandbox_psp_timeout_delay = Duration::from_millis(1500);
            })),
            ..Default::default()
        },
    )
    .await;
    let store = app.create_store("Shop", "USD").await;
    crate::checkout::configure(&app, &store).await;
    let (_, token) = app.create_customer(&store).await;
    Shop { app, store, token }
}

/// Stuck payments: asynchronous authorizations left pending at the PSP, and ones whose
/// provider call timed out (unknown).
const ASYNC_PAYMENTS: usize = 32;
const TIMED_OUT_PAYMENTS: usize = 8;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_instances_resolve_each_stuck_payment_once() {
    let Some(backend) = Backend::postgres() else {
        return;
    };
    let shop = Arc::new(resolver_shop(backend).await);
    let methods: Vec<&'static str> = std::iter::repeat_n("pm_card_async", ASYNC_PAYMENTS)
        .chain(std::iter::repeat_n("pm_card_timeout", TIMED_OUT_PAYMENTS))
        .collect();
    let mut tasks = tokio::task::JoinSet::new();
    for chunk in methods.chunks(5) {
        let (shop, chunk) = (shop.clone(), chunk.to_vec());
        tasks.spawn(async move {
            let mut orders = Vec::new();
            for method in chunk {
                let (order, snapshot) = shop.quoted_order().await;
                let response = shop
                    .authorize_with(&order, &snapshot, method, &Uuid::now_v7().to_string())
                    .await;
                // Pending (202), or unknown (502) when the call timed out: stuck either way
                // (on a loaded machine an asynchronous one may time out too).
                let status = response.status().as_u16();
                assert!(status == 202 || status == 502, "{method}: {status}");
                orders.push(order);
            }
            orders
        });
    }
    let orders: Vec<String> = tasks.join_all().await.into_iter().flatten().collect();
    let stuck = (ASYNC_PAYMENTS + TIMED_OUT_PAYMENTS) as i64;
    const OPEN: &str =
        "SELECT COUNT(*) FROM payment_transactions WHERE status IN ('pending', 'unknown')";
    assert_eq!(count(&shop.app, OPEN).await, stuck);
    // The timed-out calls complete at the PSP (each writes its payment after the delay); then
    // it settles the pending ones (every fourth declined). Polled, not slept: on a loaded
    // machine a late completion would otherwise start a second round.
    const AT_PSP: &str = "SELECT COUNT(*) FROM sandbox_psp_payments";
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while count(&shop.app, AT_PSP).await < stuck {
        assert!(
            std::time::Instant::now() < deadline,
            "the PSP never completed the timed-out calls"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let psp = cassa::http::sandbox_psp::state(&shop.app.state);
    const PENDING: &str = "SELECT id FROM sandbox_psp_payments WHERE status = 'pending'";
    let pending: Vec<String> = cassa::on_db!(&shop.app.db, pool => {
        sqlx::query_scalar(PENDING).fetch_all(pool).await
    })
    .unwrap();
    for (i, id) in pending.iter().enumerate() {
        assert!(
            cassa_sandbox_psp::settle(&psp, id, i % 4 != 3)
                .await
                .unwrap()
        );
    }
    assert_eq!(pending.len(), ASYNC_PAYMENTS);

    const CALLS: &str = "SELECT COUNT(*) FROM provider_call_audit";
    let calls_before = count(&shop.app, CALLS).await;
    let second = Instance::beside(&shop.app).await;
    let first = shop.app.state.clone();
    let mut settled = 0;
    for round in 0..4 {
        let (a, b) = tokio::join!(
            cassa::payments::resolve_open(&first, chrono::Duration::zero()),
            cassa::payments::resolve_open(&second.state, chrono::Duration::zero()),
        );
        settled += a.unwrap() + b.unwrap();
        if count(&shop.app, OPEN).await == 0 {
            break;
        }
        // Whatever the PSP did not answer yet is due again after its backoff.
        assert!(round < 3, "payments still open after {round} rounds");
        shop.app.clock.advance(chrono::Duration::hours(2));
    }
    second.stop().await;

    assert_eq!(count(&shop.app, OPEN).await, 0, "every payment resolved");
    assert_eq!(
        count(&shop.app, CALLS).await - calls_before,
        stuck,
        "one provider call per stuck payment"
    );
    assert_eq!(
        settled as i64, stuck,
        "each payment settled by one of the instances, not both"
    );
    assert_eq!(
        count(
            &shop.app,
            "SELECT COUNT(*) FROM payment_transactions WHERE attempts <> 1"
        )
        .await,
        0,
        "each transaction claimed by one resolver pass"
    );
    // One outcome recorded per payment (the ledger's history of the resolver's changes).
    const OUTCOMES: &str = "SELECT COUNT(*) FROM order_status_history \
                            WHERE actor = 'job:resolver' AND subject = 'payment'";
    assert_eq!(count(&shop.app, OUTCOMES).await, stuck);
    let mut authorized = 0;
    for order in &orders {
        let detail = shop.check_invariants(order).await;
        let intent = &detail["intents"][0];
        let txns = intent["transactions"].as_array().unwrap();
        assert_eq!(txns.len(), 1, "{intent}");
        if intent["status"] == "authorized" {
            authorized += 1;
            let pid = intent["provider_payment_id"].as_str().unwrap();
            assert_eq!(shop.psp(pid).await.0, "authorized", "{intent}");
        } else {
            assert_eq!(intent["status"], "failed", "{intent}");
        }
    }
    assert_eq!(
        authorized,
        ASYNC_PAYMENTS - ASYNC_PAYMENTS / 4 + TIMED_OUT_PAYMENTS,
        "the PSP's decisions, each applied once"
    );
}

/// Stores whose credentials are only rotated, and stores whose owners keep replacing theirs
/// through both instances during the rotation.
const QUIET_STORES: usize = 32;
const BUSY_STORES: usize = 8;
const WRITES: usize = 5;
const API_KEY: &str = "sbx_two_instances_api_key_0123456789";
const WEBHOOK_SECRET: &str = "whsec_twoInstancesWebhookSecret0123456789==";

/// Each store's credential row: (store, revision, key version).
async fn credential_rows(app: &TestApp) -> Vec<(StoreId, i32, i32)> {
    const SQL: &str = "SELECT store_id, revision, key_version FROM provider_credentials \
                       ORDER BY store_id";
    cassa::on_db!(&app.db, pool => sqlx::query_as(SQL).fetch_all(pool).await).unwrap()
}

async fn rotation_status(app: &TestApp, id: &str) -> Value {
    let admin = app.admin_token().await;
    let response = app
        .client
        .get(app.url(&format!("/api/v1/platform/keys/rotations/{id}")))
        .bearer_auth(admin)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    response.json().await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_instances_rotating_at_once_re_encrypt_each_credential_once() {
    let Some(backend) = Backend::postgres() else {
        return;
    };
    let app = spawn_app_with(backend, SpawnOptions::default()).await;
    let admin = app.admin_token().await;
    let mut stores: Vec<TestStore> = Vec::new();
    for i in 0..QUIET_STORES + BUSY_STORES {
        let response = app
            .client
            .post(app.url("/api/v1/platform/stores"))
            .bearer_auth(&admin)
            .json(&json!({"name": format!("S{i}"), "currency": "USD"}))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 201);
        let body: Value = response.json().await.unwrap();
        stores.push(TestStore {
            id: body["id"].as_str().unwrap().to_owned(),
            sandbox_key: body["sandbox_secret_key"].as_str().unwrap().to_owned(),
        });
    }
    let before = credential_rows(&app).await;
    assert_eq!(
        before.len(),
        stores.len(),
        "one sandbox credential per store"
    );
    assert!(before.iter().all(|(_, _, version)| *version == 2));
    let second = Instance::beside(&app).await;
    let addresses = [app.address.clone(), second.address.clone()];

    // Owners of the busy stores replace their credentials through both instances meanwhile.
    let writers: Vec<_> = stores[QUIET_STORES..]
        .iter()
        .cloned()
        .enumerate()
        .map(|(i, store)| {
            let client = app.client.clone();
            let addresses = addresses.clone();
            tokio::spawn(async move {
                for round in 0..WRITES {
                    let address = &addresses[(i + round) % 2];
                    let response = client
                        .put(format!(
                            "{address}/api/v1/admin/credentials/sandbox/sandbox"
                        ))
                        .bearer_auth(&store.sandbox_key)
                        .header("idempotency-key", format!("w{round}"))
                        .json(&json!({"api_key": format!("{API_KEY}{round}"),
                                      "webhook_secret": WEBHOOK_SECRET}))
                        .send()
                        .await
                        .unwrap();
                    assert_eq!(response.status(), 200);
                }
            })
        })
        .collect();

    // Both instances are asked to rotate to version 1 at the same moment: one rotation.
    let start = |address: String| {
        let client = app.client.clone();
        let admin = admin.clone();
        async move {
            let response = client
                .post(format!("{address}/api/v1/platform/keys/rotations"))
                .bearer_auth(admin)
                .json(&json!({"version": 1}))
                .send()
                .await
                .unwrap();
            let status = response.status().as_u16();
            (status, response.json::<Value>().await.unwrap())
        }
    };
    let (a, b) = tokio::join!(start(addresses[0].clone()), start(addresses[1].clone()));
    let mut statuses = [a.0, b.0];
    statuses.sort();
    assert_eq!(statuses, [202, 409], "{a:?} {b:?}");
    let rotation = if a.0 == 202 { a.1 } else { b.1 };
    let id = rotation["id"].as_str().unwrap().to_owned();
    assert_eq!(
        count(&app, "SELECT COUNT(*) FROM key_rotations").await,
        1,
        "one rotation recorded"
    );
    // Both instances' workers run it too (besides the one the request started).
    let (a, b) = tokio::join!(
        keys::run_pending_rotation(&app.state),
        keys::run_pending_rotation(&second.state)
    );
    a.unwrap();
    b.unwrap();
    let mut status = Value::Null;
    for _ in 0..300 {
        status = rotation_status(&app, &id).await;
        if status["status"] == "completed" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(status["status"], "completed", "{status}");
    for writer in writers {
        writer.await.unwrap();
    }
    // A busy store's write sealed with the old primary just before the switch is left on it
    // (the rotation skips a row written meanwhile); a second rotation moves such stragglers.
    let stragglers = count(
        &app,
        "SELECT COUNT(*) FROM provider_credentials WHERE key_version <> 1",
    )
    .await;
    if stragglers > 0 {
        keys::start_rotation(&app.state, 1).await.unwrap();
        let (a, b) = tokio::join!(
            keys::run_pending_rotation(&app.state),
            keys::run_pending_rotation(&second.state)
        );
        a.unwrap();
        b.unwrap();
    }
    second.stop().await;

    let after = credential_rows(&app).await;
    assert!(
        after.iter().all(|(_, _, version)| *version == 1),
        "{after:?}"
    );
    let busy: Vec<StoreId> = stores[QUIET_STORES..]
        .iter()
        .map(|s| s.id.parse().unwrap())
        .collect();
    for ((store, revision, _), (again, revision_after, _)) in before.iter().zip(&after) {
        assert_eq!(store, again);
        if !busy.contains(store) {
            assert_eq!(
                *revision_after,
                revision + 1,
                "store {store}: re-encrypted exactly once"
            );
        }
    }
    let rows_moved: i64 = status["done"].as_i64().unwrap();
    assert!(
        rows_moved >= QUIET_STORES as i64 && rows_moved <= (QUIET_STORES + BUSY_STORES) as i64,
        "{status}"
    );
    // Every credential opens with the new key; no owner's last write was lost.
    for (i, store) in stores.iter().enumerate() {
        let loaded = credentials::load_fresh(
            &app.state,
            store.id.parse().unwrap(),
            "sandbox",
            Environment::Sandbox,
        )
        .await
        .unwrap();
        let Some(cassa_tests::SandboxFields { api_key, .. }) =
            cassa_tests::AsSandbox::sandbox(loaded)
        else {
            panic!("credentials of store {i} lost");
        };
        if i >= QUIET_STORES {
            assert_eq!(
                api_key.expose_secret(),
                format!("{API_KEY}{}", WRITES - 1),
                "last write wins"
            );
        }
    }
}

/// Provider call audit rows past their retention, and young ones.
const OLD_AUDIT_ROWS: i64 = 3 * cassa::retention::BATCH_SIZE + 7;
const YOUNG_AUDIT_ROWS: i64 = 25;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_instances_purge_each_expired_row_once_under_one_lease() {
    let Some(backend) = Backend::postgres() else {
        return;
    };
    let app = spawn_app_with(backend, SpawnOptions::default()).await;
    let period = app
        .state
        .config
        .retention
        .provider_audit
        .expect("provider audit rows have a retention period by default");
    let now = app.state.clock.now();
    const SEED: &str = "INSERT INTO provider_call_audit (id, store_id, provider, operation, \
        status_code, outcome, latency_ms, correlation_id, request_body, response_body, created_at) \
        SELECT gen_random_uuid(), NULL, 'sandbox', 'authorize', 200, 'ok', 1, 'seed', '{}', '{}', \
        $1 - make_interval(secs => g) FROM generate_series(1, $2) AS g";
    let cassa::db::Db::Postgres(pool) = &app.db else {
        unreachable!("PostgreSQL only");
    };
    for (at, rows) in [
        (now - period - chrono::Duration::hours(1), OLD_AUDIT_ROWS),
        (now, YOUNG_AUDIT_ROWS),
    ] {
        sqlx::query(SEED)
            .bind(at)
            .bind(rows)
            .execute(pool)
            .await
            .unwrap();
    }
    let second = Instance::beside(&app).await;

    // While one instance holds the lease, the other's pass does nothing.
    let holder = "another-process";
    assert!(
        cassa::retention::claim_lease(
            &second.state,
            cassa::retention::LEASE,
            holder,
            now,
            cassa::retention::lease_duration()
        )
        .await
        .unwrap()
    );
    assert_eq!(cassa::retention::run(&app.state).await.unwrap(), None);
    cassa::retention::release_lease(&second.state, cassa::retention::LEASE, holder, now)
        .await
        .unwrap();

    // Both at once, a few times: the rows are purged once between them.
    let mut purged = 0;
    let mut passes = 0;
    for _ in 0..3 {
        let (a, b) = tokio::join!(
            cassa::retention::run(&app.state),
            cassa::retention::run(&second.state)
        );
        for pass in [a.unwrap(), b.unwrap()].into_iter().flatten() {
            passes += 1;
            purged += pass.provider_audit;
        }
    }
    second.stop().await;
    assert!(passes >= 3, "at least one pass per round ran ({passes})");
    assert_eq!(
        purged, OLD_AUDIT_ROWS as u64,
        "each expired row purged once"
    );
    assert_eq!(
        count(&app, "SELECT COUNT(*) FROM provider_call_audit").await,
        YOUNG_AUDIT_ROWS,
        "young rows kept"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_instances_queue_and_work_each_reconciliation_run_once() {
    let Some(backend) = Backend::postgres() else {
        return;
    };
    // Runs worked in batches of two, so a run takes several claims.
    let shop = crate::reconciliation::recon_shop(backend, 2).await;
    let mut captured = 0;
    for _ in 0..6 {
        crate::reconciliation::captured(&shop).await;
        captured += 1;
    }
    shop.app.clock.advance(chrono::Duration::minutes(1));
    let second = Instance::beside(&shop.app).await;
    // A run asked for through the first instance, and the store's daily run that both
    // instances' schedulers find due at the same time tomorrow.
    let manual = crate::reconciliation::start(&shop).await;
    let tomorrow = chrono::Utc::now().date_naive().succ_opt().unwrap();
    shop.app
        .clock
        .set(tomorrow.and_hms_opt(0, 0, 1).unwrap().and_utc());
    let (a, b) = tokio::join!(
        cassa::reconciliation::schedule_due(&shop.app.state),
        cassa::reconciliation::schedule_due(&second.state)
    );
    assert_eq!(a.unwrap() + b.unwrap(), 1, "the daily run queued once");
    let mut claims = 0;
    loop {
        let (a, b) = tokio::join!(
            cassa::reconciliation::run_due(&shop.app.state),
            cassa::reconciliation::run_due(&second.state)
        );
        let worked = u8::from(a.unwrap()) + u8::from(b.unwrap());
        if worked == 0 {
            break;
        }
        claims += worked;
        assert!(claims < 50, "runs never finish");
    }
    second.stop().await;
    let runs = crate::reconciliation::get(&shop, "/api/v1/admin/reconciliation/runs").await;
    let runs = runs.as_array().unwrap();
    assert_eq!(runs.len(), 2, "{runs:?}");
    for run in runs {
        assert_eq!(run["status"], "completed", "{run}");
        assert_eq!(run["attempts"], 1, "worked by one runner: {run}");
        assert_eq!(run["exceptions"], 0, "{run}");
    }
    let manual = runs.iter().find(|r| r["id"] == manual["id"]).unwrap();
    assert_eq!(manual["matched"], captured, "{manual}");
}
