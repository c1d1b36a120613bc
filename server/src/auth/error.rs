//! Why authentication or an authorization rule refused.

use crate::{db::DbError, passwords::PasswordError, types::InvalidValue};

/// Failures of `auth`: resolving a credential, signing in, changing a password, role rules.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// No credential, or one that is wrong, expired or revoked.
    #[error("missing or invalid credentials")]
    Unauthorized,
    /// Sign-in failed: an unknown email and a wrong password look the same.
    #[error("the email or password is wrong")]
    InvalidCredentials,
    /// A valid credential without the needed role (or of the wrong kind for the endpoint).
    #[error("this credential is not allowed to do that")]
    Forbidden,
    /// A user whose password was generated must choose their own before anything else.
    #[error("choose a new password first")]
    PasswordChangeRequired,
    /// Too many requests or failed sign-ins; retry after that many seconds.
    #[error("too many requests; retry after {0} seconds")]
    RateLimited(u64),
    /// A request value (a header, the new password) is invalid.
    #[error(transparent)]
    Invalid(#[from] InvalidValue),
    /// Password hashing refused or failed (busy, too short).
    #[error(transparent)]
    Password(#[from] PasswordError),
    /// The database failed (or holds a value the code does not know).
    #[error(transparent)]
    Db(#[from] DbError),
    /// An unexpected failure; details go to the log.
    #[error("internal error: {0}")]
    Internal(#[source] anyhow::Error),
}
