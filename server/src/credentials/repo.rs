//! SQL of `provider_credentials` (portable between SQLite and PostgreSQL).

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::Sealed;
use crate::{
    db::{Db, DbError, Tx},
    on_db, on_tx,
    types::{Environment, StoreId},
};

/// A row as the API shows it (no ciphertext).
#[derive(Debug, sqlx::FromRow)]
pub(super) struct ViewRow {
    pub provider: String,
    pub environment: Environment,
    pub key_version: i32,
    pub masked: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// A row's sealed blob.
#[derive(Debug, sqlx::FromRow)]
pub(super) struct SealedRow {
    pub id: Uuid,
    pub store_id: StoreId,
    pub provider: String,
    pub environment: Environment,
    pub key_version: i32,
    pub nonce: Vec<u8>,
    pub ciphertext: Vec<u8>,
    pub revision: i32,
}

/// A new row.
pub(super) struct NewRow<'a> {
    pub id: Uuid,
    pub store: StoreId,
    pub provider: &'a str,
    pub environment: Environment,
    pub sealed: &'a Sealed,
    pub masked: &'a str,
    pub now: DateTime<Utc>,
}

const INSERT: &str = "INSERT INTO provider_credentials (id, store_id, provider, environment, \
    key_version, nonce, ciphertext, masked, revision, created_at, updated_at) \
    VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 1, $9, $9) \
    ON CONFLICT (store_id, provider, environment) DO NOTHING";
const VIEW_COLUMNS: &str = "provider, environment, key_version, masked, created_at, updated_at";
const SEALED_COLUMNS: &str =
    "id, store_id, provider, environment, key_version, nonce, ciphertext, revision";

macro_rules! bind_new {
    ($row:expr) => {
        sqlx::query(INSERT)
            .bind($row.id)
            .bind($row.store)
            .bind($row.provider)
            .bind($row.environment)
            .bind($row.sealed.version as i32)
            .bind(&$row.sealed.nonce)
            .bind(&$row.sealed.ciphertext)
            .bind($row.masked)
            .bind($row.now)
    };
}

/// Inserts unless the store already has credentials for the provider and environment.
pub(super) async fn insert(db: &Db, row: &NewRow<'_>) -> Result<u64, DbError> {
    Ok(on_db!(db, pool => bind_new!(row).execute(pool).await.map(|r| r.rows_affected()))?)
}

/// [`insert`] inside a caller's transaction (store creation).
pub(super) async fn insert_in(tx: &mut Tx, row: &NewRow<'_>) -> Result<u64, DbError> {
    Ok(on_tx!(tx, conn => bind_new!(row).execute(&mut *conn).await.map(|r| r.rows_affected()))?)
}

/// The sealed row of a store, provider and environment.
pub(super) async fn find_sealed(
    db: &Db,
    store: StoreId,
    provider: &str,
    env: Environment,
) -> Result<Option<SealedRow>, DbError> {
    let sql = format!(
        "SELECT {SEALED_COLUMNS} FROM provider_credentials \
         WHERE store_id = $1 AND provider = $2 AND environment = $3"
    );
    Ok(
        on_db!(db, pool => sqlx::query_as(&sql).bind(store).bind(provider).bind(env)
        .fetch_optional(pool).await)?,
    )
}

/// Replaces the sealed blob if the row is still at `revision`.
pub(super) async fn update_sealed(
    db: &Db,
    id: Uuid,
    revision: i32,
    sealed: &Sealed,
    masked: Option<&str>,
    now: DateTime<Utc>,
) -> Result<u64, DbError> {
    const SQL: &str = "UPDATE provider_credentials SET key_version = $3, nonce = $4, \
        ciphertext = $5, masked = COALESCE($6, masked), revision = revision + 1, updated_at = $7 \
        WHERE id = $1 AND revision = $2";
    Ok(
        on_db!(db, pool => sqlx::query(SQL).bind(id).bind(revision).bind(sealed.version as i32)
        .bind(&sealed.nonce).bind(&sealed.ciphertext).bind(masked).bind(now)
        .execute(pool).await.map(|r| r.rows_affected()))?,
    )
}

/// The masked view of one row.
pub(super) async fn find_view(
    db: &Db,
    store: StoreId,
    provider: &str,
    env: Environment,
) -> Result<Option<ViewRow>, DbError> {
    let sql = format!(
        "SELECT {VIEW_COLUMNS} FROM provider_credentials \
         WHERE store_id = $1 AND provider = $2 AND environment = $3"
    );
    Ok(
        on_db!(db, pool => sqlx::query_as(&sql).bind(store).bind(provider).bind(env)
        .fetch_optional(pool).await)?,
    )
}

/// Masked views of a store's rows in one environment, by provider.
pub(super) async fn list_views(
    db: &Db,
    store: StoreId,
    env: Environment,
) -> Result<Vec<ViewRow>, DbError> {
    let sql = format!(
        "SELECT {VIEW_COLUMNS} FROM provider_credentials \
         WHERE store_id = $1 AND environment = $2 ORDER BY provider"
    );
    Ok(on_db!(db, pool => sqlx::query_as(&sql).bind(store).bind(env).fetch_all(pool).await)?)
}

