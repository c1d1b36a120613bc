//! The key's life outside a flow's own transactions: look up or claim, store the answer,
//! release after a server error.

use chrono::{DateTime, Duration, Utc};

use super::{
    Answer, Error, KeyedRequest, LOCK_TIMEOUT_SECS,
    repo::{self, Status, StoredAnswer},
    seal,
};
use crate::{
    credentials::KeyRing,
    db::{Db, DbError},
};

/// A stored answer given again.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Replay {
    /// The answer as first sent (opened if it was stored sealed).
    pub answer: Answer,
    /// The answer reveals a secret (it was stored sealed).
    pub secret: bool,
}

/// Where a request stands with its key.
#[derive(Debug)]
pub enum Acquired {
    /// This request holds the committed in-flight claim.
    Owner,
    /// No record: the flow claims in its own transaction.
    Free,
    /// The key's first request finished: answer with this.
    Replay(Replay),
}

/// Looks the key up and, with `claim`, claims it first. Without `claim` nothing is written
/// unless a dead request's lock has to be taken over or an expired record removed.
pub async fn acquire(
    db: &Db,
    ring: &KeyRing,
    now: impl Fn() -> DateTime<Utc>,
    request: &KeyedRequest,
    claim: bool,
) -> Result<Acquired, Error> {
    // A few rounds cover the races: a record deleted or expired between our reads.
    for _ in 0..3 {
        let now = now();
        if claim && repo::claim(db, &request.new_record(now)).await? {
            return Ok(Acquired::Owner);
        }
        let Some(record) = repo::find(db, request.id()).await? else {
            if claim {
                continue;
            }
            return Ok(Acquired::Free);
        };
        if record.expires_at <= now {
            repo::forget(db, request.id()).await?;
            continue;
        }
        if record.request_hash != request.fingerprint.as_bytes() {
            return Err(Error::Reused);
        }
        match record.status {
            Status::Completed => {
                return Ok(Acquired::Replay(replay(db, ring, request, record).await?));
            }
            Status::InFlight if now - record.locked_at >= Duration::seconds(LOCK_TIMEOUT_SECS) => {
                if repo::take_over(db, request.claim(), record.locked_at, now).await? {
                    tracing::warn!("taking over a stale idempotency lock");
                    return Ok(Acquired::Owner);
                }
                return Err(Error::InUse);
            }
            Status::InFlight => return Err(Error::InUse),
        }
    }
    Err(Error::InUse)
}

async fn replay(
    db: &Db,
    ring: &KeyRing,
    request: &KeyedRequest,
    record: repo::Record,
) -> Result<Replay, Error> {
    let body = record.response_body.unwrap_or_default();
    let (body, secret) = match record.response_key_version {
        Some(version) => {
            let opened = seal::open(db, ring, &request.scope, &request.key, version, &body).await?;
            (opened, true)
        }
        None => (body, false),
    };
    Ok(Replay {
        answer: Answer {
            // A completed record always has a code; 200 only guards a hand-edited row.
            status: record
                .response_code
                .and_then(|c| u16::try_from(c).ok())
                .unwrap_or(200),
            content_type: record.response_type,
            body,
            keep: false,
        },
        secret,
    })
}

/// The body to store for an answer: sealed (with the key version) when it reveals a secret.
async fn sealed_if_secret(
    db: &Db,
    ring: &KeyRing,
    request: &KeyedRequest,
    answer: &Answer,
    secret: bool,
) -> Result<(Option<i32>, Vec<u8>), Error> {
    if !secret {
        return Ok((None, answer.body.clone()));
    }
    let (version, sealed) =
        seal::seal(db, ring, &request.scope, &request.key, &answer.body).await?;
    Ok((Some(version), sealed))
}

/// Stores the answer on the claimed record; `false` when the record is no longer this
/// request's in-flight claim: another request took the stale lock over (its answer stands,
/// or it still runs), or a repeated attempt found its own first one committed.
pub async fn complete(
    db: &Db,
    ring: &KeyRing,
    request: &KeyedRequest,
    answer: &Answer,
    secret: bool,
) -> Result<bool, Error> {
    let (key_version, body) = sealed_if_secret(db, ring, request, answer, secret).await?;
    let stored = StoredAnswer {
        answer,
        body: &body,
        key_version,
    };
    // An effect already happened: its answer not stored would leave the key `in use` until the
    // lock timeout, so a database in failover is waited for.
    Ok(patiently(|| repo::complete(db, request.claim(), stored)).await?)
}

/// Inserts the record already completed with `answer`; `false` when another request has the
/// key (then answer from its record).
pub async fn insert_completed(
    db: &Db,
    ring: &KeyRing,
    now: DateTime<Utc>,
    request: &KeyedRequest,
    answer: &Answer,
    secret: bool,
) -> Result<bool, Error> {
    let (key_version, body) = sealed_if_secret(db, ring, request, answer, secret).await?;
    let stored = StoredAnswer {
        answer,
        body: &body,
        key_version,
    };
    Ok(repo::insert_completed(db, &request.new_record(now), stored).await?)
}

/// How long storing an answer or releasing a key keeps trying while the database is
/// unreachable or busy, and how long one attempt may take: a pool waiting on a dead primary
/// would otherwise spend the whole patience on one acquire, and a failover takes a few seconds.
const PATIENCE: std::time::Duration = std::time::Duration::from_secs(8);
const ATTEMPT: std::time::Duration = std::time::Duration::from_secs(2);

/// Runs `write` again while the database is unreachable or busy, for up to [`PATIENCE`], in
/// which a failover usually completes. Only for writes that are safe to repeat: both are guarded
/// by the owner token, so a second run after a first that committed unseen (or was cut off by
/// [`ATTEMPT`]) changes nothing.
async fn patiently<T, F, Fut>(mut write: F) -> Result<T, DbError>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, DbError>>,
{
    let started = std::time::Instant::now();
    let mut pause = std::time::Duration::from_millis(100);
    loop {
        let attempt = match tokio::time::timeout(ATTEMPT, write()).await {
            Ok(done) => done,
            Err(_) => Err(DbError::Unavailable(sqlx::Error::PoolTimedOut)),
        };
        match attempt {
            Err(DbError::Unavailable(_) | DbError::Busy(_))
                if started.elapsed() + pause < PATIENCE =>
            {
                tokio::time::sleep(pause).await;
                pause = (pause * 2).min(std::time::Duration::from_secs(1));
            }
            done => return done,
        }
    }
}

/// Forgets the record (after a 5xx) so the key can be used again; a completed one, or one
/// another request has taken over, stays.
///
/// The 5xx is often the database going away (a failover), and a record left in flight keeps
/// every retry at `409` until the lock timeout: so the release is tried [`patiently`].
pub async fn release(db: &Db, request: &KeyedRequest) -> Result<(), Error> {
    Ok(patiently(|| repo::release(db, request.claim())).await?)
}
