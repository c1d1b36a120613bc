//! The PSP's one-transaction request path: claim the caller's idempotency key, apply the
//! operation to the ledger, store the answer, commit; or answer from the key's record.

use axum::{
    Json,
    http::StatusCode,
    response::{IntoResponse, Response},
};
use chrono::{DateTime, SubsecRound, Utc};
use serde_json::Value;

use crate::{
    api::{
        CreatePayment, FIND_PAYMENT, PspError, PspPayment, Row, columns, not_found, payment,
        to_value,
    },
    db::{PspDb, on_db},
    state::PspState,
    webhooks,
};

/// Seconds after which an unfinished idempotency claim is presumed dead.
pub(crate) const STALE_CLAIM_SECS: i64 = 60;

/// The caller's `Idempotency-Key`, with the hash of the request it came with.
pub(crate) struct Key {
    pub(crate) key: String,
    pub(crate) hash: String,
}

/// A key's record: request hash, response status (0 while in flight), body, claim time.
pub(crate) type Record = (String, i32, String, DateTime<Utc>);

/// The answer a key's record gives to another request with that key (`None`: no record).
pub(crate) fn replay(record: Option<Record>, hash: &str) -> Response {
    let (status, body) = match record {
        None => {
            return PspError::conflict("idempotency_in_progress", "retry shortly").into_response();
        }
        Some((stored, ..)) if stored != hash => {
            let message = "this idempotency key was used with different parameters";
            return PspError::unprocessable("idempotency_error", message).into_response();
        }
        Some((_, 0, ..)) => {
            let message = "a request with this idempotency key is still being processed";
            return PspError::conflict("idempotency_in_progress", message).into_response();
        }
        Some((_, status, body, _)) => (status, body),
    };
    let status = u16::try_from(status)
        .ok()
        .and_then(|s| StatusCode::from_u16(s).ok())
        .unwrap_or(StatusCode::OK);
    let body: Value = serde_json::from_str(&body).unwrap_or(Value::Null);
    let mut response = (status, Json(body)).into_response();
    response.headers_mut().insert(
        "idempotent-replayed",
        axum::http::HeaderValue::from_static("true"),
    );
    response
}

/// One request's effect on the ledger, as data: [`transact`] runs it in a transaction body that
/// `on_db!` expands once per backend, where a closure generic over the connection cannot go.
pub(crate) enum Op {
    /// Answer without touching the ledger (invalid request, simulated processor failure).
    Reject(PspError),
    /// Record a new payment, its outcome already decided by the test payment method.
    Create(NewPayment),
    /// A compare-and-set on an existing payment; `amount` is bound as `$4`.
    Update {
        id: String,
        change: Change,
        amount: Option<i64>,
    },
}

impl Op {
    /// `pm_card_timeout`: the processor works the state's timeout delay before it answers.
    fn is_slow(&self) -> bool {
        matches!(self, Op::Create(new) if new.body.payment_method == "pm_card_timeout")
    }

    /// The webhook the PSP sends once this operation succeeded and committed.
    fn event(&self) -> Option<(&'static str, Option<String>)> {
        match self {
            // The caller may have given up on the answer: the webhook tells it, as late.
            Op::Create(new) if self.is_slow() => {
                Some(("payment.authorized", new.body.reference.clone()))
            }
            // Refunds settle with the card network later; the PSP confirms by webhook too.
            Op::Update {
                change: Change::Refund { reference },
                ..
            } => Some(("refund.succeeded", reference.clone())),
            _ => None,
        }
    }
}

/// A payment to insert, with its outcome.
pub(crate) struct NewPayment {
    pub(crate) body: CreatePayment,
    pub(crate) status: &'static str,
    pub(crate) failure: Option<&'static str>,
}

impl NewPayment {
    fn result(&self, p: PspPayment) -> Reply {
        match (self.failure, self.status) {
            (Some(code), _) => Err(PspError::new(
                StatusCode::PAYMENT_REQUIRED,
                code,
                format!("payment {} failed: {code}", p.id),
            )),
            (None, "pending") => Ok((StatusCode::ACCEPTED, p)),
            _ => Ok((StatusCode::CREATED, p)),
        }
    }
}

