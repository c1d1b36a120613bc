//! Reconciliation: whether Cassa's payment ledger agrees with what the providers say happened.
//! A run compares, for a period, every payment of a store and environment with its provider's
//! records (the provider's list where it has one, else one question per payment) and keeps
//! what disagrees as items a person acknowledges or resolves. Nothing is adjusted silently.

mod compare;
mod compare_filing;
mod compare_label;
mod csv;
mod error;
mod notify;
mod repo;
pub mod routes;
mod runner;
mod schedule;
mod service;
mod workers;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

pub use compare::ItemKind;
pub use csv::{COLUMNS as CSV_COLUMNS, CsvStream, items_csv};
pub use error::Error;
pub use routes::{admin_router, platform_router};
pub use runner::{run_due, run_some};
pub use schedule::{DailyTime, Schedule, ScheduleInput, put_schedule, schedule, schedule_due};
pub use service::{
    apply_item, get_run, item_rows, list_items, list_runs, resolve_item, run_view,
    start_platform_runs, start_run,
};
pub use workers::spawn_workers;

use crate::types::{
    Environment, OrderId, PaymentIntentId, ReconciliationItemId, ReconciliationRunId, ShipmentId,
    StoreId,
};

/// Exceptions of one kind and currency in a run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct KindTotal {
    /// The kind.
    pub kind: ItemKind,
    /// ISO 4217 code.
    pub currency: String,
    /// How many.
    pub count: i64,
    /// Summed difference (provider's net − ours), minor units.
    pub difference: i64,
}

/// A reconciliation run.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Run {
    /// Id.
    pub id: ReconciliationRunId,
    /// Store.
    pub store_id: StoreId,
    /// Environment.
    pub environment: Environment,
    /// Payments created from this instant…
    pub period_from: DateTime<Utc>,
    /// …until this one (exclusive).
    pub period_to: DateTime<Utc>,
    /// Payments created after this are left to a later run.
    pub as_of: DateTime<Utc>,
    /// `queued`, `running`, `completed` or `failed`.
    pub status: String,
    /// Where a running run is: `provider` (reading the provider's list), `ours` (comparing
    /// payments), `orphans` (what only the provider has), `done`.
    pub phase: String,
    /// Payments and provider records looked at so far.
    pub examined: i64,
    /// Payments that agree.
    pub matched: i64,
    /// Exceptions found.
    pub exceptions: i64,
    /// `matched / (matched + exceptions)`, in percent with two decimals, once there is either.
    pub match_rate: Option<String>,
    /// Exceptions per kind and currency (completed runs).
    pub totals: Vec<KindTotal>,
    /// Attempts (a run resumed after a crash or a failed batch counts again).
    pub attempts: i32,
    /// Why the last attempt stopped, if it did.
    pub last_error: Option<String>,
    /// Who asked (`api_key:<id>`, `user:<id>`, `scheduler`).
    pub requested_by: String,
    /// Asked at.
    pub created_at: DateTime<Utc>,
    /// First claimed at.
    pub started_at: Option<DateTime<Utc>>,
    /// Ended at.
    pub completed_at: Option<DateTime<Utc>>,
    /// Time spent working it, in milliseconds (the last attempt).
    pub duration_ms: Option<i64>,
}

/// What an item is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ItemSubject {
    /// A payment and the provider's record of it.
    Payment,
    /// A shipment's label and the carrier's billing record of it.
    Label,
    /// A tax transaction and its filing with the tax service that quoted it.
    Tax,
}

impl ItemSubject {
    /// Stored spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            ItemSubject::Payment => "payment",
            ItemSubject::Label => "label",
            ItemSubject::Tax => "tax",
        }
    }

    /// Parses the stored spelling.
    pub fn parse(text: &str) -> Option<Self> {
        [ItemSubject::Payment, ItemSubject::Label, ItemSubject::Tax]
            .into_iter()
            .find(|s| s.as_str() == text)
    }
}

/// What a person decided about an item.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Resolution {
    /// Nobody looked yet.
    Open,
    /// Seen; someone is on it.
    Acknowledged,
    /// Settled (the note says how).
    Resolved,
}

impl Resolution {
    /// Stored spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Resolution::Open => "open",
            Resolution::Acknowledged => "acknowledged",
            Resolution::Resolved => "resolved",
        }
    }

    /// Parses the stored spelling.
    pub fn parse(text: &str) -> Option<Self> {
        [
            Resolution::Open,
            Resolution::Acknowledged,
            Resolution::Resolved,
        ]
        .into_iter()
        .find(|r| r.as_str() == text)
    }
}

/// An exception a run found.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Item {
    /// Id.
    pub id: ReconciliationItemId,
    /// The run.
    pub run_id: ReconciliationRunId,
    /// What disagrees.
    pub kind: ItemKind,
    /// Our payment, when there is one.
    pub payment_intent_id: Option<PaymentIntentId>,
    /// Its order.
    pub order_id: Option<OrderId>,
    /// What it is about.
    pub subject: ItemSubject,
    /// Our shipment, for an item about a label's charge.
    pub shipment_id: Option<ShipmentId>,
    /// Provider (a payment provider, or a carrier for a label).
    pub provider: String,
    /// The provider's payment id (the carrier's label id for a label).
    pub provider_payment_id: Option<String>,
    /// ISO 4217 code.
    pub currency: String,
    /// Provider's net (captured − refunded) − ours, minor units.
    pub difference: i64,
    /// Our values (status, amounts).
    #[schema(value_type = Object)]
    pub ours: Option<serde_json::Value>,
    /// The provider's values.
    #[schema(value_type = Object)]
    pub theirs: Option<serde_json::Value>,
    /// What a person decided.
    pub resolution: Resolution,
    /// Their note.
    pub note: Option<String>,
    /// Who (`api_key:<id>`, `user:<id>`).
    pub resolved_by: Option<String>,
    /// When.
    pub resolved_at: Option<DateTime<Utc>>,
    /// Found at.
    pub created_at: DateTime<Utc>,
}

/// Body of `POST …/reconciliation/runs`: the days (UTC) whose payments to compare.
#[derive(Debug, Clone, Deserialize, ToSchema)]
pub struct RunInput {
    /// First day, inclusive (`YYYY-MM-DD`).
    pub from: chrono::NaiveDate,
    /// Last day, inclusive.
    pub to: chrono::NaiveDate,
}

/// Body of `POST /platform/reconciliation/runs`.
#[derive(Debug, Clone, Deserialize, ToSchema)]
pub struct PlatformRunInput {
    /// First day, inclusive.
    pub from: chrono::NaiveDate,
    /// Last day, inclusive.
    pub to: chrono::NaiveDate,
    /// Stores to reconcile (both environments); absent: every store with payments in the
    /// period.
    #[serde(default)]
    pub store_ids: Option<Vec<StoreId>>,
}

/// Body of `POST …/reconciliation/items/{item_id}/apply`.
#[derive(Debug, Clone, Deserialize, ToSchema)]
pub struct ApplyInput {
    /// Why (required, at most 2000 characters).
    #[serde(default)]
    pub note: String,
}

/// Body of `POST …/reconciliation/items/{item_id}/resolve`. Missing fields are refused after
/// the item is found, so another store's item is a `404` whatever the body says.
#[derive(Debug, Clone, Deserialize, ToSchema)]
pub struct ResolveInput {
    /// `acknowledged` or `resolved` (required).
    #[serde(default)]
    pub resolution: Option<Resolution>,
    /// What was found or done (required, at most 2000 characters).
    #[serde(default)]
    pub note: String,
}
