//! Idempotency keys: the client's key and the outbound provider keys we derive.

use uuid::Uuid;

/// Longest accepted key.
pub const MAX_LEN: usize = 255;

/// A client-chosen idempotency key: 1–255 visible ASCII characters.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IdempotencyKey(String);

/// Why a request's key is unusable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyError {
    /// No key sent.
    Missing,
    /// Empty, too long, or not visible ASCII.
    Invalid,
}

impl IdempotencyKey {
    /// Checks a raw key.
    pub fn parse(text: &str) -> Result<Self, KeyError> {
        let valid =
            !text.is_empty() && text.len() <= MAX_LEN && text.bytes().all(|b| b.is_ascii_graphic());
        if valid {
            Ok(Self(text.to_owned()))
        } else {
            Err(KeyError::Invalid)
        }
    }

    /// The key as sent.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Namespace of derived provider keys (fixed forever: changing it would re-charge retries).
const PROVIDER_NAMESPACE: Uuid = Uuid::from_u128(0x6d1f_1f4e_2b8a_4c3e_9a57_0c2d_b5e1_7a40);

/// The idempotency key sent to a payment provider for one operation on one of our objects.
///
/// Deterministic (UUIDv5 of object id, operation and sequence), so a retried call — after a
/// timeout, a crash, a redeploy — carries the same key and the provider never acts twice.
/// `sequence` tells apart deliberate repeats, e.g. the second partial capture of an intent.
pub fn provider_key(object_id: Uuid, operation: &str, sequence: u32) -> String {
    let name = format!("{object_id}:{operation}:{sequence}");
    format!(
        "cassa_{}",
        Uuid::new_v5(&PROVIDER_NAMESPACE, name.as_bytes()).simple()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_must_be_1_to_255_visible_characters() {
        assert!(IdempotencyKey::parse("order-42/attempt-1").is_ok());
        assert!(IdempotencyKey::parse(&"k".repeat(255)).is_ok());
        assert_eq!(IdempotencyKey::parse(""), Err(KeyError::Invalid));
        assert_eq!(
            IdempotencyKey::parse(&"k".repeat(256)),
            Err(KeyError::Invalid)
        );
        assert_eq!(IdempotencyKey::parse("has space"), Err(KeyError::Invalid));
    }

    #[test]
    fn provider_keys_are_deterministic_and_distinct() {
        let id = Uuid::parse_str("0192f7a4-5b6c-7d8e-9f00-112233445566").unwrap();
        let capture = provider_key(id, "capture", 1);
        assert_eq!(capture, provider_key(id, "capture", 1));
        assert!(capture.starts_with("cassa_") && capture.len() == 6 + 32);
        assert_ne!(capture, provider_key(id, "capture", 2));
        assert_ne!(capture, provider_key(id, "refund", 1));
        assert_ne!(capture, provider_key(Uuid::now_v7(), "capture", 1));
    }
}
