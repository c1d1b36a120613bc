//! The simulated PSP: outcomes per test payment method, its own ledger rules, idempotency,
//! and the timeout case whose outcome the caller learns only later.

use std::time::Duration;

use cassa_tests::{Backend, SpawnOptions, TestApp, both_backends, spawn_app, spawn_app_with};
use serde_json::{Value, json};

const KEY: &str = "sbx_test_account_0123456789abcdef";

async fn psp(app: &TestApp, path: &str, key: Option<&str>, body: Value) -> (u16, Value) {
    let mut request = app
        .client
        .post(app.url(&format!("/sandbox-psp/v1{path}")))
        .bearer_auth(KEY)
        .json(&body);
    if let Some(key) = key {
        request = request.header("idempotency-key", key);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap())
}

async fn authorize(app: &TestApp, method: &str, amount: i64) -> (u16, Value) {
    psp(
        app,
        "/payments",
        None,
        json!({"amount": amount, "currency": "USD", "payment_method": method}),
    )
    .await
}

async fn outcomes_follow_the_test_payment_method(backend: Backend) {
    let app = spawn_app(backend).await;
    let (status, body) = authorize(&app, "pm_card_visa", 1000).await;
    assert_eq!(status, 201);
    assert_eq!(body["status"], "authorized");
    for (method, code) in [
        ("pm_card_declined", "card_declined"),
        ("pm_card_insufficient_funds", "insufficient_funds"),
    ] {
        let (status, body) = authorize(&app, method, 1000).await;
        assert_eq!(status, 402, "{method}");
        assert_eq!(body["error"]["code"], code);
    }
    let (status, body) = authorize(&app, "pm_card_processing_error", 1000).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (500, Some("processing_error"))
    );
    let (status, body) = authorize(&app, "pm_card_async", 1000).await;
    assert_eq!((status, body["status"].as_str()), (202, Some("pending")));
    let id = body["id"].as_str().unwrap();
    assert!(
        cassa_sandbox_psp::settle(&cassa::http::sandbox_psp::state(&app.state), id, true)
            .await
            .unwrap()
    );
    let settled: Value = app
        .client
        .get(app.url(&format!("/sandbox-psp/v1/payments/{id}")))
        .bearer_auth(KEY)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(settled["status"], "authorized");
    // Without an API key there is no account.
    let response = app
        .client
        .post(app.url("/sandbox-psp/v1/payments"))
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401);
}

async fn captures_voids_and_refunds_keep_the_ledger_consistent(backend: Backend) {
    let app = spawn_app(backend).await;
    let (_, payment) = authorize(&app, "pm_card_visa", 1000).await;
    let id = payment["id"].as_str().unwrap();
    let path = |op: &str| format!("/payments/{id}/{op}");
    let (status, body) = psp(&app, &path("capture"), None, json!({"amount": 400})).await;
    assert_eq!((status, body["captured_amount"].as_i64()), (200, Some(400)));
    let (status, body) = psp(&app, &path("capture"), None, json!({"amount": 700})).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (409, Some("capture_refused"))
    );
    let (status, body) = psp(&app, &path("capture"), None, json!({})).await;
    assert_eq!(
        (status, body["captured_amount"].as_i64()),
        (200, Some(1000)),
        "the rest by default"
    );
    let (status, body) = psp(&app, &path("refunds"), None, json!({"amount": 300})).await;
    assert_eq!((status, body["refunded_amount"].as_i64()), (200, Some(300)));
    let (status, _) = psp(&app, &path("refunds"), None, json!({"amount": 701})).await;
    assert_eq!(status, 409, "never refund more than captured");
    let (status, _) = psp(&app, &path("void"), None, json!({})).await;
    assert_eq!(status, 409, "no void after capture");

    let (_, other) = authorize(&app, "pm_card_visa", 500).await;
    let other_id = other["id"].as_str().unwrap();
    let (status, body) = psp(&app, &format!("/payments/{other_id}/void"), None, json!({})).await;
    assert_eq!((status, body["status"].as_str()), (200, Some("voided")));
    let (status, _) = psp(
        &app,
        &format!("/payments/{other_id}/capture"),
        None,
        json!({"amount": 1}),
    )
    .await;
    assert_eq!(status, 409, "no capture after void");
    // Another account does not see the payment.
    let response = app
        .client
        .get(app.url(&format!("/sandbox-psp/v1/payments/{id}")))
        .bearer_auth("sbx_another_account_000000000000")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 404);
}

