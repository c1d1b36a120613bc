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
            Error::Unavailable(_) => ApiError::Described {
                status: StatusCode::SERVICE_UNAVAILABLE,
                code: "tax_unavailable",
                title: "Tax service unavailable",
                // The reason (which may name internal hosts) goes to the log, not the client.
                detail: "the store's tax service could not answer; try again shortly".to_owned(),
            },
            // The service's own wording stays in the log; its code tells the storefront what
            // was refused.
            Error::Rejected { code, .. } => ApiError::Described {
                status: StatusCode::UNPROCESSABLE_ENTITY,
                code: "tax_rejected",
                title: "Tax service refused the request",
                detail: format!("the store's tax service refused the request: {code}"),
            },
            Error::Credentials(err) => err.into(),
            Error::Invalid(invalid) => ApiError::Validation(invalid),
            Error::Orders(err) => err.into(),
            Error::Db(err) => err.into(),
        }
    }
}
