//! `customers` and `customer_tokens`.

use chrono::{DateTime, Utc};

use crate::{
    db::{Db, DbError},
    on_db,
    tenancy::Customer,
    types::{CustomerId, Environment, StoreId},
};

/// Inserts a customer of a store.
pub async fn insert(db: &Db, store_id: StoreId, customer: &Customer) -> Result<(), DbError> {
    const SQL: &str = "INSERT INTO customers (id, store_id, environment, email, name, created_at) \
                       VALUES ($1, $2, $3, $4, $5, $6)";
    on_db!(db, pool => {
        sqlx::query(SQL)
            .bind(customer.id)
            .bind(store_id)
            .bind(customer.environment)
            .bind(&customer.email)
            .bind(&customer.name)
            .bind(customer.created_at)
            .execute(pool)
            .await
            .map(|r| r.rows_affected())
    })?;
    Ok(())
}

/// A customer inside a store and environment.
pub async fn find(
    db: &Db,
    store_id: StoreId,
    environment: Environment,
    customer_id: CustomerId,
) -> Result<Option<Customer>, DbError> {
    const SQL: &str = "SELECT id, environment, email, name, created_at FROM customers \
                       WHERE id = $1 AND store_id = $2 AND environment = $3";
    Ok(on_db!(db, pool => {
        sqlx::query_as(SQL)
            .bind(customer_id)
            .bind(store_id)
            .bind(environment)
            .fetch_optional(pool)
            .await
    })?)
}

/// A customer token to insert (its secret's hash).
#[derive(Debug, Clone, Copy)]
pub struct NewToken<'a> {
    /// SHA-256 of the secret.
    pub hash: &'a [u8],
    /// The customer's store.
    pub store_id: StoreId,
    /// The customer's environment.
    pub environment: Environment,
    /// The customer.
    pub customer_id: CustomerId,
    /// Creation time.
    pub created_at: DateTime<Utc>,
    /// When it stops working.
    pub expires_at: DateTime<Utc>,
}

/// Inserts a customer token.
pub async fn insert_token(db: &Db, token: NewToken<'_>) -> Result<(), DbError> {
    const SQL: &str = "INSERT INTO customer_tokens \
                       (token_hash, store_id, environment, customer_id, created_at, expires_at) \
                       VALUES ($1, $2, $3, $4, $5, $6)";
    on_db!(db, pool => {
        sqlx::query(SQL)
            .bind(token.hash)
            .bind(token.store_id)
            .bind(token.environment)
            .bind(token.customer_id)
            .bind(token.created_at)
            .bind(token.expires_at)
            .execute(pool)
            .await
            .map(|r| r.rows_affected())
    })?;
    Ok(())
}
