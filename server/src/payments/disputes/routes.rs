//! `GET /api/v1/admin/disputes`: the store's disputes.

use axum::{Json, extract::State};
use utoipa_axum::{router::OpenApiRouter, routes};

use super::{DisputePage, DisputeQuery};
use crate::{
    auth::principal::StoreScope,
    http::{
        extract::ApiQuery,
        problem::{ApiError, Problem},
    },
    state::AppState,
};

/// Store routes (under `/api/v1/admin`).
pub fn admin_router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(list_disputes))
}

/// The store's disputes in the key's (or console's) environment, newest first, with a status
/// filter and keyset pages. Reading them is every store member's, as the payments ledger is;
/// another store's disputes are never listed.
#[utoipa::path(
    get,
    path = "/disputes",
    tag = "payments",
    params(DisputeQuery),
    responses(
        (status = 200, description = "A page of disputes", body = DisputePage),
        (status = 422, description = "Invalid filter or page size", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
pub async fn list_disputes(
    State(state): State<AppState>,
    scope: StoreScope,
    ApiQuery(query): ApiQuery<DisputeQuery>,
) -> Result<Json<DisputePage>, ApiError> {
    Ok(Json(
        super::list(&state, scope.store_id, scope.environment, &query).await?,
    ))
}
