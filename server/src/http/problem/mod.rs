//! RFC 9457 problem details: the one error type at the HTTP edge.

mod auth;
mod catalog;
mod checkout;
mod orders;
mod outbound;
mod tenancy;

use axum::{
    http::{HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};
use serde::Serialize;
use utoipa::ToSchema;

use crate::db::DbError;

mod credentials;
mod fx;
mod idempotency;
mod payments;
mod reconciliation;
mod shipments;
mod tax;
mod webhooks;

/// Marks a 5xx answer that is final for its Idempotency-Key: the idempotency layer stores and
/// replays it instead of releasing the key (which would invite a retry that cannot succeed).
#[derive(Clone, Copy, Debug)]
pub struct KeepUnderKey;

/// Media type of every error body.
pub const PROBLEM_JSON: &str = "application/problem+json";

/// An RFC 9457 problem document with Cassa's stable machine `code` and the request id.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Problem {
    /// URI identifying the problem type (`urn:cassa:problem:<code>`).
    #[serde(rename = "type")]
    pub type_uri: String,
    /// Short, human-readable summary of the problem type.
    pub title: String,
    /// HTTP status code.
    pub status: u16,
    /// Explanation specific to this occurrence.
    pub detail: String,
    /// Stable machine-readable code; clients branch on this, never on `title` or `detail`.
    pub code: String,
    /// The request field the problem is about, for validation failures.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    /// The request's id (also in the `X-Request-Id` header); quote it when reporting issues.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
}

impl Problem {
    /// A problem with the given status, code, title and detail.
    pub fn new(status: StatusCode, code: &str, title: &str, detail: impl Into<String>) -> Self {
        Self {
            type_uri: format!("urn:cassa:problem:{code}"),
            title: title.to_owned(),
            status: status.as_u16(),
            detail: detail.into(),
            code: code.to_owned(),
            field: None,
            request_id: None,
        }
    }

    /// The generic problem for a bare error status produced outside our handlers (a 405 from
    /// the router, a 413 from the body limit, …).
    pub fn for_status(status: StatusCode) -> Self {
        let (code, title) = match status {
            StatusCode::BAD_REQUEST => ("bad_request", "Bad request"),
            StatusCode::NOT_FOUND => ("not_found", "Not found"),
            StatusCode::METHOD_NOT_ALLOWED => ("method_not_allowed", "Method not allowed"),
            StatusCode::PAYLOAD_TOO_LARGE => ("payload_too_large", "Payload too large"),
            StatusCode::UNSUPPORTED_MEDIA_TYPE => {
                ("unsupported_media_type", "Unsupported media type")
            }
            StatusCode::UNPROCESSABLE_ENTITY => ("unprocessable_entity", "Unprocessable entity"),
            StatusCode::REQUEST_TIMEOUT => ("request_timeout", "Request timeout"),
            StatusCode::TOO_MANY_REQUESTS => ("rate_limited", "Too many requests"),
            StatusCode::SERVICE_UNAVAILABLE => ("service_unavailable", "Service unavailable"),
            s if s.is_server_error() => ("internal_error", "Internal server error"),
            _ => ("http_error", "Request failed"),
        };
        let detail = status.canonical_reason().unwrap_or("request failed");
        Self::new(status, code, title, detail)
    }

    /// The status as a [`StatusCode`].
    pub fn status_code(&self) -> StatusCode {
        StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
    }

    /// Serializes into a response; the problem itself rides along as an extension so the edge
    /// middleware can add the request id.
    pub fn into_response_with_extension(self) -> Response {
        let body = serde_json::to_vec(&self).unwrap_or_default();
        let mut response = (self.status_code(), body).into_response();
        response
            .headers_mut()
            .insert(header::CONTENT_TYPE, HeaderValue::from_static(PROBLEM_JSON));
        response.extensions_mut().insert(self);
        response
    }
}

impl IntoResponse for Problem {
    fn into_response(self) -> Response {
        self.into_response_with_extension()
    }
}

