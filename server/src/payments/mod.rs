//! Payments: intents, their provider transactions (the ledger) and the order status history.
//!
//! Every provider operation runs in three phases: (1) one database transaction records a
//! `pending` transaction row and reserves its amount on the intent; (2) the provider is called
//! with an idempotency key derived from that row's id; (3) one database transaction records
//! the outcome and applies it to the intent through [`machine::apply`]. A crash or timeout
//! between the phases leaves a `pending`/`unknown` row that a retry with the same
//! Idempotency-Key, or the resolver job, drives to its outcome with the same provider key:
//! never lost, never doubled.
//!
//! Files by job; each imports only files listed after it:
//! - `routes.rs`: HTTP (the edge): extract, call a flow, answer;
//! - `pay.rs`, `service.rs`: the flows and their rules, up to phase 1; `resolver.rs`: the job
//!   that settles open transactions; `queries.rs`: the read side; `reversal.rs`: a refund the
//!   provider reports failed after it had succeeded, taken back out of the ledger;
//! - `phases.rs`: phases 2 and 3 (the provider call, the outcome recorded exactly once);
//! - `provider.rs`: which provider client serves a store;
//! - `notify.rs`: the events a settled transaction reports to the store's endpoints (outbound
//!   webhooks), emitted in the transaction that settles it;
//! - `reply.rs`: what a finished flow answers (the API view, the error a transaction ended in,
//!   the request's idempotency record);
//! - `keys.rs`: ledger keys; `held.rs`: SQL of the rests a provider released with a capture
//!   while the ledger holds them (the resolver's sweep); `repo.rs`: SQL and typed rows;
//!   `error.rs`: [`Error`]; `machine.rs`: the transition function; `caller.rs`: who asks;
//! - `disputes/`: chargebacks the providers report, recorded beside the ledger (never in it).

mod authorize;
mod caller;
mod disputes;
mod error;
mod events;
mod held;
mod keys;
pub mod machine;
mod notify;
mod pay;
mod phases;
mod provider;
mod queries;
mod reply;
mod repo;
mod resolver;
mod reversal;
mod routes;
pub(crate) mod service;
mod tax;
mod views_repo;
mod write_repo;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

pub use authorize::authorize;
pub use caller::{Caller, Source};
pub use disputes::{
    Dispute, DisputePage, DisputeQuery, DisputeStatus, Recorded, list as list_disputes,
    record as record_dispute,
};
pub use error::Error;
pub use events::{release_cancelled, transaction_for_event};
pub use machine::IntentStatus;
pub use pay::pay;
pub use queries::{
    daily_volume, detail, intent_currency, list, period_intents, period_volume, status_counts,
};
pub use reply::{Render, Reply, respond};
pub use repo::Outcome;
pub use resolver::{is_open, resolve_open, resolve_transaction, spawn_resolver};
pub use reversal::{Recheck, recheck_refund};
pub use routes::{admin_router, me_router};
pub use service::{Target, capture, refund, void};
pub use tax::finalize_tax;
pub use views_repo::{DailyVolume, PeriodIntents, PeriodVolume, Periods, StatusCount};

use crate::{
    money::MinorUnits,
    types::{CustomerId, OrderId, PaymentIntentId, SnapshotId, TextValue, TransactionId},
};

/// Provider operations recorded in the ledger.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Operation {
    /// Authorization of the snapshot's total.
    Authorize,
    /// Capture of (part of) the authorization.
    Capture,
    /// Release of an uncaptured authorization.
    Void,
    /// Refund of (part of) the captures.
    Refund,
}

impl Operation {
    /// Database spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Operation::Authorize => "authorize",
            Operation::Capture => "capture",
            Operation::Void => "void",
            Operation::Refund => "refund",
        }
    }
}

impl TextValue for Operation {
    fn as_text(&self) -> &'static str {
        self.as_str()
    }
    fn from_text(text: &str) -> Option<Self> {
        [
            Operation::Authorize,
            Operation::Capture,
            Operation::Void,
            Operation::Refund,
        ]
        .into_iter()
        .find(|o| o.as_str() == text)
    }
}
crate::text_value_sql!(Operation);

/// Status of one ledger transaction.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum TransactionStatus {
    /// Recorded; the provider's answer is awaited (or the provider settles asynchronously).
    Pending,
    /// The provider's answer was lost (timeout); to be resolved.
    Unknown,
    /// Done at the provider.
    Succeeded,
    /// Refused or failed at the provider; nothing moved.
    Failed,
    /// A refund that had succeeded and that the provider reported failed later (the card was
    /// closed, the bank returned it): the money went back to the merchant, so it no longer
    /// counts in the intent's refunded amount. `failure_code` says the provider's reason.
    Reversed,
}

impl TransactionStatus {
    /// Database spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            TransactionStatus::Pending => "pending",
            TransactionStatus::Unknown => "unknown",
            TransactionStatus::Succeeded => "succeeded",
            TransactionStatus::Failed => "failed",
            TransactionStatus::Reversed => "reversed",
        }
    }

    /// Whether the outcome is still open.
    pub fn is_open(self) -> bool {
        matches!(
            self,
            TransactionStatus::Pending | TransactionStatus::Unknown
        )
    }
}

