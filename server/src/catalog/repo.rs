//! `products`.

use chrono::{DateTime, Utc};

use crate::{
    catalog::{ArchivedFilter, Price, Product},
    db::{Db, DbError, Tx, contains_pattern, in_list, unless_duplicate, values},
    money::MinorUnits,
    on_db, on_tx,
    pagination::PageQuery,
    types::{Currency, Environment, ProductId, StoreId},
};

const COLUMNS: &str = "id, sku, name, unit_amount, currency, tax_code, weight_grams, \
                       length_mm, width_mm, height_mm, price_includes_tax, created_at, archived_at";

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

/// Up to `limit` products of a store and environment after the page's cursor, oldest first,
/// in the archived state asked for and, with `search`, whose name or SKU contains it
/// (case-insensitive).
pub async fn list(
    db: &Db,
    store: StoreId,
    env: Environment,
    filter: ArchivedFilter,
    search: Option<&str>,
    page: PageQuery,
    limit: i64,
) -> Result<Vec<Product>, DbError> {
    // A literal condition per filter (not a bound flag) so the planner can use the matching
    // partial index of migration 0037.
    let archived = match filter {
        ArchivedFilter::Active => " AND archived_at IS NULL",
        ArchivedFilter::Archived => " AND archived_at IS NOT NULL",
        ArchivedFilter::All => "",
    };
    let searched = if search.is_some() {
        " AND (lower(name) LIKE $5 ESCAPE '\\' OR lower(sku) LIKE $5 ESCAPE '\\')"
    } else {
        ""
    };
    let sql = format!(
        "SELECT {COLUMNS} FROM products WHERE store_id = $1 AND environment = $2 AND id > $3\
         {archived}{searched} ORDER BY id LIMIT $4"
    );
    let pattern = search.map(contains_pattern);
    Ok(on_db!(db, pool => {
        let mut query = sqlx::query_as(&sql)
            .persistent(false)
            .bind(store)
            .bind(env)
            .bind(page.after())
            .bind(limit);
        if let Some(pattern) = &pattern {
            query = query.bind(pattern);
        }
        query.fetch_all(pool).await
    })?)
}

/// Writes a product's changeable fields; `false` when its new SKU is another product's.
pub async fn update(
    tx: &mut Tx,
    store: StoreId,
    env: Environment,
    product: &Product,
) -> Result<bool, DbError> {
    const SQL: &str = "UPDATE products SET sku = $4, name = $5, unit_amount = $6, tax_code = $7, \
        weight_grams = $8, length_mm = $9, width_mm = $10, height_mm = $11, \
        price_includes_tax = $12, archived_at = $13 \
        WHERE id = $1 AND store_id = $2 AND environment = $3";
    let result = on_tx!(tx, conn => {
        sqlx::query(SQL)
            .bind(product.id)
            .bind(store)
            .bind(env)
            .bind(&product.sku)
            .bind(&product.name)
            .bind(product.unit_amount)
            .bind(&product.tax_code)
            .bind(product.weight_grams)
            .bind(product.length_mm)
            .bind(product.width_mm)
            .bind(product.height_mm)
            .bind(product.price_includes_tax)
            .bind(product.archived_at)
            .execute(&mut *conn)
            .await
            .map(|_| ())
    });
    // A duplicate is the (store_id, environment, sku) key: another product has the SKU.
    Ok(unless_duplicate(result)?.is_some())
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

/// One product of a store and environment, read inside the transaction that changes it. On
/// PostgreSQL its row is locked `FOR NO KEY UPDATE`: racing changes take turns (each applies to
/// what the one before wrote), while orders, whose foreign keys only take `KEY SHARE`, are not
/// held up; SQLite's write transactions already run one at a time.
pub async fn find_for_update(
    tx: &mut Tx,
    store: StoreId,
    env: Environment,
    id: ProductId,
) -> Result<Option<Product>, DbError> {
    let sql = format!(
        "SELECT {COLUMNS} FROM products WHERE id = $1 AND store_id = $2 AND environment = $3{}",
        match tx {
            Tx::Sqlite(_) => "",
            Tx::Postgres(_) => " FOR NO KEY UPDATE",
        }
    );
    Ok(on_tx!(tx, conn => {
        sqlx::query_as(&sql).bind(id).bind(store).bind(env).fetch_optional(&mut *conn).await
    })?)
}

/// Of `ids`, those archived, read inside the transaction that writes an order of them. On
/// PostgreSQL every one of the rows is share-locked: an archive committed first is seen, and one
/// that comes later waits for the order to commit, so no order is written for a product
/// archived before it (SQLite's write transactions run one at a time, which gives the same).
pub async fn archived_in(tx: &mut Tx, ids: &[ProductId]) -> Result<Vec<ProductId>, DbError> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let sql = format!(
        "SELECT id, archived_at FROM products WHERE id IN ({}){}",
        in_list(ids.len(), 1),
        match tx {
            Tx::Sqlite(_) => "",
            Tx::Postgres(_) => " FOR SHARE",
        }
    );
    let rows: Vec<(ProductId, Option<DateTime<Utc>>)> = on_tx!(tx, conn => {
        let mut query = sqlx::query_as(&sql).persistent(false);
        for id in ids {
            query = query.bind(*id);
        }
        query.fetch_all(&mut *conn).await
    })?;
    Ok(rows
        .into_iter()
        .filter(|(_, archived_at)| archived_at.is_some())
        .map(|(id, _)| id)
        .collect())
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
