//! `shipping_settings`, `shipment_rates`, `shipments` with their packages, `tracking_events`
//! and `shipment_events`. One read reaches outside: [`paid_snapshot`] reads which snapshot an
//! order's live payment was made on (payments' and checkout's tables), which is what a label
//! purchase is held to.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::{packing::Package, status::ShipmentStatus};
use crate::{
    db::{Db, DbError, Tx, unless_duplicate},
    money::MinorUnits,
    on_db, on_tx,
    providers::shipping::carrier::{TrackingStatus, TrackingUpdate},
    types::{Currency, Environment, OrderId, ShipmentId, ShippingRateId, StoreId},
};

fn decode_error(err: impl std::error::Error + Send + Sync + 'static) -> DbError {
    DbError::Query(sqlx::Error::Decode(Box::new(err)))
}

/// `Ok(false)` for an insert a unique index refused.
fn inserted(result: Result<u64, sqlx::Error>) -> Result<bool, DbError> {
    Ok(unless_duplicate(result)? == Some(1))
}

/// One order line with what packing needs.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct LineDims {
    pub line_no: i32,
    pub quantity: i32,
    pub weight_grams: i32,
    pub length_mm: i32,
    pub width_mm: i32,
    pub height_mm: i32,
}

/// An order's lines with the dimensions of their products.
pub async fn order_lines(db: &Db, order: OrderId) -> Result<Vec<LineDims>, DbError> {
    const SQL: &str = "SELECT i.line_no, i.quantity, i.weight_grams, p.length_mm, p.width_mm, \
        p.height_mm FROM order_items i JOIN products p ON p.id = i.product_id \
        WHERE i.order_id = $1 ORDER BY i.line_no";
    Ok(on_db!(db, pool => sqlx::query_as(SQL).bind(order).fetch_all(pool).await)?)
}

/// A store's shipping settings as stored.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct SettingsRow {
    pub ship_from: String,
    pub boxes: String,
    pub capture_on_shipment: bool,
    pub updated_at: DateTime<Utc>,
}

/// The settings of a store and environment, if set.
pub async fn settings(
    db: &Db,
    store: StoreId,
    env: Environment,
) -> Result<Option<SettingsRow>, DbError> {
    const SQL: &str = "SELECT ship_from, boxes, capture_on_shipment, updated_at \
        FROM shipping_settings WHERE store_id = $1 AND environment = $2";
    Ok(on_db!(db, pool => sqlx::query_as(SQL).bind(store).bind(env).fetch_optional(pool).await)?)
}

/// Writes the settings of a store and environment.
pub async fn put_settings(
    db: &Db,
    store: StoreId,
    env: Environment,
    row: &SettingsRow,
) -> Result<(), DbError> {
    const SQL: &str = "INSERT INTO shipping_settings (store_id, environment, ship_from, boxes, \
        capture_on_shipment, updated_at) VALUES ($1, $2, $3, $4, $5, $6) \
        ON CONFLICT (store_id, environment) DO UPDATE SET ship_from = excluded.ship_from, \
        boxes = excluded.boxes, capture_on_shipment = excluded.capture_on_shipment, \
        updated_at = excluded.updated_at";
    on_db!(db, pool => {
        sqlx::query(SQL).bind(store).bind(env).bind(&row.ship_from).bind(&row.boxes)
            .bind(row.capture_on_shipment).bind(row.updated_at).execute(pool).await.map(|_| ())
    })?;
    Ok(())
}

/// A rate shown for an order.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct RateRow {
    pub id: ShippingRateId,
    pub store_id: StoreId,
    pub environment: Environment,
    pub order_id: OrderId,
    pub order_revision: i32,
    pub provider: String,
    pub provider_rate_id: Option<String>,
    pub service: String,
    pub amount: MinorUnits,
    pub currency: Currency,
    pub estimated_days: Option<i32>,
    /// JSON of the packages it prices.
    pub packages: String,
    pub expires_at: DateTime<Utc>,
    pub created_at: DateTime<Utc>,
}

