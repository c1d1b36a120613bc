//! The payment provider interface: typed requests and results, and errors classified by what
//! the caller may do next (a decline is final, a retryable error may be retried with the same
//! idempotency key, an unknown outcome must be resolved with `get_transaction`).

use std::{collections::BTreeMap, sync::Arc, time::Duration};

use http::HeaderMap;
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::signature::SignatureError;
use crate::{
    db::Db,
    egress::{Egress, EgressError},
    money::MinorUnits,
    types::{Environment, InvalidValue, StoreId},
};

/// A boxed, sendable future (keeps the trait object-safe).
pub type BoxFuture<'a, T> = std::pin::Pin<Box<dyn std::future::Future<Output = T> + Send + 'a>>;

/// A provider-side transaction as the provider reports it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProviderTransaction {
    /// The provider's id.
    pub id: String,
    /// `pending`, `authorized`, `captured`, `voided` or `failed`.
    pub status: String,
    /// Authorized amount.
    pub amount: MinorUnits,
    /// Captured so far.
    pub captured: MinorUnits,
    /// Refunded so far.
    pub refunded: MinorUnits,
}

/// How a provider call failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProviderError {
    /// The provider refused (card declined, insufficient funds): final.
    #[error("declined: {code}")]
    Declined {
        /// Provider's reason code.
        code: String,
    },
    /// The request was refused for its content or the object's state: final for this request.
    #[error("rejected: {code}")]
    Rejected {
        /// Provider's reason code.
        code: String,
    },
    /// The provider would not look at the request (401, 403, 404, 429): nothing happened for
    /// *this* request, but it says nothing about an earlier request with the same key.
    #[error("refused with {status}: {code}")]
    Refused {
        /// HTTP status.
        status: u16,
        /// Provider's reason code.
        code: String,
    },
    /// Nothing happened at the provider (5xx, connection refused): retry with the same key.
    #[error("retryable: {0}")]
    Retryable(String),
    /// The request may or may not have been applied (timeout): resolve, never guess.
    #[error("outcome unknown: {0}")]
    UnknownOutcome(String),
}

/// Context every call carries.
#[derive(Debug, Clone)]
pub struct CallContext {
    /// Deterministic idempotency key derived from our ids.
    pub idempotency_key: String,
    /// Request id of the API call (or job) that caused this call.
    pub correlation_id: String,
    /// Our id of the operation (the ledger transaction), echoed by the provider in its
    /// webhooks so they can be matched even when the call's answer was lost.
    pub reference: Option<String>,
    /// Where the call's audit rows wait for the transaction that records its outcome; `None`
    /// writes each row at once.
    pub audit: Option<super::audit::AuditLog>,
}

/// A payment provider's client for one store's credentials in one environment.
pub trait PaymentProvider: Send + Sync {
    /// Name recorded in the audit and ledger.
    fn name(&self) -> &'static str;
    /// Authorizes `amount` on `payment_method`.
    fn authorize<'a>(
        &'a self,
        ctx: &'a CallContext,
        amount: MinorUnits,
        currency: &'a str,
        payment_method: &'a str,
    ) -> BoxFuture<'a, Result<ProviderTransaction, ProviderError>>;
    /// Captures `amount` (all that is left when `None`).
    fn capture<'a>(
        &'a self,
        ctx: &'a CallContext,
        id: &'a str,
        amount: Option<MinorUnits>,
    ) -> BoxFuture<'a, Result<ProviderTransaction, ProviderError>>;
    /// Voids an uncaptured authorization.
    fn void<'a>(
        &'a self,
        ctx: &'a CallContext,
        id: &'a str,
    ) -> BoxFuture<'a, Result<ProviderTransaction, ProviderError>>;
    /// Refunds `amount` of what was captured.
    fn refund<'a>(
        &'a self,
        ctx: &'a CallContext,
        id: &'a str,
        amount: MinorUnits,
    ) -> BoxFuture<'a, Result<ProviderTransaction, ProviderError>>;
    /// The provider's current truth about a transaction.
    fn get_transaction<'a>(
        &'a self,
        correlation_id: &'a str,
        id: &'a str,
    ) -> BoxFuture<'a, Result<ProviderTransaction, ProviderError>>;
}

