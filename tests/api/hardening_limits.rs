//! Limits (issue 13, item 13): sign-in backoff per account and per client address, bounded
//! argon2, per-key request buckets, sampled rejected webhooks, retention.

use cassa::limits::Rate;
use cassa_tests::{
    ADMIN_EMAIL, ADMIN_PASSWORD, Backend, SpawnOptions, TestApp, both_backends, spawn_app,
    spawn_app_with,
};
use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use crate::support::assert_problem;

async fn sign_in(app: &TestApp, email: &str, password: &str) -> reqwest::Response {
    sign_in_from(app, email, password, None).await
}

async fn sign_in_from(
    app: &TestApp,
    email: &str,
    password: &str,
    forwarded_for: Option<&str>,
) -> reqwest::Response {
    let mut request = app
        .client
        .post(app.url("/api/v1/auth/token"))
        .json(&json!({"email": email, "password": password}));
    if let Some(forwarded) = forwarded_for {
        request = request.header("x-forwarded-for", forwarded);
    }
    request.send().await.unwrap()
}

fn retry_after(response: &reqwest::Response) -> u64 {
    response
        .headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
        .expect("a Retry-After header in seconds")
}

/// Asserts a `429 rate_limited` with a `Retry-After`; returns the seconds and the body.
async fn assert_rate_limited(response: reqwest::Response) -> (u64, Value) {
    let seconds = retry_after(&response);
    assert!(seconds >= 1);
    let body = assert_problem(response, 429, "rate_limited").await;
    (seconds, body)
}

/// Failures space attempts out instead of locking: inside the window even the right password
/// gets 429 with Retry-After (and does not lengthen it); after the window the right password
/// signs in, however many failures came before.
async fn sign_in_backs_off_per_account_and_never_locks(backend: Backend) {
    let app = spawn_app(backend).await;
    let wrong = "wrong-password-123";
    // Two free failures, then 1 s, 2 s, 4 s, … between attempts.
    for _ in 0..3 {
        assert_problem(
            sign_in(&app, ADMIN_EMAIL, wrong).await,
            401,
            "invalid_credentials",
        )
        .await;
    }
    let (seconds, _) = assert_rate_limited(sign_in(&app, ADMIN_EMAIL, ADMIN_PASSWORD).await).await;
    assert_eq!(seconds, 1);
    // Refused attempts do not lengthen the window.
    assert_rate_limited(sign_in(&app, ADMIN_EMAIL, wrong).await).await;
    app.clock.advance(chrono::Duration::seconds(1));
    assert_eq!(
        sign_in(&app, ADMIN_EMAIL, ADMIN_PASSWORD).await.status(),
        201
    );

    // A long run of failures: each window is at most the cap (15 min by default) and the
    // right password after it always passes.
    for _ in 0..20 {
        let response = sign_in(&app, ADMIN_EMAIL, wrong).await;
        if response.status() == 429 {
            let seconds = retry_after(&response);
            assert!(seconds <= 900, "{seconds}");
            app.clock.advance(chrono::Duration::seconds(seconds as i64));
        } else {
            assert_eq!(response.status(), 401);
        }
    }
    // End on a failure, so a window is open: the right password waits for it, then passes.
    loop {
        let response = sign_in(&app, ADMIN_EMAIL, wrong).await;
        if response.status() == 401 {
            break;
        }
        app.clock
            .advance(chrono::Duration::seconds(retry_after(&response) as i64));
    }
    let (seconds, _) = assert_rate_limited(sign_in(&app, ADMIN_EMAIL, ADMIN_PASSWORD).await).await;
    assert!(seconds > 60 && seconds <= 900, "{seconds}");
    app.clock.advance(chrono::Duration::seconds(seconds as i64));
    assert_eq!(
        sign_in(&app, ADMIN_EMAIL, ADMIN_PASSWORD).await.status(),
        201
    );
    // Success starts over: the next mistake costs nothing.
    assert_eq!(sign_in(&app, ADMIN_EMAIL, wrong).await.status(), 401);
    assert_eq!(
        sign_in(&app, ADMIN_EMAIL, ADMIN_PASSWORD).await.status(),
        201
    );
}

