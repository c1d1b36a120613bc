//! Quoting an order into a snapshot, reading snapshots, and checking one before payment.

use super::{
    Error, Payable, QuoteRequest, SelectedProviders, Snapshot, SnapshotLine, Totals, config, repo,
};
use crate::{
    db::Writes,
    fx::{self, FxView, Lock, SettlementTotals},
    idempotency::answer,
    identity::CustomerScope,
    money::MinorUnits,
    orders::{self, OrderScope, OrderStatus},
    providers::{
        shipping::{Parcel, RateQuote, ShippingConfig, ShippingProvider},
        tax::{Destination, SHIPPING_TAX_CODE, TaxRequest, TaxableLine},
    },
    shipments,
    state::AppState,
    tax,
    types::{Currency, InvalidValue, OrderId, ShippingRateId, SnapshotId},
};

/// The request's idempotency record, written in the snapshot's transaction: a quote's whole
/// effect is that one transaction, so its answer is stored with it.
pub type Reply = answer::Reply<Snapshot>;

fn overflow<T>(_: T) -> Error {
    InvalidValue::new("items", "amounts too large").into()
}

/// Prices an open order of the customer and stores the snapshot.
///
/// With the request's idempotency `reply`, the answer is stored for the key in the same
/// transaction as the snapshot.
pub async fn quote(
    state: &AppState,
    scope: CustomerScope,
    request: QuoteRequest,
    reply: Option<&Reply>,
) -> Result<Snapshot, Error> {
    let order_scope = OrderScope {
        store_id: scope.store_id,
        environment: scope.environment,
        customer_id: Some(scope.customer_id),
    };
    let order = orders::find(state, order_scope, request.order_id).await?;
    if order.status != OrderStatus::Open {
        return Err(Error::OrderNotOpen);
    }
    // A snapshot is never priced at a rate the store no longer accepts: the storefront places
    // the order again (at the current rate).
    if let Some(lock) = &order.lock {
        fx::require_fresh(
            state,
            scope.store_id,
            scope.environment,
            lock,
            order.currency,
        )
        .await?;
    }
    let shipping_config = config::load_shipping(state, scope.store_id, scope.environment).await?;
    let shipping = state
        .shipping
        .get(&shipping_config.provider)
        .ok_or_else(|| unknown_provider("shipping", &shipping_config.provider))?;
    let weight: i64 = order
        .items
        .iter()
        .map(|i| i64::from(i.weight_grams) * i64::from(i.quantity))
        .sum();
    let parcel = Parcel {
        country: order.shipping_address.country.clone(),
        weight_grams: weight,
        currency: order.currency,
    };
    let options = shipping_options(
        shipping.as_ref(),
        &shipping_config,
        &parcel,
        order.lock.as_ref(),
    )?;
    let chosen = match request.shipping_rate_id {
        Some(id) => frozen_rate(state, &order, order_scope, id).await?,
        None => {
            let quote = match request
                .shipping_service
                .as_deref()
                .map(|s| s.trim().to_lowercase())
            {
                Some(service) => options
                    .iter()
                    .find(|o| o.service == service)
                    .cloned()
                    .ok_or_else(|| {
                        InvalidValue::new("shipping_service", "not offered for this order")
                    })?,
                None => options.first().cloned().ok_or_else(|| {
                    InvalidValue::new(
                        "shipping_address.country",
                        "no shipping rate covers this destination and weight",
                    )
                })?,
            };
            Chosen {
                provider: shipping.name().to_owned(),
                service: quote.service,
                amount: quote.amount,
                rate_id: None,
                expires_at: None,
            }
        }
    };
    let now = state.clock.now();
    let tax_date = now.date_naive();
    let context = tax::context(state, scope.store_id, scope.environment, scope.customer_id).await?;
    let address = &order.shipping_address;
    let destination = Destination {
        country: address.country.clone(),
        subdivision: address.subdivision.clone(),
        city: address.city.clone(),
        postal_code: address.postal_code.clone().unwrap_or_default(),
    };
    // Shipping is taxed as line 0 under its own tax code, where a jurisdiction says so.
    let taxable: Vec<TaxableLine> = order
        .items
        .iter()
        .map(|i| TaxableLine {
            line_no: i.line_no,
            amount: i.amount,
            tax_code: i.tax_code.clone(),
            inclusive: i.price_includes_tax,
        })
        .chain(std::iter::once(TaxableLine {
            line_no: 0,
            amount: chosen.amount,
            tax_code: SHIPPING_TAX_CODE.to_owned(),
            inclusive: false,
        }))
        .collect();
    let request = TaxRequest {
        date: tax_date,
        currency: order.currency.code(),
        destination: &destination,
        lines: &taxable,
        nexus: &context.nexus,
        exemptions: &context.exemptions,
    };
    let quoted = tax::quote(state, scope.store_id, scope.environment, &context, &request).await?;
    let taxed = &quoted.lines;
    let shipping_tax = taxed
        .iter()
        .find(|t| t.line_no == 0)
        .map_or(MinorUnits::ZERO, |t| t.tax);
    let lines: Vec<SnapshotLine> = order
        .items
        .iter()
        .zip(taxed)
        .map(|(item, t)| SnapshotLine {
            line_no: item.line_no,
            product_id: item.product_id,
            quantity: item.quantity,
            unit_amount: item.unit_amount,
            amount: item.amount,
            net: t.net,
            tax: t.tax,
            tax_rate: t.rate.normalize().to_string(),
        })
        .collect();
    let subtotal = MinorUnits::sum(lines.iter().map(|l| l.net)).map_err(overflow)?;
    let tax_total =
        MinorUnits::sum(lines.iter().map(|l| l.tax).chain([shipping_tax])).map_err(overflow)?;
    let total = MinorUnits::sum([subtotal, tax_total, chosen.amount]).map_err(overflow)?;
    let fx = order
        .lock
        .as_ref()
        .map(|lock| settlement_view(lock, order.currency, [subtotal, chosen.amount, tax_total]))
        .transpose()?;
    let snapshot = Snapshot {
        snapshot_id: SnapshotId::new(),
        order_id: order.id,
        order_revision: order.revision,
        currency: order.currency.code().to_owned(),
        lines,
        totals: Totals {
            subtotal,
            shipping: chosen.amount,
            shipping_tax,
            tax: tax_total,
            total,
        },
        fx,
        provider: SelectedProviders {
            shipping: chosen.provider.clone(),
            shipping_service: chosen.service.clone(),
            shipping_rate_id: chosen.rate_id,
            tax: quoted.engine.clone(),
        },
        tax_date: Some(tax_date),
        tax_lines: tax::lines_of(taxed, &quoted.engine, &quoted.version),
        shipping_options: options,
        created_at: now,
        // A snapshot never outlives the carrier rate it froze: paying after that would leave
        // a label that cannot be bought at the price paid.
        expires_at: chosen
            .expires_at
            .map_or(now + state.config.snapshot_ttl, |rate| {
                rate.min(now + state.config.snapshot_ttl)
            }),
    };
    let answer = reply.and_then(|r| r.pending(&snapshot));
    // The record, the snapshot and its lines go as one statement on PostgreSQL (a concurrent
    // request with the same key waits on the record and then finds the key taken).
    let mut tx = state.db.begin_write().await?;
    let mut writes = Writes::new();
    let claim = match &answer {
        Some((record, answer)) => {
            let now = state.clock.now();
            Some(answer::insert_completed(&mut tx, &mut writes, record, answer, now).await?)
        }
        None => None,
    };
    repo::insert_snapshot(
        &mut tx,
        &mut writes,
        scope.store_id,
        scope.environment,
        scope.customer_id,
        &snapshot,
    )
    .await?;
    tax::record_lines(
        &mut tx,
        &mut writes,
        snapshot.snapshot_id,
        &snapshot.tax_lines,
    )
    .await?;
    let counts = writes.run(&mut tx).await?;
    if claim.is_some_and(|claim| !claim.stored(&counts)) {
        drop(tx);
        return Err(Error::IdempotencyKeyInUse);
    }
    tx.commit().await?;
    if let Some((record, stored)) = answer {
        answer::settled(record, stored);
    }
    Ok(snapshot)
}

