//! Server functions of the console: thin wrappers that hand the request to the backend.
//! All are POST (the server_fn default) and pass the CSRF check at the server's edge.

use leptos::prelude::*;

use crate::backend::{
    ApiKeyView, CredentialRow, FxImportOutcome, FxRatesPageView, KeyOverviewView, LedgerView,
    OrderDetailView, ReconciliationPageView, RevealedSecret, ShipmentView, ShipmentsView,
    StoreView, SystemStatus, TaxExemptionRow, TaxPageView, Viewer, WebhookEventsView,
    providers::{ConnectionView, PaymentProviderView, ProviderChoiceOutcome},
};

mod customers;
mod rates;
mod team;

pub use customers::*;
pub use rates::*;
pub use team::*;

#[cfg(feature = "ssr")]
mod server {
    use leptos::prelude::*;

    use crate::backend::SharedBackend;

    pub fn backend() -> Result<SharedBackend, ServerFnError> {
        use_context::<SharedBackend>()
            .ok_or_else(|| ServerFnError::new("console backend missing from context"))
    }

    pub fn parts() -> Result<http::request::Parts, ServerFnError> {
        use_context::<http::request::Parts>()
            .ok_or_else(|| ServerFnError::new("request missing from context"))
    }

    pub fn fail<T>(result: Result<T, String>) -> Result<T, ServerFnError> {
        result.map_err(ServerFnError::new)
    }
}

/// Version, database backend and readiness.
#[server(prefix = "/console/fn", endpoint = "system_status")]
pub async fn get_system_status() -> Result<SystemStatus, ServerFnError> {
    Ok(server::backend()?.system_status().await)
}

/// The signed-in user, if any.
#[server(prefix = "/console/fn", endpoint = "viewer")]
pub async fn get_viewer() -> Result<Option<Viewer>, ServerFnError> {
    let parts = server::parts()?;
    server::fail(server::backend()?.viewer(&parts).await)
}

/// Signs in and goes to the overview, or to the password page when the password was generated.
#[server(prefix = "/console/fn", endpoint = "sign_in")]
pub async fn sign_in(email: String, password: String) -> Result<(), ServerFnError> {
    let parts = server::parts()?;
    let must_change = server::fail(server::backend()?.sign_in(&parts, email, password).await)?;
    leptos_axum::redirect(if must_change { "/password" } else { "/" });
    Ok(())
}

/// Changes the password; every session ends, so it goes to the sign-in page.
#[server(prefix = "/console/fn", endpoint = "change_password")]
pub async fn change_password(
    current_password: String,
    new_password: String,
) -> Result<(), ServerFnError> {
    let parts = server::parts()?;
    server::fail(
        server::backend()?
            .change_password(&parts, current_password, new_password)
            .await,
    )?;
    leptos_axum::redirect("/sign-in");
    Ok(())
}

/// Signs out and goes to the sign-in page.
#[server(prefix = "/console/fn", endpoint = "sign_out")]
pub async fn sign_out() -> Result<(), ServerFnError> {
    let parts = server::parts()?;
    server::fail(server::backend()?.sign_out(&parts).await)?;
    leptos_axum::redirect("/sign-in");
    Ok(())
}

/// Switches store and/or environment, then reloads the page it came from.
#[server(prefix = "/console/fn", endpoint = "select")]
pub async fn select_scope(
    store_id: Option<String>,
    environment: Option<String>,
    back_to: Option<String>,
) -> Result<(), ServerFnError> {
    let parts = server::parts()?;
    server::fail(
        server::backend()?
            .select(&parts, store_id, environment)
            .await,
    )?;
    // Only local paths: never an open redirect.
    let target = back_to
        .filter(|p| p.starts_with('/') && !p.starts_with("//"))
        .unwrap_or_else(|| "/".to_owned());
    leptos_axum::redirect(&target);
    Ok(())
}

