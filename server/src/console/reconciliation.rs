//! The Reconciliation page: the store's runs with their match rates (and every store's for
//! platform admins), a run's exceptions by kind with acknowledge/resolve, through the API's
//! services and policy.

use app::backend::{
    ConsoleResult, ReconciliationItemRow, ReconciliationPageView, ReconciliationRunRow,
};
use axum::{
    extract::{Path, Request, State},
    http::request::Parts,
    response::{IntoResponse, Response},
};

use super::{
    context::{Signed, require_signed, signed_for_file},
    shown,
    time::Times,
};
use crate::{
    auth::policy,
    http::problem::ApiError,
    money::format_amount,
    reconciliation::{self, Item, Resolution, ResolveInput, Run},
    state::AppState,
    types::{ReconciliationItemId, ReconciliationRunId},
};

fn run_row(signed: &Signed, run: &Run, times: &Times) -> ReconciliationRunRow {
    let store = signed
        .stores
        .iter()
        .find(|s| s.id == run.store_id)
        .map_or_else(|| run.store_id.to_string(), |s| s.name.clone());
    let day = |t: chrono::DateTime<chrono::Utc>| t.date_naive();
    ReconciliationRunRow {
        id: run.id.to_string(),
        store,
        environment: run.environment.as_str().to_owned(),
        period: format!(
            "{} – {}",
            day(run.period_from),
            day(run.period_to - chrono::Duration::days(1))
        ),
        status: run.status.clone(),
        phase: run.phase.clone(),
        examined: run.examined,
        matched: run.matched,
        exceptions: run.exceptions,
        match_rate: run.match_rate.clone(),
        last_error: run.last_error.clone(),
        created_at: times.stamp(run.created_at),
    }
}

fn compact(value: &Option<serde_json::Value>) -> String {
    let Some(serde_json::Value::Object(map)) = value else {
        return "—".to_owned();
    };
    map.iter()
        .filter(|(_, v)| !v.is_null())
        .map(|(k, v)| match v {
            serde_json::Value::String(s) => format!("{k}: {s}"),
            other => format!("{k}: {other}"),
        })
        .collect::<Vec<_>>()
        .join(", ")
}

fn item_row(item: Item, times: &Times) -> ReconciliationItemRow {
    ReconciliationItemRow {
        id: item.id.to_string(),
        kind: item.kind.as_str().to_owned(),
        order_id: item.order_id.map(|o| o.to_string()),
        subject: item.subject.as_str().to_owned(),
        provider_payment_id: item.provider_payment_id.clone(),
        difference: format_amount(item.difference, &item.currency),
        ours: compact(&item.ours),
        theirs: compact(&item.theirs),
        resolution: item.resolution.as_str().to_owned(),
        note: item.note.map(|n| {
            format!(
                "{n} ({}, {})",
                item.resolved_by.unwrap_or_default(),
                item.resolved_at
                    .map(|t| times.stamp(t).text)
                    .unwrap_or_default()
            )
        }),
    }
}

/// The page, with `run`'s exceptions when one is chosen.
pub async fn page(
    state: &AppState,
    req: &Parts,
    run: Option<String>,
) -> ConsoleResult<ReconciliationPageView> {
    let signed = require_signed(state, req).await?;
    let times = Times::of(state, &signed);
    let env = signed.environment();
    let store = signed.store().ok();
    let runs = match store {
        Some(store) => reconciliation::list_runs(state, Some((store, env)), None, 30)
            .await
            .map_err(shown)?,
        None => Vec::new(),
    };
    let platform_runs = if signed.is_platform_admin {
        reconciliation::list_runs(state, None, None, 50)
            .await
            .map_err(shown)?
    } else {
        Vec::new()
    };
    let chosen = run
        .as_deref()
        .map(str::trim)
        .filter(|r| !r.is_empty())
        .map(|r| r.parse::<ReconciliationRunId>())
        .transpose()
        .map_err(|_| "Choose a run from the list.".to_owned())?;
    let (selected, items, resolvable) = match chosen {
        None => (None, Vec::new(), false),
        Some(id) => {
            // The store's own run; a platform admin may open any store's.
            let own = match store {
                Some(store) => reconciliation::get_run(state, Some((store, env)), id)
                    .await
                    .ok(),
                None => None,
            };
            let run = match (own.clone(), signed.is_platform_admin) {
                (Some(run), _) => run,
                (None, true) => reconciliation::get_run(state, None, id)
                    .await
                    .map_err(shown)?,
                (None, false) => return Err("No such run in this store.".to_owned()),
            };
            let items = reconciliation::item_rows(state, id, None, None, None, 500)
                .await
                .map_err(shown)?;
            let mut items: Vec<ReconciliationItemRow> =
                items.into_iter().map(|i| item_row(i, &times)).collect();
            items.sort_by(|a, b| a.kind.cmp(&b.kind));
            (Some(run_row(&signed, &run, &times)), items, own.is_some())
        }
    };
    let schedule = match store {
        Some(store) => {
            let s = reconciliation::schedule(state, store, env)
                .await
                .map_err(shown)?;
            Some((s.daily_at, s.enabled))
        }
        None => None,
    };
    let yesterday = state.clock.now().date_naive() - chrono::Duration::days(1);
    Ok(ReconciliationPageView {
        schedule,
        runs: runs.iter().map(|r| run_row(&signed, r, &times)).collect(),
        platform_runs: platform_runs
            .iter()
            .map(|r| run_row(&signed, r, &times))
            .collect(),
        selected,
        items,
        resolvable,
        default_day: yesterday.to_string(),
    })
}

