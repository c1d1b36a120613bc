//! Checkout: the trusted, immutable snapshot of an order's price. Lines, shipping, tax and
//! totals are computed here from the catalogue copy in the order and the store's providers;
//! payments are checked against the snapshot, never against anything the client sends.

pub mod config;
pub mod providers;

use axum::{Extension, Json, extract::State, http::StatusCode, response::IntoResponse};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};

use providers::{RateQuote, ShippingProvider, TaxProvider, TaxableLine};

use crate::{
    auth::principal::CustomerScope,
    db::DbError,
    http::{
        extract::{ApiJson, ApiPath},
        problem::{ApiError, Problem},
    },
    idempotency::{Deferred, Stored},
    money::MinorUnits,
    on_db,
    orders::{self, OrderScope},
    state::AppState,
    types::{CustomerId, Environment, InvalidValue, OrderId, ProductId, SnapshotId, StoreId},
};

/// Customer routes (under `/api/v1/me`).
pub fn me_router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create_quote))
        .routes(routes!(get_snapshot))
}

/// Body of `POST /api/v1/me/checkout/quote`.
#[derive(Debug, Deserialize, ToSchema)]
pub struct QuoteRequest {
    /// The customer's order.
    pub order_id: OrderId,
    /// A shipping service from the options; default the cheapest.
    pub shipping_service: Option<String>,
}

/// A priced line of a snapshot.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct SnapshotLine {
    /// Order line.
    pub line_no: i32,
    /// Product.
    pub product_id: ProductId,
    /// Units.
    pub quantity: i32,
    /// Price per unit as in the order.
    #[schema(value_type = i64)]
    pub unit_amount: MinorUnits,
    /// `unit_amount × quantity` (gross for tax-inclusive prices).
    #[schema(value_type = i64)]
    pub amount: MinorUnits,
    /// Amount without tax.
    #[schema(value_type = i64)]
    pub net: MinorUnits,
    /// Tax of the line.
    #[schema(value_type = i64)]
    pub tax: MinorUnits,
    /// Rate applied, decimal string.
    pub tax_rate: String,
}

/// Totals: `total = subtotal + shipping + tax`.
#[derive(Debug, Clone, Copy, Serialize, ToSchema)]
pub struct Totals {
    /// Sum of line nets.
    #[schema(value_type = i64)]
    pub subtotal: MinorUnits,
    /// Shipping (untaxed by the built-in rules).
    #[schema(value_type = i64)]
    pub shipping: MinorUnits,
    /// Sum of line taxes.
    #[schema(value_type = i64)]
    pub tax: MinorUnits,
    /// What the customer pays.
    #[schema(value_type = i64)]
    pub total: MinorUnits,
}

/// The providers that priced a snapshot.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct SelectedProviders {
    /// Shipping provider.
    pub shipping: String,
    /// Chosen shipping service.
    pub shipping_service: String,
    /// Tax provider.
    pub tax: String,
}

/// A frozen checkout price.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Snapshot {
    /// Snapshot id (pass to authorize).
    pub snapshot_id: SnapshotId,
    /// The order.
    pub order_id: OrderId,
    /// Order revision this snapshot priced.
    pub order_revision: i32,
    /// Currency of every amount.
    pub currency: String,
    /// Lines.
    pub lines: Vec<SnapshotLine>,
    /// Totals.
    pub totals: Totals,
    /// Providers used.
    pub provider: SelectedProviders,
    /// Shipping options at quote time (only in the quote response).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub shipping_options: Vec<RateQuote>,
    /// Creation time.
    pub created_at: DateTime<Utc>,
    /// Payable until.
    pub expires_at: DateTime<Utc>,
}

fn overflow<T>(_: T) -> ApiError {
    InvalidValue::new("items", "amounts too large").into()
}