/// Keys of the current store and environment.
#[server(prefix = "/console/fn", endpoint = "api_keys")]
pub async fn list_api_keys() -> Result<Vec<ApiKeyView>, ServerFnError> {
    let parts = server::parts()?;
    server::fail(server::backend()?.api_keys(&parts).await)
}

/// Creates a key; the secret is in the result and never again.
#[server(prefix = "/console/fn", endpoint = "create_api_key")]
pub async fn create_api_key(name: String) -> Result<RevealedSecret, ServerFnError> {
    let parts = server::parts()?;
    server::fail(server::backend()?.create_api_key(&parts, name).await)
}

/// Revokes a key.
#[server(prefix = "/console/fn", endpoint = "revoke_api_key")]
pub async fn revoke_api_key(key_id: String) -> Result<(), ServerFnError> {
    let parts = server::parts()?;
    server::fail(server::backend()?.revoke_api_key(&parts, key_id).await)
}

/// All stores (platform admins).
#[server(prefix = "/console/fn", endpoint = "stores")]
pub async fn list_stores() -> Result<Vec<StoreView>, ServerFnError> {
    let parts = server::parts()?;
    server::fail(server::backend()?.stores(&parts).await)
}

/// Creates a store; its first sandbox key is in the result and never again.
#[server(prefix = "/console/fn", endpoint = "create_store")]
pub async fn create_store(name: String, currency: String) -> Result<RevealedSecret, ServerFnError> {
    let parts = server::parts()?;
    server::fail(
        server::backend()?
            .create_store(&parts, name, currency)
            .await,
    )
}

/// Masked credentials of the current store and environment.
#[server(prefix = "/console/fn", endpoint = "credentials")]
pub async fn list_credentials() -> Result<Vec<CredentialRow>, ServerFnError> {
    let parts = server::parts()?;
    server::fail(server::backend()?.credentials(&parts).await)
}

/// Stores or replaces a provider's credentials; only the masked view comes back.
#[server(prefix = "/console/fn", endpoint = "put_credentials")]
pub async fn put_credentials(
    provider: String,
    primary_secret: String,
    webhook_secret: String,
    setting: Option<String>,
    multicapture: Option<String>,
) -> Result<CredentialRow, ServerFnError> {
    let parts = server::parts()?;
    let (secret_field, setting_field) = match provider.as_str() {
        "stripe" => ("secret_key", "account_id"),
        _ => ("api_key", "base_url"),
    };
    let mut fields = vec![(secret_field.to_owned(), primary_secret)];
    // A tax service sends no webhooks: its form leaves the secret empty.
    if !webhook_secret.trim().is_empty() {
        fields.push(("webhook_secret".to_owned(), webhook_secret));
    }
    if let Some(setting) = setting.filter(|s| !s.trim().is_empty()) {
        fields.push((setting_field.to_owned(), setting));
    }
    // A checked box; the provider's parser refuses it where it means nothing.
    if multicapture.as_deref() == Some("true") {
        fields.push(("multicapture".to_owned(), "true".to_owned()));
    }
    server::fail(
        server::backend()?
            .put_credentials(&parts, provider, fields)
            .await,
    )
}

/// The payment provider of new payments in the current store and environment.
#[server(prefix = "/console/fn", endpoint = "payment_provider")]
pub async fn get_payment_provider() -> Result<PaymentProviderView, ServerFnError> {
    let parts = server::parts()?;
    server::fail(server::backend()?.payment_provider(&parts).await)
}

/// Chooses the payment provider of new payments; a refused choice is the form's answer.
#[server(prefix = "/console/fn", endpoint = "choose_payment_provider")]
pub async fn choose_payment_provider(
    provider: String,
) -> Result<ProviderChoiceOutcome, ServerFnError> {
    let parts = server::parts()?;
    server::fail(
        server::backend()?
            .choose_payment_provider(&parts, provider)
            .await,
    )
}

