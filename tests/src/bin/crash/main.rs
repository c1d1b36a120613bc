//! Crash and restart (issue #22): the real server as a child process, killed with SIGKILL
//! exactly between two durable steps of a payment, a webhook, a key rotation or a label
//! purchase, then restarted on the same database; once the restarted server's resolver and
//! workers (and, for a label, the retried request) have done their part, the invariants hold
//! (see `checks.rs`).
//!
//! The server is the `cassa` binary built with the `failpoints` feature (`scripts/crash`
//! builds it and names it in `CASSA_CRASH_SERVER`): `CASSA_CRASH_AT` makes it stop at a point
//! and say so on stderr, and `CASSA_CLOCK_OFFSET_SECS` lets each restart see the dead
//! process's locks and leases as minutes old. The PSP is the sandbox PSP the server mounts,
//! reached over HTTP like any provider, with its ledger in the same database: it survives the
//! kill as a remote provider would.
//!
//! ```text
//! scripts/crash                   # builds target/crash/cassa with the feature, then runs:
//! CASSA_CRASH_SERVER=target/crash/cassa target/debug/crash
//! ... --only refund --sqlite      # the points whose name contains `refund`, SQLite only
//! ```
//! PostgreSQL runs on `TEST_DATABASE_URL` (required when `CI` is set).

mod checks;
mod scenarios;
mod server;
mod waits;

use std::{
    path::{Path, PathBuf},
    process::ExitCode,
    time::Instant,
};

use cassa_tests::{
    Backend,
    shop::{Answered, Api, Store},
};
use reqwest::Method;
use serde_json::Value;
use sqlx::{Connection, Executor, PgConnection};
use uuid::Uuid;

use crate::server::Server;

/// The webhook secret of every shop's sandbox credentials (the harness signs with it).
pub const WEBHOOK_SECRET: &str = "whsec_Y3Jhc2gtaGFybmVzcy13ZWJob29rLXNlY3JldC0zMmI=";

/// A store of the run, with the PSP account its credentials name.
pub struct Shop {
    pub store: Store,
    pub api_key: String,
    /// The shop's sandbox carrier account, when it buys labels.
    pub carrier_key: Option<String>,
    pub orders: Vec<String>,
}

/// A request sent under an Idempotency-Key, with every answer it got.
pub struct Keyed {
    pub label: String,
    pub method: Method,
    pub path: String,
    pub token: String,
    pub body: Value,
    pub key: String,
    pub answers: Vec<Answered>,
}

impl Keyed {
    /// Sends it (again); the answer is kept.
    pub async fn send(&mut self, api: &Api) -> Answered {
        let answer = api
            .send(
                self.method.clone(),
                &self.path,
                &self.token,
                Some(&self.key),
                Some(&self.body),
            )
            .await;
        self.answers.push(answer.clone());
        answer
    }
}

/// One backend's run: one database, one server restarted at every point.
pub struct Run {
    pub server: Server,
    pub api: Api,
    pub admin: String,
    pub shops: Vec<Shop>,
    pub keys: Vec<Keyed>,
    /// The events the harness delivered itself: (shop, event id).
    pub events: Vec<(usize, String)>,
    pub rotations: Vec<String>,
    /// The reconciliation runs a crash interrupted: (shop, run id, the period it was asked for).
    pub reconciliations: Vec<(usize, String, serde_json::Value)>,
    /// The version the last rotation moved to (the test keys start with 2 as primary).
    pub rotation_target: u32,
}

struct Options {
    sqlite: bool,
    postgres: bool,
    only: Option<String>,
}

fn usage() -> ! {
    eprintln!("usage: crash [--sqlite | --postgres] [--only <part of a point's name>]");
    std::process::exit(2)
}

fn options() -> Options {
    let mut o = Options {
        sqlite: true,
        postgres: true,
        only: None,
    };
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--sqlite" => o.postgres = false,
            "--postgres" => o.sqlite = false,
            "--only" => o.only = Some(args.next().unwrap_or_else(|| usage())),
            _ => usage(),
        }
    }
    o
}

