//! Developers → Webhooks: the store's outbound webhook endpoints in the environment shown,
//! with their health and delivery log, through the same services and role policy as
//! `/api/v1/admin/webhook-endpoints` (reading is every member's; changing is
//! `policy::manage_webhook_endpoints`'s: production's are the owners').

use app::backend::{
    BoxFuture, ConsoleResult, RevealedSecret,
    webhook_endpoints::{
        AttemptView, DayHealthView, DeliveryLogView, DeliveryView, EndpointForm, EndpointView,
        LogQuery, SecretInfoView, WebhookEndpointBackend, WebhookEndpointsPageView,
    },
};
use axum::http::request::Parts;
use chrono::{DateTime, NaiveDateTime, Utc};
use secrecy::ExposeSecret;

use super::{
    ServerBackend,
    context::{Signed, require_signed},
    shown,
    time::Times,
};
use crate::{
    auth::policy,
    http::problem::ApiError,
    outbound::{
        self, Delivery, DeliveryQuery, Endpoint, EndpointPatch, EndpointWithSecret, EventType,
        NewEndpoint, ResendRange, RotateSecret,
        stats::{self, Health},
    },
    pagination::PageQuery,
    state::AppState,
    types::{Environment, StoreId, TextValue, WebhookDeliveryId, WebhookEndpointId},
};

/// Deliveries per page of the log.
const LOG_PAGE: u32 = 25;

fn endpoint_view(e: &Endpoint, health: Health, times: &Times) -> EndpointView {
    EndpointView {
        id: e.id.to_string(),
        url: e.url.clone(),
        description: e.description.clone(),
        event_types: e.event_types.clone(),
        enabled: e.enabled,
        disabled_reason: e.disabled_reason.map(|r| r.as_text().to_owned()),
        ordered: e.ordered,
        failing_since: e.failing_since.map(|t| times.stamp(t)),
        secrets: e
            .secrets
            .iter()
            .map(|s| SecretInfoView {
                created_at: times.stamp(s.created_at),
                expires_at: s.expires_at.map(|t| times.stamp(t)),
            })
            .collect(),
        created_at: times.stamp(e.created_at),
        health: health
            .iter()
            .map(|d| DayHealthView {
                day: d.day.format("%Y-%m-%d").to_string(),
                attempts: d.attempts,
                succeeded: d.succeeded,
            })
            .collect(),
    }
}

fn delivery_view(d: Delivery, times: &Times) -> DeliveryView {
    DeliveryView {
        id: d.id.to_string(),
        event_id: d.event_id,
        event_type: d.event_type,
        status: d.status.as_text().to_owned(),
        attempt_count: d.attempt_count,
        next_attempt_at: d.next_attempt_at.map(|t| times.stamp(t)),
        created_at: times.stamp(d.created_at),
        delivered_at: d.delivered_at.map(|t| times.stamp(t)),
        attempts: d
            .attempts
            .into_iter()
            .map(|a| AttemptView {
                attempted_at: times.stamp(a.attempted_at),
                status_code: a.status_code,
                latency_ms: a.latency_ms,
                error: a.error,
                response_body: a.response_body,
            })
            .collect(),
    }
}

/// An id from a form or the address bar; anything unparsable is as unknown as another
/// store's.
fn endpoint_id(raw: &str) -> ConsoleResult<WebhookEndpointId> {
    raw.trim().parse().map_err(|_| shown(ApiError::NotFound))
}

fn nonempty(value: Option<String>) -> Option<String> {
    value.map(|v| v.trim().to_owned()).filter(|v| !v.is_empty())
}

/// The store, the environment and whether the user may change endpoints there.
async fn reader(state: &AppState, signed: &Signed) -> ConsoleResult<(StoreId, Environment, bool)> {
    let (store, actor) = signed.actor(state).await?;
    let env = signed.environment();
    Ok((
        store,
        env,
        policy::manage_webhook_endpoints(actor, env).is_ok(),
    ))
}

