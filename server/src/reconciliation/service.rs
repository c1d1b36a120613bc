//! Starting runs (on demand, for the platform, on a schedule), reading runs and items, and a
//! person's resolution of an item.

use chrono::{DateTime, NaiveDate, Utc};
use uuid::Uuid;

use super::{Error, Item, ItemKind, ItemSubject, KindTotal, Resolution, ResolveInput, Run, repo};
use crate::{
    state::AppState,
    types::{
        Environment, InvalidValue, OrderId, PaymentIntentId, ReconciliationItemId,
        ReconciliationRunId, ShipmentId, StoreId,
    },
};

/// The longest period one run covers.
const MAX_DAYS: i64 = 366;
/// The most items a note may hold.
const MAX_NOTE: usize = 2000;

pub(super) fn day_start(day: NaiveDate) -> DateTime<Utc> {
    day.and_hms_opt(0, 0, 0)
        .map(|t| t.and_utc())
        .unwrap_or(DateTime::<Utc>::MIN_UTC)
}

fn corrupt(what: &str, value: &str) -> Error {
    Error::Corrupt(format!("{what} {value:?}"))
}

/// A stored run as the API shows it.
pub fn run_view(row: &repo::RunRow) -> Result<Run, Error> {
    let totals = match row.summary.as_deref() {
        None => Vec::new(),
        Some(text) => {
            let summary: serde_json::Value =
                serde_json::from_str(text).map_err(|_| corrupt("run summary", text))?;
            summary["exceptions"]
                .as_array()
                .map(|kinds| {
                    kinds
                        .iter()
                        .filter_map(|k| {
                            Some(KindTotal {
                                kind: ItemKind::parse(k["kind"].as_str()?)?,
                                currency: k["currency"].as_str()?.to_owned(),
                                count: k["count"].as_i64()?,
                                difference: k["difference"].as_i64()?,
                            })
                        })
                        .collect()
                })
                .unwrap_or_default()
        }
    };
    let looked = row.matched + row.exceptions;
    let match_rate = (looked > 0).then(|| {
        let basis_points = row.matched * 10_000 / looked;
        format!("{}.{:02}", basis_points / 100, basis_points % 100)
    });
    Ok(Run {
        id: ReconciliationRunId(row.id),
        store_id: row.store_id,
        environment: row.environment,
        period_from: row.period_from,
        period_to: row.period_to,
        as_of: row.as_of,
        status: row.status.clone(),
        phase: row.phase.clone(),
        examined: row.examined,
        matched: row.matched,
        exceptions: row.exceptions,
        match_rate,
        totals,
        attempts: row.attempts,
        last_error: row.last_error.clone(),
        requested_by: row.requested_by.clone(),
        created_at: row.created_at,
        started_at: row.started_at,
        completed_at: row.completed_at,
        duration_ms: row.duration_ms,
    })
}

pub(super) fn item_view(row: repo::ItemRow) -> Result<Item, Error> {
    let json = |text: Option<String>| text.and_then(|t| serde_json::from_str(&t).ok());
    Ok(Item {
        id: ReconciliationItemId(row.id),
        run_id: ReconciliationRunId(row.run_id),
        kind: ItemKind::parse(&row.kind).ok_or_else(|| corrupt("item kind", &row.kind))?,
        payment_intent_id: row.payment_intent_id.map(PaymentIntentId),
        order_id: row.order_id.map(OrderId),
        subject: ItemSubject::parse(&row.subject)
            .ok_or_else(|| corrupt("subject", &row.subject))?,
        shipment_id: row.shipment_id.map(ShipmentId),
        provider: row.provider,
        provider_payment_id: row.provider_payment_id,
        currency: row.currency,
        difference: row.difference,
        ours: json(row.ours),
        theirs: json(row.theirs),
        resolution: Resolution::parse(&row.resolution)
            .ok_or_else(|| corrupt("resolution", &row.resolution))?,
        note: row.note,
        resolved_by: row.resolved_by,
        resolved_at: row.resolved_at,
        created_at: row.created_at,
    })
}

