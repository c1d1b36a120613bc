//! The payments tables: typed rows, their lookups and the resolver's queue (portable between
//! SQLite and PostgreSQL); reads that need no transaction take the `Db`, the locking ones the
//! flow's transaction. A flow's writes are in `write_repo`.

use chrono::{DateTime, Utc};

use super::{
    Operation, StatusChange, TransactionStatus,
    caller::{Caller, Source},
    machine::{IntentStatus, Ledger},
};
use rust_decimal::Decimal;

use crate::{
    db::{Db, DbError, Tx},
    fx,
    money::MinorUnits,
    on_db, on_tx,
    types::{
        Currency, CustomerId, Environment, OrderId, PaymentIntentId, SnapshotId, StoreId,
        TextValue, TransactionId,
    },
};

/// An intent and the transaction a request created or found on it.
pub type Outcome = (IntentRow, TxnRow);

/// Columns of [`IntentRow`], in order.
pub(super) const INTENT_COLUMNS: &str = "id, store_id, environment, order_id, snapshot_id, customer_id, \
    provider, provider_payment_id, payment_method, status, amount, authorized_amount, \
    captured_amount, refunded_amount, capture_reserved, refund_reserved, released_amount, \
    void_pending, currency, version, failure_code, created_at, updated_at, settlement_currency, \
    fx_rate, return_url, multicapture";

/// A `payment_intents` row.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct IntentRow {
    pub id: PaymentIntentId,
    pub store_id: StoreId,
    pub environment: Environment,
    pub order_id: OrderId,
    pub snapshot_id: SnapshotId,
    pub customer_id: CustomerId,
    pub provider: String,
    pub provider_payment_id: Option<String>,
    pub payment_method: String,
    pub status: IntentStatus,
    pub amount: i64,
    pub authorized_amount: i64,
    pub captured_amount: i64,
    pub refunded_amount: i64,
    pub capture_reserved: i64,
    pub refund_reserved: i64,
    pub released_amount: i64,
    pub void_pending: bool,
    pub currency: String,
    pub version: i32,
    pub failure_code: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// What the store is paid in, when the order was priced at a locked rate (`None`: the
    /// intent's own currency).
    pub settlement_currency: Option<String>,
    /// The order's locked rate (units of `currency` per settlement unit).
    pub fx_rate: Option<String>,
    /// Where the provider sends the customer back after a challenge (3-D Secure).
    pub return_url: Option<String>,
    /// The provider may capture this authorization more than once
    /// ([`crate::providers::payment::ProviderTransaction::multicapture`]).
    pub multicapture: bool,
}

/// An amount the locked rate cannot convert (beyond 28 digits): never met for amounts within
/// the snapshot's total, whose conversion succeeded when it was taken.
#[derive(Debug, thiserror::Error)]
#[error("cannot convert {0} to the settlement currency")]
pub struct Unconvertible(pub i64);

impl IntentRow {
    /// The currency the store is paid in.
    pub fn settles_in(&self) -> &str {
        self.settlement_currency
            .as_deref()
            .unwrap_or(&self.currency)
    }

    /// `amount` of the intent's currency in its settlement currency, at the locked rate.
    pub fn settle(&self, amount: i64) -> Result<i64, Unconvertible> {
        let (Some(settlement), Some(rate)) = (&self.settlement_currency, &self.fx_rate) else {
            return Ok(amount);
        };
        let fail = || Unconvertible(amount);
        let presentment = Currency::parse(&self.currency).map_err(|_| fail())?;
        let settlement = Currency::parse(settlement).map_err(|_| fail())?;
        let rate: Decimal = rate.parse().map_err(|_| fail())?;
        fx::to_settlement(MinorUnits(amount), presentment, settlement, rate)
            .map(|m| m.0)
            .map_err(|_| fail())
    }

    /// The settlement amount of an operation that moved a running total from `before` to
    /// `after`: the difference of the totals' conversions, so the operations' settlement
    /// amounts add up to the conversion of their sum (refunds never exceed captures).
    pub fn settle_step(&self, before: i64, after: i64) -> Result<i64, Unconvertible> {
        Ok(self.settle(after)? - self.settle(before)?)
    }

    /// The state machine's view of the row.
    pub fn ledger(&self) -> Ledger {
        Ledger {
            status: self.status,
            amount: MinorUnits(self.amount),
            authorized: MinorUnits(self.authorized_amount),
            captured: MinorUnits(self.captured_amount),
            refunded: MinorUnits(self.refunded_amount),
            capture_reserved: MinorUnits(self.capture_reserved),
            refund_reserved: MinorUnits(self.refund_reserved),
            released: MinorUnits(self.released_amount),
            void_pending: self.void_pending,
        }
    }