async fn idempotency_keys_make_retries_safe(backend: Backend) {
    let app = spawn_app(backend).await;
    let body = json!({"amount": 1000, "currency": "USD", "payment_method": "pm_card_visa"});
    let (first_status, first) = psp(&app, "/payments", Some("k-1"), body.clone()).await;
    let (again_status, again) = psp(&app, "/payments", Some("k-1"), body).await;
    assert_eq!((first_status, again_status), (201, 201));
    assert_eq!(first, again, "the same payment, not a second one");
    let (status, err) = psp(
        &app,
        "/payments",
        Some("k-1"),
        json!({"amount": 2000, "currency": "USD", "payment_method": "pm_card_visa"}),
    )
    .await;
    assert_eq!(
        (status, err["error"]["code"].as_str()),
        (422, Some("idempotency_error"))
    );
    // A 5xx is not remembered: the retry runs again.
    let failing =
        json!({"amount": 1000, "currency": "USD", "payment_method": "pm_card_processing_error"});
    assert_eq!(
        psp(&app, "/payments", Some("k-2"), failing.clone()).await.0,
        500
    );
    assert_eq!(psp(&app, "/payments", Some("k-2"), failing).await.0, 500);
}

async fn a_timed_out_call_is_resolved_by_retrying_with_its_key(backend: Backend) {
    let app = spawn_app_with(
        backend,
        SpawnOptions {
            configure: Some(Box::new(|config| {
                config.sandbox_psp_timeout_delay = Duration::from_millis(1500)
            })),
            ..Default::default()
        },
    )
    .await;
    let body = json!({"amount": 1000, "currency": "USD", "payment_method": "pm_card_timeout"});
    let timed_out = app
        .client
        .post(app.url("/sandbox-psp/v1/payments"))
        .bearer_auth(KEY)
        .header("idempotency-key", "slow-1")
        .timeout(Duration::from_millis(300))
        .json(&body)
        .send()
        .await;
    assert!(timed_out.is_err(), "the caller gives up: outcome unknown");
    // A retry while the PSP is still working is refused, never doubled.
    let (status, err) = psp(&app, "/payments", Some("slow-1"), body.clone()).await;
    assert_eq!(
        (status, err["error"]["code"].as_str()),
        (409, Some("idempotency_in_progress"))
    );
    tokio::time::sleep(Duration::from_millis(1600)).await;
    let (status, payment) = psp(&app, "/payments", Some("slow-1"), body).await;
    assert_eq!(
        (status, payment["status"].as_str()),
        (201, Some("authorized"))
    );
    let count = "SELECT COUNT(*) FROM sandbox_psp_payments";
    let n: i64 =
        cassa::on_db!(&app.db, pool => sqlx::query_scalar(count).fetch_one(pool).await).unwrap();
    assert_eq!(n, 1, "exactly one payment at the PSP");
}

async fn a_claim_left_by_a_dead_process_is_taken_over(backend: Backend) {
    let app = spawn_app(backend).await;
    let body = json!({"amount": 1000, "currency": "USD", "payment_method": "pm_card_visa"});
    // First call to learn the account id and the request hash the PSP stores.
    let (status, _) = psp(&app, "/payments", Some("probe"), body.clone()).await;
    assert_eq!(status, 201);
    // A claim of the same request under another key, left in flight two minutes ago.
    let orphan = "INSERT INTO sandbox_psp_requests (account, idempotency_key, request_hash, \
        response_status, response_body, created_at) \
        SELECT account, 'orphan', request_hash, 0, '', $1 FROM sandbox_psp_requests WHERE idempotency_key = 'probe'";
    let old = chrono::Utc::now() - chrono::Duration::minutes(2);
    cassa::on_db!(&app.db, pool => sqlx::query(orphan).bind(old).execute(pool).await.map(|_| ()))
        .unwrap();
    let (status, payment) = psp(&app, "/payments", Some("orphan"), body.clone()).await;
    assert_eq!(
        (status, payment["status"].as_str()),
        (201, Some("authorized"))
    );
    let (status, again) = psp(&app, "/payments", Some("orphan"), body).await;
    assert_eq!(
        (status, &again),
        (201, &payment),
        "and is remembered from then on"
    );
}

