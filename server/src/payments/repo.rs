//! Rows and SQL of the payments tables (portable between SQLite and PostgreSQL).

use chrono::{DateTime, Utc};

use super::{
    IntentStatus, Operation, PaymentIntent, StatusChange, Transaction, TransactionStatus,
    machine::Ledger,
};
use crate::{
    money::MinorUnits,
    types::{CustomerId, OrderId, PaymentIntentId, SnapshotId, StoreId, TransactionId},
};

/// Columns of [`IntentRow`], in order.
pub const INTENT_COLUMNS: &str = "id, store_id, environment, order_id, snapshot_id, customer_id, \
    provider, provider_payment_id, payment_method, status, amount, authorized_amount, \
    captured_amount, refunded_amount, capture_reserved, refund_reserved, released_amount, \
    void_pending, currency, version, failure_code, created_at, updated_at";

/// A `payment_intents` row.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct IntentRow {
    pub id: PaymentIntentId,
    pub store_id: StoreId,
    pub environment: String,
    pub order_id: OrderId,
    pub snapshot_id: SnapshotId,
    pub customer_id: CustomerId,
    pub provider: String,
    pub provider_payment_id: Option<String>,
    pub payment_method: String,
    pub status: String,
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
}

impl IntentRow {
    /// The status; a value the CHECK constraint allows always parses.
    pub fn status(&self) -> IntentStatus {
        IntentStatus::parse(&self.status).unwrap_or(IntentStatus::Unknown)
    }

    /// The state machine's view of the row.
    pub fn ledger(&self) -> Ledger {
        Ledger {
            status: self.status(),
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

    /// The API view.
    pub fn to_api(&self) -> PaymentIntent {
        let ledger = self.ledger();
        PaymentIntent {
            capturable_amount: ledger.capturable_now(),
            refundable_amount: ledger.refundable_now(),
            voidable: ledger.voidable_now(),
            id: self.id,
            order_id: self.order_id,
            snapshot_id: self.snapshot_id,
            customer_id: self.customer_id,
            status: self.status(),
            amount: MinorUnits(self.amount),
            authorized_amount: MinorUnits(self.authorized_amount),
            captured_amount: MinorUnits(self.captured_amount),
            refunded_amount: MinorUnits(self.refunded_amount),
            released_amount: MinorUnits(self.released_amount),
            currency: self.currency.clone(),
            provider: self.provider.clone(),
            provider_payment_id: self.provider_payment_id.clone(),
            payment_method: self.payment_method.clone(),
            failure_code: self.failure_code.clone(),
            created_at: self.created_at,
            updated_at: self.updated_at,
        }
    }
}

/// Columns of [`TxnRow`], in order.
pub const TXN_COLUMNS: &str = "id, payment_intent_id, operation, idempotency_key, amount, currency, \
    status, provider_txn_id, failure_kind, failure_code, reason, raw_response_redacted, \
    correlation_id, actor, request_hash, attempts, next_attempt_at, created_at, updated_at";

/// A `payment_transactions` row.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct TxnRow {
    pub id: TransactionId,
    pub payment_intent_id: PaymentIntentId,
    pub operation: String,
    pub idempotency_key: String,
    pub amount: i64,
    pub currency: String,
    pub status: String,
    pub provider_txn_id: Option<String>,
    pub failure_kind: Option<String>,
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
}

impl TxnRow {
    /// The operation; a value the CHECK constraint allows always parses.
    pub fn operation(&self) -> Operation {
        Operation::parse(&self.operation).unwrap_or(Operation::Authorize)
    }

    /// The status; a value the CHECK constraint allows always parses.
    pub fn status(&self) -> TransactionStatus {
        TransactionStatus::parse(&self.status).unwrap_or(TransactionStatus::Unknown)
    }

