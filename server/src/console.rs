//! The server's side of the console: implements the interface the Leptos app declares, on top
//! of the same services as the REST API (so a rule holds in both places).

use std::sync::Arc;

use app::backend::{
    ApiKeyView, BoxFuture, ConsoleBackend, ConsoleResult, CredentialRow, DashboardView,
    KeyOverviewView, KeyVersionView, LedgerFilter, LedgerView, OrderDetailView, RevealedSecret,
    RotationView, SharedBackend, StoreChoice, StoreView, SystemStatus, Viewer, WebhookEventsView,
};
use axum::http::request::Parts;
use secrecy::SecretString;
use tower_sessions::Session;

use crate::{
    auth::{
        policy,
        principal::{Actor, Role},
        service,
    },
    credentials::{self, keys},
    db::DbError,
    http::extract::ClientIp,
    http::{middleware::RequestId, pagination::PageQuery, problem::ApiError},
    on_db, payments,
    sessions::{self, ConsoleSession},
    state::AppState,
    tenancy::{api_keys, stores},
    types::{ApiKeyId, Environment, StoreId, UserId},
};

/// The console shows at most this many stores in the switcher and on the stores page.
const CONSOLE_LIST_LIMIT: u32 = 100;

/// Domain access for the console's server functions.
struct ServerBackend {
    state: AppState,
}

/// The backend provided as Leptos context to server functions.
pub fn backend(state: &AppState) -> SharedBackend {
    Arc::new(ServerBackend {
        state: state.clone(),
    })
}

/// Gives a refused sign-in form the API's status and `Retry-After` (429, 503), so scripts and
/// proxies see the same limits as on `/api/v1/auth/token`.
fn answer_status(err: &ApiError) {
    let retry_after = match err {
        ApiError::RateLimited(seconds) => *seconds,
        ApiError::ServerBusy => 1,
        _ => return,
    };
    if let Some(response) = leptos::prelude::use_context::<leptos_axum::ResponseOptions>() {
        response.set_status(err.parts().0);
        response.insert_header(
            axum::http::header::RETRY_AFTER,
            axum::http::HeaderValue::from(retry_after.max(1)),
        );
    }
}

/// What the user sees of an API error: the problem's detail (never internals).
fn shown(err: impl Into<ApiError>) -> String {
    let err: ApiError = err.into();
    let problem = err.to_problem();
    if problem.status >= 500 {
        if let ApiError::Internal(cause) = &err {
            tracing::error!(error = ?cause, "console request failed");
        }
        return "Something went wrong on our side; please try again.".to_owned();
    }
    problem.detail
}

fn session_of(req: &Parts) -> ConsoleResult<Session> {
    req.extensions
        .get::<Session>()
        .cloned()
        .ok_or_else(|| "sessions are not available".to_owned())
}

/// A signed-in user with the store and environment the console is showing.
struct Signed {
    session: Session,
    console: ConsoleSession,
    email: String,
    is_platform_admin: bool,
    must_change_password: bool,
    stores: Vec<StoreChoice>,
}

impl Signed {
    fn current_store(&self) -> Option<&StoreChoice> {
        let wanted = self.console.store_id.map(|s| s.to_string());
        self.stores
            .iter()
            .find(|s| Some(&s.id) == wanted.as_ref())
            .or_else(|| self.stores.first())
    }

    /// The current store and the user's role in it.
    fn scope(&self) -> ConsoleResult<(StoreId, Role)> {
        let store = self
            .current_store()
            .ok_or_else(|| "Open a store first.".to_owned())?;
        let id = store.id.parse().map_err(|_| "invalid store".to_owned())?;
        let role = Role::parse(&store.role).ok_or_else(|| "invalid role".to_owned())?;
        Ok((id, role))
    }

    /// The current store and the user as the role policy sees them.
    fn actor(&self) -> ConsoleResult<(StoreId, Actor)> {
        let (store_id, role) = self.scope()?;
        let user_id = self.console.user_id;
        Ok((store_id, Actor::User { user_id, role }))
    }
}

