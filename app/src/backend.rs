//! The narrow interface between the console and the server's domain services.
//!
//! Everything here is plain data that crosses the wire to the browser; the trait itself exists
//! only on the server (`ssr`). Each call receives the request's parts so the server can find
//! the console session (cookie) without the app knowing how sessions are stored.

use serde::{Deserialize, Serialize};

pub mod catalogue;
pub mod customers;
pub mod dashboard;
pub mod disputes;
pub mod orders;
pub mod providers;
pub mod rates;
pub mod settings;
pub mod team;
pub mod webhook_endpoints;

/// An instant as the console shows it: in the store's time zone to the minute, how long ago
/// (within a week), and the exact value for a tooltip.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Stamp {
    /// `2026-12-04 09:17 CET`.
    pub text: String,
    /// `5 min ago`, `in 3 days`; `None` beyond a week.
    pub relative: Option<String>,
    /// RFC 3339 in the same zone, to the millisecond (`2026-12-04T09:17:36.924+01:00`).
    pub exact: String,
}

/// What the overview page shows about the running platform.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SystemStatus {
    /// Server version (the `cassa` crate version).
    pub version: String,
    /// `sqlite` or `postgres`.
    pub database_backend: String,
    /// Whether the database answered a probe just now.
    pub database_ready: bool,
    /// Number of schema migrations applied.
    pub migrations_applied: i64,
}

/// A store the signed-in user can switch to.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoreChoice {
    /// Store id.
    pub id: String,
    /// Store name.
    pub name: String,
    /// `owner` or `staff`.
    pub role: String,
}

/// The signed-in console user and what the console currently shows.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Viewer {
    /// Their email.
    pub email: String,
    /// Whether they administer the platform.
    pub is_platform_admin: bool,
    /// Stores they can open.
    pub stores: Vec<StoreChoice>,
    /// The store currently shown.
    pub store: Option<StoreChoice>,
    /// `sandbox` or `production`.
    pub environment: String,
    /// Their password was generated: the console shows only the password page until they
    /// choose their own.
    pub must_change_password: bool,
}

/// A store secret key as the console lists it (masked).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiKeyView {
    /// Key id.
    pub id: String,
    /// Label.
    pub name: String,
    /// `sandbox` or `production`.
    pub environment: String,
    /// Masked form, e.g. `sk_test_Ab12…9xYz`.
    pub display_hint: String,
    /// Creation time.
    pub created_at: Stamp,
    /// Last use, if any.
    pub last_used_at: Option<Stamp>,
    /// Whether it was revoked.
    pub revoked: bool,
}

/// A store as the platform pages list it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoreView {
    /// Store id.
    pub id: String,
    /// Name.
    pub name: String,
    /// Settlement currency.
    pub currency: String,
    /// Creation time.
    pub created_at: Stamp,
}

/// A secret shown exactly once, right after creation.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RevealedSecret {
    /// What it belongs to (key name or store name).
    pub label: String,
    /// The secret itself.
    pub secret: String,
}

/// Stored provider credentials, masked.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CredentialRow {
    /// `sandbox` or `stripe`.
    pub provider: String,
    /// `sandbox` or `production`.
    pub environment: String,
    /// Field name and masked value, in display order.
    pub masked: Vec<(String, String)>,
    /// Master key version of the ciphertext.
    pub key_version: u32,
    /// Last change.
    pub updated_at: Stamp,
}

/// A master key version (never the key).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyVersionView {
    /// Version number.
    pub version: u32,
    /// `primary`, `active` or `retired`.
    pub status: String,
    /// Whether this server has the key material.
    pub configured: bool,
    /// Credential rows encrypted with it.
    pub rows: i64,
}

/// A re-encryption run.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RotationView {
    /// Rotation id.
    pub id: String,
    /// Target version.
    pub target_version: u32,
    /// `running` or `completed`.
    pub status: String,
    /// Rows to move.
    pub total: i64,
    /// Rows moved.
    pub done: i64,
    /// Start.
    pub started_at: Stamp,
}

/// Key versions and recent rotations.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyOverviewView {
    /// Versions.
    pub versions: Vec<KeyVersionView>,
    /// Rotations, newest first.
    pub rotations: Vec<RotationView>,
}

