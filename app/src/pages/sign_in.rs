//! Sign-in: works without JavaScript (the form posts and the server redirects).

use leptos::prelude::*;

use super::error_text;
use crate::api::SignIn as SignInAction;

/// Email and password form.
#[component]
pub fn SignIn() -> impl IntoView {
    let sign_in = ServerAction::<SignInAction>::new();
    let error = move || {
        sign_in
            .value()
            .get()
            .and_then(|r| r.err())
            .map(|e| view! { <p class="error" role="alert">{error_text(&e)}</p> })
    };
    view! {
        <section class="panel narrow">
            <h1>"Sign in"</h1>
            <ActionForm action=sign_in attr:class="form">
                <label>
                    "Email" <input type="email" name="email" autocomplete="username" required/>
                </label>
                <label>
                    "Password"
                    <input
                        type="password"
                        name="password"
                        autocomplete="current-password"
                        required
                    />
                </label>
                <button type="submit" class="btn primary">
                    "Sign in"
                </button>
            </ActionForm>
            {error}
        </section>
    }
}
