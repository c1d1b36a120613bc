//! Latency recording, percentiles, and the closed loop that drives a scenario.

use std::{
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, AtomicU64, Ordering},
    },
    time::Instant,
};

use super::{
    Options,
    cpu::{CpuUsage, Probe},
};

/// Latencies of one scenario.
#[derive(Default)]
pub struct Recorder {
    pub micros: Mutex<Vec<u32>>,
    pub errors: AtomicU64,
    pub first_error: Mutex<Option<String>>,
}

impl Recorder {
    pub fn ok(&self, started: Instant) {
        let us = started.elapsed().as_micros().min(u32::MAX as u128) as u32;
        if let Ok(mut v) = self.micros.lock() {
            v.push(us);
        }
    }

    pub fn err(&self, what: String) {
        self.errors.fetch_add(1, Ordering::Relaxed);
        if let Ok(mut first) = self.first_error.lock()
            && first.is_none()
        {
            *first = Some(what);
        }
    }
}

/// The backend under test: its name in the report, and the processes whose CPU is accounted
/// over each scenario's measured run.
#[derive(Clone, Copy)]
pub struct Target<'a> {
    pub backend: &'a str,
    pub probe: Probe,
}

/// A scenario's result.
pub struct Outcome {
    pub name: String,
    pub backend: String,
    /// Units per second (payments for authorize+capture, requests otherwise).
    pub throughput: f64,
    pub unit: &'static str,
    pub requests: usize,
    pub errors: u64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub p999_ms: f64,
    pub first_error: Option<String>,
    /// Units of work done (payments for authorize+capture, successful requests otherwise).
    pub units: u64,
    /// CPU spent during the measured window, which is also the window `throughput` is over.
    pub cpu: CpuUsage,
}

pub fn percentile(sorted: &[u32], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let idx = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[idx.min(sorted.len() - 1)] as f64 / 1000.0
}

pub fn outcome(
    name: &str,
    backend: &str,
    rec: &Recorder,
    units: u64,
    cpu: CpuUsage,
    unit: &'static str,
) -> Outcome {
    let mut v = rec.micros.lock().map(|v| v.clone()).unwrap_or_default();
    v.sort_unstable();
    Outcome {
        name: name.into(),
        backend: backend.into(),
        throughput: units as f64 / cpu.wall.as_secs_f64(),
        unit,
        requests: v.len(),
        errors: rec.errors.load(Ordering::Relaxed),
        p50_ms: percentile(&v, 0.50),
        p99_ms: percentile(&v, 0.99),
        p999_ms: percentile(&v, 0.999),
        first_error: rec.first_error.lock().ok().and_then(|e| e.clone()),
        units,
        cpu,
    }
}

/// Runs `call` from `concurrency` tasks for the configured duration; `call` gets a sequence
/// number and returns `Err` on failure.
pub async fn closed_loop<F, Fut>(
    o: &Options,
    clients: usize,
    target: Target<'_>,
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
    let start = target.probe.sample();
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
    let cpu = target.probe.sample().since(&start);
    outcome(
        name,
        target.backend,
        &rec,
        done.load(Ordering::Relaxed),
        cpu,
        "requests/s",
    )
}

pub fn random(n: u64) -> u64 {
    // A cheap, well-mixed hash of the sequence number (splitmix64).
    let mut z = n.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}