impl TextValue for TransactionStatus {
    fn as_text(&self) -> &'static str {
        self.as_str()
    }
    fn from_text(text: &str) -> Option<Self> {
        [
            TransactionStatus::Pending,
            TransactionStatus::Unknown,
            TransactionStatus::Succeeded,
            TransactionStatus::Failed,
            TransactionStatus::Reversed,
        ]
        .into_iter()
        .find(|t| t.as_str() == text)
    }
}
crate::text_value_sql!(TransactionStatus);

/// A payment intent: one attempt to pay an order's checkout snapshot.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct PaymentIntent {
    /// Intent id.
    pub id: PaymentIntentId,
    /// The order.
    pub order_id: OrderId,
    /// The snapshot whose total is the amount.
    pub snapshot_id: SnapshotId,
    /// The paying customer.
    pub customer_id: CustomerId,
    /// Status.
    pub status: IntentStatus,
    /// The snapshot's total.
    #[schema(value_type = i64)]
    pub amount: MinorUnits,
    /// Sum of succeeded authorizations.
    #[schema(value_type = i64)]
    pub authorized_amount: MinorUnits,
    /// Sum of succeeded captures.
    #[schema(value_type = i64)]
    pub captured_amount: MinorUnits,
    /// Sum of succeeded refunds.
    #[schema(value_type = i64)]
    pub refunded_amount: MinorUnits,
    /// The uncaptured rest of the authorization released at the provider (a void after a
    /// partial capture, a final capture, or a full refund of a partial capture).
    #[schema(value_type = i64)]
    pub released_amount: MinorUnits,
    /// What a capture may take now (0 when none is allowed; in-flight captures excluded).
    #[schema(value_type = i64)]
    pub capturable_amount: MinorUnits,
    /// What a refund may take now (0 when none is allowed; in-flight refunds excluded).
    #[schema(value_type = i64)]
    pub refundable_amount: MinorUnits,
    /// Whether a void would be accepted now.
    pub voidable: bool,
    /// ISO 4217 code.
    pub currency: String,
    /// The amounts in the store's settlement currency at the order's locked rate (`null`
    /// when the order is in the currency the store settles in).
    pub settlement: Option<Settlement>,
    /// On a `202` authorization waiting for the customer (3-D Secure): what the storefront
    /// must have them do, as the provider describes it (Stripe's `next_action`, e.g.
    /// `{"type": "redirect_to_url", "redirect_to_url": {"url": …}}`). The payment completes
    /// by the provider's webhook.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub next_action: Option<serde_json::Value>,
    /// Payment provider.
    pub provider: String,
    /// The provider's payment id, once known.
    pub provider_payment_id: Option<String>,
    /// Payment method as given.
    pub payment_method: String,
    /// Why the authorization failed.
    pub failure_code: Option<String>,
    /// Creation time.
    pub created_at: DateTime<Utc>,
    /// Last change.
    pub updated_at: DateTime<Utc>,
}

/// An intent's amounts in the settlement currency. Captures and refunds convert at the
/// locked rate as running totals, so `refunded` never exceeds `captured`.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Settlement {
    /// ISO 4217 code the store is paid in.
    pub currency: String,
    /// Units of the intent's currency per settlement unit (decimal string).
    pub rate: String,
    /// The intent's amount.
    #[schema(value_type = i64)]
    pub amount: MinorUnits,
    /// Captured.
    #[schema(value_type = i64)]
    pub captured: MinorUnits,
    /// Refunded.
    #[schema(value_type = i64)]
    pub refunded: MinorUnits,
}

/// One provider operation of an intent.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Transaction {
    /// Transaction id.
    pub id: TransactionId,
    /// Its intent.
    pub payment_intent_id: PaymentIntentId,
    /// Operation.
    pub operation: Operation,
    /// Amount (for a void: the released authorization).
    #[schema(value_type = i64)]
    pub amount: MinorUnits,
    /// ISO 4217 code.
    pub currency: String,
    /// The amount in the settlement currency: a capture's or refund's share of the running
    /// total at the locked rate once it succeeded (the amount itself without conversion).
    #[schema(value_type = i64)]
    pub settlement_amount: MinorUnits,
    /// The settlement currency.
    pub settlement_currency: String,
    /// Status.
    pub status: TransactionStatus,
    /// The provider's id.
    pub provider_txn_id: Option<String>,
    /// Why it failed (for a `reversed` refund: the provider's reason, e.g.
    /// `expired_or_canceled_card`).
    pub failure_code: Option<String>,
    /// The merchant's reason (refunds).
    pub reason: Option<String>,
    /// The provider's answer, with nothing secret in it.
    pub raw_response_redacted: Option<String>,
    /// Request id of the call that created it.
    pub correlation_id: String,
    /// Who asked for it.
    pub actor: String,
    /// Creation time.
    pub created_at: DateTime<Utc>,
    /// Last change.
    pub updated_at: DateTime<Utc>,
}

