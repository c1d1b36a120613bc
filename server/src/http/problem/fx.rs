//! `fx::Error` as problems.

use axum::http::StatusCode;

use super::ApiError;
use crate::fx::Error;

impl From<Error> for ApiError {
    fn from(err: Error) -> Self {
        let detail = err.to_string();
        let unprocessable = |code, title| ApiError::Described {
            status: StatusCode::UNPROCESSABLE_ENTITY,
            code,
            title,
            detail: detail.clone(),
        };
        match err {
            Error::NotOffered(_) => unprocessable("currency_not_offered", "Currency not offered"),
            Error::NoRate { .. } => unprocessable("fx_rate_missing", "No exchange rate"),
            Error::Stale { .. } => unprocessable("fx_rate_stale", "Exchange rate too old"),
            Error::Invalid(invalid) => ApiError::Validation(invalid),
            Error::Db(err) => err.into(),
            Error::Corrupt(_) => ApiError::Internal(anyhow::anyhow!(detail)),
        }
    }
}
