//! Checkout: the trusted, immutable snapshot of an order's price. Lines, shipping, tax and
//! totals are computed here from the catalogue copy in the order and the store's providers;
//! payments are checked against the snapshot, never against anything the client sends.

pub mod config;
mod error;
pub mod repo;
mod routes;
pub mod service;

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

pub use error::Error;
pub use routes::{admin_router, me_router};
pub use service::{Reply, find, payable_snapshot, quote};

use crate::{
    fx::{FxView, Lock},
    money::MinorUnits,
    providers::shipping::RateQuote,
    tax::TaxLine,
    types::{OrderId, ProductId, ShippingRateId, SnapshotId},
};

/// Body of `POST /api/v1/me/checkout/quote`.
#[derive(Debug, Deserialize, ToSchema)]
pub struct QuoteRequest {
    /// The customer's order.
    pub order_id: OrderId,
    /// A shipping service from the options; default the cheapest.
    pub shipping_service: Option<String>,
    /// A rate from `POST /me/orders/{id}/shipping/rates`, frozen into the snapshot (its
    /// provider, service and price); wins over `shipping_service`.
    pub shipping_rate_id: Option<ShippingRateId>,
}

/// A priced line of a snapshot.
#[derive(Debug, Clone, Serialize, ToSchema, sqlx::FromRow)]
pub struct SnapshotLine {
    /// Order line.
    pub line_no: i32,
    /// Product.
    pub product_id: ProductId,
    /// Units.
    pub quantity: i32,
    /// Price per unit as in the order.
    #[schema(value_type = i64)]
    pub unit_amount: MinorUnits,
    /// `unit_amount × quantity` (gross for tax-inclusive prices).
    #[schema(value_type = i64)]
    pub amount: MinorUnits,
    /// Amount without tax.
    #[schema(value_type = i64)]
    pub net: MinorUnits,
    /// Tax of the line.
    #[schema(value_type = i64)]
    pub tax: MinorUnits,
    /// Rate applied, decimal string.
    pub tax_rate: String,
}

/// Totals: `total = subtotal + shipping + tax`.
#[derive(Debug, Clone, Copy, Serialize, ToSchema)]
pub struct Totals {
    /// Sum of line nets.
    #[schema(value_type = i64)]
    pub subtotal: MinorUnits,
    /// Shipping, without tax.
    #[schema(value_type = i64)]
    pub shipping: MinorUnits,
    /// The tax on shipping (part of `tax`).
    #[schema(value_type = i64)]
    pub shipping_tax: MinorUnits,
    /// Sum of line taxes and the shipping tax.
    #[schema(value_type = i64)]
    pub tax: MinorUnits,
    /// What the customer pays.
    #[schema(value_type = i64)]
    pub total: MinorUnits,
}

/// The providers that priced a snapshot.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct SelectedProviders {
    /// Shipping provider.
    pub shipping: String,
    /// Chosen shipping service.
    pub shipping_service: String,
    /// The carrier rate the snapshot froze (a label is bought with it).
    pub shipping_rate_id: Option<ShippingRateId>,
    /// Tax provider.
    pub tax: String,
}

/// A frozen checkout price.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Snapshot {
    /// Snapshot id (pass to authorize).
    pub snapshot_id: SnapshotId,
    /// The order.
    pub order_id: OrderId,
    /// Order revision this snapshot priced.
    pub order_revision: i32,
    /// Currency of every amount (the order's presentment currency).
    pub currency: String,
    /// Lines.
    pub lines: Vec<SnapshotLine>,
    /// Totals.
    pub totals: Totals,
    /// The order's locked exchange rate and the totals in the store's settlement currency
    /// (`null` when the order is in its products' currency).
    pub fx: Option<FxView>,
    /// Providers used.
    pub provider: SelectedProviders,
    /// The day the snapshot was taxed on (the rates valid that day applied).
    pub tax_date: Option<NaiveDate>,
    /// Each line's tax per jurisdiction (line `0`: shipping); a line's parts sum to its tax.
    pub tax_lines: Vec<TaxLine>,
    /// Shipping options at quote time (only in the quote response).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub shipping_options: Vec<RateQuote>,
    /// Creation time.
    pub created_at: DateTime<Utc>,
    /// Payable until.
    pub expires_at: DateTime<Utc>,
}

/// What an authorization needs of a snapshot: its id, total and currency.
#[derive(Debug, Clone)]
pub struct Payable {
    /// The snapshot.
    pub snapshot_id: SnapshotId,
    /// The amount to authorize.
    pub total: MinorUnits,
    /// ISO 4217 code.
    pub currency: String,
    /// The order's locked rate, when it is in another currency than the store settles in.
    pub lock: Option<Lock>,
}
