//! Failover under load: starts `cassa serve` on a multi-host `DATABASE_URL` (primary and
//! synchronous standby), drives payments from many clients (order, quote, authorize, capture,
//! each with its own Idempotency-Key, retried with that same key until a final answer), runs
//! the failover command (stop the primary, promote the standby) mid-load, and then checks on
//! the promoted server that every acknowledged write is there and that no key took effect
//! twice: orders, intents and the provider's payments one for one, amounts equal.
//!
//! `scripts/failover` builds the clusters and runs this; see `docs/operations.md`.

use std::{
    collections::BTreeMap,
    process::{Child, Command},
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use serde_json::{Value, json};
use uuid::Uuid;

#[path = "../loadtest/seed.rs"]
mod seed;

use seed::{Api, Seeded, seed};

const ADMIN_EMAIL: &str = "failover@cassa.test";
const ADMIN_PASSWORD: &str = "failover-admin-password";
// seed.rs configures the store's webhook secret with it.
const WEBHOOK_SECRET: &str = "whsec_YmVuY2ggd2ViaG9vayBzaWduaW5nIHNlY3JldCAzMiE=";
const MASTER_KEYS: &str = "1:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";

/// A client gives up on a key after this long without a final answer (a key left locked by a
/// request that died with the primary is taken over after the server's 90 s lock timeout).
const GIVE_UP: Duration = Duration::from_secs(150);

struct Options {
    server: String,
    database_url: String,
    check_url: String,
    failover_cmd: String,
    clients: usize,
    before: Duration,
    after: Duration,
    server_log: String,
    json: Option<String>,
}

fn options() -> Options {
    let mut o = Options {
        server: "target/debug/cassa".into(),
        database_url: String::new(),
        check_url: String::new(),
        failover_cmd: String::new(),
        clients: 16,
        before: Duration::from_secs(10),
        after: Duration::from_secs(10),
        server_log: "failover-server.log".into(),
        json: None,
    };
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut i = 0;
    while i < args.len() {
        let value = args.get(i + 1).cloned().unwrap_or_default();
        match args[i].as_str() {
            "--server" => o.server = value,
            "--database-url" => o.database_url = value,
            "--check-url" => o.check_url = value,
            "--failover-cmd" => o.failover_cmd = value,
            "--clients" => o.clients = value.parse().expect("--clients n"),
            "--before" => o.before = Duration::from_secs(value.parse().expect("--before secs")),
            "--after" => o.after = Duration::from_secs(value.parse().expect("--after secs")),
            "--server-log" => o.server_log = value,
            "--json" => o.json = Some(value),
            other => panic!("unknown option {other}"),
        }
        i += 2;
    }
    assert!(
        !o.database_url.is_empty() && !o.check_url.is_empty() && !o.failover_cmd.is_empty(),
        "--database-url, --check-url and --failover-cmd are required"
    );
    o
}

struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn start_server(o: &Options, port: u16, data_dir: &std::path::Path) -> Server {
    let log = std::fs::File::create(&o.server_log).expect("server log file");
    let log_too = log.try_clone().expect("server log file");
    let child = Command::new(&o.server)
        .arg("serve")
        .env("DATABASE_URL", &o.database_url)
        .env("CASSA_DATA_DIR", data_dir)
        .env("CASSA_LISTEN_ADDR", format!("127.0.0.1:{port}"))
        .env("CASSA_ADMIN_EMAIL", ADMIN_EMAIL)
        .env("CASSA_ADMIN_PASSWORD", ADMIN_PASSWORD)
        .env("CASSA_MASTER_KEYS", MASTER_KEYS)
        .env("CASSA_DB_MAX_CONNECTIONS", "16")
        .env("CASSA_API_KEY_RATE_LIMIT", "0")
        .env("RUST_LOG", "warn,cassa::db=info")
        .env("CASSA_LOG_FORMAT", "text")
        .env("NO_COLOR", "1")
        .stdout(log)
        .stderr(log_too)
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {}: {e}", o.server));
    Server(child)
}

/// What one attempt got.
#[derive(Clone, Debug)]
enum Answer {
    /// 2xx: acknowledged.
    Ok(Value),
    /// A final refusal (4xx other than the key being in use).
    Refused(u16, Value),
    /// Worth retrying with the same key: no connection, a 5xx, or the key still in use.
    Retry(String),
    /// `503 provider_unavailable` without `Retry-After`: nothing happened, and the answer is
    /// final for the key; the README's contract is to retry with a new key.
    NewKey,
}

/// One attempt: when it was sent, when its answer came, and what it got.
type Attempt = (Instant, Instant, Result<(), String>);

/// An intent as stored: id, order, status, authorized, captured, provider payment.
type IntentRow = (Uuid, Uuid, String, i64, i64, Option<String>);

/// Every attempt, for the figures.
#[derive(Default)]
struct Log {
    attempts: Mutex<Vec<Attempt>>,
}

impl Log {
    fn push(&self, step: &str, sent: Instant, answer: &Answer) {
        let result = match answer {
            Answer::Ok(_) => Ok(()),
            Answer::Refused(status, body) => Err(format!("{step}: {status} {}", body["code"])),
            Answer::Retry(why) => Err(format!("{step}: {why}")),
            Answer::NewKey => Err(format!("{step}: 503 provider_unavailable (final: new key)")),
        };
        if let Ok(mut a) = self.attempts.lock() {
            a.push((sent, Instant::now(), result));
        }
    }
}

async fn attempt(
    http: &reqwest::Client,
    base: &str,
    path: &str,
    token: &str,
    key: &str,
    body: &Value,
) -> Answer {
    let sent = http
        .post(format!("{base}{path}"))
        .bearer_auth(token)
        .header("idempotency-key", key)
        .json(body)
        .timeout(Duration::from_secs(30))
        .send()
        .await;
    let response = match sent {
        Ok(r) => r,
        Err(e) => {
            let kind = if e.is_timeout() {
                "timeout"
            } else if e.is_connect() {
                "connect"
            } else {
                "transport"
            };
            return Answer::Retry(kind.into());
        }
    };
    let status = response.status().as_u16();
    let retry_after = response.headers().contains_key("retry-after");
    let value: Value = response.json().await.unwrap_or(Value::Null);
    match status {
        200..=299 => Answer::Ok(value),
        503 if value["code"] == "provider_unavailable" && !retry_after => Answer::NewKey,
        409 if value["code"] == "idempotency_key_in_use" => {
            Answer::Retry("409 idempotency_key_in_use".into())
        }
        500..=599 => Answer::Retry(format!(
            "{status} {}",
            value["code"].as_str().unwrap_or("?")
        )),
        _ => Answer::Refused(status, value),
    }
}

/// The step a path belongs to, for the error figures.
fn step_of(path: &str) -> &'static str {
    if path.ends_with("/capture") {
        "capture"
    } else if path.ends_with("/authorize") {
        "authorize"
    } else if path.ends_with("/quote") {
        "quote"
    } else {
        "order"
    }
}

