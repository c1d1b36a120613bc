//! Idempotency for every mutating request under `/api/v1/admin` and `/api/v1/me`
//! (draft-ietf-httpapi-idempotency-key-header, Stripe semantics).
//!
//! The first request with a key claims `(scope, key)` with an in-flight record; its final
//! response (2xx or 4xx) is stored and replayed byte for byte to retries with the same
//! fingerprint, marked `Idempotent-Replayed: true`. A 5xx releases the key so the client may
//! retry. A retry while the first is in flight is 409; a different request under a used key is
//! 422; a lock older than [`LOCK_TIMEOUT_SECS`] is presumed dead and taken over.

pub mod key;
mod store;

use axum::{
    body::{Body, Bytes},
    extract::{Request, State},
    http::{HeaderMap, HeaderValue, Method, StatusCode, header},
    middleware::Next,
    response::{IntoResponse, Response},
};
use chrono::Duration;
use sha2::{Digest, Sha256};

pub use key::{IdempotencyKey, KeyError, provider_key};

use crate::{
    auth::principal::{self, ENVIRONMENT_HEADER, Principal, STORE_HEADER},
    http::{
        middleware::RequestId,
        problem::{ApiError, PROBLEM_JSON, Problem},
    },
    state::AppState,
};

/// How long keys are remembered.
pub fn retention() -> Duration {
    Duration::hours(24)
}

/// An in-flight record older than this belongs to a request that died; it may be taken over.
pub const LOCK_TIMEOUT_SECS: i64 = 90;

fn applies(method: &Method, path: &str) -> bool {
    !method.is_safe()
        && (path.starts_with("/api/v1/admin/")
            || path == "/api/v1/me"
            || path.starts_with("/api/v1/me/"))
}

/// store + environment + principal: the same key from another store or caller is unrelated.
fn scope_of(principal: &Principal, headers: &HeaderMap) -> String {
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_owned()
    };
    match principal {
        Principal::StoreKey {
            key_id,
            store_id,
            environment,
        } => format!("{store_id}:{environment}:key:{key_id}"),
        Principal::User { user_id, .. } => {
            let environment = match header(ENVIRONMENT_HEADER) {
                e if e.is_empty() => "sandbox".to_owned(),
                e => e,
            };
            format!("{}:{environment}:user:{user_id}", header(STORE_HEADER))
        }
        Principal::Customer(c) => {
            format!(
                "{}:{}:customer:{}",
                c.store_id, c.environment, c.customer_id
            )
        }
    }
}

/// SHA-256 over method, path with query, and body.
fn fingerprint(method: &Method, path_and_query: &str, body: &[u8]) -> Vec<u8> {
    let mut hash = Sha256::new();
    hash.update(method.as_str().as_bytes());
    hash.update(b"\n");
    hash.update(path_and_query.as_bytes());
    hash.update(b"\n");
    hash.update(body);
    hash.finalize().to_vec()
}

/// The edge middleware; a no-op for safe methods and other paths.
pub async fn middleware(State(state): State<AppState>, req: Request, next: Next) -> Response {
    if !applies(req.method(), req.uri().path()) {
        return next.run(req).await;
    }
    let (mut parts, body) = req.into_parts();
    // Without a valid credential the handler answers 401/403; idempotency comes after auth.
    let principal = match principal::resolve(&state, &parts).await {
        Ok(p) => p,
        Err(_) => return next.run(Request::from_parts(parts, body)).await,
    };
    parts.extensions.insert(principal);
    let key = match IdempotencyKey::from_headers(&parts.headers) {
        Ok(k) => k,
        Err(KeyError::Missing) => return ApiError::IdempotencyKeyMissing.into_response(),
        Err(KeyError::Invalid) => return ApiError::IdempotencyKeyInvalid.into_response(),
    };
    let scope = scope_of(&principal, &parts.headers);
    let bytes = match axum::body::to_bytes(body, state.config.body_limit_bytes).await {
        Ok(b) => b,
        Err(_) => return ApiError::PayloadTooLarge.into_response(),
    };
    let path = parts
        .uri
        .path_and_query()
        .map(|p| p.as_str())
        .unwrap_or("/");
    let hash = fingerprint(&parts.method, path, &bytes);
    let request_id = parts.extensions.get::<RequestId>().cloned();

    match acquire(&state, &scope, &key, &hash).await {
        Ok(Acquired::Owner) => {}
        Ok(Acquired::Answer(response)) => return response,
        Err(err) => return err.into_response(),
    }

    let response = next
        .run(Request::from_parts(parts, Body::from(bytes)))
        .await;
    finish(&state, &scope, &key, response, request_id).await
}

