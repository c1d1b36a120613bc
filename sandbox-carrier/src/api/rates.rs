//! `POST /v1/rates`: quotes for a shipment, stored for 24 h so that a label can be bought at
//! one of them.

use axum::{Json, extract::State, response::IntoResponse};
use chrono::Duration;
use serde::Deserialize;
use serde_json::{Value, json};

use super::extract::{Account, JsonBody};
use crate::{
    db::on_db,
    error::CarrierError,
    model::{Address, Package, check_deliverable, validate_packages},
    pricing::{self, CURRENCIES, Parcel},
    state::CarrierState,
};

/// How long a rate can be bought at.
pub(crate) const RATE_VALIDITY_HOURS: i64 = 24;

#[derive(Debug, Deserialize)]
pub(crate) struct RatesRequest {
    from: Address,
    to: Address,
    packages: Vec<Package>,
    currency: String,
}

pub(crate) async fn create(
    State(state): State<CarrierState>,
    account: Account,
    JsonBody(body): JsonBody<RatesRequest>,
) -> Result<impl IntoResponse, CarrierError> {
    body.from.validate("from")?;
    body.to.validate("to")?;
    validate_packages(&body.packages)?;
    let currency = body.currency.trim().to_ascii_uppercase();
    if !CURRENCIES.contains(&currency.as_str()) {
        return Err(CarrierError::unprocessable(
            "currency_not_supported",
            format!("currency must be one of {}", CURRENCIES.join(", ")),
        ));
    }
    check_deliverable(&body.to)?;
    let parcels: Vec<Parcel> = body.packages.iter().copied().map(Parcel::from).collect();
    let quotes = pricing::quotes(&body.from.country, &body.to.country, &parcels)
        .map_err(|err| CarrierError::unprocessable("invalid_packages", err.to_string()))?;

    // Serializing plain strings and integers cannot fail; were it to, the answer is a 500.
    let internal = |_| CarrierError::internal();
    let from = serde_json::to_string(&body.from).map_err(internal)?;
    let to = serde_json::to_string(&body.to).map_err(internal)?;
    let packages = serde_json::to_string(&body.packages).map_err(internal)?;
    let now = state.now();
    let expires_at = now + Duration::hours(RATE_VALIDITY_HOURS);
    const INSERT: &str = "INSERT INTO sandbox_carrier_rates (id, account, service, amount, \
        currency, estimated_days, from_address, to_address, packages, created_at, expires_at) \
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)";
    let mut rates: Vec<Value> = Vec::with_capacity(quotes.len());
    let rows: Vec<(String, pricing::Quote)> = quotes
        .into_iter()
        .map(|q| (format!("rate_{}", uuid::Uuid::now_v7().simple()), q))
        .collect();
    on_db!(&state.db, pool => {
        async {
            let mut tx = pool.begin_with(state.db.begin_write_sql()).await?;
            for (id, q) in &rows {
                sqlx::query(INSERT).bind(id).bind(account.id()).bind(q.service.as_str())
                    .bind(q.amount).bind(&currency).bind(q.estimated_days).bind(&from)
                    .bind(&to).bind(&packages).bind(now).bind(expires_at)
                    .execute(&mut *tx).await?;
            }
            tx.commit().await
        }
        .await
    })?;
    for (id, q) in rows {
        rates.push(json!({
            "id": id,
            "service": q.service.as_str(),
            "amount": q.amount,
            "currency": currency,
            "estimated_days": q.estimated_days,
            "expires_at": expires_at,
        }));
    }
    Ok(Json(json!({ "rates": rates })))
}
