//! Outbound webhook failures as problems.

use axum::http::StatusCode;

use super::ApiError;
use crate::outbound::Error;

impl From<Error> for ApiError {
    fn from(err: Error) -> Self {
        match err {
            Error::NotFound => ApiError::NotFound,
            Error::Invalid(invalid) => ApiError::Validation(invalid),
            Error::UrlRefused(refusal) => ApiError::Described {
                status: StatusCode::UNPROCESSABLE_ENTITY,
                code: "webhook_url_refused",
                title: "Webhook URL refused",
                detail: format!("url ({}): {refusal}", refusal.reason()),
            },
            Error::TooManyEndpoints(_) => ApiError::Described {
                status: StatusCode::CONFLICT,
                code: "webhook_endpoint_limit",
                title: "Too many webhook endpoints",
                detail: err.to_string(),
            },
            Error::EndpointDisabled => ApiError::Described {
                status: StatusCode::CONFLICT,
                code: "webhook_endpoint_disabled",
                title: "Webhook endpoint disabled",
                detail: err.to_string(),
            },
            Error::DeliveryInProgress => ApiError::Described {
                status: StatusCode::CONFLICT,
                code: "delivery_in_progress",
                title: "Delivery in progress",
                detail: err.to_string(),
            },
            Error::TooManyToResend { .. } => ApiError::Described {
                status: StatusCode::UNPROCESSABLE_ENTITY,
                code: "resend_range_too_large",
                title: "Resend range too large",
                detail: err.to_string(),
            },
            Error::Conflict(why) => ApiError::Conflict(why),
            Error::Key(e) => ApiError::Internal(e.into()),
            Error::Db(e) => e.into(),
        }
    }
}
