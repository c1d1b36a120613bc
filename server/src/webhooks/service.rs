//! Receiving a delivery (verify with the provider's scheme, store, wake the workers), and the
//! store's view of its events.

use chrono::Utc;
use http::HeaderMap;

use super::{Error, EventPage, EventQuery, EventStatus, Received, WebhookEvent, repo};
use crate::types::TextValue;
use crate::{
    credentials::{self, Credentials},
    providers::signature::SignatureError,
    state::AppState,
    types::{Environment, InvalidValue, StoreId},
};

/// Largest payload kept for a rejected delivery (it is shown in the console, never processed).
const REJECTED_PAYLOAD_LIMIT: usize = 16 * 1024;

/// Largest page of events.
const MAX_PAGE: u32 = 100;

fn rejected_sample_period() -> chrono::Duration {
    chrono::Duration::minutes(1)
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

/// The store's credentials for a provider, with the environment each belongs to.
async fn credentials_by_env(
    state: &AppState,
    store: StoreId,
    provider: &str,
) -> Result<Vec<(Environment, Credentials)>, Error> {
    let mut found = Vec::new();
    for env in [Environment::Sandbox, Environment::Production] {
        match credentials::load(state, store, provider, env).await {
            Ok(Some(credentials)) => found.push((env, credentials)),
            Ok(None) => {}
            Err(err) => {
                tracing::error!(error = %err, "cannot read webhook secrets");
                return Err(Error::SecretsUnreadable);
            }
        }
    }
    Ok(found)
}

/// Verifies a delivery with the provider's own scheme and stores it (once per provider event
/// id). The secret that verifies decides the event's environment: a sandbox secret can never
/// speak for production money.
pub async fn receive(
    state: &AppState,
    provider_name: &str,
    store: StoreId,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<Received, Error> {
    let Some(adapter) = state.account_adapter(provider_name) else {
        count_rejected("unknown", "unknown_provider");
        return Err(Error::NotFound);
    };
    let provider = adapter.name();
    let secrets = credentials_by_env(state, store, provider).await?;
    // Tolerance is about the network, so wall time (the sender's clock is a real one too).
    let now = Utc::now().timestamp();
    let mut verdict = Err(SignatureError::Mismatch);
    for (env, credentials) in &secrets {
        verdict = adapter
            .verify_webhook(credentials, headers, body, now)
            .map(|()| (*env, credentials));
        if verdict.is_ok() {
            break;
        }
    }
    let (environment, credentials) = match verdict {
        Ok(found) => found,
        Err(err) => {
            if secrets.is_empty() {
                count_rejected(provider, "unknown_store");
            } else {
                count_rejected(provider, rejection_reason(err));
                record_rejected(state, store, provider, headers, body, err).await;
            }
            return Err(Error::Signature(err));
        }
    };
    let payload: serde_json::Value = serde_json::from_slice(body)
        .map_err(|e| Error::InvalidBody(format!("the event is not JSON: {e}")))?;
    if !adapter.is_about_account(credentials, &payload) {
        // Acknowledged, so the sender stops; never stored against this store.
        count_rejected(provider, "other_account");
        return Ok(Received {
            id: None,
            duplicate: false,
        });
    }
    let event_id = adapter
        .event_id(headers, &payload)
        .filter(|id| !id.is_empty() && id.len() <= 255)
        .ok_or_else(|| InvalidValue::new("id", "the event has no usable id"))?;
    let event_type = payload["type"]
        .as_str()
        .unwrap_or("unknown")
        .chars()
        .take(100)
        .collect::<String>();
    let id = uuid::Uuid::now_v7();
    let stored = state
        .webhook_ingest
        .store(crate::webhook_inbox::Verified {
            id,
            store,
            provider,
            event_id,
            event_type,
            payload: String::from_utf8_lossy(body).into_owned(),
            environment,
            now: state.clock.now(),
        })
        .await?;
    // Stored; the sender has not heard so, and will deliver it again.
    crate::crash_point!("webhooks.receive.after_store");
    if stored {
        state.webhook_wakeup.notify_one();
    }
    Ok(Received {
        id: stored.then_some(id),
        duplicate: !stored,
    })
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
    let sample = repo::Rejected {
        store,
        provider,
        event_id: &event_id,
        payload: &payload,
        reason: err.to_string(),
        now,
        sampled_since: now - rejected_sample_period(),
    };
    match repo::insert_rejected_sample(&state.db, &sample).await {
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

/// A page of a store's events, newest first; `status=dead` is the dead-letter queue.
pub async fn list(
    state: &AppState,
    store: StoreId,
    env: Environment,
    query: &EventQuery,
) -> Result<EventPage, Error> {
    let limit = match query.limit {
        None => 20,
        Some(n) if (1..=MAX_PAGE).contains(&n) => n,
        Some(_) => {
            return Err(InvalidValue::new("limit", "must be between 1 and 100").into());
        }
    };
    let status = match query.status.as_deref().filter(|s| !s.is_empty()) {
        None => None,
        Some(s) => Some(
            EventStatus::from_text(s)
                .ok_or_else(|| InvalidValue::new("status", "not an event status"))?,
        ),
    };
    let filter = repo::Filter {
        status,
        provider: query.provider.as_deref().filter(|p| !p.is_empty()),
        before: query.starting_after.unwrap_or(uuid::Uuid::max()),
        limit: i64::from(limit) + 1,
    };
    let rows = repo::list(&state.db, store, env, &filter).await?;
    let has_more = rows.len() > limit as usize;
    Ok(EventPage {
        data: rows.into_iter().take(limit as usize).collect(),
        has_more,
    })
}

/// One event of the store in the environment.
pub async fn find(
    state: &AppState,
    store: StoreId,
    env: Environment,
    id: uuid::Uuid,
) -> Result<WebhookEvent, Error> {
    repo::find(&state.db, store, env, id)
        .await?
        .ok_or(Error::NotFound)
}

/// Queues a processed or dead-lettered event for processing again (its attempts start over).
/// Processing is idempotent: a replay of an applied event changes nothing.
pub async fn replay(
    state: &AppState,
    store: StoreId,
    env: Environment,
    id: uuid::Uuid,
) -> Result<WebhookEvent, Error> {
    let event = find(state, store, env, id).await?;
    if !event.signature_valid {
        return Err(Error::NotReplayable(
            "a delivery whose signature did not verify is never processed".to_owned(),
        ));
    }
    if repo::requeue(&state.db, store, id, state.clock.now()).await? == 0 {
        return Err(Error::NotReplayable(format!(
            "the event is {}; only processed or dead events can be replayed",
            event.status.as_text()
        )));
    }
    state.webhook_wakeup.notify_one();
    find(state, store, env, id).await
}
