//! The carrier interface: rates, labels and tracking from a shipping carrier reached over
//! HTTP, with errors classified like payment providers' (a rejection is final, a retryable
//! error may be retried with the same idempotency key, an unknown outcome is resolved by
//! asking again with the same key, never by buying again).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;

use crate::{
    address::Address,
    money::MinorUnits,
    providers::account::{AccountAdapter, BoxFuture, ClientContext, ClientError, Credentials},
    types::{Currency, TextValue},
};

/// One package to rate or ship.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct PackageSpec {
    /// Gross weight (items and box).
    pub weight_grams: i64,
    /// Outer length.
    pub length_mm: i64,
    /// Outer width.
    pub width_mm: i64,
    /// Outer height.
    pub height_mm: i64,
}

/// What to rate: from where, to where, which packages, in which currency.
#[derive(Debug, Clone)]
pub struct RateRequest {
    /// Ship-from address.
    pub from: Address,
    /// Destination.
    pub to: Address,
    /// The packages.
    pub packages: Vec<PackageSpec>,
    /// Currency the rates must be in.
    pub currency: Currency,
}

/// A carrier's offer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CarrierRate {
    /// The carrier's id of the offer (what a label is bought with).
    pub provider_rate_id: String,
    /// Service (e.g. `ground`).
    pub service: String,
    /// Price.
    pub amount: MinorUnits,
    /// Currency of the price.
    pub currency: Currency,
    /// Estimated days in transit.
    pub estimated_days: i32,
    /// When the carrier stops honouring it.
    pub expires_at: DateTime<Utc>,
}

/// A bought label as the carrier reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Label {
    /// The carrier's id.
    pub provider_label_id: String,
    /// Tracking number.
    pub tracking_number: String,
    /// Service.
    pub service: String,
    /// Price charged.
    pub amount: MinorUnits,
    /// Currency charged.
    pub currency: Currency,
    /// Whether the label was voided (refunded by the carrier).
    pub voided: bool,
    /// Until when it can be voided.
    pub void_deadline: DateTime<Utc>,
    /// Tracking so far.
    pub events: Vec<TrackingUpdate>,
}

/// A label document's format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum LabelFormat {
    /// 4×6 in PDF.
    Pdf,
    /// ZPL for thermal printers.
    Zpl,
}

impl LabelFormat {
    /// As in URLs and the carrier API.
    pub fn as_str(self) -> &'static str {
        match self {
            LabelFormat::Pdf => "pdf",
            LabelFormat::Zpl => "zpl",
        }
    }

    /// The document's media type.
    pub fn content_type(self) -> &'static str {
        match self {
            LabelFormat::Pdf => "application/pdf",
            LabelFormat::Zpl => "text/plain; charset=utf-8",
        }
    }
}

/// Where a parcel is, normalized across carriers (the carrier's own code is kept beside it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum TrackingStatus {
    /// Label created, not yet with the carrier.
    PreTransit,
    /// With the carrier.
    InTransit,
    /// On the vehicle for delivery.
    OutForDelivery,
    /// Delivered.
    Delivered,
    /// Delivery failed (exception); may still be delivered or returned.
    Failure,
    /// Returned to the sender.
    Returned,
    /// The label was voided.
    Cancelled,
    /// A code the carrier's adapter does not know.
    Unknown,
}

impl TextValue for TrackingStatus {
    fn as_text(&self) -> &'static str {
        match self {
            TrackingStatus::PreTransit => "pre_transit",
            TrackingStatus::InTransit => "in_transit",
            TrackingStatus::OutForDelivery => "out_for_delivery",
            TrackingStatus::Delivered => "delivered",
            TrackingStatus::Failure => "failure",
            TrackingStatus::Returned => "returned",
            TrackingStatus::Cancelled => "cancelled",
            TrackingStatus::Unknown => "unknown",
        }
    }

    fn from_text(text: &str) -> Option<Self> {
        Some(match text {
            "pre_transit" => TrackingStatus::PreTransit,
            "in_transit" => TrackingStatus::InTransit,
            "out_for_delivery" => TrackingStatus::OutForDelivery,
            "delivered" => TrackingStatus::Delivered,
            "failure" => TrackingStatus::Failure,
            "returned" => TrackingStatus::Returned,
            "cancelled" => TrackingStatus::Cancelled,
            "unknown" => TrackingStatus::Unknown,
            _ => return None,
        })
    }
}
crate::text_value_sql!(TrackingStatus);

/// One tracking event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrackingUpdate {
    /// Its position in the label's timeline at the carrier (1-based): what orders events that
    /// arrive late or twice.
    pub sequence: i32,
    /// Normalized status.
    pub status: TrackingStatus,
    /// The carrier's code.
    pub raw_code: String,
    /// The carrier's description.
    pub description: String,
    /// When it happened (carrier's clock).
    pub occurred_at: DateTime<Utc>,
    /// Where, when the carrier says.
    pub location: Option<String>,
}

