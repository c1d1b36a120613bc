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
                whole_numbers_as_integers(&bytes)
                    .and_then(|rewritten| axum::Json::<T>::from_bytes(&rewritten).ok())
                    .map(|axum::Json(value)| ApiJson(value))
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

/// The body with every number written as a whole number with a zero fraction (`600.0`,
/// `-3.00`) rewritten as that integer; `None` when it has none. Decided on the text, never
/// through a float: `0.99999999999999999` (1.0 as a double) and `9007199254740993.0` (past
/// 2^53) keep their digits and are refused by the type as before. Exponents are left alone.
fn whole_numbers_as_integers(bytes: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(bytes.len());
    let mut changed = false;
    let mut in_string = false;
    let mut escaped = false;
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        if in_string {
            out.push(b);
            match (escaped, b) {
                (true, _) => escaped = false,
                (false, b'\\') => escaped = true,
                (false, b'"') => in_string = false,
                _ => {}
            }
            i += 1;
            continue;
        }
        if b == b'"' {
            in_string = true;
            out.push(b);
            i += 1;
            continue;
        }
        if b != b'-' && !b.is_ascii_digit() {
            out.push(b);
            i += 1;
            continue;
        }
        let start = i;
        if b == b'-' {
            i += 1;
        }
        while i < bytes.len() && bytes[i].is_ascii_digit() {
            i += 1;
        }
        let whole = i;
        let mut zero_fraction = false;
        if i < bytes.len() && bytes[i] == b'.' {
            i += 1;
            let digits = i;
            while i < bytes.len() && bytes[i].is_ascii_digit() {
                i += 1;
            }
            zero_fraction = i > digits && bytes[digits..i].iter().all(|d| *d == b'0');
        }
        let exponent = i < bytes.len() && matches!(bytes[i], b'e' | b'E');
        if zero_fraction && !exponent && whole > start {
            out.extend_from_slice(&bytes[start..whole]);
            changed = true;
        } else {
            out.extend_from_slice(&bytes[start..i]);
        }
    }
    changed.then_some(out)
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

#[cfg(test)]
mod tests {
    use super::whole_numbers_as_integers as rewrite;

    fn text(json: &str) -> Option<String> {
        rewrite(json.as_bytes()).map(|b| String::from_utf8(b).unwrap())
    }

    #[test]
    fn only_zero_fractions_become_integers_and_strings_are_untouched() {
        assert_eq!(
            text(r#"{"a": 600.0, "b": [-3.00, 7], "c": "1.0"}"#).as_deref(),
            Some(r#"{"a": 600, "b": [-3, 7], "c": "1.0"}"#)
        );
        // Decided on the digits, never through a double.
        assert_eq!(text(r#"{"a": 0.99999999999999999}"#), None);
        assert_eq!(
            text(r#"{"a": 9007199254740993.0}"#).as_deref(),
            Some(r#"{"a": 9007199254740993}"#)
        );
        assert_eq!(text(r#"{"a": 1.0000000000000001}"#), None);
        assert_eq!(text(r#"{"a": 6.0e2, "b": 1e3}"#), None);
        assert_eq!(text(r#"{"a": "x\"600.0"}"#), None);
        assert_eq!(text(r#"{"a": 600}"#), None);
    }
}