impl RateRow {
    /// The packages it prices.
    pub fn packages(&self) -> Result<Vec<Package>, DbError> {
        serde_json::from_str(&self.packages).map_err(decode_error)
    }
}

const RATE_COLUMNS: &str = "id, store_id, environment, order_id, order_revision, provider, \
    provider_rate_id, service, amount, currency, estimated_days, packages, expires_at, created_at";

/// Stores the rates shown for an order.
pub async fn insert_rates(db: &Db, rates: &[RateRow]) -> Result<(), DbError> {
    let sql = format!(
        "INSERT INTO shipment_rates ({RATE_COLUMNS}) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)"
    );
    let mut tx = db.begin_write().await?;
    for r in rates {
        on_tx!(&mut tx, conn => {
            sqlx::query(&sql).bind(r.id).bind(r.store_id).bind(r.environment).bind(r.order_id)
                .bind(r.order_revision).bind(&r.provider).bind(&r.provider_rate_id)
                .bind(&r.service).bind(r.amount).bind(r.currency).bind(r.estimated_days)
                .bind(&r.packages).bind(r.expires_at).bind(r.created_at)
                .execute(conn).await.map(|_| ())
        })?;
    }
    tx.commit().await
}

/// One rate of a store and environment.
pub async fn rate(
    db: &Db,
    store: StoreId,
    env: Environment,
    id: ShippingRateId,
) -> Result<Option<RateRow>, DbError> {
    let sql = format!(
        "SELECT {RATE_COLUMNS} FROM shipment_rates WHERE id = $1 AND store_id = $2 \
         AND environment = $3"
    );
    Ok(on_db!(db, pool => {
        sqlx::query_as(&sql).bind(id).bind(store).bind(env).fetch_optional(pool).await
    })?)
}

/// What an order's live payment was made on: the snapshot's shipping price and frozen rate.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct PaidSnapshot {
    pub shipping: MinorUnits,
    pub shipping_rate_id: Option<ShippingRateId>,
}

/// The snapshot of the order's authorized or captured payment, if it has one.
pub async fn paid_snapshot(db: &Db, order: OrderId) -> Result<Option<PaidSnapshot>, DbError> {
    const SQL: &str = "SELECT s.shipping, s.shipping_rate_id FROM payment_intents i \
        JOIN order_checkout_snapshots s ON s.id = i.snapshot_id \
        WHERE i.order_id = $1 AND i.status IN ('authorized', 'partially_captured', 'captured', \
        'partially_refunded') ORDER BY i.id DESC LIMIT 1";
    Ok(on_db!(db, pool => sqlx::query_as(SQL).bind(order).fetch_optional(pool).await)?)
}

