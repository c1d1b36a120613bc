//! Developers → Webhooks (`/developers/webhooks`): the store's outbound webhook endpoints in
//! the environment shown, each with its success rate over the last days; creating one (its
//! signing secret shown once), and, for the endpoint opened (`?endpoint=`), changing,
//! enabling or disabling, rotating the secret, a test ping, deleting, and its delivery log.
//! Not the provider webhooks Cassa receives: those are on `/webhooks`.

mod log;
mod sparkline;

use leptos::prelude::*;
use leptos_router::hooks::use_query_map;

use super::{error_text, outcomes, revealed_secret, when, with_viewer};
use crate::{
    api::{
        CreateWebhookEndpoint, DeleteWebhookEndpoint, PingWebhookEndpoint, ResendWebhookDelivery,
        ResendWebhookRange, RotateWebhookSecret, SetWebhookEndpointEnabled, UpdateWebhookEndpoint,
        get_webhook_endpoints_page,
    },
    backend::{
        Viewer,
        webhook_endpoints::{EndpointView, WebhookEndpointsPageView},
    },
};

/// The page's address.
const PAGE: &str = "/developers/webhooks";

fn types_text(types: &[String]) -> String {
    if types.iter().any(|t| t == "*") {
        "every event type".to_owned()
    } else {
        types.join(", ")
    }
}

fn status_chip(e: &EndpointView) -> impl IntoView + use<> {
    let (class, text) = match (e.enabled, e.disabled_reason.as_deref()) {
        (true, _) if e.failing_since.is_some() => ("status-chip failing", "enabled, failing"),
        (true, _) => ("status-chip succeeded", "enabled"),
        (false, Some("failing")) => ("status-chip failed", "disabled by Cassa after failures"),
        (false, _) => ("status-chip disabled", "disabled by a person"),
    };
    view! { <span class=class data-testid="endpoint-status">{text}</span> }
}

/// Every action of the page, so the page reloads after any of them.
#[derive(Clone, Copy)]
struct Actions {
    create: ServerAction<CreateWebhookEndpoint>,
    update: ServerAction<UpdateWebhookEndpoint>,
    enable: ServerAction<SetWebhookEndpointEnabled>,
    delete: ServerAction<DeleteWebhookEndpoint>,
    rotate: ServerAction<RotateWebhookSecret>,
    ping: ServerAction<PingWebhookEndpoint>,
    resend: ServerAction<ResendWebhookDelivery>,
    resend_range: ServerAction<ResendWebhookRange>,
}

impl Actions {
    fn new() -> Self {
        Self {
            create: ServerAction::new(),
            update: ServerAction::new(),
            enable: ServerAction::new(),
            delete: ServerAction::new(),
            rotate: ServerAction::new(),
            ping: ServerAction::new(),
            resend: ServerAction::new(),
            resend_range: ServerAction::new(),
        }
    }

    fn versions(&self) -> usize {
        self.create.version().get()
            + self.update.version().get()
            + self.enable.version().get()
            + self.delete.version().get()
            + self.rotate.version().get()
            + self.ping.version().get()
            + self.resend.version().get()
            + self.resend_range.version().get()
    }
}

/// Developers → Webhooks.
#[component]
pub fn WebhookEndpoints() -> impl IntoView {
    with_viewer(|viewer: Viewer| match viewer.store.clone() {
        None => view! { <p class="muted">"Open a store first."</p> }.into_any(),
        Some(store) => {
            view! { <EndpointsPanel store_name=store.name environment=viewer.environment/> }
                .into_any()
        }
    })
}