/// How a carrier call failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CarrierError {
    /// Refused for its content or the object's state (undeliverable address, expired rate,
    /// void window closed): final for this request.
    #[error("rejected: {code}: {message}")]
    Rejected {
        /// Carrier's reason code.
        code: String,
        /// Carrier's explanation.
        message: String,
    },
    /// The carrier would not look at the request (401, 403, 404, 429): nothing happened for
    /// *this* request.
    #[error("refused with {status}: {code}")]
    Refused {
        /// HTTP status.
        status: u16,
        /// Carrier's reason code.
        code: String,
    },
    /// The carrier could not be reached (connection refused): nothing was sent, nothing
    /// happened.
    #[error("unreachable: {0}")]
    Unreachable(String),
    /// The carrier failed (5xx): for a read, nothing happened; for a purchase it may have
    /// acted before failing, so only the same key may try again.
    #[error("retryable: {0}")]
    Retryable(String),
    /// The request may or may not have been applied (timeout): ask again with the same key.
    #[error("outcome unknown: {0}")]
    UnknownOutcome(String),
}

/// A carrier's client for one store's credentials in one environment.
pub trait Carrier: Send + Sync {
    /// Carrier name (the registry's key).
    fn name(&self) -> &'static str;
    /// Offers for the packages, cheapest first.
    fn rates<'a>(
        &'a self,
        request: &'a RateRequest,
    ) -> BoxFuture<'a, Result<Vec<CarrierRate>, CarrierError>>;
    /// Buys the label of an offer. `idempotency_key` is derived from our shipment, so a retry
    /// after a lost answer gets the same label, never a second one; `reference` (our shipment
    /// id) comes back in the carrier's webhooks.
    fn buy_label<'a>(
        &'a self,
        provider_rate_id: &'a str,
        reference: &'a str,
        idempotency_key: &'a str,
    ) -> BoxFuture<'a, Result<Label, CarrierError>>;
    /// Voids a label (the carrier refunds it) while its void window is open.
    fn void_label<'a>(
        &'a self,
        provider_label_id: &'a str,
        idempotency_key: &'a str,
    ) -> BoxFuture<'a, Result<Label, CarrierError>>;
    /// The label's document.
    fn label_document<'a>(
        &'a self,
        provider_label_id: &'a str,
        format: LabelFormat,
    ) -> BoxFuture<'a, Result<Vec<u8>, CarrierError>>;
    /// The carrier's billing record of one label (`None`: the carrier does not know it). For
    /// reconciliation, when a label is not in the list of its period (a carrier without one, or
    /// a label bought after the period's end for a shipment created in it).
    fn get_label<'a>(
        &'a self,
        provider_label_id: &'a str,
    ) -> BoxFuture<'a, Result<Option<ListedLabel>, CarrierError>>;
    /// A page of the labels bought in `[from, to)`, after the carrier's label id `after` (the
    /// carrier's billing record, for reconciliation); `None` when the carrier has no such list.
    fn list_labels<'a>(
        &'a self,
        _from: DateTime<Utc>,
        _to: DateTime<Utc>,
        _after: Option<&'a str>,
    ) -> BoxFuture<'a, Result<Option<LabelPage>, CarrierError>> {
        Box::pin(async { Ok(None) })
    }
}

/// A label as the carrier bills it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListedLabel {
    /// The carrier's id.
    pub provider_label_id: String,
    /// What it was bought for (our shipment id), when the carrier keeps it.
    pub reference: Option<String>,
    /// Price charged.
    pub amount: MinorUnits,
    /// Currency charged (as the carrier spells it).
    pub currency: String,
    /// Voided (refunded by the carrier).
    pub voided: bool,
}

/// One page of a carrier's labels.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LabelPage {
    /// The labels, by id.
    pub labels: Vec<ListedLabel>,
    /// Whether a later page exists.
    pub has_more: bool,
}

/// What a verified carrier event says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CarrierEvent {
    /// A tracking event of a label.
    Tracking {
        /// The carrier's label id.
        provider_label_id: String,
        /// Our shipment id, when the carrier echoes it.
        reference: Option<String>,
        /// The event.
        update: TrackingUpdate,
    },
    /// Informational: nothing to record.
    Ignored,
}

/// A carrier as the platform knows it: its account side ([`AccountAdapter`]: credentials,
/// webhook signatures), how its client is built and what its webhooks mean. Registered at
/// start-up in the [`super::CarrierRegistry`]; nothing in shipments, webhooks or credentials
/// names a carrier.
pub trait CarrierAdapter: AccountAdapter {
    /// The client for a store's credentials.
    fn client(
        &self,
        ctx: &ClientContext,
        credentials: &Credentials,
    ) -> Result<Box<dyn Carrier>, ClientError>;

    /// The typed meaning of a verified event.
    fn parse_event(&self, payload: &Value) -> CarrierEvent;
}