fn period(from: NaiveDate, to: NaiveDate) -> Result<(DateTime<Utc>, DateTime<Utc>), Error> {
    if to < from {
        return Err(InvalidValue::new("to", "must be on or after from").into());
    }
    if (to - from).num_days() >= MAX_DAYS {
        return Err(InvalidValue::new("to", "a run covers at most 366 days").into());
    }
    Ok((day_start(from), day_start(to) + chrono::Duration::days(1)))
}

pub(super) async fn queue(
    state: &AppState,
    store: StoreId,
    env: Environment,
    (from, to): (DateTime<Utc>, DateTime<Utc>),
    actor: &str,
) -> Result<Run, Error> {
    let now = state.clock.now();
    let row = repo::RunRow {
        id: Uuid::now_v7(),
        store_id: store,
        environment: env,
        period_from: from,
        period_to: to,
        as_of: now,
        status: "queued".to_owned(),
        phase: "provider".to_owned(),
        cursor: None,
        locked_until: None,
        attempts: 0,
        examined: 0,
        matched: 0,
        exceptions: 0,
        summary: None,
        last_error: None,
        requested_by: actor.to_owned(),
        created_at: now,
        started_at: None,
        completed_at: None,
        duration_ms: None,
    };
    if !repo::insert_run(&state.db, &row).await? {
        return Err(Error::AlreadyRunning);
    }
    run_view(&row)
}

/// Queues a run of the store's payments created on the days `from`..=`to` (UTC).
pub async fn start_run(
    state: &AppState,
    store: StoreId,
    env: Environment,
    actor: &str,
    from: NaiveDate,
    to: NaiveDate,
) -> Result<Run, Error> {
    let window = period(from, to)?;
    queue(state, store, env, window, actor).await
}

/// Queues runs for the listed stores (both environments) or every store with payments in
/// the period; a store and period already being reconciled is skipped.
pub async fn start_platform_runs(
    state: &AppState,
    actor: &str,
    from: NaiveDate,
    to: NaiveDate,
    stores: Option<&[StoreId]>,
) -> Result<Vec<Run>, Error> {
    let window = period(from, to)?;
    let targets: Vec<(StoreId, Environment)> = match stores {
        Some(stores) => {
            if stores.len() > 1000 {
                return Err(InvalidValue::new("store_ids", "at most 1000 stores").into());
            }
            // All or nothing: an unknown id queues no run at all.
            let existing = repo::existing_stores(&state.db, stores).await?;
            if let Some(unknown) = stores.iter().find(|s| !existing.contains(s)) {
                return Err(InvalidValue::new("store_ids", format!("no store {unknown}")).into());
            }
            stores
                .iter()
                .flat_map(|s| [(*s, Environment::Sandbox), (*s, Environment::Production)])
                .collect()
        }
        None => repo::stores_with_activity(&state.db, window.0, window.1).await?,
    };
    let mut runs = Vec::new();
    for (store, env) in targets {
        match queue(state, store, env, window, actor).await {
            Ok(run) => runs.push(run),
            Err(Error::AlreadyRunning) => {}
            Err(err) => return Err(err),
        }
    }
    Ok(runs)
}

/// Runs newest first (of one store and environment, or all for the platform).
pub async fn list_runs(
    state: &AppState,
    scope: Option<(StoreId, Environment)>,
    before: Option<ReconciliationRunId>,
    limit: i64,
) -> Result<Vec<Run>, Error> {
    repo::runs(&state.db, scope, before.map(|b| b.0), limit.clamp(1, 100))
        .await?
        .iter()
        .map(run_view)
        .collect()
}

/// One run.
pub async fn get_run(
    state: &AppState,
    scope: Option<(StoreId, Environment)>,
    id: ReconciliationRunId,
) -> Result<Run, Error> {
    let row = repo::run(&state.db, scope, id.0)
        .await?
        .ok_or(Error::NotFound)?;
    run_view(&row)
}

/// A run's items, by id after `after`, optionally of one kind and resolution.
pub async fn list_items(
    state: &AppState,
    scope: Option<(StoreId, Environment)>,
    run: ReconciliationRunId,
    kind: Option<ItemKind>,
    resolution: Option<Resolution>,
    after: Option<ReconciliationItemId>,
    limit: i64,
) -> Result<Vec<Item>, Error> {
    repo::run(&state.db, scope, run.0)
        .await?
        .ok_or(Error::NotFound)?;
    item_rows(state, run, kind, resolution, after, limit.clamp(1, 500)).await
}

