//! `POST /api/v1/auth/token`.

use axum::{Json, extract::State};
use chrono::{DateTime, Utc};
use secrecy::SecretString;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};

use super::{service, tokens};
use crate::{
    http::{
        extract::ApiJson,
        problem::{ApiError, Problem},
    },
    limits::ClientIp,
    state::AppState,
};

/// Routes of this module.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(create_token))
}

/// Console credentials.
#[derive(Deserialize, ToSchema)]
pub struct TokenRequest {
    /// The console user's email.
    email: String,
    /// Their password.
    #[schema(value_type = String, format = Password)]
    password: SecretString,
}

/// A bearer token for the platform and merchant API, shown once.
#[derive(Serialize, ToSchema)]
pub struct TokenResponse {
    /// Send as `Authorization: Bearer <token>`.
    token: String,
    /// Always `Bearer`.
    token_type: &'static str,
    /// When the token stops working.
    expires_at: DateTime<Utc>,
}

/// Exchanges a console user's email and password for a short-lived bearer token.
#[utoipa::path(
    post,
    path = "/token",
    tag = "auth",
    request_body = TokenRequest,
    responses(
        (status = 201, description = "Token issued", body = TokenResponse),
        (status = 401, description = "Wrong email or password", body = Problem,
            content_type = "application/problem+json"),
        (status = 429, description = "Too many failed sign-ins from this address, or the \
            account's backoff window is still open; see `Retry-After`", body = Problem,
            content_type = "application/problem+json"),
        (status = 503, description = "Password hashing at capacity; see `Retry-After`",
            body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn create_token(
    State(state): State<AppState>,
    ClientIp(client): ClientIp,
    ApiJson(body): ApiJson<TokenRequest>,
) -> Result<(axum::http::StatusCode, Json<TokenResponse>), ApiError> {
    let user = service::authenticate(&state, client, &body.email, body.password).await?;
    let issued = service::issue_user_token(&state, user.user_id).await?;
    Ok((
        axum::http::StatusCode::CREATED,
        Json(TokenResponse {
            token: tokens::reveal(&issued.token),
            token_type: "Bearer",
            expires_at: issued.expires_at,
        }),
    ))
}
