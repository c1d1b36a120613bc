//! A request's key record written inside the flow's own database transactions.
//!
//! On the payment endpoints, order creation and the checkout quote, a separate commit to claim the key and
//! another to store the answer would double the commits of a request. There the edge only
//! reads the record before the flow runs and hands the flow a [`KeyRecord`]: the flow inserts
//! the in-flight claim as the first statement of its first write transaction (so two requests
//! with one key serialize on the primary key and the loser changes nothing) and stores the
//! answer in its last one (`answer.rs`). Whatever the flow leaves undone (an early validation
//! error, a 5xx, an outcome settled by someone else) the edge finishes with the statements of
//! `service.rs` afterwards, reading [`KeyRecord::progress`].

use std::sync::{
    Arc, Mutex, PoisonError,
    atomic::{AtomicBool, Ordering},
};

use super::{Answer, KeyedRequest};

/// Where the flow's record stands.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Progress {
    /// Nothing written yet; the flow claims in its first write transaction.
    Unclaimed,
    /// Another request holds or finished the key: the edge answers from its record.
    Lost,
    /// The in-flight claim is committed (by the flow, or by the edge after a stale claim was
    /// taken over).
    Claimed,
    /// The flow stored this answer (or released the key, for a 5xx) in the transaction that
    /// recorded the outcome.
    Settled(Answer),
}

#[derive(Debug)]
struct Inner {
    request: KeyedRequest,
    progress: Mutex<Progress>,
    /// An in-flight claim was sent to the database: it may have committed even when the flow
    /// never saw its commit (an acknowledgement lost in a failover).
    claim_sent: AtomicBool,
}

/// The request's idempotency record, for the flow to write in its own transactions.
#[derive(Clone, Debug)]
pub struct KeyRecord(Arc<Inner>);

impl KeyRecord {
    /// A record for `request`; `claimed` when the edge already holds the committed claim.
    pub fn new(request: KeyedRequest, claimed: bool) -> Self {
        let progress = if claimed {
            Progress::Claimed
        } else {
            Progress::Unclaimed
        };
        Self(Arc::new(Inner {
            request,
            progress: Mutex::new(progress),
            claim_sent: AtomicBool::new(false),
        }))
    }

    /// The request holding the key.
    pub fn request(&self) -> &KeyedRequest {
        &self.0.request
    }

    /// Where the record stands (the edge reads it when the flow returns).
    pub fn progress(&self) -> Progress {
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
    /// answer).
    pub fn is_claimed(&self) -> bool {
        matches!(self.progress(), Progress::Claimed)
    }

    /// An in-flight claim is about to be written (in the flow's transaction or one of its own).
    pub fn claim_sent(&self) {
        self.0.claim_sent.store(true, Ordering::Release);
    }

    /// Whether an in-flight claim may exist unseen: written, its commit never confirmed. The
    /// edge then releases it after a server error rather than leave the key `in use` until the
    /// lock timeout. (A record inserted with its answer needs nothing: committed, it answers.)
    pub fn claim_maybe_committed(&self) -> bool {
        self.0.claim_sent.load(Ordering::Acquire) && self.needs_claim()
    }

    /// The claim inserted in the flow's transaction is committed.
    pub fn claimed(&self) {
        self.set(Progress::Claimed);
    }

    /// The claim found the key taken: the edge answers from the key's record.
    pub fn mark_lost(&self) {
        self.set(Progress::Lost);
    }

    /// The transaction that stored `answer` (or released the key) is committed.
    pub fn settled(&self, answer: Answer) {
        self.set(Progress::Settled(answer));
    }
}
