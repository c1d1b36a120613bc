//! What can go wrong with a store's webhook endpoints and their deliveries.

use crate::{db::DbError, keyring::KeyRingError, types::InvalidValue};

/// Failures of the endpoint and delivery-log operations.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// No such endpoint or delivery in the store and environment.
    #[error("not found")]
    NotFound,
    /// A field of the request is invalid.
    #[error(transparent)]
    Invalid(#[from] InvalidValue),
    /// The endpoint's URL may not be called (see [`super::UrlRefusal`]).
    #[error("the webhook URL is refused: {0}")]
    UrlRefused(super::UrlRefusal),
    /// The store already has the most endpoints one environment may have.
    #[error("a store may have at most {0} webhook endpoints per environment")]
    TooManyEndpoints(i64),
    /// The endpoint is disabled: nothing is sent to it until it is enabled again.
    #[error("the webhook endpoint is disabled; enable it first")]
    EndpointDisabled,
    /// The delivery is being attempted right now.
    #[error("the delivery is being attempted right now; retry when the attempt is over")]
    DeliveryInProgress,
    /// A bulk resend would queue more deliveries than one request may.
    #[error(
        "{count} deliveries were created in that range, more than {max} at once; narrow the range"
    )]
    TooManyToResend {
        /// Deliveries in the range.
        count: i64,
        /// The most one request resends.
        max: i64,
    },
    /// The endpoint changed concurrently too often to apply the change.
    #[error("{0}")]
    Conflict(&'static str),
    /// Sealing or opening a signing secret failed.
    #[error(transparent)]
    Key(#[from] KeyRingError),
    /// Database failure.
    #[error(transparent)]
    Db(#[from] DbError),
}

impl From<sqlx::Error> for Error {
    fn from(e: sqlx::Error) -> Self {
        Error::Db(e.into())
    }
}