/// Every failure a handler can return. Each variant has one status and one stable `code`.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// The route or resource does not exist (or belongs to someone else).
    #[error("the requested resource does not exist")]
    NotFound,
    /// The body is not syntactically valid JSON.
    #[error("the request body is not valid JSON: {0}")]
    MalformedJson(String),
    /// The body is JSON but does not have the expected shape or values.
    #[error("the request body is invalid: {0}")]
    InvalidBody(String),
    /// The request is missing `Content-Type: application/json`.
    #[error("expected a request body with Content-Type: application/json")]
    UnsupportedMediaType,
    /// The body exceeds the configured limit.
    #[error("the request body exceeds the size limit")]
    PayloadTooLarge,
    /// The body could not be read.
    #[error("the request body could not be read: {0}")]
    BadBody(String),
    /// A field of the request is invalid.
    #[error("{0}")]
    Validation(#[from] crate::types::InvalidValue),
    /// No credential, or one that is wrong, expired or revoked.
    #[error("missing or invalid credentials")]
    Unauthorized,
    /// Sign-in failed: an unknown email and a wrong password look the same.
    #[error("the email or password is wrong")]
    InvalidCredentials,
    /// A valid credential without the needed role.
    #[error("this credential is not allowed to do that")]
    Forbidden,
    /// A user whose password was generated must choose their own before anything else.
    #[error("choose a new password first: POST /api/v1/auth/password (or the console)")]
    PasswordChangeRequired,
    /// Removing or demoting the store's last owner would leave nobody to manage it.
    #[error("a store keeps at least one owner; make another member owner first")]
    LastOwner,
    /// A mutating request without an `Idempotency-Key` header.
    #[error("this request needs an Idempotency-Key header (1 to 255 visible ASCII characters)")]
    IdempotencyKeyMissing,
    /// An empty, overlong or non-ASCII `Idempotency-Key`.
    #[error("the Idempotency-Key must be 1 to 255 visible ASCII characters")]
    IdempotencyKeyInvalid,
    /// The key was used for a different request.
    #[error("this Idempotency-Key was already used for a different request")]
    IdempotencyKeyReused,
    /// The first request with this key is still being processed.
    #[error("a request with this Idempotency-Key is still in progress; retry shortly")]
    IdempotencyKeyInUse,
    /// The checkout snapshot's time is up; quote again.
    #[error("the checkout snapshot has expired; request a new quote")]
    SnapshotExpired,
    /// The order changed after the snapshot was taken; quote again.
    #[error("the order changed after this snapshot was taken; request a new quote")]
    SnapshotStale,
    /// The amount the client expects differs from the snapshot's total.
    #[error("the amount does not match the checkout snapshot's total of {0}")]
    SnapshotMismatch(i64),
    /// The order already has a payment that is not failed or voided.
    #[error("this order already has an active payment")]
    PaymentAlreadyActive,
    /// The payment's state does not allow the operation.
    #[error("{0}")]
    InvalidStateTransition(String),
    /// A capture larger than what is left of the authorization.
    #[error("the amount exceeds what can still be captured ({0})")]
    AmountExceedsCapturable(i64),
    /// A refund larger than what is left of the captures.
    #[error("the amount exceeds what can still be refunded ({0})")]
    AmountExceedsRefundable(i64),
    /// The provider declined the payment.
    #[error("the payment was declined: {0}")]
    PaymentDeclined(String),
    /// The provider refused the request for its content or the payment's state there.
    #[error("the payment provider refused the request: {0}")]
    ProviderRejected(String),
    /// The provider could not be reached or failed; nothing happened there.
    #[error(
        "the payment provider is unavailable; nothing was charged, retry with a new Idempotency-Key"
    )]
    ProviderUnavailable,
    /// The provider was unavailable for this request's transaction, which is recorded as
    /// failed: final for this Idempotency-Key (replayed as it is, without `Retry-After`).
    #[error(
        "the payment provider was unavailable; nothing was charged, retry with a new Idempotency-Key"
    )]
    ProviderUnavailableFinal,
    /// `pay` authorized the payment but could not capture it; the same key resumes the capture.
    #[error(
        "the payment {0} is authorized but the provider was unavailable for its capture; nothing was captured, retry with the same Idempotency-Key to capture"
    )]
    CaptureUnavailable(String),
    /// An amount that cannot be charged (a zero total).
    #[error("{0}")]
    AmountInvalid(&'static str),
    /// The provider's answer is not known yet (timeout).
    #[error(
        "the payment provider did not answer in time; the outcome is being resolved, retry with the same Idempotency-Key"
    )]
    ProviderOutcomeUnknown,
    /// A capability's refusal with its own stable code, chosen in its `problem/` file.
    #[error("{detail}")]
    Described {
        /// HTTP status.
        status: StatusCode,
        /// Stable code.
        code: &'static str,
        /// Short title.
        title: &'static str,
        /// What happened.
        detail: String,
    },
    /// A webhook whose signature headers are missing, wrong or stale.
    #[error("the webhook signature is invalid: {0}")]
    InvalidSignature(crate::providers::signature::SignatureError),
    /// A state-changing console request from another site.
    #[error("cross-site requests are not allowed")]
    CrossSiteRequest,
    /// A unique value already exists.
    #[error("{0}")]
    Conflict(&'static str),
    /// The request took longer than the configured budget.
    #[error(
        "the request took too long and was abandoned; it is safe to retry with the same Idempotency-Key"
    )]
    RequestTimeout,
    /// The database cannot be reached right now. A step whose commit was cut off may have
    /// been saved all the same: the same key answers with it.
    #[error(
        "the database is unavailable; retry later with the same Idempotency-Key (it answers with whatever was saved)"
    )]
    DatabaseUnavailable,
    /// Another process held the database's write lock past the busy timeout; the failed step
    /// was rolled back (an earlier step of a payment may have committed: the same key finishes
    /// it).
    #[error(
        "the database is busy with another writer; the failed step was rolled back; retry shortly with the same Idempotency-Key"
    )]
    DatabaseBusy,
    /// The database's storage is full; the failed step was rolled back.
    #[error(
        "the database has no storage space left; the failed step was rolled back; retry with the same Idempotency-Key once space is freed"
    )]
    StorageFull,
    /// Too many requests (or failed sign-ins) from this caller; retry after that many seconds.
    #[error("too many requests; retry after {0} seconds")]
    RateLimited(u64),
    /// Password hashing is at capacity; refused at once instead of queueing.
    #[error("the server is busy; retry shortly")]
    ServerBusy,
    /// A bug or an unexpected failure; details go to the log, never to the client.
    #[error("internal error")]
    Internal(#[source] anyhow::Error),
}

