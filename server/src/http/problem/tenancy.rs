//! `tenancy::Error` as problems.

use super::ApiError;
use crate::tenancy::Error;

impl From<Error> for ApiError {
    fn from(err: Error) -> Self {
        match err {
            Error::NotFound => ApiError::NotFound,
            Error::Forbidden => ApiError::Forbidden,
            Error::Conflict(message) => ApiError::Conflict(message),
            Error::LastOwner => ApiError::LastOwner,
            Error::Invalid(invalid) => ApiError::Validation(invalid),
            Error::Password(err) => err.into(),
            Error::Credentials(err) => err.into(),
            Error::Db(err) => err.into(),
        }
    }
}
