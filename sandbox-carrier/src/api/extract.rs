//! What handlers take from a request, each refusal in the carrier's error shape: the calling
//! account, the idempotency key, a JSON body.

use axum::{
    extract::{FromRequest, FromRequestParts, Request, rejection::JsonRejection},
    http::{StatusCode, header::AUTHORIZATION, request::Parts},
};
use serde::de::DeserializeOwned;
use sha2::{Digest, Sha256};

use crate::{
    error::{CarrierError, ErrorType},
    idempotency::MAX_KEY_LEN,
};

/// Every API key starts with this.
pub const API_KEY_PREFIX: &str = "scr_";

/// API keys starting with this are an account whose every request is answered `503`.
pub const OUTAGE_ACCOUNT_PREFIX: &str = "scr_outage_";

/// Shortest and longest API key (prefix included).
const KEY_LEN: std::ops::RangeInclusive<usize> = 8..=200;

/// The calling account: SHA-256 of its `scr_` API key (the key is the account, as at a sandbox;
/// only its digest is stored).
pub(crate) struct Account(pub(crate) String);

impl Account {
    /// The account's id.
    pub(crate) fn id(&self) -> &str {
        &self.0
    }
}

/// Whether `key` is a well-formed API key: the prefix, then visible ASCII, 8 to 200 in all.
pub(crate) fn is_api_key(key: &str) -> bool {
    key.starts_with(API_KEY_PREFIX)
        && KEY_LEN.contains(&key.len())
        && key.bytes().all(|b| b.is_ascii_graphic())
}

impl<S: Send + Sync> FromRequestParts<S> for Account {
    type Rejection = CarrierError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, CarrierError> {
        let key = parts
            .headers
            .get(AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .filter(|k| is_api_key(k))
            .ok_or_else(|| {
                CarrierError::new(
                    StatusCode::UNAUTHORIZED,
                    ErrorType::Authentication,
                    "invalid_api_key",
                    "missing or invalid API key",
                )
            })?;
        // A documented test account that is always down, to rehearse an outage.
        if key.starts_with(OUTAGE_ACCOUNT_PREFIX) {
            return Err(CarrierError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                ErrorType::ApiError,
                "service_unavailable",
                "the carrier is down; retry later",
            ));
        }
        let digest = Sha256::digest(key.as_bytes());
        Ok(Account(format!("{digest:x}")))
    }
}

/// The request's `Idempotency-Key`: required, 1 to 255 visible ASCII characters.
pub(crate) struct IdempotencyKey(pub(crate) String);

impl<S: Send + Sync> FromRequestParts<S> for IdempotencyKey {
    type Rejection = CarrierError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, CarrierError> {
        let Some(value) = parts.headers.get("idempotency-key") else {
            return Err(CarrierError::invalid(
                StatusCode::BAD_REQUEST,
                "idempotency_key_missing",
                "this request needs an Idempotency-Key header",
            ));
        };
        value
            .to_str()
            .ok()
            .filter(|k| (1..=MAX_KEY_LEN).contains(&k.len()))
            .filter(|k| k.bytes().all(|b| b.is_ascii_graphic()))
            .map(|k| IdempotencyKey(k.to_owned()))
            .ok_or_else(|| {
                CarrierError::invalid(
                    StatusCode::BAD_REQUEST,
                    "idempotency_key_invalid",
                    "the Idempotency-Key must be 1 to 255 visible ASCII characters",
                )
            })
    }
}

/// A JSON body; a body that is not JSON is `400 invalid_json`, JSON of the wrong shape `422
/// invalid_request` (code `invalid_body`).
pub(crate) struct JsonBody<T>(pub(crate) T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for JsonBody<T> {
    type Rejection = CarrierError;

    async fn from_request(req: Request, state: &S) -> Result<Self, CarrierError> {
        match axum::Json::<T>::from_request(req, state).await {
            Ok(axum::Json(value)) => Ok(JsonBody(value)),
            Err(JsonRejection::JsonDataError(err)) => {
                Err(CarrierError::unprocessable("invalid_body", err.body_text()))
            }
            Err(err) => Err(CarrierError::invalid(
                StatusCode::BAD_REQUEST,
                "invalid_json",
                err.body_text(),
            )),
        }
    }
}
