//! `POST /api/v1/webhooks/{provider}/{store_id}` (public, signed) and the admin views.

use axum::{
    Json,
    body::Bytes,
    extract::State,
    http::{HeaderMap, StatusCode},
};
use utoipa_axum::{router::OpenApiRouter, routes};

use super::{EVENT_COLUMNS, EventPage, EventQuery, Received, WebhookEvent};
use crate::{
    auth::principal::StoreScope,
    credentials::{self, Credentials},
    db::DbError,
    http::{
        extract::{ApiPath, ApiQuery},
        pagination::PageQuery,
        problem::{ApiError, Problem},
    },
    on_db,
    providers::signature::SignatureError,
    state::AppState,
    types::{Environment, InvalidValue, StoreId},
};

/// The public receiving endpoint (under `/api/v1`).
pub fn public_router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(receive))
}

/// Store routes (under `/api/v1/admin`).
pub fn admin_router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_events))
        .routes(routes!(get_event))
        .routes(routes!(replay_event))
}

/// The store's credentials for a provider, with the environment each belongs to.
async fn credentials_by_env(
    state: &AppState,
    store: StoreId,
    provider: &str,
) -> Result<Vec<(Environment, Credentials)>, ApiError> {
    let mut found = Vec::new();
    for env in [Environment::Sandbox, Environment::Production] {
        match credentials::load(state, store, provider, env).await {
            Ok(Some(credentials)) => found.push((env, credentials)),
            Ok(None) => {}
            Err(err) => {
                tracing::error!(error = %err, "cannot read webhook secrets");
                return Err(ApiError::Internal(anyhow::anyhow!(
                    "webhook secrets unreadable"
                )));
            }
        }
    }
    Ok(found)
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

/// Largest payload kept for a rejected delivery (it is shown in the console, never processed).
const REJECTED_PAYLOAD_LIMIT: usize = 16 * 1024;

/// Receives a provider's webhook: verified, stored, answered.
///
/// `200` once the event is stored (or was stored before: `duplicate: true`); processing happens
/// afterwards. A bad or stale signature is `401 invalid_signature` and missing signature headers
/// `400 invalid_signature`; such deliveries are counted, sampled for the console (one a minute
/// per store) and never processed.
#[utoipa::path(
    post,
    path = "/webhooks/{provider}/{store_id}",
    tag = "webhooks",
    params(
        ("provider" = String, Path, description = "`sandbox` (Standard Webhooks) or `stripe`"),
        ("store_id" = String, Path, description = "The store whose provider account sends it"),
    ),
    request_body(content = String, description = "The provider's event, as signed", content_type = "application/json"),
    responses(
        (status = 200, description = "Stored", body = Received),
        (status = 400, description = "Missing signature headers", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "Invalid or stale signature", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "Unknown provider", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn receive(
    State(state): State<AppState>,
    ApiPath((provider_name, store_id)): ApiPath<(String, StoreId)>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<Received>, ApiError> {
    let Some(adapter) = state.payment_providers.get(&provider_name).cloned() else {
        count_rejected("unknown", "unknown_provider");
        return Err(ApiError::NotFound);
    };
    let provider = adapter.name();
    let secrets = credentials_by_env(&state, store_id, provider).await?;
    // Tolerance is about the network, so wall time (the sender's clock is a real one too).
    let now = chrono::Utc::now().timestamp();
    // The secret that verifies decides the event's environment: a sandbox secret can never
    // speak for production money.
    let mut verdict = Err(SignatureError::Mismatch);
    for (env, credentials) in &secrets {
        verdict = adapter
            .verify_webhook(credentials, &headers, &body, now)
            .map(|()| *env);
        if verdict.is_ok() {
            break;
        }
    }
    let environment = match verdict {
        Ok(env) => env,
        Err(err) => {
            if secrets.is_empty() {
                count_rejected(provider, "unknown_store");
            } else {
                count_rejected(provider, rejection_reason(err));
                record_rejected(&state, store_id, provider, &headers, &body, err).await;
            }
            return Err(ApiError::InvalidSignature(err));
        }
    };
    let payload: serde_json::Value = serde_json::from_slice(&body)
        .map_err(|e| ApiError::InvalidBody(format!("the event is not JSON: {e}")))?;
    let event_id = adapter
        .event_id(&headers, &payload)
        .filter(|id| !id.is_empty() && id.len() <= 255)
        .ok_or_else(|| InvalidValue::new("id", "the event has no usable id"))?;
    let event_type = payload["type"]
        .as_str()
        .unwrap_or("unknown")
        .chars()
        .take(100)
        .collect::<String>();
    let id = uuid::Uuid::now_v7();
    let now = state.clock.now();
    const SQL: &str = "INSERT INTO webhook_events (id, store_id, provider, provider_event_id, event_type, \
        signature_valid, payload, status, attempt_count, next_attempt_at, received_at, environment) \
        VALUES ($1, $2, $3, $4, $5, $6, $7, 'pending', 0, $8, $8, $9) \
        ON CONFLICT (store_id, provider, provider_event_id) WHERE signature_valid DO NOTHING";
    let payload_text = String::from_utf8_lossy(&body);
    let inserted = on_db!(&state.db, pool => {
        sqlx::query(SQL).bind(id).bind(store_id).bind(provider).bind(&event_id)
            .bind(&event_type).bind(true).bind(payload_text.as_ref()).bind(now)
            .bind(environment.as_str())
            .execute(pool).await.map(|r| r.rows_affected())
    })
    .map_err(DbError::from)?;
    if inserted == 1 {
        state.webhook_wakeup.notify_one();
    }
    Ok(Json(Received {
        id: (inserted == 1).then_some(id),
        duplicate: inserted == 0,
    }))
}

/// How long one stored sample of a store's rejected deliveries stands for all others.
fn rejected_sample_period() -> chrono::Duration {
    chrono::Duration::minutes(1)
}

fn rejection_reason(err: SignatureError) -> &'static str {
    match err {
        SignatureError::MissingHeaders => "missing_headers",
        SignatureError::Stale => "stale",
        SignatureError::Mismatch => "bad_signature",
        SignatureError::BadSecret => "bad_secret",
    }
}

/// Every rejected delivery is counted (labels are bounded: no store ids), whether or not a
/// sample of it is stored.
fn count_rejected(provider: &'static str, reason: &'static str) {
    metrics::counter!("webhook_deliveries_rejected_total", "provider" => provider, "reason" => reason)
        .increment(1);
}

/// Keeps a sample of rejected deliveries for the console: at most one per store and provider
/// per minute (two racing processes may both store one), so a flood of forged deliveries
/// costs one row a minute instead of one row each. Failure to record never changes the answer.
async fn record_rejected(
    state: &AppState,
    store: StoreId,
    provider: &'static str,
    headers: &HeaderMap,
    body: &[u8],
    err: SignatureError,
) {
    let event_id = header(headers, "webhook-id")
        .unwrap_or("unknown")
        .chars()
        .take(255)
        .collect::<String>();
    let payload =
        String::from_utf8_lossy(&body[..body.len().min(REJECTED_PAYLOAD_LIMIT)]).into_owned();
    let now = state.clock.now();
    const SQL: &str = "INSERT INTO webhook_events (id, store_id, provider, provider_event_id, event_type, \
        signature_valid, payload, status, attempt_count, last_error, received_at) \
        SELECT $1, $2, $3, $4, 'unverified', $5, $6, 'rejected', 0, $7, $8 \
        WHERE NOT EXISTS (SELECT 1 FROM webhook_events WHERE store_id = $2 AND provider = $3 \
        AND status = 'rejected' AND received_at > $9)";
    let written = on_db!(&state.db, pool => {
        sqlx::query(SQL).bind(uuid::Uuid::now_v7()).bind(store).bind(provider).bind(&event_id)
            .bind(false).bind(&payload).bind(err.to_string()).bind(now)
            .bind(now - rejected_sample_period())
            .execute(pool).await.map(|r| r.rows_affected())
    });
    match written {
        Ok(stored) => tracing::warn!(
            provider,
            %store,
            reason = %err,
            sampled = stored == 1,
            "rejected a webhook delivery"
        ),
        Err(e) => tracing::warn!(error = %e, "could not record a rejected webhook"),
    }
}

/// The store's webhook events, newest first; `status=dead` is the dead-letter queue.
#[utoipa::path(
    get,
    path = "/webhooks/events",
    tag = "webhooks",
    params(EventQuery),
    responses((status = 200, description = "A page of events", body = EventPage)),
    security(("bearer" = []))
)]
pub async fn list_events(
    State(state): State<AppState>,
    scope: StoreScope,
    ApiQuery(query): ApiQuery<EventQuery>,
) -> Result<Json<EventPage>, ApiError> {
    Ok(Json(
        list(&state, scope.store_id, scope.environment, &query).await?,
    ))
}

/// A page of a store's events.
pub async fn list(
    state: &AppState,
    store: StoreId,
    env: Environment,
    query: &EventQuery,
) -> Result<EventPage, ApiError> {
    let limit = PageQuery {
        limit: query.limit,
        starting_after: None,
    }
    .limit()?;
    const STATUSES: [&str; 5] = ["pending", "processing", "processed", "dead", "rejected"];
    let status = match query.status.as_deref().filter(|s| !s.is_empty()) {
        None => None,
        Some(s) => Some(
            *STATUSES
                .iter()
                .find(|x| **x == s)
                .ok_or_else(|| InvalidValue::new("status", "not an event status"))?,
        ),
    };
    let provider = query.provider.as_deref().filter(|p| !p.is_empty());
    let before = query.starting_after.unwrap_or(uuid::Uuid::max());
    let sql = format!(
        "SELECT {EVENT_COLUMNS} FROM webhook_events WHERE store_id = $1 AND id < $2 \
         AND ($3 IS NULL OR status = $3) AND ($4 IS NULL OR provider = $4) {IN_ENVIRONMENT} \
         ORDER BY id DESC LIMIT $5"
    );
    let rows: Vec<WebhookEvent> = on_db!(&state.db, pool => {
        sqlx::query_as(&sql).bind(store).bind(before).bind(status).bind(provider)
            .bind(i64::from(limit) + 1).bind(env.as_str()).fetch_all(pool).await
    })
    .map_err(DbError::from)?;
    let has_more = rows.len() > limit as usize;
    Ok(EventPage {
        data: rows.into_iter().take(limit as usize).collect(),
        has_more,
    })
}

/// Events of the caller's environment (`$6`), and deliveries no secret verified (they belong to
/// none and are never processed).
const IN_ENVIRONMENT: &str =
    "AND (environment = $6 OR (environment IS NULL AND NOT signature_valid))";

async fn find(
    state: &AppState,
    store: StoreId,
    env: Environment,
    id: uuid::Uuid,
) -> Result<WebhookEvent, ApiError> {
    let sql = format!(
        "SELECT {EVENT_COLUMNS} FROM webhook_events WHERE id = $1 AND store_id = $2 \
         AND (environment = $3 OR (environment IS NULL AND NOT signature_valid))"
    );
    let row: Option<WebhookEvent> = on_db!(&state.db, pool => {
        sqlx::query_as(&sql).bind(id).bind(store).bind(env.as_str()).fetch_optional(pool).await
    })
    .map_err(DbError::from)?;
    row.ok_or(ApiError::NotFound)
}

/// One webhook event of the store.
#[utoipa::path(
    get,
    path = "/webhooks/events/{event_id}",
    tag = "webhooks",
    params(("event_id" = String, Path, description = "Event id")),
    responses(
        (status = 200, description = "The event", body = WebhookEvent),
        (status = 404, description = "No such event in this store", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
pub async fn get_event(
    State(state): State<AppState>,
    scope: StoreScope,
    ApiPath(event_id): ApiPath<uuid::Uuid>,
) -> Result<Json<WebhookEvent>, ApiError> {
    Ok(Json(
        find(&state, scope.store_id, scope.environment, event_id).await?,
    ))
}

/// Queues a processed or dead-lettered event for processing again (its attempts start over).
/// Processing is idempotent: a replay of an applied event changes nothing.
pub async fn replay(
    state: &AppState,
    store: StoreId,
    env: Environment,
    id: uuid::Uuid,
) -> Result<WebhookEvent, ApiError> {
    let event = find(state, store, env, id).await?;
    if !event.signature_valid {
        return Err(ApiError::InvalidStateTransition(
            "a delivery whose signature did not verify is never processed".to_owned(),
        ));
    }
    const SQL: &str = "UPDATE webhook_events SET status = 'pending', attempt_count = 0, \
        next_attempt_at = $3, locked_until = NULL WHERE id = $1 AND store_id = $2 \
        AND status IN ('processed', 'dead')";
    let updated = on_db!(&state.db, pool => {
        sqlx::query(SQL).bind(id).bind(store).bind(state.clock.now()).execute(pool).await.map(|r| r.rows_affected())
    })
    .map_err(DbError::from)?;
    if updated == 0 {
        return Err(ApiError::InvalidStateTransition(format!(
            "the event is {}; only processed or dead events can be replayed",
            event.status
        )));
    }
    state.webhook_wakeup.notify_one();
    find(state, store, env, id).await
}

/// Replays an event.
#[utoipa::path(
    post,
    path = "/webhooks/events/{event_id}/replay",
    tag = "webhooks",
    params(("event_id" = String, Path, description = "Event id")),
    responses(
        (status = 202, description = "Queued again", body = WebhookEvent),
        (status = 404, description = "No such event in this store", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Not processed or dead, or never verified", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
pub async fn replay_event(
    State(state): State<AppState>,
    scope: StoreScope,
    ApiPath(event_id): ApiPath<uuid::Uuid>,
) -> Result<(StatusCode, Json<WebhookEvent>), ApiError> {
    Ok((
        StatusCode::ACCEPTED,
        Json(replay(&state, scope.store_id, scope.environment, event_id).await?),
    ))
}
