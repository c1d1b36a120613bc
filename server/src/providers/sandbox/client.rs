//! The sandbox PSP's client: the `PaymentProvider` Cassa uses, over HTTP like any remote
//! provider, with timeouts, bounded retries (every call carries its idempotency key, so a retry
//! never acts twice) and an audit row per attempt.

use std::time::{Duration, Instant};

use secrecy::{ExposeSecret, SecretString};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::{
    db::Db,
    egress::{self, Egress},
    money::MinorUnits,
    providers::audit::AuditEntry,
    providers::payment::{
        BoxFuture, CallContext, ListedPayment, PaymentPage, PaymentProvider, ProviderError,
        ProviderTransaction,
    },
    types::StoreId,
};

/// Attempts per call when the failure is retryable.
const ATTEMPTS: u32 = 2;

/// HTTP client of the sandbox PSP for one store's credentials.
pub struct SandboxClient {
    http: Egress,
    timeout: Duration,
    base_url: String,
    api_key: SecretString,
    db: Db,
    store_id: Option<StoreId>,
}

impl SandboxClient {
    /// A client for `base_url` (e.g. `http://127.0.0.1:3000/sandbox-psp`) with `api_key`,
    /// sending through `http` (the process's guarded client). The caller has checked
    /// `base_url` against the allow-list; every request is checked against the address rule.
    pub fn new(
        http: Egress,
        base_url: &str,
        api_key: SecretString,
        timeout: Duration,
        db: Db,
        store_id: Option<StoreId>,
    ) -> Result<Self, ProviderError> {
        Ok(Self {
            http,
            timeout,
            base_url: base_url.trim_end_matches('/').to_owned(),
            api_key,
            db,
            store_id,
        })
    }

    async fn call(
        &self,
        operation: &'static str,
        method: reqwest::Method,
        path: String,
        body: Option<Value>,
        ctx: Option<&CallContext>,
        correlation_id: &str,
    ) -> Result<ProviderTransaction, ProviderError> {
        let mut last = ProviderError::Retryable("no attempt".into());
        for attempt in 1..=ATTEMPTS {
            let started = Instant::now();
            let request = self
                .http
                .request(method.clone(), &format!("{}/v1{path}", self.base_url))
                // Refused before any byte is sent: nothing can have happened at the provider.
                .map_err(|e| ProviderError::Rejected {
                    code: format!("egress_refused: {e}"),
                })?;
            let mut request = request
                .timeout(self.timeout)
                .bearer_auth(self.api_key.expose_secret())
                .header("x-request-id", correlation_id);
            if let Some(ctx) = ctx {
                request = request.header("idempotency-key", &ctx.idempotency_key);
            }
            if let Some(body) = &body {
                request = request.json(body);
            }
            let (status, text, result) = match request.send().await {
                Ok(response) => {
                    let status = response.status();
                    match egress::read_capped(response).await {
                        Ok(text) => {
                            let result = classify(status, &text);
                            (Some(status.as_u16()), text, result)
                        }
                        // The provider answered but the answer cannot be read (too large, cut
                        // off): it may have acted, so the outcome is open, never guessed.
                        Err(err) => (
                            Some(status.as_u16()),
                            String::new(),
                            Err(ProviderError::UnknownOutcome(format!("{operation}: {err}"))),
                        ),
                    }
                }
                Err(err) if err.is_timeout() => (
                    None,
                    String::new(),
                    Err(ProviderError::UnknownOutcome(format!(
                        "{operation} timed out"
                    ))),
                ),
                Err(err) if err.is_connect() => (
                    None,
                    String::new(),
                    Err(ProviderError::Retryable(err.to_string())),
                ),
                Err(err) => (
                    None,
                    String::new(),
                    Err(ProviderError::UnknownOutcome(err.to_string())),
                ),
            };
            self.audit(
                operation,
                status,
                &result,
                started.elapsed(),
                ctx,
                correlation_id,
                body.as_ref(),
                &text,
            )
            .await;
            match result {
                Err(ProviderError::Retryable(reason)) if attempt < ATTEMPTS => {
                    tracing::warn!(operation, attempt, %reason, "retrying a provider call with the same key");
                    last = ProviderError::Retryable(reason);
                    tokio::time::sleep(Duration::from_millis(50 * u64::from(attempt))).await;
                }
                other => return other,
            }
        }
        Err(last)
    }

