//! The webhook work queue in the database. A worker *claims* due events (status `processing`
//! with a lease); on PostgreSQL `FOR UPDATE SKIP LOCKED` lets any number of processes claim
//! concurrently without ever taking the same event; SQLite serializes writers. A worker that
//! dies leaves its claims to expire, and they become claimable again. Processing is idempotent
//! (the payment ledger's guards), so an event processed again after a lost lease changes nothing.

use std::time::Duration;

use chrono::{DateTime, Utc};
use rand::Rng;
use tokio::task::JoinHandle;

use crate::{db::Db, db::DbError, state::AppState, types::StoreId};

/// How long a claim is held before another worker may take the event over.
pub const LEASE_SECS: i64 = 60;
/// Events claimed per round.
const BATCH: i64 = 32;
/// First retry delay; doubled per attempt, capped at an hour, with ±20 % jitter.
const BACKOFF_BASE_SECS: i64 = 2;
/// Idle workers look for due events this often (stored events also wake them at once).
const POLL: Duration = Duration::from_secs(1);

/// A claimed event.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Claimed {
    /// Event id.
    pub id: uuid::Uuid,
    /// Its store.
    pub store_id: StoreId,
    /// Provider.
    pub provider: String,
    /// Event type.
    pub event_type: String,
    /// Raw body.
    pub payload: String,
    /// The environment whose secret verified it.
    pub environment: Option<String>,
    /// Attempts including this one.
    pub attempt_count: i32,
    /// The lease: finishing requires it to be unchanged.
    pub locked_until: DateTime<Utc>,
}

fn claim_sql(db: &Db) -> &'static str {
    match db {
        Db::Postgres(_) => {
            "UPDATE webhook_events SET status = 'processing', locked_until = $2, \
             attempt_count = attempt_count + 1 WHERE id IN (SELECT id FROM webhook_events \
             WHERE (status = 'pending' AND next_attempt_at <= $1) \
             OR (status = 'processing' AND locked_until <= $1) \
             ORDER BY received_at LIMIT $3 FOR UPDATE SKIP LOCKED) \
             RETURNING id, store_id, provider, event_type, payload, environment, attempt_count, locked_until"
        }
        Db::Sqlite(_) => {
            "UPDATE webhook_events SET status = 'processing', locked_until = $2, \
             attempt_count = attempt_count + 1 WHERE id IN (SELECT id FROM webhook_events \
             WHERE (status = 'pending' AND next_attempt_at <= $1) \
             OR (status = 'processing' AND locked_until <= $1) \
             ORDER BY received_at LIMIT $3) \
             RETURNING id, store_id, provider, event_type, payload, environment, attempt_count, locked_until"
        }
    }
}

/// Claims up to `limit` due events (and events whose lease expired).
pub async fn claim(state: &AppState, limit: i64) -> Result<Vec<Claimed>, DbError> {
    let now = state.clock.now();
    let lease = now + chrono::Duration::seconds(LEASE_SECS);
    let sql = claim_sql(&state.db);
    Ok(crate::on_db!(&state.db, pool => {
        sqlx::query_as(sql).bind(now).bind(lease).bind(limit).fetch_all(pool).await
    })?)
}

fn backoff(attempt: i32) -> chrono::Duration {
    let exp = attempt.clamp(1, 12) - 1;
    let secs = (BACKOFF_BASE_SECS << exp).min(3600) as f64;
    let jitter = rand::thread_rng().gen_range(0.8..1.2);
    chrono::Duration::milliseconds((secs * jitter * 1000.0) as i64)
}