/// The shipping options of the order: the store's prices in the order's currency, else (for an
/// order priced at a locked rate) its prices in the settlement currency converted like the
/// products' prices.
fn shipping_options(
    shipping: &dyn ShippingProvider,
    config: &ShippingConfig,
    parcel: &Parcel,
    lock: Option<&Lock>,
) -> Result<Vec<RateQuote>, Error> {
    let options = shipping.quote_rates(config, parcel);
    let Some(lock) = lock.filter(|_| options.is_empty()) else {
        return Ok(options);
    };
    let settled = Parcel {
        currency: lock.settlement_currency,
        ..parcel.clone()
    };
    shipping
        .quote_rates(config, &settled)
        .into_iter()
        .map(|quote| {
            Ok(RateQuote {
                amount: lock
                    .price(quote.amount, parcel.currency)
                    .map_err(overflow)?,
                ..quote
            })
        })
        .collect()
}

/// The lock with the snapshot's subtotal, shipping and tax in the settlement currency: the
/// total converted, split over the three so they add up to it exactly.
fn settlement_view(
    lock: &Lock,
    presentment: Currency,
    [subtotal, shipping, tax]: [MinorUnits; 3],
) -> Result<FxView, Error> {
    let (total, parts) = fx::settlement_parts(
        &[subtotal, shipping, tax],
        presentment,
        lock.settlement_currency,
        lock.rate,
    )
    .map_err(overflow)?;
    let part = |i: usize| parts.get(i).copied().unwrap_or(MinorUnits::ZERO);
    Ok(FxView {
        settlement_total: Some(total),
        settlement: Some(SettlementTotals {
            subtotal: part(0),
            shipping: part(1),
            tax: part(2),
            total,
        }),
        ..FxView::of(lock)
    })
}

