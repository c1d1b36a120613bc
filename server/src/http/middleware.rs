//! The HTTP edge: request ids and spans, metrics, time budget and problem rendering.

use std::{any::Any, time::Instant};

use axum::{
    body::Body,
    extract::{MatchedPath, Request, State},
    http::{HeaderValue, StatusCode, header},
    middleware::Next,
    response::{IntoResponse, Response},
};
use tracing::Instrument;
use uuid::Uuid;

use super::problem::{ApiError, PROBLEM_JSON, Problem};
use crate::state::AppState;

/// Header carrying the request id in and out.
pub const REQUEST_ID_HEADER: &str = "x-request-id";
const MAX_REQUEST_ID_LEN: usize = 128;

/// The id of the current request: the caller's `X-Request-Id` when it is sane, else a UUIDv7.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RequestId(String);

impl RequestId {
    /// Honours an incoming id made of 1–128 URL-safe characters; anything else (empty, too
    /// long, spaces, control characters that could forge log lines) is replaced.
    pub fn from_header(value: Option<&HeaderValue>) -> Self {
        value
            .and_then(|v| v.to_str().ok())
            .filter(|v| is_sane_request_id(v))
            .map(|v| RequestId(v.to_owned()))
            .unwrap_or_else(|| RequestId(Uuid::now_v7().to_string()))
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

fn is_sane_request_id(value: &str) -> bool {
    !value.is_empty()
        && value.len() <= MAX_REQUEST_ID_LEN
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b':'))
}

/// Outermost layer: assigns the request id, opens the span every log line of this request is
/// written in, echoes the id in the response and logs completion.
pub async fn request_context(mut req: Request, next: Next) -> Response {
    let id = RequestId::from_header(req.headers().get(REQUEST_ID_HEADER));
    req.extensions_mut().insert(id.clone());
    let span = tracing::info_span!(
        "request",
        request_id = %id.as_str(),
        method = %req.method(),
        path = %req.uri().path(),
    );
    let started = Instant::now();
    let mut response = next.run(req).instrument(span.clone()).await;
    if let Ok(value) = HeaderValue::from_str(id.as_str()) {
        response.headers_mut().insert(REQUEST_ID_HEADER, value);
    }
    span.in_scope(|| {
        tracing::info!(
            status = response.status().as_u16(),
            latency_ms = started.elapsed().as_secs_f64() * 1000.0,
            "request finished"
        );
    });
    response
}

/// Counts requests and records latency per route template (never per raw path, which would
/// explode label cardinality with ids).
pub async fn track_metrics(req: Request, next: Next) -> Response {
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_owned())
        .unwrap_or_else(|| "unmatched".to_owned());
    let method = req.method().to_string();
    let started = Instant::now();
    let response = next.run(req).await;
    let status = response.status().as_u16().to_string();
    let labels = [("method", method), ("route", route), ("status", status)];
    metrics::counter!("http_requests_total", &labels).increment(1);
    metrics::histogram!("http_request_duration_seconds", &labels)
        .record(started.elapsed().as_secs_f64());
    response
}

/// Makes every API failure a problem+json document carrying the request id.
///
/// Handler errors already are problems (they ride along as a response extension); bare error
/// responses from the router or tower layers (405, 413, …) are converted here. Console pages
/// render their own HTML errors and are left alone.
pub async fn render_problems(req: Request, next: Next) -> Response {
    let request_id = req.extensions().get::<RequestId>().cloned();
    let is_api = req.uri().path().starts_with("/api/");
    let response = next.run(req).await;
    let status = response.status();
    if !(status.is_client_error() || status.is_server_error()) {
        return response;
    }

    let problem = match response.extensions().get::<Problem>() {
        Some(problem) => problem.clone(),
        None => {
            let content_type = response
                .headers()
                .get(header::CONTENT_TYPE)
                .and_then(|v| v.to_str().ok());
            let convert = match content_type {
                None => true,
                Some(ct) => is_api && !ct.starts_with(PROBLEM_JSON),
            };
            if !convert {
                return response;
            }
            Problem::for_status(status)
        }
    };
    let problem = Problem {
        request_id: request_id.map(|id| id.0),
        ..problem
    };

    let (mut parts, _) = response.into_parts();
    let body = serde_json::to_vec(&problem).unwrap_or_default();
    parts.headers.remove(header::CONTENT_LENGTH);
    parts
        .headers
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(PROBLEM_JSON));
    parts.extensions.insert(problem);
    Response::from_parts(parts, Body::from(body))
}

