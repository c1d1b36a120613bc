//! `/api/v1/admin/reconciliation` (a store's runs and items) and
//! `/api/v1/platform/reconciliation` (every store's, for platform admins).

use axum::{
    Json,
    body::Body,
    extract::State,
    http::{HeaderValue, StatusCode, header},
    response::Response,
};
use serde::Deserialize;
use utoipa::IntoParams;
use utoipa_axum::{router::OpenApiRouter, routes};

use super::{
    ApplyInput, Item, ItemKind, PlatformRunInput, Resolution, ResolveInput, Run, RunInput,
    Schedule, ScheduleInput, service,
};
use crate::{
    auth::{
        policy,
        principal::{PlatformAdmin, StoreScope},
    },
    http::{
        extract::{ApiJson, ApiPath, ApiQuery},
        problem::{ApiError, Problem},
    },
    state::AppState,
    types::{Environment, ReconciliationItemId, ReconciliationRunId, StoreId},
};

/// Store routes (under `/api/v1/admin`).
pub fn admin_router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(start_run, list_runs))
        .routes(routes!(get_run))
        .routes(routes!(list_items))
        .routes(routes!(export_items))
        .routes(routes!(resolve_item))
        .routes(routes!(apply_item))
        .routes(routes!(get_schedule, put_schedule))
}

/// Platform routes (under `/api/v1/platform`).
pub fn platform_router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(start_platform_runs, list_platform_runs))
        .routes(routes!(get_platform_run))
        .routes(routes!(list_platform_items))
        .routes(routes!(export_platform_items))
}

/// Filter of a CSV export.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ExportQuery {
    /// Only this kind.
    pub kind: Option<ItemKind>,
}

/// A CSV file response.
pub fn csv_file(run: ReconciliationRunId, body: super::CsvStream) -> Response {
    let mut response = Response::new(Body::from_stream(body));
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/csv; charset=utf-8"),
    );
    if let Ok(value) = HeaderValue::from_str(&format!(
        "attachment; filename=\"reconciliation-{run}.csv\""
    )) {
        headers.insert(header::CONTENT_DISPOSITION, value);
    }
    response
}

/// A page of runs.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct RunsQuery {
    /// Runs older than this one (the last id of the previous page).
    pub before: Option<ReconciliationRunId>,
    /// Page size, 1 to 100 (default 50).
    #[param(minimum = 1, maximum = 100)]
    pub limit: Option<i64>,
}

/// A page of a run's items.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ItemsQuery {
    /// Only this kind.
    pub kind: Option<ItemKind>,
    /// Only this resolution.
    pub resolution: Option<Resolution>,
    /// Items after this one (the last id of the previous page).
    pub after: Option<ReconciliationItemId>,
    /// Page size, 1 to 500 (default 100).
    #[param(minimum = 1, maximum = 500)]
    pub limit: Option<i64>,
}

/// When the store's daily run (of the previous UTC day) is queued.
#[utoipa::path(get, path = "/reconciliation/schedule", tag = "reconciliation",
    responses((status = 200, description = "Schedule", body = Schedule)), security(("bearer" = [])))]
pub async fn get_schedule(
    State(state): State<AppState>,
    scope: StoreScope,
) -> Result<Json<Schedule>, ApiError> {
    Ok(Json(
        super::schedule(&state, scope.store_id, scope.environment).await?,
    ))
}

/// Sets the time of day (UTC) from which the store's run of the previous day is queued, or
/// turns the scheduled runs off.
#[utoipa::path(put, path = "/reconciliation/schedule", tag = "reconciliation", request_body = ScheduleInput,
    responses(
        (status = 200, description = "Stored", body = Schedule),
        (status = 403, description = "Staff in production", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`daily_at` is not `HH:MM`", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])))]
pub async fn put_schedule(
    State(state): State<AppState>,
    scope: StoreScope,
    ApiJson(body): ApiJson<ScheduleInput>,
) -> Result<Json<Schedule>, ApiError> {
    policy::reconcile(scope.actor, scope.environment)?;
    Ok(Json(
        super::put_schedule(
            &state,
            scope.store_id,
            scope.environment,
            &scope.actor.audit_name(),
            &body,
        )
        .await?,
    ))
}

/// Queues a reconciliation of the store's payments created on the days `from`..=`to` (UTC):
/// every payment compared with the provider's records, what disagrees kept as items.
#[utoipa::path(post, path = "/reconciliation/runs", tag = "reconciliation", request_body = RunInput,
    responses(
        (status = 202, description = "Queued", body = Run),
        (status = 403, description = "Staff in production", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`reconciliation_running`: this period is already queued or running", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "An invalid period", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])))]
pub async fn start_run(
    State(state): State<AppState>,
    scope: StoreScope,
    ApiJson(body): ApiJson<RunInput>,
) -> Result<(StatusCode, Json<Run>), ApiError> {
    policy::reconcile(scope.actor, scope.environment)?;
    let run = service::start_run(
        &state,
        scope.store_id,
        scope.environment,
        &scope.actor.audit_name(),
        body.from,
        body.to,
    )
    .await?;
    Ok((StatusCode::ACCEPTED, Json(run)))
}

/// The store's runs, newest first.
#[utoipa::path(get, path = "/reconciliation/runs", tag = "reconciliation", params(RunsQuery),
    responses((status = 200, description = "Runs", body = Vec<Run>)), security(("bearer" = [])))]
pub async fn list_runs(
    State(state): State<AppState>,
    scope: StoreScope,
    ApiQuery(q): ApiQuery<RunsQuery>,
) -> Result<Json<Vec<Run>>, ApiError> {
    let scope = Some((scope.store_id, scope.environment));
    Ok(Json(
        service::list_runs(&state, scope, q.before, page_size(q.limit, 50, 100)?).await?,
    ))
}

/// One run: status, progress, match rate and exceptions per kind.
#[utoipa::path(get, path = "/reconciliation/runs/{run_id}", tag = "reconciliation",
    params(("run_id" = String, Path, description = "Run id")),
    responses(
        (status = 200, description = "The run", body = Run),
        (status = 404, description = "No such run in this store", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])))]