/// Which compare-and-set an [`Op::Update`] makes.
pub(crate) enum Change {
    Capture,
    Void,
    /// With the caller's reference, echoed in the webhook.
    Refund {
        reference: Option<String>,
    },
}

impl Change {
    /// The update (binds: `$1` id, `$2` account, `$3` now, `$4` amount); it returns the row only
    /// when the payment's state allowed the change.
    fn sql(&self) -> &'static str {
        match self {
            // No amount: the rest, computed in SQL so that no read precedes the write.
            Change::Capture => concat!(
                "UPDATE sandbox_psp_payments SET captured = captured + COALESCE($4, amount - released - captured), \
                 status = 'captured', updated_at = $3 WHERE id = $1 AND account = $2 \
                 AND status IN ('authorized', 'captured') AND COALESCE($4, amount - released - captured) > 0 \
                 AND captured + released + COALESCE($4, amount - released - captured) <= amount RETURNING ",
                columns!()
            ),
            // `$4` is 0 (see `void`). Before any capture the payment is voided; after partial
            // captures the uncaptured rest is released and the payment stays captured.
            Change::Void => concat!(
                "UPDATE sandbox_psp_payments SET \
                 status = CASE WHEN captured = $4 THEN 'voided' ELSE status END, \
                 released = amount - captured, updated_at = $3 \
                 WHERE id = $1 AND account = $2 AND (status IN ('authorized', 'pending') \
                 OR (status = 'captured' AND captured + released < amount)) RETURNING ",
                columns!()
            ),
            Change::Refund { .. } => concat!(
                "UPDATE sandbox_psp_payments SET refunded = refunded + $4, updated_at = $3 \
                 WHERE id = $1 AND account = $2 AND status = 'captured' \
                 AND refunded + $4 <= captured RETURNING ",
                columns!()
            ),
        }
    }

    /// Why the update matched nothing, from the payment as it is now (`None`: no such payment).
    fn refusal(&self, current: Option<PspPayment>, amount: Option<i64>) -> PspError {
        let Some(p) = current else {
            return not_found();
        };
        let code = match self {
            Change::Capture
                if amount.unwrap_or(p.amount - p.released_amount - p.captured_amount) <= 0 =>
            {
                return PspError::unprocessable("invalid_amount", "nothing left to capture");
            }
            Change::Capture => "capture_refused",
            Change::Void => "void_refused",
            Change::Refund { .. } => "refund_refused",
        };
        PspError::conflict(code, format!("payment {} is {}", p.id, p.status))
    }
}

/// An operation's answer: the payment it wrote, or why not.
pub(crate) type Reply = Result<(StatusCode, PspPayment), PspError>;

pub(crate) fn status_and_body(reply: &Reply) -> (StatusCode, Value) {
    match reply {
        Ok((status, p)) => (*status, to_value(p)),
        Err(err) => (err.status, err.body()),
    }
}

/// Where a [`transact`] ended.
pub(crate) enum Step {
    /// The key was taken: its record's answer (nothing was done).
    Answered(Response),
    /// The key is ours, claimed at that time and committed (for a slow operation).
    Claimed(Option<DateTime<Utc>>),
    /// The operation ran: committed, with its answer stored, unless a 5xx.
    Done(Reply),
}

impl IntoResponse for Step {
    fn into_response(self) -> Response {
        match self {
            Step::Answered(response) => response,
            // Only a bare claim ends this way: the operation is still in flight.
            Step::Claimed(_) => replay(None, ""),
            Step::Done(reply) => {
                let (status, body) = status_and_body(&reply);
                (status, Json(body)).into_response()
            }
        }
    }
}

const CREATE: &str = concat!(
    "INSERT INTO sandbox_psp_payments (id, account, amount, currency, payment_method, status, \
     failure_code, created_at, updated_at, reference) \
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8, $9) RETURNING ",
    columns!()
);