/// A shipment as stored (without its documents).
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ShipmentRow {
    pub id: ShipmentId,
    pub store_id: StoreId,
    pub environment: Environment,
    pub order_id: OrderId,
    pub rate_id: ShippingRateId,
    pub provider: String,
    pub service: String,
    pub status: ShipmentStatus,
    pub amount: MinorUnits,
    pub currency: Currency,
    pub provider_label_id: Option<String>,
    pub tracking_number: Option<String>,
    pub void_deadline: Option<DateTime<Utc>>,
    pub failure_code: Option<String>,
    /// `<actor> <Idempotency-Key>` of the request that bought it.
    pub purchase_key: Option<String>,
    /// Resolver attempts on a purchase left open.
    pub resolve_attempts: i32,
    /// The label is bought and the store's capture on shipment is still to be made.
    pub capture_due: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

const SHIPMENT_COLUMNS: &str = "id, store_id, environment, order_id, rate_id, provider, \
    service, status, amount, currency, provider_label_id, tracking_number, void_deadline, \
    failure_code, purchase_key, resolve_attempts, capture_due, created_at, updated_at";

/// Inserts a new shipment with its packages. `Ok(false)`: the order already has a live one.
pub async fn insert_shipment(
    tx: &mut Tx,
    s: &ShipmentRow,
    packages: &[Package],
) -> Result<bool, DbError> {
    let sql = format!(
        "INSERT INTO shipments ({SHIPMENT_COLUMNS}) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, \
         $18, $19)"
    );
    let result = on_tx!(tx, conn => {
        sqlx::query(&sql).bind(s.id).bind(s.store_id).bind(s.environment).bind(s.order_id)
            .bind(s.rate_id).bind(&s.provider).bind(&s.service).bind(s.status).bind(s.amount)
            .bind(s.currency).bind(&s.provider_label_id).bind(&s.tracking_number)
            .bind(s.void_deadline).bind(&s.failure_code).bind(&s.purchase_key)
            .bind(s.resolve_attempts).bind(s.capture_due).bind(s.created_at).bind(s.updated_at)
            .execute(&mut *conn).await.map(|r| r.rows_affected())
    });
    if !inserted(result)? {
        return Ok(false);
    }
    const PACKAGE: &str = "INSERT INTO shipment_packages (shipment_id, package_no, box_name, \
        length_mm, width_mm, height_mm, weight_grams, items) \
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8)";
    for (no, p) in packages.iter().enumerate() {
        let items = serde_json::to_string(&p.items).map_err(decode_error)?;
        let no = i32::try_from(no + 1).map_err(decode_error)?;
        let dims = [p.length_mm, p.width_mm, p.height_mm, p.weight_grams]
            .map(|v| i32::try_from(v).unwrap_or(i32::MAX));
        on_tx!(tx, conn => {
            sqlx::query(PACKAGE).bind(s.id).bind(no).bind(&p.box_name).bind(dims[0])
                .bind(dims[1]).bind(dims[2]).bind(dims[3]).bind(&items)
                .execute(conn).await.map(|_| ())
        })?;
    }
    Ok(true)
}

/// One shipment of a store and environment.
pub async fn find(
    db: &Db,
    store: StoreId,
    env: Environment,
    id: ShipmentId,
) -> Result<Option<ShipmentRow>, DbError> {
    let sql = format!(
        "SELECT {SHIPMENT_COLUMNS} FROM shipments WHERE id = $1 AND store_id = $2 \
         AND environment = $3"
    );
    Ok(on_db!(db, pool => {
        sqlx::query_as(&sql).bind(id).bind(store).bind(env).fetch_optional(pool).await
    })?)
}

/// The order's live shipment (not failed, not voided), if any.
pub async fn live_for_order(db: &Db, order: OrderId) -> Result<Option<ShipmentRow>, DbError> {
    let sql = format!(
        "SELECT {SHIPMENT_COLUMNS} FROM shipments WHERE order_id = $1 \
         AND status NOT IN ('purchase_failed', 'cancelled')"
    );
    Ok(on_db!(db, pool => sqlx::query_as(&sql).bind(order).fetch_optional(pool).await)?)
}

/// Every shipment of an order, oldest first.
pub async fn of_order(db: &Db, order: OrderId) -> Result<Vec<ShipmentRow>, DbError> {
    let sql = format!("SELECT {SHIPMENT_COLUMNS} FROM shipments WHERE order_id = $1 ORDER BY id");
    Ok(on_db!(db, pool => sqlx::query_as(&sql).bind(order).fetch_all(pool).await)?)
}

/// The shipment a carrier's label belongs to, within a store and environment.
pub async fn by_label(
    db: &Db,
    store: StoreId,
    env: Environment,
    provider: &str,
    label: &str,
) -> Result<Option<ShipmentRow>, DbError> {
    let sql = format!(
        "SELECT {SHIPMENT_COLUMNS} FROM shipments WHERE provider = $1 AND provider_label_id = $2 \
         AND store_id = $3 AND environment = $4"
    );
    Ok(on_db!(db, pool => {
        sqlx::query_as(&sql).bind(provider).bind(label).bind(store).bind(env)
            .fetch_optional(pool).await
    })?)
}

/// Purchases left `purchasing` since before `cutoff` whose next resolver attempt is due at
/// `now`, longest open first.
pub async fn due_purchases(
    db: &Db,
    now: DateTime<Utc>,
    cutoff: DateTime<Utc>,
    limit: i64,
) -> Result<Vec<ShipmentRow>, DbError> {
    let sql = format!(
        "SELECT {SHIPMENT_COLUMNS} FROM shipments WHERE status = 'purchasing' \
         AND updated_at <= $2 AND (next_resolve_at IS NULL OR next_resolve_at <= $1) \
         ORDER BY updated_at LIMIT {limit}"
    );
    Ok(on_db!(db, pool => sqlx::query_as(&sql).bind(now).bind(cutoff).fetch_all(pool).await)?)
}

/// Claims an open purchase for one resolver attempt: counts it and moves the next one to
/// `next`, only if nobody did since `attempts` was read (two instances' passes that read the
/// same row drive it once).
pub async fn claim_purchase(
    db: &Db,
    id: ShipmentId,
    attempts: i32,
    next: DateTime<Utc>,
) -> Result<bool, DbError> {
    const SQL: &str = "UPDATE shipments SET resolve_attempts = resolve_attempts + 1, \
        next_resolve_at = $2 WHERE id = $1 AND resolve_attempts = $3 AND status = 'purchasing'";
    let claimed = on_db!(db, pool => sqlx::query(SQL).bind(id).bind(next).bind(attempts)
        .execute(pool).await.map(|r| r.rows_affected()))?;
    Ok(claimed == 1)
}

/// Labelled shipments whose capture on shipment is still due, unchanged since `cutoff`
/// (a request that bought one just now makes its own), oldest first; a voided one (by Cassa or
/// by the carrier's webhook) ships nothing and is never captured for.
pub async fn due_captures(
    db: &Db,
    cutoff: DateTime<Utc>,
    limit: i64,
) -> Result<Vec<ShipmentRow>, DbError> {
    let sql = format!(
        "SELECT {SHIPMENT_COLUMNS} FROM shipments WHERE capture_due AND updated_at <= $1 \
         AND status <> 'cancelled' ORDER BY updated_at LIMIT {limit}"
    );
    Ok(on_db!(db, pool => sqlx::query_as(&sql).bind(cutoff).fetch_all(pool).await)?)
}

/// The shipment's capture on shipment was made (or cannot be).
pub async fn capture_made(db: &Db, id: ShipmentId) -> Result<(), DbError> {
    const SQL: &str = "UPDATE shipments SET capture_due = false WHERE id = $1 AND capture_due";
    on_db!(db, pool => sqlx::query(SQL).bind(id).execute(pool).await.map(|_| ()))?;
    Ok(())
}

/// Locks a shipment for a change (`FOR UPDATE` on PostgreSQL; SQLite's write transaction
/// already holds the database).
pub async fn lock(tx: &mut Tx, id: ShipmentId) -> Result<ShipmentRow, DbError> {
    let base = format!("SELECT {SHIPMENT_COLUMNS} FROM shipments WHERE id = $1");
    Ok(match tx {
        Tx::Sqlite(tx) => sqlx::query_as(&base).bind(id).fetch_one(&mut **tx).await?,
        Tx::Postgres(tx) => {
            sqlx::query_as(&format!("{base} FOR UPDATE"))
                .bind(id)
                .fetch_one(&mut **tx)
                .await?
        }
    })
}

/// Writes a shipment's changed fields.
pub async fn update(tx: &mut Tx, s: &ShipmentRow) -> Result<(), DbError> {
    const SQL: &str = "UPDATE shipments SET status = $2, amount = $3, currency = $4, \
        provider_label_id = $5, tracking_number = $6, void_deadline = $7, failure_code = $8, \
        service = $9, updated_at = $10, capture_due = $11 WHERE id = $1";
    on_tx!(tx, conn => {
        sqlx::query(SQL).bind(s.id).bind(s.status).bind(s.amount).bind(s.currency)
            .bind(&s.provider_label_id).bind(&s.tracking_number).bind(s.void_deadline)
            .bind(&s.failure_code).bind(&s.service).bind(s.updated_at).bind(s.capture_due)
            .execute(conn).await.map(|_| ())
    })?;
    Ok(())
}

/// Stores the label's documents.
pub async fn set_documents(
    db: &Db,
    id: ShipmentId,
    pdf: Option<&[u8]>,
    zpl: Option<&str>,
) -> Result<(), DbError> {
    const SQL: &str = "UPDATE shipments SET label_pdf = COALESCE($2, label_pdf), \
        label_zpl = COALESCE($3, label_zpl) WHERE id = $1";
    on_db!(db, pool => {
        sqlx::query(SQL).bind(id).bind(pdf).bind(zpl).execute(pool).await.map(|_| ())
    })?;
    Ok(())
}

/// The stored label documents (PDF bytes, ZPL text).
pub async fn documents(
    db: &Db,
    id: ShipmentId,
) -> Result<(Option<Vec<u8>>, Option<String>), DbError> {
    const SQL: &str = "SELECT label_pdf, label_zpl FROM shipments WHERE id = $1";
    let row: Option<(Option<Vec<u8>>, Option<String>)> =
        on_db!(db, pool => sqlx::query_as(SQL).bind(id).fetch_optional(pool).await)?;
    Ok(row.unwrap_or((None, None)))
}

/// A package as stored.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct PackageRow {
    pub shipment_id: ShipmentId,
    pub box_name: String,
    pub length_mm: i32,
    pub width_mm: i32,
    pub height_mm: i32,
    pub weight_grams: i32,
    pub items: String,
}

