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

mod cpu;
mod database;
mod measure;
mod outbound;
mod roundtrips;
mod seed;

use cpu::{CpuUsage, Probe};
use database::{bulk_ledger, pgbench, webhook_backlog};
use measure::{Outcome, Recorder, Target, closed_loop, outcome, random};
use seed::{Api, Seeded, seed};

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
    /// `all` (default), `api` (the scenarios against `cassa serve`) or `outbound`.
    scenario: String,
    /// Target events per second of the outbound fan-out.
    rate: f64,
    /// How long the outbound fan-out waits for its backlog after generating.
    drain: Duration,
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
        scenario: "all".into(),
        rate: 1000.0,
        drain: Duration::from_secs(60),
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
            "--scenario" => {
                assert!(
                    ["all", "api", "outbound"].contains(&value.as_str()),
                    "--scenario all|api|outbound"
                );
                o.scenario = value
            }
            "--rate" => o.rate = value.parse().expect("--rate events/s"),
            "--drain" => o.drain = Duration::from_secs(value.parse().expect("--drain secs")),
            other => panic!("unknown option {other}"),
        }
        i += 2;
    }
    o
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
    start_server_with(path, database_url, data_dir, &[])
}

/// [`start_server`] with more environment variables.
fn start_server_with(
    path: &str,
    database_url: &str,
    data_dir: &str,
    extra: &[(&str, &str)],
) -> Server {
    let port = free_port();
    let child = Command::new(path)
        .envs(extra.iter().copied())
        .arg("serve")
        .env("DATABASE_URL", database_url)
        .env("CASSA_DATA_DIR", data_dir)
        .env("CASSA_LISTEN_ADDR", format!("127.0.0.1:{port}"))
        .env("CASSA_ADMIN_EMAIL", ADMIN_EMAIL)
        .env("CASSA_ADMIN_PASSWORD", ADMIN_PASSWORD)
        .env("CASSA_MASTER_KEYS", MASTER_KEYS)
        .env("CASSA_DB_MAX_CONNECTIONS", "16")
        // The harness measures the server's capacity, not the per-key request limit.
        .env("CASSA_API_KEY_RATE_LIMIT", "0")
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

/// Waits (up to 20 s) until the server at `base` answers `/readyz`.
async fn wait_ready(http: &reqwest::Client, base: &str) {
    for _ in 0..200 {
        if http
            .get(format!("{base}/readyz"))
            .send()
            .await
            .is_ok_and(|r| r.status().is_success())
        {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

type Replay = (String, String, String, Value);

async fn authorize_capture(
    api: &Arc<Api>,
    s: &Arc<Seeded>,
    o: &Options,
    target: Target<'_>,
    replays: &Arc<Mutex<Vec<Replay>>>,
    rate: Option<f64>,
) -> Outcome {
    let rec = Arc::new(Recorder::default());
    let payments = Arc::new(AtomicU64::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let start = target.probe.sample();
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
    let cpu = target.probe.sample().since(&start);
    outcome(
        if rate.is_some() {
            "authorize+capture @ half"
        } else {
            "authorize+capture"
        },
        target.backend,
        &rec,
        payments.load(Ordering::Relaxed),
        cpu,
        "payments/s",
    )
}

/// The sandbox PSP key the bench's store uses from here on; returns its PSP account id (the
/// SHA-256 of the key, as the PSP names accounts).
async fn use_bench_psp_key(http: &reqwest::Client, base: &str, key: &str) -> String {
    use sha2::Digest;
    const BENCH_KEY: &str = "sbx_bench_0123456789abcdef0123";
    let response = http
        .put(format!("{base}/api/v1/admin/credentials/sandbox/sandbox"))
        .bearer_auth(key)
        .header("idempotency-key", Uuid::now_v7().to_string())
        // The same signing secret as the seed's: the webhook ingest scenario signs with it (a
        // secret of its own here left every ingest request a 401).
        .json(&json!({"api_key": BENCH_KEY, "webhook_secret": WEBHOOK_SECRET}))
        .send()
        .await
        .expect("bench PSP key");
    assert!(
        response.status().is_success(),
        "bench PSP key: {}",
        response.status()
    );
    sha2::Sha256::digest(BENCH_KEY.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Reconciles the days holding the bulk ledger (every payment, the PSP's list staged and
/// compared batch by batch) and samples the server's resident memory until the run completes.
async fn measure_reconciliation(http: &reqwest::Client, base: &str, key: &str, pid: u32) -> Value {
    let before = rss_kb(pid, "VmRSS:").unwrap_or(0);
    let today = chrono::Utc::now().date_naive();
    let from = today - chrono::Duration::days(4);
    let t = Instant::now();
    let run: Value = match http
        .post(format!("{base}/api/v1/admin/reconciliation/runs"))
        .bearer_auth(key)
        .header("idempotency-key", Uuid::now_v7().to_string())
        .json(&json!({"from": from, "to": today}))
        .send()
        .await
    {
        Ok(r) if r.status().is_success() => r.json().await.unwrap_or_default(),
        Ok(r) => return json!({"error": format!("status {}", r.status())}),
        Err(e) => return json!({"error": e.to_string()}),
    };
    let url = format!(
        "{base}/api/v1/admin/reconciliation/runs/{}",
        run["id"].as_str().unwrap_or_default()
    );
    let mut peak = before;
    loop {
        tokio::time::sleep(Duration::from_millis(500)).await;
        peak = peak.max(rss_kb(pid, "VmRSS:").unwrap_or(0));
        let Ok(r) = http.get(&url).bearer_auth(key).send().await else {
            continue;
        };
        let run: Value = r.json().await.unwrap_or_default();
        if run["status"] == "completed" || run["status"] == "failed" {
            return json!({
                "reconciliation_status": run["status"], "seconds": t.elapsed().as_secs_f64(),
                "examined": run["examined"], "matched": run["matched"],
                "exceptions": run["exceptions"], "totals": run["totals"],
                "run_duration_ms": run["duration_ms"],
                "server_rss_mb_before": before as f64 / 1024.0,
                "server_rss_mb_peak": peak as f64 / 1024.0,
            });
        }
        if t.elapsed() > Duration::from_secs(3600) {
            return json!({"error": "the run did not complete in an hour", "run": run});
        }
    }
}

/// Streams the tax export of every bulk line (one request, one reader) and samples the
/// server's resident memory meanwhile: an export of a million lines must not grow it.
async fn measure_tax_export(http: &reqwest::Client, base: &str, key: &str, pid: u32) -> Value {
    let before = rss_kb(pid, "VmRSS:").unwrap_or(0);
    let t = Instant::now();
    let url = format!(
        "{base}/api/v1/admin/tax/reports/export?from=2000-01-01&to=2100-01-01&group_by=transaction"
    );
    let mut response = match http.get(url).bearer_auth(key).send().await {
        Ok(r) if r.status().is_success() => r,
        Ok(r) => return json!({"error": format!("status {}", r.status())}),
        Err(e) => return json!({"error": e.to_string()}),
    };
    let (mut bytes, mut lines, mut peak) = (0u64, 0u64, before);
    while let Ok(Some(chunk)) = response.chunk().await {
        bytes += chunk.len() as u64;
        lines += chunk.iter().filter(|b| **b == b'\n').count() as u64;
        if lines % 50_000 < 2_000 {
            peak = peak.max(rss_kb(pid, "VmRSS:").unwrap_or(0));
        }
    }
    let seconds = t.elapsed().as_secs_f64();
    let after = rss_kb(pid, "VmRSS:").unwrap_or(0);
    json!({
        "tax_export_lines": lines.saturating_sub(1), "seconds": seconds,
        "lines_per_s": lines as f64 / seconds, "mb": bytes as f64 / 1e6,
        "server_rss_mb_before": before as f64 / 1024.0, "server_rss_mb_peak": peak.max(after) as f64 / 1024.0,
    })
}

/// A fresh database for `backend`: a new PostgreSQL database on `--pg-url`'s server (with the
/// admin pool and its name, to drop it afterwards), or an SQLite file in `data_dir`.
async fn fresh_database(
    o: &Options,
    backend: &str,
    data_dir: &std::path::Path,
) -> (String, Option<(sqlx::PgPool, String)>) {
    if backend == "postgres" {
        let name = format!("cassa_load_{}", Uuid::now_v7().simple());
        let admin = sqlx::PgPool::connect(&o.pg_url)
            .await
            .expect("PostgreSQL for the load test");
        sqlx::query(&format!("CREATE DATABASE {name}"))
            .execute(&admin)
            .await
            .expect("create database");
        // Same server and options (e.g. `?host=/var/run/postgresql` for the Unix socket), the
        // new database's name in place of the admin URL's.
        let (url, query) = o
            .pg_url
            .split_once('?')
            .map_or((o.pg_url.as_str(), None), |(u, q)| (u, Some(q)));
        let base = url.rsplit_once('/').map(|(b, _)| b).unwrap_or_default();
        let query = query.map(|q| format!("?{q}")).unwrap_or_default();
        (format!("{base}/{name}{query}"), Some((admin, name)))
    } else {
        (
            format!("sqlite://{}", data_dir.join("cassa.db").display()),
            None,
        )
    }
}

async fn run_backend(o: &Options, backend: &str) -> (Vec<Outcome>, u64, Option<f64>, Value) {
    let data_dir = std::env::temp_dir().join(format!("cassa-load-{}", Uuid::now_v7().simple()));
    std::fs::create_dir_all(&data_dir).expect("temp dir");
    let (database_url, admin) = fresh_database(o, backend, &data_dir).await;
    let server = start_server(&o.server, &database_url, &data_dir.display().to_string());
    let pid = server.child.id();
    let target = Target {
        backend,
        probe: Probe {
            server_pid: Some(pid),
            postgres: backend == "postgres",
        },
    };
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(o.concurrency * 2)
        .build()
        .expect("client");
    wait_ready(&http, &server.base).await;
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
    // A PSP key of our own before any payment, so the bulk payments can be written into the
    // PSP's account too and the reconciliation finds every payment of the run in one account.
    let psp_account = use_bench_psp_key(&http, &server.base, &seeded.key).await;
    let mut results = Vec::new();

    eprintln!("[{backend}] authorize+capture");
    let replays = Arc::new(Mutex::new(Vec::new()));
    results.push(authorize_capture(&api, &seeded, o, target, &replays, None).await);
    let peak_rate = results[0].throughput;
    eprintln!(
        "[{backend}] authorize+capture at half the peak rate ({:.0}/s)",
        peak_rate / 2.0
    );
    results
        .push(authorize_capture(&api, &seeded, o, target, &replays, Some(peak_rate / 2.0)).await);

    let round_trips = if backend == "postgres" {
        eprintln!("[{backend}] round trips per payment (one at a time, counted on the wire)");
        let counted = roundtrips::per_payment(
            &o.server,
            &database_url,
            &data_dir.display().to_string(),
            &seeded,
            100,
        )
        .await;
        eprintln!("[{backend}] round trips: {counted}");
        counted
    } else {
        Value::Null
    };

    eprintln!("[{backend}] idempotent replay");
    let replay_set = Arc::new(replays.lock().map(|r| r.clone()).unwrap_or_default());
    {
        let api = api.clone();
        results.push(
            closed_loop(o, o.concurrency, target, "idempotent replay", move |n| {
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
            closed_loop(o, o.concurrency, target, "webhook ingest", move |n| {
                let (http, url) = (http.clone(), url.clone());
                async move {
                    let id = format!("msg_bench_{n}_{}", Uuid::now_v7().simple());
                    let body =
                        json!({"id": id, "type": "payment.updated", "data": {"n": n}}).to_string();
                    let ts = chrono::Utc::now().timestamp();
                    let sig = cassa::providers::signature::sign_standard(
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
    let webhook_worker = webhook_backlog(&database_url, &seeded.store_id).await;
    eprintln!("[{backend}] webhook workers after ingest: {webhook_worker}");

    eprintln!(
        "[{backend}] inserting {} ledger transactions",
        o.ledger_rows
    );
    let t = Instant::now();
    let (intents, orders) =
        bulk_ledger(&database_url, &seeded.store_id, o.ledger_rows, &psp_account)
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
            closed_loop(o, clients, target, name, move |n| {
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
            closed_loop(o, o.concurrency, target, "order detail", move |n| {
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
    let export = measure_tax_export(&http, &server.base, &seeded.key, pid).await;
    eprintln!("[{backend}] {export}");
    let reconciliation = measure_reconciliation(&http, &server.base, &seeded.key, pid).await;
    eprintln!("[{backend}] {reconciliation}");
    let export = json!({"tax_export": export, "reconciliation": reconciliation,
        "round_trips": round_trips, "webhook_worker": webhook_worker});
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
    (results, hwm, limit, export)
}

/// CPU milliseconds per unit (payment or request) of the server, PostgreSQL (`null` on SQLite)
/// and the harness.
fn cpu_ms_per_unit(r: &Outcome) -> Value {
    let per = |cpu: f64| CpuUsage::ms_per_unit(cpu, r.units);
    json!({
        "server": per(r.cpu.server),
        "postgres": r.cpu.postgres.and_then(per),
        "harness": per(r.cpu.harness),
    })
}

/// The "CPU per unit" table under the main one: where each scenario's CPU went.
fn print_cpu_table(table: &[(String, Vec<Outcome>, u64, Option<f64>)]) {
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    println!(
        "\nCPU per unit (CPU ms per payment or request, over each scenario's measured window)"
    );
    println!(
        "cores busy = CPU of server + postgres + harness / wall time; machine = every process's"
    );
    println!(
        "{:<10} {:<24} {:<8} {:>9} {:>9} {:>9} {:>7} {:>12} {:>8}",
        "backend",
        "scenario",
        "per",
        "server",
        "postgres",
        "harness",
        "wall s",
        "cores busy",
        "machine"
    );
    let ms = |v: Option<f64>| v.map_or("-".to_owned(), |v| format!("{v:.3}"));
    for (backend, results, _, _) in table {
        for r in results {
            let per = |cpu: f64| CpuUsage::ms_per_unit(cpu, r.units);
            let unit = if r.unit == "payments/s" {
                "payment"
            } else {
                "request"
            };
            println!(
                "{:<10} {:<24} {:<8} {:>9} {:>9} {:>9} {:>7.2} {:>12} {:>8.2}",
                backend,
                r.name,
                unit,
                ms(per(r.cpu.server)),
                ms(r.cpu.postgres.and_then(per)),
                ms(per(r.cpu.harness)),
                r.cpu.wall.as_secs_f64(),
                format!("{:.2} of {cores}", r.cpu.cores_busy()),
                r.cpu.machine_cores_busy(),
            );
        }
    }
}

#[tokio::main]
async fn main() {
    let o = options();
    let mut table = Vec::new();
    let mut report = BTreeMap::new();
    let mut fan_out = Vec::new();
    for backend in o.backends.clone() {
        if o.scenario != "api" {
            fan_out.push(outbound::run(&o, &backend).await);
        }
        if o.scenario == "outbound" {
            continue;
        }
        let (results, rss_kb, limit, export) = run_backend(&o, &backend).await;
        let payments = results.first().map(|r| r.throughput).unwrap_or(0.0);
        report.insert(backend.clone(), json!({
            "peak_rss_mb": rss_kb as f64 / 1024.0,
            "pgbench_payment_writes_per_s": limit,
            "payments_vs_pgbench": limit.map(|l| payments / l),
            "tax_export": export,
            "scenarios": results.iter().map(|r| json!({
                "name": r.name, "backend": r.backend, "throughput": r.throughput, "unit": r.unit, "requests": r.requests,
                "errors": r.errors, "p50_ms": r.p50_ms, "p99_ms": r.p99_ms, "p99_9_ms": r.p999_ms,
                "first_error": r.first_error,
                "cpu_ms_per_unit": cpu_ms_per_unit(r), "cores_busy": r.cpu.cores_busy(),
                "machine_cores_busy": r.cpu.machine_cores_busy(), "window_s": r.cpu.wall.as_secs_f64(),
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
    print_cpu_table(&table);
    if !fan_out.is_empty() {
        outbound::print(&fan_out);
    }
    let json = serde_json::to_string_pretty(&json!({
        "duration_s": o.duration.as_secs(), "concurrency": o.concurrency, "ledger_rows": o.ledger_rows,
        "backends": report, "outbound_fan_out": fan_out,
    })).unwrap_or_default();
    println!("\n{json}");
    if let Some(path) = &o.json {
        let _ = std::fs::write(path, json);
    }
    // A scenario whose requests failed measured nothing: said by the exit status, so a broken
    // scenario cannot pass for a slow one.
    let failed: Vec<String> = table
        .iter()
        .flat_map(|(backend, results, _, _)| {
            results
                .iter()
                .filter(|r| r.errors > 0)
                .map(move |r| format!("{backend} {}: {} errors", r.name, r.errors))
        })
        .collect();
    if !failed.is_empty() {
        eprintln!("scenarios with errors: {}", failed.join("; "));
        std::process::exit(1);
    }
}
