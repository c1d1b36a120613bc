//! An endpoint's delivery log, and sending again: one delivery, a time range of them, or a
//! test ping.

use std::collections::HashMap;

use chrono::{DateTime, Utc};

use super::{
    Attempt, Delivery, DeliveryPage, DeliveryQuery, DeliveryStatus, Error, EventType, NewEvent,
    ResendRange, Resent, endpoint_repo,
    log_repo::{self, AttemptRow, DeliveryRow, Filter, Range, Which},
};
use crate::{
    pagination::PageQuery,
    state::AppState,
    types::{Environment, InvalidValue, StoreId, TextValue, WebhookDeliveryId, WebhookEndpointId},
};

/// Most deliveries one bulk resend queues again.
pub const MAX_RESEND: i64 = 1000;

fn view(row: DeliveryRow, attempts: Vec<Attempt>) -> Delivery {
    Delivery {
        id: row.id,
        event_id: row.event_id.public(),
        event_type: row.event_type,
        status: row.status,
        attempt_count: row.attempt_count,
        next_attempt_at: row.next_attempt_at,
        last_status_code: row.last_status_code,
        last_error: row.last_error,
        created_at: row.created_at,
        delivered_at: row.delivered_at,
        attempts,
    }
}

/// Views of `rows` with their newest attempts (one query for all of them).
async fn views(state: &AppState, rows: Vec<DeliveryRow>) -> Result<Vec<Delivery>, Error> {
    let ids: Vec<WebhookDeliveryId> = rows.iter().map(|r| r.id).collect();
    let mut by_delivery: HashMap<WebhookDeliveryId, Vec<Attempt>> = HashMap::new();
    for row in log_repo::attempts(&state.db, &ids).await? {
        let AttemptRow {
            delivery_id,
            attempted_at,
            status_code,
            latency_ms,
            error,
            response_body,
        } = row;
        by_delivery.entry(delivery_id).or_default().push(Attempt {
            attempted_at,
            status_code,
            latency_ms,
            error,
            response_body,
        });
    }
    Ok(rows
        .into_iter()
        .map(|row| {
            let attempts = by_delivery.remove(&row.id).unwrap_or_default();
            view(row, attempts)
        })
        .collect())
}

async fn one(state: &AppState, row: DeliveryRow) -> Result<Delivery, Error> {
    views(state, vec![row]).await?.pop().ok_or(Error::NotFound)
}

/// The endpoint, which must be the store's in `env`.
async fn endpoint_of(
    state: &AppState,
    store: StoreId,
    env: Environment,
    endpoint: WebhookEndpointId,
    must_be_enabled: bool,
) -> Result<(), Error> {
    let row = endpoint_repo::find(&state.db, store, env, endpoint)
        .await?
        .ok_or(Error::NotFound)?;
    if must_be_enabled && !row.enabled {
        return Err(Error::EndpointDisabled);
    }
    Ok(())
}

/// The endpoint's deliveries, newest first, each with its newest attempts.
pub async fn list(
    state: &AppState,
    store: StoreId,
    env: Environment,
    endpoint: WebhookEndpointId,
    query: &DeliveryQuery,
) -> Result<DeliveryPage, Error> {
    endpoint_of(state, store, env, endpoint, false).await?;
    // The project's one page-size rule (1–100, default 20).
    let limit = PageQuery {
        limit: query.limit,
        starting_after: None,
    }
    .limit()?;
    let status = match query.status.as_deref().filter(|s| !s.is_empty()) {
        None => None,
        Some(s) => Some(
            DeliveryStatus::from_text(s)
                .ok_or_else(|| InvalidValue::new("status", "not a delivery status"))?,
        ),
    };
    let event_type = match query.event_type.as_deref().filter(|s| !s.is_empty()) {
        None => None,
        Some(s) => Some(
            s.parse::<EventType>()
                .map_err(|_| InvalidValue::new("event_type", "not an event type"))?
                .as_str(),
        ),
    };
    let filter = Filter {
        status,
        event_type,
        after: query.starting_after,
        limit: i64::from(limit) + 1,
    };
    let mut rows = log_repo::page(&state.db, endpoint, &filter).await?;
    let has_more = rows.len() > limit as usize;
    rows.truncate(limit as usize);
    Ok(DeliveryPage {
        data: views(state, rows).await?,
        has_more,
    })
}

