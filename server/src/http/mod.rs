//! The HTTP edge: router, extractors, errors and middleware.

pub mod auth;
pub mod edge_responses;
pub mod event_catalogue;
pub mod extract;
pub mod formats;
pub mod idempotency;
pub mod links;
pub mod middleware;
pub mod ops;
pub mod pagination;
pub mod problem;
pub mod sandbox_carrier;
pub mod sandbox_psp;

use axum::{
    Router,
    extract::{DefaultBodyLimit, Request, State},
    response::{IntoResponse, Response},
};
use leptos_axum::{LeptosRoutes, generate_route_list};
use tower_http::{catch_panic::CatchPanicLayer, limit::RequestBodyLimitLayer};
use utoipa::OpenApi;
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::{config::RunMode, console, state::AppState};
use problem::{ApiError, Problem};

/// Top-level description of the API; paths come from the routers below.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "Cassa API",
        description = "Multi-tenant payments platform: checkout quotes, payments, shipping, tax. \
                       Errors are RFC 9457 problem+json documents with a stable `code`."
    ),
    // LabelFormat is named only by a query parameter, which does not register its schema.
    components(schemas(Problem, crate::providers::shipping::carrier::LabelFormat)),
    modifiers(&BearerAuth),
    tags(
        (name = "operations", description = "Health, readiness, metrics, API description"),
        (name = "auth", description = "Bearer tokens for console users"),
        (name = "platform", description = "Stores and their users (platform admins)"),
        (name = "api keys", description = "Store secret keys"),
        (name = "members", description = "A store's console members and their roles (owners manage)"),
        (name = "stores", description = "The caller's own store and its profile (name, time zone; owners change it)"),
        (name = "customers", description = "A store's customers and their tokens"),
        (name = "catalog", description = "A store's products"),
        (name = "checkout", description = "Quotes, snapshots and shipping rate tables"),
        (name = "tax", description = "Jurisdiction rates, nexus, exemption certificates"),
        (name = "orders", description = "Customers' orders, priced from the catalogue"),
        (name = "fx", description = "Exchange rates (platform admins import them) and each store's FX policy"),
        (name = "webhooks", description = "Inbound provider webhooks: signed, stored, processed asynchronously"),
        (name = "outbound webhooks", description = "A store's webhook endpoints: signed events about its payments, refunds, orders, shipments, tax and reconciliation, retried for three days, with a delivery log"),
        (name = "payments", description = "Payment intents: authorize, capture, void, refund; the ledger"),
        (name = "credentials", description = "Encrypted provider credentials (masked views only)"),
        (name = "me", description = "Endpoints for a customer token"),
    )
)]
struct ApiDoc;

/// Declares the one security scheme: `Authorization: Bearer <secret>` where the secret is a
/// store key (`sk_test_`/`sk_live_`), a user token (`ut_`) or a customer token (`ct_`).
struct BearerAuth;

impl utoipa::Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
    }
}

/// Documents the `Idempotency-Key` header on every mutating store and customer operation,
/// which the idempotency layer requires.
struct IdempotencyHeader;

impl utoipa::Modify for IdempotencyHeader {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::{
            Required,
            path::{ParameterBuilder, ParameterIn},
            schema::{ObjectBuilder, Type},
        };
        for (path, item) in openapi.paths.paths.iter_mut() {
            for (method, operation) in [
                (axum::http::Method::POST, &mut item.post),
                (axum::http::Method::PUT, &mut item.put),
                (axum::http::Method::PATCH, &mut item.patch),
                (axum::http::Method::DELETE, &mut item.delete),
            ] {
                let Some(operation) = operation else { continue };
                if !idempotency::requires_key(&method, path) {
                    continue;
                }
                let parameter = ParameterBuilder::new()
                    .name(idempotency::HEADER)
                    .parameter_in(ParameterIn::Header)
                    .required(Required::True)
                    .description(Some(
                        "1–255 visible ASCII characters; retries with the same key and request \
                         replay the first response (`Idempotent-Replayed: true`)",
                    ))
                    .schema(Some(
                        ObjectBuilder::new()
                            .schema_type(Type::String)
                            .min_length(Some(1))
                            .max_length(Some(255))
                            .pattern(Some("^[\\x21-\\x7E]+$")),
                    ))
                    .build();
                operation
                    .parameters
                    .get_or_insert_with(Vec::new)
                    .push(parameter);
            }
        }
    }
}