    /// The row after a compare-and-set that writes `next` at `now`.
    pub fn with_ledger(&self, next: &Ledger, now: DateTime<Utc>) -> IntentRow {
        IntentRow {
            status: next.status,
            authorized_amount: next.authorized.0,
            captured_amount: next.captured.0,
            refunded_amount: next.refunded.0,
            capture_reserved: next.capture_reserved.0,
            refund_reserved: next.refund_reserved.0,
            released_amount: next.released.0,
            void_pending: next.void_pending,
            version: self.version + 1,
            updated_at: now,
            ..self.clone()
        }
    }
}

/// Why a transaction failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FailureKind {
    /// The provider declined the payment.
    Declined,
    /// The provider refused the request (its content, the payment's state there).
    Rejected,
    /// The provider could not be reached for a first call: nothing happened.
    Unavailable,
}

impl TextValue for FailureKind {
    fn as_text(&self) -> &'static str {
        match self {
            FailureKind::Declined => "declined",
            FailureKind::Rejected => "rejected",
            FailureKind::Unavailable => "unavailable",
        }
    }
    fn from_text(text: &str) -> Option<Self> {
        [
            FailureKind::Declined,
            FailureKind::Rejected,
            FailureKind::Unavailable,
        ]
        .into_iter()
        .find(|k| k.as_text() == text)
    }
}
crate::text_value_sql!(FailureKind);

/// Columns of [`TxnRow`], in order.
pub(super) const TXN_COLUMNS: &str = "id, payment_intent_id, operation, idempotency_key, amount, currency, \
    status, provider_txn_id, failure_kind, failure_code, reason, raw_response_redacted, \
    correlation_id, actor, request_hash, attempts, next_attempt_at, created_at, updated_at, \
    settlement_amount, settlement_currency";

/// A `payment_transactions` row.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct TxnRow {
    pub id: TransactionId,
    pub payment_intent_id: PaymentIntentId,
    pub operation: Operation,
    pub idempotency_key: String,
    pub amount: i64,
    pub currency: String,
    pub status: TransactionStatus,
    pub provider_txn_id: Option<String>,
    pub failure_kind: Option<FailureKind>,
    pub failure_code: Option<String>,
    pub reason: Option<String>,
    pub raw_response_redacted: Option<String>,
    pub correlation_id: String,
    pub actor: String,
    pub request_hash: Option<String>,
    pub attempts: i32,
    pub next_attempt_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// The amount in the intent's settlement currency (`None` on rows older than
    /// multi-currency: the amount itself).
    pub settlement_amount: Option<i64>,
    /// The intent's settlement currency.
    pub settlement_currency: Option<String>,
}

/// What a status history row is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Subject {
    /// The order's status.
    Order,
    /// A payment intent's status.
    Payment,
    /// A dispute's status (on the intent it disputes).
    Dispute,
}

impl TextValue for Subject {
    fn as_text(&self) -> &'static str {
        match self {
            Subject::Order => "order",
            Subject::Payment => "payment",
            Subject::Dispute => "dispute",
        }
    }
    fn from_text(text: &str) -> Option<Self> {
        [Subject::Order, Subject::Payment, Subject::Dispute]
            .into_iter()
            .find(|s| s.as_text() == text)
    }
}
crate::text_value_sql!(Subject);

/// An `order_status_history` row. Its statuses are an order's, an intent's or a dispute's, as
/// `subject` says.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct HistoryRow {
    pub subject: Subject,
    pub payment_intent_id: Option<PaymentIntentId>,
    pub from_status: Option<String>,
    pub to_status: String,
    pub reason: String,
    pub source: Source,
    pub actor: String,
    pub correlation_id: String,
    pub created_at: DateTime<Utc>,
}

impl From<HistoryRow> for StatusChange {
    fn from(r: HistoryRow) -> Self {
        StatusChange {
            subject: r.subject.as_text().to_owned(),
            payment_intent_id: r.payment_intent_id,
            from_status: r.from_status,
            to_status: r.to_status,
            reason: r.reason,
            source: r.source.as_str().to_owned(),
            actor: r.actor,
            correlation_id: r.correlation_id,
            created_at: r.created_at,
        }
    }
}

/// A status change to record.
#[derive(Clone, Copy, Debug)]
pub struct NewHistory<'a> {
    pub order_id: OrderId,
    pub payment_intent_id: Option<PaymentIntentId>,
    pub subject: Subject,
    pub from_status: Option<&'a str>,
    pub to_status: &'a str,
    pub reason: &'a str,
    pub caller: &'a Caller,
    pub at: DateTime<Utc>,
}