async fn concurrent_requests_with_one_key_make_one_payment(backend: Backend) {
    let app = spawn_app(backend).await;
    let body = json!({"amount": 1000, "currency": "USD", "payment_method": "pm_card_visa"});
    let mut calls = tokio::task::JoinSet::new();
    for _ in 0..16 {
        let request = app
            .client
            .post(app.url("/sandbox-psp/v1/payments"))
            .bearer_auth(KEY)
            .header("idempotency-key", "same-1")
            .json(&body);
        calls.spawn(async move {
            let response = request.send().await.unwrap();
            let status = response.status().as_u16();
            let replayed = response.headers().contains_key("idempotent-replayed");
            (status, replayed, response.json::<Value>().await.unwrap())
        });
    }
    let (mut originals, mut payments) = (0, Vec::new());
    while let Some(call) = calls.join_next().await {
        let (status, replayed, body) = call.unwrap();
        match status {
            201 => {
                originals += usize::from(!replayed);
                payments.push(body);
            }
            409 => assert_eq!(body["error"]["code"], "idempotency_in_progress"),
            other => panic!("unexpected {other}: {body}"),
        }
    }
    assert_eq!(originals, 1, "one request ran, the others were answered");
    assert!(payments.iter().all(|p| *p == payments[0]), "{payments:?}");
    let count = "SELECT COUNT(*) FROM sandbox_psp_payments";
    let n: i64 =
        cassa::on_db!(&app.db, pool => sqlx::query_scalar(count).fetch_one(pool).await).unwrap();
    assert_eq!(n, 1, "exactly one payment at the PSP");
}

async fn a_replayed_capture_captures_once(backend: Backend) {
    let app = spawn_app(backend).await;
    let (_, payment) = authorize(&app, "pm_card_visa", 1000).await;
    let id = payment["id"].as_str().unwrap();
    let path = format!("/payments/{id}/capture");
    let (status, first) = psp(&app, &path, Some("cap-1"), json!({"amount": 400})).await;
    assert_eq!(
        (status, first["captured_amount"].as_i64()),
        (200, Some(400))
    );
    let (status, again) = psp(&app, &path, Some("cap-1"), json!({"amount": 400})).await;
    assert_eq!((status, &again), (200, &first), "the stored answer");
    let current: Value = app
        .client
        .get(app.url(&format!("/sandbox-psp/v1/payments/{id}")))
        .bearer_auth(KEY)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(current["captured_amount"], 400, "captured once");
    // Without an amount, the rest; replayed as the same answer, not a second capture.
    let (status, rest) = psp(&app, &path, Some("cap-2"), json!({})).await;
    assert_eq!(
        (status, rest["captured_amount"].as_i64()),
        (200, Some(1000))
    );
    assert_eq!(
        psp(&app, &path, Some("cap-2"), json!({})).await,
        (200, rest)
    );
    // Refusals are remembered too, and explained from the current state.
    let (status, refused) = psp(&app, &path, Some("cap-3"), json!({"amount": 1})).await;
    assert_eq!(
        (status, refused["error"]["code"].as_str()),
        (409, Some("capture_refused"))
    );
    assert_eq!(
        psp(&app, &path, Some("cap-3"), json!({"amount": 1})).await,
        (409, refused)
    );
    let (status, err) = psp(&app, &path, None, json!({})).await;
    assert_eq!(
        (status, err["error"]["code"].as_str()),
        (422, Some("invalid_amount")),
        "nothing left to capture"
    );
    let (status, err) = psp(
        &app,
        "/payments/psp_pay_nope/capture",
        Some("cap-4"),
        json!({}),
    )
    .await;
    assert_eq!(
        (status, err["error"]["code"].as_str()),
        (404, Some("resource_missing"))
    );
}

