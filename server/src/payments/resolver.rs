//! The resolver job: settles transactions whose outcome is still open.
//!
//! Each pass takes the open transactions that are due, oldest due first, and claims each one by
//! moving it back in the queue (exponential backoff) *before* trying it, with a compare-and-set
//! on its attempt count so that another process's pass that read the same row leaves it alone: a transaction the provider will
//! not answer about, or one that fails for any other reason, is tried again later and never
//! holds up the rest. Only the provider's truth settles a transaction; one still open after
//! [`crate::config::Config::unresolved_alert_after`] is reported at `ERROR` on every attempt.
//!
//! Each pass then sweeps the rests a provider that captures once released with a capture while
//! the ledger still holds them (their release failed, or never ran): the settled capture is
//! never driven again, so nothing else would release them.

use std::time::Duration;

use tokio::task::JoinHandle;

use super::{
    caller::{Caller, Source},
    error::Error,
    held::{self, HeldRest, Sweep},
    phases::{Attempt, drive},
    provider::client_for,
    repo::{self, TxnRow},
    service::release_after_capture,
};
use crate::{clock::backoff, state::AppState, types::TransactionId};

/// Transactions (and held rests) one pass takes at most.
const BATCH: i64 = 100;

/// The wait before a refused release of a held rest is tried again.
const MAX_BACKOFF_SECS: i64 = crate::clock::MAX_BACKOFF_SECS;

/// Releases of one held rest tried at most (an hour apart); a rest still held after them is
/// left to the merchant's void, which the intent still offers.
const RELEASE_ATTEMPTS: i64 = 6;

/// Drives every due transaction whose outcome has been open for at least `older_than`
/// (timeouts, crashes between the phases, asynchronous authorizations) with the same provider
/// key or the provider's `get_transaction`. Returns how many were settled.
pub async fn resolve_open(state: &AppState, older_than: chrono::Duration) -> Result<usize, Error> {
    let now = state.clock.now();
    let open = repo::due_txns(&state.db, now, now - older_than, BATCH).await?;
    let mut settled = 0;
    for txn in open {
        match resolve_one(state, txn).await {
            Ok(true) => settled += 1,
            Ok(false) => {}
            Err(err) => tracing::warn!(error = %err, "could not resolve a payment transaction"),
        }
    }
    // After the settlements above, which release what they can themselves.
    match sweep_held_rests(state, older_than).await {
        Ok(0) => {}
        Ok(tried) => tracing::info!(tried, "tried releasing held rests again"),
        Err(err) => tracing::warn!(error = %err, "could not sweep held rests"),
    }
    Ok(settled)
}

/// The job's caller, with a correlation id of its own per attempt.
fn job_caller() -> Caller {
    Caller {
        source: Source::Job,
        actor: "job:resolver".to_owned(),
        correlation_id: uuid::Uuid::now_v7().to_string(),
    }
}

/// Releases again the rests still held after a capture at a provider that captures once
/// (see `held.rs`), captured at least `older_than` ago (a capture just settled is released by
/// the flow that settled it). The first try uses the key the capture's own release would have
/// used, so it never doubles one that is merely late; a refused one is tried again an hour
/// later under a key per attempt. Returns how many were tried.
async fn sweep_held_rests(state: &AppState, older_than: chrono::Duration) -> Result<usize, Error> {
    let providers: Vec<&str> = state
        .payment_providers
        .adapters()
        .filter(|adapter| adapter.captures_once())
        .map(|adapter| adapter.name())
        .collect();
    let now = state.clock.now();
    let sweep = Sweep {
        providers: &providers,
        settled_before: now - older_than,
        refused_before: now - chrono::Duration::seconds(MAX_BACKOFF_SECS),
        attempts: RELEASE_ATTEMPTS,
        limit: BATCH,
    };
    let held = held::held_rests(&state.db, &sweep).await?;
    let tried = held.len();
    for rest in held {
        if let Err(err) = release_held(state, rest).await {
            tracing::warn!(error = %err, "could not release a held rest");
        }
    }
    Ok(tried)
}

