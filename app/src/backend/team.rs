//! Settings → Team: the store's console members as the console lists them, and what an owner's
//! add, role change and removal answer. Plain data plus, on the server, the part of the backend
//! that answers it.

use serde::{Deserialize, Serialize};

#[cfg(feature = "ssr")]
use super::{BoxFuture, ConsoleResult};
use super::{FieldError, Stamp};

/// One member of the store.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MemberRow {
    /// Their user id.
    pub user_id: String,
    /// Their email (console login).
    pub email: String,
    /// `owner` or `staff`.
    pub role: String,
    /// When they joined the store.
    pub since: Stamp,
    /// Whether this is the signed-in user.
    pub is_you: bool,
}

/// The Team page.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TeamView {
    /// The store's name.
    pub store_name: String,
    /// Its members, by user id (at most a page of them).
    pub members: Vec<MemberRow>,
    /// Whether there are more members than listed.
    pub more: bool,
    /// Whether the user may add, re-role and remove members (the API's policy: owners).
    pub can_manage: bool,
}

/// A member just added.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AddedMember {
    /// Their email as stored (trimmed, lower-case).
    pub email: String,
    /// `owner` or `staff`.
    pub role: String,
    /// The generated password of a new account, shown this once; `None` for someone who
    /// already had an account (they keep their own password).
    pub one_time_password: Option<String>,
}

/// The outcome of the add form: refused fields are an answer for the form (shown beside each),
/// not a failure of the request.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum AddMemberOutcome {
    /// Added.
    Added(AddedMember),
    /// Fields refused (`email`, `role`), each with why.
    Refused(Vec<FieldError>),
}

/// The server's side of the Team page; part of [`super::ConsoleBackend`].
#[cfg(feature = "ssr")]
pub trait TeamBackend: Send + Sync {
    /// The current store's members.
    fn team_page<'a>(
        &'a self,
        req: &'a http::request::Parts,
    ) -> BoxFuture<'a, ConsoleResult<TeamView>>;

    /// Adds the person with `email` as `role` (`owner` or `staff`), as the API's
    /// `POST /api/v1/admin/members` does.
    fn add_member<'a>(
        &'a self,
        req: &'a http::request::Parts,
        email: String,
        role: String,
    ) -> BoxFuture<'a, ConsoleResult<AddMemberOutcome>>;

    /// Gives a member `role`. `confirmed`: the user ticked that they mean to give up managing
    /// the team, which demoting themselves needs.
    fn change_member_role<'a>(
        &'a self,
        req: &'a http::request::Parts,
        user_id: String,
        role: String,
        confirmed: bool,
    ) -> BoxFuture<'a, ConsoleResult<String>>;

    /// Removes a member from the store (their account stays).
    fn remove_member<'a>(
        &'a self,
        req: &'a http::request::Parts,
        user_id: String,
    ) -> BoxFuture<'a, ConsoleResult<String>>;
}
