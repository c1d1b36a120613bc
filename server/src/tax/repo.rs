//! `tax_rates`, `tax_nexus`, `tax_exemptions` and `order_tax_lines`.

use chrono::{DateTime, NaiveDate, Utc};
use uuid::Uuid;

use crate::{
    db::{Db, DbError, Tx, Writes},
    money::MinorUnits,
    on_db, on_tx,
    types::{
        CustomerId, Environment, OrderId, PaymentIntentId, SnapshotId, StoreId, TaxExemptionId,
    },
    write_part,
};

/// A rate as stored (postal codes space-separated).
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct RuleRow {
    pub country: String,
    pub subdivision: String,
    pub county: Option<String>,
    pub city: Option<String>,
    pub district: Option<String>,
    pub postal_codes: String,
    pub tax_code: String,
    pub rate: String,
    pub shipping_taxable: bool,
    pub valid_from: Option<NaiveDate>,
    pub valid_to: Option<NaiveDate>,
}

/// The rates of a store and environment.
pub async fn rules(db: &Db, store: StoreId, env: Environment) -> Result<Vec<RuleRow>, DbError> {
    const SQL: &str = "SELECT country, subdivision, county, city, district, postal_codes, \
        tax_code, rate, shipping_taxable, valid_from, valid_to FROM tax_rates \
        WHERE store_id = $1 AND environment = $2 \
        ORDER BY country, subdivision, county, city, district, tax_code, valid_from, id";
    Ok(on_db!(db, pool => sqlx::query_as(SQL).bind(store).bind(env).fetch_all(pool).await)?)
}

/// Replaces the rates of a store and environment.
pub async fn replace_rules(
    tx: &mut Tx,
    store: StoreId,
    env: Environment,
    rules: &[RuleRow],
) -> Result<(), DbError> {
    const DELETE: &str = "DELETE FROM tax_rates WHERE store_id = $1 AND environment = $2";
    const INSERT: &str = "INSERT INTO tax_rates (id, store_id, environment, country, \
        subdivision, county, city, district, postal_codes, tax_code, rate, shipping_taxable, \
        valid_from, valid_to) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)";
    on_tx!(tx, conn => {
        sqlx::query(DELETE).bind(store).bind(env).execute(&mut *conn).await?;
        for r in rules {
            sqlx::query(INSERT).bind(Uuid::now_v7()).bind(store).bind(env)
                .bind(&r.country).bind(&r.subdivision).bind(&r.county).bind(&r.city)
                .bind(&r.district).bind(&r.postal_codes).bind(&r.tax_code).bind(&r.rate)
                .bind(r.shipping_taxable).bind(r.valid_from).bind(r.valid_to)
                .execute(&mut *conn).await?;
        }
        Ok::<_, sqlx::Error>(())
    })?;
    Ok(())
}

/// A nexus as stored (`''`: the whole country).
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct NexusRow {
    pub country: String,
    pub subdivision: String,
    pub since: NaiveDate,
}

/// Where a store collects.
pub async fn nexus(db: &Db, store: StoreId, env: Environment) -> Result<Vec<NexusRow>, DbError> {
    const SQL: &str = "SELECT country, subdivision, since FROM tax_nexus \
        WHERE store_id = $1 AND environment = $2 ORDER BY country, subdivision";
    Ok(on_db!(db, pool => sqlx::query_as(SQL).bind(store).bind(env).fetch_all(pool).await)?)
}

/// Replaces where a store collects.
pub async fn replace_nexus(
    tx: &mut Tx,
    store: StoreId,
    env: Environment,
    nexus: &[NexusRow],
) -> Result<(), DbError> {
    const DELETE: &str = "DELETE FROM tax_nexus WHERE store_id = $1 AND environment = $2";
    const INSERT: &str = "INSERT INTO tax_nexus (store_id, environment, country, subdivision, \
        since) VALUES ($1, $2, $3, $4, $5)";
    on_tx!(tx, conn => {
        sqlx::query(DELETE).bind(store).bind(env).execute(&mut *conn).await?;
        for n in nexus {
            sqlx::query(INSERT).bind(store).bind(env).bind(&n.country).bind(&n.subdivision)
                .bind(n.since).execute(&mut *conn).await?;
        }
        Ok::<_, sqlx::Error>(())
    })?;
    Ok(())
}

