//! `catalog::Error` as problems.

use axum::http::StatusCode;

use super::ApiError;
use crate::catalog::Error;

impl From<Error> for ApiError {
    fn from(err: Error) -> Self {
        let detail = err.to_string();
        match err {
            Error::NotFound => ApiError::NotFound,
            Error::SkuTaken => ApiError::Conflict("a product with this SKU already exists"),
            Error::Archived(_) => ApiError::Described {
                status: StatusCode::UNPROCESSABLE_ENTITY,
                code: "product_archived",
                title: "Product archived",
                detail,
            },
            Error::Invalid(invalid) => ApiError::Validation(invalid),
            Error::Db(err) => err.into(),
        }
    }
}
