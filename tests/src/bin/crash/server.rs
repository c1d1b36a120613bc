//! The server under test as a child process: the `cassa` binary built with the `failpoints`
//! feature, started on one database and one port for a whole backend's run, stopped dead
//! (SIGKILL) at a crash point or gracefully (SIGTERM) between scenarios.

use std::{
    fs::File,
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

/// What `cassa` prints before it stops at a crash point (`cassa::failpoints::MARKER`).
const MARKER: &str = "CASSA_CRASH_POINT";

/// How far each start moves the server's clock beyond the previous one: past the
/// idempotency keys' lock (90 s), the webhook lease (60 s) and the rotation lease (30 s), as a
/// process restarted some minutes after a crash finds them. Twenty starts stay well within a
/// customer token's day.
const CLOCK_STEP_SECS: i64 = 600;

/// The slowest the machine may be to start the server or reach a point before it is a failure.
const PATIENCE: Duration = Duration::from_secs(120);

/// The PSP holds `pm_card_timeout` this long; Cassa gives up after `PROVIDER_TIMEOUT_MS`.
const PSP_TIMEOUT_DELAY_MS: u64 = 6000;
const PROVIDER_TIMEOUT_MS: u64 = 3000;

pub struct Server {
    bin: PathBuf,
    database_url: String,
    dir: PathBuf,
    port: u16,
    child: Option<Child>,
    /// Starts so far (each one's clock is [`CLOCK_STEP_SECS`] ahead of the last).
    pub starts: u32,
    /// Processes stopped with SIGKILL.
    pub kills: u32,
    log: PathBuf,
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

impl Server {
    pub fn new(bin: &Path, database_url: String, dir: &Path) -> Self {
        Server {
            bin: bin.to_owned(),
            database_url,
            dir: dir.to_owned(),
            port: free_port(),
            child: None,
            starts: 0,
            kills: 0,
            log: PathBuf::new(),
        }
    }

    /// `http://127.0.0.1:<port>`: the same for every start, since the PSP keeps the webhook
    /// URL a store registered.
    pub fn base(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Starts the server and waits until it is ready. With `crash_at`, the process stops at
    /// that point; the resolver then stays idle, so that only the request under test moves.
    pub async fn start(&mut self, crash_at: Option<&str>) {
        assert!(self.child.is_none(), "the server is already running");
        self.starts += 1;
        self.log = self.dir.join(format!("server-{:02}.log", self.starts));
        let log = File::create(&self.log).expect("server log");
        let offset = i64::from(self.starts) * CLOCK_STEP_SECS;
        let resolver_secs = if crash_at.is_some() { "3600" } else { "1" };
        let mut command = Command::new(&self.bin);
        command
            .arg("serve")
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("DATABASE_URL", &self.database_url)
            .env("CASSA_DATA_DIR", &self.dir)
            .env("CASSA_LISTEN_ADDR", format!("127.0.0.1:{}", self.port))
            .env("CASSA_MASTER_KEYS", cassa_tests::TEST_MASTER_KEYS)
            .env("CASSA_ADMIN_EMAIL", cassa_tests::ADMIN_EMAIL)
            .env("CASSA_ADMIN_PASSWORD", cassa_tests::ADMIN_PASSWORD)
            .env("CASSA_API_KEY_RATE_LIMIT", "0")
            .env("CASSA_RECONCILIATION_INTERVAL_SECS", "0")
            // Batches of two: a run of three payments takes several, so a crash can fall
            // between them.
            .env("CASSA_RECONCILIATION_BATCH", "2")
            .env("CASSA_RESOLVER_INTERVAL_SECS", resolver_secs)
            .env("CASSA_PROVIDER_TIMEOUT_MS", PROVIDER_TIMEOUT_MS.to_string())
            .env(
                "CASSA_SANDBOX_PSP_TIMEOUT_DELAY_MS",
                PSP_TIMEOUT_DELAY_MS.to_string(),
            )
            .env("CASSA_SHUTDOWN_GRACE_SECS", "5")
            .env("CASSA_CLOCK_OFFSET_SECS", offset.to_string())
            .env(
                "RUST_LOG",
                std::env::var("CRASH_LOG").unwrap_or_else(|_| "warn".to_owned()),
            )
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log handle"))
            .stderr(log);
        if let Some(point) = crash_at {
            command.env("CASSA_CRASH_AT", point);
        }
        self.child = Some(command.spawn().expect("start the cassa binary"));
        let client = reqwest::Client::new();
        let ready = format!("{}/readyz", self.base());
        let started = Instant::now();
        loop {
            if let Ok(r) = client.get(&ready).send().await
                && r.status().is_success()
            {
                return;
            }
            if self.exited() || started.elapsed() > PATIENCE {
                self.fail("the server did not become ready");
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    fn exited(&mut self) -> bool {
        match self.child.as_mut().map(Child::try_wait) {
            Some(Ok(Some(_))) | Some(Err(_)) => true,
            Some(Ok(None)) | None => false,
        }
    }

    fn fail(&self, why: &str) -> ! {
        let log = std::fs::read_to_string(&self.log).unwrap_or_default();
        let tail: Vec<&str> = log.lines().rev().take(40).collect();
        let tail: Vec<&str> = tail.into_iter().rev().collect();
        panic!("{why} (log {}):\n{}", self.log.display(), tail.join("\n"));
    }

    /// Waits until the process says it stopped at `point`.
    pub async fn wait_for(&mut self, point: &str) {
        let wanted = format!("{MARKER} {point}");
        let started = Instant::now();
        loop {
            let log = std::fs::read_to_string(&self.log).unwrap_or_default();
            if log.lines().any(|l| l.trim_end() == wanted) {
                return;
            }
            if self.exited() {
                self.fail(&format!("the server exited before reaching {point}"));
            }
            if started.elapsed() > PATIENCE {
                self.fail(&format!("the server never reached {point}"));
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// `kill -9`: nothing after the point runs, nothing is flushed or closed.
    pub fn kill(&mut self) {
        let mut child = self.child.take().expect("a running server");
        child.kill().expect("SIGKILL");
        child.wait().expect("reap the killed server");
        self.kills += 1;
    }

    /// SIGTERM, and waits for the graceful shutdown.
    pub fn stop(&mut self) {
        let Some(mut child) = self.child.take() else {
            return;
        };
        let terminated = Command::new("kill")
            .arg("-TERM")
            .arg(child.id().to_string())
            .status()
            .is_ok_and(|s| s.success());
        if !terminated {
            let _ = child.kill();
        }
        let _ = child.wait();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}
