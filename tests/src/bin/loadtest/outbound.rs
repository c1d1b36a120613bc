//! Scenario `outbound fan-out` (issue #20): events at a fixed rate fanned out to three healthy
//! receivers and one that hangs, measured from each event's enqueue to its arrival at each
//! receiver.
//!
//! **Where the receivers are.** A sandbox endpoint of a non-production server may point at
//! this server's own address only (`http://127.0.0.1:<its port>`, exactly: any other loopback
//! port is refused when the URL is written and again by the guarded client), which is how the
//! API tests mount their receivers. So does this scenario: it runs the server in this process
//! (the same code as `cassa serve`, release build, on a runtime of its own whose threads are
//! named `cassa-server`, so its CPU is read apart from the harness's) with the receivers
//! mounted at `/api/v1/bench-hooks/{name}`. The rule is not weakened; the price is that the
//! server's process also receives the webhooks (both ends of every exchange count as server
//! CPU).
//!
//! **Where the events come from.** One real payment through the API first (quote, authorize,
//! capture: its `payment_intent.*`, `order.paid` and `tax.committed` reach every receiver,
//! which checks the whole path), then, at the target rate, `payment_intent.captured` events
//! with that payment's intent as their object, each written by the server's own outbox write
//! path (`cassa::outbound::emit`, the function every domain change calls: the event and its
//! fan-out rows in one statement on PostgreSQL) in a transaction of its own on the server's
//! pool, and the workers woken after the commit as a change does. A payment emits 3–4 events,
//! so 1,000 events/s would be ~300 payments/s, above what this machine does (~170/s on
//! PostgreSQL, see the baseline). The enqueue time is the event's `created_at` (the clock
//! read just before the write), the delivery time its arrival at the receiver (same process,
//! same wall clock).
//!
//! Two phases on one database: the hanging endpoint disabled (no deliveries are made for it),
//! then enabled, each generating for `--duration` seconds and then draining.

