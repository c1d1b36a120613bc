//! The payment flows: authorize, capture, void, refund and pay, up to the pending transaction
//! (phase 1); `phases.rs` calls the provider and records the outcome.
//!
//! Everything that can fail before the provider call (finding the intent, building the
//! provider's client) happens before phase 1 commits: a `503 provider_unavailable` that
//! recorded nothing can never turn into a charge later.

use chrono::{DateTime, Utc};

use super::{
    CaptureRequest, Operation, RefundRequest, TransactionStatus,
    keys::{LedgerKey, amount_part},
    machine::{self, Event, IntentStatus, Ledger, TransitionError},
    phases::{Attempt, client_for, drive},
    repo::{
        INSERT_HISTORY, INSERT_INTENT, INSERT_TXN, INTENT_COLUMNS, IntentRow, TXN_COLUMNS, TxnRow,
        UPDATE_INTENT,
    },
};
use crate::{
    auth::principal::CustomerScope,
    checkout,
    db::DbError,
    http::problem::ApiError,
    idempotency::Deferred,
    money::MinorUnits,
    on_db,
    orders::OrderScope,
    state::AppState,
    types::{Environment, InvalidValue, OrderId, PaymentIntentId, StoreId, TransactionId},
};

use super::AuthorizeRequest;
pub use super::caller::{Caller, Source};
use super::reply::resume;
pub use super::reply::{Reply, answer, respond};

pub(super) fn db(err: sqlx::Error) -> ApiError {
    DbError::from(err).into()
}

pub(super) fn transition_error(err: TransitionError) -> ApiError {
    match err {
        TransitionError::InvalidTransition { .. } => {
            ApiError::InvalidStateTransition(err.to_string())
        }
        TransitionError::ExceedsCapturable { available } => {
            ApiError::AmountExceedsCapturable(available.0)
        }
        TransitionError::ExceedsRefundable { available } => {
            ApiError::AmountExceedsRefundable(available.0)
        }
        TransitionError::NonPositiveAmount => {
            InvalidValue::new("amount", "must be a positive number of minor units").into()
        }
        TransitionError::Inconsistent => {
            ApiError::Internal(anyhow::anyhow!("a settlement does not match the ledger"))
        }
    }
}

fn is_unique_violation(err: &sqlx::Error) -> bool {
    matches!(err, sqlx::Error::Database(e) if e.is_unique_violation())
}

/// Attempts of a compare-and-set before giving up (only PostgreSQL without the row lock, or a
/// bug, would need more than one).
pub(super) const CAS_ATTEMPTS: usize = 8;

/// The result every flow returns: the intent and the transaction the request created or found.
pub type Outcome = (IntentRow, TxnRow);

pub(super) fn payment_method(pm: Option<&str>) -> Result<String, ApiError> {
    match pm {
        Some(pm)
            if !pm.is_empty() && pm.len() <= 100 && pm.bytes().all(|b| b.is_ascii_graphic()) =>
        {
            Ok(pm.to_owned())
        }
        _ => Err(
            InvalidValue::new("payment_method", "required: 1–100 visible ASCII characters").into(),
        ),
    }
}

/// `POST /api/v1/me/orders/{id}/payments/authorize`: a new intent for the snapshot's total, or
/// the one this Idempotency-Key already started.
pub async fn authorize(
    state: &AppState,
    scope: CustomerScope,
    order_id: OrderId,
    request: AuthorizeRequest,
    key: &str,
    caller: &Caller,
    reply: Option<&Reply>,
) -> Result<Outcome, ApiError> {
    let snapshot = request
        .snapshot_id
        .map(|s| s.to_string())
        .unwrap_or_default();
    let ledger_key = LedgerKey::new(
        caller,
        key,
        &[
            "authorize",
            &snapshot,
            request.payment_method.as_deref().unwrap_or_default(),
            &amount_part(request.amount),
        ],
    );
    authorize_with(state, scope, order_id, request, &ledger_key, caller, reply).await
}

