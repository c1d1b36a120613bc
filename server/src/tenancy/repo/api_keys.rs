//! `api_keys`: store secret keys, stored as hashes.

use chrono::{DateTime, Utc};

use crate::{
    db::{Db, DbError, Tx},
    on_db, on_tx,
    pagination::PageQuery,
    tenancy::ApiKey,
    types::{ApiKeyId, Environment, StoreId},
};

const COLUMNS: &str = "id, name, environment, display_hint, created_at, last_used_at, revoked_at";

/// A key to insert: everything but the secret itself.
#[derive(Debug, Clone, Copy)]
pub struct NewKey<'a> {
    /// Key id.
    pub id: ApiKeyId,
    /// Its store.
    pub store_id: StoreId,
    /// Its environment.
    pub environment: Environment,
    /// Label.
    pub name: &'a str,
    /// SHA-256 of the secret.
    pub hash: &'a [u8],
    /// Masked form for listings.
    pub display_hint: &'a str,
    /// Creation time.
    pub created_at: DateTime<Utc>,
}

/// Inserts a key.
pub async fn insert(tx: &mut Tx, key: NewKey<'_>) -> Result<(), DbError> {
    const SQL: &str = "INSERT INTO api_keys \
        (id, store_id, environment, name, key_hash, display_hint, created_at) \
        VALUES ($1, $2, $3, $4, $5, $6, $7)";
    on_tx!(tx, conn => {
        sqlx::query(SQL)
            .bind(key.id)
            .bind(key.store_id)
            .bind(key.environment)
            .bind(key.name)
            .bind(key.hash)
            .bind(key.display_hint)
            .bind(key.created_at)
            .execute(&mut *conn)
            .await
            .map(|r| r.rows_affected())
    })?;
    Ok(())
}

/// Up to `limit` keys of a store and environment after the page's cursor, oldest first.
pub async fn list(
    db: &Db,
    store_id: StoreId,
    environment: Environment,
    page: PageQuery,
    limit: i64,
) -> Result<Vec<ApiKey>, DbError> {
    let sql = format!(
        "SELECT {COLUMNS} FROM api_keys \
         WHERE store_id = $1 AND environment = $2 AND id > $3 ORDER BY id LIMIT $4"
    );
    Ok(on_db!(db, pool => {
        sqlx::query_as(&sql)
            .bind(store_id)
            .bind(environment)
            .bind(page.after())
            .bind(limit)
            .fetch_all(pool)
            .await
    })?)
}

/// Revokes a key of a store and environment (keeping the first revocation time); `None` when
/// there is no such key there.
pub async fn revoke(
    db: &Db,
    store_id: StoreId,
    environment: Environment,
    key_id: ApiKeyId,
    now: DateTime<Utc>,
) -> Result<Option<ApiKey>, DbError> {
    let sql = format!(
        "UPDATE api_keys SET revoked_at = COALESCE(revoked_at, $4) \
         WHERE id = $1 AND store_id = $2 AND environment = $3 RETURNING {COLUMNS}"
    );
    Ok(on_db!(db, pool => {
        sqlx::query_as(&sql)
            .bind(key_id)
            .bind(store_id)
            .bind(environment)
            .bind(now)
            .fetch_optional(pool)
            .await
    })?)
}
