//! Rate shopping: the order's items packed into the store's boxes, priced by every carrier the
//! store has credentials for (at once) and by its rate table, each offer stored so a quote can
//! freeze it and a label be bought with it.

use chrono::Duration;
use futures::future::join_all;

use super::{
    Error, OfferedRate, RateFailure, RateList,
    packing::{self, Item, Package},
    repo::{self, RateRow},
    settings,
};
use crate::{
    credentials::{self, CredentialError},
    orders::{self, Order, OrderScope},
    providers::shipping::{
        Parcel, ShippingConfig,
        carrier::{CarrierError, PackageSpec, RateRequest},
    },
    state::AppState,
    types::{Currency, OrderId, ShippingRateId},
};

/// How long a rate-table offer stays valid (carriers set their own expiry).
fn table_rate_validity() -> Duration {
    Duration::hours(24)
}

/// The order's units as packing sees them. A product without dimensions counts as a 1 mm
/// cube: weight still splits packages, volume does not.
async fn items(state: &AppState, order: &Order) -> Result<Vec<Item>, Error> {
    let lines = repo::order_lines(&state.db, order.id).await?;
    let mut items = Vec::new();
    for line in lines {
        let side = |mm: i32| i64::from(mm.max(1));
        for _ in 0..line.quantity.max(0) {
            items.push(Item {
                line_no: line.line_no,
                weight_grams: i64::from(line.weight_grams),
                length_mm: side(line.length_mm),
                width_mm: side(line.width_mm),
                height_mm: side(line.height_mm),
            });
        }
    }
    Ok(items)
}

fn spec(p: &Package) -> PackageSpec {
    PackageSpec {
        weight_grams: p.weight_grams.max(1),
        length_mm: p.length_mm,
        width_mm: p.width_mm,
        height_mm: p.height_mm,
    }
}

fn failure_code(err: &CarrierError) -> String {
    match err {
        CarrierError::Rejected { code, .. } => code.clone(),
        CarrierError::Refused { code, .. } => code.clone(),
        CarrierError::Retryable(_) | CarrierError::Unreachable(_) => {
            "carrier_unavailable".to_owned()
        }
        CarrierError::UnknownOutcome(_) => "carrier_timeout".to_owned(),
    }
}

