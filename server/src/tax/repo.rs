//! `tax_rates`, `tax_nexus`, `tax_exemptions` and `order_tax_lines`.

use chrono::{DateTime, NaiveDate, Utc};
use uuid::Uuid;

use crate::{
    db::{Db, DbError, Tx, Writes},
    money::MinorUnits,
    on_db, on_tx,
    types::{CustomerId, Environment, SnapshotId, StoreId, TaxExemptionId},
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
