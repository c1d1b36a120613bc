//! Short-lived in-process caches for what nearly every request reads and almost never
//! changes: the principal behind a token, a store's decrypted provider credentials.
//!
//! Entries live [`Caches::ttl`] (`CASSA_CACHE_TTL_MS`, 0 turns caching off). A change made
//! through this process clears the affected cache at once (revoking a key, writing or deleting
//! credentials, rewrapping or retiring a master key); another instance sharing the database
//! sees the change after at most the TTL. Expiring tokens are checked on every hit.

use std::{
    any::{Any, TypeId},
    collections::HashMap,
    hash::{BuildHasher, Hash, Hasher, RandomState},
    sync::{
        Arc, PoisonError, RwLock,
        atomic::{AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use crate::identity::Principal;

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

/// A [`TtlCache`] whose keys and values may be of any type: the caller's types select the
/// entry.
///
/// It exists so this module can sit below the capabilities: the credentials cache holds
/// `credentials`' own types (`(store, Provider, environment)` → `Option<ProviderSecrets>`),
/// which a foundation module cannot name. A lookup with other key or value types than the
/// insert used is a miss, never a wrong value: the key's type is part of its identity and the
/// value is downcast.
pub struct AnyCache {
    entries: TtlCache<AnyKey, Arc<dyn Any + Send + Sync>>,
    hasher: RandomState,
}

impl AnyCache {
    /// An empty cache whose entries live `ttl`.
    pub fn new(ttl: Duration) -> Self {
        Self {
            entries: TtlCache::new(ttl),
            hasher: RandomState::new(),
        }
    }

    /// See [`TtlCache::generation`].
    pub fn generation(&self) -> u64 {
        self.entries.generation()
    }

    /// A fresh entry stored under `key` with a value of type `V`.
    pub fn get<K, V>(&self, key: &K) -> Option<V>
    where
        K: Hash + Eq + Clone + Send + Sync + 'static,
        V: Clone + 'static,
    {
        let value = self.entries.get(&self.key(key.clone()))?;
        value.downcast_ref::<V>().cloned()
    }

    /// See [`TtlCache::insert`].
    pub fn insert<K, V>(&self, generation: u64, key: K, value: V)
    where
        K: Hash + Eq + Send + Sync + 'static,
        V: Send + Sync + 'static,
    {
        self.entries
            .insert(generation, self.key(key), Arc::new(value));
    }

    /// Forgets everything.
    pub fn clear(&self) {
        self.entries.clear();
    }

    fn key<K: Hash + Eq + Send + Sync + 'static>(&self, key: K) -> AnyKey {
        AnyKey {
            hash: self.hasher.hash_one((TypeId::of::<K>(), &key)),
            key: Arc::new(key),
        }
    }
}

/// A key of any type, hashed once with its type.
struct AnyKey {
    hash: u64,
    key: Arc<dyn DynKey>,
}

/// Equality across erased keys: equal only when of the same type and equal as that type.
trait DynKey: Send + Sync {
    fn as_any(&self) -> &dyn Any;
    fn equals(&self, other: &dyn DynKey) -> bool;
}

impl<K: Eq + Send + Sync + 'static> DynKey for K {
    fn as_any(&self) -> &dyn Any {
        self
    }
    fn equals(&self, other: &dyn DynKey) -> bool {
        other.as_any().downcast_ref::<K>() == Some(self)
    }
}

impl PartialEq for AnyKey {
    fn eq(&self, other: &Self) -> bool {
        self.hash == other.hash && self.key.equals(&*other.key)
    }
}

impl Eq for AnyKey {}

impl Hash for AnyKey {
    fn hash<H: Hasher>(&self, state: &mut H) {
        state.write_u64(self.hash);
    }
}

/// The process's caches.
pub struct Caches {
    /// How long entries live.
    pub ttl: Duration,
    /// Token hash → principal.
    pub principals: TtlCache<Vec<u8>, CachedPrincipal>,
    /// (store, provider, environment) → decrypted credentials (or none stored); typed by
    /// `credentials` (see [`AnyCache`]).
    pub credentials: AnyCache,
}

impl Caches {
    /// Empty caches whose entries live `ttl`.
    pub fn new(ttl: Duration) -> Self {
        Self {
            ttl,
            principals: TtlCache::new(ttl),
            credentials: AnyCache::new(ttl),
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
    fn any_cache_finds_values_by_the_types_they_were_stored_with() {
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        struct Other(u32);
        let cache = AnyCache::new(Duration::from_secs(60));
        cache.insert(cache.generation(), (1u32, "a"), Some(7i64));
        assert_eq!(cache.get::<_, Option<i64>>(&(1u32, "a")), Some(Some(7)));
        assert_eq!(cache.get::<_, Option<i64>>(&(2u32, "a")), None);
        // Same bits, another key type: another entry.
        assert_eq!(cache.get::<_, Option<i64>>(&(Other(1), "a")), None);
        // Another value type: a miss, not a wrong value.
        assert_eq!(cache.get::<_, Option<i32>>(&(1u32, "a")), None);
        let before = cache.generation();
        cache.clear();
        cache.insert(before, (1u32, "a"), Some(8i64));
        assert_eq!(cache.get::<_, Option<i64>>(&(1u32, "a")), None);
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
