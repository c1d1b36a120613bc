//! Master key versions (primary, active, retired) and the re-encryption (rotation) job.

use std::time::Duration as StdDuration;

use chrono::{DateTime, Duration, Utc};
use serde::Serialize;
use utoipa::ToSchema;
use uuid::Uuid;

use super::{CredentialError, KeyRingError, rewrap_batch};
use crate::{
    db::{Db, DbError},
    on_db, on_tx,
    state::AppState,
};

/// Rows re-encrypted per batch.
const BATCH: i64 = 100;
/// A rotation worker holds its lease this long; a dead worker's rotation resumes after it.
fn lease() -> Duration {
    Duration::seconds(30)
}
/// How often the background worker looks for unfinished rotations.
const POLL: StdDuration = StdDuration::from_secs(2);

/// A master key version as platform admins see it.
#[derive(Debug, Serialize, ToSchema)]
pub struct KeyVersion {
    /// Version number.
    pub version: u32,
    /// `primary` (encrypts), `active` (decrypts) or `retired` (neither).
    pub status: String,
    /// Whether this process has the key material.
    pub configured: bool,
    /// Credential rows still encrypted with it.
    pub rows: i64,
}

/// A re-encryption run.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Rotation {
    /// Rotation id.
    pub id: Uuid,
    /// Version every row is moved to.
    pub target_version: u32,
    /// `running` or `completed`.
    pub status: String,
    /// Rows to move when it started (plus any written with an old key meanwhile).
    pub total: i64,
    /// Rows moved so far.
    pub done: i64,
    /// Start time.
    pub started_at: DateTime<Utc>,
    /// End time.
    pub finished_at: Option<DateTime<Utc>>,
}

/// The primary version (the one that encrypts).
pub async fn primary_version(db: &Db) -> Result<u32, DbError> {
    const SQL: &str = "SELECT version FROM master_keys WHERE status = 'primary'";
    let v: Option<i32> = on_db!(db, pool => sqlx::query_scalar(SQL).fetch_optional(pool).await)?;
    v.and_then(|v| u32::try_from(v).ok())
        .ok_or_else(|| DbError::Query(sqlx::Error::RowNotFound))
}

/// Refuses to use a retired version, naming it.
pub async fn ensure_not_retired(db: &Db, version: u32) -> Result<(), CredentialError> {
    const SQL: &str = "SELECT status FROM master_keys WHERE version = $1";
    let status: Option<String> = on_db!(db, pool => sqlx::query_scalar(SQL).bind(version as i32).fetch_optional(pool).await)?;
    match status.as_deref() {
        Some("retired") => Err(KeyRingError::Retired(version).into()),
        _ => Ok(()),
    }
}

/// Start-up: records configured versions and makes the highest one primary when none is.
/// Fails when the primary recorded in the database is not configured here.
pub async fn sync(state: &AppState) -> Result<u32, KeyRingError> {
    let db = &state.db;
    let now = state.clock.now();
    let store_err = |e: sqlx::Error| KeyRingError::File {
        path: "database".into(),
        message: e.to_string(),
    };
    for version in state.key_ring.versions() {
        const SQL: &str = "INSERT INTO master_keys (version, status, updated_at) \
                           VALUES ($1, 'active', $2) ON CONFLICT (version) DO NOTHING";
        on_db!(db, pool => sqlx::query(SQL).bind(version as i32).bind(now).execute(pool).await.map(|r| r.rows_affected()))
            .map_err(store_err)?;
    }
    const PRIMARY: &str = "SELECT version FROM master_keys WHERE status = 'primary'";
    let primary: Option<i32> =
        on_db!(db, pool => sqlx::query_scalar(PRIMARY).fetch_optional(pool).await)
            .map_err(store_err)?;
    match primary.and_then(|v| u32::try_from(v).ok()) {
        Some(v) if state.key_ring.has(v) => Ok(v),
        Some(v) => Err(KeyRingError::UnknownVersion(v)),
        None => {
            const ACTIVE: &str = "SELECT version FROM master_keys WHERE status = 'active'";
            let active: Vec<i32> =
                on_db!(db, pool => sqlx::query_scalar(ACTIVE).fetch_all(pool).await)
                    .map_err(store_err)?;
            let version = active
                .into_iter()
                .filter_map(|v| u32::try_from(v).ok())
                .filter(|v| state.key_ring.has(*v))
                .max()
                .ok_or(KeyRingError::Empty)?;
            const PROMOTE: &str = "UPDATE master_keys SET status = 'primary', updated_at = $2 \
                                   WHERE version = $1 AND NOT EXISTS \
                                   (SELECT 1 FROM master_keys WHERE status = 'primary')";
            on_db!(db, pool => sqlx::query(PROMOTE).bind(version as i32).bind(now).execute(pool).await.map(|r| r.rows_affected()))
                .map_err(store_err)?;
            Ok(version)
        }
    }
}

