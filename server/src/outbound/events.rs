//! The event catalogue and the outbox's write side.
//!
//! A domain flow that changes something a merchant's systems hear about calls [`emit`] (or
//! [`emit_all`]) with the transaction that makes the change: the event row and one delivery per
//! subscribed endpoint are written in it, so the event exists exactly when the change does (a
//! rollback takes both back, a retry that changes nothing emits nothing). This module knows no
//! domain: the domain builds the event's object (the object as its API returns it) and names
//! the type.
//!
//! **Versions.** Every event carries [`API_VERSION`], the version of the object's shape it was
//! written in, and its payload is stored as sent, so an event keeps its shape however the API
//! changes later. Additive changes (a new field, a new event type) keep the version. A breaking
//! change to an object adds a new date: `API_VERSION` moves to it, the domain keeps building
//! the current object, and the version the change leaves behind gets a function here that
//! turns a current object into its own shape, applied when an event is written for an endpoint
//! that pinned the older version (the endpoint would record its version; none does yet, since
//! there is one version).

use std::{fmt, str::FromStr};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use super::repo::{self, EventRow};
use crate::{
    db::{DbError, Tx, Writes},
    types::{Environment, OutboundEventId, StoreId, TextValue},
};

/// The version of every event's payload written now (a date, as Stripe's API versions).
pub const API_VERSION: &str = "2026-12-01";

/// What an event reports. Endpoints subscribe to types by these names (or `*`).
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, ToSchema,
)]
pub enum EventType {
    /// A payment was authorized (the order is paid as well: `order.paid`).
    #[serde(rename = "payment_intent.authorized")]
    PaymentIntentAuthorized,
    /// A capture took everything left of the authorization (the payment is `captured`).
    #[serde(rename = "payment_intent.captured")]
    PaymentIntentCaptured,
    /// A capture took part of the authorization; more may be captured.
    #[serde(rename = "payment_intent.partially_captured")]
    PaymentIntentPartiallyCaptured,
    /// A void released the authorization (`voided`), or its uncaptured rest after partial
    /// captures (`released_amount` says how much; the status stays as the captures make it).
    #[serde(rename = "payment_intent.voided")]
    PaymentIntentVoided,
    /// The authorization was declined or failed.
    #[serde(rename = "payment_intent.failed")]
    PaymentIntentFailed,
    /// A refund succeeded (the payment is `partially_refunded` or `refunded`).
    #[serde(rename = "payment_intent.refunded")]
    PaymentIntentRefunded,
    /// A refund succeeded (the object is the refund's ledger transaction).
    #[serde(rename = "refund.succeeded")]
    RefundSucceeded,
    /// A refund failed: refused by the provider (`failed`), or failed there after it had
    /// succeeded (`reversed`: the money is back in the merchant's balance).
    #[serde(rename = "refund.failed")]
    RefundFailed,
    /// An order's payment was authorized: the order is `paid`.
    #[serde(rename = "order.paid")]
    OrderPaid,
    /// A shipment's label was bought (`pre_transit`).
    #[serde(rename = "shipment.label_purchased")]
    ShipmentLabelPurchased,
    /// The carrier refused to sell the label (`purchase_failed`).
    #[serde(rename = "shipment.purchase_failed")]
    ShipmentPurchaseFailed,
    /// The carrier has the parcel (`in_transit`).
    #[serde(rename = "shipment.in_transit")]
    ShipmentInTransit,
    /// The parcel is out for delivery.
    #[serde(rename = "shipment.out_for_delivery")]
    ShipmentOutForDelivery,
    /// The parcel was delivered.
    #[serde(rename = "shipment.delivered")]
    ShipmentDelivered,
    /// Delivery failed (`failure`); it may still be delivered or returned.
    #[serde(rename = "shipment.exception")]
    ShipmentException,
    /// The parcel went back to the sender.
    #[serde(rename = "shipment.returned")]
    ShipmentReturned,
    /// The label was voided (`cancelled`).
    #[serde(rename = "shipment.voided")]
    ShipmentVoided,
    /// Tax was committed (a capture, the order's finalization, a refund the provider reversed).
    #[serde(rename = "tax.committed")]
    TaxCommitted,
    /// Committed tax was reversed (a refund, a void releasing what was not sold).
    #[serde(rename = "tax.reversed")]
    TaxReversed,
    /// A reconciliation run completed.
    #[serde(rename = "reconciliation.run_completed")]
    ReconciliationRunCompleted,
    /// A reconciliation run found an exception (an item a person must look at).
    #[serde(rename = "reconciliation.exception_opened")]
    ReconciliationExceptionOpened,
    /// One of the store's endpoints was disabled after sustained failure.
    #[serde(rename = "webhook_endpoint.disabled")]
    WebhookEndpointDisabled,
    /// A test event sent on request to one endpoint.
    #[serde(rename = "test.ping")]
    TestPing,
}

