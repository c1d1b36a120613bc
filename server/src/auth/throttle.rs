//! Per-account sign-in backoff as a pure rule.
//!
//! A hard lock after N failures lets anyone who knows an email keep its owner out for good.
//! Instead, failures space out attempts: after the [`FREE_FAILURES`]th consecutive failure the
//! next attempt must wait 1 s, then 2 s, 4 s, … up to a configured cap. Attempts inside the
//! window are refused without looking at the password (and do not lengthen it); the first
//! attempt after the window is judged on its password alone, so the right one always gets in.
//! A guesser is held to one guess per window while the owner waits at most one window.
//!
//! An attempt is counted as a failure *before* its password is checked (and forgiven when it
//! succeeds), so concurrent guesses cannot all slip through one open window.

use chrono::{DateTime, Duration, Utc};

/// Consecutive failures that cost no wait.
pub const FREE_FAILURES: i32 = 2;

/// The wait after the first failure that costs one.
pub fn base_delay() -> Duration {
    Duration::seconds(1)
}

/// The wait after `failures` consecutive failures: 0 for the free ones, then doubling from
/// [`base_delay`], never above `max`.
pub fn delay(failures: i32, max: Duration) -> Duration {
    let doublings = failures - FREE_FAILURES - 1;
    if doublings < 0 {
        return Duration::zero();
    }
    // 2^20 s is far beyond any sensible cap; stopping there keeps the arithmetic in range.
    let factor = 1i32 << doublings.min(20);
    (base_delay() * factor).min(max)
}

/// An account's backoff: consecutive failures and when the next attempt may be judged.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Backoff {
    /// Consecutive failures (including attempts still being judged).
    pub failures: i32,
    /// No attempt is judged before this instant.
    pub next_attempt_at: Option<DateTime<Utc>>,
}

impl Backoff {
    /// No failures.
    pub fn clean() -> Self {
        Self {
            failures: 0,
            next_attempt_at: None,
        }
    }

    /// How long an attempt at `now` must still wait, if it must.
    pub fn wait(&self, now: DateTime<Utc>) -> Option<Duration> {
        self.next_attempt_at
            .filter(|at| now < *at)
            .map(|at| at - now)
    }

    /// Takes the right to judge one attempt at `now`, counting it as a failure until it
    /// succeeds; inside the window, the wait left instead.
    pub fn claim(self, now: DateTime<Utc>, max: Duration) -> Result<Backoff, Duration> {
        if let Some(wait) = self.wait(now) {
            return Err(wait);
        }
        let failures = self.failures.saturating_add(1);
        Ok(Backoff {
            failures,
            next_attempt_at: Some(now + delay(failures, max)),
        })
    }
}

/// Whole seconds to tell a client to wait (at least 1).
pub fn retry_after_secs(wait: Duration) -> u64 {
    let millis = wait.num_milliseconds().max(0) as u64;
    millis.div_ceil(1000).max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t0() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2026-03-01T10:00:00Z")
            .unwrap()
            .with_timezone(&Utc)
    }

    fn max() -> Duration {
        Duration::minutes(15)
    }

    #[test]
    fn waits_double_after_the_free_failures_up_to_the_cap() {
        let waits: Vec<i64> = (1..=16).map(|n| delay(n, max()).num_seconds()).collect();
        assert_eq!(
            waits,
            [
                0, 0, 1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 900, 900, 900, 900
            ]
        );
        assert_eq!(delay(i32::MAX, max()), max());
    }

    #[test]
    fn attempts_inside_the_window_are_refused_without_extending_it() {
        let mut state = Backoff::clean();
        for _ in 0..3 {
            state = state.claim(t0(), max()).unwrap();
        }
        assert_eq!(state.failures, 3);
        let refused = state.claim(t0() + Duration::milliseconds(400), max());
        assert_eq!(refused, Err(Duration::milliseconds(600)));
        // The refusal changed nothing: the window still ends at the same instant.
        assert_eq!(state.wait(t0() + Duration::seconds(1)), None);
    }

    #[test]
    fn after_the_window_an_attempt_is_always_judged() {
        // However many failures, the wait never exceeds the cap and an attempt after it is let
        // through to the password check.
        let mut state = Backoff::clean();
        let mut now = t0();
        for _ in 0..50 {
            state = state.claim(now, max()).unwrap();
            let wait = state.wait(now).unwrap_or_else(Duration::zero);
            assert!(wait <= max());
            now += wait;
        }
        assert!(state.claim(now, max()).is_ok());
    }

    #[test]
    fn retry_after_rounds_up_to_whole_seconds() {
        assert_eq!(retry_after_secs(Duration::milliseconds(1)), 1);
        assert_eq!(retry_after_secs(Duration::milliseconds(1001)), 2);
        assert_eq!(retry_after_secs(Duration::seconds(900)), 900);
        assert_eq!(retry_after_secs(Duration::zero()), 1);
    }
}