/// A webhook secret sealed by the PSP when it still lived inside Cassa (the same stored form and
/// associated data, written here by hand) opens through the crate: a rotation re-seals it.
async fn secrets_sealed_before_the_psp_crate_still_open(backend: Backend) {
    use base64::Engine;
    let app = spawn_app(backend).await;
    let version = cassa::credentials::keys::primary_version(&app.db)
        .await
        .unwrap();
    let aad = format!("cassa/sandbox_psp_endpoints/v1|acct_legacy|{version}");
    let sealed = app
        .state
        .key_ring
        .seal(version, aad.as_bytes(), b"whsec_bGVnYWN5")
        .unwrap();
    let mut bytes = sealed.nonce;
    bytes.extend_from_slice(&sealed.ciphertext);
    let stored = format!(
        "sealed:{version}:{}",
        base64::engine::general_purpose::STANDARD.encode(bytes)
    );
    const SQL: &str = "INSERT INTO sandbox_psp_endpoints (account, url, secret, updated_at) \
        VALUES ('acct_legacy', 'http://127.0.0.1:1/x', $1, $2)";
    cassa::on_db!(&app.db, pool => sqlx::query(SQL).bind(&stored).bind(chrono::Utc::now())
        .execute(pool).await.map(|_| ()))
    .unwrap();
    let psp = cassa::http::sandbox_psp::state(&app.state);
    assert_eq!(
        cassa_sandbox_psp::sealed_with(&psp, version).await.unwrap(),
        1
    );
    let target = if version == 1 { 2 } else { 1 };
    let rewrapped = cassa_sandbox_psp::rewrap(&psp, target).await.unwrap();
    assert_eq!(rewrapped, 1, "the old row opened and was re-sealed");
    assert_eq!(
        cassa_sandbox_psp::sealed_with(&psp, version).await.unwrap(),
        0
    );
    assert_eq!(
        cassa_sandbox_psp::sealed_with(&psp, target).await.unwrap(),
        1
    );
}

/// The schema the PSP crate ensures is the one Cassa's migrations created: on a migrated
/// database `ensure_schema` changes nothing, and a fresh database gets the same tables, columns,
/// indexes and constraints.
async fn the_psp_schema_is_the_one_cassa_migrations_created(backend: Backend) {
    let app = spawn_app(backend.clone()).await;
    let psp_db = cassa::http::sandbox_psp::state(&app.state).db().clone();
    let migrated = describe_psp_schema(&psp_db).await;
    assert!(migrated.len() > 20, "{migrated:#?}");
    psp_db.ensure_schema().await.unwrap();
    assert_eq!(
        describe_psp_schema(&psp_db).await,
        migrated,
        "ensure_schema changed it"
    );

    let (url, cleanup) = fresh_database(&backend).await;
    let fresh = cassa_sandbox_psp::PspDb::connect(&url, 2).await.unwrap();
    fresh.ensure_schema().await.unwrap();
    let ensured = describe_psp_schema(&fresh).await;
    fresh.close().await;
    cleanup.await;
    assert_eq!(ensured, migrated);
}

