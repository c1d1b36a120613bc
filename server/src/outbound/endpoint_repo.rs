//! SQL of `webhook_endpoints` and `webhook_endpoint_secrets` (portable between SQLite and
//! PostgreSQL).

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::DisabledReason;
use crate::{
    db::{Db, DbError, Tx, in_list},
    keyring::Sealed,
    on_db, on_tx,
    types::{Environment, StoreId, WebhookEndpointId},
};

/// An endpoint row.
#[derive(Debug, Clone, sqlx::FromRow)]
pub(super) struct EndpointRow {
    pub id: WebhookEndpointId,
    pub store_id: StoreId,
    pub environment: Environment,
    pub url: String,
    pub description: Option<String>,
    /// JSON array of strings.
    pub event_types: String,
    pub enabled: bool,
    pub ordered: bool,
    pub disabled_reason: Option<DisabledReason>,
    pub failing_since: Option<DateTime<Utc>>,
    pub version: i32,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

const COLUMNS: &str = "id, store_id, environment, url, description, event_types, enabled, \
    ordered, disabled_reason, failing_since, version, created_at, updated_at";

/// A signing secret row.
#[derive(Debug, Clone, sqlx::FromRow)]
pub(super) struct SecretRow {
    pub id: Uuid,
    pub endpoint_id: WebhookEndpointId,
    pub key_version: i32,
    pub nonce: Vec<u8>,
    pub ciphertext: Vec<u8>,
    pub created_at: DateTime<Utc>,
    pub expires_at: Option<DateTime<Utc>>,
}

const SECRET_COLUMNS: &str =
    "id, endpoint_id, key_version, nonce, ciphertext, created_at, expires_at";

/// How many endpoints the store has in `env`, counted under a lock on the store's row on
/// PostgreSQL (held to the end of `tx`), so concurrent counters of one store take turns. The
/// lock is `NO KEY UPDATE`: it leaves the store's other writes, whose foreign keys only
/// share its key, alone.
pub(super) async fn count(tx: &mut Tx, store: StoreId, env: Environment) -> Result<i64, DbError> {
    const LOCK: &str = "SELECT id FROM stores WHERE id = $1 FOR NO KEY UPDATE";
    const SQL: &str =
        "SELECT COUNT(*) FROM webhook_endpoints WHERE store_id = $1 AND environment = $2";
    if let Tx::Postgres(conn) = tx {
        sqlx::query(LOCK).bind(store).execute(&mut **conn).await?;
    }
    Ok(
        on_tx!(tx, conn => sqlx::query_scalar(SQL).bind(store).bind(env)
        .fetch_one(&mut *conn).await)?,
    )
}

/// Inserts an endpoint (version 1).
pub(super) async fn insert(tx: &mut Tx, row: &EndpointRow) -> Result<(), DbError> {
    let sql = format!(
        "INSERT INTO webhook_endpoints ({COLUMNS}) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)"
    );
    on_tx!(tx, conn => sqlx::query(&sql)
        .bind(row.id).bind(row.store_id).bind(row.environment).bind(&row.url)
        .bind(&row.description).bind(&row.event_types).bind(row.enabled).bind(row.ordered)
        .bind(row.disabled_reason).bind(row.failing_since).bind(row.version)
        .bind(row.created_at).bind(row.updated_at)
        .execute(&mut *conn).await.map(|_| ()))?;
    Ok(())
}

/// One endpoint of the store in `env`.
pub(super) async fn find(
    db: &Db,
    store: StoreId,
    env: Environment,
    id: WebhookEndpointId,
) -> Result<Option<EndpointRow>, DbError> {
    let sql = format!(
        "SELECT {COLUMNS} FROM webhook_endpoints WHERE id = $1 AND store_id = $2 \
         AND environment = $3"
    );
    Ok(
        on_db!(db, pool => sqlx::query_as(&sql).bind(id).bind(store).bind(env)
        .fetch_optional(pool).await)?,
    )
}

/// [`find`] inside a transaction that writes what it read. Locked on PostgreSQL without
/// blocking the fan-out, which only needs the row to stay (its `FOR KEY SHARE`): a change to
/// an endpoint never holds up a payment's settlement.
pub(super) async fn find_for_update(
    tx: &mut Tx,
    store: StoreId,
    env: Environment,
    id: WebhookEndpointId,
) -> Result<Option<EndpointRow>, DbError> {
    let sql = format!(
        "SELECT {COLUMNS} FROM webhook_endpoints WHERE id = $1 AND store_id = $2 \
         AND environment = $3{}",
        match tx {
            Tx::Sqlite(_) => "",
            Tx::Postgres(_) => " FOR NO KEY UPDATE",
        }
    );
    Ok(
        on_tx!(tx, conn => sqlx::query_as(&sql).bind(id).bind(store).bind(env)
        .fetch_optional(&mut *conn).await)?,
    )
}

/// An endpoint by id alone, in a transaction (the delivery worker's view of it).
pub(super) async fn find_in(
    tx: &mut Tx,
    id: WebhookEndpointId,
) -> Result<Option<EndpointRow>, DbError> {
    let sql = format!("SELECT {COLUMNS} FROM webhook_endpoints WHERE id = $1");
    Ok(on_tx!(tx, conn => sqlx::query_as(&sql).bind(id).fetch_optional(&mut *conn).await)?)
}

/// Up to `limit` endpoints after `after` (by id), oldest first.
pub(super) async fn list(
    db: &Db,
    store: StoreId,
    env: Environment,
    after: Uuid,
    limit: i64,
) -> Result<Vec<EndpointRow>, DbError> {
    let sql = format!(
        "SELECT {COLUMNS} FROM webhook_endpoints WHERE store_id = $1 AND environment = $2 \
         AND id > $3 ORDER BY id LIMIT $4"
    );
    Ok(
        on_db!(db, pool => sqlx::query_as(&sql).bind(store).bind(env).bind(after)
        .bind(limit).fetch_all(pool).await)?,
    )
}

/// Writes an endpoint's changeable fields if it is still at `row.version - 1`; rows written.
pub(super) async fn update(tx: &mut Tx, row: &EndpointRow) -> Result<u64, DbError> {
    const SQL: &str = "UPDATE webhook_endpoints SET url = $3, description = $4, \
        event_types = $5, enabled = $6, ordered = $7, disabled_reason = $8, \
        failing_since = $9, version = $10, updated_at = $11 \
        WHERE id = $1 AND store_id = $2 AND version = $10 - 1";
    Ok(on_tx!(tx, conn => sqlx::query(SQL)
        .bind(row.id).bind(row.store_id).bind(&row.url).bind(&row.description)
        .bind(&row.event_types).bind(row.enabled).bind(row.ordered).bind(row.disabled_reason)
        .bind(row.failing_since).bind(row.version).bind(row.updated_at)
        .execute(&mut *conn).await.map(|r| r.rows_affected()))?)
}

/// Deletes an endpoint with its secrets, deliveries and attempts; rows deleted.
pub(super) async fn delete(
    db: &Db,
    store: StoreId,
    env: Environment,
    id: WebhookEndpointId,
) -> Result<u64, DbError> {
    const SQL: &str =
        "DELETE FROM webhook_endpoints WHERE id = $1 AND store_id = $2 AND environment = $3";
    Ok(
        on_db!(db, pool => sqlx::query(SQL).bind(id).bind(store).bind(env)
        .execute(pool).await.map(|r| r.rows_affected()))?,
    )
}

/// Inserts a signing secret.
pub(super) async fn insert_secret(tx: &mut Tx, row: &SecretRow) -> Result<(), DbError> {
    let sql = format!(
        "INSERT INTO webhook_endpoint_secrets ({SECRET_COLUMNS}) \
         VALUES ($1, $2, $3, $4, $5, $6, $7)"
    );
    on_tx!(tx, conn => sqlx::query(&sql)
        .bind(row.id).bind(row.endpoint_id).bind(row.key_version).bind(&row.nonce)
        .bind(&row.ciphertext).bind(row.created_at).bind(row.expires_at)
        .execute(&mut *conn).await.map(|_| ()))?;
    Ok(())
}

/// Ends the signing of an endpoint's current secrets at `at` (a secret already ending
/// sooner keeps its end), and forgets the ones that have already ended by `now`.
pub(super) async fn expire_secrets(
    tx: &mut Tx,
    endpoint: WebhookEndpointId,
    at: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<(), DbError> {
    const FORGET: &str = "DELETE FROM webhook_endpoint_secrets WHERE endpoint_id = $1 \
        AND expires_at IS NOT NULL AND expires_at <= $2";
    const END: &str = "UPDATE webhook_endpoint_secrets SET expires_at = $2 \
        WHERE endpoint_id = $1 AND (expires_at IS NULL OR expires_at > $2)";
    on_tx!(tx, conn => {
        async {
            sqlx::query(FORGET).bind(endpoint).bind(now).execute(&mut *conn).await?;
            sqlx::query(END).bind(endpoint).bind(at).execute(&mut *conn).await
        }.await.map(|_| ())
    })?;
    Ok(())
}

/// The secrets of `endpoints` still signing at `now`, newest first per endpoint.
pub(super) async fn live_secrets(
    db: &Db,
    endpoints: &[WebhookEndpointId],
    now: DateTime<Utc>,
) -> Result<Vec<SecretRow>, DbError> {
    if endpoints.is_empty() {
        return Ok(Vec::new());
    }
    let sql = format!(
        "SELECT {SECRET_COLUMNS} FROM webhook_endpoint_secrets \
         WHERE (expires_at IS NULL OR expires_at > $1) AND endpoint_id IN ({}) \
         ORDER BY endpoint_id, created_at DESC, id DESC",
        in_list(endpoints.len(), 2)
    );
    Ok(on_db!(db, pool => {
        let mut query = sqlx::query_as(&sql).bind(now);
        for id in endpoints {
            query = query.bind(*id);
        }
        query.fetch_all(pool).await
    })?)
}

/// [`live_secrets`] of one endpoint inside a transaction.
pub(super) async fn live_secrets_in(
    tx: &mut Tx,
    endpoint: WebhookEndpointId,
    now: DateTime<Utc>,
) -> Result<Vec<SecretRow>, DbError> {
    let sql = format!(
        "SELECT {SECRET_COLUMNS} FROM webhook_endpoint_secrets \
         WHERE (expires_at IS NULL OR expires_at > $1) AND endpoint_id = $2 \
         ORDER BY created_at DESC, id DESC"
    );
    Ok(
        on_tx!(tx, conn => sqlx::query_as(&sql).bind(now).bind(endpoint)
        .fetch_all(&mut *conn).await)?,
    )
}

/// Up to `limit` secrets not sealed with `target`.
pub(super) async fn secrets_not_on(
    db: &Db,
    target: u32,
    limit: i64,
) -> Result<Vec<SecretRow>, DbError> {
    let sql = format!(
        "SELECT {SECRET_COLUMNS} FROM webhook_endpoint_secrets WHERE key_version <> $1 \
         ORDER BY id LIMIT $2"
    );
    Ok(
        on_db!(db, pool => sqlx::query_as(&sql).bind(target as i32).bind(limit)
        .fetch_all(pool).await)?,
    )
}

/// Replaces a secret's sealed blob if it is still sealed with `from`; rows written.
pub(super) async fn reseal(db: &Db, id: Uuid, from: i32, sealed: &Sealed) -> Result<u64, DbError> {
    const SQL: &str = "UPDATE webhook_endpoint_secrets SET key_version = $3, nonce = $4, \
        ciphertext = $5 WHERE id = $1 AND key_version = $2";
    Ok(
        on_db!(db, pool => sqlx::query(SQL).bind(id).bind(from).bind(sealed.version as i32)
        .bind(&sealed.nonce).bind(&sealed.ciphertext)
        .execute(pool).await.map(|r| r.rows_affected()))?,
    )
}

/// How many secrets are sealed with `version`.
pub(super) async fn sealed_with(db: &Db, version: u32) -> Result<i64, DbError> {
    const SQL: &str = "SELECT COUNT(*) FROM webhook_endpoint_secrets WHERE key_version = $1";
    Ok(on_db!(db, pool => sqlx::query_scalar(SQL).bind(version as i32).fetch_one(pool).await)?)
}