/// An exemption certificate as stored (jurisdictions space-separated).
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ExemptionRow {
    pub id: TaxExemptionId,
    pub customer_id: CustomerId,
    pub certificate_id: String,
    pub jurisdictions: String,
    pub expires_on: Option<NaiveDate>,
    pub created_at: DateTime<Utc>,
}

/// Records a certificate; `false` when the customer already has one with its number.
pub async fn insert_exemption(
    db: &Db,
    store: StoreId,
    env: Environment,
    row: &ExemptionRow,
) -> Result<bool, DbError> {
    const SQL: &str = "INSERT INTO tax_exemptions (id, store_id, environment, customer_id, \
        certificate_id, jurisdictions, expires_on, created_at) \
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8) \
        ON CONFLICT (store_id, environment, customer_id, certificate_id) DO NOTHING";
    let rows = on_db!(db, pool => sqlx::query(SQL).bind(row.id).bind(store).bind(env)
        .bind(row.customer_id).bind(&row.certificate_id).bind(&row.jurisdictions)
        .bind(row.expires_on).bind(row.created_at).execute(pool).await.map(|r| r.rows_affected()))?;
    Ok(rows == 1)
}

/// A customer's certificates, oldest first (a customer holds few).
pub async fn exemptions(
    db: &Db,
    store: StoreId,
    env: Environment,
    customer: CustomerId,
) -> Result<Vec<ExemptionRow>, DbError> {
    const SQL: &str = "SELECT id, customer_id, certificate_id, jurisdictions, expires_on, \
        created_at FROM tax_exemptions \
        WHERE store_id = $1 AND environment = $2 AND customer_id = $3 ORDER BY id LIMIT 100";
    Ok(
        on_db!(db, pool => sqlx::query_as(SQL).bind(store).bind(env).bind(customer)
        .fetch_all(pool).await)?,
    )
}

/// How many certificates a customer has.
pub async fn exemption_count(
    db: &Db,
    store: StoreId,
    env: Environment,
    customer: CustomerId,
) -> Result<i64, DbError> {
    const SQL: &str = "SELECT COUNT(*) FROM tax_exemptions \
        WHERE store_id = $1 AND environment = $2 AND customer_id = $3";
    Ok(
        on_db!(db, pool => sqlx::query_scalar(SQL).bind(store).bind(env).bind(customer)
        .fetch_one(pool).await)?,
    )
}

/// Removes a certificate of a customer; `false` when there was none.
pub async fn delete_exemption(
    db: &Db,
    store: StoreId,
    env: Environment,
    customer: CustomerId,
    id: TaxExemptionId,
) -> Result<bool, DbError> {
    const SQL: &str = "DELETE FROM tax_exemptions \
        WHERE id = $1 AND store_id = $2 AND environment = $3 AND customer_id = $4";
    let rows = on_db!(db, pool => sqlx::query(SQL).bind(id).bind(store).bind(env).bind(customer)
        .execute(pool).await.map(|r| r.rows_affected()))?;
    Ok(rows == 1)
}

/// A tax line as stored.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct TaxLineRow {
    pub line_no: i32,
    pub position: i32,
    pub jurisdiction: String,
    pub level: String,
    pub tax_code: String,
    pub rate: String,
    pub taxable: MinorUnits,
    pub exempt: MinorUnits,
    pub tax: MinorUnits,
    pub reason: Option<String>,
    pub certificate_id: Option<String>,
    pub rounding: String,
    pub engine: String,
    pub engine_version: String,
}

