//! Settings → Team: the console's side of `/api/v1/admin/members` (the same services and the
//! same `policy::list_members` / `policy::manage_members`). A member asked about is found
//! before the role is checked, as the API does, so another store's member is "no such member"
//! for everyone.

use app::backend::{
    BoxFuture, ConsoleResult, FieldError,
    team::{AddMemberOutcome, AddedMember, MemberRow, TeamBackend, TeamView},
};
use axum::http::request::Parts;

use super::{ServerBackend, context::require_signed, first_page, shown, time::Times};
use crate::{
    auth::policy,
    identity::{Actor, Role},
    state::AppState,
    tenancy::{
        self, Member,
        members::{self, Change},
    },
    types::{Email, StoreId, UserId},
};

fn refused(field: &str, message: impl Into<String>) -> FieldError {
    FieldError {
        field: field.to_owned(),
        message: message.into(),
    }
}

fn missing() -> String {
    "No such member of this store.".to_owned()
}

/// The last-owner refusal (the API's 409 `last_owner`) in words that say what to do instead.
fn last_owner(email: &str) -> String {
    format!(
        "{email} is the store's only owner, and a store keeps at least one: make another member \
         an owner first."
    )
}

/// `policy::manage_members`'s refusal, in the page's words.
fn owners_only(actor: Actor) -> ConsoleResult<()> {
    policy::manage_members(actor).map_err(|_| {
        "Only the store's owners add members, change roles and remove members.".to_owned()
    })
}

/// A role as the forms send it.
fn role(raw: &str) -> Option<Role> {
    Role::parse(raw.trim())
}

/// The store, the user as the policy sees them, and their user id.
async fn acting(state: &AppState, req: &Parts) -> ConsoleResult<(StoreId, Actor, UserId)> {
    let signed = require_signed(state, req).await?;
    let (store, actor) = signed.actor(state).await?;
    Ok((store, actor, signed.console.user_id))
}

/// The member `raw_id` names in `store`, then the owners' rule: found first, so another
/// store's member (or an id that is none) is not found whatever the user's role.
async fn managed(
    state: &AppState,
    store: StoreId,
    actor: Actor,
    raw_id: &str,
) -> ConsoleResult<Member> {
    let user_id: UserId = raw_id.trim().parse().map_err(|_| missing())?;
    let member = match members::find(state, store, user_id).await {
        Ok(member) => member,
        Err(tenancy::Error::NotFound) => return Err(missing()),
        Err(other) => return Err(shown(other)),
    };
    owners_only(actor)?;
    Ok(member)
}

async fn page(state: &AppState, req: &Parts) -> ConsoleResult<TeamView> {
    let signed = require_signed(state, req).await?;
    let times = Times::of(state, &signed);
    let (store, actor) = signed.actor(state).await?;
    policy::list_members(actor).map_err(shown)?;
    let listed = members::list(state, store, first_page())
        .await
        .map_err(shown)?;
    let store_name = tenancy::stores::find(state, store)
        .await
        .map_err(shown)?
        .name;
    let you = signed.console.user_id;
    Ok(TeamView {
        store_name,
        members: listed
            .data
            .into_iter()
            .map(|m| MemberRow {
                user_id: m.user_id.to_string(),
                email: m.email,
                role: m.role.as_str().to_owned(),
                since: times.stamp(m.created_at),
                is_you: m.user_id == you,
            })
            .collect(),
        more: listed.has_more,
        can_manage: policy::manage_members(actor).is_ok(),
    })
}

async fn add(
    state: &AppState,
    req: &Parts,
    email: String,
    raw_role: String,
) -> ConsoleResult<AddMemberOutcome> {
    let (store, actor, _) = acting(state, req).await?;
    owners_only(actor)?;
    let email = Email::parse(&email);
    let role = role(&raw_role);
    let (email, role) = match (email, role) {
        (Ok(email), Some(role)) => (email, role),
        (email, role) => {
            let mut errors = Vec::new();
            if let Err(invalid) = email {
                errors.push(refused(
                    invalid.field,
                    "enter an email address, such as ada@example.com",
                ));
            }
            if role.is_none() {
                errors.push(refused("role", "choose owner or staff"));
            }
            return Ok(AddMemberOutcome::Refused(errors));
        }
    };
    match members::add(state, store, &email, role).await {
        Ok(added) => Ok(AddMemberOutcome::Added(AddedMember {
            email: added.email,
            role: added.role.as_str().to_owned(),
            one_time_password: added.generated_password,
        })),
        Err(tenancy::Error::Conflict(_)) => Ok(AddMemberOutcome::Refused(vec![refused(
            "email",
            format!("{email} is already a member of this store"),
        )])),
        Err(tenancy::Error::Invalid(invalid)) => Ok(AddMemberOutcome::Refused(vec![refused(
            invalid.field,
            invalid.message,
        )])),
        Err(other) => Err(shown(other)),
    }
}