pub(super) async fn authorize_with(
    state: &AppState,
    scope: CustomerScope,
    order_id: OrderId,
    request: AuthorizeRequest,
    ledger_key: &LedgerKey,
    caller: &Caller,
    reply: Option<&Reply>,
) -> Result<Outcome, ApiError> {
    if let Some(found) = find_by_key(state, scope, order_id, ledger_key).await? {
        return resume(state, caller, found, reply).await;
    }
    let order_scope = OrderScope {
        store_id: scope.store_id,
        environment: scope.environment,
        customer_id: Some(scope.customer_id),
    };
    let snapshot_id = match request.snapshot_id {
        Some(id) => id,
        None => {
            // Another customer's order is a 404 before any complaint about the body.
            crate::orders::find(state, order_scope, order_id).await?;
            return Err(InvalidValue::new("snapshot_id", "required").into());
        }
    };
    let snapshot = checkout::payable_snapshot(state, order_scope, order_id, snapshot_id).await?;
    let method = payment_method(request.payment_method.as_deref())?;
    if request
        .amount
        .is_some_and(|amount| amount != snapshot.total.0)
    {
        return Err(ApiError::SnapshotMismatch(snapshot.total.0));
    }
    if snapshot.total.0 <= 0 {
        return Err(ApiError::AmountInvalid(
            "the order's total is zero: there is nothing to authorize",
        ));
    }
    let client = client_for(state, scope.store_id, None, scope.environment).await?;
    let now = state.clock.now();
    let intent = IntentRow {
        id: PaymentIntentId::new(),
        store_id: scope.store_id,
        environment: scope.environment.as_str().to_owned(),
        order_id,
        snapshot_id: snapshot.snapshot_id,
        customer_id: scope.customer_id,
        provider: client.name().to_owned(),
        provider_payment_id: None,
        payment_method: method,
        status: IntentStatus::RequiresAuthorization.as_str().to_owned(),
        amount: snapshot.total.0,
        authorized_amount: 0,
        captured_amount: 0,
        refunded_amount: 0,
        capture_reserved: 0,
        refund_reserved: 0,
        released_amount: 0,
        void_pending: false,
        currency: snapshot.currency.clone(),
        version: 1,
        failure_code: None,
        created_at: now,
        updated_at: now,
    };
    let txn = new_txn(
        &intent,
        Operation::Authorize,
        ledger_key,
        intent.amount,
        None,
        caller,
        now,
    );
    let claim = reply.map(|r| &r.record).filter(|r| r.needs_claim());
    let inserted = on_db!(&state.db, pool => {
        async {
            let mut tx = pool.begin_with(state.db.begin_write_sql()).await?;
            // First, so a concurrent request with the same key waits here and changes nothing.
            if let Some(record) = claim
                && record.claim_query(now).execute(&mut *tx).await?.rows_affected() != 1
            {
                return Ok(false);
            }
            sqlx::query(INSERT_INTENT)
                .bind(intent.id).bind(intent.store_id).bind(&intent.environment).bind(intent.order_id)
                .bind(intent.snapshot_id).bind(intent.customer_id).bind(&intent.provider)
                .bind(&intent.payment_method).bind(&intent.status).bind(intent.amount)
                .bind(false).bind(&intent.currency).bind(now)
                .execute(&mut *tx).await?;
            insert_txn!(&mut *tx, &txn, &intent)?;
            insert_history!(&mut *tx, intent.order_id, Some(intent.id), "payment", None::<&str>,
                intent.status.as_str(), "payment started", caller, now);
            tx.commit().await.map(|()| true)
        }
        .await
    });
    match (inserted, claim) {
        (Ok(true), Some(record)) => record.claimed(),
        (Ok(true), None) => {}
        (Ok(false), record) => {
            return Err(record.map_or(ApiError::IdempotencyKeyInUse, Deferred::lost));
        }
        (Err(err), _) if is_unique_violation(&err) => {
            // The same key raced us (its transaction is the answer), or the order has another
            // active payment.
            if let Some(found) = find_by_key(state, scope, order_id, ledger_key).await? {
                return resume(state, caller, found, reply).await;
            }
            return Err(ApiError::PaymentAlreadyActive);
        }
        (Err(err), _) => return Err(db(err)),
    }
    drive(
        state,
        caller,
        client.as_ref(),
        (intent, txn),
        reply,
        Attempt::First,
    )
    .await
}

fn new_txn(
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
        operation: operation.as_str().to_owned(),
        idempotency_key: key.key.clone(),
        amount,
        currency: intent.currency.clone(),
        status: TransactionStatus::Pending.as_str().to_owned(),
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
    }
}

/// The authorize transaction this key started for the customer's order, with its intent. The
/// customer is part of the lookup: another customer's key never finds this one's intent.
pub(super) async fn find_by_key(
    state: &AppState,
    scope: CustomerScope,
    order_id: OrderId,
    key: &LedgerKey,
) -> Result<Option<Outcome>, ApiError> {
    let sql = format!(
        "SELECT {TXN_COLUMNS} FROM payment_transactions WHERE payment_intent_id IN \
         (SELECT id FROM payment_intents WHERE order_id = $1 AND store_id = $2 \
         AND environment = $3 AND customer_id = $4) \
         AND operation = 'authorize' AND idempotency_key = $5 ORDER BY id DESC LIMIT 1"
    );
    let txn: Option<TxnRow> = on_db!(&state.db, pool => {
        sqlx::query_as(&sql).bind(order_id).bind(scope.store_id).bind(scope.environment.as_str())
            .bind(scope.customer_id).bind(&key.key)
            .fetch_optional(pool).await
    })
    .map_err(db)?;
    let Some(txn) = txn else { return Ok(None) };
    key.check(&txn)?;
    let intent = load_intent(state, txn.payment_intent_id).await?;
    Ok(Some((intent, txn)))
}

