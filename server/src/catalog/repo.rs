//! `products`.

use crate::{
    catalog::Product,
    db::{Db, DbError},
    on_db,
    pagination::PageQuery,
    types::{Environment, ProductId, StoreId},
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