/// An unknown email backs off exactly like an account, so 429 reveals nothing.
async fn unknown_emails_back_off_like_accounts(backend: Backend) {
    let app = spawn_app(backend).await;
    let mut answers = Vec::new();
    for email in [ADMIN_EMAIL, "nobody@cassa.test"] {
        let mut statuses = Vec::new();
        for _ in 0..4 {
            statuses.push(
                sign_in(&app, email, "wrong-password-123")
                    .await
                    .status()
                    .as_u16(),
            );
        }
        let body = assert_rate_limited(sign_in(&app, email, "wrong-password-123").await)
            .await
            .1;
        answers.push((statuses, body["detail"].clone()));
    }
    assert_eq!(answers[0], answers[1]);
    assert_eq!(answers[0].0, [401, 401, 401, 429]);
}

/// Failed sign-ins from one address are limited across accounts (password spraying); the
/// address's own successes do not count.
async fn failed_sign_ins_are_limited_per_client_address(backend: Backend) {
    let app = spawn_app(backend).await;
    // Default: 20 failures at once from one address. Different emails, so no account backs off.
    for i in 0..20 {
        let response = sign_in(&app, &format!("user{i}@cassa.test"), "wrong-password-123").await;
        assert_eq!(response.status(), 401, "attempt {i}");
    }
    let (seconds, _) =
        assert_rate_limited(sign_in(&app, "user99@cassa.test", "wrong-password-123").await).await;
    // 10 a minute regained: one every 6 s.
    assert_eq!(seconds, 6);
    // The limit is the address's, whatever the account: even the admin must wait.
    assert_rate_limited(sign_in(&app, ADMIN_EMAIL, ADMIN_PASSWORD).await).await;
    app.clock.advance(chrono::Duration::seconds(6));
    assert_eq!(
        sign_in(&app, ADMIN_EMAIL, ADMIN_PASSWORD).await.status(),
        201
    );
    // A success gave its token back: one more failure is allowed, then 429 again.
    assert_eq!(
        sign_in(&app, "user98@cassa.test", "wrong-password-123")
            .await
            .status(),
        401
    );
    assert_rate_limited(sign_in(&app, "user97@cassa.test", "wrong-password-123").await).await;
}

/// The console's sign-in form shares the limits and answers 429 with Retry-After too.
async fn console_sign_in_shares_the_limits(backend: Backend) {
    let app = spawn_app(backend).await;
    let form = |password: &'static str| {
        app.client
            .post(app.url("/console/fn/sign_in"))
            .header("origin", &app.address)
            .form(&[("email", ADMIN_EMAIL), ("password", password)])
            .send()
    };
    for _ in 0..3 {
        let response = form("wrong-password-123").await.unwrap();
        assert!(!response.status().is_success() || response.status() == 200);
    }
    // The API sees the backoff the form built up…
    assert_rate_limited(sign_in(&app, ADMIN_EMAIL, ADMIN_PASSWORD).await).await;
    // …and the form answers 429 with Retry-After.
    let refused = form(ADMIN_PASSWORD).await.unwrap();
    assert_eq!(refused.status(), 429);
    assert_eq!(retry_after(&refused), 1);
    app.clock.advance(chrono::Duration::seconds(1));
    let accepted = form(ADMIN_PASSWORD).await.unwrap();
    assert!(
        accepted.status().is_success() || accepted.status().is_redirection(),
        "{}",
        accepted.status()
    );
}

async fn spawn_configured(
    backend: Backend,
    configure: impl FnOnce(&mut cassa::config::Config) + Send + 'static,
) -> TestApp {
    spawn_app_with(
        backend,
        SpawnOptions {
            configure: Some(Box::new(configure)),
            ..SpawnOptions::default()
        },
    )
    .await
}

