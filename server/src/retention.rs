//! Retention: purges data past its configured period (`CASSA_RETENTION_*_DAYS`) in bounded
//! batches, under a lease so that two processes never run a pass at once, and never anything a
//! live payment still needs:
//!
//! - webhook events only once `processed`, `dead` or `rejected` (never pending or in flight);
//! - checkout snapshots only once expired and when no payment intent refers to them;
//! - the sandbox PSP's payments only when no intent names them and no open (`pending` /
//!   `unknown`) transaction is older than them, and its idempotency records only when no open
//!   transaction is older (such a transaction may still re-send that exact request, which must
//!   be answered from the record, not executed again);
//! - provider call audit rows by age alone (nothing refers to them);
//! - outbound webhook deliveries only once finished, and events only once no delivery needs
//!   them (the rule is the outbound module's: [`crate::outbound::retention`]).

use chrono::{DateTime, Duration, Utc};

use crate::{db::DbError, on_db, state::AppState};

/// Rows deleted by one statement: short transactions that never hold locks for long.
pub const BATCH_SIZE: i64 = 500;
/// Batches per table and pass; what is left waits for the next pass.
const MAX_BATCHES: u32 = 20;
/// The lease's name in `job_leases`.
pub const LEASE: &str = "retention";
/// How long a claimed pass may run before another process may take over.
pub fn lease_duration() -> Duration {
    Duration::minutes(10)
}

/// Rows deleted by one pass.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Purged {
    /// Finished webhook events.
    pub webhook_events: u64,
    /// Provider call audit rows.
    pub provider_audit: u64,
    /// Expired, unused checkout snapshots (their items go with them).
    pub snapshots: u64,
    /// The sandbox PSP's idempotency records.
    pub sandbox_psp_requests: u64,
    /// The sandbox PSP's payments.
    pub sandbox_psp_payments: u64,
    /// Finished outbound webhook deliveries.
    pub outbound_deliveries: u64,
    /// Their attempts.
    pub outbound_attempts: u64,
    /// Outbound events no delivery needed any more.
    pub outbound_events: u64,
}

/// Takes the lease `name` for `holder` until `now + duration` if it is free or expired.
pub async fn claim_lease(
    state: &AppState,
    name: &str,
    holder: &str,
    now: DateTime<Utc>,
    duration: Duration,
) -> Result<bool, DbError> {
    const INSERT: &str = "INSERT INTO job_leases (name, holder, leased_until) VALUES ($1, $2, $3) \
                          ON CONFLICT (name) DO NOTHING";
    const TAKE: &str = "UPDATE job_leases SET holder = $2, leased_until = $3 \
                        WHERE name = $1 AND leased_until <= $4";
    let until = now + duration;
    let inserted = on_db!(&state.db, pool => {
        sqlx::query(INSERT).bind(name).bind(holder).bind(until).execute(pool).await.map(|r| r.rows_affected())
    })?;
    if inserted == 1 {
        return Ok(true);
    }
    let taken = on_db!(&state.db, pool => {
        sqlx::query(TAKE).bind(name).bind(holder).bind(until).bind(now).execute(pool).await.map(|r| r.rows_affected())
    })?;
    Ok(taken == 1)
}

/// Ends `holder`'s lease early (another holder's lease is left alone).
pub async fn release_lease(
    state: &AppState,
    name: &str,
    holder: &str,
    now: DateTime<Utc>,
) -> Result<(), DbError> {
    const SQL: &str = "UPDATE job_leases SET leased_until = $3 WHERE name = $1 AND holder = $2";
    on_db!(&state.db, pool => {
        sqlx::query(SQL).bind(name).bind(holder).bind(now).execute(pool).await.map(|r| r.rows_affected())
    })?;
    Ok(())
}

/// One retention pass; `None` when another process holds the lease.
pub async fn run(state: &AppState) -> Result<Option<Purged>, DbError> {
    let now = state.clock.now();
    let holder = uuid::Uuid::now_v7().to_string();
    if !claim_lease(state, LEASE, &holder, now, lease_duration()).await? {
        return Ok(None);
    }
    let result = purge(state, now).await;
    // A failed release only delays the next pass until the lease expires.
    if let Err(err) = release_lease(state, LEASE, &holder, state.clock.now()).await {
        tracing::warn!(error = %err, "could not release the retention lease");
    }
    result.map(Some)
}