/// Routes under `/api/v1`. Capabilities add their routers here.
fn api_v1() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(ops::openapi_json))
        .nest("/auth", crate::auth::router())
        .merge(crate::webhooks::public_router())
        .nest(
            "/platform",
            crate::tenancy::platform_router()
                .merge(crate::credentials::platform_router())
                .merge(crate::reconciliation::platform_router())
                .merge(crate::fx::platform_router()),
        )
        .nest(
            "/admin",
            crate::tenancy::admin_router()
                .merge(crate::credentials::admin_router())
                .merge(crate::catalog::admin_router())
                .merge(crate::orders::admin_router())
                .merge(crate::payments::admin_router())
                .merge(crate::webhooks::admin_router())
                .merge(crate::checkout::admin_router())
                .merge(crate::shipments::admin_router())
                .merge(crate::tax::admin_router())
                .merge(crate::reconciliation::admin_router())
                .merge(crate::fx::admin_router())
                .merge(crate::outbound::routes::admin_router()),
        )
        .nest(
            "/me",
            crate::tenancy::me_router()
                .merge(crate::orders::me_router())
                .merge(crate::payments::me_router())
                .merge(crate::checkout::me_router())
                .merge(crate::shipments::me_router()),
        )
}

/// Every documented route, with its OpenAPI description.
fn documented_routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .routes(routes!(ops::healthz))
        .routes(routes!(ops::readyz))
        .routes(routes!(ops::metrics))
        .nest("/api/v1", api_v1())
}

/// The OpenAPI document generated from the code (committed as `api/openapi.json`).
pub fn openapi() -> utoipa::openapi::OpenApi {
    let mut doc = documented_routes().split_for_parts().1;
    // After the routes are merged: `#[openapi(modifiers)]` runs before any path exists.
    utoipa::Modify::modify(&IdempotencyHeader, &mut doc);
    utoipa::Modify::modify(&event_catalogue::EventCatalogue, &mut doc);
    utoipa::Modify::modify(&edge_responses::EdgeResponses, &mut doc);
    doc
}

/// The OpenAPI document as the exact text served and committed (pretty JSON, final newline).
pub fn openapi_json() -> String {
    let mut doc = serde_json::to_value(openapi())
        .unwrap_or_else(|e| serde_json::json!({ "error": e.to_string() }));
    links::add(&mut doc);
    formats::add_patterns(&mut doc);
    let mut json =
        serde_json::to_string_pretty(&doc).unwrap_or_else(|e| format!("{{\"error\":\"{e}\"}}"));
    json.push('\n');
    json
}

/// The console's pages, listed once per process.
///
/// Listing them runs the app with resource loading switched off by a process-wide flag in
/// Leptos (`SuppressResourceLoad`): a page rendering at that moment anywhere in the process
/// would start a resource that never resolves and stall its response for good. A second
/// router built while the first serves (tests, embedding) must therefore never list again.
fn console_routes() -> Vec<leptos_axum::AxumRouteListing> {
    static ROUTES: std::sync::LazyLock<Vec<leptos_axum::AxumRouteListing>> =
        std::sync::LazyLock::new(|| generate_route_list(app::App));
    ROUTES.clone()
}

