//! `tax_transactions` and `tax_transaction_lines`: the tax ledger's movements.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::{
    db::{Db, DbError, Tx},
    on_db, on_tx,
    types::{Environment, OrderId, PaymentIntentId, SnapshotId, StoreId},
};

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
