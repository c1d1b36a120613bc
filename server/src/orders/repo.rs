//! `orders` and `order_items`.

use chrono::{DateTime, Utc};

use super::{Order, OrderFilter, OrderStatus, OrderSummary, PriceSource, Search};
use crate::{
    address::Address,
    db::{Db, DbError, Tx},
    fx::{Lock, StoredLock},
    money::MinorUnits,
    on_db, on_tx,
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
        fx_as_of, fx_markup_bps, fx_rounding, items_amount, item_count) \
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $9, $10, $11, $12, $13, $14, $15, $16, $17)";
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
    // Lines never change after this insert, so their totals are kept on the order for the
    // list's amount filter and index.
    let item_count: i64 = order.items.iter().map(|i| i64::from(i.quantity)).sum();
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
            .bind(order.items_amount)
            .bind(item_count)
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

/// An order row with one of its lines (none: an order without lines, which the outer join
/// still returns).
#[derive(sqlx::FromRow)]
struct OrderItemRow {
    #[sqlx(flatten)]
    order: OrderRow,
    line_no: Option<i32>,
    product_id: Option<ProductId>,
    sku: Option<String>,
    name: Option<String>,
    quantity: Option<i32>,
    unit_amount: Option<MinorUnits>,
    tax_code: Option<String>,
    weight_grams: Option<i32>,
    price_includes_tax: Option<bool>,
    price_source: Option<PriceSource>,
}

impl OrderItemRow {
    fn item(&self) -> Result<Option<ItemRecord>, DbError> {
        let Some(line_no) = self.line_no else {
            return Ok(None);
        };
        let missing = || decode_error(std::io::Error::other("order line with a null column"));
        Ok(Some(ItemRecord {
            line_no,
            product_id: self.product_id.ok_or_else(missing)?,
            sku: self.sku.clone().ok_or_else(missing)?,
            name: self.name.clone().ok_or_else(missing)?,
            quantity: self.quantity.ok_or_else(missing)?,
            unit_amount: self.unit_amount.ok_or_else(missing)?,
            tax_code: self.tax_code.clone().ok_or_else(missing)?,
            weight_grams: self.weight_grams.ok_or_else(missing)?,
            price_includes_tax: self.price_includes_tax.ok_or_else(missing)?,
            price_source: self.price_source.ok_or_else(missing)?,
        }))
    }
}

/// The lines' columns beside an order's in one row (`o` and `i`): the order's columns repeat
/// on each of its lines.
fn with_items(from: &str) -> String {
    let order: Vec<String> = ORDER_COLUMNS
        .split(',')
        .map(|c| format!("o.{}", c.trim()))
        .collect();
    format!(
        "SELECT {}, i.line_no, i.product_id, i.sku, i.name, i.quantity, i.unit_amount, \
         i.tax_code, i.weight_grams, i.price_includes_tax, i.price_source \
         FROM {from} LEFT JOIN order_items i ON i.order_id = o.id",
        order.join(", ")
    )
}

/// An order and its lines from rows of [`with_items`] (`None`: no row).
fn assemble(rows: Vec<OrderItemRow>) -> Result<Option<(OrderRecord, Vec<ItemRecord>)>, DbError> {
    let items = rows
        .iter()
        .filter_map(|row| row.item().transpose())
        .collect::<Result<Vec<_>, _>>()?;
    let Some(first) = rows.into_iter().next() else {
        return Ok(None);
    };
    Ok(Some((record(first.order)?, items)))
}

/// [`find`] and [`items_in`] in one statement.
static FIND_WITH_ITEMS: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
    format!(
        "{} WHERE o.id = $1 AND o.store_id = $2 AND o.environment = $3 ORDER BY i.line_no",
        with_items("orders o")
    )
});

/// An order of a store and environment and its lines, in order, read in one round trip.
pub async fn find_with_items(
    db: &Db,
    store_id: StoreId,
    environment: Environment,
    order_id: OrderId,
) -> Result<Option<(OrderRecord, Vec<ItemRecord>)>, DbError> {
    let rows: Vec<OrderItemRow> = on_db!(db, pool => {
        sqlx::query_as(FIND_WITH_ITEMS.as_str()).bind(order_id).bind(store_id).bind(environment)
            .fetch_all(pool).await
    })?;
    assemble(rows)
}

/// [`move_status`] and [`items_in`] in one statement (PostgreSQL).
static MOVE_WITH_ITEMS: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
    format!(
        "WITH o AS (UPDATE orders SET status = $3, updated_at = $4 \
         WHERE id = $1 AND status = $2 RETURNING {ORDER_COLUMNS}) {} ORDER BY i.line_no",
        with_items("o")
    )
});

