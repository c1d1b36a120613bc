//! The Tax page: the period's report per jurisdiction, the recorded exports with downloads,
//! and editors for the store's rates and nexus, through the API's services and policy.

use app::backend::{ConsoleResult, TaxExemptionRow, TaxExportRow, TaxPageView, TaxReportRow};
use axum::{
    extract::{Path, Query, Request, State},
    http::request::Parts,
    response::{IntoResponse, Response},
};
use chrono::{Datelike, NaiveDate};
use uuid::Uuid;

use super::{
    caller,
    context::{require_signed, signed_for_file},
    shown,
    time::Times,
    told,
};
use crate::{
    auth::policy,
    http::problem::ApiError,
    money::format_amount,
    state::AppState,
    tax::{
        self, ExemptionInput, ExportFormat, ExportQuery, Fallback, GroupBy, NexusList, TaxRules,
        TaxSettingsInput,
    },
    types::{CustomerId, TaxExemptionId},
};

fn date(field: &str, text: Option<&str>, default: NaiveDate) -> ConsoleResult<NaiveDate> {
    match text.map(str::trim).filter(|t| !t.is_empty()) {
        None => Ok(default),
        Some(t) => NaiveDate::parse_from_str(t, "%Y-%m-%d")
            .map_err(|_| format!("{field}: a date such as 2026-01-31")),
    }
}

fn shape(format: ExportFormat, group_by: GroupBy) -> String {
    let format = match format {
        ExportFormat::Csv => "CSV",
        ExportFormat::Json => "JSON",
    };
    let group_by = match group_by {
        GroupBy::Jurisdiction => "by jurisdiction",
        GroupBy::Transaction => "by transaction line",
    };
    format!("{format} {group_by}")
}

fn pretty<T: serde::Serialize>(value: &T) -> String {
    serde_json::to_string_pretty(value).unwrap_or_default()
}

/// The Tax page for a period (the current month by default).
pub async fn page(
    state: &AppState,
    req: &Parts,
    from: Option<String>,
    to: Option<String>,
) -> ConsoleResult<TaxPageView> {
    let signed = require_signed(state, req).await?;
    let times = Times::of(state, &signed);
    let store = signed.store()?;
    let env = signed.environment();
    let today = state.clock.now().date_naive();
    let month_start = today.with_day(1).unwrap_or(today);
    let from = date("from", from.as_deref(), month_start)?;
    let to = date("to", to.as_deref(), today)?;
    let report = tax::report(state, store, env, from, to)
        .await
        .map_err(shown)?;
    let exports = tax::list_exports(state, store, env, None)
        .await
        .map_err(shown)?;
    let rules = tax::rule_bodies(state, store, env).await.map_err(shown)?;
    let nexus = tax::load_nexus(state, store, env).await.map_err(shown)?;
    let settings = tax::settings(state, store, env).await.map_err(shown)?;
    Ok(TaxPageView {
        engine: settings.engine,
        fallback: settings.fallback.as_str().to_owned(),
        engines: settings.engines,
        from: from.to_string(),
        to: to.to_string(),
        report: report
            .into_iter()
            .map(|r| {
                let f = |amount: i64| format_amount(amount, &r.currency);
                TaxReportRow {
                    taxable: f(r.taxable),
                    exempt: f(r.exempt),
                    collected: f(r.collected),
                    reversed: f(r.reversed),
                    net: f(r.net),
                    commits: r.commits,
                    reversals: r.reversals,
                    jurisdiction: r.jurisdiction,
                }
            })
            .collect(),
        exports: exports
            .into_iter()
            .map(|e| TaxExportRow {
                id: e.id.to_string(),
                period: format!("{} – {}", e.from, e.to),
                shape: shape(e.format, e.group_by),
                status: e.status,
                rows: e.rows,
                sha256: e.sha256,
                actor: e.actor,
                created_at: times.stamp(e.created_at),
                percent: e.progress.map(|p| p.percent),
            })
            .collect(),
        rules_json: pretty(&TaxRules { rules }),
        nexus_json: pretty(&NexusList {
            nexus: tax::nexus_bodies(nexus),
        }),
    })
}

/// Saves the rates editor (the API's `{"rules": […]}`).
pub async fn save_rules(state: &AppState, req: &Parts, json: String) -> ConsoleResult<String> {
    let signed = require_signed(state, req).await?;
    let (store, _, env) = signed.allowed(state, policy::manage_tax).await?;
    let body: TaxRules = serde_json::from_str(&json)
        .map_err(|e| format!("The rates are not valid JSON of the API's shape: {e}"))?;
    let saved = tax::put_rules(state, store, env, &body.rules)
        .await
        .map_err(shown)?;
    Ok(format!("Saved {} rates.", saved.len()))
}

/// Saves the nexus editor (the API's `{"nexus": […]}`).
pub async fn save_nexus(state: &AppState, req: &Parts, json: String) -> ConsoleResult<String> {
    let signed = require_signed(state, req).await?;
    let (store, _, env) = signed.allowed(state, policy::manage_tax).await?;
    let body: NexusList = serde_json::from_str(&json).map_err(told)?;
    let saved = tax::put_nexus(state, store, env, &body.nexus)
        .await
        .map_err(shown)?;
    Ok(format!("Saved {} places with nexus.", saved.len()))
}

