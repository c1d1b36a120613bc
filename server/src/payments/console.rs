//! What the console shows of payments, built from the same services as the REST API.

use app::backend::{
    DashboardView, IntentView, LedgerFilter, LedgerView, OrderDetailView, PaymentRowView,
    TimelineEntry, TransactionView, VolumeDay,
};
use chrono::{DateTime, Duration, NaiveDate, Utc};

use super::{
    Caller, DailyVolume, LedgerQuery, PaymentIntent, TransactionStatus,
    queries::{self, daily_volume, status_counts},
    service,
};
use crate::{
    http::problem::ApiError,
    money::MinorUnits,
    money::format_amount,
    state::AppState,
    types::{Environment, InvalidValue, OrderId, PaymentIntentId, StoreId},
};

/// Days on the dashboard chart.
const CHART_DAYS: i64 = 30;

fn rows_of(intent: &PaymentIntent) -> PaymentRowView {
    let f = |m: MinorUnits| format_amount(m.0, &intent.currency);
    PaymentRowView {
        id: intent.id.to_string(),
        order_id: intent.order_id.to_string(),
        status: intent.status.as_str().to_owned(),
        amount: f(intent.amount),
        captured: f(intent.captured_amount),
        refunded: f(intent.refunded_amount),
        payment_method: intent.payment_method.clone(),
        created_at: intent.created_at.to_rfc3339(),
    }
}

fn day(field: &'static str, text: &Option<String>) -> Result<Option<DateTime<Utc>>, ApiError> {
    match text.as_deref().map(str::trim).filter(|t| !t.is_empty()) {
        None => Ok(None),
        Some(t) => NaiveDate::parse_from_str(t, "%Y-%m-%d")
            .map(|d| Some(d.and_time(chrono::NaiveTime::MIN).and_utc()))
            .map_err(|_| InvalidValue::new(field, "a date such as 2026-01-31").into()),
    }
}

fn minor(field: &'static str, text: &Option<String>) -> Result<Option<i64>, ApiError> {
    match text.as_deref().map(str::trim).filter(|t| !t.is_empty()) {
        None => Ok(None),
        Some(t) => t
            .parse()
            .map(Some)
            .map_err(|_| InvalidValue::new(field, "a whole number of minor units").into()),
    }
}

/// A page of the ledger for the console's filters.
pub async fn ledger(
    state: &AppState,
    store: StoreId,
    env: Environment,
    filter: &LedgerFilter,
) -> Result<LedgerView, ApiError> {
    let query = LedgerQuery {
        status: filter.status.clone().filter(|s| !s.is_empty()),
        created_from: day("from", &filter.from)?,
        // The "to" day is included: up to the start of the next day.
        created_to: day("to", &filter.to)?.map(|d| d + Duration::days(1)),
        min_amount: minor("min_amount", &filter.min_amount)?,
        max_amount: minor("max_amount", &filter.max_amount)?,
        limit: Some(50),
        starting_after: match filter.after.as_deref().filter(|a| !a.is_empty()) {
            None => None,
            Some(a) => Some(
                a.parse()
                    .map_err(|_| InvalidValue::new("after", "not a payment id"))?,
            ),
        },
    };
    let page = queries::list(state, store, env, &query).await?;
    Ok(LedgerView {
        next_after: page
            .has_more
            .then(|| page.data.last().map(|i| i.id.to_string()))
            .flatten(),
        rows: page.data.iter().map(rows_of).collect(),
    })
}

/// The order page: intents with what can still be done, transactions, timeline.
pub async fn order_detail(
    state: &AppState,
    store: StoreId,
    env: Environment,
    order_id: &str,
) -> Result<OrderDetailView, ApiError> {
    let order_id: OrderId = order_id.parse().map_err(|_| ApiError::NotFound)?;
    let detail = queries::detail(state, store, env, order_id).await?;
    let intents = detail
        .intents
        .iter()
        .map(|iwt| {
            let i = &iwt.intent;
            let f = |m: MinorUnits| format_amount(m.0, &i.currency);
            IntentView {
                id: i.id.to_string(),
                status: i.status.as_str().to_owned(),
                currency: i.currency.clone(),
                amount: f(i.amount),
                authorized: f(i.authorized_amount),
                captured: f(i.captured_amount),
                refunded: f(i.refunded_amount),
                capturable: i.capturable_amount.0,
                refundable: i.refundable_amount.0,
                voidable: i.voidable,
                payment_method: i.payment_method.clone(),
                action_key: uuid::Uuid::now_v7().to_string(),
                transactions: iwt
                    .transactions
                    .iter()
                    .map(|t| TransactionView {
                        operation: t.operation.as_str().to_owned(),
                        amount: f(t.amount),
                        status: t.status.as_str().to_owned(),
                        provider_txn_id: t.provider_txn_id.clone(),
                        failure_code: t.failure_code.clone(),
                        reason: t.reason.clone(),
                        actor: t.actor.clone(),
                        created_at: t.created_at.to_rfc3339(),
                    })
                    .collect(),
            }
        })
        .collect();
    Ok(OrderDetailView {
        order_id: detail.order_id.to_string(),
        order_status: detail.order_status,
        intents,
        timeline: detail
            .status_history
            .into_iter()
            .map(|h| TimelineEntry {
                subject: h.subject,
                from_status: h.from_status,
                to_status: h.to_status,
                reason: h.reason,
                source: h.source,
                actor: h.actor,
                at: h.created_at.to_rfc3339(),
            })
            .collect(),
    })
}

