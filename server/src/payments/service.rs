//! The payment flows: authorize, capture, void, refund and pay, up to the pending transaction
//! (phase 1); `phases.rs` calls the provider and records the outcome.

use chrono::{DateTime, Utc};

use super::{
    Operation, PayRequest, TransactionStatus,
    machine::{self, Event, IntentStatus, Ledger, TransitionError},
    store::{
        INSERT_HISTORY, INSERT_INTENT, INSERT_TXN, INTENT_COLUMNS, IntentRow, TXN_COLUMNS, TxnRow,
        UPDATE_INTENT,
    },
};
use crate::{
    auth::principal::CustomerScope,
    checkout::{self, QuoteRequest},
    http::problem::ApiError,
    idempotency::Deferred,
    money::MinorUnits,
    on_db,
    orders::OrderScope,
    state::AppState,
    store::StoreError,
    types::{Environment, InvalidValue, OrderId, PaymentIntentId, StoreId, TransactionId},
};

use super::AuthorizeRequest;
pub use super::caller::{Caller, Source};
use super::phases::drive;
use super::reply::resume;
pub use super::reply::{Reply, answer, respond};

pub(super) fn db(err: sqlx::Error) -> ApiError {
    StoreError::from(err).into()
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

fn payment_method(pm: Option<&str>) -> Result<String, ApiError> {
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
    if let Some(found) =
        find_by_key(state, scope.store_id, scope.environment, order_id, key).await?
    {
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
    let now = state.clock.now();
    let intent = IntentRow {
        id: PaymentIntentId::new(),
        store_id: scope.store_id,
        environment: scope.environment.as_str().to_owned(),
        order_id,
        snapshot_id: snapshot.snapshot_id,
        customer_id: scope.customer_id,
        provider: "sandbox".to_owned(),
        provider_payment_id: None,
        payment_method: method,
        status: IntentStatus::RequiresAuthorization.as_str().to_owned(),
        amount: snapshot.total.0,
        authorized_amount: 0,
        captured_amount: 0,
        refunded_amount: 0,
        capture_reserved: 0,
        refund_reserved: 0,
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
        key,
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
            insert_txn!(&mut *tx, &txn, &intent);
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
        (Err(err), _) if is_unique_violation(&err) => return Err(ApiError::PaymentAlreadyActive),
        (Err(err), _) => return Err(db(err)),
    }
    drive(state, caller, intent, txn, reply).await
}

fn new_txn(
    intent: &IntentRow,
    operation: Operation,
    key: &str,
    amount: i64,
    reason: Option<String>,
    caller: &Caller,
    now: DateTime<Utc>,
) -> TxnRow {
    TxnRow {
        id: TransactionId::new(),
        payment_intent_id: intent.id,
        operation: operation.as_str().to_owned(),
        idempotency_key: key.to_owned(),
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
        created_at: now,
        updated_at: now,
    }
}

/// The authorize transaction this key started for the order, with its intent.
async fn find_by_key(
    state: &AppState,
    store: StoreId,
    env: Environment,
    order_id: OrderId,
    key: &str,
) -> Result<Option<Outcome>, ApiError> {
    let sql = format!(
        "SELECT {TXN_COLUMNS} FROM payment_transactions WHERE payment_intent_id IN \
         (SELECT id FROM payment_intents WHERE order_id = $1 AND store_id = $2 AND environment = $3) \
         AND operation = 'authorize' AND idempotency_key = $4 ORDER BY id DESC LIMIT 1"
    );
    let txn: Option<TxnRow> = on_db!(&state.db, pool => {
        sqlx::query_as(&sql).bind(order_id).bind(store).bind(env.as_str()).bind(key)
            .fetch_optional(pool).await
    })
    .map_err(db)?;
    let Some(txn) = txn else { return Ok(None) };
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
async fn find_intent(
    state: &AppState,
    store: StoreId,
    env: Environment,
    order_id: OrderId,
    intent_id: PaymentIntentId,
) -> Result<IntentRow, ApiError> {
    let sql = format!(
        "SELECT {INTENT_COLUMNS} FROM payment_intents WHERE id = $1 AND order_id = $2 \
         AND store_id = $3 AND environment = $4"
    );
    let row: Option<IntentRow> = on_db!(&state.db, pool => {
        sqlx::query_as(&sql).bind(intent_id).bind(order_id).bind(store).bind(env.as_str())
            .fetch_optional(pool).await
    })
    .map_err(db)?;
    row.ok_or(ApiError::NotFound)
}

async fn find_txn(
    state: &AppState,
    intent: PaymentIntentId,
    operation: Operation,
    key: &str,
) -> Result<Option<TxnRow>, ApiError> {
    let sql = format!(
        "SELECT {TXN_COLUMNS} FROM payment_transactions WHERE payment_intent_id = $1 \
         AND operation = $2 AND idempotency_key = $3"
    );
    on_db!(&state.db, pool => {
        sqlx::query_as(&sql).bind(intent).bind(operation.as_str()).bind(key)
            .fetch_optional(pool).await
    })
    .map_err(db)
}

/// What a store operation asks for.
#[derive(Debug, Clone)]
struct OperationRequest {
    operation: Operation,
    amount: Option<i64>,
    reason: Option<String>,
}

/// `POST …/capture`: captures `amount` (all that is left when absent).
#[allow(clippy::too_many_arguments)]
pub async fn capture(
    state: &AppState,
    store: StoreId,
    env: Environment,
    order_id: OrderId,
    intent_id: PaymentIntentId,
    amount: Option<i64>,
    key: &str,
    caller: &Caller,
    reply: Option<&Reply>,
) -> Result<Outcome, ApiError> {
    let request = OperationRequest {
        operation: Operation::Capture,
        amount,
        reason: None,
    };
    operate(
        state, store, env, order_id, intent_id, request, key, caller, reply,
    )
    .await
}

/// `POST …/void`: releases an authorization with nothing captured.
#[allow(clippy::too_many_arguments)]
pub async fn void(
    state: &AppState,
    store: StoreId,
    env: Environment,
    order_id: OrderId,
    intent_id: PaymentIntentId,
    key: &str,
    caller: &Caller,
    reply: Option<&Reply>,
) -> Result<Outcome, ApiError> {
    let request = OperationRequest {
        operation: Operation::Void,
        amount: None,
        reason: None,
    };
    operate(
        state, store, env, order_id, intent_id, request, key, caller, reply,
    )
    .await
}

/// `POST …/refund`: refunds `amount` of the captures.
#[allow(clippy::too_many_arguments)]
pub async fn refund(
    state: &AppState,
    store: StoreId,
    env: Environment,
    order_id: OrderId,
    intent_id: PaymentIntentId,
    amount: Option<i64>,
    reason: Option<String>,
    key: &str,
    caller: &Caller,
    reply: Option<&Reply>,
) -> Result<Outcome, ApiError> {
    if let Some(r) = &reason
        && r.chars().count() > 500
    {
        return Err(InvalidValue::new("reason", "at most 500 characters").into());
    }
    let request = OperationRequest {
        operation: Operation::Refund,
        amount,
        reason: reason
            .map(|r| r.trim().to_owned())
            .filter(|r| !r.is_empty()),
    };
    operate(
        state, store, env, order_id, intent_id, request, key, caller, reply,
    )
    .await
}

/// Phase 1 of capture, void and refund: reserve on the intent and record the pending
/// transaction in one database transaction; then drive it.
#[allow(clippy::too_many_arguments)]
async fn operate(
    state: &AppState,
    store: StoreId,
    env: Environment,
    order_id: OrderId,
    intent_id: PaymentIntentId,
    request: OperationRequest,
    key: &str,
    caller: &Caller,
    reply: Option<&Reply>,
) -> Result<Outcome, ApiError> {
    let intent = find_intent(state, store, env, order_id, intent_id).await?;
    if let Some(txn) = find_txn(state, intent.id, request.operation, key).await? {
        return resume(state, caller, (intent, txn), reply).await;
    }
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
                    Operation::Void => (Event::VoidRequested, ledger.authorized.0),
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
                let inserted = sqlx::query(INSERT_TXN)
                    .bind(txn.id).bind(txn.payment_intent_id).bind(current.store_id)
                    .bind(&current.environment).bind(&txn.operation).bind(&txn.idempotency_key)
                    .bind(txn.amount).bind(&txn.currency).bind(&txn.reason)
                    .bind(&txn.correlation_id).bind(&txn.actor).bind(now)
                    .execute(&mut *tx).await;
                match inserted {
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
            Some((intent, txn)) => {
                if let Some(record) = claim {
                    record.claimed();
                }
                return drive(state, caller, intent, txn, reply).await;
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

/// Binds the ledger columns `$3`–`$9` of [`UPDATE_INTENT`].
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
        .bind(next.void_pending)
}

pub(super) fn set_ledger(row: &mut IntentRow, next: &Ledger) {
    row.status = next.status.as_str().to_owned();
    row.authorized_amount = next.authorized.0;
    row.captured_amount = next.captured.0;
    row.refunded_amount = next.refunded.0;
    row.capture_reserved = next.capture_reserved.0;
    row.refund_reserved = next.refund_reserved.0;
    row.void_pending = next.void_pending;
}

/// `POST /api/v1/me/orders/{id}/pay`: quote, authorize and capture in one idempotent call.
/// The inner steps use keys derived from the request's, so a retry resumes where it stopped.
pub async fn pay(
    state: &AppState,
    scope: CustomerScope,
    order_id: OrderId,
    request: PayRequest,
    key: &str,
    caller: &Caller,
) -> Result<Outcome, ApiError> {
    let order_scope = OrderScope {
        store_id: scope.store_id,
        environment: scope.environment,
        customer_id: Some(scope.customer_id),
    };
    crate::orders::find(state, order_scope, order_id).await?;
    payment_method(request.payment_method.as_deref())?;
    let authorize_key = format!("{key}:authorize");
    let (intent, txn) = match find_by_key(
        state,
        scope.store_id,
        scope.environment,
        order_id,
        &authorize_key,
    )
    .await?
    {
        Some((intent, txn)) => drive(state, caller, intent, txn, None).await?,
        None => {
            let snapshot = checkout::quote(
                state,
                scope,
                QuoteRequest {
                    order_id,
                    shipping_service: request.shipping_service.clone(),
                },
                None,
            )
            .await?;
            let request = AuthorizeRequest {
                snapshot_id: Some(snapshot.snapshot_id),
                payment_method: request.payment_method.clone(),
                amount: None,
            };
            authorize(
                state,
                scope,
                order_id,
                request,
                &authorize_key,
                caller,
                None,
            )
            .await?
        }
    };
    if txn.status() != TransactionStatus::Succeeded {
        return Ok((intent, txn));
    }
    let env = scope.environment;
    capture(
        state,
        scope.store_id,
        env,
        order_id,
        intent.id,
        None,
        &format!("{key}:capture"),
        caller,
        None,
    )
    .await
}
