//! Queries on `idempotency_keys`: claim, complete, release, read, take over.

use chrono::{DateTime, Utc};

use crate::{
    db::{Db, DbError},
    on_db,
};

/// A stored record.
#[derive(Debug, Clone)]
pub struct Record {
    /// SHA-256 of method, path and body of the first request.
    pub request_hash: Vec<u8>,
    /// `in_flight` or `completed`.
    pub completed: bool,
    /// Stored response status.
    pub response_code: Option<i32>,
    /// Stored response content type.
    pub response_type: Option<String>,
    /// Stored response body (sealed when `response_key_version` is set).
    pub response_body: Option<Vec<u8>>,
    /// Master key version the body is sealed with; `None`: plain.
    pub response_key_version: Option<i32>,
    /// When the current owner claimed it.
    pub locked_at: DateTime<Utc>,
    /// When it may be forgotten.
    pub expires_at: DateTime<Utc>,
}

type Row = (
    Vec<u8>,
    String,
    Option<i32>,
    Option<String>,
    Option<Vec<u8>>,
    DateTime<Utc>,
    DateTime<Utc>,
    Option<i32>,
);

/// Inserts an in-flight record (binds: scope, key, hash, now, expires_at).
pub(super) const CLAIM_SQL: &str = "INSERT INTO idempotency_keys \
    (scope, idempotency_key, request_hash, status, locked_at, created_at, expires_at) \
    VALUES ($1, $2, $3, 'in_flight', $4, $4, $5) \
    ON CONFLICT (scope, idempotency_key) DO NOTHING";

/// Inserts a completed record (binds: as [`CLAIM_SQL`], then code, content type, body, sealing
/// key version).
pub(super) const INSERT_COMPLETED_SQL: &str = "INSERT INTO idempotency_keys \
    (scope, idempotency_key, request_hash, status, locked_at, created_at, expires_at, \
    response_code, response_type, response_body, response_key_version) \
    VALUES ($1, $2, $3, 'completed', $4, $4, $5, $6, $7, $8, $9) \
    ON CONFLICT (scope, idempotency_key) DO NOTHING";

/// Completes a record (binds: scope, key, code, content type, body, sealing key version).
pub(super) const COMPLETE_SQL: &str = "UPDATE idempotency_keys SET status = 'completed', \
    response_code = $3, response_type = $4, response_body = $5, response_key_version = $6 \
    WHERE scope = $1 AND idempotency_key = $2";

/// Forgets a record (binds: scope, key).
pub(super) const RELEASE_SQL: &str =
    "DELETE FROM idempotency_keys WHERE scope = $1 AND idempotency_key = $2";

/// Inserts an in-flight record; `false` if one exists.
pub async fn claim(
    db: &Db,
    scope: &str,
    key: &str,
    request_hash: &[u8],
    now: DateTime<Utc>,
    expires_at: DateTime<Utc>,
) -> Result<bool, DbError> {
    let inserted = on_db!(db, pool => {
        sqlx::query(CLAIM_SQL)
            .bind(scope)
            .bind(key)
            .bind(request_hash)
            .bind(now)
            .bind(expires_at)
            .execute(pool)
            .await
            .map(|r| r.rows_affected())
    })?;
    Ok(inserted == 1)
}

/// Reads a record.
pub async fn find(db: &Db, scope: &str, key: &str) -> Result<Option<Record>, DbError> {
    const SQL: &str = "SELECT request_hash, status, response_code, response_type, response_body, \
        locked_at, expires_at, response_key_version FROM idempotency_keys \
        WHERE scope = $1 AND idempotency_key = $2";
    let row: Option<Row> = on_db!(db, pool => {
        sqlx::query_as(SQL).bind(scope).bind(key).fetch_optional(pool).await
    })?;
    Ok(row.map(|r| Record {
        request_hash: r.0,
        completed: r.1 == "completed",
        response_code: r.2,
        response_type: r.3,
        response_body: r.4,
        locked_at: r.5,
        expires_at: r.6,
        response_key_version: r.7,
    }))
}

/// Re-locks a stale in-flight record (its owner is presumed dead); `false` if someone else won.
pub async fn take_over(
    db: &Db,
    scope: &str,
    key: &str,
    seen_locked_at: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<bool, DbError> {
    const SQL: &str = "UPDATE idempotency_keys SET locked_at = $4 \
        WHERE scope = $1 AND idempotency_key = $2 AND status = 'in_flight' AND locked_at = $3";
    let updated = on_db!(db, pool => {
        sqlx::query(SQL)
            .bind(scope)
            .bind(key)
            .bind(seen_locked_at)
            .bind(now)
            .execute(pool)
            .await
            .map(|r| r.rows_affected())
    })?;
    Ok(updated == 1)
}

/// Stores the final response (`key_version`: the body is sealed with it).
pub async fn complete(
    db: &Db,
    scope: &str,
    key: &str,
    code: u16,
    content_type: Option<&str>,
    body: &[u8],
    key_version: Option<i32>,
) -> Result<(), DbError> {
    on_db!(db, pool => {
        sqlx::query(COMPLETE_SQL)
            .bind(scope)
            .bind(key)
            .bind(i32::from(code))
            .bind(content_type)
            .bind(body)
            .bind(key_version)
            .execute(pool)
            .await
            .map(|r| r.rows_affected())
    })?;
    Ok(())
}

/// Inserts a completed record; `false` if one exists.
#[allow(clippy::too_many_arguments)]
pub async fn insert_completed(
    db: &Db,
    scope: &str,
    key: &str,
    request_hash: &[u8],
    now: DateTime<Utc>,
    expires_at: DateTime<Utc>,
    code: u16,
    content_type: Option<&str>,
    body: &[u8],
    key_version: Option<i32>,
) -> Result<bool, DbError> {
    let inserted = on_db!(db, pool => {
        sqlx::query(INSERT_COMPLETED_SQL)
            .bind(scope)
            .bind(key)
            .bind(request_hash)
            .bind(now)
            .bind(expires_at)
            .bind(i32::from(code))
            .bind(content_type)
            .bind(body)
            .bind(key_version)
            .execute(pool)
            .await
            .map(|r| r.rows_affected())
    })?;
    Ok(inserted == 1)
}

/// Forgets a record (after a 5xx, or once expired) so the key can be used again.
pub async fn release(db: &Db, scope: &str, key: &str) -> Result<(), DbError> {
    on_db!(db, pool => {
        sqlx::query(RELEASE_SQL).bind(scope).bind(key).execute(pool).await.map(|r| r.rows_affected())
    })?;
    Ok(())
}