/// Sends the request until it gets a final answer, with the same key every time.
async fn until_final(
    http: &reqwest::Client,
    base: &str,
    log: &Log,
    path: &str,
    token: &str,
    body: Value,
) -> (String, Result<Value, String>) {
    let mut key = Uuid::now_v7().to_string();
    let started = Instant::now();
    let mut pause = Duration::from_millis(50);
    loop {
        let sent = Instant::now();
        let answer = attempt(http, base, path, token, &key, &body).await;
        log.push(step_of(path), sent, &answer);
        match answer {
            Answer::Ok(v) => return (key, Ok(v)),
            Answer::Refused(status, v) => return (key, Err(format!("{path}: {status} {v}"))),
            Answer::Retry(why) if started.elapsed() > GIVE_UP => {
                return (key, Err(format!("{path}: gave up after {why}")));
            }
            Answer::Retry(_) => {
                tokio::time::sleep(pause).await;
                pause = (pause * 2).min(Duration::from_secs(1));
            }
            Answer::NewKey => {
                key = Uuid::now_v7().to_string();
                tokio::time::sleep(pause).await;
                pause = (pause * 2).min(Duration::from_secs(1));
            }
        }
    }
}

/// What the clients were told, to be checked against the database afterwards.
#[derive(Default)]
struct Acks {
    orders: Mutex<Vec<String>>,
    /// intent id -> (order id, amount authorized)
    authorized: Mutex<BTreeMap<String, (String, i64)>>,
    /// intent id -> amount captured
    captured: Mutex<BTreeMap<String, i64>>,
    /// Keys that ended without a final answer or with a refusal.
    unfinished: Mutex<Vec<String>>,
    payments: AtomicU64,
}

