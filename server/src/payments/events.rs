//! Finding the transaction a provider event is about.

use super::{
    Operation, TransactionStatus,
    caller::Caller,
    disputes,
    error::Error,
    provider::client_for,
    repo,
    service::{self, Target},
};
use crate::{
    db::Db,
    state::AppState,
    types::{Environment, StoreId, TransactionId},
};

/// A payment the provider cancelled on its own (an uncaptured authorization it let expire, a
/// cancel in its dashboard, one cancelled as abandoned while the customer was completing the
/// challenge): the ledger releases what it still holds, as a void of its own key that the
/// provider confirms. Nothing is sent unless the provider says the payment is cancelled, so an
/// event can never cancel a payment. `Ok(())` also when the store has no such payment or it
/// holds nothing; `ProviderOutcomeUnknown` while the provider does not confirm.
pub async fn release_cancelled(
    state: &AppState,
    store: StoreId,
    env: Environment,
    provider: &str,
    provider_payment_id: &str,
    caller: &Caller,
) -> Result<(), Error> {
    let Some(found) = disputes::repo::intent_by_provider_payment(
        &state.db,
        store,
        env,
        provider,
        provider_payment_id,
    )
    .await?
    else {
        tracing::info!(
            provider_payment_id,
            "a cancellation of a payment this store does not have"
        );
        return Ok(());
    };
    let intent = repo::intent(&state.db, found.id).await?;
    if !intent.ledger().voidable_now() {
        return Ok(());
    }
    let client = client_for(state, store, Some(provider), env).await?;
    let now = client
        .get_transaction(&caller.correlation_id, provider_payment_id)
        .await
        .map_err(|_| Error::ProviderOutcomeUnknown)?;
    // Cancelled, or (a multicapture payment cancelled after captures) captured for less than
    // it authorized: either way the provider holds no rest. The void's own answer is checked
    // against the ledger's captures again before anything is recorded.
    let released = match now.status.as_str() {
        "voided" => true,
        "captured" => now.captured < now.amount,
        _ => false,
    };
    if !released {
        return Err(Error::ProviderOutcomeUnknown);
    }
    let key = format!("provider-cancel:{provider_payment_id}");
    let target = Target {
        store,
        env,
        order_id: found.order_id,
        intent_id: found.id,
        key: &key,
        caller,
        reply: None,
    };
    let (_, txn) = service::void(state, target).await?;
    match txn.status {
        TransactionStatus::Succeeded => Ok(()),
        _ => Err(Error::ProviderOutcomeUnknown),
    }
}

/// The transaction an event is about: by our reference when the provider echoes it, else the
/// latest transaction of that operation on the intent with this provider payment id (an open
/// one first). `None` when nothing in this store and environment matches.
pub async fn transaction_for_event(
    db: &Db,
    store: StoreId,
    environment: Environment,
    operation: Operation,
    reference: Option<TransactionId>,
    provider_payment_id: &str,
) -> Result<Option<TransactionId>, Error> {
    if let Some(reference) = reference
        && let Some(found) =
            repo::txn_by_reference(db, store, environment, operation, reference).await?
    {
        return Ok(Some(found));
    }
    if provider_payment_id.is_empty() {
        return Ok(None);
    }
    Ok(
        repo::txn_by_provider_payment(db, store, environment, operation, provider_payment_id)
            .await?,
    )
}
