//! The narrow interface between the console and the server's domain services.

use serde::{Deserialize, Serialize};

/// What the overview page shows about the running platform.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SystemStatus {
    /// Server version (the `cassa` crate version).
    pub version: String,
    /// `sqlite` or `postgres`.
    pub database_backend: String,
    /// Whether the database answered a probe just now.
    pub database_ready: bool,
    /// Number of schema migrations applied.
    pub migrations_applied: i64,
}

/// A boxed, sendable future: keeps [`ConsoleBackend`] object-safe.
#[cfg(feature = "ssr")]
pub type BoxFuture<'a, T> = std::pin::Pin<Box<dyn std::future::Future<Output = T> + Send + 'a>>;

/// Implemented by the server and provided as Leptos context (`Arc<dyn ConsoleBackend>`) to the
/// console's server functions.
#[cfg(feature = "ssr")]
pub trait ConsoleBackend: Send + Sync + 'static {
    /// Version, database backend and readiness of this server process.
    fn system_status(&self) -> BoxFuture<'_, SystemStatus>;
}

/// The backend as stored in Leptos context.
#[cfg(feature = "ssr")]
pub type SharedBackend = std::sync::Arc<dyn ConsoleBackend>;
