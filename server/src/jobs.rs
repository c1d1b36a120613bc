//! Background housekeeping. Each pass is an idempotent `DELETE` of expired rows, so any number
//! of server processes may run it against one database without coordination; the retention
//! pass that follows it takes a lease (see [`crate::retention`]).

use std::time::Duration;

use chrono::Utc;
use tokio::task::JoinHandle;

use crate::{db::DbError, on_db, state::AppState};

/// Time between housekeeping passes.
const HOUSEKEEPING_INTERVAL: Duration = Duration::from_secs(600);

/// Rows removed by one pass.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Purged {
    /// Expired scripting tokens.
    pub user_tokens: u64,
    /// Expired customer tokens.
    pub customer_tokens: u64,
    /// Expired console sessions.
    pub sessions: u64,
    /// Idempotency records past their retention.
    pub idempotency_keys: u64,
    /// Sign-in backoff rows idle for a day: an old run of failures is forgotten.
    pub sign_in_backoff: u64,
}

/// Deletes expired tokens (by the application clock) and sessions (by wall time, which is
/// what tower-sessions uses for their expiry).
pub async fn purge_expired(state: &AppState) -> Result<Purged, DbError> {
    let now = state.clock.now();
    let delete = |sql: &'static str, at: chrono::DateTime<Utc>| async move {
        on_db!(&state.db, pool => {
            sqlx::query(sql).bind(at).execute(pool).await.map(|r| r.rows_affected())
        })
        .map_err(DbError::from)
    };
    Ok(Purged {
        user_tokens: delete("DELETE FROM user_tokens WHERE expires_at <= $1", now).await?,
        customer_tokens: delete("DELETE FROM customer_tokens WHERE expires_at <= $1", now).await?,
        sessions: delete(
            "DELETE FROM console_sessions WHERE expires_at <= $1",
            Utc::now(),
        )
        .await?,
        idempotency_keys: delete("DELETE FROM idempotency_keys WHERE expires_at <= $1", now)
            .await?,
        sign_in_backoff: delete(
            "DELETE FROM sign_in_backoff WHERE next_attempt_at <= $1",
            now - chrono::Duration::days(1),
        )
        .await?,
    })
}

/// Runs a resolver's `pass` every `resolver_interval` until shutdown, on items open for at
/// least `age`, and logs how many it settled (`what` names them).
pub fn spawn_resolver_loop<F, Fut, E>(
    state: AppState,
    age: chrono::Duration,
    what: &'static str,
    pass: F,
) -> JoinHandle<()>
where
    F: Fn(AppState, chrono::Duration) -> Fut + Send + 'static,
    Fut: std::future::Future<Output = Result<usize, E>> + Send,
    E: std::fmt::Display,
{
    tokio::spawn(async move {
        let token = state.shutdown.clone();
        let interval = state.config.resolver_interval;
        loop {
            tokio::select! {
                _ = token.cancelled() => break,
                _ = tokio::time::sleep(interval) => {}
            }
            match pass(state.clone(), age).await {
                Ok(0) => {}
                Ok(n) => tracing::info!(settled = n, what, "resolver pass"),
                Err(err) => tracing::warn!(error = %err, what, "resolver pass failed"),
            }
        }
    })
}

/// Runs [`purge_expired`] periodically until the server shuts down.
pub fn spawn_housekeeping(state: AppState) -> JoinHandle<()> {
    tokio::spawn(async move {
        let token = state.shutdown.clone();
        loop {
            tokio::select! {
                _ = token.cancelled() => break,
                _ = tokio::time::sleep(HOUSEKEEPING_INTERVAL) => {}
            }
            match purge_expired(&state).await {
                Ok(purged) => tracing::debug!(?purged, "housekeeping pass"),
                Err(err) => tracing::warn!(error = %err, "housekeeping pass failed"),
            }
            match crate::retention::run(&state).await {
                Ok(Some(purged)) => tracing::debug!(?purged, "retention pass"),
                Ok(None) => tracing::debug!("retention pass skipped: another process holds it"),
                Err(err) => tracing::warn!(error = %err, "retention pass failed"),
            }
        }
    })
}
