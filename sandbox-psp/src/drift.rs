//! Test-only operations that make the PSP's books differ from its caller's, the way real
//! processors drift: a refund made in the processor's dashboard, webhooks lost on the way, an
//! amount changed at settlement, an authorization lapsed there, a payment nobody asked for (or a second one for the same
//! operation). They act on the calling account only, send no webhook, and exist only where the
//! PSP itself does (a sandbox; never mounted in production).

use axum::{
    Json, Router,
    extract::{Path, State},
    response::{IntoResponse, Response},
    routing::post,
};
use serde::Deserialize;
use serde_json::json;

use crate::{
    api::{Account, PspError, Row, columns, not_found, payment, to_value},
    db::on_db,
    state::PspState,
};

pub(crate) fn routes() -> Router<PspState> {
    Router::new()
        .route("/v1/test/payments", post(create))
        .route("/v1/test/payments/{id}/refund", post(refund))
        .route("/v1/test/payments/{id}/settlement", post(settle_amount))
        .route("/v1/test/payments/{id}/expire", post(expire))
        .route("/v1/test/drop_webhooks", post(drop_webhooks))
}

#[derive(Debug, Deserialize)]
struct AmountBody {
    amount: i64,
}

fn answer(row: Result<Option<Row>, sqlx::Error>) -> Response {
    match row {
        Ok(Some(row)) => Json(to_value(&payment(row))).into_response(),
        Ok(None) => not_found().into_response(),
        Err(err) => PspError::from(err).into_response(),
    }
}

/// A refund made at the processor (its dashboard): the caller is not told.
async fn refund(
    State(state): State<PspState>,
    account: Account,
    Path(id): Path<String>,
    Json(body): Json<AmountBody>,
) -> Response {
    const SQL: &str = concat!(
        "UPDATE sandbox_psp_payments SET refunded = refunded + $3, updated_at = $4 \
         WHERE id = $1 AND account = $2 AND status = 'captured' AND $3 > 0 \
         AND refunded + $3 <= captured RETURNING ",
        columns!()
    );
    let now = state.now();
    answer(
        on_db!(&state.db, pool => sqlx::query_as(SQL).bind(&id).bind(account.id())
        .bind(body.amount).bind(now).fetch_optional(pool).await),
    )
}

#[derive(Debug, Deserialize)]
struct SettlementBody {
    captured: i64,
}

/// The amount settled differs from the amount captured (a processor's adjustment).
async fn settle_amount(
    State(state): State<PspState>,
    account: Account,
    Path(id): Path<String>,
    Json(body): Json<SettlementBody>,
) -> Response {
    const SQL: &str = concat!(
        "UPDATE sandbox_psp_payments SET captured = $3, updated_at = $4 \
         WHERE id = $1 AND account = $2 AND status = 'captured' AND $3 >= refunded \
         AND $3 <= amount RETURNING ",
        columns!()
    );
    let now = state.now();
    answer(
        on_db!(&state.db, pool => sqlx::query_as(SQL).bind(&id).bind(account.id())
        .bind(body.captured).bind(now).fetch_optional(pool).await),
    )
}

/// An authorization that lapsed at the processor (it releases uncaptured authorizations after
/// some days): voided there, still authorized at the caller.
async fn expire(
    State(state): State<PspState>,
    account: Account,
    Path(id): Path<String>,
) -> Response {
    const SQL: &str = concat!(
        "UPDATE sandbox_psp_payments SET status = 'voided', updated_at = $3 \
         WHERE id = $1 AND account = $2 AND status = 'authorized' RETURNING ",
        columns!()
    );
    let now = state.now();
    answer(
        on_db!(&state.db, pool => sqlx::query_as(SQL).bind(&id).bind(account.id())
        .bind(now).fetch_optional(pool).await),
    )
}

#[derive(Debug, Deserialize)]
struct CreateBody {
    amount: i64,
    currency: String,
    /// The caller's operation it claims to be for (a duplicate), or none (a stray payment).
    #[serde(default)]
    reference: Option<String>,
}

/// A captured payment the caller never asked for.
async fn create(
    State(state): State<PspState>,
    account: Account,
    Json(body): Json<CreateBody>,
) -> Response {
    const SQL: &str = concat!(
        "INSERT INTO sandbox_psp_payments (id, account, amount, currency, payment_method, status, \
         captured, created_at, updated_at, reference) \
         VALUES ($1, $2, $3, $4, 'pm_card_visa', 'captured', $3, $5, $5, $6) RETURNING ",
        columns!()
    );
    if body.amount <= 0 || body.currency.len() != 3 {
        return PspError::unprocessable("invalid_request", "amount must be positive")
            .into_response();
    }
    let id = format!("psp_pay_{}", uuid::Uuid::now_v7().simple());
    let now = state.now();
    answer(
        on_db!(&state.db, pool => sqlx::query_as(SQL).bind(&id).bind(account.id())
        .bind(body.amount).bind(body.currency.to_uppercase()).bind(now).bind(&body.reference)
        .fetch_optional(pool).await),
    )
}

#[derive(Debug, Deserialize)]
struct DropBody {
    count: u32,
}

/// Loses the account's next `count` webhooks.
async fn drop_webhooks(
    State(state): State<PspState>,
    account: Account,
    Json(body): Json<DropBody>,
) -> Response {
    if let Ok(mut drops) = state.dropped_webhooks.lock() {
        drops.insert(account.id().to_owned(), body.count);
    }
    Json(json!({"dropping": body.count})).into_response()
}
