//! The payment flows on an intent: capture, void and refund, up to the pending transaction
//! (phase 1; `authorize.rs` starts intents); `phases.rs` calls the provider and records the
//! outcome.
//!
//! Everything that can fail before the provider call (finding the intent, building the
//! provider's client) happens before phase 1 commits: a `provider_unavailable` that recorded
//! nothing can never turn into a charge later.

use chrono::{DateTime, Utc};

use super::{
    CaptureRequest, Operation, RefundRequest, TransactionStatus,
    caller::Caller,
    error::Error,
    keys::{LedgerKey, amount_part},
    machine::{self, Event, IntentStatus, TransitionError},
    phases::{Attempt, CAS_ATTEMPTS, drive, resume},
    provider::client_for,
    reply::Reply,
    repo::{self, IntentRow, Outcome, TxnRow},
    write_repo,
};
use crate::{
    db::DbError,
    idempotency::{KeyRecord, answer},
    money::MinorUnits,
    providers::payment::Units,
    state::AppState,
    types::{Environment, InvalidValue, OrderId, PaymentIntentId, StoreId, TransactionId},
};

pub(super) fn new_txn(
    intent: &IntentRow,
    operation: Operation,
    key: &LedgerKey,
    amount: i64,
    reason: Option<String>,
    caller: &Caller,
    now: DateTime<Utc>,
) -> TxnRow {
    TxnRow {
        id: TransactionId::new(),
        payment_intent_id: intent.id,
        operation,
        idempotency_key: key.key.clone(),
        amount,
        currency: intent.currency.clone(),
        status: TransactionStatus::Pending,
        provider_txn_id: None,
        failure_kind: None,
        failure_code: None,
        reason,
        raw_response_redacted: None,
        correlation_id: caller.correlation_id.clone(),
        actor: caller.actor.clone(),
        request_hash: Some(key.hash.clone()),
        attempts: 0,
        next_attempt_at: Some(now),
        created_at: now,
        updated_at: now,
        // Nominal until it succeeds: then the step of the running total it moved (phase 3).
        settlement_amount: intent.settle(amount).ok(),
        settlement_currency: Some(intent.settles_in().to_owned()),
    }
}

/// An intent of an order inside a store and environment; anything else is a 404.
async fn find_intent(state: &AppState, target: &Target<'_>) -> Result<IntentRow, Error> {
    repo::intent_of_order(
        &state.db,
        target.store,
        target.env,
        target.order_id,
        target.intent_id,
    )
    .await?
    .ok_or(Error::NotFound)
}

/// The transaction `key` made on the intent, refused when it was made for another request.
pub(super) async fn find_txn(
    state: &AppState,
    intent: PaymentIntentId,
    operation: Operation,
    key: &LedgerKey,
) -> Result<Option<TxnRow>, Error> {
    let row = repo::txn_by_key(&state.db, intent, operation, &key.key).await?;
    if let Some(row) = &row {
        key.check(row)?;
    }
    Ok(row)
}

/// The intent a store operation acts on, and who asks under which key.
#[derive(Clone, Copy, Debug)]
pub struct Target<'a> {
    /// The caller's store.
    pub store: StoreId,
    /// The caller's environment.
    pub env: Environment,
    /// The order.
    pub order_id: OrderId,
    /// The intent.
    pub intent_id: PaymentIntentId,
    /// The request's Idempotency-Key.
    pub key: &'a str,
    /// Who asks.
    pub caller: &'a Caller,
    /// The API request's idempotency record, for the flow to write.
    pub reply: Option<&'a Reply>,
}

/// What a store operation asks for.
#[derive(Debug, Clone)]
pub(super) struct OperationRequest {
    pub(super) operation: Operation,
    pub(super) amount: Option<i64>,
    pub(super) reason: Option<String>,
    /// How captures of the intent may overlap at its provider.
    pub(super) captures: Captures,
}

/// How an intent's captures may be made at its provider.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Captures {
    /// Any number, concurrently (the provider tells each apart by its key and reference).
    Concurrent,
    /// Several, one at a time: a capture whose answer was lost is found by the total it left
    /// on the provider's payment, which only says which capture it was when none overlaps.
    OneAtATime,
    /// One: refused while another capture is on its way or after one, since the provider
    /// would refuse it and, worse, the first one's release of the rest could not be recorded
    /// while another reservation stands.
    Once,
}