/// Queues a run of the current store.
pub async fn start(
    state: &AppState,
    req: &Parts,
    from: String,
    to: String,
) -> ConsoleResult<String> {
    let signed = require_signed(state, req).await?;
    let (store, actor, env) = signed.allowed(state, policy::reconcile).await?;
    let day = |field: &str, text: &str| {
        chrono::NaiveDate::parse_from_str(text.trim(), "%Y-%m-%d")
            .map_err(|_| format!("{field}: a date such as 2026-01-31"))
    };
    let (from, to) = (day("from", &from)?, day("to", &to)?);
    let run = reconciliation::start_run(state, store, env, &actor.audit_name(), from, to)
        .await
        .map_err(shown)?;
    Ok(format!("Reconciliation {} queued.", run.id))
}

/// Sets the current store's daily run.
pub async fn save_schedule(
    state: &AppState,
    req: &Parts,
    daily_at: String,
    enabled: bool,
) -> ConsoleResult<String> {
    let signed = require_signed(state, req).await?;
    let (store, actor, env) = signed.allowed(state, policy::reconcile).await?;
    let input = reconciliation::ScheduleInput { daily_at, enabled };
    let saved = reconciliation::put_schedule(state, store, env, &actor.audit_name(), &input)
        .await
        .map_err(shown)?;
    Ok(if saved.enabled {
        format!("Daily reconciliation at {} UTC.", saved.daily_at)
    } else {
        "Daily reconciliation off.".to_owned()
    })
}

/// Acknowledges or resolves an item of the current store.
pub async fn resolve(
    state: &AppState,
    req: &Parts,
    item_id: String,
    resolution: String,
    note: String,
) -> ConsoleResult<String> {
    let signed = require_signed(state, req).await?;
    let (store, actor, env) = signed.allowed(state, policy::reconcile).await?;
    let id: ReconciliationItemId = item_id
        .trim()
        .parse()
        .map_err(|_| "No such exception.".to_owned())?;
    let resolution = match resolution.as_str() {
        "acknowledged" => Resolution::Acknowledged,
        "resolved" => Resolution::Resolved,
        "apply" => {
            let item =
                reconciliation::apply_item(state, store, env, id, &actor.audit_name(), &note)
                    .await
                    .map_err(shown)?;
            return Ok(format!(
                "Settled from the provider; marked {} as {}.",
                item.kind.as_str(),
                item.resolution.as_str()
            ));
        }
        _ => return Err("Resolution: acknowledged, resolved or apply.".to_owned()),
    };
    let input = ResolveInput {
        resolution: Some(resolution),
        note,
    };
    let item = reconciliation::resolve_item(state, store, env, id, &actor.audit_name(), &input)
        .await
        .map_err(shown)?;
    Ok(format!(
        "Marked {} as {}.",
        item.kind.as_str(),
        item.resolution.as_str()
    ))
}

/// `GET /console/reconciliation/runs/{id}/items.csv`: a run's exceptions as CSV (the store's;
/// any store's for a platform admin).
pub async fn items_csv(
    State(state): State<AppState>,
    Path(id): Path<String>,
    req: Request,
) -> Response {
    let (signed, _) = match signed_for_file(&state, req).await {
        Ok(signed) => signed,
        Err(response) => return response,
    };
    let Ok(id) = id.parse::<ReconciliationRunId>() else {
        return ApiError::NotFound.into_response();
    };
    let scope = match (signed.store(), signed.is_platform_admin) {
        (_, true) => None,
        (Ok(store), false) => Some((store, signed.environment())),
        (Err(_), false) => return ApiError::NotFound.into_response(),
    };
    match reconciliation::items_csv(&state, scope, id, None).await {
        Ok(body) => reconciliation::routes::csv_file(id, body),
        Err(err) => ApiError::from(err).into_response(),
    }
}
