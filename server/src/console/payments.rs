//! The payments pages: the ledger, an order's payments, and capture, void and refund through
//! the API's services.

use app::backend::{
    ConsoleResult, IntentView, LedgerFilter, LedgerView, OrderDetailView, PaymentRowView,
    SettlementView, TimelineEntry, TransactionView,
};
use axum::http::request::Parts;
use chrono::{DateTime, Duration, NaiveDate, Utc};

use super::{context::require_signed, shown, time::Times};
use crate::{
    auth::policy,
    http::problem::ApiError,
    idempotency::IdempotencyKey,
    money::{MinorUnits, Money, format_amount, parse_major_amount},
    payments::{
        self, CaptureRequest, LedgerQuery, PaymentIntent, RefundRequest, TransactionStatus,
    },
    state::AppState,
    tenancy::stores,
    types::{Currency, InvalidValue, OrderId, PaymentIntentId},
};

/// Rows per ledger page.
const LEDGER_PAGE: u32 = 50;

fn row(intent: &PaymentIntent, times: &Times) -> PaymentRowView {
    let f = |m: MinorUnits| format_amount(m.0, &intent.currency);
    PaymentRowView {
        id: intent.id.to_string(),
        order_id: intent.order_id.to_string(),
        status: intent.status.as_str().to_owned(),
        amount: f(intent.amount),
        captured: f(intent.captured_amount),
        refunded: f(intent.refunded_amount),
        payment_method: intent.payment_method.clone(),
        created_at: times.stamp(intent.created_at),
    }
}

/// A filter field left empty is no filter.
fn filled(text: &Option<String>) -> Option<&str> {
    text.as_deref().map(str::trim).filter(|t| !t.is_empty())
}

/// A day typed in a filter, in the store's zone: `to` days are included, so they end where the
/// next day begins.
fn day(
    field: &'static str,
    text: &Option<String>,
    times: &Times,
    next: bool,
) -> Result<Option<DateTime<Utc>>, InvalidValue> {
    filled(text)
        .map(|t| {
            NaiveDate::parse_from_str(t, "%Y-%m-%d")
                .map(|d| times.day_start(if next { d + Duration::days(1) } else { d }))
                .map_err(|_| InvalidValue::new(field, "a date such as 2026-01-31"))
        })
        .transpose()
}

/// An amount filter typed in major units of the store's currency (`12.34`).
fn minor(
    field: &'static str,
    text: &Option<String>,
    currency: Currency,
) -> Result<Option<i64>, InvalidValue> {
    filled(text)
        .map(|t| {
            parse_major_amount(t, currency)
                .map(|m| m.0)
                .map_err(|e| InvalidValue::new(field, e.to_string()))
        })
        .transpose()
}

/// The ledger query for the page's filters; amounts are in `currency`'s major units.
fn ledger_query(
    filter: &LedgerFilter,
    currency: Currency,
    times: &Times,
) -> Result<LedgerQuery, InvalidValue> {
    Ok(LedgerQuery {
        status: filter.status.clone().filter(|s| !s.is_empty()),
        created_from: day("from", &filter.from, times, false)?,
        created_to: day("to", &filter.to, times, true)?,
        min_amount: minor("min_amount", &filter.min_amount, currency)?,
        max_amount: minor("max_amount", &filter.max_amount, currency)?,
        // The amounts were typed in the store's currency: payments in another do not compare.
        currency: (filled(&filter.min_amount).is_some() || filled(&filter.max_amount).is_some())
            .then(|| currency.code().to_owned()),
        limit: Some(LEDGER_PAGE),
        starting_after: match filter.after.as_deref().filter(|a| !a.is_empty()) {
            None => None,
            Some(a) => Some(
                a.parse()
                    .map_err(|_| InvalidValue::new("after", "not a payment id"))?,
            ),
        },
    })
}

/// A page of the ledger for the page's filters.
pub async fn ledger(
    state: &AppState,
    req: &Parts,
    filter: LedgerFilter,
) -> ConsoleResult<LedgerView> {
    let signed = require_signed(state, req).await?;
    let times = Times::of(state, &signed);
    let store = signed.store()?;
    let currency = stores::find(state, store).await.map_err(shown)?.currency;
    let query = ledger_query(&filter, currency, &times).map_err(shown)?;
    let page = payments::list(state, store, signed.environment(), &query)
        .await
        .map_err(shown)?;
    Ok(LedgerView {
        next_after: page
            .has_more
            .then(|| page.data.last().map(|i| i.id.to_string()))
            .flatten(),
        rows: page.data.iter().map(|i| row(i, &times)).collect(),
    })
}

