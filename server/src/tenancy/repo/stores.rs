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
    const SQL: &str = "INSERT INTO stores (id, name, currency, timezone, created_at) \
                       VALUES ($1, $2, $3, $4, $5)";
    on_tx!(tx, conn => {
        sqlx::query(SQL)
            .bind(store.id)
            .bind(&store.name)
            .bind(store.currency)
            .bind(&store.timezone)
            .bind(store.created_at)
            .execute(&mut *conn)
            .await
            .map(|r| r.rows_affected())
    })?;
    Ok(())
}

/// One store by id.
pub async fn find(db: &Db, store_id: StoreId) -> Result<Option<Store>, DbError> {
    const SQL: &str = "SELECT id, name, currency, timezone, created_at FROM stores WHERE id = $1";
    Ok(on_db!(db, pool => sqlx::query_as(SQL).bind(store_id).fetch_optional(pool).await)?)
}

/// One store by id, inside a transaction that will change it. On PostgreSQL its row is locked
/// `FOR NO KEY UPDATE`: racing profile changes take turns, while the store's other writes,
/// whose foreign keys only take `KEY SHARE`, are never held up.
pub async fn find_in(tx: &mut Tx, store_id: StoreId) -> Result<Option<Store>, DbError> {
    let lock = match tx {
        Tx::Sqlite(_) => "",
        Tx::Postgres(_) => " FOR NO KEY UPDATE",
    };
    let sql =
        format!("SELECT id, name, currency, timezone, created_at FROM stores WHERE id = $1{lock}");
    Ok(on_tx!(tx, conn => sqlx::query_as(&sql).bind(store_id).fetch_optional(&mut *conn).await)?)
}

/// Up to `limit` stores after the page's cursor, oldest first.
pub async fn list(db: &Db, page: PageQuery, limit: i64) -> Result<Vec<Store>, DbError> {
    const SQL: &str = "SELECT id, name, currency, timezone, created_at FROM stores WHERE id > $1 ORDER BY id LIMIT $2";
    Ok(on_db!(db, pool => {
        sqlx::query_as(SQL)
            .bind(page.after())
            .bind(limit)
            .fetch_all(pool)
            .await
    })?)
}

/// Changes a store's name and time zone; whether the store exists.
pub async fn update_profile(
    tx: &mut Tx,
    store_id: StoreId,
    name: &str,
    timezone: &str,
) -> Result<bool, DbError> {
    const SQL: &str = "UPDATE stores SET name = $1, timezone = $2 WHERE id = $3";
    let changed = on_tx!(tx, conn => {
        sqlx::query(SQL)
            .bind(name)
            .bind(timezone)
            .bind(store_id)
            .execute(&mut *conn)
            .await
            .map(|r| r.rows_affected())
    })?;
    Ok(changed == 1)
}