/// Deletes a row; the number deleted.
pub(super) async fn delete(
    tx: &mut Tx,
    store: StoreId,
    provider: &str,
    env: Environment,
) -> Result<u64, DbError> {
    const SQL: &str = "DELETE FROM provider_credentials \
                       WHERE store_id = $1 AND provider = $2 AND environment = $3";
    Ok(
        on_tx!(tx, conn => sqlx::query(SQL).bind(store).bind(provider).bind(env)
        .execute(&mut *conn).await.map(|r| r.rows_affected()))?,
    )
}

/// Payments of a store and environment at `provider` that still need its account: an
/// authorization with an uncaptured rest held on the card, or a transaction whose outcome is
/// open. Each side reads a partial index of its own (migration 0032), so the cost follows
/// the open payments, not the store's history.
const PAYMENTS_NEEDING: &str = "SELECT COUNT(*) FROM ( \
    SELECT id FROM payment_intents \
     WHERE provider = $1 AND store_id = $2 AND environment = $3 \
       AND authorized_amount > captured_amount + released_amount \
    UNION \
    SELECT t.payment_intent_id FROM payment_transactions t \
      JOIN payment_intents i ON i.id = t.payment_intent_id \
     WHERE t.store_id = $2 AND t.environment = $3 AND t.status IN ('pending', 'unknown') \
       AND i.provider = $1 \
    ) needing";

/// How many payments still need the store's `provider` account in `env` (see
/// [`PAYMENTS_NEEDING`]).
pub(super) async fn payments_needing(
    db: &Db,
    store: StoreId,
    provider: &str,
    env: Environment,
) -> Result<i64, DbError> {
    Ok(
        on_db!(db, pool => sqlx::query_scalar(PAYMENTS_NEEDING).bind(provider).bind(store)
        .bind(env).fetch_one(pool).await)?,
    )
}

/// [`payments_needing`] inside the transaction that acts on the answer.
pub(super) async fn payments_needing_in(
    tx: &mut Tx,
    store: StoreId,
    provider: &str,
    env: Environment,
) -> Result<i64, DbError> {
    Ok(
        on_tx!(tx, conn => sqlx::query_scalar(PAYMENTS_NEEDING).bind(provider).bind(store)
        .bind(env).fetch_one(&mut *conn).await)?,
    )
}

/// Up to `limit` rows not sealed with `target`.
pub(super) async fn not_on_version(
    db: &Db,
    target: u32,
    limit: i64,
) -> Result<Vec<SealedRow>, DbError> {
    let sql = format!(
        "SELECT {SEALED_COLUMNS} FROM provider_credentials WHERE key_version <> $1 \
         ORDER BY id LIMIT $2"
    );
    Ok(
        on_db!(db, pool => sqlx::query_as(&sql).bind(target as i32).bind(limit)
        .fetch_all(pool).await)?,
    )
}

/// A store's chosen payment provider.
#[derive(Clone, sqlx::FromRow)]
pub(super) struct ChoiceRow {
    pub provider: String,
    pub updated_by: String,
    pub updated_at: DateTime<Utc>,
}

pub(super) async fn choice(
    db: &Db,
    store: StoreId,
    env: Environment,
) -> Result<Option<ChoiceRow>, DbError> {
    const SQL: &str = "SELECT provider, updated_by, updated_at FROM store_payment_providers \
        WHERE store_id = $1 AND environment = $2";
    Ok(on_db!(db, pool => sqlx::query_as(SQL).bind(store).bind(env).fetch_optional(pool).await)?)
}

pub(super) async fn put_choice(
    tx: &mut Tx,
    store: StoreId,
    env: Environment,
    provider: &str,
    actor: &str,
    now: DateTime<Utc>,
) -> Result<(), DbError> {
    const SQL: &str = "INSERT INTO store_payment_providers (store_id, environment, provider, \
        updated_by, updated_at) VALUES ($1, $2, $3, $4, $5) \
        ON CONFLICT (store_id, environment) DO UPDATE SET provider = excluded.provider, \
        updated_by = excluded.updated_by, updated_at = excluded.updated_at";
    on_tx!(tx, conn => sqlx::query(SQL).bind(store).bind(env).bind(provider).bind(actor)
        .bind(now).execute(&mut *conn).await.map(|_| ()))?;
    Ok(())
}

/// Forgets the store's choice of `provider` in `env` (its credentials are gone).
pub(super) async fn clear_choice(
    tx: &mut Tx,
    store: StoreId,
    provider: &str,
    env: Environment,
) -> Result<(), DbError> {
    const SQL: &str = "DELETE FROM store_payment_providers WHERE store_id = $1 \
        AND environment = $2 AND provider = $3";
    on_tx!(tx, conn => sqlx::query(SQL).bind(store).bind(env).bind(provider)
        .execute(&mut *conn).await.map(|_| ()))?;
    Ok(())
}