/// A run's items without the scope check (the caller checked it).
pub async fn item_rows(
    state: &AppState,
    run: ReconciliationRunId,
    kind: Option<ItemKind>,
    resolution: Option<Resolution>,
    after: Option<ReconciliationItemId>,
    limit: i64,
) -> Result<Vec<Item>, Error> {
    repo::items(
        &state.db,
        run.0,
        kind.map(ItemKind::as_str),
        resolution.map(Resolution::as_str),
        after.map(|a| a.0),
        limit,
    )
    .await?
    .into_iter()
    .map(item_view)
    .collect()
}

/// Records a person's decision about an item of the store.
pub async fn resolve_item(
    state: &AppState,
    store: StoreId,
    env: Environment,
    id: ReconciliationItemId,
    actor: &str,
    input: &ResolveInput,
) -> Result<Item, Error> {
    repo::item(&state.db, store, env, id.0)
        .await?
        .ok_or(Error::NotFound)?;
    let resolution = match input.resolution {
        Some(r @ (Resolution::Acknowledged | Resolution::Resolved)) => r,
        Some(Resolution::Open) | None => {
            return Err(InvalidValue::new("resolution", "acknowledged or resolved").into());
        }
    };
    let note = note_of(&input.note)?;
    repo::resolve(
        &state.db,
        id.0,
        resolution.as_str(),
        note,
        actor,
        state.clock.now(),
    )
    .await?;
    let row = repo::item(&state.db, store, env, id.0)
        .await?
        .ok_or(Error::NotFound)?;
    item_view(row)
}

fn note_of(note: &str) -> Result<&str, Error> {
    let note = note.trim();
    if note.is_empty() || note.chars().count() > MAX_NOTE {
        return Err(InvalidValue::new("note", "1 to 2000 characters").into());
    }
    Ok(note)
}

/// Brings the provider's truth into the ledger for an item's payment: each of its operations
/// still open is settled from the provider through the payment's transition function, recorded
/// in the order's history with `source: reconciliation` and the person as actor. The item is
/// then `resolved` (or `acknowledged` when the provider still has not decided).
pub async fn apply_item(
    state: &AppState,
    store: StoreId,
    env: Environment,
    id: ReconciliationItemId,
    actor: &str,
    note: &str,
) -> Result<Item, Error> {
    let row = repo::item(&state.db, store, env, id.0)
        .await?
        .ok_or(Error::NotFound)?;
    let note = note_of(note)?;
    // Only a payment's item is settled from its provider (a tax item names the payment too,
    // but settling the payment would not file its tax).
    let (Some(intent), Some(ItemSubject::Payment)) =
        (row.payment_intent_id, ItemSubject::parse(&row.subject))
    else {
        return Err(Error::NothingToApply);
    };
    let open = repo::open_transactions(&state.db, intent).await?;
    if open.is_empty() {
        return Err(Error::NothingToApply);
    }
    let caller = crate::payments::Caller {
        source: crate::payments::Source::Reconciliation,
        actor: actor.to_owned(),
        correlation_id: format!("reconciliation-item:{}", id),
    };
    let mut settled = 0;
    for txn in &open {
        if crate::payments::resolve_transaction(state, &caller, crate::types::TransactionId(*txn))
            .await?
        {
            settled += 1;
        }
    }
    let (resolution, outcome) = if settled == open.len() {
        (
            Resolution::Resolved,
            format!("applied: {settled} operation(s) settled from the provider"),
        )
    } else {
        (
            Resolution::Acknowledged,
            format!(
                "applied: {settled} of {} operation(s) settled; the provider has not decided the rest",
                open.len()
            ),
        )
    };
    repo::resolve(
        &state.db,
        id.0,
        resolution.as_str(),
        &format!("{note} ({outcome})"),
        actor,
        state.clock.now(),
    )
    .await?;
    let row = repo::item(&state.db, store, env, id.0)
        .await?
        .ok_or(Error::NotFound)?;
    item_view(row)
}