/// Filters of the payments ledger page (all optional; amounts as typed, in major units of the
/// store's currency, dates `YYYY-MM-DD`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LedgerFilter {
    /// Payment status.
    pub status: Option<String>,
    /// Created on or after this day.
    pub from: Option<String>,
    /// Created on or before this day.
    pub to: Option<String>,
    /// Amount at least.
    pub min_amount: Option<String>,
    /// Amount at most.
    pub max_amount: Option<String>,
    /// Keyset cursor: the last payment id of the previous page.
    pub after: Option<String>,
}

/// A row of the payments ledger.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PaymentRowView {
    /// Intent id.
    pub id: String,
    /// Its order.
    pub order_id: String,
    /// Status.
    pub status: String,
    /// Amount, formatted with its currency.
    pub amount: String,
    /// Captured, formatted.
    pub captured: String,
    /// Refunded, formatted.
    pub refunded: String,
    /// Payment method.
    pub payment_method: String,
    /// Creation time.
    pub created_at: Stamp,
}

/// One page of the ledger.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LedgerView {
    /// Rows, newest first.
    pub rows: Vec<PaymentRowView>,
    /// Cursor of the next page, when there is one.
    pub next_after: Option<String>,
}

/// A ledger transaction on the order page.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TransactionView {
    /// `authorize`, `capture`, `void`, `refund`.
    pub operation: String,
    /// Formatted amount.
    pub amount: String,
    /// The amount in the store's settlement currency, formatted, when the order is in
    /// another currency.
    pub settlement: Option<String>,
    /// `pending`, `unknown`, `succeeded`, `failed`, `reversed` (a refund the provider failed
    /// after it had succeeded).
    pub status: String,
    /// Provider's id.
    pub provider_txn_id: Option<String>,
    /// Why it failed.
    pub failure_code: Option<String>,
    /// The merchant's reason.
    pub reason: Option<String>,
    /// Who asked.
    pub actor: String,
    /// When.
    pub created_at: Stamp,
}

/// An intent's amounts in the store's settlement currency.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SettlementView {
    /// `150 JPY per USD`.
    pub rate: String,
    /// Formatted amount.
    pub amount: String,
    /// Formatted captured amount.
    pub captured: String,
    /// Formatted refunded amount.
    pub refunded: String,
}

/// A payment intent on the order page, with what can still be done to it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct IntentView {
    /// Intent id.
    pub id: String,
    /// Status.
    pub status: String,
    /// ISO 4217 code.
    pub currency: String,
    /// Formatted amounts.
    pub amount: String,
    /// Formatted authorized amount.
    pub authorized: String,
    /// Formatted captured amount.
    pub captured: String,
    /// Formatted refunded amount.
    pub refunded: String,
    /// What the store is paid, when the order is in another currency: amount, captured and
    /// refunded in the settlement currency at the locked rate, formatted.
    pub settlement: Option<SettlementView>,
    /// Still capturable, in major units as an amount field takes it (`12.34`); `None` when
    /// capture is not possible.
    pub capturable: Option<String>,
    /// Still refundable, in major units (`12.34`); `None` when refund is not possible.
    pub refundable: Option<String>,
    /// Whether a void is possible.
    pub voidable: bool,
    /// Payment method.
    pub payment_method: String,
    /// Fresh idempotency key for the next action form (a resubmitted form reuses it, so a
    /// double click acts once).
    pub action_key: String,
    /// Transactions, oldest first.
    pub transactions: Vec<TransactionView>,
    /// Disputes (chargebacks), oldest first.
    pub disputes: Vec<disputes::DisputeView>,
}

/// A status change on the order's timeline.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TimelineEntry {
    /// `order` or `payment`.
    pub subject: String,
    /// Previous status.
    pub from_status: Option<String>,
    /// New status.
    pub to_status: String,
    /// What happened.
    pub reason: String,
    /// `api`, `webhook`, `job`.
    pub source: String,
    /// Who.
    pub actor: String,
    /// When.
    pub at: Stamp,
}

/// The order page.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderDetailView {
    /// Order id.
    pub order_id: String,
    /// Order status.
    pub order_status: String,
    /// Who ordered what, where to, and what it comes to.
    pub summary: orders::OrderSummaryView,
    /// Intents, oldest first.
    pub intents: Vec<IntentView>,
    /// Status history, oldest first.
    pub timeline: Vec<TimelineEntry>,
}

