//! The delivery workers. Due deliveries are *claimed* through the database (status
//! `delivering` with a lease; on PostgreSQL `FOR UPDATE SKIP LOCKED`, so any number of
//! processes share the queue and never take the same delivery), attempted concurrently (an
//! endpoint that hangs holds one slot until its attempt times out, never the others), and
//! settled only while the lease is still the claimer's. A worker that dies leaves its claims
//! to expire; they are attempted again, with the same `webhook-id` so receivers can drop the
//! duplicate.

use std::{collections::HashMap, sync::Arc, time::Duration as StdDuration};

use chrono::{DateTime, Duration, Utc};
use futures::future::join_all;
use tokio::{sync::Semaphore, task::JoinHandle};

use super::{
    DeliveryStatus, Error, EventType, NewEvent,
    delivery_repo::{self, AttemptRow, Claimed, Settled, Target},
    endpoint_repo, endpoints, schedule,
    secrets::{self, Signers},
    send::{self, Outcome},
};
use crate::{
    config::RunMode,
    state::AppState,
    types::{Environment, StoreId, WebhookDeliveryId, WebhookEndpointId},
};

/// Deliveries claimed at once by [`deliver_due`] (the workers claim as many as they have
/// free slots, at most this).
const BATCH: usize = 64;
/// Idle workers look for due deliveries this often (a new one also wakes them at once).
const POLL: StdDuration = StdDuration::from_secs(1);

/// How long a claim holds: longer than an attempt may take, so a live worker always settles
/// its attempt before anyone else may take the delivery over.
fn lease(state: &AppState) -> Duration {
    Duration::from_std(state.config.outbound_webhook_timeout).unwrap_or(Duration::seconds(60))
        + Duration::seconds(60)
}

/// A claimed delivery with what its attempt needs.
struct Job {
    claimed: Claimed,
    target: Option<Target>,
    signers: Option<Result<Signers, String>>,
}

/// Claims up to `limit` due deliveries and gathers their payloads, URLs and opened secrets
/// (three queries for the whole round, whatever its size).
async fn claim(state: &AppState, limit: usize) -> Result<Vec<Job>, Error> {
    let now = state.clock.now();
    let limit = i64::try_from(limit).unwrap_or(1);
    let claimed = delivery_repo::claim(&state.db, now, now + lease(state), limit).await?;
    if claimed.is_empty() {
        return Ok(Vec::new());
    }
    let ids: Vec<WebhookDeliveryId> = claimed.iter().map(|c| c.id).collect();
    let mut targets: HashMap<WebhookDeliveryId, Target> = delivery_repo::targets(&state.db, &ids)
        .await?
        .into_iter()
        .map(|t| (t.id, t))
        .collect();
    let mut endpoints: Vec<WebhookEndpointId> = claimed.iter().map(|c| c.endpoint_id).collect();
    endpoints.sort();
    endpoints.dedup();
    let signers = secrets::signing_secrets(&state.db, &state.key_ring, &endpoints, now).await?;
    Ok(claimed
        .into_iter()
        .map(|claimed| Job {
            target: targets.remove(&claimed.id),
            // Nothing to sign with is a failed attempt, never an unsigned delivery.
            signers: signers.get(&claimed.endpoint_id).cloned(),
            claimed,
        })
        .collect())
}

/// Attempts one claimed delivery and records the outcome.
async fn attempt(state: &AppState, job: Job) -> Result<(), Error> {
    let Some(target) = &job.target else {
        // The endpoint (or its event) was deleted since the claim: nothing is left to record.
        return Ok(());
    };
    let attempted_at = state.clock.now();
    let outcome = match &job.signers {
        Some(Ok(signers)) => {
            let request = send::Request {
                url: &target.url,
                own_allowed: target.environment == Environment::Sandbox
                    && state.config.run_mode != RunMode::Production,
                id: &job.claimed.event_id.public(),
                payload: &target.payload,
                secrets: signers,
                timeout: state.config.outbound_webhook_timeout,
            };
            send::post(&state.egress, &request).await
        }
        Some(Err(err)) => unsigned(format!("not signed: {err}")),
        None => unsigned("not signed: the endpoint has no signing secret".to_owned()),
    };
    settle(state, &job.claimed, attempted_at, &outcome).await
}