/// Stores a snapshot's tax lines in its transaction, as parts of `writes`.
pub async fn insert_lines(
    tx: &mut Tx,
    writes: &mut Writes,
    snapshot: SnapshotId,
    lines: &[TaxLineRow],
) -> Result<(), DbError> {
    // A few hundred rows at most; chunked all the same, far below either database's limit
    // on bound values, so one statement carries all of a usual snapshot.
    for chunk in lines.chunks(200) {
        let sql = format!(
            "INSERT INTO order_tax_lines (snapshot_id, line_no, position, jurisdiction, level, \
             tax_code, rate, taxable, exempt, tax, reason, certificate_id, rounding, engine, \
             engine_version) VALUES {}",
            crate::db::values(chunk.len(), 15, 1)
        );
        write_part!(&mut *tx, writes, &sql, "RETURNING 1", keep: chunk.len() <= 8, q => {
            let mut query = q;
            for l in chunk {
                query = query.bind(snapshot).bind(l.line_no).bind(l.position)
                    .bind(&l.jurisdiction).bind(&l.level).bind(&l.tax_code).bind(&l.rate)
                    .bind(l.taxable).bind(l.exempt).bind(l.tax).bind(&l.reason)
                    .bind(&l.certificate_id).bind(&l.rounding).bind(&l.engine)
                    .bind(&l.engine_version);
            }
            query
        })?;
    }
    Ok(())
}

/// A snapshot's tax lines, by line and position.
pub async fn lines(db: &Db, snapshot: SnapshotId) -> Result<Vec<TaxLineRow>, DbError> {
    const SQL: &str = "SELECT line_no, position, jurisdiction, level, tax_code, rate, taxable, \
        exempt, tax, reason, certificate_id, rounding, engine, engine_version \
        FROM order_tax_lines WHERE snapshot_id = $1 ORDER BY line_no, position";
    Ok(on_db!(db, pool => sqlx::query_as(SQL).bind(snapshot).fetch_all(pool).await)?)
}

/// Whether the customer belongs to the store and environment.
pub async fn customer_exists(
    db: &Db,
    store: StoreId,
    env: Environment,
    customer: CustomerId,
) -> Result<bool, DbError> {
    const SQL: &str = "SELECT COUNT(*) FROM customers \
        WHERE id = $1 AND store_id = $2 AND environment = $3";
    let n: i64 = on_db!(db, pool => sqlx::query_scalar(SQL).bind(customer).bind(store).bind(env)
        .fetch_one(pool).await)?;
    Ok(n > 0)
}

/// A snapshot tax line's amounts, for committing and reversing.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct LineAmounts {
    pub line_no: i32,
    pub position: i32,
    pub jurisdiction: String,
    pub taxable: i64,
    pub exempt: i64,
    pub tax: i64,
    /// The engine that computed the snapshot line (empty where what was moved is summed).
    #[sqlx(default)]
    pub engine: String,
}

/// A snapshot's tax lines, read inside the settling transaction. A snapshot quoted before tax
/// lines existed gives one line per taxed item (jurisdiction `unspecified`) from its priced
/// lines, so the tax its customer paid is still committed and reversed.
pub async fn line_amounts(tx: &mut Tx, snapshot: SnapshotId) -> Result<Vec<LineAmounts>, DbError> {
    const SQL: &str = "SELECT line_no, position, jurisdiction, taxable, exempt, tax, engine \
        FROM order_tax_lines WHERE snapshot_id = $1 ORDER BY line_no, position";
    const LEGACY: &str = "SELECT line_no, 0 AS position, 'unspecified' AS jurisdiction, \
        net AS taxable, 0 AS exempt, tax, 'rules' AS engine FROM order_checkout_snapshot_items \
        WHERE snapshot_id = $1 AND tax > 0 ORDER BY line_no";
    let lines: Vec<LineAmounts> =
        on_tx!(tx, conn => sqlx::query_as(SQL).bind(snapshot).fetch_all(&mut *conn).await)?;
    if !lines.is_empty() {
        return Ok(lines);
    }
    Ok(on_tx!(tx, conn => sqlx::query_as(LEGACY).bind(snapshot).fetch_all(&mut *conn).await)?)
}

