//! Why a tax operation refused.

use crate::{db::DbError, types::InvalidValue};

/// Failures of the tax configuration, exemptions and tax lines.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// No such customer, exemption or snapshot in the caller's scope.
    #[error("the requested resource does not exist")]
    NotFound,
    /// The customer already has a certificate with this number.
    #[error("this customer already has a certificate with this number")]
    DuplicateCertificate,
    /// Reading the order failed.
    #[error(transparent)]
    Orders(#[from] crate::orders::Error),
    /// A request value is invalid.
    #[error(transparent)]
    Invalid(#[from] InvalidValue),
    /// The database failed (or holds a value the code does not know).
    #[error(transparent)]
    Db(#[from] DbError),
}
