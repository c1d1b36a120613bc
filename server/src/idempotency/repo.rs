//! Queries on `idempotency_keys`: claim, complete, release, read, take over. Each statement is
//! built once (generic over the driver) and run either alone on the pool or inside a flow's
//! transaction.

use chrono::{DateTime, Utc};
use sqlx::{Database, Encode, Type, query::Query};

use super::Answer;
use crate::{
    db::{Db, DbError, Slot, Tx, Writes},
    on_db, on_tx, write_part,
};

/// A stored record.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Record {
    /// SHA-256 of method, path and body of the first request.
    pub request_hash: Vec<u8>,
    /// `in_flight` or `completed`.
    #[sqlx(try_from = "String")]
    pub status: Status,
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

/// A record's state as stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// Claimed by a request that has not answered yet.
    InFlight,
    /// Answered; the answer is stored.
    Completed,
}

impl TryFrom<String> for Status {
    type Error = String;
    fn try_from(text: String) -> Result<Self, Self::Error> {
        match text.as_str() {
            "in_flight" => Ok(Status::InFlight),
            "completed" => Ok(Status::Completed),
            _ => Err(format!("unknown idempotency record status {text:?}")),
        }
    }
}

/// A record to insert.
#[derive(Debug, Clone, Copy)]
pub struct NewRecord<'a> {
    pub scope: &'a str,
    pub key: &'a str,
    pub request_hash: &'a [u8],
    /// The claiming request's token (see [`Claim`]).
    pub owner: &'a str,
    pub now: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
}

/// Where a record is written: its scope and key.
#[derive(Debug, Clone, Copy)]
pub struct RecordId<'a> {
    pub scope: &'a str,
    pub key: &'a str,
}

/// A record as held by one request: its scope, key and the token that request claimed (or
/// took the record over) with. Completing and releasing match the token, so only the request
/// holding the lock now answers for the key or frees it.
#[derive(Debug, Clone, Copy)]
pub struct Claim<'a> {
    pub scope: &'a str,
    pub key: &'a str,
    pub owner: &'a str,
}

/// An answer as stored: the body sealed with `key_version`, or plain.
#[derive(Debug, Clone, Copy)]
pub struct StoredAnswer<'a> {
    pub answer: &'a Answer,
    pub body: &'a [u8],
    pub key_version: Option<i32>,
}

impl<'a> StoredAnswer<'a> {
    /// An answer stored as it is sent.
    pub fn plain(answer: &'a Answer) -> Self {
        Self {
            answer,
            body: &answer.body,
            key_version: None,
        }
    }
}

fn claim_query<'q, DB>(new: &NewRecord<'q>) -> Query<'q, DB, DB::Arguments<'q>>
where
    DB: Database,
    &'q str: Encode<'q, DB> + Type<DB>,
    &'q [u8]: Encode<'q, DB> + Type<DB>,
    DateTime<Utc>: Encode<'q, DB> + Type<DB>,
{
    const SQL: &str = "INSERT INTO idempotency_keys \
        (scope, idempotency_key, request_hash, status, locked_at, created_at, expires_at, \
        lock_token) VALUES ($1, $2, $3, 'in_flight', $4, $4, $5, $6) \
        ON CONFLICT (scope, idempotency_key) DO NOTHING";
    sqlx::query::<DB>(SQL)
        .bind(new.scope)
        .bind(new.key)
        .bind(new.request_hash)
        .bind(new.now)
        .bind(new.expires_at)
        .bind(new.owner)
}

const INSERT_COMPLETED: &str = "INSERT INTO idempotency_keys \
    (scope, idempotency_key, request_hash, status, locked_at, created_at, expires_at, \
    response_code, response_type, response_body, response_key_version) \
    VALUES ($1, $2, $3, 'completed', $4, $4, $5, $6, $7, $8, $9) \
    ON CONFLICT (scope, idempotency_key) DO NOTHING";

