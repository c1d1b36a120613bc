//! A simulated PSP, mounted at `/sandbox-psp/v1` (it could run on its own: it shares nothing
//! with Cassa but the database pool and reads nothing of Cassa's tables).
//!
//! It behaves like a remote card processor: accounts are API keys (`sbx_…`), it keeps its own
//! ledger, honours `Idempotency-Key` per account, adds configurable latency, and picks outcomes
//! by test payment method:
//!
//! | payment method | outcome |
//! |---|---|
//! | `pm_card_visa` | authorized |
//! | `pm_card_declined` | 402 `card_declined` |
//! | `pm_card_insufficient_funds` | 402 `insufficient_funds` |
//! | `pm_card_processing_error` | 500 `processing_error` (nothing recorded; retry-safe) |
//! | `pm_card_timeout` | authorized, but the answer comes after the timeout delay |
//! | `pm_card_async` | 202 `pending` (settled later) |
//!
//! Commits are what limits it under load, so a request is one write transaction: claim the
//! idempotency key, write the ledger (`RETURNING` the row), store the answer, commit. Only
//! `pm_card_timeout` commits its claim first, so a retry during the delay sees it in flight.

use axum::{
    Json, Router,
    extract::{FromRequestParts, Path, State},
    http::{HeaderMap, StatusCode, request::Parts},
    response::{IntoResponse, Response},
    routing::{get, post},
};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::{on_db, state::AppState, store::StoreError};

/// Routes of the simulated PSP (nested under `/sandbox-psp`).
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/payments", post(create_payment))
        .route("/v1/payments/{id}", get(get_payment))
        .route("/v1/payments/{id}/capture", post(capture))
        .route("/v1/payments/{id}/void", post(void))
        .route("/v1/payments/{id}/refunds", post(refund))
        .route(
            "/v1/webhook_endpoint",
            axum::routing::put(super::psp_webhooks::put_endpoint),
        )
}

/// A PSP error: its own shape (`{"error": {"code", "message"}}`), like a real provider's.
#[derive(Debug, Clone)]
pub struct PspError {
    status: StatusCode,
    code: &'static str,
    message: String,
}

impl PspError {
    /// An error with status, code and message.
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
        }
    }
}

impl From<StoreError> for PspError {
    fn from(err: StoreError) -> Self {
        tracing::error!(error = %err, "sandbox PSP storage failed");
        PspError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "api_error",
            "internal error",
        )
    }
}

impl From<sqlx::Error> for PspError {
    fn from(err: sqlx::Error) -> Self {
        StoreError::from(err).into()
    }
}

impl PspError {
    fn conflict(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, code, message)
    }

    fn unprocessable(code: &'static str, message: &'static str) -> Self {
        Self::new(StatusCode::UNPROCESSABLE_ENTITY, code, message)
    }

    fn body(&self) -> Value {
        json!({"error": {"code": self.code, "message": self.message}})
    }
}

impl IntoResponse for PspError {
    fn into_response(self) -> Response {
        (self.status, Json(self.body())).into_response()
    }
}

/// The calling account: SHA-256 of its `sbx_` API key.
pub struct Account(String);