async fn finish(
    state: &AppState,
    event: &Claimed,
    result: Result<(), String>,
) -> Result<(), DbError> {
    let now = state.clock.now();
    let (sql, error, next): (&str, Option<String>, Option<DateTime<Utc>>) = match result {
        Ok(()) => (
            "UPDATE webhook_events SET status = 'processed', processed_at = $3, locked_until = NULL, \
             last_error = $4, next_attempt_at = $5 WHERE id = $1 AND status = 'processing' AND locked_until = $2",
            None,
            None,
        ),
        Err(err) if event.attempt_count >= state.config.webhook_max_attempts => {
            tracing::warn!(event = %event.id, attempts = event.attempt_count, error = %err, "webhook event dead-lettered");
            (
                "UPDATE webhook_events SET status = 'dead', processed_at = NULL, locked_until = NULL, \
                 last_error = $4, next_attempt_at = $5 WHERE id = $1 AND status = 'processing' AND locked_until = $2 \
                 AND $3 IS NOT NULL",
                Some(err),
                None,
            )
        }
        Err(err) => {
            tracing::info!(event = %event.id, attempts = event.attempt_count, error = %err, "webhook event will be retried");
            (
                "UPDATE webhook_events SET status = 'pending', locked_until = NULL, last_error = $4, \
                 next_attempt_at = $5 WHERE id = $1 AND status = 'processing' AND locked_until = $2 \
                 AND $3 IS NOT NULL",
                Some(err),
                Some(now + backoff(event.attempt_count)),
            )
        }
    };
    crate::on_db!(&state.db, pool => {
        sqlx::query(sql).bind(event.id).bind(event.locked_until).bind(now).bind(&error).bind(next)
            .execute(pool).await.map(|r| r.rows_affected())
    })?;
    Ok(())
}

/// Marks processed, in one statement and commit, the events of a round that succeeded (they
/// share the round's lease). A crash before it leaves them to be processed again after the
/// lease, which changes nothing.
async fn finish_processed(state: &AppState, events: &[&Claimed]) -> Result<(), DbError> {
    let Some(first) = events.first() else {
        return Ok(());
    };
    let placeholders: Vec<String> = (0..events.len()).map(|i| format!("${}", i + 3)).collect();
    let sql = format!(
        "UPDATE webhook_events SET status = 'processed', processed_at = $1, locked_until = NULL, \
         last_error = NULL, next_attempt_at = NULL WHERE status = 'processing' \
         AND locked_until = $2 AND id IN ({})",
        placeholders.join(", ")
    );
    let now = state.clock.now();
    crate::on_db!(&state.db, pool => {
        let mut query = sqlx::query(&sql).bind(now).bind(first.locked_until);
        for event in events {
            query = query.bind(event.id);
        }
        query.execute(pool).await.map(|r| r.rows_affected())
    })?;
    Ok(())
}

/// One round: claims due events, processes them, records the outcomes (the successes in one
/// statement). Returns how many were claimed.
pub async fn process_due(state: &AppState) -> Result<usize, DbError> {
    let claimed = claim(state, BATCH).await?;
    let n = claimed.len();
    let mut processed = Vec::with_capacity(n);
    if n > 0 {
        // Claimed under a lease; nothing processed.
        crate::crash_point!("webhooks.process.after_claim");
    }
    for event in &claimed {
        let result = super::process_event(state, event).await;
        // The event's effect is committed; the event is not marked processed.
        crate::crash_point!("webhooks.process.after_effect");
        match result {
            // Every event of a round carries the round's lease.
            Ok(()) if event.locked_until == claimed[0].locked_until => processed.push(event),
            result => finish(state, event, result).await?,
        }
    }
    finish_processed(state, &processed).await?;
    Ok(n)
}

/// Starts `CASSA_WEBHOOK_WORKERS` worker loops; they stop when the server shuts down.
pub fn spawn_workers(state: AppState) -> Vec<JoinHandle<()>> {
    (0..state.config.webhook_workers)
        .map(|_| {
            let state = state.clone();
            tokio::spawn(async move {
                let token = state.shutdown.clone();
                loop {
                    let busy = match process_due(&state).await {
                        Ok(n) => n > 0,
                        Err(err) => {
                            tracing::warn!(error = %err, "webhook worker round failed");
                            false
                        }
                    };
                    if busy {
                        if token.is_cancelled() {
                            break;
                        }
                        continue;
                    }
                    tokio::select! {
                        _ = token.cancelled() => break,
                        _ = state.webhook_wakeup.notified() => {}
                        _ = tokio::time::sleep(POLL) => {}
                    }
                }
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_with_jitter_and_is_capped() {
        for attempt in 1..20 {
            let d = backoff(attempt).num_milliseconds() as f64 / 1000.0;
            let nominal = (BACKOFF_BASE_SECS << (attempt.clamp(1, 12) - 1)).min(3600) as f64;
            assert!(d >= nominal * 0.8 && d <= nominal * 1.2, "{attempt}: {d}");
        }
    }
}