/// Asks a provider who the stored credentials belong to (nothing is charged).
#[server(prefix = "/console/fn", endpoint = "check_connection")]
pub async fn check_connection(provider: String) -> Result<ConnectionView, ServerFnError> {
    let parts = server::parts()?;
    server::fail(server::backend()?.check_connection(&parts, provider).await)
}

/// Master key versions and rotations.
#[server(prefix = "/console/fn", endpoint = "key_overview")]
pub async fn key_overview() -> Result<KeyOverviewView, ServerFnError> {
    let parts = server::parts()?;
    server::fail(server::backend()?.key_overview(&parts).await)
}

/// Makes a version primary and starts re-encrypting.
#[server(prefix = "/console/fn", endpoint = "start_rotation")]
pub async fn start_rotation(version: u32) -> Result<(), ServerFnError> {
    let parts = server::parts()?;
    server::fail(server::backend()?.start_rotation(&parts, version).await)
}

/// Retires an unused version.
#[server(prefix = "/console/fn", endpoint = "retire_key")]
pub async fn retire_key(version: u32) -> Result<(), ServerFnError> {
    let parts = server::parts()?;
    server::fail(server::backend()?.retire_key(&parts, version).await)
}

/// The current store's dashboard (none without a store).
#[server(prefix = "/console/fn", endpoint = "dashboard")]
pub async fn get_dashboard(
    days: Option<u32>,
) -> Result<Option<crate::backend::dashboard::DashboardView>, ServerFnError> {
    let parts = server::parts()?;
    server::fail(server::backend()?.dashboard(&parts, days).await)
}

/// A page of the payments ledger (flat arguments: the form encoding has no nested objects).
#[server(prefix = "/console/fn", endpoint = "payments")]
pub async fn list_payments(
    status: Option<String>,
    from: Option<String>,
    to: Option<String>,
    min_amount: Option<String>,
    max_amount: Option<String>,
    after: Option<String>,
) -> Result<LedgerView, ServerFnError> {
    let parts = server::parts()?;
    let filter = crate::backend::LedgerFilter {
        status,
        from,
        to,
        min_amount,
        max_amount,
        after,
    };
    server::fail(server::backend()?.payments(&parts, filter).await)
}

/// An order's payments and timeline.
#[server(prefix = "/console/fn", endpoint = "order_payments")]
pub async fn get_order_payments(order_id: String) -> Result<OrderDetailView, ServerFnError> {
    let parts = server::parts()?;
    server::fail(server::backend()?.order_payments(&parts, order_id).await)
}

/// Capture, void or refund; `confirm` is the form's confirmation checkbox.
#[server(prefix = "/console/fn", endpoint = "payment_action")]
#[allow(clippy::too_many_arguments)]
pub async fn payment_action(
    order_id: String,
    intent_id: String,
    action: String,
    amount: Option<String>,
    reason: Option<String>,
    idempotency_key: String,
    confirm: Option<String>,
) -> Result<String, ServerFnError> {
    if confirm.is_none() {
        return Err(ServerFnError::new("Tick the confirmation box first."));
    }
    let parts = server::parts()?;
    server::fail(
        server::backend()?
            .payment_action(
                &parts,
                order_id,
                intent_id,
                action,
                amount,
                reason,
                idempotency_key,
            )
            .await,
    )
}

/// A page of the current store's disputes.
#[server(prefix = "/console/fn", endpoint = "disputes")]
pub async fn list_disputes(
    status: Option<String>,
    after: Option<String>,
) -> Result<crate::backend::disputes::DisputesView, ServerFnError> {
    let parts = server::parts()?;
    server::fail(server::backend()?.disputes(&parts, status, after).await)
}

/// The current store's webhook events.
#[server(prefix = "/console/fn", endpoint = "webhook_events")]
pub async fn list_webhook_events(
    status: Option<String>,
    after: Option<String>,
) -> Result<WebhookEventsView, ServerFnError> {
    let parts = server::parts()?;
    server::fail(
        server::backend()?
            .webhook_events(&parts, status, after)
            .await,
    )
}