use std::{
    collections::HashMap,
    sync::{
        Arc, Mutex,
        atomic::{AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use axum::{
    Router,
    body::Bytes,
    extract::Path,
    http::{HeaderMap, StatusCode},
    routing::post,
};
use cassa::{
    config::{Config, DatabaseConfig, MasterKeySource},
    db::Db,
    outbound::{EventType, NewEvent},
    startup::{Application, BuildOptions},
    state::AppState,
    types::{Environment, StoreId},
};
use serde_json::{Value, json};
use uuid::Uuid;

use super::{
    ADMIN_EMAIL, ADMIN_PASSWORD, MASTER_KEYS, Options,
    cpu::{CpuUsage, Probe},
    seed::{Api, seed},
};

/// The healthy receivers.
const HEALTHY: [&str; 3] = ["r1", "r2", "r3"];
/// The receiver that accepts and never answers.
const HANG: &str = "hang";
/// One request in this many has its signature verified by the healthy receivers.
const VERIFY_EVERY: u64 = 50;
/// Tasks writing events (each paced on its own share of the schedule).
const GENERATORS: usize = 8;

/// What the receivers saw.
#[derive(Default)]
struct Received {
    /// (receiver, webhook-id, arrival in Unix microseconds), in arrival order.
    arrivals: Mutex<Vec<(&'static str, String, i64)>>,
    /// Signing secret per receiver, set once its endpoint exists.
    secrets: Mutex<HashMap<String, String>>,
    requests: AtomicU64,
    verified: AtomicU64,
    bad_signatures: AtomicU64,
    first_bad: Mutex<Option<String>>,
    hung: AtomicU64,
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

impl Received {
    fn arrived(&self, name: &str) -> usize {
        self.arrivals
            .lock()
            .map(|a| a.iter().filter(|(n, _, _)| *n == name).count())
            .unwrap_or(0)
    }

    async fn receive(&self, name: String, headers: HeaderMap, body: Bytes) -> StatusCode {
        let at = chrono::Utc::now().timestamp_micros();
        let Some(name) = HEALTHY.iter().copied().find(|n| *n == name) else {
            if name == HANG {
                self.hung.fetch_add(1, Ordering::Relaxed);
                // Accepted, never answered: the sender's attempt timeout ends it.
                std::future::pending::<()>().await;
            }
            return StatusCode::NOT_FOUND;
        };
        let id = header(&headers, "webhook-id")
            .unwrap_or_default()
            .to_owned();
        let n = self.requests.fetch_add(1, Ordering::Relaxed);
        if n.is_multiple_of(VERIFY_EVERY) {
            let secret = self
                .secrets
                .lock()
                .ok()
                .and_then(|s| s.get(name).cloned())
                .unwrap_or_default();
            let verdict = cassa::providers::signature::verify_standard(
                &secret,
                Some(&id),
                header(&headers, "webhook-timestamp"),
                header(&headers, "webhook-signature"),
                &body,
                chrono::Utc::now().timestamp(),
            );
            match verdict {
                Ok(()) => {
                    self.verified.fetch_add(1, Ordering::Relaxed);
                }
                Err(e) => {
                    self.bad_signatures.fetch_add(1, Ordering::Relaxed);
                    if let Ok(mut first) = self.first_bad.lock() {
                        first.get_or_insert(format!("{name}: {e:?}"));
                    }
                }
            }
        }
        if let Ok(mut a) = self.arrivals.lock() {
            a.push((name, id, at));
        }
        StatusCode::OK
    }
}

fn routes(received: Arc<Received>) -> Router<AppState> {
    Router::new().route(
        "/bench-hooks/{name}",
        post(
            move |Path(name): Path<String>, headers: HeaderMap, body: Bytes| {
                let received = received.clone();
                async move { received.receive(name, headers, body).await }
            },
        ),
    )
}

/// The server running in this process on its own runtime.
struct InProcess {
    runtime: Option<tokio::runtime::Runtime>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    state: AppState,
    base: String,
}

impl Drop for InProcess {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}

/// An environment override of the server's settings, as `cassa serve` reads it.
fn env<T: std::str::FromStr>(name: &str) -> Option<T> {
    std::env::var(name).ok().and_then(|v| v.parse().ok())
}

/// The settings of the bench's `cassa serve` (see `start_server`): 16 connections, no per-key
/// rate limit, the outbound worker settings at their defaults unless the harness's environment
/// sets `CASSA_OUTBOUND_WEBHOOK_WORKERS` / `CASSA_OUTBOUND_WEBHOOK_TIMEOUT_MS`.
async fn start(database_url: &str, received: Arc<Received>) -> InProcess {
    let mut config = Config::new(DatabaseConfig::from_url(database_url).expect("database url"));
    config.listen_addr = "127.0.0.1:0".parse().expect("address");
    config.database.max_connections = env("CASSA_DB_MAX_CONNECTIONS").unwrap_or(16);
    config.master_keys = MasterKeySource::Inline(MASTER_KEYS.to_owned().into());
    config.admin_email = Some(ADMIN_EMAIL.to_owned());
    config.admin_password = Some(ADMIN_PASSWORD.to_owned().into());
    config.api_key_rate = None;
    config
        .own_receiver_paths
        .push("/api/v1/bench-hooks/".to_owned());
    if let Some(n) = env("CASSA_OUTBOUND_WEBHOOK_WORKERS") {
        config.outbound_webhook_workers = n;
    }
    if let Some(ms) = env("CASSA_OUTBOUND_WEBHOOK_TIMEOUT_MS") {
        config.outbound_webhook_timeout = Duration::from_millis(ms);
    }
    // Like the binary's runtime: one worker thread per core.
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .thread_name("cassa-server")
        .enable_all()
        .build()
        .expect("server runtime");
    let (ready_tx, ready_rx) = tokio::sync::oneshot::channel();
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    runtime.spawn(async move {
        let options = BuildOptions {
            extra_api: Some(routes(received)),
            ..BuildOptions::default()
        };
        let app = Application::build_with(config, options)
            .await
            .expect("the in-process server");
        let _ = ready_tx.send((app.local_addr(), app.state().clone()));
        let _ = app
            .run_until_stopped(async move {
                let _ = stop_rx.await;
            })
            .await;
    });
    let (addr, state) = ready_rx.await.expect("the server started");
    InProcess {
        runtime: Some(runtime),
        stop: Some(stop_tx),
        state,
        base: format!("http://{addr}"),
    }
}

/// Deliveries still waiting (pending or being attempted) per receiver name.
async fn backlog(db: &Db, endpoints: &[(String, String)]) -> HashMap<String, i64> {
    let mut out = HashMap::new();
    for (name, id) in endpoints {
        let Ok(id) = Uuid::parse_str(id) else {
            continue;
        };
        let sql = "SELECT COUNT(*) FROM webhook_deliveries WHERE endpoint_id = $1 \
                   AND status IN ('pending', 'delivering')";
        let n: i64 =
            cassa::on_db!(db, pool => sqlx::query_scalar(sql).bind(id).fetch_one(pool).await)
                .unwrap_or(-1);
        out.insert(name.clone(), n);
    }
    out
}

/// Attempts recorded so far and their mean latency (ms) per receiver name: how long the
/// server's attempts took as it measured them.
async fn attempt_latency(db: &Db, endpoints: &[(String, String)]) -> HashMap<String, (i64, f64)> {
    let mut out = HashMap::new();
    for (name, id) in endpoints {
        let Ok(id) = Uuid::parse_str(id) else {
            continue;
        };
        let sql = "SELECT COUNT(*), CAST(COALESCE(AVG(latency_ms), 0) AS DOUBLE PRECISION) \
                   FROM webhook_delivery_attempts WHERE endpoint_id = $1";
        let row: (i64, f64) =
            cassa::on_db!(db, pool => sqlx::query_as(sql).bind(id).fetch_one(pool).await)
                .unwrap_or((0, 0.0));
        out.insert(name.clone(), row);
    }
    out
}

/// PostgreSQL's committed transactions in the current database so far (`None` on SQLite).
async fn commits(db: &Db) -> Option<i64> {
    let Db::Postgres(pool) = db else { return None };
    sqlx::query_scalar(
        "SELECT xact_commit FROM pg_stat_database WHERE datname = current_database()",
    )
    .fetch_one(pool)
    .await
    .ok()
}

/// Events written by the generators: (webhook-id, enqueue time in Unix microseconds).
struct Generated {
    events: Vec<(String, i64)>,
    errors: u64,
    first_error: Option<String>,
    /// How far the writes fell behind the schedule at worst.
    max_behind_ms: f64,
}

/// Writes `rate` events per second for `duration` through the server's outbox write path,
/// each in its own transaction, waking the workers after the commit.
async fn generate(
    state: &AppState,
    store: StoreId,
    object: &Value,
    rate: f64,
    duration: Duration,
) -> Generated {
    let total = (rate * duration.as_secs_f64()).round() as u64;
    let start = tokio::time::Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for task in 0..GENERATORS as u64 {
        let (state, object) = (state.clone(), object.clone());
        tasks.spawn(async move {
            let mut mine = Vec::new();
            let (mut errors, mut first_error, mut behind) = (0u64, None, 0f64);
            let mut i = task;
            while i < total {
                let due = start + Duration::from_secs_f64(i as f64 / rate);
                tokio::time::sleep_until(due).await;
                behind = behind.max(due.elapsed().as_secs_f64() * 1000.0);
                let at = state.clock.now();
                let written = async {
                    let mut tx = state.db.begin_write().await?;
                    let event = NewEvent::of(
                        store,
                        Environment::Sandbox,
                        EventType::PaymentIntentCaptured,
                        &object,
                        at,
                    )?;
                    let id = cassa::outbound::emit(&mut tx, event).await?;
                    tx.commit().await?;
                    Ok::<_, cassa::db::DbError>(id)
                }
                .await;
                match written {
                    Ok(id) => {
                        cassa::outbound::wake(&state);
                        mine.push((id.public(), at.timestamp_micros()));
                    }
                    Err(e) => {
                        errors += 1;
                        first_error.get_or_insert(e.to_string());
                    }
                }
                i += GENERATORS as u64;
            }
            (mine, errors, first_error, behind)
        });
    }
    let mut out = Generated {
        events: Vec::new(),
        errors: 0,
        first_error: None,
        max_behind_ms: 0.0,
    };
    while let Some(Ok((mine, errors, first, behind))) = tasks.join_next().await {
        out.events.extend(mine);
        out.errors += errors;
        out.first_error = out.first_error.or(first);
        out.max_behind_ms = out.max_behind_ms.max(behind);
    }
    out
}

fn percentile_ms(sorted: &[i64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let idx = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[idx.min(sorted.len() - 1)] as f64 / 1000.0
}

struct Phase<'a> {
    name: &'a str,
    hanging: bool,
}

/// What every phase works with.
struct Bench<'a> {
    o: &'a Options,
    server: &'a InProcess,
    probe: Probe,
    received: &'a Arc<Received>,
    store: StoreId,
    /// The object of every generated event (the real payment's captured intent).
    object: &'a Value,
    /// (receiver name, endpoint id)
    endpoints: &'a [(String, String)],
}

/// Runs one phase: generate, then wait until every healthy delivery arrived (or `drain`
/// passed), and measure.
async fn phase(b: &Bench<'_>, spec: &Phase<'_>) -> Value {
    let Bench {
        o,
        server,
        probe,
        received,
        store,
        object,
        endpoints,
    } = *b;
    let db = &server.state.db;
    let already = received.arrivals.lock().map(|a| a.len()).unwrap_or(0);
    let hung_before = received.hung.load(Ordering::Relaxed);
    let commits_before = commits(db).await;
    let attempts_before = attempt_latency(db, endpoints).await;
    let cpu_start = probe.sample();
    let t0 = chrono::Utc::now().timestamp_micros();
    let wall = Instant::now();
    let generated = generate(&server.state, store, object, o.rate, o.duration).await;
    let generated_in = wall.elapsed();
    let t_end = chrono::Utc::now().timestamp_micros();
    let expected = generated.events.len() * HEALTHY.len();
    let arrived_now = |r: &Received| r.arrivals.lock().map(|a| a.len() - already).unwrap_or(0);
    let at_end = arrived_now(received);
    let backlog_at_end = backlog(db, endpoints).await;
    // Drain: every healthy delivery of this phase, or give up after `drain`.
    let drain_start = Instant::now();
    while arrived_now(received) < expected && drain_start.elapsed() < o.drain {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let drained_in = drain_start.elapsed();
    let cpu = probe.sample().since(&cpu_start);
    let commits_after = commits(db).await;
    let backlog_after_drain = backlog(db, endpoints).await;
    let attempts_after = attempt_latency(db, endpoints).await;
    // Mean latency of this phase's attempts, per receiver, as the server recorded them.
    let attempt_ms: HashMap<&String, Option<f64>> = attempts_after
        .iter()
        .map(|(name, (n, avg))| {
            let (n0, avg0) = attempts_before.get(name).copied().unwrap_or((0, 0.0));
            let n_phase = n - n0;
            let mean = (n_phase > 0).then(|| (avg * *n as f64 - avg0 * n0 as f64) / n_phase as f64);
            (name, mean)
        })
        .collect();

    let arrivals: Vec<(&'static str, String, i64)> = received
        .arrivals
        .lock()
        .map(|a| a[already..].to_vec())
        .unwrap_or_default();
    let enqueued: HashMap<&str, i64> = generated
        .events
        .iter()
        .map(|(id, at)| (id.as_str(), *at))
        .collect();
    let mut first: HashMap<(&str, &str), i64> = HashMap::new();
    let mut duplicates = 0u64;
    let mut in_window = 0u64;
    let mut last_arrival = t0;
    for (name, id, at) in &arrivals {
        if !enqueued.contains_key(id.as_str()) {
            continue;
        }
        if *at <= t_end {
            in_window += 1;
        }
        last_arrival = last_arrival.max(*at);
        if first.insert((name, id.as_str()), *at).is_some() {
            duplicates += 1;
        }
    }
    let mut all = Vec::with_capacity(expected);
    let mut per_endpoint = serde_json::Map::new();
    for name in HEALTHY {
        let mut lat: Vec<i64> = generated
            .events
            .iter()
            .filter_map(|(id, at)| first.get(&(name, id.as_str())).map(|arr| arr - at))
            .collect();
        lat.sort_unstable();
        per_endpoint.insert(
            name.to_owned(),
            json!({"delivered": lat.len(), "p50_ms": percentile_ms(&lat, 0.5),
                   "p99_ms": percentile_ms(&lat, 0.99), "max_ms": percentile_ms(&lat, 1.0)}),
        );
        all.extend(lat);
    }
    all.sort_unstable();
    let delivered = all.len() as u64;
    let window_s = (t_end - t0) as f64 / 1e6;
    let hang_attempts = received.hung.load(Ordering::Relaxed) - hung_before;
    let units = delivered + hang_attempts;
    let per = |cpu: f64| CpuUsage::ms_per_unit(cpu, units);
    let result = json!({
        "phase": spec.name,
        "hanging_endpoint": spec.hanging,
        "target_events_per_s": o.rate,
        "events": generated.events.len(),
        "events_per_s": generated.events.len() as f64 / generated_in.as_secs_f64(),
        "emit_errors": generated.errors,
        "first_emit_error": generated.first_error,
        "generator_max_behind_ms": generated.max_behind_ms,
        "expected_deliveries": expected,
        "delivered": delivered,
        "missing": expected as u64 - delivered.min(expected as u64),
        "duplicates": duplicates,
        "delivered_per_s_in_window": in_window as f64 / window_s.max(1e-9),
        "delivered_per_s_overall": delivered as f64 / ((last_arrival - t0) as f64 / 1e6).max(1e-9),
        "p50_ms": percentile_ms(&all, 0.5),
        "p99_ms": percentile_ms(&all, 0.99),
        "p99_9_ms": percentile_ms(&all, 0.999),
        "max_ms": percentile_ms(&all, 1.0),
        "per_endpoint": per_endpoint,
        "backlog_healthy_at_end": expected - at_end.min(expected),
        "backlog_db_at_end": backlog_at_end,
        "backlog_db_after_drain": backlog_after_drain,
        "drained_in_s": drained_in.as_secs_f64(),
        "hang_attempts_received": hang_attempts,
        "attempt_latency_ms_mean": attempt_ms,
        "cpu_window_s": cpu.wall.as_secs_f64(),
        "cpu_ms_per_delivery": {"server": per(cpu.server), "postgres": cpu.postgres.and_then(per),
            "harness": per(cpu.harness)},
        "cores_busy": cpu.cores_busy(),
        "machine_cores_busy": cpu.machine_cores_busy(),
        "pg_commits_per_delivery": match (commits_before, commits_after) {
            (Some(a), Some(b)) if units > 0 => Some((b - a) as f64 / units as f64),
            _ => None,
        },
    });
    eprintln!("[outbound] {result}");
    result
}

/// Runs the scenario on `backend` (a fresh database) and returns its report.
pub async fn run(o: &Options, backend: &str) -> Value {
    let data_dir = std::env::temp_dir().join(format!("cassa-outbound-{}", Uuid::now_v7().simple()));
    std::fs::create_dir_all(&data_dir).expect("temp dir");
    let (database_url, admin) = super::fresh_database(o, backend, &data_dir).await;
    let received = Arc::new(Received::default());
    let server = start(&database_url, received.clone()).await;
    let probe = Probe {
        server_pid: None,
        postgres: backend == "postgres",
    };
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(64)
        .build()
        .expect("client");
    let api = Api {
        http,
        base: server.base.clone(),
    };
    eprintln!(
        "[{backend}] outbound fan-out: server in process at {} (workers {}, attempt timeout {} ms)",
        server.base,
        server.state.config.outbound_webhook_workers,
        server.state.config.outbound_webhook_timeout.as_millis()
    );
    let seeded = seed(&api, 1, 1).await.expect("seeding");
    let key = seeded.key.clone();
    let mut endpoints = Vec::new();
    for name in HEALTHY.iter().chain([&HANG]) {
        let created = api
            .post(
                "/api/v1/admin/webhook-endpoints",
                &key,
                json!({"url": format!("{}/api/v1/bench-hooks/{name}", server.base),
                       "event_types": ["*"], "description": format!("bench receiver {name}")}),
            )
            .await
            .expect("webhook endpoint");
        let secret = created["secret"].as_str().unwrap_or_default().to_owned();
        if let Ok(mut s) = received.secrets.lock() {
            s.insert((*name).to_owned(), secret);
        }
        endpoints.push((
            (*name).to_owned(),
            created["id"].as_str().unwrap_or_default().to_owned(),
        ));
    }
    let hang_id = endpoints[3].1.clone();
    let set_hang = |enabled: bool| {
        let api = &api;
        let (key, path) = (
            key.clone(),
            format!("/api/v1/admin/webhook-endpoints/{hang_id}"),
        );
        async move {
            api.send(
                reqwest::Method::PATCH,
                &path,
                &key,
                Some(&Uuid::now_v7().to_string()),
                Some(&json!({"enabled": enabled})),
            )
            .await
            .expect("enable or disable the hanging endpoint");
        }
    };
    set_hang(false).await;

    // One real payment: its events reach every healthy receiver through the domain's own emit.
    let (order, w) = seeded
        .orders
        .lock()
        .ok()
        .and_then(|mut v| v.pop())
        .expect("an order");
    let token = &seeded.tokens[w];
    let quote = api
        .post(
            "/api/v1/me/checkout/quote",
            token,
            json!({"order_id": order}),
        )
        .await
        .expect("quote");
    let intent = api
        .post(
            &format!("/api/v1/me/orders/{order}/payments/authorize"),
            token,
            json!({"snapshot_id": quote["snapshot_id"], "payment_method": "pm_card_visa"}),
        )
        .await
        .expect("authorize");
    let captured = api
        .post(
            &format!(
                "/api/v1/admin/orders/{order}/payments/{}/capture",
                intent["id"].as_str().unwrap_or_default()
            ),
            &key,
            json!({"amount": intent["amount"]}),
        )
        .await
        .expect("capture");
    let wait = Instant::now();
    while HEALTHY.iter().any(|n| received.arrived(n) < 3)
        && wait.elapsed() < Duration::from_secs(30)
    {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let payment_events: Vec<usize> = HEALTHY.iter().map(|n| received.arrived(n)).collect();
    eprintln!(
        "[{backend}] the real payment's events reached the receivers: {payment_events:?} (verified signatures: {})",
        received.verified.load(Ordering::Relaxed)
    );
    let store: StoreId = seeded.store_id.parse().expect("store id");

    let bench = Bench {
        o,
        server: &server,
        probe,
        received: &received,
        store,
        object: &captured,
        endpoints: &endpoints,
    };
    let mut phases = Vec::new();
    for spec in [
        Phase {
            name: "3 healthy endpoints",
            hanging: false,
        },
        Phase {
            name: "3 healthy + 1 hanging",
            hanging: true,
        },
    ] {
        set_hang(spec.hanging).await;
        eprintln!(
            "[{backend}] outbound fan-out: {} at {}/s for {} s",
            spec.name,
            o.rate,
            o.duration.as_secs()
        );
        phases.push(phase(&bench, &spec).await);
    }
    let report = json!({
        "backend": backend,
        "workers": server.state.config.outbound_webhook_workers,
        "attempt_timeout_ms": server.state.config.outbound_webhook_timeout.as_millis() as u64,
        "payment_events_per_receiver": payment_events,
        "payload_bytes": serde_json::to_string(&captured).map(|s| s.len()).unwrap_or(0),
        "signatures_verified": received.verified.load(Ordering::Relaxed),
        "bad_signatures": received.bad_signatures.load(Ordering::Relaxed),
        "first_bad_signature": received.first_bad.lock().ok().and_then(|f| f.clone()),
        "phases": phases,
    });
    drop(server);
    if let Some((admin, name)) = admin {
        let _ = sqlx::query(&format!("DROP DATABASE {name} WITH (FORCE)"))
            .execute(&admin)
            .await;
    }
    let _ = std::fs::remove_dir_all(&data_dir);
    report
}

/// The scenario's table.
pub fn print(reports: &[Value]) {
    println!(
        "\nOutbound fan-out (enqueue = the event's created_at, delivery = arrival at a healthy receiver)"
    );
    println!(
        "{:<10} {:<24} {:>9} {:>10} {:>9} {:>8} {:>8} {:>9} {:>8} {:>8} {:>22}",
        "backend",
        "phase",
        "events/s",
        "deliv/s",
        "missing",
        "p50 ms",
        "p99 ms",
        "p99.9 ms",
        "backlog",
        "drain s",
        "CPU ms/deliv srv/pg/h"
    );
    let ms = |v: &Value| v.as_f64().map_or("-".to_owned(), |v| format!("{v:.3}"));
    for report in reports {
        for p in report["phases"].as_array().into_iter().flatten() {
            let cpu = &p["cpu_ms_per_delivery"];
            println!(
                "{:<10} {:<24} {:>9.1} {:>10.1} {:>9} {:>8.1} {:>8.1} {:>9.1} {:>8} {:>8.1} {:>22}",
                report["backend"].as_str().unwrap_or_default(),
                p["phase"].as_str().unwrap_or_default(),
                p["events_per_s"].as_f64().unwrap_or(0.0),
                p["delivered_per_s_in_window"].as_f64().unwrap_or(0.0),
                p["missing"].as_u64().unwrap_or(0),
                p["p50_ms"].as_f64().unwrap_or(0.0),
                p["p99_ms"].as_f64().unwrap_or(0.0),
                p["p99_9_ms"].as_f64().unwrap_or(0.0),
                p["backlog_healthy_at_end"].as_u64().unwrap_or(0),
                p["drained_in_s"].as_f64().unwrap_or(0.0),
                format!(
                    "{}/{}/{}",
                    ms(&cpu["server"]),
                    ms(&cpu["postgres"]),
                    ms(&cpu["harness"])
                ),
            );
        }
    }
}
