//! The sandbox carrier's HTTP API as a [`Carrier`]: JSON over the guarded outbound client,
//! errors classified by what the caller may do next.

use std::time::Duration;

use chrono::{DateTime, Utc};
use secrecy::{ExposeSecret, SecretString};
use serde_json::{Value, json};

use super::tracking_update;
use crate::{
    egress::{self, Egress},
    money::MinorUnits,
    providers::{
        account::BoxFuture,
        shipping::carrier::{
            Carrier, CarrierError, CarrierRate, Label, LabelFormat, LabelPage, ListedLabel,
            RateRequest,
        },
    },
    types::Currency,
};

/// Attempts per call when the failure is retryable (same key each time).
const ATTEMPTS: u32 = 2;

/// HTTP client of the sandbox carrier for one store's credentials.
pub struct SandboxCarrierClient {
    http: Egress,
    timeout: Duration,
    base_url: String,
    api_key: SecretString,
}

enum Body {
    Json(Value),
    Bytes(Vec<u8>),
}

impl SandboxCarrierClient {
    /// A client for `base_url` (e.g. `http://127.0.0.1:3000/sandbox-carrier`) with `api_key`.
    /// The caller has checked `base_url` against the allow-list; every request is checked
    /// against the address rule by `http`.
    pub fn new(http: Egress, base_url: &str, api_key: SecretString, timeout: Duration) -> Self {
        Self {
            http,
            timeout,
            base_url: base_url.trim_end_matches('/').to_owned(),
            api_key,
        }
    }

    async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<&Value>,
        idempotency_key: Option<&str>,
    ) -> Result<Body, CarrierError> {
        let mut last = CarrierError::Retryable("no attempt".into());
        for attempt in 1..=ATTEMPTS {
            let request = self
                .http
                .request(method.clone(), &format!("{}/v1{path}", self.base_url))
                // Refused before any byte is sent: nothing can have happened at the carrier.
                .map_err(|e| CarrierError::Rejected {
                    code: "egress_refused".to_owned(),
                    message: e.to_string(),
                })?;
            let mut request = request
                .timeout(self.timeout)
                .bearer_auth(self.api_key.expose_secret());
            if let Some(key) = idempotency_key {
                request = request.header("idempotency-key", key);
            }
            if let Some(body) = body {
                request = request.json(body);
            }
            let result = match request.send().await {
                Ok(response) => {
                    let status = response.status();
                    let binary = response
                        .headers()
                        .get(reqwest::header::CONTENT_TYPE)
                        .and_then(|v| v.to_str().ok())
                        .is_some_and(|ct| !ct.starts_with("application/json"));
                    match egress::read_capped_bytes(response).await {
                        Ok(bytes) => classify(status, bytes, binary),
                        // It answered but the answer cannot be read: it may have acted.
                        Err(err) => Err(CarrierError::UnknownOutcome(err.to_string())),
                    }
                }
                Err(err) if err.is_timeout() => Err(CarrierError::UnknownOutcome(
                    "the carrier did not answer in time".into(),
                )),
                Err(err) if err.is_connect() => Err(CarrierError::Unreachable(err.to_string())),
                Err(err) => Err(CarrierError::UnknownOutcome(err.to_string())),
            };
            match result {
                Err(CarrierError::Retryable(reason) | CarrierError::Unreachable(reason))
                    if attempt < ATTEMPTS =>
                {
                    tracing::warn!(path, attempt, %reason, "retrying a carrier call with the same key");
                    last = CarrierError::Retryable(reason);
                    tokio::time::sleep(Duration::from_millis(50 * u64::from(attempt))).await;
                }
                other => return other,
            }
        }
        Err(last)
    }

    async fn json(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<&Value>,
        idempotency_key: Option<&str>,
    ) -> Result<Value, CarrierError> {
        match self.call(method, path, body, idempotency_key).await? {
            Body::Json(value) => Ok(value),
            Body::Bytes(_) => Err(CarrierError::UnknownOutcome(
                "the carrier answered with something other than JSON".into(),
            )),
        }
    }

    /// Tells the carrier where to send this account's events and with which secret to sign
    /// them.
    pub async fn register_webhook_endpoint(
        &self,
        url: &str,
        secret: &SecretString,
    ) -> Result<(), CarrierError> {
        use sha2::{Digest, Sha256};
        let body = json!({"url": url, "secret": secret.expose_secret()});
        // The same registration under the same key: a retry replays instead of replacing.
        let digest = Sha256::digest(body.to_string().as_bytes());
        let key: String = digest.iter().take(16).map(|b| format!("{b:02x}")).collect();
        self.json(
            reqwest::Method::POST,
            "/webhook_endpoints",
            Some(&body),
            Some(&format!("register-{key}")),
        )
        .await
        .map(|_| ())
    }
}