pub(super) async fn load_intent(
    state: &AppState,
    id: PaymentIntentId,
) -> Result<IntentRow, ApiError> {
    let sql = format!("SELECT {INTENT_COLUMNS} FROM payment_intents WHERE id = $1");
    on_db!(&state.db, pool => sqlx::query_as(&sql).bind(id).fetch_one(pool).await).map_err(db)
}

/// An intent of an order inside a store and environment; anything else is a 404.
async fn find_intent(state: &AppState, target: &Target<'_>) -> Result<IntentRow, ApiError> {
    let sql = format!(
        "SELECT {INTENT_COLUMNS} FROM payment_intents WHERE id = $1 AND order_id = $2 \
         AND store_id = $3 AND environment = $4"
    );
    let row: Option<IntentRow> = on_db!(&state.db, pool => {
        sqlx::query_as(&sql).bind(target.intent_id).bind(target.order_id).bind(target.store)
            .bind(target.env.as_str())
            .fetch_optional(pool).await
    })
    .map_err(db)?;
    row.ok_or(ApiError::NotFound)
}

/// The transaction `key` made on the intent, refused when it was made for another request.
pub(super) async fn find_txn(
    state: &AppState,
    intent: PaymentIntentId,
    operation: Operation,
    key: &LedgerKey,
) -> Result<Option<TxnRow>, ApiError> {
    let sql = format!(
        "SELECT {TXN_COLUMNS} FROM payment_transactions WHERE payment_intent_id = $1 \
         AND operation = $2 AND idempotency_key = $3"
    );
    let row: Option<TxnRow> = on_db!(&state.db, pool => {
        sqlx::query_as(&sql).bind(intent).bind(operation.as_str()).bind(&key.key)
            .fetch_optional(pool).await
    })
    .map_err(db)?;
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
}

