//! The carrier's error shape: `{"error": {"type", "code", "message"}}`, its own like a real
//! carrier's, and the error of work done outside a request.

use axum::{
    Json,
    http::StatusCode,
    response::{IntoResponse, Response},
};
use serde_json::{Value, json};

use crate::seal::SealError;

/// Why a carrier operation outside a request (the ticker, rewrapping) failed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The database failed.
    #[error("sandbox carrier storage failed: {0}")]
    Db(#[from] sqlx::Error),
    /// Sealing or opening a webhook secret failed.
    #[error("sandbox carrier sealing failed: {0}")]
    Seal(#[from] SealError),
}

/// The `type` of a [`CarrierError`]: what kind of fix the caller needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorType {
    /// The request is wrong, or not allowed in the resource's state (4xx).
    InvalidRequest,
    /// No usable API key (401).
    Authentication,
    /// The carrier failed or is down (5xx); retrying later may succeed.
    ApiError,
}

impl ErrorType {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorType::InvalidRequest => "invalid_request",
            ErrorType::Authentication => "authentication",
            ErrorType::ApiError => "api_error",
        }
    }
}

/// A carrier error as answered over HTTP.
#[derive(Debug, Clone)]
pub struct CarrierError {
    pub(crate) status: StatusCode,
    kind: ErrorType,
    code: &'static str,
    message: String,
}

impl CarrierError {
    /// An error with status, type, code and message.
    pub fn new(
        status: StatusCode,
        kind: ErrorType,
        code: &'static str,
        message: impl Into<String>,
    ) -> Self {
        Self {
            status,
            kind,
            code,
            message: message.into(),
        }
    }

    /// A 4xx the caller can fix (`type` `invalid_request`).
    pub(crate) fn invalid(
        status: StatusCode,
        code: &'static str,
        message: impl Into<String>,
    ) -> Self {
        Self::new(status, ErrorType::InvalidRequest, code, message)
    }

    /// A `422` about the request's content.
    pub(crate) fn unprocessable(code: &'static str, message: impl Into<String>) -> Self {
        Self::invalid(StatusCode::UNPROCESSABLE_ENTITY, code, message)
    }

    /// A `404` for a resource this account does not have.
    pub(crate) fn not_found(code: &'static str, message: impl Into<String>) -> Self {
        Self::invalid(StatusCode::NOT_FOUND, code, message)
    }

    /// The answer to a failure the caller cannot act on; the cause is logged, never sent.
    pub(crate) fn internal() -> Self {
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            ErrorType::ApiError,
            "internal_error",
            "internal error",
        )
    }

    /// The HTTP status.
    pub fn status(&self) -> StatusCode {
        self.status
    }

    /// The `code`.
    pub fn code(&self) -> &'static str {
        self.code
    }

    pub(crate) fn body(&self) -> Value {
        json!({"error": {"type": self.kind.as_str(), "code": self.code, "message": self.message}})
    }
}

impl From<sqlx::Error> for CarrierError {
    fn from(err: sqlx::Error) -> Self {
        tracing::error!(error = %err, "sandbox carrier storage failed");
        CarrierError::internal()
    }
}

impl From<Error> for CarrierError {
    fn from(err: Error) -> Self {
        tracing::error!(error = %err, "sandbox carrier request failed");
        CarrierError::internal()
    }
}

impl IntoResponse for CarrierError {
    fn into_response(self) -> Response {
        (self.status, Json(self.body())).into_response()
    }
}