pub async fn get_run(
    State(state): State<AppState>,
    scope: StoreScope,
    ApiPath(run_id): ApiPath<ReconciliationRunId>,
) -> Result<Json<Run>, ApiError> {
    let scope = Some((scope.store_id, scope.environment));
    Ok(Json(service::get_run(&state, scope, run_id).await?))
}

/// What a run found that disagrees.
#[utoipa::path(get, path = "/reconciliation/runs/{run_id}/items", tag = "reconciliation",
    params(("run_id" = String, Path, description = "Run id"), ItemsQuery),
    responses(
        (status = 200, description = "Items", body = Vec<Item>),
        (status = 404, description = "No such run in this store", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])))]
pub async fn list_items(
    State(state): State<AppState>,
    scope: StoreScope,
    ApiPath(run_id): ApiPath<ReconciliationRunId>,
    ApiQuery(q): ApiQuery<ItemsQuery>,
) -> Result<Json<Vec<Item>>, ApiError> {
    items_page(&state, Some((scope.store_id, scope.environment)), run_id, q).await
}

/// A page of a run's items in a store's scope (`None`: the platform's).
async fn items_page(
    state: &AppState,
    scope: Option<(StoreId, Environment)>,
    run_id: ReconciliationRunId,
    q: ItemsQuery,
) -> Result<Json<Vec<Item>>, ApiError> {
    let limit = page_size(q.limit, 100, 500)?;
    let items = service::list_items(state, scope, run_id, q.kind, q.resolution, q.after, limit);
    Ok(Json(items.await?))
}

/// A run's items as CSV, streamed (columns: `item_id, kind, order_id, payment_intent_id,
/// provider, provider_payment_id, currency, difference, resolution, note, resolved_by,
/// resolved_at, ours, theirs, shipment_id, subject`).
#[utoipa::path(get, path = "/reconciliation/runs/{run_id}/items/export", tag = "reconciliation",
    params(("run_id" = String, Path, description = "Run id"), ExportQuery),
    responses(
        (status = 200, description = "CSV", content_type = "text/csv"),
        (status = 404, description = "No such run in this store", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])))]
pub async fn export_items(
    State(state): State<AppState>,
    scope: StoreScope,
    ApiPath(run_id): ApiPath<ReconciliationRunId>,
    ApiQuery(q): ApiQuery<ExportQuery>,
) -> Result<Response, ApiError> {
    let scope = Some((scope.store_id, scope.environment));
    let body = super::items_csv(&state, scope, run_id, q.kind).await?;
    Ok(csv_file(run_id, body))
}

/// Acknowledges or resolves an item, with a note. The ledger is never changed here: a
/// correction goes through the payment's own operations (and their history).
#[utoipa::path(post, path = "/reconciliation/items/{item_id}/resolve", tag = "reconciliation",
    params(("item_id" = String, Path, description = "Item id")), request_body = ResolveInput,
    responses(
        (status = 200, description = "The item", body = Item),
        (status = 403, description = "Staff in production", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such item in this store", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "No note, or `open`", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])))]
pub async fn resolve_item(
    State(state): State<AppState>,
    scope: StoreScope,
    ApiPath(item_id): ApiPath<ReconciliationItemId>,
    ApiJson(body): ApiJson<ResolveInput>,
) -> Result<Json<Item>, ApiError> {
    policy::reconcile(scope.actor, scope.environment)?;
    Ok(Json(
        service::resolve_item(
            &state,
            scope.store_id,
            scope.environment,
            item_id,
            &scope.actor.audit_name(),
            &body,
        )
        .await?,
    ))
}

/// Settles the item's payment from the provider: its operations still open go through the
/// payment's transition function (history `source: reconciliation`), then the item is
/// resolved. `409 nothing_to_apply` when no operation of it is open (a correction is then made
/// through the payment's own operations).
#[utoipa::path(post, path = "/reconciliation/items/{item_id}/apply", tag = "reconciliation",
    params(("item_id" = String, Path, description = "Item id")), request_body = ApplyInput,
    responses(
        (status = 200, description = "The item, resolved or acknowledged", body = Item),
        (status = 403, description = "Staff in production", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such item in this store", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`nothing_to_apply`", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "No note", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])))]
