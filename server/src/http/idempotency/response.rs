//! Responses as answers stored under a key, and answers sent again as responses.

use axum::{
    body::{Body, Bytes},
    http::{HeaderValue, StatusCode, header, response::Parts},
    response::{IntoResponse, Response},
};

use super::REPLAYED_HEADER;
use crate::{
    http::problem::{ApiError, KeepUnderKey, PROBLEM_JSON, Problem},
    idempotency::{Answer, Replay},
};

/// Response extension: this answer reveals a secret.
#[derive(Clone, Copy, Debug)]
pub struct SecretAnswer;

/// A handler's answer that reveals a secret (a new API key, a customer token, …): its
/// idempotency record is stored sealed, and it is never cached on the way
/// (`Cache-Control: no-store`).
pub struct Secret<T>(pub T);

impl<T: IntoResponse> IntoResponse for Secret<T> {
    fn into_response(self) -> Response {
        let mut response = self.0.into_response();
        response.extensions_mut().insert(SecretAnswer);
        response
            .headers_mut()
            .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        response
    }
}

/// Whether a response frees its key for a retry: a 5xx, unless it is final for the key.
pub(super) fn releases(response: &Response) -> bool {
    response.status().is_server_error() && response.extensions().get::<KeepUnderKey>().is_none()
}

/// A response's parts and its answer exactly as stored and sent, and whether it reveals a
/// secret. Problems are rendered here, with the request id, so the stored bytes are what the
/// first caller receives (the outer renderer leaves an already-rendered problem alone).
pub(super) async fn into_answer(
    response: Response,
    request_id: Option<String>,
) -> Result<(Parts, Answer, bool), ApiError> {
    let keep = response.extensions().get::<KeepUnderKey>().is_some();
    let secret = response.extensions().get::<SecretAnswer>().is_some();
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
            serde_json::to_vec(&problem).unwrap_or_default()
        }
        None => axum::body::to_bytes(body, usize::MAX)
            .await
            .map_err(|err| {
                tracing::error!(error = %err, "could not buffer a response for idempotency");
                ApiError::Internal(anyhow::anyhow!("response body failed"))
            })?
            .to_vec(),
    };
    let answer = Answer {
        status: parts.status.as_u16(),
        content_type: parts
            .headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned),
        body: bytes,
        keep,
    };
    Ok((parts, answer, secret))
}

/// The response again from its parts and stored answer.
pub(super) fn rebuilt(parts: Parts, answer: Answer) -> Response {
    Response::from_parts(parts, Body::from(Bytes::from(answer.body)))
}

/// An answer a flow stored in its own transaction, sent as stored.
pub(super) fn sent(answer: Answer) -> Response {
    let status = StatusCode::from_u16(answer.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut response = (status, Body::from(answer.body)).into_response();
    if let Some(Ok(ct)) = answer.content_type.as_deref().map(HeaderValue::from_str) {
        response.headers_mut().insert(header::CONTENT_TYPE, ct);
    }
    response
}

/// A stored answer replayed to a retry.
pub(super) fn replayed(replay: Replay) -> Response {
    let mut response = sent(replay.answer);
    response
        .headers_mut()
        .insert(REPLAYED_HEADER, HeaderValue::from_static("true"));
    if replay.secret {
        response
            .headers_mut()
            .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    response
}
