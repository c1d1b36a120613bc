//! `/webhooks`: received provider webhooks with status, signature validity, attempts, last
//! error and payload; processed and dead-lettered events can be replayed.

use leptos::prelude::*;
use leptos_router::hooks::use_query_map;

use super::{error_text, when, with_viewer};
use crate::{
    api::{ReplayWebhook, list_webhook_events},
    backend::{Viewer, WebhookEventView},
};

const FILTERS: [(&str, &str); 6] = [
    ("", "All"),
    ("pending", "Pending"),
    ("processing", "Processing"),
    ("processed", "Processed"),
    ("dead", "Dead letter"),
    ("rejected", "Rejected"),
];

/// Webhook events page.
#[component]
pub fn Webhooks() -> impl IntoView {
    with_viewer(|viewer: Viewer| match viewer.store.clone() {
        None => view! { <p class="muted">"Open a store first."</p> }.into_any(),
        Some(store) => view! { <EventList store_name=store.name/> }.into_any(),
    })
}

#[component]
fn EventList(store_name: String) -> impl IntoView {
    let query = use_query_map();
    let replay = ServerAction::<ReplayWebhook>::new();
    let filter = move || {
        let q = query.get();
        (
            q.get("status").filter(|s| !s.is_empty()),
            q.get("after").filter(|s| !s.is_empty()),
        )
    };
    let events = Resource::new(
        move || (filter(), replay.version().get()),
        |((status, after), _)| list_webhook_events(status, after),
    );
    let current = filter().0.unwrap_or_default();
    let outcome = move || {
        replay.value().get().map(|result| match result {
            Ok(msg) => view! { <p class="ok-note" role="status">{msg}</p> }.into_any(),
            Err(e) => view! { <p class="error" role="alert">{error_text(&e)}</p> }.into_any(),
        })
    };
    view! {
        <section class="panel">
            <h1>"Webhook events"</h1>
            <p class="muted">"Provider webhooks received for " {store_name} ", newest first."</p>
            <nav class="tabs" id="event-filters">
                {FILTERS
                    .iter()
                    .map(|(value, label)| {
                        let href = if value.is_empty() {
                            "/webhooks".to_owned()
                        } else {
                            format!("/webhooks?status={value}")
                        };
                        let class = if *value == current { "tab active" } else { "tab" };
                        view! { <a class=class href=href>{*label}</a> }
                    })
                    .collect_view()}
            </nav>
            {outcome}
            <Suspense fallback=|| view! { <p class="muted">"Loading…"</p> }>
                {move || {
                    events
                        .get()
                        .map(|result| match result {
                            Err(e) => view! { <p class="error">{error_text(&e)}</p> }.into_any(),
                            Ok(page) if page.rows.is_empty() => {
                                view! { <p class="muted" id="no-events">"No events."</p> }.into_any()
                            }
                            Ok(page) => {
                                let next = page.next_after.map(|after| {
                                    let status = filter().0.unwrap_or_default();
                                    format!("/webhooks?status={status}&after={after}")
                                });
                                view! {
                                    <table class="table" id="webhook-events">
                                        <thead>
                                            <tr>
                                                <th>"Received"</th>
                                                <th>"Type"</th>
                                                <th>"Status"</th>
                                                <th>"Signature"</th>
                                                <th>"Attempts"</th>
                                                <th>"Last error"</th>
                                                <th>"Payload"</th>
                                                <th></th>
                                            </tr>
                                        </thead>
                                        <tbody>
                                            {page
                                                .rows
                                                .into_iter()
                                                .map(|e| view! { <EventRow event=e replay=replay/> })
                                                .collect_view()}
                                        </tbody>
                                    </table>
                                    {next.map(|href| view! { <a class="btn" href=href>"Next page"</a> })}
                                }
                                    .into_any()
                            }
                        })
                }}
            </Suspense>
        </section>
    }
}

#[component]
fn EventRow(event: WebhookEventView, replay: ServerAction<ReplayWebhook>) -> impl IntoView {
    let replayable = event.signature_valid && matches!(event.status.as_str(), "processed" | "dead");
    let (signature_class, signature_text) = if event.signature_valid {
        ("badge ok", "valid")
    } else {
        ("badge bad", "invalid")
    };
    let id = event.id.clone();
    let (row_id, row_status) = (event.id.clone(), event.status.clone());
    let status = event.status.clone();
    view! {
        <tr data-event-id=row_id data-status=row_status>
            <td>{when(event.received_at)}</td>
            <td>
                <code>{event.event_type}</code>
                <br/>
                <span class="muted">{event.provider} " " {event.provider_event_id}</span>
            </td>
            <td>
                <span class=format!("status-chip {status}") data-testid="event-status">{status.clone()}</span>
                {event.next_attempt_at.filter(|_| status == "pending").map(|t| view! { <br/><span class="muted">"next " {when(t)}</span> })}
            </td>
            <td>
                <span class=signature_class>{signature_text}</span>
            </td>
            <td data-testid="attempts">{event.attempt_count}</td>
            <td class="error">{event.last_error.unwrap_or_default()}</td>
            <td>
                <details>
                    <summary>"Payload"</summary>
                    <pre class="payload">{event.payload}</pre>
                </details>
            </td>
            <td>
                {replayable
                    .then(|| {
                        view! {
                            <ActionForm action=replay attr:class="inline">
                                <input type="hidden" name="event_id" value=id.clone()/>
                                <button type="submit" class="btn small">"Replay"</button>
                            </ActionForm>
                        }
                    })}
            </td>
        </tr>
    }
}
