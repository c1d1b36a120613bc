//! A simulated PSP (payment service provider), reached over HTTP at `/v1`.
//!
//! It plays another company's system, so it shares nothing with its callers: it keeps its own
//! tables (`sandbox_psp_*`, created by [`PspDb::ensure_schema`]), its own error shape and its
//! own clock. A host that mounts it in-process (Cassa does, at `/sandbox-psp`) hands it a
//! [`PspState`]: a database pool, a [`Sealer`] for the webhook secrets it stores, an HTTP
//! client and a [`DeliveryPolicy`] for its webhooks. The `sandbox-psp` binary runs it as its
//! own process with an [`AesGcmSealer`].
//!
//! It behaves like a remote card processor: accounts are API keys (`sbx_…`), it keeps its own
//! ledger, honours `Idempotency-Key` per account, adds configurable latency, and picks outcomes
//! by test payment method:
//!
//! | payment method | outcome |
//! |---|---|
//! | `pm_card_visa` | authorized |
//! | `pm_card_declined` | 402 `card_declined` |
//! | `pm_card_insufficient_funds` | 402 `insufficient_funds` |
//! | `pm_card_processing_error` | 500 `processing_error` (nothing recorded; retry-safe) |
//! | `pm_card_timeout` | authorized, but the answer comes after the timeout delay |
//! | `pm_card_async` | 202 `pending` (settled later) |
//! | `pm_card_partial_authorization` | authorized, but for half the amount asked (rounded down, at least 1) |
//!
//! `GET /v1/account` names the account a key is (`acct_sbx_…`), to check a key without a
//! payment.
//!
//! `GET /v1/payments?created_gte&created_lt&starting_after&limit` lists an account's payments
//! by id (a settlement report, 100 per page at most). Test-only operations under `/v1/test`
//! make the drift a reconciliation must find (see `drift.rs`).
//!
//! An account whose API key starts with `sbx_outage_` is down: every request is `503
//! service_unavailable` (to rehearse an outage).
//!
//! A void before any capture voids the payment; after partial captures it releases the
//! uncaptured rest (`released`) and the payment stays `captured`.
//!
//! Commits are what limits it under load, so a request is one write transaction: claim the
//! idempotency key, write the ledger (`RETURNING` the row), store the answer, commit. A new
//! payment under a fresh key is less: its answer is known before the write, so the key's
//! record is written answered beside it (one statement on PostgreSQL). Only
//! `pm_card_timeout` commits its claim first, so a retry during the delay sees it in flight.

mod api;
mod db;
mod drift;
mod ledger;
mod seal;
mod signature;
mod state;
mod webhooks;

pub use api::{OUTAGE_ACCOUNT_PREFIX, PspError, PspPayment, router, settle};
pub use db::PspDb;
pub use seal::{AesGcmSealer, InvalidSealKey, SEALED_PREFIX, SealError, Sealer};
pub use signature::sign_standard;
pub use state::{Clock, DeliveryPolicy, InvalidUrlPrefix, PspState, default_http_client};
pub use webhooks::{rewrap, sealed_with};

/// Why a PSP operation outside a request (settling, rewrapping) failed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The database failed.
    #[error("sandbox PSP storage failed: {0}")]
    Db(#[from] sqlx::Error),
    /// Sealing or opening a webhook secret failed.
    #[error("sandbox PSP sealing failed: {0}")]
    Seal(#[from] SealError),
}
