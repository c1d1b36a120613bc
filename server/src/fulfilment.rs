//! Shipping a paid order: the label, then, when the store asks for it (`capture_on_shipment`),
//! the capture of the order's authorization. The one flow that spans shipments and payments,
//! so it sits above both (neither imports the other).

use crate::{
    payments::{self, Caller, CaptureRequest, Target},
    shipments::{self, BuyRequest, Shipment},
    state::AppState,
    types::{Environment, OrderId, StoreId},
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
) -> Result<Shipment, shipments::Error> {
    let purchase = shipments::buy(state, store, env, order_id, request, &caller.actor).await?;
    if purchase.capture_on_shipment && purchase.shipment.status.has_label() {
        capture(state, store, env, order_id, &purchase.shipment, caller).await;
    }
    Ok(purchase.shipment)
}

async fn capture(
    state: &AppState,
    store: StoreId,
    env: Environment,
    order_id: OrderId,
    shipment: &Shipment,
    caller: &Caller,
) {
    let detail = match payments::detail(state, store, env, order_id).await {
        Ok(detail) => detail,
        Err(err) => {
            tracing::warn!(error = %err, %order_id, "capture on shipment: payments unreadable");
            return;
        }
    };
    let Some(intent) = detail
        .intents
        .iter()
        .map(|i| &i.intent)
        .find(|i| i.capturable_amount.0 > 0)
    else {
        return;
    };
    // One capture per shipment, whatever retries the purchase took.
    let key = format!("capture-on-shipment:{}", shipment.id);
    let target = Target {
        store,
        env,
        order_id,
        intent_id: intent.id,
        key: &key,
        caller,
        reply: None,
    };
    if let Err(err) = payments::capture(state, target, CaptureRequest::default()).await {
        tracing::warn!(error = %err, %order_id, shipment = %shipment.id,
            "capture on shipment failed; the authorization stands");
    }
}
