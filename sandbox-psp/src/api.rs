//! The PSP's HTTP API (`/v1/…`), its error shape and the settlement hook.

use axum::{
    Json, Router,
    extract::{FromRequestParts, Path, State},
    http::{HeaderMap, StatusCode, request::Parts},
    response::{IntoResponse, Response},
    routing::{get, post, put},
};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::{
    Error,
    db::on_db,
    ledger::{Change, Key, NewPayment, Op, execute},
    state::PspState,
    webhooks,
};

/// The PSP's routes (`/v1/…`) with `state` applied, ready to serve or to nest in a host's
/// router of any state type (e.g. at `/sandbox-psp`).
pub fn router<S: Clone + Send + Sync + 'static>(state: PspState) -> Router<S> {
    Router::new()
        .route("/v1/account", get(get_account))
        .route("/v1/payments", post(create_payment).get(list_payments))
        .route("/v1/payments/{id}", get(get_payment))
        .route("/v1/payments/{id}/capture", post(capture))
        .route("/v1/payments/{id}/void", post(void))
        .route("/v1/payments/{id}/refunds", post(refund))
        .route("/v1/webhook_endpoint", put(webhooks::put_endpoint))
        .merge(crate::drift::routes())
        .with_state(state)
}

/// A PSP error: its own shape (`{"error": {"code", "message"}}`), like a real provider's.
#[derive(Debug, Clone)]
pub struct PspError {
    pub(crate) status: StatusCode,
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

    /// The answer to a failure the caller cannot act on; the cause is logged, never sent.
    pub(crate) fn internal() -> Self {
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "api_error",
            "internal error",
        )
    }

    pub(crate) fn conflict(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, code, message)
    }

    pub(crate) fn unprocessable(code: &'static str, message: &'static str) -> Self {
        Self::new(StatusCode::UNPROCESSABLE_ENTITY, code, message)
    }

    pub(crate) fn body(&self) -> Value {
        json!({"error": {"code": self.code, "message": self.message}})
    }
}

impl From<sqlx::Error> for PspError {
    fn from(err: sqlx::Error) -> Self {
        tracing::error!(error = %err, "sandbox PSP storage failed");
        PspError::internal()
    }
}

impl From<Error> for PspError {
    fn from(err: Error) -> Self {
        tracing::error!(error = %err, "sandbox PSP request failed");
        PspError::internal()
    }
}

impl IntoResponse for PspError {
    fn into_response(self) -> Response {
        (self.status, Json(self.body())).into_response()
    }
}

/// The calling account: SHA-256 of its `sbx_` API key.
pub(crate) struct Account(String);

impl Account {
    /// The account's id.
    pub(crate) fn id(&self) -> &str {
        &self.0
    }
}

/// API keys starting with this are an account whose every request is answered `503`.
pub const OUTAGE_ACCOUNT_PREFIX: &str = "sbx_outage_";

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
        // A documented test account that is always down, to rehearse an outage.
        if key.starts_with(OUTAGE_ACCOUNT_PREFIX) {
            return Err(PspError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "service_unavailable",
                "the processor is down; retry later",
            ));
        }
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
    /// The uncaptured rest released by a void after partial captures.
    #[serde(default)]
    pub released_amount: i64,
    /// Test payment method.
    pub payment_method: String,
    /// Why it failed.
    pub failure_code: Option<String>,
    /// Creation time.
    pub created_at: DateTime<Utc>,
    /// The caller's reference of the operation that created it.
    #[serde(default)]
    pub reference: Option<String>,
}

/// The columns of a [`Row`], for `SELECT` and `RETURNING`.
macro_rules! columns {
    () => {
        "id, status, amount, currency, captured, refunded, payment_method, failure_code, created_at, released, reference"
    };
}
pub(crate) use columns;

pub(crate) const FIND_PAYMENT: &str = concat!(
    "SELECT ",
    columns!(),
    " FROM sandbox_psp_payments WHERE id = $1 AND account = $2"
);

pub(crate) type Row = (
    String,
    String,
    i64,
    String,
    i64,
    i64,
    String,
    Option<String>,
    DateTime<Utc>,
    i64,
    Option<String>,
);

pub(crate) fn payment(row: Row) -> PspPayment {
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
        released_amount: row.9,
        reference: row.10,
    }
}

pub(crate) fn not_found() -> PspError {
    PspError::new(StatusCode::NOT_FOUND, "resource_missing", "no such payment")
}

async fn find(state: &PspState, account: &str, id: &str) -> Result<PspPayment, PspError> {
    let row: Option<Row> = on_db!(&state.db, pool => sqlx::query_as(FIND_PAYMENT).bind(id).bind(account).fetch_optional(pool).await)?;
    row.map(payment).ok_or_else(not_found)
}

async fn latency(state: &PspState) {
    if !state.latency.is_zero() {
        tokio::time::sleep(state.latency).await;
    }
}

/// Runs `op` for the caller after the simulated network latency.
///
/// The work runs in its own task: like a real processor, the PSP finishes (and records the
/// outcome for the key) even when the caller has hung up.
async fn run(
    state: &PspState,
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
        // The task panicked or was cancelled: nothing committed that the caller could rely on.
        Err(_) => PspError::internal().into_response(),
    }
}

/// `POST /v1/payments`.
#[derive(Debug, Deserialize, Serialize)]
pub(crate) struct CreatePayment {
    pub(crate) amount: i64,
    pub(crate) currency: String,
    pub(crate) payment_method: String,
    /// The caller's reference, echoed in webhooks.
    #[serde(default)]
    pub(crate) reference: Option<String>,
}