enum Acquired {
    Owner,
    Answer(Response),
}

async fn acquire(
    state: &AppState,
    scope: &str,
    key: &IdempotencyKey,
    hash: &[u8],
) -> Result<Acquired, ApiError> {
    let db = &state.db;
    // A few rounds cover the races: a record deleted or expired between our reads.
    for _ in 0..3 {
        let now = state.clock.now();
        if store::claim(db, scope, key.as_str(), hash, now, now + retention()).await? {
            return Ok(Acquired::Owner);
        }
        let Some(record) = store::find(db, scope, key.as_str()).await? else {
            continue;
        };
        if record.expires_at <= now {
            store::release(db, scope, key.as_str()).await?;
            continue;
        }
        if record.request_hash != hash {
            return Err(ApiError::IdempotencyKeyReused);
        }
        if record.completed {
            return Ok(Acquired::Answer(replay(record)));
        }
        if now - record.locked_at >= Duration::seconds(LOCK_TIMEOUT_SECS) {
            if store::take_over(db, scope, key.as_str(), record.locked_at, now).await? {
                tracing::warn!("taking over a stale idempotency lock");
                return Ok(Acquired::Owner);
            }
            return Err(ApiError::IdempotencyKeyInUse);
        }
        return Err(ApiError::IdempotencyKeyInUse);
    }
    Err(ApiError::IdempotencyKeyInUse)
}

fn replay(record: store::Record) -> Response {
    let status = record
        .response_code
        .and_then(|c| u16::try_from(c).ok())
        .and_then(|c| StatusCode::from_u16(c).ok())
        .unwrap_or(StatusCode::OK);
    let mut response = (status, record.response_body.unwrap_or_default()).into_response();
    if let Some(Ok(ct)) = record.response_type.as_deref().map(HeaderValue::from_str) {
        response.headers_mut().insert(header::CONTENT_TYPE, ct);
    }
    response
        .headers_mut()
        .insert(key::REPLAYED_HEADER, HeaderValue::from_static("true"));
    response
}

/// Stores the outcome (or releases the key after a 5xx) and returns the response.
async fn finish(
    state: &AppState,
    scope: &str,
    key: &IdempotencyKey,
    response: Response,
    request_id: Option<RequestId>,
) -> Response {
    if response.status().is_server_error() {
        if let Err(err) = store::release(&state.db, scope, key.as_str()).await {
            tracing::error!(error = %err, "could not release an idempotency key after a 5xx");
        }
        return response;
    }
    let (mut parts, body) = response.into_parts();
    // Render problems here, with the request id, so the stored bytes are exactly what the
    // first caller receives (the outer renderer leaves an already-rendered problem alone).
    let bytes = match parts.extensions.remove::<Problem>() {
        Some(problem) => {
            let problem = Problem {
                request_id: request_id.map(|id| id.as_str().to_owned()),
                ..problem
            };
            parts
                .headers
                .insert(header::CONTENT_TYPE, HeaderValue::from_static(PROBLEM_JSON));
            parts.headers.remove(header::CONTENT_LENGTH);
            Bytes::from(serde_json::to_vec(&problem).unwrap_or_default())
        }
        None => match axum::body::to_bytes(body, usize::MAX).await {
            Ok(b) => b,
            Err(err) => {
                tracing::error!(error = %err, "could not buffer a response for idempotency");
                let _ = store::release(&state.db, scope, key.as_str()).await;
                return ApiError::Internal(anyhow::anyhow!("response body failed")).into_response();
            }
        },
    };
    let content_type = parts
        .headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    if let Err(err) = store::complete(
        &state.db,
        scope,
        key.as_str(),
        parts.status.as_u16(),
        content_type.as_deref(),
        &bytes,
    )
    .await
    {
        // The effect happened; the record stays in flight and is recoverable after the lock
        // timeout. The caller still gets the real outcome now.
        tracing::error!(error = %err, "could not store an idempotent response");
    }
    Response::from_parts(parts, Body::from(bytes))
}