/// Rates for an order the scope may see. `table` is the store's rate table (as checkout keeps
/// it), priced offline beside the carriers.
pub async fn offer_rates(
    state: &AppState,
    scope: OrderScope,
    order_id: OrderId,
    table: Option<&ShippingConfig>,
) -> Result<RateList, Error> {
    let order = orders::find(state, scope, order_id).await?;
    let settings = settings::load_settings(state, scope.store_id, scope.environment).await?;
    let packages = packing::pack(&items(state, &order).await?, &settings.boxes)?;
    let now = state.clock.now();
    let mut offers: Vec<RateRow> = Vec::new();
    let mut errors: Vec<RateFailure> = Vec::new();
    let packages_json = serde_json::to_string(&packages)
        .map_err(|e| Error::Internal(anyhow::anyhow!("packages: {e}")))?;
    let row = |provider: &str,
               provider_rate_id: Option<String>,
               service: String,
               amount,
               currency: Currency,
               estimated_days: Option<i32>,
               expires_at| RateRow {
        id: ShippingRateId::new(),
        store_id: scope.store_id,
        environment: scope.environment,
        order_id: order.id,
        order_revision: order.revision,
        provider: provider.to_owned(),
        provider_rate_id,
        service,
        amount,
        currency,
        estimated_days,
        packages: packages_json.clone(),
        expires_at,
        created_at: now,
    };

    if let Some(table) = table.filter(|t| !t.rates.is_empty())
        && let Some(provider) = state.shipping.get(&table.provider)
    {
        let parcel = Parcel {
            country: order.shipping_address.country.clone(),
            weight_grams: packages.iter().map(|p| p.weight_grams).sum(),
            currency: order.currency,
        };
        for quote in provider.quote_rates(table, &parcel) {
            offers.push(row(
                provider.name(),
                None,
                quote.service,
                quote.amount,
                order.currency,
                None,
                now + table_rate_validity(),
            ));
        }
    }

    let mut clients = Vec::new();
    for adapter in state.carriers.adapters() {
        match credentials::carrier_client(state, scope.store_id, adapter.name(), scope.environment)
            .await
        {
            Ok(client) => clients.push(client),
            // A carrier the store has no account with is simply not asked.
            Err(CredentialError::Missing { .. }) => {}
            Err(err) => {
                tracing::warn!(error = %err, carrier = adapter.name(), "carrier client unavailable");
                errors.push(RateFailure {
                    provider: adapter.name().to_owned(),
                    code: "carrier_not_configured".to_owned(),
                });
            }
        }
    }
    if !clients.is_empty() {
        match &settings.ship_from {
            None => errors.extend(clients.iter().map(|c| RateFailure {
                provider: c.name().to_owned(),
                code: "ship_from_missing".to_owned(),
            })),
            Some(from) => {
                let request = RateRequest {
                    from: from.clone(),
                    to: order.shipping_address.clone(),
                    packages: packages.iter().map(spec).collect(),
                    currency: order.currency,
                };
                let answers = join_all(clients.iter().map(|c| c.rates(&request))).await;
                for (client, answer) in clients.iter().zip(answers) {
                    match answer {
                        Ok(rates) => {
                            for rate in rates {
                                // A price in another currency is not what the order is in.
                                if rate.currency != order.currency {
                                    continue;
                                }
                                offers.push(row(
                                    client.name(),
                                    Some(rate.provider_rate_id),
                                    rate.service,
                                    rate.amount,
                                    rate.currency,
                                    Some(rate.estimated_days),
                                    rate.expires_at,
                                ));
                            }
                        }
                        Err(err) => errors.push(RateFailure {
                            provider: client.name().to_owned(),
                            code: failure_code(&err),
                        }),
                    }
                }
            }
        }
    }
    if offers.is_empty()
        && let Some(refusal) = errors.iter().find(|e| e.code == "address_undeliverable")
    {
        return Err(Error::CarrierRejected {
            code: refusal.code.clone(),
            message: "the carrier cannot deliver to this address".to_owned(),
        });
    }
    offers.sort_by_key(|o| (o.amount, o.provider.clone(), o.service.clone()));
    repo::insert_rates(&state.db, &offers).await?;
    Ok(RateList {
        rates: offers
            .into_iter()
            .map(|r| OfferedRate {
                id: r.id,
                provider: r.provider,
                service: r.service,
                amount: r.amount,
                currency: r.currency,
                estimated_days: r.estimated_days,
                expires_at: r.expires_at,
            })
            .collect(),
        packages,
        errors,
    })
}

/// A rate as a quote freezes it.
#[derive(Debug, Clone)]
pub struct FrozenRate {
    /// Rate id.
    pub id: ShippingRateId,
    /// Provider.
    pub provider: String,
    /// Service.
    pub service: String,
    /// Price.
    pub amount: crate::money::MinorUnits,
    /// When the provider stops honouring it.
    pub expires_at: chrono::DateTime<chrono::Utc>,
}

/// The rate `id` for a quote of `order` (its current revision), if it is still valid.
pub async fn rate_for_quote(
    state: &AppState,
    order: &Order,
    scope: OrderScope,
    id: ShippingRateId,
) -> Result<FrozenRate, Error> {
    let rate = repo::rate(&state.db, scope.store_id, scope.environment, id)
        .await?
        .filter(|r| r.order_id == order.id)
        .ok_or(Error::NotFound)?;
    if rate.expires_at <= state.clock.now() {
        return Err(Error::RateExpired);
    }
    if rate.order_revision != order.revision || rate.currency != order.currency {
        return Err(Error::RateStale);
    }
    Ok(FrozenRate {
        id: rate.id,
        provider: rate.provider,
        service: rate.service,
        amount: rate.amount,
        expires_at: rate.expires_at,
    })
}