/// What an event's `data.object` is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ObjectKind {
    /// A payment intent as `GET …/payments` returns it.
    PaymentIntent,
    /// A refund's ledger transaction, as in a payment's `transactions`.
    Refund,
    /// An order as `GET /admin/orders/{id}` returns it.
    Order,
    /// A shipment as `GET /admin/shipments/{id}` returns it.
    Shipment,
    /// A tax transaction as in `GET /admin/orders/{id}/tax`.
    TaxTransaction,
    /// A reconciliation run as `GET /admin/reconciliation/runs/{id}` returns it.
    ReconciliationRun,
    /// A reconciliation item as a run's items list returns it.
    ReconciliationItem,
    /// A webhook endpoint as the endpoints API returns it.
    WebhookEndpoint,
    /// A test ping.
    Ping,
}

impl EventType {
    /// The whole catalogue.
    pub const ALL: [EventType; 23] = [
        EventType::PaymentIntentAuthorized,
        EventType::PaymentIntentCaptured,
        EventType::PaymentIntentPartiallyCaptured,
        EventType::PaymentIntentVoided,
        EventType::PaymentIntentFailed,
        EventType::PaymentIntentRefunded,
        EventType::RefundSucceeded,
        EventType::RefundFailed,
        EventType::OrderPaid,
        EventType::ShipmentLabelPurchased,
        EventType::ShipmentPurchaseFailed,
        EventType::ShipmentInTransit,
        EventType::ShipmentOutForDelivery,
        EventType::ShipmentDelivered,
        EventType::ShipmentException,
        EventType::ShipmentReturned,
        EventType::ShipmentVoided,
        EventType::TaxCommitted,
        EventType::TaxReversed,
        EventType::ReconciliationRunCompleted,
        EventType::ReconciliationExceptionOpened,
        EventType::WebhookEndpointDisabled,
        EventType::TestPing,
    ];

