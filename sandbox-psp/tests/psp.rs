//! The PSP on its own, without any host: its ledger rules, idempotency, webhooks, sealing and
//! schema, on SQLite and (with `TEST_DATABASE_URL`) PostgreSQL.

use std::{
    sync::{Arc, Mutex},
    time::Duration,
};

use axum::{
    Router,
    body::{Body, Bytes},
    http::{HeaderMap, Method, Request, StatusCode},
};
use cassa_sandbox_psp::{AesGcmSealer, DeliveryPolicy, PspDb, PspState, Sealer};
use chrono::{DateTime, SubsecRound, Utc};
use serde_json::{Value, json};
use tower::ServiceExt;

const KEY: &str = "sbx_crate_test_0123456789abcdef";
const K1: &str = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";
const K2: &str = "ICEiIyQlJicoKSorLC0uLzAxMjM0NTY3ODk6Ozw9Pj8=";
const WEBHOOK_SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

/// A database for one test, removed afterwards.
struct TestDb {
    db: PspDb,
    cleanup: Cleanup,
}

enum Cleanup {
    Dir(std::path::PathBuf),
    Postgres { admin: String, name: String },
}

impl TestDb {
    async fn sqlite() -> Self {
        let dir = std::env::temp_dir().join(format!("sandbox-psp-{}", uuid::Uuid::now_v7()));
        let url = format!("sqlite://{}", dir.join("psp.db").display());
        let db = PspDb::connect(&url, 5).await.expect("sqlite opens");
        TestDb {
            db,
            cleanup: Cleanup::Dir(dir),
        }
    }

    /// A fresh PostgreSQL database, or `None` (the variant is skipped) without
    /// `TEST_DATABASE_URL`; under CI that is a failure.
    async fn postgres() -> Option<Self> {
        use sqlx::{Connection, Executor};
        let admin = match std::env::var("TEST_DATABASE_URL") {
            Ok(url) if !url.trim().is_empty() => url,
            _ if std::env::var_os("CI").is_some() => {
                panic!("TEST_DATABASE_URL must point at PostgreSQL when CI is set")
            }
            _ => {
                eprintln!("skipping the PostgreSQL variant: TEST_DATABASE_URL is not set");
                return None;
            }
        };
        let name = format!("psp_test_{}", uuid::Uuid::now_v7().simple());
        let mut conn = sqlx::PgConnection::connect(&admin).await.expect("postgres");
        conn.execute(format!(r#"CREATE DATABASE "{name}""#).as_str())
            .await
            .expect("create database");
        let _ = conn.close().await;
        let mut url = url::Url::parse(&admin).expect("a URL");
        url.set_path(&format!("/{name}"));
        let db = PspDb::connect(url.as_str(), 5).await.expect("connects");
        Some(TestDb {
            db,
            cleanup: Cleanup::Postgres { admin, name },
        })
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        match &self.cleanup {
            Cleanup::Dir(dir) => {
                let _ = std::fs::remove_dir_all(dir);
            }
            Cleanup::Postgres { admin, name } => {
                let (admin, name) = (admin.clone(), name.clone());
                // Drop cannot block the test's runtime: a thread with its own runtime drops it.
                let _ = std::thread::spawn(move || {
                    use sqlx::{Connection, Executor};
                    let runtime = tokio::runtime::Builder::new_current_thread()
                        .enable_all()
                        .build()
                        .expect("runtime");
                    runtime.block_on(async move {
                        let mut conn = sqlx::PgConnection::connect(&admin).await?;
                        conn.execute(
                            format!(r#"DROP DATABASE IF EXISTS "{name}" WITH (FORCE)"#).as_str(),
                        )
                        .await?;
                        conn.close().await
                    })
                })
                .join();
            }
        }
    }
}

/// Runs a test body on SQLite and PostgreSQL.
macro_rules! both_backends {
    ($($name:ident),* $(,)?) => {$(
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                super::$name(super::TestDb::sqlite().await).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                if let Some(db) = super::TestDb::postgres().await {
                    super::$name(db).await;
                }
            }
        }
    )*};
}

struct Psp {
    state: PspState,
    router: Router,
    _db: TestDb,
}

async fn psp(db: TestDb, configure: impl FnOnce(PspState) -> PspState) -> Psp {
    db.db.ensure_schema().await.expect("schema");
    let sealer = Arc::new(AesGcmSealer::parse(K1).expect("key"));
    let http = cassa_sandbox_psp::default_http_client().expect("client");
    let state = configure(PspState::new(db.db.clone(), sealer, http));
    Psp {
        router: cassa_sandbox_psp::router(state.clone()),
        state,
        _db: db,
    }
}

impl Psp {
    async fn call(
        &self,
        method: Method,
        path: &str,
        idempotency_key: Option<&str>,
        body: Option<Value>,
    ) -> (StatusCode, HeaderMap, Value) {
        self.call_as(KEY, method, path, idempotency_key, body).await
    }

