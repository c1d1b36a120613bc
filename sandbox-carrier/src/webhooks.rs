//! The carrier's outgoing webhooks: an outbox row per recorded event, delivered to the
//! account's one endpoint with Standard Webhooks signatures, retried with backoff on anything
//! but a 2xx.
//!
//! Endpoints are held to the state's [`DeliveryPolicy`](crate::DeliveryPolicy) when registered
//! and again before every attempt; redirects are never followed (the client's policy). Secrets
//! are stored sealed by the state's [`Sealer`](crate::Sealer) (see [`crate::seal`]).

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde_json::json;
use tokio::task::JoinSet;

use crate::{
    db::on_db,
    error::Error,
    model::TrackingEvent,
    seal::{self, SealError},
    signature,
    state::CarrierState,
};

/// Delivery attempts per event (the first plus retries after 0.25, 0.5, 1, 2, 4 s at the
/// earliest; the ticker's period rounds them up).
pub const DELIVERY_ATTEMPTS: i32 = 6;
/// Wait before the first retry; doubled for each one after.
const FIRST_BACKOFF_MS: i64 = 250;
/// Time budget of one delivery attempt.
const DELIVERY_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a claimed attempt keeps others off its row; past it, an attempt whose process died
/// is retried.
const LEASE_SECS: i64 = 60;
/// Deliveries attempted per pass.
const BATCH: i64 = 50;

/// Event type of a recorded tracking event.
pub const TRACKER_UPDATED: &str = "tracker.updated";
/// Event type of a void.
pub const LABEL_VOIDED: &str = "label.voided";

/// What an event is about: the label's identity as webhooks name it.
pub(crate) struct About<'a> {
    pub(crate) account: &'a str,
    pub(crate) label_id: &'a str,
    pub(crate) tracking_number: &'a str,
    pub(crate) reference: Option<&'a str>,
}

/// An event to send: its id, owner, type and the body signed and sent on every attempt.
pub(crate) struct Notice {
    pub(crate) id: String,
    pub(crate) account: String,
    pub(crate) event_type: &'static str,
    pub(crate) body: String,
}

/// The webhook of `event` on the label `about`, created `now`.
pub(crate) fn notice(
    about: &About<'_>,
    event_type: &'static str,
    event: &TrackingEvent,
    now: DateTime<Utc>,
) -> Notice {
    let id = format!("evt_{}", uuid::Uuid::now_v7().simple());
    let body = json!({
        "id": id,
        "type": event_type,
        "created_at": now,
        "data": {
            "label_id": about.label_id,
            "tracking_number": about.tracking_number,
            "reference": about.reference,
            "sequence": event.sequence,
            "code": event.code,
            "description": event.description,
            "occurred_at": event.occurred_at,
            "location": event.location,
        },
    });
    Notice {
        id,
        account: about.account.to_owned(),
        event_type,
        body: body.to_string(),
    }
}

/// Queues a [`Notice`], only if its account has an endpoint now (binds: `$1` id, `$2` account,
/// `$3` type, `$4` body, `$5` now).
pub(crate) const ENQUEUE: &str = "INSERT INTO sandbox_carrier_deliveries (id, account, \
    event_type, body, status, attempts, next_attempt_at, created_at, updated_at) \
    SELECT $1, $2, $3, $4, 'pending', 0, $5, $5, $5 \
    WHERE EXISTS (SELECT 1 FROM sandbox_carrier_endpoints WHERE account = $2)";

/// Queues `$notice` in transaction `$tx` (an event and its webhook commit together).
macro_rules! enqueue {
    ($tx:ident, $notice:expr, $now:expr) => {
        async {
            let notice: &$crate::webhooks::Notice = $notice;
            sqlx::query($crate::webhooks::ENQUEUE)
                .bind(&notice.id)
                .bind(&notice.account)
                .bind(notice.event_type)
                .bind(&notice.body)
                .bind($now)
                .execute(&mut *$tx)
                .await
                .map(|_| ())
        }
    };
}
pub(crate) use enqueue;

/// The stored form of the `secret` of `account`'s endpoint `endpoint`, sealed with the
/// sealer's current key.
pub(crate) async fn seal_secret(
    state: &CarrierState,
    account: &str,
    endpoint: &str,
    secret: &str,
) -> Result<String, SealError> {
    let version = state.sealer.current_version().await?;
    seal::seal_with(state.sealer.as_ref(), account, endpoint, secret, version)
}

