//! Signing in and out, the password change, and switching the store and environment shown.

use app::backend::{ConsoleResult, StoreChoice, Viewer};
use axum::http::request::Parts;
use secrecy::SecretString;

use super::{
    context::{require_session, require_signed, session_of, signed},
    refused_sign_in, shown, told,
};
use crate::{
    auth::{principal::Role, service},
    http::extract::ClientIp,
    sessions::{self, ConsoleSession},
    state::AppState,
    tenancy::access::OpenableStore,
    types::Environment,
};

fn choice(store: &OpenableStore) -> StoreChoice {
    StoreChoice {
        id: store.id.to_string(),
        name: store.name.clone(),
        // A label only: actions take the role from `membership_role`, which also lets a
        // platform admin act as an owner where they are not a member.
        role: store.membership.unwrap_or(Role::Owner).as_str().to_owned(),
    }
}

/// The signed-in user and what the console shows them.
pub async fn viewer(state: &AppState, req: &Parts) -> ConsoleResult<Option<Viewer>> {
    Ok(signed(state, req).await?.map(|s| Viewer {
        store: s.current_store().map(choice),
        stores: s.stores.iter().map(choice).collect(),
        environment: s.environment().as_str().to_owned(),
        email: s.email,
        is_platform_admin: s.is_platform_admin,
        must_change_password: s.must_change_password,
    }))
}

/// Checks the password (with the API's throttling) and starts a session on a fresh id.
pub async fn sign_in(
    state: &AppState,
    req: &Parts,
    email: String,
    password: String,
) -> ConsoleResult<bool> {
    let session = session_of(req)?;
    let client = ClientIp::of(req, &state.config.trusted_proxies).0;
    let user = service::authenticate(state, client, &email, SecretString::from(password))
        .await
        .map_err(refused_sign_in)?;
    let console = ConsoleSession {
        user_id: user.user_id,
        signed_in_at: chrono::Utc::now(),
        store_id: None,
        environment: Environment::Sandbox,
        credential_stamp: user.credential_stamp,
    };
    sessions::sign_in(&session, &console).await.map_err(told)?;
    tracing::info!(user_id = %user.user_id, "console sign-in");
    Ok(user.must_change_password)
}

/// Changes the signed-in user's password through the API's service.
pub async fn change_password(
    state: &AppState,
    req: &Parts,
    current_password: String,
    new_password: String,
) -> ConsoleResult<()> {
    let signed = require_session(state, req).await?;
    let client = ClientIp::of(req, &state.config.trusted_proxies).0;
    service::change_password(
        state,
        client,
        signed.console.user_id,
        SecretString::from(current_password),
        SecretString::from(new_password),
    )
    .await
    .map_err(shown)?;
    // The change deleted the stored sessions; flushing keeps the layer from writing this one
    // back at the end of the request.
    sessions::sign_out(&signed.session).await.map_err(told)
}

/// Ends the session server-side.
pub async fn sign_out(req: &Parts) -> ConsoleResult<()> {
    let session = session_of(req)?;
    sessions::sign_out(&session).await.map_err(told)
}

/// Switches the store (one the user may open) and/or the environment the console shows.
pub async fn select(
    state: &AppState,
    req: &Parts,
    store_id: Option<String>,
    environment: Option<String>,
) -> ConsoleResult<()> {
    let signed = require_signed(state, req).await?;
    let mut console = signed.console.clone();
    if let Some(store_id) = store_id.filter(|s| !s.is_empty()) {
        let store = signed
            .stores
            .iter()
            .find(|s| s.id.to_string() == store_id)
            .ok_or_else(|| "No such store.".to_owned())?;
        console.store_id = Some(store.id);
    }
    if let Some(environment) = environment.filter(|e| !e.is_empty()) {
        console.environment = environment.parse::<Environment>().map_err(told)?;
    }
    sessions::update(&signed.session, &console)
        .await
        .map_err(told)
}
