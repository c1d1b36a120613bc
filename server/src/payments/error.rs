//! What a payment flow can fail with. No HTTP here: `http/problem/payments.rs` gives each
//! variant its status and stable code, so the API, the console and the jobs share one meaning.

use super::machine::TransitionError;
use crate::{
    db::DbError,
    types::{InvalidValue, PaymentIntentId},
};

/// Why a payment flow did not complete.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// No such order, intent or transaction in the caller's store (or not the customer's).
    #[error("the requested resource does not exist")]
    NotFound,
    /// A field of the request is invalid.
    #[error("{0}")]
    Invalid(#[from] InvalidValue),
    /// The Idempotency-Key made a transaction for a different request.
    #[error("this Idempotency-Key was already used for a different request")]
    KeyReused,
    /// Another request holds the Idempotency-Key right now.
    #[error("a request with this Idempotency-Key is still in progress; retry shortly")]
    KeyInUse,
    /// The amount the client expects differs from the snapshot's total.
    #[error("the amount does not match the checkout snapshot's total of {0}")]
    SnapshotMismatch(i64),
    /// An amount that cannot be charged (a zero total).
    #[error("{0}")]
    AmountInvalid(&'static str),
    /// The provider cannot take the amount exactly in its units for the currency (e.g. a
    /// fraction of a forint at a provider that takes whole forints): refused, never rounded.
    #[error(transparent)]
    NotRepresentable(#[from] crate::providers::payment::NotRepresentable),
    /// The order already has a payment that is not failed or voided.
    #[error("this order already has an active payment")]
    PaymentAlreadyActive,
    /// No payment of the order holds an authorization or a capture.
    #[error("the order has no authorized or captured payment")]
    OrderNotPaid,
    /// The intent's state or amounts do not allow the operation.
    #[error(transparent)]
    Transition(#[from] TransitionError),
    /// The provider declined the payment (its code).
    #[error("the payment was declined: {0}")]
    PaymentDeclined(String),
    /// The provider refused the request for its content or the payment's state there.
    #[error("the payment provider refused the request: {0}")]
    ProviderRejected(String),
    /// No provider client could be had, before anything was recorded: nothing happened.
    #[error(
        "the payment provider is unavailable; nothing was charged, retry with a new Idempotency-Key"
    )]
    ProviderUnavailable,
    /// The provider was unavailable for this request's transaction, recorded as failed: final
    /// for its Idempotency-Key.
    #[error(
        "the payment provider was unavailable; nothing was charged, retry with a new Idempotency-Key"
    )]
    ProviderUnavailableFinal,
    /// `pay` authorized the payment but could not capture it; the same key resumes the capture.
    #[error(
        "the payment {0} is authorized but the provider was unavailable for its capture; nothing was captured, retry with the same Idempotency-Key to capture"
    )]
    CaptureUnavailable(PaymentIntentId),
    /// The provider's answer is not known yet; the resolver (or a retry) finds out.
    #[error(
        "the payment provider did not answer in time; the outcome is being resolved, retry with the same Idempotency-Key"
    )]
    ProviderOutcomeUnknown,
    /// The order capability refused.
    #[error(transparent)]
    Orders(#[from] crate::orders::Error),
    /// The checkout capability refused.
    #[error(transparent)]
    Checkout(#[from] crate::checkout::Error),
    /// Storage failed.
    #[error(transparent)]
    Db(#[from] DbError),
    /// A bug or an unexpected failure; details go to the log.
    #[error("internal error")]
    Internal(#[source] anyhow::Error),
}