    async fn call_as(
        &self,
        api_key: &str,
        method: Method,
        path: &str,
        idempotency_key: Option<&str>,
        body: Option<Value>,
    ) -> (StatusCode, HeaderMap, Value) {
        let mut request = Request::builder()
            .method(method)
            .uri(path)
            .header("authorization", format!("Bearer {api_key}"));
        if let Some(key) = idempotency_key {
            request = request.header("idempotency-key", key);
        }
        let request = match body {
            Some(body) => request
                .header("content-type", "application/json")
                .body(Body::from(body.to_string())),
            None => request.body(Body::empty()),
        }
        .expect("request");
        let response = self.router.clone().oneshot(request).await.expect("answer");
        let status = response.status();
        let headers = response.headers().clone();
        let bytes = axum::body::to_bytes(response.into_body(), 1 << 20)
            .await
            .expect("body");
        let value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        (status, headers, value)
    }

    async fn pay(&self, method: &str, amount: i64) -> (StatusCode, Value) {
        let body = json!({"amount": amount, "currency": "usd", "payment_method": method});
        let (status, _, value) = self
            .call(Method::POST, "/v1/payments", None, Some(body))
            .await;
        (status, value)
    }

    async fn stored_secrets(&self) -> Vec<String> {
        const SQL: &str = "SELECT secret FROM sandbox_psp_endpoints ORDER BY account";
        match self.state.db() {
            PspDb::Sqlite(pool) => sqlx::query_scalar(SQL).fetch_all(pool).await,
            PspDb::Postgres(pool) => sqlx::query_scalar(SQL).fetch_all(pool).await,
        }
        .expect("secrets")
    }
}

async fn the_schema_is_ensured_idempotently(db: TestDb) {
    db.db.ensure_schema().await.expect("first");
    db.db.ensure_schema().await.expect("again: a no-op");
    let app = psp(db, |s| s).await;
    let (status, payment) = app.pay("pm_card_visa", 1000).await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(payment["currency"], "USD");
}

async fn outcomes_and_ledger_rules(db: TestDb) {
    let app = psp(db, |s| s).await;
    let (status, payment) = app.pay("pm_card_visa", 1000).await;
    assert_eq!(
        (status, payment["status"].as_str()),
        (StatusCode::CREATED, Some("authorized"))
    );
    for (method, code) in [
        ("pm_card_declined", "card_declined"),
        ("pm_card_insufficient_funds", "insufficient_funds"),
    ] {
        let (status, body) = app.pay(method, 1000).await;
        assert_eq!(status, StatusCode::PAYMENT_REQUIRED, "{method}");
        assert_eq!(body["error"]["code"], code);
    }
    let (status, body) = app.pay("pm_card_unknown", 1000).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (
            StatusCode::UNPROCESSABLE_ENTITY,
            Some("invalid_payment_method")
        )
    );
    let (status, body) = app.pay("pm_card_visa", 0).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("invalid_request"))
    );
    let (status, partial) = app.pay("pm_card_partial_authorization", 1001).await;
    assert_eq!(
        (status, partial["amount"].as_i64()),
        (StatusCode::CREATED, Some(500))
    );

    let id = payment["id"].as_str().expect("id");
    let path = |op: &str| format!("/v1/payments/{id}/{op}");
    let (status, _, body) = app
        .call(
            Method::POST,
            &path("capture"),
            None,
            Some(json!({"amount": 400})),
        )
        .await;
    assert_eq!(
        (status, body["captured_amount"].as_i64()),
        (StatusCode::OK, Some(400))
    );
    let (status, _, body) = app
        .call(
            Method::POST,
            &path("capture"),
            None,
            Some(json!({"amount": 700})),
        )
        .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (StatusCode::CONFLICT, Some("capture_refused"))
    );
    let (status, _, body) = app
        .call(
            Method::POST,
            &path("refunds"),
            None,
            Some(json!({"amount": 401})),
        )
        .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (StatusCode::CONFLICT, Some("refund_refused"))
    );
    // A void after a partial capture releases the rest; the payment stays captured.
    let (status, _, body) = app.call(Method::POST, &path("void"), None, None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        (body["status"].as_str(), body["released_amount"].as_i64()),
        (Some("captured"), Some(600))
    );
    let (status, _, body) = app.call(Method::POST, &path("capture"), None, None).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("invalid_amount"))
    );
    let (status, _, body) = app
        .call(Method::GET, &format!("/v1/payments/{id}"), None, None)
        .await;
    assert_eq!(
        (status, body["captured_amount"].as_i64()),
        (StatusCode::OK, Some(400))
    );
    let (status, _, body) = app
        .call(Method::GET, "/v1/payments/psp_pay_nope", None, None)
        .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (StatusCode::NOT_FOUND, Some("resource_missing"))
    );
    // Another account does not see it.
    let (status, _, _) = app
        .call_as(
            "sbx_other_account_0123456789",
            Method::GET,
            &format!("/v1/payments/{id}"),
            None,
            None,
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

async fn callers_are_authenticated_and_outage_accounts_are_down(db: TestDb) {
    let app = psp(db, |s| s).await;
    for bad in ["sk_test_0123456789abcdef", "sbx_short"] {
        let (status, _, body) = app
            .call_as(bad, Method::GET, "/v1/payments/x", None, None)
            .await;
        assert_eq!(
            (status, body["error"]["code"].as_str()),
            (StatusCode::UNAUTHORIZED, Some("authentication_failed"))
        );
    }
    let (status, _, body) = app
        .call_as(
            "sbx_outage_0123456789abcdef",
            Method::GET,
            "/v1/payments/x",
            None,
            None,
        )
        .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (StatusCode::SERVICE_UNAVAILABLE, Some("service_unavailable"))
    );
}

