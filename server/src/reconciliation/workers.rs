//! The background work of reconciliation: the runner that works queued runs and the scheduler
//! that queues each store's daily run.

use std::time::Duration;

use tokio::task::JoinHandle;

use super::{runner, schedule};
use crate::state::AppState;

/// How often idle runners look for queued runs.
const POLL: Duration = Duration::from_secs(1);

/// The runners (each works one queued run at a time) and, when an interval is set, the
/// scheduler.
pub fn spawn_workers(state: AppState) -> Vec<JoinHandle<()>> {
    let mut workers: Vec<JoinHandle<()>> = (0..state.config.reconciliation_runners)
        .map(|_| {
            let state = state.clone();
            tokio::spawn(async move {
                let token = state.shutdown.clone();
                loop {
                    match runner::run_due(&state).await {
                        Ok(true) if !token.is_cancelled() => continue,
                        Ok(_) => {}
                        Err(err) => tracing::warn!(error = %err, "reconciliation runner failed"),
                    }
                    tokio::select! {
                        _ = token.cancelled() => break,
                        _ = tokio::time::sleep(POLL) => {}
                    }
                }
            })
        })
        .collect();
    let interval = state.config.reconciliation_interval;
    if !interval.is_zero() {
        workers.push(tokio::spawn(async move {
            let token = state.shutdown.clone();
            loop {
                match schedule::schedule_due(&state).await {
                    Ok(0) => {}
                    Ok(n) => tracing::info!(queued = n, "reconciliation runs scheduled"),
                    Err(err) => tracing::warn!(error = %err, "reconciliation scheduler failed"),
                }
                tokio::select! {
                    _ = token.cancelled() => break,
                    _ = tokio::time::sleep(interval) => {}
                }
            }
        }));
    }
    workers
}
