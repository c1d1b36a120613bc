//! The payments tables' writes, each on the flow's transaction (portable between SQLite and
//! PostgreSQL; several are parts of one statement on PostgreSQL, see `db::Writes`): new
//! intents and transactions, reservations, compare-and-sets, provider call audit, and the
//! status history of orders and intents, written with the payment change that causes it.

use super::repo::{IntentRow, NewHistory, TxnRow};
use crate::{
    db::{DbError, Slot, Tx, Writes, unless_duplicate},
    on_tx,
    providers::audit::AuditEntry,
    write_part,
};

/// `Ok(false)` for an insert a unique index refused.
fn inserted(result: Result<(), sqlx::Error>) -> Result<bool, DbError> {
    Ok(unless_duplicate(result)?.is_some())
}

/// The insert of `rows` status history rows (bound by `bind_history!`).
fn histories_sql(rows: usize) -> String {
    format!(
        "INSERT INTO order_status_history (id, order_id, payment_intent_id, subject, \
         from_status, to_status, reason, source, actor, correlation_id, created_at) VALUES {}",
        crate::db::values(rows, 11, 1)
    )
}

/// Binds one row of [`histories_sql`]'s parameters.
macro_rules! bind_history {
    ($query:expr, $change:expr) => {{
        let change = $change;
        $query
            .bind(uuid::Uuid::now_v7())
            .bind(change.order_id)
            .bind(change.payment_intent_id)
            .bind(change.subject)
            .bind(change.from_status)
            .bind(change.to_status)
            .bind(change.reason)
            .bind(change.caller.source)
            .bind(&change.caller.actor)
            .bind(&change.caller.correlation_id)
            .bind(change.at)
    }};
}

const INSERT_INTENT: &str = "INSERT INTO payment_intents (id, store_id, environment, order_id, \
    snapshot_id, customer_id, provider, payment_method, status, amount, authorized_amount, \
    captured_amount, refunded_amount, capture_reserved, refund_reserved, void_pending, \
    currency, version, created_at, updated_at, settlement_currency, fx_rate, return_url) \
    VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, 0, 0, 0, 0, 0, $11, $12, 1, $13, $13, $14, \
    $15, $16)";

/// Binds [`INSERT_INTENT`]'s parameters, in order.
macro_rules! bind_intent {
    ($query:expr, $intent:expr) => {{
        let intent = $intent;
        $query
            .bind(intent.id)
            .bind(intent.store_id)
            .bind(intent.environment)
            .bind(intent.order_id)
            .bind(intent.snapshot_id)
            .bind(intent.customer_id)
            .bind(&intent.provider)
            .bind(&intent.payment_method)
            .bind(intent.status)
            .bind(intent.amount)
            .bind(intent.void_pending)
            .bind(&intent.currency)
            .bind(intent.created_at)
            .bind(&intent.settlement_currency)
            .bind(&intent.fx_rate)
            .bind(&intent.return_url)
    }};
}

/// Inserts a new intent. `Ok(false)`: the order already has an active intent.
pub async fn insert_intent(tx: &mut Tx, intent: &IntentRow) -> Result<bool, DbError> {
    inserted(on_tx!(tx, conn => {
        bind_intent!(sqlx::query(INSERT_INTENT), intent).execute(conn).await.map(|_| ())
    }))
}

const INSERT_TXN: &str = "INSERT INTO payment_transactions (id, payment_intent_id, store_id, \
    environment, operation, idempotency_key, amount, currency, status, reason, \
    correlation_id, actor, request_hash, attempts, next_attempt_at, created_at, updated_at, \
    settlement_amount, settlement_currency) \
    VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 'pending', $9, $10, $11, $13, 0, $12, $12, $12, \
    $14, $15)";

