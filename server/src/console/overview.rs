//! The overview page: this server process and its database.

use app::backend::SystemStatus;

use crate::state::AppState;

/// Version, database backend and readiness; shown before sign-in too, so nothing store-related.
pub async fn system_status(state: &AppState) -> SystemStatus {
    let db = &state.db;
    let ready = db.probe().await.is_ok();
    let migrations_applied = if ready {
        db.applied_migrations().await.unwrap_or(0)
    } else {
        0
    };
    SystemStatus {
        version: env!("CARGO_PKG_VERSION").to_owned(),
        database_backend: db.backend().as_str().to_owned(),
        database_ready: ready,
        migrations_applied,
    }
}