/// Queues an event for processing again.
#[server(prefix = "/console/fn", endpoint = "replay_webhook")]
pub async fn replay_webhook(event_id: String) -> Result<String, ServerFnError> {
    let parts = server::parts()?;
    server::fail(server::backend()?.replay_webhook(&parts, event_id).await)
}

/// A page of the current store's shipments.
#[server(prefix = "/console/fn", endpoint = "shipments")]
pub async fn list_shipments(
    status: Option<String>,
    after: Option<String>,
) -> Result<ShipmentsView, ServerFnError> {
    let parts = server::parts()?;
    server::fail(server::backend()?.shipments(&parts, status, after).await)
}

/// An order's shipments.
#[server(prefix = "/console/fn", endpoint = "order_shipping")]
pub async fn get_order_shipping(order_id: String) -> Result<Vec<ShipmentView>, ServerFnError> {
    let parts = server::parts()?;
    server::fail(server::backend()?.order_shipping(&parts, order_id).await)
}

/// Buys the order's label; `accept_price_change` is the form's checkbox.
#[server(prefix = "/console/fn", endpoint = "buy_label")]
pub async fn buy_label(
    order_id: String,
    accept_price_change: Option<String>,
) -> Result<String, ServerFnError> {
    let parts = server::parts()?;
    let accept = accept_price_change.is_some();
    server::fail(server::backend()?.buy_label(&parts, order_id, accept).await)
}

/// Voids a label; `confirm` is the form's confirmation checkbox.
#[server(prefix = "/console/fn", endpoint = "void_shipment")]
pub async fn void_shipment(
    shipment_id: String,
    confirm: Option<String>,
) -> Result<String, ServerFnError> {
    if confirm.is_none() {
        return Err(ServerFnError::new("Tick the confirmation box first."));
    }
    let parts = server::parts()?;
    server::fail(server::backend()?.void_shipment(&parts, shipment_id).await)
}

/// The Tax page for a period.
#[server(prefix = "/console/fn", endpoint = "tax_page")]
pub async fn get_tax_page(
    from: Option<String>,
    to: Option<String>,
) -> Result<TaxPageView, ServerFnError> {
    let parts = server::parts()?;
    server::fail(server::backend()?.tax_page(&parts, from, to).await)
}

/// The Reconciliation page.
#[server(prefix = "/console/fn", endpoint = "reconciliation_page")]
pub async fn get_reconciliation_page(
    run: Option<String>,
) -> Result<ReconciliationPageView, ServerFnError> {
    let parts = server::parts()?;
    server::fail(server::backend()?.reconciliation_page(&parts, run).await)
}

/// Queues a reconciliation run of the current store.
#[server(prefix = "/console/fn", endpoint = "start_reconciliation")]
pub async fn start_reconciliation(from: String, to: String) -> Result<String, ServerFnError> {
    let parts = server::parts()?;
    server::fail(
        server::backend()?
            .start_reconciliation(&parts, from, to)
            .await,
    )
}

/// Sets the store's daily reconciliation (`enabled` is present when the box is ticked).
#[server(prefix = "/console/fn", endpoint = "save_reconciliation_schedule")]
pub async fn save_reconciliation_schedule(
    daily_at: String,
    enabled: Option<String>,
) -> Result<String, ServerFnError> {
    let parts = server::parts()?;
    server::fail(
        server::backend()?
            .save_reconciliation_schedule(&parts, daily_at, enabled.is_some())
            .await,
    )
}

/// Acknowledges or resolves an exception.
#[server(prefix = "/console/fn", endpoint = "resolve_reconciliation_item")]
pub async fn resolve_reconciliation_item(
    item_id: String,
    resolution: String,
    note: String,
) -> Result<String, ServerFnError> {
    let parts = server::parts()?;
    server::fail(
        server::backend()?
            .resolve_reconciliation_item(&parts, item_id, resolution, note)
            .await,
    )
}

