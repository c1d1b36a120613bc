//! Buying, voiding and fetching labels: the purchase is recorded before the carrier is called,
//! so a lost answer leaves a `purchasing` shipment that the same request resumes with the same
//! derived idempotency key (the carrier answers with the label it already sold; never a second
//! one).

use serde::Deserialize;
use utoipa::ToSchema;
use uuid::Uuid;

use super::{
    Error, Shipment, notify,
    repo::{self, EventRow, ShipmentRow},
    settings,
    status::{Change, ShipmentStatus, apply},
    view,
};
use crate::{
    credentials::{self, CredentialError},
    idempotency::provider_key,
    orders::{self, OrderScope},
    outbound,
    providers::shipping::carrier::{Carrier, CarrierError, Label, LabelFormat},
    state::AppState,
    types::{Environment, InvalidValue, OrderId, ShipmentId, ShippingRateId, StoreId},
};

/// Body of `POST /admin/orders/{id}/shipments`.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
pub struct BuyRequest {
    /// A newer rate to buy instead of the one the payment's snapshot froze.
    pub rate_id: Option<ShippingRateId>,
    /// Buy even though the label costs something else than the customer paid for shipping.
    pub accept_price_change: Option<bool>,
}

/// A bought label.
#[derive(Debug, Clone)]
pub struct Purchase {
    /// The shipment.
    pub shipment: Shipment,
    /// The store captures the payment when a label is bought.
    pub capture_on_shipment: bool,
}

fn event(
    shipment: ShipmentId,
    kind: &str,
    actor: &str,
    detail: String,
    state: &AppState,
) -> EventRow {
    EventRow {
        id: Uuid::now_v7(),
        shipment_id: shipment,
        kind: kind.to_owned(),
        actor: actor.to_owned(),
        detail,
        created_at: state.clock.now(),
    }
}

/// Who asks for a label: the actor, and the Idempotency-Key of their request.
#[derive(Debug, Clone, Copy)]
pub struct Buyer<'a> {
    /// The caller's actor (`api_key:…`, `user:…`).
    pub actor: &'a str,
    /// The request's Idempotency-Key.
    pub key: &'a str,
}

impl Buyer<'_> {
    /// What the shipment keeps of the request that bought it: scoped to the actor like the
    /// key's record, so another credential's identical key is another request.
    fn purchase_key(&self) -> String {
        format!("{} {}", self.actor, self.key)
    }
}

/// How long a request resuming its own open purchase holds it from the resolver (longer than
/// any carrier call it makes).
const RESUME_HOLD_SECS: i64 = 300;