/// A store's decrypted credentials for one provider: the provider's name and its fields, as
/// the provider's adapter defined them. Every value is held as a secret (which ones may be
/// shown is the adapter's call, in [`PaymentAdapter::masked`]); `Debug` prints no value.
/// Serialized (for sealing) as one JSON object: `{"provider": "…", "<field>": "…" | null}`.
#[derive(Clone)]
pub struct Credentials {
    provider: String,
    fields: BTreeMap<String, Option<SecretString>>,
}

impl Credentials {
    /// Empty credentials for `provider`.
    pub fn new(provider: &str) -> Self {
        Self {
            provider: provider.to_owned(),
            fields: BTreeMap::new(),
        }
    }

    /// With `field` set (`None` stores an explicit null).
    pub fn with(mut self, field: &str, value: Option<String>) -> Self {
        self.fields
            .insert(field.to_owned(), value.map(SecretString::from));
        self
    }

    /// The provider these belong to.
    pub fn provider(&self) -> &str {
        &self.provider
    }

    /// A field's value, if set.
    pub fn get(&self, field: &str) -> Option<&SecretString> {
        self.fields.get(field).and_then(Option::as_ref)
    }

    /// A non-secret setting's value (a URL, an account id), if set.
    pub fn setting(&self, field: &str) -> Option<&str> {
        self.get(field).map(ExposeSecret::expose_secret)
    }
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials")
            .field("provider", &self.provider)
            .field("fields", &self.fields.keys().collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

impl Serialize for Credentials {
    fn serialize<S: serde::Serializer>(&self, ser: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut map = ser.serialize_map(Some(self.fields.len() + 1))?;
        map.serialize_entry("provider", &self.provider)?;
        for (name, value) in &self.fields {
            map.serialize_entry(name, &value.as_ref().map(ExposeSecret::expose_secret))?;
        }
        map.end()
    }
}

impl<'de> Deserialize<'de> for Credentials {
    fn deserialize<D: serde::Deserializer<'de>>(de: D) -> Result<Self, D::Error> {
        use serde::de::Error;
        let mut object = serde_json::Map::<String, Value>::deserialize(de)?;
        let provider = match object.remove("provider") {
            Some(Value::String(p)) => p,
            _ => return Err(D::Error::custom("credentials name no provider")),
        };
        let mut fields = BTreeMap::new();
        for (name, value) in object {
            let value = match value {
                Value::String(s) => Some(SecretString::from(s)),
                Value::Null => None,
                _ => return Err(D::Error::custom("credential fields are strings or null")),
            };
            fields.insert(name, value);
        }
        Ok(Self { provider, fields })
    }
}

/// What a provider's client is built with, besides the credentials.
#[derive(Clone)]
pub struct ClientContext {
    /// The guarded client every outbound request goes through.
    pub egress: Egress,
    /// Where audit rows of provider calls are written.
    pub db: Db,
    /// The store whose credentials these are.
    pub store: StoreId,
    /// The environment of the credentials.
    pub environment: Environment,
    /// Budget of one provider call.
    pub timeout: Duration,
    /// How this server reaches itself (for a provider simulated inside it).
    pub self_url: Arc<str>,
    /// Whether the server runs in production mode (no simulated services mounted).
    pub production: bool,
}

impl ClientContext {
    /// This server's webhook URL for the store and `provider`.
    pub fn own_webhook_url(&self, provider: &str) -> String {
        format!(
            "{}/api/v1/webhooks/{provider}/{}",
            self.self_url, self.store
        )
    }
}

/// Why no client could be built for a store's credentials.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The credentials lack what the provider needs.
    #[error("the credentials are incomplete: {0}")]
    Incomplete(&'static str),
    /// A stored URL is not allowed (stored before the rule, or the allow-list changed).
    #[error("base_url refused: {0}")]
    Egress(#[from] EgressError),
    /// The provider is simulated by this server, which does not mount it in production.
    #[error("the {0} provider is not available in production; set a base_url")]
    NotMounted(&'static str),
    /// This provider takes credentials and webhooks but cannot move money (yet).
    #[error("the {0} provider cannot make payments")]
    Unsupported(&'static str),
    /// The client could not be built.
    #[error(transparent)]
    Provider(#[from] ProviderError),
}

/// The payment operation a provider event reports on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EventOperation {
    /// An authorization succeeded or failed.
    Authorize,
    /// A capture.
    Capture,
    /// A void (release of the authorization).
    Void,
    /// A refund.
    Refund,
}

/// What a verified provider event says, typed. It is a hint: the transaction it names is then
/// settled by asking the provider, never by trusting the payload.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ProviderEvent {
    /// An event about a payment operation.
    Payment {
        /// Which operation.
        operation: EventOperation,
        /// The provider's payment id.
        provider_payment_id: Option<String>,
        /// Our transaction id, when the provider echoes it.
        reference: Option<String>,
    },
    /// Informational: nothing to settle.
    Ignored,
}

/// A payment provider as the platform knows it: how its credentials look, how its client is
/// built, how its webhooks are signed and what they mean. Registered once at start-up in the
/// [`super::registry::PaymentRegistry`]; nothing in payments, webhooks or credentials names a
/// provider.
pub trait PaymentAdapter: Send + Sync {
    /// The provider's name: in URLs, credentials and the ledger.
    fn name(&self) -> &'static str;

    /// Credentials from a request body (this provider's fields only), naming the offending
    /// field. URLs are checked against the outbound rules with `egress`.
    fn parse_credentials(&self, body: &Value, egress: &Egress)
    -> Result<Credentials, InvalidValue>;

    /// Non-secret hints of stored credentials, for the API and the console.
    fn masked(&self, credentials: &Credentials) -> Value;

    /// Working test credentials every new store gets, when the provider can make them.
    fn generate_sandbox_credentials(&self) -> Option<Credentials> {
        None
    }

    /// The client for a store's credentials.
    fn client(
        &self,
        ctx: &ClientContext,
        credentials: &Credentials,
    ) -> Result<Box<dyn PaymentProvider>, ClientError>;

    /// Verifies a webhook delivery (headers and raw body, at `now` in Unix seconds) with the
    /// signing secret of `credentials`. Nothing in the body may be trusted before this passes.
    fn verify_webhook(
        &self,
        credentials: &Credentials,
        headers: &HeaderMap,
        body: &[u8],
        now: i64,
    ) -> Result<(), SignatureError>;

    /// The provider's id of a verified delivery (deduplication key).
    fn event_id(&self, headers: &HeaderMap, payload: &Value) -> Option<String>;

    /// The typed meaning of a verified event.
    fn parse_event(&self, payload: &Value) -> ProviderEvent;

    /// Called after a store's credentials for this provider were written (e.g. to register
    /// this server's webhook endpoint with the provider). Failures are the adapter's to log:
    /// payments still resolve through the resolver job.
    fn credentials_changed<'a>(
        &'a self,
        _ctx: &'a ClientContext,
        _credentials: &'a Credentials,
    ) -> BoxFuture<'a, ()> {
        Box::pin(async {})
    }
}

/// Reads a credential field from a request body: a non-empty string, or absent/null when
/// optional.
pub fn string_field(
    body: &Value,
    name: &'static str,
    required: bool,
) -> Result<Option<String>, InvalidValue> {
    match body.get(name) {
        Some(Value::String(s)) if !s.trim().is_empty() => Ok(Some(s.trim().to_owned())),
        None | Some(Value::Null) if !required => Ok(None),
        _ => Err(InvalidValue::new(name, "must be a non-empty string")),
    }
}

/// Refuses a body with fields other than `allowed`.
pub fn only_fields(body: &Value, allowed: &[&str]) -> Result<(), InvalidValue> {
    let Some(object) = body.as_object() else {
        return Err(InvalidValue::new("body", "must be a JSON object"));
    };
    if object.keys().any(|k| !allowed.contains(&k.as_str())) {
        return Err(InvalidValue::new(
            "body",
            format!("allowed fields: {}", allowed.join(", ")),
        ));
    }
    Ok(())
}

/// Four leading and four trailing characters of a long secret; nothing of a short one.
pub fn mask(secret: Option<&SecretString>) -> Value {
    let Some(secret) = secret else {
        return Value::Null;
    };
    let chars: Vec<char> = secret.expose_secret().chars().collect();
    if chars.len() < 16 {
        return Value::String("••••".to_owned());
    }
    let head: String = chars[..4].iter().collect();
    let tail: String = chars[chars.len() - 4..].iter().collect();
    Value::String(format!("{head}…{tail}"))
}