/// Binds a new payment as [`CREATE`]'s `$1`–`$9` (the first nine of `create_answered`'s
/// single statement too), on either database.
macro_rules! bind_payment {
    ($query:expr, $p:expr, $account:expr, $now:expr) => {
        $query
            .bind(&$p.id)
            .bind($account)
            .bind($p.amount)
            .bind(&$p.currency)
            .bind(&$p.payment_method)
            .bind(&$p.status)
            .bind(&$p.failure_code)
            .bind($now)
            .bind(&$p.reference)
    };
}

/// A new payment under a key that has no record: everything its answer says is known before
/// the write, so the key's record is written answered, beside the payment, and no claim has
/// to be completed afterwards. On PostgreSQL that is one statement, its own transaction (a
/// concurrent request with the key waits on the key's row as at a claim). `None`: the key has
/// a record, and nothing was written.
async fn create_answered(
    state: &PspState,
    account: &str,
    key: &Key,
    new: &NewPayment,
    now: DateTime<Utc>,
) -> Result<Option<Reply>, PspError> {
    const ANSWERED: &str = "INSERT INTO sandbox_psp_requests (account, idempotency_key, \
        request_hash, response_status, response_body, created_at) VALUES ($1, $2, $3, $4, $5, $6) \
        ON CONFLICT (account, idempotency_key) DO NOTHING";
    const BOTH: &str = "WITH claim AS (INSERT INTO sandbox_psp_requests (account, \
        idempotency_key, request_hash, response_status, response_body, created_at) \
        VALUES ($2, $10, $11, $12, $13, $8) ON CONFLICT (account, idempotency_key) DO NOTHING \
        RETURNING 1) \
        INSERT INTO sandbox_psp_payments (id, account, amount, currency, payment_method, status, \
        failure_code, created_at, updated_at, reference) \
        SELECT $1, $2, $3, $4, $5, $6, $7, $8, $8, $9 WHERE EXISTS (SELECT 1 FROM claim)";
    // The answer must say what a later read says: PostgreSQL keeps microseconds, so both
    // databases are given exactly that.
    let now = now.trunc_subsecs(6);
    let b = &new.body;
    let created = PspPayment {
        id: format!("psp_pay_{}", uuid::Uuid::now_v7().simple()),
        status: new.status.to_owned(),
        amount: b.amount,
        currency: b.currency.to_uppercase(),
        captured_amount: 0,
        refunded_amount: 0,
        released_amount: 0,
        payment_method: b.payment_method.clone(),
        failure_code: new.failure.map(str::to_owned),
        created_at: now,
        reference: b.reference.clone(),
    };
    let reply = new.result(created.clone());
    let (status, body) = status_and_body(&reply);
    let (status, body) = (i32::from(status.as_u16()), body.to_string());
    let p = &created;
    let written = match &state.db {
        PspDb::Postgres(pool) => {
            bind_payment!(sqlx::query(BOTH), p, account, now)
                .bind(&key.key)
                .bind(&key.hash)
                .bind(status)
                .bind(&body)
                .execute(pool)
                .await?
                .rows_affected()
                == 1
        }
        PspDb::Sqlite(pool) => {
            let mut tx = pool.begin_with(state.db.begin_write_sql()).await?;
            let claimed = sqlx::query(ANSWERED)
                .bind(account)
                .bind(&key.key)
                .bind(&key.hash)
                .bind(status)
                .bind(&body)
                .bind(now)
                .execute(&mut *tx)
                .await?
                .rows_affected()
                == 1;
            if claimed {
                bind_payment!(sqlx::query(CREATE), p, account, now)
                    .execute(&mut *tx)
                    .await?;
                tx.commit().await?;
            } else {
                tx.rollback().await?;
            }
            claimed
        }
    };
    Ok(written.then_some(reply))
}

