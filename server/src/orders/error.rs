//! Why an order operation refused.

use crate::{catalog, db::DbError, fx, types::InvalidValue};

/// Failures of orders.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// No such order in the caller's scope.
    #[error("the requested resource does not exist")]
    NotFound,
    /// A line or the address is invalid.
    #[error(transparent)]
    Invalid(#[from] InvalidValue),
    /// Reading the catalogue failed.
    #[error(transparent)]
    Catalog(#[from] catalog::Error),
    /// The order's currency cannot be priced (not offered, no rate, a stale rate).
    #[error(transparent)]
    Fx(#[from] fx::Error),
    /// Another request holds the request's idempotency key (the edge answers from its record).
    #[error("the idempotency key is in use")]
    IdempotencyKeyInUse,
    /// The database failed (or holds a value the code does not know).
    #[error(transparent)]
    Db(#[from] DbError),
    /// A stored order that cannot be interpreted (amounts out of range).
    #[error("internal error: {0}")]
    Internal(#[source] anyhow::Error),
}
