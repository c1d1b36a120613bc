//! A store's console members: listed by its users, added, re-roled and removed by its owners.
//!
//! A store always keeps one owner: the last one can be neither demoted nor removed. The check
//! and the change run in one write transaction that first locks the store's row, so two
//! owners demoting each other at the same moment cannot both pass it.

use super::{Error, Member, StoreUser, repo, users};
use crate::{
    identity::Role,
    pagination::{Page, PageQuery},
    state::AppState,
    types::{Email, StoreId, UserId},
};

/// One member of `store_id`; another store's member (or nobody) is not found.
pub async fn find(state: &AppState, store_id: StoreId, user_id: UserId) -> Result<Member, Error> {
    repo::members::find(&state.db, store_id, user_id)
        .await?
        .ok_or(Error::NotFound)
}

/// Members of `store_id`, by user id.
pub async fn list(
    state: &AppState,
    store_id: StoreId,
    page: PageQuery,
) -> Result<Page<Member>, Error> {
    let limit = page.limit()?;
    let members = repo::members::list(&state.db, store_id, page, i64::from(limit) + 1).await?;
    Ok(Page::from_rows(members, limit))
}

/// An owner adds the person with `email` to `store_id` as `role`. Someone new gets an account
/// with a generated password, returned once in [`StoreUser::generated_password`] and to be
/// changed at their first sign-in: an owner never chooses another person's password. Someone
/// with an account keeps their own. An existing member is a conflict.
pub async fn add(
    state: &AppState,
    store_id: StoreId,
    email: &Email,
    role: Role,
) -> Result<StoreUser, Error> {
    let added = users::add_to_store(state, store_id, email, role, None).await?;
    tracing::info!(
        %store_id,
        user_id = %added.user_id,
        role = role.as_str(),
        new_account = added.generated_password.is_some(),
        "store member added"
    );
    Ok(added)
}

/// What to do to a membership.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    /// Give the member this role.
    Role(Role),
    /// Remove the member from the store.
    Remove,
}

/// Applies `change` to `user_id`'s membership of `store_id`: the member afterwards (`None`
/// once removed). Another store's member is not found; the last owner stays
/// ([`Error::LastOwner`]).
pub async fn apply(
    state: &AppState,
    store_id: StoreId,
    user_id: UserId,
    change: Change,
) -> Result<Option<Member>, Error> {
    // An early return drops the transaction, which rolls it back.
    let mut tx = state.db.begin_write().await?;
    repo::members::lock_store(&mut tx, store_id).await?;
    let member = repo::members::find_in(&mut tx, store_id, user_id)
        .await?
        .ok_or(Error::NotFound)?;
    let stays_owner = change == Change::Role(Role::Owner);
    if member.role == Role::Owner
        && !stays_owner
        && repo::members::count_owners(&mut tx, store_id).await? <= 1
    {
        return Err(Error::LastOwner);
    }
    let after = match change {
        Change::Role(role) => {
            repo::members::set_role(&mut tx, store_id, user_id, role).await?;
            Some(Member { role, ..member })
        }
        Change::Remove => {
            repo::members::delete(&mut tx, store_id, user_id).await?;
            None
        }
    };
    tx.commit().await?;
    tracing::info!(%store_id, %user_id, ?change, "store membership changed");
    Ok(after)
}
