//! CPU accounting over a scenario's measured window: the CPU time (user + system) spent by the
//! server, by PostgreSQL and by this harness, read from `/proc`. On a small shared machine
//! throughput moves from run to run; CPU time per unit of work says where the CPU goes and is
//! much steadier. A process that cannot be read (it vanished) counts 0: nothing here panics.

use std::{
    collections::HashMap,
    process::Command,
    sync::OnceLock,
    time::{Duration, Instant},
};

/// The processes to account for during a backend's scenarios.
#[derive(Clone, Copy)]
pub struct Probe {
    /// The server's process; `None` for a server running inside this harness, whose threads
    /// are told apart by name ([`SERVER_THREADS`]).
    pub server_pid: Option<u32>,
    /// Whether to add up PostgreSQL's processes (the PostgreSQL backend only).
    pub postgres: bool,
}

impl Probe {
    pub fn sample(self) -> CpuSample {
        CpuSample::now(self.server_pid, self.postgres)
    }
}

/// Cumulative CPU clock ticks at one instant.
pub struct CpuSample {
    at: Instant,
    server: u64,
    harness: u64,
    postgres: Option<Postgres>,
    /// Busy ticks of the whole machine (all CPUs, every process, ours or not).
    machine: u64,
}

/// PostgreSQL's processes: every process whose command name (`/proc/<pid>/comm`, also the
/// second field of `/proc/<pid>/stat`) is `postgres`.
struct Postgres {
    /// utime + stime of each live process, keyed by pid and start time so that a reused pid is
    /// not taken for the same process.
    live: HashMap<(u32, u64), u64>,
    /// cutime + cstime summed over them: the CPU of children that exited and were reaped. The
    /// postmaster reaps its backends, so this is where an exited backend's CPU ends up.
    reaped: u64,
}

/// CPU time spent in a window, in seconds.
pub struct CpuUsage {
    pub wall: Duration,
    pub server: f64,
    /// `None` on SQLite.
    pub postgres: Option<f64>,
    pub harness: f64,
    /// The whole machine, including processes that are not part of the benchmark.
    pub machine: f64,
}

/// Name prefixes (`/proc/self/task/*/comm`, at most 15 characters) of the threads of a server
/// running inside the harness: its runtime's threads, and SQLite's connection workers (all
/// SQLite connections in the harness process are the server's).
pub const SERVER_THREADS: [&str; 2] = ["cassa-server", "sqlx-sqlite-wor"];

/// CPU ticks of this process's live threads whose names start with one of `prefixes` (a
/// thread that exited during the window is counted as the harness's).
fn own_threads(prefixes: &[&str]) -> u64 {
    let Ok(dir) = std::fs::read_dir("/proc/self/task") else {
        return 0;
    };
    dir.flatten()
        .filter_map(|e| {
            e.file_name()
                .to_str()
                .and_then(|t| stat(&format!("self/task/{t}")))
        })
        .filter(|s| prefixes.iter().any(|p| s.comm.starts_with(p)))
        .map(|s| s.own)
        .sum()
}

impl CpuSample {
    pub fn now(server_pid: Option<u32>, with_postgres: bool) -> Self {
        let ticks = |pid: &str| stat(pid).map_or(0, |s| s.own);
        let this = ticks("self");
        let (server, harness) = match server_pid {
            Some(pid) => (ticks(&pid.to_string()), this),
            None => {
                let server = own_threads(&SERVER_THREADS);
                (server, this.saturating_sub(server))
            }
        };
        CpuSample {
            at: Instant::now(),
            server,
            harness,
            postgres: with_postgres.then(postgres),
            machine: machine_busy(),
        }
    }

    /// The CPU spent between `start` and this sample.
    pub fn since(&self, start: &CpuSample) -> CpuUsage {
        let hz = ticks_per_second();
        let secs = |end: u64, start: u64| end.saturating_sub(start) as f64 / hz;
        CpuUsage {
            wall: self.at.duration_since(start.at),
            server: secs(self.server, start.server),
            harness: secs(self.harness, start.harness),
            postgres: match (&start.postgres, &self.postgres) {
                (Some(a), Some(b)) => Some(postgres_ticks(a, b) as f64 / hz),
                _ => None,
            },
            machine: secs(self.machine, start.machine),
        }
    }
}

