//! Settles label purchases a request left `purchasing`: its process died between the phases,
//! or the carrier's answer was lost and the caller never retried. Only the carrier's truth
//! settles one: the purchase is asked again with its own derived key, so the carrier answers
//! with the label it already sold (or sells the one it was asked for, once).
//!
//! Each pass claims a purchase by compare-and-set on its attempt count before it calls the
//! carrier, so two instances' passes drive one purchase once, and a purchase the carrier will
//! not answer about moves back in the queue instead of holding up the rest.

use std::collections::HashMap;

use super::{
    Error, Purchase,
    labels::{purchase, resumable},
    repo::{self, ShipmentRow},
    settings,
};
use crate::{
    clock::backoff,
    state::AppState,
    types::{Environment, OrderId, ShipmentId, StoreId},
};

/// Purchases one pass takes at most.
const BATCH: i64 = 100;

/// The actor the resolver's history entries name.
const ACTOR: &str = "job:resolver";

/// A purchase a pass settled with a label.
#[derive(Debug, Clone)]
pub struct Resolved {
    /// The shipment's store.
    pub store: StoreId,
    /// The shipment's environment.
    pub environment: Environment,
    /// The shipment, and whether its store captures on shipment (the caller captures:
    /// shipments never touch payments).
    pub purchase: Purchase,
}

/// Drives every due purchase open for at least `older_than`; the ones it settled with a label.
/// A purchase that fails (the carrier, the store's settings, the database) is logged and
/// tried again after its backoff; it never holds up the others.
pub async fn resolve_purchases(
    state: &AppState,
    older_than: chrono::Duration,
) -> Result<Vec<Resolved>, Error> {
    let now = state.clock.now();
    let open = repo::due_purchases(&state.db, now, now - older_than, BATCH).await?;
    let mut captures: HashMap<(StoreId, Environment), bool> = HashMap::new();
    let mut settled = Vec::new();
    for row in open {
        if state.shutdown.is_cancelled() {
            break;
        }
        let id = row.id;
        let scope = (row.store_id, row.environment);
        match resolve_one(state, row, &mut captures).await {
            Ok(Some((shipment, capture_on_shipment))) if shipment.status.has_label() => settled
                .push(Resolved {
                    store: scope.0,
                    environment: scope.1,
                    purchase: Purchase {
                        shipment,
                        capture_on_shipment,
                    },
                }),
            Ok(_) => {}
            Err(err) => {
                tracing::warn!(error = %err, shipment = %id, "could not resolve a label purchase");
            }
        }
    }
    Ok(settled)
}

/// One purchase: claimed (moved back in the queue), then asked again; with whether its store
/// captures on shipment. `Ok(None)` when another pass (or the request itself) claimed it first.
async fn resolve_one(
    state: &AppState,
    row: ShipmentRow,
    captures: &mut HashMap<(StoreId, Environment), bool>,
) -> Result<Option<(super::Shipment, bool)>, Error> {
    let next = state.clock.now() + backoff(state.config.resolver_interval, row.resolve_attempts);
    if !repo::claim_purchase(&state.db, row.id, row.resolve_attempts, next).await? {
        return Ok(None);
    }
    if state.clock.now() - row.created_at >= state.config.unresolved_alert_after {
        tracing::error!(
            shipment = %row.id,
            attempts = row.resolve_attempts,
            "a label purchase is still open; check it at the carrier"
        );
    }
    let scope = (row.store_id, row.environment);
    let capture_on_shipment = match captures.get(&scope) {
        Some(captures) => *captures,
        None => {
            let on = settings::load_settings(state, row.store_id, row.environment)
                .await?
                .capture_on_shipment;
            captures.insert(scope, on);
            on
        }
    };
    let (client, provider_rate_id) = resumable(state, &row).await?;
    let shipment = purchase(
        state,
        client.as_ref(),
        row,
        &provider_rate_id,
        ACTOR,
        capture_on_shipment,
    )
    .await?;
    Ok(Some((shipment, capture_on_shipment)))
}

/// A labelled shipment whose store's capture on shipment is still to be made.
#[derive(Debug, Clone, Copy)]
pub struct DueCapture {
    /// The shipment.
    pub shipment: ShipmentId,
    /// Its store.
    pub store: StoreId,
    /// Its environment.
    pub environment: Environment,
    /// Its order.
    pub order: OrderId,
}

/// Captures on shipment still due, on shipments unchanged for at least `older_than` (whoever
/// bought the label died before capturing, or could not reach the database to say it did).
pub async fn captures_due(
    state: &AppState,
    older_than: chrono::Duration,
) -> Result<Vec<DueCapture>, Error> {
    let cutoff = state.clock.now() - older_than;
    Ok(repo::due_captures(&state.db, cutoff, BATCH)
        .await?
        .into_iter()
        .map(|row| DueCapture {
            shipment: row.id,
            store: row.store_id,
            environment: row.environment,
            order: row.order_id,
        })
        .collect())
}

/// The shipment's capture on shipment was made, or will never be (nothing capturable, or the
/// capture ended in a final answer under its key).
pub async fn capture_made(state: &AppState, shipment: ShipmentId) -> Result<(), Error> {
    Ok(repo::capture_made(&state.db, shipment).await?)
}