/// The order page: intents with what can still be done, transactions, timeline.
pub async fn order_detail(
    state: &AppState,
    req: &Parts,
    order_id: String,
) -> ConsoleResult<OrderDetailView> {
    let signed = require_signed(state, req).await?;
    let times = Times::of(state, &signed);
    let store = signed.store()?;
    let order_id: OrderId = order_id.parse().map_err(|_| shown(ApiError::NotFound))?;
    let detail = payments::detail(state, store, signed.environment(), order_id)
        .await
        .map_err(shown)?;
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
                settlement: i.settlement.as_ref().map(|s| {
                    let g = |m: MinorUnits| format_amount(m.0, &s.currency);
                    SettlementView {
                        rate: format!("{} {} per {}", s.rate, i.currency, s.currency),
                        amount: g(s.amount),
                        captured: g(s.captured),
                        refunded: g(s.refunded),
                    }
                }),
                capturable: input_amount(i.capturable_amount, &i.currency),
                refundable: input_amount(i.refundable_amount, &i.currency),
                voidable: i.voidable,
                payment_method: i.payment_method.clone(),
                action_key: uuid::Uuid::now_v7().to_string(),
                transactions: iwt
                    .transactions
                    .iter()
                    .map(|t| TransactionView {
                        operation: t.operation.as_str().to_owned(),
                        amount: f(t.amount),
                        settlement: (t.settlement_currency != t.currency)
                            .then(|| format_amount(t.settlement_amount.0, &t.settlement_currency)),
                        status: t.status.as_str().to_owned(),
                        provider_txn_id: t.provider_txn_id.clone(),
                        failure_code: t.failure_code.clone(),
                        reason: t.reason.clone(),
                        actor: t.actor.clone(),
                        created_at: times.stamp(t.created_at),
                    })
                    .collect(),
                disputes: iwt
                    .disputes
                    .iter()
                    .map(|d| super::disputes::view(d, &times))
                    .collect(),
            }
        })
        .collect();
    // The totals of what the customer is paying: the newest payment still standing (a failed
    // or voided one's snapshot may be of an order the customer changed since); else the newest.
    let standing = |i: &&payments::IntentWithTransactions| {
        !matches!(
            i.intent.status,
            payments::IntentStatus::Failed | payments::IntentStatus::Voided
        )
    };
    let paid_snapshot = detail
        .intents
        .iter()
        .rev()
        .find(standing)
        .or(detail.intents.last())
        .map(|i| i.intent.snapshot_id);
    let summary = super::order_summary::summary(
        state,
        (store, signed.environment()),
        detail.order_id,
        paid_snapshot,
        &times,
    )
    .await?;
    Ok(OrderDetailView {
        order_id: detail.order_id.to_string(),
        order_status: detail.order_status,
        summary,
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
                at: times.stamp(h.created_at),
            })
            .collect(),
    })
}

/// What the action form asks for.
pub struct ActionForm {
    /// The order.
    pub order_id: String,
    /// The intent.
    pub intent_id: String,
    /// `capture`, `void` or `refund`.
    pub action: String,
    /// Major units as typed (`12.34`); the whole remaining amount when absent.
    pub amount: Option<String>,
    /// The merchant's reason (refunds).
    pub reason: Option<String>,
    /// The form's key: a resubmitted form acts once.
    pub idempotency_key: String,
}

/// What is left to capture or refund as an amount input shows it (`12.34`, plain major units
/// for the field to start from), or `None` when nothing is.
fn input_amount(left: MinorUnits, currency: &str) -> Option<String> {
    if left.0 <= 0 {
        return None;
    }
    Some(match Currency::parse(currency) {
        Ok(c) => Money::new(left, c).major().to_string(),
        Err(_) => left.0.to_string(),
    })
}

/// Capture, void or refund under the API's money rule and services, with the form's key as the
/// Idempotency-Key. Returns a confirmation to show.
pub async fn action(state: &AppState, req: &Parts, form: ActionForm) -> ConsoleResult<String> {
    let signed = require_signed(state, req).await?;
    let (store, actor, env) = signed.allowed(state, policy::move_money).await?;
    let caller = super::caller(req, actor);
    let order_id: OrderId = form
        .order_id
        .parse()
        .map_err(|_| shown(ApiError::NotFound))?;
    let intent_id: PaymentIntentId = form
        .intent_id
        .parse()
        .map_err(|_| shown(ApiError::NotFound))?;
    let key = IdempotencyKey::parse(&form.idempotency_key)
        .map_err(|_| shown(ApiError::IdempotencyKeyInvalid))?;
    // Console keys live in their own namespace next to the API's.
    let key = format!("console:{}", key.as_str());
    let target = payments::Target {
        store,
        env,
        order_id,
        intent_id,
        key: &key,
        caller: &caller,
        reply: None,
    };
    let amount = match form
        .amount
        .as_deref()
        .map(str::trim)
        .filter(|a| !a.is_empty())
    {
        None => None,
        Some(typed) => {
            let currency = payments::intent_currency(state, store, env, order_id, intent_id)
                .await
                .map_err(shown)?;
            let minor = parse_major_amount(typed, currency)
                .map_err(|e| shown(InvalidValue::new("amount", e.to_string())))?;
            Some(minor.0)
        }
    };
    let (intent, txn) = match form.action.as_str() {
        "capture" => {
            let request = CaptureRequest {
                amount,
                final_capture: None,
            };
            payments::capture(state, target, request).await
        }
        "void" => payments::void(state, target).await,
        "refund" => {
            let request = RefundRequest {
                amount,
                reason: form.reason,
            };
            payments::refund(state, target, request).await
        }
        _ => {
            let refused = InvalidValue::new("action", "capture, void or refund");
            return Err(shown(refused));
        }
    }
    .map_err(shown)?;
    payments::respond(&intent, &txn).map_err(shown)?;
    let done = match txn.status {
        TransactionStatus::Succeeded => "done",
        _ => "pending at the provider",
    };
    Ok(format!(
        "{} of {}: {done}",
        form.action,
        format_amount(txn.amount, &txn.currency)
    ))
}