impl ApiError {
    /// HTTP status, stable code and title of this error.
    pub fn parts(&self) -> (StatusCode, &'static str, &'static str) {
        match self {
            ApiError::NotFound => (StatusCode::NOT_FOUND, "not_found", "Not found"),
            ApiError::MalformedJson(_) => {
                (StatusCode::BAD_REQUEST, "malformed_json", "Malformed JSON")
            }
            ApiError::InvalidBody(_) => (
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid_body",
                "Invalid request body",
            ),
            ApiError::UnsupportedMediaType => (
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_media_type",
                "Unsupported media type",
            ),
            ApiError::PayloadTooLarge => (
                StatusCode::PAYLOAD_TOO_LARGE,
                "payload_too_large",
                "Payload too large",
            ),
            ApiError::BadBody(_) => (StatusCode::BAD_REQUEST, "bad_request", "Bad request"),
            ApiError::Validation(_) => (
                StatusCode::UNPROCESSABLE_ENTITY,
                "validation_failed",
                "Validation failed",
            ),
            ApiError::Unauthorized => (StatusCode::UNAUTHORIZED, "unauthorized", "Unauthorized"),
            ApiError::InvalidCredentials => (
                StatusCode::UNAUTHORIZED,
                "invalid_credentials",
                "Invalid credentials",
            ),
            ApiError::Forbidden => (StatusCode::FORBIDDEN, "forbidden", "Forbidden"),
            ApiError::PasswordChangeRequired => (
                StatusCode::FORBIDDEN,
                "password_change_required",
                "Password change required",
            ),
            ApiError::LastOwner => (StatusCode::CONFLICT, "last_owner", "Last owner"),
            ApiError::IdempotencyKeyMissing => (
                StatusCode::BAD_REQUEST,
                "idempotency_key_missing",
                "Idempotency-Key missing",
            ),
            ApiError::IdempotencyKeyInvalid => (
                StatusCode::BAD_REQUEST,
                "idempotency_key_invalid",
                "Idempotency-Key invalid",
            ),
            ApiError::IdempotencyKeyReused => (
                StatusCode::UNPROCESSABLE_ENTITY,
                "idempotency_key_reused",
                "Idempotency-Key reused",
            ),
            ApiError::IdempotencyKeyInUse => (
                StatusCode::CONFLICT,
                "idempotency_key_in_use",
                "Idempotency-Key in use",
            ),
            ApiError::SnapshotExpired => (
                StatusCode::UNPROCESSABLE_ENTITY,
                "snapshot_expired",
                "Snapshot expired",
            ),
            ApiError::SnapshotStale => (
                StatusCode::UNPROCESSABLE_ENTITY,
                "snapshot_stale",
                "Snapshot stale",
            ),
            ApiError::SnapshotMismatch(_) => (
                StatusCode::UNPROCESSABLE_ENTITY,
                "snapshot_mismatch",
                "Amount does not match the snapshot",
            ),
            ApiError::PaymentAlreadyActive => (
                StatusCode::CONFLICT,
                "payment_already_active",
                "Payment already active",
            ),
            ApiError::InvalidStateTransition(_) => (
                StatusCode::CONFLICT,
                "invalid_state_transition",
                "Invalid state transition",
            ),
            ApiError::AmountExceedsCapturable(_) => (
                StatusCode::UNPROCESSABLE_ENTITY,
                "amount_exceeds_capturable",
                "Amount exceeds capturable",
            ),
            ApiError::AmountExceedsRefundable(_) => (
                StatusCode::UNPROCESSABLE_ENTITY,
                "amount_exceeds_refundable",
                "Amount exceeds refundable",
            ),
            ApiError::PaymentDeclined(_) => (
                StatusCode::PAYMENT_REQUIRED,
                "payment_declined",
                "Payment declined",
            ),
            ApiError::ProviderRejected(_) => (
                StatusCode::UNPROCESSABLE_ENTITY,
                "provider_rejected",
                "Provider rejected the request",
            ),
            ApiError::ProviderUnavailable => (
                StatusCode::SERVICE_UNAVAILABLE,
                "provider_unavailable",
                "Payment provider unavailable",
            ),
            ApiError::ProviderUnavailableFinal => (
                StatusCode::SERVICE_UNAVAILABLE,
                "provider_unavailable",
                "Payment provider unavailable",
            ),
            ApiError::CaptureUnavailable(_) => (
                StatusCode::SERVICE_UNAVAILABLE,
                "capture_unavailable",
                "Authorized, capture unavailable",
            ),
            ApiError::AmountInvalid(_) => (
                StatusCode::UNPROCESSABLE_ENTITY,
                "amount_invalid",
                "Invalid amount",
            ),
            ApiError::ProviderOutcomeUnknown => (
                StatusCode::BAD_GATEWAY,
                "provider_outcome_unknown",
                "Payment provider outcome unknown",
            ),
            ApiError::InvalidSignature(err) => (
                if *err == crate::providers::signature::SignatureError::MissingHeaders {
                    StatusCode::BAD_REQUEST
                } else {
                    StatusCode::UNAUTHORIZED
                },
                "invalid_signature",
                "Invalid signature",
            ),
            ApiError::Described {
                status,
                code,
                title,
                ..
            } => (*status, code, title),
            ApiError::CrossSiteRequest => {
                (StatusCode::FORBIDDEN, "csrf_rejected", "Cross-site request")
            }
            ApiError::Conflict(_) => (StatusCode::CONFLICT, "conflict", "Conflict"),
            ApiError::RequestTimeout => (
                StatusCode::SERVICE_UNAVAILABLE,
                "request_timeout",
                "Request timed out",
            ),
            ApiError::DatabaseUnavailable => (
                StatusCode::SERVICE_UNAVAILABLE,
                "database_unavailable",
                "Database unavailable",
            ),
            ApiError::DatabaseBusy => (
                StatusCode::SERVICE_UNAVAILABLE,
                "database_busy",
                "Database busy",
            ),
            ApiError::StorageFull => (
                StatusCode::SERVICE_UNAVAILABLE,
                "storage_full",
                "Database storage full",
            ),
            ApiError::RateLimited(_) => (
                StatusCode::TOO_MANY_REQUESTS,
                "rate_limited",
                "Too many requests",
            ),
            ApiError::ServerBusy => (
                StatusCode::SERVICE_UNAVAILABLE,
                "server_busy",
                "Server busy",
            ),
            ApiError::Internal(_) => (
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal_error",
                "Internal server error",
            ),
        }
    }

