//! `catalog::Error` as problems.

use super::ApiError;
use crate::catalog::Error;

impl From<Error> for ApiError {
    fn from(err: Error) -> Self {
        match err {
            Error::NotFound => ApiError::NotFound,
            Error::SkuTaken => ApiError::Conflict("a product with this SKU already exists"),
            Error::Invalid(invalid) => ApiError::Validation(invalid),
            Error::Db(err) => err.into(),
        }
    }
}
