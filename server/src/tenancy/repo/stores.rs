//! `stores`, and the rows store creation writes with it.

use crate::{
    db::{Db, DbError, Tx},
    on_db, on_tx,
    pagination::PageQuery,
    tenancy::Store,
    types::StoreId,
};

/// Inserts a store.
pub async fn insert(tx: &mut Tx, store: &Store) -> Result<(), DbError> {
    const SQL: &str = "INSERT INTO stores (id, name, currency, created_at) VALUES ($1, $2, $3, $4)";
    on_tx!(tx, conn => {
        sqlx::query(SQL)
            .bind(store.id)
            .bind(&store.name)
            .bind(store.currency)
            .bind(store.created_at)
            .execute(&mut *conn)
            .await
            .map(|r| r.rows_affected())
    })?;
    Ok(())
}

/// One store by id.
pub async fn find(db: &Db, store_id: StoreId) -> Result<Option<Store>, DbError> {
    const SQL: &str = "SELECT id, name, currency, created_at FROM stores WHERE id = $1";
    Ok(on_db!(db, pool => sqlx::query_as(SQL).bind(store_id).fetch_optional(pool).await)?)
}

/// Up to `limit` stores after the page's cursor, oldest first.
pub async fn list(db: &Db, page: PageQuery, limit: i64) -> Result<Vec<Store>, DbError> {
    const SQL: &str =
        "SELECT id, name, currency, created_at FROM stores WHERE id > $1 ORDER BY id LIMIT $2";
    Ok(on_db!(db, pool => {
        sqlx::query_as(SQL)
            .bind(page.after())
            .bind(limit)
            .fetch_all(pool)
            .await
    })?)
}
