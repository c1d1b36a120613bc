//! The credentials page's provider parts: which payment provider new payments use in this
//! environment (chosen among those with credentials), a connection check per stored
//! credential, and the Stripe form with Stripe's own field names.

use leptos::prelude::*;

use super::error_text;
use crate::{
    api::{CheckConnection, ChoosePaymentProvider, PutCredentials, get_payment_provider},
    backend::{
        CredentialRow, FieldError, Stamp,
        providers::{ConnectionView, PaymentProviderView, ProviderChoiceOutcome},
    },
};

/// How the console names a provider.
fn label(provider: &str) -> String {
    match provider {
        "sandbox" => "Sandbox PSP".to_owned(),
        "stripe" => "Stripe".to_owned(),
        other => other.to_owned(),
    }
}

/// The payment provider of new payments, and the form to choose another.
#[component]
pub fn PaymentProviderPanel(environment: String, saved: RwSignal<usize>) -> impl IntoView {
    let choose = ServerAction::<ChoosePaymentProvider>::new();
    // The last choice made: a refused one changes nothing, so it reloads nothing (and leaves
    // the form as the merchant left it).
    let last_chosen =
        Memo::new(
            move |previous: Option<&Option<Stamp>>| match choose.value().get() {
                Some(Ok(ProviderChoiceOutcome::Chosen(now))) => now.updated_at,
                _ => previous.cloned().flatten(),
            },
        );
    let current = Resource::new(
        move || (saved.get(), last_chosen.get()),
        |_| get_payment_provider(),
    );
    let refused = move || match choose.value().get() {
        Some(Ok(ProviderChoiceOutcome::Refused(refused))) => Some(refused),
        _ => None,
    };
    let env = environment.clone();
    let outcome = move || match choose.value().get()? {
        Ok(ProviderChoiceOutcome::Chosen(now)) => Some(
            view! {
                <p class="ok-note" role="status" data-testid="provider-choice-result">
                    "New payments in " {env.clone()} " now use " {label(&now.provider)} "."
                </p>
            }
            .into_any(),
        ),
        // Shown beside the select.
        Ok(ProviderChoiceOutcome::Refused(r)) if r.field == "provider" => None,
        Ok(ProviderChoiceOutcome::Refused(r)) => Some(
            view! {
                <p class="error" role="alert" data-testid="provider-choice-result">
                    {format!("{}: {}", r.field, r.message)}
                </p>
            }
            .into_any(),
        ),
        Err(e) => Some(
            view! {
                <p class="error" role="alert" data-testid="provider-choice-result">
                    {error_text(&e)}
                </p>
            }
            .into_any(),
        ),
    };
    view! {
        <section class="panel" id="payment-provider">
            <h2>"Payment provider"</h2>
            <Suspense fallback=|| view! { <p class="muted">"Loading…"</p> }>
                {move || {
                    let environment = environment.clone();
                    current
                        .get()
                        .map(move |result| match result {
                            Err(e) => view! { <p class="error">{error_text(&e)}</p> }.into_any(),
                            Ok(view) => choice(view, environment, choose, refused).into_any(),
                        })
                }}
            </Suspense>
            {outcome}
        </section>
    }
}

/// The current provider and the choice form.
fn choice(
    current: PaymentProviderView,
    environment: String,
    choose: ServerAction<ChoosePaymentProvider>,
    refused: impl Fn() -> Option<FieldError> + Copy + Send + Sync + 'static,
) -> impl IntoView {
    let how = match (&current.updated_by, &current.updated_at) {
        _ if !current.chosen => " (the server's default: none chosen yet)".to_owned(),
        (Some(by), Some(at)) => format!(" (chosen by {by} at {})", at.text),
        _ => " (chosen)".to_owned(),
    };
    let form = if current.choices.is_empty() {
        view! {
            <p class="muted">"Store a payment provider's credentials below to choose one."</p>
        }
        .into_any()
    } else {
        let options = current
            .choices
            .iter()
            .map(|p| {
                let selected = *p == current.provider;
                view! { <option value=p.clone() selected=selected>{label(p)}</option> }
            })
            .collect_view();
        view! {
            <ActionForm action=choose attr:class="form" attr:id="choose-provider">
                <label>
                    "Provider for new payments"
                    <select name="provider">{options}</select>
                    {move || {
                        refused()
                            .filter(|r| r.field == "provider")
                            .map(|r| {
                                view! {
                                    <span class="error" role="alert" data-testid="error-provider">
                                        {r.message}
                                    </span>
                                }
                            })
                    }}
                </label>
                <p class="muted">
                    "Only providers whose credentials are stored in this environment are offered. Payments already made keep their provider."
                </p>
                <button type="submit" class="btn primary">"Use for new payments"</button>
            </ActionForm>
        }
        .into_any()
    };
    view! {
        <p>
            "New payments in " {environment} " use "
            <strong data-testid="current-provider">{label(&current.provider)}</strong> {how}
        </p>
        {form}
    }
}

