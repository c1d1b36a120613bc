//! Idempotency records written inside the handler's own database transactions.
//!
//! On the payment endpoints and the checkout quote, a separate commit to claim the key and
//! another to store the response would double the commits of a request. There the middleware
//! only reads the record before the handler runs and hands the handler a [`Deferred`]: the
//! handler inserts the in-flight claim as the first statement of its first write transaction
//! (so two requests with one key serialize on the primary key and the loser changes nothing)
//! and stores the response in its last one. Whatever the handler leaves undone (an early
//! validation error, a 5xx, an outcome settled by someone else) the middleware finishes with
//! the classic statements afterwards.

use std::sync::{Arc, Mutex, PoisonError};

use axum::{
    body::{Body, Bytes},
    http::{HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};
use chrono::{DateTime, Utc};
use sqlx::{Database, Encode, Type, query::Query};

use super::{
    answer::Answer,
    render,
    repo::{CLAIM_SQL, COMPLETE_SQL, INSERT_COMPLETED_SQL, RELEASE_SQL},
};
use crate::http::problem::{ApiError, KeepUnderKey};

/// A response exactly as stored for the key (and sent to the first caller).
#[derive(Clone, Debug)]
pub struct Stored {
    /// Status code.
    pub status: StatusCode,
    /// `Content-Type`, if any.
    pub content_type: Option<String>,
    /// Body bytes.
    pub body: Bytes,
    /// A 5xx that is final for its key (stored, not released).
    pub keep: bool,
}

impl Stored {
    /// The response to send.
    pub fn into_response(self) -> Response {
        let mut response = (self.status, Body::from(self.body)).into_response();
        if let Some(Ok(ct)) = self.content_type.as_deref().map(HeaderValue::from_str) {
            response.headers_mut().insert(header::CONTENT_TYPE, ct);
        }
        response
    }

    fn code(&self) -> i32 {
        i32::from(self.status.as_u16())
    }
}

/// Where the handler's record stands.
#[derive(Clone, Debug)]
pub(super) enum Progress {
    /// Nothing written yet; the handler claims in its first write transaction.
    Unclaimed,
    /// Another request holds or finished the key: the middleware answers from its record.
    Lost,
    /// The in-flight claim is committed (by the handler, or by the middleware after a stale
    /// claim was taken over).
    Claimed,
    /// The handler stored this response (or released the key, for a 5xx) in the transaction
    /// that recorded the outcome.
    Settled(Stored),
}

struct Inner {
    scope: String,
    key: String,
    hash: Vec<u8>,
    request_id: Option<String>,
    retention: chrono::Duration,
    progress: Mutex<Progress>,
}

/// The request's idempotency record, for the handler to write in its own transactions (a
/// request extension on the endpoints listed in `handler_writes_record`).
#[derive(Clone)]
pub struct Deferred(Arc<Inner>);

impl std::fmt::Debug for Deferred {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Deferred")
            .field("scope", &self.0.scope)
            .field("progress", &self.progress())
            .finish_non_exhaustive()
    }
}

impl Deferred {
    pub(super) fn new(
        scope: String,
        key: String,
        hash: Vec<u8>,
        request_id: Option<String>,
        claimed: bool,
    ) -> Self {
        let progress = if claimed {
            Progress::Claimed
        } else {
            Progress::Unclaimed
        };
        Self(Arc::new(Inner {
            scope,
            key,
            hash,
            request_id,
            retention: super::retention(),
            progress: Mutex::new(progress),
        }))
    }

    pub(super) fn progress(&self) -> Progress {
        self.0
            .progress
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    fn set(&self, progress: Progress) {
        *self
            .0
            .progress
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = progress;
    }

    /// Whether the claim still has to be inserted (in the caller's transaction).
    pub fn needs_claim(&self) -> bool {
        matches!(self.progress(), Progress::Unclaimed)
    }

    /// Whether this request owns the committed claim (so its last transaction may store the
    /// response).
    pub fn is_claimed(&self) -> bool {
        matches!(self.progress(), Progress::Claimed)
    }

    /// The in-flight claim, `ON CONFLICT DO NOTHING`: execute it first in the write
    /// transaction; one row affected means ours. Then [`Self::claimed`] after the commit, or
    /// [`Self::lost`] (and roll back) when nothing was inserted.
    pub fn claim_query<'q, DB>(&'q self, now: DateTime<Utc>) -> Query<'q, DB, DB::Arguments<'q>>
    where
        DB: Database,
        &'q str: Encode<'q, DB> + Type<DB>,
        &'q [u8]: Encode<'q, DB> + Type<DB>,
        DateTime<Utc>: Encode<'q, DB> + Type<DB>,
    {
        sqlx::query::<DB>(CLAIM_SQL)
            .bind(self.0.scope.as_str())
            .bind(self.0.key.as_str())
            .bind(self.0.hash.as_slice())
            .bind(now)
            .bind(now + self.0.retention)
    }