#[component]
fn EndpointsPanel(store_name: String, environment: String) -> impl IntoView {
    let query = use_query_map();
    let actions = Actions::new();
    let filter = move || {
        let q = query.get();
        let get = |k: &str| q.get(k).filter(|v| !v.is_empty());
        (
            get("endpoint"),
            get("status"),
            get("event_type"),
            get("after"),
        )
    };
    let page = Resource::new(
        move || (filter(), actions.versions()),
        |((endpoint, status, event_type, after), _)| {
            get_webhook_endpoints_page(endpoint, status, event_type, after)
        },
    );
    let outcome = outcomes("webhook-endpoint-result", move || {
        vec![
            actions.update.value().get(),
            actions.enable.value().get(),
            actions.delete.value().get(),
            actions.ping.value().get(),
            actions.resend.value().get(),
            actions.resend_range.value().get(),
        ]
    });
    let created = move || {
        revealed_secret(
            actions.create.value().get(),
            "Signing secret of",
            ": copy it now, it is never shown again.",
        )
    };
    let rotated = move || {
        revealed_secret(
            actions.rotate.value().get(),
            "New signing secret of",
            ": copy it now, it is never shown again.",
        )
    };
    view! {
        <section class="panel">
            <div class="panel-head">
                <h1><span class="muted">"Developers → "</span>"Webhooks"</h1>
                <span class=format!("env-badge {environment}")>{environment.clone()}</span>
            </div>
            <p class="muted">
                "Endpoints where Cassa sends " {store_name} "'s " {environment.clone()}
                " events (payments, refunds, orders, shipments, tax, reconciliation), signed with Standard Webhooks. "
                "The webhooks Cassa receives from providers are under "
                <a href="/webhooks">"Provider webhooks"</a> "."
            </p>
            {outcome}
            <div id="created-secret">{created}</div>
            <div id="rotated-secret">{rotated}</div>
        </section>
        <Suspense fallback=|| view! { <p class="muted">"Loading…"</p> }>
            {move || {
                page.get()
                    .map(|result| match result {
                        Err(e) => view! { <p class="error">{error_text(&e)}</p> }.into_any(),
                        Ok(page) => view! { <EndpointsView page=page actions=actions/> }.into_any(),
                    })
            }}
        </Suspense>
    }
}

/// What a person can do about an endpoint Cassa disabled: the notice the issue asks for, and
/// enabling it again in one click.
fn disabled_notices(page: &WebhookEndpointsPageView, actions: Actions) -> impl IntoView + use<> {
    let can_manage = page.can_manage;
    page.endpoints
        .iter()
        .filter(|e| !e.enabled && e.disabled_reason.as_deref() == Some("failing"))
        .map(|e| {
            let id = e.id.clone();
            let href = format!("{PAGE}?endpoint={}", e.id);
            view! {
                <div class="notice bad" role="alert" data-testid="disabled-notice" data-endpoint-id=e.id.clone()>
                    <strong>"Cassa disabled " <a href=href>{e.url.clone()}</a> "."</strong>
                    " Every attempt to it failed for three days, so nothing is sent to it; its events wait and go out once it is enabled. "
                    "Fix the receiver, then "
                    {if can_manage {
                        view! {
                            <ActionForm action=actions.enable attr:class="inline">
                                <input type="hidden" name="endpoint_id" value=id.clone()/>
                                <input type="hidden" name="enabled" value="true"/>
                                <button type="submit" class="btn small primary">"Enable again"</button>
                            </ActionForm>
                        }
                            .into_any()
                    } else {
                        view! { <span>"ask an owner to enable it again."</span> }.into_any()
                    }}
                </div>
            }
            .into_any()
        })
        .collect_view()
}

/// The subscription checkboxes: every type, or the ones of the catalogue ticked. Indexed
/// names (`event_types[3]`) are how the form encoding carries a list.
fn type_checkboxes(catalogue: &[String], ticked: &[String]) -> impl IntoView + use<> {
    let every = ticked.iter().any(|t| t == "*");
    let boxes = catalogue
        .iter()
        .enumerate()
        .map(|(i, t)| {
            let checked = !every && ticked.contains(t);
            view! {
                <label class="check">
                    <input type="checkbox" name=format!("event_types[{i}]") value=t.clone() checked=checked/>
                    " " {t.clone()}
                </label>
            }
        })
        .collect_view();
    view! {
        <fieldset class="event-types">
            <legend>"Event types"</legend>
            <label class="check every">
                <input type="checkbox" name="every_type" value="*" checked=every/>
                " every event type (*), including ones added later"
            </label>
            <div class="type-grid">{boxes}</div>
        </fieldset>
    }
    .into_any()
}

