//! `tax_exports` and the reads of the tax report (totals by jurisdiction, movements).

use chrono::{DateTime, NaiveDate, Utc};
use uuid::Uuid;

use crate::{
    db::{Db, DbError},
    on_db,
    types::{Environment, OrderId, StoreId},
};

/// An export of the tax report as recorded.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ExportRow {
    pub id: Uuid,
    pub store_id: StoreId,
    pub environment: Environment,
    pub actor: String,
    pub period_from: NaiveDate,
    pub period_to: NaiveDate,
    pub format: String,
    pub group_by: String,
    pub as_of: DateTime<Utc>,
    pub status: String,
    pub row_count: Option<i64>,
    pub sha256: Option<String>,
    pub created_at: DateTime<Utc>,
    pub completed_at: Option<DateTime<Utc>>,
    pub transactions_total: Option<i64>,
    pub transactions_done: Option<i64>,
}

const EXPORT_COLUMNS: &str = "id, store_id, environment, actor, period_from, period_to, format, \
    group_by, as_of, status, row_count, sha256, created_at, completed_at, transactions_total, \
    transactions_done";

/// Records an export as it starts.
pub async fn insert_export(db: &Db, row: &ExportRow) -> Result<(), DbError> {
    let sql = format!(
        "INSERT INTO tax_exports ({EXPORT_COLUMNS}) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)"
    );
    on_db!(db, pool => sqlx::query(&sql).bind(row.id).bind(row.store_id).bind(row.environment)
        .bind(&row.actor).bind(row.period_from).bind(row.period_to).bind(&row.format)
        .bind(&row.group_by).bind(row.as_of).bind(&row.status).bind(row.row_count)
        .bind(&row.sha256).bind(row.created_at).bind(row.completed_at)
        .bind(row.transactions_total).bind(row.transactions_done)
        .execute(pool).await.map(|_| ()))?;
    Ok(())
}

/// How far a running export is.
pub async fn export_progress(db: &Db, id: Uuid, done: i64, total: i64) -> Result<(), DbError> {
    const SQL: &str = "UPDATE tax_exports SET transactions_done = $2, transactions_total = $3 \
        WHERE id = $1 AND status = 'running'";
    on_db!(db, pool => sqlx::query(SQL).bind(id).bind(done).bind(total)
        .execute(pool).await.map(|_| ()))?;
    Ok(())
}

/// The transactions in an export's window.
pub async fn count_transactions(db: &Db, w: Window) -> Result<i64, DbError> {
    const SQL: &str = "SELECT COUNT(*) FROM tax_transactions WHERE store_id = $1 \
        AND environment = $2 AND created_at >= $3 AND created_at < $4 AND created_at < $5";
    Ok(
        on_db!(db, pool => sqlx::query_scalar(SQL).bind(w.store).bind(w.env).bind(w.from)
        .bind(w.to).bind(w.as_of).fetch_one(pool).await)?,
    )
}

/// Records what a first, complete export sent.
pub async fn complete_export(
    db: &Db,
    id: Uuid,
    rows: i64,
    sha256: &str,
    at: DateTime<Utc>,
) -> Result<(), DbError> {
    const SQL: &str = "UPDATE tax_exports SET status = 'completed', row_count = $2, sha256 = $3, \
        completed_at = $4, transactions_done = transactions_total \
        WHERE id = $1 AND status = 'running'";
    on_db!(db, pool => sqlx::query(SQL).bind(id).bind(rows).bind(sha256).bind(at)
        .execute(pool).await.map(|_| ()))?;
    Ok(())
}

/// An export of a store and environment.
pub async fn find_export(
    db: &Db,
    store: StoreId,
    env: Environment,
    id: Uuid,
) -> Result<Option<ExportRow>, DbError> {
    let sql = format!(
        "SELECT {EXPORT_COLUMNS} FROM tax_exports WHERE id = $1 AND store_id = $2 AND environment = $3"
    );
    Ok(
        on_db!(db, pool => sqlx::query_as(&sql).bind(id).bind(store).bind(env)
        .fetch_optional(pool).await)?,
    )
}

/// A page of a store's exports, newest first.
pub async fn list_exports(
    db: &Db,
    store: StoreId,
    env: Environment,
    before: Option<Uuid>,
    limit: i64,
) -> Result<Vec<ExportRow>, DbError> {
    let sql = format!(
        "SELECT {EXPORT_COLUMNS} FROM tax_exports WHERE store_id = $1 AND environment = $2 \
         AND ($3 IS NULL OR id < $3) ORDER BY id DESC LIMIT $4"
    );
    Ok(
        on_db!(db, pool => sqlx::query_as(&sql).bind(store).bind(env).bind(before).bind(limit)
        .fetch_all(pool).await)?,
    )
}

/// A report's window: transactions created in `[from, to)` and before `as_of`.
#[derive(Debug, Clone, Copy)]
pub struct Window {
    pub store: StoreId,
    pub env: Environment,
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
    pub as_of: DateTime<Utc>,
}

/// A jurisdiction's movements in a window, per currency.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct JurisdictionTotal {
    pub jurisdiction: String,
    pub currency: String,
    pub taxable_committed: i64,
    pub taxable_reversed: i64,
    pub exempt_committed: i64,
    pub exempt_reversed: i64,
    pub collected: i64,
    pub reversed: i64,
    pub commits: i64,
    pub reversals: i64,
}

