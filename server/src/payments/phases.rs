//! Phases 2 and 3 of a provider operation: call the provider with the key derived from the
//! pending transaction, classify what it said, and record the outcome exactly once (with the
//! request's idempotent answer, when the flow stores one, in the same database transaction).

use self::call::{ABANDONED_AFTER, abandon, look_up, release_wrong_amount, send};
use super::{
    Operation, TransactionStatus,
    caller::Caller,
    error::Error,
    machine::{self, Event, IntentStatus},
    notify,
    provider::client_for,
    reply::Reply,
    repo::{self, FailureKind, NewHistory, Outcome, Subject, TxnRow},
    write_repo,
};
use crate::{
    db::Writes,
    idempotency::{
        answer::{self, Answer},
        provider_key,
    },
    money::MinorUnits,
    orders::{self, OrderStatus},
    outbound::{self, EventType, NewEvent},
    providers::{
        audit::{AuditEntry, AuditLog},
        payment::{CallContext, PaymentProvider, ProviderError, ProviderTransaction, Units},
    },
    state::AppState,
    tax,
    types::TransactionId,
};

/// Attempts of a compare-and-set before giving up (only PostgreSQL without the row lock, or a
/// bug, would need more than one).
pub(super) const CAS_ATTEMPTS: usize = 8;

/// What the provider said, classified.
#[derive(Debug, Clone)]
pub(crate) enum ProviderOutcome {
    Succeeded {
        provider_id: String,
        amount: MinorUnits,
        raw: String,
        /// An authorization the provider may capture more than once.
        multicapture: bool,
    },
    Pending {
        provider_id: String,
        raw: String,
    },
    Failed {
        kind: FailureKind,
        code: String,
        /// The provider's id, when it created something (an authorization of the wrong amount,
        /// voided at once).
        provider_id: Option<String>,
    },
    Unknown,
}

/// Whether this call is the first one for its transaction. Only then does "nothing happened"
/// (a 5xx, a refusal to look at the request) mean the operation did not happen: a resend may
/// meet a provider that already did it and merely fails to say so now.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Attempt {
    /// Phase 1 just recorded the transaction; no earlier call exists.
    First,
    /// An earlier call may have reached the provider (a retry, the resolver).
    Again,
}

pub(crate) fn raw(ptx: &ProviderTransaction) -> String {
    serde_json::to_string(ptx).unwrap_or_default()
}

fn failed(kind: FailureKind, code: String) -> ProviderOutcome {
    ProviderOutcome::Failed {
        kind,
        code,
        provider_id: None,
    }
}

/// The transaction's amount cannot be written in the provider's units.
pub(crate) const NOT_REPRESENTABLE: &str = "amount_not_representable";

/// Rejections raised on our side before a request went out.
const NOT_SENT: [&str; 4] = [
    "egress_refused",
    "request_not_sent",
    "no_provider_payment",
    NOT_REPRESENTABLE,
];

