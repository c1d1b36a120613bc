//! Bearer secrets: generated with 192 bits of randomness, shown once, stored as SHA-256.
//!
//! A fast hash is right here (unlike passwords): the secret is random and long, so there is
//! nothing to brute-force, and lookups happen on every request.

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use rand::{RngCore, rngs::OsRng};
use secrecy::{ExposeSecret, SecretString};
use sha2::{Digest, Sha256};

/// Random bytes per secret (192 bits; the issue asks for at least 128).
const SECRET_BYTES: usize = 24;

/// What kind of principal a bearer secret belongs to, told apart by its prefix.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TokenKind {
    /// `sk_test_…`: a store's sandbox secret key.
    SandboxKey,
    /// `sk_live_…`: a store's production secret key.
    ProductionKey,
    /// `ut_…`: a console user's short-lived token for scripting.
    User,
    /// `ct_…`: a customer token minted by a store.
    Customer,
}

impl TokenKind {
    /// The prefix every secret of this kind starts with.
    pub fn prefix(self) -> &'static str {
        match self {
            TokenKind::SandboxKey => "sk_test_",
            TokenKind::ProductionKey => "sk_live_",
            TokenKind::User => "ut_",
            TokenKind::Customer => "ct_",
        }
    }

    /// Classifies a presented secret by its prefix.
    pub fn of(secret: &str) -> Option<TokenKind> {
        [
            TokenKind::SandboxKey,
            TokenKind::ProductionKey,
            TokenKind::User,
            TokenKind::Customer,
        ]
        .into_iter()
        .find(|kind| secret.starts_with(kind.prefix()))
    }
}

/// A freshly generated secret: the plaintext (shown once) and what is stored.
pub struct NewSecret {
    /// The full secret, to hand to the caller exactly once.
    pub plaintext: SecretString,
    /// SHA-256 of the plaintext: the lookup key in the database.
    pub hash: Vec<u8>,
    /// Non-secret hint for listings, e.g. `sk_test_Ab12…9xYz`.
    pub display_hint: String,
}

/// Generates a secret of `kind`.
pub fn generate(kind: TokenKind) -> NewSecret {
    let mut bytes = [0u8; SECRET_BYTES];
    OsRng.fill_bytes(&mut bytes);
    let plaintext = format!("{}{}", kind.prefix(), URL_SAFE_NO_PAD.encode(bytes));
    let hash = hash(&plaintext);
    let display_hint = display_hint(&plaintext, kind);
    NewSecret {
        plaintext: SecretString::from(plaintext),
        hash,
        display_hint,
    }
}

/// SHA-256 of a presented secret.
pub fn hash(secret: &str) -> Vec<u8> {
    Sha256::digest(secret.as_bytes()).to_vec()
}

/// Prefix, four characters, an ellipsis and the last four characters: enough to recognise a
/// key in a list, far too little to use it.
fn display_hint(plaintext: &str, kind: TokenKind) -> String {
    let body = &plaintext[kind.prefix().len()..];
    format!(
        "{}{}…{}",
        kind.prefix(),
        &body[..4],
        &body[body.len() - 4..]
    )
}

/// Exposes a secret for the one response that shows it.
pub fn reveal(secret: &SecretString) -> String {
    secret.expose_secret().to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_have_prefix_entropy_and_matching_hash() {
        let a = generate(TokenKind::SandboxKey);
        let b = generate(TokenKind::SandboxKey);
        let pa = reveal(&a.plaintext);
        assert!(pa.starts_with("sk_test_"));
        assert_eq!(pa.len(), "sk_test_".len() + 32);
        assert_ne!(pa, reveal(&b.plaintext));
        assert_eq!(hash(&pa), a.hash);
        assert_eq!(TokenKind::of(&pa), Some(TokenKind::SandboxKey));
        assert!(a.display_hint.starts_with("sk_test_"));
        assert!(a.display_hint.ends_with(&pa[pa.len() - 4..]));
        assert!(a.display_hint.len() < pa.len());
    }

    #[test]
    fn kinds_are_told_apart_by_prefix() {
        assert_eq!(TokenKind::of("sk_live_x"), Some(TokenKind::ProductionKey));
        assert_eq!(TokenKind::of("ut_x"), Some(TokenKind::User));
        assert_eq!(TokenKind::of("ct_x"), Some(TokenKind::Customer));
        assert_eq!(TokenKind::of("pk_test_x"), None);
    }
}