/// Builds the complete router: API, operations, console and the edge layers.
///
/// `extra_api` mounts additional routes under `/api/v1` (embedding and tests use this to put
/// their own handlers behind the real edge).
pub fn router(state: AppState, extra_api: Option<Router<AppState>>) -> Router {
    let (mut api, doc) = documented_routes().split_for_parts();
    let idempotency = idempotency::Layer::new(state.clone(), &doc);
    if let Some(extra) = extra_api {
        api = api.nest("/api/v1", extra);
    }

    let leptos_options = state.leptos.clone();
    let console_routes = console_routes();
    let backend = console::backend(&state);
    let console_context = move || leptos::context::provide_context(backend.clone());
    let fallback_context = console_context.clone();

    let body_limit = state.config.body_limit_bytes;
    // The simulated PSP and carrier live beside the API, as remote providers would (outside
    // /api). They move no real money or parcels and answer anyone with an `sbx_` or `scr_`
    // key, so production serves neither.
    if state.config.run_mode != RunMode::Production {
        api = api.nest("/sandbox-psp", crate::http::sandbox_psp::router(&state));
        api = api.nest(
            "/sandbox-carrier",
            crate::http::sandbox_carrier::router(&state),
        );
    }
    // Label documents and tax exports are files, not pages: plain routes under the console's
    // session.
    api = api
        .route(
            "/console/shipments/{id}/label",
            axum::routing::get(console::label_download),
        )
        .route(
            "/console/tax/export",
            axum::routing::get(console::export_download),
        )
        .route(
            "/console/tax/exports/{id}/download",
            axum::routing::get(console::export_again),
        )
        .route(
            "/console/reconciliation/runs/{id}/items.csv",
            axum::routing::get(console::reconciliation_csv),
        )
        .route(
            "/console/exports/orders.csv",
            axum::routing::get(console::orders_csv),
        );
    api.leptos_routes_with_context(&state, console_routes, console_context, {
        let options = leptos_options.clone();
        move || app::shell(options.clone())
    })
    .fallback(move |state: State<AppState>, req: Request| {
        let context = fallback_context.clone();
        async move { fallback(state, req, context).await }
    })
    // Layers run outside-in from the last one added.
    .layer(axum::middleware::from_fn_with_state(
        idempotency,
        idempotency::middleware,
    ))
    .layer(axum::middleware::from_fn(middleware::reject_cross_site))
    .layer(crate::sessions::layer(
        state.db.clone(),
        state.session_policy,
    ))
    .layer(DefaultBodyLimit::max(body_limit))
    .layer(RequestBodyLimitLayer::new(body_limit))
    .layer(axum::middleware::from_fn_with_state(
        state.clone(),
        middleware::request_timeout,
    ))
    .layer(CatchPanicLayer::custom(middleware::panic_response))
    .layer(axum::middleware::from_fn(middleware::render_problems))
    .layer(axum::middleware::from_fn(middleware::track_metrics))
    .layer(axum::middleware::from_fn_with_state(
        state.clone(),
        middleware::security_headers,
    ))
    .layer(axum::middleware::from_fn(middleware::request_context))
    .with_state(state)
}

/// The router of the separate metrics listener (`CASSA_METRICS_ADDR`): `/metrics` only.
pub fn metrics_router(state: AppState) -> Router {
    Router::new()
        .route("/metrics", axum::routing::get(ops::dedicated_metrics))
        .fallback(|| async { ApiError::NotFound })
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            middleware::security_headers,
        ))
        .with_state(state)
}

/// Unknown API paths are problem+json 404s; everything else is a console asset or page.
async fn fallback(
    state: State<AppState>,
    req: Request,
    context: impl Fn() + Clone + Send + Sync + 'static,
) -> Response {
    let path = req.uri().path();
    if path == "/api"
        || path.starts_with("/api/")
        || path.starts_with("/sandbox-psp/")
        || path.starts_with("/sandbox-carrier/")
    {
        return ApiError::NotFound.into_response();
    }
    let uri = req.uri().clone();
    let handler =
        leptos_axum::file_and_error_handler_with_context::<AppState, _>(context, app::shell);
    handler(uri, state, req).await
}

// Leptos' handlers read their options from the state.
impl axum::extract::FromRef<AppState> for leptos::config::LeptosOptions {
    fn from_ref(state: &AppState) -> Self {
        state.leptos.clone()
    }
}
