//! Request limits: token buckets keyed by client address or API key, and how the client address
//! is determined.
//!
//! Buckets live in the process (a deployment of N processes allows N times the configured rate)
//! and refill by the application clock, so tests move them with the manual clock.

mod client_ip;

use std::{
    collections::HashMap,
    hash::Hash,
    sync::{Mutex, MutexGuard},
};

use chrono::{DateTime, Utc};

pub use client_ip::{TrustedProxies, client_ip, limiter_key};

/// Keys a limiter tracks at most; beyond that, idle (full) buckets are dropped first.
const MAX_TRACKED_KEYS: usize = 100_000;

/// A token bucket's shape: how many tokens it holds and how fast it refills.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Rate {
    /// Tokens regained per second (> 0).
    per_second: f64,
    /// Capacity: what may be spent at once.
    burst: f64,
}

impl Rate {
    /// `per_second` tokens a second, at most `burst` at once.
    pub fn per_second(per_second: f64, burst: f64) -> Self {
        Self {
            per_second: per_second.max(f64::MIN_POSITIVE),
            burst: burst.max(1.0),
        }
    }

    /// `per_minute` tokens a minute, at most `burst` at once.
    pub fn per_minute(per_minute: f64, burst: f64) -> Self {
        Self::per_second(per_minute / 60.0, burst)
    }
}

/// One bucket: tokens left at an instant.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TokenBucket {
    tokens: f64,
    at: DateTime<Utc>,
}

impl TokenBucket {
    /// A full bucket.
    pub fn full(rate: Rate, now: DateTime<Utc>) -> Self {
        Self {
            tokens: rate.burst,
            at: now,
        }
    }

    fn refill(&mut self, rate: Rate, now: DateTime<Utc>) {
        // A clock that moved backwards refills nothing rather than draining the bucket.
        if now > self.at {
            let elapsed = (now - self.at).num_milliseconds() as f64 / 1000.0;
            self.tokens = (self.tokens + elapsed * rate.per_second).min(rate.burst);
            self.at = now;
        }
    }

    /// Spends a token, or says in how many whole seconds (at least 1) one will be there.
    pub fn take(&mut self, rate: Rate, now: DateTime<Utc>) -> Result<(), u64> {
        self.refill(rate, now);
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            return Ok(());
        }
        // The epsilon absorbs float error so an exact number of seconds is not rounded up.
        let wait = ((1.0 - self.tokens) / rate.per_second - 1e-9).ceil();
        Err(if wait.is_finite() {
            (wait as u64).max(1)
        } else {
            u64::MAX
        })
    }

    /// Gives back a token spent by [`TokenBucket::take`].
    pub fn refund(&mut self, rate: Rate) {
        self.tokens = (self.tokens + 1.0).min(rate.burst);
    }

    /// Whether the bucket is back at capacity (and so is the same as no bucket at all).
    pub fn is_full(&self, rate: Rate, now: DateTime<Utc>) -> bool {
        let mut copy = *self;
        copy.refill(rate, now);
        copy.tokens >= rate.burst
    }
}

/// Token buckets per key, bounded in memory.
#[derive(Debug)]
pub struct KeyedLimiter<K> {
    rate: Rate,
    buckets: Mutex<HashMap<K, TokenBucket>>,
    max_keys: usize,
}

impl<K: Hash + Eq + Clone> KeyedLimiter<K> {
    /// A limiter applying `rate` to every key.
    pub fn new(rate: Rate) -> Self {
        Self::with_capacity(rate, MAX_TRACKED_KEYS)
    }

