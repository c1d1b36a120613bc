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
#[derive(Debug)]
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

impl IntoResponse for PspError {
    fn into_response(self) -> Response {
        (
            self.status,
            Json(json!({"error": {"code": self.code, "message": self.message}})),
        )
            .into_response()
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

async fn find(state: &AppState, account: &str, id: &str) -> Result<PspPayment, PspError> {
    const SQL: &str = "SELECT id, status, amount, currency, captured, refunded, payment_method, \
                       failure_code, created_at FROM sandbox_psp_payments WHERE id = $1 AND account = $2";
    let row: Option<Row> = on_db!(&state.db, pool => sqlx::query_as(SQL).bind(id).bind(account).fetch_optional(pool).await)?;
    row.map(payment)
        .ok_or_else(|| PspError::new(StatusCode::NOT_FOUND, "resource_missing", "no such payment"))
}

/// Seconds after which an unfinished idempotency claim is presumed dead.
const STALE_CLAIM_SECS: i64 = 60;

/// What the idempotency record says about a request.
enum Claim {
    /// No key: just run.
    NoKey,
    /// We own the key now: run, then complete or release.
    Owner(String),
    /// Answer with this (a replay, or an error).
    Answer(Response),
}

/// Claims the caller's idempotency key before doing anything, so a retry while the first call
/// still runs (a timed-out caller retrying) can never act twice.
async fn claim(
    state: &AppState,
    account: &str,
    headers: &HeaderMap,
    body: &Value,
) -> Result<Claim, PspError> {
    let Some(key) = headers.get("idempotency-key").and_then(|v| v.to_str().ok()) else {
        return Ok(Claim::NoKey);
    };
    let hash = format!("{:x}", Sha256::digest(body.to_string().as_bytes()));
    const CLAIM: &str = "INSERT INTO sandbox_psp_requests (account, idempotency_key, request_hash, \
        response_status, response_body, created_at) VALUES ($1, $2, $3, 0, '', $4) \
        ON CONFLICT (account, idempotency_key) DO NOTHING";
    let claimed = on_db!(&state.db, pool => {
        sqlx::query(CLAIM).bind(account).bind(key).bind(&hash).bind(Utc::now())
            .execute(pool).await.map(|r| r.rows_affected())
    })?;
    if claimed == 1 {
        return Ok(Claim::Owner(key.to_owned()));
    }
    const FIND: &str = "SELECT request_hash, response_status, response_body, created_at \
                        FROM sandbox_psp_requests WHERE account = $1 AND idempotency_key = $2";
    let row: Option<(String, i32, String, DateTime<Utc>)> = on_db!(&state.db, pool => sqlx::query_as(FIND).bind(account).bind(key).fetch_optional(pool).await)?;
    // A claim nobody finished within a minute belongs to a process that died mid-call (the work
    // itself runs detached from the caller): the next retry takes it over.
    if let Some((stored, 0, _, claimed_at)) = &row
        && *stored == hash
        && Utc::now() - *claimed_at >= chrono::Duration::seconds(STALE_CLAIM_SECS)
    {
        const TAKE: &str = "UPDATE sandbox_psp_requests SET created_at = $3 WHERE account = $1 \
            AND idempotency_key = $2 AND response_status = 0 AND created_at = $4";
        let taken = on_db!(&state.db, pool => {
            sqlx::query(TAKE).bind(account).bind(key).bind(Utc::now()).bind(*claimed_at)
                .execute(pool).await.map(|r| r.rows_affected())
        })?;
        if taken == 1 {
            return Ok(Claim::Owner(key.to_owned()));
        }
    }
    let answer = match row.map(|(h, st, b, _)| (h, st, b)) {
        None => PspError::new(
            StatusCode::CONFLICT,
            "idempotency_in_progress",
            "retry shortly",
        )
        .into_response(),
        Some((stored, _, _)) if stored != hash => PspError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "idempotency_error",
            "this idempotency key was used with different parameters",
        )
        .into_response(),
        Some((_, 0, _)) => PspError::new(
            StatusCode::CONFLICT,
            "idempotency_in_progress",
            "a request with this idempotency key is still being processed",
        )
        .into_response(),
        Some((_, status, body)) => {
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
    };
    Ok(Claim::Answer(answer))
}

/// Stores the outcome for the key, or forgets the key after a 5xx so it may be retried.
async fn finish(
    state: &AppState,
    account: &str,
    key: &str,
    status: StatusCode,
    response: &Value,
) -> Result<(), PspError> {
    if status.is_server_error() {
        const RELEASE: &str =
            "DELETE FROM sandbox_psp_requests WHERE account = $1 AND idempotency_key = $2";
        on_db!(&state.db, pool => sqlx::query(RELEASE).bind(account).bind(key).execute(pool).await.map(|r| r.rows_affected()))?;
        return Ok(());
    }
    const SQL: &str = "UPDATE sandbox_psp_requests SET response_status = $3, response_body = $4 \
        WHERE account = $1 AND idempotency_key = $2";
    on_db!(&state.db, pool => {
        sqlx::query(SQL).bind(account).bind(key).bind(i32::from(status.as_u16()))
            .bind(response.to_string()).execute(pool).await.map(|r| r.rows_affected())
    })?;
    Ok(())
}

async fn latency(state: &AppState) {
    let delay = state.config.sandbox_psp_latency;
    if !delay.is_zero() {
        tokio::time::sleep(delay).await;
    }
}

/// Runs an operation under the idempotency key: replay, or execute and remember.
///
/// The work runs in its own task: like a real processor, the PSP finishes (and records the
/// outcome for the key) even when the caller has hung up.
async fn idempotent<F, Fut>(
    state: &AppState,
    account: &Account,
    headers: &HeaderMap,
    body: Value,
    op: F,
) -> Response
where
    F: FnOnce() -> Fut + Send + 'static,
    Fut: std::future::Future<Output = Result<(StatusCode, Value), PspError>> + Send + 'static,
{
    latency(state).await;
    let owned = match claim(state, &account.0, headers, &body).await {
        Ok(Claim::Answer(response)) => return response,
        Ok(Claim::NoKey) => None,
        Ok(Claim::Owner(key)) => Some(key),
        Err(err) => return err.into_response(),
    };
    let state = state.clone();
    let account = account.0.clone();
    let work = tokio::spawn(async move {
        let (status, value) = match op().await {
            Ok(ok) => ok,
            Err(err) => {
                let value = json!({"error": {"code": err.code, "message": err.message}});
                (err.status, value)
            }
        };
        if let Some(key) = owned {
            finish(&state, &account, &key, status, &value).await?;
        }
        Ok::<_, PspError>((status, value))
    });
    match work.await {
        Ok(Ok((status, value))) => (status, Json(value)).into_response(),
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

async fn create_payment(
    State(state): State<AppState>,
    account: Account,
    headers: HeaderMap,
    Json(body): Json<CreatePayment>,
) -> Response {
    let raw = serde_json::to_value(&body).unwrap_or(Value::Null);
    let st = state.clone();
    let acct = account.0.clone();
    idempotent(&state, &account, &headers, raw, move || async move {
        if body.amount <= 0 || body.currency.len() != 3 {
            return Err(PspError::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid_request", "amount must be positive and currency ISO 4217"));
        }
        let (status, failure, http) = match body.payment_method.as_str() {
            "pm_card_visa" | "pm_card_timeout" => ("authorized", None, StatusCode::CREATED),
            "pm_card_declined" => ("failed", Some("card_declined"), StatusCode::PAYMENT_REQUIRED),
            "pm_card_insufficient_funds" => ("failed", Some("insufficient_funds"), StatusCode::PAYMENT_REQUIRED),
            "pm_card_async" => ("pending", None, StatusCode::ACCEPTED),
            "pm_card_processing_error" => {
                return Err(PspError::new(StatusCode::INTERNAL_SERVER_ERROR, "processing_error", "the processor failed; retry"));
            }
            _ => return Err(PspError::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid_payment_method", "unknown test payment method")),
        };
        let now = Utc::now();
        let id = format!("psp_pay_{}", uuid::Uuid::now_v7().simple());
        const SQL: &str = "INSERT INTO sandbox_psp_payments (id, account, amount, currency, payment_method, \
            status, failure_code, created_at, updated_at, reference) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8, $9)";
        on_db!(&st.db, pool => {
            sqlx::query(SQL).bind(&id).bind(&acct).bind(body.amount).bind(body.currency.to_uppercase())
                .bind(&body.payment_method).bind(status).bind(failure).bind(now).bind(&body.reference)
                .execute(pool).await.map(|r| r.rows_affected())
        })?;
        let payment = find(&st, &acct, &id).await?;
        if body.payment_method == "pm_card_timeout" {
            // Processed, but the answer arrives after the caller gave up: outcome unknown to it.
            // The webhook goes out when the work completes, as late as the answer.
            tokio::time::sleep(st.config.sandbox_psp_timeout_delay).await;
            super::psp_webhooks::emit(&st, &acct, "payment.authorized", &payment, body.reference.clone());
        }
        match failure {
            Some(code) => Err(PspError::new(http, code, format!("payment {id} failed: {code}"))),
            None => Ok((http, to_value(&payment))),
        }
    })
    .await
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

/// Applies a compare-and-set update (binds: `$1` id, `$2` account, `$3` now, `$4` amount); when
/// nothing matched, explains why from the current row.
async fn apply(
    state: &AppState,
    account: &str,
    id: &str,
    sql: &str,
    amount: i64,
    refused: &'static str,
) -> Result<PspPayment, PspError> {
    let current = find(state, account, id).await?;
    let updated = on_db!(&state.db, pool => {
        sqlx::query(sql).bind(id).bind(account).bind(Utc::now()).bind(amount)
            .execute(pool).await.map(|r| r.rows_affected())
    })?;
    if updated == 0 {
        return Err(PspError::new(
            StatusCode::CONFLICT,
            refused,
            format!("payment {} is {}", current.id, current.status),
        ));
    }
    find(state, account, id).await
}

async fn capture(
    State(state): State<AppState>,
    account: Account,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Option<Json<AmountBody>>,
) -> Response {
    let body = body.map(|Json(b)| b).unwrap_or_default();
    let raw = json!({"op": "capture", "id": id, "amount": body.amount});
    let st = state.clone();
    let acct = account.0.clone();
    idempotent(&state, &account, &headers, raw, move || async move {
        let current = find(&st, &acct, &id).await?;
        let amount = body.amount.unwrap_or(current.amount - current.captured_amount);
        if amount <= 0 {
            return Err(PspError::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid_amount", "nothing left to capture"));
        }
        const SQL: &str = "UPDATE sandbox_psp_payments SET captured = captured + $4, status = 'captured', \
            updated_at = $3 WHERE id = $1 AND account = $2 AND status IN ('authorized', 'captured') \
            AND captured + $4 <= amount";
        let p = apply(&st, &acct, &id, SQL, amount, "capture_refused").await?;
        Ok((StatusCode::OK, to_value(&p)))
    })
    .await
}

async fn void(
    State(state): State<AppState>,
    account: Account,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Option<Json<AmountBody>>,
) -> Response {
    let _reference = body.and_then(|Json(b)| b.reference);
    let raw = json!({"op": "void", "id": id});
    let st = state.clone();
    let acct = account.0.clone();
    idempotent(&state, &account, &headers, raw, move || async move {
        // `$4` is 0: only a payment with nothing captured can be voided.
        const SQL: &str = "UPDATE sandbox_psp_payments SET status = 'voided', updated_at = $3 \
            WHERE id = $1 AND account = $2 AND status IN ('authorized', 'pending') AND captured = $4";
        let p = apply(&st, &acct, &id, SQL, 0, "void_refused").await?;
        Ok((StatusCode::OK, to_value(&p)))
    })
    .await
}

async fn refund(
    State(state): State<AppState>,
    account: Account,
    headers: HeaderMap,
    Path(id): Path<String>,
    Json(body): Json<AmountBody>,
) -> Response {
    let raw = json!({"op": "refund", "id": id, "amount": body.amount});
    let st = state.clone();
    let acct = account.0.clone();
    idempotent(&state, &account, &headers, raw, move || async move {
        let amount = body.amount.filter(|a| *a > 0).ok_or_else(|| {
            PspError::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid_amount", "amount must be positive")
        })?;
        const SQL: &str = "UPDATE sandbox_psp_payments SET refunded = refunded + $4, updated_at = $3 \
            WHERE id = $1 AND account = $2 AND status = 'captured' AND refunded + $4 <= captured";
        let p = apply(&st, &acct, &id, SQL, amount, "refund_refused").await?;
        // Refunds settle with the card network later; the PSP confirms by webhook too.
        super::psp_webhooks::emit(&st, &acct, "refund.succeeded", &p, body.reference.clone());
        Ok((StatusCode::OK, to_value(&p)))
    })
    .await
}

/// Test hook and settlement entry point: moves a pending (async) payment to authorized or failed.
pub async fn settle(state: &AppState, id: &str, approve: bool) -> Result<bool, StoreError> {
    const SQL: &str = "UPDATE sandbox_psp_payments SET status = $2, failure_code = $3, updated_at = $4 \
                       WHERE id = $1 AND status = 'pending'";
    let (status, failure) = if approve {
        ("authorized", None)
    } else {
        ("failed", Some("async_declined"))
    };
    let updated = on_db!(&state.db, pool => {
        sqlx::query(SQL).bind(id).bind(status).bind(failure).bind(Utc::now()).execute(pool).await.map(|r| r.rows_affected())
    })?;
    if updated == 1 {
        const ROW: &str = "SELECT account, reference FROM sandbox_psp_payments WHERE id = $1";
        let row: Option<(String, Option<String>)> =
            on_db!(&state.db, pool => sqlx::query_as(ROW).bind(id).fetch_optional(pool).await)?;
        if let Some((account, reference)) = row
            && let Ok(payment) = find(state, &account, id).await
        {
            let event = if approve {
                "payment.authorized"
            } else {
                "payment.failed"
            };
            super::psp_webhooks::emit(state, &account, event, &payment, reference);
        }
    }
    Ok(updated == 1)
}