/// A row of [`moved`]: what one kind moved on one snapshot tax line.
#[derive(sqlx::FromRow)]
struct MovedRow {
    kind: String,
    #[sqlx(flatten)]
    amounts: LineAmounts,
}

/// What a payment's tax transactions moved so far, per snapshot tax line, and whether its
/// order's tax was finalized by `finalize_source`: read in one statement.
#[derive(Debug, Default)]
pub struct Moved {
    pub commits: Vec<LineAmounts>,
    pub reversals: Vec<LineAmounts>,
    pub finalized: bool,
}

/// See [`Moved`].
pub async fn moved(
    tx: &mut Tx,
    intent: PaymentIntentId,
    order: OrderId,
    finalize_source: &str,
) -> Result<Moved, DbError> {
    // The finalization is one marker row (kind `finalized`) among the sums, so a payment that
    // moved nothing yet still learns it.
    const SQL: &str = "SELECT t.kind, l.line_no, l.position, MIN(l.jurisdiction) AS jurisdiction, \
        CAST(SUM(l.taxable) AS BIGINT) AS taxable, CAST(SUM(l.exempt) AS BIGINT) AS exempt, \
        CAST(SUM(l.tax) AS BIGINT) AS tax \
        FROM tax_transaction_lines l JOIN tax_transactions t ON t.id = l.transaction_id \
        WHERE t.payment_intent_id = $1 GROUP BY t.kind, l.line_no, l.position \
        UNION ALL SELECT 'finalized', 0, 0, '', CAST(0 AS BIGINT), CAST(0 AS BIGINT), \
        CAST(0 AS BIGINT) WHERE EXISTS (SELECT 1 FROM tax_transactions \
        WHERE order_id = $2 AND source = $3)";
    let rows: Vec<MovedRow> = on_tx!(tx, conn => sqlx::query_as(SQL).bind(intent).bind(order)
        .bind(finalize_source).fetch_all(&mut *conn).await)?;
    let mut moved = Moved::default();
    for row in rows {
        match row.kind.as_str() {
            "commit" => moved.commits.push(row.amounts),
            "reversal" => moved.reversals.push(row.amounts),
            "finalized" => moved.finalized = true,
            other => {
                return Err(DbError::Query(sqlx::Error::Decode(
                    format!("unknown tax transaction kind {other:?}").into(),
                )));
            }
        }
    }
    Ok(moved)
}

/// A tax transaction as stored.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct TransactionRow {
    pub id: Uuid,
    pub store_id: StoreId,
    pub environment: Environment,
    pub order_id: OrderId,
    pub payment_intent_id: PaymentIntentId,
    pub snapshot_id: SnapshotId,
    pub kind: String,
    pub source: String,
    pub currency: String,
    pub taxable: i64,
    pub exempt: i64,
    pub tax: i64,
    pub created_at: DateTime<Utc>,
}