    /// Inserts the record already completed with `stored`: claim and response in one
    /// statement, for a handler whose whole effect is one transaction. One row affected means
    /// ours; then [`Self::settled`] after the commit, or [`Self::lost`].
    pub fn insert_completed_query<'q, DB>(
        &'q self,
        stored: &'q Stored,
        now: DateTime<Utc>,
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
        sqlx::query::<DB>(INSERT_COMPLETED_SQL)
            .bind(self.0.scope.as_str())
            .bind(self.0.key.as_str())
            .bind(self.0.hash.as_slice())
            .bind(now)
            .bind(now + self.0.retention)
            .bind(stored.code())
            .bind(stored.content_type.as_deref())
            .bind(stored.body.as_ref())
            // The payment hot path never reveals a secret: its answers are stored plain.
            .bind(None::<i32>)
    }

    /// Stores the final response on the claimed record, or forgets the record after a 5xx
    /// (so the client may retry): one of the two statements, for the transaction that records
    /// the outcome; then [`Self::settled`] after its commit.
    pub fn finish_query<'q, DB>(&'q self, stored: &'q Stored) -> Query<'q, DB, DB::Arguments<'q>>
    where
        DB: Database,
        &'q str: Encode<'q, DB> + Type<DB>,
        &'q [u8]: Encode<'q, DB> + Type<DB>,
        Option<&'q str>: Encode<'q, DB> + Type<DB>,
        i32: Encode<'q, DB> + Type<DB>,
        Option<i32>: Encode<'q, DB> + Type<DB>,
    {
        if stored.status.is_server_error() && !stored.keep {
            return sqlx::query::<DB>(RELEASE_SQL)
                .bind(self.0.scope.as_str())
                .bind(self.0.key.as_str());
        }
        sqlx::query::<DB>(COMPLETE_SQL)
            .bind(self.0.scope.as_str())
            .bind(self.0.key.as_str())
            .bind(stored.code())
            .bind(stored.content_type.as_deref())
            .bind(stored.body.as_ref())
            // The payment hot path never reveals a secret: its answers are stored plain.
            .bind(None::<i32>)
    }

    /// The bytes a response will be stored and sent as (problems rendered with the request id).
    pub async fn render(&self, response: Response) -> Result<Stored, ApiError> {
        let keep = response.extensions().get::<KeepUnderKey>().is_some();
        let (parts, bytes) = render(response, self.0.request_id.clone()).await?;
        Ok(Stored {
            keep,
            status: parts.status,
            content_type: parts
                .headers
                .get(header::CONTENT_TYPE)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned),
            body: bytes,
        })
    }

    /// The claim inserted by [`Self::claim_query`] is committed.
    pub fn claimed(&self) {
        self.set(Progress::Claimed);
    }

    /// The claim found the key taken: the error to return (the middleware replaces it with
    /// the answer the key's record gives).
    pub fn lost(&self) -> ApiError {
        self.set(Progress::Lost);
        ApiError::IdempotencyKeyInUse
    }

    /// The transaction that stored `stored` (or released the key) is committed.
    pub fn settled(&self, stored: Stored) {
        self.set(Progress::Settled(stored));
    }
}

impl Deferred {
    /// The claim found the key taken (see [`Self::lost`]), for callers that report it in their
    /// own error type.
    pub fn mark_lost(&self) {
        self.set(Progress::Lost);
    }
}

impl From<Answer> for Stored {
    fn from(answer: Answer) -> Self {
        Stored {
            status: StatusCode::from_u16(answer.status)
                .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
            content_type: answer.content_type,
            body: Bytes::from(answer.body),
            keep: answer.keep,
        }
    }
}