/// [`move_status`] with the order's lines, for the order the move announces: one round trip
/// on PostgreSQL, two on SQLite (which has no `UPDATE` in a `WITH`).
pub async fn move_status_with_items(
    tx: &mut Tx,
    order_id: OrderId,
    from: OrderStatus,
    to: OrderStatus,
    at: DateTime<Utc>,
) -> Result<Option<(OrderRecord, Vec<ItemRecord>)>, DbError> {
    if let Tx::Postgres(conn) = tx {
        let rows: Vec<OrderItemRow> = sqlx::query_as(MOVE_WITH_ITEMS.as_str())
            .bind(order_id)
            .bind(from)
            .bind(to)
            .bind(at)
            .fetch_all(&mut **conn)
            .await?;
        return assemble(rows);
    }
    let Some(order) = move_status(tx, order_id, from, to, at).await? else {
        return Ok(None);
    };
    let items = items_in(tx, order.id).await?;
    Ok(Some((order, items)))
}

/// Where a page of [`search`] starts and which way it runs.
#[derive(Debug, Clone, Copy)]
pub struct Keyset {
    /// The last order of the previous page (`None`: the first page).
    pub after: Option<OrderId>,
    /// Newest first (the console) or oldest first (the API's order).
    pub newest_first: bool,
    /// Rows to return at most.
    pub limit: i64,
}

/// Numbers SQL parameters in the order they are bound.
struct Params(usize);

impl Params {
    fn next(&mut self) -> usize {
        self.0 += 1;
        self.0
    }
}

/// The list query for `filter` and `keyset`: only the conditions asked for are written, so
/// each filter can use its own index (`($n IS NULL OR …)` would keep planners from it).
/// Parameters `$1` and `$2` are the store and environment; the rest follow in the order
/// [`search`] binds them.
fn search_sql(filter: &OrderFilter, keyset: &Keyset) -> String {
    let mut p = Params(2);
    // A search by email starts from the few customers with that email
    // (customers_store_email), then their orders (orders_store_customer): `CROSS JOIN` keeps
    // SQLite to that order, where it would otherwise walk every order of the store by id to
    // skip the sort. PostgreSQL's planner treats it as a plain join.
    let from = match filter.search {
        Some(Search::Email(_)) => "FROM customers c CROSS JOIN orders o WHERE o.customer_id = c.id",
        _ => "FROM orders o JOIN customers c ON c.id = o.customer_id WHERE TRUE",
    };
    let mut sql = format!(
        "SELECT o.id, o.customer_id, c.email AS customer_email, o.status, o.currency, \
         o.items_amount, o.item_count, o.created_at {from} \
         AND o.store_id = $1 AND o.environment = $2"
    );
    let (cmp, dir) = if keyset.newest_first {
        ("<", "DESC")
    } else {
        (">", "ASC")
    };
    if keyset.after.is_some() {
        sql.push_str(&format!(" AND o.id {cmp} ${}", p.next()));
    }
    if filter.status.is_some() {
        sql.push_str(&format!(" AND o.status = ${}", p.next()));
    }
    if filter.created_from.is_some() {
        sql.push_str(&format!(" AND o.created_at >= ${}", p.next()));
    }
    if filter.created_before.is_some() {
        sql.push_str(&format!(" AND o.created_at < ${}", p.next()));
    }
    if filter.customer_id.is_some() {
        sql.push_str(&format!(" AND o.customer_id = ${}", p.next()));
    }
    if filter.currency.is_some() {
        sql.push_str(&format!(" AND o.currency = ${}", p.next()));
    }
    if filter.min_amount.is_some() {
        sql.push_str(&format!(" AND o.items_amount >= ${}", p.next()));
    }
    if filter.max_amount.is_some() {
        sql.push_str(&format!(" AND o.items_amount <= ${}", p.next()));
    }
    match filter.search {
        None => {}
        Some(Search::OrderId(_)) => sql.push_str(&format!(" AND o.id = ${}", p.next())),
        Some(Search::Email(_)) => sql.push_str(&format!(
            " AND c.store_id = $1 AND c.environment = $2 AND c.email = ${}",
            p.next()
        )),
    }
    sql.push_str(&format!(" ORDER BY o.id {dir} LIMIT ${}", p.next()));
    sql
}

