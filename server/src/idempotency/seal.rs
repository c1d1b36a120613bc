//! Answers that carry a secret (a new API key, a customer token, …) are remembered for replays
//! like any other, but never in plaintext: the stored body is AES-256-GCM-sealed with the
//! primary master key (`response_key_version` names it; the body is nonce ‖ ciphertext), bound
//! to its scope and key, and opened again on replay, so a replay still gets the same bytes.
//!
//! Handlers mark such answers with [`Secret`]. Only they pay for sealing: the payment hot path
//! stores many bodies and none of them carries a secret.

use axum::{
    http::{HeaderValue, header},
    response::{IntoResponse, Response},
};

use crate::{
    credentials::{KeyRingError, Sealed, keys},
    http::problem::ApiError,
    state::AppState,
};

/// Response extension: this answer reveals a secret.
#[derive(Clone, Copy, Debug)]
pub struct SecretAnswer;

/// A handler's answer that reveals a secret: its idempotency record is stored sealed, and it
/// is never cached on the way (`Cache-Control: no-store`).
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

const NONCE_LEN: usize = 12;

/// Associated data: a sealed answer opens only in the record it was stored in.
fn aad(scope: &str, key: &str, version: u32) -> Vec<u8> {
    format!("cassa/idempotency_keys/v1|{scope}|{key}|{version}").into_bytes()
}

fn internal(err: KeyRingError) -> ApiError {
    ApiError::Internal(err.into())
}

/// Seals `body` for the record `(scope, key)`: the key version and the stored bytes.
pub async fn seal(
    state: &AppState,
    scope: &str,
    key: &str,
    body: &[u8],
) -> Result<(i32, Vec<u8>), ApiError> {
    let version = keys::primary_version(&state.db).await?;
    let sealed = state
        .key_ring
        .seal(version, &aad(scope, key, version), body)
        .map_err(internal)?;
    let mut stored = sealed.nonce;
    stored.extend_from_slice(&sealed.ciphertext);
    let version = i32::try_from(version).map_err(|_| internal(KeyRingError::Encrypt))?;
    Ok((version, stored))
}

/// Opens a body sealed by [`seal`] for the record `(scope, key)`.
pub async fn open(
    state: &AppState,
    scope: &str,
    key: &str,
    version: i32,
    stored: &[u8],
) -> Result<Vec<u8>, ApiError> {
    let version = u32::try_from(version).map_err(|_| internal(KeyRingError::Decrypt))?;
    keys::ensure_not_retired(&state.db, version).await?;
    if stored.len() < NONCE_LEN {
        return Err(internal(KeyRingError::Decrypt));
    }
    let (nonce, ciphertext) = stored.split_at(NONCE_LEN);
    let sealed = Sealed {
        version,
        nonce: nonce.to_vec(),
        ciphertext: ciphertext.to_vec(),
    };
    state
        .key_ring
        .open(&sealed, &aad(scope, key, version))
        .map_err(internal)
}
