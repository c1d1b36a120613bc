//! The `Idempotency-Key` edge: every mutating request under `/api/v1/admin` and `/api/v1/me`
//! must carry a key, and holds it through `crate::idempotency` while it runs.
//!
//! By default the claim is committed before the handler runs and the answer stored after it.
//! An operation declared [`IN_TRANSACTION`] where it is declared (its `#[utoipa::path]`
//! attribute) instead gets a [`KeyRecord`] request extension that its flow writes inside its
//! own transactions; the middleware only reads the key's record first and finishes whatever
//! the flow left undone. An undeclared route cannot be forgotten: it gets the default.

mod declared;
mod response;

use axum::{
    body::Body,
    extract::{MatchedPath, Request, State},
    http::{HeaderMap, Method},
    middleware::Next,
    response::{IntoResponse, Response},
};

pub use declared::{Documented, IN_TRANSACTION, InTransaction};
pub use response::{Secret, SecretAnswer};

use crate::{
    auth::principal::{ENVIRONMENT_HEADER, Principal, STORE_HEADER},
    http::{middleware::RequestId, problem::ApiError},
    idempotency::{
        self, Acquired, Fingerprint, IdempotencyKey, KeyError, KeyRecord, KeyedRequest, LockToken,
        Progress, Scope,
    },
    state::AppState,
};

/// Request header carrying the client's key.
pub const HEADER: &str = "idempotency-key";
/// Response header marking a replayed response.
pub const REPLAYED_HEADER: &str = "idempotent-replayed";

/// Whether a request must carry a key: every mutation of the store and customer APIs.
pub fn requires_key(method: &Method, path: &str) -> bool {
    !method.is_safe()
        && (path.starts_with("/api/v1/admin/")
            || path == "/api/v1/me"
            || path.starts_with("/api/v1/me/"))
}

/// Reads and checks the request's key.
pub fn key_from_headers(headers: &HeaderMap) -> Result<IdempotencyKey, KeyError> {
    let value = headers.get(HEADER).ok_or(KeyError::Missing)?;
    let text = value.to_str().map_err(|_| KeyError::Invalid)?;
    IdempotencyKey::parse(text)
}

/// The middleware's state: the application and the operations that write their own record.
#[derive(Clone)]
pub struct Layer {
    state: AppState,
    in_transaction: InTransaction,
    documented: Documented,
}

impl Layer {
    /// The layer for an application documented by `doc`.
    pub fn new(state: AppState, doc: &utoipa::openapi::OpenApi) -> Self {
        Self {
            state,
            in_transaction: InTransaction::from_openapi(doc),
            documented: Documented::from_openapi(doc),
        }
    }
}

/// store + environment + principal: the same key from another store or caller is unrelated.
fn scope_of(principal: &Principal, headers: &HeaderMap) -> Scope {
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
        } => Scope::new(
            &store_id.to_string(),
            environment.as_str(),
            "key",
            &key_id.to_string(),
        ),
        Principal::User { user_id, .. } => {
            // Canonical spellings: the same store or environment written another way (upper
            // case, braces, urn:uuid:) is the same scope. Unparseable headers stay as sent;
            // the handler refuses them.
            let store = header(STORE_HEADER);
            let store = store
                .parse::<crate::types::StoreId>()
                .map_or(store, |id| id.to_string());
            let environment = match header(ENVIRONMENT_HEADER) {
                e if e.is_empty() => "sandbox".to_owned(),
                e => e
                    .parse::<crate::types::Environment>()
                    .map_or(e, |env| env.as_str().to_owned()),
            };
            Scope::new(&store, &environment, "user", &user_id.to_string())
        }
        Principal::Customer(c) => Scope::new(
            &c.store_id.to_string(),
            c.environment.as_str(),
            "customer",
            &c.customer_id.to_string(),
        ),
    }
}

/// The edge middleware; a no-op for safe methods and other paths.
///
/// A flow that stores its answer in its own transaction (a payment's) runs on one held
/// database connection, from the key's lookup to its answer (see `db::held`): its waits are
/// known, and a payment's statements then cost no release ping each.
pub async fn middleware(State(layer): State<Layer>, req: Request, next: Next) -> Response {
    let in_transaction = req
        .extensions()
        .get::<MatchedPath>()
        .is_some_and(|path| layer.in_transaction.contains(req.method(), path.as_str()));
    if in_transaction {
        crate::db::held::hold(keyed(layer, req, next, in_transaction)).await
    } else {
        keyed(layer, req, next, in_transaction).await
    }
}