/// An order or payment status change.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct StatusChange {
    /// `order`, `payment` or `dispute`.
    pub subject: String,
    /// The intent, for payment changes.
    pub payment_intent_id: Option<PaymentIntentId>,
    /// Previous status (none for a new intent).
    pub from_status: Option<String>,
    /// New status.
    pub to_status: String,
    /// What happened.
    pub reason: String,
    /// `api`, `webhook` or `job`.
    pub source: String,
    /// Who caused it.
    pub actor: String,
    /// Request id.
    pub correlation_id: String,
    /// When.
    pub created_at: DateTime<Utc>,
}

/// An intent with its transactions, oldest first.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct IntentWithTransactions {
    /// The intent.
    #[serde(flatten)]
    pub intent: PaymentIntent,
    /// Its transactions.
    pub transactions: Vec<Transaction>,
    /// Its disputes (chargebacks), oldest first. They never change the amounts above.
    pub disputes: Vec<Dispute>,
}

/// `GET /api/v1/admin/orders/{order_id}/payments`.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct OrderPayments {
    /// The order.
    pub order_id: OrderId,
    /// Its status.
    pub order_status: String,
    /// Its intents, oldest first.
    pub intents: Vec<IntentWithTransactions>,
    /// Its status history, oldest first.
    pub status_history: Vec<StatusChange>,
}

/// Body of `POST /api/v1/me/orders/{order_id}/payments/authorize`. Required fields are checked
/// after the order is found, so a request on another customer's order is a 404 whatever its
/// body.
#[derive(Debug, Clone, Deserialize, Serialize, ToSchema)]
pub struct AuthorizeRequest {
    /// Required: a payable snapshot of the order (from the quote).
    pub snapshot_id: Option<SnapshotId>,
    /// Required: a payment method; in the sandbox one of the test methods (`pm_card_visa`, …).
    pub payment_method: Option<String>,
    /// Optional: the total the client displayed; a difference from the snapshot is a 422
    /// `snapshot_mismatch`. The amount charged always comes from the snapshot.
    pub amount: Option<i64>,
    /// Optional: where the provider sends the customer back after a challenge (3-D Secure's
    /// `redirect_to_url`); an absolute `https` URL (`http` too in the sandbox), at most 2,048
    /// characters. Without it a provider that needs one answers with another `next_action`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub return_url: Option<String>,
}

/// Body of `POST /api/v1/me/orders/{order_id}/pay`.
#[derive(Debug, Clone, Deserialize, Serialize, ToSchema)]
pub struct PayRequest {
    /// Required: a payment method; in the sandbox one of the test methods.
    pub payment_method: Option<String>,
    /// Shipping service for the quote (default the cheapest).
    pub shipping_service: Option<String>,
}

/// Body of `POST …/capture`.
#[derive(Debug, Clone, Default, Deserialize, Serialize, ToSchema)]
pub struct CaptureRequest {
    /// Minor units; everything still capturable when absent.
    pub amount: Option<i64>,
    /// `true`: this is the last capture; the uncaptured rest of the authorization is released
    /// at the provider afterwards (`released_amount`), and nothing more can be captured.
    pub final_capture: Option<bool>,
}

/// Body of `POST …/refund`.
#[derive(Debug, Clone, Deserialize, Serialize, ToSchema)]
pub struct RefundRequest {
    /// Minor units, at most what is still refundable. Required: checked after the payment is
    /// found, so a request on another store's payment is a 404 whatever its body.
    pub amount: Option<i64>,
    /// Why (kept in the ledger).
    pub reason: Option<String>,
}

/// Filters of the payments ledger list.
#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct LedgerQuery {
    /// Only intents in this status.
    #[param(schema_with = intent_status_filter)]
    pub status: Option<String>,
    /// Created at or after (RFC 3339).
    pub created_from: Option<DateTime<Utc>>,
    /// Created before (RFC 3339).
    pub created_to: Option<DateTime<Utc>>,
    /// Amount at least (minor units).
    pub min_amount: Option<i64>,
    /// Amount at most (minor units).
    pub max_amount: Option<i64>,
    /// Only intents in this currency (ISO 4217): amounts compare within one currency.
    #[param(value_type = Option<crate::types::Currency>)]
    pub currency: Option<String>,
    /// Page size, 1–100 (default 20).
    #[param(minimum = 1, maximum = 100)]
    pub limit: Option<u32>,
    /// Return intents older than this id (the last id of the previous page).
    pub starting_after: Option<uuid::Uuid>,
}

/// One page of the ledger, newest first.
#[derive(Debug, Serialize, ToSchema)]
pub struct LedgerPage {
    /// Intents.
    pub data: Vec<PaymentIntent>,
    /// Whether more follow.
    pub has_more: bool,
}

fn intent_status_filter() -> utoipa::openapi::Object {
    crate::types::filter_schema(machine::IntentStatus::ALL.map(machine::IntentStatus::as_str))
}
