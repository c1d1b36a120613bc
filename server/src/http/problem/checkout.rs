//! `checkout::Error` as problems.

use super::ApiError;
use crate::checkout::Error;

impl From<Error> for ApiError {
    fn from(err: Error) -> Self {
        match err {
            Error::NotFound => ApiError::NotFound,
            Error::OrderNotOpen => ApiError::Conflict("only open orders can be quoted"),
            Error::OrderClosed(status) => ApiError::InvalidStateTransition(format!(
                "the order is {status}; only open orders can be paid"
            )),
            Error::SnapshotExpired => ApiError::SnapshotExpired,
            Error::SnapshotStale => ApiError::SnapshotStale,
            Error::ShippingRateExpired => ApiError::Described {
                status: axum::http::StatusCode::UNPROCESSABLE_ENTITY,
                code: "shipping_rate_expired",
                title: "Shipping rate expired",
                detail: err.to_string(),
            },
            Error::ShippingRateStale => ApiError::Described {
                status: axum::http::StatusCode::UNPROCESSABLE_ENTITY,
                code: "shipping_rate_stale",
                title: "Shipping rate stale",
                detail: err.to_string(),
            },
            Error::IdempotencyKeyInUse => ApiError::IdempotencyKeyInUse,
            Error::Invalid(invalid) => ApiError::Validation(invalid),
            Error::Orders(err) => err.into(),
            Error::Tax(err) => err.into(),
            Error::Fx(err) => err.into(),
            Error::Db(err) => err.into(),
            Error::Internal(err) => ApiError::Internal(err),
        }
    }
}