    /// The wire and database spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            EventType::PaymentIntentAuthorized => "payment_intent.authorized",
            EventType::PaymentIntentCaptured => "payment_intent.captured",
            EventType::PaymentIntentPartiallyCaptured => "payment_intent.partially_captured",
            EventType::PaymentIntentVoided => "payment_intent.voided",
            EventType::PaymentIntentFailed => "payment_intent.failed",
            EventType::PaymentIntentRefunded => "payment_intent.refunded",
            EventType::RefundSucceeded => "refund.succeeded",
            EventType::RefundFailed => "refund.failed",
            EventType::OrderPaid => "order.paid",
            EventType::ShipmentLabelPurchased => "shipment.label_purchased",
            EventType::ShipmentPurchaseFailed => "shipment.purchase_failed",
            EventType::ShipmentInTransit => "shipment.in_transit",
            EventType::ShipmentOutForDelivery => "shipment.out_for_delivery",
            EventType::ShipmentDelivered => "shipment.delivered",
            EventType::ShipmentException => "shipment.exception",
            EventType::ShipmentReturned => "shipment.returned",
            EventType::ShipmentVoided => "shipment.voided",
            EventType::TaxCommitted => "tax.committed",
            EventType::TaxReversed => "tax.reversed",
            EventType::ReconciliationRunCompleted => "reconciliation.run_completed",
            EventType::ReconciliationExceptionOpened => "reconciliation.exception_opened",
            EventType::WebhookEndpointDisabled => "webhook_endpoint.disabled",
            EventType::TestPing => "test.ping",
        }
    }

    /// What its `data.object` is.
    pub fn object(self) -> ObjectKind {
        match self {
            EventType::PaymentIntentAuthorized
            | EventType::PaymentIntentCaptured
            | EventType::PaymentIntentPartiallyCaptured
            | EventType::PaymentIntentVoided
            | EventType::PaymentIntentFailed
            | EventType::PaymentIntentRefunded => ObjectKind::PaymentIntent,
            EventType::RefundSucceeded | EventType::RefundFailed => ObjectKind::Refund,
            EventType::OrderPaid => ObjectKind::Order,
            EventType::ShipmentLabelPurchased
            | EventType::ShipmentPurchaseFailed
            | EventType::ShipmentInTransit
            | EventType::ShipmentOutForDelivery
            | EventType::ShipmentDelivered
            | EventType::ShipmentException
            | EventType::ShipmentReturned
            | EventType::ShipmentVoided => ObjectKind::Shipment,
            EventType::TaxCommitted | EventType::TaxReversed => ObjectKind::TaxTransaction,
            EventType::ReconciliationRunCompleted => ObjectKind::ReconciliationRun,
            EventType::ReconciliationExceptionOpened => ObjectKind::ReconciliationItem,
            EventType::WebhookEndpointDisabled => ObjectKind::WebhookEndpoint,
            EventType::TestPing => ObjectKind::Ping,
        }
    }

    /// When it is emitted (the OpenAPI document's description of the event).
    pub fn description(self) -> &'static str {
        match self {
            EventType::PaymentIntentAuthorized => {
                "The provider authorized a payment (status `authorized`)."
            }
            EventType::PaymentIntentCaptured => {
                "A capture succeeded and nothing of the authorization is left to capture \
                 (status `captured`)."
            }
            EventType::PaymentIntentPartiallyCaptured => {
                "A capture succeeded and part of the authorization may still be captured \
                 (status `partially_captured`)."
            }
            EventType::PaymentIntentVoided => {
                "A void succeeded: the whole authorization was released (status `voided`), or \
                 its uncaptured rest after partial captures (`released_amount`; the status \
                 stays as the captures and refunds make it)."
            }
            EventType::PaymentIntentFailed => {
                "The authorization was declined or failed (status `failed`, `failure_code`)."
            }
            EventType::PaymentIntentRefunded => {
                "A refund succeeded (status `partially_refunded` or `refunded`); the same \
                 refund's transaction comes as `refund.succeeded`."
            }
            EventType::RefundSucceeded => "A refund succeeded at the provider.",
            EventType::RefundFailed => {
                "A refund failed: the provider refused it (status `failed`), or failed it after \
                 it had succeeded (status `reversed`: the money is back in the merchant's \
                 balance and the payment's refundable amount grew back); `failure_code` says \
                 why."
            }
            EventType::OrderPaid => "An order's payment was authorized: the order is `paid`.",
            EventType::ShipmentLabelPurchased => {
                "The carrier sold the shipment's label (status `pre_transit`, or further when \
                 tracking events arrived before the purchase was recorded)."
            }
            EventType::ShipmentPurchaseFailed => {
                "The carrier refused to sell the label (status `purchase_failed`)."
            }
            EventType::ShipmentInTransit => "The carrier has the parcel (status `in_transit`).",
            EventType::ShipmentOutForDelivery => {
                "The parcel is out for delivery (status `out_for_delivery`)."
            }
            EventType::ShipmentDelivered => "The parcel was delivered (status `delivered`).",
            EventType::ShipmentException => {
                "Delivery failed (status `failure`); it may still end delivered or returned."
            }
            EventType::ShipmentReturned => {
                "The parcel went back to the sender (status `returned`)."
            }
            EventType::ShipmentVoided => "The label was voided (status `cancelled`).",
            EventType::TaxCommitted => {
                "Tax was committed: a capture, the order's finalization, or a refund the \
                 provider reversed (kind `commit`)."
            }
            EventType::TaxReversed => {
                "Committed tax was reversed: a refund, or a void releasing what was not sold \
                 (kind `reversal`)."
            }
            EventType::ReconciliationRunCompleted => "A reconciliation run completed.",
            EventType::ReconciliationExceptionOpened => {
                "A reconciliation run found an exception a person must look at (one event per \
                 item)."
            }
            EventType::WebhookEndpointDisabled => {
                "One of the store's endpoints was disabled after sustained failure (sent to its \
                 other endpoints)."
            }
            EventType::TestPing => "A test event sent on request to one endpoint.",
        }
    }
}

impl fmt::Display for EventType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A name that is not in the catalogue.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown event type {0:?}")]
pub struct UnknownEventType(pub String);

impl FromStr for EventType {
    type Err = UnknownEventType;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        EventType::ALL
            .into_iter()
            .find(|t| t.as_str() == s)
            .ok_or_else(|| UnknownEventType(s.to_owned()))
    }
}

impl TextValue for EventType {
    fn as_text(&self) -> &'static str {
        self.as_str()
    }
    fn from_text(text: &str) -> Option<Self> {
        text.parse().ok()
    }
}
crate::text_value_sql!(EventType);

impl OutboundEventId {
    /// The id on the wire: `evt_` and the UUID's 32 hex digits.
    pub fn public(&self) -> String {
        format!("evt_{}", self.0.simple())
    }

    /// Reads the wire form back (`None` for anything else).
    pub fn from_public(text: &str) -> Option<Self> {
        let hex = text.strip_prefix("evt_")?;
        // `Uuid::parse_str` also takes the hyphenated and braced forms; the wire has one.
        (hex.len() == 32)
            .then(|| Uuid::parse_str(hex).ok().map(Self))
            .flatten()
    }
}