/// Buys the label for a paid order: the rate its payment's snapshot froze, or `request.rate_id`
/// (a price change then needs `accept_price_change`).
pub async fn buy(
    state: &AppState,
    store: StoreId,
    env: Environment,
    order_id: OrderId,
    request: BuyRequest,
    buyer: Buyer<'_>,
) -> Result<Purchase, Error> {
    let actor = buyer.actor;
    let purchase_key = buyer.purchase_key();
    let scope = OrderScope {
        store_id: store,
        environment: env,
        customer_id: None,
    };
    let order = orders::find(state, scope, order_id).await?;
    let capture_on_shipment = settings::load_settings(state, store, env)
        .await?
        .capture_on_shipment;
    if let Some(live) = repo::live_for_order(&state.db, order.id).await? {
        if live.status != ShipmentStatus::Purchasing {
            // The request that bought it, again (its answer was lost after the purchase was
            // recorded): it hears what it bought.
            if live.purchase_key.as_deref() == Some(purchase_key.as_str()) {
                return Ok(Purchase {
                    shipment: view::find(state, store, env, live.id).await?,
                    capture_on_shipment,
                });
            }
            return Err(Error::AlreadyShipped(live.id));
        }
        // Another request's purchase: the resolver finishes it if that request does not.
        // (Shipments from before purchase keys have none: any request may resume those.)
        if live
            .purchase_key
            .as_deref()
            .is_some_and(|key| key != purchase_key)
        {
            return Err(Error::AlreadyShipped(live.id));
        }
        // Our own purchase whose answer was lost: finish it, with the same carrier key, unless
        // the resolver is at it right now (then the outcome is still open: retry).
        let next = state.clock.now() + chrono::Duration::seconds(RESUME_HOLD_SECS);
        if !repo::claim_purchase(&state.db, live.id, live.resolve_attempts, next).await? {
            return Err(Error::CarrierOutcomeUnknown);
        }
        let (client, provider_rate_id) = resumable(state, &live).await?;
        let shipment = purchase(
            state,
            client.as_ref(),
            live,
            &provider_rate_id,
            actor,
            capture_on_shipment,
        )
        .await?;
        return Ok(Purchase {
            shipment,
            capture_on_shipment,
        });
    }
    let paid = repo::paid_snapshot(&state.db, order.id)
        .await?
        .ok_or(Error::NotPaid)?;
    let rate_id = request.rate_id.or(paid.shipping_rate_id).ok_or_else(|| {
        InvalidValue::new(
            "rate_id",
            "the payment's snapshot froze no carrier rate; pass the rate to buy",
        )
    })?;
    let rate = repo::rate(&state.db, store, env, rate_id)
        .await?
        .filter(|r| r.order_id == order.id)
        .ok_or(Error::NotFound)?;
    let provider_rate_id = rate
        .provider_rate_id
        .clone()
        .ok_or(Error::RateNotPurchasable)?;
    let now = state.clock.now();
    if rate.expires_at <= now {
        return Err(Error::RateExpired);
    }
    if rate.amount != paid.shipping && !request.accept_price_change.unwrap_or(false) {
        return Err(Error::PriceChanged {
            paid: paid.shipping,
            label: rate.amount,
        });
    }
    let packages = rate.packages()?;
    let row = ShipmentRow {
        id: ShipmentId::new(),
        store_id: store,
        environment: env,
        order_id: order.id,
        rate_id: rate.id,
        provider: rate.provider.clone(),
        service: rate.service.clone(),
        status: ShipmentStatus::Purchasing,
        amount: rate.amount,
        currency: rate.currency,
        provider_label_id: None,
        tracking_number: None,
        void_deadline: None,
        failure_code: None,
        purchase_key: Some(purchase_key),
        resolve_attempts: 0,
        capture_due: false,
        created_at: now,
        updated_at: now,
    };
    // The client first: a store that cannot reach the carrier records nothing.
    let client = carrier(state, &row).await?;
    let mut tx = state.db.begin_write().await?;
    if !repo::insert_shipment(&mut tx, &row, &packages).await? {
        drop(tx);
        let live = repo::live_for_order(&state.db, order.id).await?;
        return Err(Error::AlreadyShipped(live.map_or(row.id, |l| l.id)));
    }
    let detail = format!(
        "{} {} for {} {} (customer paid {})",
        row.provider,
        row.service,
        row.amount,
        row.currency.code(),
        paid.shipping
    );
    repo::insert_event(
        &mut tx,
        &event(row.id, "purchase_started", actor, detail, state),
    )
    .await?;
    tx.commit().await?;
    let shipment = purchase(
        state,
        client.as_ref(),
        row,
        &provider_rate_id,
        actor,
        capture_on_shipment,
    )
    .await?;
    Ok(Purchase {
        shipment,
        capture_on_shipment,
    })
}

/// The carrier client of a shipment's store; credentials it lacks are a configuration problem.
async fn carrier(state: &AppState, row: &ShipmentRow) -> Result<Box<dyn Carrier>, Error> {
    match credentials::carrier_client(state, row.store_id, &row.provider, row.environment).await {
        Ok(client) => Ok(client),
        Err(CredentialError::Missing { .. } | CredentialError::NotFound) => Err(
            Error::NotConfigured("the store has no credentials for this carrier"),
        ),
        Err(CredentialError::Client(err)) => {
            tracing::warn!(error = %err, carrier = %row.provider, "no carrier client");
            Err(Error::NotConfigured(
                "the store's carrier credentials cannot be used",
            ))
        }
        Err(err) => Err(err.into()),
    }
}

/// The carrier client of an open purchase, and the carrier's id of the rate it buys.
pub(super) async fn resumable(
    state: &AppState,
    live: &ShipmentRow,
) -> Result<(Box<dyn Carrier>, String), Error> {
    let rate = repo::rate(&state.db, live.store_id, live.environment, live.rate_id)
        .await?
        .ok_or(Error::NotFound)?;
    let provider_rate_id = rate.provider_rate_id.ok_or(Error::RateNotPurchasable)?;
    Ok((carrier(state, live).await?, provider_rate_id))
}