/// The store and environment, once the policy lets the user change endpoints there.
async fn manager(state: &AppState, req: &Parts) -> ConsoleResult<(StoreId, Environment)> {
    let signed = require_signed(state, req).await?;
    let (store, _, env) = signed
        .allowed(state, policy::manage_webhook_endpoints)
        .await?;
    Ok((store, env))
}

async fn page(
    state: &AppState,
    req: &Parts,
    query: LogQuery,
) -> ConsoleResult<WebhookEndpointsPageView> {
    let signed = require_signed(state, req).await?;
    let times = Times::of(state, &signed);
    let (store, env, can_manage) = reader(state, &signed).await?;
    let all = PageQuery {
        // Every endpoint fits one page: a store has at most MAX_ENDPOINTS per environment.
        limit: Some(100),
        starting_after: None,
    };
    let endpoints = outbound::list(state, store, env, &all)
        .await
        .map_err(shown)?
        .data;
    let mut health = stats::health(state, store, env).await.map_err(shown)?;
    let now = state.clock.now();
    let views: Vec<EndpointView> = endpoints
        .iter()
        .map(|e| {
            let days = health
                .remove(&e.id)
                .unwrap_or_else(|| stats::empty_health(now, stats::DAYS));
            endpoint_view(e, days, &times)
        })
        .collect();
    let (selected, selected_error) = match nonempty(query.endpoint) {
        None => (None, None),
        Some(raw) => match log(
            state,
            &times,
            store,
            env,
            &views,
            &raw,
            query.status,
            query.event_type,
            query.after,
        )
        .await
        {
            Ok(log) => (Some(log), None),
            Err(message) => (None, Some(message)),
        },
    };
    Ok(WebhookEndpointsPageView {
        endpoints: views,
        selected,
        selected_error,
        can_manage,
        event_types: EventType::ALL
            .iter()
            .map(|t| t.as_str().to_owned())
            .collect(),
        max_endpoints: outbound::MAX_ENDPOINTS,
    })
}

/// One endpoint of the listed ones with a page of its log.
#[allow(clippy::too_many_arguments)]
async fn log(
    state: &AppState,
    times: &Times,
    store: StoreId,
    env: Environment,
    listed: &[EndpointView],
    raw_id: &str,
    status: Option<String>,
    event_type: Option<String>,
    after: Option<String>,
) -> ConsoleResult<DeliveryLogView> {
    let missing = || "No such webhook endpoint in this store and environment.".to_owned();
    let id: WebhookEndpointId = raw_id.trim().parse().map_err(|_| missing())?;
    let endpoint = listed
        .iter()
        .find(|e| e.id == id.to_string())
        .cloned()
        .ok_or_else(missing)?;
    let status = nonempty(status);
    let event_type = nonempty(event_type);
    let after = nonempty(after);
    let query = DeliveryQuery {
        status: status.clone(),
        event_type: event_type.clone(),
        limit: Some(LOG_PAGE),
        starting_after: match &after {
            None => None,
            Some(a) => Some(a.parse().map_err(|_| shown(ApiError::NotFound))?),
        },
    };
    let page = outbound::list_deliveries(state, store, env, id, &query)
        .await
        .map_err(shown)?;
    Ok(DeliveryLogView {
        endpoint,
        next_after: page
            .has_more
            .then(|| page.data.last().map(|d| d.id.to_string()))
            .flatten(),
        rows: page
            .data
            .into_iter()
            .map(|d| delivery_view(d, times))
            .collect(),
        status: status.unwrap_or_default(),
        event_type: event_type.unwrap_or_default(),
        paged: after.is_some(),
    })
}

fn revealed(created: EndpointWithSecret) -> RevealedSecret {
    RevealedSecret {
        label: created.endpoint.url,
        secret: created.secret.expose_secret().to_owned(),
    }
}

async fn create(
    state: &AppState,
    req: &Parts,
    form: EndpointForm,
) -> ConsoleResult<RevealedSecret> {
    let (store, env) = manager(state, req).await?;
    let input = NewEndpoint {
        url: form.url.unwrap_or_default().trim().to_owned(),
        event_types: form.event_types,
        enabled: None,
        ordered: Some(form.ordered),
        description: form.description,
    };
    let created = outbound::create(state, store, env, &input)
        .await
        .map_err(shown)?;
    Ok(revealed(created))
}