    /// The problem document for this error.
    pub fn to_problem(&self) -> Problem {
        let (status, code, title) = self.parts();
        let mut problem = Problem::new(status, code, title, self.to_string());
        if let ApiError::Validation(invalid) = self {
            problem.field = Some(invalid.path());
        }
        problem
    }
}

impl From<DbError> for ApiError {
    fn from(err: DbError) -> Self {
        match err {
            DbError::Unavailable(_) | DbError::Connect { .. } => ApiError::DatabaseUnavailable,
            DbError::Busy(_) => ApiError::DatabaseBusy,
            DbError::Full(_) => ApiError::StorageFull,
            other => ApiError::Internal(other.into()),
        }
    }
}

impl From<crate::passwords::PasswordError> for ApiError {
    fn from(err: crate::passwords::PasswordError) -> Self {
        match err {
            crate::passwords::PasswordError::TooShort => {
                ApiError::Validation(crate::types::InvalidValue::new("password", err.to_string()))
            }
            crate::passwords::PasswordError::Busy => ApiError::ServerBusy,
            other => ApiError::Internal(other.into()),
        }
    }
}

impl From<sqlx::Error> for ApiError {
    fn from(err: sqlx::Error) -> Self {
        DbError::from(err).into()
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        match &self {
            ApiError::Internal(err) => tracing::error!(error = ?err, "internal error"),
            ApiError::DatabaseUnavailable => tracing::warn!("database unavailable"),
            ApiError::DatabaseBusy => {
                tracing::warn!("database busy: another writer holds its lock")
            }
            ApiError::StorageFull => tracing::error!("database storage full: free space"),
            _ => {}
        }
        let mut response = self.to_problem().into_response();
        if matches!(self, ApiError::ProviderUnavailableFinal) {
            response.extensions_mut().insert(KeepUnderKey);
        }
        if matches!(self, ApiError::Unauthorized | ApiError::InvalidCredentials) {
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        if matches!(
            self,
            ApiError::DatabaseUnavailable
                | ApiError::DatabaseBusy
                | ApiError::RequestTimeout
                | ApiError::ProviderUnavailable
                | ApiError::CaptureUnavailable(_)
                | ApiError::ProviderOutcomeUnknown
                | ApiError::ServerBusy
        ) {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
        }
        if let ApiError::RateLimited(seconds) = self {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(seconds.max(1)));
        }
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn internal_errors_do_not_leak_their_cause() {
        let err = ApiError::Internal(anyhow::anyhow!("SELECT secret FROM vault"));
        let problem = err.to_problem();
        assert_eq!(problem.status, 500);
        assert_eq!(problem.code, "internal_error");
        assert!(!problem.detail.contains("SELECT"));
    }

    #[test]
    fn codes_are_stable_and_typed() {
        let problem = ApiError::MalformedJson("x".into()).to_problem();
        assert_eq!(problem.code, "malformed_json");
        assert_eq!(problem.type_uri, "urn:cassa:problem:malformed_json");
        assert_eq!(
            Problem::for_status(StatusCode::METHOD_NOT_ALLOWED).code,
            "method_not_allowed"
        );
    }

    #[test]
    fn unavailable_store_maps_to_503() {
        let err: ApiError = DbError::Unavailable(sqlx::Error::PoolTimedOut).into();
        assert_eq!(err.parts().0, StatusCode::SERVICE_UNAVAILABLE);
    }
}
