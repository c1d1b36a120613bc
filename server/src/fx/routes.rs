//! `/api/v1/platform/fx-rates` (importing and reading exchange rates, platform admins) and
//! `/api/v1/admin/fx-policy` (a store's FX policy).

use axum::{Json, extract::State, http::StatusCode};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::{router::OpenApiRouter, routes};

use super::{
    ImportInput, ImportSummary, LatestRate, Policy, PolicyInput, Rate, RateFilter, service,
};
use crate::{
    auth::{
        policy,
        principal::{PlatformAdmin, StoreScope},
    },
    http::{
        extract::{ApiJson, ApiQuery},
        problem::{ApiError, Problem},
    },
    state::AppState,
    types::{Currency, FxRateId},
};

/// Platform routes (under `/api/v1/platform`).
pub fn platform_router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(import_rates))
        .routes(routes!(list_rates))
        .routes(routes!(latest_rates))
}

/// Store routes (under `/api/v1/admin`).
pub fn admin_router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(get_policy, put_policy))
}

/// Imports a rates file: the ECB's reference-rate CSV or a JSON feed. Rates already stored
/// (same source, pair and time) are kept as they are, so an import can be repeated.
#[utoipa::path(post, path = "/fx-rates/imports", tag = "fx", request_body = ImportInput,
    responses(
        (status = 201, description = "Imported", body = ImportSummary),
        (status = 422, description = "Not a rates file", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])))]
pub async fn import_rates(
    State(state): State<AppState>,
    admin: PlatformAdmin,
    ApiJson(body): ApiJson<ImportInput>,
) -> Result<(StatusCode, Json<ImportSummary>), ApiError> {
    let actor = format!("user:{}", admin.user_id);
    Ok((
        StatusCode::CREATED,
        Json(service::import(&state, &actor, body).await?),
    ))
}

/// Filters of the rate history.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct RatesQuery {
    /// Only this base currency.
    #[param(value_type = Option<Currency>)]
    pub base: Option<String>,
    /// Only this quote currency.
    #[param(value_type = Option<Currency>)]
    pub quote: Option<String>,
    /// Rates older than this one (`next_before` of the previous page).
    pub before: Option<FxRateId>,
    /// 1 to 500 (default 100).
    #[param(minimum = 1, maximum = 500)]
    pub limit: Option<i64>,
}

/// A page of rates, newest first.
#[derive(Debug, Serialize, ToSchema)]
pub struct RatesPage {
    pub data: Vec<Rate>,
    /// Pass as `before` for the next page; absent on the last.
    pub next_before: Option<FxRateId>,
}

fn currency_filter(field: &'static str, code: Option<&str>) -> Result<Option<Currency>, ApiError> {
    code.map(|c| {
        Currency::parse(&c.trim().to_ascii_uppercase())
            .map_err(|_| crate::types::InvalidValue::new(field, "an ISO 4217 code").into())
    })
    .transpose()
}

/// Stored rates, newest first.
#[utoipa::path(get, path = "/fx-rates", tag = "fx", params(RatesQuery),
    responses(
        (status = 200, description = "Rates", body = RatesPage),
        (status = 422, description = "Bad filter", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])))]
pub async fn list_rates(
    State(state): State<AppState>,
    _admin: PlatformAdmin,
    ApiQuery(query): ApiQuery<RatesQuery>,
) -> Result<Json<RatesPage>, ApiError> {
    let filter = RateFilter {
        base: currency_filter("base", query.base.as_deref())?,
        quote: currency_filter("quote", query.quote.as_deref())?,
        before: query.before,
        limit: query.limit,
    };
    let (data, next_before) = service::history(&state, filter).await?;
    Ok(Json(RatesPage { data, next_before }))
}

/// Each source's newest rate of each pair, with its age (stale: older than four days).
#[utoipa::path(get, path = "/fx-rates/latest", tag = "fx",
    responses((status = 200, description = "Newest rates", body = Vec<LatestRate>)),
    security(("bearer" = [])))]
pub async fn latest_rates(
    State(state): State<AppState>,
    _admin: PlatformAdmin,
) -> Result<Json<Vec<LatestRate>>, ApiError> {
    Ok(Json(service::latest(&state).await?))
}

/// The store's FX policy (`configured: false`: orders only in the products' currency).
#[utoipa::path(get, path = "/fx-policy", tag = "fx",
    responses((status = 200, description = "Policy", body = Policy)), security(("bearer" = [])))]
pub async fn get_policy(
    State(state): State<AppState>,
    scope: StoreScope,
) -> Result<Json<Policy>, ApiError> {
    Ok(Json(
        service::policy(&state, scope.store_id, scope.environment).await?,
    ))
}

/// Sets the store's settlement currency, the currencies customers may order in, the markup on
/// converted prices, the oldest rate it accepts and the rounding of converted prices.
#[utoipa::path(put, path = "/fx-policy", tag = "fx", request_body = PolicyInput,
    responses(
        (status = 200, description = "Stored", body = Policy),
        (status = 403, description = "Staff in production", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid field", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])))]
pub async fn put_policy(
    State(state): State<AppState>,
    scope: StoreScope,
    ApiJson(body): ApiJson<PolicyInput>,
) -> Result<Json<Policy>, ApiError> {
    policy::manage_fx(scope.actor, scope.environment)?;
    Ok(Json(
        service::put_policy(
            &state,
            scope.store_id,
            scope.environment,
            &scope.actor.audit_name(),
            &body,
        )
        .await?,
    ))
}
