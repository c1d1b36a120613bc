//! The narrow interface between the console and the server's domain services.
//!
//! Everything here is plain data that crosses the wire to the browser; the trait itself exists
//! only on the server (`ssr`). Each call receives the request's parts so the server can find
//! the console session (cookie) without the app knowing how sessions are stored.

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

/// A store the signed-in user can switch to.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoreChoice {
    /// Store id.
    pub id: String,
    /// Store name.
    pub name: String,
    /// `owner` or `staff`.
    pub role: String,
}

/// The signed-in console user and what the console currently shows.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Viewer {
    /// Their email.
    pub email: String,
    /// Whether they administer the platform.
    pub is_platform_admin: bool,
    /// Stores they can open.
    pub stores: Vec<StoreChoice>,
    /// The store currently shown.
    pub store: Option<StoreChoice>,
    /// `sandbox` or `production`.
    pub environment: String,
}

/// A store secret key as the console lists it (masked).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiKeyView {
    /// Key id.
    pub id: String,
    /// Label.
    pub name: String,
    /// `sandbox` or `production`.
    pub environment: String,
    /// Masked form, e.g. `sk_test_Ab12…9xYz`.
    pub display_hint: String,
    /// Creation time (RFC 3339).
    pub created_at: String,
    /// Last use (RFC 3339), if any.
    pub last_used_at: Option<String>,
    /// Whether it was revoked.
    pub revoked: bool,
}

/// A store as the platform pages list it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoreView {
    /// Store id.
    pub id: String,
    /// Name.
    pub name: String,
    /// Settlement currency.
    pub currency: String,
    /// Creation time (RFC 3339).
    pub created_at: String,
}

/// A secret shown exactly once, right after creation.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RevealedSecret {
    /// What it belongs to (key name or store name).
    pub label: String,
    /// The secret itself.
    pub secret: String,
}

/// Stored provider credentials, masked.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CredentialRow {
    /// `sandbox` or `stripe`.
    pub provider: String,
    /// `sandbox` or `production`.
    pub environment: String,
    /// Field name and masked value, in display order.
    pub masked: Vec<(String, String)>,
    /// Master key version of the ciphertext.
    pub key_version: u32,
    /// Last change (RFC 3339).
    pub updated_at: String,
}

/// A master key version (never the key).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyVersionView {
    /// Version number.
    pub version: u32,
    /// `primary`, `active` or `retired`.
    pub status: String,
    /// Whether this server has the key material.
    pub configured: bool,
    /// Credential rows encrypted with it.
    pub rows: i64,
}

/// A re-encryption run.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RotationView {
    /// Rotation id.
    pub id: String,
    /// Target version.
    pub target_version: u32,
    /// `running` or `completed`.
    pub status: String,
    /// Rows to move.
    pub total: i64,
    /// Rows moved.
    pub done: i64,
    /// Start (RFC 3339).
    pub started_at: String,
}

/// Key versions and recent rotations.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyOverviewView {
    /// Versions.
    pub versions: Vec<KeyVersionView>,
    /// Rotations, newest first.
    pub rotations: Vec<RotationView>,
}

/// A boxed, sendable future: keeps [`ConsoleBackend`] object-safe.
#[cfg(feature = "ssr")]
pub type BoxFuture<'a, T> = std::pin::Pin<Box<dyn std::future::Future<Output = T> + Send + 'a>>;

/// Console failures as the user sees them (already safe to display).
pub type ConsoleResult<T> = Result<T, String>;

/// Implemented by the server and provided as Leptos context (`Arc<dyn ConsoleBackend>`) to the
/// console's server functions.
#[cfg(feature = "ssr")]
pub trait ConsoleBackend: Send + Sync + 'static {
    /// Version, database backend and readiness of this server process.
    fn system_status(&self) -> BoxFuture<'_, SystemStatus>;
    /// The signed-in user, if any.
    fn viewer<'a>(
        &'a self,
        req: &'a http::request::Parts,
    ) -> BoxFuture<'a, ConsoleResult<Option<Viewer>>>;
    /// Checks credentials and starts a session (with a fresh session id).
    fn sign_in<'a>(
        &'a self,
        req: &'a http::request::Parts,
        email: String,
        password: String,
    ) -> BoxFuture<'a, ConsoleResult<()>>;
    /// Ends the session server-side.
    fn sign_out<'a>(&'a self, req: &'a http::request::Parts) -> BoxFuture<'a, ConsoleResult<()>>;
    /// Switches the store and/or environment the console shows.
    fn select<'a>(
        &'a self,
        req: &'a http::request::Parts,
        store_id: Option<String>,
        environment: Option<String>,
    ) -> BoxFuture<'a, ConsoleResult<()>>;
    /// Keys of the current store and environment.
    fn api_keys<'a>(
        &'a self,
        req: &'a http::request::Parts,
    ) -> BoxFuture<'a, ConsoleResult<Vec<ApiKeyView>>>;
    /// Creates a key in the current store and environment (owners only).
    fn create_api_key<'a>(
        &'a self,
        req: &'a http::request::Parts,
        name: String,
    ) -> BoxFuture<'a, ConsoleResult<RevealedSecret>>;
    /// Revokes a key of the current store and environment.
    fn revoke_api_key<'a>(
        &'a self,
        req: &'a http::request::Parts,
        key_id: String,
    ) -> BoxFuture<'a, ConsoleResult<()>>;
    /// All stores (platform admins only).
    fn stores<'a>(
        &'a self,
        req: &'a http::request::Parts,
    ) -> BoxFuture<'a, ConsoleResult<Vec<StoreView>>>;
    /// Masked credentials of the current store and environment.
    fn credentials<'a>(
        &'a self,
        req: &'a http::request::Parts,
    ) -> BoxFuture<'a, ConsoleResult<Vec<CredentialRow>>>;
    /// Stores or replaces credentials of the current store and environment.
    fn put_credentials<'a>(
        &'a self,
        req: &'a http::request::Parts,
        provider: String,
        fields: Vec<(String, String)>,
    ) -> BoxFuture<'a, ConsoleResult<CredentialRow>>;
    /// Master key versions and rotations (platform admins only).
    fn key_overview<'a>(
        &'a self,
        req: &'a http::request::Parts,
    ) -> BoxFuture<'a, ConsoleResult<KeyOverviewView>>;
    /// Makes `version` primary and starts re-encryption (platform admins only).
    fn start_rotation<'a>(
        &'a self,
        req: &'a http::request::Parts,
        version: u32,
    ) -> BoxFuture<'a, ConsoleResult<()>>;
    /// Retires an unused version (platform admins only).
    fn retire_key<'a>(
        &'a self,
        req: &'a http::request::Parts,
        version: u32,
    ) -> BoxFuture<'a, ConsoleResult<()>>;
    /// Creates a store (platform admins only); reveals its first sandbox key.
    fn create_store<'a>(
        &'a self,
        req: &'a http::request::Parts,
        name: String,
        currency: String,
    ) -> BoxFuture<'a, ConsoleResult<RevealedSecret>>;
}

/// The backend as stored in Leptos context.
#[cfg(feature = "ssr")]
pub type SharedBackend = std::sync::Arc<dyn ConsoleBackend>;
