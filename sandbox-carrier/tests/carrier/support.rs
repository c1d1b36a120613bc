//! What the carrier's tests share: a database per test (SQLite, and PostgreSQL with
//! `TEST_DATABASE_URL`), a carrier on it with a clock the test moves, requests through the
//! router, and a local webhook receiver.

use std::{
    sync::{Arc, Mutex},
    time::Duration,
};

use axum::{
    Router,
    body::{Body, Bytes},
    http::{HeaderMap, Method, Request, StatusCode},
};
use cassa_sandbox_carrier::{AesGcmSealer, CarrierDb, CarrierState};
use chrono::{DateTime, Utc};
use serde_json::{Value, json};
use tower::ServiceExt;

pub const KEY: &str = "scr_crate_test_0123456789abcdef";
pub const OTHER_KEY: &str = "scr_other_account_0123456789";
pub const K1: &str = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";
pub const K2: &str = "ICEiIyQlJicoKSorLC0uLzAxMjM0NTY3ODk6Ozw9Pj8=";

/// A database for one test, removed afterwards.
pub struct TestDb {
    pub db: CarrierDb,
    cleanup: Cleanup,
}

enum Cleanup {
    Dir(std::path::PathBuf),
    Postgres { admin: String, name: String },
}

impl TestDb {
    pub async fn sqlite() -> Self {
        let dir = std::env::temp_dir().join(format!("sandbox-carrier-{}", uuid::Uuid::now_v7()));
        let url = format!("sqlite://{}", dir.join("carrier.db").display());
        let db = CarrierDb::connect(&url, 5).await.expect("sqlite opens");
        TestDb {
            db,
            cleanup: Cleanup::Dir(dir),
        }
    }

    /// A fresh PostgreSQL database, or `None` (the variant is skipped) without
    /// `TEST_DATABASE_URL`; under CI that is a failure.
    pub async fn postgres() -> Option<Self> {
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
        let name = format!("carrier_test_{}", uuid::Uuid::now_v7().simple());
        let mut conn = sqlx::PgConnection::connect(&admin).await.expect("postgres");
        conn.execute(format!(r#"CREATE DATABASE "{name}""#).as_str())
            .await
            .expect("create database");
        let _ = conn.close().await;
        let mut url = url::Url::parse(&admin).expect("a URL");
        url.set_path(&format!("/{name}"));
        let db = CarrierDb::connect(url.as_str(), 5).await.expect("connects");
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

/// Runs each test body on SQLite and PostgreSQL.
#[macro_export]
macro_rules! both_backends {
    ($($name:ident),* $(,)?) => {$(
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                super::$name($crate::support::TestDb::sqlite().await).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                if let Some(db) = $crate::support::TestDb::postgres().await {
                    super::$name(db).await;
                }
            }
        }
    )*};
}

/// A clock the test sets and moves.
#[derive(Clone)]
pub struct TestClock(Arc<Mutex<DateTime<Utc>>>);

impl TestClock {
    pub fn at(start: &str) -> Self {
        TestClock(Arc::new(Mutex::new(start.parse().expect("an instant"))))
    }

    pub fn now(&self) -> DateTime<Utc> {
        *self.0.lock().expect("lock")
    }

    pub fn advance(&self, by: chrono::Duration) {
        *self.0.lock().expect("lock") += by;
    }
}

/// When every test's clock starts.
pub const START: &str = "2030-03-04T05:06:07Z";

/// The carrier under test, on its own database, with a clock the test moves.
pub struct Carrier {
    pub state: CarrierState,
    pub router: Router,
    pub clock: TestClock,
    _db: TestDb,
}

pub async fn carrier(db: TestDb, configure: impl FnOnce(CarrierState) -> CarrierState) -> Carrier {
    db.db.ensure_schema().await.expect("schema");
    let sealer = Arc::new(AesGcmSealer::parse(K1).expect("key"));
    let http = cassa_sandbox_carrier::default_http_client().expect("client");
    let clock = TestClock::at(START);
    let reading = clock.clone();
    let state =
        CarrierState::new(db.db.clone(), sealer, http).with_clock(Arc::new(move || reading.now()));
    let state = configure(state);
    Carrier {
        router: cassa_sandbox_carrier::router(state.clone()),
        state,
        clock,
        _db: db,
    }
}

/// An answer: status, headers, body bytes.
pub struct Answer {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub bytes: Bytes,
}

impl Answer {
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.bytes).unwrap_or(Value::Null)
    }

    /// `(status, error code)` of an error answer.
    pub fn error(&self) -> (StatusCode, String) {
        let body = self.json();
        (
            self.status,
            body["error"]["code"].as_str().unwrap_or("").to_owned(),
        )
    }
}

pub fn request(
    api_key: &str,
    method: Method,
    path: &str,
    idempotency_key: Option<&str>,
    body: Option<Value>,
) -> Request<Body> {
    let mut request = Request::builder()
        .method(method)
        .uri(path)
        .header("authorization", format!("Bearer {api_key}"));
    if let Some(key) = idempotency_key {
        request = request.header("idempotency-key", key);
    }
    match body {
        Some(body) => request
            .header("content-type", "application/json")
            .body(Body::from(body.to_string())),
        None => request.body(Body::empty()),
    }
    .expect("request")
}

pub async fn send(router: &Router, request: Request<Body>) -> Answer {
    let response = router.clone().oneshot(request).await.expect("answer");
    let status = response.status();
    let headers = response.headers().clone();
    let bytes = axum::body::to_bytes(response.into_body(), 16 << 20)
        .await
        .expect("body");
    Answer {
        status,
        headers,
        bytes,
    }
}

