//! The server's side of the console: implements the interface the Leptos app declares
//! (`app::backend::ConsoleBackend`, called by its server functions) on top of the same
//! services and role policy as the REST API, so a rule holds in both places.
//!
//! One file per page group; [`context`] says who is signed in and which store and environment
//! they see; failures become text for the user here, in [`shown`], and nowhere else.

mod api_keys;
mod catalogue;
mod context;
mod credentials;
mod customers;
mod dashboard;
mod disputes;
mod fx_rates;
mod master_keys;
mod order_summary;
mod orders;
mod overview;
mod payments;
mod providers;
mod rates;
mod reconciliation;
mod session;
mod settings;
mod shipments;
mod stores;
mod tax;
mod team;
mod time;
mod webhook_endpoints;
mod webhooks;

use std::sync::Arc;

use app::backend::{
    ApiKeyView, BoxFuture, ConsoleBackend, ConsoleResult, CredentialRow, FxImportOutcome,
    FxRatesPageView, KeyOverviewView, LedgerFilter, LedgerView, OrderDetailView,
    ReconciliationPageView, RevealedSecret, SharedBackend, ShipmentView, ShipmentsView, StoreView,
    SystemStatus, TaxExemptionRow, TaxPageView, Viewer, WebhookEventsView,
};
use axum::http::request::Parts;

pub use orders::orders_csv;
pub use reconciliation::items_csv as reconciliation_csv;
pub use shipments::label_download;
pub use tax::{export_again, export_download};

use crate::{
    http::{middleware::RequestId, pagination::PageQuery, problem::ApiError},
    identity::Actor,
    payments::Caller,
    state::AppState,
};

/// The console shows at most this many stores in the switcher and on the stores page, and
/// this many keys.
const LIST_LIMIT: u32 = 100;

fn first_page() -> PageQuery {
    PageQuery {
        limit: Some(LIST_LIMIT),
        starting_after: None,
    }
}

/// What the user sees of a failure: the problem's detail, as the API would answer (never
/// internals: a server-side failure is logged and shown as a generic sentence).
fn shown(err: impl Into<ApiError>) -> String {
    let err = err.into();
    let problem = err.to_problem();
    if problem.status >= 500 {
        if let ApiError::Internal(cause) = &err {
            tracing::error!(error = ?cause, "console request failed");
        }
        return "Something went wrong on our side; please try again.".to_owned();
    }
    problem.detail
}

/// Failures whose own message is meant for the user (a form field, the session store).
fn told(err: impl std::fmt::Display) -> String {
    err.to_string()
}

/// A refused sign-in: besides the message, the form's response gets the API's status and
/// `Retry-After` (429, 503), so scripts and proxies see the same limits as on
/// `/api/v1/auth/token`.
fn refused_sign_in(err: impl Into<ApiError>) -> String {
    let err = err.into();
    let retry_after = match &err {
        ApiError::RateLimited(seconds) => Some(*seconds),
        ApiError::ServerBusy => Some(1),
        _ => None,
    };
    if let Some(retry_after) = retry_after
        && let Some(response) = leptos::prelude::use_context::<leptos_axum::ResponseOptions>()
    {
        response.set_status(err.parts().0);
        response.insert_header(
            axum::http::header::RETRY_AFTER,
            axum::http::HeaderValue::from(retry_after.max(1)),
        );
    }
    shown(err)
}

/// Who acts in a console request, as ledgers and audits record it.
fn caller(req: &Parts, actor: Actor) -> Caller {
    let request_id = req.extensions.get::<RequestId>().map(RequestId::as_str);
    Caller::of_store(actor, request_id)
}

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