async fn the_account_endpoint_names_the_key_without_moving_money(db: TestDb) {
    let app = psp(db, |s| s).await;
    let (status, _, account) = app.call(Method::GET, "/v1/account", None, None).await;
    assert_eq!(status, StatusCode::OK, "{account}");
    let id = account["id"].as_str().expect("id");
    assert!(id.starts_with("acct_sbx_") && id.len() == 33, "{id}");
    assert_eq!(account["charges_enabled"], true);
    assert_eq!(account["country"], "US");
    // Stable per key, distinct between keys, and nothing of the key itself.
    let (_, _, again) = app.call(Method::GET, "/v1/account", None, None).await;
    assert_eq!(again["id"], id);
    assert!(!account.to_string().contains(KEY));
    let (_, _, other) = app
        .call_as(
            "sbx_other_account_0123456789",
            Method::GET,
            "/v1/account",
            None,
            None,
        )
        .await;
    assert_ne!(other["id"], id);
    let (status, _, body) = app
        .call_as(
            "sk_test_0123456789abcdef",
            Method::GET,
            "/v1/account",
            None,
            None,
        )
        .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (StatusCode::UNAUTHORIZED, Some("authentication_failed"))
    );
    let (status, _, _) = app
        .call_as(
            "sbx_outage_0123456789abcdef",
            Method::GET,
            "/v1/account",
            None,
            None,
        )
        .await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    let (status, _, page) = app
        .call(
            Method::GET,
            "/v1/payments?created_gte=2000-01-01T00:00:00Z&created_lt=2100-01-01T00:00:00Z",
            None,
            None,
        )
        .await;
    assert_eq!(
        (status, page["data"].as_array().map(Vec::len)),
        (StatusCode::OK, Some(0))
    );
}

