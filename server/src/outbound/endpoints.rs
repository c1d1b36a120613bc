//! A store's webhook endpoints: create (with the first signing secret), read, change, delete,
//! and rotate the signing secret.

use std::collections::HashMap;

use chrono::{DateTime, Duration, Utc};

use super::{
    DisabledReason, Endpoint, EndpointPage, EndpointPatch, EndpointWithSecret, Error, EventType,
    NewEndpoint, RotateSecret, SecretInfo,
    endpoint_repo::{self, EndpointRow, SecretRow},
    secrets, url_rule,
};
use crate::{
    config::RunMode,
    pagination::PageQuery,
    state::AppState,
    types::{Environment, InvalidValue, StoreId, WebhookEndpointId},
};

/// Most endpoints a store may have per environment.
pub const MAX_ENDPOINTS: i64 = 20;
/// Most event types one endpoint subscribes to by name.
const MAX_EVENT_TYPES: usize = 100;
/// Longest event type name quoted back in a refusal.
const MAX_EVENT_TYPE_LEN: usize = 64;
/// Longest description.
const MAX_DESCRIPTION: usize = 500;
/// Default and largest overlap of a secret rotation.
const DEFAULT_OVERLAP_SECS: i64 = 24 * 3600;
const MAX_OVERLAP_SECS: i64 = 7 * 24 * 3600;

/// The subscription as stored: `["*"]`, or distinct event type names in the order given.
fn parse_event_types(types: &[String]) -> Result<String, InvalidValue> {
    let invalid = |why: &str| InvalidValue::new("event_types", why);
    if types.is_empty() {
        return Err(invalid("name at least one event type, or [\"*\"] for all"));
    }
    if types.len() > MAX_EVENT_TYPES {
        return Err(invalid("at most 100 event types"));
    }
    if types.iter().any(|t| t == "*") {
        if types.len() > 1 {
            return Err(invalid("\"*\" already means every type; name it alone"));
        }
        return Ok("[\"*\"]".to_owned());
    }
    let mut distinct: Vec<&str> = Vec::with_capacity(types.len());
    for name in types {
        let Ok(event_type) = name.parse::<EventType>() else {
            return Err(invalid(&format!(
                "{:?} is not an event type of the catalogue (e.g. payment_intent.captured)",
                name.chars().take(MAX_EVENT_TYPE_LEN).collect::<String>()
            )));
        };
        if !distinct.contains(&event_type.as_str()) {
            distinct.push(event_type.as_str());
        }
    }
    serde_json::to_string(&distinct).map_err(|_| invalid("not a list of names"))
}

fn parse_description(raw: Option<&str>) -> Result<Option<String>, InvalidValue> {
    match raw.map(str::trim) {
        None | Some("") => Ok(None),
        Some(text) if text.chars().count() > MAX_DESCRIPTION => Err(InvalidValue::new(
            "description",
            "must be at most 500 characters",
        )),
        Some(text) => Ok(Some(text.to_owned())),
    }
}

/// Checks a URL for an endpoint of `env` (see [`url_rule::check`]).
fn parse_url(state: &AppState, raw: &str, env: Environment) -> Result<String, Error> {
    let own_allowed = state.config.run_mode != RunMode::Production;
    url_rule::check(raw, env, own_allowed, |url| {
        state.egress.is_own(url)
            && url_rule::own_path_allowed(url, &state.config.own_receiver_paths)
    })
    .map(|url| url.to_string())
    .map_err(Error::UrlRefused)
}

/// The API's view of an endpoint with its live secrets.
pub(super) fn view(row: EndpointRow, secrets: &[SecretRow]) -> Endpoint {
    Endpoint {
        id: row.id,
        environment: row.environment,
        url: row.url,
        description: row.description,
        event_types: serde_json::from_str(&row.event_types).unwrap_or_default(),
        enabled: row.enabled,
        disabled_reason: row.disabled_reason,
        ordered: row.ordered,
        failing_since: row.failing_since,
        secrets: secrets
            .iter()
            .map(|s| SecretInfo {
                created_at: s.created_at,
                expires_at: s.expires_at,
            })
            .collect(),
        created_at: row.created_at,
        updated_at: row.updated_at,
    }
}

