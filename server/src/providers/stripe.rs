//! Stripe as far as it is built: a store can hold Stripe credentials and Stripe's signed
//! webhooks are verified and stored. Payments through Stripe are the Stripe adapter's issue;
//! until then its client refuses and its events are kept without effect.

use http::HeaderMap;
use serde_json::{Value, json};

use super::{
    account::{
        AccountAdapter, ClientContext, ClientError, Credentials, mask, only_fields, string_field,
    },
    payment::{PaymentAdapter, PaymentProvider, ProviderEvent},
    signature::{self, SignatureError},
};
use crate::{egress::Egress, types::InvalidValue};

/// The provider's name.
pub const NAME: &str = "stripe";

/// Stripe's registration.
#[derive(Debug, Default)]
pub struct StripeAdapter;

impl AccountAdapter for StripeAdapter {
    fn name(&self) -> &'static str {
        NAME
    }

    fn parse_credentials(
        &self,
        body: &Value,
        _egress: &Egress,
    ) -> Result<Credentials, InvalidValue> {
        only_fields(body, &["secret_key", "webhook_secret", "account_id"])?;
        Ok(Credentials::new(NAME)
            .with("secret_key", string_field(body, "secret_key", true)?)
            .with(
                "webhook_secret",
                string_field(body, "webhook_secret", true)?,
            )
            .with("account_id", string_field(body, "account_id", false)?))
    }

    fn masked(&self, credentials: &Credentials) -> Value {
        json!({
            "secret_key": mask(credentials.get("secret_key")),
            "webhook_secret": mask(credentials.get("webhook_secret")),
            "account_id": credentials.setting("account_id"),
        })
    }

    fn verify_webhook(
        &self,
        credentials: &Credentials,
        headers: &HeaderMap,
        body: &[u8],
        now: i64,
    ) -> Result<(), SignatureError> {
        let secret = credentials
            .setting("webhook_secret")
            .ok_or(SignatureError::BadSecret)?;
        let header = headers
            .get("stripe-signature")
            .and_then(|v| v.to_str().ok());
        signature::verify_stripe(secret, header, body, now)
    }

    fn event_id(&self, _headers: &HeaderMap, payload: &Value) -> Option<String> {
        payload["id"].as_str().map(str::to_owned)
    }
}

impl PaymentAdapter for StripeAdapter {
    fn client(
        &self,
        _ctx: &ClientContext,
        _credentials: &Credentials,
    ) -> Result<Box<dyn PaymentProvider>, ClientError> {
        Err(ClientError::Unsupported(NAME))
    }

    fn parse_event(&self, _payload: &Value) -> ProviderEvent {
        ProviderEvent::Ignored
    }
}
