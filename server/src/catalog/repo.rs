//! `products`.

use chrono::{DateTime, Utc};

use crate::{
    catalog::{Price, Product},
    db::{Db, DbError, Tx, in_list, values},
    money::MinorUnits,
    on_db, on_tx,
    pagination::PageQuery,
    types::{Currency, Environment, ProductId, StoreId},
};

const COLUMNS: &str = "id, sku, name, unit_amount, currency, tax_code, weight_grams, \
                       length_mm, width_mm, height_mm, price_includes_tax, created_at";

/// Inserts a product; `false` when the store and environment already have its SKU.
pub async fn insert(
    db: &Db,
    store: StoreId,
    env: Environment,
    product: &Product,
) -> Result<bool, DbError> {
    const SQL: &str = "INSERT INTO products (id, store_id, environment, sku, name, unit_amount, \
        currency, tax_code, weight_grams, price_includes_tax, created_at, length_mm, width_mm, \
        height_mm) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14) \
        ON CONFLICT (store_id, environment, sku) DO NOTHING";
    let inserted = on_db!(db, pool => {
        sqlx::query(SQL)
            .bind(product.id)
            .bind(store)
            .bind(env)
            .bind(&product.sku)
            .bind(&product.name)
            .bind(product.unit_amount)
            .bind(product.currency)
            .bind(&product.tax_code)
            .bind(product.weight_grams)
            .bind(product.price_includes_tax)
            .bind(product.created_at)
            .bind(product.length_mm)
            .bind(product.width_mm)
            .bind(product.height_mm)
            .execute(pool)
            .await
            .map(|r| r.rows_affected())
    })?;
    Ok(inserted == 1)
}

/// Up to `limit` products of a store and environment after the page's cursor, oldest first.
pub async fn list(
    db: &Db,
    store: StoreId,
    env: Environment,
    page: PageQuery,
    limit: i64,
) -> Result<Vec<Product>, DbError> {
    let sql = format!(
        "SELECT {COLUMNS} FROM products WHERE store_id = $1 AND environment = $2 AND id > $3 \
         ORDER BY id LIMIT $4"
    );
    Ok(on_db!(db, pool => {
        sqlx::query_as(&sql)
            .bind(store)
            .bind(env)
            .bind(page.after())
            .bind(limit)
            .fetch_all(pool)
            .await
    })?)
}

/// Products of a store and environment by id; missing ids are simply absent.
pub async fn find_many(
    db: &Db,
    store: StoreId,
    env: Environment,
    ids: &[ProductId],
) -> Result<Vec<Product>, DbError> {
    // One query per distinct id set would need a dialect-specific array bind; ids per order are
    // few, so a bounded IN list built from placeholders keeps one portable round trip.
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let placeholders: Vec<String> = (0..ids.len()).map(|i| format!("${}", i + 3)).collect();
    let sql = format!(
        "SELECT {COLUMNS} FROM products WHERE store_id = $1 AND environment = $2 AND id IN ({})",
        placeholders.join(", ")
    );
    Ok(on_db!(db, pool => {
        let mut query = sqlx::query_as(&sql).bind(store).bind(env);
        for id in ids {
            query = query.bind(*id);
        }
        query.fetch_all(pool).await
    })?)
}

/// A `product_prices` row.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct PriceRow {
    pub product_id: ProductId,
    pub currency: Currency,
    pub unit_amount: MinorUnits,
}

/// The explicit prices of the products (in `currency` only, when given). The ids come from
/// one store's products (an order's lines, a page), so the list stays short.
pub async fn prices(
    db: &Db,
    ids: &[ProductId],
    currency: Option<Currency>,
) -> Result<Vec<PriceRow>, DbError> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let sql = format!(
        "SELECT product_id, currency, unit_amount FROM product_prices \
         WHERE ($1 IS NULL OR currency = $1) AND product_id IN ({}) \
         ORDER BY product_id, currency",
        in_list(ids.len(), 2)
    );
    Ok(on_db!(db, pool => {
        let mut query = sqlx::query_as(&sql).persistent(false).bind(currency);
        for id in ids {
            query = query.bind(*id);
        }
        query.fetch_all(pool).await
    })?)
}

/// Replaces a product's price list.
pub async fn put_prices(
    tx: &mut Tx,
    id: ProductId,
    prices: &[Price],
    now: DateTime<Utc>,
) -> Result<(), DbError> {
    const DELETE: &str = "DELETE FROM product_prices WHERE product_id = $1";
    on_tx!(tx, conn => sqlx::query(DELETE).bind(id).execute(&mut *conn).await.map(|_| ()))?;
    if prices.is_empty() {
        return Ok(());
    }
    let sql = format!(
        "INSERT INTO product_prices (product_id, currency, unit_amount, updated_at) VALUES {}",
        values(prices.len(), 4, 1)
    );
    on_tx!(tx, conn => {
        let mut q = sqlx::query(&sql).persistent(false);
        for p in prices {
            q = q.bind(id).bind(p.currency).bind(p.unit_amount).bind(now);
        }
        q.execute(&mut *conn).await.map(|_| ())
    })?;
    Ok(())
}
