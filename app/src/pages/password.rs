//! Password change: required after a generated password, open to every signed-in user. Works
//! without JavaScript (the form posts and the server redirects to the sign-in page).

use leptos::prelude::*;

use super::error_text;
use crate::api::ChangePassword;

/// Current and new password form.
#[component]
pub fn Password() -> impl IntoView {
    let change = ServerAction::<ChangePassword>::new();
    let error = move || {
        change
            .value()
            .get()
            .and_then(|r| r.err())
            .map(|e| view! { <p class="error" role="alert">{error_text(&e)}</p> })
    };
    view! {
        <section class="panel narrow">
            <h1>"Change password"</h1>
            <p class="muted">
                "At least 12 characters. Every session and token of your account ends: sign in again with the new password."
            </p>
            <ActionForm action=change attr:class="form" attr:id="change-password">
                <label>
                    "Current password"
                    <input
                        type="password"
                        name="current_password"
                        autocomplete="current-password"
                        required
                    />
                </label>
                <label>
                    "New password"
                    <input
                        type="password"
                        name="new_password"
                        autocomplete="new-password"
                        minlength="12"
                        required
                    />
                </label>
                <button type="submit" class="btn primary">
                    "Change password"
                </button>
            </ActionForm>
            {error}
        </section>
    }
}
