//! Idempotency for mutating API requests (draft-ietf-httpapi-idempotency-key-header, Stripe
//! semantics), as rules and records; `http::idempotency` applies them at the edge.
//!
//! The first request with a key claims `(scope, key)` with an in-flight record; its final
//! answer (2xx or 4xx) is stored and replayed byte for byte to retries with the same
//! fingerprint. A 5xx releases the key so the client may retry. A retry while the first is in
//! flight is refused as in use; a different request under a used key as reused; a lock older
//! than [`LOCK_TIMEOUT_SECS`] is presumed dead and taken over. Answers that reveal a secret are
//! stored sealed with the master key ring (see `seal.rs`).
//!
//! Two ways to hold a key: the default commits the claim before the handler runs and stores
//! its answer afterwards; order creation and the flows on the checkout hot path instead get a
//! [`KeyRecord`] and write the claim and the answer inside their own transactions (see
//! `record.rs`), so an effect and its answer commit together.

pub mod answer;
mod error;
pub mod key;
mod record;
mod repo;
pub mod seal;
mod service;

use chrono::Duration;
use sha2::{Digest, Sha256};

pub use answer::Answer;
pub use error::Error;
pub use key::{IdempotencyKey, KeyError, provider_key};
pub use record::{KeyRecord, Progress};
pub use service::{Acquired, Replay, acquire, complete, insert_completed, release};

use chrono::{DateTime, Utc};

/// How long keys are remembered.
pub fn retention() -> Duration {
    Duration::hours(24)
}

/// An in-flight record older than this belongs to a request that died; it may be taken over.
pub const LOCK_TIMEOUT_SECS: i64 = 90;

/// Whose key it is: store, environment and principal (the same key from another store or
/// caller is unrelated). Built by the edge from the authenticated principal.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Scope(String);

impl Scope {
    /// A scope from its parts.
    pub fn new(store: &str, environment: &str, principal_kind: &str, principal_id: &str) -> Self {
        Self(format!(
            "{store}:{environment}:{principal_kind}:{principal_id}"
        ))
    }

    /// As stored.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// What a key was first used for: SHA-256 over method, path with query, and body.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Fingerprint(Vec<u8>);

impl Fingerprint {
    /// The fingerprint of a request.
    pub fn of(method: &str, path_and_query: &str, body: &[u8]) -> Self {
        let mut hash = Sha256::new();
        hash.update(method.as_bytes());
        hash.update(b"\n");
        hash.update(path_and_query.as_bytes());
        hash.update(b"\n");
        hash.update(body);
        Self(hash.finalize().to_vec())
    }

    /// As stored.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }
}

/// Which request holds a key's in-flight record: fresh for every request, so a request whose
/// stale lock was taken over can tell the record is no longer its own.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LockToken(String);

impl LockToken {
    /// A token no other request holds.
    pub fn fresh() -> Self {
        Self(uuid::Uuid::new_v4().simple().to_string())
    }
}

/// A request holding a key: whose key, which key, and what the request is.
#[derive(Clone, Debug)]
pub struct KeyedRequest {
    /// Whose key.
    pub scope: Scope,
    /// The key.
    pub key: IdempotencyKey,
    /// The request.
    pub fingerprint: Fingerprint,
    /// This request's token, written by its claim or take-over.
    pub owner: LockToken,
}

impl KeyedRequest {
    fn id(&self) -> repo::RecordId<'_> {
        repo::RecordId {
            scope: self.scope.as_str(),
            key: self.key.as_str(),
        }
    }

    fn claim(&self) -> repo::Claim<'_> {
        repo::Claim {
            scope: self.scope.as_str(),
            key: self.key.as_str(),
            owner: &self.owner.0,
        }
    }

    fn new_record(&self, now: DateTime<Utc>) -> repo::NewRecord<'_> {
        repo::NewRecord {
            scope: self.scope.as_str(),
            key: self.key.as_str(),
            request_hash: self.fingerprint.as_bytes(),
            owner: &self.owner.0,
            now,
            expires_at: now + retention(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fingerprints_tell_method_path_and_body_apart() {
        let base = Fingerprint::of("POST", "/a?x=1", b"{}");
        assert_eq!(base, Fingerprint::of("POST", "/a?x=1", b"{}"));
        assert_ne!(base, Fingerprint::of("PUT", "/a?x=1", b"{}"));
        assert_ne!(base, Fingerprint::of("POST", "/a?x=2", b"{}"));
        assert_ne!(base, Fingerprint::of("POST", "/a?x=1", b"{ }"));
    }
}