/// Views of `rows` with their live secrets (one query for all of them).
async fn views(state: &AppState, rows: Vec<EndpointRow>) -> Result<Vec<Endpoint>, Error> {
    let ids: Vec<WebhookEndpointId> = rows.iter().map(|r| r.id).collect();
    let secrets = endpoint_repo::live_secrets(&state.db, &ids, state.clock.now()).await?;
    let mut by_endpoint: HashMap<WebhookEndpointId, Vec<SecretRow>> = HashMap::new();
    for secret in secrets {
        by_endpoint
            .entry(secret.endpoint_id)
            .or_default()
            .push(secret);
    }
    Ok(rows
        .into_iter()
        .map(|row| {
            let secrets = by_endpoint.remove(&row.id).unwrap_or_default();
            view(row, &secrets)
        })
        .collect())
}

async fn one_view(state: &AppState, row: EndpointRow) -> Result<Endpoint, Error> {
    views(state, vec![row]).await?.pop().ok_or(Error::NotFound)
}

/// Creates an endpoint with its first signing secret, returned this once.
pub async fn create(
    state: &AppState,
    store: StoreId,
    env: Environment,
    input: &NewEndpoint,
) -> Result<EndpointWithSecret, Error> {
    let url = parse_url(state, &input.url, env)?;
    let event_types = parse_event_types(&input.event_types)?;
    let description = parse_description(input.description.as_deref())?;
    let enabled = input.enabled.unwrap_or(true);
    let now = state.clock.now();
    let row = EndpointRow {
        id: WebhookEndpointId::new(),
        store_id: store,
        environment: env,
        url,
        description,
        event_types,
        enabled,
        ordered: input.ordered.unwrap_or(false),
        disabled_reason: (!enabled).then_some(DisabledReason::Manual),
        failing_since: None,
        version: 1,
        created_at: now,
        updated_at: now,
    };
    let secret = secrets::generate();
    let primary = crate::credentials::keys::primary_version(&state.db).await?;
    let secret_row = secrets::sealed_row(&state.key_ring, primary, row.id, &secret, now)?;
    let mut tx = state.db.begin_write().await?;
    // Counted in the inserting transaction: on SQLite it holds the write lock, on PostgreSQL
    // the count locks the store's row first, so racing creations count one after another.
    if endpoint_repo::count(&mut tx, store, env).await? >= MAX_ENDPOINTS {
        return Err(Error::TooManyEndpoints(MAX_ENDPOINTS));
    }
    endpoint_repo::insert(&mut tx, &row).await?;
    endpoint_repo::insert_secret(&mut tx, &secret_row).await?;
    tx.commit().await?;
    tracing::info!(endpoint = %row.id, %env, "webhook endpoint created");
    Ok(EndpointWithSecret {
        endpoint: view(row, std::slice::from_ref(&secret_row)),
        secret,
    })
}

/// One endpoint of the store in `env`.
pub async fn get(
    state: &AppState,
    store: StoreId,
    env: Environment,
    id: WebhookEndpointId,
) -> Result<Endpoint, Error> {
    let row = endpoint_repo::find(&state.db, store, env, id)
        .await?
        .ok_or(Error::NotFound)?;
    one_view(state, row).await
}

/// The store's endpoints in `env`, oldest first, keyset pages.
pub async fn list(
    state: &AppState,
    store: StoreId,
    env: Environment,
    page: &PageQuery,
) -> Result<EndpointPage, Error> {
    let limit = page.limit()?;
    let mut rows =
        endpoint_repo::list(&state.db, store, env, page.after(), i64::from(limit) + 1).await?;
    let has_more = rows.len() > limit as usize;
    rows.truncate(limit as usize);
    Ok(EndpointPage {
        data: views(state, rows).await?,
        has_more,
    })
}

/// The endpoint `row` becomes with `patch` applied at `now`.
fn patched(
    state: &AppState,
    row: &EndpointRow,
    patch: &EndpointPatch,
    now: DateTime<Utc>,
) -> Result<EndpointRow, Error> {
    let mut next = row.clone();
    if let Some(url) = &patch.url {
        next.url = parse_url(state, url, row.environment)?;
    }
    if let Some(types) = &patch.event_types {
        next.event_types = parse_event_types(types)?;
    }
    if let Some(description) = &patch.description {
        next.description = parse_description(Some(description))?;
    }
    if let Some(ordered) = patch.ordered {
        next.ordered = ordered;
    }
    match patch.enabled {
        // Enabling starts its health over: a three-day-old failure must not disable it again
        // at its first failed attempt.
        Some(true) if !row.enabled => {
            next.enabled = true;
            next.disabled_reason = None;
            next.failing_since = None;
        }
        Some(false) if row.enabled => {
            next.enabled = false;
            next.disabled_reason = Some(DisabledReason::Manual);
        }
        _ => {}
    }
    next.version = row.version + 1;
    next.updated_at = now;
    Ok(next)
}