/// Binds [`INSERT_TXN`]'s parameters, in order.
macro_rules! bind_txn {
    ($query:expr, $txn:expr, $intent:expr) => {{
        let (txn, intent) = ($txn, $intent);
        $query
            .bind(txn.id)
            .bind(txn.payment_intent_id)
            .bind(intent.store_id)
            .bind(intent.environment)
            .bind(txn.operation)
            .bind(&txn.idempotency_key)
            .bind(txn.amount)
            .bind(&txn.currency)
            .bind(&txn.reason)
            .bind(&txn.correlation_id)
            .bind(&txn.actor)
            .bind(txn.created_at)
            .bind(&txn.request_hash)
            .bind(txn.settlement_amount)
            .bind(&txn.settlement_currency)
    }};
}

/// Inserts a pending transaction of `intent`; the resolver may look at it from its creation
/// on (its own minimum age keeps it off rows a request is still driving). `Ok(false)`: the
/// same key already made this operation on the intent.
pub async fn insert_txn(tx: &mut Tx, txn: &TxnRow, intent: &IntentRow) -> Result<bool, DbError> {
    inserted(on_tx!(tx, conn => {
        bind_txn!(sqlx::query(INSERT_TXN), txn, intent).execute(conn).await.map(|_| ())
    }))
}

/// A reservation: the operation's pending transaction `txn` and the intent moved from `before`
/// to `after`, one statement on PostgreSQL. `Ok(false)`: a unique index refused the
/// transaction (only its key's can: the id is new), or the intent is no longer at `before`.
pub async fn insert_reserved(
    tx: &mut Tx,
    txn: &TxnRow,
    before: &IntentRow,
    after: &IntentRow,
) -> Result<bool, DbError> {
    let mut writes = Writes::new();
    let written = async {
        write_part!(&mut *tx, writes, INSERT_TXN, "RETURNING 1", q => bind_txn!(q, txn, before))?;
        let slot = update_intent_in(&mut *tx, &mut writes, before, after).await?;
        writes
            .run(&mut *tx)
            .await
            .map(|counts| counts.rows(slot) == 1)
    };
    Ok(unless_duplicate(written.await)?.unwrap_or(false))
}
/// [`insert_intent`], [`insert_txn`] and [`insert_history`] as one statement on PostgreSQL
/// (a unique index refusing any row refuses it all), in that order on SQLite.
/// `Ok(false)`: a unique index refused a row (only the intent's one active payment per order
/// or the transaction's key can: the ids are new).
pub async fn insert_started(
    tx: &mut Tx,
    intent: &IntentRow,
    txn: &TxnRow,
    history: NewHistory<'_>,
) -> Result<bool, DbError> {
    static STARTED: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
        format!(
            "WITH intent AS ({INSERT_INTENT}), txn AS ({}) {}",
            crate::db::shift_placeholders(INSERT_TXN, 16),
            crate::db::shift_placeholders(&histories_sql(1), 31)
        )
    });
    let Tx::Postgres(conn) = tx else {
        if !insert_intent(tx, intent).await? || !insert_txn(tx, txn, intent).await? {
            return Ok(false);
        }
        insert_history(tx, history).await?;
        return Ok(true);
    };
    let query = bind_intent!(sqlx::query(STARTED.as_str()), intent);
    let query = bind_txn!(query, txn, intent);
    let query = bind_history!(query, &history);
    inserted(query.execute(&mut **conn).await.map(|_| ()))
}

/// Records a status change of an order or an intent.
pub async fn insert_history(tx: &mut Tx, change: NewHistory<'_>) -> Result<(), DbError> {
    insert_histories(tx, &[change]).await
}