async fn update(
    state: &AppState,
    req: &Parts,
    raw_id: String,
    form: EndpointForm,
) -> ConsoleResult<String> {
    let (store, env) = manager(state, req).await?;
    let id = endpoint_id(&raw_id)?;
    let patch = EndpointPatch {
        event_types: Some(form.event_types),
        ordered: Some(form.ordered),
        description: Some(form.description.unwrap_or_default()),
        ..EndpointPatch::default()
    };
    let endpoint = outbound::update(state, store, env, id, &patch)
        .await
        .map_err(shown)?;
    Ok(format!("Saved {}.", endpoint.url))
}

async fn set_enabled(
    state: &AppState,
    req: &Parts,
    raw_id: String,
    enabled: bool,
) -> ConsoleResult<String> {
    let (store, env) = manager(state, req).await?;
    let id = endpoint_id(&raw_id)?;
    let patch = EndpointPatch {
        enabled: Some(enabled),
        ..EndpointPatch::default()
    };
    let endpoint = outbound::update(state, store, env, id, &patch)
        .await
        .map_err(shown)?;
    Ok(if enabled {
        format!(
            "Enabled {}: deliveries that waited go out now.",
            endpoint.url
        )
    } else {
        format!(
            "Disabled {}: its deliveries wait until it is enabled.",
            endpoint.url
        )
    })
}

async fn delete(state: &AppState, req: &Parts, raw_id: String) -> ConsoleResult<String> {
    let (store, env) = manager(state, req).await?;
    let id = endpoint_id(&raw_id)?;
    outbound::delete(state, store, env, id)
        .await
        .map_err(shown)?;
    Ok("Endpoint deleted with its secrets and delivery log.".to_owned())
}

async fn rotate(
    state: &AppState,
    req: &Parts,
    raw_id: String,
    overlap_seconds: i64,
) -> ConsoleResult<RevealedSecret> {
    let (store, env) = manager(state, req).await?;
    let id = endpoint_id(&raw_id)?;
    let input = RotateSecret {
        overlap_seconds: Some(overlap_seconds),
    };
    let rotated = outbound::rotate_secret(state, store, env, id, &input)
        .await
        .map_err(shown)?;
    Ok(revealed(rotated))
}

async fn ping(state: &AppState, req: &Parts, raw_id: String) -> ConsoleResult<String> {
    let (store, env) = manager(state, req).await?;
    let id = endpoint_id(&raw_id)?;
    let delivery = outbound::ping(state, store, env, id).await.map_err(shown)?;
    Ok(format!("Test event {} sent.", delivery.event_id))
}

async fn resend(
    state: &AppState,
    req: &Parts,
    raw_endpoint: String,
    raw_delivery: String,
) -> ConsoleResult<String> {
    let (store, env) = manager(state, req).await?;
    let id = endpoint_id(&raw_endpoint)?;
    let delivery: WebhookDeliveryId = raw_delivery
        .trim()
        .parse()
        .map_err(|_| shown(ApiError::NotFound))?;
    let delivery = outbound::resend(state, store, env, id, delivery)
        .await
        .map_err(shown)?;
    Ok(format!("Event {} queued again.", delivery.event_id))
}

/// A time from the range form: `datetime-local`'s `YYYY-MM-DDTHH:MM` (seconds optional) in
/// UTC, or RFC 3339.
fn form_time(field: &str, raw: &str) -> ConsoleResult<DateTime<Utc>> {
    let raw = raw.trim();
    if let Ok(t) = DateTime::parse_from_rfc3339(raw) {
        return Ok(t.with_timezone(&Utc));
    }
    ["%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M"]
        .iter()
        .find_map(|f| NaiveDateTime::parse_from_str(raw, f).ok())
        .map(|t| t.and_utc())
        .ok_or_else(|| format!("{field}: give a date and time (UTC), e.g. 2026-12-01T09:00."))
}

