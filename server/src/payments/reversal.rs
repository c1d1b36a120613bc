//! A refund the provider reports failed after it had succeeded (the card was closed, the bank
//! returned the money): the money is back in the merchant's balance, so the ledger takes the
//! refund back out. Only the provider's own state says so (asked with the store's credentials),
//! never an event's payload. The refund transaction becomes `reversed` (so the intent's amounts
//! stay the sums of its succeeded transactions), the intent's refunded amount goes down through
//! the transition function, the order's history says why, and the tax the refund reversed is
//! committed again, and the store's endpoints hear of it (`refund.failed`, `tax.committed`): one
//! database transaction, recorded once however many deliveries race.

use super::{
    Operation, TransactionStatus,
    caller::Caller,
    error::Error,
    machine::{self, Event},
    notify,
    phases::CAS_ATTEMPTS,
    provider::client_for,
    repo::{self, NewHistory, Subject, TxnRow},
    write_repo,
};
use crate::{
    money::{MinorUnits, format_amount},
    outbound,
    providers::payment::RefundStanding,
    state::AppState,
    tax,
    types::TransactionId,
};

/// What asking the provider again about a refund found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Recheck {
    /// Not a refund the ledger counts as done (still open, or failed): it is settled as any
    /// open transaction is.
    NotSettled,
    /// The provider does not say it failed: nothing moved.
    Stands,
    /// The provider failed it after it had succeeded: reversed now, by this call.
    Reversed,
    /// Its reversal was recorded before (another delivery, a concurrent worker).
    AlreadyReversed,
}

/// Asks the provider where the refund `id` stands when an event says it changed, and reverses
/// it in the ledger when the provider failed it after it had succeeded. An error (the provider
/// could not be asked) leaves everything as it was, for the event to be retried.
pub async fn recheck_refund(
    state: &AppState,
    caller: &Caller,
    id: TransactionId,
) -> Result<Recheck, Error> {
    let txn = repo::txn(&state.db, id).await?;
    match (txn.operation, txn.status) {
        (Operation::Refund, TransactionStatus::Succeeded) => {}
        (Operation::Refund, TransactionStatus::Reversed) => return Ok(Recheck::AlreadyReversed),
        _ => return Ok(Recheck::NotSettled),
    }
    let intent = repo::intent(&state.db, txn.payment_intent_id).await?;
    // A refund succeeded only on a payment the provider has.
    let Some(payment_id) = intent.provider_payment_id.as_deref() else {
        return Ok(Recheck::Stands);
    };
    let client = client_for(
        state,
        intent.store_id,
        Some(&intent.provider),
        intent.environment,
    )
    .await
    .map_err(|_| Error::ProviderOutcomeUnknown)?;
    let standing = client
        .refund_standing(&caller.correlation_id, payment_id, &txn.id.to_string())
        .await
        .map_err(|err| {
            tracing::info!(error = %err, transaction = %txn.id, "could not ask about a refund");
            Error::ProviderOutcomeUnknown
        })?;
    match standing {
        RefundStanding::Failed { reason } => reverse(state, caller, id, &reason).await,
        RefundStanding::Succeeded | RefundStanding::Pending => Ok(Recheck::Stands),
        // Ours by the ledger, unknown to the provider: not a reason to move money.
        RefundStanding::NotFound => {
            tracing::warn!(transaction = %txn.id, payment_id,
                "the provider does not list a refund the ledger recorded as succeeded");
            Ok(Recheck::Stands)
        }
    }
}

/// Records the reversal of the succeeded refund `id` (the provider's `reason`), once: the
/// refund row is taken from `succeeded` under its lock, so a second caller finds it reversed.
async fn reverse(
    state: &AppState,
    caller: &Caller,
    id: TransactionId,
    reason: &str,
) -> Result<Recheck, Error> {
    for _ in 0..CAS_ATTEMPTS {
        let now = state.clock.now();
        let mut tx = state.db.begin_write().await?;
        let txn = repo::lock_txn(&mut tx, id).await?;
        let intent = repo::lock_intent(&mut tx, txn.payment_intent_id).await?;
        if txn.status != TransactionStatus::Succeeded {
            return Ok(Recheck::AlreadyReversed);
        }
        let ledger = intent.ledger();
        let amount = MinorUnits(txn.amount);
        let next = machine::apply(ledger, Event::RefundReversed { amount })?;
        let reversed = TxnRow {
            status: TransactionStatus::Reversed,
            failure_code: Some(reason.to_owned()),
            updated_at: now,
            ..txn.clone()
        };
        if !write_repo::update_txn(&mut tx, &txn, &reversed).await? {
            continue;
        }
        let after = intent.with_ledger(&next, now);
        if !write_repo::update_intent(&mut tx, &intent, &after).await? {
            continue;
        }
        // On the timeline even when the status stays (one of several refunds reversed).
        let shown = format_amount(txn.amount, &txn.currency);
        let why = format!("refund of {shown} reversed by the provider: {reason}");
        let change = NewHistory {
            order_id: intent.order_id,
            payment_intent_id: Some(intent.id),
            subject: Subject::Payment,
            from_status: Some(ledger.status.as_str()),
            to_status: next.status.as_str(),
            reason: &why,
            caller,
            at: now,
        };
        write_repo::insert_history(&mut tx, change).await?;
        let settled = tax::Settled {
            store: after.store_id,
            env: after.environment,
            order_id: after.order_id,
            intent_id: after.id,
            snapshot_id: after.snapshot_id,
            currency: &after.currency,
            amount: after.amount,
            captured: after.captured_amount,
            refunded: after.refunded_amount,
            released: after.released_amount,
            trigger: tax::Trigger::RefundReversal(txn.id),
            at: now,
        };
        let mut events = notify::settled(&after, &reversed, now)?;
        events.extend(tax::settle_tax(&mut tx, &settled).await?);
        outbound::emit_all(&mut tx, events).await?;
        tx.commit().await?;
        outbound::wake(state);
        // The merchant must hear of it: the customer they meant to pay back was not.
        metrics::counter!("payments_refunds_reversed_total", "provider" => intent.provider.clone())
            .increment(1);
        tracing::warn!(
            store = %intent.store_id,
            order = %intent.order_id,
            payment = %intent.id,
            transaction = %txn.id,
            amount = txn.amount,
            currency = %txn.currency,
            reason,
            "a refund failed at the provider after it had succeeded: the money is back in the \
             merchant's balance and the customer was not refunded"
        );
        return Ok(Recheck::Reversed);
    }
    Err(Error::Internal(anyhow::anyhow!(
        "could not record a refund's reversal after {CAS_ATTEMPTS} attempts"
    )))
}
