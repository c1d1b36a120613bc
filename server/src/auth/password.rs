//! Console passwords: argon2id (m=19456 KiB, t=2, p=1), hashed off the async runtime.

use std::sync::OnceLock;

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
}

fn argon2() -> Argon2<'static> {
    // OWASP's minimum for argon2id; the parameters are also encoded in every stored hash.
    let params = Params::new(19_456, 2, 1, None).unwrap_or_default();
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

/// Hashes a new password (PHC string), on the blocking pool.
pub async fn hash(password: SecretString) -> Result<String, PasswordError> {
    if password.expose_secret().chars().count() < MIN_PASSWORD_LEN {
        return Err(PasswordError::TooShort);
    }
    tokio::task::spawn_blocking(move || hash_blocking(password.expose_secret()))
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
/// user, so that an unknown email costs the same time as a wrong password.
pub async fn verify(password: SecretString, stored: Option<String>) -> Result<bool, PasswordError> {
    tokio::task::spawn_blocking(move || {
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

    #[tokio::test]
    async fn hashes_are_argon2id_with_the_required_cost_and_verify() {
        let hash = hash(SecretString::from("correct horse battery"))
            .await
            .unwrap();
        assert!(
            hash.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
            "{hash}"
        );
        assert!(
            verify(
                SecretString::from("correct horse battery"),
                Some(hash.clone())
            )
            .await
            .unwrap()
        );
        assert!(
            !verify(SecretString::from("wrong horse battery"), Some(hash))
                .await
                .unwrap()
        );
        assert!(
            !verify(SecretString::from("anything at all"), None)
                .await
                .unwrap()
        );
    }

    #[tokio::test]
    async fn short_passwords_are_rejected() {
        assert!(matches!(
            hash(SecretString::from("short")).await,
            Err(PasswordError::TooShort)
        ));
    }
}
