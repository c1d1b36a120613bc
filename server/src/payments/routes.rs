//! Payment endpoints under `/api/v1/me` (customers) and `/api/v1/admin` (stores).

use std::sync::Arc;

use axum::{
    Extension, Json,
    extract::State,
    http::{HeaderMap, StatusCode},
    response::IntoResponse,
};
use utoipa_axum::{router::OpenApiRouter, routes};

use super::{
    AuthorizeRequest, Caller, CaptureRequest, LedgerPage, LedgerQuery, OrderPayments, Outcome,
    PayRequest, PaymentIntent, RefundRequest, Reply, TransactionStatus,
    repo::{IntentRow, TxnRow},
    service::{self, Target},
};
use crate::{
    auth::{
        policy,
        principal::{CustomerScope, StoreScope},
    },
    http::{
        extract::{ApiJson, ApiPath, ApiQuery},
        middleware::RequestId,
        problem::{ApiError, KeepUnderKey, PROBLEM_JSON, Problem},
    },
    idempotency::{IdempotencyKey, KeyRecord, answer::Answer},
    orders::OrderScope,
    state::AppState,
    types::{OrderId, PaymentIntentId},
};

/// Customer routes (under `/api/v1/me`).
pub fn me_router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(authorize))
        .routes(routes!(pay))
        .routes(routes!(customer_finalize_tax))
}

/// Store routes (under `/api/v1/admin`).
pub fn admin_router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(order_payments))
        .routes(routes!(capture))
        .routes(routes!(void))
        .routes(routes!(refund))
        .routes(routes!(list_payments))
        .routes(routes!(finalize_tax))
        .merge(super::disputes::routes::admin_router())
}

/// The request's Idempotency-Key (the idempotency layer has already required it).
fn key(headers: &HeaderMap) -> Result<IdempotencyKey, ApiError> {
    crate::http::idempotency::key_from_headers(headers).map_err(|_| ApiError::IdempotencyKeyMissing)
}

fn request_id_of(id: Option<Extension<RequestId>>) -> Option<String> {
    id.map(|Extension(id)| id.as_str().to_owned())
}

fn store_caller(scope: &StoreScope, request_id: Option<&str>) -> Caller {
    Caller::of_store(scope.actor, request_id)
}

fn customer_caller(scope: &CustomerScope, request_id: Option<&str>) -> Caller {
    Caller::of_customer(scope.customer_id, request_id)
}

/// The HTTP answer to a finished flow: `201` for a new authorization, `200` otherwise, `202`
/// while the provider settles asynchronously, or the error the transaction ended in.
fn answer(
    intent: &IntentRow,
    txn: &TxnRow,
    created: bool,
) -> Result<(StatusCode, Json<PaymentIntent>), ApiError> {
    let body = super::respond(intent, txn)?;
    let status = match (txn.status, created) {
        (TransactionStatus::Pending, _) => StatusCode::ACCEPTED,
        (_, true) => StatusCode::CREATED,
        (_, false) => StatusCode::OK,
    };
    Ok((status, Json(body)))
}

fn respond(outcome: Outcome, created: bool) -> Result<(StatusCode, Json<PaymentIntent>), ApiError> {
    answer(&outcome.0, &outcome.1, created)
}

/// [`answer`] as the idempotency layer stores it, byte for byte what is sent: the intent's
/// JSON, or the problem document with the request id.
fn stored_answer(
    intent: &IntentRow,
    txn: &TxnRow,
    created: bool,
    request_id: Option<&str>,
) -> Answer {
    match answer(intent, txn, created) {
        Ok((status, Json(body))) => Answer {
            status: status.as_u16(),
            content_type: Some("application/json".to_owned()),
            body: serde_json::to_vec(&body).unwrap_or_default(),
            keep: false,
        },
        Err(err) => {
            let problem = Problem {
                request_id: request_id.map(str::to_owned),
                ..err.to_problem()
            };
            let keep = err
                .into_response()
                .extensions()
                .get::<KeepUnderKey>()
                .is_some();
            Answer {
                status: problem.status,
                content_type: Some(PROBLEM_JSON.to_owned()),
                body: serde_json::to_vec(&problem).unwrap_or_default(),
                keep,
            }
        }
    }
}