impl ServerBackend {
    async fn signed(&self, req: &Parts) -> ConsoleResult<Option<Signed>> {
        let session = session_of(req)?;
        let policy = self.state.session_policy;
        let Some(console) = sessions::current(&session, &policy)
            .await
            .map_err(|e| e.to_string())?
        else {
            return Ok(None);
        };
        const SQL: &str = "SELECT email, is_platform_admin, must_change_password, password_hash \
                           FROM users WHERE id = $1";
        let user: Option<(String, bool, bool, String)> = on_db!(&self.state.db, pool => {
            sqlx::query_as(SQL).bind(console.user_id).fetch_optional(pool).await
        })
        .map_err(|e| shown(DbError::from(e)))?;
        // A deleted user, or a password changed since this session signed in: it is over.
        let current = user.filter(|u| service::credential_stamp(&u.3) == console.credential_stamp);
        let Some((email, is_platform_admin, must_change_password, _)) = current else {
            sessions::sign_out(&session)
                .await
                .map_err(|e| e.to_string())?;
            return Ok(None);
        };
        let stores = self
            .store_choices(console.user_id, is_platform_admin)
            .await
            .map_err(shown)?;
        Ok(Some(Signed {
            session,
            console,
            email,
            is_platform_admin,
            must_change_password,
            stores,
        }))
    }

    async fn require_platform_admin(&self, req: &Parts) -> ConsoleResult<Signed> {
        let signed = self.require_signed(req).await?;
        if !signed.is_platform_admin {
            return Err(shown(ApiError::Forbidden));
        }
        Ok(signed)
    }

    /// The signed-in user, refused while their password must be changed (the same rule as the
    /// API's `password_change_required`).
    async fn require_signed(&self, req: &Parts) -> ConsoleResult<Signed> {
        let signed = self
            .signed(req)
            .await?
            .ok_or_else(|| "Your session has ended; sign in again.".to_owned())?;
        if signed.must_change_password {
            return Err(shown(ApiError::PasswordChangeRequired));
        }
        Ok(signed)
    }

    /// Stores the user may open: memberships, or every store for platform admins (as owner).
    async fn store_choices(
        &self,
        user_id: UserId,
        is_platform_admin: bool,
    ) -> Result<Vec<StoreChoice>, ApiError> {
        let rows: Vec<(StoreId, String, String)> = if is_platform_admin {
            const SQL: &str = "SELECT s.id, s.name, COALESCE(m.role, 'owner') FROM stores s \
                               LEFT JOIN store_memberships m ON m.store_id = s.id AND m.user_id = $1 \
                               ORDER BY s.id LIMIT $2";
            on_db!(&self.state.db, pool => {
                sqlx::query_as(SQL).bind(user_id).bind(i64::from(CONSOLE_LIST_LIMIT)).fetch_all(pool).await
            })
        } else {
            const SQL: &str = "SELECT s.id, s.name, m.role FROM store_memberships m \
                               JOIN stores s ON s.id = m.store_id WHERE m.user_id = $1 \
                               ORDER BY s.id LIMIT $2";
            on_db!(&self.state.db, pool => {
                sqlx::query_as(SQL).bind(user_id).bind(i64::from(CONSOLE_LIST_LIMIT)).fetch_all(pool).await
            })
        }
        .map_err(DbError::from)?;
        Ok(rows
            .into_iter()
            .map(|(id, name, role)| StoreChoice {
                id: id.to_string(),
                name,
                role,
            })
            .collect())
    }
}