/// One line about the account a provider named.
fn account_line(c: ConnectionView) -> String {
    let mut line = c.account_id;
    if let Some(name) = c.name {
        line.push_str(&format!(" — {name}"));
    }
    if let Some(country) = c.country {
        line.push_str(&format!(", {country}"));
    }
    if let Some(currency) = c.default_currency {
        line.push_str(&format!(", {currency}"));
    }
    line.push_str(if c.charges_enabled {
        ", payments enabled"
    } else {
        ", payments not enabled yet"
    });
    line
}

/// The "Check connection" button of a credential row, and what the provider said.
#[component]
pub fn ConnectionButton(provider: String) -> impl IntoView {
    let check = ServerAction::<CheckConnection>::new();
    let result = move || {
        check.value().get().map(|result| match result {
            Ok(c) => view! {
                <p class="ok-note" role="status" data-testid="connection-result">
                    "Connected: " {account_line(c)}
                </p>
            }
            .into_any(),
            Err(e) => view! {
                <p class="error" role="alert" data-testid="connection-result">{error_text(&e)}</p>
            }
            .into_any(),
        })
    };
    view! {
        <ActionForm action=check attr:class="inline-form">
            <input type="hidden" name="provider" value=provider.clone()/>
            <button
                type="submit"
                class="btn"
                aria-label=format!("Check connection ({provider})")
                disabled=move || check.pending().get()
            >
                "Check connection"
            </button>
        </ActionForm>
        {move || check.pending().get().then(|| view! { <span class="muted">"Checking…"</span> })}
        {result}
    }
}

/// The connection cell of a credential row.
pub fn connection_cell(row: &CredentialRow) -> impl IntoView + use<> {
    view! {
        <td>
            <ConnectionButton provider=row.provider.clone()/>
        </td>
    }
}

/// Stripe's credentials, each field named as Stripe's dashboard names it.
#[component]
pub fn StripeForm(environment: String, save: ServerAction<PutCredentials>) -> impl IntoView {
    let key = if environment == "production" {
        "sk_live_…"
    } else {
        "sk_test_…"
    };
    view! {
        <section class="panel">
            <h2>"Stripe"</h2>
            <p class="muted">
                "From the Stripe dashboard's Developers page: the " {environment.clone()}
                " secret key, and the signing secret of the webhook endpoint that sends to this server."
            </p>
            <ActionForm action=save attr:class="form" attr:id="put-stripe-credentials">
                <input type="hidden" name="provider" value="stripe"/>
                <label>
                    {format!("Secret key ({key})")}
                    <input
                        type="password"
                        name="primary_secret"
                        required
                        autocomplete="off"
                        placeholder=key
                    />
                </label>
                <label>
                    "Webhook signing secret (whsec_…)"
                    <input
                        type="password"
                        name="webhook_secret"
                        required
                        autocomplete="off"
                        placeholder="whsec_…"
                    />
                </label>
                <label>
                    "Connect account id (acct_…, optional)"
                    <input type="text" name="setting" autocomplete="off" placeholder="acct_…"/>
                    <span class="muted">
                        "Only when this store's payments go to a connected account of your platform. "
                        "Another account is refused while payments made through the stored one still hold funds or await Stripe's outcome."
                    </span>
                </label>
                <label class="checkbox">
                    <input type="checkbox" name="multicapture" value="true"/>
                    "Multicapture (capture an authorization in several parts)"
                    <span class="muted">
                        "Only when Stripe has enabled multicapture on this account (IC+ pricing). "
                        "Saving without it turns it off for new payments."
                    </span>
                </label>
                <button type="submit" class="btn primary">"Save Stripe credentials"</button>
            </ActionForm>
        </section>
    }
}
