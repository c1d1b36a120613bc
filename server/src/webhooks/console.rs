//! What the console shows of webhook events, built from the same queries as the admin API.

use app::backend::{WebhookEventView, WebhookEventsView};

use super::EventQuery;
use crate::{
    http::problem::ApiError,
    state::AppState,
    types::{Environment, StoreId},
};

/// A page of the store's events (`status` filters; `dead` is the dead-letter view).
pub async fn events(
    state: &AppState,
    store: StoreId,
    env: Environment,
    status: Option<String>,
    after: Option<String>,
) -> Result<WebhookEventsView, ApiError> {
    let query = EventQuery {
        status: status.filter(|s| !s.is_empty()),
        provider: None,
        limit: Some(50),
        starting_after: after.and_then(|a| a.parse().ok()),
    };
    let page = super::list(state, store, env, &query).await?;
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
                status: crate::types::TextValue::as_text(&e.status).to_owned(),
                attempt_count: e.attempt_count,
                last_error: e.last_error,
                next_attempt_at: e.next_attempt_at.map(|t| t.to_rfc3339()),
                received_at: e.received_at.to_rfc3339(),
                processed_at: e.processed_at.map(|t| t.to_rfc3339()),
                payload: serde_json::from_str::<serde_json::Value>(&e.payload)
                    .ok()
                    .and_then(|v| serde_json::to_string_pretty(&v).ok())
                    .unwrap_or(e.payload),
            })
            .collect(),
    })
}

/// Queues an event again; returns the confirmation to show.
pub async fn replay(
    state: &AppState,
    store: StoreId,
    env: Environment,
    event_id: &str,
) -> Result<String, ApiError> {
    let id = event_id.parse().map_err(|_| ApiError::NotFound)?;
    let event = super::replay(state, store, env, id).await?;
    Ok(format!("Event {} queued again.", event.provider_event_id))
}