impl Carrier {
    pub async fn call(
        &self,
        method: Method,
        path: &str,
        idempotency_key: Option<&str>,
        body: Option<Value>,
    ) -> Answer {
        self.call_as(KEY, method, path, idempotency_key, body).await
    }

    pub async fn call_as(
        &self,
        api_key: &str,
        method: Method,
        path: &str,
        idempotency_key: Option<&str>,
        body: Option<Value>,
    ) -> Answer {
        send(
            &self.router,
            request(api_key, method, path, idempotency_key, body),
        )
        .await
    }

    /// Rates for one 1 kg box from Austin, US to `to`.
    pub async fn rates_to(&self, to: Value) -> Answer {
        let body = json!({
            "from": address("Austin", "78701", "US"),
            "to": to,
            "packages": [parcel(1000, 200, 150, 100)],
            "currency": "USD",
        });
        self.call(Method::POST, "/v1/rates", None, Some(body)).await
    }

    /// The cheapest rate's id for a US shipment to postal code `postal_code`.
    pub async fn rate_id(&self, postal_code: &str) -> String {
        let answer = self.rates_to(address("Denver", postal_code, "US")).await;
        assert_eq!(answer.status, StatusCode::OK, "{:?}", answer.json());
        answer.json()["rates"][0]["id"]
            .as_str()
            .expect("a rate")
            .to_owned()
    }

    pub async fn buy(&self, rate_id: &str, key: &str) -> Answer {
        let body = json!({"rate_id": rate_id, "reference": format!("order-{key}")});
        self.call(Method::POST, "/v1/labels", Some(key), Some(body))
            .await
    }

    /// A label bought for a US shipment to `postal_code`.
    pub async fn label(&self, postal_code: &str) -> Value {
        let rate = self.rate_id(postal_code).await;
        let answer = self.buy(&rate, &format!("buy-{rate}")).await;
        assert_eq!(answer.status, StatusCode::CREATED, "{:?}", answer.json());
        answer.json()
    }

    pub async fn get_label(&self, id: &str) -> Value {
        let answer = self
            .call(Method::GET, &format!("/v1/labels/{id}"), None, None)
            .await;
        assert_eq!(answer.status, StatusCode::OK);
        answer.json()
    }

    /// The codes of a label's events, oldest first.
    pub async fn codes(&self, id: &str) -> Vec<String> {
        codes(&self.get_label(id).await)
    }

    pub async fn scalar(&self, sql: &str) -> i64 {
        match self.state.db() {
            CarrierDb::Sqlite(pool) => sqlx::query_scalar(sql).fetch_one(pool).await,
            CarrierDb::Postgres(pool) => sqlx::query_scalar(sql).fetch_one(pool).await,
        }
        .expect("scalar")
    }

    pub async fn strings(&self, sql: &str) -> Vec<String> {
        match self.state.db() {
            CarrierDb::Sqlite(pool) => sqlx::query_scalar(sql).fetch_all(pool).await,
            CarrierDb::Postgres(pool) => sqlx::query_scalar(sql).fetch_all(pool).await,
        }
        .expect("strings")
    }
}

pub fn codes(label: &Value) -> Vec<String> {
    label["events"]
        .as_array()
        .expect("events")
        .iter()
        .map(|e| e["code"].as_str().expect("code").to_owned())
        .collect()
}

pub fn address(city: &str, postal_code: &str, country: &str) -> Value {
    json!({
        "name": format!("Someone in {city}"),
        "line1": "1 Main Street",
        "line2": null,
        "city": city,
        "postal_code": postal_code,
        "subdivision": null,
        "country": country,
    })
}

pub fn parcel(weight_grams: i64, length_mm: i64, width_mm: i64, height_mm: i64) -> Value {
    json!({
        "weight_grams": weight_grams,
        "length_mm": length_mm,
        "width_mm": width_mm,
        "height_mm": height_mm,
    })
}

/// A webhook receiver on a local port: what it received, and what it answers.
pub struct Receiver {
    pub url: String,
    pub received: Arc<Mutex<Vec<(HeaderMap, Bytes)>>>,
}

impl Receiver {
    /// Answers `204` to everything.
    pub async fn start() -> Self {
        Self::answering(StatusCode::NO_CONTENT).await
    }

    pub async fn answering(status: StatusCode) -> Self {
        let received: Arc<Mutex<Vec<(HeaderMap, Bytes)>>> = Arc::default();
        let sink = received.clone();
        let app = Router::new().route(
            "/hooks/{store}",
            axum::routing::post(move |headers: HeaderMap, body: Bytes| {
                let sink = sink.clone();
                async move {
                    sink.lock().expect("lock").push((headers, body));
                    status
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

    pub fn count(&self) -> usize {
        self.received.lock().expect("lock").len()
    }

    /// The bodies received so far, as JSON.
    pub fn events(&self) -> Vec<Value> {
        self.received
            .lock()
            .expect("lock")
            .iter()
            .map(|(_, body)| serde_json::from_slice(body).expect("json"))
            .collect()
    }

    pub async fn wait_for(&self, n: usize) -> Vec<(HeaderMap, Bytes)> {
        for _ in 0..100 {
            let got = self.received.lock().expect("lock").clone();
            if got.len() >= n {
                return got;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("fewer than {n} webhooks received");
    }
}