fn classify(
    operation: Operation,
    attempt: Attempt,
    result: Result<ProviderTransaction, ProviderError>,
) -> ProviderOutcome {
    match result {
        Ok(ptx) => match (operation, ptx.status.as_str()) {
            (Operation::Authorize, "authorized" | "captured") => ProviderOutcome::Succeeded {
                provider_id: ptx.id.clone(),
                amount: ptx.amount,
                raw: raw(&ptx),
                multicapture: ptx.multicapture,
            },
            (Operation::Authorize, "pending") => ProviderOutcome::Pending {
                provider_id: ptx.id.clone(),
                raw: raw(&ptx),
            },
            (Operation::Authorize, "failed" | "voided") => {
                failed(FailureKind::Declined, "async_declined".to_owned())
            }
            (Operation::Authorize, _) => ProviderOutcome::Unknown,
            // Accepted but not done (a refund Stripe is still sending to the bank): open until
            // the provider says, never money moved yet.
            (_, "pending") => ProviderOutcome::Pending {
                provider_id: ptx.id.clone(),
                raw: raw(&ptx),
            },
            (_, _) => ProviderOutcome::Succeeded {
                provider_id: ptx.id.clone(),
                amount: MinorUnits(0),
                raw: raw(&ptx),
                multicapture: false,
            },
        },
        // Answers about this very request (or its idempotent replay): final. A refusal raised
        // before anything was sent says nothing about an earlier call, though.
        Err(ProviderError::Declined { code }) => failed(FailureKind::Declined, code),
        Err(ProviderError::Rejected { code })
            // Codes may carry a reason after the name (`egress_refused: <why>`).
            if attempt == Attempt::Again
                && NOT_SENT
                    .iter()
                    .any(|n| code == *n || code.starts_with(&format!("{n}:"))) =>
        {
            ProviderOutcome::Unknown
        }
        Err(ProviderError::Rejected { code }) => failed(FailureKind::Rejected, code),
        // The client already retried with the same key; on a first call nothing happened.
        Err(ProviderError::Retryable(_)) if attempt == Attempt::First => {
            failed(FailureKind::Unavailable, "provider_unavailable".to_owned())
        }
        Err(ProviderError::Refused { status: 429, .. }) if attempt == Attempt::First => {
            failed(FailureKind::Unavailable, "provider_rate_limited".to_owned())
        }
        Err(ProviderError::Refused { code, .. }) if attempt == Attempt::First => {
            failed(FailureKind::Rejected, code)
        }
        // A resend that the provider would not look at settles nothing: only the provider's
        // truth about the operation does.
        Err(ProviderError::Retryable(_) | ProviderError::Refused { .. }) => {
            ProviderOutcome::Unknown
        }
        Err(ProviderError::UnknownOutcome(_)) => ProviderOutcome::Unknown,
    }
}

/// What the transaction recording an outcome writes besides it.
#[derive(Clone, Copy, Default)]
pub(crate) struct Extras<'a> {
    /// The API answer, stored on the request's idempotency record.
    pub reply: Option<&'a Reply>,
    /// The provider call's audit rows.
    pub audit: Option<&'a AuditLog>,
}

/// Drives a transaction an earlier request with this key created (a settled one is the
/// answer as it is). Its earlier call may have reached the provider, so only the provider's
/// truth settles it.
pub(super) async fn resume(
    state: &AppState,
    caller: &Caller,
    (intent, txn): Outcome,
    reply: Option<&Reply>,
) -> Result<Outcome, Error> {
    if !txn.status.is_open() {
        return Ok((intent, txn));
    }
    // An earlier call may have reached the provider: whatever stops us from asking now, the
    // outcome is still unknown (never "nothing charged", which would invite a second key).
    let client = client_for(
        state,
        intent.store_id,
        Some(&intent.provider),
        intent.environment,
    )
    .await
    .map_err(|_| Error::ProviderOutcomeUnknown)?;
    claim_alone(state, reply).await?;
    drive(
        state,
        caller,
        client.as_ref(),
        (intent, txn),
        reply,
        Attempt::Again,
    )
    .await
}

/// Claims the request's key in a transaction of its own: for the rare requests that drive a
/// transaction an earlier attempt with the same key left open (its record was released after a
/// 5xx), so that two such retries never call the provider at once.
async fn claim_alone(state: &AppState, reply: Option<&Reply>) -> Result<(), Error> {
    let Some(record) = reply.map(|r| &r.record).filter(|r| r.needs_claim()) else {
        return Ok(());
    };
    if !answer::claim_alone(&state.db, record, state.clock.now()).await? {
        return Err(Error::KeyInUse);
    }
    Ok(())
}