/// One held rest: its intent read, then released under the key of attempt `releases`.
async fn release_held(state: &AppState, rest: HeldRest) -> Result<(), Error> {
    let HeldRest { capture, releases } = rest;
    let intent = repo::intent(&state.db, capture.payment_intent_id).await?;
    if releases + 1 >= RELEASE_ATTEMPTS {
        tracing::error!(
            intent = %intent.id,
            releases,
            "last release of a rest the provider released with its capture; void it if it fails"
        );
    } else {
        tracing::warn!(
            intent = %intent.id,
            releases,
            "releasing a rest the provider released with its capture"
        );
    }
    release_after_capture(state, &job_caller(), &(intent, capture), releases).await
}

/// One transaction: claimed (moved back in the queue), then driven. `Ok(true)` when it
/// settled; `Ok(false)` too when another pass claimed it first.
async fn resolve_one(state: &AppState, txn: TxnRow) -> Result<bool, Error> {
    let now = state.clock.now();
    let next = now + backoff(state.config.resolver_interval, txn.attempts);
    if !repo::claim_txn(&state.db, txn.id, txn.attempts, next).await? {
        return Ok(false);
    }
    let overdue = now - txn.created_at >= state.config.unresolved_alert_after;
    if overdue {
        metrics::counter!("payments_unresolved_overdue_total").increment(1);
        tracing::error!(
            transaction = %txn.id,
            operation = txn.operation.as_str(),
            status = txn.status.as_str(),
            attempts = txn.attempts,
            "a payment transaction's outcome is still open; check it at the provider"
        );
    }
    let caller = job_caller();
    let intent = repo::intent(&state.db, txn.payment_intent_id).await?;
    let client = client_for(
        state,
        intent.store_id,
        Some(&intent.provider),
        intent.environment,
    )
    .await?;
    let outcome = drive(
        state,
        &caller,
        client.as_ref(),
        (intent, txn),
        None,
        Attempt::Again,
    )
    .await?;
    release_after_capture(state, &caller, &outcome, 0).await?;
    Ok(!outcome.1.status.is_open())
}

/// Settles one open transaction from the provider's truth (the replay of its own idempotent
/// request, or `get_transaction`), as a webhook about it asks: the event only says where to
/// look. `Ok(false)` when it was settled already or is still open at the provider.
pub async fn resolve_transaction(
    state: &AppState,
    caller: &Caller,
    id: TransactionId,
) -> Result<bool, Error> {
    let txn = repo::txn(&state.db, id).await?;
    if !txn.status.is_open() {
        return Ok(false);
    }
    let intent = repo::intent(&state.db, txn.payment_intent_id).await?;
    let client = client_for(
        state,
        intent.store_id,
        Some(&intent.provider),
        intent.environment,
    )
    .await?;
    let outcome = drive(
        state,
        caller,
        client.as_ref(),
        (intent, txn),
        None,
        Attempt::Again,
    )
    .await?;
    release_after_capture(state, caller, &outcome, 0).await?;
    Ok(!outcome.1.status.is_open())
}

/// Whether a transaction's outcome is still open.
pub async fn is_open(state: &AppState, id: TransactionId) -> Result<bool, Error> {
    Ok(repo::txn_status(&state.db, id).await?.is_open())
}

/// Runs [`resolve_open`] every `resolver_interval` until shutdown.
pub fn spawn_resolver(state: AppState) -> JoinHandle<()> {
    let age =
        chrono::Duration::from_std(state.config.resolver_interval.max(Duration::from_secs(1)))
            .unwrap_or(chrono::Duration::seconds(30));
    crate::jobs::spawn_resolver_loop(
        state,
        age,
        "payment transactions",
        |state, age| async move { resolve_open(&state, age).await },
    )
}
