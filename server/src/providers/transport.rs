//! The HTTP side every remote payment provider's client shares: the guarded client, the call
//! budget, bounded retries of what the provider says is safe to retry (every call carries its
//! idempotency key, so a retry never acts twice), and an audit row per attempt.

use std::time::{Duration, Instant};

use serde_json::Value;
use uuid::Uuid;

use super::{
    audit::AuditEntry,
    payment::{CallContext, ProviderError, ProviderTransaction},
};
use crate::{
    db::Db,
    egress::{self, Egress},
    types::StoreId,
};

/// Attempts per call when the failure is retryable.
const ATTEMPTS: u32 = 2;
/// The longest `Retry-After` honoured inside one call; a longer one is the resolver's to wait.
const MAX_RETRY_AFTER: Duration = Duration::from_secs(2);

/// A provider's HTTP answer, for its client to classify.
#[derive(Debug, Clone, Copy)]
pub struct Answer<'a> {
    /// HTTP status.
    pub status: u16,
    /// The body as read (capped).
    pub text: &'a str,
}

/// How one provider's answers are classified (into a transaction, or another reading such as
/// a list).
pub type Classify<T = ProviderTransaction> = fn(Answer<'_>) -> Result<T, ProviderError>;

/// What of an answer may be kept in the audit (a provider whose answers carry secrets or
/// customers' personal data removes them here).
pub type Redact = fn(&str) -> String;

/// The transport of one provider client.
pub struct Transport {
    http: Egress,
    timeout: Duration,
    db: Db,
    store_id: Option<StoreId>,
    provider: &'static str,
    redact: Option<Redact>,
}

impl Transport {
    /// A transport through `http` with a per-attempt budget of `timeout`; audit rows go to `db`.
    pub fn new(
        http: Egress,
        timeout: Duration,
        db: Db,
        store_id: Option<StoreId>,
        provider: &'static str,
    ) -> Self {
        Self {
            http,
            timeout,
            db,
            store_id,
            provider,
            redact: None,
        }
    }

    /// Answers are written to the audit through `redact`.
    pub fn redacting(self, redact: Redact) -> Self {
        Self {
            redact: Some(redact),
            ..self
        }
    }

    /// A request to `url` through the guarded client, with the call budget. Refused before any
    /// byte is sent when the address is not allowed: nothing can have happened at the provider.
    pub fn request(
        &self,
        method: reqwest::Method,
        url: &str,
    ) -> Result<reqwest::RequestBuilder, ProviderError> {
        Ok(self
            .http
            .request(method, url)
            .map_err(|e| ProviderError::Rejected {
                code: format!("egress_refused: {e}"),
            })?
            .timeout(self.timeout))
    }

    /// Sends what `build` makes (again for a retry), classifies the answer with `classify`,
    /// and writes an audit row per attempt (into the call's log when it has one).
    pub async fn send<T>(
        &self,
        operation: &'static str,
        build: impl Fn() -> Result<reqwest::RequestBuilder, ProviderError>,
        ctx: Option<&CallContext>,
        correlation_id: &str,
        audit_body: Option<&Value>,
        classify: Classify<T>,
    ) -> Result<T, ProviderError> {
        let mut last = ProviderError::Retryable("no attempt".into());
        for attempt in 1..=ATTEMPTS {
            let started = Instant::now();
            let request = build()?.header("x-request-id", correlation_id);
            let (status, text, retry_after, result) = match request.send().await {
                Ok(response) => {
                    let status = response.status().as_u16();
                    let retry_after = response
                        .headers()
                        .get("retry-after")
                        .and_then(|v| v.to_str().ok())
                        .and_then(|v| v.trim().parse::<u64>().ok())
                        .map(Duration::from_secs);
                    match egress::read_capped(response).await {
                        Ok(text) => {
                            let result = classify(Answer {
                                status,
                                text: &text,
                            });
                            (Some(status), text, retry_after, result)
                        }
                        // The provider answered but the answer cannot be read (too large, cut
                        // off): it may have acted, so the outcome is open, never guessed.
                        Err(err) => (
                            Some(status),
                            String::new(),
                            None,
                            Err(ProviderError::UnknownOutcome(format!("{operation}: {err}"))),
                        ),
                    }
                }
                Err(err) if err.is_timeout() => (
                    None,
                    String::new(),
                    None,
                    Err(ProviderError::UnknownOutcome(format!(
                        "{operation} timed out"
                    ))),
                ),
                // The request could not even be built: nothing left this process.
                Err(err) if err.is_builder() => (
                    None,
                    String::new(),
                    None,
                    Err(ProviderError::Rejected {
                        code: format!("request_not_sent: {err}"),
                    }),
                ),
                Err(err) if err.is_connect() => (
                    None,
                    String::new(),
                    None,
                    Err(ProviderError::Retryable(err.to_string())),
                ),
                Err(err) => (
                    None,
                    String::new(),
                    None,
                    Err(ProviderError::UnknownOutcome(err.to_string())),
                ),
            };
            let outcome = match &result {
                Ok(_) => "ok".to_owned(),
                Err(e) => e.to_string(),
            };
            self.audit(
                operation,
                status,
                outcome,
                started.elapsed(),
                ctx,
                correlation_id,
                audit_body,
                &text,
            )
            .await;
            match result {
                Err(ProviderError::Retryable(reason)) if attempt < ATTEMPTS => {
                    tracing::warn!(provider = self.provider, operation, attempt, %reason,
                        "retrying a provider call with the same key");
                    last = ProviderError::Retryable(reason);
                    let pause = retry_after
                        .unwrap_or(Duration::from_millis(50 * u64::from(attempt)))
                        .min(MAX_RETRY_AFTER);
                    // The attempt's audit row may have kept a held connection: not idle
                    // through the pause.
                    crate::db::held::release();
                    tokio::time::sleep(pause).await;
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
        outcome: String,
        latency: Duration,
        ctx: Option<&CallContext>,
        correlation_id: &str,
        request: Option<&Value>,
        response: &str,
    ) {
        let entry = AuditEntry {
            id: Uuid::now_v7(),
            store_id: self.store_id,
            provider: self.provider,
            operation,
            status_code: status.map(i32::from),
            outcome,
            latency_ms: i32::try_from(latency.as_millis()).unwrap_or(i32::MAX),
            correlation_id: correlation_id.to_owned(),
            // Request bodies carry amounts, references and payment method tokens only; keys
            // travel in headers.
            request_body: request.map(Value::to_string).unwrap_or_default(),
            response_body: self
                .redact
                .map_or_else(|| response.to_owned(), |r| r(response)),
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
