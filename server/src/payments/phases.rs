//! Phases 2 and 3 of a provider operation: call the provider with the key derived from the
//! pending transaction, classify what it said, and record the outcome exactly once.

use super::{
    Operation, TransactionStatus,
    machine::{self, Event, IntentStatus},
    repo::{
        INSERT_HISTORY, INTENT_COLUMNS, IntentRow, TXN_COLUMNS, TxnRow, UPDATE_INTENT,
        UPDATE_ORDER_STATUS, UPDATE_TXN,
    },
    service::{
        CAS_ATTEMPTS, Caller, Outcome, Reply, answer, bind_ledger, db, set_ledger, transition_error,
    },
};
use axum::response::IntoResponse;

use crate::{
    http::problem::ApiError,
    idempotency::provider_key,
    money::MinorUnits,
    on_db,
    providers::{
        audit::AuditLog,
        payment::{CallContext, PaymentProvider, ProviderError, ProviderTransaction},
    },
    state::AppState,
    types::{Environment, PaymentIntentId, StoreId, TransactionId},
};

/// What the provider said, classified.
#[derive(Debug, Clone)]
pub(crate) enum ProviderOutcome {
    Succeeded {
        provider_id: String,
        amount: MinorUnits,
        raw: String,
    },
    Pending {
        provider_id: String,
        raw: String,
    },
    Failed {
        kind: &'static str,
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

fn failed(kind: &'static str, code: String) -> ProviderOutcome {
    ProviderOutcome::Failed {
        kind,
        code,
        provider_id: None,
    }
}

/// Rejections raised on our side before a request went out.
const NOT_SENT: [&str; 2] = ["egress_refused", "no_provider_payment"];

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
            },
            (Operation::Authorize, "pending") => ProviderOutcome::Pending {
                provider_id: ptx.id.clone(),
                raw: raw(&ptx),
            },
            (Operation::Authorize, "failed" | "voided") => {
                failed("declined", "async_declined".to_owned())
            }
            (Operation::Authorize, _) => ProviderOutcome::Unknown,
            (_, _) => ProviderOutcome::Succeeded {
                provider_id: ptx.id.clone(),
                amount: MinorUnits(0),
                raw: raw(&ptx),
            },
        },
        // Answers about this very request (or its idempotent replay): final. A refusal raised
        // before anything was sent says nothing about an earlier call, though.
        Err(ProviderError::Declined { code }) => failed("declined", code),
        Err(ProviderError::Rejected { code })
            if attempt == Attempt::Again && NOT_SENT.contains(&code.as_str()) =>
        {
            ProviderOutcome::Unknown
        }
        Err(ProviderError::Rejected { code }) => failed("rejected", code),
        // The client already retried with the same key; on a first call nothing happened.
        Err(ProviderError::Retryable(_)) if attempt == Attempt::First => {
            failed("unavailable", "provider_unavailable".to_owned())
        }
        Err(ProviderError::Refused { status: 429, .. }) if attempt == Attempt::First => {
            failed("unavailable", "provider_rate_limited".to_owned())
        }
        Err(ProviderError::Refused { code, .. }) if attempt == Attempt::First => {
            failed("rejected", code)
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

/// The provider client for an intent's store, provider (the registry's default for a new
/// payment) and environment. Built before anything is recorded, so a store whose client cannot
/// be built gets `503` with nothing left behind.
pub(crate) async fn client_for(
    state: &AppState,
    store: StoreId,
    provider: Option<&str>,
    env: Environment,
) -> Result<Box<dyn PaymentProvider>, ApiError> {
    crate::credentials::payment_client(state, store, provider, env)
        .await
        .map_err(|err| {
            tracing::warn!(error = %err, "no payment provider client for the store");
            ApiError::ProviderUnavailable
        })
}

/// The environment of an intent row.
pub(crate) fn environment(intent: &IntentRow) -> Result<Environment, ApiError> {
    intent
        .environment
        .parse()
        .map_err(|_| ApiError::Internal(anyhow::anyhow!("bad environment in a row")))
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
) -> Result<Outcome, ApiError> {
    if !txn.status().is_open() {
        return Ok((intent, txn));
    }
    let operation = txn.operation();
    let audit = AuditLog::default();
    let call = CallContext {
        idempotency_key: provider_key(txn.id.0, operation.as_str(), 0),
        correlation_id: caller.correlation_id.clone(),
        reference: Some(txn.id.to_string()),
        audit: Some(audit.clone()),
    };
    let result = match (
        operation,
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
                    &call,
                    MinorUnits(txn.amount),
                    &intent.currency,
                    &intent.payment_method,
                )
                .await
        }
        (_, None, _) => Err(ProviderError::Rejected {
            code: "no_provider_payment".to_owned(),
        }),
        (Operation::Capture, Some(pid), _) => {
            client
                .capture(&call, pid, Some(MinorUnits(txn.amount)))
                .await
        }
        (Operation::Void, Some(pid), _) => client.void(&call, pid).await,
        (Operation::Refund, Some(pid), _) => {
            client.refund(&call, pid, MinorUnits(txn.amount)).await
        }
    };
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
    let extras = Extras {
        reply,
        audit: Some(&audit),
    };
    let settled = settle(state, caller, txn.id, outcome, extras).await;
    // Rows the outcome's transaction did not take (someone else recorded it, or it failed).
    audit.flush(&state.db).await;
    settled
}