fn classify(
    status: reqwest::StatusCode,
    bytes: Vec<u8>,
    binary: bool,
) -> Result<Body, CarrierError> {
    if status.is_success() {
        if binary {
            return Ok(Body::Bytes(bytes));
        }
        return serde_json::from_slice(&bytes)
            .map(Body::Json)
            .map_err(|e| CarrierError::UnknownOutcome(format!("unreadable answer: {e}")));
    }
    let body: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    let code = body["error"]["code"]
        .as_str()
        .unwrap_or("unknown")
        .to_owned();
    let message = body["error"]["message"]
        .as_str()
        .unwrap_or_default()
        .chars()
        .take(300)
        .collect();
    match status.as_u16() {
        // Redirects are never followed (they could point anywhere).
        300..=399 => Err(CarrierError::Rejected {
            code: "unexpected_redirect".to_owned(),
            message,
        }),
        401 | 403 | 404 | 429 => Err(CarrierError::Refused {
            status: status.as_u16(),
            code,
        }),
        // In progress under the same key: the first attempt's outcome is not known yet.
        409 if code == "idempotency_in_progress" => Err(CarrierError::UnknownOutcome(code)),
        400..=499 => Err(CarrierError::Rejected { code, message }),
        _ => Err(CarrierError::Retryable(code)),
    }
}

fn unreadable(what: &str) -> CarrierError {
    CarrierError::UnknownOutcome(format!("the carrier's {what} could not be read"))
}

fn time(value: &Value) -> Option<DateTime<Utc>> {
    value.as_str().and_then(|t| t.parse().ok())
}

