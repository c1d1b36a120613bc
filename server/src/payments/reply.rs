//! How a finished flow answers: the API view of the rows, the error a transaction ended in,
//! and the request's idempotency record that the flow writes in its own transactions (the
//! claim with the pending transaction, the answer with the outcome).

use std::sync::Arc;

use super::{
    PaymentIntent, Settlement, Transaction, TransactionStatus,
    error::Error,
    repo::{FailureKind, IntentRow, TxnRow},
};
use crate::{
    idempotency::{KeyRecord, answer::Answer},
    money::MinorUnits,
};

/// Renders a finished flow (its intent and transaction) as the answer stored under the
/// request's key. The edge supplies it: statuses and problem documents are chosen there.
pub type Render = Arc<dyn Fn(&IntentRow, &TxnRow) -> Answer + Send + Sync>;

/// An API request's idempotency record, written by the flow in its own transactions: the
/// claim with the pending transaction (phase 1), the answer with the outcome (phase 3).
#[derive(Clone)]
pub struct Reply {
    /// The request's record.
    pub record: KeyRecord,
    /// Whether the outcome's transaction stores the answer. A flow of several provider
    /// operations claims the key in its first one but leaves the answer to the edge, which
    /// stores what the whole flow returns.
    pub store: bool,
    /// What the outcome's transaction stores.
    pub render: Render,
}

impl std::fmt::Debug for Reply {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Reply")
            .field("record", &self.record)
            .field("store", &self.store)
            .finish_non_exhaustive()
    }
}

impl Reply {
    /// The same record, claimed by the first step of a longer flow but never answered by it.
    pub fn claim_only(&self) -> Reply {
        Reply {
            store: false,
            ..self.clone()
        }
    }
}

/// A finished flow as the API sees it: the intent, or the error its transaction ended in.
pub fn respond(intent: &IntentRow, txn: &TxnRow) -> Result<PaymentIntent, Error> {
    match txn.status {
        // A refund the provider failed later was still made as asked: its request's answer is
        // the intent, which shows what stands now.
        TransactionStatus::Succeeded | TransactionStatus::Reversed => Ok(intent.into()),
        // Waiting for the customer (3-D Secure): what they must do comes with the answer.
        TransactionStatus::Pending => Ok(PaymentIntent {
            next_action: txn
                .raw_response_redacted
                .as_deref()
                .and_then(|raw| serde_json::from_str::<serde_json::Value>(raw).ok())
                .map(|raw| raw["next_action"].clone())
                .filter(|action| !action.is_null()),
            ..intent.into()
        }),
        TransactionStatus::Unknown => Err(Error::ProviderOutcomeUnknown),
        TransactionStatus::Failed => {
            let code = txn.failure_code.clone().unwrap_or_default();
            Err(match txn.failure_kind {
                Some(FailureKind::Declined) => Error::PaymentDeclined(code),
                Some(FailureKind::Rejected) => Error::ProviderRejected(code),
                Some(FailureKind::Unavailable) | None => Error::ProviderUnavailableFinal,
            })
        }
    }
}

/// The intent's amounts at its locked rate (`None` without one, or for a rate that does not
/// read back: the amounts in its own currency are still right).
fn settlement(row: &IntentRow) -> Option<Settlement> {
    let (Some(currency), Some(rate)) = (&row.settlement_currency, &row.fx_rate) else {
        return None;
    };
    let settle = |amount| row.settle(amount).ok().map(MinorUnits);
    Some(Settlement {
        currency: currency.clone(),
        rate: rate.clone(),
        amount: settle(row.amount)?,
        captured: settle(row.captured_amount)?,
        refunded: settle(row.refunded_amount)?,
    })
}

impl From<&IntentRow> for PaymentIntent {
    fn from(row: &IntentRow) -> Self {
        let ledger = row.ledger();
        PaymentIntent {
            capturable_amount: ledger.capturable_now(),
            refundable_amount: ledger.refundable_now(),
            voidable: ledger.voidable_now(),
            id: row.id,
            order_id: row.order_id,
            snapshot_id: row.snapshot_id,
            customer_id: row.customer_id,
            status: row.status,
            amount: MinorUnits(row.amount),
            authorized_amount: MinorUnits(row.authorized_amount),
            captured_amount: MinorUnits(row.captured_amount),
            refunded_amount: MinorUnits(row.refunded_amount),
            released_amount: MinorUnits(row.released_amount),
            currency: row.currency.clone(),
            settlement: settlement(row),
            next_action: None,
            provider: row.provider.clone(),
            provider_payment_id: row.provider_payment_id.clone(),
            payment_method: row.payment_method.clone(),
            failure_code: row.failure_code.clone(),
            created_at: row.created_at,
            updated_at: row.updated_at,
        }
    }
}

impl From<&TxnRow> for Transaction {
    fn from(row: &TxnRow) -> Self {
        Transaction {
            id: row.id,
            payment_intent_id: row.payment_intent_id,
            operation: row.operation,
            amount: MinorUnits(row.amount),
            currency: row.currency.clone(),
            settlement_amount: MinorUnits(row.settlement_amount.unwrap_or(row.amount)),
            settlement_currency: row
                .settlement_currency
                .clone()
                .unwrap_or_else(|| row.currency.clone()),
            status: row.status,
            provider_txn_id: row.provider_txn_id.clone(),
            failure_code: row.failure_code.clone(),
            reason: row.reason.clone(),
            raw_response_redacted: row.raw_response_redacted.clone(),
            correlation_id: row.correlation_id.clone(),
            actor: row.actor.clone(),
            created_at: row.created_at,
            updated_at: row.updated_at,
        }
    }
}
