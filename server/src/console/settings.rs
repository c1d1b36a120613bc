//! Settings → Store: the console's side of the store profile (`PATCH /api/v1/admin/store`'s
//! service and policy).

use app::backend::{
    BoxFuture, ConsoleResult,
    settings::{SettingsBackend, StoreProfileView},
};
use axum::http::request::Parts;

use super::{ServerBackend, context::require_signed, shown};
use crate::{
    auth::policy,
    state::AppState,
    tenancy::stores::{self, ProfileChange},
};

async fn profile(state: &AppState, req: &Parts) -> ConsoleResult<StoreProfileView> {
    let signed = require_signed(state, req).await?;
    let (store, actor) = signed.actor(state).await?;
    let found = stores::find(state, store).await.map_err(shown)?;
    Ok(StoreProfileView {
        name: found.name,
        currency: found.currency.code().to_owned(),
        timezone: found.timezone,
        can_edit: policy::manage_store_profile(actor).is_ok(),
        zones: chrono_tz::TZ_VARIANTS
            .iter()
            .map(|z| z.name().to_owned())
            .collect(),
    })
}

async fn update(
    state: &AppState,
    req: &Parts,
    name: String,
    timezone: String,
) -> ConsoleResult<String> {
    let signed = require_signed(state, req).await?;
    let (store, actor) = signed.actor(state).await?;
    policy::manage_store_profile(actor).map_err(shown)?;
    let change = ProfileChange {
        name: Some(name),
        timezone: Some(timezone),
    };
    let saved = stores::update_profile(state, store, &change)
        .await
        .map_err(shown)?;
    Ok(format!(
        "Saved: {}, times shown in {}.",
        saved.name, saved.timezone
    ))
}

impl SettingsBackend for ServerBackend {
    fn store_profile<'a>(
        &'a self,
        req: &'a Parts,
    ) -> BoxFuture<'a, ConsoleResult<StoreProfileView>> {
        Box::pin(profile(&self.state, req))
    }

    fn update_store_profile<'a>(
        &'a self,
        req: &'a Parts,
        name: String,
        timezone: String,
    ) -> BoxFuture<'a, ConsoleResult<String>> {
        Box::pin(update(&self.state, req, name, timezone))
    }
}