/// Versions with their status and row counts.
pub async fn list_versions(state: &AppState) -> Result<Vec<KeyVersion>, CredentialError> {
    const SQL: &str = "SELECT m.version, m.status, \
        (SELECT COUNT(*) FROM provider_credentials c WHERE c.key_version = m.version) \
        FROM master_keys m ORDER BY m.version";
    let rows: Vec<(i32, String, i64)> =
        on_db!(&state.db, pool => sqlx::query_as(SQL).fetch_all(pool).await)
            .map_err(DbError::from)?;
    Ok(rows
        .into_iter()
        .map(|(version, status, rows)| {
            let version = u32::try_from(version).unwrap_or_default();
            KeyVersion {
                version,
                status,
                configured: state.key_ring.has(version),
                rows,
            }
        })
        .collect())
}

type RotationRow = (
    Uuid,
    i32,
    String,
    i64,
    i64,
    DateTime<Utc>,
    Option<DateTime<Utc>>,
);

fn rotation(row: RotationRow) -> Rotation {
    Rotation {
        id: row.0,
        target_version: u32::try_from(row.1).unwrap_or_default(),
        status: row.2,
        total: row.3,
        done: row.4,
        started_at: row.5,
        finished_at: row.6,
    }
}

/// Recent rotations, newest first.
pub async fn list_rotations(state: &AppState) -> Result<Vec<Rotation>, CredentialError> {
    const SQL: &str = "SELECT id, target_version, status, total, done, started_at, finished_at \
                       FROM key_rotations ORDER BY id DESC LIMIT 20";
    let rows: Vec<RotationRow> =
        on_db!(&state.db, pool => sqlx::query_as(SQL).fetch_all(pool).await)
            .map_err(DbError::from)?;
    Ok(rows.into_iter().map(rotation).collect())
}

/// One rotation.
pub async fn find_rotation(state: &AppState, id: Uuid) -> Result<Rotation, CredentialError> {
    const SQL: &str = "SELECT id, target_version, status, total, done, started_at, finished_at \
                       FROM key_rotations WHERE id = $1";
    let row: Option<RotationRow> =
        on_db!(&state.db, pool => sqlx::query_as(SQL).bind(id).fetch_optional(pool).await)
            .map_err(DbError::from)?;
    row.map(rotation).ok_or(CredentialError::NotFound)
}