/// A received webhook event as the console lists it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct WebhookEventView {
    /// Our id.
    pub id: String,
    /// Provider.
    pub provider: String,
    /// Provider's event id.
    pub provider_event_id: String,
    /// Event type.
    pub event_type: String,
    /// Whether the signature verified.
    pub signature_valid: bool,
    /// `pending`, `processing`, `processed`, `dead`, `rejected`.
    pub status: String,
    /// Attempts so far.
    pub attempt_count: i32,
    /// Why the last attempt failed.
    pub last_error: Option<String>,
    /// Next attempt.
    pub next_attempt_at: Option<Stamp>,
    /// Arrival.
    pub received_at: Stamp,
    /// Processing time.
    pub processed_at: Option<Stamp>,
    /// The body, pretty-printed when it is JSON.
    pub payload: String,
}

/// A page of webhook events.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct WebhookEventsView {
    /// Events, newest first.
    pub rows: Vec<WebhookEventView>,
    /// Cursor of the next page.
    pub next_after: Option<String>,
}

/// A carrier's tracking event.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TrackingEventView {
    /// Normalized status (`in_transit`, `delivered`, …).
    pub status: String,
    /// The carrier's description.
    pub description: String,
    /// Where, when the carrier says.
    pub location: Option<String>,
    /// When.
    pub at: Stamp,
}

/// Something done to a shipment, and by whom.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShipmentHistoryView {
    /// `purchased`, `voided`, `status_changed`, …
    pub kind: String,
    /// Who.
    pub actor: String,
    /// What happened.
    pub detail: String,
    /// When.
    pub at: Stamp,
}

/// A shipment as the console shows it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShipmentView {
    /// Shipment id.
    pub id: String,
    /// Its order.
    pub order_id: String,
    /// Status (`pre_transit`, `delivered`, `cancelled`, …).
    pub status: String,
    /// Carrier.
    pub provider: String,
    /// Carrier service.
    pub service: String,
    /// What the label cost, formatted with its currency.
    pub amount: String,
    /// Tracking number, once bought.
    pub tracking_number: Option<String>,
    /// Until when the label can be voided.
    pub void_deadline: Option<Stamp>,
    /// Why the purchase failed.
    pub failure_code: Option<String>,
    /// Whether the label document can be downloaded.
    pub has_label: bool,
    /// Whether the label can still be voided.
    pub voidable: bool,
    /// Packages, one line each (box, size, weight).
    pub packages: Vec<String>,
    /// The carrier's timeline, oldest first.
    pub tracking: Vec<TrackingEventView>,
    /// Purchase, void and status changes, oldest first.
    pub history: Vec<ShipmentHistoryView>,
    /// Created.
    pub created_at: Stamp,
}

/// One page of the shipments list, with counts per status.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShipmentsView {
    /// Shipments, oldest first.
    pub rows: Vec<ShipmentView>,
    /// Cursor of the next page.
    pub next_after: Option<String>,
    /// Shipments per status in the store and environment.
    pub counts: Vec<(String, i64)>,
}

/// A jurisdiction's totals on the Tax page (amounts formatted with the currency).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaxReportRow {
    /// Jurisdiction key, e.g. `US-CA/city:LOS ANGELES`.
    pub jurisdiction: String,
    /// Taxable, net of reversals.
    pub taxable: String,
    /// Exempt, net of reversals.
    pub exempt: String,
    /// Tax committed.
    pub collected: String,
    /// Tax reversed.
    pub reversed: String,
    /// Collected − reversed.
    pub net: String,
    /// Commit transactions.
    pub commits: i64,
    /// Reversal transactions.
    pub reversals: i64,
}

/// A recorded tax export.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaxExportRow {
    /// Export id.
    pub id: String,
    /// `2026-01-01 – 2026-01-31`.
    pub period: String,
    /// `csv by jurisdiction`, `json by transaction`, …
    pub shape: String,
    /// `running` or `completed`.
    pub status: String,
    /// Data rows, once completed.
    pub rows: Option<i64>,
    /// SHA-256 of the file, once completed.
    pub sha256: Option<String>,
    /// Who asked.
    pub actor: String,
    /// When.
    pub created_at: Stamp,
    /// Whole percent written of a running export by transaction line.
    pub percent: Option<i64>,
}