/// Records a transaction with its lines; `false` (and nothing written) when the order already
/// has one from the same source.
pub async fn insert_transaction(
    tx: &mut Tx,
    row: &TransactionRow,
    lines: &[LineAmounts],
) -> Result<bool, DbError> {
    const SQL: &str = "INSERT INTO tax_transactions (id, store_id, environment, order_id, \
        payment_intent_id, snapshot_id, kind, source, currency, taxable, exempt, tax, created_at) \
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13) \
        ON CONFLICT (order_id, source, kind) DO NOTHING";
    // All lines in one statement (a snapshot holds at most a few hundred: far below either
    // database's limit on bound values). On PostgreSQL the transaction and its lines are one
    // statement: the lines are written only if the transaction was.
    let lines_sql = format!(
        "INSERT INTO tax_transaction_lines (transaction_id, line_no, position, jurisdiction, \
         taxable, exempt, tax) VALUES {}",
        crate::db::values(lines.len(), 7, 1)
    );
    let both_sql = format!(
        "WITH t AS ({SQL} RETURNING id) INSERT INTO tax_transaction_lines (transaction_id, \
         line_no, position, jurisdiction, taxable, exempt, tax) \
         SELECT t.id, v.line_no, v.position, v.jurisdiction, v.taxable, v.exempt, v.tax FROM t \
         CROSS JOIN (VALUES {}) AS v (line_no, position, jurisdiction, taxable, exempt, tax)",
        crate::db::values(lines.len(), 6, 14)
    );
    // Only the usual small shapes are worth a prepared statement per connection.
    let persistent = lines.len() <= 8;
    let inserted = match tx {
        Tx::Postgres(conn) if !lines.is_empty() => {
            let mut query = sqlx::query(&both_sql)
                .persistent(persistent)
                .bind(row.id)
                .bind(row.store_id)
                .bind(row.environment)
                .bind(row.order_id)
                .bind(row.payment_intent_id)
                .bind(row.snapshot_id)
                .bind(&row.kind)
                .bind(&row.source)
                .bind(&row.currency)
                .bind(row.taxable)
                .bind(row.exempt)
                .bind(row.tax)
                .bind(row.created_at);
            for l in lines {
                query = query
                    .bind(l.line_no)
                    .bind(l.position)
                    .bind(&l.jurisdiction)
                    .bind(l.taxable)
                    .bind(l.exempt)
                    .bind(l.tax);
            }
            query.execute(&mut **conn).await?.rows_affected() > 0
        }
        _ => on_tx!(tx, conn => {
            let rows = sqlx::query(SQL).bind(row.id).bind(row.store_id).bind(row.environment)
                .bind(row.order_id).bind(row.payment_intent_id).bind(row.snapshot_id)
                .bind(&row.kind).bind(&row.source)
                .bind(&row.currency).bind(row.taxable).bind(row.exempt).bind(row.tax)
                .bind(row.created_at).execute(&mut *conn).await?.rows_affected();
            if rows == 1 && !lines.is_empty() {
                let mut query = sqlx::query(&lines_sql).persistent(persistent);
                for l in lines {
                    query = query.bind(row.id).bind(l.line_no).bind(l.position)
                        .bind(&l.jurisdiction).bind(l.taxable).bind(l.exempt).bind(l.tax);
                }
                query.execute(&mut *conn).await?;
            }
            Ok::<_, sqlx::Error>(rows == 1)
        })?,
    };
    Ok(inserted)
}

/// An order's tax transactions, oldest first, with their lines (two queries, no N+1).
pub async fn order_transactions(
    db: &Db,
    store: StoreId,
    env: Environment,
    order: OrderId,
) -> Result<(Vec<TransactionRow>, Vec<(Uuid, LineAmounts)>), DbError> {
    const SQL: &str = "SELECT id, store_id, environment, order_id, payment_intent_id, \
        snapshot_id, kind, source, currency, taxable, exempt, tax, created_at FROM tax_transactions \
        WHERE order_id = $1 AND store_id = $2 AND environment = $3 ORDER BY id";
    const LINES: &str = "SELECT l.transaction_id, l.line_no, l.position, l.jurisdiction, \
        l.taxable, l.exempt, l.tax FROM tax_transaction_lines l \
        JOIN tax_transactions t ON t.id = l.transaction_id \
        WHERE t.order_id = $1 AND t.store_id = $2 AND t.environment = $3 \
        ORDER BY l.transaction_id, l.line_no, l.position";
    let transactions: Vec<TransactionRow> = on_db!(db, pool => sqlx::query_as(SQL).bind(order)
        .bind(store).bind(env).fetch_all(pool).await)?;
    let lines: Vec<(Uuid, i32, i32, String, i64, i64, i64)> = on_db!(db, pool =>
        sqlx::query_as(LINES).bind(order).bind(store).bind(env).fetch_all(pool).await)?;
    Ok((
        transactions,
        lines
            .into_iter()
            .map(
                |(id, line_no, position, jurisdiction, taxable, exempt, tax)| {
                    (
                        id,
                        LineAmounts {
                            line_no,
                            position,
                            jurisdiction,
                            taxable,
                            exempt,
                            tax,
                            engine: String::new(),
                        },
                    )
                },
            )
            .collect(),
    ))
}

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
