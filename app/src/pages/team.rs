//! Settings → Team (`/settings/team`): who can open the store in the console. Everyone reads
//! the list; owners add people (someone new gets a one-time password, shown here once), change
//! roles and remove members (after a confirmation step, `?remove=<user id>`). The server keeps
//! the last owner: demoting or removing them is refused with what to do instead, and an owner
//! making themselves staff ticks that they mean it.

use leptos::prelude::*;
use leptos_router::hooks::use_query_map;

use super::{error_text, outcomes, settings::SettingsNav, when, with_viewer};
use crate::{
    api::{AddTeamMember, ChangeMemberRole, RemoveTeamMember, get_team_page},
    backend::{
        FieldError, Viewer,
        team::{AddMemberOutcome, AddedMember, MemberRow, TeamView},
    },
};

/// The page's address: the confirmation step and Cancel come back to it.
const PAGE: &str = "/settings/team";

/// Every action of the page, and how many people the add form added.
#[derive(Clone, Copy)]
struct Actions {
    add: ServerAction<AddTeamMember>,
    change: ServerAction<ChangeMemberRole>,
    remove: ServerAction<RemoveTeamMember>,
    added: RwSignal<usize>,
}

impl Actions {
    fn new() -> Self {
        let actions = Self {
            add: ServerAction::new(),
            change: ServerAction::new(),
            remove: ServerAction::new(),
            added: RwSignal::new(0),
        };
        // A refused add keeps what was typed, so only an added member reloads the list (which
        // renders the form afresh).
        Effect::new(move |_| {
            if let Some(Ok(AddMemberOutcome::Added(_))) = actions.add.value().get() {
                actions.added.update(|n| *n += 1);
            }
        });
        actions
    }

    fn versions(&self) -> usize {
        self.added.get() + self.change.version().get() + self.remove.version().get()
    }
}

/// Team.
#[component]
pub fn Team() -> impl IntoView {
    with_viewer(|viewer: Viewer| match viewer.store.clone() {
        None => view! {
            <section class="panel">
                <h1>"Settings → Team"</h1>
                <p class="muted">"Open a store first."</p>
            </section>
        }
        .into_any(),
        Some(_) => view! { <TeamPanel/> }.into_any(),
    })
}

#[component]
fn TeamPanel() -> impl IntoView {
    let actions = Actions::new();
    let team = Resource::new(move || actions.versions(), |_| get_team_page());
    // Only the latest change's or removal's answer: an older one would contradict it.
    let latest = RwSignal::new(None);
    for value in [actions.change.value(), actions.remove.value()] {
        Effect::new(move |_| {
            if let Some(answer) = value.get() {
                latest.set(Some(answer));
            }
        });
    }
    let outcome = outcomes("team-result", move || vec![latest.get()]);
    view! {
        <section class="panel" id="team">
            <SettingsNav current="team"/>
            <h1>"Settings → Team"</h1>
            <p class="muted">
                "The people who can open this store in the console. Owners manage the team, API keys "
                "and production; staff run the day-to-day in sandbox and read production."
            </p>
            {outcome}
            <Suspense fallback=|| view! { <p class="muted">"Loading…"</p> }>
                {move || {
                    team.get()
                        .map(|result| match result {
                            Err(e) => view! { <p class="error" role="alert">{error_text(&e)}</p> }.into_any(),
                            Ok(team) => view! { <Members team=team actions=actions/> }.into_any(),
                        })
                }}
            </Suspense>
        </section>
        <Suspense>
            {move || {
                team.get()
                    .and_then(Result::ok)
                    .filter(|t| t.can_manage)
                    .map(|_| view! { <AddForm actions=actions/> })
            }}
        </Suspense>
    }
}

fn member_row(m: MemberRow, can_manage: bool, actions: Actions) -> impl IntoView {
    let you = m
        .is_you
        .then(|| view! { " " <span class="badge ok" data-testid="you">"you"</span> });
    let role = if can_manage {
        let (is_owner, is_staff) = (m.role == "owner", m.role == "staff");
        let user_id = m.user_id.clone();
        let label = format!("Role of {}", m.email);
        // An owner making themselves staff says so first: afterwards they could not undo it.
        let confirm = (m.is_you && is_owner).then(|| {
            view! {
                <label class="check">
                    <input type="checkbox" name="confirm" value="yes"/>
                    " I will no longer manage the team"
                </label>
            }
        });
        view! {
            <ActionForm action=actions.change attr:class="inline">
                <input type="hidden" name="user_id" value=user_id/>
                <select name="role" aria-label=label>
                    <option value="owner" selected=is_owner>"owner"</option>
                    <option value="staff" selected=is_staff>"staff"</option>
                </select>
                {confirm}
                <button type="submit" class="btn small">"Change role"</button>
            </ActionForm>
        }
        .into_any()
    } else {
        view! { <span data-testid="member-role">{m.role.clone()}</span> }.into_any()
    };
    let remove = can_manage.then(|| {
        let href = format!("{PAGE}?remove={}", m.user_id);
        let label = format!("Remove {}", m.email);
        view! { <a class="btn small danger" href=href aria-label=label>"Remove"</a> }
    });
    view! {
        <tr data-user-id=m.user_id.clone() data-email=m.email.clone()>
            <td data-testid="member-email">{m.email.clone()} {you}</td>
            <td>{role}</td>
            <td>{when(m.since.clone())}</td>
            {can_manage.then(|| view! { <td>{remove}</td> })}
        </tr>
    }
}