/// Prices an open order of the customer and stores the snapshot.
///
/// With the request's idempotency `record`, the answer is stored for the key in the same
/// transaction as the snapshot.
pub async fn quote(
    state: &AppState,
    scope: CustomerScope,
    request: QuoteRequest,
    record: Option<&Deferred>,
) -> Result<Snapshot, ApiError> {
    let order_scope = OrderScope {
        store_id: scope.store_id,
        environment: scope.environment,
        customer_id: Some(scope.customer_id),
    };
    let order = orders::find(state, order_scope, request.order_id).await?;
    if order.status != "open" {
        return Err(ApiError::Conflict("only open orders can be quoted"));
    }
    let shipping = config::load_shipping(state, scope.store_id, scope.environment).await?;
    let weight: i64 = order
        .items
        .iter()
        .map(|i| i64::from(i.weight_grams) * i64::from(i.quantity))
        .sum();
    let parcel = providers::Parcel {
        country: order.shipping_address.country.clone(),
        weight_grams: weight,
        currency: order.currency,
    };
    let options = shipping.quote_rates(&parcel);
    let chosen = match request
        .shipping_service
        .as_deref()
        .map(|s| s.trim().to_lowercase())
    {
        Some(service) => options
            .iter()
            .find(|o| o.service == service)
            .cloned()
            .ok_or_else(|| InvalidValue::new("shipping_service", "not offered for this order"))?,
        None => options.first().cloned().ok_or_else(|| {
            InvalidValue::new(
                "shipping_address.country",
                "no shipping rate covers this destination and weight",
            )
        })?,
    };
    let tax = config::load_tax(state, scope.store_id, scope.environment).await?;
    let taxable: Vec<TaxableLine> = order
        .items
        .iter()
        .map(|i| TaxableLine {
            amount: i.amount,
            tax_code: i.tax_code.clone(),
            inclusive: i.price_includes_tax,
        })
        .collect();
    let taxed = tax
        .quote_tax(
            &order.shipping_address.country,
            order.shipping_address.subdivision.as_deref(),
            &taxable,
        )
        .map_err(overflow)?;
    let lines: Vec<SnapshotLine> = order
        .items
        .iter()
        .zip(&taxed)
        .map(|(item, t)| SnapshotLine {
            line_no: item.line_no,
            product_id: item.product_id,
            quantity: item.quantity,
            unit_amount: item.unit_amount,
            amount: item.amount,
            net: t.net,
            tax: t.tax,
            tax_rate: t.rate.normalize().to_string(),
        })
        .collect();
    let subtotal = MinorUnits::sum(lines.iter().map(|l| l.net)).map_err(overflow)?;
    let tax_total = MinorUnits::sum(lines.iter().map(|l| l.tax)).map_err(overflow)?;
    let total = MinorUnits::sum([subtotal, tax_total, chosen.amount]).map_err(overflow)?;
    let now = state.clock.now();
    let snapshot = Snapshot {
        snapshot_id: SnapshotId::new(),
        order_id: order.id,
        order_revision: order.revision,
        currency: order.currency.code().to_owned(),
        lines,
        totals: Totals {
            subtotal,
            shipping: chosen.amount,
            tax: tax_total,
            total,
        },
        provider: SelectedProviders {
            shipping: shipping.name().to_owned(),
            shipping_service: chosen.service.clone(),
            tax: tax.name().to_owned(),
        },
        shipping_options: options,
        created_at: now,
        expires_at: now + state.config.snapshot_ttl,
    };
    let record = match record.filter(|r| r.needs_claim()) {
        Some(record) => {
            let response = (StatusCode::CREATED, Json(&snapshot)).into_response();
            Some((record, record.render(response).await?))
        }
        None => None,
    };
    insert(
        state,
        scope.store_id,
        scope.environment,
        scope.customer_id,
        &snapshot,
        record.as_ref().map(|(r, stored)| (*r, stored)),
    )
    .await?;
    if let Some((record, stored)) = record {
        record.settled(stored);
    }
    Ok(snapshot)
}