/// Saves the rates editor.
#[server(prefix = "/console/fn", endpoint = "save_tax_rules")]
pub async fn save_tax_rules(rules: String) -> Result<String, ServerFnError> {
    let parts = server::parts()?;
    server::fail(server::backend()?.save_tax_rules(&parts, rules).await)
}

/// Saves the nexus editor.
#[server(prefix = "/console/fn", endpoint = "save_tax_nexus")]
pub async fn save_tax_nexus(nexus: String) -> Result<String, ServerFnError> {
    let parts = server::parts()?;
    server::fail(server::backend()?.save_tax_nexus(&parts, nexus).await)
}

/// Saves the tax engine and its fallback.
#[server(prefix = "/console/fn", endpoint = "save_tax_settings")]
pub async fn save_tax_settings(engine: String, fallback: String) -> Result<String, ServerFnError> {
    let parts = server::parts()?;
    server::fail(
        server::backend()?
            .save_tax_settings(&parts, engine, fallback)
            .await,
    )
}

/// A customer's exemption certificates.
#[server(prefix = "/console/fn", endpoint = "tax_exemptions")]
pub async fn list_tax_exemptions(
    customer_id: String,
) -> Result<Vec<TaxExemptionRow>, ServerFnError> {
    let parts = server::parts()?;
    server::fail(server::backend()?.tax_exemptions(&parts, customer_id).await)
}

/// Records a customer's certificate.
#[server(prefix = "/console/fn", endpoint = "add_tax_exemption")]
pub async fn add_tax_exemption(
    customer_id: String,
    certificate_id: String,
    jurisdictions: String,
    expires_on: Option<String>,
) -> Result<String, ServerFnError> {
    let parts = server::parts()?;
    server::fail(
        server::backend()?
            .add_tax_exemption(
                &parts,
                customer_id,
                certificate_id,
                jurisdictions,
                expires_on,
            )
            .await,
    )
}

/// Revokes a customer's certificate.
#[server(prefix = "/console/fn", endpoint = "revoke_tax_exemption")]
pub async fn revoke_tax_exemption(
    customer_id: String,
    exemption_id: String,
) -> Result<String, ServerFnError> {
    let parts = server::parts()?;
    server::fail(
        server::backend()?
            .revoke_tax_exemption(&parts, customer_id, exemption_id)
            .await,
    )
}

/// The FX rates page: the newest rates and a page of the history (platform admins).
#[server(prefix = "/console/fn", endpoint = "fx_rates_page")]
pub async fn get_fx_rates_page(
    base: Option<String>,
    quote: Option<String>,
    before: Option<String>,
) -> Result<FxRatesPageView, ServerFnError> {
    let parts = server::parts()?;
    server::fail(
        server::backend()?
            .fx_rates_page(&parts, base, quote, before)
            .await,
    )
}

/// Imports a rates file pasted into the form (platform admins).
#[server(prefix = "/console/fn", endpoint = "import_fx_rates")]
pub async fn import_fx_rates(
    format: String,
    source: Option<String>,
    data: String,
) -> Result<FxImportOutcome, ServerFnError> {
    let parts = server::parts()?;
    server::fail(
        server::backend()?
            .import_fx_rates(&parts, format, source, data)
            .await,
    )
}

/// The Developers → Webhooks page: the store's endpoints and, with `endpoint`, one's log.
#[server(prefix = "/console/fn", endpoint = "webhook_endpoints_page")]
pub async fn get_webhook_endpoints_page(
    endpoint: Option<String>,
    status: Option<String>,
    event_type: Option<String>,
    after: Option<String>,
) -> Result<crate::backend::webhook_endpoints::WebhookEndpointsPageView, ServerFnError> {
    let parts = server::parts()?;
    let query = crate::backend::webhook_endpoints::LogQuery {
        endpoint,
        status,
        event_type,
        after,
    };
    server::fail(
        server::backend()?
            .webhook_endpoints_page(&parts, query)
            .await,
    )
}