    fn with_capacity(rate: Rate, max_keys: usize) -> Self {
        Self {
            rate,
            buckets: Mutex::new(HashMap::new()),
            max_keys,
        }
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<K, TokenBucket>> {
        // Buckets are plain numbers: a panic elsewhere cannot leave one half-updated.
        self.buckets
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Spends a token of `key`'s bucket, or returns the seconds until one is available.
    pub fn check(&self, key: &K, now: DateTime<Utc>) -> Result<(), u64> {
        let mut buckets = self.lock();
        if let Some(bucket) = buckets.get_mut(key) {
            return bucket.take(self.rate, now);
        }
        if buckets.len() >= self.max_keys {
            let rate = self.rate;
            buckets.retain(|_, bucket| !bucket.is_full(rate, now));
            if buckets.len() >= self.max_keys {
                // Every tracked key is busy: failing open for new keys keeps memory bounded
                // and never locks out a client for what others did.
                tracing::debug!("rate limiter full; not tracking a new key");
                return Ok(());
            }
        }
        let mut bucket = TokenBucket::full(self.rate, now);
        let taken = bucket.take(self.rate, now);
        buckets.insert(key.clone(), bucket);
        taken
    }

    /// Gives back the token a successful [`KeyedLimiter::check`] spent.
    pub fn refund(&self, key: &K) {
        if let Some(bucket) = self.lock().get_mut(key) {
            bucket.refund(self.rate);
        }
    }
}

/// The process's limiters, built from configuration.
#[derive(Debug)]
pub struct Limiters {
    /// Failed sign-ins per client address (IPv6 per /64).
    pub sign_in_ip: KeyedLimiter<std::net::IpAddr>,
    /// Requests per API key, when limited.
    pub api_keys: Option<KeyedLimiter<crate::types::ApiKeyId>>,
}

impl Limiters {
    /// Limiters for failed sign-ins per address and, when limited, requests per API key.
    pub fn new(sign_in_ip_rate: Rate, api_key_rate: Option<Rate>) -> Self {
        Self {
            sign_in_ip: KeyedLimiter::new(sign_in_ip_rate),
            api_keys: api_key_rate.map(KeyedLimiter::new),
        }
    }
}

#[cfg(test)]
mod tests {
    use chrono::Duration;

    use super::*;

    fn t0() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2026-03-01T10:00:00Z")
            .unwrap()
            .with_timezone(&Utc)
    }

    #[test]
    fn a_bucket_spends_its_burst_then_refills_at_the_rate() {
        let rate = Rate::per_second(2.0, 3.0);
        let mut bucket = TokenBucket::full(rate, t0());
        for _ in 0..3 {
            assert_eq!(bucket.take(rate, t0()), Ok(()));
        }
        assert_eq!(bucket.take(rate, t0()), Err(1));
        assert_eq!(
            bucket.take(rate, t0() + Duration::milliseconds(500)),
            Ok(())
        );
        assert_eq!(
            bucket.take(rate, t0() + Duration::milliseconds(500)),
            Err(1)
        );
        // A long pause refills only up to the burst.
        let later = t0() + Duration::hours(1);
        for _ in 0..3 {
            assert_eq!(bucket.take(rate, later), Ok(()));
        }
        assert!(bucket.take(rate, later).is_err());
    }

    #[test]
    fn retry_after_is_the_whole_seconds_until_the_next_token() {
        let rate = Rate::per_minute(1.0, 1.0);
        let mut bucket = TokenBucket::full(rate, t0());
        assert_eq!(bucket.take(rate, t0()), Ok(()));
        assert_eq!(bucket.take(rate, t0()), Err(60));
        assert_eq!(bucket.take(rate, t0() + Duration::seconds(59)), Err(1));
        assert_eq!(bucket.take(rate, t0() + Duration::seconds(60)), Ok(()));
    }

    #[test]
    fn a_clock_moving_backwards_drains_nothing() {
        let rate = Rate::per_second(1.0, 2.0);
        let mut bucket = TokenBucket::full(rate, t0());
        assert_eq!(bucket.take(rate, t0() - Duration::hours(1)), Ok(()));
        assert_eq!(bucket.take(rate, t0()), Ok(()));
        assert!(bucket.take(rate, t0()).is_err());
    }

    #[test]
    fn refunds_never_exceed_the_burst() {
        let rate = Rate::per_second(1.0, 1.0);
        let mut bucket = TokenBucket::full(rate, t0());
        bucket.refund(rate);
        assert_eq!(bucket.take(rate, t0()), Ok(()));
        assert!(bucket.take(rate, t0()).is_err());
    }

    #[test]
    fn keys_have_separate_buckets_and_memory_stays_bounded() {
        let limiter = KeyedLimiter::with_capacity(Rate::per_second(1.0, 1.0), 2);
        assert_eq!(limiter.check(&"a", t0()), Ok(()));
        assert_eq!(limiter.check(&"a", t0()), Err(1));
        assert_eq!(limiter.check(&"b", t0()), Ok(()));
        // Full: a new key is let through untracked rather than evicting a busy one.
        assert_eq!(limiter.check(&"c", t0()), Ok(()));
        assert_eq!(limiter.check(&"a", t0()), Err(1));
        // Once the others are idle again, their buckets make room.
        let later = t0() + Duration::seconds(5);
        assert_eq!(limiter.check(&"c", later), Ok(()));
        assert_eq!(limiter.check(&"c", later), Err(1));
        limiter.refund(&"c");
        assert_eq!(limiter.check(&"c", later), Ok(()));
    }
}
