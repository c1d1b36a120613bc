//! `POST /api/v1/auth/token` and `POST /api/v1/auth/password`.

use axum::{Json, extract::State};
use chrono::{DateTime, Utc};
use secrecy::SecretString;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};

use super::{principal::ConsoleUser, service, tokens};
use crate::{
    http::extract::ClientIp,
    http::idempotency::Secret,
    http::{
        extract::ApiJson,
        problem::{ApiError, Problem},
    },
    state::AppState,
};

/// Routes of this module.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create_token))
        .routes(routes!(change_password))
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
    /// The password was generated: until it is changed (`POST /api/v1/auth/password`), every
    /// other call answers `403 password_change_required`.
    password_change_required: bool,
}

/// Body of `POST /api/v1/auth/password`.
#[derive(Deserialize, ToSchema)]
pub struct PasswordChange {
    /// The password in use now.
    #[schema(value_type = String, format = Password)]
    current_password: SecretString,
    /// The new password, at least 12 characters, different from the current one.
    #[schema(value_type = String, format = Password)]
    new_password: SecretString,
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
) -> Result<Secret<(axum::http::StatusCode, Json<TokenResponse>)>, ApiError> {
    let user = service::authenticate(&state, client, &body.email, body.password).await?;
    let issued = service::issue_user_token(&state, user.user_id).await?;
    Ok(Secret((
        axum::http::StatusCode::CREATED,
        Json(TokenResponse {
            token: tokens::reveal(&issued.token),
            token_type: "Bearer",
            expires_at: issued.expires_at,
            password_change_required: user.must_change_password,
        }),
    )))
}

/// Changes the calling console user's password. Every console session and bearer token of the
/// user ends, this one included: sign in again with the new password.
#[utoipa::path(
    post,
    path = "/password",
    tag = "auth",
    request_body = PasswordChange,
    responses(
        (status = 204, description = "Changed; all sessions and tokens of the user ended"),
        (status = 401, description = "Wrong current password (backs off like sign-in), or no valid token", body = Problem,
            content_type = "application/problem+json"),
        (status = 422, description = "The new password is too short or unchanged", body = Problem,
            content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
pub async fn change_password(
    State(state): State<AppState>,
    ClientIp(client): ClientIp,
    user: ConsoleUser,
    ApiJson(body): ApiJson<PasswordChange>,
) -> Result<axum::http::StatusCode, ApiError> {
    service::change_password(
        &state,
        client,
        user.user_id,
        body.current_password,
        body.new_password,
    )
    .await?;
    Ok(axum::http::StatusCode::NO_CONTENT)
}