/// Records `changes` in one statement, in their order (ids are time-ordered).
pub async fn insert_histories(tx: &mut Tx, changes: &[NewHistory<'_>]) -> Result<(), DbError> {
    let mut writes = Writes::new();
    insert_histories_in(tx, &mut writes, changes).await?;
    writes.run(tx).await?;
    Ok(())
}

/// [`insert_histories`] as one of `writes` (none when `changes` is empty).
pub async fn insert_histories_in(
    tx: &mut Tx,
    writes: &mut Writes,
    changes: &[NewHistory<'_>],
) -> Result<(), DbError> {
    if changes.is_empty() {
        return Ok(());
    }
    let sql = histories_sql(changes.len());
    write_part!(tx, writes, &sql, "RETURNING 1", q => {
        let mut q = q;
        for change in changes {
            q = bind_history!(q, change);
        }
        q
    })?;
    Ok(())
}

/// Compare-and-set of an intent: writes `after`'s status, amounts, flag, provider payment id
/// and failure code (both kept when `after` has none) if the row is still at `before`'s
/// version. `Ok(false)` when someone else changed it first.
pub async fn update_intent(
    tx: &mut Tx,
    before: &IntentRow,
    after: &IntentRow,
) -> Result<bool, DbError> {
    let mut writes = Writes::new();
    let slot = update_intent_in(tx, &mut writes, before, after).await?;
    Ok(writes.run(tx).await?.rows(slot) == 1)
}

/// [`update_intent`] as one of `writes`: the part's row count is 1 when it wrote.
pub async fn update_intent_in(
    tx: &mut Tx,
    writes: &mut Writes,
    before: &IntentRow,
    after: &IntentRow,
) -> Result<Slot, DbError> {
    const SQL: &str = "UPDATE payment_intents SET status = $3, authorized_amount = $4, \
        captured_amount = $5, refunded_amount = $6, capture_reserved = $7, refund_reserved = $8, \
        released_amount = $9, void_pending = $10, \
        provider_payment_id = COALESCE($11, provider_payment_id), \
        failure_code = COALESCE($12, failure_code), updated_at = $13, \
        multicapture = $14, version = version + 1 \
        WHERE id = $1 AND version = $2";
    write_part!(tx, writes, SQL, "RETURNING 1", q => {
        q.bind(before.id).bind(before.version).bind(after.status).bind(after.authorized_amount)
            .bind(after.captured_amount).bind(after.refunded_amount).bind(after.capture_reserved)
            .bind(after.refund_reserved).bind(after.released_amount).bind(after.void_pending)
            .bind(&after.provider_payment_id).bind(&after.failure_code).bind(after.updated_at)
            .bind(after.multicapture)
    })
}

/// Records a transaction's outcome (`after`) while it still has `before`'s status. The
/// provider's id and answer are kept when `after` has none. `Ok(false)` when someone else
/// recorded it first.
pub async fn update_txn(tx: &mut Tx, before: &TxnRow, after: &TxnRow) -> Result<bool, DbError> {
    let mut writes = Writes::new();
    let slot = update_txn_in(tx, &mut writes, before, after).await?;
    Ok(writes.run(tx).await?.rows(slot) == 1)
}

/// [`update_txn`] as one of `writes`: the part's row count is 1 when it wrote.
pub async fn update_txn_in(
    tx: &mut Tx,
    writes: &mut Writes,
    before: &TxnRow,
    after: &TxnRow,
) -> Result<Slot, DbError> {
    const SQL: &str = "UPDATE payment_transactions SET status = $3, \
        provider_txn_id = COALESCE($4, provider_txn_id), failure_kind = $5, failure_code = $6, \
        raw_response_redacted = COALESCE($7, raw_response_redacted), updated_at = $8, \
        settlement_amount = $9 WHERE id = $1 AND status = $2";
    write_part!(tx, writes, SQL, "RETURNING 1", q => {
        q.bind(before.id).bind(before.status).bind(after.status).bind(&after.provider_txn_id)
            .bind(after.failure_kind).bind(&after.failure_code).bind(&after.raw_response_redacted)
            .bind(after.updated_at).bind(after.settlement_amount)
    })
}

/// Writes provider call audit rows in the transaction that records the call's outcome.
pub async fn insert_audit(
    tx: &mut Tx,
    writes: &mut Writes,
    rows: &[AuditEntry],
) -> Result<(), DbError> {
    for row in rows {
        row.write_in(tx, writes).await?;
    }
    Ok(())
}
