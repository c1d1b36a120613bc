//! `order_checkout_snapshots` with their lines, and the stores' `shipping_rates`.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::{Snapshot, SnapshotLine};
use crate::{
    db::{Db, DbError, Tx, Writes},
    fx::StoredLock,
    money::MinorUnits,
    on_db, on_tx,
    orders::OrderStatus,
    providers::shipping::ShippingRate,
    types::{Currency, CustomerId, Environment, OrderId, ShippingRateId, SnapshotId, StoreId},
    write_part,
};

/// Inserts a snapshot and its lines, as parts of `writes`.
pub async fn insert_snapshot(
    tx: &mut Tx,
    writes: &mut Writes,
    store: StoreId,
    env: Environment,
    customer: CustomerId,
    s: &Snapshot,
) -> Result<(), DbError> {
    const SNAPSHOT: &str = "INSERT INTO order_checkout_snapshots (id, order_id, store_id, environment, \
        customer_id, order_revision, currency, subtotal, shipping, tax, total, shipping_service, \
        shipping_provider, tax_provider, created_at, expires_at, shipping_rate_id, tax_date, \
        shipping_tax, settlement_currency, fx_rate, fx_source, fx_as_of, fx_markup_bps, \
        settlement_subtotal, settlement_shipping, settlement_tax, settlement_total) \
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, \
        $20, $21, $22, $23, $24, $25, $26, $27, $28)";
    // An order has at most 100 lines: one statement for all of them.
    let lines_sql = format!(
        "INSERT INTO order_checkout_snapshot_items (snapshot_id, line_no, product_id, quantity, \
         unit_amount, amount, net, tax, tax_rate) VALUES {}",
        crate::db::values(s.lines.len(), 9, 1)
    );
    let lock = StoredLock {
        settlement_currency: s.fx.as_ref().map(|f| f.settlement_currency),
        fx_rate: s.fx.as_ref().map(|f| f.rate.clone()),
        fx_source: s.fx.as_ref().map(|f| f.source.clone()),
        fx_as_of: s.fx.as_ref().map(|f| f.as_of),
        fx_markup_bps: s.fx.as_ref().map(|f| f.markup_bps),
        fx_rounding: None,
    };
    let settled = s.fx.as_ref().and_then(|f| f.settlement);
    write_part!(&mut *tx, writes, SNAPSHOT, "RETURNING 1", q => {
        q.bind(s.snapshot_id).bind(s.order_id).bind(store).bind(env).bind(customer)
            .bind(s.order_revision).bind(&s.currency).bind(s.totals.subtotal)
            .bind(s.totals.shipping).bind(s.totals.tax).bind(s.totals.total)
            .bind(&s.provider.shipping_service).bind(&s.provider.shipping).bind(&s.provider.tax)
            .bind(s.created_at).bind(s.expires_at).bind(s.provider.shipping_rate_id)
            .bind(s.tax_date).bind(s.totals.shipping_tax)
            .bind(lock.settlement_currency).bind(&lock.fx_rate).bind(&lock.fx_source)
            .bind(lock.fx_as_of).bind(lock.fx_markup_bps)
            .bind(settled.map(|t| t.subtotal)).bind(settled.map(|t| t.shipping))
            .bind(settled.map(|t| t.tax)).bind(settled.map(|t| t.total))
    })?;
    if !s.lines.is_empty() {
        write_part!(tx, writes, &lines_sql, "RETURNING 1", keep: s.lines.len() <= 8, q => {
            let mut query = q;
            for l in &s.lines {
                query = query
                    .bind(s.snapshot_id).bind(l.line_no).bind(l.product_id).bind(l.quantity)
                    .bind(l.unit_amount).bind(l.amount).bind(l.net).bind(l.tax).bind(&l.tax_rate);
            }
            query
        })?;
    }
    Ok(())
}

/// A stored snapshot without its lines.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct SnapshotRecord {
    /// Snapshot id.
    pub id: SnapshotId,
    /// The order it priced.
    pub order_id: OrderId,
    /// The order's customer.
    pub customer_id: CustomerId,
    /// The order revision it priced.
    pub order_revision: i32,
    /// Currency of every amount.
    pub currency: Currency,
    /// Sum of line nets.
    pub subtotal: MinorUnits,
    /// Shipping.
    pub shipping: MinorUnits,
    /// Tax on shipping.
    pub shipping_tax: MinorUnits,
    /// Sum of line taxes and the shipping tax.
    pub tax: MinorUnits,
    /// What the customer pays.
    pub total: MinorUnits,
    /// The day it was taxed on.
    pub tax_date: Option<chrono::NaiveDate>,
    /// Chosen shipping service.
    pub shipping_service: String,
    /// Shipping provider.
    pub shipping_provider: String,
    /// The carrier rate it froze.
    pub shipping_rate_id: Option<ShippingRateId>,
    /// Tax provider.
    pub tax_provider: String,
    /// Creation time.
    pub created_at: DateTime<Utc>,
    /// Payable until.
    pub expires_at: DateTime<Utc>,
    /// The order's locked rate.
    #[sqlx(flatten)]
    pub lock: StoredLock,
    /// Its totals in the settlement currency.
    #[sqlx(flatten)]
    pub settlement: StoredSettlement,
}

/// A snapshot's totals in the settlement currency, as stored (`NULL` without a lock).
#[derive(Debug, Clone, Copy, Default, sqlx::FromRow)]
pub struct StoredSettlement {
    pub settlement_subtotal: Option<MinorUnits>,
    pub settlement_shipping: Option<MinorUnits>,
    pub settlement_tax: Option<MinorUnits>,
    pub settlement_total: Option<MinorUnits>,
}