fn credential_row(view: credentials::CredentialView) -> CredentialRow {
    let masked = view
        .masked
        .as_object()
        .map(|fields| {
            fields
                .iter()
                .filter(|(_, v)| !v.is_null())
                .map(|(k, v)| {
                    (
                        k.clone(),
                        v.as_str()
                            .map(str::to_owned)
                            .unwrap_or_else(|| v.to_string()),
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    CredentialRow {
        provider: view.provider.as_str().to_owned(),
        environment: view.environment.as_str().to_owned(),
        masked,
        key_version: view.key_version,
        updated_at: view.updated_at.to_rfc3339(),
    }
}

fn page() -> PageQuery {
    PageQuery {
        limit: Some(CONSOLE_LIST_LIMIT),
        starting_after: None,
    }
}

impl ConsoleBackend for ServerBackend {
    fn system_status(&self) -> BoxFuture<'_, SystemStatus> {
        Box::pin(async move {
            let db = &self.state.db;
            let ready = db.probe().await.is_ok();
            let migrations_applied = if ready {
                db.applied_migrations().await.unwrap_or(0)
            } else {
                0
            };
            SystemStatus {
                version: env!("CARGO_PKG_VERSION").to_owned(),
                database_backend: db.backend().as_str().to_owned(),
                database_ready: ready,
                migrations_applied,
            }
        })
    }

    fn viewer<'a>(&'a self, req: &'a Parts) -> BoxFuture<'a, ConsoleResult<Option<Viewer>>> {
        Box::pin(async move {
            Ok(self.signed(req).await?.map(|s| Viewer {
                store: s.current_store().cloned(),
                email: s.email,
                is_platform_admin: s.is_platform_admin,
                stores: s.stores,
                environment: s.console.environment.as_str().to_owned(),
                must_change_password: s.must_change_password,
            }))
        })
    }

    fn sign_in<'a>(
        &'a self,
        req: &'a Parts,
        email: String,
        password: String,
    ) -> BoxFuture<'a, ConsoleResult<bool>> {
        Box::pin(async move {
            let session = session_of(req)?;
            let client = ClientIp::of(req, &self.state.config.trusted_proxies).0;
            let user =
                service::authenticate(&self.state, client, &email, SecretString::from(password))
                    .await
                    .map_err(|err| {
                        let err = ApiError::from(err);
                        answer_status(&err);
                        shown(err)
                    })?;
            let console = ConsoleSession {
                user_id: user.user_id,
                signed_in_at: chrono::Utc::now(),
                store_id: None,
                environment: Environment::Sandbox,
                credential_stamp: user.credential_stamp,
            };
            sessions::sign_in(&session, &console)
                .await
                .map_err(|e| e.to_string())?;
            tracing::info!(user_id = %user.user_id, "console sign-in");
            Ok(user.must_change_password)
        })
    }

    fn change_password<'a>(
        &'a self,
        req: &'a Parts,
        current_password: String,
        new_password: String,
    ) -> BoxFuture<'a, ConsoleResult<()>> {
        Box::pin(async move {
            let signed = self
                .signed(req)
                .await?
                .ok_or_else(|| "Your session has ended; sign in again.".to_owned())?;
            let client = ClientIp::of(req, &self.state.config.trusted_proxies).0;
            service::change_password(
                &self.state,
                client,
                signed.console.user_id,
                SecretString::from(current_password),
                SecretString::from(new_password),
            )
            .await
            .map_err(shown)?;
            // The change deleted the stored sessions; flushing keeps the layer from writing
            // this one back at the end of the request.
            sessions::sign_out(&signed.session)
                .await
                .map_err(|e| e.to_string())
        })
    }

    fn sign_out<'a>(&'a self, req: &'a Parts) -> BoxFuture<'a, ConsoleResult<()>> {
        Box::pin(async move {
            let session = session_of(req)?;
            sessions::sign_out(&session)
                .await
                .map_err(|e| e.to_string())
        })
    }

    fn select<'a>(
        &'a self,
        req: &'a Parts,
        store_id: Option<String>,
        environment: Option<String>,
    ) -> BoxFuture<'a, ConsoleResult<()>> {
        Box::pin(async move {
            let signed = self.require_signed(req).await?;
            let mut console = signed.console.clone();
            if let Some(store_id) = store_id.filter(|s| !s.is_empty()) {
                if !signed.stores.iter().any(|s| s.id == store_id) {
                    return Err("No such store.".to_owned());
                }
                console.store_id = store_id.parse().ok();
            }
            if let Some(environment) = environment.filter(|e| !e.is_empty()) {
                console.environment = environment
                    .parse()
                    .map_err(|e: crate::types::InvalidValue| e.to_string())?;
            }
            sessions::update(&signed.session, &console)
                .await
                .map_err(|e| e.to_string())
        })
    }

    fn api_keys<'a>(&'a self, req: &'a Parts) -> BoxFuture<'a, ConsoleResult<Vec<ApiKeyView>>> {
        Box::pin(async move {
            let signed = self.require_signed(req).await?;
            let (store_id, _) = signed.scope()?;
            let keys = api_keys::list(&self.state, store_id, signed.console.environment, page())
                .await
                .map_err(shown)?;
            Ok(keys
                .data
                .into_iter()
                .map(|k| ApiKeyView {
                    id: k.id.to_string(),
                    name: k.name,
                    environment: k.environment.as_str().to_owned(),
                    display_hint: k.display_hint,
                    created_at: k.created_at.to_rfc3339(),
                    last_used_at: k.last_used_at.map(|t| t.to_rfc3339()),
                    revoked: k.revoked_at.is_some(),
                })
                .collect())
        })
    }

    fn create_api_key<'a>(
        &'a self,
        req: &'a Parts,
        name: String,
    ) -> BoxFuture<'a, ConsoleResult<RevealedSecret>> {
        Box::pin(async move {
            let signed = self.require_signed(req).await?;
            let (store_id, actor) = signed.actor()?;
            policy::create_key(actor).map_err(shown)?;
            let created =
                api_keys::create(&self.state, store_id, signed.console.environment, &name)
                    .await
                    .map_err(shown)?;
            Ok(RevealedSecret {
                label: created.key.name,
                secret: created.secret,
            })
        })
    }

    fn revoke_api_key<'a>(
        &'a self,
        req: &'a Parts,
        key_id: String,
    ) -> BoxFuture<'a, ConsoleResult<()>> {
        Box::pin(async move {
            let signed = self.require_signed(req).await?;
            let (store_id, actor) = signed.actor()?;
            policy::revoke_key(actor, signed.console.environment).map_err(shown)?;
            let key_id: ApiKeyId = key_id.parse().map_err(|_| shown(ApiError::NotFound))?;
            api_keys::revoke(&self.state, store_id, signed.console.environment, key_id)
                .await
                .map_err(shown)?;
            Ok(())
        })
    }

    fn credentials<'a>(
        &'a self,
        req: &'a Parts,
    ) -> BoxFuture<'a, ConsoleResult<Vec<CredentialRow>>> {
        Box::pin(async move {
            let signed = self.require_signed(req).await?;
            let (store_id, _) = signed.scope()?;
            let rows = credentials::list(&self.state, store_id, signed.console.environment)
                .await
                .map_err(shown)?;
            Ok(rows.into_iter().map(credential_row).collect())
        })
    }

    fn put_credentials<'a>(
        &'a self,
        req: &'a Parts,
        provider: String,
        fields: Vec<(String, String)>,
    ) -> BoxFuture<'a, ConsoleResult<CredentialRow>> {
        Box::pin(async move {
            let signed = self.require_signed(req).await?;
            let (store_id, actor) = signed.actor()?;
            let environment = signed.console.environment;
            policy::manage_credentials(actor, environment, environment).map_err(shown)?;
            if self.state.payment_providers.get(&provider).is_none() {
                return Err("Unknown provider.".to_owned());
            }
            let body: serde_json::Map<String, serde_json::Value> = fields
                .into_iter()
                .map(|(k, v)| (k, serde_json::Value::String(v)))
                .collect();
            let secrets = credentials::parse(&self.state, &provider, &body.into())
                .map_err(|e| e.to_string())?;
            let view = credentials::put(&self.state, store_id, environment, &secrets)
                .await
                .map_err(shown)?;
            Ok(credential_row(view))
        })
    }

    fn key_overview<'a>(&'a self, req: &'a Parts) -> BoxFuture<'a, ConsoleResult<KeyOverviewView>> {
        Box::pin(async move {
            self.require_platform_admin(req).await?;
            let versions = keys::list_versions(&self.state).await.map_err(shown)?;
            let rotations = keys::list_rotations(&self.state).await.map_err(shown)?;
            Ok(KeyOverviewView {
                versions: versions
                    .into_iter()
                    .map(|v| KeyVersionView {
                        version: v.version,
                        status: v.status,
                        configured: v.configured,
                        rows: v.rows,
                    })
                    .collect(),
                rotations: rotations
                    .into_iter()
                    .map(|r| RotationView {
                        id: r.id.to_string(),
                        target_version: r.target_version,
                        status: r.status,
                        total: r.total,
                        done: r.done,
                        started_at: r.started_at.to_rfc3339(),
                    })
                    .collect(),
            })
        })
    }

    fn start_rotation<'a>(
        &'a self,
        req: &'a Parts,
        version: u32,
    ) -> BoxFuture<'a, ConsoleResult<()>> {
        Box::pin(async move {
            self.require_platform_admin(req).await?;
            keys::start_and_run(&self.state, version)
                .await
                .map_err(shown)?;
            Ok(())
        })
    }

    fn retire_key<'a>(&'a self, req: &'a Parts, version: u32) -> BoxFuture<'a, ConsoleResult<()>> {
        Box::pin(async move {
            self.require_platform_admin(req).await?;
            keys::retire(&self.state, version).await.map_err(shown)?;
            Ok(())
        })
    }

    fn stores<'a>(&'a self, req: &'a Parts) -> BoxFuture<'a, ConsoleResult<Vec<StoreView>>> {
        Box::pin(async move {
            self.require_platform_admin(req).await?;
            let page = stores::list(&self.state, page()).await.map_err(shown)?;
            Ok(page
                .data
                .into_iter()
                .map(|s| StoreView {
                    id: s.id.to_string(),
                    name: s.name,
                    currency: s.currency.code().to_owned(),
                    created_at: s.created_at.to_rfc3339(),
                })
                .collect())
        })
    }

    fn create_store<'a>(
        &'a self,
        req: &'a Parts,
        name: String,
        currency: String,
    ) -> BoxFuture<'a, ConsoleResult<RevealedSecret>> {
        Box::pin(async move {
            self.require_platform_admin(req).await?;
            let created = stores::create(&self.state, &name, &currency)
                .await
                .map_err(shown)?;
            Ok(RevealedSecret {
                label: created.store.name,
                secret: created.sandbox_secret_key,
            })
        })
    }

    fn dashboard<'a>(
        &'a self,
        req: &'a Parts,
    ) -> BoxFuture<'a, ConsoleResult<Option<DashboardView>>> {
        Box::pin(async move {
            let signed = self.require_signed(req).await?;
            let Some(store) = signed.current_store() else {
                return Ok(None);
            };
            let (store_id, _) = signed.scope()?;
            payments::console::dashboard(
                &self.state,
                store_id,
                signed.console.environment,
                store.name.clone(),
            )
            .await
            .map(Some)
            .map_err(shown)
        })
    }

    fn payments<'a>(
        &'a self,
        req: &'a Parts,
        filter: LedgerFilter,
    ) -> BoxFuture<'a, ConsoleResult<LedgerView>> {
        Box::pin(async move {
            let signed = self.require_signed(req).await?;
            let (store_id, _) = signed.scope()?;
            payments::console::ledger(&self.state, store_id, signed.console.environment, &filter)
                .await
                .map_err(shown)
        })
    }

    fn order_payments<'a>(
        &'a self,
        req: &'a Parts,
        order_id: String,
    ) -> BoxFuture<'a, ConsoleResult<OrderDetailView>> {
        Box::pin(async move {
            let signed = self.require_signed(req).await?;
            let (store_id, _) = signed.scope()?;
            payments::console::order_detail(
                &self.state,
                store_id,
                signed.console.environment,
                &order_id,
            )
            .await
            .map_err(shown)
        })
    }

    fn payment_action<'a>(
        &'a self,
        req: &'a Parts,
        order_id: String,
        intent_id: String,
        action: String,
        amount: Option<i64>,
        reason: Option<String>,
        idempotency_key: String,
    ) -> BoxFuture<'a, ConsoleResult<String>> {
        Box::pin(async move {
            let signed = self.require_signed(req).await?;
            let (store_id, actor) = signed.actor()?;
            policy::move_money(actor, signed.console.environment).map_err(shown)?;
            let caller = payments::Caller {
                source: payments::Source::Api,
                actor: format!("user:{}", signed.console.user_id),
                correlation_id: req
                    .extensions
                    .get::<RequestId>()
                    .map(|id| id.as_str().to_owned())
                    .unwrap_or_else(|| uuid::Uuid::now_v7().to_string()),
            };
            payments::console::action(
                &self.state,
                store_id,
                signed.console.environment,
                &caller,
                &order_id,
                &intent_id,
                &action,
                amount,
                reason,
                &idempotency_key,
            )
            .await
            .map_err(shown)
        })
    }

    fn webhook_events<'a>(
        &'a self,
        req: &'a Parts,
        status: Option<String>,
        after: Option<String>,
    ) -> BoxFuture<'a, ConsoleResult<WebhookEventsView>> {
        Box::pin(async move {
            let signed = self.require_signed(req).await?;
            let (store_id, _) = signed.scope()?;
            let env = signed.console.environment;
            crate::webhooks::console::events(&self.state, store_id, env, status, after)
                .await
                .map_err(shown)
        })
    }

    fn replay_webhook<'a>(
        &'a self,
        req: &'a Parts,
        event_id: String,
    ) -> BoxFuture<'a, ConsoleResult<String>> {
        Box::pin(async move {
            let signed = self.require_signed(req).await?;
            let (store_id, _) = signed.scope()?;
            let env = signed.console.environment;
            crate::webhooks::console::replay(&self.state, store_id, env, &event_id)
                .await
                .map_err(shown)
        })
    }
}
