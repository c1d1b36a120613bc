//! Why a reconciliation operation refused or stopped.

use crate::{db::DbError, types::InvalidValue};

/// Failures of reconciliation runs and items.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// No such run or item in the caller's scope.
    #[error("the requested resource does not exist")]
    NotFound,
    /// A run of this store, environment and period is already queued or running.
    #[error("a reconciliation of this period is already queued or running")]
    AlreadyRunning,
    /// The item names no payment with an open operation the provider could settle: a
    /// correction of the ledger is made through the payment's own operations.
    #[error("nothing to apply: this item names no payment operation still open")]
    NothingToApply,
    /// Settling the payment from the provider failed.
    #[error(transparent)]
    Payments(#[from] crate::payments::Error),
    /// A request value is invalid.
    #[error(transparent)]
    Invalid(#[from] InvalidValue),
    /// The provider could not be asked (the batch is retried after the run's lease).
    #[error("the provider could not be asked: {0}")]
    Provider(String),
    /// Another runner took the run over (its lease expired): this one stops.
    #[error("the run's lease was taken over")]
    LeaseLost,
    /// A stored value the code does not know.
    #[error("stored data could not be read: {0}")]
    Corrupt(String),
    /// The database failed.
    #[error(transparent)]
    Db(#[from] DbError),
}
