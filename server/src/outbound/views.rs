//! The API's shapes of endpoints, their secrets and their delivery log.

use chrono::{DateTime, Utc};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::types::{Environment, TextValue, WebhookDeliveryId, WebhookEndpointId};

/// Why an endpoint is disabled.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum DisabledReason {
    /// A person disabled it (`enabled: false`).
    Manual,
    /// Cassa disabled it after its deliveries failed for three days (see the README).
    Failing,
}

impl TextValue for DisabledReason {
    fn as_text(&self) -> &'static str {
        match self {
            DisabledReason::Manual => "manual",
            DisabledReason::Failing => "failing",
        }
    }
    fn from_text(text: &str) -> Option<Self> {
        Some(match text {
            "manual" => DisabledReason::Manual,
            "failing" => DisabledReason::Failing,
            _ => return None,
        })
    }
}
crate::text_value_sql!(DisabledReason);

/// Where a delivery stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum DeliveryStatus {
    /// Waiting for its next attempt.
    Pending,
    /// An attempt is under way.
    Delivering,
    /// The endpoint answered 2xx.
    Succeeded,
    /// Every attempt of the retry schedule failed.
    Failed,
}

impl TextValue for DeliveryStatus {
    fn as_text(&self) -> &'static str {
        match self {
            DeliveryStatus::Pending => "pending",
            DeliveryStatus::Delivering => "delivering",
            DeliveryStatus::Succeeded => "succeeded",
            DeliveryStatus::Failed => "failed",
        }
    }
    fn from_text(text: &str) -> Option<Self> {
        Some(match text {
            "pending" => DeliveryStatus::Pending,
            "delivering" => DeliveryStatus::Delivering,
            "succeeded" => DeliveryStatus::Succeeded,
            "failed" => DeliveryStatus::Failed,
            _ => return None,
        })
    }
}
crate::text_value_sql!(DeliveryStatus);

/// A signing secret as shown after its creation: that it exists, never its value.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct SecretInfo {
    /// When it was created.
    pub created_at: DateTime<Utc>,
    /// When it stops signing (after a rotation); `null` for the current secret.
    pub expires_at: Option<DateTime<Utc>>,
}

/// A webhook endpoint of a store.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Endpoint {
    /// Id.
    pub id: WebhookEndpointId,
    /// Environment whose events it receives.
    pub environment: Environment,
    /// Where events are POSTed.
    pub url: String,
    /// What it is for.
    pub description: Option<String>,
    /// Subscribed event types; `["*"]` is every type.
    pub event_types: Vec<String>,
    /// Whether events are sent to it.
    pub enabled: bool,
    /// Why it is disabled (`null` while enabled).
    pub disabled_reason: Option<DisabledReason>,
    /// Deliver one event at a time, in the order they were emitted.
    pub ordered: bool,
    /// Since when every attempt to it has failed (`null` while it succeeds).
    pub failing_since: Option<DateTime<Utc>>,
    /// Its signing secrets that still sign: the current one and, during a rotation's
    /// overlap, the previous ones until they expire.
    pub secrets: Vec<SecretInfo>,
    /// Created.
    pub created_at: DateTime<Utc>,
    /// Last changed.
    pub updated_at: DateTime<Utc>,
}

/// An endpoint with a signing secret that is shown this once (creation, rotation).
// The secret stays a `SecretString` up to serialization, so no `Debug` output shows it.
#[derive(Debug, Serialize, ToSchema)]
pub struct EndpointWithSecret {
    /// The endpoint.
    #[serde(flatten)]
    pub endpoint: Endpoint,
    /// The new signing secret (`whsec_` and the base64 of 32 random bytes): store it now, it
    /// is never shown again.
    #[serde(serialize_with = "reveal")]
    #[schema(value_type = String)]
    pub secret: SecretString,
}

/// The one place a signing secret is written out: the answer that hands it over.
fn reveal<S: serde::Serializer>(secret: &SecretString, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_str(secret.expose_secret())
}

/// Body of `POST /api/v1/admin/webhook-endpoints`.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewEndpoint {
    /// `https://…` (production) or `http(s)://…` (sandbox); at most 2048 characters; never a
    /// loopback, private, link-local or other internal address.
    pub url: String,
    /// Event types to receive, or `["*"]` for all.
    pub event_types: Vec<String>,
    /// Default `true`.
    #[serde(default)]
    pub enabled: Option<bool>,
    /// Deliver one event at a time in emission order (default `false`).
    #[serde(default)]
    pub ordered: Option<bool>,
    /// At most 500 characters.
    #[serde(default)]
    pub description: Option<String>,
}

