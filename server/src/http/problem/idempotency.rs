//! `idempotency::Error` as problems.

use super::ApiError;
use crate::idempotency::Error;

impl From<Error> for ApiError {
    fn from(err: Error) -> Self {
        match err {
            Error::Reused => ApiError::IdempotencyKeyReused,
            Error::InUse => ApiError::IdempotencyKeyInUse,
            Error::Db(err) => err.into(),
            Error::Seal(err) => ApiError::Internal(err.into()),
        }
    }
}
