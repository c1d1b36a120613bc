//! Shipments: packages, rates, labels and tracking for an order's goods.
//!
//! Rates come from every carrier a store has credentials for (and its rate table); a quote can
//! freeze one (`checkout`), a label is bought for it once the order is paid, and the carrier's
//! signed webhooks move the shipment through the one transition function (`status.rs`). Every
//! status a shipment reaches is reported to the store's endpoints in the transaction that moves
//! it (`notify.rs`).

mod error;
mod labels;
mod notify;
pub mod packing;
mod rates;
mod repo;
mod resolver;
pub mod routes;
mod settings;
mod status;
mod tracking;
mod view;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

pub use error::Error;
pub use labels::{BuyRequest, Buyer, Purchase, buy, label_document, void};
pub use rates::{FrozenRate, offer_rates, rate_for_quote};
pub use resolver::{DueCapture, Resolved, capture_made, captures_due, resolve_purchases};
pub use routes::{admin_router, me_router};
pub use settings::{SettingsInput, ShippingSettings, load_settings, put_settings};
pub use status::{Change, ShipmentStatus, apply};
pub use tracking::record_event;
pub use view::{find, list, of_order, status_counts};

use crate::{
    money::MinorUnits,
    providers::shipping::carrier::TrackingStatus,
    types::{Currency, OrderId, ShipmentId, ShippingRateId},
};

/// A rate offered for an order.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct OfferedRate {
    /// Rate id: pass it as `shipping_rate_id` in the quote, or to buy the label.
    pub id: ShippingRateId,
    /// Who offers it (`sandbox_carrier`, `table_rate`, …).
    pub provider: String,
    /// Service (`ground`, `express`, `overnight`, or a rate-table service).
    pub service: String,
    /// Price, minor units.
    #[schema(value_type = i64)]
    pub amount: MinorUnits,
    /// Currency.
    #[schema(value_type = String)]
    pub currency: Currency,
    /// Estimated days in transit, when the provider says.
    pub estimated_days: Option<i32>,
    /// After this the rate can no longer be quoted or bought.
    pub expires_at: DateTime<Utc>,
}

/// A provider that could not rate the order, and why.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct RateFailure {
    /// The provider.
    pub provider: String,
    /// A stable code (`address_undeliverable`, `carrier_unavailable`, …).
    pub code: String,
}

/// The rates for an order's packages.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct RateList {
    /// Offers, cheapest first.
    pub rates: Vec<OfferedRate>,
    /// The packages they price.
    pub packages: Vec<packing::Package>,
    /// Providers that gave no rate.
    pub errors: Vec<RateFailure>,
}

/// A tracking event of a shipment.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct TrackingEvent {
    /// Position in the carrier's timeline.
    pub sequence: i32,
    /// Normalized status.
    pub status: TrackingStatus,
    /// The carrier's own code.
    pub raw_code: String,
    /// The carrier's description.
    pub description: String,
    /// Where, when the carrier says.
    pub location: Option<String>,
    /// When it happened.
    pub occurred_at: DateTime<Utc>,
}

/// Where the label's documents are.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct LabelLinks {
    /// 4×6 in PDF.
    pub pdf: String,
    /// ZPL for thermal printers.
    pub zpl: String,
}

/// One entry of a shipment's own audit.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct HistoryEntry {
    /// `purchase_started`, `purchased`, `purchase_unknown`, `purchase_failed`, `voided`,
    /// `status_changed`.
    pub kind: String,
    /// `user:<id>`, `api_key:<id>`, `webhook:<carrier>`.
    pub actor: String,
    /// What happened.
    pub detail: String,
    /// When.
    pub at: DateTime<Utc>,
}

/// A shipment.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Shipment {
    /// Shipment id.
    pub id: ShipmentId,
    /// The order shipped.
    pub order_id: OrderId,
    /// Where it stands.
    pub status: ShipmentStatus,
    /// The carrier.
    pub provider: String,
    /// The carrier's service.
    pub service: String,
    /// The rate bought.
    pub rate_id: ShippingRateId,
    /// What the label costs, minor units.
    #[schema(value_type = i64)]
    pub amount: MinorUnits,
    /// Currency.
    #[schema(value_type = String)]
    pub currency: Currency,
    /// Tracking number, once bought.
    pub tracking_number: Option<String>,
    /// Until when the label can be voided.
    pub void_deadline: Option<DateTime<Utc>>,
    /// Why the purchase failed, for `purchase_failed`.
    pub failure_code: Option<String>,
    /// The packages.
    pub packages: Vec<packing::Package>,
    /// The carrier's timeline, in order.
    pub tracking: Vec<TrackingEvent>,
    /// The label's documents, once bought.
    pub label: Option<LabelLinks>,
    /// What was done about it and by whom (purchase, void, status changes), in order.
    pub history: Vec<HistoryEntry>,
    /// Created.
    pub created_at: DateTime<Utc>,
    /// Last changed.
    pub updated_at: DateTime<Utc>,
}

/// A shipment as its customer sees it: where the parcel is, not what the store paid or did.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct CustomerShipment {
    /// Shipment id.
    pub id: ShipmentId,
    /// Where it stands.
    pub status: ShipmentStatus,
    /// The carrier.
    pub provider: String,
    /// The carrier's service.
    pub service: String,
    /// Tracking number, once bought.
    pub tracking_number: Option<String>,
    /// The carrier's timeline, in order.
    pub tracking: Vec<TrackingEvent>,
    /// Created.
    pub created_at: DateTime<Utc>,
}

impl From<Shipment> for CustomerShipment {
    fn from(s: Shipment) -> Self {
        CustomerShipment {
            id: s.id,
            status: s.status,
            provider: s.provider,
            service: s.service,
            tracking_number: s.tracking_number,
            tracking: s.tracking,
            created_at: s.created_at,
        }
    }
}

/// Query of the shipments list.
#[derive(Debug, Clone, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ShipmentFilter {
    /// Only this status.
    #[param(schema_with = status::filter_schema)]
    pub status: Option<String>,
    /// Only this carrier.
    pub carrier: Option<String>,
}