/// Calls the carrier for a `purchasing` shipment and records what it answered. Only a refusal
/// or a carrier that could not be reached at all ends the purchase; any other failure may have
/// sold the label, so the shipment stays `purchasing` and the same request (or the resolver)
/// resumes it with the same key.
pub(super) async fn purchase(
    state: &AppState,
    client: &dyn Carrier,
    row: ShipmentRow,
    provider_rate_id: &str,
    actor: &str,
    capture_on_shipment: bool,
) -> Result<Shipment, Error> {
    let key = provider_key(row.id.0, "label", 1);
    // The purchase is recorded (`purchasing`); the carrier has not been called.
    crate::crash_point!("shipments.label.after_intent");
    let answer = client
        .buy_label(provider_rate_id, &row.id.to_string(), &key)
        .await;
    // The carrier has answered; nothing of it is recorded.
    crate::crash_point!("shipments.label.after_provider");
    match answer {
        Ok(label) => {
            // Documents are fetched (and kept) when first asked for: nothing after the
            // purchase is recorded may fail the request that bought it.
            record_purchase(state, &row, &label, actor, capture_on_shipment).await?;
            crate::crash_point!("shipments.label.after_outcome");
            view::find(state, row.store_id, row.environment, row.id).await
        }
        Err(CarrierError::UnknownOutcome(reason) | CarrierError::Retryable(reason)) => {
            let mut tx = state.db.begin_write().await?;
            let detail = format!("the carrier's answer was lost: {reason}");
            repo::insert_event(
                &mut tx,
                &event(row.id, "purchase_unknown", actor, detail, state),
            )
            .await?;
            tx.commit().await?;
            Err(Error::CarrierOutcomeUnknown)
        }
        Err(err) => {
            let code = match &err {
                CarrierError::Rejected { code, .. } | CarrierError::Refused { code, .. } => {
                    code.clone()
                }
                CarrierError::Unreachable(_)
                | CarrierError::Retryable(_)
                | CarrierError::UnknownOutcome(_) => "carrier_unavailable".to_owned(),
            };
            let mut tx = state.db.begin_write().await?;
            let mut current = repo::lock(&mut tx, row.id).await?;
            let before = current.status;
            current.status = apply(current.status, Change::PurchaseRefused)?;
            current.failure_code = Some(code.clone());
            current.updated_at = state.clock.now();
            repo::update(&mut tx, &current).await?;
            repo::insert_event(
                &mut tx,
                &event(row.id, "purchase_failed", actor, err.to_string(), state),
            )
            .await?;
            let emitted = notify::changed(&mut tx, before, &current, current.updated_at).await?;
            tx.commit().await?;
            if emitted {
                outbound::wake(state);
            }
            Err(Error::from_carrier(err))
        }
    }
}

/// Records a sold label, then replays the tracking events that arrived before it. The first
/// recording marks the store's capture on shipment due, in the same transaction, so that it is
/// made even if whoever bought the label dies before making it.
async fn record_purchase(
    state: &AppState,
    row: &ShipmentRow,
    label: &Label,
    actor: &str,
    capture_on_shipment: bool,
) -> Result<(), Error> {
    let now = state.clock.now();
    let mut tx = state.db.begin_write().await?;
    let mut current = repo::lock(&mut tx, row.id).await?;
    let before = current.status;
    current.status = apply(current.status, Change::Purchased)?;
    current.provider_label_id = Some(label.provider_label_id.clone());
    current.tracking_number = Some(label.tracking_number.clone());
    current.void_deadline = Some(label.void_deadline);
    current.amount = label.amount;
    current.currency = label.currency;
    for update in &label.events {
        repo::insert_tracking(&mut tx, row.id, update, now).await?;
    }
    for stored in repo::tracking_in(&mut tx, row.id).await? {
        current.status = apply(current.status, Change::Tracked(stored.status))?;
    }
    current.updated_at = now;
    if before == ShipmentStatus::Purchasing {
        current.capture_due = capture_on_shipment;
    }
    repo::update(&mut tx, &current).await?;
    if before == ShipmentStatus::Purchasing {
        let detail = format!(
            "label {} tracking {} for {} {}",
            label.provider_label_id,
            label.tracking_number,
            label.amount,
            label.currency.code()
        );
        repo::insert_event(&mut tx, &event(row.id, "purchased", actor, detail, state)).await?;
    }
    let emitted = notify::changed(&mut tx, before, &current, now).await?;
    tx.commit().await?;
    if emitted {
        outbound::wake(state);
    }
    Ok(())
}

