//! Group commit of verified deliveries: concurrent receivers hand their event to one writer,
//! which stores whatever queued meanwhile in one statement and one commit, then answers each.
//! Under load one commit carries many deliveries; a lone delivery waits for no one (the writer
//! takes what is queued, never a timer). Every receiver still answers only after its event is
//! committed, and the provider event id's unique index still decides duplicates.

use tokio::sync::{mpsc, oneshot};

use super::repo::{self, Verified};
use crate::db::{Db, DbError};

/// Deliveries one commit carries at most (bounded so a statement's parameters stay small).
const MAX_BATCH: usize = 64;
/// Deliveries waiting for the writer at most; beyond that a receiver waits to queue.
const QUEUE: usize = 1024;

struct Job {
    event: Verified,
    /// `Ok(true)` stored now, `Ok(false)` stored before (a duplicate).
    reply: oneshot::Sender<Result<bool, DbError>>,
}

/// The handle receivers store through.
#[derive(Clone)]
pub struct Ingest {
    jobs: mpsc::Sender<Job>,
    db: Db,
}

impl Ingest {
    /// Starts the writer on the current runtime; it stops when every handle is dropped.
    pub fn start(db: Db) -> Self {
        let (jobs, queue) = mpsc::channel(QUEUE);
        tokio::spawn(write_batches(db.clone(), queue));
        Self { jobs, db }
    }

    /// Stores `event` (committed when this returns) unless its provider event id was stored
    /// before: `true` when stored now.
    pub(super) async fn store(&self, event: Verified) -> Result<bool, DbError> {
        let (reply, answer) = oneshot::channel();
        match self.jobs.send(Job { event, reply }).await {
            Ok(()) => answer
                .await
                .unwrap_or(Err(DbError::Unavailable(sqlx::Error::WorkerCrashed))),
            // The writer is gone (the runtime is shutting down): store it alone.
            Err(mpsc::error::SendError(job)) => Ok(repo::insert_verified(
                &self.db,
                std::slice::from_ref(&job.event),
            )
            .await?
            .contains(&job.event.id)),
        }
    }
}

async fn write_batches(db: Db, mut queue: mpsc::Receiver<Job>) {
    let mut jobs = Vec::with_capacity(MAX_BATCH);
    while queue.recv_many(&mut jobs, MAX_BATCH).await > 0 {
        write(&db, std::mem::take(&mut jobs)).await;
    }
}

/// One statement for the batch. If the statement itself is refused, each delivery is tried
/// alone, so a bad row answers only its own receiver; if the database is unreachable, busy or
/// full, every receiver gets that answer at once (trying each alone would hold the whole queue
/// for an acquire timeout per delivery).
async fn write(db: &Db, jobs: Vec<Job>) {
    let events: Vec<Verified> = jobs.iter().map(|j| j.event.clone()).collect();
    match repo::insert_verified(db, &events).await {
        Ok(stored) => {
            for job in jobs {
                let _ = job.reply.send(Ok(stored.contains(&job.event.id)));
            }
        }
        Err(DbError::Query(err)) if jobs.len() > 1 => {
            tracing::warn!(error = %err, deliveries = jobs.len(), "batch of webhook deliveries refused; storing each alone");
            for job in jobs {
                let alone = repo::insert_verified(db, std::slice::from_ref(&job.event))
                    .await
                    .map(|stored| stored.contains(&job.event.id));
                let _ = job.reply.send(alone);
            }
        }
        Err(err) => {
            for job in jobs {
                let _ = job.reply.send(Err(same_kind(&err)));
            }
        }
    }
}

/// An error of the same kind as `err` (its message kept) for each receiver of a failed batch.
fn same_kind(err: &DbError) -> DbError {
    let copy = || sqlx::Error::Protocol(err.to_string());
    match err {
        DbError::Unavailable(_) => DbError::Unavailable(copy()),
        DbError::Busy(_) => DbError::Busy(copy()),
        DbError::Full(_) => DbError::Full(copy()),
        _ => DbError::Query(copy()),
    }
}