/// Saves the engine form: the engine, and what a quote does when a tax service cannot answer.
pub async fn save_settings(
    state: &AppState,
    req: &Parts,
    engine: String,
    fallback: String,
) -> ConsoleResult<String> {
    let signed = require_signed(state, req).await?;
    let (store, actor, env) = signed.allowed(state, policy::manage_tax).await?;
    let fallback = match fallback.as_str() {
        "refuse" => Fallback::Refuse,
        "rules" => Fallback::Rules,
        _ => return Err("Fallback: refuse or rules.".to_owned()),
    };
    let input = TaxSettingsInput { engine, fallback };
    let saved = tax::put_settings(state, store, env, &actor.audit_name(), &input)
        .await
        .map_err(shown)?;
    Ok(match saved.engine.as_str() {
        "rules" => "Quotes are taxed with the store's rates.".to_owned(),
        engine => format!(
            "Quotes are taxed by {engine}; when it cannot answer, they are {}.",
            match saved.fallback {
                Fallback::Refuse => "refused",
                Fallback::Rules => "taxed with the store's rates",
            }
        ),
    })
}

/// `GET /console/tax/export?from&to&format&group_by`: starts and streams an export for the
/// signed-in user's store and environment (recorded like the API's).
pub async fn export_download(
    State(state): State<AppState>,
    Query(query): Query<ExportQuery>,
    req: Request,
) -> Response {
    let (signed, parts) = match signed_for_file(&state, req).await {
        Ok(signed) => signed,
        Err(response) => return response,
    };
    let Ok((store, actor)) = signed.actor(&state).await else {
        return ApiError::NotFound.into_response();
    };
    let who = caller(&parts, actor).actor;
    match tax::start_export(&state, store, signed.environment(), &who, &query).await {
        Ok((export, body)) => tax::routes::file(&export, body),
        Err(err) => ApiError::from(err).into_response(),
    }
}

/// `GET /console/tax/exports/{id}/download`: a recorded export again, byte for byte.
pub async fn export_again(
    State(state): State<AppState>,
    Path(id): Path<String>,
    req: Request,
) -> Response {
    let (signed, _) = match signed_for_file(&state, req).await {
        Ok(signed) => signed,
        Err(response) => return response,
    };
    let (Ok(store), Ok(id)) = (signed.store(), id.parse::<Uuid>()) else {
        return ApiError::NotFound.into_response();
    };
    match tax::download_export(&state, store, signed.environment(), id).await {
        Ok((export, body)) => tax::routes::file(&export, body),
        Err(err) => ApiError::from(err).into_response(),
    }
}

fn customer(id: &str) -> ConsoleResult<CustomerId> {
    id.trim()
        .parse()
        .map_err(|_| "Enter a customer id as the API shows it.".to_owned())
}

/// A customer's certificates.
pub async fn exemptions(
    state: &AppState,
    req: &Parts,
    customer_id: String,
) -> ConsoleResult<Vec<TaxExemptionRow>> {
    let signed = require_signed(state, req).await?;
    let times = Times::of(state, &signed);
    let store = signed.store()?;
    let customer = customer(&customer_id)?;
    let list = tax::list_exemptions(state, store, signed.environment(), customer)
        .await
        .map_err(shown)?;
    Ok(list
        .into_iter()
        .map(|e| TaxExemptionRow {
            id: e.id.to_string(),
            certificate_id: e.certificate_id,
            jurisdictions: e.jurisdictions,
            expires_on: e.expires_on.map(|d| d.to_string()),
            created_at: times.stamp(e.created_at),
        })
        .collect())
}

/// Records a customer's certificate.
pub async fn add_exemption(
    state: &AppState,
    req: &Parts,
    customer_id: String,
    certificate_id: String,
    jurisdictions: String,
    expires_on: Option<String>,
) -> ConsoleResult<String> {
    let signed = require_signed(state, req).await?;
    let (store, _, env) = signed.allowed(state, policy::manage_tax).await?;
    let customer = customer(&customer_id)?;
    let input = ExemptionInput {
        certificate_id,
        jurisdictions: jurisdictions
            .split([',', ' '])
            .filter(|j| !j.trim().is_empty())
            .map(str::to_owned)
            .collect(),
        expires_on: match expires_on
            .as_deref()
            .map(str::trim)
            .filter(|t| !t.is_empty())
        {
            None => None,
            Some(t) => Some(
                NaiveDate::parse_from_str(t, "%Y-%m-%d")
                    .map_err(|_| "expires_on: a date such as 2026-12-31".to_owned())?,
            ),
        },
    };
    let created = tax::create_exemption(state, store, env, customer, input)
        .await
        .map_err(shown)?;
    Ok(format!(
        "Recorded certificate {} for {}.",
        created.certificate_id,
        created.jurisdictions.join(", ")
    ))
}

/// Revokes a customer's certificate.
pub async fn revoke_exemption(
    state: &AppState,
    req: &Parts,
    customer_id: String,
    exemption_id: String,
) -> ConsoleResult<String> {
    let signed = require_signed(state, req).await?;
    let (store, _, env) = signed.allowed(state, policy::manage_tax).await?;
    let customer = customer(&customer_id)?;
    let id: TaxExemptionId = exemption_id
        .parse()
        .map_err(|_| shown(ApiError::NotFound))?;
    tax::revoke_exemption(state, store, env, customer, id)
        .await
        .map_err(shown)?;
    Ok("Certificate revoked.".to_owned())
}