/// `X-Forwarded-For` names the client only when the peer is a configured trusted proxy;
/// otherwise a client cannot escape its address's limit by inventing addresses.
async fn forwarded_addresses_count_only_behind_trusted_proxies(backend: Backend) {
    let wrong = "wrong-password-123";
    let direct = spawn_configured(backend.clone(), |c| {
        c.sign_in_ip_rate = Rate::per_minute(1.0, 2.0);
    })
    .await;
    for (i, forged) in ["198.51.100.1", "198.51.100.2"].into_iter().enumerate() {
        let response =
            sign_in_from(&direct, &format!("u{i}@cassa.test"), wrong, Some(forged)).await;
        assert_eq!(response.status(), 401);
    }
    assert_rate_limited(sign_in_from(&direct, "u9@cassa.test", wrong, Some("198.51.100.3")).await)
        .await;
    drop(direct);

    let proxied = spawn_configured(backend, |c| {
        c.sign_in_ip_rate = Rate::per_minute(1.0, 2.0);
        c.trusted_proxies = "127.0.0.0/8".parse().unwrap();
    })
    .await;
    // The client forged the first entry; the proxy appended the address it saw.
    let client_a = Some("6.6.6.6, 198.51.100.1");
    for i in 0..2 {
        let response = sign_in_from(&proxied, &format!("u{i}@cassa.test"), wrong, client_a).await;
        assert_eq!(response.status(), 401);
    }
    assert_rate_limited(sign_in_from(&proxied, "u8@cassa.test", wrong, client_a).await).await;
    // Forging a different leftmost entry does not help…
    assert_rate_limited(
        sign_in_from(
            &proxied,
            "u8@cassa.test",
            wrong,
            Some("7.7.7.7, 198.51.100.1"),
        )
        .await,
    )
    .await;
    // …while another client behind the same proxy has its own budget.
    assert_eq!(
        sign_in_from(&proxied, "u9@cassa.test", wrong, Some("198.51.100.2"))
            .await
            .status(),
        401
    );
}

/// argon2 runs under a bounded number of permits: when all are taken a sign-in (or anything
/// that hashes a password) is refused at once with 503 and Retry-After, not queued, and the
/// refusal counts as no failure.
async fn password_hashing_is_bounded_and_fails_fast(backend: Backend) {
    let app = spawn_configured(backend, |c| {
        c.password_hash_concurrency = 1;
        c.sign_in_ip_rate = Rate::per_minute(1.0, 1.0);
    })
    .await;
    let admin = app.admin_token().await;
    let held = app.state.passwords.permit().expect("a free permit");
    for _ in 0..3 {
        let busy = sign_in(&app, ADMIN_EMAIL, "wrong-password-123").await;
        assert_eq!(retry_after(&busy), 1);
        assert_problem(busy, 503, "server_busy").await;
    }
    let store = app
        .client
        .post(app.url("/api/v1/platform/stores"))
        .bearer_auth(&admin)
        .json(&json!({"name": "Shop", "currency": "USD"}))
        .send()
        .await
        .unwrap();
    assert_eq!(store.status(), 201);
    let store: Value = store.json().await.unwrap();
    let user = app
        .client
        .post(app.url(&format!(
            "/api/v1/platform/stores/{}/users",
            store["id"].as_str().unwrap()
        )))
        .bearer_auth(&admin)
        .json(&json!({"email": "owner@cassa.test", "role": "owner", "password": "owner-password-123"}))
        .send()
        .await
        .unwrap();
    assert_problem(user, 503, "server_busy").await;
    drop(held);
    // Nothing was counted while busy: neither the address (a budget of one failure) nor the
    // account backed off.
    assert_eq!(
        sign_in(&app, ADMIN_EMAIL, ADMIN_PASSWORD).await.status(),
        201
    );
    assert_eq!(
        sign_in(&app, ADMIN_EMAIL, "wrong-password-123")
            .await
            .status(),
        401
    );
}