/// Changes an endpoint.
pub async fn update(
    state: &AppState,
    store: StoreId,
    env: Environment,
    id: WebhookEndpointId,
    patch: &EndpointPatch,
) -> Result<Endpoint, Error> {
    let mut tx = state.db.begin_write().await?;
    let row = endpoint_repo::find_for_update(&mut tx, store, env, id)
        .await?
        .ok_or(Error::NotFound)?;
    let next = patched(state, &row, patch, state.clock.now())?;
    if endpoint_repo::update(&mut tx, &next).await? != 1 {
        return Err(Error::Conflict(
            "the endpoint was changed concurrently; retry",
        ));
    }
    tx.commit().await?;
    if next.enabled && !row.enabled {
        // Deliveries that waited while it was disabled are due.
        super::wake(state);
    }
    tracing::info!(endpoint = %id, enabled = next.enabled, "webhook endpoint changed");
    one_view(state, next).await
}

/// Deletes an endpoint with its secrets and delivery log.
pub async fn delete(
    state: &AppState,
    store: StoreId,
    env: Environment,
    id: WebhookEndpointId,
) -> Result<(), Error> {
    if endpoint_repo::delete(&state.db, store, env, id).await? == 0 {
        return Err(Error::NotFound);
    }
    tracing::info!(endpoint = %id, "webhook endpoint deleted");
    Ok(())
}

/// Replaces the endpoint's signing secret: the new one is returned this once; the previous
/// ones keep signing for the overlap so receivers can switch without losing a delivery.
pub async fn rotate_secret(
    state: &AppState,
    store: StoreId,
    env: Environment,
    id: WebhookEndpointId,
    input: &RotateSecret,
) -> Result<EndpointWithSecret, Error> {
    let overlap = input.overlap_seconds.unwrap_or(DEFAULT_OVERLAP_SECS);
    if !(0..=MAX_OVERLAP_SECS).contains(&overlap) {
        return Err(
            InvalidValue::new("overlap_seconds", "must be between 0 and 604800 (7 days)").into(),
        );
    }
    let now = state.clock.now();
    let secret = secrets::generate();
    let primary = crate::credentials::keys::primary_version(&state.db).await?;
    let secret_row = secrets::sealed_row(&state.key_ring, primary, id, &secret, now)?;
    let mut tx = state.db.begin_write().await?;
    let row = endpoint_repo::find_for_update(&mut tx, store, env, id)
        .await?
        .ok_or(Error::NotFound)?;
    endpoint_repo::expire_secrets(&mut tx, id, now + Duration::seconds(overlap), now).await?;
    endpoint_repo::insert_secret(&mut tx, &secret_row).await?;
    tx.commit().await?;
    tracing::info!(endpoint = %id, overlap_seconds = overlap, "webhook signing secret rotated");
    Ok(EndpointWithSecret {
        endpoint: one_view(state, row).await?,
        secret,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn event_types_are_names_or_the_wildcard_alone() {
        assert_eq!(parse_event_types(&names(&["*"])).unwrap(), "[\"*\"]");
        assert_eq!(
            parse_event_types(&names(&[
                "payment_intent.captured",
                "refund.succeeded",
                "payment_intent.captured"
            ]))
            .unwrap(),
            "[\"payment_intent.captured\",\"refund.succeeded\"]"
        );
        for bad in [
            vec![],
            names(&["*", "refund.succeeded"]),
            names(&["refund"]),
            names(&["Refund.succeeded"]),
            names(&["refund.succeeded."]),
            names(&["refund.exploded"]),
            names(&[&format!("a.{}", "b".repeat(MAX_EVENT_TYPE_LEN))]),
        ] {
            assert!(parse_event_types(&bad).is_err(), "{bad:?}");
        }
        for every in EventType::ALL {
            assert!(parse_event_types(&names(&[every.as_str()])).is_ok());
        }
        let many: Vec<String> = (0..=MAX_EVENT_TYPES)
            .map(|_| "order.paid".to_owned())
            .collect();
        assert!(parse_event_types(&many).is_err());
    }

    #[test]
    fn descriptions_are_trimmed_and_bounded() {
        assert_eq!(
            parse_description(Some("  ERP  ")).unwrap().as_deref(),
            Some("ERP")
        );
        assert_eq!(parse_description(Some("")).unwrap(), None);
        assert!(parse_description(Some(&"x".repeat(501))).is_err());
    }
}
