//! The stores page (platform admins): every store, and creating one.

use app::backend::{ConsoleResult, RevealedSecret, StoreView};
use axum::http::request::Parts;

use super::{context::require_platform_admin, first_page, shown, time::Times};
use crate::{state::AppState, tenancy::stores};

/// The first page of stores.
pub async fn list(state: &AppState, req: &Parts) -> ConsoleResult<Vec<StoreView>> {
    require_platform_admin(state, req).await?;
    let times = Times::utc(state);
    let page = stores::list(state, first_page()).await.map_err(shown)?;
    Ok(page
        .data
        .into_iter()
        .map(|s| StoreView {
            id: s.id.to_string(),
            name: s.name,
            currency: s.currency.code().to_owned(),
            created_at: times.stamp(s.created_at),
        })
        .collect())
}

/// A new store; its first sandbox key's secret is shown this once.
pub async fn create(
    state: &AppState,
    req: &Parts,
    name: String,
    currency: String,
) -> ConsoleResult<RevealedSecret> {
    require_platform_admin(state, req).await?;
    let created = stores::create(state, &name, &currency)
        .await
        .map_err(shown)?;
    Ok(RevealedSecret {
        label: created.store.name,
        secret: created.sandbox_secret_key,
    })
}