fn endpoint_row(e: EndpointView) -> impl IntoView {
    let href = format!("{PAGE}?endpoint={}", e.id);
    view! {
        <tr data-endpoint-id=e.id.clone() data-enabled=e.enabled.to_string()>
            <td>
                <a href=href><code>{e.url.clone()}</code></a>
                {e.description.clone().map(|d| view! { <br/><span class="muted">{d}</span> })}
            </td>
            <td class="small">{types_text(&e.event_types)}</td>
            <td>
                {status_chip(&e)}
                {e.failing_since.clone().map(|t| view! { <br/><span class="muted">"failing since " {when(t)}</span> })}
            </td>
            <td>{if e.ordered { "ordered" } else { "—" }}</td>
            <td><sparkline::Sparkline days=e.health.clone()/></td>
        </tr>
    }
    .into_any()
}

#[component]
fn EndpointsView(page: WebhookEndpointsPageView, actions: Actions) -> impl IntoView {
    let notices = disabled_notices(&page, actions);
    let can_manage = page.can_manage;
    let full = page.endpoints.len() as i64 >= page.max_endpoints;
    let list = if page.endpoints.is_empty() {
        view! { <p class="muted" id="no-endpoints">"No endpoints yet."</p> }.into_any()
    } else {
        view! {
            <div class="table-wrap">
                <table class="table" id="webhook-endpoints">
                    <thead>
                        <tr>
                            <th>"Endpoint"</th>
                            <th>"Events"</th>
                            <th>"Status"</th>
                            <th>"Order"</th>
                            <th>"Success, last 7 days"</th>
                        </tr>
                    </thead>
                    <tbody>{page.endpoints.clone().into_iter().map(endpoint_row).collect_view()}</tbody>
                </table>
            </div>
            <p class="muted small">
                "Success: the share of delivery attempts the endpoint answered with a 2xx, per UTC day (hover a point for its numbers). "
                "A grey tick on the baseline is a day without attempts: nothing to rate, so the line breaks there."
            </p>
        }
            .into_any()
    };
    let create = (can_manage && !full).then(|| {
        let catalogue = page.event_types.clone();
        view! {
            <ActionForm action=actions.create attr:class="form" attr:id="create-endpoint">
                <h2>"Add an endpoint"</h2>
                <label>"URL " <input type="url" name="url" required maxlength="2048" placeholder="https://example.com/hooks/cassa"/></label>
                <label>"Description " <input type="text" name="description" maxlength="500"/></label>
                {type_checkboxes(&catalogue, &[])}
                <label class="check"><input type="checkbox" name="ordered" value="true"/> " deliver one event at a time, in order"</label>
                <button type="submit" class="btn primary">"Add endpoint"</button>
            </ActionForm>
        }
        .into_any()
    });
    let limits = (can_manage && full).then(|| {
        view! { <p class="muted">{format!("The store has the most endpoints an environment may have ({}).", page.max_endpoints)}</p> }
    });
    let read_only = (!can_manage).then(|| {
        view! {
            <p class="muted" id="read-only">
                "Read-only: production endpoints are managed by the store's owners."
            </p>
        }
    });
    let selected_error = page
        .selected_error
        .clone()
        .map(|e| view! { <p class="error" role="alert" id="endpoint-error">{e}</p> });
    let detail = page.selected.clone().map(|log| {
        view! { <EndpointDetail log=log catalogue=page.event_types.clone() can_manage=can_manage actions=actions/> }
        .into_any()
    });
    view! {
        {notices}
        <section class="panel">
            <h2>"Endpoints"</h2>
            {read_only}
            {list}
            {create}
            {limits}
        </section>
        {selected_error}
        {detail}
    }
    .into_any()
}