/// The packages of some shipments, in order (read in `tx`, with the rest of their view).
pub async fn packages(tx: &mut Tx, ids: &[ShipmentId]) -> Result<Vec<PackageRow>, DbError> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let sql = format!(
        "SELECT shipment_id, box_name, length_mm, width_mm, height_mm, weight_grams, items \
         FROM shipment_packages WHERE shipment_id IN ({}) ORDER BY shipment_id, package_no",
        placeholders(ids.len())
    );
    Ok(on_tx!(tx, conn => {
        let mut query = sqlx::query_as(&sql);
        for id in ids {
            query = query.bind(*id);
        }
        query.fetch_all(&mut *conn).await
    })?)
}

fn placeholders(n: usize) -> String {
    (1..=n)
        .map(|i| format!("${i}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// A tracking event as stored.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct TrackingRow {
    pub shipment_id: ShipmentId,
    pub sequence: i32,
    pub status: TrackingStatus,
    pub raw_code: String,
    pub description: String,
    pub location: Option<String>,
    pub occurred_at: DateTime<Utc>,
}

/// Records a tracking event; `false` when its position in the timeline was already recorded.
pub async fn insert_tracking(
    tx: &mut Tx,
    shipment: ShipmentId,
    e: &TrackingUpdate,
    received_at: DateTime<Utc>,
) -> Result<bool, DbError> {
    const SQL: &str = "INSERT INTO tracking_events (shipment_id, sequence, status, raw_code, \
        description, location, occurred_at, received_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) \
        ON CONFLICT (shipment_id, sequence) DO NOTHING";
    let rows = on_tx!(tx, conn => {
        sqlx::query(SQL).bind(shipment).bind(e.sequence).bind(e.status).bind(&e.raw_code)
            .bind(&e.description).bind(&e.location).bind(e.occurred_at).bind(received_at)
            .execute(conn).await.map(|r| r.rows_affected())
    })?;
    Ok(rows == 1)
}

/// The timelines of some shipments, in order.
pub async fn tracking(tx: &mut Tx, ids: &[ShipmentId]) -> Result<Vec<TrackingRow>, DbError> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let sql = format!(
        "SELECT shipment_id, sequence, status, raw_code, description, location, occurred_at \
         FROM tracking_events WHERE shipment_id IN ({}) ORDER BY shipment_id, sequence",
        placeholders(ids.len())
    );
    Ok(on_tx!(tx, conn => {
        let mut query = sqlx::query_as(&sql);
        for id in ids {
            query = query.bind(*id);
        }
        query.fetch_all(&mut *conn).await
    })?)
}

/// [`tracking`] of one shipment inside a transaction (to replay it after a purchase).
pub async fn tracking_in(tx: &mut Tx, id: ShipmentId) -> Result<Vec<TrackingRow>, DbError> {
    const SQL: &str = "SELECT shipment_id, sequence, status, raw_code, description, location, \
        occurred_at FROM tracking_events WHERE shipment_id = $1 ORDER BY sequence";
    Ok(on_tx!(tx, conn => sqlx::query_as(SQL).bind(id).fetch_all(conn).await)?)
}

/// One row of a shipment's own audit.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct EventRow {
    pub id: Uuid,
    pub shipment_id: ShipmentId,
    pub kind: String,
    pub actor: String,
    pub detail: String,
    pub created_at: DateTime<Utc>,
}

