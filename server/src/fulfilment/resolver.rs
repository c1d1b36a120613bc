//! The fulfilment resolver: settles the label purchases a request left open (see
//! `shipments::resolve_purchases`) and, for a store that captures on shipment, makes the
//! capture the request would have made, and any capture a buyer that died left due (the
//! shipment's `capture_due`, set with its label). The capture is keyed by the shipment, so a
//! request retried later catches up on the same one, never a second.

use std::time::Duration;

use tokio::task::JoinHandle;

use super::capture;
use crate::{
    payments::{Caller, Source},
    shipments,
    state::AppState,
};

/// The job's caller, with a correlation id of its own per capture.
fn job_caller() -> Caller {
    Caller {
        source: Source::Job,
        actor: "job:resolver".to_owned(),
        correlation_id: uuid::Uuid::now_v7().to_string(),
    }
}

/// Settles every due purchase open for at least `older_than` and makes the captures on
/// shipment still due on shipments unchanged that long (their buyer died before capturing);
/// how many purchases got their label.
pub async fn resolve_open(
    state: &AppState,
    older_than: chrono::Duration,
) -> Result<usize, shipments::Error> {
    let settled = shipments::resolve_purchases(state, older_than).await?;
    for resolved in &settled {
        let shipment = &resolved.purchase.shipment;
        if resolved.purchase.capture_on_shipment {
            let (store, env) = (resolved.store, resolved.environment);
            capture(
                state,
                store,
                env,
                shipment.order_id,
                shipment.id,
                &job_caller(),
            )
            .await;
        }
    }
    for due in shipments::captures_due(state, older_than).await? {
        if state.shutdown.is_cancelled() {
            break;
        }
        let (store, env) = (due.store, due.environment);
        capture(state, store, env, due.order, due.shipment, &job_caller()).await;
    }
    Ok(settled.len())
}

/// Runs [`resolve_open`] every `resolver_interval` until shutdown, on purchases open for at
/// least one interval and twice the provider timeout: a request still waiting for the carrier
/// is left to finish (a request resuming its own purchase claims it meanwhile).
pub fn spawn_resolver(state: AppState) -> JoinHandle<()> {
    let wait = state
        .config
        .resolver_interval
        .max(state.config.provider_timeout.saturating_mul(2))
        .max(Duration::from_secs(1));
    let age = chrono::Duration::from_std(wait).unwrap_or(chrono::Duration::seconds(30));
    crate::jobs::spawn_resolver_loop(state, age, "label purchases", |state, age| async move {
        resolve_open(&state, age).await
    })
}
