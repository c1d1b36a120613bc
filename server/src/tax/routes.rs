//! `/api/v1/admin/tax` (rates and nexus) and customers' exemption certificates.

use axum::{
    Json,
    body::Body,
    extract::State,
    http::{HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};
use serde::Deserialize;
use utoipa::IntoParams;
use utoipa_axum::{router::OpenApiRouter, routes};
use uuid::Uuid;

use super::{
    ExemptionInput, ExemptionView, ExportFormat, ExportQuery, ExportStream, GroupBy, NexusList,
    OrderTax, TaxExport, TaxRules, TaxSettings, TaxSettingsInput, config,
};
use crate::{
    auth::{policy, principal::StoreScope},
    http::{
        extract::{ApiJson, ApiPath, ApiQuery},
        problem::{ApiError, Problem},
    },
    state::AppState,
    types::{CustomerId, OrderId, TaxExemptionId},
};

/// Store routes (under `/api/v1/admin`).
pub fn admin_router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(get_tax_rules, put_tax_rules))
        .routes(routes!(get_tax_settings, put_tax_settings))
        .routes(routes!(get_nexus, put_nexus))
        .routes(routes!(list_exemptions, create_exemption))
        .routes(routes!(revoke_exemption))
        .routes(routes!(get_order_tax))
        .routes(routes!(retry_tax_filings))
        .routes(routes!(export_tax))
        .routes(routes!(list_tax_exports))
        .routes(routes!(download_tax_export))
}

/// The jurisdiction rates of the caller's store and environment.
#[utoipa::path(get, path = "/tax/rates", tag = "tax",
    responses((status = 200, description = "Rates", body = TaxRules)), security(("bearer" = [])))]
pub async fn get_tax_rules(
    State(state): State<AppState>,
    scope: StoreScope,
) -> Result<Json<TaxRules>, ApiError> {
    Ok(Json(TaxRules {
        rules: config::rule_bodies(&state, scope.store_id, scope.environment).await?,
    }))
}

/// Replaces the jurisdiction rates (at most 1000; two rates of one jurisdiction and tax code
/// may not apply on the same day).
#[utoipa::path(put, path = "/tax/rates", tag = "tax", request_body = TaxRules,
    responses(
        (status = 200, description = "Stored", body = TaxRules),
        (status = 403, description = "Staff changing production rates", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "An invalid or overlapping rate", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])))]
pub async fn put_tax_rules(
    State(state): State<AppState>,
    scope: StoreScope,
    ApiJson(body): ApiJson<TaxRules>,
) -> Result<Json<TaxRules>, ApiError> {
    policy::manage_tax(scope.actor, scope.environment)?;
    let rules = super::put_rules(&state, scope.store_id, scope.environment, &body.rules).await?;
    Ok(Json(TaxRules { rules }))
}

/// The engine that taxes the store's quotes in this environment, and its fallback.
#[utoipa::path(get, path = "/tax/settings", tag = "tax",
    responses((status = 200, description = "Settings", body = TaxSettings)), security(("bearer" = [])))]
pub async fn get_tax_settings(
    State(state): State<AppState>,
    scope: StoreScope,
) -> Result<Json<TaxSettings>, ApiError> {
    Ok(Json(
        super::settings(&state, scope.store_id, scope.environment).await?,
    ))
}

/// Chooses the tax engine (`rules`, or a tax service whose credentials the store keeps for
/// this environment) and what a quote does when the service cannot answer: `refuse`
/// (`503 tax_unavailable`) or `rules` (the store's rates, lines marked `engine: fallback`).
#[utoipa::path(put, path = "/tax/settings", tag = "tax", request_body = TaxSettingsInput,
    responses(
        (status = 200, description = "Stored", body = TaxSettings),
        (status = 403, description = "Staff changing production settings", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "An unknown engine, or one without credentials", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])))]
pub async fn put_tax_settings(
    State(state): State<AppState>,
    scope: StoreScope,
    ApiJson(body): ApiJson<TaxSettingsInput>,
) -> Result<Json<TaxSettings>, ApiError> {
    policy::manage_tax(scope.actor, scope.environment)?;
    let settings = super::put_settings(
        &state,
        scope.store_id,
        scope.environment,
        &scope.actor.audit_name(),
        &body,
    )
    .await?;
    Ok(Json(settings))
}

/// Where the store collects tax.
#[utoipa::path(get, path = "/tax/nexus", tag = "tax",
    responses((status = 200, description = "Nexus", body = NexusList)), security(("bearer" = [])))]
