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
            Error::Transition(err) => transition(err),
            Error::PaymentDeclined(code) => ApiError::PaymentDeclined(code),
            Error::ProviderRejected(code) => ApiError::ProviderRejected(code),
            Error::ProviderUnavailable => ApiError::ProviderUnavailable,
            Error::ProviderUnavailableFinal => ApiError::ProviderUnavailableFinal,
            Error::CaptureUnavailable(intent) => ApiError::CaptureUnavailable(intent.to_string()),
            Error::ProviderOutcomeUnknown => ApiError::ProviderOutcomeUnknown,
            // Until orders and checkout have error enums of their own they return problems;
            // those pass through unchanged.
            Error::Orders(err) | Error::Checkout(err) => match err.downcast::<ApiError>() {
                Ok(err) => *err,
                Err(other) => ApiError::Internal(anyhow::anyhow!(other)),
            },
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