/// Phases 2 and 3 for an open transaction: call the provider with the key derived from the
/// transaction's id, then record the outcome (with the call's audit rows and, for an API
/// request, its idempotent answer). A settled transaction is returned as it is.
pub(super) async fn drive(
    state: &AppState,
    caller: &Caller,
    client: &dyn PaymentProvider,
    (intent, txn): Outcome,
    reply: Option<&Reply>,
    attempt: Attempt,
) -> Result<Outcome, Error> {
    if !txn.status.is_open() {
        return Ok((intent, txn));
    }
    let operation = txn.operation;
    // Phase 1 (the pending transaction) is committed; the provider has not been called.
    crate::crash_point!(&format!("payments.{}.after_intent", operation.as_str()));
    let audit = AuditLog::default();
    let call = CallContext {
        idempotency_key: provider_key(txn.id.0, operation.as_str(), 0),
        correlation_id: caller.correlation_id.clone(),
        reference: Some(txn.id.to_string()),
        audit: Some(audit.clone()),
    };
    let units = Units::of(client, &intent.currency);
    let result = match units.to_provider(MinorUnits(txn.amount), &intent.currency) {
        // Checked before phase 1; a transaction written before the provider's rule changed.
        Err(_) => Err(ProviderError::Rejected {
            code: NOT_REPRESENTABLE.to_owned(),
        }),
        Ok(sent) => match look_up(client, caller, &intent, &txn, sent, attempt, state).await {
            Ok(Some(found)) => Ok(found),
            Ok(None) => send(client, &call, caller, &intent, &txn, sent).await,
            Err(err) => Err(err),
        },
    };
    let result = result.and_then(|ptx| {
        units.read(ptx).ok_or_else(|| {
            ProviderError::UnknownOutcome("an amount finer than the currency has".to_owned())
        })
    });
    // A release confirmed by a capture (Stripe's, of part of the authorization) is ours only
    // when the provider captured what the ledger did: a capture made elsewhere is not a
    // release to record.
    let result = result.and_then(|ptx| match (operation, ptx.status.as_str()) {
        (Operation::Void, "captured") if ptx.captured.0 != intent.captured_amount => {
            Err(ProviderError::UnknownOutcome(format!(
                "the provider captured {} where the ledger has {}",
                ptx.captured.0, intent.captured_amount
            )))
        }
        _ => Ok(ptx),
    });
    let mut outcome = classify(operation, attempt, result);
    if let (
        Operation::Authorize,
        ProviderOutcome::Succeeded {
            provider_id,
            amount,
            ..
        },
    ) = (operation, &outcome)
        && amount.0 != txn.amount
    {
        outcome = release_wrong_amount(client, &call, &txn, provider_id, *amount).await;
    }
    if let (Operation::Authorize, ProviderOutcome::Pending { provider_id, .. }) =
        (operation, &outcome)
        && txn.provider_txn_id.is_some()
        && state.clock.now() - txn.created_at >= ABANDONED_AFTER
    {
        outcome = abandon(client, &call, &txn, provider_id).await;
    }
    // The provider has acted (or refused); its outcome is not recorded yet.
    crate::crash_point!(&format!("payments.{}.after_provider", operation.as_str()));
    let extras = Extras {
        reply,
        audit: Some(&audit),
    };
    let settled = settle(state, caller, txn.id, outcome, extras).await;
    // The outcome (and the request's answer) is committed; nobody has been told yet.
    crate::crash_point!(&format!("payments.{}.after_outcome", operation.as_str()));
    // Rows the outcome's transaction did not take (someone else recorded it, or it failed).
    audit.flush(&state.db).await;
    settled
}