#[allow(clippy::too_many_arguments)]
async fn client(
    http: reqwest::Client,
    base: String,
    seeded: Arc<Seeded>,
    product: String,
    w: usize,
    stop: Arc<AtomicBool>,
    log: Arc<Log>,
    acks: Arc<Acks>,
) {
    let token = seeded.tokens[w].clone();
    let unfinished = |e: String| {
        if let Ok(mut u) = acks.unfinished.lock() {
            u.push(e);
        }
    };
    while !stop.load(Ordering::Relaxed) {
        let (_, order) = until_final(
            &http,
            &base,
            &log,
            "/api/v1/me/orders",
            &token,
            json!({
                "items": [{"product_id": product, "quantity": 1}],
                "shipping_address": {"name": "Failover", "line1": "1 Main St", "city": "Town",
                    "subdivision": "CA", "postal_code": "90001", "country": "US"},
            }),
        )
        .await;
        let order = match order {
            Ok(o) => o["id"].as_str().unwrap_or_default().to_owned(),
            Err(e) => {
                unfinished(e);
                continue;
            }
        };
        if let Ok(mut a) = acks.orders.lock() {
            a.push(order.clone());
        }
        let (_, quote) = until_final(
            &http,
            &base,
            &log,
            "/api/v1/me/checkout/quote",
            &token,
            json!({"order_id": order}),
        )
        .await;
        let snapshot = match quote {
            Ok(q) => q["snapshot_id"].clone(),
            Err(e) => {
                unfinished(e);
                continue;
            }
        };
        let (_, intent) = until_final(
            &http,
            &base,
            &log,
            &format!("/api/v1/me/orders/{order}/payments/authorize"),
            &token,
            json!({"snapshot_id": snapshot, "payment_method": "pm_card_visa"}),
        )
        .await;
        let intent = match intent {
            Ok(i) => i,
            Err(e) => {
                unfinished(e);
                continue;
            }
        };
        let id = intent["id"].as_str().unwrap_or_default().to_owned();
        let amount = intent["amount"].as_i64().unwrap_or(0);
        if let Ok(mut a) = acks.authorized.lock() {
            a.insert(id.clone(), (order.clone(), amount));
        }
        let (_, captured) = until_final(
            &http,
            &base,
            &log,
            &format!("/api/v1/admin/orders/{order}/payments/{id}/capture"),
            &seeded.key,
            json!({"amount": amount}),
        )
        .await;
        match captured {
            Ok(_) => {
                if let Ok(mut c) = acks.captured.lock() {
                    c.insert(id, amount);
                }
                acks.payments.fetch_add(1, Ordering::Relaxed);
            }
            Err(e) => unfinished(e),
        }
    }
}

async fn first_product(http: &reqwest::Client, base: &str, key: &str) -> String {
    let list: Value = http
        .get(format!("{base}/api/v1/admin/products"))
        .bearer_auth(key)
        .send()
        .await
        .expect("products")
        .json()
        .await
        .expect("products json");
    list["data"][0]["id"]
        .as_str()
        .expect("the seeded product")
        .to_owned()
}

