//! The answer a flow stores under its request's key inside its own database transaction, as
//! data: a flow outside the edge hands over the status and bytes the edge chose, and writes
//! them with its outcome, so the answer and the change it reports commit together.

use std::sync::Arc;

use chrono::{DateTime, Utc};

use super::{
    KeyRecord,
    repo::{self, StoredAnswer},
};
use crate::db::{Counts, Db, DbError, Slot, Tx, Writes};

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

impl Answer {
    /// Whether storing this answer frees the key for a retry instead: a server error that is
    /// not final for its key.
    pub fn releases_key(&self) -> bool {
        self.status >= 500 && !self.keep
    }
}

/// A flow's idempotency record with how the edge renders its result: for a flow whose whole
/// effect is one transaction, which stores the answer with the change it reports. Without it a
/// `COMMIT` whose acknowledgement is lost (a failover) is answered `503` and frees the key, and
/// the retry makes the change again.
pub struct Reply<T: ?Sized> {
    /// The request's record.
    pub record: KeyRecord,
    /// The answer the edge would send for the flow's result.
    pub render: Arc<dyn Fn(&T) -> Answer + Send + Sync>,
}

impl<T: ?Sized> Clone for Reply<T> {
    fn clone(&self) -> Self {
        Self {
            record: self.record.clone(),
            render: Arc::clone(&self.render),
        }
    }
}

impl<T: ?Sized> std::fmt::Debug for Reply<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Reply")
            .field("record", &self.record)
            .finish_non_exhaustive()
    }
}

impl<T: ?Sized> Reply<T> {
    /// The answer to store with `value`, unless the key is already settled or claimed.
    pub fn pending(&self, value: &T) -> Option<(&KeyRecord, Answer)> {
        self.record
            .needs_claim()
            .then(|| (&self.record, (self.render)(value)))
    }

    /// Writes the answer for `value` as the first statement of `tx`, the flow's one
    /// transaction (a concurrent request with the key waits there): inserted with it when the
    /// key is unclaimed, or stored on the claim the edge holds (a stale one it took over), so
    /// the effect and its answer commit together either way. After the commit, [`settled`]
    /// with the [`Written::Stored`] answer.
    pub async fn write(
        &self,
        tx: &mut Tx,
        value: &T,
        now: DateTime<Utc>,
    ) -> Result<Written, DbError> {
        let answer = (self.render)(value);
        let mut writes = Writes::new();
        let finished = if self.record.needs_claim() {
            insert_completed(tx, &mut writes, &self.record, &answer, now).await?
        } else if self.record.is_claimed() {
            finish(tx, &mut writes, &self.record, &answer).await?
        } else {
            return Ok(Written::Nothing);
        };
        let counts = writes.run(tx).await?;
        Ok(if finished.stored(&counts) {
            Written::Stored(answer)
        } else {
            Written::Taken
        })
    }
}

/// What [`Reply::write`] did.
#[derive(Debug)]
pub enum Written {
    /// The answer is written in the transaction.
    Stored(Answer),
    /// The key is settled already: nothing to write.
    Nothing,
    /// Another request has the key: roll the transaction back (the edge answers from it).
    Taken,
}

/// Claims the key as the first statement of `tx`, so a concurrent request with the key waits
/// there and changes nothing. `Ok(false)`: another request has the key (the record is then
/// marked lost: the edge answers from the key's record); roll `tx` back. After the commit,
/// [`KeyRecord::claimed`].
pub async fn claim(tx: &mut Tx, record: &KeyRecord, now: DateTime<Utc>) -> Result<bool, DbError> {
    record.claim_sent();
    let ours = repo::claim_in(tx, &record.request().new_record(now)).await?;
    Ok(lost_unless(record, ours))
}

/// [`claim`] in a transaction of its own (committed when it returns `Ok(true)`).
pub async fn claim_alone(db: &Db, record: &KeyRecord, now: DateTime<Utc>) -> Result<bool, DbError> {
    record.claim_sent();
    let ours = repo::claim(db, &record.request().new_record(now)).await?;
    if lost_unless(record, ours) {
        record.claimed();
    }
    Ok(ours)
}

/// Inserts the record already completed with `answer` as one of `writes` (claim and answer in
/// one: for a flow whose whole effect is that one transaction). Whether the key was free is
/// known once they ran: [`Finished::stored`] is `false` when it was taken (the record is then
/// marked lost); roll `tx` back. After the commit, [`settled`].
pub async fn insert_completed<'r>(
    tx: &mut Tx,
    writes: &mut Writes,
    record: &'r KeyRecord,
    answer: &Answer,
    now: DateTime<Utc>,
) -> Result<Finished<'r>, DbError> {
    // The flows that write their own record never reveal a secret: stored plain.
    let new = record.request().new_record(now);
    let slot = repo::insert_completed_in(tx, writes, &new, StoredAnswer::plain(answer)).await?;
    Ok(Finished {
        record,
        slot: Some(slot),
    })
}

fn lost_unless(record: &KeyRecord, ours: bool) -> bool {
    if !ours {
        record.mark_lost();
    }
    ours
}

/// Stores `answer` on the claimed record (or releases the key for a 5xx that is not final) as
/// one of `writes`, in the transaction that records the outcome. Once they ran,
/// [`Finished::stored`] is `false` when the record was completed by another request meanwhile
/// (the record is then lost: the edge answers from it). After the commit of a stored answer,
/// [`settled`].
pub async fn finish<'r>(
    tx: &mut Tx,
    writes: &mut Writes,
    record: &'r KeyRecord,
    answer: &Answer,
) -> Result<Finished<'r>, DbError> {
    let id = record.request().claim();
    if answer.releases_key() {
        repo::release_in(tx, writes, id).await?;
        return Ok(Finished { record, slot: None });
    }
    // The payment hot path never reveals a secret: its answers are stored plain.
    let slot = repo::complete_in(tx, writes, id, StoredAnswer::plain(answer)).await?;
    Ok(Finished {
        record,
        slot: Some(slot),
    })
}

/// An answer written by [`finish`] or [`insert_completed`].
#[derive(Debug)]
pub struct Finished<'r> {
    record: &'r KeyRecord,
    /// The completing update; none for a released key.
    slot: Option<Slot>,
}

impl Finished<'_> {
    /// Whether the answer is the key's, from the writes' row counts.
    pub fn stored(self, counts: &Counts) -> bool {
        match self.slot {
            None => true,
            Some(slot) => lost_unless(self.record, counts.rows(slot) == 1),
        }
    }
}

/// The transaction that ran [`finish`] (or [`insert_completed`]) is committed: the edge sends
/// `answer` as stored.
pub fn settled(record: &KeyRecord, answer: Answer) {
    record.settled(answer);
}