    /// The API view.
    pub fn to_api(&self) -> Transaction {
        Transaction {
            id: self.id,
            payment_intent_id: self.payment_intent_id,
            operation: self.operation(),
            amount: MinorUnits(self.amount),
            currency: self.currency.clone(),
            status: self.status(),
            provider_txn_id: self.provider_txn_id.clone(),
            failure_code: self.failure_code.clone(),
            reason: self.reason.clone(),
            raw_response_redacted: self.raw_response_redacted.clone(),
            correlation_id: self.correlation_id.clone(),
            actor: self.actor.clone(),
            created_at: self.created_at,
            updated_at: self.updated_at,
        }
    }
}

/// An `order_status_history` row.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct HistoryRow {
    pub subject: String,
    pub payment_intent_id: Option<PaymentIntentId>,
    pub from_status: Option<String>,
    pub to_status: String,
    pub reason: String,
    pub source: String,
    pub actor: String,
    pub correlation_id: String,
    pub created_at: DateTime<Utc>,
}

impl From<HistoryRow> for StatusChange {
    fn from(r: HistoryRow) -> Self {
        StatusChange {
            subject: r.subject,
            payment_intent_id: r.payment_intent_id,
            from_status: r.from_status,
            to_status: r.to_status,
            reason: r.reason,
            source: r.source,
            actor: r.actor,
            correlation_id: r.correlation_id,
            created_at: r.created_at,
        }
    }
}

pub const INSERT_INTENT: &str = "INSERT INTO payment_intents (id, store_id, environment, order_id, \
    snapshot_id, customer_id, provider, payment_method, status, amount, authorized_amount, \
    captured_amount, refunded_amount, capture_reserved, refund_reserved, void_pending, currency, \
    version, created_at, updated_at) \
    VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, 0, 0, 0, 0, 0, $11, $12, 1, $13, $13)";

/// A new pending transaction; the resolver may look at it from its creation on (`$14`, its
/// own minimum age keeps it off rows a request is still driving).
pub const INSERT_TXN: &str = "INSERT INTO payment_transactions (id, payment_intent_id, store_id, \
    environment, operation, idempotency_key, amount, currency, status, reason, correlation_id, \
    actor, request_hash, attempts, next_attempt_at, created_at, updated_at) \
    VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 'pending', $9, $10, $11, $13, 0, $12, $12, $12)";

/// Moves an open transaction back in the resolver's queue before an attempt, so a row that
/// keeps failing never holds up the others.
pub const BUMP_TXN: &str = "UPDATE payment_transactions SET attempts = attempts + 1, \
    next_attempt_at = $2 WHERE id = $1 AND status IN ('pending', 'unknown')";

pub const INSERT_HISTORY: &str = "INSERT INTO order_status_history (id, order_id, payment_intent_id, \
    subject, from_status, to_status, reason, source, actor, correlation_id, created_at) \
    VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)";

/// Compare-and-set of an intent's ledger: binds `$1` id, `$2` expected version, then the new
/// status, amounts, flag, provider id (kept when null), failure code (kept when null), time.
pub const UPDATE_INTENT: &str = "UPDATE payment_intents SET status = $3, authorized_amount = $4, \
    captured_amount = $5, refunded_amount = $6, capture_reserved = $7, refund_reserved = $8, \
    released_amount = $9, void_pending = $10, provider_payment_id = COALESCE($11, provider_payment_id), \
    failure_code = COALESCE($12, failure_code), updated_at = $13, version = version + 1 \
    WHERE id = $1 AND version = $2";

/// Records a transaction's outcome, only while it is still open (`$2` the expected status).
pub const UPDATE_TXN: &str = "UPDATE payment_transactions SET status = $3, \
    provider_txn_id = COALESCE($4, provider_txn_id), failure_kind = $5, failure_code = $6, \
    raw_response_redacted = COALESCE($7, raw_response_redacted), updated_at = $8 \
    WHERE id = $1 AND status = $2";

pub const UPDATE_ORDER_STATUS: &str =
    "UPDATE orders SET status = $3, updated_at = $4 WHERE id = $1 AND status = $2";
