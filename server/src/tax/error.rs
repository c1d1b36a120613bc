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
    /// The store's tax service could not answer and its settings refuse to fall back.
    #[error("the tax service is unavailable: {0}")]
    Unavailable(String),
    /// The store's tax service refused the request.
    #[error("the tax service refused: {code}: {message}")]
    Rejected {
        /// The service's reason code.
        code: String,
        /// Its explanation.
        message: String,
    },
    /// The store's credentials could not be read.
    #[error(transparent)]
    Credentials(#[from] crate::credentials::CredentialError),
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
