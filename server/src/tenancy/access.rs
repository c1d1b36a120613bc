//! What a console session re-reads on every request: the account behind it (deleted, or its
//! password changed, ends the session) and the stores its user may switch to.

use crate::{
    auth::principal::Role,
    db::{Db, DbError},
    on_db,
    types::{StoreId, UserId},
};

/// A console user's account as a session checks it.
pub struct Account {
    /// Their email (console login).
    pub email: String,
    /// Whether they administer the platform.
    pub is_platform_admin: bool,
    /// Whether they must choose a new password before anything else.
    pub must_change_password: bool,
    /// The stored password hash; sessions compare a digest of it to notice a password change.
    pub password_hash: String,
}

/// The account of `user_id`, `None` once the user is deleted.
pub async fn account(db: &Db, user_id: UserId) -> Result<Option<Account>, DbError> {
    const SQL: &str = "SELECT email, is_platform_admin, must_change_password, password_hash \
                       FROM users WHERE id = $1";
    let row: Option<(String, bool, bool, String)> = on_db!(db, pool => {
        sqlx::query_as(SQL).bind(user_id).fetch_optional(pool).await
    })?;
    Ok(row.map(
        |(email, is_platform_admin, must_change_password, password_hash)| Account {
            email,
            is_platform_admin,
            must_change_password,
            password_hash,
        },
    ))
}

/// A store a user may open.
pub struct OpenableStore {
    /// The store.
    pub id: StoreId,
    /// Its name.
    pub name: String,
    /// The user's membership role; `None` for a platform admin who is not a member.
    pub membership: Option<Role>,
    /// The IANA time zone its times are shown in (`UTC` unless the store chose one).
    pub timezone: String,
}

/// The first `limit` stores `user_id` may open, by id: their memberships, or every store for a
/// platform admin.
pub async fn openable_stores(
    db: &Db,
    user_id: UserId,
    is_platform_admin: bool,
    limit: u32,
) -> Result<Vec<OpenableStore>, DbError> {
    let limit = i64::from(limit);
    let rows: Vec<(StoreId, String, Option<String>, String)> = if is_platform_admin {
        const SQL: &str = "SELECT s.id, s.name, m.role, s.timezone FROM stores s \
                           LEFT JOIN store_memberships m ON m.store_id = s.id AND m.user_id = $1 \
                           ORDER BY s.id LIMIT $2";
        on_db!(db, pool => sqlx::query_as(SQL).bind(user_id).bind(limit).fetch_all(pool).await)
    } else {
        const SQL: &str = "SELECT s.id, s.name, m.role, s.timezone FROM store_memberships m \
                           JOIN stores s ON s.id = m.store_id WHERE m.user_id = $1 \
                           ORDER BY s.id LIMIT $2";
        on_db!(db, pool => sqlx::query_as(SQL).bind(user_id).bind(limit).fetch_all(pool).await)
    }?;
    rows.into_iter()
        .map(|(id, name, role, timezone)| {
            Ok(OpenableStore {
                id,
                name,
                membership: role.as_deref().map(parse_role).transpose()?,
                timezone,
            })
        })
        .collect()
}

/// A role the code does not know stops the request, as an unknown status would.
fn parse_role(text: &str) -> Result<Role, DbError> {
    Role::parse(text)
        .ok_or_else(|| DbError::Query(sqlx::Error::Decode(format!("unknown role {text:?}").into())))
}