/// The confirmation step of a removal: what it means, and the button that does it.
fn confirm_removal(m: &MemberRow, store_name: &str, actions: Actions) -> impl IntoView + use<> {
    let button = NodeRef::<leptos::html::Button>::new();
    // Reached by a link: the decision is where the keyboard lands.
    Effect::new(move |_| {
        if let Some(button) = button.get() {
            let _ = button.focus();
        }
    });
    let consequence = if m.is_you {
        format!(
            "You will no longer be able to open {store_name}; only its owners could add you again."
        )
    } else {
        format!(
            "{} keeps their Cassa account but can no longer open {store_name}.",
            m.email
        )
    };
    let title = format!("Remove {}?", m.email);
    let user_id = m.user_id.clone();
    view! {
        <div class="notice bad" id="remove-member" role="group" aria-labelledby="remove-member-title">
            <h2 id="remove-member-title">{title}</h2>
            <p>{consequence}</p>
            <ActionForm action=actions.remove attr:class="inline">
                <input type="hidden" name="user_id" value=user_id/>
                <input type="hidden" name="confirm" value="yes"/>
                <button type="submit" class="btn small danger" node_ref=button>"Remove member"</button>
                <a class="btn small" href=PAGE>"Cancel"</a>
            </ActionForm>
        </div>
    }
}

#[component]
fn Members(team: TeamView, actions: Actions) -> impl IntoView {
    let query = use_query_map();
    let can_manage = team.can_manage;
    let removal = {
        let members = team.members.clone();
        let store_name = team.store_name.clone();
        move || {
            let id = query.get().get("remove")?;
            let member = members.iter().find(|m| m.user_id == id)?;
            can_manage.then(|| confirm_removal(member, &store_name, actions))
        }
    };
    let read_only = (!can_manage).then(|| {
        view! {
            <p class="muted" id="team-read-only">
                "Read-only: the store's owners add members, change roles and remove members."
            </p>
        }
    });
    let list = if team.members.is_empty() {
        view! {
            <p class="muted" id="no-members">
                "Nobody is a member yet: add the store's first owner below."
            </p>
        }
        .into_any()
    } else {
        let rows = team
            .members
            .iter()
            .cloned()
            .map(|m| member_row(m, can_manage, actions))
            .collect_view();
        view! {
            <div class="table-wrap">
                <table class="table" id="members">
                    <thead>
                        <tr>
                            <th scope="col">"Email"</th>
                            <th scope="col">"Role"</th>
                            <th scope="col">"Member since"</th>
                            {can_manage.then(|| view! { <th scope="col">"Actions"</th> })}
                        </tr>
                    </thead>
                    <tbody>{rows}</tbody>
                </table>
            </div>
        }
        .into_any()
    };
    let more = team
        .more
        .then(|| view! { <p class="muted">"Showing the first 100 members."</p> });
    view! {
        {read_only}
        {removal}
        {list}
        {more}
    }
}

/// A refusal shown beside the field it is about.
fn beside(refused: &[FieldError], field: &'static str) -> Option<impl IntoView + use<>> {
    refused.iter().find(|r| r.field == field).map(|r| {
        view! {
            <span class="error" role="alert" data-testid=format!("add-error-{field}")>
                {r.message.clone()}
            </span>
        }
    })
}

fn refusals(outcome: Option<Result<AddMemberOutcome, ServerFnError>>) -> Vec<FieldError> {
    match outcome {
        Some(Ok(AddMemberOutcome::Refused(refused))) => refused,
        _ => Vec::new(),
    }
}