impl Captures {
    /// The rule for `intent` at a provider that captures once (or not) unless the
    /// authorization said it may be captured more than once.
    fn of(intent: &IntentRow, captures_once: bool) -> Self {
        match (captures_once, intent.multicapture) {
            (false, _) => Self::Concurrent,
            (true, true) => Self::OneAtATime,
            (true, false) => Self::Once,
        }
    }
}

/// `POST …/capture`: captures `amount` (all that is left when absent). With `final_capture`
/// the uncaptured rest of the authorization is released at the provider afterwards.
pub async fn capture(
    state: &AppState,
    target: Target<'_>,
    request: CaptureRequest,
) -> Result<Outcome, Error> {
    // A provider that captures once releases the rest with the capture: the ledger says so.
    let intent = find_intent(state, &target).await?;
    let captures = captures(state, &intent);
    let final_capture = request.final_capture.unwrap_or(false) || captures == Captures::Once;
    let key = LedgerKey::new(
        target.caller,
        target.key,
        &[
            "capture",
            &amount_part(request.amount),
            if final_capture { "final" } else { "" },
        ],
    );
    let operation = OperationRequest {
        operation: Operation::Capture,
        amount: request.amount,
        reason: None,
        captures,
    };
    if !final_capture {
        return operate_on(state, &target, intent, operation, &key, target.reply).await;
    }
    // Two provider operations: the key is claimed by the first, so a concurrent request with
    // it waits; the answer is stored after both (by the edge).
    let first = target.reply.map(Reply::claim_only);
    let captured = operate_on(state, &target, intent, operation, &key, first.as_ref()).await?;
    if captured.1.status != TransactionStatus::Succeeded || captured.0.ledger().remainder().0 == 0 {
        return Ok(captured);
    }
    let release = OperationRequest {
        operation: Operation::Void,
        amount: None,
        reason: None,
        captures: Captures::Concurrent,
    };
    match operate(state, &target, release, &key.step("release"), None).await {
        Ok((intent, txn)) if txn.status == TransactionStatus::Failed => {
            // Captured; the rest is still held (and voidable), as the answer shows.
            tracing::warn!(code = ?txn.failure_code, "could not release the rest after a final capture");
            Ok((intent, captured.1))
        }
        Ok((intent, txn)) => Ok((intent, txn)),
        // The capture stands and must be answered as such: an error here would invite the
        // client to capture again under a new key.
        Err(err) => {
            tracing::warn!(error = %err, "could not release the rest after a final capture");
            Ok(captured)
        }
    }
}

/// A capture settled after its request had finished (by the resolver, or a provider event)
/// at a provider that captures once: the provider released the rest with it, so the ledger
/// releases it too, under the key the request's own release step would have used (a retry of
/// the request then finds it rather than releasing again). A release the provider refused is
/// final under its key: the resolver's sweep tries again with `attempt` > 0, each under a key
/// of its own.
pub(crate) async fn release_after_capture(
    state: &AppState,
    caller: &Caller,
    (intent, txn): &Outcome,
    attempt: i64,
) -> Result<(), Error> {
    let captures_once = state
        .payment_providers
        .get(&intent.provider)
        .is_some_and(|adapter| adapter.captures_once());
    let ledger = intent.ledger();
    if txn.operation != Operation::Capture
        || txn.status != TransactionStatus::Succeeded
        || Captures::of(intent, captures_once) != Captures::Once
        || !ledger.voidable_now()
    {
        return Ok(());
    }
    let mut key = LedgerKey {
        key: txn.idempotency_key.clone(),
        hash: txn.request_hash.clone().unwrap_or_default(),
    }
    .step("release");
    if attempt > 0 {
        key = key.step(&format!("retry-{attempt}"));
    }
    let target = Target {
        store: intent.store_id,
        env: intent.environment,
        order_id: intent.order_id,
        intent_id: intent.id,
        key: &key.key,
        caller,
        reply: None,
    };
    let release = OperationRequest {
        operation: Operation::Void,
        amount: None,
        reason: None,
        captures: Captures::Concurrent,
    };
    operate(state, &target, release, &key, None).await?;
    Ok(())
}

/// How the intent's captures may be made (see `PaymentAdapter::captures_once`).
fn captures(state: &AppState, intent: &IntentRow) -> Captures {
    let captures_once = state
        .payment_providers
        .get(&intent.provider)
        .is_some_and(|adapter| adapter.captures_once());
    Captures::of(intent, captures_once)
}

