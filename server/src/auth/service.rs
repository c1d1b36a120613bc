//! Sign-in rules shared by the token endpoint and the console: throttling, constant-shape
//! failures, token issuance.

use chrono::{DateTime, Duration, Utc};
use secrecy::SecretString;

use super::{
    password,
    throttle::LoginState,
    tokens::{self, TokenKind},
};
use crate::{
    http::problem::ApiError,
    on_db,
    state::AppState,
    store::StoreError,
    types::{Email, UserId},
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
}

type UserRow = (UserId, String, bool, i32, Option<DateTime<Utc>>);

/// Checks an email and password. Unknown email, wrong password and locked account all fail
/// with the same [`ApiError::InvalidCredentials`] after the same argon2 work.
pub async fn authenticate(
    state: &AppState,
    email: &str,
    password: SecretString,
) -> Result<AuthenticatedUser, ApiError> {
    let now = state.clock.now();
    let user = match Email::parse(email) {
        Ok(email) => find_user(state, &email).await?,
        Err(_) => None,
    };
    let stored_hash = user.as_ref().map(|u| u.1.clone());
    let password_ok = password::verify(password, stored_hash)
        .await
        .map_err(|e| ApiError::Internal(e.into()))?;
    let Some((user_id, _, is_platform_admin, failures, locked_until)) = user else {
        return Err(ApiError::InvalidCredentials);
    };
    let login = LoginState {
        failures,
        locked_until,
    };
    if login.is_locked(now) {
        tracing::warn!(%user_id, "sign-in refused: account locked");
        return Err(ApiError::InvalidCredentials);
    }
    if !password_ok {
        record_failure(state, user_id, login, now).await?;
        return Err(ApiError::InvalidCredentials);
    }
    if login != LoginState::after_success() {
        write_login_state(state, user_id, login, LoginState::after_success()).await?;
    }
    Ok(AuthenticatedUser {
        user_id,
        is_platform_admin,
    })
}

async fn find_user(state: &AppState, email: &Email) -> Result<Option<UserRow>, ApiError> {
    const SQL: &str = "SELECT id, password_hash, is_platform_admin, failed_logins, locked_until \
                       FROM users WHERE email = $1";
    Ok(on_db!(&state.db, pool => {
        sqlx::query_as(SQL).bind(email.as_str()).fetch_optional(pool).await
    })
    .map_err(StoreError::from)?)
}

/// Counts a failure with compare-and-set, so concurrent wrong guesses are all counted.
async fn record_failure(
    state: &AppState,
    user_id: UserId,
    mut current: LoginState,
    now: DateTime<Utc>,
) -> Result<(), ApiError> {
    for _ in 0..8 {
        let next = current.after_failure(now);
        if next == current || write_login_state(state, user_id, current, next).await? {
            if next.is_locked(now) && !current.is_locked(now) {
                tracing::warn!(%user_id, "account locked after repeated sign-in failures");
            }
            return Ok(());
        }
        const SQL: &str = "SELECT failed_logins, locked_until FROM users WHERE id = $1";
        let row: (i32, Option<DateTime<Utc>>) =
            on_db!(&state.db, pool => sqlx::query_as(SQL).bind(user_id).fetch_one(pool).await)
                .map_err(StoreError::from)?;
        current = LoginState {
            failures: row.0,
            locked_until: row.1,
        };
    }
    Err(ApiError::Internal(anyhow::anyhow!(
        "could not record a sign-in failure under contention"
    )))
}

/// Writes `next` if the row still holds `expected`; returns whether it did.
async fn write_login_state(
    state: &AppState,
    user_id: UserId,
    expected: LoginState,
    next: LoginState,
) -> Result<bool, ApiError> {
    // `IS NOT DISTINCT FROM` is not in SQLite; spell the NULL-safe comparison out.
    const SQL: &str = "UPDATE users SET failed_logins = $4, locked_until = $5 \
                       WHERE id = $1 AND failed_logins = $2 \
                       AND ((locked_until IS NULL AND $3 IS NULL) OR locked_until = $3)";
    let updated = on_db!(&state.db, pool => {
        sqlx::query(SQL)
            .bind(user_id)
            .bind(expected.failures)
            .bind(expected.locked_until)
            .bind(next.failures)
            .bind(next.locked_until)
            .execute(pool)
            .await
            .map(|r| r.rows_affected())
    })
    .map_err(StoreError::from)?;
    Ok(updated == 1)
}

/// A bearer token for scripting, shown once.
pub struct IssuedToken {
    /// The token.
    pub token: SecretString,
    /// When it stops working.
    pub expires_at: DateTime<Utc>,
}

/// Issues a short-lived bearer token for `user_id`.
pub async fn issue_user_token(state: &AppState, user_id: UserId) -> Result<IssuedToken, ApiError> {
    let now = state.clock.now();
    let expires_at = now + user_token_ttl();
    let secret = tokens::generate(TokenKind::User);
    const SQL: &str = "INSERT INTO user_tokens (token_hash, user_id, created_at, expires_at) VALUES ($1, $2, $3, $4)";
    on_db!(&state.db, pool => {
        sqlx::query(SQL)
            .bind(&secret.hash)
            .bind(user_id)
            .bind(now)
            .bind(expires_at)
            .execute(pool)
            .await
            .map(|r| r.rows_affected())
    })
    .map_err(StoreError::from)?;
    Ok(IssuedToken {
        token: secret.plaintext,
        expires_at,
    })
}