/// One write transaction: claims the key (unless `held`, committed earlier at that time), runs
/// `op` (none: just commit the claim), stores the answer in the key's row, commits.
///
/// A concurrent request with the same key waits at the claim, on the key's row (PostgreSQL) or
/// the writer lock (SQLite), then finds the first one's record. A 5xx rolls back, so the key can
/// be retried.
pub(crate) async fn transact(
    state: &PspState,
    account: &str,
    key: Option<&Key>,
    held: Option<DateTime<Utc>>,
    op: Option<&Op>,
) -> Result<Step, PspError> {
    const CLAIM: &str = "INSERT INTO sandbox_psp_requests (account, idempotency_key, request_hash, \
        response_status, response_body, created_at) VALUES ($1, $2, $3, 0, '', $4) \
        ON CONFLICT (account, idempotency_key) DO NOTHING";
    const RECORD: &str = "SELECT request_hash, response_status, response_body, created_at \
        FROM sandbox_psp_requests WHERE account = $1 AND idempotency_key = $2";
    const TAKE: &str = "UPDATE sandbox_psp_requests SET created_at = $3 WHERE account = $1 \
        AND idempotency_key = $2 AND response_status = 0 AND created_at = $4";
    // Guarded by the claim time: a claim taken over as stale is no longer ours to complete.
    const STORE: &str = "UPDATE sandbox_psp_requests SET response_status = $3, response_body = $4 \
        WHERE account = $1 AND idempotency_key = $2 AND response_status = 0 AND created_at = $5";
    let now = state.now();
    if let (Some(k), None, Some(Op::Create(new))) = (key, held, op)
        && let Some(reply) = create_answered(state, account, k, new, now).await?
    {
        return Ok(Step::Done(reply));
    }
    let step = on_db!(&state.db, pool => {
        async {
            let mut tx = pool.begin_with(state.db.begin_write_sql()).await?;
            let claimed_at = match (key, held) {
                (Some(k), None) => {
                    let claimed = sqlx::query(CLAIM).bind(account).bind(&k.key).bind(&k.hash)
                        .bind(now).execute(&mut *tx).await?.rows_affected() == 1;
                    if !claimed {
                        let record: Option<Record> = sqlx::query_as(RECORD).bind(account)
                            .bind(&k.key).fetch_optional(&mut *tx).await?;
                        // A claim nobody finished within a minute belongs to a process that died
                        // mid-call (the work runs detached from the caller): a retry takes it over.
                        let taken = match &record {
                            Some((hash, 0, _, at)) if *hash == k.hash
                                && now - *at >= chrono::Duration::seconds(STALE_CLAIM_SECS) =>
                            {
                                sqlx::query(TAKE).bind(account).bind(&k.key).bind(now).bind(*at)
                                    .execute(&mut *tx).await?.rows_affected() == 1
                            }
                            _ => false,
                        };
                        if !taken {
                            tx.rollback().await?;
                            return Ok(Step::Answered(replay(record, &k.hash)));
                        }
                    }
                    Some(now)
                }
                (_, held) => held,
            };
            let Some(op) = op else {
                tx.commit().await?;
                return Ok(Step::Claimed(claimed_at));
            };
            let reply: Reply = match op {
                Op::Reject(err) => Err(err.clone()),
                Op::Create(new) => {
                    let b = &new.body;
                    let id = format!("psp_pay_{}", uuid::Uuid::now_v7().simple());
                    let row: Row = sqlx::query_as(CREATE).bind(id).bind(account).bind(b.amount)
                        .bind(b.currency.to_uppercase()).bind(&b.payment_method).bind(new.status)
                        .bind(new.failure).bind(now).bind(&b.reference)
                        .fetch_one(&mut *tx).await?;
                    new.result(payment(row))
                }
                Op::Update { id, change, amount, .. } => {
                    let row: Option<Row> = sqlx::query_as(change.sql()).bind(id).bind(account)
                        .bind(now).bind(*amount).fetch_optional(&mut *tx).await?;
                    match row {
                        Some(row) => Ok((StatusCode::OK, payment(row))),
                        None => {
                            // Refused: explain from the row as this transaction sees it.
                            let current: Option<Row> = sqlx::query_as(FIND_PAYMENT).bind(id)
                                .bind(account).fetch_optional(&mut *tx).await?;
                            Err(change.refusal(current.map(payment), *amount))
                        }
                    }
                }
            };
            let (status, body) = status_and_body(&reply);
            if status.is_server_error() {
                tx.rollback().await?;
                return Ok(Step::Done(reply));
            }
            if let (Some(k), Some(at)) = (key, claimed_at) {
                let stored = sqlx::query(STORE).bind(account).bind(&k.key)
                    .bind(i32::from(status.as_u16())).bind(body.to_string())
                    .bind(at).execute(&mut *tx).await?.rows_affected();
                if stored == 0 {
                    // Taken over while the slow work ran: the other attempt answers for the key.
                    tx.rollback().await?;
                    return Ok(Step::Answered(replay(None, &k.hash)));
                }
            }
            tx.commit().await?;
            Ok::<_, sqlx::Error>(Step::Done(reply))
        }
        .await
    })?;
    Ok(step)
}

