//! Load harness: starts the release `cassa` binary on a fresh SQLite and/or PostgreSQL database,
//! seeds a store, and runs fixed scenarios against it, printing throughput, latency percentiles,
//! errors and the server's peak RSS as a table and as JSON. On PostgreSQL it also runs `pgbench`
//! with exactly the database writes of one payment (authorize + capture) on the same schema, so
//! our throughput can be read as a fraction of the database's own limit.
//!
//! `scripts/bench` builds the binaries and runs this; see `docs/performance.md`.

use std::{
    collections::BTreeMap,
    process::{Child, Command, Stdio},
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use serde_json::{Value, json};
use uuid::Uuid;

const ADMIN_EMAIL: &str = "bench@cassa.test";
const ADMIN_PASSWORD: &str = "bench-admin-password";
const WEBHOOK_SECRET: &str = "whsec_YmVuY2ggd2ViaG9vayBzaWduaW5nIHNlY3JldCAzMiE=";
const MASTER_KEYS: &str = "1:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";

struct Options {
    server: String,
    backends: Vec<String>,
    duration: Duration,
    concurrency: usize,
    ledger_rows: i64,
    pg_url: String,
    json: Option<String>,
}

fn options() -> Options {
    let mut o = Options {
        server: "target/release/cassa".into(),
        backends: vec!["sqlite".into(), "postgres".into()],
        duration: Duration::from_secs(10),
        concurrency: 32,
        ledger_rows: 1_000_000,
        pg_url: "postgres://postgres@127.0.0.1:5432/postgres".into(),
        json: None,
    };
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut i = 0;
    while i < args.len() {
        let value = args.get(i + 1).cloned().unwrap_or_default();
        match args[i].as_str() {
            "--server" => o.server = value,
            "--backend" => {
                o.backends = if value == "both" {
                    vec!["sqlite".into(), "postgres".into()]
                } else {
                    vec![value]
                }
            }
            "--duration" => {
                o.duration = Duration::from_secs(value.parse().expect("--duration secs"))
            }
            "--concurrency" => o.concurrency = value.parse().expect("--concurrency n"),
            "--ledger-rows" => o.ledger_rows = value.parse().expect("--ledger-rows n"),
            "--pg-url" => o.pg_url = value,
            "--json" => o.json = Some(value),
            other => panic!("unknown option {other}"),
        }
        i += 2;
    }
    o
}

/// Latencies of one scenario.
#[derive(Default)]
struct Recorder {
    micros: Mutex<Vec<u32>>,
    errors: AtomicU64,
    first_error: Mutex<Option<String>>,
}

impl Recorder {
    fn ok(&self, started: Instant) {
        let us = started.elapsed().as_micros().min(u32::MAX as u128) as u32;
        if let Ok(mut v) = self.micros.lock() {
            v.push(us);
        }
    }

    fn err(&self, what: String) {
        self.errors.fetch_add(1, Ordering::Relaxed);
        if let Ok(mut first) = self.first_error.lock()
            && first.is_none()
        {
            *first = Some(what);
        }
    }
}

/// A scenario's result.
struct Outcome {
    name: String,
    backend: String,
    /// Units per second (payments for authorize+capture, requests otherwise).
    throughput: f64,
    unit: &'static str,
    requests: usize,
    errors: u64,
    p50_ms: f64,
    p99_ms: f64,
    p999_ms: f64,
    first_error: Option<String>,
}

fn percentile(sorted: &[u32], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let idx = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[idx.min(sorted.len() - 1)] as f64 / 1000.0
}

fn outcome(
    name: &str,
    backend: &str,
    rec: &Recorder,
    units: u64,
    elapsed: Duration,
    unit: &'static str,
) -> Outcome {
    let mut v = rec.micros.lock().map(|v| v.clone()).unwrap_or_default();
    v.sort_unstable();
    Outcome {
        name: name.into(),
        backend: backend.into(),
        throughput: units as f64 / elapsed.as_secs_f64(),
        unit,
        requests: v.len(),
        errors: rec.errors.load(Ordering::Relaxed),
        p50_ms: percentile(&v, 0.50),
        p99_ms: percentile(&v, 0.99),
        p999_ms: percentile(&v, 0.999),
        first_error: rec.first_error.lock().ok().and_then(|e| e.clone()),
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// Peak resident set of a process, from `/proc` (kB).
fn rss_kb(pid: u32, field: &str) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find(|l| l.starts_with(field))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
}

struct Server {
    child: Child,
    base: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start_server(path: &str, database_url: &str, data_dir: &str) -> Server {
    let port = free_port();
    let child = Command::new(path)
        .arg("serve")
        .env("DATABASE_URL", database_url)
        .env("CASSA_DATA_DIR", data_dir)
        .env("CASSA_LISTEN_ADDR", format!("127.0.0.1:{port}"))
        .env("CASSA_ADMIN_EMAIL", ADMIN_EMAIL)
        .env("CASSA_ADMIN_PASSWORD", ADMIN_PASSWORD)
        .env("CASSA_MASTER_KEYS", MASTER_KEYS)
        .env("CASSA_DB_MAX_CONNECTIONS", "16")
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap_or_else(|e| {
            panic!("cannot start {path}: {e} (build it with cargo build --release -p cassa)")
        });
    Server {
        child,
        base: format!("http://127.0.0.1:{port}"),
    }
}

struct Api {
    http: reqwest::Client,
    base: String,
}

impl Api {
    async fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        token: &str,
        key: Option<&str>,
        body: Option<&Value>,
    ) -> Result<Value, String> {
        let mut r = self
            .http
            .request(method, format!("{}{path}", self.base))
            .bearer_auth(token);
        if let Some(k) = key {
            r = r.header("idempotency-key", k);
        }
        if let Some(b) = body {
            r = r.json(b);
        }
        let response = r.send().await.map_err(|e| e.to_string())?;
        let status = response.status();
        let value: Value = response.json().await.unwrap_or(Value::Null);
        if status.is_success() {
            Ok(value)
        } else {
            Err(format!("{path}: {status} {value}"))
        }
    }

    async fn post(&self, path: &str, token: &str, body: Value) -> Result<Value, String> {
        let key = Uuid::now_v7().to_string();
        self.send(reqwest::Method::POST, path, token, Some(&key), Some(&body))
            .await
    }
}

struct Seeded {
    key: String,
    store_id: String,
    tokens: Vec<String>,
    orders: Mutex<Vec<(String, usize)>>,
}

async fn seed(api: &Api, orders: usize, concurrency: usize) -> Result<Arc<Seeded>, String> {
    let login: Value = api
        .http
        .post(format!("{}/api/v1/auth/token", api.base))
        .json(&json!({"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD}))
        .send()
        .await
        .map_err(|e| e.to_string())?
        .json()
        .await
        .map_err(|e| e.to_string())?;
    let admin = login["token"].as_str().ok_or("no admin token")?.to_owned();
    let store = api
        .post(
            "/api/v1/platform/stores",
            &admin,
            json!({"name": "Bench", "currency": "USD"}),
        )
        .await?;
    let key = store["sandbox_secret_key"]
        .as_str()
        .ok_or("no store key")?
        .to_owned();
    let store_id = store["id"].as_str().ok_or("no store id")?.to_owned();
    api.send(
        reqwest::Method::PUT,
        "/api/v1/admin/credentials/sandbox/sandbox",
        &key,
        Some(&Uuid::now_v7().to_string()),
        Some(&json!({"api_key": format!("sbx_bench_{}", Uuid::now_v7().simple()), "webhook_secret": WEBHOOK_SECRET})),
    )
    .await?;
    api.send(reqwest::Method::PUT, "/api/v1/admin/shipping/rates", &key, Some(&Uuid::now_v7().to_string()),
        Some(&json!({"rates": [{"service": "standard", "country": "US", "max_weight_grams": 100000, "amount": 500, "currency": "USD"}]}))).await?;
    api.send(reqwest::Method::PUT, "/api/v1/admin/tax/rates", &key, Some(&Uuid::now_v7().to_string()),
        Some(&json!({"rules": [{"country": "US", "subdivision": "CA", "tax_code": "*", "rate": "0.0825"}]}))).await?;
    let product = api
        .post("/api/v1/admin/products", &key, json!({"sku": "BENCH-1", "name": "Bench item", "unit_amount": 2500, "currency": "USD", "weight_grams": 300}))
        .await?;
    let mut tokens = Vec::new();
    for i in 0..concurrency.max(1) {
        let c = api
            .post(
                "/api/v1/admin/customers",
                &key,
                json!({"name": format!("Customer {i}")}),
            )
            .await?;
        let id = c["id"].as_str().ok_or("no customer id")?;
        let t = api
            .post(
                &format!("/api/v1/admin/customers/{id}/tokens"),
                &key,
                json!({}),
            )
            .await?;
        tokens.push(t["token"].as_str().ok_or("no token")?.to_owned());
    }
    let seeded = Arc::new(Seeded {
        key,
        store_id,
        tokens,
        orders: Mutex::new(Vec::new()),
    });
    // Orders are placed before the clock starts: a payment is quote + authorize + capture.
    let per = orders.div_ceil(concurrency.max(1));
    let mut tasks = tokio::task::JoinSet::new();
    for w in 0..concurrency.max(1) {
        let api = Api {
            http: api.http.clone(),
            base: api.base.clone(),
        };
        let seeded = seeded.clone();
        let product = product["id"].clone();
        tasks.spawn(async move {
            let token = seeded.tokens[w].clone();
            let mut mine = Vec::new();
            for _ in 0..per {
                let order = api.post("/api/v1/me/orders", &token, json!({
                    "items": [{"product_id": product, "quantity": 1}],
                    "shipping_address": {"name": "Bench", "line1": "1 Main St", "city": "Town",
                        "subdivision": "CA", "postal_code": "90001", "country": "US"},
                })).await?;
                mine.push((order["id"].as_str().unwrap_or_default().to_owned(), w));
            }
            if let Ok(mut all) = seeded.orders.lock() {
                all.extend(mine);
            }
            Ok::<_, String>(())
        });
    }
    while let Some(r) = tasks.join_next().await {
        r.map_err(|e| e.to_string())??;
    }
    Ok(seeded)
}

type Replay = (String, String, String, Value);

async fn authorize_capture(
    api: &Arc<Api>,
    s: &Arc<Seeded>,
    o: &Options,
    backend: &str,
    replays: &Arc<Mutex<Vec<Replay>>>,
    rate: Option<f64>,
) -> Outcome {
    let rec = Arc::new(Recorder::default());
    let payments = Arc::new(AtomicU64::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let started = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    // Paced runs spread `rate` payments/s over the tasks (an open-ish loop at a fixed rate).
    let gap = rate.map(|r| Duration::from_secs_f64(o.concurrency as f64 / r.max(0.1)));
    let tasks_n = o.concurrency as u32;
    for task in 0..o.concurrency {
        let (api, s, rec, payments, stop, replays) = (
            api.clone(),
            s.clone(),
            rec.clone(),
            payments.clone(),
            stop.clone(),
            replays.clone(),
        );
        tasks.spawn(async move {
            // Staggered starts: the tasks' slots interleave instead of firing together.
            let mut next = tokio::time::Instant::now()
                + gap.map(|g| g * task as u32 / tasks_n).unwrap_or_default();
            while !stop.load(Ordering::Relaxed) {
                if let Some(gap) = gap {
                    next += gap;
                    tokio::time::sleep_until(next).await;
                }
                let Some((order, w)) = s.orders.lock().ok().and_then(|mut v| v.pop()) else { break };
                let token = &s.tokens[w];
                let t = Instant::now();
                let quote = match api.post("/api/v1/me/checkout/quote", token, json!({"order_id": order})).await {
                    Ok(q) => { rec.ok(t); q }
                    Err(e) => { rec.err(e); continue; }
                };
                let t = Instant::now();
                let intent = match api.post(&format!("/api/v1/me/orders/{order}/payments/authorize"), token,
                    json!({"snapshot_id": quote["snapshot_id"], "payment_method": "pm_card_visa"})).await {
                    Ok(i) => { rec.ok(t); i }
                    Err(e) => { rec.err(e); continue; }
                };
                let path = format!("/api/v1/admin/orders/{order}/payments/{}/capture", intent["id"].as_str().unwrap_or_default());
                let key = Uuid::now_v7().to_string();
                let body = json!({"amount": intent["amount"]});
                let t = Instant::now();
                match api.send(reqwest::Method::POST, &path, &s.key, Some(&key), Some(&body)).await {
                    Ok(_) => {
                        rec.ok(t);
                        payments.fetch_add(1, Ordering::Relaxed);
                        if let Ok(mut r) = replays.lock() {
                            r.push((path, key, s.key.clone(), body));
                        }
                    }
                    Err(e) => rec.err(e),
                }
            }
        });
    }
    let deadline = o.duration;
    tokio::time::sleep(deadline).await;
    stop.store(true, Ordering::Relaxed);
    while tasks.join_next().await.is_some() {}
    outcome(
        if rate.is_some() {
            "authorize+capture @ half"
        } else {
            "authorize+capture"
        },
        backend,
        &rec,
        payments.load(Ordering::Relaxed),
        started.elapsed(),
        "payments/s",
    )
}

/// Runs `call` from `concurrency` tasks for the configured duration; `call` gets a sequence
/// number and returns `Err` on failure.
async fn closed_loop<F, Fut>(
    o: &Options,
    clients: usize,
    backend: &str,
    name: &str,
    call: F,
) -> Outcome
where
    F: Fn(u64) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = Result<(), String>> + Send,
{
    let rec = Arc::new(Recorder::default());
    let done = Arc::new(AtomicU64::new(0));
    let seq = Arc::new(AtomicU64::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let call = Arc::new(call);
    let started = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..clients {
        let (rec, done, seq, stop, call) = (
            rec.clone(),
            done.clone(),
            seq.clone(),
            stop.clone(),
            call.clone(),
        );
        tasks.spawn(async move {
            while !stop.load(Ordering::Relaxed) {
                let n = seq.fetch_add(1, Ordering::Relaxed);
                let t = Instant::now();
                match call(n).await {
                    Ok(()) => {
                        rec.ok(t);
                        done.fetch_add(1, Ordering::Relaxed);
                    }
                    Err(e) => rec.err(e),
                }
            }
        });
    }
    tokio::time::sleep(o.duration).await;
    stop.store(true, Ordering::Relaxed);
    while tasks.join_next().await.is_some() {}
    outcome(
        name,
        backend,
        &rec,
        done.load(Ordering::Relaxed),
        started.elapsed(),
        "requests/s",
    )
}

fn random(n: u64) -> u64 {
    // A cheap, well-mixed hash of the sequence number (splitmix64).
    let mut z = n.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// Bulk-inserts `rows` ledger transactions (a quarter as many orders, snapshots and intents,
/// four transactions each) straight into the database: the API would take hours.
async fn bulk_ledger(
    database_url: &str,
    store_id: &str,
    rows: i64,
) -> Result<(Vec<String>, Vec<String>), String> {
    let intents = rows / 4;
    let store: Uuid = store_id.parse().map_err(|e| format!("{e}"))?;
    let now = chrono::Utc::now();
    if database_url.starts_with("postgres") {
        let pool = sqlx::postgres::PgPoolOptions::new()
            .max_connections(2)
            .connect(database_url)
            .await
            .map_err(|e| e.to_string())?;
        let customer: Uuid =
            sqlx::query_scalar("SELECT id FROM customers WHERE store_id = $1 LIMIT 1")
                .bind(store)
                .fetch_one(&pool)
                .await
                .map_err(|e| e.to_string())?;
        // A plain table (dropped below): the statements may run on different connections.
        let create = format!(
            "CREATE TABLE bulk AS SELECT g AS n, gen_random_uuid() AS order_id, \
             gen_random_uuid() AS snapshot_id, gen_random_uuid() AS intent_id \
             FROM generate_series(1, {intents}) g"
        );
        sqlx::query(&create)
            .execute(&pool)
            .await
            .map_err(|e| e.to_string())?;
        let statements = [
            "INSERT INTO orders (id, store_id, environment, customer_id, status, currency, shipping_address, revision, created_at, updated_at) \
             SELECT order_id, $1, 'sandbox', $2, 'paid', 'USD', '{}', 1, $3 - n * interval '1 second', $3 FROM bulk",
            "INSERT INTO order_checkout_snapshots (id, order_id, store_id, environment, customer_id, order_revision, currency, subtotal, shipping, tax, total, shipping_service, shipping_provider, tax_provider, created_at, expires_at) \
             SELECT snapshot_id, order_id, $1, 'sandbox', $2, 1, 'USD', 2500, 500, 206, 3206, 'standard', 'table_rate', 'rules', $3, $3 FROM bulk",
            "INSERT INTO payment_intents (id, store_id, environment, order_id, snapshot_id, customer_id, provider, provider_payment_id, payment_method, status, amount, authorized_amount, captured_amount, refunded_amount, capture_reserved, refund_reserved, void_pending, currency, version, created_at, updated_at) \
             SELECT intent_id, $1, 'sandbox', order_id, snapshot_id, $2, 'sandbox', 'psp_bulk_' || n, 'pm_card_visa', 'partially_refunded', 3206, 3206, 3206, 1000, 0, 0, false, 'USD', 4, $3 - n * interval '1 second', $3 FROM bulk",
            "INSERT INTO payment_transactions (id, payment_intent_id, store_id, environment, operation, idempotency_key, amount, currency, status, correlation_id, actor, created_at, updated_at) \
             SELECT gen_random_uuid(), intent_id, $1, 'sandbox', op, 'bulk-' || n || '-' || op || '-' || k, amt, 'USD', 'succeeded', 'bulk', 'bulk', $3 - n * interval '1 second', $3 \
             FROM bulk, (VALUES ('authorize', 3206, 1), ('capture', 2000, 2), ('capture', 1206, 3), ('refund', 1000, 4)) AS t(op, amt, k)",
        ];
        for sql in statements {
            sqlx::query(sql)
                .bind(store)
                .bind(customer)
                .bind(now)
                .execute(&pool)
                .await
                .map_err(|e| e.to_string())?;
        }
        sqlx::query("ANALYZE")
            .execute(&pool)
            .await
            .map_err(|e| e.to_string())?;
        let sample: Vec<(Uuid, Uuid)> =
            sqlx::query_as("SELECT intent_id, order_id FROM bulk WHERE n % 997 = 0")
                .fetch_all(&pool)
                .await
                .map_err(|e| e.to_string())?;
        sqlx::query("DROP TABLE bulk")
            .execute(&pool)
            .await
            .map_err(|e| e.to_string())?;
        pool.close().await;
        Ok((
            sample.iter().map(|s| s.0.to_string()).collect(),
            sample.iter().map(|s| s.1.to_string()).collect(),
        ))
    } else {
        let pool = sqlx::sqlite::SqlitePoolOptions::new()
            .max_connections(1)
            .connect(database_url)
            .await
            .map_err(|e| e.to_string())?;
        let customer: Uuid =
            sqlx::query_scalar("SELECT id FROM customers WHERE store_id = $1 LIMIT 1")
                .bind(store)
                .fetch_one(&pool)
                .await
                .map_err(|e| e.to_string())?;
        // Batches in one transaction each; ids from randomblob, ordered like time.
        let mut tx = pool.begin().await.map_err(|e| e.to_string())?;
        sqlx::query("CREATE TEMP TABLE bulk AS WITH RECURSIVE g(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM g WHERE n < $1) \
             SELECT n, randomblob(16) AS order_id, randomblob(16) AS snapshot_id, randomblob(16) AS intent_id FROM g")
            .bind(intents).execute(&mut *tx).await.map_err(|e| e.to_string())?;
        let ts = now.to_rfc3339();
        let statements = [
            "INSERT INTO orders (id, store_id, environment, customer_id, status, currency, shipping_address, revision, created_at, updated_at) \
             SELECT order_id, $1, 'sandbox', $2, 'paid', 'USD', '{}', 1, $3, $3 FROM bulk",
            "INSERT INTO order_checkout_snapshots (id, order_id, store_id, environment, customer_id, order_revision, currency, subtotal, shipping, tax, total, shipping_service, shipping_provider, tax_provider, created_at, expires_at) \
             SELECT snapshot_id, order_id, $1, 'sandbox', $2, 1, 'USD', 2500, 500, 206, 3206, 'standard', 'table_rate', 'rules', $3, $3 FROM bulk",
            "INSERT INTO payment_intents (id, store_id, environment, order_id, snapshot_id, customer_id, provider, provider_payment_id, payment_method, status, amount, authorized_amount, captured_amount, refunded_amount, capture_reserved, refund_reserved, void_pending, currency, version, created_at, updated_at) \
             SELECT intent_id, $1, 'sandbox', order_id, snapshot_id, $2, 'sandbox', 'psp_bulk_' || n, 'pm_card_visa', 'partially_refunded', 3206, 3206, 3206, 1000, 0, 0, 0, 'USD', 4, $3, $3 FROM bulk",
            "INSERT INTO payment_transactions (id, payment_intent_id, store_id, environment, operation, idempotency_key, amount, currency, status, correlation_id, actor, created_at, updated_at) \
             SELECT randomblob(16), intent_id, $1, 'sandbox', op, 'bulk-' || n || '-' || op || '-' || k, amt, 'USD', 'succeeded', 'bulk', 'bulk', $3, $3 \
             FROM bulk, (SELECT 'authorize' AS op, 3206 AS amt, 1 AS k UNION ALL SELECT 'capture', 2000, 2 UNION ALL SELECT 'capture', 1206, 3 UNION ALL SELECT 'refund', 1000, 4)",
        ];
        for sql in statements {
            sqlx::query(sql)
                .bind(store)
                .bind(customer)
                .bind(&ts)
                .execute(&mut *tx)
                .await
                .map_err(|e| e.to_string())?;
        }
        let sample: Vec<(Uuid, Uuid)> =
            sqlx::query_as("SELECT intent_id, order_id FROM bulk WHERE n % 997 = 0")
                .fetch_all(&mut *tx)
                .await
                .map_err(|e| e.to_string())?;
        tx.commit().await.map_err(|e| e.to_string())?;
        sqlx::query("ANALYZE")
            .execute(&pool)
            .await
            .map_err(|e| e.to_string())?;
        pool.close().await;
        Ok((
            sample.iter().map(|s| s.0.to_string()).collect(),
            sample.iter().map(|s| s.1.to_string()).collect(),
        ))
    }
}

/// The pgbench script: exactly the database writes (and their commits) of one payment's
/// authorize and capture through the API, on the same tables and indexes.
const PGBENCH_PAYMENT: &str = include_str!("../../bench/payment_writes.sql");

fn pgbench(database_url: &str, o: &Options) -> Option<(f64, String)> {
    let dir = std::env::temp_dir().join(format!("cassa-pgbench-{}", Uuid::now_v7().simple()));
    std::fs::create_dir_all(&dir).ok()?;
    let script = dir.join("payment.sql");
    std::fs::write(&script, PGBENCH_PAYMENT).ok()?;
    let out = Command::new("pgbench")
        .args([
            "-n",
            "-M",
            "prepared",
            "-c",
            &o.concurrency.to_string(),
            "-j",
            "2",
            "-T",
            &o.duration.as_secs().to_string(),
            "-f",
        ])
        .arg(&script)
        .arg(database_url)
        .output()
        .ok()?;
    let text =
        String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    let tps = text
        .lines()
        .find(|l| l.starts_with("tps"))
        .and_then(|l| l.split_whitespace().nth(2))
        .and_then(|v| v.parse().ok())?;
    Some((tps, text))
}

async fn run_backend(o: &Options, backend: &str) -> (Vec<Outcome>, u64, Option<f64>) {
    let data_dir = std::env::temp_dir().join(format!("cassa-load-{}", Uuid::now_v7().simple()));
    std::fs::create_dir_all(&data_dir).expect("temp dir");
    let (database_url, admin) = if backend == "postgres" {
        let name = format!("cassa_load_{}", Uuid::now_v7().simple());
        let admin = sqlx::PgPool::connect(&o.pg_url)
            .await
            .expect("PostgreSQL for the load test");
        sqlx::query(&format!("CREATE DATABASE {name}"))
            .execute(&admin)
            .await
            .expect("create database");
        let base = o
            .pg_url
            .rsplit_once('/')
            .map(|(b, _)| b.to_owned())
            .unwrap_or_default();
        (format!("{base}/{name}"), Some((admin, name)))
    } else {
        (
            format!("sqlite://{}", data_dir.join("cassa.db").display()),
            None,
        )
    };
    let server = start_server(&o.server, &database_url, &data_dir.display().to_string());
    let pid = server.child.id();
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(o.concurrency * 2)
        .build()
        .expect("client");
    for _ in 0..200 {
        if http
            .get(format!("{}/readyz", server.base))
            .send()
            .await
            .is_ok_and(|r| r.status().is_success())
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let peak = Arc::new(AtomicU64::new(0));
    let sampler = {
        let peak = peak.clone();
        tokio::spawn(async move {
            loop {
                if let Some(kb) = rss_kb(pid, "VmRSS:") {
                    peak.fetch_max(kb, Ordering::Relaxed);
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        })
    };
    let api = Arc::new(Api {
        http: http.clone(),
        base: server.base.clone(),
    });
    let orders = (o.duration.as_secs() as usize * 1500).max(1000);
    eprintln!("[{backend}] seeding {orders} orders");
    let seeded = seed(&api, orders, o.concurrency).await.expect("seeding");
    let mut results = Vec::new();

    eprintln!("[{backend}] authorize+capture");
    let replays = Arc::new(Mutex::new(Vec::new()));
    results.push(authorize_capture(&api, &seeded, o, backend, &replays, None).await);
    let peak_rate = results[0].throughput;
    eprintln!(
        "[{backend}] authorize+capture at half the peak rate ({:.0}/s)",
        peak_rate / 2.0
    );
    results
        .push(authorize_capture(&api, &seeded, o, backend, &replays, Some(peak_rate / 2.0)).await);

    eprintln!("[{backend}] idempotent replay");
    let replay_set = Arc::new(replays.lock().map(|r| r.clone()).unwrap_or_default());
    {
        let api = api.clone();
        results.push(
            closed_loop(o, o.concurrency, backend, "idempotent replay", move |n| {
                let (api, set) = (api.clone(), replay_set.clone());
                async move {
                    let (path, key, token, body) = set
                        .get((n as usize) % set.len().max(1))
                        .cloned()
                        .ok_or("no payments to replay")?;
                    api.send(
                        reqwest::Method::POST,
                        &path,
                        &token,
                        Some(&key),
                        Some(&body),
                    )
                    .await
                    .map(|_| ())
                }
            })
            .await,
        );
    }

    eprintln!("[{backend}] webhook ingest");
    {
        let http = http.clone();
        let url = format!(
            "{}/api/v1/webhooks/sandbox/{}",
            server.base, seeded.store_id
        );
        results.push(
            closed_loop(o, o.concurrency, backend, "webhook ingest", move |n| {
                let (http, url) = (http.clone(), url.clone());
                async move {
                    let id = format!("msg_bench_{n}_{}", Uuid::now_v7().simple());
                    let body =
                        json!({"id": id, "type": "payment.updated", "data": {"n": n}}).to_string();
                    let ts = chrono::Utc::now().timestamp();
                    let sig = cassa::webhooks::signature::sign_standard(
                        WEBHOOK_SECRET,
                        &id,
                        ts,
                        body.as_bytes(),
                    )
                    .map_err(|e| e.to_string())?;
                    let r = http
                        .post(&url)
                        .header("webhook-id", &id)
                        .header("webhook-timestamp", ts.to_string())
                        .header("webhook-signature", sig)
                        .body(body)
                        .send()
                        .await
                        .map_err(|e| e.to_string())?;
                    if r.status().is_success() {
                        Ok(())
                    } else {
                        Err(format!("webhook: {}", r.status()))
                    }
                }
            })
            .await,
        );
    }

    eprintln!(
        "[{backend}] inserting {} ledger transactions",
        o.ledger_rows
    );
    let t = Instant::now();
    let (intents, orders) = bulk_ledger(&database_url, &seeded.store_id, o.ledger_rows)
        .await
        .expect("bulk ledger");
    eprintln!(
        "[{backend}] ledger ready in {:.1}s",
        t.elapsed().as_secs_f64()
    );
    let (intents, orders) = (Arc::new(intents), Arc::new(orders));
    // At saturation, and with few clients (latency without queueing behind 32 others).
    for (clients, name) in [
        (o.concurrency, "ledger list (50 rows)"),
        (4, "ledger list, 4 clients"),
    ] {
        let (api, key, intents) = (api.clone(), seeded.key.clone(), intents.clone());
        results.push(
            closed_loop(o, clients, backend, name, move |n| {
                let (api, key, intents) = (api.clone(), key.clone(), intents.clone());
                async move {
                    // Half first pages, half deep pages from a random cursor.
                    let path = if n % 2 == 0 || intents.is_empty() {
                        "/api/v1/admin/payments?limit=50".to_owned()
                    } else {
                        let cursor = &intents[(random(n) as usize) % intents.len()];
                        format!("/api/v1/admin/payments?limit=50&starting_after={cursor}")
                    };
                    let page = api
                        .send(reqwest::Method::GET, &path, &key, None, None)
                        .await?;
                    if page["data"].as_array().is_some_and(|d| d.len() == 50) {
                        Ok(())
                    } else {
                        Err("short page".into())
                    }
                }
            })
            .await,
        );
    }
    {
        let (api, key, orders) = (api.clone(), seeded.key.clone(), orders.clone());
        results.push(
            closed_loop(o, o.concurrency, backend, "order detail", move |n| {
                let (api, key, orders) = (api.clone(), key.clone(), orders.clone());
                async move {
                    let order = orders
                        .get((random(n) as usize) % orders.len().max(1))
                        .ok_or("no orders")?;
                    api.send(
                        reqwest::Method::GET,
                        &format!("/api/v1/admin/orders/{order}/payments"),
                        &key,
                        None,
                        None,
                    )
                    .await
                    .map(|_| ())
                }
            })
            .await,
        );
    }
    sampler.abort();
    let hwm = rss_kb(pid, "VmHWM:")
        .unwrap_or(0)
        .max(peak.load(Ordering::Relaxed));
    drop(server);

    let mut limit = None;
    if let Some((admin, name)) = admin {
        eprintln!("[{backend}] pgbench with the writes of one payment");
        match pgbench(&database_url, o) {
            Some((tps, _)) => limit = Some(tps),
            None => eprintln!("[{backend}] pgbench did not run"),
        }
        let _ = sqlx::query(&format!("DROP DATABASE {name} WITH (FORCE)"))
            .execute(&admin)
            .await;
    }
    let _ = std::fs::remove_dir_all(&data_dir);
    (results, hwm, limit)
}

#[tokio::main]
async fn main() {
    let o = options();
    let mut table = Vec::new();
    let mut report = BTreeMap::new();
    for backend in o.backends.clone() {
        let (results, rss_kb, limit) = run_backend(&o, &backend).await;
        let payments = results.first().map(|r| r.throughput).unwrap_or(0.0);
        report.insert(backend.clone(), json!({
            "peak_rss_mb": rss_kb as f64 / 1024.0,
            "pgbench_payment_writes_per_s": limit,
            "payments_vs_pgbench": limit.map(|l| payments / l),
            "scenarios": results.iter().map(|r| json!({
                "name": r.name, "backend": r.backend, "throughput": r.throughput, "unit": r.unit, "requests": r.requests,
                "errors": r.errors, "p50_ms": r.p50_ms, "p99_ms": r.p99_ms, "p99_9_ms": r.p999_ms,
                "first_error": r.first_error,
            })).collect::<Vec<_>>(),
        }));
        table.push((backend, results, rss_kb, limit));
    }
    println!(
        "\n{:<10} {:<24} {:>12} {:<12} {:>9} {:>7} {:>8} {:>8} {:>9}",
        "backend",
        "scenario",
        "throughput",
        "unit",
        "requests",
        "errors",
        "p50 ms",
        "p99 ms",
        "p99.9 ms"
    );
    for (backend, results, rss, limit) in &table {
        for r in results {
            println!(
                "{:<10} {:<24} {:>12.1} {:<12} {:>9} {:>7} {:>8.2} {:>8.2} {:>9.2}",
                backend,
                r.name,
                r.throughput,
                r.unit,
                r.requests,
                r.errors,
                r.p50_ms,
                r.p99_ms,
                r.p999_ms
            );
            if let Some(e) = &r.first_error {
                println!(
                    "           first error: {}",
                    e.chars().take(200).collect::<String>()
                );
            }
        }
        println!(
            "{:<10} peak server RSS {:.1} MB",
            backend,
            *rss as f64 / 1024.0
        );
        if let Some(l) = limit {
            let ours = results.first().map(|r| r.throughput).unwrap_or(0.0);
            println!(
                "{:<10} pgbench (writes of one payment) {:.1} tps; ours {:.1} payments/s = {:.0}% of it",
                backend,
                l,
                ours,
                ours / l * 100.0
            );
        }
    }
    let json = serde_json::to_string_pretty(&json!({
        "duration_s": o.duration.as_secs(), "concurrency": o.concurrency, "ledger_rows": o.ledger_rows,
        "backends": report,
    })).unwrap_or_default();
    println!("\n{json}");
    if let Some(path) = &o.json {
        let _ = std::fs::write(path, json);
    }
}
