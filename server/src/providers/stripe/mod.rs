//! Stripe: a store's Stripe credentials (secret key, webhook secret, Connect account), Stripe's
//! signed webhooks, and its PaymentIntents API as a payment provider (`client.rs`).

mod account;
mod answer;
mod client;
mod dispute;
mod lookup;

use std::sync::Arc;

use http::HeaderMap;
use serde_json::{Value, json};

use super::{
    account::{
        AccountAdapter, ClientContext, ClientError, Credentials, mask, only_fields, string_field,
    },
    payment::{EventOperation, PaymentAdapter, PaymentProvider, ProviderEvent},
    signature::{self, SignatureError},
};
use crate::{egress::Egress, types::InvalidValue};

pub use client::StripeClient;

/// The provider's name.
pub const NAME: &str = "stripe";

/// The API version every request pins (`Stripe-Version`): answers keep the shape the client
/// reads whatever the account's default version.
pub const STRIPE_VERSION: &str = "2024-06-20";

/// Currencies Stripe writes with other decimals than ISO 4217 gives them: ISK and UGX in
/// two-decimal units (whole units only), as Stripe documents for its "special cases".
pub const MINOR_UNITS: &[(&str, u16)] = &[("ISK", 2), ("UGX", 2)];

/// Whether the store's account captures authorizations more than once where cards allow.
fn multicapture(credentials: &Credentials) -> bool {
    credentials.setting("multicapture") == Some("true")
}

/// Stripe's registration, with the API it calls.
#[derive(Debug, Clone)]
pub struct StripeAdapter {
    api_base: Arc<str>,
}

impl StripeAdapter {
    /// Stripe at `api_base` (`https://api.stripe.com`; a path names a Stripe-shaped server
    /// mounted in this process, which only tests do).
    pub fn new(api_base: &str) -> Self {
        Self {
            api_base: api_base.trim_end_matches('/').into(),
        }
    }

    /// The API's address for a client: a path is resolved against this server's own address,
    /// and refused in production.
    fn base_url(&self, ctx: &ClientContext) -> Result<String, ClientError> {
        if self.api_base.starts_with('/') {
            if ctx.production {
                return Err(ClientError::NotMounted(NAME));
            }
            return Ok(format!("{}{}", ctx.self_url, self.api_base));
        }
        Ok(self.api_base.to_string())
    }
}

impl Default for StripeAdapter {
    fn default() -> Self {
        Self::new(crate::config::defaults::STRIPE_API_BASE)
    }
}

impl AccountAdapter for StripeAdapter {
    fn name(&self) -> &'static str {
        NAME
    }

    fn parse_credentials(
        &self,
        body: &Value,
        _egress: &Egress,
    ) -> Result<Credentials, InvalidValue> {
        only_fields(
            body,
            &["secret_key", "webhook_secret", "account_id", "multicapture"],
        )?;
        // An account setting (multicapture is an IC+ feature Stripe enables per account), kept
        // as text with the keys, as stored credentials are parsed again when written.
        let multicapture = match body.get("multicapture") {
            None | Some(Value::Null) | Some(Value::Bool(false)) => None,
            Some(Value::String(s)) if s == "false" => None,
            Some(Value::Bool(true)) => Some("true".to_owned()),
            Some(Value::String(s)) if s == "true" => Some("true".to_owned()),
            Some(_) => return Err(InvalidValue::new("multicapture", "true or false")),
        };
        let account = string_field(body, "account_id", false)?;
        // Sent as the `Stripe-Account` header: Stripe's shape only.
        if account.as_deref().is_some_and(|a| {
            !a.starts_with("acct_")
                || a.len() > 64
                || !a.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
        }) {
            return Err(InvalidValue::new(
                "account_id",
                "a Stripe account id such as acct_1Abc",
            ));
        }
        Ok(Credentials::new(NAME)
            .with("secret_key", string_field(body, "secret_key", true)?)
            .with(
                "webhook_secret",
                string_field(body, "webhook_secret", true)?,
            )
            .with("account_id", account)
            .with("multicapture", multicapture))
    }

    fn masked(&self, credentials: &Credentials) -> Value {
        json!({
            "secret_key": mask(credentials.get("secret_key")),
            "webhook_secret": mask(credentials.get("webhook_secret")),
            "account_id": credentials.setting("account_id"),
            "multicapture": multicapture(credentials),
        })
    }

    /// Test keys (`sk_test_`, `rk_test_`) for sandbox, live keys for production: a live key
    /// stored as sandbox's would charge real cards from "test" payments.
    fn check_environment(
        &self,
        credentials: &Credentials,
        environment: crate::types::Environment,
    ) -> Result<(), InvalidValue> {
        let mode = match environment {
            crate::types::Environment::Sandbox => "test",
            crate::types::Environment::Production => "live",
        };
        // Only the prefix is looked at; the key is never copied out of its wrapper.
        let matches = credentials.get("secret_key").is_some_and(|k| {
            let key = secrecy::ExposeSecret::expose_secret(k);
            key.starts_with(&format!("sk_{mode}_")) || key.starts_with(&format!("rk_{mode}_"))
        });
        if matches {
            Ok(())
        } else {
            Err(InvalidValue::new(
                "secret_key",
                format!("a {mode} key (sk_{mode}_… or rk_{mode}_…) for this environment"),
            ))
        }
    }

    fn is_about_account(&self, credentials: &Credentials, payload: &Value) -> bool {
        // Connect events name their account; the platform's own carry none.
        payload["account"].as_str() == credentials.setting("account_id")
    }

    /// A Connect account's payments exist only in it (`Stripe-Account`); the platform's own
    /// (no `account_id`) only outside any.
    fn account_settings(&self) -> &'static [&'static str] {
        &["account_id"]
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

    fn check_connection<'a>(
        &'a self,
        ctx: &'a ClientContext,
        credentials: &'a Credentials,
        correlation_id: &'a str,
    ) -> super::account::BoxFuture<
        'a,
        Result<super::account::ProviderAccount, super::account::ConnectionError>,
    > {
        Box::pin(account::check(self, ctx, credentials, correlation_id))
    }
}