async fn purge(state: &AppState, now: DateTime<Utc>) -> Result<Purged, DbError> {
    let periods = state.config.retention;
    let mut purged = Purged::default();
    if let Some(period) = periods.webhook_events {
        purged.webhook_events = batches(
            state,
            "webhook_events",
            "DELETE FROM webhook_events WHERE id IN (SELECT id FROM webhook_events \
             WHERE status IN ('processed', 'dead', 'rejected') AND received_at < $1 \
             ORDER BY received_at LIMIT $2)",
            now - period,
        )
        .await?;
    }
    if let Some(period) = periods.provider_audit {
        purged.provider_audit = batches(
            state,
            "provider_call_audit",
            "DELETE FROM provider_call_audit WHERE id IN (SELECT id FROM provider_call_audit \
             WHERE created_at < $1 ORDER BY created_at LIMIT $2)",
            now - period,
        )
        .await?;
    }
    if let Some(period) = periods.snapshots {
        purged.snapshots = batches(
            state,
            "order_checkout_snapshots",
            "DELETE FROM order_checkout_snapshots WHERE id IN (SELECT s.id FROM order_checkout_snapshots s \
             WHERE s.expires_at < $1 \
             AND NOT EXISTS (SELECT 1 FROM payment_intents p WHERE p.snapshot_id = s.id) \
             ORDER BY s.expires_at LIMIT $2)",
            now - period,
        )
        .await?;
    }
    if let Some(period) = periods.sandbox_psp {
        purged.sandbox_psp_requests = batches(
            state,
            "sandbox_psp_requests",
            "DELETE FROM sandbox_psp_requests WHERE (account, idempotency_key) IN \
             (SELECT r.account, r.idempotency_key FROM sandbox_psp_requests r \
             WHERE r.created_at < $1 AND NOT EXISTS (SELECT 1 FROM payment_transactions t \
             WHERE t.status IN ('pending', 'unknown') AND t.created_at <= r.created_at) \
             ORDER BY r.created_at LIMIT $2)",
            now - period,
        )
        .await?;
        purged.sandbox_psp_payments = batches(
            state,
            "sandbox_psp_payments",
            "DELETE FROM sandbox_psp_payments WHERE id IN (SELECT s.id FROM sandbox_psp_payments s \
             WHERE s.updated_at < $1 AND s.status <> 'pending' \
             AND NOT EXISTS (SELECT 1 FROM payment_intents p WHERE p.provider_payment_id = s.id) \
             AND NOT EXISTS (SELECT 1 FROM payment_transactions t \
             WHERE t.status IN ('pending', 'unknown') AND t.created_at <= s.updated_at) \
             ORDER BY s.updated_at LIMIT $2)",
            now - period,
        )
        .await?;
    }
    if let Some(period) = periods.outbound_webhooks {
        let outbound =
            crate::outbound::retention::purge(&state.db, now - period, BATCH_SIZE, MAX_BATCHES)
                .await?;
        for (table, rows) in [
            ("webhook_deliveries", outbound.deliveries),
            ("webhook_delivery_attempts", outbound.attempts),
            ("outbound_events", outbound.events),
        ] {
            if rows > 0 {
                metrics::counter!("retention_purged_rows_total", "table" => table).increment(rows);
            }
        }
        purged.outbound_deliveries = outbound.deliveries;
        purged.outbound_attempts = outbound.attempts;
        purged.outbound_events = outbound.events;
    }
    Ok(purged)
}

/// Runs a batch `DELETE` (`$1` the cutoff, `$2` the batch size) until a batch comes back short
/// or the pass's budget for the table is spent.
async fn batches(
    state: &AppState,
    table: &'static str,
    sql: &'static str,
    cutoff: DateTime<Utc>,
) -> Result<u64, DbError> {
    let mut total = 0;
    for _ in 0..MAX_BATCHES {
        let deleted = on_db!(&state.db, pool => {
            sqlx::query(sql).bind(cutoff).bind(BATCH_SIZE).execute(pool).await.map(|r| r.rows_affected())
        })?;
        total += deleted;
        if deleted < BATCH_SIZE as u64 {
            break;
        }
    }
    if total > 0 {
        metrics::counter!("retention_purged_rows_total", "table" => table).increment(total);
    }
    Ok(total)
}
