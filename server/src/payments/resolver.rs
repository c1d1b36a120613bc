//! The resolver job: settles transactions whose outcome is still open.

use std::time::Duration;

use tokio::task::JoinHandle;

use super::{
    phases::drive,
    service::{Caller, Source, db, load_intent},
    store::{TXN_COLUMNS, TxnRow},
};
use crate::{http::problem::ApiError, on_db, state::AppState};

/// Drives every transaction whose outcome has been open for at least `older_than` (timeouts,
/// crashes between the phases, asynchronous authorizations) with the same provider key or
/// the provider's `get_transaction`. Returns how many were settled.
pub async fn resolve_open(
    state: &AppState,
    older_than: chrono::Duration,
) -> Result<usize, ApiError> {
    let sql = format!(
        "SELECT {TXN_COLUMNS} FROM payment_transactions WHERE status IN ('pending', 'unknown') \
         AND updated_at <= $1 ORDER BY updated_at LIMIT 100"
    );
    let cutoff = state.clock.now() - older_than;
    let open: Vec<TxnRow> =
        on_db!(&state.db, pool => sqlx::query_as(&sql).bind(cutoff).fetch_all(pool).await)
            .map_err(db)?;
    let mut settled = 0;
    for txn in open {
        let caller = Caller {
            source: Source::Job,
            actor: "job:resolver".to_owned(),
            correlation_id: uuid::Uuid::now_v7().to_string(),
        };
        let intent = load_intent(state, txn.payment_intent_id).await?;
        match drive(state, &caller, intent, txn, None).await {
            Ok((_, txn)) if !txn.status().is_open() => settled += 1,
            Ok(_) => {}
            Err(err) => tracing::warn!(error = %err, "could not resolve a payment transaction"),
        }
    }
    Ok(settled)
}

/// Runs [`resolve_open`] every `resolver_interval` until shutdown.
pub fn spawn_resolver(state: AppState) -> JoinHandle<()> {
    tokio::spawn(async move {
        let token = state.shutdown.clone();
        let interval = state.config.resolver_interval;
        let age = chrono::Duration::from_std(interval.max(Duration::from_secs(1)))
            .unwrap_or(chrono::Duration::seconds(30));
        loop {
            tokio::select! {
                _ = token.cancelled() => break,
                _ = tokio::time::sleep(interval) => {}
            }
            match resolve_open(&state, age).await {
                Ok(0) => {}
                Ok(n) => tracing::info!(settled = n, "resolved open payment transactions"),
                Err(err) => tracing::warn!(error = %err, "payment resolver pass failed"),
            }
        }
    })
}