/// Binds [`INSERT_COMPLETED`]'s parameters, in order.
macro_rules! bind_completed {
    ($query:expr, $new:expr, $stored:expr) => {{
        let (new, stored) = ($new, $stored);
        $query
            .bind(new.scope)
            .bind(new.key)
            .bind(new.request_hash)
            .bind(new.now)
            .bind(new.expires_at)
            .bind(i32::from(stored.answer.status))
            .bind(stored.answer.content_type.as_deref())
            .bind(stored.body)
            .bind(stored.key_version)
    }};
}

fn insert_completed_query<'q, DB>(
    new: &NewRecord<'q>,
    stored: StoredAnswer<'q>,
) -> Query<'q, DB, DB::Arguments<'q>>
where
    DB: Database,
    &'q str: Encode<'q, DB> + Type<DB>,
    &'q [u8]: Encode<'q, DB> + Type<DB>,
    Option<&'q str>: Encode<'q, DB> + Type<DB>,
    i32: Encode<'q, DB> + Type<DB>,
    Option<i32>: Encode<'q, DB> + Type<DB>,
    DateTime<Utc>: Encode<'q, DB> + Type<DB>,
{
    bind_completed!(sqlx::query::<DB>(INSERT_COMPLETED), new, stored)
}

// Only a record still in flight under this request's token: a request whose lock was taken
// over as stale (it was slow, not dead) never answers for the key, whether the request that
// took it over has answered yet or not.
const COMPLETE: &str = "UPDATE idempotency_keys SET status = 'completed', \
    response_code = $3, response_type = $4, response_body = $5, response_key_version = $6 \
    WHERE scope = $1 AND idempotency_key = $2 AND status = 'in_flight' AND lock_token = $7";

/// Binds [`COMPLETE`]'s parameters, in order.
macro_rules! bind_complete {
    ($query:expr, $id:expr, $stored:expr) => {{
        let (id, stored) = ($id, $stored);
        $query
            .bind(id.scope)
            .bind(id.key)
            .bind(i32::from(stored.answer.status))
            .bind(stored.answer.content_type.as_deref())
            .bind(stored.body)
            .bind(stored.key_version)
            .bind(id.owner)
    }};
}

fn complete_query<'q, DB>(
    id: Claim<'q>,
    stored: StoredAnswer<'q>,
) -> Query<'q, DB, DB::Arguments<'q>>
where
    DB: Database,
    &'q str: Encode<'q, DB> + Type<DB>,
    &'q [u8]: Encode<'q, DB> + Type<DB>,
    Option<&'q str>: Encode<'q, DB> + Type<DB>,
    i32: Encode<'q, DB> + Type<DB>,
    Option<i32>: Encode<'q, DB> + Type<DB>,
{
    bind_complete!(sqlx::query::<DB>(COMPLETE), id, stored)
}

// Never a completed record (a late 5xx must not free a key whose answer was given), and never
// one another request took over: freeing it would let a third request claim the key and run
// beside the one that holds it.
const RELEASE: &str = "DELETE FROM idempotency_keys WHERE scope = $1 AND idempotency_key = $2 \
    AND status = 'in_flight' AND lock_token = $3";

fn release_query<'q, DB>(id: Claim<'q>) -> Query<'q, DB, DB::Arguments<'q>>
where
    DB: Database,
    &'q str: Encode<'q, DB> + Type<DB>,
{
    sqlx::query::<DB>(RELEASE)
        .bind(id.scope)
        .bind(id.key)
        .bind(id.owner)
}

/// Forgets an expired record, whatever its status.
pub async fn forget(db: &Db, id: RecordId<'_>) -> Result<(), DbError> {
    const SQL: &str = "DELETE FROM idempotency_keys WHERE scope = $1 AND idempotency_key = $2";
    on_db!(db, pool => sqlx::query(SQL).bind(id.scope).bind(id.key).execute(pool).await.map(|_| ()))?;
    Ok(())
}

/// Inserts an in-flight record; `false` if one exists.
pub async fn claim(db: &Db, new: &NewRecord<'_>) -> Result<bool, DbError> {
    let rows = on_db!(db, pool => claim_query(new).execute(pool).await.map(|r| r.rows_affected()))?;
    Ok(rows == 1)
}

