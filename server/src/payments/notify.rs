//! What a change of the ledger tells the store's endpoints (outbound webhooks): the events a
//! settled transaction reports, with the intent or the refund as the API shows them after it.
//! The settling transaction emits them together with the tax it moved, so an event exists
//! exactly when its change does.

use chrono::{DateTime, Utc};

use super::{
    Operation, PaymentIntent, Transaction, TransactionStatus,
    repo::{IntentRow, TxnRow},
};
use crate::{
    db::DbError,
    outbound::{EventType, NewEvent},
};

/// The events of `txn` reaching its status, on `intent` as it is afterwards. An open outcome
/// (still pending, unknown) and a failed capture or void (nothing moved) report nothing.
pub(super) fn settled(
    intent: &IntentRow,
    txn: &TxnRow,
    at: DateTime<Utc>,
) -> Result<Vec<NewEvent>, DbError> {
    use EventType as E;
    let on_intent = |event_type| intent_event(intent, event_type, at);
    let on_refund = |event_type| {
        NewEvent::of(
            intent.store_id,
            intent.environment,
            event_type,
            &Transaction::from(txn),
            at,
        )
    };
    match (txn.operation, txn.status) {
        (_, TransactionStatus::Pending | TransactionStatus::Unknown) => Ok(Vec::new()),
        (Operation::Authorize, TransactionStatus::Succeeded) => {
            Ok(vec![on_intent(E::PaymentIntentAuthorized)?])
        }
        (Operation::Authorize, TransactionStatus::Failed) => {
            Ok(vec![on_intent(E::PaymentIntentFailed)?])
        }
        (Operation::Capture, TransactionStatus::Succeeded) => {
            // Everything that will ever be captured is: nothing of the authorization is left
            // to capture or release (the status may already say `partially_refunded`).
            let all = intent.captured_amount + intent.released_amount >= intent.authorized_amount;
            let event_type = if all {
                E::PaymentIntentCaptured
            } else {
                E::PaymentIntentPartiallyCaptured
            };
            Ok(vec![on_intent(event_type)?])
        }
        (Operation::Void, TransactionStatus::Succeeded) => {
            Ok(vec![on_intent(E::PaymentIntentVoided)?])
        }
        (Operation::Refund, TransactionStatus::Succeeded) => Ok(vec![
            on_intent(E::PaymentIntentRefunded)?,
            on_refund(E::RefundSucceeded)?,
        ]),
        // Refused, or failed at the provider after it had succeeded (`reversed`).
        (Operation::Refund, TransactionStatus::Failed | TransactionStatus::Reversed) => {
            Ok(vec![on_refund(E::RefundFailed)?])
        }
        (Operation::Capture | Operation::Void, TransactionStatus::Failed) => Ok(Vec::new()),
        // Only refunds are ever reversed.
        (
            Operation::Authorize | Operation::Capture | Operation::Void,
            TransactionStatus::Reversed,
        ) => Ok(Vec::new()),
    }
}

fn intent_event(
    intent: &IntentRow,
    event_type: EventType,
    at: DateTime<Utc>,
) -> Result<NewEvent, DbError> {
    NewEvent::of(
        intent.store_id,
        intent.environment,
        event_type,
        &PaymentIntent::from(intent),
        at,
    )
}