/// The request's idempotency record for the flow to write in its own transactions.
fn reply(
    record: Option<Extension<KeyRecord>>,
    created: bool,
    request_id: Option<String>,
) -> Option<Reply> {
    record.map(|Extension(record)| Reply {
        record,
        store: true,
        render: Arc::new(move |intent: &IntentRow, txn: &TxnRow| {
            stored_answer(intent, txn, created, request_id.as_deref())
        }),
    })
}

/// Authorizes the snapshot's total on a payment method: a new payment intent.
///
/// The amount comes from the snapshot only. `202` means the provider settles asynchronously
/// (status `pending`); `502 provider_outcome_unknown` means the answer was lost and is being
/// resolved: retry with the same Idempotency-Key.
#[utoipa::path(
    post,
    path = "/orders/{order_id}/payments/authorize",
    tag = "payments",
    // The flow holds the key in its own transactions (see `idempotency::KeyRecord`).
    extensions(("x-cassa-idempotency" = json!("in-transaction"))),
    params(("order_id" = String, Path, description = "Order id")),
    request_body = AuthorizeRequest,
    responses(
        (status = 201, description = "Authorized", body = PaymentIntent),
        (status = 202, description = "Pending at the provider", body = PaymentIntent),
        (status = 402, description = "Declined (`payment_declined`)", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such order or snapshot of this customer", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The order already has an active payment", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`snapshot_expired`, `snapshot_stale`, `snapshot_mismatch`, invalid payment method", body = Problem, content_type = "application/problem+json"),
        (status = 502, description = "Outcome unknown; retry with the same key", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "Provider unavailable; nothing charged", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
pub async fn authorize(
    State(state): State<AppState>,
    scope: CustomerScope,
    headers: HeaderMap,
    request_id: Option<Extension<RequestId>>,
    record: Option<Extension<KeyRecord>>,
    ApiPath(order_id): ApiPath<OrderId>,
    ApiJson(body): ApiJson<AuthorizeRequest>,
) -> Result<(StatusCode, Json<PaymentIntent>), ApiError> {
    let key = key(&headers)?;
    let request_id = request_id_of(request_id);
    let caller = customer_caller(&scope, request_id.as_deref());
    let reply = reply(record, true, request_id);
    let outcome = super::authorize(
        &state,
        scope,
        order_id,
        body,
        key.as_str(),
        &caller,
        reply.as_ref(),
    )
    .await?;
    respond(outcome, true)
}

/// Compatibility: quotes, authorizes and captures in one idempotent call.
#[utoipa::path(
    post,
    path = "/orders/{order_id}/pay",
    tag = "payments",
    params(("order_id" = String, Path, description = "Order id")),
    request_body = PayRequest,
    responses(
        (status = 200, description = "Captured (or `202` pending at the provider)", body = PaymentIntent),
        (status = 402, description = "Declined", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The order already has an active payment", body = Problem, content_type = "application/problem+json"),
        (status = 502, description = "Outcome unknown; retry with the same key", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
pub async fn pay(
    State(state): State<AppState>,
    scope: CustomerScope,
    headers: HeaderMap,
    request_id: Option<Extension<RequestId>>,
    ApiPath(order_id): ApiPath<OrderId>,
    ApiJson(body): ApiJson<PayRequest>,
) -> Result<(StatusCode, Json<PaymentIntent>), ApiError> {
    let key = key(&headers)?;
    let caller = customer_caller(&scope, request_id_of(request_id).as_deref());
    let outcome = super::pay(&state, scope, order_id, body, key.as_str(), &caller).await?;
    respond(outcome, false)
}

/// Captures (part of) an authorization; several partial captures may follow one another.
#[utoipa::path(
    post,
    path = "/orders/{order_id}/payments/{intent_id}/capture",
    tag = "payments",
    // The flow holds the key in its own transactions (see `idempotency::KeyRecord`).
    extensions(("x-cassa-idempotency" = json!("in-transaction"))),
    params(
        ("order_id" = String, Path, description = "Order id"),
        ("intent_id" = String, Path, description = "Payment intent id"),
    ),
    request_body = CaptureRequest,
    responses(
        (status = 200, description = "Captured", body = PaymentIntent),
        (status = 403, description = "Staff acting on production money", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such payment in this store", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`invalid_state_transition`", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`amount_exceeds_capturable`", body = Problem, content_type = "application/problem+json"),
        (status = 502, description = "Outcome unknown; retry with the same key", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
pub async fn capture(
    State(state): State<AppState>,
    scope: StoreScope,
    headers: HeaderMap,
    request_id: Option<Extension<RequestId>>,
    record: Option<Extension<KeyRecord>>,
    ApiPath((order_id, intent_id)): ApiPath<(OrderId, PaymentIntentId)>,
    body: axum::body::Bytes,
) -> Result<(StatusCode, Json<PaymentIntent>), ApiError> {
    policy::move_money(scope.actor, scope.environment)?;
    let key = key(&headers)?;
    let request_id = request_id_of(request_id);
    let caller = store_caller(&scope, request_id.as_deref());
    // The body is optional: no body captures everything still capturable.
    let request = if body.iter().all(u8::is_ascii_whitespace) {
        CaptureRequest::default()
    } else {
        serde_json::from_slice::<CaptureRequest>(&body).map_err(|e| {
            if e.is_syntax() || e.is_eof() {
                ApiError::MalformedJson(e.to_string())
            } else {
                ApiError::InvalidBody(e.to_string())
            }
        })?
    };
    let reply = reply(record, false, request_id);
    let target = Target {
        store: scope.store_id,
        env: scope.environment,
        order_id,
        intent_id,
        key: key.as_str(),
        caller: &caller,
        reply: reply.as_ref(),
    };
    let outcome = service::capture(&state, target, request).await?;
    respond(outcome, false)
}

/// Releases the uncaptured part of an authorization: all of it before any capture (the intent
/// becomes `voided` and its order open again), or the rest after partial captures (the intent
/// keeps its captures, becomes `captured`, and `released_amount` says what was given back).
#[utoipa::path(
    post,
    path = "/orders/{order_id}/payments/{intent_id}/void",
    tag = "payments",
    // The flow holds the key in its own transactions (see `idempotency::KeyRecord`).
    extensions(("x-cassa-idempotency" = json!("in-transaction"))),
    params(
        ("order_id" = String, Path, description = "Order id"),
        ("intent_id" = String, Path, description = "Payment intent id"),
    ),
    responses(
        (status = 200, description = "Released", body = PaymentIntent),
        (status = 403, description = "Staff acting on production money", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such payment in this store", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`invalid_state_transition`", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
pub async fn void(
    State(state): State<AppState>,
    scope: StoreScope,
    headers: HeaderMap,
    request_id: Option<Extension<RequestId>>,
    record: Option<Extension<KeyRecord>>,
    ApiPath((order_id, intent_id)): ApiPath<(OrderId, PaymentIntentId)>,
) -> Result<(StatusCode, Json<PaymentIntent>), ApiError> {
    policy::move_money(scope.actor, scope.environment)?;
    let key = key(&headers)?;
    let request_id = request_id_of(request_id);
    let caller = store_caller(&scope, request_id.as_deref());
    let reply = reply(record, false, request_id);
    let target = Target {
        store: scope.store_id,
        env: scope.environment,
        order_id,
        intent_id,
        key: key.as_str(),
        caller: &caller,
        reply: reply.as_ref(),
    };
    let outcome = service::void(&state, target).await?;
    respond(outcome, false)
}

/// Refunds (part of) the captured amount; several partial refunds may follow one another.
#[utoipa::path(
    post,
    path = "/orders/{order_id}/payments/{intent_id}/refund",
    tag = "payments",
    // The flow holds the key in its own transactions (see `idempotency::KeyRecord`).
    extensions(("x-cassa-idempotency" = json!("in-transaction"))),
    params(
        ("order_id" = String, Path, description = "Order id"),
        ("intent_id" = String, Path, description = "Payment intent id"),
    ),
    request_body = RefundRequest,
    responses(
        (status = 200, description = "Refunded", body = PaymentIntent),
        (status = 202, description = "Accepted by the provider and still on its way (the refund is `pending`; settled by the provider's event or the resolver)", body = PaymentIntent),
        (status = 403, description = "Staff acting on production money", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such payment in this store", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`invalid_state_transition`", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`amount_exceeds_refundable`", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
pub async fn refund(
    State(state): State<AppState>,
    scope: StoreScope,
    headers: HeaderMap,
    request_id: Option<Extension<RequestId>>,
    record: Option<Extension<KeyRecord>>,
    ApiPath((order_id, intent_id)): ApiPath<(OrderId, PaymentIntentId)>,
    ApiJson(body): ApiJson<RefundRequest>,
) -> Result<(StatusCode, Json<PaymentIntent>), ApiError> {
    policy::move_money(scope.actor, scope.environment)?;
    let key = key(&headers)?;
    let request_id = request_id_of(request_id);
    let caller = store_caller(&scope, request_id.as_deref());
    let reply = reply(record, false, request_id);
    let target = Target {
        store: scope.store_id,
        env: scope.environment,
        order_id,
        intent_id,
        key: key.as_str(),
        caller: &caller,
        reply: reply.as_ref(),
    };
    let outcome = service::refund(&state, target, body).await?;
    respond(outcome, false)
}

/// An order's payment intents with their transactions, and the order's status history.
#[utoipa::path(
    get,
    path = "/orders/{order_id}/payments",
    tag = "payments",
    params(("order_id" = String, Path, description = "Order id")),
    responses(
        (status = 200, description = "Intents, transactions, status history", body = OrderPayments),
        (status = 404, description = "No such order in this store", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
pub async fn order_payments(
    State(state): State<AppState>,
    scope: StoreScope,
    ApiPath(order_id): ApiPath<OrderId>,
) -> Result<Json<OrderPayments>, ApiError> {
    Ok(Json(
        super::detail(&state, scope.store_id, scope.environment, order_id).await?,
    ))
}

/// The payments ledger: the store's intents, newest first, with filters and keyset pages.
#[utoipa::path(
    get,
    path = "/payments",
    tag = "payments",
    params(LedgerQuery),
    responses(
        (status = 200, description = "A page of intents", body = LedgerPage),
        (status = 422, description = "Invalid filter", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
pub async fn list_payments(
    State(state): State<AppState>,
    scope: StoreScope,
    ApiQuery(query): ApiQuery<LedgerQuery>,
) -> Result<Json<LedgerPage>, ApiError> {
    Ok(Json(
        super::list(&state, scope.store_id, scope.environment, &query).await?,
    ))
}

/// Commits the order's tax in full now (a storefront that completes orders before capturing);
/// captures, refunds and voids move it from there. Once per order: repeating it commits
/// nothing more. `409 order_not_paid` without an authorized or captured payment.
#[utoipa::path(
    post,
    path = "/orders/{order_id}/tax/finalize",
    tag = "tax",
    params(("order_id" = String, Path, description = "Order id")),
    responses(
        (status = 200, description = "The order's tax", body = crate::tax::OrderTax),
        (status = 404, description = "No such order in this store", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`order_not_paid`", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
pub async fn finalize_tax(
    State(state): State<AppState>,
    scope: StoreScope,
    ApiPath(order_id): ApiPath<OrderId>,
) -> Result<Json<crate::tax::OrderTax>, ApiError> {
    policy::manage_tax(scope.actor, scope.environment)?;
    let orders = OrderScope {
        store_id: scope.store_id,
        environment: scope.environment,
        customer_id: None,
    };
    super::finalize_tax(&state, orders, order_id).await?;
    let tax = crate::tax::order_tax(&state, scope.store_id, scope.environment, order_id).await?;
    Ok(Json(tax))
}

/// The customer's storefront finalizes the tax of their own order (see the store route).
#[utoipa::path(
    post,
    path = "/orders/{order_id}/tax/finalize",
    tag = "tax",
    params(("order_id" = String, Path, description = "Order id")),
    responses(
        (status = 200, description = "The order's tax", body = crate::tax::OrderTax),
        (status = 404, description = "No such order of this customer", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`order_not_paid`", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
pub async fn customer_finalize_tax(
    State(state): State<AppState>,
    scope: CustomerScope,
    ApiPath(order_id): ApiPath<OrderId>,
) -> Result<Json<crate::tax::OrderTax>, ApiError> {
    let orders = OrderScope {
        store_id: scope.store_id,
        environment: scope.environment,
        customer_id: Some(scope.customer_id),
    };
    super::finalize_tax(&state, orders, order_id).await?;
    let tax = crate::tax::order_tax(&state, scope.store_id, scope.environment, order_id).await?;
    Ok(Json(tax))
}