/// Writes the snapshot (and, first, the request's completed idempotency record: a concurrent
/// request with the same key waits on it and then finds the key taken).
async fn insert(
    state: &AppState,
    store: StoreId,
    env: Environment,
    customer: CustomerId,
    s: &Snapshot,
    record: Option<(&Deferred, &Stored)>,
) -> Result<(), ApiError> {
    const SNAPSHOT: &str = "INSERT INTO order_checkout_snapshots (id, order_id, store_id, environment, \
        customer_id, order_revision, currency, subtotal, shipping, tax, total, shipping_service, \
        shipping_provider, tax_provider, created_at, expires_at) \
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)";
    const LINE: &str = "INSERT INTO order_checkout_snapshot_items (snapshot_id, line_no, product_id, \
        quantity, unit_amount, amount, net, tax, tax_rate) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)";
    let now = state.clock.now();
    let written = on_db!(&state.db, pool => {
        async {
            let mut tx = pool.begin_with(state.db.begin_write_sql()).await?;
            if let Some((record, stored)) = record
                && record.insert_completed_query(stored, now).execute(&mut *tx).await?.rows_affected() != 1
            {
                return Ok(false);
            }
            sqlx::query(SNAPSHOT)
                .bind(s.snapshot_id).bind(s.order_id).bind(store).bind(env.as_str()).bind(customer)
                .bind(s.order_revision).bind(&s.currency).bind(s.totals.subtotal.0)
                .bind(s.totals.shipping.0).bind(s.totals.tax.0).bind(s.totals.total.0)
                .bind(&s.provider.shipping_service).bind(&s.provider.shipping).bind(&s.provider.tax)
                .bind(s.created_at).bind(s.expires_at)
                .execute(&mut *tx).await?;
            for l in &s.lines {
                sqlx::query(LINE)
                    .bind(s.snapshot_id).bind(l.line_no).bind(l.product_id).bind(l.quantity)
                    .bind(l.unit_amount.0).bind(l.amount.0).bind(l.net.0).bind(l.tax.0).bind(&l.tax_rate)
                    .execute(&mut *tx).await?;
            }
            tx.commit().await.map(|()| true)
        }
        .await
    })
    .map_err(DbError::from)?;
    match (written, record) {
        (false, Some((record, _))) => Err(record.lost()),
        _ => Ok(()),
    }
}

type SnapshotRow = (
    SnapshotId,
    OrderId,
    CustomerId,
    i32,
    String,
    i64,
    i64,
    i64,
    i64,
    String,
    String,
    String,
    DateTime<Utc>,
    DateTime<Utc>,
);

type LineRow = (i32, ProductId, i32, i64, i64, i64, i64, String);

/// Reads a snapshot of `order_id` inside the store, environment and (for customers) customer.
pub async fn find(
    state: &AppState,
    scope: OrderScope,
    snapshot_id: SnapshotId,
) -> Result<Snapshot, ApiError> {
    const SQL: &str = "SELECT id, order_id, customer_id, order_revision, currency, subtotal, shipping, tax, \
        total, shipping_service, shipping_provider, tax_provider, created_at, expires_at \
        FROM order_checkout_snapshots WHERE id = $1 AND store_id = $2 AND environment = $3";
    let row: Option<SnapshotRow> = on_db!(&state.db, pool => {
        sqlx::query_as(SQL).bind(snapshot_id).bind(scope.store_id).bind(scope.environment.as_str())
            .fetch_optional(pool).await
    })
    .map_err(DbError::from)?;
    let row = row.ok_or(ApiError::NotFound)?;
    if scope.customer_id.is_some_and(|c| c != row.2) {
        return Err(ApiError::NotFound);
    }
    const LINES: &str = "SELECT line_no, product_id, quantity, unit_amount, amount, net, tax, tax_rate \
        FROM order_checkout_snapshot_items WHERE snapshot_id = $1 ORDER BY line_no";
    let lines: Vec<LineRow> =
        on_db!(&state.db, pool => sqlx::query_as(LINES).bind(snapshot_id).fetch_all(pool).await)
            .map_err(DbError::from)?;
    Ok(Snapshot {
        snapshot_id: row.0,
        order_id: row.1,
        order_revision: row.3,
        currency: row.4,
        totals: Totals {
            subtotal: MinorUnits(row.5),
            shipping: MinorUnits(row.6),
            tax: MinorUnits(row.7),
            total: MinorUnits(row.8),
        },
        provider: SelectedProviders {
            shipping_service: row.9,
            shipping: row.10,
            tax: row.11,
        },
        shipping_options: Vec::new(),
        created_at: row.12,
        expires_at: row.13,
        lines: lines
            .into_iter()
            .map(
                |(line_no, product_id, quantity, unit, amount, net, tax, tax_rate)| SnapshotLine {
                    line_no,
                    product_id,
                    quantity,
                    unit_amount: MinorUnits(unit),
                    amount: MinorUnits(amount),
                    net: MinorUnits(net),
                    tax: MinorUnits(tax),
                    tax_rate,
                },
            )
            .collect(),
    })
}

