//! Developers → Webhooks: the store's outbound webhook endpoints, their health, their
//! delivery log, and what a person does with them (create, change, rotate the secret, ping,
//! resend, delete). Plain data plus, on the server, the part of the backend that answers it.

use serde::{Deserialize, Serialize};

#[cfg(feature = "ssr")]
use super::{BoxFuture, ConsoleResult, RevealedSecret};

pub use super::Stamp;

/// One UTC day of an endpoint's attempts.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DayHealthView {
    /// `YYYY-MM-DD`.
    pub day: String,
    /// Attempts made.
    pub attempts: i64,
    /// Of them, answered with a 2xx.
    pub succeeded: i64,
}

/// A signing secret still signing (never its value).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SecretInfoView {
    /// Created.
    pub created_at: Stamp,
    /// When it stops signing (a previous secret during a rotation's overlap).
    pub expires_at: Option<Stamp>,
}

/// An endpoint as the page lists it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct EndpointView {
    /// Id.
    pub id: String,
    /// Where events are POSTed.
    pub url: String,
    /// What it is for.
    pub description: Option<String>,
    /// Subscribed event types; `["*"]` is every type.
    pub event_types: Vec<String>,
    /// Whether events are sent to it.
    pub enabled: bool,
    /// `manual` (a person) or `failing` (Cassa, after sustained failure) while disabled.
    pub disabled_reason: Option<String>,
    /// One event at a time, in emission order.
    pub ordered: bool,
    /// Since when every attempt has failed.
    pub failing_since: Option<Stamp>,
    /// Secrets still signing.
    pub secrets: Vec<SecretInfoView>,
    /// Created.
    pub created_at: Stamp,
    /// The last days, oldest first, one entry per day.
    pub health: Vec<DayHealthView>,
}

/// One attempt of a delivery.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AttemptView {
    /// When it started.
    pub attempted_at: Stamp,
    /// The endpoint's HTTP status, when one came.
    pub status_code: Option<i32>,
    /// How long it took.
    pub latency_ms: i64,
    /// Why it failed without a status.
    pub error: Option<String>,
    /// The first KiB of the answer.
    pub response_body: Option<String>,
}

/// One event's delivery to the endpoint.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeliveryView {
    /// Id.
    pub id: String,
    /// The event's id (`evt_…`, the `webhook-id` header).
    pub event_id: String,
    /// The event's type.
    pub event_type: String,
    /// `pending`, `delivering`, `succeeded` or `failed`.
    pub status: String,
    /// Attempts since it was queued (or queued again).
    pub attempt_count: i32,
    /// When the next attempt is due.
    pub next_attempt_at: Option<Stamp>,
    /// Queued.
    pub created_at: Stamp,
    /// Accepted by the endpoint.
    pub delivered_at: Option<Stamp>,
    /// Newest first.
    pub attempts: Vec<AttemptView>,
}

/// A page of one endpoint's delivery log.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeliveryLogView {
    /// The endpoint.
    pub endpoint: EndpointView,
    /// Deliveries, newest event first.
    pub rows: Vec<DeliveryView>,
    /// Cursor of the next (older) page.
    pub next_after: Option<String>,
    /// The status filter as applied (empty: any).
    pub status: String,
    /// The event type filter as applied (empty: any).
    pub event_type: String,
    /// Whether this is a later page.
    pub paged: bool,
}

/// The Developers → Webhooks page.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct WebhookEndpointsPageView {
    /// The store's endpoints in the environment shown, oldest first.
    pub endpoints: Vec<EndpointView>,
    /// The endpoint opened (`?endpoint=`), with its log.
    pub selected: Option<DeliveryLogView>,
    /// Why the endpoint asked for is not shown (another store's, deleted, a refused filter).
    pub selected_error: Option<String>,
    /// Whether the user may change endpoints here (the API's policy); else read-only.
    pub can_manage: bool,
    /// The event catalogue, for the subscription checkboxes.
    pub event_types: Vec<String>,
    /// Most endpoints per store and environment.
    pub max_endpoints: i64,
}

/// The filters and page of the log (`?endpoint=&status=&event_type=&after=`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogQuery {
    /// The endpoint opened.
    pub endpoint: Option<String>,
    /// Delivery status.
    pub status: Option<String>,
    /// Event type.
    pub event_type: Option<String>,
    /// Last delivery of the previous page.
    pub after: Option<String>,
}

/// An endpoint's fields as a form sends them.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct EndpointForm {
    /// URL (creation only).
    pub url: Option<String>,
    /// Description (`""` removes it).
    pub description: Option<String>,
    /// Ticked event types; `*` alone is every type.
    pub event_types: Vec<String>,
    /// One at a time.
    pub ordered: bool,
}

/// The server's answers about webhook endpoints; part of [`super::ConsoleBackend`].
#[cfg(feature = "ssr")]
pub trait WebhookEndpointBackend: Send + Sync {
    /// The page: the current store's endpoints in the environment shown, and one's log.
    fn webhook_endpoints_page<'a>(
        &'a self,
        req: &'a http::request::Parts,
        query: LogQuery,
    ) -> BoxFuture<'a, ConsoleResult<WebhookEndpointsPageView>>;

    /// Creates an endpoint; its signing secret is in the answer and never again.
    fn create_webhook_endpoint<'a>(
        &'a self,
        req: &'a http::request::Parts,
        form: EndpointForm,
    ) -> BoxFuture<'a, ConsoleResult<RevealedSecret>>;

    /// Changes an endpoint's description, subscription and ordering.
    fn update_webhook_endpoint<'a>(
        &'a self,
        req: &'a http::request::Parts,
        endpoint_id: String,
        form: EndpointForm,
    ) -> BoxFuture<'a, ConsoleResult<String>>;

    /// Enables (also after Cassa disabled it) or disables an endpoint.
    fn set_webhook_endpoint_enabled<'a>(
        &'a self,
        req: &'a http::request::Parts,
        endpoint_id: String,
        enabled: bool,
    ) -> BoxFuture<'a, ConsoleResult<String>>;

    /// Deletes an endpoint with its secrets and log.
    fn delete_webhook_endpoint<'a>(
        &'a self,
        req: &'a http::request::Parts,
        endpoint_id: String,
    ) -> BoxFuture<'a, ConsoleResult<String>>;

    /// A new signing secret (in the answer, never again); the previous ones keep signing for
    /// `overlap_seconds`.
    fn rotate_webhook_secret<'a>(
        &'a self,
        req: &'a http::request::Parts,
        endpoint_id: String,
        overlap_seconds: i64,
    ) -> BoxFuture<'a, ConsoleResult<RevealedSecret>>;

    /// Sends a `test.ping` to the endpoint.
    fn ping_webhook_endpoint<'a>(
        &'a self,
        req: &'a http::request::Parts,
        endpoint_id: String,
    ) -> BoxFuture<'a, ConsoleResult<String>>;

    /// Sends one delivery again.
    fn resend_webhook_delivery<'a>(
        &'a self,
        req: &'a http::request::Parts,
        endpoint_id: String,
        delivery_id: String,
    ) -> BoxFuture<'a, ConsoleResult<String>>;

    /// Sends again the deliveries created in `[from, to)` (`YYYY-MM-DDTHH:MM`, UTC).
    fn resend_webhook_range<'a>(
        &'a self,
        req: &'a http::request::Parts,
        endpoint_id: String,
        from: String,
        to: String,
    ) -> BoxFuture<'a, ConsoleResult<String>>;
}