/// A key rotation's share: re-seals every endpoint secret not yet on key `target`, so the old
/// version can be retired. A row that cannot be opened is logged and left (retiring its
/// version is then refused, see [`sealed_with`]). Returns how many rows were re-sealed.
pub async fn rewrap(state: &CarrierState, target: u32) -> Result<u64, Error> {
    const SQL: &str =
        "SELECT id, account, secret FROM sandbox_carrier_endpoints WHERE secret NOT LIKE $1";
    const UPDATE: &str =
        "UPDATE sandbox_carrier_endpoints SET secret = $3 WHERE id = $1 AND secret = $2";
    let rows: Vec<(String, String, String)> = on_db!(&state.db, pool => {
        sqlx::query_as(SQL).bind(seal::version_pattern(target)).fetch_all(pool).await
    })?;
    let mut done = 0;
    for (id, account, stored) in rows {
        let secret = match seal::open(state.sealer.as_ref(), &account, &id, &stored) {
            Ok(secret) => secret,
            Err(err) => {
                tracing::error!(error = %err, endpoint = %id, "sandbox carrier webhook secret cannot be re-sealed");
                continue;
            }
        };
        let resealed = seal::seal_with(state.sealer.as_ref(), &account, &id, &secret, target)?;
        // A concurrent registration wins: it sealed its new secret with the current key.
        done += on_db!(&state.db, pool => {
            sqlx::query(UPDATE).bind(&id).bind(&stored).bind(&resealed)
                .execute(pool).await.map(|r| r.rows_affected())
        })?;
    }
    Ok(done)
}

/// How many stored endpoint secrets are sealed with key `version` (a key still in use must not
/// be retired).
pub async fn sealed_with(state: &CarrierState, version: u32) -> Result<i64, Error> {
    const SQL: &str = "SELECT COUNT(*) FROM sandbox_carrier_endpoints WHERE secret LIKE $1";
    let count: i64 = on_db!(&state.db, pool => {
        sqlx::query_scalar(SQL).bind(seal::version_pattern(version)).fetch_one(pool).await
    })?;
    Ok(count)
}

/// A delivery claimed for one attempt: id, account, body, attempts including this one.
type Claimed = (String, String, String, i32);

/// A claimed delivery of a known account: id, body, attempts before this one.
type Attempt = (String, String, i32);

/// Makes one attempt at every delivery that is due (per the carrier's clock), accounts in
/// parallel and each account's in order, and records each result. Returns how many were
/// delivered.
pub async fn deliver_due(state: &CarrierState) -> Result<u64, Error> {
    const DUE: &str = "SELECT id, account, body, attempts FROM sandbox_carrier_deliveries \
        WHERE status = 'pending' AND next_attempt_at <= $1 ORDER BY next_attempt_at, id LIMIT $2";
    // Compare-and-set on the attempt count: of two tickers (two processes on one database)
    // only one sends each attempt.
    const CLAIM: &str = "UPDATE sandbox_carrier_deliveries SET attempts = attempts + 1, \
        next_attempt_at = $3, updated_at = $4 WHERE id = $1 AND status = 'pending' AND attempts = $2";
    let now = state.now();
    let due: Vec<Claimed> = on_db!(&state.db, pool => {
        sqlx::query_as(DUE).bind(now).bind(BATCH).fetch_all(pool).await
    })?;
    let lease = now + chrono::Duration::seconds(LEASE_SECS);
    // One account's events go out one after the other, in the order they were recorded (an
    // endpoint mostly sees a timeline in order); accounts are served in parallel.
    let mut by_account: Vec<(String, Vec<Attempt>)> = Vec::new();
    for (id, account, body, tried) in due {
        let claimed = on_db!(&state.db, pool => {
            sqlx::query(CLAIM).bind(&id).bind(tried).bind(lease).bind(now)
                .execute(pool).await.map(|r| r.rows_affected())
        })?;
        if claimed != 1 {
            continue;
        }
        match by_account.iter_mut().find(|(a, _)| *a == account) {
            Some((_, queue)) => queue.push((id, body, tried)),
            None => by_account.push((account, vec![(id, body, tried)])),
        }
    }
    let mut attempts = JoinSet::new();
    for (account, queue) in by_account {
        let state = state.clone();
        attempts.spawn(async move {
            let mut delivered = 0;
            for (id, body, tried) in queue {
                let result = attempt(&state, &id, &account, &body).await;
                if record(&state, &id, tried + 1, result).await? {
                    delivered += 1;
                }
            }
            Ok::<u64, Error>(delivered)
        });
    }
    let mut delivered = 0;
    while let Some(joined) = attempts.join_next().await {
        match joined {
            Ok(Ok(n)) => delivered += n,
            Ok(Err(err)) => {
                tracing::warn!(error = %err, "sandbox carrier could not record a delivery")
            }
            Err(err) => tracing::error!(error = %err, "sandbox carrier delivery task failed"),
        }
    }
    Ok(delivered)
}

