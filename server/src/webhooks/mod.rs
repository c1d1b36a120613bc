//! Inbound provider webhooks: verified with the store's secret before any byte of the body is
//! trusted, stored raw, answered at once, processed asynchronously by workers that claim events
//! through the database (exactly once in effect), retried with backoff, dead-lettered, replayable.

mod process;
mod queue;
mod repo;
mod routes;
mod service;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

pub use process::process_event;
pub use queue::{claim, process_due, spawn_workers};
pub use routes::{admin_router, public_router};
pub use service::{find, list, receive, replay};

use crate::{
    db::DbError,
    providers::signature::SignatureError,
    types::{Environment, InvalidValue, StoreId, TextValue},
};

/// Why a webhook request failed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// No such provider, or no such event in the store and environment.
    #[error("not found")]
    NotFound,
    /// The delivery's signature did not verify with any of the store's secrets.
    #[error("the webhook signature is invalid: {0}")]
    Signature(SignatureError),
    /// The verified body is not an event.
    #[error("{0}")]
    InvalidBody(String),
    /// A field is invalid.
    #[error(transparent)]
    Invalid(#[from] InvalidValue),
    /// The event cannot be replayed in its state.
    #[error("{0}")]
    NotReplayable(String),
    /// The store's signing secrets could not be read.
    #[error("webhook secrets unreadable")]
    SecretsUnreadable,
    /// Database failure.
    #[error(transparent)]
    Db(#[from] DbError),
}

/// Where a stored event is in its processing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum EventStatus {
    /// Waiting for a worker.
    Pending,
    /// Claimed by a worker.
    Processing,
    /// Applied.
    Processed,
    /// Gave up after its attempts (the dead-letter queue).
    Dead,
    /// A delivery whose signature did not verify (a sample, never processed).
    Rejected,
}

impl TextValue for EventStatus {
    fn as_text(&self) -> &'static str {
        match self {
            EventStatus::Pending => "pending",
            EventStatus::Processing => "processing",
            EventStatus::Processed => "processed",
            EventStatus::Dead => "dead",
            EventStatus::Rejected => "rejected",
        }
    }
    fn from_text(text: &str) -> Option<Self> {
        Some(match text {
            "pending" => EventStatus::Pending,
            "processing" => EventStatus::Processing,
            "processed" => EventStatus::Processed,
            "dead" => EventStatus::Dead,
            "rejected" => EventStatus::Rejected,
            _ => return None,
        })
    }
}
crate::text_value_sql!(EventStatus);

/// A stored webhook event.
#[derive(Debug, Clone, Serialize, ToSchema, sqlx::FromRow)]
pub struct WebhookEvent {
    /// Our id.
    #[schema(value_type = String, format = Uuid)]
    pub id: uuid::Uuid,
    /// The store whose endpoint received it.
    pub store_id: StoreId,
    /// `sandbox` or `stripe`.
    pub provider: String,
    /// The provider's event id (the `webhook-id` header for Standard Webhooks).
    pub provider_event_id: String,
    /// Event type, e.g. `payment.authorized` (`unverified` for rejected deliveries).
    pub event_type: String,
    /// Whether the signature verified.
    pub signature_valid: bool,
    /// The body as received.
    pub payload: String,
    /// Where it is in its processing.
    pub status: EventStatus,
    /// Processing attempts so far.
    pub attempt_count: i32,
    /// When the next attempt is due.
    pub next_attempt_at: Option<DateTime<Utc>>,
    /// Why the last attempt failed.
    pub last_error: Option<String>,
    /// When it arrived.
    pub received_at: DateTime<Utc>,
    /// When it was processed.
    pub processed_at: Option<DateTime<Utc>>,
    /// The environment whose signing secret verified it (none for a rejected delivery).
    pub environment: Option<Environment>,
}

/// Columns of [`WebhookEvent`], in order.
pub const EVENT_COLUMNS: &str = "id, store_id, provider, provider_event_id, event_type, \
    signature_valid, payload, status, attempt_count, next_attempt_at, last_error, received_at, \
    processed_at, environment";

/// Filters of `GET /api/v1/admin/webhooks/events`.
#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct EventQuery {
    /// Only events in this status (`dead` is the dead-letter view).
    #[param(schema_with = event_status_filter)]
    pub status: Option<String>,
    /// Only events of this provider.
    pub provider: Option<String>,
    /// Page size, 1–100 (default 20).
    #[param(minimum = 1, maximum = 100)]
    pub limit: Option<u32>,
    /// Events older than this id (the last id of the previous page).
    pub starting_after: Option<uuid::Uuid>,
}

/// A page of events, newest first.
#[derive(Debug, Serialize, ToSchema)]
pub struct EventPage {
    /// Events.
    pub data: Vec<WebhookEvent>,
    /// Whether more follow.
    pub has_more: bool,
}

/// The answer to a delivery.
#[derive(Debug, Serialize, ToSchema)]
pub struct Received {
    /// Our id of the stored event.
    #[schema(value_type = Option<String>, format = Uuid)]
    pub id: Option<uuid::Uuid>,
    /// Whether this provider event id had been received before (nothing was done again).
    pub duplicate: bool,
}

fn event_status_filter() -> utoipa::openapi::Object {
    use crate::types::TextValue;
    crate::types::filter_schema(
        [
            EventStatus::Pending,
            EventStatus::Processing,
            EventStatus::Processed,
            EventStatus::Dead,
            EventStatus::Rejected,
        ]
        .map(|s| s.as_text()),
    )
}
