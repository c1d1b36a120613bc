//! The sandbox PSP's client: the `PaymentProvider` Cassa uses, over HTTP like any remote
//! provider, with timeouts, bounded retries (every call carries its idempotency key, so a retry
//! never acts twice) and an audit row per attempt.

use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};
use serde_json::{Value, json};

use crate::{
    db::Db,
    egress::{self, Egress},
    money::MinorUnits,
    providers::account::ProviderAccount,
    providers::payment::{
        BoxFuture, CallContext, ListedPayment, PaymentPage, PaymentProvider, ProviderError,
        ProviderTransaction,
    },
    providers::transport::{Answer, Transport},
    types::StoreId,
};

/// HTTP client of the sandbox PSP for one store's credentials.
pub struct SandboxClient {
    http: Egress,
    transport: Transport,
    timeout: Duration,
    base_url: String,
    api_key: SecretString,
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
            transport: Transport::new(http.clone(), timeout, db, store_id, "sandbox"),
            http,
            timeout,
            base_url: base_url.trim_end_matches('/').to_owned(),
            api_key,
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
        let url = format!("{}/v1{path}", self.base_url);
        let build = || {
            let mut request = self
                .transport
                .request(method.clone(), &url)?
                .bearer_auth(self.api_key.expose_secret());
            if let Some(ctx) = ctx {
                request = request.header("idempotency-key", &ctx.idempotency_key);
            }
            if let Some(body) = &body {
                request = request.json(body);
            }
            Ok(request)
        };
        self.transport
            .send(
                operation,
                build,
                ctx,
                correlation_id,
                body.as_ref(),
                classify,
            )
            .await
    }
}

fn classify(answer: Answer<'_>) -> Result<ProviderTransaction, ProviderError> {
    let status = answer.status;
    let body: Value = serde_json::from_str(answer.text).unwrap_or(Value::Null);
    let code = || {
        body["error"]["code"]
            .as_str()
            .unwrap_or("unknown")
            .to_owned()
    };
    match status {
        200..=299 => {
            let amount = |field: &str| MinorUnits(body[field].as_i64().unwrap_or(0));
            Ok(ProviderTransaction {
                id: body["id"].as_str().unwrap_or_default().to_owned(),
                status: body["status"].as_str().unwrap_or("unknown").to_owned(),
                amount: amount("amount"),
                captured: amount("captured_amount"),
                refunded: amount("refunded_amount"),
                next_action: None,
                multicapture: false,
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
            status,
            code: code(),
        }),
        // In progress under the same key: the first attempt's outcome is not known yet.
        409 if code() == "idempotency_in_progress" => Err(ProviderError::UnknownOutcome(code())),
        400..=499 => Err(ProviderError::Rejected { code: code() }),
        _ => Err(ProviderError::Retryable(code())),
    }
}

/// The PSP's account object; its refusals classified as any call's.
fn classify_account(answer: Answer<'_>) -> Result<ProviderAccount, ProviderError> {
    if !(200..=299).contains(&answer.status) {
        return Err(classify(answer)
            .err()
            .unwrap_or_else(|| ProviderError::Retryable("unexpected answer".to_owned())));
    }
    let body: Value = serde_json::from_str(answer.text).unwrap_or(Value::Null);
    let text = |v: &Value| v.as_str().filter(|s| !s.is_empty()).map(str::to_owned);
    let id = text(&body["id"])
        .ok_or_else(|| ProviderError::UnknownOutcome("an answer without an account".to_owned()))?;
    Ok(ProviderAccount {
        id,
        name: text(&body["name"]),
        country: text(&body["country"]),
        default_currency: text(&body["default_currency"]).map(|c| c.to_ascii_uppercase()),
        charges_enabled: body["charges_enabled"].as_bool().unwrap_or(false),
    })
}

impl SandboxClient {
    /// The account the API key is (`GET /v1/account`): proves the key works, moves nothing.
    pub async fn account(&self, correlation_id: &str) -> Result<ProviderAccount, ProviderError> {
        let url = format!("{}/v1/account", self.base_url);
        let build = || {
            Ok(self
                .transport
                .request(reqwest::Method::GET, &url)?
                .bearer_auth(self.api_key.expose_secret()))
        };
        self.transport
            .send(
                "check_connection",
                build,
                None,
                correlation_id,
                None,
                classify_account,
            )
            .await
    }

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
        _return_url: Option<&'a str>,
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
        _keep_rest: bool,
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
