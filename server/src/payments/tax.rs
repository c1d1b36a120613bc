//! Finalizing an order's tax on request: the whole snapshot's tax is committed now (a
//! storefront that completes orders before it captures), under the payment's lock so it never
//! races a capture, refund or void. Later settlements move it from there (see `tax::ledger`).

use super::{Error, machine::IntentStatus, repo};
use crate::{
    orders::{self, OrderScope},
    outbound,
    state::AppState,
    tax,
    types::OrderId,
};

/// Commits the order's tax in full; `order_not_paid` while no payment holds an authorization
/// or a capture.
pub async fn finalize_tax(
    state: &AppState,
    scope: OrderScope,
    order_id: OrderId,
) -> Result<(), Error> {
    orders::find(state, scope, order_id).await?;
    let paid = |status: IntentStatus| match status {
        IntentStatus::Authorized
        | IntentStatus::PartiallyCaptured
        | IntentStatus::Captured
        | IntentStatus::PartiallyRefunded
        | IntentStatus::Refunded => true,
        IntentStatus::RequiresAuthorization
        | IntentStatus::Pending
        | IntentStatus::Unknown
        | IntentStatus::Voided
        | IntentStatus::Failed => false,
    };
    let Some(live) = repo::order_intents(&state.db, order_id)
        .await?
        .into_iter()
        .find(|i| paid(i.status))
    else {
        return Err(Error::OrderNotPaid);
    };
    let mut tx = state.db.begin_write().await?;
    let intent = repo::lock_intent(&mut tx, live.id).await?;
    if !paid(intent.status) {
        return Err(Error::OrderNotPaid);
    }
    let settled = tax::Settled {
        store: intent.store_id,
        env: intent.environment,
        order_id: intent.order_id,
        intent_id: intent.id,
        snapshot_id: intent.snapshot_id,
        currency: &intent.currency,
        amount: intent.amount,
        captured: intent.captured_amount,
        refunded: intent.refunded_amount,
        released: intent.released_amount,
        trigger: tax::Trigger::Finalize,
        at: state.clock.now(),
    };
    let events = tax::settle_tax(&mut tx, &settled).await?;
    let emitted = !events.is_empty();
    outbound::emit_all(&mut tx, events).await?;
    tx.commit().await?;
    if emitted {
        outbound::wake(state);
    }
    Ok(())
}
