//! Who is signed in, and the store and environment the console shows them.

use axum::http::request::Parts;
use tower_sessions::Session;

use super::{LIST_LIMIT, shown, told};
use crate::{
    auth::{
        principal::{Actor, membership_role},
        service::credential_stamp,
    },
    http::problem::ApiError,
    sessions::{self, ConsoleSession},
    state::AppState,
    tenancy::access::{self, OpenableStore},
    types::{Environment, StoreId},
};
use app::backend::ConsoleResult;

/// A signed-in user with the store and environment the console is showing.
pub struct Signed {
    /// The request's session.
    pub session: Session,
    /// What the session holds.
    pub console: ConsoleSession,
    /// The user's email.
    pub email: String,
    /// Whether they administer the platform.
    pub is_platform_admin: bool,
    /// Whether they must choose a new password before anything else.
    pub must_change_password: bool,
    /// Stores they may open.
    pub stores: Vec<OpenableStore>,
}

impl Signed {
    /// The environment the console shows.
    pub fn environment(&self) -> Environment {
        self.console.environment
    }

    /// The store the console shows: the session's choice while the user may still open it,
    /// else the first one they may.
    pub fn current_store(&self) -> Option<&OpenableStore> {
        self.stores
            .iter()
            .find(|s| Some(s.id) == self.console.store_id)
            .or_else(|| self.stores.first())
    }

    /// The current store, for pages that show or change its data.
    pub fn store(&self) -> ConsoleResult<StoreId> {
        self.current_store()
            .map(|s| s.id)
            .ok_or_else(|| "Open a store first.".to_owned())
    }

    /// The current store and the user as the role policy sees them, with the role the API's
    /// own scope resolution gives them there.
    pub async fn actor(&self, state: &AppState) -> ConsoleResult<(StoreId, Actor)> {
        let store_id = self.store()?;
        let user_id = self.console.user_id;
        let role = membership_role(state, store_id, user_id, self.is_platform_admin)
            .await
            .map_err(shown)?;
        Ok((store_id, Actor::User { user_id, role }))
    }

    /// The current store, the user and the environment, once `rule` (one of the shared policy
    /// functions the API asks too) allows the user there.
    pub async fn allowed(
        &self,
        state: &AppState,
        rule: fn(Actor, Environment) -> Result<(), crate::auth::Error>,
    ) -> ConsoleResult<(StoreId, Actor, Environment)> {
        let (store, actor) = self.actor(state).await?;
        let env = self.environment();
        rule(actor, env).map_err(shown)?;
        Ok((store, actor, env))
    }
}

/// The request's session (the session layer puts it in the request's extensions).
pub fn session_of(req: &Parts) -> ConsoleResult<Session> {
    req.extensions
        .get::<Session>()
        .cloned()
        .ok_or_else(|| "sessions are not available".to_owned())
}

/// The signed-in user, or `None` (no session, an expired one, or one its account no longer
/// backs).
pub async fn signed(state: &AppState, req: &Parts) -> ConsoleResult<Option<Signed>> {
    let session = session_of(req)?;
    let Some(console) = sessions::current(&session, &state.session_policy)
        .await
        .map_err(told)?
    else {
        return Ok(None);
    };
    let account = access::account(&state.db, console.user_id)
        .await
        .map_err(shown)?;
    // A deleted user, or a password changed since this session signed in: it is over.
    let current =
        account.filter(|a| credential_stamp(&a.password_hash) == console.credential_stamp);
    let Some(account) = current else {
        sessions::sign_out(&session).await.map_err(told)?;
        return Ok(None);
    };
    let stores = access::openable_stores(
        &state.db,
        console.user_id,
        account.is_platform_admin,
        LIST_LIMIT,
    )
    .await
    .map_err(shown)?;
    Ok(Some(Signed {
        session,
        console,
        email: account.email,
        is_platform_admin: account.is_platform_admin,
        must_change_password: account.must_change_password,
        stores,
    }))
}

/// The signed-in user, even one who must change their password (for the change itself).
pub async fn require_session(state: &AppState, req: &Parts) -> ConsoleResult<Signed> {
    signed(state, req)
        .await?
        .ok_or_else(|| "Your session has ended; sign in again.".to_owned())
}

/// The signed-in user, refused while their password must be changed, as the API refuses
/// their tokens (`password_change_required`).
pub async fn require_signed(state: &AppState, req: &Parts) -> ConsoleResult<Signed> {
    let signed = require_session(state, req).await?;
    if signed.must_change_password {
        return Err(shown(ApiError::PasswordChangeRequired));
    }
    Ok(signed)
}

/// A signed-in platform administrator (the console's side of the API's `PlatformAdmin`).
pub async fn require_platform_admin(state: &AppState, req: &Parts) -> ConsoleResult<Signed> {
    let signed = require_signed(state, req).await?;
    if !signed.is_platform_admin {
        return Err(shown(ApiError::Forbidden));
    }
    Ok(signed)
}

/// The signed-in user of a console file route (a label, an export: a link, not a page).
/// Without a session the answer is a plain `401`, not the sign-in page.
pub async fn signed_for_file(
    state: &AppState,
    req: axum::extract::Request,
) -> Result<(Signed, Parts), axum::response::Response> {
    use axum::response::IntoResponse;
    let (parts, _) = req.into_parts();
    match require_signed(state, &parts).await {
        Ok(signed) => Ok((signed, parts)),
        Err(message) => Err((axum::http::StatusCode::UNAUTHORIZED, message).into_response()),
    }
}