impl PaymentAdapter for StripeAdapter {
    fn client(
        &self,
        ctx: &ClientContext,
        credentials: &Credentials,
    ) -> Result<Box<dyn PaymentProvider>, ClientError> {
        let secret_key = credentials
            .get("secret_key")
            .cloned()
            .ok_or(ClientError::Incomplete("secret_key"))?;
        Ok(Box::new(
            StripeClient::new(
                ctx.egress.clone(),
                &self.base_url(ctx)?,
                secret_key,
                credentials.setting("account_id").map(str::to_owned),
                ctx.timeout,
                ctx.db.clone(),
                ctx.store,
            )
            .with_multicapture(multicapture(credentials)),
        ))
    }

    /// Without multicapture a PaymentIntent is captured once; the rest is released then. An
    /// authorization made with multicapture says so itself.
    fn captures_once(&self) -> bool {
        true
    }

    /// Stripe's events name the PaymentIntent (and, for refunds, the refund with our
    /// reference); the ledger moves only on what `get_transaction` (or, for a refund, the
    /// intent's list of refunds) then confirms, with the store's own account: an event of
    /// another (Connect) account finds nothing there.
    /// Dispute events carry the Dispute object, recorded as it is (`dispute.rs`).
    fn parse_event(&self, payload: &Value) -> ProviderEvent {
        let object = &payload["data"]["object"];
        let text = |v: &Value| v.as_str().map(str::to_owned);
        let kind = payload["type"].as_str().unwrap_or_default();
        if dispute::is_dispute_event(kind) {
            return dispute::parse(object);
        }
        let (operation, provider_payment_id, reference) = match kind {
            // Authorized (after 3-D Secure, say) or declined: our authorization.
            "payment_intent.amount_capturable_updated" | "payment_intent.payment_failed" => (
                EventOperation::Authorize,
                text(&object["id"]),
                text(&object["metadata"]["cassa_reference"]),
            ),
            "payment_intent.succeeded" => (EventOperation::Capture, text(&object["id"]), None),
            "payment_intent.canceled" => (EventOperation::Void, text(&object["id"]), None),
            // A charge's refunds, or one refund (with the reference our refund gave it).
            "charge.refunded" => (
                EventOperation::Refund,
                text(&object["payment_intent"]),
                None,
            ),
            // Also a refund that failed after it had succeeded (`status: failed`): the ledger
            // takes it back once Stripe's own list of the intent's refunds says so.
            "charge.refund.updated" | "refund.updated" | "refund.failed" => (
                EventOperation::Refund,
                text(&object["payment_intent"]),
                text(&object["metadata"]["cassa_reference"]),
            ),
            _ => return ProviderEvent::Ignored,
        };
        ProviderEvent::Payment {
            operation,
            provider_payment_id,
            reference,
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn event(kind: &str, object: Value) -> ProviderEvent {
        StripeAdapter::default().parse_event(&json!({"id": "evt_1", "type": kind,
            "data": {"object": object}}))
    }

    #[test]
    fn events_name_the_operation_and_the_payment() {
        let intent = json!({"object": "payment_intent", "id": "pi_1",
            "metadata": {"cassa_reference": "01a2"}});
        assert_eq!(
            event("payment_intent.amount_capturable_updated", intent.clone()),
            ProviderEvent::Payment {
                operation: EventOperation::Authorize,
                provider_payment_id: Some("pi_1".into()),
                reference: Some("01a2".into()),
            }
        );
        assert_eq!(
            event("payment_intent.succeeded", intent.clone()),
            ProviderEvent::Payment {
                operation: EventOperation::Capture,
                provider_payment_id: Some("pi_1".into()),
                reference: None,
            }
        );
        assert!(matches!(
            event("payment_intent.canceled", intent.clone()),
            ProviderEvent::Payment {
                operation: EventOperation::Void,
                ..
            }
        ));
        assert!(matches!(
            event("payment_intent.payment_failed", intent),
            ProviderEvent::Payment {
                operation: EventOperation::Authorize,
                ..
            }
        ));
        let refund = json!({"object": "refund", "id": "re_1", "payment_intent": "pi_1",
            "metadata": {"cassa_reference": "01a3"}});
        for kind in ["charge.refund.updated", "refund.updated", "refund.failed"] {
            assert_eq!(
                event(kind, refund.clone()),
                ProviderEvent::Payment {
                    operation: EventOperation::Refund,
                    provider_payment_id: Some("pi_1".into()),
                    reference: Some("01a3".into()),
                },
                "{kind}"
            );
        }
        assert!(matches!(
            event(
                "charge.refunded",
                json!({"object": "charge", "payment_intent": "pi_1"})
            ),
            ProviderEvent::Payment {
                operation: EventOperation::Refund,
                ..
            }
        ));
        assert_eq!(event("customer.created", json!({})), ProviderEvent::Ignored);
    }
}
