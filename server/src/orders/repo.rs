//! `orders` and `order_items`.

use chrono::{DateTime, Utc};

use super::{Order, OrderStatus, OrderSummary, PriceSource};
use crate::{
    address::Address,
    db::{Db, DbError, Tx},
    fx::{Lock, StoredLock},
    money::MinorUnits,
    on_db, on_tx,
    pagination::PageQuery,
    types::{Currency, CustomerId, Environment, OrderId, ProductId, StoreId},
};

/// A stored order without its lines.
#[derive(Debug, Clone)]
pub struct OrderRecord {
    /// Order id.
    pub id: OrderId,
    /// Its customer.
    pub customer_id: CustomerId,
    /// Its status.
    pub status: OrderStatus,
    /// Currency of every line.
    pub currency: Currency,
    /// Normalized shipping address.
    pub shipping_address: Address,
    /// Change counter.
    pub revision: i32,
    /// Creation time.
    pub created_at: DateTime<Utc>,
    /// The rate it was priced with, when converted.
    pub lock: Option<Lock>,
}

#[derive(sqlx::FromRow)]
struct OrderRow {
    id: OrderId,
    customer_id: CustomerId,
    status: OrderStatus,
    currency: Currency,
    shipping_address: String,
    revision: i32,
    created_at: DateTime<Utc>,
    #[sqlx(flatten)]
    lock: StoredLock,
}

/// A stored order line as priced at order time.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ItemRecord {
    /// Position, from 1.
    pub line_no: i32,
    /// The product.
    pub product_id: ProductId,
    /// Its SKU then.
    pub sku: String,
    /// Its name then.
    pub name: String,
    /// Units.
    pub quantity: i32,
    /// Price per unit then.
    pub unit_amount: MinorUnits,
    /// Tax category.
    pub tax_code: String,
    /// Weight per unit.
    pub weight_grams: i32,
    /// Whether the price includes tax.
    pub price_includes_tax: bool,
    /// Where the price came from.
    pub price_source: PriceSource,
}

fn decode_error(err: impl std::error::Error + Send + Sync + 'static) -> DbError {
    DbError::Query(sqlx::Error::Decode(Box::new(err)))
}

/// Inserts an order and its lines (one multi-row insert).
pub async fn insert(
    tx: &mut Tx,
    store_id: StoreId,
    environment: Environment,
    order: &Order,
) -> Result<(), DbError> {
    const ORDER: &str = "INSERT INTO orders (id, store_id, environment, customer_id, status, currency, \
        shipping_address, revision, created_at, updated_at, settlement_currency, fx_rate, fx_source, \
        fx_as_of, fx_markup_bps, fx_rounding) \
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $9, $10, $11, $12, $13, $14, $15)";
    let columns = 11;
    let values: Vec<String> = (0..order.items.len())
        .map(|row| {
            let params: Vec<String> = (1..=columns)
                .map(|c| format!("${}", row * columns + c))
                .collect();
            format!("({})", params.join(", "))
        })
        .collect();
    let items_sql = format!(
        "INSERT INTO order_items (order_id, line_no, product_id, sku, name, quantity, unit_amount, \
         tax_code, weight_grams, price_includes_tax, price_source) VALUES {}",
        values.join(", ")
    );
    let address = serde_json::to_string(&order.shipping_address)
        .map_err(|e| DbError::Query(sqlx::Error::Encode(Box::new(e))))?;
    let lock = StoredLock::of(order.lock.as_ref());
    on_tx!(tx, conn => {
        sqlx::query(ORDER)
            .bind(order.id)
            .bind(store_id)
            .bind(environment)
            .bind(order.customer_id)
            .bind(order.status)
            .bind(order.currency)
            .bind(&address)
            .bind(order.revision)
            .bind(order.created_at)
            .bind(lock.settlement_currency)
            .bind(&lock.fx_rate)
            .bind(&lock.fx_source)
            .bind(lock.fx_as_of)
            .bind(lock.fx_markup_bps)
            .bind(lock.fx_rounding)
            .execute(&mut *conn)
            .await?;
        let mut query = sqlx::query(&items_sql);
        for item in &order.items {
            query = query
                .bind(order.id)
                .bind(item.line_no)
                .bind(item.product_id)
                .bind(&item.sku)
                .bind(&item.name)
                .bind(item.quantity)
                .bind(item.unit_amount)
                .bind(&item.tax_code)
                .bind(item.weight_grams)
                .bind(item.price_includes_tax)
                .bind(item.price_source);
        }
        query.execute(&mut *conn).await.map(|r| r.rows_affected())
    })?;
    Ok(())
}

