//! Console users: the bootstrapped platform admin and merchant users of stores.

use secrecy::{ExposeSecret, SecretString};

use super::{Error, StoreUser, repo};
use crate::{
    identity::Role,
    passwords,
    state::AppState,
    types::{Email, StoreId, UserId},
};

/// Email of the generated first admin when none is configured.
pub const DEFAULT_ADMIN_EMAIL: &str = "admin@cassa.local";

/// Makes the user with `email` a member of a store with `role`, creating the user (with
/// `password`, or a generated one returned once) when the email is new. An existing member is
/// a conflict.
pub async fn add_to_store(
    state: &AppState,
    store_id: StoreId,
    email: &Email,
    role: Role,
    password: Option<SecretString>,
) -> Result<StoreUser, Error> {
    super::stores::find(state, store_id).await?;
    // Checked before the email is looked up: a password the request gives is refused the same
    // way whether or not the email already has an account (whose own password it then keeps).
    if password
        .as_ref()
        .is_some_and(|p| p.expose_secret().chars().count() < passwords::MIN_PASSWORD_LEN)
    {
        return Err(passwords::PasswordError::TooShort.into());
    }
    let (user_id, generated_password) =
        match repo::users::find_id(&state.db, email.as_str()).await? {
            Some(id) => (id, None),
            None => {
                let (password, generated) = match password {
                    Some(p) => (p, None),
                    None => {
                        let p = passwords::generate();
                        let shown = p.expose_secret().to_owned();
                        (p, Some(shown))
                    }
                };
                // A generated password travelled in an answer: its owner must replace it.
                let must_change = generated.is_some();
                let id = create_user(state, email, password, false, must_change).await?;
                (id, generated)
            }
        };
    let inserted =
        repo::members::insert(&state.db, store_id, user_id, role, state.clock.now()).await?;
    if !inserted {
        return Err(Error::Conflict(
            "this user is already a member of the store",
        ));
    }
    Ok(StoreUser {
        user_id,
        email: email.as_str().to_owned(),
        store_id,
        role,
        generated_password,
    })
}

/// Inserts a user with an argon2id hash of `password`. An existing email is a conflict.
/// `must_change_password` makes every API call and console page but the password change
/// refuse them until they choose their own.
pub async fn create_user(
    state: &AppState,
    email: &Email,
    password: SecretString,
    is_platform_admin: bool,
    must_change_password: bool,
) -> Result<UserId, Error> {
    let hash = state.passwords.hash(password).await?;
    let id = UserId::new();
    let inserted = repo::users::insert(
        &state.db,
        repo::users::NewUser {
            id,
            email: email.as_str(),
            password_hash: &hash,
            is_platform_admin,
            must_change_password,
            created_at: state.clock.now(),
        },
    )
    .await?;
    if !inserted {
        return Err(Error::Conflict("a user with this email already exists"));
    }
    Ok(id)
}

/// Creates the first platform admin when none exists: from the configured email and password,
/// or with a generated password printed once in the log so a first run leads into the console.
pub async fn bootstrap_admin(
    state: &AppState,
    email: Option<&str>,
    password: Option<SecretString>,
) -> Result<(), Error> {
    if repo::users::count_platform_admins(&state.db).await? > 0 {
        return Ok(());
    }
    let email = Email::parse(email.unwrap_or(DEFAULT_ADMIN_EMAIL))?;
    match password {
        Some(password) => {
            create_user(state, &email, password, true, false).await?;
            tracing::info!(email = %email, "created the platform admin from CASSA_ADMIN_EMAIL");
        }
        None => {
            let password = passwords::generate();
            let shown = password.expose_secret().to_owned();
            // It went to the log: the admin must replace it at first sign-in.
            create_user(state, &email, password, true, true).await?;
            // Printed once, on the first run only: the newcomer's way into the console.
            tracing::warn!(
                email = %email,
                password = %shown,
                "created the first platform admin with a generated password; sign in and choose \
                 a new one (required at first sign-in; set CASSA_ADMIN_EMAIL and \
                 CASSA_ADMIN_PASSWORD to choose them)"
            );
        }
    }
    Ok(())
}