/// How an attempt ended.
#[derive(Debug, thiserror::Error)]
enum Failure {
    #[error("the account has no endpoint any more")]
    NoEndpoint,
    #[error("the registered endpoint is not an allowed webhook URL")]
    NotAllowed,
    #[error(transparent)]
    Carrier(#[from] Error),
    #[error(transparent)]
    Secret(#[from] signature::BadSecret),
    #[error("the endpoint answered {0}")]
    Refused(reqwest::StatusCode),
    #[error("the request failed: {0}")]
    Send(#[from] reqwest::Error),
}

impl From<sqlx::Error> for Failure {
    fn from(err: sqlx::Error) -> Self {
        Failure::Carrier(err.into())
    }
}

impl From<SealError> for Failure {
    fn from(err: SealError) -> Self {
        Failure::Carrier(err.into())
    }
}

/// One attempt: the account's current endpoint, held to the current policy, signed now.
async fn attempt(state: &CarrierState, id: &str, account: &str, body: &str) -> Result<(), Failure> {
    const ENDPOINT: &str =
        "SELECT id, url, secret FROM sandbox_carrier_endpoints WHERE account = $1";
    let endpoint: Option<(String, String, String)> = on_db!(&state.db, pool => {
        sqlx::query_as(ENDPOINT).bind(account).fetch_optional(pool).await
    })?;
    let (endpoint, url, stored) = endpoint.ok_or(Failure::NoEndpoint)?;
    // Rows stored under an older or wider policy are held to the current one.
    if !state.delivery.allows(&url) {
        return Err(Failure::NotAllowed);
    }
    let secret = seal::open(state.sealer.as_ref(), account, &endpoint, &stored)?;
    let timestamp = state.now().timestamp();
    let signature = signature::sign_standard(&secret, id, timestamp, body.as_bytes())?;
    let response = state
        .http
        .post(&url)
        .timeout(DELIVERY_TIMEOUT)
        .header("content-type", "application/json")
        .header("webhook-id", id)
        .header("webhook-timestamp", timestamp.to_string())
        .header("webhook-signature", signature)
        .body(body.to_owned())
        .send()
        .await?;
    if response.status().is_success() {
        Ok(())
    } else {
        Err(Failure::Refused(response.status()))
    }
}

/// Records an attempt's result (`attempts` counts it); whether it was delivered.
async fn record(
    state: &CarrierState,
    id: &str,
    attempts: i32,
    result: Result<(), Failure>,
) -> Result<bool, Error> {
    const SETTLE: &str = "UPDATE sandbox_carrier_deliveries SET status = $2, updated_at = $3 \
        WHERE id = $1";
    const RETRY: &str = "UPDATE sandbox_carrier_deliveries SET next_attempt_at = $2, \
        updated_at = $3 WHERE id = $1 AND status = 'pending'";
    let now = state.now();
    let status = match &result {
        Ok(()) => "delivered",
        Err(Failure::NoEndpoint) => "dropped",
        Err(_) if attempts >= DELIVERY_ATTEMPTS => "failed",
        Err(_) => "pending",
    };
    match &result {
        Ok(()) => {}
        Err(err @ (Failure::Carrier(_) | Failure::Secret(_))) => {
            tracing::error!(error = %err, delivery = %id, attempts, "sandbox carrier webhook not sent");
        }
        Err(err) => {
            tracing::debug!(error = %err, delivery = %id, attempts, "sandbox carrier webhook not delivered");
        }
    }
    if status == "failed" {
        tracing::warn!(delivery = %id, attempts, "sandbox carrier gave up delivering a webhook");
    }
    if status == "pending" {
        let retry_at = now + chrono::Duration::milliseconds(backoff_ms(attempts));
        on_db!(&state.db, pool => {
            sqlx::query(RETRY).bind(id).bind(retry_at).bind(now).execute(pool).await.map(|_| ())
        })?;
    } else {
        on_db!(&state.db, pool => {
            sqlx::query(SETTLE).bind(id).bind(status).bind(now).execute(pool).await.map(|_| ())
        })?;
    }
    Ok(result.is_ok())
}

/// Wait after the `attempts`-th failed attempt: 0.25 s, doubled for each one after.
fn backoff_ms(attempts: i32) -> i64 {
    FIRST_BACKOFF_MS << (attempts - 1).clamp(0, 20)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_from_a_quarter_second() {
        let waits: Vec<i64> = (1..DELIVERY_ATTEMPTS).map(backoff_ms).collect();
        assert_eq!(waits, vec![250, 500, 1000, 2000, 4000]);
    }
}