/// Totals per jurisdiction and currency (one grouped query; the result is as small as the
/// number of jurisdictions).
pub async fn jurisdiction_totals(db: &Db, w: Window) -> Result<Vec<JurisdictionTotal>, DbError> {
    const SQL: &str = "SELECT l.jurisdiction, t.currency, \
        CAST(SUM(CASE WHEN t.kind = 'commit' THEN l.taxable ELSE 0 END) AS BIGINT) AS taxable_committed, \
        CAST(SUM(CASE WHEN t.kind = 'reversal' THEN l.taxable ELSE 0 END) AS BIGINT) AS taxable_reversed, \
        CAST(SUM(CASE WHEN t.kind = 'commit' THEN l.exempt ELSE 0 END) AS BIGINT) AS exempt_committed, \
        CAST(SUM(CASE WHEN t.kind = 'reversal' THEN l.exempt ELSE 0 END) AS BIGINT) AS exempt_reversed, \
        CAST(SUM(CASE WHEN t.kind = 'commit' THEN l.tax ELSE 0 END) AS BIGINT) AS collected, \
        CAST(SUM(CASE WHEN t.kind = 'reversal' THEN l.tax ELSE 0 END) AS BIGINT) AS reversed, \
        CAST(COUNT(DISTINCT CASE WHEN t.kind = 'commit' THEN t.id END) AS BIGINT) AS commits, \
        CAST(COUNT(DISTINCT CASE WHEN t.kind = 'reversal' THEN t.id END) AS BIGINT) AS reversals \
        FROM tax_transactions t JOIN tax_transaction_lines l ON l.transaction_id = t.id \
        WHERE t.store_id = $1 AND t.environment = $2 AND t.created_at >= $3 \
        AND t.created_at < $4 AND t.created_at < $5 \
        GROUP BY l.jurisdiction, t.currency";
    let mut totals: Vec<JurisdictionTotal> = on_db!(db, pool => sqlx::query_as(SQL)
        .bind(w.store).bind(w.env).bind(w.from).bind(w.to).bind(w.as_of).fetch_all(pool).await)?;
    // Byte order here, not the database's collation: both backends export the same file.
    totals.sort_by(|a, b| (&a.jurisdiction, &a.currency).cmp(&(&b.jurisdiction, &b.currency)));
    Ok(totals)
}

/// One line of one transaction in a window.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct MovementRow {
    pub created_at: DateTime<Utc>,
    pub transaction_id: Uuid,
    pub order_id: OrderId,
    pub kind: String,
    pub source: String,
    pub currency: String,
    pub line_no: i32,
    pub jurisdiction: String,
    pub taxable: i64,
    pub exempt: i64,
    pub tax: i64,
}

/// Where a page of movements starts: after this transaction.
pub type MovementCursor = (DateTime<Utc>, Uuid);

/// The lines of the next `limit` transactions of a window after `after`, in time order. The
/// keyset is on transactions alone, `(created_at, id)`, which the period index serves
/// directly, so every page is an index seek however deep the export is (a keyset that also
/// named the lines' columns would span both tables and rescan from the start every page).
pub async fn movements(
    db: &Db,
    w: Window,
    after: Option<MovementCursor>,
    limit: i64,
) -> Result<Vec<MovementRow>, DbError> {
    const FIRST: &str = "SELECT t.created_at, t.id AS transaction_id, t.order_id, t.kind, \
        t.source, t.currency, l.line_no, l.jurisdiction, l.taxable, l.exempt, l.tax \
        FROM (SELECT id, created_at, order_id, kind, source, currency FROM tax_transactions \
              WHERE store_id = $1 AND environment = $2 AND created_at >= $3 \
              AND created_at < $4 AND created_at < $5 \
              ORDER BY created_at, id LIMIT $6) t \
        JOIN tax_transaction_lines l ON l.transaction_id = t.id \
        ORDER BY t.created_at, t.id, l.line_no, l.position";
    const NEXT: &str = "SELECT t.created_at, t.id AS transaction_id, t.order_id, t.kind, \
        t.source, t.currency, l.line_no, l.jurisdiction, l.taxable, l.exempt, l.tax \
        FROM (SELECT id, created_at, order_id, kind, source, currency FROM tax_transactions \
              WHERE store_id = $1 AND environment = $2 AND created_at >= $7 \
              AND (created_at, id) > ($7, $8) AND created_at >= $3 \
              AND created_at < $4 AND created_at < $5 \
              ORDER BY created_at, id LIMIT $6) t \
        JOIN tax_transaction_lines l ON l.transaction_id = t.id \
        ORDER BY t.created_at, t.id, l.line_no, l.position";
    Ok(match after {
        None => on_db!(db, pool => sqlx::query_as(FIRST).bind(w.store).bind(w.env).bind(w.from)
            .bind(w.to).bind(w.as_of).bind(limit).fetch_all(pool).await)?,
        Some((at, id)) => on_db!(db, pool => sqlx::query_as(NEXT)
            .bind(w.store).bind(w.env).bind(w.from).bind(w.to).bind(w.as_of).bind(limit)
            .bind(at).bind(id).fetch_all(pool).await)?,
    })
}
