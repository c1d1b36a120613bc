//! `orders::Error` as problems.

use super::ApiError;
use crate::orders::Error;

impl From<Error> for ApiError {
    fn from(err: Error) -> Self {
        match err {
            Error::NotFound => ApiError::NotFound,
            Error::Invalid(invalid) => ApiError::Validation(invalid),
            Error::Catalog(err) => err.into(),
            Error::Fx(err) => err.into(),
            Error::IdempotencyKeyInUse => ApiError::IdempotencyKeyInUse,
            Error::Db(err) => err.into(),
            Error::Internal(err) => ApiError::Internal(err),
        }
    }
}