/// Appends to a shipment's audit.
pub async fn insert_event(tx: &mut Tx, e: &EventRow) -> Result<(), DbError> {
    const SQL: &str = "INSERT INTO shipment_events (id, shipment_id, kind, actor, detail, \
        created_at) VALUES ($1, $2, $3, $4, $5, $6)";
    on_tx!(tx, conn => {
        sqlx::query(SQL).bind(e.id).bind(e.shipment_id).bind(&e.kind).bind(&e.actor)
            .bind(&e.detail).bind(e.created_at).execute(conn).await.map(|_| ())
    })?;
    Ok(())
}

/// The audits of some shipments, in order.
pub async fn events(tx: &mut Tx, ids: &[ShipmentId]) -> Result<Vec<EventRow>, DbError> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let sql = format!(
        "SELECT id, shipment_id, kind, actor, detail, created_at FROM shipment_events \
         WHERE shipment_id IN ({}) ORDER BY shipment_id, id",
        placeholders(ids.len())
    );
    Ok(on_tx!(tx, conn => {
        let mut query = sqlx::query_as(&sql);
        for id in ids {
            query = query.bind(*id);
        }
        query.fetch_all(&mut *conn).await
    })?)
}

/// A page of a store's shipments.
#[derive(Debug, Clone, Copy)]
pub struct ListFilter<'a> {
    pub after: Uuid,
    pub status: Option<ShipmentStatus>,
    pub provider: Option<&'a str>,
    pub limit: i64,
}

