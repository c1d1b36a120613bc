//! What a tax service is told and how it fails: the documents Cassa files with it (a commit
//! when tax is committed, a refund or void when it is reversed) and the adapter that builds a
//! store's client from its credentials.

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use super::TaxProvider;
use crate::providers::account::{AccountAdapter, ClientContext, ClientError, Credentials};

/// How a tax engine call failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TaxEngineError {
    /// An amount left the representable range.
    #[error("an amount is out of range")]
    Overflow,
    /// The engine refused the request for its content (an address it cannot place, a document
    /// it will not take): final for this request, a fallback would hide it.
    #[error("rejected: {code}: {message}")]
    Rejected {
        /// Engine's reason code.
        code: String,
        /// Engine's explanation.
        message: String,
    },
    /// The engine could not answer (unreachable, 5xx, timeout, throttled, or an answer that
    /// does not add up): a quote may fall back, a filing is tried again with the same key.
    #[error("unavailable: {0}")]
    Unavailable(String),
}

/// What a tax transaction does at the engine.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DocumentKind {
    /// Tax committed (a capture, or an explicit finalization).
    Commit,
    /// Committed tax taken back because money was refunded.
    Refund,
    /// Committed tax taken back because the uncaptured authorization was released.
    Void,
}

impl DocumentKind {
    /// Stored spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            DocumentKind::Commit => "commit",
            DocumentKind::Refund => "refund",
            DocumentKind::Void => "void",
        }
    }
}

/// One jurisdiction's share of a line in a filed document (amounts positive; the kind says
/// which way they move).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DocumentLine {
    /// The order line (`0` for shipping).
    pub line_no: i32,
    /// Jurisdiction key.
    pub jurisdiction: String,
    /// Amount taxed.
    pub taxable: i64,
    /// Amount exempted.
    pub exempt: i64,
    /// Tax.
    pub tax: i64,
}

/// A tax transaction as filed with the engine. `code` is Cassa's tax transaction id: the
/// engine's idempotency key, so a filing retried after a lost answer is recorded once.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaxDocument {
    /// Cassa's tax transaction id.
    pub code: String,
    /// The order it belongs to (the engine groups an order's documents by it).
    pub reference: String,
    /// Commit, refund or void.
    pub kind: DocumentKind,
    /// The tax transaction's date.
    pub date: NaiveDate,
    /// ISO 4217 code of the amounts.
    pub currency: String,
    /// Per line and jurisdiction.
    pub lines: Vec<DocumentLine>,
}

/// A tax service as the platform knows it: its account side (credentials) and how a store's
/// client is built. Registered at start-up in the [`super::TaxRegistry`]; nothing in tax,
/// checkout or credentials names a tax service.
pub trait TaxEngineAdapter: AccountAdapter {
    /// The client for a store's credentials.
    fn client(
        &self,
        ctx: &ClientContext,
        credentials: &Credentials,
    ) -> Result<Box<dyn TaxProvider>, ClientError>;
}
