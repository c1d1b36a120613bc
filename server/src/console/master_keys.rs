//! The master keys page (platform admins): key versions, rotations and retirement.

use app::backend::{ConsoleResult, KeyOverviewView, KeyVersionView, RotationView};
use axum::http::request::Parts;

use super::{context::require_platform_admin, shown, time::Times};
use crate::{credentials::keys, state::AppState};

/// Key versions (never the keys) and rotation progress.
pub async fn overview(state: &AppState, req: &Parts) -> ConsoleResult<KeyOverviewView> {
    require_platform_admin(state, req).await?;
    let times = Times::utc(state);
    let versions = keys::list_versions(state).await.map_err(shown)?;
    let rotations = keys::list_rotations(state).await.map_err(shown)?;
    Ok(KeyOverviewView {
        versions: versions
            .into_iter()
            .map(|v| KeyVersionView {
                version: v.version,
                status: v.status,
                configured: v.configured,
                rows: v.rows,
            })
            .collect(),
        rotations: rotations
            .into_iter()
            .map(|r| RotationView {
                id: r.id.to_string(),
                target_version: r.target_version,
                status: r.status,
                total: r.total,
                done: r.done,
                started_at: times.stamp(r.started_at),
            })
            .collect(),
    })
}

/// Makes `version` primary and re-encrypts every credential with it.
pub async fn start_rotation(state: &AppState, req: &Parts, version: u32) -> ConsoleResult<()> {
    require_platform_admin(state, req).await?;
    keys::start_and_run(state, version).await.map_err(shown)?;
    Ok(())
}

/// Retires a version nothing is encrypted with any more.
pub async fn retire(state: &AppState, req: &Parts, version: u32) -> ConsoleResult<()> {
    require_platform_admin(state, req).await?;
    keys::retire(state, version).await.map_err(shown)?;
    Ok(())
}
