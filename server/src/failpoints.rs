//! Crash points for the crash/restart harness (`scripts/crash`, issue #22).
//!
//! [`crash_point!`](crate::crash_point) marks a place exactly between two durable steps (a
//! commit and the provider call after it, a provider call and the commit of its outcome, …).
//! Built without the `failpoints` feature (every shipped build) the macro expands to nothing.
//! Built with it, the points are [`fail`] crate failpoints, and a process started with
//! `CASSA_CRASH_AT=<name>[,<name>…]` stops dead at the first of them it reaches: it prints
//! [`MARKER`] and the point's name on stderr and blocks there, so that the harness can
//! `kill -9` it with nothing after the point done. `CASSA_CLOCK_OFFSET_SECS` moves the
//! server's clock ahead, so a restarted process sees the dead one's locks and leases as
//! expired (what a real restart minutes later would see) without the harness waiting.

/// Stops here when the `failpoints` build was told to (see the module documentation).
#[macro_export]
macro_rules! crash_point {
    ($name:expr) => {
        #[cfg(feature = "failpoints")]
        ::fail::fail_point!($name);
    };
}

/// What a process prints on stderr, followed by the point's name, when it stops at one.
pub const MARKER: &str = "CASSA_CRASH_POINT";

/// Arms the points named in `CASSA_CRASH_AT` (at start-up, before anything can reach one).
#[cfg(feature = "failpoints")]
pub fn arm() {
    let Ok(names) = std::env::var("CASSA_CRASH_AT") else {
        return;
    };
    for name in names.split(',').map(str::trim).filter(|n| !n.is_empty()) {
        let point = name.to_owned();
        let armed = fail::cfg_callback(name, move || {
            use std::io::Write;
            let mut err = std::io::stderr().lock();
            let _ = writeln!(err, "{MARKER} {point}");
            let _ = err.flush();
            // Until the harness's SIGKILL: nothing after the point may run. Other tasks go
            // on meanwhile, as they would in a process about to lose its power.
            loop {
                std::thread::park();
            }
        });
        if let Err(err) = armed {
            tracing::error!(point = name, error = %err, "cannot arm a crash point");
        }
    }
}

/// The server's clock: the system clock, moved ahead by `CASSA_CLOCK_OFFSET_SECS`.
#[cfg(feature = "failpoints")]
pub fn clock() -> crate::clock::SharedClock {
    let offset = std::env::var("CASSA_CLOCK_OFFSET_SECS")
        .ok()
        .and_then(|s| s.trim().parse::<i64>().ok())
        .unwrap_or(0);
    std::sync::Arc::new(Offset(chrono::Duration::seconds(offset)))
}

#[cfg(feature = "failpoints")]
struct Offset(chrono::Duration);

#[cfg(feature = "failpoints")]
impl crate::clock::Clock for Offset {
    fn now(&self) -> chrono::DateTime<chrono::Utc> {
        crate::clock::stored(chrono::Utc::now() + self.0)
    }
}