    #[allow(clippy::too_many_arguments)]
    async fn audit(
        &self,
        operation: &'static str,
        status: Option<u16>,
        result: &Result<ProviderTransaction, ProviderError>,
        latency: Duration,
        ctx: Option<&CallContext>,
        correlation_id: &str,
        request: Option<&Value>,
        response: &str,
    ) {
        let entry = AuditEntry {
            id: Uuid::now_v7(),
            store_id: self.store_id,
            provider: "sandbox",
            operation,
            status_code: status.map(i32::from),
            outcome: match result {
                Ok(_) => "ok".to_owned(),
                Err(e) => e.to_string(),
            },
            latency_ms: i32::try_from(latency.as_millis()).unwrap_or(i32::MAX),
            correlation_id: correlation_id.to_owned(),
            // Request bodies carry amounts and test payment methods only; keys travel in
            // headers.
            request_body: request.map(Value::to_string).unwrap_or_default(),
            response_body: response.to_owned(),
            created_at: chrono::Utc::now(),
        };
        match ctx.and_then(|c| c.audit.as_ref()) {
            Some(log) => log.push(entry),
            None => {
                if let Err(err) = entry.write(&self.db).await {
                    tracing::error!(error = %err, "could not write the provider call audit");
                }
            }
        }
    }
}

fn classify(status: reqwest::StatusCode, text: &str) -> Result<ProviderTransaction, ProviderError> {
    let body: Value = serde_json::from_str(text).unwrap_or(Value::Null);
    let code = || {
        body["error"]["code"]
            .as_str()
            .unwrap_or("unknown")
            .to_owned()
    };
    match status.as_u16() {
        200..=299 => {
            let amount = |field: &str| MinorUnits(body[field].as_i64().unwrap_or(0));
            Ok(ProviderTransaction {
                id: body["id"].as_str().unwrap_or_default().to_owned(),
                status: body["status"].as_str().unwrap_or("unknown").to_owned(),
                amount: amount("amount"),
                captured: amount("captured_amount"),
                refunded: amount("refunded_amount"),
            })
        }
        // Redirects are never followed (they could point anywhere); a provider that sends
        // one did not process the request here.
        300..=399 => Err(ProviderError::Rejected {
            code: "unexpected_redirect".to_owned(),
        }),
        402 => Err(ProviderError::Declined { code: code() }),
        // Credentials, rate limits and unknown objects say nothing about the operation itself.
        401 | 403 | 404 | 429 => Err(ProviderError::Refused {
            status: status.as_u16(),
            code: code(),
        }),
        // In progress under the same key: the first attempt's outcome is not known yet.
        409 if code() == "idempotency_in_progress" => Err(ProviderError::UnknownOutcome(code())),
        400..=499 => Err(ProviderError::Rejected { code: code() }),
        _ => Err(ProviderError::Retryable(code())),
    }
}

impl SandboxClient {
    /// Tells the PSP where to send this account's webhooks and with which secret to sign them.
    pub async fn register_webhook_endpoint(
        &self,
        url: &str,
        secret: &SecretString,
    ) -> Result<(), ProviderError> {
        let response = self
            .http
            .request(
                reqwest::Method::PUT,
                &format!("{}/v1/webhook_endpoint", self.base_url),
            )
            .map_err(|e| ProviderError::Rejected {
                code: format!("egress_refused: {e}"),
            })?
            .timeout(self.timeout)
            .bearer_auth(self.api_key.expose_secret())
            .json(&json!({"url": url, "secret": secret.expose_secret()}))
            .send()
            .await
            .map_err(|e| ProviderError::Retryable(e.to_string()))?;
        if response.status().is_success() {
            Ok(())
        } else {
            Err(ProviderError::Rejected {
                code: response.status().as_u16().to_string(),
            })
        }
    }
}

/// The sandbox PSP's currencies with other decimals than ISO 4217 gives them, as card
/// networks and some providers have them: ISK in two-decimal units (whole krónur only) and
/// HUF in whole forints.
pub const SANDBOX_MINOR_UNITS: &[(&str, u16)] = &[("ISK", 2), ("HUF", 0)];

