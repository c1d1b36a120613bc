//! Sealing the webhook secrets the carrier stores (like a real carrier keeps them in its own
//! vault).
//!
//! The carrier owns the stored form, `sealed:<version>:<base64 of the sealed bytes>`, and the
//! associated data that binds a value to its account and endpoint; a [`Sealer`] owns the keys.
//! The host mounting the carrier brings its own (Cassa seals with its master key ring); the
//! binary uses an [`AesGcmSealer`] from a key it is given.

use std::{collections::BTreeMap, fmt};

use aes_gcm::{
    Aes256Gcm, Key, Nonce,
    aead::{Aead, AeadCore, KeyInit, OsRng, Payload},
};
use async_trait::async_trait;
use base64::{Engine, engine::general_purpose::STANDARD};

/// How a sealed stored secret starts (then the key version and `:`).
pub const SEALED_PREFIX: &str = "sealed:";

/// Why sealing or opening failed. Carries the sealer's own error, which its host can take back
/// with [`SealError::into_inner`] and downcast.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct SealError(Box<dyn std::error::Error + Send + Sync>);

impl SealError {
    /// Wraps `err`.
    pub fn new(err: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> Self {
        Self(err.into())
    }

    /// The wrapped error.
    pub fn into_inner(self) -> Box<dyn std::error::Error + Send + Sync> {
        self.0
    }
}

/// Versioned authenticated encryption for the webhook secrets the carrier keeps.
///
/// `seal` must use a fresh nonce every time and authenticate `aad`; `open` must refuse a
/// value sealed under other associated data (it binds a secret to its account, endpoint and
/// version).
#[async_trait]
pub trait Sealer: Send + Sync + 'static {
    /// The key version new secrets are sealed with (it may change at run time: a rotation).
    async fn current_version(&self) -> Result<u32, SealError>;

    /// Seals `plaintext` with key `version` under `aad`; the bytes are stored as they are.
    fn seal(&self, version: u32, aad: &[u8], plaintext: &[u8]) -> Result<Vec<u8>, SealError>;

    /// Opens what [`Sealer::seal`] returned for the same `version` and `aad`.
    fn open(&self, version: u32, aad: &[u8], sealed: &[u8]) -> Result<Vec<u8>, SealError>;
}

/// AES-256-GCM with versioned keys; the sealed bytes are the 96-bit nonce, then the ciphertext
/// and its tag. New secrets use the highest version.
#[derive(Clone)]
pub struct AesGcmSealer {
    keys: BTreeMap<u32, Key<Aes256Gcm>>,
}

impl fmt::Debug for AesGcmSealer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Never the key material.
        f.debug_struct("AesGcmSealer")
            .field("versions", &self.keys.keys().collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

/// A key specification that cannot be used. Never contains key material.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "invalid seal key {0}: expected the base64 of 32 bytes, or <version>:<base64>[,<version>:<base64>…]"
)]
pub struct InvalidSealKey(String);

impl AesGcmSealer {
    /// Keys from `spec`: one base64 key (version 1), or comma-separated `<version>:<base64>`
    /// entries (versions from 1; the highest seals, all of them open).
    pub fn parse(spec: &str) -> Result<Self, InvalidSealKey> {
        let mut keys = BTreeMap::new();
        let entries: Vec<&str> = spec
            .split(',')
            .map(str::trim)
            .filter(|e| !e.is_empty())
            .collect();
        for entry in &entries {
            let (version, material) = match entry.split_once(':') {
                Some((version, material)) => {
                    let version = version
                        .trim()
                        .parse::<u32>()
                        .ok()
                        .filter(|v| *v > 0)
                        .ok_or_else(|| InvalidSealKey(format!("version {version:?}")))?;
                    (version, material)
                }
                None if entries.len() == 1 => (1, *entry),
                None => return Err(InvalidSealKey("entry without a version".into())),
            };
            let bytes = STANDARD
                .decode(material.trim())
                .ok()
                .filter(|b| b.len() == 32)
                .ok_or_else(|| InvalidSealKey(format!("for version {version}")))?;
            if keys
                .insert(version, *Key::<Aes256Gcm>::from_slice(&bytes))
                .is_some()
            {
                return Err(InvalidSealKey(format!("version {version} given twice")));
            }
        }
        if keys.is_empty() {
            return Err(InvalidSealKey("(empty)".into()));
        }
        Ok(Self { keys })
    }

    /// A fresh random key, base64, for [`AesGcmSealer::parse`].
    pub fn generate_key() -> String {
        STANDARD.encode(Aes256Gcm::generate_key(OsRng))
    }

    fn key(&self, version: u32) -> Result<&Key<Aes256Gcm>, SealError> {
        self.keys
            .get(&version)
            .ok_or_else(|| SealError::new(format!("seal key version {version} is not configured")))
    }
}

#[async_trait]
impl Sealer for AesGcmSealer {
    async fn current_version(&self) -> Result<u32, SealError> {
        self.keys
            .keys()
            .next_back()
            .copied()
            .ok_or_else(|| SealError::new("no seal key configured"))
    }

    fn seal(&self, version: u32, aad: &[u8], plaintext: &[u8]) -> Result<Vec<u8>, SealError> {
        let nonce = Aes256Gcm::generate_nonce(&mut OsRng);
        let ciphertext = Aes256Gcm::new(self.key(version)?)
            .encrypt(
                &nonce,
                Payload {
                    msg: plaintext,
                    aad,
                },
            )
            .map_err(|_| SealError::new("encryption failed"))?;
        let mut sealed = nonce.to_vec();
        sealed.extend_from_slice(&ciphertext);
        Ok(sealed)
    }

