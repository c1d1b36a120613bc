//! `tax::Error` as problems.

use axum::http::StatusCode;

use super::ApiError;
use crate::tax::Error;

impl From<Error> for ApiError {
    fn from(err: Error) -> Self {
        match err {
            Error::NotFound => ApiError::NotFound,
            Error::DuplicateCertificate => ApiError::Described {
                status: StatusCode::CONFLICT,
                code: "certificate_exists",
                title: "Certificate already recorded",
                detail: err.to_string(),
            },
            Error::Invalid(invalid) => ApiError::Validation(invalid),
            Error::Orders(err) => err.into(),
            Error::Db(err) => err.into(),
        }
    }
}