/// The checks on the promoted server. Returns (figures, broken invariants).
async fn verify(o: &Options, acks: &Acks) -> (Value, Vec<String>) {
    let pool = sqlx::postgres::PgPoolOptions::new()
        .max_connections(2)
        .connect(&o.check_url)
        .await
        .expect("the promoted server");
    let mut broken = Vec::new();
    let orders: Vec<String> = acks.orders.lock().map(|v| v.clone()).unwrap_or_default();
    let authorized = acks
        .authorized
        .lock()
        .map(|v| v.clone())
        .unwrap_or_default();
    let captured = acks.captured.lock().map(|v| v.clone()).unwrap_or_default();

    let uuids = |ids: Vec<&String>| -> Vec<Uuid> {
        ids.into_iter().filter_map(|i| i.parse().ok()).collect()
    };
    let found_orders: i64 = sqlx::query_scalar("SELECT count(*) FROM orders WHERE id = ANY($1)")
        .bind(uuids(orders.iter().collect()))
        .fetch_one(&pool)
        .await
        .expect("orders");
    let lost_orders = orders.len() as i64 - found_orders;
    if lost_orders != 0 {
        broken.push(format!("{lost_orders} acknowledged orders are missing"));
    }
    let rows: Vec<IntentRow> = sqlx::query_as(
        "SELECT id, order_id, status, authorized_amount, captured_amount, provider_payment_id \
         FROM payment_intents",
    )
    .fetch_all(&pool)
    .await
    .expect("intents");
    let intents: BTreeMap<String, _> = rows.iter().map(|r| (r.0.to_string(), r.clone())).collect();
    let mut lost_payments = 0;
    for (id, (order, amount)) in &authorized {
        match intents.get(id) {
            None => {
                lost_payments += 1;
                broken.push(format!(
                    "acknowledged authorization {id} (order {order}) is missing"
                ));
            }
            Some(r) if r.3 != *amount => broken.push(format!(
                "intent {id}: {amount} acknowledged as authorized, {} in the database",
                r.3
            )),
            Some(_) => {}
        }
    }
    for (id, amount) in &captured {
        match intents.get(id) {
            Some(r) if r.4 == *amount && r.2 == "captured" => {}
            Some(r) => broken.push(format!(
                "intent {id}: capture of {amount} acknowledged; the database has {} captured, status {}",
                r.4, r.2
            )),
            None => {}
        }
    }
    // One key per order for its authorization: two intents on one order is a key applied twice.
    let mut per_order: BTreeMap<Uuid, usize> = BTreeMap::new();
    for r in &rows {
        *per_order.entry(r.1).or_default() += 1;
    }
    let double_intents = per_order.values().filter(|n| **n > 1).count();
    if double_intents > 0 {
        broken.push(format!(
            "{double_intents} orders have more than one payment intent"
        ));
    }
    // The orders in the database are the acknowledged ones: a retried order key that created a
    // second order would show here.
    let all_orders: i64 = sqlx::query_scalar("SELECT count(*) FROM orders")
        .fetch_one(&pool)
        .await
        .expect("orders");
    let unfinished = acks
        .unfinished
        .lock()
        .map(|v| v.clone())
        .unwrap_or_default();
    if all_orders > orders.len() as i64 + unfinished.len() as i64 {
        broken.push(format!(
            "{all_orders} orders in the database for {} acknowledged (and {} unfinished keys)",
            orders.len(),
            unfinished.len()
        ));
    }
    // The provider: one payment per intent, amounts equal, nothing held that no intent knows.
    let psp: Vec<(String, String, i64, i64)> =
        sqlx::query_as("SELECT id, status, amount, captured FROM sandbox_psp_payments")
            .fetch_all(&pool)
            .await
            .expect("psp payments");
    let known: BTreeMap<&str, &IntentRow> = rows
        .iter()
        .filter_map(|r| Some((r.5.as_deref()?, r)))
        .collect();
    let mut orphans = 0;
    for (pid, status, amount, psp_captured) in &psp {
        match known.get(pid.as_str()) {
            None if matches!(status.as_str(), "authorized" | "captured") => {
                orphans += 1;
                broken.push(format!(
                    "the provider holds payment {pid} ({status}, {amount}) that no intent knows"
                ));
            }
            None => {}
            Some(r) if r.3 != *amount || r.4 != *psp_captured => broken.push(format!(
                "intent {}: authorized {} captured {}; the provider's {pid}: {amount}, {psp_captured}",
                r.0, r.3, r.4
            )),
            Some(_) => {}
        }
    }
    let captures: Vec<(Uuid, i64)> = sqlx::query_as(
        "SELECT payment_intent_id, count(*) FROM payment_transactions \
         WHERE operation = 'capture' AND status = 'succeeded' GROUP BY payment_intent_id",
    )
    .fetch_all(&pool)
    .await
    .expect("captures");
    let double_captures = captures.iter().filter(|c| c.1 > 1).count();
    if double_captures > 0 {
        broken.push(format!(
            "{double_captures} intents have more than one succeeded capture"
        ));
    }
    let in_recovery: bool = sqlx::query_scalar("SELECT pg_is_in_recovery()")
        .fetch_one(&pool)
        .await
        .unwrap_or(true);
    if in_recovery {
        broken.push("the checked server is still a standby".into());
    }
    pool.close().await;
    let figures = json!({
        "orders_acknowledged": orders.len(), "orders_in_database": all_orders,
        "authorizations_acknowledged": authorized.len(), "captures_acknowledged": captured.len(),
        "intents_in_database": rows.len(), "provider_payments": psp.len(),
        "lost": lost_orders + lost_payments,
        "duplicates": double_intents + double_captures + orphans,
        "unfinished_keys": unfinished,
    });
    (figures, broken)
}

