//! The provider call audit: one row per outbound attempt (provider, operation, latency,
//! status, request id, redacted request and response).
//!
//! A call made for a ledger transaction buffers its rows in an [`AuditLog`] so the transaction
//! that records the outcome writes them too: one commit fewer per attempt on the payment path.
//! Rows nobody wrote that way are written on their own ([`AuditLog::flush`]).

use std::sync::{Arc, Mutex, PoisonError};

use chrono::{DateTime, Utc};
use sqlx::{Database, Encode, Type, query::Query};
use uuid::Uuid;

use crate::{
    db::{Db, DbError, Slot, Tx, Writes},
    on_db,
    types::StoreId,
    write_part,
};

const INSERT: &str = "INSERT INTO provider_call_audit (id, store_id, provider, operation, \
    status_code, outcome, latency_ms, correlation_id, request_body, response_body, created_at) \
    VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)";

/// One outbound attempt.
#[derive(Debug, Clone)]
pub struct AuditEntry {
    /// Row id.
    pub id: Uuid,
    /// The store whose credentials made the call.
    pub store_id: Option<StoreId>,
    /// Provider name.
    pub provider: &'static str,
    /// Operation (`authorize`, `capture`, …).
    pub operation: &'static str,
    /// HTTP status, when an answer arrived.
    pub status_code: Option<i32>,
    /// `ok` or the classified error.
    pub outcome: String,
    /// Round trip.
    pub latency_ms: i32,
    /// Request id of the API call or job.
    pub correlation_id: String,
    /// Redacted request body.
    pub request_body: String,
    /// Redacted response body.
    pub response_body: String,
    /// When the attempt ended.
    pub created_at: DateTime<Utc>,
}

/// Binds [`INSERT`]'s parameters from an entry, in order.
macro_rules! bind_audit {
    ($query:expr, $entry:expr) => {{
        let entry = $entry;
        $query
            .bind(entry.id)
            .bind(entry.store_id)
            .bind(entry.provider)
            .bind(entry.operation)
            .bind(entry.status_code)
            .bind(entry.outcome.as_str())
            .bind(entry.latency_ms)
            .bind(entry.correlation_id.as_str())
            .bind(entry.request_body.as_str())
            .bind(entry.response_body.as_str())
            .bind(entry.created_at)
    }};
}

impl AuditEntry {
    /// The insert, for any connection or transaction.
    pub fn insert_query<'q, DB>(&'q self) -> Query<'q, DB, DB::Arguments<'q>>
    where
        DB: Database,
        Uuid: Encode<'q, DB> + Type<DB>,
        Option<StoreId>: Encode<'q, DB> + Type<DB>,
        &'q str: Encode<'q, DB> + Type<DB>,
        Option<i32>: Encode<'q, DB> + Type<DB>,
        i32: Encode<'q, DB> + Type<DB>,
        DateTime<Utc>: Encode<'q, DB> + Type<DB>,
    {
        bind_audit!(sqlx::query::<DB>(INSERT), self)
    }

    /// Writes the row as one of `writes`, in the transaction that records the call's outcome.
    pub async fn write_in(&self, tx: &mut Tx, writes: &mut Writes) -> Result<Slot, DbError> {
        write_part!(tx, writes, INSERT, "RETURNING 1", q => bind_audit!(q, self))
    }

    /// Writes the row on its own.
    pub async fn write(&self, db: &Db) -> Result<(), DbError> {
        on_db!(db, pool => self.insert_query().execute(pool).await.map(|_| ()))?;
        Ok(())
    }
}

/// Audit rows held back for the transaction that records the call's outcome.
#[derive(Debug, Clone, Default)]
pub struct AuditLog(Arc<Mutex<Vec<AuditEntry>>>);

impl AuditLog {
    /// Holds a row back.
    pub fn push(&self, entry: AuditEntry) {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(entry);
    }

    /// The rows held back so far (still held until [`Self::written`]).
    pub fn pending(&self) -> Vec<AuditEntry> {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// The rows `pending` returned were committed elsewhere.
    pub fn written(&self, count: usize) {
        let mut rows = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        let count = count.min(rows.len());
        rows.drain(..count);
    }

    /// Writes what nobody wrote (the outcome was not recorded by this caller).
    pub async fn flush(&self, db: &Db) {
        let rows = std::mem::take(&mut *self.0.lock().unwrap_or_else(PoisonError::into_inner));
        for row in rows {
            if let Err(err) = row.write(db).await {
                tracing::error!(error = %err, "could not write the provider call audit");
            }
        }
    }
}
