//! The sandbox payment provider: a simulated remote PSP reached over HTTP. Without a
//! `base_url` its client calls the PSP mounted in this server (never in production).

pub mod client;

use http::HeaderMap;
use secrecy::SecretString;
use serde_json::{Value, json};

use super::{
    account::{
        AccountAdapter, BoxFuture, ClientContext, ClientError, Credentials, mask, only_fields,
        string_field,
    },
    payment::{EventOperation, PaymentAdapter, PaymentProvider, ProviderEvent},
    signature::{self, SignatureError},
};
use crate::{egress::Egress, types::InvalidValue};

/// The provider's name.
pub const NAME: &str = "sandbox";

/// The sandbox PSP as a registered payment provider.
#[derive(Debug, Default)]
pub struct SandboxAdapter;

fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

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
        json!({
            "api_key": mask(credentials.get("api_key")),
            "webhook_secret": mask(credentials.get("webhook_secret")),
            "base_url": credentials.setting("base_url"),
        })
    }

    fn generate_sandbox_credentials(&self) -> Option<Credentials> {
        use base64::{Engine, engine::general_purpose::STANDARD};
        use rand::RngCore;
        let mut key = [0u8; 24];
        let mut secret = [0u8; 32];
        rand::rngs::OsRng.fill_bytes(&mut key);
        rand::rngs::OsRng.fill_bytes(&mut secret);
        let hex: String = key.iter().map(|b| format!("{b:02x}")).collect();
        Some(
            Credentials::new(NAME)
                .with("api_key", Some(format!("sbx_{hex}")))
                .with(
                    "webhook_secret",
                    Some(format!("whsec_{}", STANDARD.encode(secret))),
                )
                .with("base_url", None),
        )
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
        signature::verify_standard(
            secret,
            header(headers, "webhook-id"),
            header(headers, "webhook-timestamp"),
            header(headers, "webhook-signature"),
            body,
            now,
        )
    }

    fn event_id(&self, headers: &HeaderMap, _payload: &Value) -> Option<String> {
        header(headers, "webhook-id").map(str::to_owned)
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