async fn store_document(
    state: &AppState,
    id: ShipmentId,
    format: LabelFormat,
    bytes: Vec<u8>,
) -> Result<(), Error> {
    match format {
        LabelFormat::Pdf => repo::set_documents(&state.db, id, Some(&bytes), None).await?,
        LabelFormat::Zpl => {
            let text = String::from_utf8_lossy(&bytes);
            repo::set_documents(&state.db, id, None, Some(&text)).await?
        }
    }
    Ok(())
}

/// Voids a shipment's label while the carrier's window is open (before pickup).
pub async fn void(
    state: &AppState,
    store: StoreId,
    env: Environment,
    id: ShipmentId,
    actor: &str,
) -> Result<Shipment, Error> {
    let row = repo::find(&state.db, store, env, id)
        .await?
        .ok_or(Error::NotFound)?;
    if row.status == ShipmentStatus::Cancelled {
        return view::find(state, store, env, id).await;
    }
    // Refused here, before the carrier is asked, when the status cannot be voided.
    apply(row.status, Change::Voided)?;
    let label_id = row.provider_label_id.clone().ok_or_else(|| {
        Error::Internal(anyhow::anyhow!("a labelled shipment without a label id"))
    })?;
    if row.void_deadline.is_some_and(|d| d <= state.clock.now()) {
        return Err(Error::CarrierRejected {
            code: "void_window_closed".to_owned(),
            message: "the label can no longer be voided".to_owned(),
        });
    }
    let client = carrier(state, &row).await?;
    let label = client
        .void_label(&label_id, &provider_key(row.id.0, "void", 1))
        .await
        .map_err(Error::from_carrier)?;
    if !label.voided {
        return Err(Error::CarrierOutcomeUnknown);
    }
    let mut tx = state.db.begin_write().await?;
    let mut current = repo::lock(&mut tx, id).await?;
    let before = current.status;
    current.status = apply(current.status, Change::Voided)?;
    // A voided label ships nothing: a capture on shipment a dead buyer left due is not made.
    current.capture_due = false;
    current.updated_at = state.clock.now();
    repo::update(&mut tx, &current).await?;
    let detail = format!(
        "label {label_id} voided; {} {} refunded by the carrier",
        label.amount,
        label.currency.code()
    );
    repo::insert_event(&mut tx, &event(id, "voided", actor, detail, state)).await?;
    let emitted = notify::changed(&mut tx, before, &current, current.updated_at).await?;
    tx.commit().await?;
    if emitted {
        outbound::wake(state);
    }
    view::find(state, store, env, id).await
}

/// A shipment's label document (fetched from the carrier once if it was not stored).
pub async fn label_document(
    state: &AppState,
    store: StoreId,
    env: Environment,
    id: ShipmentId,
    format: LabelFormat,
) -> Result<Vec<u8>, Error> {
    let row = repo::find(&state.db, store, env, id)
        .await?
        .ok_or(Error::NotFound)?;
    let Some(label_id) = row
        .provider_label_id
        .as_deref()
        // A voided label is never handed out again (it would print a refunded label).
        .filter(|_| row.status.has_label() && row.status != ShipmentStatus::Cancelled)
    else {
        return Err(Error::NotFound);
    };
    let (pdf, zpl) = repo::documents(&state.db, id).await?;
    let stored = match format {
        LabelFormat::Pdf => pdf,
        LabelFormat::Zpl => zpl.map(String::into_bytes),
    };
    if let Some(bytes) = stored {
        return Ok(bytes);
    }
    let client = carrier(state, &row).await?;
    let bytes = client
        .label_document(label_id, format)
        .await
        .map_err(Error::from_carrier)?;
    store_document(state, id, format, bytes.clone()).await?;
    Ok(bytes)
}