/// The subscription a form's checkboxes say: `every_type` ticked is `*`.
#[cfg(feature = "ssr")]
fn ticked_types(event_types: Option<Vec<String>>, every_type: Option<String>) -> Vec<String> {
    if every_type.is_some() {
        return vec!["*".to_owned()];
    }
    event_types.unwrap_or_default()
}

/// Creates an endpoint; its signing secret is in the result and never again. The event type
/// checkboxes are `event_types[i]` (indexed: the form encoding of a list).
#[server(prefix = "/console/fn", endpoint = "create_webhook_endpoint")]
pub async fn create_webhook_endpoint(
    url: String,
    description: Option<String>,
    event_types: Option<Vec<String>>,
    every_type: Option<String>,
    ordered: Option<String>,
) -> Result<RevealedSecret, ServerFnError> {
    let parts = server::parts()?;
    let form = crate::backend::webhook_endpoints::EndpointForm {
        url: Some(url),
        description,
        event_types: ticked_types(event_types, every_type),
        ordered: ordered.is_some(),
    };
    server::fail(
        server::backend()?
            .create_webhook_endpoint(&parts, form)
            .await,
    )
}

/// Changes an endpoint's description, subscription and ordering.
#[server(prefix = "/console/fn", endpoint = "update_webhook_endpoint")]
pub async fn update_webhook_endpoint(
    endpoint_id: String,
    description: Option<String>,
    event_types: Option<Vec<String>>,
    every_type: Option<String>,
    ordered: Option<String>,
) -> Result<String, ServerFnError> {
    let parts = server::parts()?;
    let form = crate::backend::webhook_endpoints::EndpointForm {
        url: None,
        description: Some(description.unwrap_or_default()),
        event_types: ticked_types(event_types, every_type),
        ordered: ordered.is_some(),
    };
    server::fail(
        server::backend()?
            .update_webhook_endpoint(&parts, endpoint_id, form)
            .await,
    )
}

/// Enables (`enabled` = `true`) or disables an endpoint.
#[server(prefix = "/console/fn", endpoint = "set_webhook_endpoint_enabled")]
pub async fn set_webhook_endpoint_enabled(
    endpoint_id: String,
    enabled: String,
) -> Result<String, ServerFnError> {
    let parts = server::parts()?;
    server::fail(
        server::backend()?
            .set_webhook_endpoint_enabled(&parts, endpoint_id, enabled == "true")
            .await,
    )
}

/// Deletes an endpoint; `confirm` is the form's confirmation checkbox. Goes back to the list.
#[server(prefix = "/console/fn", endpoint = "delete_webhook_endpoint")]
pub async fn delete_webhook_endpoint(
    endpoint_id: String,
    confirm: Option<String>,
) -> Result<String, ServerFnError> {
    if confirm.is_none() {
        return Err(ServerFnError::new("Tick the confirmation box first."));
    }
    let parts = server::parts()?;
    let done = server::fail(
        server::backend()?
            .delete_webhook_endpoint(&parts, endpoint_id)
            .await,
    )?;
    leptos_axum::redirect("/developers/webhooks");
    Ok(done)
}

/// A new signing secret, in the result and never again; the previous ones keep signing for
/// `overlap_seconds`.
#[server(prefix = "/console/fn", endpoint = "rotate_webhook_secret")]
pub async fn rotate_webhook_secret(
    endpoint_id: String,
    overlap_seconds: String,
) -> Result<RevealedSecret, ServerFnError> {
    let overlap = overlap_seconds
        .trim()
        .parse::<i64>()
        .map_err(|_| ServerFnError::new("Choose how long the previous secret keeps signing."))?;
    let parts = server::parts()?;
    server::fail(
        server::backend()?
            .rotate_webhook_secret(&parts, endpoint_id, overlap)
            .await,
    )
}

