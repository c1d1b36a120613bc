//! What authentication reads and writes: bearer tokens and keys by hash, memberships, users by
//! email, the sign-in backoff and password changes.

use chrono::{DateTime, Utc};

use super::throttle::Backoff;
use crate::{
    db::{Db, DbError, Tx},
    identity::Role,
    on_db, on_tx,
    types::{ApiKeyId, CustomerId, Environment, StoreId, UserId},
};

/// A live console user token.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct UserTokenRow {
    /// The user.
    pub user_id: UserId,
    /// Whether they administer the platform.
    pub is_platform_admin: bool,
    /// Whether they must choose a new password first.
    pub must_change_password: bool,
    /// When the token stops working.
    pub expires_at: DateTime<Utc>,
}

/// The user behind an unexpired token hash.
pub async fn find_user_token(
    db: &Db,
    hash: &[u8],
    now: DateTime<Utc>,
) -> Result<Option<UserTokenRow>, DbError> {
    const SQL: &str = "SELECT u.id AS user_id, u.is_platform_admin, u.must_change_password, \
                       t.expires_at FROM user_tokens t \
                       JOIN users u ON u.id = t.user_id \
                       WHERE t.token_hash = $1 AND t.expires_at > $2";
    Ok(on_db!(db, pool => {
        sqlx::query_as(SQL).bind(hash).bind(now).fetch_optional(pool).await
    })?)
}

/// A live customer token.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct CustomerTokenRow {
    /// The customer's store.
    pub store_id: StoreId,
    /// The customer's environment.
    pub environment: Environment,
    /// The customer.
    pub customer_id: CustomerId,
    /// When the token stops working.
    pub expires_at: DateTime<Utc>,
}

/// The customer behind an unexpired token hash.
pub async fn find_customer_token(
    db: &Db,
    hash: &[u8],
    now: DateTime<Utc>,
) -> Result<Option<CustomerTokenRow>, DbError> {
    const SQL: &str = "SELECT store_id, environment, customer_id, expires_at \
                       FROM customer_tokens WHERE token_hash = $1 AND expires_at > $2";
    Ok(on_db!(db, pool => {
        sqlx::query_as(SQL).bind(hash).bind(now).fetch_optional(pool).await
    })?)
}

/// An unrevoked store secret key.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ApiKeyRow {
    /// The key.
    pub id: ApiKeyId,
    /// Its store.
    pub store_id: StoreId,
    /// Its environment.
    pub environment: Environment,
    /// Last recorded use.
    pub last_used_at: Option<DateTime<Utc>>,
}

/// The unrevoked key with this secret hash.
pub async fn find_api_key(db: &Db, hash: &[u8]) -> Result<Option<ApiKeyRow>, DbError> {
    const SQL: &str = "SELECT id, store_id, environment, last_used_at FROM api_keys \
                       WHERE key_hash = $1 AND revoked_at IS NULL";
    Ok(on_db!(db, pool => sqlx::query_as(SQL).bind(hash).fetch_optional(pool).await)?)
}

/// Records a use of a key.
pub async fn touch_api_key(db: &Db, key_id: ApiKeyId, now: DateTime<Utc>) -> Result<(), DbError> {
    const SQL: &str = "UPDATE api_keys SET last_used_at = $2 WHERE id = $1";
    on_db!(db, pool => sqlx::query(SQL).bind(key_id).bind(now).execute(pool).await.map(|r| r.rows_affected()))?;
    Ok(())
}

/// A store as seen by one user: `None` when the store does not exist, `Some(None)` when the
/// user is not a member.
pub async fn membership_role(
    db: &Db,
    store_id: StoreId,
    user_id: UserId,
) -> Result<Option<Option<Role>>, DbError> {
    const SQL: &str = "SELECT m.role FROM stores s \
                       LEFT JOIN store_memberships m ON m.store_id = s.id AND m.user_id = $2 \
                       WHERE s.id = $1";
    let row: Option<(Option<Role>,)> = on_db!(db, pool => {
        sqlx::query_as(SQL).bind(store_id).bind(user_id).fetch_optional(pool).await
    })?;
    Ok(row.map(|(role,)| role))
}

/// A console user as sign-in needs them.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct UserRow {
    /// The user.
    pub id: UserId,
    /// Their argon2 hash.
    pub password_hash: String,
    /// Whether they administer the platform.
    pub is_platform_admin: bool,
    /// Whether they must choose a new password first.
    pub must_change_password: bool,
}

/// The user with this (normalized) email.
pub async fn find_user_by_email(db: &Db, email: &str) -> Result<Option<UserRow>, DbError> {
    const SQL: &str = "SELECT id, password_hash, is_platform_admin, must_change_password \
                       FROM users WHERE email = $1";
    Ok(on_db!(db, pool => sqlx::query_as(SQL).bind(email).fetch_optional(pool).await)?)
}