/// Runs `op` under the caller's key: one transaction, or two for a slow processor, whose claim
/// must be visible while it works so that a retry meanwhile is refused rather than doubled.
pub(crate) async fn execute(
    state: &PspState,
    account: &str,
    key: Option<&Key>,
    op: &Op,
) -> Result<Response, PspError> {
    if let (Op::Reject(err), None) = (op, key) {
        return Ok(err.clone().into_response());
    }
    let mut held = None;
    if op.is_slow() {
        if key.is_some() {
            match transact(state, account, key, None, None).await? {
                Step::Claimed(at) => held = at,
                step => return Ok(step.into_response()),
            }
        }
        tokio::time::sleep(state.timeout_delay).await;
    }
    let step = transact(state, account, key, held, Some(op)).await?;
    // Only after the commit: a webhook must never announce a rolled-back write.
    if let (Step::Done(Ok((_, p))), Some((event, reference))) = (&step, op.event()) {
        webhooks::emit(state, account, event, p, reference);
    }
    Ok(step.into_response())
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::seal::AesGcmSealer;

    /// The one-write path answers a fresh key itself and steps aside (writing nothing) for a
    /// key that has a record, which the claiming path then answers.
    #[tokio::test]
    async fn a_fresh_key_is_answered_by_its_one_write_and_a_used_key_is_left_alone() {
        let db = PspDb::connect("sqlite::memory:", 1).await.expect("db");
        db.ensure_schema().await.expect("schema");
        let sealer =
            AesGcmSealer::parse("AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=").expect("key");
        let state = PspState::new(db, Arc::new(sealer), reqwest::Client::new());
        let key = Key {
            key: "k-1".to_owned(),
            hash: "hash".to_owned(),
        };
        let new = NewPayment {
            body: CreatePayment {
                amount: 500,
                currency: "usd".to_owned(),
                payment_method: "pm_card_visa".to_owned(),
                reference: None,
            },
            status: "authorized",
            failure: None,
        };
        let now = state.now();
        let first = create_answered(&state, "acct", &key, &new, now).await;
        let Ok(Some(Ok((status, created)))) = first else {
            panic!("a fresh key is answered by the one write");
        };
        assert_eq!(
            (status, created.currency.as_str()),
            (StatusCode::CREATED, "USD")
        );
        let again = create_answered(&state, "acct", &key, &new, now).await;
        assert!(
            matches!(again, Ok(None)),
            "a used key is left to the claiming path"
        );
        const PAYMENTS: &str = "SELECT COUNT(*) FROM sandbox_psp_payments";
        const RECORD: &str = "SELECT response_status FROM sandbox_psp_requests";
        let (payments, answered): (i64, i32) = on_db!(&state.db, pool => {
            let payments = sqlx::query_scalar(PAYMENTS).fetch_one(pool).await.expect("count");
            let answered = sqlx::query_scalar(RECORD).fetch_one(pool).await.expect("record");
            (payments, answered)
        });
        assert_eq!((payments, answered), (1, 201));
    }
}