/// [`claim`] as a statement of `tx`.
pub async fn claim_in(tx: &mut Tx, new: &NewRecord<'_>) -> Result<bool, DbError> {
    let rows = on_tx!(tx, conn => claim_query(new).execute(conn).await.map(|r| r.rows_affected()))?;
    Ok(rows == 1)
}

/// Inserts a completed record; `false` if one exists.
pub async fn insert_completed(
    db: &Db,
    new: &NewRecord<'_>,
    stored: StoredAnswer<'_>,
) -> Result<bool, DbError> {
    let rows = on_db!(db, pool => {
        insert_completed_query(new, stored).execute(pool).await.map(|r| r.rows_affected())
    })?;
    Ok(rows == 1)
}

/// Stores the final answer on a claimed record; `false` when it is no longer in flight under
/// this claim's token (taken over by another request, or already completed).
pub async fn complete(db: &Db, id: Claim<'_>, stored: StoredAnswer<'_>) -> Result<bool, DbError> {
    let rows = on_db!(db, pool => {
        complete_query(id, stored).execute(pool).await.map(|r| r.rows_affected())
    })?;
    Ok(rows == 1)
}

/// [`insert_completed`] as one of `writes`: the part's row count is 1 when the key was
/// free.
pub async fn insert_completed_in(
    tx: &mut Tx,
    writes: &mut Writes,
    new: &NewRecord<'_>,
    stored: StoredAnswer<'_>,
) -> Result<Slot, DbError> {
    write_part!(tx, writes, INSERT_COMPLETED, "RETURNING 1", q => bind_completed!(q, new, stored))
}

/// [`complete`] as one of `writes`: the part's row count is 1 when it stored the answer.
pub async fn complete_in(
    tx: &mut Tx,
    writes: &mut Writes,
    id: Claim<'_>,
    stored: StoredAnswer<'_>,
) -> Result<Slot, DbError> {
    write_part!(tx, writes, COMPLETE, "RETURNING 1", q => bind_complete!(q, id, stored))
}

/// [`release`] as one of `writes`.
pub async fn release_in(tx: &mut Tx, writes: &mut Writes, id: Claim<'_>) -> Result<Slot, DbError> {
    write_part!(tx, writes, RELEASE, "RETURNING 1", q => q.bind(id.scope).bind(id.key).bind(id.owner))
}

/// Forgets a record still in flight under this request's token (after a 5xx) so the key can be
/// used again.
pub async fn release(db: &Db, id: Claim<'_>) -> Result<(), DbError> {
    on_db!(db, pool => release_query(id).execute(pool).await.map(|_| ()))?;
    Ok(())
}

/// Reads a record.
pub async fn find(db: &Db, id: RecordId<'_>) -> Result<Option<Record>, DbError> {
    const SQL: &str = "SELECT request_hash, status, response_code, response_type, response_body, \
        locked_at, expires_at, response_key_version FROM idempotency_keys \
        WHERE scope = $1 AND idempotency_key = $2";
    let row = on_db!(db, pool => {
        sqlx::query_as(SQL).bind(id.scope).bind(id.key).fetch_optional(pool).await
    })?;
    Ok(row)
}

/// Re-locks a stale in-flight record for `id.owner` (its holder is presumed dead); `false` if
/// someone else won.
pub async fn take_over(
    db: &Db,
    id: Claim<'_>,
    seen_locked_at: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<bool, DbError> {
    const SQL: &str = "UPDATE idempotency_keys SET locked_at = $4, lock_token = $5 \
        WHERE scope = $1 AND idempotency_key = $2 AND status = 'in_flight' AND locked_at = $3";
    let updated = on_db!(db, pool => {
        sqlx::query(SQL)
            .bind(id.scope)
            .bind(id.key)
            .bind(seen_locked_at)
            .bind(now)
            .bind(id.owner)
            .execute(pool)
            .await
            .map(|r| r.rows_affected())
    })?;
    Ok(updated == 1)
}
