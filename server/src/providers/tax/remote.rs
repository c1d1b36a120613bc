//! `taxapi`: a tax service with the shape of AvaTax's and TaxJar's APIs, reached over HTTP
//! with a store's own account (`api_key`, `base_url`). Quotes are uncommitted calculations;
//! commits, refunds and voids are filed as documents keyed by Cassa's tax transaction id.
//!
//! - `POST {base_url}/v1/quotes`: the lines, destination, nexus and exemption certificates;
//!   answers every line's net, tax, rate and jurisdiction parts.
//! - `POST {base_url}/v1/transactions` with `Idempotency-Key: <code>`: a [`TaxDocument`].
//!
//! Errors are `{"error": {"code", "message"}}`; a 4xx other than 401/403/404/405/408/409/410/429 is the
//! engine refusing the content, anything else is the engine being unavailable.

mod wire;

use std::time::Duration;

use http::HeaderMap;
use secrecy::{ExposeSecret, SecretString};
use serde_json::Value;

use super::{
    TaxConfig, TaxDocument, TaxEngineAdapter, TaxEngineError, TaxProvider, TaxQuote, TaxRequest,
};
use crate::{
    egress::{self, Egress},
    providers::{
        account::{
            AccountAdapter, BoxFuture, ClientContext, ClientError, Credentials, mask, only_fields,
            string_field,
        },
        signature::SignatureError,
    },
    types::InvalidValue,
};

/// Registry name.
pub const NAME: &str = "taxapi";

/// The `taxapi` tax service.
#[derive(Debug, Default, Clone, Copy)]
pub struct TaxApiAdapter;

impl AccountAdapter for TaxApiAdapter {
    fn name(&self) -> &'static str {
        NAME
    }

    fn parse_credentials(
        &self,
        body: &Value,
        egress: &Egress,
    ) -> Result<Credentials, InvalidValue> {
        only_fields(body, &["api_key", "base_url"])?;
        let base_url = string_field(body, "base_url", true)?;
        if let Some(url) = &base_url {
            let ok = url::Url::parse(url).is_ok_and(|u| matches!(u.scheme(), "http" | "https"));
            if !ok {
                return Err(InvalidValue::new("base_url", "must be an http(s) URL"));
            }
            egress
                .check_provider_url(url)
                .map_err(|e| InvalidValue::new("base_url", e.to_string()))?;
        }
        Ok(Credentials::new(NAME)
            .with("api_key", string_field(body, "api_key", true)?)
            .with("base_url", base_url))
    }

    fn masked(&self, credentials: &Credentials) -> Value {
        serde_json::json!({
            "api_key": mask(credentials.get("api_key")),
            "base_url": credentials.setting("base_url"),
        })
    }

    fn verify_webhook(
        &self,
        _credentials: &Credentials,
        _headers: &HeaderMap,
        _body: &[u8],
        _now: i64,
    ) -> Result<(), SignatureError> {
        // The service sends no events: anything claiming to come from it is refused.
        Err(SignatureError::MissingHeaders)
    }

    fn event_id(&self, _headers: &HeaderMap, _payload: &Value) -> Option<String> {
        None
    }
}

impl TaxEngineAdapter for TaxApiAdapter {
    fn client(
        &self,
        ctx: &ClientContext,
        credentials: &Credentials,
    ) -> Result<Box<dyn TaxProvider>, ClientError> {
        let api_key = credentials
            .get("api_key")
            .cloned()
            .ok_or(ClientError::Incomplete("api_key"))?;
        let base_url = credentials
            .setting("base_url")
            .ok_or(ClientError::Incomplete("base_url"))?;
        // Checked again at use: the allow-list may have changed since the credentials were set.
        ctx.egress.check_provider_url(base_url)?;
        Ok(Box::new(TaxApiClient {
            http: ctx.egress.clone(),
            base_url: base_url.trim_end_matches('/').to_owned(),
            api_key,
            timeout: ctx.timeout,
        }))
    }
}

/// A store's client of the service.
struct TaxApiClient {
    http: Egress,
    base_url: String,
    api_key: SecretString,
    timeout: Duration,
}

impl TaxApiClient {
    async fn post(
        &self,
        path: &str,
        body: &impl serde::Serialize,
        idempotency_key: Option<&str>,
    ) -> Result<Vec<u8>, TaxEngineError> {
        let request = self
            .http
            .request(
                reqwest::Method::POST,
                &format!("{}/v1{path}", self.base_url),
            )
            .map_err(|e| {
                TaxEngineError::Unavailable(format!("refused by the egress rules: {e}"))
            })?;
        let mut request = request
            .timeout(self.timeout)
            .bearer_auth(self.api_key.expose_secret())
            .json(body);
        if let Some(key) = idempotency_key {
            request = request.header("idempotency-key", key);
        }
        let response = request.send().await.map_err(|e| {
            TaxEngineError::Unavailable(if e.is_timeout() {
                "the tax service did not answer in time".to_owned()
            } else {
                format!("the tax service could not be reached: {e}")
            })
        })?;
        let status = response.status();
        let bytes = egress::read_capped_bytes(response)
            .await
            .map_err(|e| TaxEngineError::Unavailable(e.to_string()))?;
        if status.is_success() {
            return Ok(bytes);
        }
        let body: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        let code = body["error"]["code"]
            .as_str()
            .unwrap_or("unknown")
            .to_owned();
        let message: String = body["error"]["message"]
            .as_str()
            .unwrap_or_default()
            .chars()
            .take(300)
            .collect();
        match status.as_u16() {
            // 409: the same key is still being handled (our own retry racing a slow first try);
            // 404/405/410: a base URL that reaches no such API (configuration, not content).
            401 | 403 | 404 | 405 | 408 | 409 | 410 | 429 => Err(TaxEngineError::Unavailable(
                format!("the tax service answered {status}: {code}"),
            )),
            400..=499 => Err(TaxEngineError::Rejected { code, message }),
            _ => Err(TaxEngineError::Unavailable(format!(
                "the tax service answered {status}: {code}"
            ))),
        }
    }
}

impl TaxProvider for TaxApiClient {
    fn name(&self) -> &'static str {
        NAME
    }

    fn quote_tax<'a>(
        &'a self,
        _config: &'a TaxConfig,
        request: &'a TaxRequest<'a>,
    ) -> BoxFuture<'a, Result<TaxQuote, TaxEngineError>> {
        Box::pin(async move {
            let bytes = self
                .post("/quotes", &wire::QuoteBody::of(request), None)
                .await?;
            let answer: wire::QuoteAnswer = serde_json::from_slice(&bytes).map_err(|e| {
                TaxEngineError::Unavailable(format!("the tax service's answer is unreadable: {e}"))
            })?;
            answer.into_quote(request)
        })
    }

    fn record<'a>(
        &'a self,
        document: &'a TaxDocument,
    ) -> BoxFuture<'a, Result<(), TaxEngineError>> {
        Box::pin(async move {
            self.post("/transactions", document, Some(&document.code))
                .await
                .map(|_| ())
        })
    }
}
