//! `Idempotency-Key` per account: the key is claimed in the same write transaction as the work
//! it guards, and the answer is stored there too, so a key's record is never seen half done
//! (a concurrent request with the same key waits on the key's row or SQLite's writer lock, then
//! finds the answer). Server errors roll back with everything else: the key can be retried.

use axum::{
    Json,
    http::{HeaderValue, StatusCode},
    response::{IntoResponse, Response},
};
use serde::Serialize;
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::error::CarrierError;

/// Longest key accepted.
pub(crate) const MAX_KEY_LEN: usize = 255;

/// The caller's `Idempotency-Key`, with the hash of the request it came with.
#[derive(Debug, Clone)]
pub(crate) struct Key {
    pub(crate) key: String,
    pub(crate) hash: String,
}

impl Key {
    /// `key` for `request` (hashed as serialized: each operation hashes a struct of its own,
    /// whose field order is fixed, so the same request always hashes the same).
    pub(crate) fn new(key: String, request: &impl Serialize) -> Self {
        let text = serde_json::to_string(request).unwrap_or_default();
        Self {
            key,
            hash: format!("{:x}", Sha256::digest(text.as_bytes())),
        }
    }
}

/// A key's record: request hash, response status (0: not answered yet), body.
pub(crate) type Record = (String, i32, String);

/// What a key that was already taken answers.
#[derive(Debug, Clone)]
pub(crate) enum Replay {
    /// The stored answer.
    Stored { status: StatusCode, body: Value },
    /// Taken by a request with other parameters.
    Reused,
    /// Taken by a request not answered yet.
    InProgress,
}

impl Replay {
    pub(crate) fn from_record(record: Option<Record>, hash: &str) -> Self {
        match record {
            None | Some((_, 0, _)) => Replay::InProgress,
            Some((stored, ..)) if stored != hash => Replay::Reused,
            Some((_, status, body)) => Replay::Stored {
                status: u16::try_from(status)
                    .ok()
                    .and_then(|s| StatusCode::from_u16(s).ok())
                    .unwrap_or(StatusCode::OK),
                body: serde_json::from_str(&body).unwrap_or(Value::Null),
            },
        }
    }
}

impl IntoResponse for Replay {
    fn into_response(self) -> Response {
        match self {
            Replay::Stored { status, body } => {
                let mut response = (status, Json(body)).into_response();
                response
                    .headers_mut()
                    .insert("idempotent-replayed", HeaderValue::from_static("true"));
                response
            }
            Replay::Reused => CarrierError::unprocessable(
                "idempotency_key_reused",
                "this idempotency key was used with different parameters",
            )
            .into_response(),
            Replay::InProgress => CarrierError::invalid(
                StatusCode::CONFLICT,
                "idempotency_in_progress",
                "a request with this idempotency key is still being processed; retry shortly",
            )
            .into_response(),
        }
    }
}

/// An operation's answer: what the caller gets, and what the key stores (the same, except
/// where the answer carries a secret that must not rest in plaintext).
#[derive(Debug, Clone)]
pub(crate) struct Answer {
    pub(crate) status: StatusCode,
    pub(crate) body: Value,
    pub(crate) stored: Value,
}

impl Answer {
    pub(crate) fn new(status: StatusCode, body: Value) -> Self {
        Self {
            status,
            stored: body.clone(),
            body,
        }
    }
}

impl From<CarrierError> for Answer {
    fn from(err: CarrierError) -> Self {
        Answer::new(err.status, err.body())
    }
}

impl IntoResponse for Answer {
    fn into_response(self) -> Response {
        (self.status, Json(self.body)).into_response()
    }
}

/// Where a guarded write transaction ended.
#[derive(Debug)]
pub(crate) enum Outcome<T> {
    /// The key was taken: nothing was done.
    Replayed(Replay),
    /// The work ran and committed, its answer stored under the key; `T` is what the operation
    /// tells its handler besides.
    Done(Answer, T),
}

pub(crate) const CLAIM: &str = "INSERT INTO sandbox_carrier_requests (account, idempotency_key, \
    request_hash, response_status, response_body, created_at) VALUES ($1, $2, $3, 0, '', $4) \
    ON CONFLICT (account, idempotency_key) DO NOTHING";
pub(crate) const RECORD: &str = "SELECT request_hash, response_status, response_body \
    FROM sandbox_carrier_requests WHERE account = $1 AND idempotency_key = $2";
pub(crate) const STORE: &str = "UPDATE sandbox_carrier_requests SET response_status = $3, \
    response_body = $4 WHERE account = $1 AND idempotency_key = $2 AND response_status = 0";

/// Claims `$key` for `$account` in transaction `$tx`: `Ok(None)` when it is ours, else the
/// key's [`Replay`] (the caller then rolls back).
macro_rules! claim {
    ($tx:ident, $account:expr, $key:expr, $now:expr) => {
        async {
            let key: &$crate::idempotency::Key = $key;
            let claimed = sqlx::query($crate::idempotency::CLAIM)
                .bind($account)
                .bind(&key.key)
                .bind(&key.hash)
                .bind($now)
                .execute(&mut *$tx)
                .await?
                .rows_affected()
                == 1;
            if claimed {
                return Ok::<_, sqlx::Error>(None);
            }
            let record: Option<$crate::idempotency::Record> =
                sqlx::query_as($crate::idempotency::RECORD)
                    .bind($account)
                    .bind(&key.key)
                    .fetch_optional(&mut *$tx)
                    .await?;
            Ok(Some($crate::idempotency::Replay::from_record(
                record, &key.hash,
            )))
        }
    };
}
pub(crate) use claim;

/// Stores `$answer` under `$key` in `$tx` (the caller commits).
macro_rules! store_answer {
    ($tx:ident, $account:expr, $key:expr, $answer:expr) => {
        async {
            let key: &$crate::idempotency::Key = $key;
            let answer: &$crate::idempotency::Answer = $answer;
            sqlx::query($crate::idempotency::STORE)
                .bind($account)
                .bind(&key.key)
                .bind(i32::from(answer.status.as_u16()))
                .bind(answer.stored.to_string())
                .execute(&mut *$tx)
                .await
                .map(|_| ())
        }
    };
}
pub(crate) use store_answer;