pub async fn apply_item(
    State(state): State<AppState>,
    scope: StoreScope,
    ApiPath(item_id): ApiPath<ReconciliationItemId>,
    ApiJson(body): ApiJson<ApplyInput>,
) -> Result<Json<Item>, ApiError> {
    policy::reconcile(scope.actor, scope.environment)?;
    Ok(Json(
        service::apply_item(
            &state,
            scope.store_id,
            scope.environment,
            item_id,
            &scope.actor.audit_name(),
            &body.note,
        )
        .await?,
    ))
}

/// Queues runs for the listed stores (both environments), or for every store with payments
/// in the period; a store and period already being reconciled is skipped.
#[utoipa::path(post, path = "/reconciliation/runs", tag = "platform", request_body = PlatformRunInput,
    responses(
        (status = 202, description = "The runs queued", body = Vec<Run>),
        (status = 422, description = "An invalid period", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])))]
pub async fn start_platform_runs(
    State(state): State<AppState>,
    admin: PlatformAdmin,
    ApiJson(body): ApiJson<PlatformRunInput>,
) -> Result<(StatusCode, Json<Vec<Run>>), ApiError> {
    let actor = format!("user:{}", admin.user_id);
    let runs = service::start_platform_runs(
        &state,
        &actor,
        body.from,
        body.to,
        body.store_ids.as_deref(),
    )
    .await?;
    Ok((StatusCode::ACCEPTED, Json(runs)))
}

/// Every store's runs, newest first.
#[utoipa::path(get, path = "/reconciliation/runs", tag = "platform", params(RunsQuery),
    responses((status = 200, description = "Runs", body = Vec<Run>)), security(("bearer" = [])))]
pub async fn list_platform_runs(
    State(state): State<AppState>,
    _admin: PlatformAdmin,
    ApiQuery(q): ApiQuery<RunsQuery>,
) -> Result<Json<Vec<Run>>, ApiError> {
    Ok(Json(
        service::list_runs(&state, None, q.before, page_size(q.limit, 50, 100)?).await?,
    ))
}

/// Any store's run.
#[utoipa::path(get, path = "/reconciliation/runs/{run_id}", tag = "platform",
    params(("run_id" = String, Path, description = "Run id")),
    responses(
        (status = 200, description = "The run", body = Run),
        (status = 404, description = "No such run", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])))]
pub async fn get_platform_run(
    State(state): State<AppState>,
    _admin: PlatformAdmin,
    ApiPath(run_id): ApiPath<ReconciliationRunId>,
) -> Result<Json<Run>, ApiError> {
    Ok(Json(service::get_run(&state, None, run_id).await?))
}

/// Any store's run's items as CSV.
#[utoipa::path(get, path = "/reconciliation/runs/{run_id}/items/export", tag = "platform",
    params(("run_id" = String, Path, description = "Run id"), ExportQuery),
    responses(
        (status = 200, description = "CSV", content_type = "text/csv"),
        (status = 404, description = "No such run", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])))]
pub async fn export_platform_items(
    State(state): State<AppState>,
    _admin: PlatformAdmin,
    ApiPath(run_id): ApiPath<ReconciliationRunId>,
    ApiQuery(q): ApiQuery<ExportQuery>,
) -> Result<Response, ApiError> {
    let body = super::items_csv(&state, None, run_id, q.kind).await?;
    Ok(csv_file(run_id, body))
}

/// Any store's run's items.
#[utoipa::path(get, path = "/reconciliation/runs/{run_id}/items", tag = "platform",
    params(("run_id" = String, Path, description = "Run id"), ItemsQuery),
    responses(
        (status = 200, description = "Items", body = Vec<Item>),
        (status = 404, description = "No such run", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])))]
pub async fn list_platform_items(
    State(state): State<AppState>,
    _admin: PlatformAdmin,
    ApiPath(run_id): ApiPath<ReconciliationRunId>,
    ApiQuery(q): ApiQuery<ItemsQuery>,
) -> Result<Json<Vec<Item>>, ApiError> {
    items_page(&state, None, run_id, q).await
}

/// A list's page size: `default` when absent, refused outside `1..=max` (the documented range)
/// rather than quietly clamped.
fn page_size(limit: Option<i64>, default: i64, max: i64) -> Result<i64, ApiError> {
    match limit {
        None => Ok(default),
        Some(n) if (1..=max).contains(&n) => Ok(n),
        Some(_) => Err(crate::types::InvalidValue::new(
            "limit",
            format!("must be between 1 and {max}"),
        )
        .into()),
    }
}
