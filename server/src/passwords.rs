//! Console passwords: argon2id (m=19456 KiB, t=2, p=1), hashed off the async runtime behind a
//! bounded number of permits.
//!
//! Each hash costs ~19 MiB and tens of milliseconds of a core; without a bound, a burst of
//! sign-ins would queue on the blocking pool without limit (memory, and latency for everyone).
//! A request that finds every permit taken is refused at once ([`PasswordError::Busy`], a 503
//! with `Retry-After`), and a permit is held by the blocking task itself, so a request that is
//! abandoned mid-hash still counts until its hash ends.

use std::sync::{Arc, OnceLock};

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use argon2::{
    Algorithm, Argon2, Params, PasswordHash, PasswordHasher, PasswordVerifier, Version,
    password_hash::SaltString,
};
use rand::rngs::OsRng;
use secrecy::{ExposeSecret, SecretString};

/// Shortest accepted password.
pub const MIN_PASSWORD_LEN: usize = 12;

/// Hashing or verification could not run.
#[derive(Debug, thiserror::Error)]
pub enum PasswordError {
    /// The password is too short.
    #[error("the password must have at least {MIN_PASSWORD_LEN} characters")]
    TooShort,
    /// argon2 failed (bad parameters or a corrupt stored hash).
    #[error("password hashing failed: {0}")]
    Hash(String),
    /// The blocking task was cancelled or panicked.
    #[error("password hashing task failed")]
    Task,
    /// Every hashing permit is taken.
    #[error("password hashing is at capacity")]
    Busy,
}

/// The process's argon2 capacity.
#[derive(Clone, Debug)]
pub struct Hasher {
    permits: Arc<Semaphore>,
}

/// The right to run one argon2 computation.
#[derive(Debug)]
pub struct Permit {
    _held: OwnedSemaphorePermit,
}

impl Hasher {
    /// At most `concurrency` hashes at once (at least one).
    pub fn new(concurrency: usize) -> Self {
        Self {
            permits: Arc::new(Semaphore::new(concurrency.max(1))),
        }
    }

    /// Takes a permit without waiting.
    pub fn permit(&self) -> Result<Permit, PasswordError> {
        self.permits
            .clone()
            .try_acquire_owned()
            .map(|held| Permit { _held: held })
            .map_err(|_| PasswordError::Busy)
    }

    /// Hashes a new password under a permit taken now.
    pub async fn hash(&self, password: SecretString) -> Result<String, PasswordError> {
        if password.expose_secret().chars().count() < MIN_PASSWORD_LEN {
            return Err(PasswordError::TooShort);
        }
        let permit = self.permit()?;
        hash(permit, password).await
    }
}

fn argon2() -> Argon2<'static> {
    // OWASP's minimum for argon2id; the parameters are also encoded in every stored hash.
    let params = Params::new(19_456, 2, 1, None).unwrap_or_default();
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

/// Hashes a new password (PHC string), on the blocking pool, holding `permit` until done.
pub async fn hash(permit: Permit, password: SecretString) -> Result<String, PasswordError> {
    if password.expose_secret().chars().count() < MIN_PASSWORD_LEN {
        return Err(PasswordError::TooShort);
    }
    tokio::task::spawn_blocking(move || {
        let _permit = permit;
        hash_blocking(password.expose_secret())
    })
    .await
    .map_err(|_| PasswordError::Task)?
}

fn hash_blocking(password: &str) -> Result<String, PasswordError> {
    let salt = SaltString::generate(&mut OsRng);
    argon2()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| PasswordError::Hash(e.to_string()))
}

/// Verifies `password` against a stored hash, or against a fixed dummy hash when there is no
/// user, so that an unknown email costs the same time as a wrong password. Holds `permit` until
/// done.
pub async fn verify(
    permit: Permit,
    password: SecretString,
    stored: Option<String>,
) -> Result<bool, PasswordError> {
    tokio::task::spawn_blocking(move || {
        let _permit = permit;
        let stored = match stored {
            Some(s) => s,
            None => dummy_hash()?.to_owned(),
        };
        let parsed = PasswordHash::new(&stored).map_err(|e| PasswordError::Hash(e.to_string()))?;
        Ok(argon2()
            .verify_password(password.expose_secret().as_bytes(), &parsed)
            .is_ok())
    })
    .await
    .map_err(|_| PasswordError::Task)?
}

fn dummy_hash() -> Result<&'static str, PasswordError> {
    static DUMMY: OnceLock<String> = OnceLock::new();
    if let Some(hash) = DUMMY.get() {
        return Ok(hash);
    }
    let hash = hash_blocking("cassa-dummy-password-for-timing")?;
    Ok(DUMMY.get_or_init(|| hash))
}

/// A random password for generated accounts (bootstrap admin, invited users).
pub fn generate() -> SecretString {
    use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
    use rand::RngCore;
    let mut bytes = [0u8; 18];
    OsRng.fill_bytes(&mut bytes);
    SecretString::from(URL_SAFE_NO_PAD.encode(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn permit() -> Permit {
        Hasher::new(4).permit().unwrap()
    }

    #[tokio::test]
    async fn hashes_are_argon2id_with_the_required_cost_and_verify() {
        let hash = hash(permit(), SecretString::from("correct horse battery"))
            .await
            .unwrap();
        assert!(
            hash.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
            "{hash}"
        );
        assert!(
            verify(
                permit(),
                SecretString::from("correct horse battery"),
                Some(hash.clone())
            )
            .await
            .unwrap()
        );
        assert!(
            !verify(
                permit(),
                SecretString::from("wrong horse battery"),
                Some(hash)
            )
            .await
            .unwrap()
        );
        assert!(
            !verify(permit(), SecretString::from("anything at all"), None)
                .await
                .unwrap()
        );
    }

    #[tokio::test]
    async fn short_passwords_are_rejected() {
        assert!(matches!(
            hash(permit(), SecretString::from("short")).await,
            Err(PasswordError::TooShort)
        ));
    }

    #[test]
    fn a_full_hasher_refuses_at_once() {
        let hasher = Hasher::new(1);
        let held = hasher.permit().unwrap();
        assert!(matches!(hasher.permit(), Err(PasswordError::Busy)));
        drop(held);
        assert!(hasher.permit().is_ok());
    }
}
