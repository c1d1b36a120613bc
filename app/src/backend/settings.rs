//! Settings → Store: the store's profile (name, time zone) as the console shows and changes it.

use serde::{Deserialize, Serialize};

#[cfg(feature = "ssr")]
use super::{BoxFuture, ConsoleResult};

/// The store's profile.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoreProfileView {
    /// Display name.
    pub name: String,
    /// Settlement currency (ISO 4217); it does not change.
    pub currency: String,
    /// IANA time zone the console shows the store's times in.
    pub timezone: String,
    /// Whether the user may change it (owners).
    pub can_edit: bool,
    /// Every time zone name the server knows, for the field's suggestions.
    pub zones: Vec<String>,
}

/// The server's side of the settings page.
#[cfg(feature = "ssr")]
pub trait SettingsBackend: Send + Sync {
    /// The current store's profile.
    fn store_profile<'a>(
        &'a self,
        req: &'a http::request::Parts,
    ) -> BoxFuture<'a, ConsoleResult<StoreProfileView>>;
    /// Changes the current store's name and time zone (owners), through the API's service.
    fn update_store_profile<'a>(
        &'a self,
        req: &'a http::request::Parts,
        name: String,
        timezone: String,
    ) -> BoxFuture<'a, ConsoleResult<String>>;
}