fn unsigned(error: String) -> Outcome {
    tracing::error!(error = %error, "an outbound webhook could not be signed");
    Outcome {
        status: None,
        latency_ms: 0,
        error: Some(error),
        body: None,
    }
}

/// Records the attempt, moves the delivery on (succeeded, retried later, or failed), keeps
/// the endpoint's health, and disables an endpoint that has failed for too long — telling
/// the store's other endpoints in the same transaction.
async fn settle(
    state: &AppState,
    delivery: &Claimed,
    attempted_at: DateTime<Utc>,
    outcome: &Outcome,
) -> Result<(), Error> {
    let succeeded = outcome.succeeded();
    metrics::counter!(
        "outbound_webhook_attempts_total",
        "outcome" => if succeeded { "succeeded" } else { "failed" }
    )
    .increment(1);
    let status_code = outcome.status.map(i32::from);
    let error_text = outcome.error.clone().or_else(|| {
        outcome
            .status
            .filter(|_| !succeeded)
            .map(|status| format!("the endpoint answered {status}"))
    });
    let retry = if succeeded {
        None
    } else {
        schedule::retry_delay(delivery.attempt_count)
    };
    let settled = Settled {
        status: match (succeeded, retry) {
            (true, _) => DeliveryStatus::Succeeded,
            (false, Some(_)) => DeliveryStatus::Pending,
            (false, None) => DeliveryStatus::Failed,
        },
        next_attempt_at: retry.map(|delay| attempted_at + delay),
        last_status_code: status_code,
        last_error: error_text.as_deref(),
        delivered_at: succeeded.then_some(attempted_at),
    };
    let mut tx = state.db.begin_write().await?;
    delivery_repo::insert_attempt(
        &mut tx,
        &AttemptRow {
            delivery,
            attempted_at,
            status_code,
            latency_ms: outcome.latency_ms,
            error: outcome.error.as_deref(),
            response_body: outcome.body.as_deref(),
        },
    )
    .await?;
    if !delivery_repo::settle(&mut tx, delivery, &settled).await? {
        // Another worker took the delivery over (this one stalled past its lease): the
        // attempt is logged, the delivery is the other worker's to settle.
        tracing::warn!(delivery = %delivery.id, "outbound webhook lease lost; attempt logged only");
        tx.commit().await?;
        return Ok(());
    }
    let mut disabled = None;
    if succeeded {
        delivery_repo::endpoint_succeeded(&mut tx, delivery.endpoint_id).await?;
    } else {
        let cutoff = attempted_at - schedule::failing_disables_after();
        disabled =
            delivery_repo::endpoint_failed(&mut tx, delivery.endpoint_id, attempted_at, cutoff)
                .await?;
        if let Some((store, env)) = disabled {
            announce_disabled(
                state,
                &mut tx,
                delivery.endpoint_id,
                store,
                env,
                attempted_at,
            )
            .await?;
        }
    }
    tx.commit().await?;
    if settled.status == DeliveryStatus::Failed {
        tracing::info!(delivery = %delivery.id, attempts = delivery.attempt_count, "outbound webhook delivery failed for good");
    }
    if let Some((store, env)) = disabled {
        metrics::counter!("outbound_webhook_endpoints_disabled_total").increment(1);
        tracing::warn!(
            endpoint = %delivery.endpoint_id,
            %store,
            %env,
            "webhook endpoint disabled: every attempt to it failed for three days"
        );
    }
    Ok(())
}

