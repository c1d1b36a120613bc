//! Sign-in rules shared by the token endpoint and the console: throttling, constant-shape
//! failures, token issuance, password changes.

use std::net::IpAddr;

use chrono::{DateTime, Duration, Utc};
use secrecy::{ExposeSecret, SecretString};

use super::{
    Error, repo,
    throttle::{self, Backoff},
    tokens::{self, TokenKind},
};
use crate::{
    limits, passwords,
    state::AppState,
    types::{Email, InvalidValue, UserId},
};

/// Lifetime of a scripting bearer token.
pub fn user_token_ttl() -> Duration {
    Duration::hours(1)
}

/// A user who proved their password.
#[derive(Clone, Debug)]
pub struct AuthenticatedUser {
    /// The user.
    pub user_id: UserId,
    /// Whether they administer the platform.
    pub is_platform_admin: bool,
    /// Whether their password was generated and must be changed before anything else.
    pub must_change_password: bool,
    /// Changes with the password (see [`credential_stamp`]).
    pub credential_stamp: String,
}

/// A short digest of a stored password hash. A console session remembers the one it signed in
/// with and ends when it differs: a password change ends sessions even if one of them was being
/// written back concurrently with the change's `DELETE`.
pub fn credential_stamp(password_hash: &str) -> String {
    use sha2::{Digest, Sha256};
    Sha256::digest(password_hash.as_bytes())[..8]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Checks an email and password from `client`. An unknown email and a wrong password fail alike
/// with [`Error::InvalidCredentials`] after the same argon2 work, and back off alike.
///
/// In order: an argon2 permit (none free: `503 server_busy`, nothing counted), a token of the
/// client address's failure bucket (`429`), the account's backoff window (`429`, the address's
/// token given back), then the password. Success gives the address's token back and clears the
/// account's backoff.
pub async fn authenticate(
    state: &AppState,
    client: IpAddr,
    email: &str,
    password: SecretString,
) -> Result<AuthenticatedUser, Error> {
    let permit = state.passwords.permit()?;
    let now = state.clock.now();
    let ip_key = limits::limiter_key(client);
    let ip_limiter = &state.limits.sign_in_ip;
    if let Err(retry_after) = ip_limiter.check(&ip_key, now) {
        tracing::warn!(%client, "sign-in refused: too many failures from this address");
        metrics::counter!("sign_in_throttled_total", "limit" => "ip").increment(1);
        return Err(Error::RateLimited(retry_after));
    }
    // The loose shape: an account created before addresses followed RFC 5322 still signs in.
    let email = Email::lookup(email);
    let account = email.as_ref().map(account_key);
    if let Some(account) = &account
        && let Err(err) = claim_attempt(state, account, now).await
    {
        ip_limiter.refund(&ip_key);
        if matches!(err, Error::RateLimited(_)) {
            metrics::counter!("sign_in_throttled_total", "limit" => "account").increment(1);
        }
        return Err(err);
    }
    let user = match &email {
        Some(email) => repo::find_user_by_email(&state.db, email.as_str()).await?,
        None => None,
    };
    let stored_hash = user.as_ref().map(|u| u.password_hash.clone());
    let password_ok = passwords::verify(permit, password, stored_hash).await?;
    let Some(user) = user.filter(|_| password_ok) else {
        return Err(Error::InvalidCredentials);
    };
    ip_limiter.refund(&ip_key);
    if let Some(account) = &account {
        repo::clear_backoff(&state.db, account).await?;
    }
    Ok(AuthenticatedUser {
        user_id: user.id,
        is_platform_admin: user.is_platform_admin,
        must_change_password: user.must_change_password,
        credential_stamp: credential_stamp(&user.password_hash),
    })
}

/// The backoff row's key: a hash, so emails nobody registered are not stored.
fn account_key(email: &Email) -> String {
    use sha2::{Digest, Sha256};
    let digest = Sha256::digest(email.as_str().as_bytes());
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

/// Counts an attempt against the account before its password is checked, with compare-and-set
/// so that concurrent attempts are each counted and at most one gets through an open window.
async fn claim_attempt(state: &AppState, account: &str, now: DateTime<Utc>) -> Result<(), Error> {
    let max = state.config.sign_in_backoff_max;
    for _ in 0..8 {
        let stored = repo::find_backoff(&state.db, account).await?;
        let current = stored.unwrap_or_else(Backoff::clean);
        let next = current
            .claim(now, max)
            .map_err(|wait| Error::RateLimited(throttle::retry_after_secs(wait)))?;
        let next_at = next.next_attempt_at.unwrap_or(now);
        let written = match stored {
            None => repo::insert_backoff(&state.db, account, next, next_at, now).await?,
            Some(_) => {
                repo::update_backoff(&state.db, account, current.failures, next, next_at, now)
                    .await?
            }
        };
        if written {
            return Ok(());
        }
    }
    Err(Error::Internal(anyhow::anyhow!(
        "could not count a sign-in attempt under contention"
    )))
}

/// A bearer token for scripting, shown once.
pub struct IssuedToken {
    /// The token.
    pub token: SecretString,
    /// When it stops working.
    pub expires_at: DateTime<Utc>,
}

/// Issues a short-lived bearer token for `user_id`.
pub async fn issue_user_token(state: &AppState, user_id: UserId) -> Result<IssuedToken, Error> {
    let now = state.clock.now();
    let expires_at = now + user_token_ttl();
    let secret = tokens::generate(TokenKind::User);
    repo::insert_user_token(&state.db, &secret.hash, user_id, now, expires_at).await?;
    Ok(IssuedToken {
        token: secret.plaintext,
        expires_at,
    })
}

/// Replaces `user_id`'s password after checking the current one (through [`authenticate`], so
/// guesses back off like sign-in failures), clears `must_change_password`, and
/// ends every console session and bearer token of the user: whoever learnt the old password
/// keeps nothing it opened.
pub async fn change_password(
    state: &AppState,
    client: IpAddr,
    user_id: UserId,
    current: SecretString,
    new: SecretString,
) -> Result<(), Error> {
    let email = repo::find_email(&state.db, user_id)
        .await?
        .ok_or(Error::Unauthorized)?;
    let same = current.expose_secret() == new.expose_secret();
    authenticate(state, client, &email, current).await?;
    if same {
        return Err(
            InvalidValue::new("new_password", "must differ from the current password").into(),
        );
    }
    let hash = state.passwords.hash(new).await.map_err(|e| match e {
        passwords::PasswordError::TooShort => {
            InvalidValue::new("new_password", e.to_string()).into()
        }
        other => Error::Internal(other.into()),
    })?;
    let mut tx = state.db.begin_write().await?;
    repo::set_password(&mut tx, user_id, &hash).await?;
    repo::end_sessions(&mut tx, user_id).await?;
    tx.commit().await?;
    // Cached principals of the deleted tokens must not outlive them here.
    state.caches.principals.clear();
    tracing::info!(%user_id, "password changed; sessions and tokens ended");
    Ok(())
}