/// The shipping a snapshot prices.
struct Chosen {
    provider: String,
    service: String,
    amount: MinorUnits,
    rate_id: Option<ShippingRateId>,
    expires_at: Option<chrono::DateTime<chrono::Utc>>,
}

/// A rate offered for the order, frozen as it was offered.
async fn frozen_rate(
    state: &AppState,
    order: &orders::Order,
    scope: OrderScope,
    id: ShippingRateId,
) -> Result<Chosen, Error> {
    match shipments::rate_for_quote(state, order, scope, id).await {
        Ok(rate) => Ok(Chosen {
            provider: rate.provider,
            service: rate.service,
            amount: rate.amount,
            rate_id: Some(rate.id),
            expires_at: Some(rate.expires_at),
        }),
        Err(shipments::Error::NotFound) => {
            Err(InvalidValue::new("shipping_rate_id", "no such rate for this order").into())
        }
        Err(shipments::Error::RateExpired) => Err(Error::ShippingRateExpired),
        Err(shipments::Error::RateStale) => Err(Error::ShippingRateStale),
        Err(shipments::Error::Db(err)) => Err(err.into()),
        Err(err) => Err(Error::Internal(err.into())),
    }
}

fn unknown_provider(kind: &str, name: &str) -> Error {
    Error::Internal(anyhow::anyhow!(
        "the store's {kind} provider {name:?} is not registered"
    ))
}

/// Reads a snapshot inside the store, environment and (for customers) customer.
pub async fn find(
    state: &AppState,
    scope: OrderScope,
    snapshot_id: SnapshotId,
) -> Result<Snapshot, Error> {
    let row = repo::find_snapshot(&state.db, scope.store_id, scope.environment, snapshot_id)
        .await?
        .ok_or(Error::NotFound)?;
    if scope.customer_id.is_some_and(|c| c != row.customer_id) {
        return Err(Error::NotFound);
    }
    let lines = repo::snapshot_lines(&state.db, snapshot_id).await?;
    Ok(Snapshot {
        snapshot_id: row.id,
        order_id: row.order_id,
        order_revision: row.order_revision,
        currency: row.currency.code().to_owned(),
        totals: Totals {
            subtotal: row.subtotal,
            shipping: row.shipping,
            shipping_tax: row.shipping_tax,
            tax: row.tax,
            total: row.total,
        },
        fx: stored_view(row.lock, row.settlement)?,
        provider: SelectedProviders {
            shipping_service: row.shipping_service,
            shipping_rate_id: row.shipping_rate_id,
            shipping: row.shipping_provider,
            tax: row.tax_provider,
        },
        tax_date: row.tax_date,
        tax_lines: tax::snapshot_lines(state, snapshot_id).await?,
        shipping_options: Vec::new(),
        created_at: row.created_at,
        expires_at: row.expires_at,
        lines,
    })
}

/// The stored lock and settlement totals of a snapshot, as the API shows them.
fn stored_view(
    lock: fx::StoredLock,
    settlement: repo::StoredSettlement,
) -> Result<Option<FxView>, Error> {
    let lock = lock
        .lock()
        .map_err(|e| Error::Internal(anyhow::anyhow!(e)))?;
    Ok(lock.map(|lock| {
        let totals = match settlement {
            repo::StoredSettlement {
                settlement_subtotal: Some(subtotal),
                settlement_shipping: Some(shipping),
                settlement_tax: Some(tax),
                settlement_total: Some(total),
            } => Some(SettlementTotals {
                subtotal,
                shipping,
                tax,
                total,
            }),
            _ => None,
        };
        FxView {
            settlement_total: totals.map(|t| t.total),
            settlement: totals,
            ..FxView::of(&lock)
        }
    }))
}

/// A snapshot of `order_id` that may be paid now: not expired, the order still open and
/// unchanged since. One query (snapshot joined with its order) on the payment path.
pub async fn payable_snapshot(
    state: &AppState,
    scope: OrderScope,
    order_id: OrderId,
    snapshot_id: SnapshotId,
) -> Result<Payable, Error> {
    let row = repo::find_payable(&state.db, scope.store_id, scope.environment, snapshot_id)
        .await?
        .ok_or(Error::NotFound)?;
    if row.order_id != order_id || scope.customer_id.is_some_and(|c| c != row.customer_id) {
        return Err(Error::NotFound);
    }
    if state.clock.now() >= row.expires_at {
        return Err(Error::SnapshotExpired);
    }
    if row.order_status != OrderStatus::Open {
        return Err(Error::OrderClosed(row.order_status));
    }
    if row.current_revision != row.order_revision {
        return Err(Error::SnapshotStale);
    }
    Ok(Payable {
        snapshot_id,
        total: row.total,
        currency: row.currency.code().to_owned(),
        lock: row
            .lock
            .lock()
            .map_err(|e| Error::Internal(anyhow::anyhow!(e)))?,
    })
}