    fn open(&self, version: u32, aad: &[u8], sealed: &[u8]) -> Result<Vec<u8>, SealError> {
        let key = self.key(version)?;
        if sealed.len() < 12 {
            return Err(SealError::new("sealed value too short"));
        }
        let (nonce, ciphertext) = sealed.split_at(12);
        Aes256Gcm::new(key)
            .decrypt(
                Nonce::from_slice(nonce),
                Payload {
                    msg: ciphertext,
                    aad,
                },
            )
            .map_err(|_| SealError::new("sealed value failed authentication"))
    }
}

/// The associated data of the secret of `account`'s endpoint `endpoint` under key `version`.
/// Stored secrets are bound to it: it never changes.
fn aad(account: &str, endpoint: &str, version: u32) -> Vec<u8> {
    format!("sandbox_carrier_endpoints/v1|{account}|{endpoint}|{version}").into_bytes()
}

/// The stored form of the `secret` of `account`'s endpoint `endpoint`, sealed with key
/// `version`.
pub(crate) fn seal_with(
    sealer: &dyn Sealer,
    account: &str,
    endpoint: &str,
    secret: &str,
    version: u32,
) -> Result<String, SealError> {
    let sealed = sealer.seal(version, &aad(account, endpoint, version), secret.as_bytes())?;
    Ok(format!(
        "{SEALED_PREFIX}{version}:{}",
        STANDARD.encode(sealed)
    ))
}

/// The secret behind a stored value. The carrier never stored a plaintext secret, so a value
/// that is not sealed is refused like a tampered one.
pub(crate) fn open(
    sealer: &dyn Sealer,
    account: &str,
    endpoint: &str,
    stored: &str,
) -> Result<String, SealError> {
    let malformed = || SealError::new("malformed sealed webhook secret");
    let rest = stored.strip_prefix(SEALED_PREFIX).ok_or_else(malformed)?;
    let (version, encoded) = rest.split_once(':').ok_or_else(malformed)?;
    let version: u32 = version.parse().map_err(|_| malformed())?;
    let bytes = STANDARD.decode(encoded).map_err(|_| malformed())?;
    let plaintext = sealer.open(version, &aad(account, endpoint, version), &bytes)?;
    String::from_utf8(plaintext).map_err(|_| malformed())
}

/// The `LIKE` pattern of values sealed with `version`.
pub(crate) fn version_pattern(version: u32) -> String {
    format!("{SEALED_PREFIX}{version}:%")
}

#[cfg(test)]
mod tests {
    use super::*;

    const K1: &str = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";
    const K2: &str = "ICEiIyQlJicoKSorLC0uLzAxMjM0NTY3ODk6Ozw9Pj8=";

    #[tokio::test]
    async fn the_highest_version_seals_and_every_version_opens() {
        let old = AesGcmSealer::parse(K1).expect("one bare key");
        assert_eq!(old.current_version().await.ok(), Some(1));
        let stored = seal_with(&old, "acct", "we_1", "whsec_x", 1).expect("seals");
        assert!(stored.starts_with("sealed:1:"));
        assert!(!stored.contains("whsec_x"));

        let both = AesGcmSealer::parse(&format!("1:{K1}, 2:{K2}")).expect("two keys");
        assert_eq!(both.current_version().await.ok(), Some(2));
        let opened = open(&both, "acct", "we_1", &stored).expect("opens");
        assert_eq!(opened, "whsec_x");
        assert!(
            open(&both, "acct", "we_1", "whsec_plain").is_err(),
            "plaintext"
        );
    }

    #[test]
    fn a_sealed_secret_is_bound_to_its_account_and_endpoint_and_untampered() {
        let sealer = AesGcmSealer::parse(K1).expect("key");
        let stored = seal_with(&sealer, "acct-a", "we_1", "whsec_x", 1).expect("seals");
        assert!(open(&sealer, "acct-b", "we_1", &stored).is_err());
        assert!(open(&sealer, "acct-a", "we_2", &stored).is_err());
        let mut tampered = stored.clone();
        tampered.pop();
        tampered.push(if stored.ends_with('A') { 'B' } else { 'A' });
        assert!(open(&sealer, "acct-a", "we_1", &tampered).is_err());
        for malformed in [
            "sealed:",
            "sealed:x:AAAA",
            "sealed:1:!!",
            "sealed:1:AAAA",
            "sealed:9:AAAA",
        ] {
            assert!(open(&sealer, "acct-a", "we_1", malformed).is_err());
        }
    }

    #[test]
    fn key_specs_are_checked_without_echoing_key_material() {
        for bad in ["", "0:{K1}", "1:short", "x:{K1}", "{K1},{K2}"] {
            let spec = bad.replace("{K1}", K1).replace("{K2}", K2);
            let err = AesGcmSealer::parse(&spec).expect_err(bad);
            assert!(!err.to_string().contains(K1), "{err}");
        }
        let twice = format!("1:{K1},1:{K2}");
        assert!(AesGcmSealer::parse(&twice).is_err());
        let generated = AesGcmSealer::generate_key();
        assert!(AesGcmSealer::parse(&generated).is_ok());
        let sealer = AesGcmSealer::parse(K1).expect("key");
        assert!(!format!("{sealer:?}").contains(K1));
    }
}
