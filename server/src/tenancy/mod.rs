//! Tenancy: stores, console users, members and roles, store API keys, customers and customer
//! tokens.

pub mod access;
pub mod api_keys;
pub mod customers;
pub mod members;
pub mod stores;
pub mod users;

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
}

/// `/api/v1/me/...` routes (customer tokens).
pub fn me_router() -> OpenApiRouter<AppState> {
    customers::me_router()
}

/// Trims a display name and checks its length.
pub(crate) fn parse_name(
    field: &'static str,
    raw: &str,
) -> Result<String, crate::types::InvalidValue> {
    let name = raw.trim();
    if name.is_empty() || name.chars().count() > 200 {
        return Err(crate::types::InvalidValue::new(
            field,
            "must be 1 to 200 characters",
        ));
    }
    Ok(name.to_owned())
}