/// The Tax page: the period's report, the exports, and the rates and nexus as editable JSON.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaxPageView {
    /// First day of the period shown (`YYYY-MM-DD`).
    pub from: String,
    /// Last day of the period shown.
    pub to: String,
    /// Per jurisdiction and currency.
    pub report: Vec<TaxReportRow>,
    /// Recorded exports, newest first.
    pub exports: Vec<TaxExportRow>,
    /// The store's rates as the API's JSON (`{"rules": […]}`), pretty-printed.
    pub rules_json: String,
    /// Where the store collects (`{"nexus": […]}`), pretty-printed.
    pub nexus_json: String,
    /// The engine quotes are taxed with (`rules` or a tax service).
    pub engine: String,
    /// What a quote does when the tax service cannot answer (`refuse` or `rules`).
    pub fallback: String,
    /// Every engine the server offers.
    pub engines: Vec<String>,
}

/// A customer's tax exemption certificate.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaxExemptionRow {
    /// Exemption id.
    pub id: String,
    /// The certificate's number.
    pub certificate_id: String,
    /// Where it exempts (`US`, `US-CA`).
    pub jurisdictions: Vec<String>,
    /// Last day it is valid (`YYYY-MM-DD`).
    pub expires_on: Option<String>,
    /// Recorded.
    pub created_at: Stamp,
}

/// A form field the server refused, and why: shown beside the field.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FieldError {
    /// The form field's name (`format`, `source`, `data`; `base`, `quote`, `before`).
    pub field: String,
    /// Why.
    pub message: String,
}

/// What an import of a rates file stored.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FxImportSummaryView {
    /// Rates stored.
    pub imported: u64,
    /// Rates of the file stored before (same source, pair and time).
    pub already_known: u64,
    /// Columns or entries left out, and why.
    pub skipped: Vec<String>,
    /// The newest rate time in the file (`2026-12-03 00:00 UTC`).
    pub latest_as_of: Option<String>,
}

/// The outcome of the FX rates import form: a refused field is an answer for the form, not a
/// failure of the request.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum FxImportOutcome {
    /// Stored.
    Imported(FxImportSummaryView),
    /// A field was refused.
    Refused(FieldError),
}

/// A pair's newest rate from one source.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FxLatestRow {
    /// The feed (`ecb`, …).
    pub source: String,
    /// Base currency.
    pub base: String,
    /// Quote currency.
    pub quote: String,
    /// Units of quote per unit of base, as published.
    pub rate: String,
    /// When the feed fixed it (`2026-12-03 00:00 UTC`).
    pub as_of: String,
    /// Its age, for people (`2 d 3 h`).
    pub age: String,
    /// Older than the default maximum rate age (four days).
    pub stale: bool,
}

/// A stored rate.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FxRateRow {
    /// Rate id.
    pub id: String,
    /// The feed.
    pub source: String,
    /// Base currency.
    pub base: String,
    /// Quote currency.
    pub quote: String,
    /// Units of quote per unit of base, as published.
    pub rate: String,
    /// When the feed fixed it.
    pub as_of: String,
    /// When it was imported.
    pub imported_at: Stamp,
    /// Who imported it (`user:…`).
    pub imported_by: String,
}

/// The FX rates page (platform admins): each pair's newest rate, and a page of the history.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FxRatesPageView {
    /// Each source's newest rate of each pair.
    pub latest: Vec<FxLatestRow>,
    /// Stored rates, newest first, filtered.
    pub history: Vec<FxRateRow>,
    /// The base filter as applied (empty: any).
    pub base: String,
    /// The quote filter as applied (empty: any).
    pub quote: String,
    /// Whether this is an older page (not the newest rates).
    pub paged: bool,
    /// Cursor of the next, older page.
    pub next_before: Option<String>,
    /// A refused filter; the history is empty then.
    pub filter_error: Option<FieldError>,
}

/// A boxed, sendable future: keeps [`ConsoleBackend`] object-safe.
#[cfg(feature = "ssr")]
pub type BoxFuture<'a, T> = std::pin::Pin<Box<dyn std::future::Future<Output = T> + Send + 'a>>;

/// Console failures as the user sees them (already safe to display).
pub type ConsoleResult<T> = Result<T, String>;