#[component]
fn EndpointDetail(
    log: crate::backend::webhook_endpoints::DeliveryLogView,
    catalogue: Vec<String>,
    can_manage: bool,
    actions: Actions,
) -> impl IntoView {
    let e = log.endpoint.clone();
    let id = e.id.clone();
    let subscribed = e.event_types.clone();
    let boxes = catalogue.clone();
    let secrets = e
        .secrets
        .iter()
        .map(|s| {
            let ends = s
                .expires_at
                .clone()
                .map(|t| view! { ", signs until " {when(t)} });
            view! { <li>"created " {when(s.created_at.clone())} {ends}</li> }
        })
        .collect_view();
    let description = e.description.clone().unwrap_or_default();
    let (enabled, ordered) = (e.enabled, e.ordered);
    let manage = can_manage.then(move || {
        let catalogue = boxes;
        let ping_id = id.clone();
        let toggle_id = id.clone();
        let rotate_id = id.clone();
        let edit_id = id.clone();
        let delete_id = id;
        let toggle = if enabled { "false" } else { "true" };
        let toggle_text = if enabled { "Disable" } else { "Enable" };
        view! {
            <div class="actions" id="endpoint-actions">
                {enabled.then(move || view! {
                    <ActionForm action=actions.ping attr:class="inline" attr:id="ping-endpoint">
                        <input type="hidden" name="endpoint_id" value=ping_id/>
                        <button type="submit" class="btn small">"Send test event"</button>
                    </ActionForm>
                })}
                <ActionForm action=actions.enable attr:class="inline" attr:id="toggle-endpoint">
                    <input type="hidden" name="endpoint_id" value=toggle_id/>
                    <input type="hidden" name="enabled" value=toggle/>
                    <button type="submit" class="btn small">{toggle_text}</button>
                </ActionForm>
                <ActionForm action=actions.rotate attr:class="inline" attr:id="rotate-secret">
                    <input type="hidden" name="endpoint_id" value=rotate_id/>
                    <label>
                        "Previous secret keeps signing "
                        <select name="overlap_seconds">
                            <option value="0">"no longer (stop now)"</option>
                            <option value="3600">"1 hour"</option>
                            <option value="86400" selected>"24 hours"</option>
                            <option value="604800">"7 days"</option>
                        </select>
                    </label>
                    " "
                    <button type="submit" class="btn small">"Rotate secret"</button>
                </ActionForm>
            </div>
            <ActionForm action=actions.update attr:class="form" attr:id="edit-endpoint">
                <h3>"Change"</h3>
                <input type="hidden" name="endpoint_id" value=edit_id/>
                <label>"Description " <input type="text" name="description" maxlength="500" value=description/></label>
                {type_checkboxes(&catalogue, &subscribed)}
                <label class="check"><input type="checkbox" name="ordered" value="true" checked=ordered/> " deliver one event at a time, in order"</label>
                <button type="submit" class="btn small primary">"Save"</button>
            </ActionForm>
            <ActionForm action=actions.delete attr:class="form inline-form" attr:id="delete-endpoint">
                <input type="hidden" name="endpoint_id" value=delete_id/>
                <label class="check"><input type="checkbox" name="confirm" value="yes"/> " delete it with its secrets and delivery log"</label>
                " "
                <button type="submit" class="btn small danger">"Delete endpoint"</button>
            </ActionForm>
        }
        .into_any()
    });
    view! {
        <section class="panel" id="endpoint-detail" data-endpoint-id=e.id.clone()>
            <h2><code>{e.url.clone()}</code></h2>
            <dl class="facts">
                <dt>"Status"</dt>
                <dd>{status_chip(&e)}</dd>
                <dt>"Events"</dt>
                <dd>{types_text(&e.event_types)}</dd>
                <dt>"Order"</dt>
                <dd>{if e.ordered { "one at a time, in emission order" } else { "concurrent" }}</dd>
                <dt>"Created"</dt>
                <dd>{when(e.created_at.clone())}</dd>
                <dt>"Signing secrets"</dt>
                <dd><ul class="plain" id="endpoint-secrets">{secrets}</ul></dd>
                <dt>"Success, last 7 days"</dt>
                <dd><sparkline::Sparkline days=e.health.clone()/></dd>
            </dl>
            {manage}
        </section>
        <log::DeliveryLog
            log=log
            event_types=catalogue
            can_manage=can_manage
            resend=actions.resend
            resend_range=actions.resend_range
        />
    }
    .into_any()
}