/// Sends a test event to the endpoint.
#[server(prefix = "/console/fn", endpoint = "ping_webhook_endpoint")]
pub async fn ping_webhook_endpoint(endpoint_id: String) -> Result<String, ServerFnError> {
    let parts = server::parts()?;
    server::fail(
        server::backend()?
            .ping_webhook_endpoint(&parts, endpoint_id)
            .await,
    )
}

/// Sends one delivery again.
#[server(prefix = "/console/fn", endpoint = "resend_webhook_delivery")]
pub async fn resend_webhook_delivery(
    endpoint_id: String,
    delivery_id: String,
) -> Result<String, ServerFnError> {
    let parts = server::parts()?;
    server::fail(
        server::backend()?
            .resend_webhook_delivery(&parts, endpoint_id, delivery_id)
            .await,
    )
}

/// Sends again the deliveries created from `from` to `to` (UTC).
#[server(prefix = "/console/fn", endpoint = "resend_webhook_range")]
pub async fn resend_webhook_range(
    endpoint_id: String,
    from: String,
    to: String,
) -> Result<String, ServerFnError> {
    let parts = server::parts()?;
    server::fail(
        server::backend()?
            .resend_webhook_range(&parts, endpoint_id, from, to)
            .await,
    )
}

/// The Orders list's server function: in a module of its own so the argument-count lint can
/// be allowed on the browser's half too, which the `#[server]` macro writes without the
/// function's own attributes (flat arguments: the form encoding has no nested objects).
#[allow(clippy::too_many_arguments)]
mod orders_page {
    use leptos::prelude::*;

    #[cfg(feature = "ssr")]
    use super::server;

    /// A page of the Orders list.
    #[server(prefix = "/console/fn", endpoint = "orders_page")]
    pub async fn get_orders_page(
        status: Option<String>,
        from: Option<String>,
        to: Option<String>,
        customer: Option<String>,
        min_amount: Option<String>,
        max_amount: Option<String>,
        q: Option<String>,
        after: Option<String>,
    ) -> Result<crate::backend::orders::OrdersPageView, ServerFnError> {
        let parts = server::parts()?;
        let query = crate::backend::orders::OrdersQuery {
            status,
            from,
            to,
            customer,
            min_amount,
            max_amount,
            q,
            after,
        };
        server::fail(server::backend()?.orders_page(&parts, query).await)
    }
}
pub use orders_page::get_orders_page;

/// The current store's profile (Settings → Store).
#[server(prefix = "/console/fn", endpoint = "store_profile")]
pub async fn get_store_profile() -> Result<crate::backend::settings::StoreProfileView, ServerFnError>
{
    let parts = server::parts()?;
    server::fail(server::backend()?.store_profile(&parts).await)
}

/// Changes the current store's name and time zone (owners).
#[server(prefix = "/console/fn", endpoint = "update_store_profile")]
pub async fn update_store_profile(name: String, timezone: String) -> Result<String, ServerFnError> {
    let parts = server::parts()?;
    server::fail(
        server::backend()?
            .update_store_profile(&parts, name, timezone)
            .await,
    )
}

/// The Catalogue page: a page of the store's products (`q` searches name and SKU, `archived`
/// is `false`, `true` or `all`) and, with `edit`, the product opened for editing.
#[server(prefix = "/console/fn", endpoint = "catalogue_page")]
pub async fn get_catalogue_page(
    q: Option<String>,
    archived: Option<String>,
    after: Option<String>,
    edit: Option<String>,
) -> Result<crate::backend::catalogue::CataloguePageView, ServerFnError> {
    let parts = server::parts()?;
    let query = crate::backend::catalogue::CatalogueQuery {
        q,
        archived,
        after,
        edit,
    };
    server::fail(server::backend()?.catalogue_page(&parts, query).await)
}