/// An event to write, in the transaction of the change it reports.
#[derive(Debug, Clone)]
pub struct NewEvent {
    /// The store whose endpoints hear of it.
    pub store: StoreId,
    /// Its environment (a sandbox change never reaches a production endpoint).
    pub environment: Environment,
    /// What happened.
    pub event_type: EventType,
    /// The object as the API returns it, after the change.
    pub object: serde_json::Value,
    /// When the change happened (the event's `created`, its deliveries' first attempt).
    pub at: DateTime<Utc>,
}

impl NewEvent {
    /// An event whose object is `object` as the API serializes it.
    pub fn of<T: Serialize>(
        store: StoreId,
        environment: Environment,
        event_type: EventType,
        object: &T,
        at: DateTime<Utc>,
    ) -> Result<Self, DbError> {
        Ok(NewEvent {
            store,
            environment,
            event_type,
            object: serde_json::to_value(object).map_err(encode_error)?,
            at,
        })
    }
}

/// An event as it is sent (the request body of every delivery).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct OutboundEvent {
    /// `evt_` and 32 hex digits; unique, and the same on every delivery and resend of the
    /// event (use it to ignore duplicates).
    pub id: String,
    /// The event type.
    #[serde(rename = "type")]
    pub event_type: EventType,
    /// When the change it reports happened.
    pub created: DateTime<Utc>,
    /// The version of `data.object`'s shape.
    pub api_version: String,
    /// The store.
    pub store_id: StoreId,
    /// The environment of the change.
    pub environment: Environment,
    /// The object.
    pub data: EventData,
}

/// The object an event is about.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct EventData {
    /// The object as the API returns it after the change (its schema depends on the type).
    #[schema(value_type = Object)]
    pub object: serde_json::Value,
}

fn encode_error(err: serde_json::Error) -> DbError {
    DbError::Query(sqlx::Error::Encode(Box::new(err)))
}

fn row(event: NewEvent) -> Result<EventRow, DbError> {
    let id = OutboundEventId::new();
    let body = OutboundEvent {
        id: id.public(),
        event_type: event.event_type,
        created: event.at,
        api_version: API_VERSION.to_owned(),
        store_id: event.store,
        environment: event.environment,
        data: EventData {
            object: event.object,
        },
    };
    Ok(EventRow {
        id,
        store_id: event.store,
        environment: event.environment,
        event_type: event.event_type.as_str(),
        api_version: API_VERSION,
        payload: serde_json::to_string(&body).map_err(encode_error)?,
        created_at: event.at,
    })
}

/// Writes one event in `tx`, with a pending delivery (due at the event's time) to every
/// enabled endpoint of its store and environment subscribed to its type or to `*`. An event
/// nobody subscribes to is written all the same: it is the store's event history.
pub async fn emit(tx: &mut Tx, event: NewEvent) -> Result<OutboundEventId, DbError> {
    let ids = emit_all(tx, vec![event]).await?;
    ids.into_iter()
        .next()
        .ok_or_else(|| DbError::Query(sqlx::Error::RowNotFound))
}

/// Writes events as [`emit`] does, whatever the number of endpoints in one statement on
/// PostgreSQL and two per 50 events on SQLite: a change that reports several events pays once.
pub async fn emit_all(tx: &mut Tx, events: Vec<NewEvent>) -> Result<Vec<OutboundEventId>, DbError> {
    let mut writes = Writes::new();
    let ids = emit_all_in(tx, &mut writes, events).await?;
    writes.run(tx).await?;
    Ok(ids)
}

/// [`emit_all`] as part of `writes` (sent with them on PostgreSQL).
pub async fn emit_all_in(
    tx: &mut Tx,
    writes: &mut Writes,
    events: Vec<NewEvent>,
) -> Result<Vec<OutboundEventId>, DbError> {
    let rows = events.into_iter().map(row).collect::<Result<Vec<_>, _>>()?;
    for chunk in rows.chunks(repo::CHUNK) {
        repo::insert_fanned_out_in(tx, writes, chunk).await?;
    }
    Ok(rows.iter().map(|r| r.id).collect())
}

/// Writes one event with a delivery to `endpoint` alone, whatever it subscribes to or whether
/// it is enabled (a test ping, asked for by a person); none when the endpoint is not of the
/// event's store and environment.
pub async fn emit_to(
    tx: &mut Tx,
    event: NewEvent,
    endpoint: Uuid,
) -> Result<OutboundEventId, DbError> {
    let row = row(event)?;
    repo::insert_fanned_out(tx, std::slice::from_ref(&row), Some(endpoint)).await?;
    Ok(row.id)
}

#[cfg(test)]
mod tests;
