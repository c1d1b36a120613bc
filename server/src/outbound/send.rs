//! One attempt on the wire: the event's stored payload POSTed with Standard Webhooks headers,
//! through the guarded client, within the attempt's time budget.

use std::time::{Duration, Instant};

use chrono::Utc;
use secrecy::{ExposeSecret, SecretString};

use crate::{egress::Egress, providers::signature::sign_standard};

/// How much of an answer is kept in the delivery log.
pub const RESPONSE_BODY_LIMIT: usize = 1024;
/// Longest error text kept.
const ERROR_LIMIT: usize = 500;

/// What an attempt sends.
pub(super) struct Request<'a> {
    pub url: &'a str,
    /// Whether the own-address exemption of the guarded client may apply (sandbox endpoints
    /// of a non-production server only).
    pub own_allowed: bool,
    /// `webhook-id`: the event's id, the same on every attempt and resend.
    pub id: &'a str,
    pub payload: &'a str,
    /// Every secret still signing, newest first: one signature each.
    pub secrets: &'a [SecretString],
    pub timeout: Duration,
}

/// How an attempt went.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Outcome {
    /// The endpoint's HTTP status, when it answered.
    pub status: Option<u16>,
    pub latency_ms: i64,
    /// Why there is no status (refused, unreachable, timed out), or the body could not be read.
    pub error: Option<String>,
    /// The first KiB of the answer.
    pub body: Option<String>,
}

impl Outcome {
    /// Only a 2xx answer delivers.
    pub fn succeeded(&self) -> bool {
        self.status.is_some_and(|s| (200..300).contains(&s))
    }
}

/// Text fit for the log: bounded, and without NUL (PostgreSQL text cannot hold it).
fn loggable(text: &str, limit: usize) -> String {
    let mut out = String::with_capacity(text.len().min(limit));
    for ch in text.chars() {
        if out.len() + ch.len_utf8() > limit {
            break;
        }
        out.push(if ch == '\0' { '\u{FFFD}' } else { ch });
    }
    out
}

