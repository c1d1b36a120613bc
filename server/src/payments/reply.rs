//! How a flow answers an API request: the status and body of a finished flow, and the
//! request's idempotency record, which the flow writes in its own transactions (claim with the
//! pending transaction, answer with the outcome).

use axum::{Json, http::StatusCode};

use super::{
    TransactionStatus,
    phases::{Attempt, client_for, drive, environment},
    repo::{IntentRow, TxnRow},
    service::{Caller, Outcome, db},
};
use crate::{http::problem::ApiError, idempotency::Deferred, on_db, state::AppState};

/// The HTTP answer to a finished flow: `201` for a new authorization, `200` otherwise, `202`
/// while the provider settles asynchronously, or the error the transaction ended in.
pub fn answer(
    intent: &IntentRow,
    txn: &TxnRow,
    created: bool,
) -> Result<(StatusCode, Json<super::PaymentIntent>), ApiError> {
    let body = respond(intent, txn)?;
    let status = match (txn.status(), created) {
        (TransactionStatus::Pending, _) => StatusCode::ACCEPTED,
        (_, true) => StatusCode::CREATED,
        (_, false) => StatusCode::OK,
    };
    Ok((status, Json(body)))
}

/// An API request's idempotency record, written by the flow in its own transactions: the
/// claim with the pending transaction (phase 1), the answer with the outcome (phase 3).
#[derive(Clone, Debug)]
pub struct Reply {
    /// The request's record.
    pub record: Deferred,
    /// Whether success is `201 Created` (a new authorization) rather than `200`.
    pub created: bool,
    /// Whether the outcome's transaction stores the answer. A flow of several provider
    /// operations claims the key in its first one but leaves the answer to the edge, which
    /// stores what the whole flow returns.
    pub store: bool,
}

impl Reply {
    /// The same record, claimed by the first step of a longer flow but never answered by it.
    pub fn claim_only(&self) -> Reply {
        Reply {
            store: false,
            ..self.clone()
        }
    }
}

/// Claims the request's key in a transaction of its own: for the rare requests that drive a
/// transaction an earlier attempt with the same key left open (its record was released after a
/// 5xx), so that two such retries never call the provider at once.
async fn claim_alone(state: &AppState, reply: Option<&Reply>) -> Result<(), ApiError> {
    let Some(record) = reply.map(|r| &r.record).filter(|r| r.needs_claim()) else {
        return Ok(());
    };
    let now = state.clock.now();
    let claimed = on_db!(&state.db, pool => {
        record.claim_query(now).execute(pool).await.map(|r| r.rows_affected())
    })
    .map_err(db)?;
    if claimed != 1 {
        return Err(record.lost());
    }
    record.claimed();
    Ok(())
}

/// Drives a transaction an earlier request with this key created (a settled one is the
/// answer as it is). Its earlier call may have reached the provider, so only the provider's
/// truth settles it.
pub(super) async fn resume(
    state: &AppState,
    caller: &Caller,
    (intent, txn): Outcome,
    reply: Option<&Reply>,
) -> Result<Outcome, ApiError> {
    if !txn.status().is_open() {
        return Ok((intent, txn));
    }
    // An earlier call may have reached the provider: whatever stops us from asking now, the
    // outcome is still unknown (never "nothing charged", which would invite a second key).
    let client = client_for(
        state,
        intent.store_id,
        Some(&intent.provider),
        environment(&intent)?,
    )
    .await
    .map_err(|_| ApiError::ProviderOutcomeUnknown)?;
    claim_alone(state, reply).await?;
    drive(
        state,
        caller,
        client.as_ref(),
        (intent, txn),
        reply,
        Attempt::Again,
    )
    .await
}

/// Maps a finished flow onto the API: the intent, or the error its transaction ended in.
pub fn respond(intent: &IntentRow, txn: &TxnRow) -> Result<super::PaymentIntent, ApiError> {
    match txn.status() {
        TransactionStatus::Succeeded | TransactionStatus::Pending => Ok(intent.to_api()),
        TransactionStatus::Unknown => Err(ApiError::ProviderOutcomeUnknown),
        TransactionStatus::Failed => {
            let code = txn.failure_code.clone().unwrap_or_default();
            Err(match txn.failure_kind.as_deref() {
                Some("declined") => ApiError::PaymentDeclined(code),
                Some("rejected") => ApiError::ProviderRejected(code),
                _ => ApiError::ProviderUnavailableFinal,
            })
        }
    }
}
