//! Settings → Team's server functions: the members, and an owner's add, role change and
//! removal (the backend applies the API's policy and services).

use leptos::prelude::*;

#[cfg(feature = "ssr")]
use super::server;
use crate::backend::team::{AddMemberOutcome, TeamView};

/// The current store's members, and whether the user may manage them.
#[server(prefix = "/console/fn", endpoint = "team_page")]
pub async fn get_team_page() -> Result<TeamView, ServerFnError> {
    let parts = server::parts()?;
    server::fail(server::backend()?.team_page(&parts).await)
}

/// Adds a person to the store (owners); refused fields come back to be shown beside them, and
/// a new account's one-time password comes back this once.
#[server(prefix = "/console/fn", endpoint = "add_member")]
pub async fn add_team_member(
    email: String,
    role: String,
) -> Result<AddMemberOutcome, ServerFnError> {
    let parts = server::parts()?;
    server::fail(server::backend()?.add_member(&parts, email, role).await)
}

/// Gives a member another role (owners). `confirm` is the checkbox an owner ticks to make
/// themselves staff.
#[server(prefix = "/console/fn", endpoint = "change_member_role")]
pub async fn change_member_role(
    user_id: String,
    role: String,
    confirm: Option<String>,
) -> Result<String, ServerFnError> {
    let parts = server::parts()?;
    server::fail(
        server::backend()?
            .change_member_role(&parts, user_id, role, confirm.is_some())
            .await,
    )
}

/// Removes a member (owners), from the confirmation step (`confirm`), then back to the list.
#[server(prefix = "/console/fn", endpoint = "remove_member")]
pub async fn remove_team_member(
    user_id: String,
    confirm: Option<String>,
) -> Result<String, ServerFnError> {
    if confirm.is_none() {
        return Err(ServerFnError::new(
            "Confirm the removal: choose Remove beside the member, then Remove member.",
        ));
    }
    let parts = server::parts()?;
    let done = server::fail(server::backend()?.remove_member(&parts, user_id).await)?;
    leptos_axum::redirect("/settings/team");
    Ok(done)
}
