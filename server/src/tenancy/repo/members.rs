//! `store_memberships`: who belongs to a store, with which role.

use chrono::{DateTime, Utc};

use crate::{
    db::{Db, DbError, Tx},
    identity::Role,
    on_db, on_tx,
    pagination::PageQuery,
    tenancy::Member,
    types::{StoreId, UserId},
};

const MEMBER: &str = "SELECT m.user_id, u.email, m.role, m.created_at FROM store_memberships m \
                      JOIN users u ON u.id = m.user_id WHERE m.store_id = $1 AND m.user_id = $2";

/// Makes a user a member of a store; `false` when they already are one.
pub async fn insert(
    db: &Db,
    store_id: StoreId,
    user_id: UserId,
    role: Role,
    now: DateTime<Utc>,
) -> Result<bool, DbError> {
    const SQL: &str = "INSERT INTO store_memberships (store_id, user_id, role, created_at) \
                       VALUES ($1, $2, $3, $4) ON CONFLICT (store_id, user_id) DO NOTHING";
    let inserted = on_db!(db, pool => {
        sqlx::query(SQL)
            .bind(store_id)
            .bind(user_id)
            .bind(role)
            .bind(now)
            .execute(pool)
            .await
            .map(|r| r.rows_affected())
    })?;
    Ok(inserted == 1)
}

/// One member of a store.
pub async fn find(db: &Db, store_id: StoreId, user_id: UserId) -> Result<Option<Member>, DbError> {
    Ok(on_db!(db, pool => {
        sqlx::query_as(MEMBER).bind(store_id).bind(user_id).fetch_optional(pool).await
    })?)
}

/// Up to `limit` members of a store after the page's cursor, by user id.
pub async fn list(
    db: &Db,
    store_id: StoreId,
    page: PageQuery,
    limit: i64,
) -> Result<Vec<Member>, DbError> {
    const SQL: &str = "SELECT m.user_id, u.email, m.role, m.created_at FROM store_memberships m \
                       JOIN users u ON u.id = m.user_id \
                       WHERE m.store_id = $1 AND m.user_id > $2 ORDER BY m.user_id LIMIT $3";
    Ok(on_db!(db, pool => {
        sqlx::query_as(SQL)
            .bind(store_id)
            .bind(page.after())
            .bind(limit)
            .fetch_all(pool)
            .await
    })?)
}

/// Locks the store's row for the rest of the transaction, so membership changes of one store
/// run one at a time (PostgreSQL; SQLite's write transaction already serializes them).
pub async fn lock_store(tx: &mut Tx, store_id: StoreId) -> Result<(), DbError> {
    let sql = format!(
        "SELECT id FROM stores WHERE id = $1{}",
        tx.lock_for_update_sql()
    );
    on_tx!(tx, conn => {
        sqlx::query(&sql).bind(store_id).fetch_optional(&mut *conn).await.map(|row| row.is_some())
    })?;
    Ok(())
}

/// One member of a store, inside the transaction.
pub async fn find_in(
    tx: &mut Tx,
    store_id: StoreId,
    user_id: UserId,
) -> Result<Option<Member>, DbError> {
    Ok(on_tx!(tx, conn => {
        sqlx::query_as(MEMBER).bind(store_id).bind(user_id).fetch_optional(&mut *conn).await
    })?)
}

/// How many owners a store has.
pub async fn count_owners(tx: &mut Tx, store_id: StoreId) -> Result<i64, DbError> {
    const SQL: &str = "SELECT COUNT(*) FROM store_memberships WHERE store_id = $1 AND role = $2";
    Ok(on_tx!(tx, conn => {
        sqlx::query_scalar(SQL).bind(store_id).bind(Role::Owner).fetch_one(&mut *conn).await
    })?)
}

/// Gives a member another role.
pub async fn set_role(
    tx: &mut Tx,
    store_id: StoreId,
    user_id: UserId,
    role: Role,
) -> Result<(), DbError> {
    const SQL: &str = "UPDATE store_memberships SET role = $3 WHERE store_id = $1 AND user_id = $2";
    on_tx!(tx, conn => {
        sqlx::query(SQL).bind(store_id).bind(user_id).bind(role).execute(&mut *conn).await.map(|r| r.rows_affected())
    })?;
    Ok(())
}

/// Removes a member from a store.
pub async fn delete(tx: &mut Tx, store_id: StoreId, user_id: UserId) -> Result<(), DbError> {
    const SQL: &str = "DELETE FROM store_memberships WHERE store_id = $1 AND user_id = $2";
    on_tx!(tx, conn => {
        sqlx::query(SQL).bind(store_id).bind(user_id).execute(&mut *conn).await.map(|r| r.rows_affected())
    })?;
    Ok(())
}