async fn keyed(layer: Layer, req: Request, next: Next, in_transaction: bool) -> Response {
    let matched = req.extensions().get::<MatchedPath>();
    if !requires_key(req.method(), req.uri().path())
        || matched.is_some_and(|path| layer.documented.lacks_method(req.method(), path.as_str()))
    {
        return next.run(req).await;
    }
    let state = &layer.state;
    let (mut parts, body) = req.into_parts();
    // Without a valid credential the handler answers 401/403; idempotency comes after auth.
    // A user who must change their password is refused by the handler's extractor; that
    // refusal is not an answer to remember under their key.
    let principal = match crate::http::auth::resolve(state, &parts).await {
        Ok(p) if !p.must_change_password() => p,
        // Answered here: passing it on would spend a second token in the handler's extractor.
        Err(err @ ApiError::RateLimited(_)) => return err.into_response(),
        _ => return next.run(Request::from_parts(parts, body)).await,
    };
    parts.extensions.insert(principal);
    let key = match key_from_headers(&parts.headers) {
        Ok(k) => k,
        Err(KeyError::Missing) => return ApiError::IdempotencyKeyMissing.into_response(),
        Err(KeyError::Invalid) => return ApiError::IdempotencyKeyInvalid.into_response(),
    };
    let mode = if in_transaction {
        "in_transaction"
    } else {
        "claim_first"
    };
    metrics::counter!("idempotent_requests_total", "mode" => mode).increment(1);
    // The client may send its body slowly: a connection the principal's lookup kept is not
    // held meanwhile.
    crate::db::held::release();
    let bytes = match axum::body::to_bytes(body, state.config.body_limit_bytes).await {
        Ok(b) => b,
        Err(_) => return ApiError::PayloadTooLarge.into_response(),
    };
    let path = parts
        .uri
        .path_and_query()
        .map(|p| p.as_str())
        .unwrap_or("/");
    let request = KeyedRequest {
        scope: scope_of(&principal, &parts.headers),
        key,
        fingerprint: Fingerprint::of(parts.method.as_str(), path, &bytes),
        owner: LockToken::fresh(),
    };
    let request_id = parts
        .extensions
        .get::<RequestId>()
        .map(|id| id.as_str().to_owned());

    let claimed = match idempotency::acquire(
        &state.db,
        &state.key_ring,
        || state.clock.now(),
        &request,
        !in_transaction,
    )
    .await
    {
        Ok(Acquired::Owner) => true,
        Ok(Acquired::Free) => false,
        Ok(Acquired::Replay(replay)) => return response::replayed(replay),
        Err(err) => return ApiError::from(err).into_response(),
    };
    if !in_transaction {
        let response = next
            .run(Request::from_parts(parts, Body::from(bytes)))
            .await;
        return finish(state, &request, response, request_id).await;
    }
    let record = KeyRecord::new(request.clone(), claimed);
    parts.extensions.insert(record.clone());
    let response = next
        .run(Request::from_parts(parts, Body::from(bytes)))
        .await;
    match record.progress() {
        Progress::Settled(answer) => response::sent(answer),
        Progress::Claimed => finish(state, &request, response, request_id).await,
        Progress::Lost => answer_from_record(state, &request).await,
        // A server error after the flow sent an in-flight claim whose commit it never saw
        // confirmed: the commit may have happened with its acknowledgement lost (a primary
        // failing over mid-`COMMIT`), and a claim left in flight would keep every retry at
        // `409` until the lock timeout. Releasing our own claim (by its owner token) frees the
        // key; the retry resumes what was committed.
        Progress::Unclaimed if response::releases(&response) => {
            if record.claim_maybe_committed()
                && let Err(err) = idempotency::release(&state.db, &request).await
            {
                tracing::error!(error = %err, "could not release an idempotency key after a 5xx");
            }
            response
        }
        // The flow ended before writing anything (a validation error, an outcome that was
        // already recorded): remember its answer now, unless another request took the key.
        Progress::Unclaimed => {
            let (parts, answer, secret) = match response::into_answer(response, request_id).await {
                Ok(rendered) => rendered,
                Err(err) => return err.into_response(),
            };
            let now = state.clock.now();
            match idempotency::insert_completed(
                &state.db,
                &state.key_ring,
                now,
                &request,
                &answer,
                secret,
            )
            .await
            {
                Ok(true) => response::rebuilt(parts, answer),
                Ok(false) => answer_from_record(state, &request).await,
                Err(err) => {
                    // Nothing was changed by this request, and nothing secret is stored in
                    // plaintext: unremembered, its answer still stands.
                    tracing::error!(error = %err, "could not store an idempotent response");
                    response::rebuilt(parts, answer)
                }
            }
        }
    }
}

