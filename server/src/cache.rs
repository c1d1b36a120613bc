//! Short-lived in-process caches for what nearly every request reads and almost never
//! changes: the principal behind a token, a store's decrypted provider credentials.
//!
//! Entries live [`Caches::ttl`] (`CASSA_CACHE_TTL_MS`, 0 turns caching off). A change made
//! through this process clears the affected cache at once (revoking a key, writing or deleting
//! credentials, rewrapping or retiring a master key); another instance sharing the database
//! sees the change after at most the TTL. Expiring tokens are checked on every hit.

use std::{
    collections::HashMap,
    hash::Hash,
    sync::{
        PoisonError, RwLock,
        atomic::{AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use crate::{
    identity::Principal,
    providers::account::Credentials,
    types::{Environment, StoreId},
};

/// Entries a cache holds at most; beyond that it starts over (a crude bound that keeps memory
/// flat under a flood of distinct tokens, most of them invalid).
const MAX_ENTRIES: usize = 50_000;

/// A map whose entries expire.
pub struct TtlCache<K, V> {
    ttl: Duration,
    entries: RwLock<HashMap<K, (Instant, V)>>,
    /// Bumped by every [`TtlCache::clear`], so a value read from the database before a clear
    /// is never stored after it.
    generation: AtomicU64,
}

impl<K: Eq + Hash, V: Clone> TtlCache<K, V> {
    /// An empty cache whose entries live `ttl`.
    pub fn new(ttl: Duration) -> Self {
        Self {
            ttl,
            entries: RwLock::new(HashMap::new()),
            generation: AtomicU64::new(0),
        }
    }

    /// Take this before reading what will be inserted, and pass it to [`Self::insert`].
    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    /// A fresh entry.
    pub fn get(&self, key: &K) -> Option<V> {
        if self.ttl.is_zero() {
            return None;
        }
        let entries = self.entries.read().unwrap_or_else(PoisonError::into_inner);
        entries
            .get(key)
            .filter(|(at, _)| at.elapsed() < self.ttl)
            .map(|(_, v)| v.clone())
    }

    /// Remembers `value`, stamped now, unless the cache was cleared since `generation` was
    /// taken (the value may predate the change that cleared it).
    pub fn insert(&self, generation: u64, key: K, value: V) {
        if self.ttl.is_zero() {
            return;
        }
        let mut entries = self.entries.write().unwrap_or_else(PoisonError::into_inner);
        // Checked under the lock: `clear` bumps the generation while holding it.
        if self.generation() != generation {
            return;
        }
        if entries.len() >= MAX_ENTRIES {
            entries.clear();
        }
        entries.insert(key, (Instant::now(), value));
    }

    /// Forgets everything.
    pub fn clear(&self) {
        let mut entries = self.entries.write().unwrap_or_else(PoisonError::into_inner);
        self.generation.fetch_add(1, Ordering::AcqRel);
        entries.clear();
    }
}

/// A resolved principal and, for tokens that expire, when.
#[derive(Clone, Copy, Debug)]
pub struct CachedPrincipal {
    /// Who the token stands for.
    pub principal: Principal,
    /// When the token stops working (`None` for API keys).
    pub expires_at: Option<chrono::DateTime<chrono::Utc>>,
}

/// The process's caches.
pub struct Caches {
    /// How long entries live.
    pub ttl: Duration,
    /// Token hash → principal.
    pub principals: TtlCache<Vec<u8>, CachedPrincipal>,
    /// (store, provider, environment) → decrypted credentials (or none stored).
    pub credentials: TtlCache<(StoreId, String, Environment), Option<Credentials>>,
}

impl Caches {
    /// Empty caches whose entries live `ttl`.
    pub fn new(ttl: Duration) -> Self {
        Self {
            ttl,
            principals: TtlCache::new(ttl),
            credentials: TtlCache::new(ttl),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_expire_and_a_zero_ttl_caches_nothing() {
        let cache = TtlCache::new(Duration::from_millis(30));
        cache.insert(cache.generation(), 1, "a");
        assert_eq!(cache.get(&1), Some("a"));
        std::thread::sleep(Duration::from_millis(40));
        assert_eq!(cache.get(&1), None);
        cache.insert(cache.generation(), 2, "b");
        cache.clear();
        assert_eq!(cache.get(&2), None);

        let off = TtlCache::new(Duration::ZERO);
        off.insert(off.generation(), 1, "a");
        assert_eq!(off.get(&1), None);
    }

    #[test]
    fn a_value_read_before_a_clear_is_not_stored_after_it() {
        let cache = TtlCache::new(Duration::from_secs(60));
        let before = cache.generation();
        // …the database is read, meanwhile a key is revoked and the cache cleared…
        cache.clear();
        cache.insert(before, 1, "stale");
        assert_eq!(cache.get(&1), None);
        cache.insert(cache.generation(), 1, "fresh");
        assert_eq!(cache.get(&1), Some("fresh"));
    }
}