/// `POST …/void`: releases the uncaptured part of an authorization: all of it before any
/// capture (the intent is `voided`), the rest after partial captures (the intent keeps what
/// was captured).
pub async fn void(state: &AppState, target: Target<'_>) -> Result<Outcome, Error> {
    let key = LedgerKey::new(target.caller, target.key, &["void"]);
    let request = OperationRequest {
        operation: Operation::Void,
        amount: None,
        reason: None,
        captures: Captures::Concurrent,
    };
    operate(state, &target, request, &key, target.reply).await
}

/// `POST …/refund`: refunds `amount` of the captures. When the refunds then cover everything
/// captured while part of the authorization was never captured, that rest is released at the
/// provider, so nothing stays held on the customer's card and the intent can become `refunded`.
pub async fn refund(
    state: &AppState,
    target: Target<'_>,
    request: RefundRequest,
) -> Result<Outcome, Error> {
    if let Some(r) = &request.reason
        && r.chars().count() > 500
    {
        return Err(InvalidValue::new("reason", "at most 500 characters").into());
    }
    let reason = request
        .reason
        .map(|r| r.trim().to_owned())
        .filter(|r| !r.is_empty());
    let key = LedgerKey::new(
        target.caller,
        target.key,
        &[
            "refund",
            &amount_part(request.amount),
            reason.as_deref().unwrap_or_default(),
        ],
    );
    let operation = OperationRequest {
        operation: Operation::Refund,
        amount: request.amount,
        reason,
        captures: Captures::Concurrent,
    };
    let intent = find_intent(state, &target).await?;
    if intent.ledger().remainder().0 == 0 {
        return operate(state, &target, operation, &key, target.reply).await;
    }
    // A release may follow: the key is claimed by the refund, so a concurrent request with it
    // waits; the answer is stored after both (by the edge).
    let first = target.reply.map(Reply::claim_only);
    let (intent, txn) = operate(state, &target, operation, &key, first.as_ref()).await?;
    let ledger = intent.ledger();
    let all_refunded = ledger.refunded == ledger.captured
        && ledger.refund_reserved.0 == 0
        && ledger.capture_reserved.0 == 0;
    if txn.status != TransactionStatus::Succeeded || !all_refunded || !ledger.voidable_now() {
        return Ok((intent, txn));
    }
    let release = OperationRequest {
        operation: Operation::Void,
        amount: None,
        reason: None,
        captures: Captures::Concurrent,
    };
    match operate(state, &target, release, &key.step("release"), None).await {
        Ok((released, release_txn)) if release_txn.status == TransactionStatus::Succeeded => {
            Ok((released, txn))
        }
        // The refund stands; the rest is still held and voidable, as the answer shows.
        Ok((after, _)) => Ok((after, txn)),
        Err(err) => {
            tracing::warn!(error = %err, "could not release the rest after a full refund");
            Ok((intent, txn))
        }
    }
}

/// Phase 1 of capture, void and refund: reserve on the intent and record the pending
/// transaction in one database transaction; then drive it.
pub(super) async fn operate(
    state: &AppState,
    target: &Target<'_>,
    request: OperationRequest,
    key: &LedgerKey,
    reply: Option<&Reply>,
) -> Result<Outcome, Error> {
    let intent = find_intent(state, target).await?;
    operate_on(state, target, intent, request, key, reply).await
}

