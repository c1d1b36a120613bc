//! What an event means for the payments ledger. The event's provider says what it is about
//! (`PaymentAdapter::parse_event`); it only names the transaction (within its store and the
//! environment whose secret signed it), and the provider's own answer about that transaction
//! settles it, through the same transition function as the API. A transaction already settled
//! is left alone, so a duplicate, late or out-of-order event never moves anything (in
//! particular never a final state backwards), except a refund the provider itself now reports
//! failed after it had succeeded, which is reversed once (`payments::recheck_refund`). A
//! dispute is recorded as the verified event describes it (`payments::record_dispute`), never
//! moving a decided one.

use serde_json::Value;

use super::queue::Claimed;
use crate::{
    payments::{Caller, Operation, Recheck, Source},
    providers::{
        payment::{EventOperation, ProviderDispute, ProviderEvent},
        shipping::carrier::CarrierEvent,
    },
    state::AppState,
    types::{Environment, TransactionId},
};

/// Processes one claimed event; an `Err` is retried later (and dead-lettered in the end).
pub async fn process_event(state: &AppState, event: &Claimed) -> Result<(), String> {
    let payload: Value =
        serde_json::from_str(&event.payload).map_err(|e| format!("payload is not JSON: {e}"))?;
    if let Some(carrier) = state.carriers.get(&event.provider) {
        return carrier_event(state, event, carrier.parse_event(&payload)).await;
    }
    // Verified and stored by a provider since unregistered: kept, without effect.
    let Some(adapter) = state.payment_providers.get(&event.provider) else {
        return Ok(());
    };
    match adapter.parse_event(&payload) {
        ProviderEvent::Ignored => Ok(()),
        ProviderEvent::Dispute(dispute) => dispute_event(state, event, &dispute).await,
        ProviderEvent::Payment {
            operation,
            provider_payment_id,
            reference,
        } => {
            let operation = match operation {
                EventOperation::Authorize => Operation::Authorize,
                EventOperation::Capture => Operation::Capture,
                EventOperation::Void => Operation::Void,
                EventOperation::Refund => Operation::Refund,
            };
            let reference = reference.and_then(|r| r.parse::<TransactionId>().ok());
            payment_event(
                state,
                event,
                operation,
                reference,
                provider_payment_id.as_deref().unwrap_or_default(),
            )
            .await
        }
    }
}

/// The environment whose secret signed the event, and the event as the caller of what it
/// causes.
fn origin(event: &Claimed) -> Result<(Environment, Caller), String> {
    let environment = event
        .environment
        .as_deref()
        .and_then(|e| e.parse().ok())
        .ok_or("the event has no environment")?;
    let caller = Caller {
        source: Source::Webhook,
        actor: format!("webhook:{}", event.provider),
        correlation_id: event.id.to_string(),
    };
    Ok((environment, caller))
}

/// The provider is asked about the transaction the event names (with the credentials of the
/// environment whose secret signed the event) and its answer settles it. The payload is a
/// hint: a signed event that says something the provider does not confirm moves nothing.
async fn payment_event(
    state: &AppState,
    event: &Claimed,
    operation: Operation,
    reference: Option<TransactionId>,
    provider_id: &str,
) -> Result<(), String> {
    let (environment, caller) = origin(event)?;
    let Some(txn) = crate::payments::transaction_for_event(
        &state.db,
        event.store_id,
        environment,
        operation,
        reference,
        provider_id,
    )
    .await
    .map_err(|e| e.to_string())?
    else {
        // A cancellation nobody here asked for: the provider's own (an expired
        // authorization, its dashboard, an abandoned challenge the customer completed).
        if operation == Operation::Void {
            return crate::payments::release_cancelled(
                state,
                event.store_id,
                environment,
                &event.provider,
                provider_id,
                &caller,
            )
            .await
            .map_err(|e| e.to_string());
        }
        return Err(format!(
            "no {} of provider payment {provider_id} in this store and environment",
            operation.as_str()
        ));
    };
    // A refund the event names by our reference may be one the ledger counts as done that
    // the provider failed since (the bank returned it): the provider's own state decides.
    if operation == Operation::Refund && reference == Some(txn) {
        let found = crate::payments::recheck_refund(state, &caller, txn)
            .await
            .map_err(|e| e.to_string())?;
        match found {
            Recheck::NotSettled => {}
            Recheck::Stands | Recheck::Reversed | Recheck::AlreadyReversed => return Ok(()),
        }
    }
    match crate::payments::resolve_transaction(state, &caller, txn).await {
        Ok(_)
            if crate::payments::is_open(state, txn)
                .await
                .map_err(|e| e.to_string())? =>
        {
            // Retried with backoff (and dead-lettered in the end): the provider has not
            // confirmed what the event says, or could not be asked.
            Err(format!(
                "the provider has not confirmed the {} yet",
                operation.as_str()
            ))
        }
        Ok(_) => Ok(()),
        Err(err) => Err(err.to_string()),
    }
}

/// A dispute is recorded on the intent the event names within the store and the environment
/// whose secret signed it. One about a payment this store does not have is done with (the
/// service logs it): retrying would never find it.
async fn dispute_event(
    state: &AppState,
    event: &Claimed,
    dispute: &ProviderDispute,
) -> Result<(), String> {
    let (environment, caller) = origin(event)?;
    let recorded = crate::payments::record_dispute(
        state,
        event.store_id,
        environment,
        &event.provider,
        dispute,
        &caller,
    )
    .await
    .map_err(|e| e.to_string())?;
    tracing::debug!(event = %event.id, ?recorded, "dispute event processed");
    Ok(())
}

/// A carrier's event: tracking is recorded on the shipment of the label it names (within the
/// store and the environment whose secret signed it), through the shipments' transition
/// function, so a duplicate or late event never moves a shipment back.
async fn carrier_event(
    state: &AppState,
    event: &Claimed,
    parsed: CarrierEvent,
) -> Result<(), String> {
    let CarrierEvent::Tracking {
        provider_label_id,
        reference,
        update,
    } = parsed
    else {
        return Ok(());
    };
    let environment: Environment = event
        .environment
        .as_deref()
        .and_then(|e| e.parse().ok())
        .ok_or("the event has no environment")?;
    crate::shipments::record_event(
        state,
        event.store_id,
        environment,
        &event.provider,
        &provider_label_id,
        reference.as_deref(),
        &update,
    )
    .await
    .map_err(|e| e.to_string())
}
