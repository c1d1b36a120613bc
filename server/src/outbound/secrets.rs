//! Endpoint signing secrets: generated here, shown once, stored sealed with the master key
//! ring (bound to their row and endpoint), opened only to sign a delivery, and re-sealed by a
//! master key rotation like provider credentials.

use std::{collections::HashMap, sync::Arc};

use base64::{Engine, engine::general_purpose::STANDARD};
use chrono::{DateTime, Utc};
use rand::RngCore;
use secrecy::{ExposeSecret, SecretString};
use uuid::Uuid;

use super::endpoint_repo::{self, SecretRow};
use crate::{
    db::Db,
    keyring::{ElsewhereError, ElsewhereFuture, KeyRing, KeyRingError, Sealed, SealedElsewhere},
    types::WebhookEndpointId,
};

/// Secrets re-sealed per batch of a master key rotation.
const REWRAP_BATCH: i64 = 100;

/// A fresh secret: `whsec_` and the base64 of 32 random bytes (Standard Webhooks' form).
pub(super) fn generate() -> SecretString {
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    SecretString::from(format!("whsec_{}", STANDARD.encode(bytes)))
}

/// Associated data: a ciphertext opens only in its own row, for its endpoint, under its key
/// version.
fn aad(id: Uuid, endpoint: WebhookEndpointId, version: u32) -> Vec<u8> {
    format!("cassa/webhook_endpoint_secrets/v1|{id}|{endpoint}|{version}").into_bytes()
}

/// A new secret row for `endpoint`, sealed with key `version`.
pub(super) fn sealed_row(
    ring: &KeyRing,
    version: u32,
    endpoint: WebhookEndpointId,
    secret: &SecretString,
    now: DateTime<Utc>,
) -> Result<SecretRow, KeyRingError> {
    let id = Uuid::now_v7();
    let sealed = ring.seal(
        version,
        &aad(id, endpoint, version),
        secret.expose_secret().as_bytes(),
    )?;
    Ok(SecretRow {
        id,
        endpoint_id: endpoint,
        key_version: i32::try_from(sealed.version).map_err(|_| KeyRingError::Encrypt)?,
        nonce: sealed.nonce,
        ciphertext: sealed.ciphertext,
        created_at: now,
        expires_at: None,
    })
}

fn sealed_of(row: &SecretRow) -> Result<Sealed, KeyRingError> {
    Ok(Sealed {
        version: u32::try_from(row.key_version).map_err(|_| KeyRingError::Decrypt)?,
        nonce: row.nonce.clone(),
        ciphertext: row.ciphertext.clone(),
    })
}

/// Opens a secret row.
pub(super) fn open(ring: &KeyRing, row: &SecretRow) -> Result<SecretString, KeyRingError> {
    let sealed = sealed_of(row)?;
    let plaintext = ring.open(&sealed, &aad(row.id, row.endpoint_id, sealed.version))?;
    let text = String::from_utf8(plaintext).map_err(|_| KeyRingError::Decrypt)?;
    Ok(SecretString::from(text))
}

/// The secrets each of `endpoints` signs with at `now` (newest first), opened. An endpoint
/// whose secrets cannot all be opened (a retired or missing master key, tampering) gets the
/// error instead: its deliveries must never go out signed with fewer secrets than the store
/// expects, and the other endpoints' deliveries go out regardless.
pub(super) async fn signing_secrets(
    db: &Db,
    ring: &KeyRing,
    endpoints: &[WebhookEndpointId],
    now: DateTime<Utc>,
) -> Result<HashMap<WebhookEndpointId, Result<Signers, String>>, super::Error> {
    let rows = endpoint_repo::live_secrets(db, endpoints, now).await?;
    let mut retired = Vec::new();
    let mut versions: Vec<i32> = rows.iter().map(|r| r.key_version).collect();
    versions.sort_unstable();
    versions.dedup();
    for version in versions {
        let Ok(v) = u32::try_from(version) else {
            continue;
        };
        match crate::credentials::keys::ensure_not_retired(db, v).await {
            Ok(()) => {}
            Err(crate::credentials::CredentialError::Store(e)) => return Err(e.into()),
            Err(_) => retired.push(version),
        }
    }
    let mut opened: HashMap<WebhookEndpointId, Result<Vec<SecretString>, KeyRingError>> =
        HashMap::new();
    for row in &rows {
        let secret = if retired.contains(&row.key_version) {
            Err(KeyRingError::Retired(
                u32::try_from(row.key_version).unwrap_or_default(),
            ))
        } else {
            open(ring, row)
        };
        let entry = opened
            .entry(row.endpoint_id)
            .or_insert_with(|| Ok(Vec::new()));
        match (entry.as_mut(), secret) {
            (Ok(list), Ok(secret)) => list.push(secret),
            (Ok(_), Err(err)) => *entry = Err(err),
            (Err(_), _) => {}
        }
    }
    Ok(opened
        .into_iter()
        .map(|(id, secrets)| (id, secrets.map(Arc::new).map_err(|e| e.to_string())))
        .collect())
}