/// Abandons a request that exceeds the configured budget with 503 `request_timeout`.
pub async fn request_timeout(State(state): State<AppState>, req: Request, next: Next) -> Response {
    match tokio::time::timeout(state.config.request_timeout, next.run(req)).await {
        Ok(response) => response,
        Err(_) => {
            tracing::warn!(
                budget_ms = state.config.request_timeout.as_millis() as u64,
                "request timed out"
            );
            ApiError::RequestTimeout.into_response()
        }
    }
}

/// Turns a panic in a handler into a logged 500 problem instead of a dropped connection.
pub fn panic_response(panic: Box<dyn Any + Send + 'static>) -> Response {
    let message = panic
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown panic".to_owned());
    tracing::error!(panic = %message, "handler panicked");
    Problem::for_status(StatusCode::INTERNAL_SERVER_ERROR).into_response()
}

/// HSTS value: one year, this host only (subdomains may be other services, not ours to pin).
const HSTS: &str = "max-age=31536000";

/// Browser security headers on every response; each is added only when the handler did not
/// set its own (console pages set a Content-Security-Policy with their per-response nonce).
///
/// - `Content-Security-Policy` (the console's policy without a nonce: no inline script at
///   all), `X-Frame-Options: DENY`, `X-Content-Type-Options: nosniff`,
///   `Referrer-Policy: no-referrer`.
/// - `Cache-Control: no-store` on everything but the compiled assets: API answers carry
///   secrets (new keys, tokens, a new store's key, credentials) and per-credential data, and
///   console pages and server functions show a signed-in user's data.
/// - `Strict-Transport-Security` when the server is behind TLS, which is when the session
///   cookie is `Secure` (always in production); browsers ignore it on plain-HTTP answers.
pub async fn security_headers(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let path = req.uri().path();
    let is_static_asset = path.starts_with("/pkg/") || path == "/favicon.svg";
    let mut response = next.run(req).await;
    let headers = response.headers_mut();
    let mut set = |name: header::HeaderName, value: HeaderValue| {
        headers.entry(name).or_insert(value);
    };
    if let Ok(csp) = HeaderValue::from_str(&app::content_security_policy(None)) {
        set(header::CONTENT_SECURITY_POLICY, csp);
    }
    set(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    set(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    set(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    if !is_static_asset {
        set(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    if state.session_policy.secure_cookie {
        set(
            header::STRICT_TRANSPORT_SECURITY,
            HeaderValue::from_static(HSTS),
        );
    }
    response
}

/// CSRF protection for the console's server functions (every one is a POST that may change
/// state): the browser must say the request is same-origin (`Sec-Fetch-Site`), or, for
/// browsers that do not send it, the `Origin` must be this host. Requests with neither are
/// refused: the console is for browsers; scripts use the bearer-token API.
pub async fn reject_cross_site(req: Request, next: Next) -> Response {
    if req.uri().path().starts_with("/console/fn/") && !req.method().is_safe() {
        let headers = req.headers();
        let text = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
        let allowed = match text("sec-fetch-site") {
            Some(site) => matches!(site, "same-origin" | "none"),
            None => match (text("origin"), text("host")) {
                (Some(origin), Some(host)) => origin
                    .split_once("://")
                    .is_some_and(|(_, origin_host)| origin_host.eq_ignore_ascii_case(host)),
                _ => false,
            },
        };
        if !allowed {
            tracing::warn!("cross-site console request refused");
            return ApiError::CrossSiteRequest.into_response();
        }
    }
    next.run(req).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sane_ids_are_kept() {
        let value = HeaderValue::from_static("req-123_abc.def:9");
        assert_eq!(
            RequestId::from_header(Some(&value)).as_str(),
            "req-123_abc.def:9"
        );
    }

    #[test]
    fn insane_ids_are_replaced() {
        let long = "a".repeat(129);
        for bad in ["", "has space", "new\u{7f}line", long.as_str(), "quote\"d"] {
            let Ok(value) = HeaderValue::from_str(bad) else {
                continue;
            };
            let id = RequestId::from_header(Some(&value));
            assert_ne!(id.as_str(), bad);
            assert!(Uuid::parse_str(id.as_str()).is_ok());
        }
        assert!(Uuid::parse_str(RequestId::from_header(None).as_str()).is_ok());
    }
}