async fn idempotency_keys_replay_answers_and_forget_server_errors(db: TestDb) {
    let app = psp(db, |s| s).await;
    let body = json!({"amount": 1000, "currency": "USD", "payment_method": "pm_card_visa"});
    let (first_status, first_headers, first) = app
        .call(
            Method::POST,
            "/v1/payments",
            Some("k-1"),
            Some(body.clone()),
        )
        .await;
    let (again_status, again_headers, again) = app
        .call(Method::POST, "/v1/payments", Some("k-1"), Some(body))
        .await;
    assert_eq!((first_status, &first), (again_status, &again));
    assert!(first_headers.get("idempotent-replayed").is_none());
    assert_eq!(again_headers["idempotent-replayed"], "true");
    let other = json!({"amount": 2000, "currency": "USD", "payment_method": "pm_card_visa"});
    let (status, _, err) = app
        .call(Method::POST, "/v1/payments", Some("k-1"), Some(other))
        .await;
    assert_eq!(
        (status, err["error"]["code"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("idempotency_error"))
    );
    // A 5xx is not remembered: the same key may be retried (and fails again here).
    let failing =
        json!({"amount": 1000, "currency": "USD", "payment_method": "pm_card_processing_error"});
    for _ in 0..2 {
        let (status, headers, _) = app
            .call(
                Method::POST,
                "/v1/payments",
                Some("k-2"),
                Some(failing.clone()),
            )
            .await;
        assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
        assert!(headers.get("idempotent-replayed").is_none());
    }
}

async fn a_slow_payment_is_claimed_before_the_delay(db: TestDb) {
    let app = psp(db, |s| s.with_timeout_delay(Duration::from_millis(800))).await;
    let body = json!({"amount": 1000, "currency": "USD", "payment_method": "pm_card_timeout"});
    let slow = {
        let router = app.router.clone();
        let body = body.clone();
        tokio::spawn(async move {
            let request = Request::post("/v1/payments")
                .header("authorization", format!("Bearer {KEY}"))
                .header("idempotency-key", "slow")
                .header("content-type", "application/json")
                .body(Body::from(body.to_string()))
                .expect("request");
            router.oneshot(request).await.expect("answer").status()
        })
    };
    tokio::time::sleep(Duration::from_millis(300)).await;
    let (status, _, err) = app
        .call(
            Method::POST,
            "/v1/payments",
            Some("slow"),
            Some(body.clone()),
        )
        .await;
    assert_eq!(
        (status, err["error"]["code"].as_str()),
        (StatusCode::CONFLICT, Some("idempotency_in_progress"))
    );
    assert_eq!(slow.await.expect("joins"), StatusCode::CREATED);
    let (status, headers, _) = app
        .call(Method::POST, "/v1/payments", Some("slow"), Some(body))
        .await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(headers["idempotent-replayed"], "true");
}

/// A payment created under a key is answered from what the PSP knows before it writes (the
/// key's record is stored answered): the answer, its replay and a later read say the same,
/// down to the stored time's precision, for every outcome.
async fn a_created_payment_is_answered_as_it_is_stored(db: TestDb) {
    let at: DateTime<Utc> = "2030-05-06T07:08:09.123456789Z".parse().expect("instant");
    let app = psp(db, |s| s.with_clock(Arc::new(move || at))).await;
    for (n, method) in ["pm_card_visa", "pm_card_async", "pm_card_declined"]
        .into_iter()
        .enumerate()
    {
        let key = format!("create-{n}");
        let body = json!({"amount": 1200, "currency": "eur", "payment_method": method,
            "reference": "order-7"});
        let (status, headers, first) = app
            .call(Method::POST, "/v1/payments", Some(&key), Some(body.clone()))
            .await;
        assert!(headers.get("idempotent-replayed").is_none(), "{method}");
        let (again_status, again_headers, again) = app
            .call(Method::POST, "/v1/payments", Some(&key), Some(body))
            .await;
        assert_eq!((again_status, &again), (status, &first), "{method}");
        assert_eq!(again_headers["idempotent-replayed"], "true");
        let id = match first["id"].as_str() {
            Some(id) => id.to_owned(),
            // A decline names the payment it recorded in its message.
            None => first["error"]["message"]
                .as_str()
                .and_then(|m| m.split_whitespace().nth(1))
                .expect("the declined payment's id")
                .to_owned(),
        };
        let (read_status, _, read) = app
            .call(Method::GET, &format!("/v1/payments/{id}"), None, None)
            .await;
        assert_eq!(read_status, StatusCode::OK, "{method}");
        if first["id"].is_string() {
            assert_eq!(read, first, "{method}");
        }
        assert_eq!(read["currency"], "EUR");
        assert_eq!(read["reference"], "order-7");
        let created: DateTime<Utc> =
            serde_json::from_value(read["created_at"].clone()).expect("time");
        assert_eq!(created, at.trunc_subsecs(6), "{method}");
    }
}

async fn the_injected_clock_stamps_the_ledger(db: TestDb) {
    let at: DateTime<Utc> = "2030-05-06T07:08:09Z".parse().expect("instant");
    let app = psp(db, |s| s.with_clock(Arc::new(move || at))).await;
    let (_, payment) = app.pay("pm_card_visa", 1000).await;
    let created: DateTime<Utc> =
        serde_json::from_value(payment["created_at"].clone()).expect("time");
    assert_eq!(created, at);
}

/// A webhook receiver on a local port: what it received, body and headers.
struct Receiver {
    url: String,
    received: Arc<Mutex<Vec<(HeaderMap, Bytes)>>>,
}

impl Receiver {
    async fn start() -> Self {
        let received: Arc<Mutex<Vec<(HeaderMap, Bytes)>>> = Arc::default();
        let sink = received.clone();
        let app = Router::new().route(
            "/hooks/{store}",
            axum::routing::post(move |headers: HeaderMap, body: Bytes| {
                let sink = sink.clone();
                async move {
                    sink.lock().expect("lock").push((headers, body));
                    StatusCode::NO_CONTENT
                }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        tokio::spawn(async move { axum::serve(listener, app).await });
        Receiver {
            url: format!("http://{addr}/hooks"),
            received,
        }
    }

    async fn wait_for(&self, n: usize) -> Vec<(HeaderMap, Bytes)> {
        for _ in 0..100 {
            let got = self.received.lock().expect("lock").clone();
            if got.len() >= n {
                return got;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("no webhook received");
    }
}

async fn webhooks_go_only_where_the_policy_allows_signed_with_a_sealed_secret(db: TestDb) {
    let receiver = Receiver::start().await;
    let prefix = format!("{}/", receiver.url);
    let app = psp(db, |s| {
        s.with_delivery_policy(DeliveryPolicy::url_prefixes([prefix]).expect("prefix"))
    })
    .await;
    let register = |url: String| {
        let body = json!({"url": url, "secret": WEBHOOK_SECRET});
        app.call(Method::PUT, "/v1/webhook_endpoint", None, Some(body))
    };
    for refused in [
        "http://169.254.169.254/latest".to_owned(),
        format!("{}x/1", receiver.url),
        format!("{}/../admin", receiver.url),
    ] {
        assert_eq!(
            register(refused.clone()).await.0,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{refused}"
        );
    }
    let bad_secret = json!({"url": format!("{}/s1", receiver.url), "secret": "plain"});
    let (status, _, _) = app
        .call(Method::PUT, "/v1/webhook_endpoint", None, Some(bad_secret))
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    let (status, _, _) = register(format!("{}/s1", receiver.url)).await;
    assert_eq!(status, StatusCode::OK);
    let secrets = app.stored_secrets().await;
    assert!(secrets[0].starts_with("sealed:1:"), "{secrets:?}");
    assert!(!secrets[0].contains("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"));

    let (status, pending) = app.pay("pm_card_async", 1500).await;
    assert_eq!(status, StatusCode::ACCEPTED);
    let id = pending["id"].as_str().expect("id");
    assert!(
        cassa_sandbox_psp::settle(&app.state, id, true)
            .await
            .expect("settles")
    );
    assert!(
        !cassa_sandbox_psp::settle(&app.state, id, true)
            .await
            .expect("no-op"),
        "once"
    );
    let got = receiver.wait_for(1).await;
    let (headers, body) = &got[0];
    let text = |name: &str| headers[name].to_str().expect("text").to_owned();
    let expected = cassa_sandbox_psp::sign_standard(
        WEBHOOK_SECRET,
        &text("webhook-id"),
        text("webhook-timestamp").parse().expect("number"),
        body,
    )
    .expect("signs");
    assert_eq!(text("webhook-signature"), expected);
    let event: Value = serde_json::from_slice(body).expect("json");
    assert_eq!(event["type"], "payment.authorized");
    assert_eq!(event["data"]["payment"]["id"], id);
}

async fn an_endpoint_outside_the_current_policy_gets_nothing(db: TestDb) {
    let receiver = Receiver::start().await;
    let prefix = format!("{}/", receiver.url);
    let open = psp(db, |s| {
        s.with_delivery_policy(DeliveryPolicy::url_prefixes([prefix]).expect("prefix"))
    })
    .await;
    let body = json!({"url": format!("{}/s1", receiver.url), "secret": WEBHOOK_SECRET});
    assert_eq!(
        open.call(Method::PUT, "/v1/webhook_endpoint", None, Some(body))
            .await
            .0,
        StatusCode::OK
    );
    // The same database under a policy that no longer allows the endpoint.
    let closed = PspState::new(
        open.state.db().clone(),
        Arc::new(AesGcmSealer::parse(K1).expect("key")),
        cassa_sandbox_psp::default_http_client().expect("client"),
    );
    let (_, pending) = open.pay("pm_card_async", 1500).await;
    let id = pending["id"].as_str().expect("id");
    assert!(
        cassa_sandbox_psp::settle(&closed, id, true)
            .await
            .expect("settles")
    );
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(receiver.received.lock().expect("lock").is_empty());
}

async fn rotation_rewraps_secrets_and_legacy_plaintext_is_sealed_on_use(db: TestDb) {
    let receiver = Receiver::start().await;
    let prefix = format!("{}/", receiver.url);
    let policy = DeliveryPolicy::url_prefixes([prefix]).expect("prefix");
    let app = psp(db, |s| s.with_delivery_policy(policy.clone())).await;
    let body = json!({"url": format!("{}/s1", receiver.url), "secret": WEBHOOK_SECRET});
    app.call(Method::PUT, "/v1/webhook_endpoint", None, Some(body))
        .await;
    assert_eq!(
        cassa_sandbox_psp::sealed_with(&app.state, 1)
            .await
            .expect("count"),
        1
    );

    let both: Arc<dyn Sealer> =
        Arc::new(AesGcmSealer::parse(&format!("1:{K1},2:{K2}")).expect("keys"));
    let rotated = PspState::new(
        app.state.db().clone(),
        both.clone(),
        cassa_sandbox_psp::default_http_client().expect("client"),
    )
    .with_delivery_policy(policy.clone());
    assert_eq!(
        cassa_sandbox_psp::rewrap(&rotated, 2)
            .await
            .expect("rewraps"),
        1
    );
    assert_eq!(
        cassa_sandbox_psp::rewrap(&rotated, 2).await.expect("again"),
        0
    );
    assert_eq!(
        cassa_sandbox_psp::sealed_with(&rotated, 1)
            .await
            .expect("count"),
        0
    );
    assert_eq!(
        cassa_sandbox_psp::sealed_with(&rotated, 2)
            .await
            .expect("count"),
        1
    );

    // A row from before secrets were sealed: delivered with it, and sealed in place.
    const LEGACY: &str = "UPDATE sandbox_psp_endpoints SET secret = $1";
    match rotated.db() {
        PspDb::Sqlite(pool) => sqlx::query(LEGACY)
            .bind(WEBHOOK_SECRET)
            .execute(pool)
            .await
            .map(|_| ()),
        PspDb::Postgres(pool) => sqlx::query(LEGACY)
            .bind(WEBHOOK_SECRET)
            .execute(pool)
            .await
            .map(|_| ()),
    }
    .expect("legacy row");
    let (_, pending) = app.pay("pm_card_async", 1500).await;
    let id = pending["id"].as_str().expect("id");
    assert!(
        cassa_sandbox_psp::settle(&rotated, id, false)
            .await
            .expect("settles")
    );
    let got = receiver.wait_for(1).await;
    let event: Value = serde_json::from_slice(&got[0].1).expect("json");
    assert_eq!(event["type"], "payment.failed");
    assert_eq!(event["data"]["payment"]["failure_code"], "async_declined");
    let secrets = app.stored_secrets().await;
    assert!(secrets[0].starts_with("sealed:2:"), "{secrets:?}");
}

both_backends!(
    the_schema_is_ensured_idempotently,
    outcomes_and_ledger_rules,
    callers_are_authenticated_and_outage_accounts_are_down,
    the_account_endpoint_names_the_key_without_moving_money,
    idempotency_keys_replay_answers_and_forget_server_errors,
    a_slow_payment_is_claimed_before_the_delay,
    the_injected_clock_stamps_the_ledger,
    a_created_payment_is_answered_as_it_is_stored,
    webhooks_go_only_where_the_policy_allows_signed_with_a_sealed_secret,
    an_endpoint_outside_the_current_policy_gets_nothing,
    rotation_rewraps_secrets_and_legacy_plaintext_is_sealed_on_use,
);
