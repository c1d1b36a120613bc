//! The delivery workers. Due deliveries are *claimed* through the database (status
//! `delivering` with a lease; on PostgreSQL `FOR UPDATE SKIP LOCKED`, so any number of
//! processes share the queue and never take the same delivery), attempted concurrently (one
//! endpoint holds at most a quarter of the process's slots, so an endpoint that hangs holds
//! those until its attempts time out, never the others'), and settled only while the lease is
//! still the claimer's, many outcomes per transaction. A worker that dies leaves its claims
//! to expire; they are attempted again, with the same `webhook-id` so receivers can drop the
//! duplicate.

use std::{
    collections::{BTreeMap, HashMap, HashSet},
    sync::{Arc, Mutex},
    time::{Duration as StdDuration, Instant},
};

use chrono::{DateTime, Duration, Utc};
use futures::future::join_all;
use tokio::{
    sync::{Semaphore, mpsc},
    task::JoinHandle,
};

use super::{
    DeliveryStatus, Error, EventType, NewEvent,
    delivery_repo::{self, AttemptRow, Claimed, Settled, Target},
    endpoint_repo, endpoints, schedule,
    secrets::{self, Signers},
    send::{self, Outcome},
    url_rule,
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
/// After a wake-up the loop gathers this long before claiming, so that one claim takes what
/// several events and finished attempts made due (instead of one claim per wake-up).
const GATHER: StdDuration = StdDuration::from_millis(10);
/// Outcomes recorded at once, in one transaction.
const SETTLE_BATCH: usize = 256;
/// Attempts made but not yet recorded, per slot: a slot is free again once its outcome is
/// queued for recording; when recording falls this far behind, the slots wait for it.
const UNRECORDED_PER_SLOT: usize = 4;
/// An endpoint with an attempt in flight this long is slow: while it holds all the slots it
/// may have, its due deliveries are pushed back instead of being skipped by every claim.
const SLOW: StdDuration = StdDuration::from_secs(1);
/// How often a slow endpoint's newly due deliveries are pushed back.
const DEFER_EVERY: StdDuration = StdDuration::from_millis(200);

/// How many of a process's slots one endpoint may hold: a quarter (at least one), so an
/// endpoint that hangs holds at most that many until its attempts time out, never the others'.
pub(super) fn per_endpoint_slots(slots: usize) -> usize {
    (slots / 4).max(1)
}

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

/// An attempt made, to be recorded.
struct Attempted {
    claimed: Claimed,
    attempted_at: DateTime<Utc>,
    outcome: Outcome,
}

/// Claims up to `limit` due deliveries, none of the `excluded` endpoints'.
async fn claim_rows(
    state: &AppState,
    limit: usize,
    excluded: &[WebhookEndpointId],
) -> Result<Vec<Claimed>, Error> {
    let now = state.clock.now();
    let limit = i64::try_from(limit).unwrap_or(1);
    Ok(delivery_repo::claim(&state.db, now, now + lease(state), limit, excluded).await?)
}

/// Gathers the claimed deliveries' payloads, URLs and opened secrets (two queries for the
/// whole round, whatever its size).
async fn prepare(state: &AppState, claimed: Vec<Claimed>) -> Result<Vec<Job>, Error> {
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
    let now = state.clock.now();
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

/// Makes one claimed delivery's attempt; `None` when there is nothing to attempt or record
/// (the endpoint or its event was deleted since the claim).
async fn attempt(state: &AppState, job: Job) -> Option<Attempted> {
    let target = job.target.as_ref()?;
    let attempted_at = state.clock.now();
    let outcome = match &job.signers {
        Some(Ok(signers)) => {
            let request = send::Request {
                url: &target.url,
                own_allowed: target.environment == Environment::Sandbox
                    && state.config.run_mode != RunMode::Production
                    && url::Url::parse(&target.url).is_ok_and(|url| {
                        url_rule::own_path_allowed(&url, &state.config.own_receiver_paths)
                    }),
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
    Some(Attempted {
        claimed: job.claimed,
        attempted_at,
        outcome,
    })
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

/// The error text recorded on the delivery: the attempt's error, or the status it failed with.
fn error_text(outcome: &Outcome) -> Option<String> {
    outcome.error.clone().or_else(|| {
        outcome
            .status
            .filter(|_| !outcome.succeeded())
            .map(|status| format!("the endpoint answered {status}"))
    })
}

/// Records attempts: all of them in one transaction when it can, else each in its own (so one
/// that cannot be written does not take the others with it). One that cannot be recorded
/// leaves its delivery to be taken over after the lease, as if the worker had died.
async fn record(state: &AppState, attempts: &[Attempted]) {
    if attempts.is_empty() {
        return;
    }
    match settle(state, attempts).await {
        Ok(()) => {}
        Err(err) if attempts.len() == 1 => {
            tracing::warn!(error = %err, "recording an outbound webhook attempt failed");
        }
        Err(err) => {
            tracing::warn!(error = %err, n = attempts.len(), "recording outbound webhook attempts together failed; one at a time");
            for one in attempts {
                if let Err(err) = settle(state, std::slice::from_ref(one)).await {
                    tracing::warn!(error = %err, "recording an outbound webhook attempt failed");
                }
            }
        }
    }
}

/// Records attempts in one transaction: every attempt is logged; each delivery moves on
/// (succeeded, retried later, or failed) only while its lease holds; the endpoints' health is
/// kept, and an endpoint that has failed for too long is disabled — telling the store's other
/// endpoints in the same transaction. Three statements for a round of successes, whatever its
/// size (the attempts, the deliveries, the endpoints), plus two per endpoint that failed.
async fn settle(state: &AppState, attempts: &[Attempted]) -> Result<(), Error> {
    let errors: Vec<Option<String>> = attempts.iter().map(|a| error_text(&a.outcome)).collect();
    // A retry waits its delay from the attempt's end: counted from its start, an attempt that
    // timed out after longer than the first delay would be due again at once.
    let settled_at = state.clock.now();
    let mut rows = Vec::with_capacity(attempts.len());
    let mut settled = Vec::with_capacity(attempts.len());
    for (a, error) in attempts.iter().zip(&errors) {
        let succeeded = a.outcome.succeeded();
        metrics::counter!(
            "outbound_webhook_attempts_total",
            "outcome" => if succeeded { "succeeded" } else { "failed" }
        )
        .increment(1);
        let status_code = a.outcome.status.map(i32::from);
        let retry = if succeeded {
            None
        } else {
            schedule::retry_delay(a.claimed.attempt_count)
        };
        rows.push(AttemptRow {
            delivery: &a.claimed,
            attempted_at: a.attempted_at,
            status_code,
            latency_ms: a.outcome.latency_ms,
            error: a.outcome.error.as_deref(),
            response_body: a.outcome.body.as_deref(),
        });
        settled.push((
            &a.claimed,
            Settled {
                status: match (succeeded, retry) {
                    (true, _) => DeliveryStatus::Succeeded,
                    (false, Some(_)) => DeliveryStatus::Pending,
                    (false, None) => DeliveryStatus::Failed,
                },
                next_attempt_at: retry.map(|delay| settled_at.max(a.attempted_at) + delay),
                last_status_code: status_code,
                last_error: error.as_deref(),
                delivered_at: succeeded.then_some(a.attempted_at),
            },
        ));
    }
    let mut tx = state.db.begin_write().await?;
    delivery_repo::insert_attempts(&mut tx, &rows).await?;
    let written: HashSet<WebhookDeliveryId> = delivery_repo::settle_many(&mut tx, &settled)
        .await?
        .into_iter()
        .collect();
    // The endpoints' health, from the settled attempts only, in the order they were made.
    let mut by_endpoint: BTreeMap<WebhookEndpointId, Vec<&Attempted>> = BTreeMap::new();
    for a in attempts {
        if written.contains(&a.claimed.id) {
            by_endpoint
                .entry(a.claimed.endpoint_id)
                .or_default()
                .push(a);
        } else {
            // Another worker took the delivery over (this one stalled past its lease): the
            // attempt is logged, the delivery is the other worker's to settle.
            tracing::warn!(delivery = %a.claimed.id, "outbound webhook lease lost; attempt logged only");
        }
    }
    let mut healthy = Vec::new();
    let mut disabled = Vec::new();
    for (endpoint, mut made) in by_endpoint {
        if made.iter().all(|a| a.outcome.succeeded()) {
            healthy.push(endpoint);
            continue;
        }
        made.sort_by_key(|a| a.attempted_at);
        // Runs of successes and of failures, as one attempt after the other would leave them.
        for run in made.chunk_by(|x, y| x.outcome.succeeded() == y.outcome.succeeded()) {
            let (first, last) = (run[0], run[run.len() - 1]);
            if first.outcome.succeeded() {
                delivery_repo::endpoint_succeeded(&mut tx, endpoint).await?;
                continue;
            }
            let cutoff = last.attempted_at - schedule::failing_disables_after();
            let off = delivery_repo::endpoint_failed(&mut tx, endpoint, first.attempted_at, cutoff)
                .await?;
            if let Some((store, env)) = off {
                announce_disabled(state, &mut tx, endpoint, store, env, last.attempted_at).await?;
                disabled.push((endpoint, store, env));
            }
        }
    }
    delivery_repo::endpoints_succeeded(&mut tx, &healthy).await?;
    tx.commit().await?;
    for (a, (_, s)) in attempts.iter().zip(&settled) {
        if s.status == DeliveryStatus::Failed && written.contains(&a.claimed.id) {
            tracing::info!(delivery = %a.claimed.id, attempts = a.claimed.attempt_count, "outbound webhook delivery failed for good");
        }
    }
    for (endpoint, store, env) in disabled {
        metrics::counter!("outbound_webhook_endpoints_disabled_total").increment(1);
        tracing::warn!(
            %endpoint,
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

/// One round: claims up to 64 due deliveries, attempts them concurrently and records every
/// outcome (in one transaction). Returns how many were claimed. The workers do this
/// continuously; tests call it to drive deliveries one round at a time.
pub async fn deliver_due(state: &AppState) -> Result<usize, Error> {
    let jobs = prepare(state, claim_rows(state, BATCH, &[]).await?).await?;
    let n = jobs.len();
    let attempted: Vec<Attempted> = join_all(jobs.into_iter().map(|job| attempt(state, job)))
        .await
        .into_iter()
        .flatten()
        .collect();
    record(state, &attempted).await;
    if n > 0 {
        // An ordered endpoint's next delivery may be due now.
        super::wake(state);
    }
    Ok(n)
}

/// What this process has in flight, per endpoint: when each attempt started.
#[derive(Default)]
struct InFlight {
    next: u64,
    by_endpoint: HashMap<WebhookEndpointId, Vec<(u64, Instant)>>,
    /// When each slow endpoint's due deliveries were last pushed back.
    deferred: HashMap<WebhookEndpointId, Instant>,
}

impl InFlight {
    fn start(&mut self, endpoint: WebhookEndpointId) -> u64 {
        self.next += 1;
        self.by_endpoint
            .entry(endpoint)
            .or_default()
            .push((self.next, Instant::now()));
        self.next
    }

    fn end(&mut self, endpoint: WebhookEndpointId, token: u64) {
        if let Some(started) = self.by_endpoint.get_mut(&endpoint) {
            started.retain(|(t, _)| *t != token);
            if started.is_empty() {
                self.by_endpoint.remove(&endpoint);
                self.deferred.remove(&endpoint);
            }
        }
    }

    fn held(&self, endpoint: &WebhookEndpointId) -> usize {
        self.by_endpoint.get(endpoint).map_or(0, Vec::len)
    }
}

/// The delivery loop's shared parts.
struct Dispatcher {
    state: AppState,
    slots: Arc<Semaphore>,
    per_endpoint: usize,
    in_flight: Mutex<InFlight>,
}

impl Dispatcher {
    fn in_flight(&self) -> std::sync::MutexGuard<'_, InFlight> {
        self.in_flight
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Endpoints holding all the slots they may have (claims skip them), and those of them
    /// that are slow and due for their deliveries to be pushed back.
    fn full_endpoints(&self) -> (Vec<WebhookEndpointId>, Vec<WebhookEndpointId>) {
        let mut in_flight = self.in_flight();
        let now = Instant::now();
        let full: Vec<WebhookEndpointId> = in_flight
            .by_endpoint
            .iter()
            .filter(|(_, started)| started.len() >= self.per_endpoint)
            .map(|(endpoint, _)| *endpoint)
            .collect();
        let mut slow = Vec::new();
        for endpoint in &full {
            let oldest = in_flight.by_endpoint[endpoint]
                .iter()
                .map(|(_, at)| *at)
                .min()
                .unwrap_or(now);
            let last = in_flight.deferred.get(endpoint).copied();
            if now.duration_since(oldest) >= SLOW
                && last.is_none_or(|last| now.duration_since(last) >= DEFER_EVERY)
            {
                in_flight.deferred.insert(*endpoint, now);
                slow.push(*endpoint);
            }
        }
        (full, slow)
    }

    /// Claims as many due deliveries as there are free slots (none of the endpoints holding
    /// all theirs) and starts each in its own task; what a claim took beyond an endpoint's
    /// free slots is given back at once.
    async fn dispatch(self: &Arc<Self>, ended: &mpsc::Sender<Attempted>) -> Result<usize, Error> {
        let free = self.slots.available_permits().min(BATCH);
        if free == 0 {
            return Ok(0);
        }
        let (full, slow) = self.full_endpoints();
        if !slow.is_empty() {
            // Their slots free up when their attempts end, within the attempt timeout.
            let now = self.state.clock.now();
            let until = now
                + Duration::from_std(self.state.config.outbound_webhook_timeout)
                    .unwrap_or(Duration::seconds(10));
            for endpoint in slow {
                delivery_repo::defer(&self.state.db, endpoint, now, until).await?;
            }
        }
        let claimed = claim_rows(&self.state, free, &full).await?;
        let n = claimed.len();
        let (mut kept, mut over) = (Vec::with_capacity(n), Vec::new());
        {
            let in_flight = self.in_flight();
            let mut taken: HashMap<WebhookEndpointId, usize> = HashMap::new();
            for c in claimed {
                let count = taken.entry(c.endpoint_id).or_default();
                if in_flight.held(&c.endpoint_id) + *count < self.per_endpoint {
                    *count += 1;
                    kept.push(c);
                } else {
                    over.push(c);
                }
            }
        }
        if !over.is_empty() {
            delivery_repo::release(&self.state.db, &over, self.state.clock.now()).await?;
        }
        // On an error the claims expire with their lease and are taken over then.
        let jobs = prepare(&self.state, kept).await?;
        for job in jobs {
            let Ok(permit) = self.slots.clone().try_acquire_owned() else {
                // Cannot happen (only this loop takes slots); the lease hands the delivery on.
                break;
            };
            let endpoint = job.claimed.endpoint_id;
            let token = self.in_flight().start(endpoint);
            let (this, ended) = (self.clone(), ended.clone());
            tokio::spawn(async move {
                let attempted = attempt(&this.state, job).await;
                // The endpoint is no longer being called; the delivery stays claimed under its
                // lease until the outcome is recorded.
                this.in_flight().end(endpoint, token);
                if let Some(attempted) = attempted {
                    let _ = ended.send(attempted).await;
                }
                drop(permit);
                super::wake(&this.state);
            });
        }
        Ok(n)
    }

    /// Records attempts as they end, as many per transaction as have ended meanwhile.
    async fn recorder(self: Arc<Self>, mut ended: mpsc::Receiver<Attempted>) {
        let mut batch = Vec::with_capacity(SETTLE_BATCH);
        while ended.recv_many(&mut batch, SETTLE_BATCH).await > 0 {
            record(&self.state, &batch).await;
            batch.clear();
            // An ordered endpoint's next delivery may be due now.
            super::wake(&self.state);
        }
    }
}

/// Starts the delivery loop with `CASSA_OUTBOUND_WEBHOOK_WORKERS` slots (none when 0), at most
/// a quarter of them per endpoint. It stops when the server shuts down, after the attempts in
/// flight end (each within its timeout) and are recorded.
pub fn spawn_workers(state: AppState) -> Option<JoinHandle<()>> {
    let slots = state.config.outbound_webhook_workers;
    if slots == 0 {
        return None;
    }
    Some(tokio::spawn(async move {
        let dispatcher = Arc::new(Dispatcher {
            slots: Arc::new(Semaphore::new(slots)),
            per_endpoint: per_endpoint_slots(slots),
            in_flight: Mutex::new(InFlight::default()),
            state,
        });
        let (ended, ended_rx) = mpsc::channel(slots.saturating_mul(UNRECORDED_PER_SLOT));
        let recorder = tokio::spawn(dispatcher.clone().recorder(ended_rx));
        let token = dispatcher.state.shutdown.clone();
        loop {
            if token.is_cancelled() {
                break;
            }
            let free = dispatcher.slots.available_permits().min(BATCH);
            let claimed = match dispatcher.dispatch(&ended).await {
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
                _ = dispatcher.state.outbound_wakeup.notified() => {
                    // Let what else is about to become due gather into the same claim.
                    tokio::time::sleep(GATHER).await;
                }
                _ = tokio::time::sleep(POLL) => {}
            }
        }
        // The recorder ends once every attempt in flight has ended and been recorded.
        drop(ended);
        let grace = dispatcher.state.config.outbound_webhook_timeout + StdDuration::from_secs(5);
        let _ = tokio::time::timeout(grace, recorder).await;
    }))
}