/// Sends one delivery again (whatever its outcome so far), due now with a fresh schedule.
pub async fn resend(
    state: &AppState,
    store: StoreId,
    env: Environment,
    endpoint: WebhookEndpointId,
    delivery: WebhookDeliveryId,
) -> Result<Delivery, Error> {
    endpoint_of(state, store, env, endpoint, true).await?;
    let mut tx = state.db.begin_write().await?;
    let queued =
        log_repo::requeue(&mut tx, endpoint, Which::One(delivery), state.clock.now()).await?;
    tx.commit().await?;
    let row = log_repo::find(&state.db, endpoint, delivery)
        .await?
        .ok_or(Error::NotFound)?;
    if queued == 0 {
        return Err(Error::DeliveryInProgress);
    }
    super::wake(state);
    one(state, row).await
}

/// Sends again what the endpoint did not get of the events in `[from, to)`: deliveries that
/// failed for good or still wait (all of them with `include_succeeded`), and the events it
/// subscribes to that were emitted while it was disabled, at most [`MAX_RESEND`] at once; how
/// many were queued.
pub async fn resend_range(
    state: &AppState,
    store: StoreId,
    env: Environment,
    endpoint: WebhookEndpointId,
    range: &ResendRange,
) -> Result<Resent, Error> {
    endpoint_of(state, store, env, endpoint, true).await?;
    let from = range
        .from
        .ok_or_else(|| InvalidValue::new("from", "required"))?;
    let to = range
        .to
        .ok_or_else(|| InvalidValue::new("to", "required"))?;
    if from >= to {
        return Err(InvalidValue::new("to", "must be after from").into());
    }
    let now = state.clock.now();
    let range = Range {
        from,
        to,
        include_succeeded: range.include_succeeded,
        kept_since: state
            .config
            .retention
            .outbound_webhooks
            .map_or(DateTime::<Utc>::UNIX_EPOCH, |period| now - period),
    };
    let mut tx = state.db.begin_write().await?;
    // Resends of one endpoint take turns (its row locked on PostgreSQL; SQLite has one
    // writer): two at once would count and create the same missed deliveries.
    endpoint_repo::find_for_update(&mut tx, store, env, endpoint)
        .await?
        .ok_or(Error::NotFound)?;
    let count = log_repo::count_in_range(&mut tx, endpoint, range, now).await?;
    if count > MAX_RESEND {
        return Err(Error::TooManyToResend {
            count,
            max: MAX_RESEND,
        });
    }
    let queued = log_repo::requeue(&mut tx, endpoint, Which::Range(range), now).await?
        + log_repo::insert_missed(&mut tx, endpoint, range, now).await?;
    tx.commit().await?;
    if queued > 0 {
        super::wake(state);
    }
    tracing::info!(endpoint = %endpoint, queued, "webhook deliveries queued again");
    Ok(Resent {
        resent: i64::try_from(queued).unwrap_or(i64::MAX),
    })
}

/// Sends a `test.ping` event to the endpoint alone.
pub async fn ping(
    state: &AppState,
    store: StoreId,
    env: Environment,
    endpoint: WebhookEndpointId,
) -> Result<Delivery, Error> {
    endpoint_of(state, store, env, endpoint, true).await?;
    let object = serde_json::json!({
        "object": "ping",
        "endpoint_id": endpoint,
        "message": "A test event sent on request from Cassa",
    });
    let event = NewEvent::of(store, env, EventType::TestPing, &object, state.clock.now())?;
    let mut tx = state.db.begin_write().await?;
    let event_id = super::emit_to(&mut tx, event, endpoint.0).await?;
    tx.commit().await?;
    super::wake(state);
    let row = log_repo::find_by_event(&state.db, endpoint, event_id)
        .await?
        .ok_or(Error::NotFound)?;
    one(state, row).await
}