const ORDER_COLUMNS: &str = "id, customer_id, status, currency, shipping_address, revision, \
    created_at, settlement_currency, fx_rate, fx_source, fx_as_of, fx_markup_bps, fx_rounding";

fn record(row: OrderRow) -> Result<OrderRecord, DbError> {
    Ok(OrderRecord {
        id: row.id,
        customer_id: row.customer_id,
        status: row.status,
        currency: row.currency,
        shipping_address: serde_json::from_str(&row.shipping_address).map_err(decode_error)?,
        revision: row.revision,
        created_at: row.created_at,
        lock: row
            .lock
            .lock()
            .map_err(|e| decode_error(std::io::Error::other(e)))?,
    })
}

/// Moves an order from `from` to `to` in `tx` (a payment's settlement): the order as it is
/// then, or `None` when it was not `from`.
pub async fn move_status(
    tx: &mut Tx,
    order_id: OrderId,
    from: OrderStatus,
    to: OrderStatus,
    at: DateTime<Utc>,
) -> Result<Option<OrderRecord>, DbError> {
    let sql = format!(
        "UPDATE orders SET status = $3, updated_at = $4 WHERE id = $1 AND status = $2 \
         RETURNING {ORDER_COLUMNS}"
    );
    let row: Option<OrderRow> = on_tx!(tx, conn => sqlx::query_as(&sql).bind(order_id)
        .bind(from).bind(to).bind(at).fetch_optional(&mut *conn).await)?;
    row.map(record).transpose()
}

/// An order's lines, in order, read in `tx`.
pub async fn items_in(tx: &mut Tx, order_id: OrderId) -> Result<Vec<ItemRecord>, DbError> {
    Ok(on_tx!(tx, conn => sqlx::query_as(ITEMS).bind(order_id).fetch_all(&mut *conn).await)?)
}

const ITEMS: &str = "SELECT line_no, product_id, sku, name, quantity, unit_amount, tax_code, \
    weight_grams, price_includes_tax, price_source FROM order_items WHERE order_id = $1 \
    ORDER BY line_no";

/// An order of a store and environment, without its lines.
pub async fn find(
    db: &Db,
    store_id: StoreId,
    environment: Environment,
    order_id: OrderId,
) -> Result<Option<OrderRecord>, DbError> {
    let sql = format!(
        "SELECT {ORDER_COLUMNS} FROM orders WHERE id = $1 AND store_id = $2 AND environment = $3"
    );
    let row: Option<OrderRow> = on_db!(db, pool => {
        sqlx::query_as(&sql).bind(order_id).bind(store_id).bind(environment)
            .fetch_optional(pool).await
    })?;
    row.map(record).transpose()
}

/// An order's lines, in order.
pub async fn items(db: &Db, order_id: OrderId) -> Result<Vec<ItemRecord>, DbError> {
    Ok(on_db!(db, pool => sqlx::query_as(ITEMS).bind(order_id).fetch_all(pool).await)?)
}

/// Up to `limit` orders of a store and environment after the page's cursor, oldest first, with
/// their amounts (one query).
pub async fn list(
    db: &Db,
    store_id: StoreId,
    environment: Environment,
    page: PageQuery,
    limit: i64,
) -> Result<Vec<OrderSummary>, DbError> {
    const SQL: &str = "SELECT o.id, o.customer_id, o.status, o.currency, \
        CAST(COALESCE((SELECT SUM(i.unit_amount * i.quantity) FROM order_items i WHERE i.order_id = o.id), 0) AS BIGINT) AS items_amount, \
        o.created_at FROM orders o WHERE o.store_id = $1 AND o.environment = $2 AND o.id > $3 \
        ORDER BY o.id LIMIT $4";
    Ok(on_db!(db, pool => {
        sqlx::query_as(SQL)
            .bind(store_id)
            .bind(environment)
            .bind(page.after())
            .bind(limit)
            .fetch_all(pool)
            .await
    })?)
}