/// Puts `text` on the clipboard and says how it went in `copied`.
fn copy_to_clipboard(text: &str, copied: RwSignal<Option<bool>>) {
    #[cfg(feature = "hydrate")]
    {
        use leptos::web_sys::{
            js_sys::{Function, Reflect},
            wasm_bindgen::{JsCast, JsValue, closure::Closure},
        };
        // Through `Reflect`: the web-sys features for the Clipboard API are not compiled in,
        // and this is the console's only use of it.
        let get = |target: &JsValue, name: &str| {
            Reflect::get(target, &JsValue::from_str(name))
                .ok()
                .filter(|v| !v.is_undefined() && !v.is_null())
        };
        let window: JsValue = window().into();
        let clipboard = get(&window, "navigator").and_then(|n| get(&n, "clipboard"));
        let written = clipboard.and_then(|clipboard| {
            let write = get(&clipboard, "writeText")?.dyn_into::<Function>().ok()?;
            let promise = write.call1(&clipboard, &JsValue::from_str(text)).ok()?;
            let then = get(&promise, "then")?.dyn_into::<Function>().ok()?;
            let done = Closure::once_into_js(move |_: JsValue| copied.set(Some(true)));
            let failed = Closure::once_into_js(move |_: JsValue| copied.set(Some(false)));
            then.call2(&promise, &done, &failed).ok()
        });
        if written.is_none() {
            copied.set(Some(false));
        }
    }
    #[cfg(not(feature = "hydrate"))]
    {
        let _ = text;
        copied.set(Some(false));
    }
}

/// The add form's answer: the new member, with a new account's one-time password shown this
/// once beside a copy button.
fn added(m: AddedMember) -> impl IntoView {
    let password = match m.one_time_password {
        Some(password) => {
            let copied = RwSignal::new(None::<bool>);
            let text = password.clone();
            let copy = move |_| copy_to_clipboard(&text, copied);
            view! {
                <p>
                    "Their one-time password, shown only this once. Give it to them privately; "
                    "they choose their own password when they first sign in."
                </p>
                <code data-testid="one-time-password" id="one-time-password">{password}</code>
                <p class="inline">
                    <button type="button" class="btn small" on:click=copy aria-describedby="one-time-password">
                        "Copy password"
                    </button>
                    <span role="status" class="muted small" data-testid="copy-status">
                        {move || match copied.get() {
                            None => "",
                            Some(true) => "Copied.",
                            Some(false) => "Could not copy: select the password and copy it by hand.",
                        }}
                    </span>
                </p>
            }
            .into_any()
        }
        None => view! {
            <p class="muted">
                "They already have a Cassa account and sign in with their own password."
            </p>
        }
        .into_any(),
    };
    view! {
        <div class="reveal" data-testid="member-added">
            <p role="status">"Added " <strong>{m.email}</strong> " as " {m.role} "."</p>
            {password}
        </div>
    }
}

#[component]
fn AddForm(actions: Actions) -> impl IntoView {
    let refused = move || refusals(actions.add.value().get());
    let outcome = move || {
        actions.add.value().get().map(|result| match result {
            Ok(AddMemberOutcome::Added(m)) => added(m).into_any(),
            Ok(AddMemberOutcome::Refused(_)) => view! {
                <p class="error" role="alert" data-testid="add-result">
                    "Not added: check the fields marked below."
                </p>
            }
            .into_any(),
            Err(e) => view! { <p class="error" role="alert" data-testid="add-result">{error_text(&e)}</p> }
                .into_any(),
        })
    };
    // Added: the form empties for the next person; refused: it keeps what was typed.
    let form = NodeRef::<leptos::html::Form>::new();
    Effect::new(move |_| {
        if let Some(Ok(AddMemberOutcome::Added(_))) = actions.add.value().get()
            && let Some(form) = form.get()
        {
            form.reset();
        }
    });
    view! {
        <section class="panel">
            <h2>"Add a member"</h2>
            <p class="muted">
                "Someone new gets a Cassa account with a one-time password, shown here once. "
                "Someone who already has an account keeps their own password."
            </p>
            {outcome}
            <ActionForm action=actions.add node_ref=form attr:class="form" attr:id="add-member">
                <label>
                    "Email "
                    <input type="email" name="email" required maxlength="254" autocomplete="off"/>
                    {move || beside(&refused(), "email")}
                </label>
                <label>
                    "Role "
                    <select name="role">
                        <option value="staff" selected>"staff: day-to-day in sandbox, reads production"</option>
                        <option value="owner">"owner: everything, including the team"</option>
                    </select>
                    {move || beside(&refused(), "role")}
                </label>
                <div>
                    // Disabled while the request is out: a second click would answer "already a
                    // member" and replace the one-time password the first answer showed.
                    <button type="submit" class="btn primary" disabled=move || actions.add.pending().get()>
                        "Add member"
                    </button>
                </div>
            </ActionForm>
        </section>
    }
}