/// Body of `PATCH /api/v1/admin/webhook-endpoints/{id}`: the fields to change.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EndpointPatch {
    /// New URL (same rules as on creation).
    #[serde(default)]
    pub url: Option<String>,
    /// New subscription.
    #[serde(default)]
    pub event_types: Option<Vec<String>>,
    /// `true` enables it again (also after Cassa disabled it), `false` disables it.
    #[serde(default)]
    pub enabled: Option<bool>,
    /// Ordered delivery.
    #[serde(default)]
    pub ordered: Option<bool>,
    /// New description; `""` removes it.
    #[serde(default)]
    pub description: Option<String>,
}

/// Body of `POST …/{id}/rotate-secret`.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RotateSecret {
    /// How long the previous secrets keep signing, in seconds: 0 to 604800 (7 days), default
    /// 86400 (24 hours).
    #[serde(default)]
    pub overlap_seconds: Option<i64>,
}

/// A page of endpoints, oldest first.
#[derive(Debug, Serialize, ToSchema)]
pub struct EndpointPage {
    /// Endpoints.
    pub data: Vec<Endpoint>,
    /// Whether more follow.
    pub has_more: bool,
}

/// One attempt to deliver an event.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Attempt {
    /// When it started.
    pub attempted_at: DateTime<Utc>,
    /// The endpoint's HTTP status (`null` when none came: timeout, refused, unreachable).
    pub status_code: Option<i32>,
    /// How long it took, in milliseconds.
    pub latency_ms: i64,
    /// Why it failed without a status (timeout, connection, refused address).
    pub error: Option<String>,
    /// The first KiB of the endpoint's answer.
    pub response_body: Option<String>,
}

/// One event's delivery to one endpoint, with its attempts (newest first, the last 25).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Delivery {
    /// Id.
    pub id: WebhookDeliveryId,
    /// The event's id, `evt_…` (also the `webhook-id` header of every attempt).
    pub event_id: String,
    /// The event's type.
    pub event_type: String,
    /// Where it stands.
    pub status: DeliveryStatus,
    /// Attempts since it was queued (or queued again by a resend).
    pub attempt_count: i32,
    /// When the next attempt is due (`pending` only).
    pub next_attempt_at: Option<DateTime<Utc>>,
    /// The last attempt's HTTP status.
    pub last_status_code: Option<i32>,
    /// The last attempt's error.
    pub last_error: Option<String>,
    /// When it was queued.
    pub created_at: DateTime<Utc>,
    /// When the endpoint accepted it.
    pub delivered_at: Option<DateTime<Utc>>,
    /// Its attempts, newest first (at most the last 25).
    pub attempts: Vec<Attempt>,
}

/// Filters of `GET …/{id}/deliveries`.
#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct DeliveryQuery {
    /// Only deliveries in this status (`pending`, `delivering`, `succeeded`, `failed`).
    #[param(schema_with = delivery_status_filter)]
    pub status: Option<String>,
    /// Only deliveries of this event type.
    pub event_type: Option<String>,
    /// Page size, 1–100 (default 20).
    #[param(minimum = 1, maximum = 100)]
    pub limit: Option<u32>,
    /// Deliveries older than this id (the last id of the previous page).
    pub starting_after: Option<uuid::Uuid>,
}

/// A page of deliveries, newest first.
#[derive(Debug, Serialize, ToSchema)]
pub struct DeliveryPage {
    /// Deliveries.
    pub data: Vec<Delivery>,
    /// Whether more follow.
    pub has_more: bool,
}

/// Body of `POST …/{id}/resend`: the endpoint's events from `from` (inclusive) to `to`
/// (exclusive) that did not reach it — deliveries that failed for good or are still waiting,
/// and events emitted while it was disabled (since it was created) that it subscribes to —
/// plus, with `include_succeeded`, those that did. Both times are required; they are checked
/// after the endpoint, so another store's endpoint is a 404 whatever the body.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ResendRange {
    /// Start of the range (required).
    #[schema(required = true)]
    pub from: Option<DateTime<Utc>>,
    /// End of the range, exclusive (required).
    #[schema(required = true)]
    pub to: Option<DateTime<Utc>>,
    /// Also send again what the endpoint already acknowledged (default `false`).
    #[serde(default)]
    pub include_succeeded: bool,
}

/// What a bulk resend queued.
#[derive(Debug, Serialize, ToSchema)]
pub struct Resent {
    /// Deliveries queued again.
    pub resent: i64,
}

fn delivery_status_filter() -> utoipa::openapi::Object {
    crate::types::filter_schema(
        [
            DeliveryStatus::Pending,
            DeliveryStatus::Delivering,
            DeliveryStatus::Succeeded,
            DeliveryStatus::Failed,
        ]
        .map(|s| s.as_text()),
    )
}
