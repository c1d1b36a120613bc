//! `reconciliation::Error` as problems.

use axum::http::StatusCode;

use super::ApiError;
use crate::reconciliation::Error;

impl From<Error> for ApiError {
    fn from(err: Error) -> Self {
        match err {
            Error::NotFound => ApiError::NotFound,
            Error::AlreadyRunning => ApiError::Described {
                status: StatusCode::CONFLICT,
                code: "reconciliation_running",
                title: "Reconciliation already running",
                detail: err.to_string(),
            },
            Error::NothingToApply => ApiError::Described {
                status: StatusCode::CONFLICT,
                code: "nothing_to_apply",
                title: "Nothing to apply",
                detail: err.to_string(),
            },
            Error::Payments(err) => err.into(),
            Error::Invalid(invalid) => ApiError::Validation(invalid),
            Error::Db(err) => err.into(),
            // Runner-side failures never reach a request; if one does, it is ours.
            Error::Provider(_) | Error::LeaseLost | Error::Corrupt(_) => {
                ApiError::Internal(anyhow::anyhow!(err.to_string()))
            }
        }
    }
}
