//! Filing tax transactions with the tax service that quoted them. The filing is written in the
//! transaction that records the tax (an outbox), then sent by a worker under the tax
//! transaction's id as idempotency key: a crash, a lost answer or a second server sends it again
//! and the service records it once. A service that refuses a filing marks it `failed` (shown on
//! the order's tax) instead of retrying forever.

use std::time::Duration;

use chrono::{DateTime, Utc};
use rand::Rng;
use serde::Serialize;
use tokio::task::JoinHandle;
use utoipa::ToSchema;
use uuid::Uuid;

use super::engine_repo::{self, Claimed, NewFiling, Outcome};
use crate::{
    credentials,
    db::{DbError, Tx},
    providers::tax::{DocumentKind, TaxDocument, TaxEngineError},
    state::AppState,
    types::{Environment, OrderId, StoreId},
};

/// Filings claimed per round (sent one after another, each within the provider timeout).
const BATCH: i64 = 8;
/// Attempts before a filing the service keeps failing is marked `failed` (about 3 days at the
/// capped backoff below).
pub const MAX_ATTEMPTS: i32 = 80;
/// Idle workers look for due filings this often.
const POLL: Duration = Duration::from_secs(1);

/// Where a tax transaction is filed, written in its transaction; the filing as it stands then.
pub async fn enqueue(
    tx: &mut Tx,
    store: StoreId,
    env: Environment,
    order: OrderId,
    engine: &str,
    document: &TaxDocument,
    at: DateTime<Utc>,
) -> Result<Filing, DbError> {
    let id = Uuid::parse_str(&document.code)
        .map_err(|e| DbError::Query(sqlx::Error::Decode(e.into())))?;
    let text = serde_json::to_string(document)
        .map_err(|e| DbError::Query(sqlx::Error::Decode(e.into())))?;
    engine_repo::insert_filing(
        tx,
        &NewFiling {
            id,
            store,
            env,
            order,
            engine,
            kind: document.kind.as_str(),
            document: text,
            at,
        },
    )
    .await?;
    Ok(Filing {
        engine: engine.to_owned(),
        kind: document.kind.as_str().to_owned(),
        status: "pending".to_owned(),
        attempts: 0,
        last_error: None,
        sent_at: None,
    })
}

/// Puts an order's failed filings back in the queue; how many.
pub async fn retry_failed(state: &AppState, order: OrderId) -> Result<u64, DbError> {
    engine_repo::requeue_failed(&state.db, order, state.clock.now()).await
}

/// A filing as an order's tax shows it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Filing {
    /// The tax service.
    pub engine: String,
    /// `commit`, `refund` or `void`.
    pub kind: String,
    /// `pending`, `processing`, `sent` or `failed`.
    pub status: String,
    /// Attempts so far.
    pub attempts: i32,
    /// Why the last attempt failed.
    pub last_error: Option<String>,
    /// When the service took it.
    pub sent_at: Option<DateTime<Utc>>,
}

impl From<engine_repo::FilingRow> for Filing {
    fn from(row: engine_repo::FilingRow) -> Self {
        Filing {
            engine: row.engine,
            kind: row.kind,
            status: row.status,
            attempts: row.attempt_count,
            last_error: row.last_error,
            sent_at: row.sent_at,
        }
    }
}

fn backoff(attempt: i32) -> chrono::Duration {
    let exp = attempt.clamp(1, 12) - 1;
    let secs = (2_i64 << exp).min(3600);
    let jitter = rand::thread_rng().gen_range(800..1200);
    chrono::Duration::milliseconds(secs * jitter)
}

async fn send(state: &AppState, call: &Claimed) -> Result<(), TaxEngineError> {
    let document: TaxDocument =
        serde_json::from_str(&call.document).map_err(|e| TaxEngineError::Rejected {
            code: "unreadable_document".to_owned(),
            message: e.to_string(),
        })?;
    // The credentials are read per filing: a merchant who fixes them unblocks the queue.
    let client = credentials::tax_client(state, call.store_id, &call.engine, call.environment)
        .await
        .map_err(|e| TaxEngineError::Unavailable(e.to_string()))?;
    client.record(&document).await
}

/// One round: claims due filings, sends them, records the outcomes. Returns how many were
/// claimed.
pub async fn deliver_due(state: &AppState) -> Result<usize, DbError> {
    let now = state.clock.now();
    // The lease outlasts a round whose every call takes the whole timeout, so no other worker
    // takes a filing over while this one may still be sending it.
    let round = state.config.provider_timeout * (BATCH as u32) + std::time::Duration::from_secs(30);
    let lease = chrono::Duration::from_std(round).unwrap_or(chrono::Duration::minutes(10));
    let claimed = engine_repo::claim(&state.db, now, now + lease, BATCH).await?;
    for call in &claimed {
        let outcome = match send(state, call).await {
            Ok(()) => Outcome::Sent,
            Err(TaxEngineError::Unavailable(error)) if call.attempt_count < MAX_ATTEMPTS => {
                tracing::info!(filing = %call.id, attempts = call.attempt_count, %error, "tax filing will be retried");
                Outcome::Retry {
                    error,
                    at: state.clock.now() + backoff(call.attempt_count),
                }
            }
            Err(err) => {
                tracing::warn!(filing = %call.id, attempts = call.attempt_count, error = %err, "tax filing failed");
                Outcome::Failed {
                    error: err.to_string(),
                }
            }
        };
        engine_repo::finish(&state.db, call, &outcome, state.clock.now()).await?;
    }
    Ok(claimed.len())
}

/// Runs [`deliver_due`] until shutdown.
pub fn spawn_filer(state: AppState) -> JoinHandle<()> {
    tokio::spawn(async move {
        let token = state.shutdown.clone();
        loop {
            match deliver_due(&state).await {
                // A full batch: more may be due at once (unless the server is stopping).
                Ok(n) if n as i64 == BATCH && !token.is_cancelled() => continue,
                Ok(_) => {}
                Err(err) => tracing::warn!(error = %err, "tax filing round failed"),
            }
            tokio::select! {
                _ = token.cancelled() => break,
                _ = tokio::time::sleep(POLL) => {}
            }
        }
    })
}

/// What a reversal is at the service: money given back, or a sale that did not happen.
pub fn reversal_kind(trigger: super::Trigger) -> DocumentKind {
    match trigger {
        super::Trigger::Void(_) => DocumentKind::Void,
        super::Trigger::Refund(_)
        | super::Trigger::Capture(_)
        | super::Trigger::Finalize
        | super::Trigger::RefundReversal(_) => DocumentKind::Refund,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_to_an_hour_with_jitter() {
        let secs = |a| backoff(a).num_milliseconds() as f64 / 1000.0;
        assert!((1.6..=2.4).contains(&secs(1)));
        assert!((3.2..=4.8).contains(&secs(2)));
        assert!((2880.0..=4320.0).contains(&secs(40)));
    }

    #[test]
    fn the_retry_schedule_spans_about_three_days() {
        // Without jitter: 2 s doubling to the hour cap, MAX_ATTEMPTS attempts.
        let total: i64 = (1..MAX_ATTEMPTS)
            .map(|a| (2_i64 << (a.clamp(1, 12) - 1)).min(3600))
            .sum();
        assert!((2 * 86_400..4 * 86_400).contains(&total), "{total} s");
    }
}