impl PaymentProvider for SandboxClient {
    fn name(&self) -> &'static str {
        "sandbox"
    }

    fn minor_unit_exceptions(&self) -> &'static [(&'static str, u16)] {
        SANDBOX_MINOR_UNITS
    }

    fn authorize<'a>(
        &'a self,
        ctx: &'a CallContext,
        amount: MinorUnits,
        currency: &'a str,
        payment_method: &'a str,
    ) -> BoxFuture<'a, Result<ProviderTransaction, ProviderError>> {
        let body = json!({"amount": amount.0, "currency": currency,
            "payment_method": payment_method, "reference": ctx.reference});
        Box::pin(self.call(
            "authorize",
            reqwest::Method::POST,
            "/payments".into(),
            Some(body),
            Some(ctx),
            &ctx.correlation_id,
        ))
    }

    fn capture<'a>(
        &'a self,
        ctx: &'a CallContext,
        id: &'a str,
        amount: Option<MinorUnits>,
    ) -> BoxFuture<'a, Result<ProviderTransaction, ProviderError>> {
        let body = json!({"amount": amount.map(|a| a.0), "reference": ctx.reference});
        Box::pin(self.call(
            "capture",
            reqwest::Method::POST,
            format!("/payments/{id}/capture"),
            Some(body),
            Some(ctx),
            &ctx.correlation_id,
        ))
    }

    fn void<'a>(
        &'a self,
        ctx: &'a CallContext,
        id: &'a str,
    ) -> BoxFuture<'a, Result<ProviderTransaction, ProviderError>> {
        Box::pin(self.call(
            "void",
            reqwest::Method::POST,
            format!("/payments/{id}/void"),
            Some(json!({"reference": ctx.reference})),
            Some(ctx),
            &ctx.correlation_id,
        ))
    }

    fn refund<'a>(
        &'a self,
        ctx: &'a CallContext,
        id: &'a str,
        amount: MinorUnits,
    ) -> BoxFuture<'a, Result<ProviderTransaction, ProviderError>> {
        let body = json!({"amount": amount.0, "reference": ctx.reference});
        Box::pin(self.call(
            "refund",
            reqwest::Method::POST,
            format!("/payments/{id}/refunds"),
            Some(body),
            Some(ctx),
            &ctx.correlation_id,
        ))
    }

    fn get_transaction<'a>(
        &'a self,
        correlation_id: &'a str,
        id: &'a str,
    ) -> BoxFuture<'a, Result<ProviderTransaction, ProviderError>> {
        Box::pin(self.call(
            "get_transaction",
            reqwest::Method::GET,
            format!("/payments/{id}"),
            None,
            None,
            correlation_id,
        ))
    }

    fn list_payments<'a>(
        &'a self,
        correlation_id: &'a str,
        from: chrono::DateTime<chrono::Utc>,
        to: chrono::DateTime<chrono::Utc>,
        after: Option<&'a str>,
    ) -> BoxFuture<'a, Result<Option<PaymentPage>, ProviderError>> {
        Box::pin(async move { self.list(correlation_id, from, to, after).await.map(Some) })
    }
}

impl SandboxClient {
    /// A page of the settlement report. Reads change nothing, so they are not audited (a run
    /// over a month would fill the audit with pages).
    async fn list(
        &self,
        correlation_id: &str,
        from: chrono::DateTime<chrono::Utc>,
        to: chrono::DateTime<chrono::Utc>,
        after: Option<&str>,
    ) -> Result<PaymentPage, ProviderError> {
        let request = self
            .http
            .request(
                reqwest::Method::GET,
                &format!("{}/v1/payments", self.base_url),
            )
            .map_err(|e| ProviderError::Rejected {
                code: format!("egress_refused: {e}"),
            })?;
        let mut query = vec![
            ("created_gte", from.to_rfc3339()),
            ("created_lt", to.to_rfc3339()),
            ("limit", "100".to_owned()),
        ];
        if let Some(after) = after {
            query.push(("starting_after", after.to_owned()));
        }
        let response = request
            .timeout(self.timeout)
            .bearer_auth(self.api_key.expose_secret())
            .header("x-request-id", correlation_id)
            .query(&query)
            .send()
            .await
            .map_err(|e| ProviderError::Retryable(e.to_string()))?;
        let status = response.status();
        let text = egress::read_capped(response)
            .await
            .map_err(|e| ProviderError::Retryable(e.to_string()))?;
        let body: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
        if !status.is_success() {
            let code = body["error"]["code"]
                .as_str()
                .unwrap_or("unknown")
                .to_owned();
            return Err(match status.as_u16() {
                500..=599 => ProviderError::Retryable(code),
                s => ProviderError::Refused { status: s, code },
            });
        }
        let unreadable = || ProviderError::Retryable("unreadable payment list".to_owned());
        let payments = body["data"]
            .as_array()
            .ok_or_else(unreadable)?
            .iter()
            .map(|p| {
                let text = |f: &str| p[f].as_str().map(str::to_owned).ok_or_else(unreadable);
                let amount = |f: &str| p[f].as_i64().map(MinorUnits).ok_or_else(unreadable);
                Ok(ListedPayment {
                    id: text("id")?,
                    reference: p["reference"].as_str().map(str::to_owned),
                    status: text("status")?,
                    currency: text("currency")?,
                    amount: amount("amount")?,
                    captured: amount("captured_amount")?,
                    refunded: amount("refunded_amount")?,
                })
            })
            .collect::<Result<Vec<_>, ProviderError>>()?;
        Ok(PaymentPage {
            payments,
            has_more: body["has_more"].as_bool().unwrap_or(false),
        })
    }
}