pub async fn get_nexus(
    State(state): State<AppState>,
    scope: StoreScope,
) -> Result<Json<NexusList>, ApiError> {
    let nexus = super::load_nexus(&state, scope.store_id, scope.environment).await?;
    Ok(Json(NexusList {
        nexus: config::nexus_bodies(nexus),
    }))
}

/// Replaces where the store collects tax. A destination without nexus is quoted without tax
/// (`reason: no_nexus` on its lines).
#[utoipa::path(put, path = "/tax/nexus", tag = "tax", request_body = NexusList,
    responses(
        (status = 200, description = "Stored", body = NexusList),
        (status = 403, description = "Staff changing production nexus", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "An invalid place", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])))]
pub async fn put_nexus(
    State(state): State<AppState>,
    scope: StoreScope,
    ApiJson(body): ApiJson<NexusList>,
) -> Result<Json<NexusList>, ApiError> {
    policy::manage_tax(scope.actor, scope.environment)?;
    let nexus = super::put_nexus(&state, scope.store_id, scope.environment, &body.nexus).await?;
    Ok(Json(NexusList { nexus }))
}

/// A customer's exemption certificates.
#[utoipa::path(get, path = "/customers/{customer_id}/tax-exemptions", tag = "tax",
    params(("customer_id" = String, Path, description = "Customer id")),
    responses(
        (status = 200, description = "Certificates, oldest first", body = Vec<ExemptionView>),
        (status = 404, description = "No such customer in this store", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])))]
pub async fn list_exemptions(
    State(state): State<AppState>,
    scope: StoreScope,
    ApiPath(customer): ApiPath<CustomerId>,
) -> Result<Json<Vec<ExemptionView>>, ApiError> {
    Ok(Json(
        super::list_exemptions(&state, scope.store_id, scope.environment, customer).await?,
    ))
}