/// The latest authorize transaction `key` made for the customer's order. The customer is part
/// of the lookup: another customer's key never finds this one's intent.
pub async fn authorization_by_key(
    db: &Db,
    store: StoreId,
    env: Environment,
    customer: CustomerId,
    order_id: OrderId,
    key: &str,
) -> Result<Option<TxnRow>, DbError> {
    let sql = format!(
        "SELECT {TXN_COLUMNS} FROM payment_transactions WHERE payment_intent_id IN \
         (SELECT id FROM payment_intents WHERE order_id = $1 AND store_id = $2 \
         AND environment = $3 AND customer_id = $4) \
         AND operation = $5 AND idempotency_key = $6 ORDER BY id DESC LIMIT 1"
    );
    Ok(on_db!(db, pool => {
        sqlx::query_as(&sql).bind(order_id).bind(store).bind(env).bind(customer)
            .bind(Operation::Authorize).bind(key)
            .fetch_optional(pool).await
    })?)
}

/// An intent by id.
pub async fn intent(db: &Db, id: PaymentIntentId) -> Result<IntentRow, DbError> {
    let sql = format!("SELECT {INTENT_COLUMNS} FROM payment_intents WHERE id = $1");
    Ok(on_db!(db, pool => sqlx::query_as(&sql).bind(id).fetch_one(pool).await)?)
}

/// An intent of an order inside a store and environment.
pub async fn intent_of_order(
    db: &Db,
    store: StoreId,
    env: Environment,
    order_id: OrderId,
    id: PaymentIntentId,
) -> Result<Option<IntentRow>, DbError> {
    let sql = format!(
        "SELECT {INTENT_COLUMNS} FROM payment_intents WHERE id = $1 AND order_id = $2 \
         AND store_id = $3 AND environment = $4"
    );
    Ok(on_db!(db, pool => {
        sqlx::query_as(&sql).bind(id).bind(order_id).bind(store).bind(env)
            .fetch_optional(pool).await
    })?)
}

/// The `operation` transaction `key` made on an intent.
pub async fn txn_by_key(
    db: &Db,
    intent: PaymentIntentId,
    operation: Operation,
    key: &str,
) -> Result<Option<TxnRow>, DbError> {
    let sql = format!(
        "SELECT {TXN_COLUMNS} FROM payment_transactions WHERE payment_intent_id = $1 \
         AND operation = $2 AND idempotency_key = $3"
    );
    Ok(on_db!(db, pool => {
        sqlx::query_as(&sql).bind(intent).bind(operation).bind(key).fetch_optional(pool).await
    })?)
}

/// A transaction of a store's environment by id, if it is an `operation`.
pub async fn txn_by_reference(
    db: &Db,
    store: StoreId,
    env: Environment,
    operation: Operation,
    id: TransactionId,
) -> Result<Option<TransactionId>, DbError> {
    const SQL: &str = "SELECT id FROM payment_transactions WHERE id = $1 AND store_id = $2 \
        AND operation = $3 AND environment = $4";
    Ok(on_db!(db, pool => {
        sqlx::query_scalar(SQL).bind(id).bind(store).bind(operation).bind(env)
            .fetch_optional(pool).await
    })?)
}

/// The latest `operation` transaction on the intent of a store's environment with this
/// provider payment id, an open one first.
pub async fn txn_by_provider_payment(
    db: &Db,
    store: StoreId,
    env: Environment,
    operation: Operation,
    provider_payment_id: &str,
) -> Result<Option<TransactionId>, DbError> {
    const SQL: &str = "SELECT t.id FROM payment_transactions t JOIN payment_intents i \
        ON i.id = t.payment_intent_id WHERE i.store_id = $1 AND i.provider_payment_id = $2 \
        AND t.operation = $3 AND i.environment = $4 \
        ORDER BY CASE WHEN t.status IN ('pending', 'unknown') THEN 0 ELSE 1 END, t.id DESC LIMIT 1";
    Ok(on_db!(db, pool => {
        sqlx::query_scalar(SQL).bind(store).bind(provider_payment_id).bind(operation).bind(env)
            .fetch_optional(pool).await
    })?)
}

/// A transaction by id.
pub async fn txn(db: &Db, id: TransactionId) -> Result<TxnRow, DbError> {
    let sql = format!("SELECT {TXN_COLUMNS} FROM payment_transactions WHERE id = $1");
    Ok(on_db!(db, pool => sqlx::query_as(&sql).bind(id).fetch_one(pool).await)?)
}

