//! Disputes (chargebacks) on payment intents, recorded from the providers' signed events.
//!
//! A dispute is not a refund: the intent's ledger amounts (captured, refunded, refundable) are
//! left as they are. Whether the disputed funds come back is the provider's decision, reported
//! as the dispute's status (`won`, `lost`); the provider's balance, not the payment ledger,
//! carries the withdrawal and any reinstatement, and reconciliation compares payments only.
//!
//! Files: `routes.rs` (the admin list), `service.rs` (recording an event, the reads),
//! `repo.rs` (SQL and rows).

pub(super) mod repo;
pub(super) mod routes;
mod service;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

pub use crate::providers::payment::DisputeStatus;
pub use service::{list, of_order, record};

use crate::{
    money::MinorUnits,
    types::{OrderId, PaymentIntentId},
};

/// A dispute on a payment intent.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Dispute {
    /// Our id.
    #[schema(value_type = String, format = Uuid)]
    pub id: uuid::Uuid,
    /// The disputed intent.
    pub payment_intent_id: PaymentIntentId,
    /// Its order.
    pub order_id: OrderId,
    /// The intent's payment provider.
    pub provider: String,
    /// The provider's dispute id.
    pub provider_dispute_id: String,
    /// The disputed amount, in minor units of `currency` (ISO 4217's, whatever units the
    /// provider writes).
    #[schema(value_type = i64)]
    pub amount: MinorUnits,
    /// ISO 4217 code.
    pub currency: String,
    /// The provider's reason code (`fraudulent`, `product_not_received`, …).
    pub reason: String,
    /// Where it stands; `won`, `lost` and `closed` are final.
    pub status: DisputeStatus,
    /// When the first event about it was recorded.
    pub created_at: DateTime<Utc>,
    /// Last change.
    pub updated_at: DateTime<Utc>,
}

/// Filters of `GET /api/v1/admin/disputes`.
#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct DisputeQuery {
    /// Only disputes in this status (`needs_response`, `under_review`, `won`, `lost`,
    /// `closed`).
    #[param(schema_with = dispute_status_filter)]
    pub status: Option<String>,
    /// Page size, 1–100 (default 20).
    #[param(minimum = 1, maximum = 100)]
    pub limit: Option<u32>,
    /// Disputes older than this id (the last id of the previous page).
    pub starting_after: Option<uuid::Uuid>,
}

/// A page of disputes, newest first.
#[derive(Debug, Serialize, ToSchema)]
pub struct DisputePage {
    /// Disputes.
    pub data: Vec<Dispute>,
    /// Whether more follow.
    pub has_more: bool,
}

/// What recording a dispute event did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Recorded {
    /// A dispute seen for the first time.
    Opened,
    /// A known dispute moved on (status, amount or reason).
    Updated,
    /// Nothing new: a duplicate, a late event, or a dispute already decided.
    Unchanged,
    /// No intent of this store and environment has the provider payment: nothing recorded.
    NoPayment,
}

fn dispute_status_filter() -> utoipa::openapi::Object {
    use crate::types::TextValue;
    crate::types::filter_schema(crate::providers::payment::DisputeStatus::ALL.map(|s| s.as_text()))
}
