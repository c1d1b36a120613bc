//! `users`: console logins.

use chrono::{DateTime, Utc};

use crate::{
    db::{Db, DbError},
    on_db,
    types::UserId,
};

/// The id of the user with this (normalized) email.
pub async fn find_id(db: &Db, email: &str) -> Result<Option<UserId>, DbError> {
    const SQL: &str = "SELECT id FROM users WHERE email = $1";
    Ok(on_db!(db, pool => sqlx::query_scalar(SQL).bind(email).fetch_optional(pool).await)?)
}

/// A user to insert.
#[derive(Debug, Clone, Copy)]
pub struct NewUser<'a> {
    /// User id.
    pub id: UserId,
    /// Normalized email.
    pub email: &'a str,
    /// argon2id hash of the password.
    pub password_hash: &'a str,
    /// Whether they administer the platform.
    pub is_platform_admin: bool,
    /// Whether they must choose a new password first.
    pub must_change_password: bool,
    /// Creation time.
    pub created_at: DateTime<Utc>,
}

/// Inserts a user; `false` when the email is taken.
pub async fn insert(db: &Db, user: NewUser<'_>) -> Result<bool, DbError> {
    const SQL: &str = "INSERT INTO users (id, email, password_hash, is_platform_admin, \
                       must_change_password, created_at) \
                       VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (email) DO NOTHING";
    let inserted = on_db!(db, pool => {
        sqlx::query(SQL)
            .bind(user.id)
            .bind(user.email)
            .bind(user.password_hash)
            .bind(user.is_platform_admin)
            .bind(user.must_change_password)
            .bind(user.created_at)
            .execute(pool)
            .await
            .map(|r| r.rows_affected())
    })?;
    Ok(inserted == 1)
}

/// How many platform admins exist.
pub async fn count_platform_admins(db: &Db) -> Result<i64, DbError> {
    const SQL: &str = "SELECT COUNT(*) FROM users WHERE is_platform_admin = TRUE";
    Ok(on_db!(db, pool => sqlx::query_scalar(SQL).fetch_one(pool).await)?)
}
