//! Why a checkout operation refused.

use crate::{db::DbError, fx, orders, orders::OrderStatus, types::InvalidValue};

/// Failures of quotes, snapshots and the stores' shipping and tax configuration.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// No such snapshot (or order) in the caller's scope.
    #[error("the requested resource does not exist")]
    NotFound,
    /// Only open orders are quoted.
    #[error("only open orders can be quoted")]
    OrderNotOpen,
    /// The snapshot's order is no longer open, so it cannot be paid.
    #[error("the order is {0}; only open orders can be paid")]
    OrderClosed(OrderStatus),
    /// The snapshot's time is up.
    #[error("the checkout snapshot has expired")]
    SnapshotExpired,
    /// The order changed after the snapshot was taken.
    #[error("the order changed after this snapshot was taken")]
    SnapshotStale,
    /// The shipping rate to freeze has expired.
    #[error("this shipping rate has expired; ask for new rates")]
    ShippingRateExpired,
    /// The shipping rate was offered for an earlier version of the order.
    #[error(
        "this shipping rate was offered for an earlier version of the order; ask for new rates"
    )]
    ShippingRateStale,
    /// Another request holds (or answered) the request's Idempotency-Key.
    #[error("a request with this Idempotency-Key is still in progress")]
    IdempotencyKeyInUse,
    /// A request or configuration value is invalid.
    #[error(transparent)]
    Invalid(#[from] InvalidValue),
    /// The order's exchange rate is older than the store accepts now.
    #[error(transparent)]
    Fx(#[from] fx::Error),
    /// The store's tax configuration could not be read.
    #[error(transparent)]
    Tax(#[from] crate::tax::Error),
    /// Reading the order failed.
    #[error(transparent)]
    Orders(#[from] orders::Error),
    /// The database failed (or holds a value the code does not know).
    #[error(transparent)]
    Db(#[from] DbError),
    /// An unexpected failure (a provider this process does not know, an answer that could not
    /// be rendered); details go to the log.
    #[error("internal error: {0}")]
    Internal(#[source] anyhow::Error),
}