/// The transaction's new status and the intent event an outcome means.
fn plan(
    operation: Operation,
    txn: &TxnRow,
    outcome: &ProviderOutcome,
) -> (TransactionStatus, Option<Event>) {
    let amount = MinorUnits(txn.amount);
    match (operation, outcome) {
        (Operation::Authorize, ProviderOutcome::Succeeded { amount: got, .. }) => {
            if *got == amount {
                (
                    TransactionStatus::Succeeded,
                    Some(Event::AuthorizeSucceeded { amount }),
                )
            } else {
                // Never treated as paid (`drive` voids it at the provider first).
                (TransactionStatus::Failed, Some(Event::AuthorizeFailed))
            }
        }
        (Operation::Authorize, ProviderOutcome::Pending { .. }) => {
            (TransactionStatus::Pending, Some(Event::AuthorizePending))
        }
        (Operation::Authorize, ProviderOutcome::Failed { .. }) => {
            (TransactionStatus::Failed, Some(Event::AuthorizeFailed))
        }
        // The provider accepted it and settles asynchronously; not hearing back about it now
        // changes nothing: it stays pending until the provider says.
        (Operation::Authorize, ProviderOutcome::Unknown) if txn.provider_txn_id.is_some() => {
            (TransactionStatus::Pending, None)
        }
        (Operation::Authorize, ProviderOutcome::Unknown) => {
            (TransactionStatus::Unknown, Some(Event::AuthorizeUnknown))
        }
        (_, ProviderOutcome::Pending { .. }) => (TransactionStatus::Pending, None),
        // One the provider accepted stays pending however often it does not answer now.
        (_, ProviderOutcome::Unknown) if txn.provider_txn_id.is_some() => {
            (TransactionStatus::Pending, None)
        }
        (_, ProviderOutcome::Unknown) => (TransactionStatus::Unknown, None),
        (Operation::Capture, ProviderOutcome::Succeeded { .. }) => (
            TransactionStatus::Succeeded,
            Some(Event::CaptureSucceeded { amount }),
        ),
        (Operation::Capture, ProviderOutcome::Failed { .. }) => (
            TransactionStatus::Failed,
            Some(Event::CaptureFailed { amount }),
        ),
        (Operation::Void, ProviderOutcome::Succeeded { .. }) => {
            (TransactionStatus::Succeeded, Some(Event::VoidSucceeded))
        }
        (Operation::Void, ProviderOutcome::Failed { .. }) => {
            (TransactionStatus::Failed, Some(Event::VoidFailed))
        }
        (Operation::Refund, ProviderOutcome::Succeeded { .. }) => (
            TransactionStatus::Succeeded,
            Some(Event::RefundSucceeded { amount }),
        ),
        (Operation::Refund, ProviderOutcome::Failed { .. }) => (
            TransactionStatus::Failed,
            Some(Event::RefundFailed { amount }),
        ),
    }
}

fn history_reason(operation: Operation, txn: &TxnRow, outcome: &ProviderOutcome) -> String {
    let what = match operation {
        Operation::Authorize => "authorization",
        Operation::Capture => "capture",
        Operation::Void => "void",
        Operation::Refund => "refund",
    };
    let amount = crate::money::format_amount(txn.amount, &txn.currency);
    match outcome {
        ProviderOutcome::Succeeded { .. } => format!("{what} of {amount} succeeded"),
        ProviderOutcome::Pending { .. } => format!("{what} of {amount} pending at the provider"),
        ProviderOutcome::Failed { code, .. } => format!("{what} of {amount} failed: {code}"),
        ProviderOutcome::Unknown => format!("{what} of {amount}: outcome unknown"),
    }
}

/// Phase 3: records an outcome on a still-open transaction and applies it to the intent, in
/// one database transaction. A transaction someone else settled meanwhile is left alone, so
/// an outcome is applied exactly once however many callers (retries, resolver, webhooks) race.
pub(crate) async fn settle(
    state: &AppState,
    caller: &Caller,
    txn_id: TransactionId,
    outcome: ProviderOutcome,
    extras: Extras<'_>,
) -> Result<Outcome, Error> {
    for _ in 0..CAS_ATTEMPTS {
        let now = state.clock.now();
        let audit_rows = extras.audit.map(AuditLog::pending).unwrap_or_default();
        let change = Change {
            caller,
            txn_id,
            outcome: &outcome,
            reply: extras.reply,
            audit_rows: &audit_rows,
        };
        match record(state, change, now).await? {
            Recorded::Already(done) => return Ok(done),
            Recorded::Raced => {}
            Recorded::Now { outcome, answer } => {
                if let Some(audit) = extras.audit {
                    audit.written(audit_rows.len());
                }
                if let (Some(reply), Some(answer)) = (extras.reply, answer) {
                    answer::settled(&reply.record, answer);
                }
                return Ok(outcome);
            }
        }
    }
    Err(Error::Internal(anyhow::anyhow!(
        "could not record a provider outcome after {CAS_ATTEMPTS} attempts"
    )))
}

/// What one attempt of [`settle`] records.
#[derive(Clone, Copy)]
struct Change<'a> {
    caller: &'a Caller,
    txn_id: TransactionId,
    outcome: &'a ProviderOutcome,
    reply: Option<&'a Reply>,
    audit_rows: &'a [AuditEntry],
}

