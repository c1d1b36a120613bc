//! The sandbox payment provider: a simulated remote PSP reached over HTTP. Without a
//! `base_url` its client calls the PSP mounted in this server (never in production).

pub mod client;

use http::HeaderMap;
use secrecy::SecretString;
use serde_json::Value;

use super::{
    account::{
        AccountAdapter, BoxFuture, ClientContext, ClientError, ConnectionError, Credentials,
        ProviderAccount, generate_keyed, keyed_masked, only_fields, standard_event_id,
        string_field, verify_standard_webhook,
    },
    payment::{EventOperation, PaymentAdapter, PaymentProvider, ProviderEvent},
    signature::SignatureError,
};
use crate::{egress::Egress, types::InvalidValue};

/// The provider's name.
pub const NAME: &str = "sandbox";

/// The sandbox PSP as a registered payment provider.
#[derive(Debug, Default)]
pub struct SandboxAdapter;

impl AccountAdapter for SandboxAdapter {
    fn name(&self) -> &'static str {
        NAME
    }

    fn parse_credentials(
        &self,
        body: &Value,
        egress: &Egress,
    ) -> Result<Credentials, InvalidValue> {
        only_fields(body, &["api_key", "webhook_secret", "base_url"])?;
        let base_url = string_field(body, "base_url", false)?;
        if let Some(url) = &base_url {
            let ok = url::Url::parse(url).is_ok_and(|u| matches!(u.scheme(), "http" | "https"));
            if !ok {
                return Err(InvalidValue::new("base_url", "must be an http(s) URL"));
            }
            // Here, where the API and the console both pass, so both are held to the rule.
            egress
                .check_provider_url(url)
                .map_err(|e| InvalidValue::new("base_url", e.to_string()))?;
        }
        Ok(Credentials::new(NAME)
            .with("api_key", string_field(body, "api_key", true)?)
            .with(
                "webhook_secret",
                string_field(body, "webhook_secret", true)?,
            )
            .with("base_url", base_url))
    }

    fn masked(&self, credentials: &Credentials) -> Value {
        keyed_masked(credentials)
    }

    fn generate_sandbox_credentials(&self) -> Option<Credentials> {
        Some(generate_keyed(NAME, "sbx_"))
    }

    fn verify_webhook(
        &self,
        credentials: &Credentials,
        headers: &HeaderMap,
        body: &[u8],
        now: i64,
    ) -> Result<(), SignatureError> {
        verify_standard_webhook(credentials, headers, body, now)
    }

    fn event_id(&self, headers: &HeaderMap, _payload: &Value) -> Option<String> {
        standard_event_id(headers)
    }

    fn check_connection<'a>(
        &'a self,
        ctx: &'a ClientContext,
        credentials: &'a Credentials,
        correlation_id: &'a str,
    ) -> BoxFuture<'a, Result<ProviderAccount, ConnectionError>> {
        Box::pin(async move {
            let client = sandbox_client(ctx, credentials)?;
            Ok(client.account(correlation_id).await?)
        })
    }

    fn credentials_changed<'a>(
        &'a self,
        ctx: &'a ClientContext,
        credentials: &'a Credentials,
    ) -> BoxFuture<'a, ()> {
        Box::pin(async move {
            // New account or secret: tell the PSP where to send its webhooks.
            let result = async {
                let secret = credentials
                    .get("webhook_secret")
                    .ok_or(ClientError::Incomplete("webhook_secret"))?;
                let client = sandbox_client(ctx, credentials)?;
                client
                    .register_webhook_endpoint(&ctx.own_webhook_url(NAME), secret)
                    .await
                    .map_err(|e| ClientError::Build(e.to_string()))?;
                Ok::<_, ClientError>(())
            }
            .await;
            match result {
                Ok(()) | Err(ClientError::NotMounted(_)) => {}
                Err(err) => {
                    tracing::warn!(error = %err, store = %ctx.store,
                        "could not register the sandbox webhook endpoint");
                }
            }
        })
    }
}

impl PaymentAdapter for SandboxAdapter {
    fn client(
        &self,
        ctx: &ClientContext,
        credentials: &Credentials,
    ) -> Result<Box<dyn PaymentProvider>, ClientError> {
        Ok(Box::new(sandbox_client(ctx, credentials)?))
    }

    fn parse_event(&self, payload: &Value) -> ProviderEvent {
        let operation = match payload["type"].as_str().unwrap_or_default() {
            "payment.authorized" | "payment.failed" => EventOperation::Authorize,
            "payment.captured" => EventOperation::Capture,
            "payment.voided" => EventOperation::Void,
            "refund.succeeded" => EventOperation::Refund,
            _ => return ProviderEvent::Ignored,
        };
        ProviderEvent::Payment {
            operation,
            provider_payment_id: payload["data"]["payment"]["id"].as_str().map(str::to_owned),
            reference: payload["data"]["reference"].as_str().map(str::to_owned),
        }
    }
}

/// The HTTP client for a store's sandbox credentials. A stored `base_url` is checked against
/// the allow-list again here (it may predate the rule or a narrower list).
fn sandbox_client(
    ctx: &ClientContext,
    credentials: &Credentials,
) -> Result<client::SandboxClient, ClientError> {
    let api_key: SecretString = credentials
        .get("api_key")
        .cloned()
        .ok_or(ClientError::Incomplete("api_key"))?;
    let base_url = match credentials.setting("base_url") {
        Some(url) => {
            ctx.egress.check_provider_url(url)?;
            url.to_owned()
        }
        None if ctx.production => return Err(ClientError::NotMounted(NAME)),
        None => format!("{}/sandbox-psp", ctx.self_url),
    };
    client::SandboxClient::new(
        ctx.egress.clone(),
        &base_url,
        api_key,
        ctx.timeout,
        ctx.db.clone(),
        Some(ctx.store),
    )
    .map_err(|e| ClientError::Build(e.to_string()))
}

/// Whether `url` is this server's sandbox webhook URL of some store (`self_url` is how this
/// server reaches itself): the only URLs the in-process PSP delivers to.
pub fn is_own_webhook_url(self_url: &str, url: &str) -> bool {
    url.strip_prefix(self_url)
        .and_then(|rest| rest.strip_prefix("/api/v1/webhooks/sandbox/"))
        .and_then(|store| store.parse::<crate::types::StoreId>().ok())
        .is_some_and(|store| format!("{self_url}/api/v1/webhooks/{NAME}/{store}") == url)
}