/// [`operate`] on the target's `intent`, just read by the caller (phase 1 locks and reads it
/// again before it reserves).
async fn operate_on(
    state: &AppState,
    target: &Target<'_>,
    intent: IntentRow,
    request: OperationRequest,
    key: &LedgerKey,
    reply: Option<&Reply>,
) -> Result<Outcome, Error> {
    let caller = target.caller;
    // A retry finds the transaction its key already made. It is looked for only when the fresh
    // path stops (the reservation's unique key or a rule refuses, the provider cannot be
    // reached): the common first request then pays no lookup, and a retry is answered as
    // before, since every way the fresh path can stop first leads here.
    let existing = |err: Error| async move {
        // The database itself failing says nothing about the key: answered as it is (a 503
        // whose edge releases the claim), not after a second wait on the same database.
        if let Error::Db(DbError::Unavailable(_) | DbError::Busy(_) | DbError::Full(_)) = err {
            return Err(err);
        }
        // The lookup's own error wins: a key reused for another request is said as such, and
        // without an answer the first error is no proof that nothing happened under the key.
        match find_txn(state, intent.id, request.operation, key).await? {
            Some(txn) => {
                let intent = repo::intent(&state.db, intent.id).await?;
                resume(state, caller, (intent, txn), reply).await
            }
            None => Err(err),
        }
    };
    let client = match client_for(state, target.store, Some(&intent.provider), target.env).await {
        Ok(client) => client,
        Err(err) => return existing(err).await,
    };
    // What is left of a representable total is representable; an amount asked for may not be.
    if let Some(amount) = request.amount
        && let Err(err) = Units::of(client.as_ref(), &intent.currency)
            .to_provider(MinorUnits(amount), &intent.currency)
    {
        return existing(err.into()).await;
    }
    let claim = reply.map(|r| &r.record).filter(|r| r.needs_claim());
    for _ in 0..CAS_ATTEMPTS {
        let reserved = match reserve(state, intent.id, &request, key, caller, claim).await {
            Ok(reserved) => reserved,
            // Another request holds the key: it answers, whatever its transaction.
            Err(err @ Error::KeyInUse) => return Err(err),
            Err(err) => return existing(err).await,
        };
        match reserved {
            Some(outcome) => {
                if let Some(record) = claim {
                    record.claimed();
                }
                return drive(
                    state,
                    caller,
                    client.as_ref(),
                    outcome,
                    reply,
                    Attempt::First,
                )
                .await;
            }
            None => {
                if let Some(txn) = find_txn(state, intent.id, request.operation, key).await? {
                    let intent = repo::intent(&state.db, intent.id).await?;
                    return resume(state, caller, (intent, txn), reply).await;
                }
            }
        }
    }
    Err(Error::Internal(anyhow::anyhow!(
        "could not reserve on the intent after {CAS_ATTEMPTS} attempts"
    )))
}

/// One attempt of phase 1: the key claim, the reservation on the intent and the pending
/// transaction, committed together. `Ok(None)` when a concurrent writer got there first
/// (the same key's transaction, or another change of the intent); nothing was written.
async fn reserve(
    state: &AppState,
    intent_id: PaymentIntentId,
    request: &OperationRequest,
    key: &LedgerKey,
    caller: &Caller,
    claim: Option<&KeyRecord>,
) -> Result<Option<Outcome>, Error> {
    let now = state.clock.now();
    let mut tx = state.db.begin_write().await?;
    // First, so a concurrent request with the same key waits here and changes nothing.
    if let Some(record) = claim
        && !answer::claim(&mut tx, record, now).await?
    {
        return Err(Error::KeyInUse);
    }
    let current = repo::lock_intent(&mut tx, intent_id).await?;
    let ledger = current.ledger();
    let (event, amount) = match request.operation {
        Operation::Capture => {
            let overlaps = match request.captures {
                Captures::Concurrent => false,
                Captures::OneAtATime => ledger.capture_reserved.0 > 0,
                Captures::Once => ledger.capture_reserved.0 > 0 || ledger.captured.0 > 0,
            };
            if overlaps {
                return Err(TransitionError::InvalidTransition {
                    from: ledger.status,
                    event: "capture",
                }
                .into());
            }
            let amount = request.amount.unwrap_or(ledger.capturable().0);
            if request.amount.is_none()
                && amount == 0
                && matches!(
                    ledger.status,
                    IntentStatus::Authorized | IntentStatus::PartiallyCaptured
                )
            {
                // Nothing left to capture: said as such rather than as a zero amount.
                return Err(TransitionError::ExceedsCapturable {
                    available: MinorUnits(0),
                }
                .into());
            }
            (
                Event::CaptureRequested {
                    amount: MinorUnits(amount),
                },
                amount,
            )
        }
        // What a void gives back: the part of the authorization not captured.
        Operation::Void => (Event::VoidRequested, ledger.remainder().0.max(0)),
        Operation::Refund => {
            let amount = request.amount.unwrap_or(0);
            (
                Event::RefundRequested {
                    amount: MinorUnits(amount),
                },
                amount,
            )
        }
        Operation::Authorize => {
            return Err(Error::Internal(anyhow::anyhow!(
                "authorize is not an operation on an intent"
            )));
        }
    };
    let next = machine::apply(ledger, event)?;
    let txn = new_txn(
        &current,
        request.operation,
        key,
        amount,
        request.reason.clone(),
        caller,
        now,
    );
    let after = current.with_ledger(&next, now);
    // The same key raced us (its transaction is the answer), or the intent moved on.
    if !write_repo::insert_reserved(&mut tx, &txn, &current, &after).await? {
        return Ok(None);
    }
    tx.commit().await?;
    Ok(Some((after, txn)))
}
