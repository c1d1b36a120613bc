//! The credentials page's provider panel: the payment provider of new payments (the same
//! choice as `PUT /api/v1/admin/payment-provider`) and the connection check (the same as
//! `GET /api/v1/admin/credentials/{provider}/connection`), under the same role policy.

use app::backend::{
    BoxFuture, ConsoleResult, FieldError,
    providers::{ConnectionView, PaymentProviderView, ProviderBackend, ProviderChoiceOutcome},
};
use axum::http::request::Parts;

use super::{ServerBackend, context::require_signed, shown, time::Times};
use crate::{
    auth::policy,
    credentials::{self, CredentialError, ProviderChoice, ProviderChoiceInput},
    http::{middleware::RequestId, problem::ApiError},
    state::AppState,
    types::{Environment, StoreId},
};

/// The view of a choice, with what the store may choose here.
async fn view(
    state: &AppState,
    store: StoreId,
    env: Environment,
    choice: ProviderChoice,
    times: Times,
) -> ConsoleResult<PaymentProviderView> {
    let stored = credentials::list(state, store, env).await.map_err(shown)?;
    let choices = stored
        .into_iter()
        .map(|c| c.provider)
        .filter(|p| state.payment_providers.get(p).is_some())
        .collect();
    Ok(PaymentProviderView {
        provider: choice.provider,
        chosen: choice.chosen,
        updated_by: choice.updated_by,
        updated_at: choice.updated_at.map(|t| times.stamp(t)),
        choices,
    })
}

async fn payment_provider(state: &AppState, req: &Parts) -> ConsoleResult<PaymentProviderView> {
    let signed = require_signed(state, req).await?;
    let (store, env) = (signed.store()?, signed.environment());
    let choice = credentials::payment_provider(state, store, env)
        .await
        .map_err(shown)?;
    view(state, store, env, choice, Times::of(state, &signed)).await
}

async fn choose(
    state: &AppState,
    req: &Parts,
    provider: String,
) -> ConsoleResult<ProviderChoiceOutcome> {
    let signed = require_signed(state, req).await?;
    let (store, actor) = signed.actor(state).await?;
    let env = signed.environment();
    policy::manage_credentials(actor, env, env).map_err(shown)?;
    let input = ProviderChoiceInput { provider };
    match credentials::choose_payment_provider(state, store, env, &input, &actor.audit_name()).await
    {
        Ok(choice) => Ok(ProviderChoiceOutcome::Chosen(
            view(state, store, env, choice, Times::of(state, &signed)).await?,
        )),
        Err(CredentialError::Invalid(invalid)) => Ok(ProviderChoiceOutcome::Refused(FieldError {
            field: invalid.field.to_owned(),
            message: invalid.message,
        })),
        Err(other) => Err(shown(other)),
    }
}

async fn check(state: &AppState, req: &Parts, provider: String) -> ConsoleResult<ConnectionView> {
    let signed = require_signed(state, req).await?;
    let (store, _, env) = signed.allowed(state, policy::check_credentials).await?;
    let request_id = req
        .extensions
        .get::<RequestId>()
        .map(RequestId::as_str)
        .unwrap_or_default();
    let checked = credentials::check_connection(state, store, &provider, env, request_id)
        .await
        .map_err(|err| match err {
            CredentialError::NotFound => {
                format!("No {provider} credentials are stored for this store in {env}.")
            }
            // The provider's refusal or absence is the merchant's news, not our failure.
            other => {
                let err = ApiError::from(other);
                let problem = err.to_problem();
                if problem.code.starts_with("provider_") {
                    problem.detail
                } else {
                    shown(err)
                }
            }
        })?;
    Ok(ConnectionView {
        provider: checked.provider,
        environment: checked.environment.as_str().to_owned(),
        account_id: checked.account.id,
        name: checked.account.name,
        country: checked.account.country,
        default_currency: checked.account.default_currency,
        charges_enabled: checked.account.charges_enabled,
        checked_at: Times::of(state, &signed).stamp(checked.checked_at),
    })
}

impl ProviderBackend for ServerBackend {
    fn payment_provider<'a>(
        &'a self,
        req: &'a Parts,
    ) -> BoxFuture<'a, ConsoleResult<PaymentProviderView>> {
        Box::pin(payment_provider(&self.state, req))
    }

    fn choose_payment_provider<'a>(
        &'a self,
        req: &'a Parts,
        provider: String,
    ) -> BoxFuture<'a, ConsoleResult<ProviderChoiceOutcome>> {
        Box::pin(choose(&self.state, req, provider))
    }

    fn check_connection<'a>(
        &'a self,
        req: &'a Parts,
        provider: String,
    ) -> BoxFuture<'a, ConsoleResult<ConnectionView>> {
        Box::pin(check(&self.state, req, provider))
    }
}
