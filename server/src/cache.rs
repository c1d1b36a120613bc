//! Short-lived in-process caches for what nearly every request reads and almost never
//! changes: the principal behind a token, a store's decrypted provider credentials, the
//! store's checkout configuration (shipping rates, tax rates, nexus, tax settings, the chosen
//! payment provider).
//!
//! Entries live [`Caches::ttl`] (`CASSA_CACHE_TTL_MS`, 0 turns caching off). A change made
//! through this process clears the affected cache at once (revoking a key, writing or deleting
//! credentials, rewrapping or retiring a master key, replacing a configuration), after its
//! commit; another instance sharing the database sees the change after at most the TTL.
//! Expiring tokens are checked on every hit.

use std::{
    any::{Any, TypeId},
    collections::HashMap,
    future::Future,
    hash::Hash,
    sync::{
        Arc, PoisonError, RwLock,
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

/// One piece of a store's configuration in [`ConfigCache`]: its type says which.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
struct ConfigKey {
    kind: TypeId,
    store: StoreId,
    env: Environment,
}

/// A store's configuration that every quote or payment reads and only an admin changes, each
/// piece cached under its own type (the owning module's row type, so this module names no
/// domain type). Any change clears every store's entries: changes are rare, and one
/// generation for all keeps a read that raced a change from being stored.
pub struct ConfigCache(TtlCache<ConfigKey, Arc<dyn Any + Send + Sync>>);

impl ConfigCache {
    /// An empty cache whose entries live `ttl`.
    pub fn new(ttl: Duration) -> Self {
        Self(TtlCache::new(ttl))
    }

    /// The store's `T`: cached, else what `load` reads (then cached, unless a change cleared
    /// the cache while it read).
    pub async fn get_or_load<T, E, Fut>(
        &self,
        store: StoreId,
        env: Environment,
        load: impl FnOnce() -> Fut,
    ) -> Result<T, E>
    where
        T: Clone + Send + Sync + 'static,
        Fut: Future<Output = Result<T, E>>,
    {
        let key = ConfigKey {
            kind: TypeId::of::<T>(),
            store,
            env,
        };
        if let Some(hit) = self.0.get(&key)
            && let Some(value) = hit.downcast_ref::<T>()
        {
            return Ok(value.clone());
        }
        let generation = self.0.generation();
        let value = load().await?;
        self.0.insert(generation, key, Arc::new(value.clone()));
        Ok(value)
    }

    /// Forgets every store's configuration: call it after committing a change.
    pub fn changed(&self) {
        self.0.clear();
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
    /// (store, environment, kind) → a piece of the store's configuration.
    pub config: ConfigCache,
}

impl Caches {
    /// Empty caches whose entries live `ttl`.
    pub fn new(ttl: Duration) -> Self {
        Self {
            ttl,
            principals: TtlCache::new(ttl),
            credentials: TtlCache::new(ttl),
            config: ConfigCache::new(ttl),
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

    #[derive(Clone, Debug, PartialEq)]
    struct Rates(Vec<i64>);
    #[derive(Clone, Debug, PartialEq)]
    struct Nexus(Vec<i64>);

    async fn load<T: Clone>(reads: &std::cell::Cell<u32>, value: T) -> Result<T, ()> {
        reads.set(reads.get() + 1);
        Ok(value)
    }

    #[tokio::test]
    async fn configuration_is_cached_per_store_environment_and_kind_until_changed() {
        let cache = ConfigCache::new(Duration::from_secs(60));
        let (a, b) = (StoreId::new(), StoreId::new());
        let reads = std::cell::Cell::new(0);
        let get = |store, env, value: Vec<i64>| {
            let reads = &reads;
            let cache = &cache;
            async move {
                cache
                    .get_or_load(store, env, || load(reads, Rates(value)))
                    .await
            }
        };
        assert_eq!(
            get(a, Environment::Sandbox, vec![1]).await,
            Ok(Rates(vec![1]))
        );
        // Cached: the second load's value is never read.
        assert_eq!(
            get(a, Environment::Sandbox, vec![2]).await,
            Ok(Rates(vec![1]))
        );
        assert_eq!(reads.get(), 1);
        // Another store, environment or kind is its own entry.
        assert_eq!(
            get(b, Environment::Sandbox, vec![3]).await,
            Ok(Rates(vec![3]))
        );
        assert_eq!(
            get(a, Environment::Production, vec![4]).await,
            Ok(Rates(vec![4]))
        );
        let nexus = cache
            .get_or_load(a, Environment::Sandbox, || load(&reads, Nexus(vec![5])))
            .await;
        assert_eq!(nexus, Ok(Nexus(vec![5])));
        assert_eq!(reads.get(), 4);
        // A change clears all, so the next read sees it.
        cache.changed();
        assert_eq!(
            get(a, Environment::Sandbox, vec![6]).await,
            Ok(Rates(vec![6]))
        );
        // An error is not cached.
        cache.changed();
        let failed: Result<Rates, ()> = cache
            .get_or_load(a, Environment::Sandbox, || async { Err(()) })
            .await;
        assert_eq!(failed, Err(()));
        assert_eq!(
            get(a, Environment::Sandbox, vec![7]).await,
            Ok(Rates(vec![7]))
        );
    }
}