/// Tables, columns, indexes and (PostgreSQL) constraints of the PSP's tables, one line each.
async fn describe_psp_schema(db: &cassa_sandbox_psp::PspDb) -> Vec<String> {
    use cassa_sandbox_psp::PspDb;
    let mut lines = Vec::new();
    for table in [
        "sandbox_psp_payments",
        "sandbox_psp_requests",
        "sandbox_psp_endpoints",
    ] {
        match db {
            PspDb::Sqlite(pool) => {
                let columns: Vec<(String, String, i64, Option<String>, i64)> = sqlx::query_as(
                    r#"SELECT name, type, "notnull", dflt_value, pk FROM pragma_table_info($1) ORDER BY cid"#,
                )
                .bind(table)
                .fetch_all(pool)
                .await
                .unwrap();
                lines.extend(columns.into_iter().map(|c| format!("{table} column {c:?}")));
                let indexes: Vec<(String, i64, String)> = sqlx::query_as(
                    r#"SELECT il.name, il."unique", ii.name FROM pragma_index_list($1) il, pragma_index_info(il.name) ii ORDER BY il.name, ii.seqno"#,
                )
                .bind(table)
                .fetch_all(pool)
                .await
                .unwrap();
                lines.extend(indexes.into_iter().map(|i| format!("{table} index {i:?}")));
            }
            PspDb::Postgres(pool) => {
                let columns: Vec<(String, String, String, Option<String>)> = sqlx::query_as(
                    "SELECT column_name::text, data_type::text, is_nullable::text, column_default::text \
                     FROM information_schema.columns WHERE table_schema = 'public' AND table_name = $1 \
                     ORDER BY ordinal_position",
                )
                .bind(table)
                .fetch_all(pool)
                .await
                .unwrap();
                lines.extend(columns.into_iter().map(|c| format!("{table} column {c:?}")));
                let indexes: Vec<(String, String)> = sqlx::query_as(
                    "SELECT indexname::text, indexdef FROM pg_indexes WHERE tablename = $1 ORDER BY indexname",
                )
                .bind(table)
                .fetch_all(pool)
                .await
                .unwrap();
                lines.extend(indexes.into_iter().map(|i| format!("{table} index {i:?}")));
                let constraints: Vec<(String, String)> = sqlx::query_as(
                    "SELECT conname::text, pg_get_constraintdef(oid) FROM pg_constraint \
                     WHERE conrelid = $1::regclass ORDER BY conname",
                )
                .bind(table)
                .fetch_all(pool)
                .await
                .unwrap();
                lines.extend(
                    constraints
                        .into_iter()
                        .map(|c| format!("{table} constraint {c:?}")),
                );
            }
        }
    }
    lines
}

/// A database Cassa never migrated, and how to remove it.
async fn fresh_database(
    backend: &Backend,
) -> (
    String,
    std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>>,
) {
    use sqlx::{Connection, Executor};
    let unique = uuid::Uuid::now_v7().simple().to_string();
    match backend {
        Backend::Sqlite => {
            let dir = std::env::temp_dir().join(format!("cassa-psp-fresh-{unique}"));
            let url = format!("sqlite://{}", dir.join("psp.db").display());
            (
                url,
                Box::pin(async move {
                    let _ = std::fs::remove_dir_all(dir);
                }),
            )
        }
        Backend::Postgres(admin) => {
            let name = format!("cassa_psp_fresh_{unique}");
            let mut conn = sqlx::PgConnection::connect(admin).await.unwrap();
            conn.execute(format!(r#"CREATE DATABASE "{name}""#).as_str())
                .await
                .unwrap();
            let _ = conn.close().await;
            let mut url = url::Url::parse(admin).unwrap();
            url.set_path(&format!("/{name}"));
            let admin = admin.clone();
            (
                url.to_string(),
                Box::pin(async move {
                    let mut conn = sqlx::PgConnection::connect(&admin).await.unwrap();
                    conn.execute(
                        format!(r#"DROP DATABASE IF EXISTS "{name}" WITH (FORCE)"#).as_str(),
                    )
                    .await
                    .unwrap();
                    let _ = conn.close().await;
                }),
            )
        }
    }
}

both_backends!(
    concurrent_requests_with_one_key_make_one_payment,
    a_replayed_capture_captures_once,
    a_claim_left_by_a_dead_process_is_taken_over,
    outcomes_follow_the_test_payment_method,
    captures_voids_and_refunds_keep_the_ledger_consistent,
    idempotency_keys_make_retries_safe,
    a_timed_out_call_is_resolved_by_retrying_with_its_key,
    secrets_sealed_before_the_psp_crate_still_open,
    the_psp_schema_is_the_one_cassa_migrations_created,
);