impl ConsoleBackend for ServerBackend {
    fn system_status(&self) -> BoxFuture<'_, SystemStatus> {
        Box::pin(overview::system_status(&self.state))
    }

    fn viewer<'a>(&'a self, req: &'a Parts) -> BoxFuture<'a, ConsoleResult<Option<Viewer>>> {
        Box::pin(session::viewer(&self.state, req))
    }

    fn sign_in<'a>(
        &'a self,
        req: &'a Parts,
        email: String,
        password: String,
    ) -> BoxFuture<'a, ConsoleResult<bool>> {
        Box::pin(session::sign_in(&self.state, req, email, password))
    }

    fn change_password<'a>(
        &'a self,
        req: &'a Parts,
        current_password: String,
        new_password: String,
    ) -> BoxFuture<'a, ConsoleResult<()>> {
        Box::pin(session::change_password(
            &self.state,
            req,
            current_password,
            new_password,
        ))
    }

    fn sign_out<'a>(&'a self, req: &'a Parts) -> BoxFuture<'a, ConsoleResult<()>> {
        Box::pin(session::sign_out(req))
    }

    fn select<'a>(
        &'a self,
        req: &'a Parts,
        store_id: Option<String>,
        environment: Option<String>,
    ) -> BoxFuture<'a, ConsoleResult<()>> {
        Box::pin(session::select(&self.state, req, store_id, environment))
    }

    fn api_keys<'a>(&'a self, req: &'a Parts) -> BoxFuture<'a, ConsoleResult<Vec<ApiKeyView>>> {
        Box::pin(api_keys::list(&self.state, req))
    }

    fn create_api_key<'a>(
        &'a self,
        req: &'a Parts,
        name: String,
    ) -> BoxFuture<'a, ConsoleResult<RevealedSecret>> {
        Box::pin(api_keys::create(&self.state, req, name))
    }

    fn revoke_api_key<'a>(
        &'a self,
        req: &'a Parts,
        key_id: String,
    ) -> BoxFuture<'a, ConsoleResult<()>> {
        Box::pin(api_keys::revoke(&self.state, req, key_id))
    }

    fn stores<'a>(&'a self, req: &'a Parts) -> BoxFuture<'a, ConsoleResult<Vec<StoreView>>> {
        Box::pin(stores::list(&self.state, req))
    }

    fn create_store<'a>(
        &'a self,
        req: &'a Parts,
        name: String,
        currency: String,
    ) -> BoxFuture<'a, ConsoleResult<RevealedSecret>> {
        Box::pin(stores::create(&self.state, req, name, currency))
    }

    fn credentials<'a>(
        &'a self,
        req: &'a Parts,
    ) -> BoxFuture<'a, ConsoleResult<Vec<CredentialRow>>> {
        Box::pin(credentials::list(&self.state, req))
    }

    fn put_credentials<'a>(
        &'a self,
        req: &'a Parts,
        provider: String,
        fields: Vec<(String, String)>,
    ) -> BoxFuture<'a, ConsoleResult<CredentialRow>> {
        Box::pin(credentials::put(&self.state, req, provider, fields))
    }

    fn key_overview<'a>(&'a self, req: &'a Parts) -> BoxFuture<'a, ConsoleResult<KeyOverviewView>> {
        Box::pin(master_keys::overview(&self.state, req))
    }

    fn start_rotation<'a>(
        &'a self,
        req: &'a Parts,
        version: u32,
    ) -> BoxFuture<'a, ConsoleResult<()>> {
        Box::pin(master_keys::start_rotation(&self.state, req, version))
    }

    fn retire_key<'a>(&'a self, req: &'a Parts, version: u32) -> BoxFuture<'a, ConsoleResult<()>> {
        Box::pin(master_keys::retire(&self.state, req, version))
    }

    fn payments<'a>(
        &'a self,
        req: &'a Parts,
        filter: LedgerFilter,
    ) -> BoxFuture<'a, ConsoleResult<LedgerView>> {
        Box::pin(payments::ledger(&self.state, req, filter))
    }

    fn order_payments<'a>(
        &'a self,
        req: &'a Parts,
        order_id: String,
    ) -> BoxFuture<'a, ConsoleResult<OrderDetailView>> {
        Box::pin(payments::order_detail(&self.state, req, order_id))
    }

    fn payment_action<'a>(
        &'a self,
        req: &'a Parts,
        order_id: String,
        intent_id: String,
        action: String,
        amount: Option<String>,
        reason: Option<String>,
        idempotency_key: String,
    ) -> BoxFuture<'a, ConsoleResult<String>> {
        let form = payments::ActionForm {
            order_id,
            intent_id,
            action,
            amount,
            reason,
            idempotency_key,
        };
        Box::pin(payments::action(&self.state, req, form))
    }

    fn webhook_events<'a>(
        &'a self,
        req: &'a Parts,
        status: Option<String>,
        after: Option<String>,
    ) -> BoxFuture<'a, ConsoleResult<WebhookEventsView>> {
        Box::pin(webhooks::events(&self.state, req, status, after))
    }

    fn replay_webhook<'a>(
        &'a self,
        req: &'a Parts,
        event_id: String,
    ) -> BoxFuture<'a, ConsoleResult<String>> {
        Box::pin(webhooks::replay(&self.state, req, event_id))
    }

    fn shipments<'a>(
        &'a self,
        req: &'a Parts,
        status: Option<String>,
        after: Option<String>,
    ) -> BoxFuture<'a, ConsoleResult<ShipmentsView>> {
        Box::pin(shipments::list(&self.state, req, status, after))
    }

    fn order_shipping<'a>(
        &'a self,
        req: &'a Parts,
        order_id: String,
    ) -> BoxFuture<'a, ConsoleResult<Vec<ShipmentView>>> {
        Box::pin(shipments::of_order(&self.state, req, order_id))
    }

    fn buy_label<'a>(
        &'a self,
        req: &'a Parts,
        order_id: String,
        accept_price_change: bool,
    ) -> BoxFuture<'a, ConsoleResult<String>> {
        Box::pin(shipments::buy(
            &self.state,
            req,
            order_id,
            accept_price_change,
        ))
    }

    fn void_shipment<'a>(
        &'a self,
        req: &'a Parts,
        shipment_id: String,
    ) -> BoxFuture<'a, ConsoleResult<String>> {
        Box::pin(shipments::void(&self.state, req, shipment_id))
    }

    fn reconciliation_page<'a>(
        &'a self,
        req: &'a Parts,
        run: Option<String>,
    ) -> BoxFuture<'a, ConsoleResult<ReconciliationPageView>> {
        Box::pin(reconciliation::page(&self.state, req, run))
    }

    fn start_reconciliation<'a>(
        &'a self,
        req: &'a Parts,
        from: String,
        to: String,
    ) -> BoxFuture<'a, ConsoleResult<String>> {
        Box::pin(reconciliation::start(&self.state, req, from, to))
    }

    fn save_reconciliation_schedule<'a>(
        &'a self,
        req: &'a Parts,
        daily_at: String,
        enabled: bool,
    ) -> BoxFuture<'a, ConsoleResult<String>> {
        Box::pin(reconciliation::save_schedule(
            &self.state,
            req,
            daily_at,
            enabled,
        ))
    }

    fn resolve_reconciliation_item<'a>(
        &'a self,
        req: &'a Parts,
        item_id: String,
        resolution: String,
        note: String,
    ) -> BoxFuture<'a, ConsoleResult<String>> {
        Box::pin(reconciliation::resolve(
            &self.state,
            req,
            item_id,
            resolution,
            note,
        ))
    }

    fn tax_page<'a>(
        &'a self,
        req: &'a Parts,
        from: Option<String>,
        to: Option<String>,
    ) -> BoxFuture<'a, ConsoleResult<TaxPageView>> {
        Box::pin(tax::page(&self.state, req, from, to))
    }

    fn save_tax_rules<'a>(
        &'a self,
        req: &'a Parts,
        json: String,
    ) -> BoxFuture<'a, ConsoleResult<String>> {
        Box::pin(tax::save_rules(&self.state, req, json))
    }

    fn save_tax_nexus<'a>(
        &'a self,
        req: &'a Parts,
        json: String,
    ) -> BoxFuture<'a, ConsoleResult<String>> {
        Box::pin(tax::save_nexus(&self.state, req, json))
    }

    fn save_tax_settings<'a>(
        &'a self,
        req: &'a Parts,
        engine: String,
        fallback: String,
    ) -> BoxFuture<'a, ConsoleResult<String>> {
        Box::pin(tax::save_settings(&self.state, req, engine, fallback))
    }

    fn tax_exemptions<'a>(
        &'a self,
        req: &'a Parts,
        customer_id: String,
    ) -> BoxFuture<'a, ConsoleResult<Vec<TaxExemptionRow>>> {
        Box::pin(tax::exemptions(&self.state, req, customer_id))
    }

    fn add_tax_exemption<'a>(
        &'a self,
        req: &'a Parts,
        customer_id: String,
        certificate_id: String,
        jurisdictions: String,
        expires_on: Option<String>,
    ) -> BoxFuture<'a, ConsoleResult<String>> {
        Box::pin(tax::add_exemption(
            &self.state,
            req,
            customer_id,
            certificate_id,
            jurisdictions,
            expires_on,
        ))
    }

    fn revoke_tax_exemption<'a>(
        &'a self,
        req: &'a Parts,
        customer_id: String,
        exemption_id: String,
    ) -> BoxFuture<'a, ConsoleResult<String>> {
        Box::pin(tax::revoke_exemption(
            &self.state,
            req,
            customer_id,
            exemption_id,
        ))
    }

    fn fx_rates_page<'a>(
        &'a self,
        req: &'a Parts,
        base: Option<String>,
        quote: Option<String>,
        before: Option<String>,
    ) -> BoxFuture<'a, ConsoleResult<FxRatesPageView>> {
        Box::pin(fx_rates::page(&self.state, req, base, quote, before))
    }

    fn import_fx_rates<'a>(
        &'a self,
        req: &'a Parts,
        format: String,
        source: Option<String>,
        data: String,
    ) -> BoxFuture<'a, ConsoleResult<FxImportOutcome>> {
        Box::pin(fx_rates::import(&self.state, req, format, source, data))
    }
}