#[tokio::main]
async fn main() {
    let o = options();
    let data_dir = std::env::temp_dir().join(format!("cassa-failover-{}", Uuid::now_v7().simple()));
    std::fs::create_dir_all(&data_dir).expect("temp dir");
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port");
    let server = start_server(&o, port, &data_dir);
    let base = format!("http://127.0.0.1:{port}");
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(o.clients * 2)
        .build()
        .expect("client");
    let mut ready = false;
    for _ in 0..600 {
        if http
            .get(format!("{base}/readyz"))
            .send()
            .await
            .is_ok_and(|r| r.status().is_success())
        {
            ready = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        ready,
        "the server did not become ready; see {}",
        o.server_log
    );
    let api = Api {
        http: http.clone(),
        base: base.clone(),
    };
    eprintln!("seeding a store and {} customers", o.clients);
    let seeded = seed(&api, 0, o.clients).await.expect("seeding");
    let product = first_product(&http, &base, &seeded.key).await;
    // Orders are made by the clients under load, each with its own key.
    assert!(seeded.orders.lock().is_ok_and(|o| o.is_empty()));
    eprintln!("store {}", seeded.store_id);

    let stop = Arc::new(AtomicBool::new(false));
    let log = Arc::new(Log::default());
    let acks = Arc::new(Acks::default());
    let started = Instant::now();
    let mut clients = tokio::task::JoinSet::new();
    for w in 0..o.clients {
        clients.spawn(client(
            http.clone(),
            base.clone(),
            seeded.clone(),
            product.clone(),
            w,
            stop.clone(),
            log.clone(),
            acks.clone(),
        ));
    }
    eprintln!(
        "load from {} clients; failover in {}s",
        o.clients,
        o.before.as_secs()
    );
    tokio::time::sleep(o.before).await;
    let payments_before = acks.payments.load(Ordering::Relaxed);
    let failed_at = Instant::now();
    eprintln!("failover: {}", o.failover_cmd);
    let status = tokio::process::Command::new("sh")
        .arg("-c")
        .arg(&o.failover_cmd)
        .status()
        .await
        .expect("the failover command");
    let promoted_at = Instant::now();
    assert!(status.success(), "the failover command failed: {status}");
    eprintln!(
        "failover command done in {:.1}s; load goes on for {}s",
        (promoted_at - failed_at).as_secs_f64(),
        o.after.as_secs()
    );
    tokio::time::sleep(o.after).await;
    stop.store(true, Ordering::Relaxed);
    eprintln!("stopping: each client finishes its payment");
    while clients.join_next().await.is_some() {}
    let elapsed = started.elapsed();

    // The figures of the attempts around the failover.
    let attempts = log.attempts.lock().map(|a| a.clone()).unwrap_or_default();
    // The primary is down from the first failure after the command started (stopping it takes
    // a moment), and back once a request sent after that succeeds.
    let down_at = attempts
        .iter()
        .filter(|(_, done, r)| *done >= failed_at && r.is_err())
        .map(|(_, done, _)| *done)
        .min()
        .unwrap_or(failed_at);
    let recovered_at = attempts
        .iter()
        .filter(|(sent, _, r)| *sent >= down_at && r.is_ok())
        .map(|(_, done, _)| *done)
        .min();
    let window_end = recovered_at.unwrap_or_else(Instant::now);
    let during = attempts
        .iter()
        .filter(|(sent, done, _)| *done >= down_at && *sent <= window_end)
        .count();
    let mut errors: BTreeMap<String, u64> = BTreeMap::new();
    for (_, _, r) in &attempts {
        if let Err(e) = r {
            *errors.entry(e.clone()).or_default() += 1;
        }
    }
    let last_error = attempts
        .iter()
        .filter(|(_, _, r)| r.is_err())
        .map(|(_, done, _)| *done)
        .max();
    let ms = |d: Duration| d.as_millis() as u64;
    drop(server);
    let (figures, broken) = verify(&o, &acks).await;
    let _ = std::fs::remove_dir_all(&data_dir);
    let switch_lines: Vec<String> = std::fs::read_to_string(&o.server_log)
        .unwrap_or_default()
        .lines()
        .filter(|l| l.contains("failover") || l.contains("qualif") || l.contains("ERROR"))
        .map(|l| l.chars().take(300).collect())
        .collect();
    let report = json!({
        "clients": o.clients,
        "seconds": elapsed.as_secs_f64(),
        "requests": attempts.len(),
        "requests_during_failover": during,
        "errors": errors,
        "errors_total": errors.values().sum::<u64>(),
        "payments_completed": acks.payments.load(Ordering::Relaxed),
        "payments_before_failover": payments_before,
        "failover_command_ms": ms(promoted_at - failed_at),
        "first_failure_after_command_ms": ms(down_at - failed_at),
        "time_to_recover_ms": recovered_at.map(|t| ms(t - down_at)),
        "recovered_after_promotion_ms": recovered_at.map(|t| ms(t.saturating_duration_since(promoted_at))),
        "last_error_after_failure_ms": last_error.map(|t| ms(t.saturating_duration_since(down_at))),
        "check": figures,
        "broken": broken,
        "server_log": switch_lines,
    });
    let text = serde_json::to_string_pretty(&report).unwrap_or_default();
    println!("{text}");
    if let Some(path) = &o.json {
        let _ = std::fs::write(path, &text);
    }
    println!(
        "\nrequests {} | during failover {} | errors {} | time to recover {} ms \
         (failover command {} ms) | last error {} ms after the failure | payments {} | lost: {} | \
         duplicates: {}",
        report["requests"],
        report["requests_during_failover"],
        report["errors_total"],
        report["time_to_recover_ms"],
        report["failover_command_ms"],
        report["last_error_after_failure_ms"],
        report["payments_completed"],
        report["check"]["lost"],
        report["check"]["duplicates"],
    );
    if !broken.is_empty() || recovered_at.is_none() {
        eprintln!("FAILED: {broken:?}");
        std::process::exit(1);
    }
}
