//! Why a tenancy operation refused.

use crate::{
    credentials::CredentialError, db::DbError, passwords::PasswordError, types::InvalidValue,
};

/// Failures of stores, users, members, keys and customers.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// No such object in the caller's scope (or it belongs to someone else).
    #[error("the requested resource does not exist")]
    NotFound,
    /// The caller's role does not allow this here (checked after the object was found, so
    /// another store's object stays a plain not-found).
    #[error("your role does not allow this")]
    Forbidden,
    /// A unique value already exists.
    #[error("{0}")]
    Conflict(&'static str),
    /// Removing or demoting the store's last owner would leave nobody to manage it.
    #[error("a store keeps at least one owner")]
    LastOwner,
    /// A request value is invalid.
    #[error(transparent)]
    Invalid(#[from] InvalidValue),
    /// Password hashing refused or failed.
    #[error(transparent)]
    Password(#[from] PasswordError),
    /// The new store's sandbox credentials could not be sealed or read.
    #[error(transparent)]
    Credentials(#[from] CredentialError),
    /// The database failed (or holds a value the code does not know).
    #[error(transparent)]
    Db(#[from] DbError),
}