/// The product form's fields as sent; a checkbox is present only when ticked.
#[cfg(feature = "ssr")]
#[allow(clippy::too_many_arguments)]
fn product_form(
    name: String,
    sku: String,
    price: String,
    currency: Option<String>,
    tax_code: Option<String>,
    weight_grams: Option<String>,
    length_mm: Option<String>,
    width_mm: Option<String>,
    height_mm: Option<String>,
    price_includes_tax: Option<String>,
) -> crate::backend::catalogue::ProductForm {
    crate::backend::catalogue::ProductForm {
        name,
        sku,
        price,
        currency,
        tax_code: tax_code.unwrap_or_default(),
        weight_grams: weight_grams.unwrap_or_default(),
        length_mm: length_mm.unwrap_or_default(),
        width_mm: width_mm.unwrap_or_default(),
        height_mm: height_mm.unwrap_or_default(),
        price_includes_tax: price_includes_tax.is_some(),
    }
}

/// The product forms' server functions: one argument per form field, since that is how a
/// form without JavaScript posts them (hence the lint, which the `#[server]` expansion does not
/// let an item-level allow reach).
mod product_forms {
    #![allow(clippy::too_many_arguments)]

    use leptos::prelude::*;

    /// Adds a product; refused fields come back to be shown beside them.
    #[server(prefix = "/console/fn", endpoint = "create_product")]
    pub async fn create_catalogue_product(
        name: String,
        sku: String,
        price: String,
        currency: Option<String>,
        tax_code: Option<String>,
        weight_grams: Option<String>,
        length_mm: Option<String>,
        width_mm: Option<String>,
        height_mm: Option<String>,
        price_includes_tax: Option<String>,
    ) -> Result<crate::backend::catalogue::ProductOutcome, ServerFnError> {
        let parts = super::server::parts()?;
        let form = super::product_form(
            name,
            sku,
            price,
            currency,
            tax_code,
            weight_grams,
            length_mm,
            width_mm,
            height_mm,
            price_includes_tax,
        );
        super::server::fail(super::server::backend()?.create_product(&parts, form).await)
    }

    /// Changes a product's fields (never its currency); refused fields come back to be shown
    /// beside them.
    #[server(prefix = "/console/fn", endpoint = "update_product")]
    pub async fn update_catalogue_product(
        product_id: String,
        name: String,
        sku: String,
        price: String,
        tax_code: Option<String>,
        weight_grams: Option<String>,
        length_mm: Option<String>,
        width_mm: Option<String>,
        height_mm: Option<String>,
        price_includes_tax: Option<String>,
    ) -> Result<crate::backend::catalogue::ProductOutcome, ServerFnError> {
        let parts = super::server::parts()?;
        let form = super::product_form(
            name,
            sku,
            price,
            None,
            tax_code,
            weight_grams,
            length_mm,
            width_mm,
            height_mm,
            price_includes_tax,
        );
        super::server::fail(
            super::server::backend()?
                .update_product(&parts, product_id, form)
                .await,
        )
    }
}

pub use product_forms::{
    CreateCatalogueProduct, UpdateCatalogueProduct, create_catalogue_product,
    update_catalogue_product,
};

/// Archives (`archived` = `true`; `confirm` is the form's confirmation checkbox) or makes a
/// product active again. Archiving goes back to the list, where the product is now hidden.
#[server(prefix = "/console/fn", endpoint = "set_product_archived")]
pub async fn set_product_archived(
    product_id: String,
    archived: String,
    confirm: Option<String>,
) -> Result<String, ServerFnError> {
    let archive = archived == "true";
    if archive && confirm.is_none() {
        return Err(ServerFnError::new(
            "Tick the confirmation box to archive the product.",
        ));
    }
    let parts = server::parts()?;
    let done = server::fail(
        server::backend()?
            .set_product_archived(&parts, product_id, archive)
            .await,
    )?;
    if archive {
        leptos_axum::redirect("/catalogue");
    }
    Ok(done)
}
