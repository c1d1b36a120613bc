//! Webhook signature schemes: Standard Webhooks (the sandbox provider) and Stripe's. Both are
//! HMAC-SHA256 with a timestamp inside the signed content and a tolerance window; comparisons
//! are constant-time (`Mac::verify_slice`).

use base64::{Engine, engine::general_purpose::STANDARD};
use hmac::{Hmac, Mac};
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;

/// Largest accepted distance between a webhook's timestamp and now, both ways.
pub const TOLERANCE_SECS: i64 = 300;

/// Why a signature was refused. The messages are safe to show to the sender.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    /// A required header is missing or unreadable.
    #[error("missing or malformed signature headers")]
    MissingHeaders,
    /// The timestamp is too far from now (a replay, or a badly skewed clock).
    #[error("the timestamp is outside the 5-minute tolerance")]
    Stale,
    /// No signature matched.
    #[error("no signature matches")]
    Mismatch,
    /// The configured secret is unusable.
    #[error("the signing secret is malformed")]
    BadSecret,
}

fn within_tolerance(timestamp: i64, now: i64) -> Result<(), SignatureError> {
    if (now - timestamp).abs() > TOLERANCE_SECS {
        Err(SignatureError::Stale)
    } else {
        Ok(())
    }
}

fn standard_key(secret: &str) -> Result<Vec<u8>, SignatureError> {
    let encoded = secret.strip_prefix("whsec_").unwrap_or(secret);
    STANDARD
        .decode(encoded)
        .map_err(|_| SignatureError::BadSecret)
}

fn standard_mac(key: &[u8], id: &str, timestamp: &str, body: &[u8]) -> HmacSha256 {
    // HMAC accepts keys of any length: `new_from_slice` cannot fail for it.
    let mut mac = HmacSha256::new_from_slice(key).unwrap_or_else(|_| unreachable!());
    mac.update(id.as_bytes());
    mac.update(b".");
    mac.update(timestamp.as_bytes());
    mac.update(b".");
    mac.update(body);
    mac
}

/// The `webhook-signature` value (`v1,<base64>`) for a message: what a sender puts in the header.
pub fn sign_standard(
    secret: &str,
    id: &str,
    timestamp: i64,
    body: &[u8],
) -> Result<String, SignatureError> {
    let key = standard_key(secret)?;
    let tag = standard_mac(&key, id, &timestamp.to_string(), body)
        .finalize()
        .into_bytes();
    Ok(format!("v1,{}", STANDARD.encode(tag)))
}

/// Verifies a Standard Webhooks message: `webhook-id`, `webhook-timestamp` and
/// `webhook-signature` (space-separated `v1,<base64>` entries; other versions are ignored) over
/// `{id}.{timestamp}.{body}`, keyed with the base64-decoded part of `whsec_…`.
pub fn verify_standard(
    secret: &str,
    id: Option<&str>,
    timestamp: Option<&str>,
    signatures: Option<&str>,
    body: &[u8],
    now: i64,
) -> Result<(), SignatureError> {
    let (Some(id), Some(timestamp), Some(signatures)) = (id, timestamp, signatures) else {
        return Err(SignatureError::MissingHeaders);
    };
    if id.is_empty() {
        return Err(SignatureError::MissingHeaders);
    }
    let ts: i64 = timestamp
        .trim()
        .parse()
        .map_err(|_| SignatureError::MissingHeaders)?;
    within_tolerance(ts, now)?;
    let key = standard_key(secret)?;
    let mac = standard_mac(&key, id, timestamp.trim(), body);
    let matched = signatures
        .split(' ')
        .filter_map(|entry| entry.split_once(','))
        .filter(|(version, _)| *version == "v1")
        .filter_map(|(_, sig)| STANDARD.decode(sig).ok())
        .filter(|sig| !sig.is_empty())
        .any(|sig| mac.clone().verify_slice(&sig).is_ok());
    if matched {
        Ok(())
    } else {
        Err(SignatureError::Mismatch)
    }
}

/// The `Stripe-Signature` value for a payload: `t=<ts>,v1=<hex>`.
pub fn sign_stripe(secret: &str, timestamp: i64, body: &[u8]) -> String {
    let mut mac = HmacSha256::new_from_slice(secret.as_bytes()).unwrap_or_else(|_| unreachable!());
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    let tag = mac.finalize().into_bytes();
    let hex: String = tag.iter().map(|b| format!("{b:02x}")).collect();
    format!("t={timestamp},v1={hex}")
}

fn decode_hex(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(text.get(i..i + 2)?, 16).ok())
        .collect()
}

