//! Answers that carry a secret (a new API key, a customer token, …) are remembered for replays
//! like any other, but never in plaintext: the stored body is AES-256-GCM-sealed with the
//! primary master key (`response_key_version` names it; the body is nonce ‖ ciphertext), bound
//! to its scope and key, and opened again on replay, so a replay still gets the same bytes.
//!
//! Only answers marked secret pay for sealing: the payment hot path stores many bodies and none
//! of them carries a secret.

use super::{Error, IdempotencyKey, Scope};
use crate::{
    credentials::{KeyRing, KeyRingError, Sealed, keys},
    db::Db,
};

const NONCE_LEN: usize = 12;

/// Associated data: a sealed answer opens only in the record it was stored in.
fn aad(scope: &Scope, key: &IdempotencyKey, version: u32) -> Vec<u8> {
    format!(
        "cassa/idempotency_keys/v1|{}|{}|{version}",
        scope.as_str(),
        key.as_str()
    )
    .into_bytes()
}

/// Seals `body` for the record `(scope, key)`: the key version and the stored bytes.
pub async fn seal(
    db: &Db,
    ring: &KeyRing,
    scope: &Scope,
    key: &IdempotencyKey,
    body: &[u8],
) -> Result<(i32, Vec<u8>), Error> {
    let version = keys::primary_version(db).await?;
    let sealed = ring.seal(version, &aad(scope, key, version), body)?;
    let mut stored = sealed.nonce;
    stored.extend_from_slice(&sealed.ciphertext);
    let version = i32::try_from(version).map_err(|_| KeyRingError::Encrypt)?;
    Ok((version, stored))
}

/// Opens a body sealed by [`seal`] for the record `(scope, key)`.
pub async fn open(
    db: &Db,
    ring: &KeyRing,
    scope: &Scope,
    key: &IdempotencyKey,
    version: i32,
    stored: &[u8],
) -> Result<Vec<u8>, Error> {
    let version = u32::try_from(version).map_err(|_| KeyRingError::Decrypt)?;
    keys::ensure_not_retired(db, version).await?;
    if stored.len() < NONCE_LEN {
        return Err(KeyRingError::Decrypt.into());
    }
    let (nonce, ciphertext) = stored.split_at(NONCE_LEN);
    let sealed = Sealed {
        version,
        nonce: nonce.to_vec(),
        ciphertext: ciphertext.to_vec(),
    };
    Ok(ring.open(&sealed, &aad(scope, key, version))?)
}
