//! Why a shipping request failed.

use super::{packing::PackingError, status::Refused};
use crate::{
    credentials::CredentialError,
    db::DbError,
    money::MinorUnits,
    providers::shipping::carrier::CarrierError,
    types::{InvalidValue, ShipmentId},
};

/// A shipments failure.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// No such order, rate or shipment in this store and environment.
    #[error("not found")]
    NotFound,
    /// A field of the request is invalid.
    #[error(transparent)]
    Invalid(#[from] InvalidValue),
    /// The order's items do not fit the store's boxes.
    #[error(transparent)]
    Packing(#[from] PackingError),
    /// The rate is past its expiry.
    #[error("this shipping rate has expired; ask for new rates")]
    RateExpired,
    /// The rate was offered for an earlier version of the order.
    #[error("this shipping rate was offered for an earlier version of the order")]
    RateStale,
    /// The rate cannot be bought (a rate-table price, not a carrier's offer).
    #[error("this rate is a price from the store's rate table; choose a carrier's rate")]
    RateNotPurchasable,
    /// The label would cost something other than what the customer paid for shipping.
    #[error(
        "the label costs {label} but the customer paid {paid} for shipping; pass accept_price_change to buy it"
    )]
    PriceChanged {
        /// What the customer paid.
        paid: MinorUnits,
        /// What the label costs.
        label: MinorUnits,
    },
    /// The order has no authorized or captured payment.
    #[error("only paid orders ship")]
    NotPaid,
    /// The order already has a live shipment.
    #[error("this order already has a shipment ({0}); void it first")]
    AlreadyShipped(ShipmentId),
    /// The carrier refused (undeliverable address, void window closed, …).
    #[error("the carrier refused: {message}")]
    CarrierRejected {
        /// The carrier's code.
        code: String,
        /// The carrier's explanation.
        message: String,
    },
    /// The carrier could not be reached; nothing was bought.
    #[error("the carrier is unavailable; nothing was bought")]
    CarrierUnavailable,
    /// The carrier's answer was lost; retrying the same request resolves it.
    #[error(
        "the carrier did not answer in time; retry to resolve the purchase (it is never bought twice)"
    )]
    CarrierOutcomeUnknown,
    /// No carrier has credentials, or the store has no ship-from address.
    #[error("{0}")]
    NotConfigured(&'static str),
    /// The change does not fit the shipment's status.
    #[error(transparent)]
    State(#[from] Refused),
    /// The order capability refused.
    #[error(transparent)]
    Orders(#[from] crate::orders::Error),
    /// Credentials could not be read or used.
    #[error(transparent)]
    Credentials(#[from] CredentialError),
    /// Storage failed.
    #[error(transparent)]
    Db(#[from] DbError),
    /// A bug or an unexpected failure; details go to the log.
    #[error("internal error")]
    Internal(#[source] anyhow::Error),
}

impl Error {
    /// A carrier failure as what the caller may do next.
    pub fn from_carrier(err: CarrierError) -> Self {
        match err {
            CarrierError::Rejected { code, message } => Error::CarrierRejected { code, message },
            // The carrier's credentials: the store's configuration, not the request.
            CarrierError::Refused {
                status: 401 | 403, ..
            } => Error::NotConfigured("the carrier refused the store's credentials"),
            CarrierError::Refused { status: 429, .. } => Error::CarrierUnavailable,
            // Its object is gone (a rate it no longer knows): the request cannot succeed.
            CarrierError::Refused { code, .. } => Error::CarrierRejected {
                message: format!("the carrier does not know this object ({code})"),
                code,
            },
            CarrierError::Retryable(_) | CarrierError::Unreachable(_) => Error::CarrierUnavailable,
            CarrierError::UnknownOutcome(_) => Error::CarrierOutcomeUnknown,
        }
    }
}