/// Records a customer's exemption certificate: their later quotes carry no tax in the
/// jurisdictions it names until it expires (`reason: exempt`, with the certificate).
#[utoipa::path(post, path = "/customers/{customer_id}/tax-exemptions", tag = "tax",
    params(("customer_id" = String, Path, description = "Customer id")),
    request_body = ExemptionInput,
    responses(
        (status = 201, description = "Recorded", body = ExemptionView),
        (status = 403, description = "Staff changing production exemptions", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such customer in this store", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`certificate_exists`", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid certificate", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])))]
pub async fn create_exemption(
    State(state): State<AppState>,
    scope: StoreScope,
    ApiPath(customer): ApiPath<CustomerId>,
    ApiJson(body): ApiJson<ExemptionInput>,
) -> Result<(StatusCode, Json<ExemptionView>), ApiError> {
    policy::manage_tax(scope.actor, scope.environment)?;
    let created =
        super::create_exemption(&state, scope.store_id, scope.environment, customer, body).await?;
    Ok((StatusCode::CREATED, Json(created)))
}

/// Revokes a certificate (snapshots already taken keep what it exempted).
#[utoipa::path(delete, path = "/customers/{customer_id}/tax-exemptions/{exemption_id}", tag = "tax",
    params(
        ("customer_id" = String, Path, description = "Customer id"),
        ("exemption_id" = String, Path, description = "Exemption id"),
    ),
    responses(
        (status = 204, description = "Revoked"),
        (status = 403, description = "Staff changing production exemptions", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such certificate of this customer", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])))]
pub async fn revoke_exemption(
    State(state): State<AppState>,
    scope: StoreScope,
    ApiPath((customer, id)): ApiPath<(CustomerId, TaxExemptionId)>,
) -> Result<StatusCode, ApiError> {
    policy::manage_tax(scope.actor, scope.environment)?;
    super::revoke_exemption(&state, scope.store_id, scope.environment, customer, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The tax an order committed (at each capture) and reversed (at each refund), per snapshot
/// tax line and jurisdiction.
#[utoipa::path(get, path = "/orders/{order_id}/tax", tag = "tax",
    params(("order_id" = String, Path, description = "Order id")),
    responses(
        (status = 200, description = "Committed, reversed and net tax with the transactions", body = OrderTax),
        (status = 404, description = "No such order in this store", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])))]
pub async fn get_order_tax(
    State(state): State<AppState>,
    scope: StoreScope,
    ApiPath(order_id): ApiPath<OrderId>,
) -> Result<Json<OrderTax>, ApiError> {
    Ok(Json(
        super::order_tax(&state, scope.store_id, scope.environment, order_id).await?,
    ))
}

/// Sends an order's failed filings to its tax service again (after the cause was fixed, e.g.
/// the service's credentials); the order's later filings, held behind them, follow in order.
#[utoipa::path(post, path = "/orders/{order_id}/tax/filings/retry", tag = "tax",
    params(("order_id" = String, Path, description = "Order id")),
    responses(
        (status = 200, description = "The order's tax, its failed filings queued again", body = OrderTax),
        (status = 403, description = "Staff in production", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such order in this store", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])))]
pub async fn retry_tax_filings(
    State(state): State<AppState>,
    scope: StoreScope,
    ApiPath(order_id): ApiPath<OrderId>,
) -> Result<Json<OrderTax>, ApiError> {
    policy::manage_tax(scope.actor, scope.environment)?;
    Ok(Json(
        super::retry_filings(&state, scope.store_id, scope.environment, order_id).await?,
    ))
}

/// A file response for an export: its type, a file name, and the export's id.
pub fn file(export: &TaxExport, body: ExportStream) -> Response {
    let extension = match export.format {
        ExportFormat::Csv => "csv",
        ExportFormat::Json => "json",
    };
    let name = format!(
        "attachment; filename=\"tax-{}-{}-{}.{extension}\"",
        export.from,
        export.to,
        match export.group_by {
            GroupBy::Jurisdiction => "jurisdiction",
            GroupBy::Transaction => "transaction",
        }
    );
    let mut response = Body::from_stream(body).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(export.format.content_type()),
    );
    if let Ok(value) = HeaderValue::from_str(&name) {
        headers.insert(header::CONTENT_DISPOSITION, value);
    }
    if let Ok(value) = HeaderValue::from_str(&export.id.to_string()) {
        headers.insert("cassa-export-id", value);
    }
    response
}

/// Exports committed and reversed tax for a period (UTC days, inclusive), streamed: per
/// jurisdiction and currency (`period_from, period_to, jurisdiction, currency, taxable, exempt,
/// tax_collected, tax_reversed, net, commits, reversals`) or per transaction line
/// (`created_at, transaction_id, order_id, kind, source, line_no, jurisdiction, currency,
/// taxable, exempt, tax`); amounts in minor units. The export is recorded (see `/tax/exports`).
#[utoipa::path(get, path = "/tax/reports/export", tag = "tax", params(ExportQuery),
    responses(
        (status = 200, description = "The file (text/csv or application/json), streamed; `Cassa-Export-Id` names its record",
            content((String = "text/csv"), (Vec<Object> = "application/json"))),
        (status = 422, description = "Invalid period or shape", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])))]
pub async fn export_tax(
    State(state): State<AppState>,
    scope: StoreScope,
    ApiQuery(query): ApiQuery<ExportQuery>,
) -> Result<Response, ApiError> {
    let actor = scope.actor.audit_name();
    let (export, body) =
        super::start_export(&state, scope.store_id, scope.environment, &actor, &query).await?;
    Ok(file(&export, body))
}

/// Query of the exports list.
#[derive(Debug, Clone, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ExportsQuery {
    /// Exports older than this one (the last id of the previous page).
    pub before: Option<Uuid>,
}

/// The store's recorded tax exports, newest first (100 per page).
#[utoipa::path(get, path = "/tax/exports", tag = "tax", params(ExportsQuery),
    responses((status = 200, description = "Exports", body = Vec<TaxExport>)),
    security(("bearer" = [])))]
pub async fn list_tax_exports(
    State(state): State<AppState>,
    scope: StoreScope,
    ApiQuery(query): ApiQuery<ExportsQuery>,
) -> Result<Json<Vec<TaxExport>>, ApiError> {
    Ok(Json(
        super::list_exports(&state, scope.store_id, scope.environment, query.before).await?,
    ))
}

/// Downloads a recorded export again: the same transactions, the same bytes.
#[utoipa::path(get, path = "/tax/exports/{export_id}/download", tag = "tax",
    params(("export_id" = String, Path, description = "Export id")),
    responses(
        (status = 200, description = "The file (text/csv or application/json, as it was exported), streamed",
            content((String = "text/csv"), (Vec<Object> = "application/json"))),
        (status = 404, description = "No such export in this store", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])))]
pub async fn download_tax_export(
    State(state): State<AppState>,
    scope: StoreScope,
    ApiPath(id): ApiPath<Uuid>,
) -> Result<Response, ApiError> {
    let (export, body) =
        super::download_export(&state, scope.store_id, scope.environment, id).await?;
    Ok(file(&export, body))
}
