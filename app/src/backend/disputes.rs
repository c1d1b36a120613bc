//! Disputes (chargebacks) in the console: on the order page beside the payment they dispute,
//! and the store's list. Plain data plus, on the server, the part of the backend that answers
//! it.

use serde::{Deserialize, Serialize};

use super::Stamp;

#[cfg(feature = "ssr")]
use super::{BoxFuture, ConsoleResult};

/// One dispute.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DisputeView {
    /// Our id.
    pub id: String,
    /// The disputed payment intent.
    pub intent_id: String,
    /// Its order.
    pub order_id: String,
    /// The provider's dispute id.
    pub provider_dispute_id: String,
    /// Formatted disputed amount.
    pub amount: String,
    /// The provider's reason code (`fraudulent`, …).
    pub reason: String,
    /// `needs_response`, `under_review`, `won`, `lost` or `closed`.
    pub status: String,
    /// Whether it is decided (`won`, `lost`, `closed`).
    pub decided: bool,
    /// When it was first recorded.
    pub opened_at: Stamp,
    /// Last change.
    pub updated_at: Stamp,
}

/// One page of the store's disputes.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DisputesView {
    /// Disputes, newest first.
    pub rows: Vec<DisputeView>,
    /// Cursor of the next page, when there is one.
    pub next_after: Option<String>,
}

/// The server's answers about disputes; part of [`super::ConsoleBackend`].
#[cfg(feature = "ssr")]
pub trait DisputeBackend: Send + Sync {
    /// A page of the current store's disputes in the environment the console shows, newest
    /// first (`status` filters).
    fn disputes<'a>(
        &'a self,
        req: &'a http::request::Parts,
        status: Option<String>,
        after: Option<String>,
    ) -> BoxFuture<'a, ConsoleResult<DisputesView>>;
}