/// The lock columns of a snapshot (it keeps no rounding: nothing is priced from it).
const LOCK_COLUMNS: &str = "settlement_currency, fx_rate, fx_source, fx_as_of, fx_markup_bps, \
    CAST(NULL AS TEXT) AS fx_rounding";

/// A snapshot of a store and environment.
pub async fn find_snapshot(
    db: &Db,
    store: StoreId,
    env: Environment,
    snapshot_id: SnapshotId,
) -> Result<Option<SnapshotRecord>, DbError> {
    let sql = format!(
        "SELECT id, order_id, customer_id, order_revision, currency, subtotal, shipping, \
         shipping_tax, tax, total, tax_date, shipping_service, shipping_provider, \
         shipping_rate_id, tax_provider, created_at, expires_at, {LOCK_COLUMNS}, \
         settlement_subtotal, settlement_shipping, settlement_tax, settlement_total \
         FROM order_checkout_snapshots WHERE id = $1 AND store_id = $2 AND environment = $3"
    );
    Ok(on_db!(db, pool => {
        sqlx::query_as(&sql).bind(snapshot_id).bind(store).bind(env).fetch_optional(pool).await
    })?)
}

/// A snapshot's lines, in order.
pub async fn snapshot_lines(
    db: &Db,
    snapshot_id: SnapshotId,
) -> Result<Vec<SnapshotLine>, DbError> {
    const SQL: &str = "SELECT line_no, product_id, quantity, unit_amount, amount, net, tax, \
        tax_rate FROM order_checkout_snapshot_items WHERE snapshot_id = $1 ORDER BY line_no";
    Ok(on_db!(db, pool => sqlx::query_as(SQL).bind(snapshot_id).fetch_all(pool).await)?)
}

/// What paying a snapshot needs to check: the snapshot with its order's state.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct PayableRecord {
    /// The order the snapshot priced.
    pub order_id: OrderId,
    /// The order's customer.
    pub customer_id: CustomerId,
    /// The order revision the snapshot priced.
    pub order_revision: i32,
    /// Currency of the total.
    pub currency: Currency,
    /// What the customer pays.
    pub total: MinorUnits,
    /// Payable until.
    pub expires_at: DateTime<Utc>,
    /// The order's status now.
    pub order_status: OrderStatus,
    /// The order's revision now.
    pub current_revision: i32,
    /// The order's locked rate.
    #[sqlx(flatten)]
    pub lock: StoredLock,
}

/// A snapshot of a store and environment joined with its order (one query on the payment
/// path).
pub async fn find_payable(
    db: &Db,
    store: StoreId,
    env: Environment,
    snapshot_id: SnapshotId,
) -> Result<Option<PayableRecord>, DbError> {
    const SQL: &str = "SELECT s.order_id, s.customer_id, s.order_revision, s.currency, s.total, \
        s.expires_at, o.status AS order_status, o.revision AS current_revision, \
        s.settlement_currency, s.fx_rate, s.fx_source, s.fx_as_of, s.fx_markup_bps, \
        CAST(NULL AS TEXT) AS fx_rounding \
        FROM order_checkout_snapshots s JOIN orders o ON o.id = s.order_id \
        WHERE s.id = $1 AND s.store_id = $2 AND s.environment = $3";
    Ok(on_db!(db, pool => {
        sqlx::query_as(SQL).bind(snapshot_id).bind(store).bind(env).fetch_optional(pool).await
    })?)
}

/// A store's shipping rate table.
pub async fn shipping_rates(
    db: &Db,
    store: StoreId,
    env: Environment,
) -> Result<Vec<ShippingRate>, DbError> {
    const SQL: &str = "SELECT service, country, max_weight_grams, amount, currency FROM shipping_rates \
                       WHERE store_id = $1 AND environment = $2 ORDER BY service, country, max_weight_grams";
    let rows: Vec<(String, String, i32, i64, Currency)> = on_db!(db, pool => {
        sqlx::query_as(SQL).bind(store).bind(env).fetch_all(pool).await
    })?;
    Ok(rows
        .into_iter()
        .map(
            |(service, country, max_weight_grams, amount, currency)| ShippingRate {
                service,
                country,
                max_weight_grams,
                amount,
                currency: currency.code().to_owned(),
            },
        )
        .collect())
}

/// Replaces a store's shipping rate table.
pub async fn replace_shipping_rates(
    tx: &mut Tx,
    store: StoreId,
    env: Environment,
    rates: &[ShippingRate],
) -> Result<(), DbError> {
    const DELETE: &str = "DELETE FROM shipping_rates WHERE store_id = $1 AND environment = $2";
    const INSERT: &str = "INSERT INTO shipping_rates (id, store_id, environment, service, country, \
                          max_weight_grams, amount, currency) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)";
    on_tx!(tx, conn => {
        sqlx::query(DELETE).bind(store).bind(env).execute(&mut *conn).await?;
        for r in rates {
            sqlx::query(INSERT).bind(Uuid::now_v7()).bind(store).bind(env)
                .bind(&r.service).bind(&r.country).bind(r.max_weight_grams).bind(r.amount).bind(&r.currency)
                .execute(&mut *conn).await?;
        }
        Ok::<_, sqlx::Error>(())
    })?;
    Ok(())
}