fn label(value: &Value) -> Result<Label, CarrierError> {
    let text = |field: &str| value[field].as_str().map(str::to_owned);
    let events = value["events"]
        .as_array()
        .map(|events| events.iter().filter_map(tracking_update).collect())
        .unwrap_or_default();
    // The id goes back into URL paths: only the carrier's own id alphabet is accepted.
    let id = text("id")
        .filter(|id| !id.is_empty() && id.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'))
        .ok_or_else(|| unreadable("label id"))?;
    Ok(Label {
        provider_label_id: id,
        tracking_number: text("tracking_number").ok_or_else(|| unreadable("tracking number"))?,
        service: text("service").unwrap_or_default(),
        amount: MinorUnits(
            value["amount"]
                .as_i64()
                .ok_or_else(|| unreadable("amount"))?,
        ),
        currency: value["currency"]
            .as_str()
            .and_then(|c| Currency::parse(c).ok())
            .ok_or_else(|| unreadable("currency"))?,
        voided: value["status"].as_str() == Some("voided"),
        void_deadline: time(&value["void_deadline"]).ok_or_else(|| unreadable("void deadline"))?,
        events,
    })
}

fn listed_label(value: &Value) -> Result<ListedLabel, CarrierError> {
    Ok(ListedLabel {
        provider_label_id: value["id"]
            .as_str()
            .filter(|id| !id.is_empty())
            .ok_or_else(|| unreadable("label id"))?
            .to_owned(),
        reference: value["reference"].as_str().map(str::to_owned),
        amount: MinorUnits(
            value["amount"]
                .as_i64()
                .ok_or_else(|| unreadable("amount"))?,
        ),
        currency: value["currency"]
            .as_str()
            .ok_or_else(|| unreadable("currency"))?
            .to_uppercase(),
        voided: match value["status"].as_str() {
            Some("voided") => true,
            Some("purchased") => false,
            _ => return Err(unreadable("label status")),
        },
    })
}

impl Carrier for SandboxCarrierClient {
    fn name(&self) -> &'static str {
        super::NAME
    }

    fn rates<'a>(
        &'a self,
        request: &'a RateRequest,
    ) -> BoxFuture<'a, Result<Vec<CarrierRate>, CarrierError>> {
        Box::pin(async move {
            let address = |a: &crate::address::Address| {
                json!({"name": a.name, "line1": a.line1, "line2": a.line2, "city": a.city,
                    "postal_code": a.postal_code, "subdivision": a.subdivision,
                    "country": a.country})
            };
            let body = json!({
                "from": address(&request.from),
                "to": address(&request.to),
                "packages": request.packages,
                "currency": request.currency.code(),
            });
            let answer = self
                .json(reqwest::Method::POST, "/rates", Some(&body), None)
                .await?;
            let rates = answer["rates"]
                .as_array()
                .ok_or_else(|| unreadable("rates"))?;
            rates
                .iter()
                .map(|rate| {
                    Ok(CarrierRate {
                        provider_rate_id: rate["id"]
                            .as_str()
                            .ok_or_else(|| unreadable("rate id"))?
                            .to_owned(),
                        service: rate["service"]
                            .as_str()
                            .ok_or_else(|| unreadable("service"))?
                            .to_owned(),
                        amount: MinorUnits(
                            rate["amount"]
                                .as_i64()
                                .ok_or_else(|| unreadable("amount"))?,
                        ),
                        currency: rate["currency"]
                            .as_str()
                            .and_then(|c| Currency::parse(c).ok())
                            .ok_or_else(|| unreadable("currency"))?,
                        estimated_days: rate["estimated_days"]
                            .as_i64()
                            .and_then(|d| i32::try_from(d).ok())
                            .unwrap_or(0),
                        expires_at: time(&rate["expires_at"])
                            .ok_or_else(|| unreadable("expiry"))?,
                    })
                })
                .collect()
        })
    }

    fn buy_label<'a>(
        &'a self,
        provider_rate_id: &'a str,
        reference: &'a str,
        idempotency_key: &'a str,
    ) -> BoxFuture<'a, Result<Label, CarrierError>> {
        Box::pin(async move {
            let body = json!({"rate_id": provider_rate_id, "reference": reference});
            let answer = self
                .json(
                    reqwest::Method::POST,
                    "/labels",
                    Some(&body),
                    Some(idempotency_key),
                )
                .await?;
            label(&answer)
        })
    }

    fn void_label<'a>(
        &'a self,
        provider_label_id: &'a str,
        idempotency_key: &'a str,
    ) -> BoxFuture<'a, Result<Label, CarrierError>> {
        Box::pin(async move {
            let path = format!("/labels/{provider_label_id}/void");
            let answer = self
                .json(
                    reqwest::Method::POST,
                    &path,
                    Some(&json!({})),
                    Some(idempotency_key),
                )
                .await?;
            label(&answer)
        })
    }

    fn label_document<'a>(
        &'a self,
        provider_label_id: &'a str,
        format: LabelFormat,
    ) -> BoxFuture<'a, Result<Vec<u8>, CarrierError>> {
        Box::pin(async move {
            let path = format!(
                "/labels/{provider_label_id}/document?format={}",
                format.as_str()
            );
            match self.call(reqwest::Method::GET, &path, None, None).await? {
                Body::Bytes(bytes) => Ok(bytes),
                Body::Json(_) => Err(unreadable("label document")),
            }
        })
    }

    fn get_label<'a>(
        &'a self,
        provider_label_id: &'a str,
    ) -> BoxFuture<'a, Result<Option<ListedLabel>, CarrierError>> {
        Box::pin(async move {
            // Only the carrier's own id alphabet goes into the path.
            if provider_label_id.is_empty()
                || !provider_label_id
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_')
            {
                return Ok(None);
            }
            let path = format!("/labels/{provider_label_id}");
            match self.json(reqwest::Method::GET, &path, None, None).await {
                Ok(answer) => listed_label(&answer).map(Some),
                Err(CarrierError::Refused { status: 404, .. }) => Ok(None),
                Err(err) => Err(err),
            }
        })
    }

    fn list_labels<'a>(
        &'a self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        after: Option<&'a str>,
    ) -> BoxFuture<'a, Result<Option<LabelPage>, CarrierError>> {
        Box::pin(async move {
            // Built before the first await: the serializer is not `Send`.
            let path = {
                let mut query = url::form_urlencoded::Serializer::new(String::new());
                query
                    .append_pair("limit", "100")
                    .append_pair("created_from", &from.to_rfc3339())
                    .append_pair("created_to", &to.to_rfc3339());
                if let Some(after) = after {
                    query.append_pair("starting_after", after);
                }
                format!("/labels?{}", query.finish())
            };
            let answer = self.json(reqwest::Method::GET, &path, None, None).await?;
            let labels = answer["data"]
                .as_array()
                .ok_or_else(|| unreadable("label list"))?
                .iter()
                .map(listed_label)
                .collect::<Result<Vec<_>, _>>()?;
            Ok(Some(LabelPage {
                labels,
                has_more: answer["has_more"].as_bool().unwrap_or(false),
            }))
        })
    }
}