/// An endpoint's opened signing secrets, newest first, shared by its deliveries of a round.
pub(super) type Signers = Arc<Vec<SecretString>>;

/// The endpoint secrets' part of a master key rotation (registered with the other values
/// sealed outside the credentials table): re-seals them onto the new primary, and counts
/// what a key still seals before it may be retired.
pub struct WebhookSecrets {
    db: Db,
    ring: Arc<KeyRing>,
}

impl WebhookSecrets {
    /// The secrets of the database `db`, sealed with `ring`.
    pub fn new(db: Db, ring: Arc<KeyRing>) -> Self {
        Self { db, ring }
    }

    async fn rewrap_all(&self, target: u32) -> Result<u64, ElsewhereError> {
        let mut done = 0;
        loop {
            let rows = endpoint_repo::secrets_not_on(&self.db, target, REWRAP_BATCH).await?;
            let more = rows.len() as i64 == REWRAP_BATCH;
            for row in &rows {
                let plaintext = open(&self.ring, row)?;
                let sealed = self.ring.seal(
                    target,
                    &aad(row.id, row.endpoint_id, target),
                    plaintext.expose_secret().as_bytes(),
                )?;
                // A row rotated (or deleted) meanwhile is left alone: its writer used the
                // primary key already.
                done += endpoint_repo::reseal(&self.db, row.id, row.key_version, &sealed).await?;
            }
            if !more {
                return Ok(done);
            }
        }
    }
}

impl SealedElsewhere for WebhookSecrets {
    fn rewrap(&self, target: u32) -> ElsewhereFuture<'_, u64> {
        Box::pin(self.rewrap_all(target))
    }

    fn sealed_with(&self, version: u32) -> ElsewhereFuture<'_, i64> {
        Box::pin(async move { Ok(endpoint_repo::sealed_with(&self.db, version).await?) })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_standard_webhooks_secrets_and_open_only_in_their_row() {
        let secret = generate();
        let text = secret.expose_secret();
        let key = text.strip_prefix("whsec_").expect("whsec_ prefix");
        assert_eq!(STANDARD.decode(key).expect("base64").len(), 32);
        assert_ne!(text, generate().expose_secret(), "fresh every time");

        let ring = KeyRing::parse(&format!("1:{}", KeyRing::generate_key())).unwrap();
        let endpoint = WebhookEndpointId::new();
        let row = sealed_row(&ring, 1, endpoint, &secret, Utc::now()).unwrap();
        assert!(
            !row.ciphertext
                .windows(key.len())
                .any(|w| w == key.as_bytes())
        );
        assert_eq!(open(&ring, &row).unwrap().expose_secret(), text);
        let moved = SecretRow {
            endpoint_id: WebhookEndpointId::new(),
            ..row.clone()
        };
        assert_eq!(open(&ring, &moved).unwrap_err(), KeyRingError::Decrypt);
        let renamed = SecretRow {
            id: Uuid::now_v7(),
            ..row
        };
        assert_eq!(open(&ring, &renamed).unwrap_err(), KeyRingError::Decrypt);
    }
}
