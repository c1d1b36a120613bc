//! A simulated shipping carrier, reached over HTTP at `/v1`.
//!
//! It plays another company's system, so it shares nothing with its callers: it keeps its own
//! tables (`sandbox_carrier_*`, created by [`CarrierDb::ensure_schema`]), its own error shape
//! (`{"error": {"type", "code", "message"}}`, `type` one of `invalid_request`,
//! `authentication`, `api_error`) and its own [`Clock`]. A host that mounts it in-process
//! (Cassa does, at `/sandbox-carrier`) hands it a [`CarrierState`]: a database pool, a
//! [`Sealer`] for the webhook secrets it stores, an HTTP client and a [`DeliveryPolicy`] for
//! its webhooks, and runs [`spawn_ticker`]. The `sandbox-carrier` binary runs it as its own
//! process with an [`AesGcmSealer`].
//!
//! # Accounts
//!
//! An account is an API key: `Authorization: Bearer scr_…` (8 to 200 visible ASCII characters
//! in all); anything else is `401 authentication/invalid_api_key`. A key starting
//! `scr_outage_` is an account that is down: every request is `503
//! api_error/service_unavailable`. `Idempotency-Key` (1 to 255 visible ASCII characters) is
//! required on every `POST` except `/v1/rates` and `/v1/labels/{id}/advance`; see
//! [`router`] for the routes.
//!
//! # Test addresses
//!
//! The destination (`to`) decides what happens:
//!
//! | destination | outcome |
//! |---|---|
//! | postal code `00000` | `422 address_undeliverable` (at `/v1/rates` and at label purchase) |
//! | country `AQ` | `422 country_not_served` |
//! | postal code `99901` | the timeline ends in `EXCEPTION` ("Recipient address not accessible") |
//! | postal code `99902` | the timeline ends in `RETURNED_TO_SENDER` (no `EXCEPTION` before it) |
//! | postal code `99903` | the label is bought and committed at once, but the answer comes after the timeout delay; a retry with the same `Idempotency-Key` gets the same label |
//! | anything else | the timeline ends in `DELIVERED` |
//!
//! # Pricing
//!
//! Deterministic, in minor units of the requested currency (`USD`, `EUR`, `GBP`, `CAD` or
//! `AUD`: the same numbers in each; anything else is `422 currency_not_supported`):
//!
//! - zone 1 when origin and destination country are the same; zone 2 when both are EU member
//!   states or both are in {US, CA, MX}; zone 3 otherwise;
//! - per package, billable grams = max(`weight_grams`, ⌈`length_mm` × `width_mm` ×
//!   `height_mm` / 5000⌉), and price = base + per 500 g × ⌈billable / 500⌉, times the zone's
//!   multiplier (×1, ×1.5, ×2.5; computed as `x*3/2` and `x*5/2` with halves rounded up);
//! - the amount is the sum over the packages.
//!
//! | service | base | per 500 g | days zone 1 / 2 / 3 |
//! |---|---|---|---|
//! | `ground` | 500 | 150 | 5 / 7 / 10 |
//! | `express` | 1200 | 300 | 2 / 3 / 5 |
//! | `overnight` | 2500 | 500 | 1 / 2 / not offered |
//!
//! Rates are stored with the shipment and can be bought for 24 h.
//!
//! # Tracking
//!
//! A label's timeline is scheduled from its purchase: `LABEL_CREATED` (at purchase),
//! `PICKED_UP` (+2 h), `IN_TRANSIT` (+12 h), `OUT_FOR_DELIVERY` (+days × 24 − 8 h), then the
//! final event (+days × 24 h). [`run_due`] records what is due per the carrier's clock, each
//! event stamped with its scheduled time; the ticker runs it every second. The test helper
//! `POST /v1/labels/{id}/advance` records the next event at once (a real carrier has no such
//! call, like the PSP's settlement hook); on a label with nothing left to happen it returns the
//! label unchanged. A label can be voided within 24 h of its purchase while nothing has
//! happened to the parcel (no event past `LABEL_CREATED` recorded or due): the void records
//! `VOIDED` and cancels the rest of the timeline.
//!
//! # Webhooks
//!
//! Each account may register one endpoint (`POST /v1/webhook_endpoints`; the secret is shown
//! once and stored sealed). Every recorded event is queued (`tracker.updated`, or
//! `label.voided` for a void) and sent with Standard Webhooks headers (`webhook-id`,
//! `webhook-timestamp`, `webhook-signature`: see [`sign_standard`]), retried on anything but a
//! 2xx up to [`DELIVERY_ATTEMPTS`] times (0.25 s, doubling), never following a redirect. The
//! [`DeliveryPolicy`] is checked at registration and before every attempt.

mod api;
mod db;
mod document;
mod error;
mod idempotency;
mod model;
mod pricing;
mod progress;
mod purchase;
mod seal;
mod signature;
mod state;
mod store;
mod ticker;
mod tracking;
mod void;
mod webhooks;

pub use api::{API_KEY_PREFIX, OUTAGE_ACCOUNT_PREFIX, router};
pub use db::CarrierDb;
pub use error::{CarrierError, Error, ErrorType};
pub use model::{Address, Label, Package, TrackingEvent};
pub use progress::run_due;
pub use seal::{AesGcmSealer, InvalidSealKey, SEALED_PREFIX, SealError, Sealer};
pub use signature::{BadSecret, sign_standard};
pub use state::{CarrierState, Clock, DeliveryPolicy, InvalidUrlPrefix, default_http_client};
pub use ticker::{TICK, spawn_ticker, tick};
pub use tracking::is_tracking_number;
pub use webhooks::{DELIVERY_ATTEMPTS, deliver_due, rewrap, sealed_with};
