//! Phase 2's calls: the operation sent to the provider (after looking for what an earlier call
//! did, on a resend), and the releases phase 2 makes on its own (an authorization of the wrong
//! amount, one whose customer never completed the challenge).

use super::{Attempt, NOT_REPRESENTABLE, ProviderOutcome};
use crate::{
    idempotency::provider_key,
    money::MinorUnits,
    payments::{
        Operation,
        caller::Caller,
        repo::{FailureKind, IntentRow, TxnRow},
    },
    providers::payment::{
        CallContext, EventOperation, Lookup, PaymentProvider, ProviderError, ProviderTransaction,
        Units,
    },
    state::AppState,
};

/// Before an operation an earlier call may have made is sent again: what the provider's state
/// says it did (`None`: send it again with the same key).
pub(super) async fn look_up(
    client: &dyn PaymentProvider,
    caller: &Caller,
    intent: &IntentRow,
    txn: &TxnRow,
    sent: MinorUnits,
    attempt: Attempt,
    state: &AppState,
) -> Result<Option<ProviderTransaction>, ProviderError> {
    let operation = match txn.operation {
        // An accepted asynchronous authorization is read by `send` itself.
        Operation::Authorize if txn.provider_txn_id.is_some() => return Ok(None),
        Operation::Authorize => EventOperation::Authorize,
        Operation::Capture => EventOperation::Capture,
        Operation::Void => EventOperation::Void,
        Operation::Refund => EventOperation::Refund,
    };
    if attempt == Attempt::First {
        return Ok(None);
    }
    let reference = txn.id.to_string();
    let lookup = Lookup {
        operation,
        payment_id: intent.provider_payment_id.as_deref(),
        reference: &reference,
        amount: sent,
        captured_before: Units::of(client, &intent.currency)
            .to_provider(MinorUnits(intent.captured_amount), &intent.currency)
            .map_err(|_| ProviderError::UnknownOutcome(NOT_REPRESENTABLE.to_owned()))?,
        first_sent: txn.created_at,
        now: state.clock.now(),
    };
    client.look_up(&caller.correlation_id, lookup).await
}

/// The provider call an open transaction makes, with `sent` its amount in the provider's units.
pub(super) async fn send(
    client: &dyn PaymentProvider,
    call: &CallContext,
    caller: &Caller,
    intent: &IntentRow,
    txn: &TxnRow,
    sent: MinorUnits,
) -> Result<ProviderTransaction, ProviderError> {
    match (
        txn.operation,
        intent.provider_payment_id.as_deref(),
        txn.provider_txn_id.as_deref(),
    ) {
        // An asynchronous authorization the provider already accepted: ask for its truth.
        (Operation::Authorize, _, Some(provider_id)) => {
            client
                .get_transaction(&caller.correlation_id, provider_id)
                .await
        }
        (Operation::Authorize, _, None) => {
            client
                .authorize(
                    call,
                    sent,
                    &intent.currency,
                    &intent.payment_method,
                    intent.return_url.as_deref(),
                )
                .await
        }
        (_, None, _) => Err(ProviderError::Rejected {
            code: "no_provider_payment".to_owned(),
        }),
        (Operation::Capture, Some(pid), _) => {
            client
                .capture(call, pid, Some(sent), intent.multicapture)
                .await
        }
        (Operation::Void, Some(pid), _) => client.void(call, pid).await,
        (Operation::Refund, Some(pid), _) => client.refund(call, pid, sent).await,
    }
}

/// The provider authorized another amount than asked: it is never treated as paid, and the
/// authorization is voided at the provider so no money stays held for a failed payment.
pub(super) async fn release_wrong_amount(
    client: &dyn PaymentProvider,
    call: &CallContext,
    txn: &TxnRow,
    provider_id: &str,
    authorized: MinorUnits,
) -> ProviderOutcome {
    tracing::error!(
        asked = txn.amount,
        authorized = authorized.0,
        provider_id,
        "provider authorized a different amount; voiding it"
    );
    let void = CallContext {
        idempotency_key: provider_key(txn.id.0, Operation::Void.as_str(), 0),
        ..call.clone()
    };
    if let Err(err) = client.void(&void, provider_id).await {
        // Not failed yet: that would free the order while the hold stays on the card. The
        // resolver re-sends the authorization, meets the same answer and voids again.
        tracing::error!(error = %err, provider_id,
            "could not void an authorization of the wrong amount; retrying later");
        return ProviderOutcome::Unknown;
    }
    ProviderOutcome::Failed {
        kind: FailureKind::Rejected,
        code: "amount_mismatch".to_owned(),
        provider_id: Some(provider_id.to_owned()),
    }
}

/// How long an authorization may wait for the customer (a 3-D Secure challenge) before it is
/// cancelled at the provider and failed: the customer has left, and an order must not stay
/// half-paid for ever.
pub(crate) const ABANDONED_AFTER: chrono::Duration = chrono::Duration::hours(1);

/// Cancels an authorization whose customer never completed the challenge. Not failed unless the
/// provider confirms: had the customer just completed it, the next look settles it as it is.
pub(super) async fn abandon(
    client: &dyn PaymentProvider,
    call: &CallContext,
    txn: &TxnRow,
    provider_id: &str,
) -> ProviderOutcome {
    let void = CallContext {
        idempotency_key: provider_key(txn.id.0, Operation::Void.as_str(), 0),
        ..call.clone()
    };
    match client.void(&void, provider_id).await {
        Ok(_) => ProviderOutcome::Failed {
            kind: FailureKind::Declined,
            code: "authentication_abandoned".to_owned(),
            provider_id: Some(provider_id.to_owned()),
        },
        Err(err) => {
            tracing::warn!(error = %err, provider_id,
                "could not cancel an abandoned authorization; looking again later");
            ProviderOutcome::Unknown
        }
    }
}
