//! Tenancy's HTTP handlers, one file per aggregate; they call the services of `tenancy` and
//! answer with problems.

mod api_keys;
mod customers;
mod members;
mod profile;
mod stores;
mod users;

use utoipa_axum::router::OpenApiRouter;

use crate::state::AppState;

/// `/api/v1/platform/...` routes (platform admins).
pub fn platform_router() -> OpenApiRouter<AppState> {
    stores::router().merge(users::router())
}

/// `/api/v1/admin/...` routes (store keys and store members).
pub fn admin_router() -> OpenApiRouter<AppState> {
    api_keys::router()
        .merge(customers::admin_router())
        .merge(members::router())
        .merge(profile::router())
}

/// `/api/v1/me/...` routes (customer tokens).
pub fn me_router() -> OpenApiRouter<AppState> {
    customers::me_router()
}