/// The answer a key's record gives to a request that lost the race for it.
async fn answer_from_record(state: &AppState, request: &KeyedRequest) -> Response {
    match idempotency::acquire(
        &state.db,
        &state.key_ring,
        || state.clock.now(),
        request,
        false,
    )
    .await
    {
        Ok(Acquired::Replay(replay)) => response::replayed(replay),
        // Released meanwhile (the other request ended in a 5xx): the client may retry.
        Ok(Acquired::Free) => ApiError::IdempotencyKeyInUse.into_response(),
        // The holder's lock went stale and this lookup took it over: nothing runs under it
        // here, so free it at once rather than leave the key locked for another timeout.
        Ok(Acquired::Owner) => {
            if let Err(err) = idempotency::release(&state.db, request).await {
                tracing::error!(error = %err, "could not release a lock taken over by a lookup");
            }
            ApiError::IdempotencyKeyInUse.into_response()
        }
        Err(err) => ApiError::from(err).into_response(),
    }
}

/// Stores the outcome on the claimed record (or releases the key after a 5xx) and returns the
/// response.
async fn finish(
    state: &AppState,
    request: &KeyedRequest,
    response: Response,
    request_id: Option<String>,
) -> Response {
    if response::releases(&response) {
        if let Err(err) = idempotency::release(&state.db, request).await {
            tracing::error!(error = %err, "could not release an idempotency key after a 5xx");
        }
        return response;
    }
    let (parts, answer, secret) = match response::into_answer(response, request_id).await {
        Ok(rendered) => rendered,
        Err(err) => {
            let _ = idempotency::release(&state.db, request).await;
            return err.into_response();
        }
    };
    match idempotency::complete(&state.db, &state.key_ring, request, &answer, secret).await {
        Ok(true) => {}
        // Not ours to answer: the lock was taken over as stale (the key's record then gives
        // the other request's answer, or `in use` while it runs), or our own earlier attempt
        // committed unseen (its stored answer is this one). One key, one answer.
        Ok(false) => return answer_from_record(state, request).await,
        Err(err @ idempotency::Error::Seal(_)) => {
            // Never stored in plaintext: the key is released (a retry runs again) and the
            // caller still gets the real outcome now.
            tracing::error!(error = %err, "could not seal a secret-bearing answer");
            let _ = idempotency::release(&state.db, request).await;
        }
        Err(err) => {
            // The effect happened; the record stays in flight and is recoverable after the
            // lock timeout. The caller still gets the real outcome now.
            tracing::error!(error = %err, "could not store an idempotent response");
        }
    }
    response::rebuilt(parts, answer)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_required_on_store_and_customer_mutations_only() {
        assert!(requires_key(&Method::POST, "/api/v1/admin/products"));
        assert!(requires_key(&Method::DELETE, "/api/v1/me/orders/o1"));
        assert!(requires_key(&Method::PATCH, "/api/v1/me"));
        assert!(!requires_key(&Method::GET, "/api/v1/admin/products"));
        assert!(!requires_key(&Method::POST, "/api/v1/auth/login"));
        assert!(!requires_key(&Method::POST, "/api/v1/mega"));
        assert!(!requires_key(&Method::POST, "/api/v1/platform/stores"));
        assert_eq!(key_from_headers(&HeaderMap::new()), Err(KeyError::Missing));
    }
}