/// Makes `target` primary and starts re-encrypting every row onto it.
pub async fn start_rotation(state: &AppState, target: u32) -> Result<Rotation, CredentialError> {
    if !state.key_ring.has(target) {
        return Err(crate::types::InvalidValue::new(
            "version",
            format!("master key version {target} is not configured on this server"),
        )
        .into());
    }
    let now = state.clock.now();
    let id = Uuid::now_v7();
    // Two instances asked at once: on PostgreSQL both transactions would count no running
    // rotation and both start one. Locking the primary's row first queues the second behind
    // the first; once the first commits that row is no longer the primary, and the second's
    // count (a new statement, a new snapshot) sees the rotation the first started.
    let lock_primary = format!(
        "SELECT version FROM master_keys WHERE status = 'primary'{}",
        state.db.lock_for_update_sql()
    );
    let mut tx = state.db.begin_write().await?;
    let refused = on_tx!(&mut tx, conn => {
        async {
            let _: Option<i32> = sqlx::query_scalar(&lock_primary).fetch_optional(&mut *conn).await?;
            let running: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM key_rotations WHERE status = 'running'")
                .fetch_one(&mut *conn).await?;
            let status: Option<String> = sqlx::query_scalar("SELECT status FROM master_keys WHERE version = $1")
                .bind(target as i32).fetch_optional(&mut *conn).await?;
            if running > 0 || status.as_deref() == Some("retired") {
                return Ok::<_, sqlx::Error>(Some(if running > 0 {
                    CredentialError::Conflict("a key rotation is already running")
                } else {
                    CredentialError::Conflict("a retired key version cannot become primary")
                }));
            }
            sqlx::query("UPDATE master_keys SET status = 'active', updated_at = $1 WHERE status = 'primary'")
                .bind(now).execute(&mut *conn).await?;
            sqlx::query("INSERT INTO master_keys (version, status, updated_at) VALUES ($1, 'primary', $2) \
                         ON CONFLICT (version) DO UPDATE SET status = 'primary', updated_at = $2")
                .bind(target as i32).bind(now).execute(&mut *conn).await?;
            let total: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM provider_credentials WHERE key_version <> $1")
                .bind(target as i32).fetch_one(&mut *conn).await?;
            sqlx::query("INSERT INTO key_rotations (id, target_version, status, total, done, started_at, updated_at) \
                         VALUES ($1, $2, 'running', $3, 0, $4, $4)")
                .bind(id).bind(target as i32).bind(total).bind(now).execute(&mut *conn).await?;
            Ok(None)
        }
        .await
    })
    .map_err(DbError::from)?;
    if let Some(refusal) = refused {
        return Err(refusal);
    }
    tx.commit().await?;
    tracing::info!(target_version = target, rotation = %id, "master key rotation started");
    find_rotation(state, id).await
}

/// [`start_rotation`], then runs it at once in the background instead of at the worker's next
/// poll (the worker still picks it up if this process stops).
pub async fn start_and_run(state: &AppState, target: u32) -> Result<Rotation, CredentialError> {
    let rotation = start_rotation(state, target).await?;
    let worker_state = state.clone();
    tokio::spawn(async move {
        if let Err(err) = run_pending_rotation(&worker_state).await {
            tracing::error!(error = %err, "key rotation failed; the worker will retry");
        }
    });
    Ok(rotation)
}

/// Retires a version nothing is encrypted with any more.
pub async fn retire(state: &AppState, version: u32) -> Result<KeyVersion, CredentialError> {
    let versions = list_versions(state).await?;
    let Some(current) = versions.into_iter().find(|v| v.version == version) else {
        return Err(CredentialError::NotFound);
    };
    if current.status == "primary" {
        return Err(CredentialError::Conflict(
            "the primary key version cannot be retired",
        ));
    }
    if current.rows > 0 {
        return Err(CredentialError::Conflict(
            "rows are still encrypted with this version; run a rotation first",
        ));
    }
    // Remembered secret-bearing answers (24 h at most) and the sandbox PSP's webhook secrets
    // (rewritten whenever sandbox credentials are stored) are sealed too.
    const SEALED: &str = "SELECT COUNT(*) FROM idempotency_keys \
        WHERE response_key_version = $1 AND expires_at > $2";
    let sealed: i64 = on_db!(&state.db, pool => {
        sqlx::query_scalar(SEALED)
            .bind(version as i32)
            .bind(state.clock.now())
            .fetch_one(pool)
            .await
    })
    .map_err(DbError::from)?;
    let mut sealed = sealed;
    for owner in state.sealed_elsewhere.iter() {
        sealed += owner.sealed_with(version).await?;
    }
    if sealed > 0 {
        return Err(CredentialError::Conflict(
            "remembered API answers or sandbox webhook secrets are still sealed with this \
             version; retry after they expire (24 hours) or are re-registered",
        ));
    }
    const SQL: &str =
        "UPDATE master_keys SET status = 'retired', updated_at = $2 WHERE version = $1";
    on_db!(&state.db, pool => sqlx::query(SQL).bind(version as i32).bind(state.clock.now()).execute(pool).await.map(|r| r.rows_affected()))
        .map_err(DbError::from)?;
    tracing::info!(version, "master key version retired");
    Ok(KeyVersion {
        status: "retired".into(),
        ..current
    })
}

