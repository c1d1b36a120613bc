//! Ledger keys: the Idempotency-Key a transaction was created under, scoped like the HTTP
//! idempotency record (the same key sent by another credential of the store is another key)
//! and bound to a fingerprint of the request, so that a key reused for a different request is
//! refused even after the HTTP record expired or was released.

use sha2::{Digest, Sha256};

use super::{caller::Caller, error::Error, repo::TxnRow};

/// A transaction's key in the ledger and the fingerprint of the request that made it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct LedgerKey {
    /// `<actor> <Idempotency-Key>`, stored in `payment_transactions.idempotency_key`.
    pub key: String,
    /// Hex SHA-256 of the request's meaning (operation and parameters).
    pub hash: String,
}

impl LedgerKey {
    /// The key `key` sent by `caller` for the request described by `parts`.
    pub fn new(caller: &Caller, key: &str, parts: &[&str]) -> Self {
        let mut hash = Sha256::new();
        for part in parts {
            hash.update(part.as_bytes());
            // A separator no part can contain keeps ("a", "bc") apart from ("ab", "c").
            hash.update([0u8]);
        }
        LedgerKey {
            key: format!("{} {key}", caller.actor),
            hash: hex(&hash.finalize()),
        }
    }

    /// The key of a step a request runs after its own (pay's capture, a release after a final
    /// capture): same caller, same request.
    pub fn step(&self, name: &str) -> Self {
        LedgerKey {
            key: format!("{}:{name}", self.key),
            hash: self.hash.clone(),
        }
    }

    /// Refuses a transaction this key made for a different request. Rows from before
    /// fingerprints were recorded have none and are accepted.
    pub fn check(&self, row: &TxnRow) -> Result<(), Error> {
        match row.request_hash.as_deref() {
            Some(hash) if hash != self.hash => Err(Error::KeyReused),
            _ => Ok(()),
        }
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The text of an optional amount in a fingerprint.
pub(crate) fn amount_part(amount: Option<i64>) -> String {
    amount.map_or_else(|| "-".to_owned(), |a| a.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::payments::Source;

    fn caller(actor: &str) -> Caller {
        Caller {
            source: Source::Api,
            actor: actor.to_owned(),
            correlation_id: "r".to_owned(),
        }
    }

    #[test]
    fn keys_are_scoped_to_the_caller_and_bound_to_the_request() {
        let a = LedgerKey::new(&caller("api_key:1"), "k", &["capture", "100"]);
        let b = LedgerKey::new(&caller("api_key:2"), "k", &["capture", "100"]);
        assert_ne!(a.key, b.key);
        assert_eq!(a.hash, b.hash);
        let other = LedgerKey::new(&caller("api_key:1"), "k", &["capture", "200"]);
        assert_eq!(a.key, other.key);
        assert_ne!(a.hash, other.hash);
        // Parts are delimited.
        let ab = LedgerKey::new(&caller("x"), "k", &["ab", "c"]);
        let a_bc = LedgerKey::new(&caller("x"), "k", &["a", "bc"]);
        assert_ne!(ab.hash, a_bc.hash);
        assert_eq!(a.step("release").key, "api_key:1 k:release");
        // SHA-256 of the empty input, as published (FIPS 180-4 test vector).
        let empty = LedgerKey::new(&caller("x"), "k", &[]);
        assert_eq!(
            empty.hash,
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
    }
}