impl Account {
    /// The account's id.
    pub fn id(&self) -> &str {
        &self.0
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Account {
    type Rejection = PspError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, PspError> {
        let key = parts
            .headers
            .get(axum::http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .filter(|k| k.starts_with("sbx_") && k.len() >= 16)
            .ok_or_else(|| {
                PspError::new(
                    StatusCode::UNAUTHORIZED,
                    "authentication_failed",
                    "invalid API key",
                )
            })?;
        let digest = Sha256::digest(key.as_bytes());
        Ok(Account(digest.iter().map(|b| format!("{b:02x}")).collect()))
    }
}

/// A payment as the PSP reports it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct PspPayment {
    /// PSP payment id (`psp_pay_…`).
    pub id: String,
    /// `pending`, `authorized`, `captured`, `voided` or `failed`.
    pub status: String,
    /// Authorized amount, minor units.
    pub amount: i64,
    /// ISO 4217.
    pub currency: String,
    /// Captured so far.
    pub captured_amount: i64,
    /// Refunded so far.
    pub refunded_amount: i64,
    /// Test payment method.
    pub payment_method: String,
    /// Why it failed.
    pub failure_code: Option<String>,
    /// Creation time.
    pub created_at: DateTime<Utc>,
}

/// The columns of a [`Row`], for `SELECT` and `RETURNING`.
macro_rules! columns {
    () => {
        "id, status, amount, currency, captured, refunded, payment_method, failure_code, created_at"
    };
}

const FIND_PAYMENT: &str = concat!(
    "SELECT ",
    columns!(),
    " FROM sandbox_psp_payments WHERE id = $1 AND account = $2"
);

type Row = (
    String,
    String,
    i64,
    String,
    i64,
    i64,
    String,
    Option<String>,
    DateTime<Utc>,
);

fn payment(row: Row) -> PspPayment {
    PspPayment {
        id: row.0,
        status: row.1,
        amount: row.2,
        currency: row.3,
        captured_amount: row.4,
        refunded_amount: row.5,
        payment_method: row.6,
        failure_code: row.7,
        created_at: row.8,
    }
}

fn not_found() -> PspError {
    PspError::new(StatusCode::NOT_FOUND, "resource_missing", "no such payment")
}

async fn find(state: &AppState, account: &str, id: &str) -> Result<PspPayment, PspError> {
    let row: Option<Row> = on_db!(&state.db, pool => sqlx::query_as(FIND_PAYMENT).bind(id).bind(account).fetch_optional(pool).await)?;
    row.map(payment).ok_or_else(not_found)
}

/// Seconds after which an unfinished idempotency claim is presumed dead.
const STALE_CLAIM_SECS: i64 = 60;

/// The caller's `Idempotency-Key`, with the hash of the request it came with.
struct Key {
    key: String,
    hash: String,
}

/// A key's record: request hash, response status (0 while in flight), body, claim time.
type Record = (String, i32, String, DateTime<Utc>);

/// The answer a key's record gives to another request with that key (`None`: no record).
fn replay(record: Option<Record>, hash: &str) -> Response {
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
enum Op {
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
    /// `pm_card_timeout`: the processor works `sandbox_psp_timeout_delay` before it answers.
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
struct NewPayment {
    body: CreatePayment,
    status: &'static str,
    failure: Option<&'static str>,
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
enum Change {
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
                "UPDATE sandbox_psp_payments SET captured = captured + COALESCE($4, amount - captured), \
                 status = 'captured', updated_at = $3 WHERE id = $1 AND account = $2 \
                 AND status IN ('authorized', 'captured') AND COALESCE($4, amount - captured) > 0 \
                 AND captured + COALESCE($4, amount - captured) <= amount RETURNING ",
                columns!()
            ),
            // `$4` is 0 (see `void`): only a payment with nothing captured can be voided.
            Change::Void => concat!(
                "UPDATE sandbox_psp_payments SET status = 'voided', updated_at = $3 \
                 WHERE id = $1 AND account = $2 AND status IN ('authorized', 'pending') \
                 AND captured = $4 RETURNING ",
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
            Change::Capture if amount.unwrap_or(p.amount - p.captured_amount) <= 0 => {
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
type Reply = Result<(StatusCode, PspPayment), PspError>;

fn status_and_body(reply: &Reply) -> (StatusCode, Value) {
    match reply {
        Ok((status, p)) => (*status, to_value(p)),
        Err(err) => (err.status, err.body()),
    }
}

/// Where a [`transact`] ended.
enum Step {
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

/// One write transaction: claims the key (unless `held`, committed earlier at that time), runs
/// `op` (none: just commit the claim), stores the answer in the key's row, commits.
///
/// A concurrent request with the same key waits at the claim, on the key's row (PostgreSQL) or
/// the writer lock (SQLite), then finds the first one's record. A 5xx rolls back, so the key can
/// be retried.
async fn transact(
    state: &AppState,
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
    const CREATE: &str = concat!(
        "INSERT INTO sandbox_psp_payments (id, account, amount, currency, payment_method, status, \
         failure_code, created_at, updated_at, reference) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8, $9) RETURNING ",
        columns!()
    );
    let now = Utc::now();
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
async fn execute(
    state: &AppState,
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
        tokio::time::sleep(state.config.sandbox_psp_timeout_delay).await;
    }
    let step = transact(state, account, key, held, Some(op)).await?;
    // Only after the commit: a webhook must never announce a rolled-back write.
    if let (Step::Done(Ok((_, p))), Some((event, reference))) = (&step, op.event()) {
        super::psp_webhooks::emit(state, account, event, p, reference);
    }
    Ok(step.into_response())
}

async fn latency(state: &AppState) {
    let delay = state.config.sandbox_psp_latency;
    if !delay.is_zero() {
        tokio::time::sleep(delay).await;
    }
}

/// Runs `op` for the caller after the simulated network latency.
///
/// The work runs in its own task: like a real processor, the PSP finishes (and records the
/// outcome for the key) even when the caller has hung up.
async fn run(
    state: &AppState,
    account: Account,
    headers: &HeaderMap,
    request: &Value,
    op: Op,
) -> Response {
    latency(state).await;
    let key = headers.get("idempotency-key").and_then(|v| v.to_str().ok());
    let key = key.map(|key| Key {
        key: key.to_owned(),
        hash: format!("{:x}", Sha256::digest(request.to_string().as_bytes())),
    });
    let state = state.clone();
    let work = tokio::spawn(async move { execute(&state, &account.0, key.as_ref(), &op).await });
    match work.await {
        Ok(Ok(response)) => response,
        Ok(Err(err)) => err.into_response(),
        Err(_) => PspError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "api_error",
            "internal error",
        )
        .into_response(),
    }
}

/// `POST /v1/payments`.
#[derive(Debug, Deserialize, Serialize)]
struct CreatePayment {
    amount: i64,
    currency: String,
    payment_method: String,
    /// The caller's reference, echoed in webhooks.
    #[serde(default)]
    reference: Option<String>,
}

fn to_value(p: &PspPayment) -> Value {
    serde_json::to_value(p).unwrap_or(Value::Null)
}

/// Decides a new payment's outcome from its test payment method.
fn create_op(body: CreatePayment) -> Op {
    if body.amount <= 0 || body.currency.len() != 3 {
        return Op::Reject(PspError::unprocessable(
            "invalid_request",
            "amount must be positive and currency ISO 4217",
        ));
    }
    let (status, failure) = match body.payment_method.as_str() {
        "pm_card_visa" | "pm_card_timeout" => ("authorized", None),
        "pm_card_declined" => ("failed", Some("card_declined")),
        "pm_card_insufficient_funds" => ("failed", Some("insufficient_funds")),
        "pm_card_async" => ("pending", None),
        "pm_card_processing_error" => {
            return Op::Reject(PspError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "processing_error",
                "the processor failed; retry",
            ));
        }
        _ => {
            return Op::Reject(PspError::unprocessable(
                "invalid_payment_method",
                "unknown test payment method",
            ));
        }
    };
    Op::Create(NewPayment {
        body,
        status,
        failure,
    })
}

async fn create_payment(
    State(state): State<AppState>,
    account: Account,
    headers: HeaderMap,
    Json(body): Json<CreatePayment>,
) -> Response {
    let request = serde_json::to_value(&body).unwrap_or(Value::Null);
    run(&state, account, &headers, &request, create_op(body)).await
}

async fn get_payment(
    State(state): State<AppState>,
    account: Account,
    Path(id): Path<String>,
) -> Response {
    latency(&state).await;
    match find(&state, &account.0, &id).await {
        Ok(p) => Json(to_value(&p)).into_response(),
        Err(e) => e.into_response(),
    }
}

#[derive(Debug, Default, Deserialize, Serialize)]
struct AmountBody {
    amount: Option<i64>,
    /// The caller's reference of this operation, echoed in webhooks.
    #[serde(default)]
    reference: Option<String>,
}

async fn capture(
    State(state): State<AppState>,
    account: Account,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Option<Json<AmountBody>>,
) -> Response {
    let body = body.map(|Json(b)| b).unwrap_or_default();
    let request = json!({"op": "capture", "id": id, "amount": body.amount});
    let op = Op::Update {
        id,
        change: Change::Capture,
        amount: body.amount,
    };
    run(&state, account, &headers, &request, op).await
}

async fn void(
    State(state): State<AppState>,
    account: Account,
    headers: HeaderMap,
    Path(id): Path<String>,
    // Accepted for symmetry with the other operations; a void sends no webhook.
    _body: Option<Json<AmountBody>>,
) -> Response {
    let request = json!({"op": "void", "id": id});
    let op = Op::Update {
        id,
        change: Change::Void,
        amount: Some(0),
    };
    run(&state, account, &headers, &request, op).await
}

async fn refund(
    State(state): State<AppState>,
    account: Account,
    headers: HeaderMap,
    Path(id): Path<String>,
    Json(body): Json<AmountBody>,
) -> Response {
    let request = json!({"op": "refund", "id": id, "amount": body.amount});
    let op = match body.amount.filter(|a| *a > 0) {
        Some(amount) => Op::Update {
            id,
            change: Change::Refund {
                reference: body.reference,
            },
            amount: Some(amount),
        },
        None => Op::Reject(PspError::unprocessable(
            "invalid_amount",
            "amount must be positive",
        )),
    };
    run(&state, account, &headers, &request, op).await
}

/// Test hook and settlement entry point: moves a pending (async) payment to authorized or failed.
pub async fn settle(state: &AppState, id: &str, approve: bool) -> Result<bool, StoreError> {
    const SQL: &str = "UPDATE sandbox_psp_payments SET status = $2, failure_code = $3, updated_at = $4 \
                       WHERE id = $1 AND status = 'pending' RETURNING account, reference";
    let (status, failure, event) = if approve {
        ("authorized", None, "payment.authorized")
    } else {
        ("failed", Some("async_declined"), "payment.failed")
    };
    let row: Option<(String, Option<String>)> = on_db!(&state.db, pool => {
        sqlx::query_as(SQL).bind(id).bind(status).bind(failure).bind(Utc::now()).fetch_optional(pool).await
    })?;
    let Some((account, reference)) = row else {
        return Ok(false);
    };
    if let Ok(payment) = find(state, &account, id).await {
        super::psp_webhooks::emit(state, &account, event, &payment, reference);
    }
    Ok(true)
}