/// How one attempt of [`settle`] ended.
enum Recorded {
    /// Someone else settled the transaction first: this is what they recorded.
    Already(Outcome),
    /// A compare-and-set lost to a concurrent writer; nothing was written.
    Raced,
    /// Recorded and committed, with the answer stored under the request's key, if any.
    Now {
        outcome: Outcome,
        answer: Option<Answer>,
    },
}

async fn record(
    state: &AppState,
    change: Change<'_>,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<Recorded, Error> {
    let mut tx = state.db.begin_write().await?;
    let txn = repo::lock_txn(&mut tx, change.txn_id).await?;
    let intent = repo::lock_intent(&mut tx, txn.payment_intent_id).await?;
    if !txn.status.is_open() {
        return Ok(Recorded::Already((intent, txn)));
    }
    let operation = txn.operation;
    let outcome = change.outcome;
    let (txn_status, event) = plan(operation, &txn, outcome);
    let (provider_id, raw_response, failure) = match outcome {
        ProviderOutcome::Succeeded {
            provider_id, raw, ..
        }
        | ProviderOutcome::Pending { provider_id, raw } => {
            (Some(provider_id.clone()), Some(raw.clone()), None)
        }
        ProviderOutcome::Failed {
            kind,
            code,
            provider_id,
        } => (provider_id.clone(), None, Some((*kind, code.clone()))),
        ProviderOutcome::Unknown => (None, None, None),
    };
    let ledger = intent.ledger();
    let next = match event {
        // Repeating a non-final status (still pending, still unknown) is no change.
        Some(Event::AuthorizePending) if ledger.status == IntentStatus::Pending => ledger,
        Some(Event::AuthorizeUnknown) if ledger.status == IntentStatus::Unknown => ledger,
        Some(event) => machine::apply(ledger, event)?,
        None => ledger,
    };
    let step = |before: MinorUnits, after: MinorUnits| {
        // The provider's outcome is recorded whatever happens here: a settlement amount that
        // cannot be computed is left out (and said), never a reason to lose the outcome.
        intent
            .settle_step(before.0, after.0)
            .inspect_err(|e| tracing::error!(error = %e, txn = %txn.id, "no settlement amount"))
            .ok()
    };
    let settlement_amount = match (txn_status, operation) {
        (TransactionStatus::Succeeded, Operation::Capture) => step(ledger.captured, next.captured),
        (TransactionStatus::Succeeded, Operation::Refund) => step(ledger.refunded, next.refunded),
        _ => txn.settlement_amount,
    };
    let after_txn = TxnRow {
        status: txn_status,
        updated_at: now,
        settlement_amount,
        provider_txn_id: provider_id.clone().or_else(|| txn.provider_txn_id.clone()),
        raw_response_redacted: raw_response.or_else(|| txn.raw_response_redacted.clone()),
        failure_kind: failure.as_ref().map(|f| f.0),
        failure_code: failure.as_ref().map(|f| f.1.clone()),
        ..txn.clone()
    };
    // The rows below are sent together just before the commit (one statement on PostgreSQL).
    // Their compare-and-sets are checked then: a defence only, since the rows read above are
    // locked (PostgreSQL) or every writer waits for `BEGIN IMMEDIATE` (SQLite).
    let mut writes = Writes::new();
    let txn_slot = write_repo::update_txn_in(&mut tx, &mut writes, &txn, &after_txn).await?;
    let mut intent_slot = None;
    let intent_provider_id = match operation {
        Operation::Authorize => provider_id,
        _ => None,
    };
    let multicapture = matches!(
        (operation, outcome),
        (
            Operation::Authorize,
            ProviderOutcome::Succeeded {
                multicapture: true,
                ..
            }
        )
    );
    let intent_failure = match (operation, &failure) {
        (Operation::Authorize, Some((_, code))) => Some(code.clone()),
        _ => None,
    };
    let mut after = intent.clone();
    if next != ledger || intent_provider_id.is_some() || intent_failure.is_some() {
        after = intent.with_ledger(&next, now);
        if intent_provider_id.is_some() {
            after.provider_payment_id = intent_provider_id;
        }
        after.multicapture |= multicapture;
        if intent_failure.is_some() {
            after.failure_code = intent_failure;
        }
        intent_slot =
            Some(write_repo::update_intent_in(&mut tx, &mut writes, &intent, &after).await?);
    }
    let mut paid_order = None;
    if next.status != ledger.status {
        let reason = history_reason(operation, &txn, outcome);
        let payment = NewHistory {
            order_id: intent.order_id,
            payment_intent_id: Some(intent.id),
            subject: Subject::Payment,
            from_status: Some(ledger.status.as_str()),
            to_status: next.status.as_str(),
            reason: &reason,
            caller: change.caller,
            at: now,
        };
        let mut histories = vec![payment];
        // The order is paid once its payment is authorized, and open again when the
        // authorization is released.
        let order_change = match next.status {
            IntentStatus::Authorized if operation == Operation::Authorize => {
                Some((OrderStatus::Open, OrderStatus::Paid, "payment authorized"))
            }
            IntentStatus::Voided => Some((OrderStatus::Paid, OrderStatus::Open, "payment voided")),
            _ => None,
        };
        let moved = match order_change {
            // The order's paid event carries the order: read with the move.
            Some((from, to @ OrderStatus::Paid, why)) => {
                orders::repo::move_status_with_items(&mut tx, intent.order_id, from, to, now)
                    .await?
                    .map(|(order, items)| (from, to, why, order, Some(items)))
            }
            Some((from, to, why)) => {
                orders::repo::move_status(&mut tx, intent.order_id, from, to, now)
                    .await?
                    .map(|order| (from, to, why, order, None))
            }
            None => None,
        };
        if let Some((from, to, why, order, items)) = moved {
            let history = NewHistory {
                payment_intent_id: None,
                subject: Subject::Order,
                from_status: Some(from.as_str()),
                to_status: to.as_str(),
                reason: why,
                ..payment
            };
            histories.push(history);
            if let Some(items) = items {
                paid_order = Some(orders::view(order, items)?);
            }
        }
        write_repo::insert_histories_in(&mut tx, &mut writes, &histories).await?;
    }
    // The tax a merchant files moves with the money, in the same commit.
    let trigger = match operation {
        Operation::Capture => Some(tax::Trigger::Capture(after_txn.id)),
        Operation::Refund => Some(tax::Trigger::Refund(after_txn.id)),
        Operation::Void => Some(tax::Trigger::Void(after_txn.id)),
        Operation::Authorize => None,
    };
    // What the store's endpoints hear of it, written with it.
    let mut events = notify::settled(&after, &after_txn, now)?;
    if let Some(order) = &paid_order {
        let (store, env) = (after.store_id, after.environment);
        events.push(NewEvent::of(store, env, EventType::OrderPaid, order, now)?);
    }
    if let Some(trigger) = trigger.filter(|_| after_txn.status == TransactionStatus::Succeeded) {
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
            trigger,
            at: now,
        };
        events.extend(tax::settle_tax(&mut tx, &settled).await?);
    }
    let emitted = !events.is_empty();
    outbound::emit_all_in(&mut tx, &mut writes, events).await?;
    write_repo::insert_audit(&mut tx, &mut writes, change.audit_rows).await?;
    let finished = match change.reply.filter(|r| r.store && r.record.is_claimed()) {
        Some(reply) => {
            let answer = (reply.render)(&after, &after_txn);
            let finished = answer::finish(&mut tx, &mut writes, &reply.record, &answer);
            Some((finished.await?, answer))
        }
        None => None,
    };
    let counts = writes.run(&mut tx).await?;
    let lost = |slot| counts.rows(slot) != 1;
    if lost(txn_slot) || intent_slot.is_some_and(lost) {
        // Dropping the transaction rolls every write of it back.
        return Ok(Recorded::Raced);
    }
    let answer = finished.and_then(|(finished, answer)| finished.stored(&counts).then_some(answer));
    tx.commit().await?;
    if emitted {
        outbound::wake(state);
    }
    Ok(Recorded::Now {
        outcome: (after, after_txn),
        answer,
    })
}

mod call;
#[cfg(test)]
mod tests;