/// Shipments of a store and environment, oldest first after the cursor.
pub async fn list(
    db: &Db,
    store: StoreId,
    env: Environment,
    filter: ListFilter<'_>,
) -> Result<Vec<ShipmentRow>, DbError> {
    // Only the filters given are in the statement, so each combination gets the plan of its
    // index (`shipments_store`, `_store_status`, `_store_provider`).
    let mut sql = format!(
        "SELECT {SHIPMENT_COLUMNS} FROM shipments WHERE store_id = $1 AND environment = $2 \
         AND id > $3"
    );
    let mut next = 4;
    if filter.status.is_some() {
        sql.push_str(&format!(" AND status = ${next}"));
        next += 1;
    }
    if filter.provider.is_some() {
        sql.push_str(&format!(" AND provider = ${next}"));
        next += 1;
    }
    sql.push_str(&format!(" ORDER BY id LIMIT ${next}"));
    Ok(on_db!(db, pool => {
        let mut query = sqlx::query_as(&sql).bind(store).bind(env).bind(filter.after);
        if let Some(status) = filter.status {
            query = query.bind(status);
        }
        if let Some(provider) = filter.provider {
            query = query.bind(provider);
        }
        query.bind(filter.limit).fetch_all(pool).await
    })?)
}

/// Shipments per status of a store and environment.
pub async fn status_counts(
    db: &Db,
    store: StoreId,
    env: Environment,
) -> Result<Vec<(ShipmentStatus, i64)>, DbError> {
    const SQL: &str = "SELECT status, COUNT(*) FROM shipments WHERE store_id = $1 \
        AND environment = $2 GROUP BY status";
    Ok(on_db!(db, pool => sqlx::query_as(SQL).bind(store).bind(env).fetch_all(pool).await)?)
}
