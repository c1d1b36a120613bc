//! What an event means for the payments ledger. An event only names the transaction it is
//! about (within its store and the environment whose secret signed it); the provider's own
//! answer about that transaction settles it, through the same transition function as the API; a transaction already settled is left alone, so a
//! duplicate, late or out-of-order event never moves anything (in particular never a final
//! state backwards).

use serde_json::Value;

use super::queue::Claimed;
use crate::{
    on_db,
    payments::{Caller, Operation, Source},
    state::AppState,
    types::{Environment, TransactionId},
};

/// Processes one claimed event; an `Err` is retried later (and dead-lettered in the end).
pub async fn process_event(state: &AppState, event: &Claimed) -> Result<(), String> {
    match event.provider.as_str() {
        "sandbox" => sandbox(state, event).await,
        // Verified and stored; the Stripe adapter that maps these is not built yet.
        _ => Ok(()),
    }
}

/// A sandbox event names a payment operation; the provider is then asked about it (with the
/// credentials of the environment whose secret signed the event) and its answer settles the
/// transaction. The payload is a hint: a signed event that says something the provider does
/// not confirm moves nothing.
async fn sandbox(state: &AppState, event: &Claimed) -> Result<(), String> {
    let payload: Value =
        serde_json::from_str(&event.payload).map_err(|e| format!("payload is not JSON: {e}"))?;
    let environment: Environment = event
        .environment
        .as_deref()
        .and_then(|e| e.parse().ok())
        .ok_or("the event has no environment")?;
    let provider_id = payload["data"]["payment"]["id"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let operation = match event.event_type.as_str() {
        "payment.authorized" | "payment.failed" => Operation::Authorize,
        "payment.captured" => Operation::Capture,
        "payment.voided" => Operation::Void,
        "refund.succeeded" => Operation::Refund,
        // Informational events change nothing.
        _ => return Ok(()),
    };
    let reference = payload["data"]["reference"]
        .as_str()
        .and_then(|r| r.parse::<TransactionId>().ok());
    let Some(txn) = find_transaction(
        state,
        event,
        environment,
        operation,
        reference,
        &provider_id,
    )
    .await?
    else {
        return Err(format!(
            "no {} of provider payment {provider_id} in this store and environment",
            operation.as_str()
        ));
    };
    let caller = Caller {
        source: Source::Webhook,
        actor: format!("webhook:{}", event.provider),
        correlation_id: event.id.to_string(),
    };
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

/// The transaction an event is about: by our reference when the provider echoes it, else the
/// latest transaction of that operation on the intent with this provider payment id (an open
/// one first). `None` when nothing in this store matches.
async fn find_transaction(
    state: &AppState,
    event: &Claimed,
    environment: Environment,
    operation: Operation,
    reference: Option<TransactionId>,
    provider_id: &str,
) -> Result<Option<TransactionId>, String> {
    if let Some(reference) = reference {
        const BY_REFERENCE: &str = "SELECT id FROM payment_transactions WHERE id = $1 \
            AND store_id = $2 AND operation = $3 AND environment = $4";
        let found: Option<TransactionId> = on_db!(&state.db, pool => {
            sqlx::query_scalar(BY_REFERENCE).bind(reference).bind(event.store_id).bind(operation.as_str())
                .bind(environment.as_str())
                .fetch_optional(pool).await
        })
        .map_err(|e| e.to_string())?;
        if found.is_some() {
            return Ok(found);
        }
    }
    if provider_id.is_empty() {
        return Ok(None);
    }
    const BY_PAYMENT: &str = "SELECT t.id FROM payment_transactions t JOIN payment_intents i \
        ON i.id = t.payment_intent_id WHERE i.store_id = $1 AND i.provider_payment_id = $2 \
        AND t.operation = $3 AND i.environment = $4 ORDER BY CASE WHEN t.status IN ('pending', 'unknown') THEN 0 ELSE 1 END, \
        t.id DESC LIMIT 1";
    on_db!(&state.db, pool => {
        sqlx::query_scalar(BY_PAYMENT).bind(event.store_id).bind(provider_id).bind(operation.as_str())
            .bind(environment.as_str())
            .fetch_optional(pool).await
    })
    .map_err(|e| e.to_string())
}
