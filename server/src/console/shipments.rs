//! The shipments pages: the store's shipments by status, an order's shipping panel (buy the
//! label the payment froze, void it before pickup) and the label document, through the same
//! services and role policy as the API.

use app::backend::{
    ConsoleResult, ShipmentHistoryView, ShipmentView, ShipmentsView, TrackingEventView,
};
use axum::{
    extract::{Path, Query, Request, State},
    http::request::Parts,
    response::{IntoResponse, Response},
};
use serde::Deserialize;

use super::{
    caller,
    context::{require_signed, signed_for_file},
    shown,
    time::Times,
};
use crate::{
    auth::policy,
    fulfilment,
    http::problem::ApiError,
    money::format_amount,
    orders::OrderScope,
    pagination::PageQuery,
    providers::shipping::carrier::LabelFormat,
    shipments::{self, BuyRequest, Change, Shipment, ShipmentFilter, ShipmentStatus},
    state::AppState,
    types::{OrderId, ShipmentId, TextValue},
};

/// Shipments per page.
const SHIPMENTS_PAGE: u32 = 50;

fn view(s: Shipment, now: chrono::DateTime<chrono::Utc>, times: &Times) -> ShipmentView {
    // Offered only when the service would accept it: the status allows a void and the
    // carrier's window is still open.
    let voidable = shipments::apply(s.status, Change::Voided).is_ok()
        && s.status != ShipmentStatus::Cancelled
        && s.void_deadline.is_none_or(|d| d > now);
    ShipmentView {
        id: s.id.to_string(),
        order_id: s.order_id.to_string(),
        status: s.status.as_str().to_owned(),
        provider: s.provider,
        service: s.service,
        amount: format_amount(s.amount.0, s.currency.code()),
        tracking_number: s.tracking_number,
        void_deadline: s.void_deadline.map(|t| times.stamp(t)),
        failure_code: s.failure_code,
        has_label: s.label.is_some() && s.status != ShipmentStatus::Cancelled,
        voidable,
        packages: s
            .packages
            .iter()
            .map(|p| {
                format!(
                    "{}: {} × {} × {} mm, {} g",
                    p.box_name, p.length_mm, p.width_mm, p.height_mm, p.weight_grams
                )
            })
            .collect(),
        tracking: s
            .tracking
            .into_iter()
            .map(|t| TrackingEventView {
                status: t.status.as_text().to_owned(),
                description: t.description,
                location: t.location,
                at: times.stamp(t.occurred_at),
            })
            .collect(),
        history: s
            .history
            .into_iter()
            .map(|h| ShipmentHistoryView {
                kind: h.kind,
                actor: h.actor,
                detail: h.detail,
                at: times.stamp(h.at),
            })
            .collect(),
        created_at: times.stamp(s.created_at),
    }
}

/// A page of the current store's shipments, with the counts per status for the tabs.
pub async fn list(
    state: &AppState,
    req: &Parts,
    status: Option<String>,
    after: Option<String>,
) -> ConsoleResult<ShipmentsView> {
    let signed = require_signed(state, req).await?;
    let store = signed.store()?;
    let env = signed.environment();
    let starting_after = match after.as_deref().filter(|a| !a.is_empty()) {
        None => None,
        Some(a) => Some(
            a.parse::<ShipmentId>()
                .map_err(|_| "That page link is not valid.".to_owned())?
                .0,
        ),
    };
    let filter = ShipmentFilter {
        status: status.filter(|s| !s.is_empty()),
        carrier: None,
    };
    let page = PageQuery {
        limit: Some(SHIPMENTS_PAGE),
        starting_after,
    };
    let page = shipments::list(state, store, env, &filter, page)
        .await
        .map_err(shown)?;
    let counts = shipments::status_counts(state, store, env)
        .await
        .map_err(shown)?;
    let now = state.clock.now();
    Ok(ShipmentsView {
        next_after: page
            .has_more
            .then(|| page.data.last().map(|s| s.id.to_string()))
            .flatten(),
        rows: page
            .data
            .into_iter()
            .map(|s| view(s, now, &Times::of(state, &signed)))
            .collect(),
        counts: counts
            .into_iter()
            .map(|(status, n)| (status.as_str().to_owned(), n))
            .collect(),
    })
}