/// Runs one unfinished rotation to completion if no other worker holds it. Returns whether
/// there was work.
pub async fn run_pending_rotation(state: &AppState) -> Result<bool, CredentialError> {
    const PICK: &str = "SELECT id, target_version FROM key_rotations WHERE status = 'running' \
                        ORDER BY id LIMIT 1";
    let Some((id, target)): Option<(Uuid, i32)> =
        on_db!(&state.db, pool => sqlx::query_as(PICK).fetch_optional(pool).await)?
    else {
        return Ok(false);
    };
    let target = u32::try_from(target).unwrap_or_default();
    // Claim the lease: two processes never rewrap concurrently (harmless, but wasteful).
    const CLAIM: &str = "UPDATE key_rotations SET lease_until = $2 WHERE id = $1 \
                         AND status = 'running' AND (lease_until IS NULL OR lease_until < $3)";
    // The server's clock, like every rule in time: a process restarted after a crash sees the
    // dead worker's lease the way every other lease and lock is seen.
    let now = state.clock.now();
    let claimed = on_db!(&state.db, pool => sqlx::query(CLAIM).bind(id).bind(now + lease()).bind(now).execute(pool).await.map(|r| r.rows_affected()))?;
    if claimed == 0 {
        return Ok(false);
    }
    loop {
        if state.shutdown.is_cancelled() {
            return Ok(true);
        }
        let (moved, more) = rewrap_batch(state, target, BATCH).await?;
        // A batch re-encrypted; the rotation's progress does not say so.
        crate::crash_point!("credentials.rotation.after_batch");
        const PROGRESS: &str = "UPDATE key_rotations SET done = done + $2, \
            total = CASE WHEN done + $2 > total THEN done + $2 ELSE total END, \
            lease_until = $3, updated_at = $4 WHERE id = $1";
        let now = state.clock.now();
        on_db!(&state.db, pool => sqlx::query(PROGRESS).bind(id).bind(moved as i64).bind(now + lease()).bind(now).execute(pool).await.map(|r| r.rows_affected()))?;
        if !more {
            break;
        }
    }
    for owner in state.sealed_elsewhere.iter() {
        owner.rewrap(target).await?;
    }
    // Every row re-encrypted; the rotation is not marked completed.
    crate::crash_point!("credentials.rotation.before_complete");
    const DONE: &str = "UPDATE key_rotations SET status = 'completed', finished_at = $2, \
                        lease_until = NULL, updated_at = $2 WHERE id = $1";
    on_db!(&state.db, pool => sqlx::query(DONE).bind(id).bind(state.clock.now()).execute(pool).await.map(|r| r.rows_affected()))?;
    tracing::info!(rotation = %id, target_version = target, "master key rotation completed");
    Ok(true)
}

/// Background worker: resumes and finishes rotations, including ones interrupted by a restart.
pub fn spawn_rotation_worker(state: AppState) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let token = state.shutdown.clone();
        loop {
            match run_pending_rotation(&state).await {
                Ok(true) => continue,
                Ok(false) => {}
                Err(err) => tracing::error!(error = %err, "key rotation failed; will retry"),
            }
            tokio::select! {
                _ = token.cancelled() => break,
                _ = tokio::time::sleep(POLL) => {}
            }
        }
    })
}