/// The provider authorized another amount than asked: it is never treated as paid, and the
/// authorization is voided at the provider so no money stays held for a failed payment.
async fn release_wrong_amount(
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
        kind: "rejected",
        code: "amount_mismatch".to_owned(),
        provider_id: Some(provider_id.to_owned()),
    }
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
        (_, ProviderOutcome::Unknown | ProviderOutcome::Pending { .. }) => {
            (TransactionStatus::Unknown, None)
        }
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
) -> Result<Outcome, ApiError> {
    let lock = state.db.lock_for_update_sql();
    let select_txn = format!("SELECT {TXN_COLUMNS} FROM payment_transactions WHERE id = $1{lock}");
    let select_intent = format!("SELECT {INTENT_COLUMNS} FROM payment_intents WHERE id = $1{lock}");
    for _ in 0..CAS_ATTEMPTS {
        let now = state.clock.now();
        let audit_rows = extras.audit.map(AuditLog::pending).unwrap_or_default();
        let mut stored = None;
        let mut audited = false;
        let attempt: Result<Option<Outcome>, ApiError> = on_db!(&state.db, pool => {
            async {
                let mut tx = pool.begin_with(state.db.begin_write_sql()).await.map_err(db)?;
                let txn: TxnRow = sqlx::query_as(&select_txn).bind(txn_id).fetch_one(&mut *tx).await.map_err(db)?;
                let intent: IntentRow = sqlx::query_as(&select_intent).bind(txn.payment_intent_id)
                    .fetch_one(&mut *tx).await.map_err(db)?;
                if !txn.status().is_open() {
                    return Ok(Some((intent, txn)));
                }
                let operation = txn.operation();
                let (txn_status, event) = plan(operation, &txn, &outcome);
                let (provider_id, raw_response, failure) = match &outcome {
                    ProviderOutcome::Succeeded { provider_id, raw, .. }
                    | ProviderOutcome::Pending { provider_id, raw } => {
                        (Some(provider_id.clone()), Some(raw.clone()), None)
                    }
                    ProviderOutcome::Failed { kind, code, provider_id } => {
                        (provider_id.clone(), None, Some((*kind, code.clone())))
                    }
                    ProviderOutcome::Unknown => (None, None, None),
                };
                let ledger = intent.ledger();
                let next = match event {
                    // Repeating a non-final status (still pending, still unknown) is no change.
                    Some(Event::AuthorizePending) if ledger.status == IntentStatus::Pending => ledger,
                    Some(Event::AuthorizeUnknown) if ledger.status == IntentStatus::Unknown => ledger,
                    Some(event) => machine::apply(ledger, event).map_err(transition_error)?,
                    None => ledger,
                };
                let mut after_txn = txn.clone();
                after_txn.status = txn_status.as_str().to_owned();
                after_txn.updated_at = now;
                if provider_id.is_some() {
                    after_txn.provider_txn_id = provider_id.clone();
                }
                if raw_response.is_some() {
                    after_txn.raw_response_redacted = raw_response.clone();
                }
                after_txn.failure_kind = failure.as_ref().map(|f| f.0.to_owned());
                after_txn.failure_code = failure.as_ref().map(|f| f.1.clone());
                let updated = sqlx::query(UPDATE_TXN)
                    .bind(txn.id).bind(&txn.status).bind(txn_status.as_str()).bind(&provider_id)
                    .bind(&after_txn.failure_kind).bind(&after_txn.failure_code).bind(&raw_response).bind(now)
                    .execute(&mut *tx).await.map_err(db)?.rows_affected();
                if updated != 1 {
                    return Ok(None);
                }
                let mut after = intent.clone();
                let intent_provider_id = match operation {
                    Operation::Authorize => provider_id.clone(),
                    _ => None,
                };
                let intent_failure = match (operation, &failure) {
                    (Operation::Authorize, Some((_, code))) => Some(code.clone()),
                    _ => None,
                };
                if next != ledger || intent_provider_id.is_some() || intent_failure.is_some() {
                    let updated = bind_ledger(sqlx::query(UPDATE_INTENT).bind(intent.id).bind(intent.version), &next)
                        .bind(&intent_provider_id).bind(&intent_failure).bind(now)
                        .execute(&mut *tx).await.map_err(db)?.rows_affected();
                    if updated != 1 {
                        return Ok(None);
                    }
                    set_ledger(&mut after, &next);
                    after.version += 1;
                    after.updated_at = now;
                    if intent_provider_id.is_some() {
                        after.provider_payment_id = intent_provider_id;
                    }
                    if intent_failure.is_some() {
                        after.failure_code = intent_failure;
                    }
                }
                if next.status != ledger.status {
                    let reason = history_reason(operation, &txn, &outcome);
                    insert_history!(&mut *tx, intent.order_id, Some(intent.id), "payment",
                        Some(ledger.status.as_str()), next.status.as_str(), &reason, caller, now);
                    // The order is paid once its payment is authorized, and open again when
                    // the authorization is released.
                    let order_change = match next.status {
                        IntentStatus::Authorized if operation == Operation::Authorize => Some(("open", "paid", "payment authorized")),
                        IntentStatus::Voided => Some(("paid", "open", "payment voided")),
                        _ => None,
                    };
                    if let Some((from, to, why)) = order_change {
                        let moved = sqlx::query(UPDATE_ORDER_STATUS).bind(intent.order_id).bind(from).bind(to).bind(now)
                            .execute(&mut *tx).await.map_err(db)?.rows_affected();
                        if moved == 1 {
                            insert_history!(&mut *tx, intent.order_id, None::<PaymentIntentId>, "order",
                                Some(from), to, why, caller, now);
                        }
                    }
                }
                for row in &audit_rows {
                    row.insert_query().execute(&mut *tx).await.map_err(db)?;
                }
                if let Some(reply) = extras.reply.filter(|r| r.store && r.record.is_claimed()) {
                    let response = answer(&after, &after_txn, reply.created).into_response();
                    let rendered = reply.record.render(response).await?;
                    reply.record.finish_query(&rendered).execute(&mut *tx).await.map_err(db)?;
                    stored = Some(rendered);
                }
                tx.commit().await.map_err(db)?;
                audited = true;
                Ok(Some((after, after_txn)))
            }
            .await
        });
        if let Some(done) = attempt? {
            if let Some(audit) = extras.audit.filter(|_| audited) {
                audit.written(audit_rows.len());
            }
            if let (Some(reply), Some(stored)) = (extras.reply, stored) {
                reply.record.settled(stored);
            }
            return Ok(done);
        }
    }
    Err(ApiError::Internal(anyhow::anyhow!(
        "could not record a provider outcome after {CAS_ATTEMPTS} attempts"
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(e: ProviderError) -> Result<ProviderTransaction, ProviderError> {
        Err(e)
    }

    fn is_unknown(o: &ProviderOutcome) -> bool {
        matches!(o, ProviderOutcome::Unknown)
    }

    fn failed_kind(o: &ProviderOutcome) -> Option<&'static str> {
        match o {
            ProviderOutcome::Failed { kind, .. } => Some(kind),
            _ => None,
        }
    }

    #[test]
    fn only_a_first_call_reads_nothing_happened_as_failed() {
        let retryable = || err(ProviderError::Retryable("503".into()));
        let refused = |status| {
            err(ProviderError::Refused {
                status,
                code: "x".into(),
            })
        };
        for op in [Operation::Authorize, Operation::Capture, Operation::Refund] {
            assert_eq!(
                failed_kind(&classify(op, Attempt::First, retryable())),
                Some("unavailable")
            );
            assert!(is_unknown(&classify(op, Attempt::Again, retryable())));
            for status in [401, 403, 404, 429] {
                assert!(is_unknown(&classify(op, Attempt::Again, refused(status))));
                assert!(failed_kind(&classify(op, Attempt::First, refused(status))).is_some());
            }
            // Answers about the operation itself are final on any attempt.
            let declined = err(ProviderError::Declined { code: "d".into() });
            assert_eq!(
                failed_kind(&classify(op, Attempt::Again, declined)),
                Some("declined")
            );
        }
    }

    fn txn(operation: Operation, provider_txn_id: Option<&str>) -> TxnRow {
        let now = chrono::Utc::now();
        TxnRow {
            id: TransactionId::new(),
            payment_intent_id: PaymentIntentId::new(),
            operation: operation.as_str().to_owned(),
            idempotency_key: "k".into(),
            amount: 100,
            currency: "USD".into(),
            status: "pending".into(),
            provider_txn_id: provider_txn_id.map(str::to_owned),
            failure_kind: None,
            failure_code: None,
            reason: None,
            raw_response_redacted: None,
            correlation_id: "c".into(),
            actor: "a".into(),
            request_hash: None,
            attempts: 0,
            next_attempt_at: None,
            created_at: now,
            updated_at: now,
        }
    }

    #[test]
    fn a_pending_authorization_the_provider_does_not_answer_about_stays_pending() {
        let accepted = txn(Operation::Authorize, Some("psp_1"));
        assert_eq!(
            plan(Operation::Authorize, &accepted, &ProviderOutcome::Unknown),
            (TransactionStatus::Pending, None)
        );
        let sent = txn(Operation::Authorize, None);
        assert_eq!(
            plan(Operation::Authorize, &sent, &ProviderOutcome::Unknown),
            (TransactionStatus::Unknown, Some(Event::AuthorizeUnknown))
        );
    }
}