/// A database of its own on the PostgreSQL server: its URL.
async fn create_pg_database(admin_url: &str, name: &str) -> String {
    let mut conn = PgConnection::connect(admin_url)
        .await
        .expect("connect to TEST_DATABASE_URL");
    conn.execute(format!(r#"CREATE DATABASE "{name}""#).as_str())
        .await
        .expect("create the database");
    let mut url = url::Url::parse(admin_url).expect("TEST_DATABASE_URL is a URL");
    url.set_path(&format!("/{name}"));
    url.to_string()
}

async fn drop_pg_database(admin_url: &str, name: &str) {
    if let Ok(mut conn) = PgConnection::connect(admin_url).await {
        let _ = conn
            .execute(format!(r#"DROP DATABASE IF EXISTS "{name}" WITH (FORCE)"#).as_str())
            .await;
    }
}

/// What a backend's run did, for the report.
struct Figures {
    points: usize,
    kills: u32,
    starts: u32,
    requests: u64,
    verdict: checks::Verdict,
}

async fn run_backend(bin: &Path, backend: &Backend, options: &Options) -> Figures {
    let dir = tempdir();
    let pg_name = format!("cassa_crash_{}", Uuid::now_v7().simple());
    let database_url = match backend {
        Backend::Sqlite => format!("sqlite://{}/cassa.db", dir.display()),
        Backend::Postgres(admin) => create_pg_database(admin, &pg_name).await,
    };
    let mut server = Server::new(bin, database_url, &dir);
    server.start(None).await;
    let api = Api::new(&server.base());
    let admin = api
        .sign_in(cassa_tests::ADMIN_EMAIL, cassa_tests::ADMIN_PASSWORD)
        .await;
    let mut run = Run {
        server,
        api,
        admin,
        shops: Vec::new(),
        keys: Vec::new(),
        events: Vec::new(),
        rotations: Vec::new(),
        reconciliations: Vec::new(),
        rotation_target: 2,
    };
    let mut points = 0;
    for scenario in scenarios::ALL {
        if let Some(only) = &options.only
            && !scenario.point.contains(only.as_str())
        {
            continue;
        }
        let started = Instant::now();
        let line = scenarios::run(&mut run, scenario).await;
        points += 1;
        println!(
            "  {} {line} ({:.1}s)",
            backend.name(),
            started.elapsed().as_secs_f64()
        );
    }
    let verdict = checks::check(&run).await;
    run.server.stop();
    let figures = Figures {
        points,
        kills: run.server.kills,
        starts: run.server.starts,
        requests: run.api.sent(),
        verdict,
    };
    if let Backend::Postgres(admin) = backend {
        drop_pg_database(admin, &pg_name).await;
    }
    if figures.verdict.broken.is_empty() {
        let _ = std::fs::remove_dir_all(&dir);
    } else {
        eprintln!("server logs kept in {}", dir.display());
    }
    figures
}

/// A fresh folder for the SQLite database and the server logs (in memory when the machine
/// has `/dev/shm`, as `scripts/crash` arranges through `TMPDIR`).
fn tempdir() -> PathBuf {
    let dir = std::env::temp_dir().join(format!("cassa-crash-{}", Uuid::now_v7().simple()));
    std::fs::create_dir_all(&dir).expect("a temporary folder");
    dir
}

#[tokio::main]
async fn main() -> ExitCode {
    let options = options();
    let Some(bin) = std::env::var_os("CASSA_CRASH_SERVER").map(PathBuf::from) else {
        eprintln!(
            "CASSA_CRASH_SERVER must name a cassa binary built with `--features failpoints` \
             (scripts/crash builds one)"
        );
        return ExitCode::from(2);
    };
    let mut backends = Vec::new();
    if options.sqlite {
        backends.push(Backend::Sqlite);
    }
    if options.postgres
        && let Some(pg) = Backend::postgres()
    {
        backends.push(pg);
    }
    let started = Instant::now();
    let mut failed = false;
    for backend in &backends {
        println!("{}:", backend.name());
        let f = run_backend(&bin, backend, &options).await;
        let v = &f.verdict;
        println!(
            "{}: {} crash points, {} kills (SIGKILL), {} server starts, {} requests; checked \
             {} intents against {} PSP payments, {} shipments against {} carrier labels, {} \
             idempotency keys, {} webhook events, {} stores' credentials; broken invariants: {}",
            backend.name(),
            f.points,
            f.kills,
            f.starts,
            f.requests,
            v.intents,
            v.provider_payments,
            v.shipments,
            v.carrier_labels,
            v.keys,
            v.events,
            v.credentials,
            v.broken.len()
        );
        for line in &v.broken {
            println!("  BROKEN {line}");
        }
        failed |= !v.broken.is_empty();
    }
    println!(
        "crash harness done in {:.0}s",
        started.elapsed().as_secs_f64()
    );
    if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}