/// What an authorization needs of a snapshot: its id, total and currency.
#[derive(Debug, Clone)]
pub struct Payable {
    /// The snapshot.
    pub snapshot_id: SnapshotId,
    /// The amount to authorize.
    pub total: MinorUnits,
    /// ISO 4217 code.
    pub currency: String,
}

/// A snapshot of `order_id` that may be paid now: not expired, the order still open and
/// unchanged since. One query (snapshot joined with its order) on the payment path.
pub async fn payable_snapshot(
    state: &AppState,
    scope: OrderScope,
    order_id: OrderId,
    snapshot_id: SnapshotId,
) -> Result<Payable, ApiError> {
    const SQL: &str = "SELECT s.order_id, s.customer_id, s.order_revision, s.currency, s.total, \
        s.expires_at, o.status, o.revision FROM order_checkout_snapshots s \
        JOIN orders o ON o.id = s.order_id \
        WHERE s.id = $1 AND s.store_id = $2 AND s.environment = $3";
    type Row = (
        OrderId,
        CustomerId,
        i32,
        String,
        i64,
        DateTime<Utc>,
        String,
        i32,
    );
    let row: Option<Row> = on_db!(&state.db, pool => {
        sqlx::query_as(SQL).bind(snapshot_id).bind(scope.store_id).bind(scope.environment.as_str())
            .fetch_optional(pool).await
    })
    .map_err(DbError::from)?;
    let (
        snapshot_order,
        customer,
        snapshot_revision,
        currency,
        total,
        expires_at,
        status,
        revision,
    ) = row.ok_or(ApiError::NotFound)?;
    if snapshot_order != order_id || scope.customer_id.is_some_and(|c| c != customer) {
        return Err(ApiError::NotFound);
    }
    if state.clock.now() >= expires_at {
        return Err(ApiError::SnapshotExpired);
    }
    if status != "open" {
        return Err(ApiError::InvalidStateTransition(format!(
            "the order is {status}; only open orders can be paid"
        )));
    }
    if revision != snapshot_revision {
        return Err(ApiError::SnapshotStale);
    }
    Ok(Payable {
        snapshot_id,
        total: MinorUnits(total),
        currency,
    })
}

/// Prices the customer's order and freezes the result for payment.
#[utoipa::path(
    post,
    path = "/checkout/quote",
    tag = "checkout",
    request_body = QuoteRequest,
    responses(
        (status = 201, description = "Snapshot created", body = Snapshot),
        (status = 404, description = "No such order of this customer", body = Problem,
            content_type = "application/problem+json"),
        (status = 422, description = "No shipping option, or unknown service", body = Problem,
            content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
pub async fn create_quote(
    State(state): State<AppState>,
    scope: CustomerScope,
    record: Option<Extension<Deferred>>,
    ApiJson(body): ApiJson<QuoteRequest>,
) -> Result<(StatusCode, Json<Snapshot>), ApiError> {
    let record = record.map(|Extension(r)| r);
    let snapshot = quote(&state, scope, body, record.as_ref()).await?;
    Ok((StatusCode::CREATED, Json(snapshot)))
}

/// Reads one of the customer's snapshots.
#[utoipa::path(
    get,
    path = "/checkout/snapshots/{snapshot_id}",
    tag = "checkout",
    params(("snapshot_id" = String, Path, description = "Snapshot id")),
    responses(
        (status = 200, description = "The snapshot", body = Snapshot),
        (status = 404, description = "No such snapshot of this customer", body = Problem,
            content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
pub async fn get_snapshot(
    State(state): State<AppState>,
    scope: CustomerScope,
    ApiPath(snapshot_id): ApiPath<SnapshotId>,
) -> Result<Json<Snapshot>, ApiError> {
    let scope = OrderScope {
        store_id: scope.store_id,
        environment: scope.environment,
        customer_id: Some(scope.customer_id),
    };
    Ok(Json(find(&state, scope, snapshot_id).await?))
}