/// A reconciliation run as the console lists it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReconciliationRunRow {
    /// Run id.
    pub id: String,
    /// The store's name (platform lists) or id.
    pub store: String,
    /// `sandbox` or `production`.
    pub environment: String,
    /// `YYYY-MM-DD – YYYY-MM-DD`.
    pub period: String,
    /// `queued`, `running`, `completed` or `failed`.
    pub status: String,
    /// Where a running run is.
    pub phase: String,
    /// Payments and provider records looked at.
    pub examined: i64,
    /// Payments that agree.
    pub matched: i64,
    /// Exceptions found.
    pub exceptions: i64,
    /// Percent matched (two decimals), once known.
    pub match_rate: Option<String>,
    /// Why its last attempt stopped.
    pub last_error: Option<String>,
    /// Asked at.
    pub created_at: Stamp,
}

/// A reconciliation exception as the console shows it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReconciliationItemRow {
    /// Item id.
    pub id: String,
    /// Its kind (`amount_mismatch`, …).
    pub kind: String,
    /// Our order, when there is one.
    pub order_id: Option<String>,
    /// What it is about: `payment`, or `label` (a shipment's label charge).
    pub subject: String,
    /// The provider's payment id (the carrier's label id for a label).
    pub provider_payment_id: Option<String>,
    /// Provider's net − ours, formatted in the currency.
    pub difference: String,
    /// Our values, compact.
    pub ours: String,
    /// The provider's values, compact.
    pub theirs: String,
    /// `open`, `acknowledged` or `resolved`.
    pub resolution: String,
    /// The note, with who and when.
    pub note: Option<String>,
}

/// The Reconciliation page: the store's runs (and every store's for platform admins), one
/// run's exceptions.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReconciliationPageView {
    /// The current store's runs, newest first.
    pub runs: Vec<ReconciliationRunRow>,
    /// Every store's runs (platform admins only).
    pub platform_runs: Vec<ReconciliationRunRow>,
    /// The run shown.
    pub selected: Option<ReconciliationRunRow>,
    /// Its exceptions, by kind.
    pub items: Vec<ReconciliationItemRow>,
    /// Whether the selected run is the current store's (its items can be resolved here).
    pub resolvable: bool,
    /// Default period of a new run (`YYYY-MM-DD`): yesterday.
    pub default_day: String,
    /// The store's daily run: its time (`HH:MM`, UTC) and whether it is on (none without a
    /// store).
    pub schedule: Option<(String, bool)>,
}

