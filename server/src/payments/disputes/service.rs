//! Recording a provider's dispute event, and the reads (an order's disputes, the store's
//! list).

use super::{
    Dispute, DisputePage, DisputeQuery, DisputeStatus, Recorded,
    repo::{self, DisputeRow, Filter, IntentRef},
};
use crate::{
    db::Tx,
    payments::{
        Caller,
        error::Error,
        provider::client_for,
        repo::{NewHistory, Subject},
        write_repo::insert_history,
    },
    providers::payment::{ProviderDispute, Units},
    state::AppState,
    types::{Currency, Environment, InvalidValue, OrderId, StoreId, TextValue},
};

/// Records what a provider's (verified) event says about a dispute on the intent of `store`'s
/// `env` that `provider` knows by the event's payment id; another store's or environment's
/// intent is never looked at. The dispute is created or moved on, and the order's history
/// says so, in one database transaction. A status never moves back (a late or repeated event
/// changes nothing) and a decided dispute never changes again. The intent's ledger amounts are
/// left alone: a dispute is not a refund. An event about a payment this store does not have is
/// recorded nowhere (`NoPayment`), which is not an error to retry.
pub async fn record(
    state: &AppState,
    store: StoreId,
    env: Environment,
    provider: &str,
    event: &ProviderDispute,
    caller: &Caller,
) -> Result<Recorded, Error> {
    let Some(intent) = repo::intent_by_provider_payment(
        &state.db,
        store,
        env,
        provider,
        &event.provider_payment_id,
    )
    .await?
    else {
        tracing::info!(
            %store,
            provider,
            provider_payment_id = %event.provider_payment_id,
            dispute = %event.dispute_id,
            "dispute event about a payment this store and environment do not have: ignored"
        );
        return Ok(Recorded::NoPayment);
    };
    if event.dispute_id.is_empty() || event.dispute_id.len() > 255 {
        return Err(InvalidValue::new("dispute_id", "1 to 255 characters").into());
    }
    let currency = Currency::parse(&event.currency)?;
    // The provider writes amounts in its own units for some currencies (see `Units`).
    let client = client_for(state, store, Some(provider), env).await?;
    let amount = Units::of(client.as_ref(), currency.code())
        .from_provider(event.amount)
        .filter(|a| a.0 >= 0)
        .ok_or_else(|| {
            InvalidValue::new("amount", "not a whole, non-negative amount of the currency")
        })?;
    let now = state.clock.now();
    let seen = DisputeRow {
        id: uuid::Uuid::now_v7(),
        store_id: store,
        environment: env,
        payment_intent_id: intent.id,
        order_id: intent.order_id,
        provider: provider.to_owned(),
        provider_dispute_id: event.dispute_id.clone(),
        amount: amount.0,
        currency: currency.code().to_owned(),
        reason: reason_code(&event.reason),
        status: event.status,
        created_at: now,
        updated_at: now,
    };
    let mut tx = state.db.begin_write().await?;
    let existing = match repo::lock(&mut tx, store, provider, &seen.provider_dispute_id).await? {
        Some(existing) => existing,
        None if repo::insert(&mut tx, &seen).await? => {
            opened(&mut tx, &intent, &seen, caller).await?;
            tx.commit().await?;
            return Ok(Recorded::Opened);
        }
        // Another worker recorded it between the read and the insert (PostgreSQL): it is
        // visible now, and is moved on like any known dispute.
        None => repo::lock(&mut tx, store, provider, &seen.provider_dispute_id)
            .await?
            .ok_or_else(|| Error::Internal(anyhow::anyhow!("dispute vanished after a conflict")))?,
    };
    let Some(next) = moved_on(&existing, &seen) else {
        return Ok(Recorded::Unchanged);
    };
    repo::update(&mut tx, &next).await?;
    if next.status != existing.status {
        let reason = match next.status {
            DisputeStatus::NeedsResponse => "dispute needs a response".to_owned(),
            DisputeStatus::UnderReview => "dispute under review".to_owned(),
            status => format!("dispute {}", status.as_text()),
        };
        history(
            &mut tx,
            next.order_id,
            &next,
            Some(existing.status),
            next.status,
            &reason,
            caller,
        )
        .await?;
    }
    tx.commit().await?;
    Ok(Recorded::Updated)
}

/// The history of a dispute seen for the first time (it may already be decided when its
/// first event to arrive is the last one sent).
async fn opened(
    tx: &mut Tx,
    intent: &IntentRef,
    row: &DisputeRow,
    caller: &Caller,
) -> Result<(), Error> {
    let mut reason = format!("dispute opened: {}", row.reason);
    if row.status.is_final() {
        reason = format!("{reason}; dispute {}", row.status.as_text());
    }
    history(tx, intent.order_id, row, None, row.status, &reason, caller).await
}

async fn history(
    tx: &mut Tx,
    order_id: OrderId,
    row: &DisputeRow,
    from: Option<DisputeStatus>,
    to: DisputeStatus,
    reason: &str,
    caller: &Caller,
) -> Result<(), Error> {
    insert_history(
        tx,
        NewHistory {
            order_id,
            payment_intent_id: Some(row.payment_intent_id),
            subject: Subject::Dispute,
            from_status: from.map(|s| s.as_text()),
            to_status: to.as_text(),
            reason,
            caller,
            at: row.updated_at,
        },
    )
    .await?;
    Ok(())
}

