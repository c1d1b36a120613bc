//! Disputes in the console: the view of one (on the order page and in the list) and the
//! store's list, through the same service as `GET /api/v1/admin/disputes`.

use app::backend::{
    BoxFuture, ConsoleResult,
    disputes::{DisputeBackend, DisputeView, DisputesView},
};
use axum::http::request::Parts;

use super::{ServerBackend, context::require_signed, shown, time::Times};
use crate::{
    money::format_amount,
    payments::{self, Dispute, DisputeQuery},
    state::AppState,
    types::TextValue,
};

/// Disputes per page.
const PAGE: u32 = 50;

/// How the console shows a dispute.
pub(super) fn view(d: &Dispute, times: &Times) -> DisputeView {
    DisputeView {
        id: d.id.to_string(),
        intent_id: d.payment_intent_id.to_string(),
        order_id: d.order_id.to_string(),
        provider_dispute_id: d.provider_dispute_id.clone(),
        amount: format_amount(d.amount.0, &d.currency),
        reason: d.reason.clone(),
        status: d.status.as_text().to_owned(),
        decided: d.status.is_final(),
        opened_at: times.stamp(d.created_at),
        updated_at: times.stamp(d.updated_at),
    }
}

async fn list(
    state: &AppState,
    req: &Parts,
    status: Option<String>,
    after: Option<String>,
) -> ConsoleResult<DisputesView> {
    let signed = require_signed(state, req).await?;
    let times = Times::of(state, &signed);
    let store = signed.store()?;
    let query = DisputeQuery {
        status: status.filter(|s| !s.is_empty()),
        limit: Some(PAGE),
        starting_after: after.and_then(|a| a.parse().ok()),
    };
    let page = payments::list_disputes(state, store, signed.environment(), &query)
        .await
        .map_err(shown)?;
    Ok(DisputesView {
        next_after: page
            .has_more
            .then(|| page.data.last().map(|d| d.id.to_string()))
            .flatten(),
        rows: page.data.iter().map(|d| view(d, &times)).collect(),
    })
}

impl DisputeBackend for ServerBackend {
    fn disputes<'a>(
        &'a self,
        req: &'a Parts,
        status: Option<String>,
        after: Option<String>,
    ) -> BoxFuture<'a, ConsoleResult<DisputesView>> {
        Box::pin(list(&self.state, req, status, after))
    }
}