/// Implemented by the server and provided as Leptos context (`Arc<dyn ConsoleBackend>`) to the
/// console's server functions.
#[cfg(feature = "ssr")]
pub trait ConsoleBackend:
    catalogue::CatalogueBackend
    + dashboard::DashboardBackend
    + customers::CustomerBackend
    + providers::ProviderBackend
    + disputes::DisputeBackend
    + webhook_endpoints::WebhookEndpointBackend
    + orders::OrderBackend
    + settings::SettingsBackend
    + rates::RatesBackend
    + team::TeamBackend
    + Send
    + Sync
    + 'static
{
    /// Version, database backend and readiness of this server process.
    fn system_status(&self) -> BoxFuture<'_, SystemStatus>;
    /// The signed-in user, if any.
    fn viewer<'a>(
        &'a self,
        req: &'a http::request::Parts,
    ) -> BoxFuture<'a, ConsoleResult<Option<Viewer>>>;
    /// Checks credentials and starts a session (with a fresh session id). `true`: the user
    /// must change their password before anything else.
    fn sign_in<'a>(
        &'a self,
        req: &'a http::request::Parts,
        email: String,
        password: String,
    ) -> BoxFuture<'a, ConsoleResult<bool>>;
    /// Changes the signed-in user's password; ends all their sessions (this one too) and
    /// bearer tokens.
    fn change_password<'a>(
        &'a self,
        req: &'a http::request::Parts,
        current_password: String,
        new_password: String,
    ) -> BoxFuture<'a, ConsoleResult<()>>;
    /// Ends the session server-side.
    fn sign_out<'a>(&'a self, req: &'a http::request::Parts) -> BoxFuture<'a, ConsoleResult<()>>;
    /// Switches the store and/or environment the console shows.
    fn select<'a>(
        &'a self,
        req: &'a http::request::Parts,
        store_id: Option<String>,
        environment: Option<String>,
    ) -> BoxFuture<'a, ConsoleResult<()>>;
    /// Keys of the current store and environment.
    fn api_keys<'a>(
        &'a self,
        req: &'a http::request::Parts,
    ) -> BoxFuture<'a, ConsoleResult<Vec<ApiKeyView>>>;
    /// Creates a key in the current store and environment (owners only).
    fn create_api_key<'a>(
        &'a self,
        req: &'a http::request::Parts,
        name: String,
    ) -> BoxFuture<'a, ConsoleResult<RevealedSecret>>;
    /// Revokes a key of the current store and environment.
    fn revoke_api_key<'a>(
        &'a self,
        req: &'a http::request::Parts,
        key_id: String,
    ) -> BoxFuture<'a, ConsoleResult<()>>;
    /// All stores (platform admins only).
    fn stores<'a>(
        &'a self,
        req: &'a http::request::Parts,
    ) -> BoxFuture<'a, ConsoleResult<Vec<StoreView>>>;
    /// Masked credentials of the current store and environment.
    fn credentials<'a>(
        &'a self,
        req: &'a http::request::Parts,
    ) -> BoxFuture<'a, ConsoleResult<Vec<CredentialRow>>>;
    /// Stores or replaces credentials of the current store and environment.
    fn put_credentials<'a>(
        &'a self,
        req: &'a http::request::Parts,
        provider: String,
        fields: Vec<(String, String)>,
    ) -> BoxFuture<'a, ConsoleResult<CredentialRow>>;
    /// Master key versions and rotations (platform admins only).
    fn key_overview<'a>(
        &'a self,
        req: &'a http::request::Parts,
    ) -> BoxFuture<'a, ConsoleResult<KeyOverviewView>>;
    /// Makes `version` primary and starts re-encryption (platform admins only).
    fn start_rotation<'a>(
        &'a self,
        req: &'a http::request::Parts,
        version: u32,
    ) -> BoxFuture<'a, ConsoleResult<()>>;
    /// Retires an unused version (platform admins only).
    fn retire_key<'a>(
        &'a self,
        req: &'a http::request::Parts,
        version: u32,
    ) -> BoxFuture<'a, ConsoleResult<()>>;
    /// Creates a store (platform admins only); reveals its first sandbox key.
    fn create_store<'a>(
        &'a self,
        req: &'a http::request::Parts,
        name: String,
        currency: String,
    ) -> BoxFuture<'a, ConsoleResult<RevealedSecret>>;
    /// A page of the current store's payments ledger.
    fn payments<'a>(
        &'a self,
        req: &'a http::request::Parts,
        filter: LedgerFilter,
    ) -> BoxFuture<'a, ConsoleResult<LedgerView>>;
    /// An order's payments, transactions and status timeline.
    fn order_payments<'a>(
        &'a self,
        req: &'a http::request::Parts,
        order_id: String,
    ) -> BoxFuture<'a, ConsoleResult<OrderDetailView>>;
    /// Captures, voids or refunds through the same service and idempotency as the API.
    #[allow(clippy::too_many_arguments)]
    fn payment_action<'a>(
        &'a self,
        req: &'a http::request::Parts,
        order_id: String,
        intent_id: String,
        action: String,
        amount: Option<String>,
        reason: Option<String>,
        idempotency_key: String,
    ) -> BoxFuture<'a, ConsoleResult<String>>;
    /// The current store's webhook events (`status` filters; `dead` is the dead-letter view).
    fn webhook_events<'a>(
        &'a self,
        req: &'a http::request::Parts,
        status: Option<String>,
        after: Option<String>,
    ) -> BoxFuture<'a, ConsoleResult<WebhookEventsView>>;
    /// Queues a processed or dead event again.
    fn replay_webhook<'a>(
        &'a self,
        req: &'a http::request::Parts,
        event_id: String,
    ) -> BoxFuture<'a, ConsoleResult<String>>;

    /// A page of the current store's shipments (`status` filters, `after` is the cursor).
    fn shipments<'a>(
        &'a self,
        req: &'a http::request::Parts,
        status: Option<String>,
        after: Option<String>,
    ) -> BoxFuture<'a, ConsoleResult<ShipmentsView>>;

    /// An order's shipments.
    fn order_shipping<'a>(
        &'a self,
        req: &'a http::request::Parts,
        order_id: String,
    ) -> BoxFuture<'a, ConsoleResult<Vec<ShipmentView>>>;

    /// Buys the order's label at the rate its payment froze (or the carrier's new price when
    /// `accept_price_change`); returns the confirmation to show.
    fn buy_label<'a>(
        &'a self,
        req: &'a http::request::Parts,
        order_id: String,
        accept_price_change: bool,
    ) -> BoxFuture<'a, ConsoleResult<String>>;

    /// Voids a shipment's label; returns the confirmation to show.
    fn void_shipment<'a>(
        &'a self,
        req: &'a http::request::Parts,
        shipment_id: String,
    ) -> BoxFuture<'a, ConsoleResult<String>>;

    /// The Reconciliation page (`run`: the run whose exceptions to show).
    fn reconciliation_page<'a>(
        &'a self,
        req: &'a http::request::Parts,
        run: Option<String>,
    ) -> BoxFuture<'a, ConsoleResult<ReconciliationPageView>>;

    /// Queues a reconciliation of the current store's days `from`..=`to`.
    fn start_reconciliation<'a>(
        &'a self,
        req: &'a http::request::Parts,
        from: String,
        to: String,
    ) -> BoxFuture<'a, ConsoleResult<String>>;

    /// Sets the current store's daily reconciliation time (`HH:MM`, UTC) and whether it runs.
    fn save_reconciliation_schedule<'a>(
        &'a self,
        req: &'a http::request::Parts,
        daily_at: String,
        enabled: bool,
    ) -> BoxFuture<'a, ConsoleResult<String>>;

    /// Acknowledges or resolves an exception of the current store, with a note.
    fn resolve_reconciliation_item<'a>(
        &'a self,
        req: &'a http::request::Parts,
        item_id: String,
        resolution: String,
        note: String,
    ) -> BoxFuture<'a, ConsoleResult<String>>;

    /// The Tax page for a period (the current month when not given).
    fn tax_page<'a>(
        &'a self,
        req: &'a http::request::Parts,
        from: Option<String>,
        to: Option<String>,
    ) -> BoxFuture<'a, ConsoleResult<TaxPageView>>;

    /// Replaces the store's rates from the editor's JSON; returns the confirmation.
    fn save_tax_rules<'a>(
        &'a self,
        req: &'a http::request::Parts,
        json: String,
    ) -> BoxFuture<'a, ConsoleResult<String>>;

    /// Replaces where the store collects from the editor's JSON; returns the confirmation.
    fn save_tax_nexus<'a>(
        &'a self,
        req: &'a http::request::Parts,
        json: String,
    ) -> BoxFuture<'a, ConsoleResult<String>>;

    /// Chooses the tax engine and its fallback; returns the confirmation.
    fn save_tax_settings<'a>(
        &'a self,
        req: &'a http::request::Parts,
        engine: String,
        fallback: String,
    ) -> BoxFuture<'a, ConsoleResult<String>>;

    /// A customer's exemption certificates.
    fn tax_exemptions<'a>(
        &'a self,
        req: &'a http::request::Parts,
        customer_id: String,
    ) -> BoxFuture<'a, ConsoleResult<Vec<TaxExemptionRow>>>;

    /// Records a customer's certificate (`jurisdictions` separated by commas or spaces);
    /// returns the confirmation.
    fn add_tax_exemption<'a>(
        &'a self,
        req: &'a http::request::Parts,
        customer_id: String,
        certificate_id: String,
        jurisdictions: String,
        expires_on: Option<String>,
    ) -> BoxFuture<'a, ConsoleResult<String>>;

    /// Revokes a customer's certificate; returns the confirmation.
    fn revoke_tax_exemption<'a>(
        &'a self,
        req: &'a http::request::Parts,
        customer_id: String,
        exemption_id: String,
    ) -> BoxFuture<'a, ConsoleResult<String>>;

    /// The FX rates page (platform admins only): the newest rates and a page of the history
    /// (`base`, `quote`: ISO codes; `before`: the previous page's `next_before`).
    fn fx_rates_page<'a>(
        &'a self,
        req: &'a http::request::Parts,
        base: Option<String>,
        quote: Option<String>,
        before: Option<String>,
    ) -> BoxFuture<'a, ConsoleResult<FxRatesPageView>>;

    /// Imports a rates file (platform admins only): `format` is `ecb_csv` or `json`, `source`
    /// names the feed (default `ecb` for the ECB's CSV), `data` is the file's text.
    fn import_fx_rates<'a>(
        &'a self,
        req: &'a http::request::Parts,
        format: String,
        source: Option<String>,
        data: String,
    ) -> BoxFuture<'a, ConsoleResult<FxImportOutcome>>;
}

/// The backend as stored in Leptos context.
#[cfg(feature = "ssr")]
pub type SharedBackend = std::sync::Arc<dyn ConsoleBackend>;
