//! When a failed delivery is tried again, when it is given up, and when an endpoint that
//! keeps failing is disabled.
//!
//! The retry schedule spreads eleven attempts over a little more than three days, most of
//! them in the first hours (a receiver that is briefly down is caught up within minutes) and
//! the last ones far apart (one that is down for a day or two still gets everything):
//! after the first attempt, 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h, 14 h, 14 h and 17 h,
//! each lengthened by up to 10 % at random so a recovering receiver is not hit by every
//! retry of an outage at once. In total 72 h 35 min (up to 79 h 50 min with the jitter).

use chrono::Duration;
use rand::Rng;

/// The nominal delays after the 1st, 2nd, … failed attempt.
pub const RETRY_DELAYS_SECS: [i64; 10] = [
    5,
    5 * 60,
    30 * 60,
    2 * 3600,
    5 * 3600,
    10 * 3600,
    10 * 3600,
    14 * 3600,
    14 * 3600,
    17 * 3600,
];

/// Attempts of a delivery before it is `failed`: the first and one per retry.
pub const MAX_ATTEMPTS: i32 = RETRY_DELAYS_SECS.len() as i32 + 1;

/// Largest random lengthening of a delay, in percent.
const JITTER_PERCENT: i64 = 10;

/// An endpoint every attempt to which has failed for this long is disabled. A single
/// delivery that exhausts its schedule spans longer than this, so one event failing
/// throughout is enough.
pub fn failing_disables_after() -> Duration {
    Duration::days(3)
}

/// The wait before the next attempt of a delivery whose `attempts`-th attempt just failed;
/// `None` when the schedule is exhausted (the delivery has failed).
pub fn retry_delay(attempts: i32) -> Option<Duration> {
    let index = usize::try_from(attempts.checked_sub(1)?).ok()?;
    let nominal_ms = RETRY_DELAYS_SECS.get(index)? * 1000;
    let jitter_ms = rand::thread_rng().gen_range(0..=nominal_ms * JITTER_PERCENT / 100);
    Some(Duration::milliseconds(nominal_ms + jitter_ms))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_schedule_spans_a_little_more_than_three_days() {
        assert_eq!(MAX_ATTEMPTS, 11);
        let total: i64 = RETRY_DELAYS_SECS.iter().sum();
        assert_eq!(total, 72 * 3600 + 35 * 60 + 5);
        assert!(Duration::seconds(total) > failing_disables_after());
        assert!(Duration::seconds(total * 110 / 100) < Duration::days(4));
        assert!(
            RETRY_DELAYS_SECS.windows(2).all(|w| w[0] <= w[1]),
            "delays never shrink"
        );
    }

    #[test]
    fn each_delay_is_its_nominal_value_lengthened_by_at_most_ten_percent() {
        for _ in 0..50 {
            for (i, nominal) in RETRY_DELAYS_SECS.iter().enumerate() {
                let attempts = i32::try_from(i).unwrap() + 1;
                let delay = retry_delay(attempts).unwrap().num_milliseconds();
                assert!(
                    delay >= nominal * 1000 && delay <= nominal * 1100,
                    "after attempt {attempts}: {delay} ms"
                );
            }
        }
        assert_eq!(retry_delay(MAX_ATTEMPTS), None);
        assert_eq!(retry_delay(0), None);
        assert_eq!(retry_delay(-1), None);
    }
}