async fn change_role(
    state: &AppState,
    req: &Parts,
    raw_id: String,
    raw_role: String,
    confirmed: bool,
) -> ConsoleResult<String> {
    let (store, actor, you) = acting(state, req).await?;
    let member = managed(state, store, actor, &raw_id).await?;
    let role = role(&raw_role).ok_or_else(|| "Choose owner or staff.".to_owned())?;
    let email = member.email.clone();
    if member.role == role {
        return Ok(format!("{email} is already {}.", role.as_str()));
    }
    let yourself = member.user_id == you;
    // An owner who makes themselves staff can no longer undo it: they say so first.
    if yourself && role == Role::Staff && !confirmed {
        // The only owner hears the rule that stops them rather than a request to confirm
        // (`apply` below keeps the rule either way).
        let listed = members::list(state, store, first_page())
            .await
            .map_err(shown)?;
        let other_owner = listed
            .data
            .iter()
            .any(|m| m.role == Role::Owner && m.user_id != you);
        if !other_owner && !listed.has_more {
            return Err(last_owner(&email));
        }
        return Err(
            "You are about to make yourself staff: you could no longer manage the team or \
             undo it. Tick the confirmation beside your role to go ahead."
                .to_owned(),
        );
    }
    match members::apply(state, store, member.user_id, Change::Role(role)).await {
        Ok(_) if yourself => Ok(
            "You are staff now: the store's other owners manage the team from here on.".to_owned(),
        ),
        Ok(_) => Ok(format!("{email} is {} now.", role.as_str())),
        Err(tenancy::Error::LastOwner) => Err(last_owner(&email)),
        Err(tenancy::Error::NotFound) => Err(missing()),
        Err(other) => Err(shown(other)),
    }
}

async fn remove(state: &AppState, req: &Parts, raw_id: String) -> ConsoleResult<String> {
    let (store, actor, you) = acting(state, req).await?;
    let member = managed(state, store, actor, &raw_id).await?;
    match members::apply(state, store, member.user_id, Change::Remove).await {
        Ok(_) if member.user_id == you => {
            Ok("You left the store: it is no longer among the stores you can open.".to_owned())
        }
        Ok(_) => Ok(format!(
            "Removed {}: they keep their Cassa account but can no longer open this store.",
            member.email
        )),
        Err(tenancy::Error::LastOwner) => Err(last_owner(&member.email)),
        Err(tenancy::Error::NotFound) => Err(missing()),
        Err(other) => Err(shown(other)),
    }
}

impl TeamBackend for ServerBackend {
    fn team_page<'a>(&'a self, req: &'a Parts) -> BoxFuture<'a, ConsoleResult<TeamView>> {
        Box::pin(page(&self.state, req))
    }

    fn add_member<'a>(
        &'a self,
        req: &'a Parts,
        email: String,
        role: String,
    ) -> BoxFuture<'a, ConsoleResult<AddMemberOutcome>> {
        Box::pin(add(&self.state, req, email, role))
    }

    fn change_member_role<'a>(
        &'a self,
        req: &'a Parts,
        user_id: String,
        role: String,
        confirmed: bool,
    ) -> BoxFuture<'a, ConsoleResult<String>> {
        Box::pin(change_role(&self.state, req, user_id, role, confirmed))
    }

    fn remove_member<'a>(
        &'a self,
        req: &'a Parts,
        user_id: String,
    ) -> BoxFuture<'a, ConsoleResult<String>> {
        Box::pin(remove(&self.state, req, user_id))
    }
}