/// Verifies Stripe's scheme: `Stripe-Signature: t=…,v1=<hex>[,v1=…]`, HMAC-SHA256 over
/// `{t}.{body}` keyed with the secret string's bytes, 300 s tolerance.
pub fn verify_stripe(
    secret: &str,
    header: Option<&str>,
    body: &[u8],
    now: i64,
) -> Result<(), SignatureError> {
    let header = header.ok_or(SignatureError::MissingHeaders)?;
    let mut timestamp = None;
    let mut signatures = Vec::new();
    for part in header.split(',') {
        match part.trim().split_once('=') {
            Some(("t", t)) => timestamp = t.parse::<i64>().ok(),
            Some(("v1", sig)) => signatures.extend(decode_hex(sig)),
            _ => {}
        }
    }
    let timestamp = timestamp.ok_or(SignatureError::MissingHeaders)?;
    if signatures.is_empty() {
        return Err(SignatureError::MissingHeaders);
    }
    within_tolerance(timestamp, now)?;
    let mut mac = HmacSha256::new_from_slice(secret.as_bytes()).unwrap_or_else(|_| unreachable!());
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    if signatures
        .iter()
        .any(|sig| mac.clone().verify_slice(sig).is_ok())
    {
        Ok(())
    } else {
        Err(SignatureError::Mismatch)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    fn vectors() -> Value {
        serde_json::from_str(include_str!("../../testdata/webhook_signatures.json")).unwrap()
    }

    #[test]
    fn standard_webhooks_published_vectors_verify() {
        let v = vectors();
        for case in v["standard_webhooks"].as_array().unwrap() {
            let (secret, id, ts, body, sig) = (
                case["secret"].as_str().unwrap(),
                case["id"].as_str().unwrap(),
                case["timestamp"].as_i64().unwrap(),
                case["body"].as_str().unwrap(),
                case["signature"].as_str().unwrap(),
            );
            assert_eq!(sign_standard(secret, id, ts, body.as_bytes()).unwrap(), sig);
            let ts_text = ts.to_string();
            assert_eq!(
                verify_standard(
                    secret,
                    Some(id),
                    Some(&ts_text),
                    Some(sig),
                    body.as_bytes(),
                    ts
                ),
                Ok(())
            );
            // Several signatures, unknown versions ignored.
            let many = format!("v2,abc v1,AAAA {sig}");
            assert_eq!(
                verify_standard(
                    secret,
                    Some(id),
                    Some(&ts_text),
                    Some(&many),
                    body.as_bytes(),
                    ts
                ),
                Ok(())
            );
        }
    }

    #[test]
    fn standard_webhooks_must_fail_cases_fail() {
        let v = vectors();
        let base = &v["standard_webhooks"][0];
        let (secret, id, ts, body, sig) = (
            base["secret"].as_str().unwrap(),
            base["id"].as_str().unwrap(),
            base["timestamp"].as_i64().unwrap(),
            base["body"].as_str().unwrap().as_bytes(),
            base["signature"].as_str().unwrap(),
        );
        for case in v["standard_webhooks_must_fail"].as_array().unwrap() {
            let why = case["why"].as_str().unwrap();
            let (signed_ts, signature) = match case["timestamp_offset_seconds"].as_i64() {
                Some(offset) => (
                    ts + offset,
                    sign_standard(secret, id, ts + offset, body).unwrap(),
                ),
                None => (ts, case["signature"].as_str().unwrap().to_owned()),
            };
            let result = verify_standard(
                secret,
                Some(id),
                Some(&signed_ts.to_string()),
                Some(&signature),
                body,
                ts,
            );
            assert!(result.is_err(), "{why}");
        }
        // A one-character change in the body.
        let mut tampered = body.to_vec();
        tampered[2] ^= 1;
        let ts_text = ts.to_string();
        assert_eq!(
            verify_standard(secret, Some(id), Some(&ts_text), Some(sig), &tampered, ts),
            Err(SignatureError::Mismatch)
        );
        // Exactly at the tolerance is still fine; a missing header is not.
        assert!(
            verify_standard(secret, Some(id), Some(&ts_text), Some(sig), body, ts + 300).is_ok()
        );
        assert_eq!(
            verify_standard(secret, Some(id), None, Some(sig), body, ts),
            Err(SignatureError::MissingHeaders)
        );
        assert_eq!(
            verify_standard(secret, None, Some(&ts_text), Some(sig), body, ts),
            Err(SignatureError::MissingHeaders)
        );
        assert_eq!(
            verify_standard(secret, Some(id), Some(&ts_text), Some("v1,"), body, ts),
            Err(SignatureError::Mismatch)
        );
    }

    #[test]
    fn stripe_published_vector_verifies_and_variants_fail() {
        let v = vectors();
        let s = &v["stripe"];
        let (secret, ts, body, header) = (
            s["secret"].as_str().unwrap(),
            s["timestamp"].as_i64().unwrap(),
            s["body"].as_str().unwrap().as_bytes(),
            s["header"].as_str().unwrap(),
        );
        assert_eq!(sign_stripe(secret, ts, body), header);
        assert_eq!(verify_stripe(secret, Some(header), body, ts), Ok(()));
        assert_eq!(verify_stripe(secret, Some(header), body, ts + 300), Ok(()));
        assert_eq!(
            verify_stripe(secret, Some(header), body, ts + 301),
            Err(SignatureError::Stale)
        );
        assert_eq!(
            verify_stripe(secret, Some(header), body, ts - 301),
            Err(SignatureError::Stale)
        );
        let two = format!(
            "t={ts},v1={},v1={}",
            "00".repeat(32),
            s["signature_v1_hex"].as_str().unwrap()
        );
        assert_eq!(verify_stripe(secret, Some(&two), body, ts), Ok(()));
        assert_eq!(
            verify_stripe("other_secret", Some(header), body, ts),
            Err(SignatureError::Mismatch)
        );
        let mut tampered = body.to_vec();
        tampered[5] ^= 1;
        assert_eq!(
            verify_stripe(secret, Some(header), &tampered, ts),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            verify_stripe(secret, None, body, ts),
            Err(SignatureError::MissingHeaders)
        );
        assert_eq!(
            verify_stripe(secret, Some("t=1533204620"), body, ts),
            Err(SignatureError::MissingHeaders)
        );
    }
}