/// PostgreSQL's CPU ticks between two samples. Processes that appear and disappear during the
/// window are counted as well as `/proc` allows:
/// - present at both ends: the difference;
/// - present only at the end (started during the window): all of their CPU;
/// - present only at the start (exited): their total reaches the postmaster's cutime + cstime
///   when it reaps them, so the growth of that sum counts them, less what they had used before
///   the window. (One that is still unreaped at the end is missed; so is one that both starts
///   and exits inside the window without being reaped by a `postgres` process.)
fn postgres_ticks(start: &Postgres, end: &Postgres) -> u64 {
    let mut total = end.reaped as i64 - start.reaped as i64;
    for (id, &ticks) in &end.live {
        total += ticks as i64 - start.live.get(id).map_or(0, |&t| t as i64);
    }
    for (id, &ticks) in &start.live {
        if !end.live.contains_key(id) {
            total -= ticks as i64;
        }
    }
    total.max(0) as u64
}

impl CpuUsage {
    /// Milliseconds of CPU per unit of work; `None` without any work done.
    pub fn ms_per_unit(cpu: f64, units: u64) -> Option<f64> {
        (units > 0).then(|| cpu * 1000.0 / units as f64)
    }

    /// CPU of the server, PostgreSQL and the harness together, in cores busy on average.
    pub fn cores_busy(&self) -> f64 {
        let cpu = self.server + self.postgres.unwrap_or(0.0) + self.harness;
        cpu / self.wall.as_secs_f64().max(1e-9)
    }

    /// The whole machine's CPU, in cores busy on average: well above `cores_busy` means
    /// something else was competing for the CPU.
    pub fn machine_cores_busy(&self) -> f64 {
        self.machine / self.wall.as_secs_f64().max(1e-9)
    }
}

/// Clock ticks per second (`sysconf(_SC_CLK_TCK)`; 100 on Linux), read once.
fn ticks_per_second() -> f64 {
    static HZ: OnceLock<f64> = OnceLock::new();
    *HZ.get_or_init(|| {
        Command::new("getconf")
            .arg("CLK_TCK")
            .output()
            .ok()
            .and_then(|o| String::from_utf8(o.stdout).ok())
            .and_then(|s| s.trim().parse().ok())
            .filter(|&hz: &f64| hz > 0.0)
            .unwrap_or(100.0)
    })
}

struct Stat {
    comm: String,
    /// utime + stime
    own: u64,
    /// cutime + cstime (children waited for)
    children: u64,
    start_time: u64,
}

/// Parses `/proc/<pid>/stat`; `None` if the process is gone.
fn stat(pid: &str) -> Option<Stat> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // `pid (comm) state ...`: the command name may itself hold spaces and parentheses.
    let (head, rest) = text.rsplit_once(')')?;
    let comm = head.split_once('(')?.1.to_owned();
    // `rest` starts at field 3 (state), so field n is at index n - 3.
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let field = |n: usize| fields.get(n - 3).and_then(|f| f.parse::<u64>().ok());
    Some(Stat {
        comm,
        own: field(14)? + field(15)?,
        children: field(16)? + field(17)?,
        start_time: field(22)?,
    })
}

fn postgres() -> Postgres {
    let mut pg = Postgres {
        live: HashMap::new(),
        reaped: 0,
    };
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return pg;
    };
    for entry in dir.flatten() {
        let name = entry.file_name();
        let Some(pid) = name.to_str().and_then(|n| n.parse::<u32>().ok()) else {
            continue;
        };
        if let Some(s) = stat(&pid.to_string()).filter(|s| s.comm == "postgres") {
            pg.live.insert((pid, s.start_time), s.own);
            pg.reaped += s.children;
        }
    }
    pg
}

/// Busy ticks summed over all CPUs, from the first line of `/proc/stat`: user, nice, system,
/// irq, softirq and steal (time the hypervisor gave to other guests; guest time is already
/// inside user and nice).
fn machine_busy() -> u64 {
    let Ok(text) = std::fs::read_to_string("/proc/stat") else {
        return 0;
    };
    let Some(cpu) = text.lines().next() else {
        return 0;
    };
    let f: Vec<u64> = cpu
        .split_whitespace()
        .skip(1)
        .map(|v| v.parse().unwrap_or(0))
        .collect();
    [0, 1, 2, 5, 6, 7]
        .iter()
        .map(|&i| f.get(i).copied().unwrap_or(0))
        .sum()
}