/// Capture, void or refund from the console, through the API's services; the form's key
/// makes a resubmitted form act once. Returns a confirmation to show.
#[allow(clippy::too_many_arguments)]
pub async fn action(
    state: &AppState,
    store: StoreId,
    env: Environment,
    caller: &Caller,
    order_id: &str,
    intent_id: &str,
    action: &str,
    amount: Option<i64>,
    reason: Option<String>,
    key: &str,
) -> Result<String, ApiError> {
    let order_id: OrderId = order_id.parse().map_err(|_| ApiError::NotFound)?;
    let intent_id: PaymentIntentId = intent_id.parse().map_err(|_| ApiError::NotFound)?;
    let key = crate::idempotency::IdempotencyKey::parse(key)
        .map_err(|_| ApiError::IdempotencyKeyInvalid)?;
    // Console keys live in their own namespace next to the API's.
    let key = format!("console:{}", key.as_str());
    let target = service::Target {
        store,
        env,
        order_id,
        intent_id,
        key: &key,
        caller,
        reply: None,
    };
    let (intent, txn) = match action {
        "capture" => {
            let request = super::CaptureRequest {
                amount,
                final_capture: None,
            };
            service::capture(state, target, request).await?
        }
        "void" => service::void(state, target).await?,
        "refund" => service::refund(state, target, super::RefundRequest { amount, reason }).await?,
        _ => return Err(InvalidValue::new("action", "capture, void or refund").into()),
    };
    super::respond(&intent, &txn)?;
    let done = match txn.status {
        TransactionStatus::Succeeded => "done",
        _ => "pending at the provider",
    };
    Ok(format!(
        "{action} of {}: {done}",
        format_amount(txn.amount, &txn.currency)
    ))
}

/// The dashboard: volume per day of the last 30 days and intents per status.
pub async fn dashboard(
    state: &AppState,
    store: StoreId,
    env: Environment,
    store_name: String,
) -> Result<DashboardView, ApiError> {
    let today = state.clock.now().date_naive();
    let first = today - Duration::days(CHART_DAYS - 1);
    let from = first.and_time(chrono::NaiveTime::MIN).and_utc();
    let volume = daily_volume(state, store, env, from).await?;
    let mut days: Vec<VolumeDay> = (0..CHART_DAYS)
        .map(|d| VolumeDay {
            day: (first + Duration::days(d)).format("%Y-%m-%d").to_string(),
            captured: 0,
            refunded: 0,
        })
        .collect();
    let mut captured: std::collections::BTreeMap<String, i64> = Default::default();
    let mut refunded: std::collections::BTreeMap<String, i64> = Default::default();
    for DailyVolume {
        day,
        currency,
        operation,
        sum,
    } in volume
    {
        let (per_day, totals) = match operation.as_str() {
            "capture" => (
                days.iter_mut()
                    .find(|d| d.day == day)
                    .map(|d| &mut d.captured),
                &mut captured,
            ),
            _ => (
                days.iter_mut()
                    .find(|d| d.day == day)
                    .map(|d| &mut d.refunded),
                &mut refunded,
            ),
        };
        if let Some(slot) = per_day {
            *slot += sum;
        }
        *totals.entry(currency).or_default() += sum;
    }
    let total = |m: &std::collections::BTreeMap<String, i64>| {
        if m.is_empty() {
            "0".to_owned()
        } else {
            m.iter()
                .map(|(c, v)| format_amount(*v, c))
                .collect::<Vec<_>>()
                .join(" + ")
        }
    };
    Ok(DashboardView {
        store_name,
        days,
        captured_total: total(&captured),
        refunded_total: total(&refunded),
        status_counts: status_counts(state, store, env)
            .await?
            .into_iter()
            .map(|c| (c.status.as_str().to_owned(), c.count))
            .collect(),
    })
}