async fn resend_range(
    state: &AppState,
    req: &Parts,
    raw_id: String,
    from: String,
    to: String,
) -> ConsoleResult<String> {
    let (store, env) = manager(state, req).await?;
    let id = endpoint_id(&raw_id)?;
    // The rest as the API's defaults: what the range resends beyond the times is the
    // service's rule, and this form adds no choice of its own.
    #[allow(clippy::needless_update)]
    let range = ResendRange {
        from: Some(form_time("From", &from)?),
        to: Some(form_time("To", &to)?),
        ..ResendRange::default()
    };
    let resent = outbound::resend_range(state, store, env, id, &range)
        .await
        .map_err(shown)?;
    Ok(match resent.resent {
        1 => "1 delivery queued again.".to_owned(),
        n => format!("{n} deliveries queued again."),
    })
}

impl WebhookEndpointBackend for ServerBackend {
    fn webhook_endpoints_page<'a>(
        &'a self,
        req: &'a Parts,
        query: LogQuery,
    ) -> BoxFuture<'a, ConsoleResult<WebhookEndpointsPageView>> {
        Box::pin(page(&self.state, req, query))
    }

    fn create_webhook_endpoint<'a>(
        &'a self,
        req: &'a Parts,
        form: EndpointForm,
    ) -> BoxFuture<'a, ConsoleResult<RevealedSecret>> {
        Box::pin(create(&self.state, req, form))
    }

    fn update_webhook_endpoint<'a>(
        &'a self,
        req: &'a Parts,
        endpoint_id: String,
        form: EndpointForm,
    ) -> BoxFuture<'a, ConsoleResult<String>> {
        Box::pin(update(&self.state, req, endpoint_id, form))
    }

    fn set_webhook_endpoint_enabled<'a>(
        &'a self,
        req: &'a Parts,
        endpoint_id: String,
        enabled: bool,
    ) -> BoxFuture<'a, ConsoleResult<String>> {
        Box::pin(set_enabled(&self.state, req, endpoint_id, enabled))
    }

    fn delete_webhook_endpoint<'a>(
        &'a self,
        req: &'a Parts,
        endpoint_id: String,
    ) -> BoxFuture<'a, ConsoleResult<String>> {
        Box::pin(delete(&self.state, req, endpoint_id))
    }

    fn rotate_webhook_secret<'a>(
        &'a self,
        req: &'a Parts,
        endpoint_id: String,
        overlap_seconds: i64,
    ) -> BoxFuture<'a, ConsoleResult<RevealedSecret>> {
        Box::pin(rotate(&self.state, req, endpoint_id, overlap_seconds))
    }

    fn ping_webhook_endpoint<'a>(
        &'a self,
        req: &'a Parts,
        endpoint_id: String,
    ) -> BoxFuture<'a, ConsoleResult<String>> {
        Box::pin(ping(&self.state, req, endpoint_id))
    }

    fn resend_webhook_delivery<'a>(
        &'a self,
        req: &'a Parts,
        endpoint_id: String,
        delivery_id: String,
    ) -> BoxFuture<'a, ConsoleResult<String>> {
        Box::pin(resend(&self.state, req, endpoint_id, delivery_id))
    }

    fn resend_webhook_range<'a>(
        &'a self,
        req: &'a Parts,
        endpoint_id: String,
        from: String,
        to: String,
    ) -> BoxFuture<'a, ConsoleResult<String>> {
        Box::pin(resend_range(&self.state, req, endpoint_id, from, to))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn range_times_are_utc() {
        let expected: DateTime<Utc> = "2026-12-01T09:00:00Z".parse().unwrap();
        for raw in [
            "2026-12-01T09:00",
            "2026-12-01T09:00:00",
            "2026-12-01 09:00",
            "2026-12-01T10:00:00+01:00",
        ] {
            assert_eq!(form_time("From", raw).unwrap(), expected, "{raw}");
        }
        assert!(form_time("From", "yesterday").is_err());
    }
}
