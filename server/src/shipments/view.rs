//! Shipments as the API shows them: rows with their packages and timelines, loaded for a whole
//! page at once (one query per table, never one per shipment).

use std::collections::HashMap;

use super::{
    Error, HistoryEntry, LabelLinks, Shipment, ShipmentFilter, ShipmentStatus, TrackingEvent,
    packing::{Package, PackedLine},
    repo::{self, ShipmentRow},
};
use crate::{
    db::Tx,
    orders::{self, OrderScope},
    pagination::{Page, PageQuery},
    state::AppState,
    types::{Environment, InvalidValue, OrderId, ShipmentId, StoreId, TextValue},
};

/// The views of `rows`, read in `tx` (a read transaction, or the one that just changed them).
async fn views(tx: &mut Tx, rows: Vec<ShipmentRow>) -> Result<Vec<Shipment>, Error> {
    let ids: Vec<ShipmentId> = rows.iter().map(|r| r.id).collect();
    let mut packages: HashMap<ShipmentId, Vec<Package>> = HashMap::new();
    for p in repo::packages(tx, &ids).await? {
        let items: Vec<PackedLine> = serde_json::from_str(&p.items)
            .map_err(|e| Error::Internal(anyhow::anyhow!("stored package items: {e}")))?;
        packages.entry(p.shipment_id).or_default().push(Package {
            box_name: p.box_name,
            length_mm: i64::from(p.length_mm),
            width_mm: i64::from(p.width_mm),
            height_mm: i64::from(p.height_mm),
            weight_grams: i64::from(p.weight_grams),
            items,
        });
    }
    let mut tracking: HashMap<ShipmentId, Vec<TrackingEvent>> = HashMap::new();
    for t in repo::tracking(tx, &ids).await? {
        tracking
            .entry(t.shipment_id)
            .or_default()
            .push(TrackingEvent {
                sequence: t.sequence,
                status: t.status,
                raw_code: t.raw_code,
                description: t.description,
                location: t.location,
                occurred_at: t.occurred_at,
            });
    }
    let mut history: HashMap<ShipmentId, Vec<HistoryEntry>> = HashMap::new();
    for e in repo::events(tx, &ids).await? {
        history
            .entry(e.shipment_id)
            .or_default()
            .push(HistoryEntry {
                kind: e.kind,
                actor: e.actor,
                detail: e.detail,
                at: e.created_at,
            });
    }
    Ok(rows
        .into_iter()
        .map(|r| {
            let printable = r.status.has_label() && r.status != ShipmentStatus::Cancelled;
            let label = printable.then(|| {
                let base = format!("/api/v1/admin/shipments/{}/label", r.id);
                LabelLinks {
                    pdf: format!("{base}?format=pdf"),
                    zpl: format!("{base}?format=zpl"),
                }
            });
            Shipment {
                packages: packages.remove(&r.id).unwrap_or_default(),
                tracking: tracking.remove(&r.id).unwrap_or_default(),
                history: history.remove(&r.id).unwrap_or_default(),
                label,
                id: r.id,
                order_id: r.order_id,
                status: r.status,
                provider: r.provider,
                service: r.service,
                rate_id: r.rate_id,
                amount: r.amount,
                currency: r.currency,
                tracking_number: r.tracking_number,
                void_deadline: r.void_deadline,
                failure_code: r.failure_code,
                created_at: r.created_at,
                updated_at: r.updated_at,
            }
        })
        .collect())
}

/// One shipment of a store and environment.
pub async fn find(
    state: &AppState,
    store: StoreId,
    env: Environment,
    id: ShipmentId,
) -> Result<Shipment, Error> {
    let row = repo::find(&state.db, store, env, id)
        .await?
        .ok_or(Error::NotFound)?;
    read(state, vec![row]).await?.pop().ok_or(Error::NotFound)
}

/// A shipment a flow's transaction just changed, as the API shows it (what its events carry).
pub(super) async fn view_in(tx: &mut Tx, row: ShipmentRow) -> Result<Shipment, Error> {
    views(tx, vec![row]).await?.pop().ok_or(Error::NotFound)
}

/// The views of `rows`, read together in one read transaction.
async fn read(state: &AppState, rows: Vec<ShipmentRow>) -> Result<Vec<Shipment>, Error> {
    if rows.is_empty() {
        return Ok(Vec::new());
    }
    let mut tx = state.db.begin_read().await?;
    let shipments = views(&mut tx, rows).await?;
    tx.commit().await?;
    Ok(shipments)
}

/// A page of a store's shipments, optionally by status and carrier.
pub async fn list(
    state: &AppState,
    store: StoreId,
    env: Environment,
    filter: &ShipmentFilter,
    page: PageQuery,
) -> Result<Page<Shipment>, Error> {
    let limit = page.limit()?;
    let status = match filter.status.as_deref() {
        None | Some("") => None,
        Some(s) => Some(
            ShipmentStatus::from_text(s)
                .ok_or_else(|| InvalidValue::new("status", "not a shipment status"))?,
        ),
    };
    let provider = filter.carrier.as_deref().filter(|c| !c.is_empty());
    if provider.is_some_and(|p| p.len() > 64) {
        return Err(InvalidValue::new("carrier", "at most 64 characters").into());
    }
    let rows = repo::list(
        &state.db,
        store,
        env,
        repo::ListFilter {
            after: page.after(),
            status,
            provider,
            limit: i64::from(limit) + 1,
        },
    )
    .await?;
    let page = Page::from_rows(rows, limit);
    Ok(Page {
        data: read(state, page.data).await?,
        has_more: page.has_more,
    })
}

/// The shipments of an order the scope may see (a customer: only their own orders').
pub async fn of_order(
    state: &AppState,
    scope: OrderScope,
    order_id: OrderId,
) -> Result<Vec<Shipment>, Error> {
    // Tenant, environment and customer checks are the order's.
    orders::find(state, scope, order_id).await?;
    let rows = repo::of_order(&state.db, order_id).await?;
    read(state, rows).await
}

/// Shipments per status (the console's overview).
pub async fn status_counts(
    state: &AppState,
    store: StoreId,
    env: Environment,
) -> Result<Vec<(ShipmentStatus, i64)>, Error> {
    Ok(repo::status_counts(&state.db, store, env).await?)
}
