//! Why a key cannot be used now.

use crate::{db::DbError, keyring::KeyRingError};

/// An idempotency failure.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The key was first used for a different request.
    #[error("this Idempotency-Key was already used for a different request")]
    Reused,
    /// The first request with the key is still in flight.
    #[error("a request with this Idempotency-Key is still in progress")]
    InUse,
    /// Database failure.
    #[error(transparent)]
    Db(#[from] DbError),
    /// A secret-bearing answer could not be sealed or opened.
    #[error(transparent)]
    Seal(#[from] KeyRingError),
}

impl From<crate::credentials::CredentialError> for Error {
    fn from(err: crate::credentials::CredentialError) -> Self {
        use crate::credentials::CredentialError as C;
        match err {
            C::Store(e) => Error::Db(e),
            C::Key(e) => Error::Seal(e),
            // `ensure_not_retired` fails only with the two above; anything else means the
            // body cannot be opened.
            _ => Error::Seal(KeyRingError::Decrypt),
        }
    }
}
