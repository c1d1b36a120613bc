//! The answer a handler stores under its request's key inside its own database transaction, as
//! data: a flow outside the edge hands over the status and bytes the edge chose, and writes
//! them with its outcome, so the answer and the change it reports commit together.

use chrono::{DateTime, Utc};

use super::{Deferred, Stored};
use crate::{
    db::{Db, DbError, Tx},
    on_db, on_tx,
};

/// An answer exactly as it is sent and stored for the key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Answer {
    /// HTTP status code.
    pub status: u16,
    /// `Content-Type`, if any.
    pub content_type: Option<String>,
    /// Body bytes.
    pub body: Vec<u8>,
    /// A 5xx that is final for its key (stored and replayed, not released).
    pub keep: bool,
}

/// Claims the key as the first statement of `tx`, so a concurrent request with the key waits
/// there and changes nothing. `Ok(false)`: another request has the key (the record is then
/// marked lost: the edge answers from the key's record); roll `tx` back. After the commit,
/// [`Deferred::claimed`].
pub async fn claim(tx: &mut Tx, record: &Deferred, now: DateTime<Utc>) -> Result<bool, DbError> {
    let rows = on_tx!(tx, conn => {
        record.claim_query(now).execute(conn).await.map(|r| r.rows_affected())
    })?;
    Ok(claimed(record, rows))
}

/// [`claim`] in a transaction of its own (committed when it returns `Ok(true)`).
pub async fn claim_alone(db: &Db, record: &Deferred, now: DateTime<Utc>) -> Result<bool, DbError> {
    let rows = on_db!(db, pool => {
        record.claim_query(now).execute(pool).await.map(|r| r.rows_affected())
    })?;
    let ours = claimed(record, rows);
    if ours {
        record.claimed();
    }
    Ok(ours)
}

fn claimed(record: &Deferred, rows: u64) -> bool {
    if rows != 1 {
        record.mark_lost();
    }
    rows == 1
}

/// Stores `answer` on the claimed record (or releases the key for a 5xx that is not final) in
/// the transaction that records the outcome. After the commit, [`settled`].
pub async fn finish(tx: &mut Tx, record: &Deferred, answer: &Answer) -> Result<(), DbError> {
    let stored = Stored::from(answer.clone());
    on_tx!(tx, conn => record.finish_query(&stored).execute(conn).await.map(|_| ()))?;
    Ok(())
}

/// The transaction that ran [`finish`] is committed: the edge sends `answer` as stored.
pub fn settled(record: &Deferred, answer: Answer) {
    record.settled(Stored::from(answer));
}