/// A transaction's status.
pub async fn txn_status(db: &Db, id: TransactionId) -> Result<TransactionStatus, DbError> {
    const SQL: &str = "SELECT status FROM payment_transactions WHERE id = $1";
    Ok(on_db!(db, pool => sqlx::query_scalar(SQL).bind(id).fetch_one(pool).await)?)
}

/// An intent read to be updated in the same transaction (locked on PostgreSQL, so concurrent
/// writers queue instead of failing their compare-and-set).
pub async fn lock_intent(tx: &mut Tx, id: PaymentIntentId) -> Result<IntentRow, DbError> {
    let sql = format!(
        "SELECT {INTENT_COLUMNS} FROM payment_intents WHERE id = $1{}",
        tx.lock_for_update_sql()
    );
    Ok(on_tx!(tx, conn => sqlx::query_as(&sql).bind(id).fetch_one(conn).await)?)
}

/// A transaction read to be updated in the same transaction (see [`lock_intent`]).
pub async fn lock_txn(tx: &mut Tx, id: TransactionId) -> Result<TxnRow, DbError> {
    let sql = format!(
        "SELECT {TXN_COLUMNS} FROM payment_transactions WHERE id = $1{}",
        tx.lock_for_update_sql()
    );
    Ok(on_tx!(tx, conn => sqlx::query_as(&sql).bind(id).fetch_one(conn).await)?)
}

/// Open transactions due for the resolver: next attempt due by `now`, untouched since
/// `cutoff`, oldest due first.
pub async fn due_txns(
    db: &Db,
    now: DateTime<Utc>,
    cutoff: DateTime<Utc>,
    limit: i64,
) -> Result<Vec<TxnRow>, DbError> {
    let sql = format!(
        "SELECT {TXN_COLUMNS} FROM payment_transactions WHERE status IN ('pending', 'unknown') \
         AND next_attempt_at <= $1 AND updated_at <= $2 ORDER BY next_attempt_at LIMIT {limit}"
    );
    Ok(on_db!(db, pool => sqlx::query_as(&sql).bind(now).bind(cutoff).fetch_all(pool).await)?)
}

/// Claims an open transaction for one resolver attempt: moves it back in the queue (so a row
/// that keeps failing never holds up the others) and counts the attempt, but only if nobody
/// did since `attempts` was read. Two resolver passes that read the same due row (two server
/// instances) thus drive it once: the other one's update finds the count moved on.
pub async fn claim_txn(
    db: &Db,
    id: TransactionId,
    attempts: i32,
    next: DateTime<Utc>,
) -> Result<bool, DbError> {
    const SQL: &str = "UPDATE payment_transactions SET attempts = attempts + 1, \
        next_attempt_at = $2 WHERE id = $1 AND attempts = $3 AND status IN ('pending', 'unknown')";
    let claimed = on_db!(db, pool => sqlx::query(SQL).bind(id).bind(next).bind(attempts)
        .execute(pool).await.map(|r| r.rows_affected()))?;
    Ok(claimed == 1)
}

/// An order's intents, oldest first.
pub async fn order_intents(db: &Db, order_id: OrderId) -> Result<Vec<IntentRow>, DbError> {
    let sql =
        format!("SELECT {INTENT_COLUMNS} FROM payment_intents WHERE order_id = $1 ORDER BY id");
    Ok(on_db!(db, pool => sqlx::query_as(&sql).bind(order_id).fetch_all(pool).await)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trip<T: TextValue + PartialEq + std::fmt::Debug>(all: Vec<T>) {
        for value in all {
            assert_eq!(T::from_text(value.as_text()).as_ref(), Some(&value));
        }
        assert_eq!(T::from_text("Pending"), None);
        assert_eq!(T::from_text(""), None);
    }

    #[test]
    fn stored_spellings_round_trip_and_unknown_text_is_refused() {
        round_trip(IntentStatus::ALL.to_vec());
        round_trip(vec![
            Operation::Authorize,
            Operation::Capture,
            Operation::Void,
            Operation::Refund,
        ]);
        round_trip(vec![
            TransactionStatus::Pending,
            TransactionStatus::Unknown,
            TransactionStatus::Succeeded,
            TransactionStatus::Failed,
            TransactionStatus::Reversed,
        ]);
        round_trip(vec![
            FailureKind::Declined,
            FailureKind::Rejected,
            FailureKind::Unavailable,
        ]);
        round_trip(vec![Subject::Order, Subject::Payment, Subject::Dispute]);
        round_trip(vec![
            Source::Api,
            Source::Webhook,
            Source::Job,
            Source::Reconciliation,
        ]);
    }
}