/// Emits `webhook_endpoint.disabled` (the endpoint as the API shows it) to the store's other
/// endpoints subscribed to it; the disabled one no longer receives anything.
async fn announce_disabled(
    state: &AppState,
    tx: &mut crate::db::Tx,
    endpoint: WebhookEndpointId,
    store: StoreId,
    env: Environment,
    at: DateTime<Utc>,
) -> Result<(), Error> {
    let row = endpoint_repo::find_in(tx, endpoint)
        .await?
        .ok_or(Error::NotFound)?;
    let secrets = endpoint_repo::live_secrets_in(tx, endpoint, state.clock.now()).await?;
    let event = NewEvent::of(
        store,
        env,
        EventType::WebhookEndpointDisabled,
        &endpoints::view(row, &secrets),
        at,
    )?;
    super::emit(tx, event).await?;
    Ok(())
}

/// Attempts `jobs` concurrently; how many were attempted. A failure to record one outcome
/// leaves its delivery to be taken over after the lease, as if the worker had died.
async fn attempt_all(state: &AppState, jobs: Vec<Job>) -> usize {
    let n = jobs.len();
    let results = join_all(jobs.into_iter().map(|job| attempt(state, job))).await;
    for err in results.into_iter().filter_map(Result::err) {
        tracing::warn!(error = %err, "recording an outbound webhook attempt failed");
    }
    n
}

/// One round: claims up to 64 due deliveries, attempts them concurrently and records every
/// outcome. Returns how many were claimed. The workers do this continuously; tests call it
/// to drive deliveries one round at a time.
pub async fn deliver_due(state: &AppState) -> Result<usize, Error> {
    let jobs = claim(state, BATCH).await?;
    let n = attempt_all(state, jobs).await;
    if n > 0 {
        // An ordered endpoint's next delivery may be due now.
        super::wake(state);
    }
    Ok(n)
}

/// Claims as many due deliveries as there are free slots and starts each in its own task.
async fn dispatch(state: &AppState, slots: &Arc<Semaphore>) -> Result<usize, Error> {
    let free = slots.available_permits().min(BATCH);
    if free == 0 {
        return Ok(0);
    }
    let jobs = claim(state, free).await?;
    let n = jobs.len();
    for job in jobs {
        let Ok(permit) = slots.clone().try_acquire_owned() else {
            // Cannot happen (only this loop takes slots); the lease hands the delivery on.
            break;
        };
        let state = state.clone();
        tokio::spawn(async move {
            if let Err(err) = attempt(&state, job).await {
                tracing::warn!(error = %err, "recording an outbound webhook attempt failed");
            }
            drop(permit);
            // A slot is free, and an ordered endpoint's next delivery may be due.
            super::wake(&state);
        });
    }
    Ok(n)
}

/// Starts the delivery loop with `CASSA_OUTBOUND_WEBHOOK_WORKERS` slots (none when 0). It
/// stops when the server shuts down, after the attempts in flight end (each within its
/// timeout).
pub fn spawn_workers(state: AppState) -> Option<JoinHandle<()>> {
    let slots = state.config.outbound_webhook_workers;
    if slots == 0 {
        return None;
    }
    Some(tokio::spawn(async move {
        let semaphore = Arc::new(Semaphore::new(slots));
        let token = state.shutdown.clone();
        loop {
            if token.is_cancelled() {
                break;
            }
            let free = semaphore.available_permits().min(BATCH);
            let claimed = match dispatch(&state, &semaphore).await {
                Ok(n) => n,
                Err(err) => {
                    tracing::warn!(error = %err, "outbound webhook round failed");
                    0
                }
            };
            if free > 0 && claimed == free {
                // Every free slot found work: more may be due.
                continue;
            }
            tokio::select! {
                _ = token.cancelled() => break,
                _ = state.outbound_wakeup.notified() => {}
                _ = tokio::time::sleep(POLL) => {}
            }
        }
        let all = u32::try_from(slots).unwrap_or(u32::MAX);
        let grace = state.config.outbound_webhook_timeout + StdDuration::from_secs(5);
        let _ = tokio::time::timeout(grace, semaphore.acquire_many(all)).await;
    }))
}