/// An error and its causes on one line (reqwest's own message hides the cause).
fn describe(err: &(dyn std::error::Error + 'static)) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    loggable(&text, ERROR_LIMIT)
}

/// `v1,<sig>` per secret, space-separated.
pub(super) fn signature_header(
    secrets: &[SecretString],
    id: &str,
    timestamp: i64,
    payload: &[u8],
) -> Result<String, String> {
    let mut signatures = Vec::with_capacity(secrets.len());
    for secret in secrets {
        signatures.push(
            sign_standard(secret.expose_secret(), id, timestamp, payload)
                .map_err(|e| e.to_string())?,
        );
    }
    if signatures.is_empty() {
        return Err("the endpoint has no signing secret".to_owned());
    }
    Ok(signatures.join(" "))
}

/// Reads up to [`RESPONSE_BODY_LIMIT`] bytes of the answer and stops (a receiver's answer is
/// not ours to download).
async fn head_of(mut response: reqwest::Response) -> Result<String, String> {
    let mut body = Vec::new();
    while body.len() < RESPONSE_BODY_LIMIT {
        match response.chunk().await {
            Ok(Some(chunk)) => body.extend_from_slice(&chunk),
            Ok(None) => break,
            Err(err) => return Err(describe(&err)),
        }
    }
    body.truncate(RESPONSE_BODY_LIMIT);
    Ok(loggable(
        &String::from_utf8_lossy(&body),
        RESPONSE_BODY_LIMIT,
    ))
}

/// Makes the attempt.
pub(super) async fn post(egress: &Egress, request: &Request<'_>) -> Outcome {
    let started = Instant::now();
    let elapsed =
        |started: Instant| i64::try_from(started.elapsed().as_millis()).unwrap_or(i64::MAX);
    let failed = |error: String| Outcome {
        status: None,
        latency_ms: elapsed(started),
        error: Some(loggable(&error, ERROR_LIMIT)),
        body: None,
    };
    // The receiver checks the timestamp against its own clock to refuse replays: it is about
    // the network, so it is wall time, never the injectable clock.
    let timestamp = Utc::now().timestamp();
    let signature = match signature_header(
        request.secrets,
        request.id,
        timestamp,
        request.payload.as_bytes(),
    ) {
        Ok(signature) => signature,
        Err(why) => return failed(format!("not signed: {why}")),
    };
    let builder = if request.own_allowed {
        egress.request(reqwest::Method::POST, request.url)
    } else {
        egress.request_public(reqwest::Method::POST, request.url)
    };
    let builder = match builder {
        Ok(builder) => builder,
        Err(err) => return failed(format!("refused: {err}")),
    };
    let send = builder
        .timeout(request.timeout)
        .header(reqwest::header::CONTENT_TYPE, "application/json")
        .header(reqwest::header::USER_AGENT, "Cassa-Webhooks/1")
        .header("webhook-id", request.id)
        .header("webhook-timestamp", timestamp.to_string())
        .header("webhook-signature", signature)
        .body(request.payload.to_owned())
        .send();
    let exchange = async {
        let response = send.await.map_err(|e| {
            if e.is_timeout() {
                format!("timed out after {} ms", request.timeout.as_millis())
            } else {
                describe(&e)
            }
        })?;
        let status = response.status().as_u16();
        Ok::<_, String>((status, head_of(response).await))
    };
    // The client's timeout covers the body too; this one bounds everything else as well.
    match tokio::time::timeout(request.timeout, exchange).await {
        Err(_) => failed(format!(
            "timed out after {} ms",
            request.timeout.as_millis()
        )),
        Ok(Err(error)) => failed(error),
        Ok(Ok((status, body))) => {
            let (body, error) = match body {
                Ok(body) => (Some(body), None),
                Err(error) => (None, Some(format!("reading the answer failed: {error}"))),
            };
            Outcome {
                status: Some(status),
                latency_ms: elapsed(started),
                error,
                body,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::providers::signature::verify_standard;

    #[test]
    fn every_secret_signs_and_each_signature_verifies_alone() {
        let old = SecretString::from("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw");
        let new = SecretString::from("whsec_dGVzdC1zZWNyZXQtdGhhdC1pcy0zMi1ieXRlcyEh");
        let body = br#"{"id":"evt_1","type":"test.ping"}"#;
        let ts = 1_700_000_000;
        let header = signature_header(&[new.clone(), old.clone()], "evt_1", ts, body).unwrap();
        let parts: Vec<&str> = header.split(' ').collect();
        assert_eq!(parts.len(), 2);
        assert!(parts.iter().all(|p| p.starts_with("v1,")));
        for secret in [&old, &new] {
            assert_eq!(
                verify_standard(
                    secret.expose_secret(),
                    Some("evt_1"),
                    Some(&ts.to_string()),
                    Some(&header),
                    body,
                    ts
                ),
                Ok(())
            );
        }
        let alone = signature_header(std::slice::from_ref(&new), "evt_1", ts, body).unwrap();
        assert!(
            verify_standard(
                old.expose_secret(),
                Some("evt_1"),
                Some(&ts.to_string()),
                Some(&alone),
                body,
                ts
            )
            .is_err()
        );
        assert!(signature_header(&[], "evt_1", ts, body).is_err());
    }

    #[test]
    fn the_published_standard_webhooks_vector_signs_as_published() {
        // https://github.com/standard-webhooks/standard-webhooks (the reference libraries' test).
        let secret = SecretString::from("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw");
        let header = signature_header(
            &[secret],
            "msg_p5jXN8AQM9LWM0D4loKWxJek",
            1_614_265_330,
            br#"{"test": 2432232314}"#,
        )
        .unwrap();
        assert_eq!(header, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
    }

    #[test]
    fn logged_text_is_bounded_and_has_no_nul() {
        assert_eq!(loggable("a\0b", 10), "a\u{FFFD}b");
        let long = "é".repeat(RESPONSE_BODY_LIMIT);
        let kept = loggable(&long, RESPONSE_BODY_LIMIT);
        assert!(kept.len() <= RESPONSE_BODY_LIMIT && kept.chars().all(|c| c == 'é'));
    }
}
