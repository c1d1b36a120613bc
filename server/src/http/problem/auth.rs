//! `auth::Error` as problems.

use super::ApiError;
use crate::auth::Error;

impl From<Error> for ApiError {
    fn from(err: Error) -> Self {
        match err {
            Error::Unauthorized => ApiError::Unauthorized,
            Error::InvalidCredentials => ApiError::InvalidCredentials,
            Error::Forbidden => ApiError::Forbidden,
            Error::PasswordChangeRequired => ApiError::PasswordChangeRequired,
            Error::RateLimited(seconds) => ApiError::RateLimited(seconds),
            Error::Invalid(invalid) => ApiError::Validation(invalid),
            Error::Password(err) => err.into(),
            Error::Db(err) => err.into(),
            Error::Internal(err) => ApiError::Internal(err),
        }
    }
}
