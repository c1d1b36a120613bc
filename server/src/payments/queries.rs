//! The read side of payments: the order detail, the ledger list and the dashboard figures.

use chrono::{DateTime, Utc};

use super::{
    IntentWithTransactions, LedgerPage, LedgerQuery, OrderPayments, PaymentIntent, Transaction,
    disputes,
    error::Error,
    machine::IntentStatus,
    repo,
    views_repo::{
        self, DailyVolume, IntentFilter, PeriodIntents, PeriodVolume, Periods, StatusCount,
    },
};
use crate::{
    state::AppState,
    types::{Currency, Environment, InvalidValue, OrderId, PaymentIntentId, StoreId},
};

/// `GET /api/v1/admin/orders/{id}/payments`: intents, their transactions and disputes, and the
/// order's status history, in four queries whatever the number of intents.
pub async fn detail(
    state: &AppState,
    store: StoreId,
    env: Environment,
    order_id: OrderId,
) -> Result<OrderPayments, Error> {
    let order_status = views_repo::order_status(&state.db, store, env, order_id)
        .await?
        .ok_or(Error::NotFound)?;
    let intents = repo::order_intents(&state.db, order_id).await?;
    let txns = views_repo::order_txns(&state.db, order_id).await?;
    let history = views_repo::order_history(&state.db, order_id).await?;
    let disputes = disputes::of_order(state, order_id).await?;
    Ok(OrderPayments {
        order_id,
        order_status,
        intents: intents
            .iter()
            .map(|i| IntentWithTransactions {
                intent: i.into(),
                transactions: txns
                    .iter()
                    .filter(|t| t.payment_intent_id == i.id)
                    .map(Transaction::from)
                    .collect(),
                disputes: disputes
                    .iter()
                    .filter(|d| d.payment_intent_id == i.id)
                    .cloned()
                    .collect(),
            })
            .collect(),
        status_history: history.into_iter().map(Into::into).collect(),
    })
}

/// The currency of an order's payment in a store and environment: what an amount a person
/// typed in major units is read in. Another store's or environment's payment is not found.
pub async fn intent_currency(
    state: &AppState,
    store: StoreId,
    env: Environment,
    order_id: OrderId,
    intent_id: PaymentIntentId,
) -> Result<Currency, Error> {
    let intent = repo::intent_of_order(&state.db, store, env, order_id, intent_id)
        .await?
        .ok_or(Error::NotFound)?;
    Ok(Currency::parse(&intent.currency)?)
}

/// `GET /api/v1/admin/payments`: the store's intents, newest first, keyset pages.
pub async fn list(
    state: &AppState,
    store: StoreId,
    env: Environment,
    query: &LedgerQuery,
) -> Result<LedgerPage, Error> {
    // The project's one page-size rule (1–100, default 20).
    let limit = crate::pagination::PageQuery {
        limit: query.limit,
        starting_after: None,
    }
    .limit()?;
    let status = match query.status.as_deref().filter(|s| !s.is_empty()) {
        None => None,
        Some(s) => Some(
            IntentStatus::parse(s)
                .ok_or_else(|| InvalidValue::new("status", "not a payment status"))?,
        ),
    };
    let filter = IntentFilter {
        // The cursor is the last id seen; without one, start above every UUID.
        before: query.starting_after.unwrap_or(uuid::Uuid::max()),
        status,
        created_from: query.created_from,
        created_to: query.created_to,
        min_amount: query.min_amount,
        max_amount: query.max_amount,
        currency: query
            .currency
            .as_deref()
            .filter(|c| !c.is_empty())
            .map(Currency::parse)
            .transpose()?,
        limit: i64::from(limit) + 1,
    };
    let rows = views_repo::list(&state.db, store, env, &filter).await?;
    let has_more = rows.len() > limit as usize;
    Ok(LedgerPage {
        data: rows
            .iter()
            .take(limit as usize)
            .map(PaymentIntent::from)
            .collect(),
        has_more,
    })
}

/// Succeeded captures and refunds per UTC day and currency since `from`.
pub async fn daily_volume(
    state: &AppState,
    store: StoreId,
    env: Environment,
    from: DateTime<Utc>,
) -> Result<Vec<DailyVolume>, Error> {
    Ok(views_repo::daily_volume(&state.db, store, env, from).await?)
}

/// The store's intents of the current period and of the one before it, per currency.
pub async fn period_intents(
    state: &AppState,
    store: StoreId,
    env: Environment,
    periods: Periods,
) -> Result<Vec<PeriodIntents>, Error> {
    Ok(views_repo::period_intents(&state.db, store, env, periods).await?)
}

/// The store's captured and refunded volume of the current period and of the one before it,
/// per currency.
pub async fn period_volume(
    state: &AppState,
    store: StoreId,
    env: Environment,
    periods: Periods,
) -> Result<Vec<PeriodVolume>, Error> {
    Ok(views_repo::period_volume(&state.db, store, env, periods).await?)
}

/// Number of the store's intents per status.
pub async fn status_counts(
    state: &AppState,
    store: StoreId,
    env: Environment,
) -> Result<Vec<StatusCount>, Error> {
    Ok(views_repo::status_counts(&state.db, store, env).await?)
}
