//! The server's side of the console: implements the interface the Leptos app declares.

use std::{sync::Arc, time::Duration};

use app::backend::{BoxFuture, ConsoleBackend, SharedBackend, SystemStatus};

use crate::{state::AppState, store::Db};

const STATUS_PROBE_TIMEOUT: Duration = Duration::from_secs(2);

/// Domain access for the console's server functions.
struct ServerBackend {
    db: Db,
}

/// The backend provided as Leptos context to server functions.
pub fn backend(state: &AppState) -> SharedBackend {
    Arc::new(ServerBackend {
        db: state.db.clone(),
    })
}

impl ConsoleBackend for ServerBackend {
    fn system_status(&self) -> BoxFuture<'_, SystemStatus> {
        Box::pin(async move {
            let ready = matches!(
                tokio::time::timeout(STATUS_PROBE_TIMEOUT, self.db.ping()).await,
                Ok(Ok(()))
            );
            let migrations_applied = if ready {
                self.db.applied_migrations().await.unwrap_or(0)
            } else {
                0
            };
            SystemStatus {
                version: env!("CARGO_PKG_VERSION").to_owned(),
                database_backend: self.db.backend().as_str().to_owned(),
                database_ready: ready,
                migrations_applied,
            }
        })
    }
}
