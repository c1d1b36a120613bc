//! Outbound webhooks: merchants' own systems hear about payments, refunds, orders, shipments,
//! tax and reconciliation without polling.
//!
//! - **Endpoints** per store and environment, each with its signing secrets (sealed with the
//!   master key ring; after a rotation the old secret keeps signing until it expires).
//! - **Events**: a versioned catalogue; an event is written to the outbox (`outbound_events`)
//!   in the same database transaction as the change it reports, with one delivery per
//!   endpoint subscribed at that moment (`webhook_deliveries`).
//! - **Delivery**: workers claim due deliveries through the database, sign them with Standard
//!   Webhooks headers, and record every attempt (`webhook_delivery_attempts`); failures are
//!   retried with exponential backoff and jitter for up to three days, and an endpoint that
//!   keeps failing is disabled.

pub mod events;
mod repo;

pub use events::{
    API_VERSION, EventType, NewEvent, ObjectKind, OutboundEvent, UnknownEventType, emit, emit_all,
    emit_all_in, emit_to,
};

mod deliveries;
mod delivery_repo;
mod dispatch;
mod endpoint_repo;
mod endpoints;
mod error;
mod log_repo;
pub mod retention;
pub mod routes;
pub mod schedule;
mod secrets;
mod send;
pub mod stats;
mod url_rule;
mod views;

pub use deliveries::{MAX_RESEND, list as list_deliveries, ping, resend, resend_range};
pub use dispatch::{deliver_due, spawn_workers};
pub use endpoints::{MAX_ENDPOINTS, create, delete, get, list, rotate_secret, update};
pub use error::Error;
pub use secrets::WebhookSecrets;
pub use url_rule::UrlRefusal;
pub use views::{
    Attempt, Delivery, DeliveryPage, DeliveryQuery, DeliveryStatus, DisabledReason, Endpoint,
    EndpointPage, EndpointPatch, EndpointWithSecret, NewEndpoint, ResendRange, Resent,
    RotateSecret, SecretInfo,
};

use crate::state::AppState;

/// Wakes this process's delivery workers: a delivery just became due (an event was emitted,
/// an endpoint enabled, a delivery resent). Call it after the commit; the workers also poll.
pub fn wake(state: &AppState) {
    state.outbound_wakeup.notify_one();
}