/// `POST …/capture`: captures `amount` (all that is left when absent). With `final_capture`
/// the uncaptured rest of the authorization is released at the provider afterwards.
pub async fn capture(
    state: &AppState,
    target: Target<'_>,
    request: CaptureRequest,
) -> Result<Outcome, ApiError> {
    let final_capture = request.final_capture.unwrap_or(false);
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
    };
    if !final_capture {
        return operate(state, &target, operation, &key, target.reply).await;
    }
    // Two provider operations: the key is claimed by the first, so a concurrent request with
    // it waits; the answer is stored after both (by the edge).
    let first = target.reply.map(Reply::claim_only);
    let captured = operate(state, &target, operation, &key, first.as_ref()).await?;
    if captured.1.status() != TransactionStatus::Succeeded || captured.0.ledger().remainder().0 == 0
    {
        return Ok(captured);
    }
    let release = OperationRequest {
        operation: Operation::Void,
        amount: None,
        reason: None,
    };
    match operate(state, &target, release, &key.step("release"), None).await {
        Ok((intent, txn)) if txn.status() == TransactionStatus::Failed => {
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

/// `POST …/void`: releases the uncaptured part of an authorization: all of it before any
/// capture (the intent is `voided`), the rest after partial captures (the intent keeps what
/// was captured).
pub async fn void(state: &AppState, target: Target<'_>) -> Result<Outcome, ApiError> {
    let key = LedgerKey::new(target.caller, target.key, &["void"]);
    let request = OperationRequest {
        operation: Operation::Void,
        amount: None,
        reason: None,
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
) -> Result<Outcome, ApiError> {
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
    if txn.status() != TransactionStatus::Succeeded || !all_refunded || !ledger.voidable_now() {
        return Ok((intent, txn));
    }
    let release = OperationRequest {
        operation: Operation::Void,
        amount: None,
        reason: None,
    };
    match operate(state, &target, release, &key.step("release"), None).await {
        Ok((released, release_txn)) if release_txn.status() == TransactionStatus::Succeeded => {
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
) -> Result<Outcome, ApiError> {
    let caller = target.caller;
    let intent = find_intent(state, target).await?;
    if let Some(txn) = find_txn(state, intent.id, request.operation, key).await? {
        return resume(state, caller, (intent, txn), reply).await;
    }
    let client = client_for(state, target.store, Some(&intent.provider), target.env).await?;
    let claim = reply.map(|r| &r.record).filter(|r| r.needs_claim());
    let lock = state.db.lock_for_update_sql();
    let select = format!("SELECT {INTENT_COLUMNS} FROM payment_intents WHERE id = $1{lock}");
    for _ in 0..CAS_ATTEMPTS {
        let now = state.clock.now();
        let attempt: Result<Option<Outcome>, ApiError> = on_db!(&state.db, pool => {
            async {
                let mut tx = pool.begin_with(state.db.begin_write_sql()).await.map_err(db)?;
                // First, so a concurrent request with the same key waits here and changes nothing.
                if let Some(record) = claim
                    && record.claim_query(now).execute(&mut *tx).await.map_err(db)?.rows_affected() != 1
                {
                    return Err(record.lost());
                }
                let current: IntentRow = sqlx::query_as(&select).bind(intent.id)
                    .fetch_one(&mut *tx).await.map_err(db)?;
                let ledger = current.ledger();
                let (event, amount) = match request.operation {
                    Operation::Capture => {
                        let amount = request.amount.unwrap_or(ledger.capturable().0);
                        if request.amount.is_none()
                            && amount == 0
                            && matches!(ledger.status, IntentStatus::Authorized | IntentStatus::PartiallyCaptured)
                        {
                            return Err(ApiError::AmountExceedsCapturable(0));
                        }
                        (Event::CaptureRequested { amount: MinorUnits(amount) }, amount)
                    }
                    // What a void gives back: the part of the authorization not captured.
                    Operation::Void => (Event::VoidRequested, ledger.remainder().0.max(0)),
                    Operation::Refund => {
                        let amount = request.amount.unwrap_or(0);
                        (Event::RefundRequested { amount: MinorUnits(amount) }, amount)
                    }
                    Operation::Authorize => {
                        return Err(ApiError::Internal(anyhow::anyhow!("authorize is not an operation on an intent")));
                    }
                };
                let next = machine::apply(ledger, event).map_err(transition_error)?;
                let txn = new_txn(&current, request.operation, key, amount, request.reason.clone(), caller, now);
                match insert_txn!(&mut *tx, &txn, &current) {
                    Ok(_) => {}
                    // The same key raced us: its transaction is the answer.
                    Err(err) if is_unique_violation(&err) => return Ok(None),
                    Err(err) => return Err(db(err)),
                }
                let updated = bind_ledger(sqlx::query(UPDATE_INTENT).bind(current.id).bind(current.version), &next)
                    .bind(None::<String>).bind(None::<String>).bind(now)
                    .execute(&mut *tx).await.map_err(db)?
                    .rows_affected();
                if updated != 1 {
                    return Ok(None);
                }
                tx.commit().await.map_err(db)?;
                let mut after = current.clone();
                after.version += 1;
                after.updated_at = now;
                set_ledger(&mut after, &next);
                Ok(Some((after, txn)))
            }
            .await
        });
        match attempt? {
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
                    let intent = load_intent(state, intent.id).await?;
                    return resume(state, caller, (intent, txn), reply).await;
                }
            }
        }
    }
    Err(ApiError::Internal(anyhow::anyhow!(
        "could not reserve on the intent after {CAS_ATTEMPTS} attempts"
    )))
}

/// Binds the ledger columns `$3`–`$10` of [`UPDATE_INTENT`].
pub(super) fn bind_ledger<'q, DB: sqlx::Database>(
    query: sqlx::query::Query<'q, DB, <DB as sqlx::Database>::Arguments<'q>>,
    next: &Ledger,
) -> sqlx::query::Query<'q, DB, <DB as sqlx::Database>::Arguments<'q>>
where
    &'q str: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    i64: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    bool: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
{
    query
        .bind(next.status.as_str())
        .bind(next.authorized.0)
        .bind(next.captured.0)
        .bind(next.refunded.0)
        .bind(next.capture_reserved.0)
        .bind(next.refund_reserved.0)
        .bind(next.released.0)
        .bind(next.void_pending)
}

pub(super) fn set_ledger(row: &mut IntentRow, next: &Ledger) {
    row.status = next.status.as_str().to_owned();
    row.authorized_amount = next.authorized.0;
    row.captured_amount = next.captured.0;
    row.refunded_amount = next.refunded.0;
    row.capture_reserved = next.capture_reserved.0;
    row.refund_reserved = next.refund_reserved.0;
    row.released_amount = next.released.0;
    row.void_pending = next.void_pending;
}
