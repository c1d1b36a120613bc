//! Idempotency for every mutating request under `/api/v1/admin` and `/api/v1/me`
//! (draft-ietf-httpapi-idempotency-key-header, Stripe semantics).
//!
//! The first request with a key claims `(scope, key)` with an in-flight record; its final
//! response (2xx or 4xx) is stored and replayed byte for byte to retries with the same
//! fingerprint, marked `Idempotent-Replayed: true`. A 5xx releases the key so the client may
//! retry. A retry while the first is in flight is 409; a different request under a used key is
//! 422; a lock older than [`LOCK_TIMEOUT_SECS`] is presumed dead and taken over. Answers marked
//! [`Secret`] are stored sealed with the master key ring (see `seal.rs`).

pub mod answer;
mod deferred;
pub mod key;
mod repo;
mod seal;

use axum::{
    body::{Body, Bytes},
    extract::{Request, State},
    http::{HeaderMap, HeaderValue, Method, StatusCode, header},
    middleware::Next,
    response::{IntoResponse, Response},
};
use chrono::Duration;
use sha2::{Digest, Sha256};

pub use deferred::{Deferred, Stored};
pub use key::{IdempotencyKey, KeyError, provider_key};
pub use seal::{Secret, SecretAnswer};

use crate::{
    auth::principal::{ENVIRONMENT_HEADER, Principal, STORE_HEADER},
    http::{
        middleware::RequestId,
        problem::{ApiError, KeepUnderKey, PROBLEM_JSON, Problem},
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

/// The endpoints whose handlers write the idempotency record inside their own transactions
/// (see [`Deferred`]): the checkout quote and the payment operations, the hot path of a
/// checkout. Every other endpoint gets the claim committed before it runs.
fn handler_writes_record(method: &Method, path: &str) -> bool {
    if method != Method::POST {
        return false;
    }
    let segments: Vec<&str> = path.trim_end_matches('/').split('/').collect();
    matches!(
        segments.as_slice(),
        ["", "api", "v1", "me", "checkout", "quote"]
            | ["", "api", "v1", "me", "orders", _, "payments", "authorize"]
            | [
                "",
                "api",
                "v1",
                "admin",
                "orders",
                _,
                "payments",
                _,
                "capture" | "void" | "refund"
            ]
    )
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
    // A user who must change their password is refused by the handler's extractor; that
    // refusal is not an answer to remember under their key.
    let principal = match crate::http::auth::resolve(&state, &parts).await {
        Ok(p) if !p.must_change_password() => p,
        // Answered here: passing it on would spend a second token in the handler's extractor.
        Err(err @ ApiError::RateLimited(_)) => return err.into_response(),
        _ => return next.run(Request::from_parts(parts, body)).await,
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
    let request_id = parts
        .extensions
        .get::<RequestId>()
        .map(|id| id.as_str().to_owned());
    let deferred = handler_writes_record(&parts.method, parts.uri.path());

    let claimed = match acquire(&state, &scope, &key, &hash, !deferred).await {
        Ok(Acquired::Owner) => true,
        Ok(Acquired::Free) => false,
        Ok(Acquired::Answer(response)) => return response,
        Err(err) => return err.into_response(),
    };
    if !deferred {
        let response = next
            .run(Request::from_parts(parts, Body::from(bytes)))
            .await;
        return finish(&state, &scope, &key, response, request_id).await;
    }
    let record = Deferred::new(
        scope.clone(),
        key.as_str().to_owned(),
        hash.clone(),
        request_id.clone(),
        claimed,
    );
    parts.extensions.insert(record.clone());
    let response = next
        .run(Request::from_parts(parts, Body::from(bytes)))
        .await;
    match record.progress() {
        deferred::Progress::Settled(stored) => stored.into_response(),
        deferred::Progress::Claimed => finish(&state, &scope, &key, response, request_id).await,
        deferred::Progress::Lost => answer_from_record(&state, &scope, &key, &hash).await,
        deferred::Progress::Unclaimed if releases(&response) => response,
        // The handler ended before writing anything (a validation error, an outcome that was
        // already recorded): remember its answer now, unless another request took the key.
        deferred::Progress::Unclaimed => {
            let (parts, bytes) = match render(response, request_id).await {
                Ok(rendered) => rendered,
                Err(err) => return err.into_response(),
            };
            let now = state.clock.now();
            let content_type = content_type(&parts);
            let (key_version, stored) =
                match stored_body(&state, &scope, &key, &parts, &bytes).await {
                    Ok(stored) => stored,
                    Err(err) => {
                        // Never stored in plaintext: unremembered, the answer still stands.
                        tracing::error!(error = %err, "could not seal a secret-bearing answer");
                        return Response::from_parts(parts, Body::from(bytes));
                    }
                };
            match repo::insert_completed(
                &state.db,
                &scope,
                key.as_str(),
                &hash,
                now,
                now + retention(),
                parts.status.as_u16(),
                content_type.as_deref(),
                &stored,
                key_version,
            )
            .await
            {
                Ok(true) => Response::from_parts(parts, Body::from(bytes)),
                Ok(false) => answer_from_record(&state, &scope, &key, &hash).await,
                Err(err) => {
                    // Nothing was changed by this request; its answer still stands.
                    tracing::error!(error = %err, "could not store an idempotent response");
                    Response::from_parts(parts, Body::from(bytes))
                }
            }
        }
    }
}

/// The answer a key's record gives to a request that lost the race for it.
async fn answer_from_record(
    state: &AppState,
    scope: &str,
    key: &IdempotencyKey,
    hash: &[u8],
) -> Response {
    match acquire(state, scope, key, hash, false).await {
        Ok(Acquired::Answer(response)) => response,
        // Released meanwhile (the other request ended in a 5xx): the client may retry.
        Ok(Acquired::Free | Acquired::Owner) => ApiError::IdempotencyKeyInUse.into_response(),
        Err(err) => err.into_response(),
    }
}

enum Acquired {
    /// This request holds the committed in-flight claim.
    Owner,
    /// No record: the handler claims in its own transaction.
    Free,
    /// Answer with this (a replay or an error).
    Answer(Response),
}

/// Looks the key up and, with `claim`, claims it first. Without `claim` nothing is written
/// unless a dead request's lock has to be taken over or an expired record removed.
async fn acquire(
    state: &AppState,
    scope: &str,
    key: &IdempotencyKey,
    hash: &[u8],
    claim: bool,
) -> Result<Acquired, ApiError> {
    let db = &state.db;
    // A few rounds cover the races: a record deleted or expired between our reads.
    for _ in 0..3 {
        let now = state.clock.now();
        if claim && repo::claim(db, scope, key.as_str(), hash, now, now + retention()).await? {
            return Ok(Acquired::Owner);
        }
        let Some(record) = repo::find(db, scope, key.as_str()).await? else {
            if claim {
                continue;
            }
            return Ok(Acquired::Free);
        };
        if record.expires_at <= now {
            repo::release(db, scope, key.as_str()).await?;
            continue;
        }
        if record.request_hash != hash {
            return Err(ApiError::IdempotencyKeyReused);
        }
        if record.completed {
            return Ok(Acquired::Answer(replay(state, scope, key, record).await?));
        }
        if now - record.locked_at >= Duration::seconds(LOCK_TIMEOUT_SECS) {
            if repo::take_over(db, scope, key.as_str(), record.locked_at, now).await? {
                tracing::warn!("taking over a stale idempotency lock");
                return Ok(Acquired::Owner);
            }
            return Err(ApiError::IdempotencyKeyInUse);
        }
        return Err(ApiError::IdempotencyKeyInUse);
    }
    Err(ApiError::IdempotencyKeyInUse)
}

/// Whether a response frees its key for a retry: a 5xx, unless it is final for the key.
fn releases(response: &Response) -> bool {
    response.status().is_server_error() && response.extensions().get::<KeepUnderKey>().is_none()
}

async fn replay(
    state: &AppState,
    scope: &str,
    key: &IdempotencyKey,
    record: repo::Record,
) -> Result<Response, ApiError> {
    let status = record
        .response_code
        .and_then(|c| u16::try_from(c).ok())
        .and_then(|c| StatusCode::from_u16(c).ok())
        .unwrap_or(StatusCode::OK);
    let body = record.response_body.unwrap_or_default();
    let body = match record.response_key_version {
        Some(version) => seal::open(state, scope, key.as_str(), version, &body).await?,
        None => body,
    };
    let mut response = (status, body).into_response();
    if let Some(Ok(ct)) = record.response_type.as_deref().map(HeaderValue::from_str) {
        response.headers_mut().insert(header::CONTENT_TYPE, ct);
    }
    response
        .headers_mut()
        .insert(key::REPLAYED_HEADER, HeaderValue::from_static("true"));
    if record.response_key_version.is_some() {
        response
            .headers_mut()
            .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    Ok(response)
}

/// What to store for an answer: sealed (with the key version) when the handler marked it
/// [`Secret`], otherwise the bytes as sent.
async fn stored_body(
    state: &AppState,
    scope: &str,
    key: &IdempotencyKey,
    parts: &axum::http::response::Parts,
    bytes: &Bytes,
) -> Result<(Option<i32>, Vec<u8>), ApiError> {
    if parts.extensions.get::<SecretAnswer>().is_none() {
        return Ok((None, bytes.to_vec()));
    }
    let (version, sealed) = seal::seal(state, scope, key.as_str(), bytes).await?;
    Ok((Some(version), sealed))
}

fn content_type(parts: &axum::http::response::Parts) -> Option<String> {
    parts
        .headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
}

/// A response's parts and buffered body, exactly as stored and sent: problems are rendered
/// here, with the request id, so the stored bytes are what the first caller receives (the
/// outer renderer leaves an already-rendered problem alone).
async fn render(
    response: Response,
    request_id: Option<String>,
) -> Result<(axum::http::response::Parts, Bytes), ApiError> {
    let (mut parts, body) = response.into_parts();
    let bytes = match parts.extensions.remove::<Problem>() {
        Some(problem) => {
            let problem = Problem {
                request_id,
                ..problem
            };
            parts
                .headers
                .insert(header::CONTENT_TYPE, HeaderValue::from_static(PROBLEM_JSON));
            parts.headers.remove(header::CONTENT_LENGTH);
            Bytes::from(serde_json::to_vec(&problem).unwrap_or_default())
        }
        None => axum::body::to_bytes(body, usize::MAX)
            .await
            .map_err(|err| {
                tracing::error!(error = %err, "could not buffer a response for idempotency");
                ApiError::Internal(anyhow::anyhow!("response body failed"))
            })?,
    };
    Ok((parts, bytes))
}

/// Stores the outcome on the claimed record (or releases the key after a 5xx) and returns the
/// response.
async fn finish(
    state: &AppState,
    scope: &str,
    key: &IdempotencyKey,
    response: Response,
    request_id: Option<String>,
) -> Response {
    if releases(&response) {
        if let Err(err) = repo::release(&state.db, scope, key.as_str()).await {
            tracing::error!(error = %err, "could not release an idempotency key after a 5xx");
        }
        return response;
    }
    let (parts, bytes) = match render(response, request_id).await {
        Ok(rendered) => rendered,
        Err(err) => {
            let _ = repo::release(&state.db, scope, key.as_str()).await;
            return err.into_response();
        }
    };
    let content_type = content_type(&parts);
    let (key_version, stored) = match stored_body(state, scope, key, &parts, &bytes).await {
        Ok(stored) => stored,
        Err(err) => {
            // Never stored in plaintext: the key is released (a retry runs again) and the
            // caller still gets the real outcome now.
            tracing::error!(error = %err, "could not seal a secret-bearing answer");
            let _ = repo::release(&state.db, scope, key.as_str()).await;
            return Response::from_parts(parts, Body::from(bytes));
        }
    };
    if let Err(err) = repo::complete(
        &state.db,
        scope,
        key.as_str(),
        parts.status.as_u16(),
        content_type.as_deref(),
        &stored,
        key_version,
    )
    .await
    {
        // The effect happened; the record stays in flight and is recoverable after the lock
        // timeout. The caller still gets the real outcome now.
        tracing::error!(error = %err, "could not store an idempotent response");
    }
    Response::from_parts(parts, Body::from(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn handlers_write_the_record_only_on_the_checkout_hot_path() {
        let post = Method::POST;
        for path in [
            "/api/v1/me/checkout/quote",
            "/api/v1/me/orders/o1/payments/authorize",
            "/api/v1/admin/orders/o1/payments/p1/capture",
            "/api/v1/admin/orders/o1/payments/p1/void",
            "/api/v1/admin/orders/o1/payments/p1/refund",
        ] {
            assert!(handler_writes_record(&post, path), "{path}");
        }
        for path in [
            "/api/v1/me/orders/o1/pay",
            "/api/v1/me/orders",
            "/api/v1/admin/orders/o1/payments/p1/capture/x",
            "/api/v1/admin/products",
            "/api/v1/me/checkout/quote/x",
        ] {
            assert!(!handler_writes_record(&post, path), "{path}");
        }
        assert!(!handler_writes_record(
            &Method::PUT,
            "/api/v1/me/checkout/quote"
        ));
    }
}
