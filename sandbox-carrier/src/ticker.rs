//! The carrier's clockwork: records due tracking events and sends due webhooks, every second
//! (sooner when an event was recorded by a request), until shutdown.

use std::time::Duration;

use tokio::task::JoinHandle;

use crate::{error::Error, progress::run_due, state::CarrierState, webhooks::deliver_due};

/// Time between passes.
pub const TICK: Duration = Duration::from_secs(1);

/// One pass: records due events, then attempts due deliveries. Returns how many events were
/// recorded and how many webhooks delivered.
pub async fn tick(state: &CarrierState) -> Result<(u64, u64), Error> {
    let recorded = run_due(state).await?;
    let delivered = deliver_due(state).await?;
    Ok((recorded, delivered))
}

/// Runs [`tick`] every [`TICK`] until the state's shutdown token is cancelled. An attempt in
/// flight at shutdown is abandoned; its lease lapses and a later run retries it.
pub fn spawn_ticker(state: CarrierState) -> JoinHandle<()> {
    tokio::spawn(async move {
        let token = state.shutdown.clone();
        loop {
            tokio::select! {
                _ = token.cancelled() => break,
                _ = tokio::time::sleep(TICK) => {}
                _ = state.wakeup.notified() => {}
            }
            tokio::select! {
                _ = token.cancelled() => break,
                result = tick(&state) => match result {
                    Ok((0, 0)) => {}
                    Ok((recorded, delivered)) => {
                        tracing::debug!(recorded, delivered, "sandbox carrier tick");
                    }
                    Err(err) => tracing::warn!(error = %err, "sandbox carrier tick failed"),
                },
            }
        }
    })
}
