//! Group commit of verified deliveries: concurrent receivers hand their event to one writer,
//! which stores what queued meanwhile (up to 64 deliveries or 4 MiB of payload) in one
//! statement and one commit, then answers each. Under load one commit carries many deliveries;
//! a delivery waits for no timer, only for the commits queued ahead of it. Every receiver still
//! answers only after its event is committed, and the provider event id's unique index still
//! decides duplicates.

use tokio::sync::{mpsc, oneshot};

mod repo;

pub use repo::Verified;

use crate::db::{Db, DbError};

/// Deliveries one commit carries at most.
const MAX_BATCH: usize = 64;
/// Payload bytes one statement carries at most (a delivery may be up to the body limit).
const MAX_BATCH_BYTES: usize = 4 << 20;
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
    /// Said once that the writer stopped (not once per delivery).
    stopped: std::sync::Arc<std::sync::atomic::AtomicBool>,
}

impl Ingest {
    /// Starts the writer on the current runtime; it stops when every handle is dropped. At
    /// shutdown it is not waited for: a receiver cut off after the grace period never answered
    /// 200, so its sender delivers again.
    pub fn start(db: Db) -> Self {
        let (jobs, queue) = mpsc::channel(QUEUE);
        tokio::spawn(write_batches(db.clone(), queue));
        Self {
            jobs,
            db,
            stopped: Default::default(),
        }
    }

    /// Stores `event` (committed when this returns) unless its provider event id was stored
    /// before: `true` when stored now.
    pub async fn store(&self, event: Verified) -> Result<bool, DbError> {
        let (reply, answer) = oneshot::channel();
        match self.jobs.send(Job { event, reply }).await {
            Ok(()) => answer
                .await
                .unwrap_or(Err(DbError::Unavailable(sqlx::Error::WorkerCrashed))),
            // The writer panicked, or its runtime is shutting down: store it alone.
            Err(mpsc::error::SendError(job)) => {
                if !self
                    .stopped
                    .swap(true, std::sync::atomic::Ordering::Relaxed)
                {
                    tracing::error!(
                        "the webhook ingest writer has stopped; storing deliveries one by one"
                    );
                }
                let id = job.event.id;
                Ok(repo::insert_verified(&self.db, &[&job.event])
                    .await?
                    .contains(&id))
            }
        }
    }
}

async fn write_batches(db: Db, mut queue: mpsc::Receiver<Job>) {
    let mut jobs = Vec::with_capacity(MAX_BATCH);
    while queue.recv_many(&mut jobs, MAX_BATCH).await > 0 {
        let mut rest = std::mem::take(&mut jobs);
        while !rest.is_empty() {
            // A byte budget as well as a count: a statement never carries 64 large bodies.
            let mut bytes = 0;
            let take = rest
                .iter()
                .take_while(|j| {
                    bytes += j.event.payload.len();
                    bytes <= MAX_BATCH_BYTES
                })
                .count()
                .max(1);
            let batch: Vec<Job> = rest.drain(..take).collect();
            if let Err(err) = write(&db, batch).await {
                // The database is unreachable, busy or full: everything waiting now would wait
                // an acquire timeout per batch for the same answer, so it gets it at once.
                for job in rest.drain(..) {
                    let _ = job.reply.send(Err(same_kind(&err)));
                }
                // Bounded by what is queued now: senders may keep refilling the queue.
                for _ in 0..queue.len() {
                    let Ok(job) = queue.try_recv() else { break };
                    let _ = job.reply.send(Err(same_kind(&err)));
                }
            }
        }
    }
}

/// One statement for the batch. If the statement itself is refused, each delivery is tried
/// alone, so a bad row answers only its own receiver. If the database is unreachable, busy or
/// full, every receiver of the batch gets that answer, and so does the caller (`Err`).
async fn write(db: &Db, jobs: Vec<Job>) -> Result<(), DbError> {
    let events: Vec<&Verified> = jobs.iter().map(|j| &j.event).collect();
    let outcome = repo::insert_verified(db, &events).await;
    drop(events);
    match outcome {
        Ok(stored) => {
            for job in jobs {
                let _ = job.reply.send(Ok(stored.contains(&job.event.id)));
            }
            Ok(())
        }
        Err(DbError::Query(err)) if jobs.len() > 1 => {
            tracing::warn!(error = %err, deliveries = jobs.len(), "batch of webhook deliveries refused; storing each alone");
            let mut jobs = jobs.into_iter();
            while let Some(job) = jobs.next() {
                match repo::insert_verified(db, &[&job.event]).await {
                    Ok(stored) => {
                        let _ = job.reply.send(Ok(stored.contains(&job.event.id)));
                    }
                    Err(err) if is_storage(&err) => {
                        let _ = job.reply.send(Err(same_kind(&err)));
                        for job in jobs {
                            let _ = job.reply.send(Err(same_kind(&err)));
                        }
                        return Err(err);
                    }
                    Err(err) => {
                        let _ = job.reply.send(Err(err));
                    }
                }
            }
            Ok(())
        }
        Err(err) => {
            tracing::warn!(error = %err, deliveries = jobs.len(), "could not store a batch of webhook deliveries");
            for job in jobs {
                let _ = job.reply.send(Err(same_kind(&err)));
            }
            if is_storage(&err) { Err(err) } else { Ok(()) }
        }
    }
}

/// The database, not the statement, is the problem.
fn is_storage(err: &DbError) -> bool {
    matches!(
        err,
        DbError::Unavailable(_) | DbError::Busy(_) | DbError::Full(_)
    )
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
