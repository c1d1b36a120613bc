//! Login throttling as a pure rule: five failures lock an account for fifteen minutes.

use chrono::{DateTime, Duration, Utc};

/// Failures that trigger a lock.
pub const MAX_FAILURES: i32 = 5;

/// How long a lock lasts.
pub fn lock_duration() -> Duration {
    Duration::minutes(15)
}

/// The throttling columns of a user.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LoginState {
    /// Consecutive failures since the last success or expired lock.
    pub failures: i32,
    /// Locked until this instant, if locked.
    pub locked_until: Option<DateTime<Utc>>,
}

impl LoginState {
    /// Whether sign-in is refused at `now`, whatever the password.
    pub fn is_locked(&self, now: DateTime<Utc>) -> bool {
        self.locked_until.is_some_and(|until| now < until)
    }

    /// The state after a failed attempt at `now`. An expired lock starts a fresh count.
    pub fn after_failure(self, now: DateTime<Utc>) -> LoginState {
        if self.is_locked(now) {
            return self;
        }
        let previous = if self.locked_until.is_some() {
            0
        } else {
            self.failures
        };
        let failures = previous + 1;
        LoginState {
            failures,
            locked_until: (failures >= MAX_FAILURES).then(|| now + lock_duration()),
        }
    }

    /// The state after a successful sign-in.
    pub fn after_success() -> LoginState {
        LoginState {
            failures: 0,
            locked_until: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t0() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2026-03-01T10:00:00Z")
            .unwrap()
            .with_timezone(&Utc)
    }

    #[test]
    fn fifth_failure_locks_for_fifteen_minutes() {
        let mut state = LoginState::after_success();
        for i in 1..MAX_FAILURES {
            state = state.after_failure(t0());
            assert_eq!(state.failures, i);
            assert!(!state.is_locked(t0()));
        }
        state = state.after_failure(t0());
        assert!(state.is_locked(t0()));
        assert!(state.is_locked(t0() + Duration::minutes(14)));
        assert!(!state.is_locked(t0() + Duration::minutes(15)));
    }

    #[test]
    fn failures_while_locked_do_not_extend_the_lock() {
        let locked = LoginState {
            failures: 5,
            locked_until: Some(t0() + lock_duration()),
        };
        assert_eq!(locked.after_failure(t0() + Duration::minutes(5)), locked);
    }

    #[test]
    fn an_expired_lock_starts_a_fresh_count() {
        let expired = LoginState {
            failures: 5,
            locked_until: Some(t0()),
        };
        let next = expired.after_failure(t0() + Duration::minutes(1));
        assert_eq!(
            next,
            LoginState {
                failures: 1,
                locked_until: None
            }
        );
    }
}