/// A payment as JSON. Serializing plain strings and integers cannot fail; `Null` stands in for
/// the impossible error rather than a panic.
pub(crate) fn to_value(p: &PspPayment) -> Value {
    serde_json::to_value(p).unwrap_or(Value::Null)
}

/// Decides a new payment's outcome from its test payment method.
fn create_op(mut body: CreatePayment) -> Op {
    if body.amount <= 0 || body.currency.len() != 3 {
        return Op::Reject(PspError::unprocessable(
            "invalid_request",
            "amount must be positive and currency ISO 4217",
        ));
    }
    // Like card networks, the PSP writes ISK in two-decimal units but charges whole krónur.
    if body.currency.eq_ignore_ascii_case("ISK") && body.amount % 100 != 0 {
        return Op::Reject(PspError::unprocessable(
            "invalid_amount",
            "ISK amounts are in two-decimal units and must be whole krónur (a multiple of 100)",
        ));
    }
    let (status, failure) = match body.payment_method.as_str() {
        "pm_card_visa" | "pm_card_timeout" => ("authorized", None),
        "pm_card_declined" => ("failed", Some("card_declined")),
        "pm_card_insufficient_funds" => ("failed", Some("insufficient_funds")),
        "pm_card_async" => ("pending", None),
        // Some issuers approve less than asked; the caller must not treat that as paid.
        "pm_card_partial_authorization" => {
            body.amount = (body.amount / 2).max(1);
            ("authorized", None)
        }
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
    State(state): State<PspState>,
    account: Account,
    headers: HeaderMap,
    Json(body): Json<CreatePayment>,
) -> Response {
    // The request as hashed for its idempotency key; see `to_value` for the fallback.
    let request = serde_json::to_value(&body).unwrap_or(Value::Null);
    run(&state, account, &headers, &request, create_op(body)).await
}

/// `GET /v1/account`: the account the API key is, so a caller can prove its key works without
/// moving money. Every well-formed key is an account of this simulated processor, in the US.
async fn get_account(State(state): State<PspState>, account: Account) -> Response {
    latency(&state).await;
    Json(json!({
        "object": "account",
        "id": format!("acct_sbx_{}", account.id().chars().take(24).collect::<String>()),
        "name": "Sandbox PSP test account",
        "country": "US",
        "default_currency": "usd",
        "charges_enabled": true,
    }))
    .into_response()
}

async fn get_payment(
    State(state): State<PspState>,
    account: Account,
    Path(id): Path<String>,
) -> Response {
    latency(&state).await;
    match find(&state, &account.0, &id).await {
        Ok(p) => Json(to_value(&p)).into_response(),
        Err(e) => e.into_response(),
    }
}

/// `GET /v1/payments`: the account's payments created in `[created_gte, created_lt)`, by id,
/// a page after `starting_after` (a settlement report, page by page).
#[derive(Debug, Deserialize)]
struct ListQuery {
    created_gte: DateTime<Utc>,
    created_lt: DateTime<Utc>,
    starting_after: Option<String>,
    limit: Option<i64>,
}

const MAX_PAGE: i64 = 100;

async fn list_payments(
    State(state): State<PspState>,
    account: Account,
    axum::extract::Query(q): axum::extract::Query<ListQuery>,
) -> Response {
    latency(&state).await;
    const SQL: &str = concat!(
        "SELECT ",
        columns!(),
        " FROM sandbox_psp_payments WHERE account = $1 AND created_at >= $2 AND created_at < $3 \
         AND id > $4 ORDER BY id LIMIT $5"
    );
    let limit = q.limit.unwrap_or(MAX_PAGE).clamp(1, MAX_PAGE);
    let after = q.starting_after.unwrap_or_default();
    // One more than the page tells whether another follows.
    let rows: Result<Vec<Row>, sqlx::Error> = on_db!(&state.db, pool => sqlx::query_as(SQL)
        .bind(account.id()).bind(q.created_gte).bind(q.created_lt).bind(&after).bind(limit + 1)
        .fetch_all(pool).await);
    match rows {
        Ok(mut rows) => {
            let has_more = rows.len() as i64 > limit;
            rows.truncate(limit as usize);
            let data: Vec<Value> = rows.into_iter().map(|r| to_value(&payment(r))).collect();
            Json(json!({"data": data, "has_more": has_more})).into_response()
        }
        Err(err) => PspError::from(err).into_response(),
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
    State(state): State<PspState>,
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
    State(state): State<PspState>,
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
    State(state): State<PspState>,
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

/// Settles a pending (asynchronous) payment: authorized when `approve`, else failed
/// (`async_declined`), and tells the account by webhook. Returns whether a pending payment with
/// that id existed. The PSP's "card network" calls this; tests call it directly.
pub async fn settle(state: &PspState, id: &str, approve: bool) -> Result<bool, Error> {
    const SQL: &str = "UPDATE sandbox_psp_payments SET status = $2, failure_code = $3, updated_at = $4 \
                       WHERE id = $1 AND status = 'pending' RETURNING account, reference";
    let (status, failure, event) = if approve {
        ("authorized", None, "payment.authorized")
    } else {
        ("failed", Some("async_declined"), "payment.failed")
    };
    let now = state.now();
    let row: Option<(String, Option<String>)> = on_db!(&state.db, pool => {
        sqlx::query_as(SQL).bind(id).bind(status).bind(failure).bind(now).fetch_optional(pool).await
    })?;
    let Some((account, reference)) = row else {
        return Ok(false);
    };
    if let Ok(payment) = find(state, &account, id).await {
        webhooks::emit(state, &account, event, &payment, reference);
    }
    Ok(true)
}
