//! Why an FX operation refused.

use chrono::{DateTime, Utc};

use crate::{db::DbError, types::InvalidValue};

/// Failures of rates, policies and locks.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The store sells only in its products' currency, or not in this one.
    #[error("the store does not sell in {0}")]
    NotOffered(String),
    /// No stored rate gives the pair.
    #[error("no exchange rate from {from} to {to} has been imported")]
    NoRate { from: String, to: String },
    /// The newest rate of the pair is older than the store allows.
    #[error(
        "the newest exchange rate from {from} to {to} is from {as_of}, older than the store allows"
    )]
    Stale {
        from: String,
        to: String,
        as_of: DateTime<Utc>,
    },
    /// A request value is invalid.
    #[error(transparent)]
    Invalid(#[from] InvalidValue),
    /// A stored value the code does not know.
    #[error("stored data could not be read: {0}")]
    Corrupt(String),
    /// The database failed.
    #[error(transparent)]
    Db(#[from] DbError),
}
