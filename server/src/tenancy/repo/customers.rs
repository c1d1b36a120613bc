//! `customers` and `customer_tokens`.

use chrono::{DateTime, Utc};

use crate::{
    db::{Db, DbError, contains_pattern},
    money::{MinorUnits, Money},
    on_db,
    tenancy::{Customer, CustomerSearch},
    types::{Currency, CustomerId, Environment, StoreId},
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

/// Up to `limit` customers of a store and environment, newest first, older than `before` when
/// given, and matching `search`.
pub async fn list(
    db: &Db,
    store_id: StoreId,
    environment: Environment,
    search: Option<&CustomerSearch>,
    before: Option<CustomerId>,
    limit: i64,
) -> Result<Vec<Customer>, DbError> {
    // Customer ids are UUIDv7: newest first is descending id, and the cursor is the last id of
    // the previous page. Conditions are literal per case (not bound flags) so each query uses
    // the store's index.
    let mut sql = String::from(
        "SELECT id, environment, email, name, created_at FROM customers \
         WHERE store_id = $1 AND environment = $2",
    );
    let mut next = 3;
    if before.is_some() {
        sql.push_str(&format!(" AND id < ${next}"));
        next += 1;
    }
    match search {
        Some(CustomerSearch::Id(_)) => sql.push_str(&format!(" AND id = ${next}")),
        Some(CustomerSearch::Email(_)) => {
            // Emails are stored lower-cased (`Email::parse`), the pattern is too.
            sql.push_str(&format!(" AND email LIKE ${next} ESCAPE '\\'"))
        }
        None => next -= 1,
    }
    sql.push_str(&format!(" ORDER BY id DESC LIMIT ${}", next + 1));
    let pattern = match search {
        Some(CustomerSearch::Email(text)) => Some(contains_pattern(text)),
        _ => None,
    };
    Ok(on_db!(db, pool => {
        let mut query = sqlx::query_as(&sql)
            .persistent(false)
            .bind(store_id)
            .bind(environment);
        if let Some(before) = before {
            query = query.bind(before);
        }
        match (search, &pattern) {
            (Some(CustomerSearch::Id(id)), _) => query = query.bind(*id),
            (_, Some(pattern)) => query = query.bind(pattern),
            _ => {}
        }
        query.bind(limit).fetch_all(pool).await
    })?)
}

/// What a customer has paid a store, per currency: the captured minus the refunded amounts of
/// all their payments, in one query (through their orders, whose index finds them).
pub async fn lifetime_value(
    db: &Db,
    store_id: StoreId,
    environment: Environment,
    customer_id: CustomerId,
) -> Result<Vec<Money>, DbError> {
    // PostgreSQL sums bigints as numeric: cast back (a sum beyond i64 fails loudly, never
    // wraps). Intents without a capture add nothing and are left out.
    const SQL: &str = "SELECT p.currency, \
        CAST(SUM(p.captured_amount - p.refunded_amount) AS BIGINT) AS net \
        FROM orders o JOIN payment_intents p ON p.order_id = o.id \
        WHERE o.store_id = $1 AND o.environment = $2 AND o.customer_id = $3 \
        AND p.store_id = $1 AND p.environment = $2 AND p.captured_amount > 0 \
        GROUP BY p.currency ORDER BY p.currency";
    let rows: Vec<(Currency, MinorUnits)> = on_db!(db, pool => {
        sqlx::query_as(SQL)
            .bind(store_id)
            .bind(environment)
            .bind(customer_id)
            .fetch_all(pool)
            .await
    })?;
    Ok(rows
        .into_iter()
        .map(|(currency, net)| Money::new(net, currency))
        .collect())
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
