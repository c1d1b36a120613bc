//! The status and code of every payment failure.

use super::ApiError;
use crate::{
    payments::{Error, machine::TransitionError},
    types::InvalidValue,
};

impl From<Error> for ApiError {
    fn from(err: Error) -> Self {
        match err {
            Error::NotFound => ApiError::NotFound,
            Error::Invalid(invalid) => ApiError::Validation(invalid),
            Error::KeyReused => ApiError::IdempotencyKeyReused,
            Error::KeyInUse => ApiError::IdempotencyKeyInUse,
            Error::SnapshotMismatch(total) => ApiError::SnapshotMismatch(total),
            Error::AmountInvalid(why) => ApiError::AmountInvalid(why),
            Error::PaymentAlreadyActive => ApiError::PaymentAlreadyActive,
            Error::NotRepresentable(_) => ApiError::Described {
                status: axum::http::StatusCode::UNPROCESSABLE_ENTITY,
                code: "amount_not_representable",
                title: "Amount not representable",
                detail: err.to_string(),
            },
            Error::OrderNotPaid => ApiError::Described {
                status: axum::http::StatusCode::CONFLICT,
                code: "order_not_paid",
                title: "Order not paid",
                detail: err.to_string(),
            },
            Error::Transition(err) => transition(err),
            Error::PaymentDeclined(code) => ApiError::PaymentDeclined(code),
            Error::ProviderRejected(code) => ApiError::ProviderRejected(code),
            Error::ProviderUnavailable => ApiError::ProviderUnavailable,
            Error::ProviderUnavailableFinal => ApiError::ProviderUnavailableFinal,
            Error::CaptureUnavailable(intent) => ApiError::CaptureUnavailable(intent.to_string()),
            Error::ProviderOutcomeUnknown => ApiError::ProviderOutcomeUnknown,
            Error::Orders(err) => err.into(),
            Error::Checkout(err) => err.into(),
            Error::Db(err) => err.into(),
            Error::Internal(err) => ApiError::Internal(err),
        }
    }
}

fn transition(err: TransitionError) -> ApiError {
    match err {
        TransitionError::InvalidTransition { .. } => {
            ApiError::InvalidStateTransition(err.to_string())
        }
        TransitionError::ExceedsCapturable { available } => {
            ApiError::AmountExceedsCapturable(available.0)
        }
        TransitionError::ExceedsRefundable { available } => {
            ApiError::AmountExceedsRefundable(available.0)
        }
        TransitionError::NonPositiveAmount => ApiError::Validation(InvalidValue::new(
            "amount",
            "must be a positive number of minor units",
        )),
        TransitionError::Inconsistent => {
            ApiError::Internal(anyhow::anyhow!("a settlement does not match the ledger"))
        }
    }
}

#[cfg(test)]
mod tests {
    use axum::response::IntoResponse;

    use super::*;
    use crate::{db::DbError, money::MinorUnits, payments::IntentStatus, types::PaymentIntentId};

    /// Status, code, `Retry-After` and whether the answer is final for its key.
    fn http(err: Error) -> (u16, String, Option<String>, bool) {
        let code = ApiError::from(err);
        let problem = code.to_problem();
        let response = code.into_response();
        let retry = response
            .headers()
            .get(axum::http::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let keep = response
            .extensions()
            .get::<super::super::KeepUnderKey>()
            .is_some();
        assert_eq!(response.status().as_u16(), problem.status);
        (problem.status, problem.code, retry, keep)
    }

    #[test]
    fn every_payment_error_keeps_its_status_code_and_headers() {
        let retry = Some("1".to_owned());
        let cases = [
            (Error::NotFound, (404, "not_found", None, false)),
            (
                Error::Invalid(InvalidValue::new("amount", "x")),
                (422, "validation_failed", None, false),
            ),
            (
                Error::KeyReused,
                (422, "idempotency_key_reused", None, false),
            ),
            (
                Error::KeyInUse,
                (409, "idempotency_key_in_use", None, false),
            ),
            (
                Error::SnapshotMismatch(5),
                (422, "snapshot_mismatch", None, false),
            ),
            (
                Error::AmountInvalid("zero"),
                (422, "amount_invalid", None, false),
            ),
            (
                Error::PaymentAlreadyActive,
                (409, "payment_already_active", None, false),
            ),
            (Error::OrderNotPaid, (409, "order_not_paid", None, false)),
            (
                Error::Transition(TransitionError::InvalidTransition {
                    from: IntentStatus::Voided,
                    event: "capture",
                }),
                (409, "invalid_state_transition", None, false),
            ),
            (
                Error::Transition(TransitionError::ExceedsCapturable {
                    available: MinorUnits(0),
                }),
                (422, "amount_exceeds_capturable", None, false),
            ),
            (
                Error::Transition(TransitionError::ExceedsRefundable {
                    available: MinorUnits(1),
                }),
                (422, "amount_exceeds_refundable", None, false),
            ),
            (
                Error::Transition(TransitionError::NonPositiveAmount),
                (422, "validation_failed", None, false),
            ),
            (
                Error::Transition(TransitionError::Inconsistent),
                (500, "internal_error", None, false),
            ),
            (
                Error::PaymentDeclined("card_declined".into()),
                (402, "payment_declined", None, false),
            ),
            (
                Error::ProviderRejected("x".into()),
                (422, "provider_rejected", None, false),
            ),
            (
                Error::ProviderUnavailable,
                (503, "provider_unavailable", retry.clone(), false),
            ),
            (
                Error::ProviderUnavailableFinal,
                (503, "provider_unavailable", None, true),
            ),
            (
                Error::CaptureUnavailable(PaymentIntentId::new()),
                (503, "capture_unavailable", retry.clone(), false),
            ),
            (
                Error::ProviderOutcomeUnknown,
                (502, "provider_outcome_unknown", retry.clone(), false),
            ),
            (
                Error::Checkout(crate::checkout::Error::SnapshotExpired),
                (422, "snapshot_expired", None, false),
            ),
            (
                Error::Orders(crate::orders::Error::NotFound),
                (404, "not_found", None, false),
            ),
            (
                Error::Db(DbError::Unavailable(sqlx::Error::PoolTimedOut)),
                (503, "database_unavailable", retry.clone(), false),
            ),
            (
                Error::Internal(anyhow::anyhow!("SELECT")),
                (500, "internal_error", None, false),
            ),
        ];
        for (err, (status, code, retry, keep)) in cases {
            let name = format!("{err:?}");
            assert_eq!(http(err), (status, code.to_owned(), retry, keep), "{name}");
        }
    }

    #[test]
    fn a_capture_left_unavailable_names_the_intent() {
        let id = PaymentIntentId::new();
        let problem = ApiError::from(Error::CaptureUnavailable(id)).to_problem();
        assert!(problem.detail.contains(&id.to_string()));
    }
}
