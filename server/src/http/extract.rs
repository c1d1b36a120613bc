//! Extractors whose rejections are problem+json with stable codes.

use axum::{
    extract::{FromRequest, FromRequestParts, Request, rejection::JsonRejection},
    http::{StatusCode, request::Parts},
};
use serde::de::DeserializeOwned;

use super::problem::ApiError;

/// `Json<T>` whose every rejection is an [`ApiError`]: malformed JSON is 400 `malformed_json`,
/// a wrong shape 422 `invalid_body`, a missing content type 415, an oversized body 413.
#[derive(Debug, Clone, Copy, Default)]
pub struct ApiJson<T>(pub T);

impl<S, T> FromRequest<S> for ApiJson<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        if !is_json(req.headers()) {
            return Err(ApiError::UnsupportedMediaType);
        }
        let bytes = match axum::body::Bytes::from_request(req, state).await {
            Ok(bytes) => bytes,
            Err(e) if e.status() == StatusCode::PAYLOAD_TOO_LARGE => {
                return Err(ApiError::PayloadTooLarge);
            }
            Err(e) => return Err(ApiError::BadBody(e.body_text())),
        };
        // serde reads a struct from an array of its fields in order; every body of this API is
        // an object (or, where the handler takes any JSON, a value it checks itself).
        if first_byte(&bytes) == Some(b'[') && expects_object::<T>() {
            return Err(ApiError::InvalidBody(
                "the request body must be a JSON object".into(),
            ));
        }
        match axum::Json::<T>::from_bytes(&bytes) {
            Ok(axum::Json(value)) => Ok(ApiJson(value)),
            Err(JsonRejection::JsonDataError(e)) => {
                // JSON has one number type: `3.0` is the integer 3 to JSON Schema, and to
                // clients that write every number as a double. Only on this (rare) path is the
                // body read a second time.
                integral_floats_as_integers(&bytes)
                    .and_then(|value| serde_json::from_value(value).ok())
                    .map(ApiJson)
                    .ok_or_else(|| ApiError::InvalidBody(e.body_text()))
            }
            Err(rejection) => Err(map_json_rejection(rejection)),
        }
    }
}

/// `application/json` or a `+json` type, as axum's `Json` accepts.
fn is_json(headers: &axum::http::HeaderMap) -> bool {
    let Some(value) = headers
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
    else {
        return false;
    };
    let essence = value
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    essence == "application/json"
        || (essence.starts_with("application/") && essence.ends_with("+json"))
}

fn first_byte(bytes: &[u8]) -> Option<u8> {
    bytes.iter().copied().find(|b| !b.is_ascii_whitespace())
}

/// Whether `T` is read from a JSON object, asked of `T` itself: a sequence type takes `[]` and
/// refuses `{}`, an any-value type takes `0` too, and a struct either refuses `[]` (it has
/// required fields) or takes `{}` (every field has a default). Asked only of a body that
/// starts with `[`.
fn expects_object<T: DeserializeOwned>() -> bool {
    let takes = |json: &str| serde_json::from_str::<T>(json).is_ok();
    !takes("[]") || (takes("{}") && !takes("0"))
}

/// The body with every float that is a whole number in `i64`'s range turned into an integer;
/// `None` when it has no such float (nothing would change) or is not JSON.
fn integral_floats_as_integers(bytes: &[u8]) -> Option<serde_json::Value> {
    fn walk(value: &mut serde_json::Value) -> bool {
        match value {
            serde_json::Value::Number(n) if n.is_f64() => {
                let Some(f) = n.as_f64() else { return false };
                // The bounds are exact powers of two, so the comparison is exact.
                if f.fract() == 0.0
                    && (-9_223_372_036_854_775_808.0..9_223_372_036_854_775_808.0).contains(&f)
                {
                    *value = serde_json::Value::from(f as i64);
                    return true;
                }
                false
            }
            serde_json::Value::Array(items) => items.iter_mut().map(walk).fold(false, |a, b| a | b),
            serde_json::Value::Object(map) => map.values_mut().map(walk).fold(false, |a, b| a | b),
            _ => false,
        }
    }
    let mut value: serde_json::Value = serde_json::from_slice(bytes).ok()?;
    walk(&mut value).then_some(value)
}

fn map_json_rejection(rejection: JsonRejection) -> ApiError {
    match rejection {
        JsonRejection::JsonSyntaxError(e) => ApiError::MalformedJson(e.body_text()),
        JsonRejection::JsonDataError(e) => ApiError::InvalidBody(e.body_text()),
        JsonRejection::MissingJsonContentType(_) => ApiError::UnsupportedMediaType,
        JsonRejection::BytesRejection(e) if e.status() == StatusCode::PAYLOAD_TOO_LARGE => {
            ApiError::PayloadTooLarge
        }
        JsonRejection::BytesRejection(e) => ApiError::BadBody(e.body_text()),
        other => ApiError::BadBody(other.body_text()),
    }
}

/// `Path<T>` whose rejection is 404 `not_found`: a malformed id names no object, exactly like
/// an id that does not exist (or belongs to another store).
#[derive(Debug, Clone, Copy)]
pub struct ApiPath<T>(pub T);

impl<S, T> FromRequestParts<S> for ApiPath<T>
where
    T: DeserializeOwned + Send,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        axum::extract::Path::<T>::from_request_parts(parts, state)
            .await
            .map(|axum::extract::Path(value)| ApiPath(value))
            .map_err(|_| ApiError::NotFound)
    }
}

/// `Query<T>` whose rejection is 422 `invalid_body`.
#[derive(Debug, Clone, Copy, Default)]
pub struct ApiQuery<T>(pub T);

impl<S, T> FromRequestParts<S> for ApiQuery<T>
where
    T: DeserializeOwned + Send,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        axum::extract::Query::<T>::from_request_parts(parts, state)
            .await
            .map(|axum::extract::Query(value)| ApiQuery(value))
            .map_err(|e| ApiError::InvalidBody(e.body_text()))
    }
}

/// The client address of the current request (see [`client_ip`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientIp(pub std::net::IpAddr);

impl ClientIp {
    /// Determines it from request parts.
    pub fn of(parts: &axum::http::request::Parts, trusted: &crate::limits::TrustedProxies) -> Self {
        let peer = parts
            .extensions
            .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
            .map(|axum::extract::ConnectInfo(addr)| addr.ip());
        ClientIp(crate::limits::client_ip(peer, &parts.headers, trusted))
    }
}

impl axum::extract::FromRequestParts<crate::state::AppState> for ClientIp {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        state: &crate::state::AppState,
    ) -> Result<Self, Self::Rejection> {
        Ok(ClientIp::of(parts, &state.config.trusted_proxies))
    }
}
