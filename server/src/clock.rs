//! Time as a dependency, so tests can move it.
//!
//! Rules that depend on time (expiries, lockouts, retries) read [`Clock::now`] and timestamps
//! written to the database come from it too, never from the database's `now()`.
//!
//! Every clock reads in whole microseconds, what PostgreSQL keeps: a row a flow just wrote
//! (and answers, or sends in an outbound event) is then the row the API reads back later.

use std::sync::{Arc, Mutex};

use chrono::{DateTime, Duration, SubsecRound, Utc};

/// `at` as the databases keep it (whole microseconds).
pub fn stored(at: DateTime<Utc>) -> DateTime<Utc> {
    at.trunc_subsecs(6)
}

/// Longest wait between two attempts of a job on one item (a resolver's open transaction or
/// label purchase).
pub const MAX_BACKOFF_SECS: i64 = 3600;

/// The wait before attempt `attempts + 1` of a job on one item: `period`, doubled per attempt,
/// at most [`MAX_BACKOFF_SECS`].
pub fn backoff(period: std::time::Duration, attempts: i32) -> Duration {
    let base = i64::try_from(period.as_secs())
        .unwrap_or(MAX_BACKOFF_SECS)
        .max(1);
    let factor = 1i64 << attempts.clamp(0, 20);
    Duration::seconds(base.saturating_mul(factor).min(MAX_BACKOFF_SECS))
}

/// A source of the current time.
pub trait Clock: Send + Sync + 'static {
    /// The current instant, in UTC.
    fn now(&self) -> DateTime<Utc>;
}

/// The shared clock handle kept in application state.
pub type SharedClock = Arc<dyn Clock>;

/// The real wall clock.
#[derive(Clone, Copy, Debug, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        stored(Utc::now())
    }
}

/// A clock that only moves when told to. Clones share the same time.
#[derive(Clone, Debug)]
pub struct ManualClock {
    now: Arc<Mutex<DateTime<Utc>>>,
}

impl ManualClock {
    /// A clock stopped at `start`.
    pub fn new(start: DateTime<Utc>) -> Self {
        Self {
            now: Arc::new(Mutex::new(start)),
        }
    }

    /// Moves the clock forward (or backward, with a negative duration).
    pub fn advance(&self, by: Duration) {
        let mut now = self.lock();
        *now += by;
    }

    /// Sets the clock to an exact instant.
    pub fn set(&self, to: DateTime<Utc>) {
        *self.lock() = to;
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, DateTime<Utc>> {
        // A panic while holding this lock cannot leave the timestamp half-written, so a
        // poisoned lock is still safe to use.
        self.now
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

impl Clock for ManualClock {
    fn now(&self) -> DateTime<Utc> {
        stored(*self.lock())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_an_hour() {
        let period = std::time::Duration::from_secs(30);
        assert_eq!(backoff(period, 0), Duration::seconds(30));
        assert_eq!(backoff(period, 1), Duration::seconds(60));
        assert_eq!(backoff(period, 3), Duration::seconds(240));
        assert_eq!(backoff(period, 10), Duration::seconds(3600));
        assert_eq!(backoff(period, i32::MAX), Duration::seconds(3600));
        assert_eq!(backoff(std::time::Duration::ZERO, 0), Duration::seconds(1));
    }

    #[test]
    fn manual_clock_moves_only_when_told() {
        let start = DateTime::parse_from_rfc3339("2026-01-01T00:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        let clock = ManualClock::new(start);
        let shared: SharedClock = Arc::new(clock.clone());
        assert_eq!(shared.now(), start);
        clock.advance(Duration::seconds(90));
        assert_eq!(shared.now(), start + Duration::seconds(90));
        clock.set(start);
        assert_eq!(shared.now(), start);
    }

    #[test]
    fn clocks_read_whole_microseconds() {
        let odd = DateTime::parse_from_rfc3339("2026-01-01T00:00:00.123456789Z")
            .unwrap()
            .with_timezone(&Utc);
        let micros = DateTime::parse_from_rfc3339("2026-01-01T00:00:00.123456Z")
            .unwrap()
            .with_timezone(&Utc);
        assert_eq!(ManualClock::new(odd).now(), micros);
        assert_eq!(SystemClock.now().timestamp_subsec_nanos() % 1000, 0);
    }

    #[test]
    fn system_clock_is_close_to_utc_now() {
        let delta = SystemClock.now() - Utc::now();
        assert!(delta.num_seconds().abs() < 5);
    }
}