/// A user's email.
pub async fn find_email(db: &Db, user_id: UserId) -> Result<Option<String>, DbError> {
    const SQL: &str = "SELECT email FROM users WHERE id = $1";
    Ok(on_db!(db, pool => sqlx::query_scalar(SQL).bind(user_id).fetch_optional(pool).await)?)
}

/// An account's sign-in backoff, if it has one.
pub async fn find_backoff(db: &Db, account: &str) -> Result<Option<Backoff>, DbError> {
    const SQL: &str =
        "SELECT failures, next_attempt_at FROM sign_in_backoff WHERE account_key = $1";
    let row: Option<(i32, DateTime<Utc>)> = on_db!(db, pool => {
        sqlx::query_as(SQL).bind(account).fetch_optional(pool).await
    })?;
    Ok(row.map(|(failures, at)| Backoff {
        failures,
        next_attempt_at: Some(at),
    }))
}

/// Stores the first backoff of an account; `false` when a concurrent attempt stored one first.
pub async fn insert_backoff(
    db: &Db,
    account: &str,
    next: Backoff,
    next_at: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<bool, DbError> {
    const SQL: &str = "INSERT INTO sign_in_backoff (account_key, failures, next_attempt_at, updated_at) \
                       VALUES ($1, $2, $3, $4) ON CONFLICT (account_key) DO NOTHING";
    let written = on_db!(db, pool => {
        sqlx::query(SQL).bind(account).bind(next.failures).bind(next_at).bind(now)
            .execute(pool).await.map(|r| r.rows_affected())
    })?;
    Ok(written == 1)
}

/// Replaces an account's backoff if it still counts `seen` failures (compare-and-set);
/// `false` when a concurrent attempt changed it first.
pub async fn update_backoff(
    db: &Db,
    account: &str,
    seen: i32,
    next: Backoff,
    next_at: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<bool, DbError> {
    const SQL: &str = "UPDATE sign_in_backoff SET failures = $2, next_attempt_at = $3, updated_at = $4 \
                       WHERE account_key = $1 AND failures = $5";
    let written = on_db!(db, pool => {
        sqlx::query(SQL).bind(account).bind(next.failures).bind(next_at).bind(now).bind(seen)
            .execute(pool).await.map(|r| r.rows_affected())
    })?;
    Ok(written == 1)
}

/// Forgets an account's backoff.
pub async fn clear_backoff(db: &Db, account: &str) -> Result<(), DbError> {
    const SQL: &str = "DELETE FROM sign_in_backoff WHERE account_key = $1";
    on_db!(db, pool => {
        sqlx::query(SQL).bind(account).execute(pool).await.map(|r| r.rows_affected())
    })?;
    Ok(())
}

/// Stores a user token's hash.
pub async fn insert_user_token(
    db: &Db,
    hash: &[u8],
    user_id: UserId,
    now: DateTime<Utc>,
    expires_at: DateTime<Utc>,
) -> Result<(), DbError> {
    const SQL: &str = "INSERT INTO user_tokens (token_hash, user_id, created_at, expires_at) \
                       VALUES ($1, $2, $3, $4)";
    on_db!(db, pool => {
        sqlx::query(SQL)
            .bind(hash)
            .bind(user_id)
            .bind(now)
            .bind(expires_at)
            .execute(pool)
            .await
            .map(|r| r.rows_affected())
    })?;
    Ok(())
}

/// Sets a user's password hash, clears `must_change_password` and the legacy lock.
pub async fn set_password(tx: &mut Tx, user_id: UserId, hash: &str) -> Result<(), DbError> {
    const SQL: &str = "UPDATE users SET password_hash = $2, must_change_password = FALSE, \
                       failed_logins = 0, locked_until = NULL WHERE id = $1";
    on_tx!(tx, conn => sqlx::query(SQL).bind(user_id).bind(hash).execute(&mut *conn).await.map(|r| r.rows_affected()))?;
    Ok(())
}

/// Ends every bearer token and console session of a user.
pub async fn end_sessions(tx: &mut Tx, user_id: UserId) -> Result<(), DbError> {
    const TOKENS: &str = "DELETE FROM user_tokens WHERE user_id = $1";
    const SESSIONS: &str = "DELETE FROM console_sessions WHERE user_id = $1";
    on_tx!(tx, conn => {
        sqlx::query(TOKENS).bind(user_id).execute(&mut *conn).await?;
        sqlx::query(SESSIONS).bind(user_id).execute(&mut *conn).await.map(|r| r.rows_affected())
    })?;
    Ok(())
}
