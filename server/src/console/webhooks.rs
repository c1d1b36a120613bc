//! The webhooks page: the current store's received events, and replaying one.

use app::backend::{ConsoleResult, WebhookEventView, WebhookEventsView};
use axum::http::request::Parts;

use super::{context::require_signed, shown, time::Times};
use crate::{
    http::problem::ApiError,
    state::AppState,
    types::TextValue,
    webhooks::{self, EventQuery},
};

/// Events per page.
const EVENTS_PAGE: u32 = 50;

/// A page of events (`status` filters; `dead` is the dead-letter view).
pub async fn events(
    state: &AppState,
    req: &Parts,
    status: Option<String>,
    after: Option<String>,
) -> ConsoleResult<WebhookEventsView> {
    let signed = require_signed(state, req).await?;
    let times = Times::of(state, &signed);
    let store = signed.store()?;
    let query = EventQuery {
        status: status.filter(|s| !s.is_empty()),
        provider: None,
        limit: Some(EVENTS_PAGE),
        starting_after: after.and_then(|a| a.parse().ok()),
    };
    let page = webhooks::list(state, store, signed.environment(), &query)
        .await
        .map_err(shown)?;
    Ok(WebhookEventsView {
        next_after: page
            .has_more
            .then(|| page.data.last().map(|e| e.id.to_string()))
            .flatten(),
        rows: page
            .data
            .into_iter()
            .map(|e| WebhookEventView {
                id: e.id.to_string(),
                provider: e.provider,
                provider_event_id: e.provider_event_id,
                event_type: e.event_type,
                signature_valid: e.signature_valid,
                status: e.status.as_text().to_owned(),
                attempt_count: e.attempt_count,
                last_error: e.last_error,
                next_attempt_at: e.next_attempt_at.map(|t| times.stamp(t)),
                received_at: times.stamp(e.received_at),
                processed_at: e.processed_at.map(|t| times.stamp(t)),
                payload: serde_json::from_str::<serde_json::Value>(&e.payload)
                    .ok()
                    .and_then(|v| serde_json::to_string_pretty(&v).ok())
                    .unwrap_or(e.payload),
            })
            .collect(),
    })
}

/// Queues an event again; returns the confirmation to show.
pub async fn replay(state: &AppState, req: &Parts, event_id: String) -> ConsoleResult<String> {
    let signed = require_signed(state, req).await?;
    let store = signed.store()?;
    let id = event_id.parse().map_err(|_| shown(ApiError::NotFound))?;
    let event = webhooks::replay(state, store, signed.environment(), id)
        .await
        .map_err(shown)?;
    Ok(format!("Event {} queued again.", event.provider_event_id))
}