/// An order's shipments (the order page's shipping panel).
pub async fn of_order(
    state: &AppState,
    req: &Parts,
    order_id: String,
) -> ConsoleResult<Vec<ShipmentView>> {
    let signed = require_signed(state, req).await?;
    let scope = OrderScope {
        store_id: signed.store()?,
        environment: signed.environment(),
        customer_id: None,
    };
    let order_id: OrderId = order_id.parse().map_err(|_| shown(ApiError::NotFound))?;
    let list = shipments::of_order(state, scope, order_id)
        .await
        .map_err(shown)?;
    let now = state.clock.now();
    let times = Times::of(state, &signed);
    Ok(list.into_iter().map(|s| view(s, now, &times)).collect())
}

/// Buys the order's label (and captures, when the store captures on shipment). A resubmitted
/// form meets the order's one shipment (`shipment_exists`): never a second label.
pub async fn buy(
    state: &AppState,
    req: &Parts,
    order_id: String,
    accept_price_change: bool,
) -> ConsoleResult<String> {
    let signed = require_signed(state, req).await?;
    let (store, actor, env) = signed.allowed(state, policy::buy_labels).await?;
    let order_id: OrderId = order_id.parse().map_err(|_| shown(ApiError::NotFound))?;
    let request = BuyRequest {
        rate_id: None,
        accept_price_change: Some(accept_price_change),
    };
    let caller = caller(req, actor);
    // A form carries no Idempotency-Key: each submission is a request of its own.
    let key = caller.correlation_id.clone();
    let shipment = fulfilment::ship(state, store, env, order_id, request, &caller, &key)
        .await
        .map_err(shown)?;
    Ok(match shipment.tracking_number {
        Some(number) => format!(
            "Label bought: {} {}, tracking number {number}.",
            shipment.provider, shipment.service
        ),
        None => format!("Label purchase is {}.", shipment.status.as_str()),
    })
}

/// Voids a shipment's label.
pub async fn void(state: &AppState, req: &Parts, shipment_id: String) -> ConsoleResult<String> {
    let signed = require_signed(state, req).await?;
    let (store, actor, env) = signed.allowed(state, policy::buy_labels).await?;
    let id: ShipmentId = shipment_id.parse().map_err(|_| shown(ApiError::NotFound))?;
    let shipment = shipments::void(state, store, env, id, &caller(req, actor).actor)
        .await
        .map_err(shown)?;
    Ok(format!(
        "Label {} voided.",
        shipment.tracking_number.unwrap_or_default()
    ))
}

/// Query of the label download.
#[derive(Debug, Deserialize)]
pub struct LabelQuery {
    format: Option<LabelFormat>,
}

/// `GET /console/shipments/{id}/label`: the label document for the signed-in user's current
/// store and environment (a link, so the browser downloads or prints it). Another store's
/// shipment is a 404, as in the API.
pub async fn label_download(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Query(query): Query<LabelQuery>,
    req: Request,
) -> Response {
    let (signed, _) = match signed_for_file(&state, req).await {
        Ok(signed) => signed,
        Err(response) => return response,
    };
    let Ok(store) = signed.store() else {
        return ApiError::NotFound.into_response();
    };
    let Ok(id) = id.parse::<ShipmentId>() else {
        return ApiError::NotFound.into_response();
    };
    let format = query.format.unwrap_or(LabelFormat::Pdf);
    match shipments::label_document(&state, store, signed.environment(), id, format).await {
        Ok(bytes) => shipments::routes::label_response(id, format, bytes),
        Err(err) => ApiError::from(err).into_response(),
    }
}
