//! A provider account as the platform knows it, whatever the provider does (payments,
//! shipping labels): the credentials a store keeps for it, sealed, and the webhooks it signs.
//! Credentials and the inbound webhook pipeline work on this part only, so they never need to
//! know what kind of provider an account belongs to.

use std::{collections::BTreeMap, sync::Arc, time::Duration};

use http::HeaderMap;
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::signature::SignatureError;
use crate::{
    db::Db,
    egress::{Egress, EgressError},
    types::{Environment, InvalidValue, StoreId},
};

/// A boxed, sendable future (keeps the traits object-safe).
pub type BoxFuture<'a, T> = std::pin::Pin<Box<dyn std::future::Future<Output = T> + Send + 'a>>;

/// A provider's account side: how its credentials look and how its webhooks are signed.
pub trait AccountAdapter: Send + Sync {
    /// The provider's name: in URLs, credentials and the ledger.
    fn name(&self) -> &'static str;

    /// Credentials from a request body (this provider's fields only), naming the offending
    /// field. URLs are checked against the outbound rules with `egress`.
    fn parse_credentials(&self, body: &Value, egress: &Egress)
    -> Result<Credentials, InvalidValue>;

    /// Non-secret hints of stored credentials, for the API and the console.
    fn masked(&self, credentials: &Credentials) -> Value;

    /// Whether credentials belong in `environment` (a live key is never stored as sandbox's,
    /// nor a test key as production's), naming the offending field.
    fn check_environment(
        &self,
        _credentials: &Credentials,
        _environment: crate::types::Environment,
    ) -> Result<(), InvalidValue> {
        Ok(())
    }

    /// Working test credentials every new store gets, when the provider can make them.
    fn generate_sandbox_credentials(&self) -> Option<Credentials> {
        None
    }

    /// Verifies a webhook delivery (headers and raw body, at `now` in Unix seconds) with the
    /// signing secret of `credentials`. Nothing in the body may be trusted before this passes.
    fn verify_webhook(
        &self,
        credentials: &Credentials,
        headers: &HeaderMap,
        body: &[u8],
        now: i64,
    ) -> Result<(), SignatureError>;

    /// Whether a verified delivery is about the account `credentials` belong to. A platform
    /// account's endpoint hears about every account connected to it, signed with one secret:
    /// another account's event must not touch this store's payments.
    fn is_about_account(&self, _credentials: &Credentials, _payload: &Value) -> bool {
        true
    }

    /// The settings (non-secret fields) naming the account at the provider that credentials
    /// act for. Payments made through one account are settled, voided and released only
    /// through it, so while some are open, credentials naming another account are refused; a
    /// new key for the same account (a rotation) changes none of them. None by default: the
    /// provider has one account per key.
    fn account_settings(&self) -> &'static [&'static str] {
        &[]
    }

    /// The provider's id of a verified delivery (deduplication key).
    fn event_id(&self, headers: &HeaderMap, payload: &Value) -> Option<String>;

    /// Asks the provider who `credentials` belong to, proving they work without moving money
    /// (`correlation_id`: the request's id, for the provider's logs and our audit).
    fn check_connection<'a>(
        &'a self,
        _ctx: &'a ClientContext,
        _credentials: &'a Credentials,
        _correlation_id: &'a str,
    ) -> BoxFuture<'a, Result<ProviderAccount, ConnectionError>> {
        let name = self.name();
        Box::pin(async move { Err(ConnectionError::Unsupported(name)) })
    }

    /// Called after a store's credentials for this provider were written (e.g. to register
    /// this server's webhook endpoint with the provider). Failures are the adapter's to log.
    fn credentials_changed<'a>(
        &'a self,
        _ctx: &'a ClientContext,
        _credentials: &'a Credentials,
    ) -> BoxFuture<'a, ()> {
        Box::pin(async {})
    }
}

/// The account a provider says a store's credentials belong to (nothing secret).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct ProviderAccount {
    /// The provider's account id (`acct_…`).
    pub id: String,
    /// The business name the account shows, when it has one.
    pub name: Option<String>,
    /// ISO 3166-1 alpha-2 country of the account.
    pub country: Option<String>,
    /// ISO 4217 code of the account's default currency, upper case.
    pub default_currency: Option<String>,
    /// Whether the provider lets the account take payments now.
    pub charges_enabled: bool,
}

/// Why a connection check failed, by what the merchant can do about it.
#[derive(Debug, thiserror::Error)]
pub enum ConnectionError {
    /// The provider refused the credentials themselves (a wrong, revoked or restricted key).
    #[error("the provider refused the credentials ({status}: {code})")]
    AuthFailed {
        /// HTTP status of the refusal.
        status: u16,
        /// The provider's reason code.
        code: String,
    },
    /// The provider refused the request for another reason (e.g. an address not allowed).
    #[error("the provider refused the request: {0}")]
    Rejected(String),
    /// The provider could not be reached, failed or did not answer in time.
    #[error("the provider could not be reached: {0}")]
    Unavailable(String),
    /// No client could be built from the credentials.
    #[error(transparent)]
    Client(#[from] ClientError),
    /// The provider has no way to say who a key belongs to.
    #[error("the {0} provider cannot check a connection")]
    Unsupported(&'static str),
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
    /// The provider's client could not be built.
    #[error("the client could not be built: {0}")]
    Build(String),
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

/// Keyed accounts (the sandbox PSP's and carrier's): an API key, a Standard Webhooks secret and
/// an optional base URL. What the console shows of them.
pub fn keyed_masked(credentials: &Credentials) -> Value {
    serde_json::json!({
        "api_key": mask(credentials.get("api_key")),
        "webhook_secret": mask(credentials.get("webhook_secret")),
        "base_url": credentials.setting("base_url"),
    })
}

/// Fresh keyed-account credentials: `key_prefix` and 48 hex digits, a 32-byte `whsec_` secret.
pub fn generate_keyed(provider: &str, key_prefix: &str) -> Credentials {
    use base64::{Engine, engine::general_purpose::STANDARD};
    use rand::RngCore;
    let mut key = [0u8; 24];
    let mut secret = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut key);
    rand::rngs::OsRng.fill_bytes(&mut secret);
    let hex: String = key.iter().map(|b| format!("{b:02x}")).collect();
    Credentials::new(provider)
        .with("api_key", Some(format!("{key_prefix}{hex}")))
        .with(
            "webhook_secret",
            Some(format!("whsec_{}", STANDARD.encode(secret))),
        )
        .with("base_url", None)
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

/// Verifies a Standard Webhooks delivery with the account's `webhook_secret`.
pub fn verify_standard_webhook(
    credentials: &Credentials,
    headers: &HeaderMap,
    body: &[u8],
    now: i64,
) -> Result<(), SignatureError> {
    let secret = credentials
        .setting("webhook_secret")
        .ok_or(SignatureError::BadSecret)?;
    super::signature::verify_standard(
        secret,
        header(headers, "webhook-id"),
        header(headers, "webhook-timestamp"),
        header(headers, "webhook-signature"),
        body,
        now,
    )
}

/// A Standard Webhooks delivery's message id (the event's id for deduplication).
pub fn standard_event_id(headers: &HeaderMap) -> Option<String> {
    header(headers, "webhook-id").map(str::to_owned)
}