/// The known dispute after an event that says `seen`, or `None` when the event changes
/// nothing: a decided dispute is final, and an event that is behind what is recorded (a late
/// `created` after an `updated`) is a stale view of it.
fn moved_on(existing: &DisputeRow, seen: &DisputeRow) -> Option<DisputeRow> {
    if existing.status.is_final() || seen.status.rank() < existing.status.rank() {
        return None;
    }
    let same = seen.status == existing.status
        && seen.amount == existing.amount
        && seen.currency == existing.currency
        && seen.reason == existing.reason;
    (!same).then(|| DisputeRow {
        amount: seen.amount,
        currency: seen.currency.clone(),
        reason: seen.reason.clone(),
        status: seen.status,
        updated_at: seen.updated_at,
        ..existing.clone()
    })
}

/// A provider's reason code as stored and shown: a short snake_case code, else `other` (the
/// code is shown in the console and the history, so nothing else of the payload is kept).
fn reason_code(reason: &str) -> String {
    let ok = (1..=64).contains(&reason.len())
        && reason
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
    if ok { reason } else { "other" }.to_owned()
}

/// The disputes of an order's intents, oldest first (one query for the whole order).
pub async fn of_order(state: &AppState, order_id: OrderId) -> Result<Vec<Dispute>, Error> {
    Ok(repo::of_order(&state.db, order_id)
        .await?
        .into_iter()
        .map(Dispute::from)
        .collect())
}

/// `GET /api/v1/admin/disputes`: the store's disputes in the environment, newest first, keyset
/// pages.
pub async fn list(
    state: &AppState,
    store: StoreId,
    env: Environment,
    query: &DisputeQuery,
) -> Result<DisputePage, Error> {
    // The project's one page-size rule (1–100, default 20).
    let limit = crate::pagination::PageQuery {
        limit: query.limit,
        starting_after: None,
    }
    .limit()?;
    let status = match query.status.as_deref().filter(|s| !s.is_empty()) {
        None => None,
        Some(s) => Some(
            DisputeStatus::from_text(s)
                .ok_or_else(|| InvalidValue::new("status", "not a dispute status"))?,
        ),
    };
    let filter = Filter {
        // The cursor is the last id seen; without one, start above every UUID.
        before: query.starting_after.unwrap_or(uuid::Uuid::max()),
        status,
        limit: i64::from(limit) + 1,
    };
    let rows = repo::list(&state.db, store, env, &filter).await?;
    let has_more = rows.len() > limit as usize;
    Ok(DisputePage {
        data: rows
            .into_iter()
            .take(limit as usize)
            .map(Dispute::from)
            .collect(),
        has_more,
    })
}

#[cfg(test)]
mod tests {
    use chrono::Utc;

    use super::*;
    use crate::types::{OrderId, PaymentIntentId};

    fn row(status: DisputeStatus, amount: i64) -> DisputeRow {
        DisputeRow {
            id: uuid::Uuid::now_v7(),
            store_id: StoreId::new(),
            environment: Environment::Sandbox,
            payment_intent_id: PaymentIntentId::new(),
            order_id: OrderId::new(),
            provider: "p".into(),
            provider_dispute_id: "dp_1".into(),
            amount,
            currency: "USD".into(),
            reason: "fraudulent".into(),
            status,
            created_at: Utc::now(),
            updated_at: Utc::now(),
        }
    }

    #[test]
    fn a_dispute_moves_forward_only_and_a_decided_one_never_moves() {
        use DisputeStatus::*;
        let open = row(NeedsResponse, 1000);
        assert!(
            moved_on(&open, &row(NeedsResponse, 1000)).is_none(),
            "a duplicate"
        );
        let reviewed = moved_on(&open, &row(UnderReview, 1000)).map(|r| r.status);
        assert_eq!(reviewed, Some(UnderReview));
        assert_eq!(
            moved_on(&open, &row(NeedsResponse, 800)).map(|r| r.amount),
            Some(800)
        );
        // A late `created` after the review.
        assert!(moved_on(&row(UnderReview, 1000), &row(NeedsResponse, 1000)).is_none());
        for decided in [Won, Lost, Closed] {
            for later in DisputeStatus::ALL {
                assert!(moved_on(&row(decided, 1000), &row(later, 500)).is_none());
            }
        }
        // The id and creation of the known row stay.
        let known = row(UnderReview, 1000);
        let next = moved_on(&known, &row(Lost, 1000));
        assert_eq!(next.map(|r| (r.id, r.status)), Some((known.id, Lost)));
    }

    #[test]
    fn reason_codes_are_short_snake_case_or_other() {
        assert_eq!(reason_code("product_not_received"), "product_not_received");
        assert_eq!(reason_code("<script>"), "other");
        assert_eq!(reason_code(""), "other");
        assert_eq!(reason_code(&"a".repeat(65)), "other");
    }
}
