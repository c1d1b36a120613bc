//! One endpoint's delivery log: filters (status, event type), keyset pages, every delivery's
//! attempts (status, latency, error, the first KiB of the answer as text), resending one
//! delivery, and resending a time range.

use leptos::prelude::*;

use super::{PAGE, when};
use crate::{
    api::{ResendWebhookDelivery, ResendWebhookRange},
    backend::webhook_endpoints::{AttemptView, DeliveryLogView, DeliveryView},
};

const STATUSES: [&str; 4] = ["pending", "delivering", "succeeded", "failed"];

fn attempt_item(a: AttemptView) -> impl IntoView {
    let outcome = match a.status_code {
        Some(code) => format!("HTTP {code}"),
        None => "no answer".to_owned(),
    };
    let ok = a.status_code.is_some_and(|c| (200..300).contains(&c));
    view! {
        <li class="attempt" data-status-code=a.status_code.map(|c| c.to_string()).unwrap_or_default()>
            {when(a.attempted_at)}
            " · "
            <span class=if ok { "badge ok" } else { "badge bad" }>{outcome}</span>
            " · " {format!("{} ms", a.latency_ms)}
            {a.error.map(|e| view! { " · " <span class="error-text">{e}</span> })}
            // The endpoint's own answer: text, escaped like everything rendered.
            {a.response_body.filter(|b| !b.is_empty()).map(|b| view! { <pre class="payload response-body">{b}</pre> })}
        </li>
    }
    .into_any()
}

fn delivery_row(
    d: DeliveryView,
    endpoint_id: String,
    may_resend: bool,
    resend: ServerAction<ResendWebhookDelivery>,
) -> impl IntoView {
    let status = d.status.clone();
    let attempts = d.attempts.len();
    let next = d.next_attempt_at.clone();
    let delivery_id = d.id.clone();
    view! {
        <tr data-delivery-id=d.id.clone() data-status=status.clone() data-event-type=d.event_type.clone()>
            <td>{d.event_type.clone()} <br/> <code class="small">{d.event_id.clone()}</code></td>
            <td><span class=format!("status-chip {status}")>{status.clone()}</span></td>
            <td>{when(d.created_at.clone())}</td>
            <td>
                {d.delivered_at.clone().map(|t| view! { "delivered " {when(t)} }.into_any())
                    .or_else(|| next.map(|t| view! { "next attempt " {when(t)} }.into_any()))}
            </td>
            <td>
                <details class="attempts">
                    <summary>{format!("{} attempt{}", d.attempt_count, if d.attempt_count == 1 { "" } else { "s" })}</summary>
                    {(attempts == 0).then(|| view! { <p class="muted">"Not attempted yet."</p> })}
                    <ol>{d.attempts.into_iter().map(attempt_item).collect_view()}</ol>
                </details>
            </td>
            <td>
                {may_resend.then(|| view! {
                    <ActionForm action=resend attr:class="inline">
                        <input type="hidden" name="endpoint_id" value=endpoint_id.clone()/>
                        <input type="hidden" name="delivery_id" value=delivery_id.clone()/>
                        <button type="submit" class="btn small">"Resend"</button>
                    </ActionForm>
                })}
            </td>
        </tr>
    }
    .into_any()
}

/// The log of the opened endpoint.
#[component]
pub fn DeliveryLog(
    log: DeliveryLogView,
    event_types: Vec<String>,
    can_manage: bool,
    resend: ServerAction<ResendWebhookDelivery>,
    resend_range: ServerAction<ResendWebhookRange>,
) -> impl IntoView {
    let endpoint_id = log.endpoint.id.clone();
    // Resending a disabled endpoint is refused: enable it first.
    let may_resend = can_manage && log.endpoint.enabled;
    let status = log.status.clone();
    let event_type = log.event_type.clone();
    let next = log.next_after.clone().map(|after| {
        format!(
            "{PAGE}?endpoint={endpoint_id}&status={status}&event_type={event_type}&after={after}"
        )
    });
    let first = log
        .paged
        .then(|| format!("{PAGE}?endpoint={endpoint_id}&status={status}&event_type={event_type}"));
    let rows = log.rows.clone();
    view! {
        <section class="panel" id="delivery-log">
            <h2>"Delivery log"</h2>
            <form method="get" action=PAGE class="inline" id="delivery-filter">
                <input type="hidden" name="endpoint" value=endpoint_id.clone()/>
                <label>
                    "Status "
                    <select name="status">
                        <option value="" selected=status.is_empty()>"any"</option>
                        {STATUSES
                            .iter()
                            .map(|s| view! { <option value=*s selected=status == *s>{*s}</option> })
                            .collect_view()}
                    </select>
                </label>
                " "
                <label>
                    "Event type "
                    <select name="event_type">
                        <option value="" selected=event_type.is_empty()>"any"</option>
                        {event_types
                            .iter()
                            .map(|t| view! { <option value=t.clone() selected=event_type == *t>{t.clone()}</option> })
                            .collect_view()}
                    </select>
                </label>
                " "
                <button type="submit" class="btn small">"Filter"</button>
            </form>
            {if rows.is_empty() {
                view! { <p class="muted" id="no-deliveries">"No deliveries match."</p> }.into_any()
            } else {
                view! {
                    <div class="table-wrap">
                        <table class="table" id="deliveries">
                            <thead>
                                <tr>
                                    <th>"Event"</th>
                                    <th>"Status"</th>
                                    <th>"Queued"</th>
                                    <th>"Outcome"</th>
                                    <th>"Attempts"</th>
                                    <th></th>
                                </tr>
                            </thead>
                            <tbody>
                                {rows
                                    .into_iter()
                                    .map(|d| delivery_row(d, endpoint_id.clone(), may_resend, resend))
                                    .collect_view()}
                            </tbody>
                        </table>
                    </div>
                }
                    .into_any()
            }}
            <p>
                {first.map(|href| view! { <a class="btn small" href=href>"Newest"</a> " " })}
                {next.map(|href| view! { <a class="btn small" id="next-page" href=href>"Next page"</a> })}
            </p>
            {may_resend.then(|| view! {
                <ActionForm action=resend_range attr:class="form inline-form" attr:id="resend-range">
                    <input type="hidden" name="endpoint_id" value=endpoint_id.clone()/>
                    <label>"From (UTC) " <input type="datetime-local" name="from" required/></label>
                    " "
                    <label>"To (UTC, exclusive) " <input type="datetime-local" name="to" required/></label>
                    " "
                    <button type="submit" class="btn small secondary">"Resend range"</button>
                    <span class="muted">" Every delivery queued in the range goes out again (at most 1000)."</span>
                </ActionForm>
            })}
        </section>
    }
    .into_any()
}