/// Up to `keyset.limit` orders of a store and environment matching `filter`, after the
/// keyset's cursor, each with its customer's email (one query, whatever the page size).
pub async fn search(
    db: &Db,
    store_id: StoreId,
    environment: Environment,
    filter: &OrderFilter,
    keyset: &Keyset,
) -> Result<Vec<OrderSummary>, DbError> {
    let sql = search_sql(filter, keyset);
    let search_id = match &filter.search {
        Some(Search::OrderId(id)) => Some(*id),
        _ => None,
    };
    let search_email = match &filter.search {
        Some(Search::Email(email)) => Some(email.as_str()),
        _ => None,
    };
    // Binds in `search_sql`'s order; a `None` was not written into the SQL.
    Ok(on_db!(db, pool => {
        let mut query = sqlx::query_as(&sql).bind(store_id).bind(environment);
        if let Some(after) = keyset.after {
            query = query.bind(after);
        }
        if let Some(status) = filter.status {
            query = query.bind(status);
        }
        if let Some(from) = filter.created_from {
            query = query.bind(from);
        }
        if let Some(before) = filter.created_before {
            query = query.bind(before);
        }
        if let Some(customer) = filter.customer_id {
            query = query.bind(customer);
        }
        if let Some(currency) = filter.currency {
            query = query.bind(currency);
        }
        if let Some(min) = filter.min_amount {
            query = query.bind(min);
        }
        if let Some(max) = filter.max_amount {
            query = query.bind(max);
        }
        if let Some(id) = search_id {
            query = query.bind(id);
        }
        if let Some(email) = search_email {
            query = query.bind(email);
        }
        query.bind(keyset.limit).fetch_all(pool).await
    })?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_filters_asked_for_are_written_and_numbered_in_bind_order() {
        let keyset = Keyset {
            after: None,
            newest_first: true,
            limit: 10,
        };
        let none = search_sql(&OrderFilter::default(), &keyset);
        assert!(none.ends_with(
            "WHERE TRUE AND o.store_id = $1 AND o.environment = $2 ORDER BY o.id DESC LIMIT $3"
        ));
        let filter = OrderFilter {
            status: Some(OrderStatus::Paid),
            min_amount: Some(MinorUnits(100)),
            search: Some(Search::Email("a@b.example".to_owned())),
            ..OrderFilter::default()
        };
        let keyset = Keyset {
            after: Some(OrderId::new()),
            newest_first: false,
            ..keyset
        };
        let sql = search_sql(&filter, &keyset);
        assert!(sql.contains("o.id > $3 AND o.status = $4 AND o.items_amount >= $5"));
        assert!(sql.contains("FROM customers c CROSS JOIN orders o"));
        assert!(sql.contains("AND c.email = $6 ORDER BY"));
        assert!(sql.ends_with("ORDER BY o.id ASC LIMIT $7"));
    }

    /// The filters that pick few rows by equality use their own index on SQLite whatever the
    /// data (the ranges are left to the planner: walking the store's orders by id skips a
    /// sort, which wins when a range holds many).
    #[tokio::test]
    async fn equality_filters_use_their_index_on_sqlite() {
        use crate::config::DatabaseConfig;

        let dir = std::env::temp_dir().join(format!("cassa-orders-plan-{}", uuid::Uuid::now_v7()));
        let url = format!("sqlite://{}", dir.join("plan.db").display());
        let db = Db::connect(&DatabaseConfig::from_url(url).expect("url"))
            .await
            .expect("connect");
        db.migrate().await.expect("migrate");
        let keyset = Keyset {
            after: Some(OrderId::new()),
            newest_first: true,
            limit: 51,
        };
        let cases = [
            (
                OrderFilter {
                    status: Some(OrderStatus::Open),
                    ..OrderFilter::default()
                },
                "orders_store_status",
            ),
            (
                OrderFilter {
                    customer_id: Some(CustomerId::new()),
                    ..OrderFilter::default()
                },
                "orders_store_customer",
            ),
            (
                OrderFilter {
                    search: Some(Search::Email("a@b.example".to_owned())),
                    ..OrderFilter::default()
                },
                "customers_store_email",
            ),
        ];
        for (filter, index) in cases {
            let sql = format!("EXPLAIN QUERY PLAN {}", search_sql(&filter, &keyset));
            let Db::Sqlite(pool) = &db else {
                unreachable!("a SQLite URL")
            };
            // Unbound parameters are NULL: the plan does not depend on their values.
            let plan: Vec<(i64, i64, i64, String)> =
                sqlx::query_as(&sql).fetch_all(pool).await.expect("plan");
            let text: Vec<&str> = plan.iter().map(|row| row.3.as_str()).collect();
            assert!(
                text.iter().any(|line| line.contains(index)),
                "{index} unused: {text:?}"
            );
        }
        drop(db);
        let _ = std::fs::remove_dir_all(dir);
    }
}
