//! Shipping a paid order: the label, then, when the store asks for it (`capture_on_shipment`),
//! the capture of the order's authorization. The one flow that spans shipments and payments,
//! so it sits above both (their services never import each other; the shipments routes only
//! name the payments' `Caller` they hand to this flow).
//!
//! - `resolver.rs`: the job that settles label purchases a request left open, and captures
//!   what they shipped.

mod resolver;

pub use resolver::{resolve_open, spawn_resolver};

use crate::{
    payments::{self, Caller, CaptureRequest, Target},
    shipments::{self, BuyRequest, Buyer, Shipment},
    state::AppState,
    types::{Environment, OrderId, ShipmentId, StoreId},
};

/// Buys the order's label and, if the store captures on shipment, captures what is still
/// capturable. A failed capture leaves the label bought and the authorization as it was (the
/// merchant captures from the order); it is logged, never undone silently.
pub async fn ship(
    state: &AppState,
    store: StoreId,
    env: Environment,
    order_id: OrderId,
    request: BuyRequest,
    caller: &Caller,
    key: &str,
) -> Result<Shipment, shipments::Error> {
    let buyer = Buyer {
        actor: &caller.actor,
        key,
    };
    match shipments::buy(state, store, env, order_id, request, buyer).await {
        Ok(purchase) => {
            if purchase.capture_on_shipment && purchase.shipment.status.has_label() {
                capture(state, store, env, order_id, purchase.shipment.id, caller).await;
            }
            Ok(purchase.shipment)
        }
        // Already shipped: a request that bought the label may have ended before its capture
        // (a crash, a timeout). The capture is keyed by the shipment, so running it again here
        // catches up without ever capturing twice.
        Err(shipments::Error::AlreadyShipped(shipment)) => {
            let captures = shipments::load_settings(state, store, env)
                .await
                .map(|s| s.capture_on_shipment)
                .unwrap_or(false);
            // Only once there is a label: another request's purchase may still be in flight.
            let labelled = shipments::find(state, store, env, shipment)
                .await
                .is_ok_and(|s| s.status.has_label());
            if captures && labelled {
                capture(state, store, env, order_id, shipment, caller).await;
            }
            Err(shipments::Error::AlreadyShipped(shipment))
        }
        Err(err) => Err(err),
    }
}

/// Captures what is still capturable of the order's authorization for `shipment`, then marks
/// the shipment's capture made, unless the database could not be asked or written (the flag
/// stays, and the resolver tries again later under the same key).
async fn capture(
    state: &AppState,
    store: StoreId,
    env: Environment,
    order_id: OrderId,
    shipment: ShipmentId,
    caller: &Caller,
) {
    if !capture_once(state, store, env, order_id, shipment, caller).await {
        return;
    }
    if let Err(err) = shipments::capture_made(state, shipment).await {
        tracing::warn!(error = %err, %shipment, "capture on shipment made; not marked yet");
    }
}

/// The capture itself; whether it is settled (made, impossible, or final under its key).
async fn capture_once(
    state: &AppState,
    store: StoreId,
    env: Environment,
    order_id: OrderId,
    shipment: ShipmentId,
    caller: &Caller,
) -> bool {
    let detail = match payments::detail(state, store, env, order_id).await {
        Ok(detail) => detail,
        Err(err) => {
            tracing::warn!(error = %err, %order_id, "capture on shipment: payments unreadable");
            return false;
        }
    };
    let Some(intent) = detail
        .intents
        .iter()
        .map(|i| &i.intent)
        .find(|i| i.capturable_amount.0 > 0)
    else {
        return true;
    };
    // One capture per shipment, whoever asks and however often: the ledger key is made of
    // the caller's actor and this key, so both are the shipment's.
    let key = format!("capture-on-shipment:{shipment}");
    let caller = Caller {
        source: caller.source,
        actor: format!("shipment:{shipment}"),
        correlation_id: caller.correlation_id.clone(),
    };
    let target = Target {
        store,
        env,
        order_id,
        intent_id: intent.id,
        key: &key,
        caller: &caller,
        reply: None,
    };
    match payments::capture(state, target, CaptureRequest::default()).await {
        Ok(_) => true,
        // The database did not answer, or another attempt holds the key: try again later.
        Err(err @ (payments::Error::Db(_) | payments::Error::KeyInUse)) => {
            tracing::warn!(error = %err, %order_id, %shipment,
                "capture on shipment not made yet; it is tried again");
            false
        }
        Err(err) => {
            tracing::warn!(error = %err, %order_id, %shipment,
                "capture on shipment failed; the authorization stands");
            true
        }
    }
}