/// Each API key has its own token bucket: beyond the burst its requests are 429 with
/// Retry-After (mutations too, counted once), other keys and console users are unaffected, and
/// the bucket refills with time.
async fn api_keys_have_their_own_request_budget(backend: Backend) {
    let app = spawn_configured(backend, |c| {
        c.api_key_rate = Some(Rate::per_second(1.0, 3.0));
    })
    .await;
    let store = app.create_store("Shop", "USD").await;
    let admin = app.admin_token().await;
    let created: Value = app
        .client
        .post(app.url("/api/v1/admin/api-keys"))
        .bearer_auth(&admin)
        .header("cassa-store", &store.id)
        .header("idempotency-key", "second-key")
        .json(&json!({"name": "second"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let second = created["secret"].as_str().unwrap().to_owned();
    let list = |key: String| {
        app.client
            .get(app.url("/api/v1/admin/api-keys"))
            .bearer_auth(key)
            .send()
    };
    for _ in 0..2 {
        assert_eq!(list(store.sandbox_key.clone()).await.unwrap().status(), 200);
    }
    let customer = app
        .client
        .post(app.url("/api/v1/admin/customers"))
        .bearer_auth(&store.sandbox_key)
        .header("idempotency-key", "c1")
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(customer.status(), 201, "the third request of the burst");
    let refused = list(store.sandbox_key.clone()).await.unwrap();
    assert_eq!(retry_after(&refused), 1);
    assert_problem(refused, 429, "rate_limited").await;
    let refused = app
        .client
        .post(app.url("/api/v1/admin/customers"))
        .bearer_auth(&store.sandbox_key)
        .header("idempotency-key", "c2")
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_rate_limited(refused).await;
    // Another key of the same store, and the console user, have their own budgets.
    assert_eq!(list(second).await.unwrap().status(), 200);
    let as_user = app
        .client
        .get(app.url("/api/v1/admin/api-keys"))
        .bearer_auth(&admin)
        .header("cassa-store", &store.id)
        .send()
        .await
        .unwrap();
    assert_eq!(as_user.status(), 200);
    // One token a second: after a second, one more request.
    app.clock.advance(chrono::Duration::seconds(1));
    assert_eq!(list(store.sandbox_key.clone()).await.unwrap().status(), 200);
    assert_eq!(list(store.sandbox_key.clone()).await.unwrap().status(), 429);
}

/// The process-wide counter of rejected webhook deliveries with these labels.
async fn rejected_count(app: &TestApp, provider: &str, reason: &str) -> f64 {
    let text = app.get("/metrics").await.text().await.unwrap();
    text.lines()
        .filter(|l| l.starts_with("webhook_deliveries_rejected_total{"))
        .filter(|l| l.contains(&format!("provider=\"{provider}\"")))
        .filter(|l| l.contains(&format!("reason=\"{reason}\"")))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

async fn forged_delivery(app: &TestApp, store: &str, id: &str) -> reqwest::Response {
    app.client
        .post(app.url(&format!("/api/v1/webhooks/sandbox/{store}")))
        .header("webhook-id", id)
        .header(
            "webhook-timestamp",
            chrono::Utc::now().timestamp().to_string(),
        )
        .header("webhook-signature", "v1,AAAA")
        .header("content-type", "application/json")
        .body(r#"{"type":"payment.authorized"}"#)
        .send()
        .await
        .unwrap()
}

async fn stored_rejections(app: &TestApp) -> i64 {
    const SQL: &str = "SELECT COUNT(*) FROM webhook_events WHERE status = 'rejected'";
    cassa::on_db!(&app.db, pool => sqlx::query_scalar::<_, i64>(SQL).fetch_one(pool).await).unwrap()
}

/// A flood of forged deliveries is counted in full but stored as one sample per store and
/// minute; deliveries for a store that does not exist are counted and never stored.
async fn rejected_webhooks_are_counted_and_sampled(backend: Backend) {
    let app = spawn_app(backend).await;
    let store = app.create_store("Shop", "USD").await;
    // The counter is process-wide and other tests run beside this one: compare differences.
    let bad_before = rejected_count(&app, "sandbox", "bad_signature").await;
    let unknown_before = rejected_count(&app, "sandbox", "unknown_store").await;
    for i in 0..10 {
        let response = forged_delivery(&app, &store.id, &format!("msg_forged_{i}")).await;
        assert_problem(response, 401, "invalid_signature").await;
    }
    let nowhere = uuid::Uuid::now_v7().to_string();
    for i in 0..3 {
        assert_eq!(
            forged_delivery(&app, &nowhere, &format!("msg_nowhere_{i}"))
                .await
                .status(),
            401
        );
    }
    assert_eq!(stored_rejections(&app).await, 1);
    assert!(rejected_count(&app, "sandbox", "bad_signature").await - bad_before >= 10.0);
    assert!(rejected_count(&app, "sandbox", "unknown_store").await - unknown_before >= 3.0);
    // The sample is the first delivery of the minute, and visible in the console's list.
    let events: Value = app
        .client
        .get(app.url("/api/v1/admin/webhooks/events?status=rejected"))
        .bearer_auth(&store.sandbox_key)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(events["data"][0]["provider_event_id"], "msg_forged_0");
    // A minute later the next rejection is sampled again.
    app.clock.advance(chrono::Duration::seconds(61));
    assert_eq!(
        forged_delivery(&app, &store.id, "msg_later").await.status(),
        401
    );
    assert_eq!(
        forged_delivery(&app, &store.id, "msg_later_2")
            .await
            .status(),
        401
    );
    assert_eq!(stored_rejections(&app).await, 2);
}

async fn count(app: &TestApp, sql: &'static str) -> i64 {
    cassa::on_db!(&app.db, pool => sqlx::query_scalar::<_, i64>(sql).fetch_one(pool).await).unwrap()
}

/// Inserts a webhook event received at `at` with `status`; returns its id.
async fn old_event(
    app: &TestApp,
    store: uuid::Uuid,
    status: &str,
    at: DateTime<Utc>,
) -> uuid::Uuid {
    const SQL: &str = "INSERT INTO webhook_events (id, store_id, provider, provider_event_id, \
        event_type, signature_valid, payload, status, attempt_count, next_attempt_at, received_at) \
        VALUES ($1, $2, 'sandbox', $3, 'payment.updated', $4, '{}', $5, 0, $6, $6)";
    let id = uuid::Uuid::now_v7();
    cassa::on_db!(&app.db, pool => sqlx::query(SQL).bind(id).bind(store).bind(id.to_string())
        .bind(status != "rejected").bind(status).bind(at).execute(pool).await.map(|_| ()))
    .unwrap();
    id
}

async fn event_exists(app: &TestApp, id: uuid::Uuid) -> bool {
    const SQL: &str = "SELECT COUNT(*) FROM webhook_events WHERE id = $1";
    cassa::on_db!(&app.db, pool => sqlx::query_scalar::<_, i64>(SQL).bind(id).fetch_one(pool).await)
        .unwrap()
        == 1
}

async fn psp_payment_exists(app: &TestApp, id: &str) -> bool {
    const SQL: &str = "SELECT COUNT(*) FROM sandbox_psp_payments WHERE id = $1";
    cassa::on_db!(&app.db, pool => sqlx::query_scalar::<_, i64>(SQL).bind(id).fetch_one(pool).await)
        .unwrap()
        == 1
}

/// Retention purges old finished data after the documented default periods, in batches under a
/// lease, and never what a payment still needs: the snapshot an intent pays, the PSP payment an
/// intent names (a capture still works afterwards), webhook events not yet processed.
async fn retention_purges_old_data_but_never_what_a_payment_needs(backend: Backend) {
    let shop = crate::payments::shop_with_timeout(backend, std::time::Duration::from_secs(5)).await;
    let app = &shop.app;
    let store: uuid::Uuid = shop.store.id.parse().unwrap();
    let (paid_order, intent) = shop.authorized().await;
    let paid_snapshot = intent["snapshot_id"].as_str().unwrap().to_owned();
    let psp_payment = intent["provider_payment_id"].as_str().unwrap().to_owned();
    let (_, unused_snapshot) = shop.quoted_order().await;
    let start = cassa::clock::Clock::now(&app.clock);
    const ORPHAN: &str = "INSERT INTO sandbox_psp_payments (id, account, amount, currency, \
        payment_method, status, captured, refunded, created_at, updated_at) \
        VALUES ('pay_orphan', 'acct', 100, 'USD', 'pm_card_visa', 'captured', 100, 0, $1, $1)";
    cassa::on_db!(&app.db, pool => sqlx::query(ORPHAN).bind(start).execute(pool).await.map(|_| ()))
        .unwrap();
    // The PSP and the provider client stamp their rows with wall time (as a remote provider
    // would); put them on the test clock's timeline.
    for sql in [
        "UPDATE provider_call_audit SET created_at = $1",
        "UPDATE sandbox_psp_requests SET created_at = $1",
        "UPDATE sandbox_psp_payments SET created_at = $1, updated_at = $1",
    ] {
        cassa::on_db!(&app.db, pool => sqlx::query(sql).bind(start).execute(pool).await.map(|_| ()))
            .unwrap();
    }
    let processed = old_event(app, store, "processed", start).await;
    let dead = old_event(app, store, "dead", start).await;
    let rejected = old_event(app, store, "rejected", start).await;
    let pending = old_event(app, store, "pending", start).await;
    assert!(count(app, "SELECT COUNT(*) FROM provider_call_audit").await > 0);
    assert!(count(app, "SELECT COUNT(*) FROM sandbox_psp_requests").await > 0);

    // Nothing is old enough yet.
    let nothing = cassa::retention::run(&app.state).await.unwrap().unwrap();
    assert_eq!(nothing, cassa::retention::Purged::default());

    // 100 days: past every default (30 days of webhook events and PSP rows, 90 of audit, 7 after
    // a snapshot's expiry).
    app.clock.advance(chrono::Duration::days(100));
    let purged = cassa::retention::run(&app.state).await.unwrap().unwrap();
    assert!(purged.webhook_events >= 3, "{purged:?}");
    assert!(
        purged.provider_audit > 0 && purged.snapshots == 1,
        "{purged:?}"
    );
    assert!(
        purged.sandbox_psp_requests > 0 && purged.sandbox_psp_payments == 1,
        "{purged:?}"
    );
    for gone in [processed, dead, rejected] {
        assert!(!event_exists(app, gone).await);
    }
    assert!(
        event_exists(app, pending).await,
        "unprocessed events are kept"
    );
    assert_eq!(
        count(app, "SELECT COUNT(*) FROM provider_call_audit").await,
        0
    );
    // (The customer's token expired long ago: look in the database.)
    const SNAPSHOT: &str = "SELECT COUNT(*) FROM order_checkout_snapshots WHERE id = $1";
    for (id, kept) in [(&paid_snapshot, true), (&unused_snapshot, false)] {
        let id: uuid::Uuid = id.parse().unwrap();
        let n = cassa::on_db!(&app.db, pool => sqlx::query_scalar::<_, i64>(SNAPSHOT).bind(id).fetch_one(pool).await)
            .unwrap();
        assert_eq!(n == 1, kept, "snapshot {id}");
    }
    assert!(psp_payment_exists(app, &psp_payment).await);
    assert!(!psp_payment_exists(app, "pay_orphan").await);
    // The kept PSP payment still serves its intent.
    let capture = shop.op(&paid_order, &intent, "capture", json!({})).await;
    assert!(capture.status().is_success(), "{}", capture.status());

    // Another process holds the lease: this one skips its pass…
    let later = old_event(app, store, "processed", start).await;
    let now = cassa::clock::Clock::now(&app.clock);
    let lease = cassa::retention::lease_duration();
    assert!(
        cassa::retention::claim_lease(&app.state, cassa::retention::LEASE, "other", now, lease)
            .await
            .unwrap()
    );
    assert_eq!(cassa::retention::run(&app.state).await.unwrap(), None);
    assert!(event_exists(app, later).await);
    // …until the lease runs out (a holder that died cannot block retention for good).
    app.clock.advance(lease);
    assert!(cassa::retention::run(&app.state).await.unwrap().is_some());
    assert!(!event_exists(app, later).await);
}

/// Retention deletes in bounded batches and finishes a large backlog over passes.
async fn retention_works_in_batches(backend: Backend) {
    let app = spawn_configured(backend, |c| c.webhook_workers = 0).await;
    let store = app.create_store("Shop", "USD").await;
    let store: uuid::Uuid = store.id.parse().unwrap();
    let start = cassa::clock::Clock::now(&app.clock);
    let backlog = cassa::retention::BATCH_SIZE as usize + 7;
    for _ in 0..backlog {
        old_event(&app, store, "processed", start).await;
    }
    app.clock.advance(chrono::Duration::days(31));
    let purged = cassa::retention::run(&app.state).await.unwrap().unwrap();
    assert_eq!(purged.webhook_events, backlog as u64);
    assert_eq!(count(&app, "SELECT COUNT(*) FROM webhook_events").await, 0);
}

both_backends!(
    retention_purges_old_data_but_never_what_a_payment_needs,
    retention_works_in_batches,
    rejected_webhooks_are_counted_and_sampled,
    api_keys_have_their_own_request_budget,
    forwarded_addresses_count_only_behind_trusted_proxies,
    password_hashing_is_bounded_and_fails_fast,
    sign_in_backs_off_per_account_and_never_locks,
    unknown_emails_back_off_like_accounts,
    failed_sign_ins_are_limited_per_client_address,
    console_sign_in_shares_the_limits,
);
