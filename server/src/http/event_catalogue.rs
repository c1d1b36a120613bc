//! The outbound events in the OpenAPI document: the envelope every delivery's body is
//! (`OutboundEvent`), one schema per event type whose `data.object` is the API object it
//! carries (`PaymentIntentCapturedEvent`, …), and OpenAPI 3.1's top-level `webhooks`: for each
//! type, the request Cassa sends to an endpoint subscribed to it.

use utoipa::{
    PartialSchema, ToSchema,
    openapi::{
        OpenApi, Ref, RefOr,
        schema::{AllOfBuilder, ObjectBuilder, Schema, Type},
    },
};

use crate::outbound::{API_VERSION, EventType, ObjectKind, OutboundEvent};

/// The name of an event type's schema (`payment_intent.captured` → `PaymentIntentCapturedEvent`).
fn schema_name(event_type: EventType) -> String {
    format!("{event_type:?}Event")
}

/// What `data.object` is for a kind of object: the API's own schema.
fn object_schema(kind: ObjectKind) -> RefOr<Schema> {
    let named = |name: std::borrow::Cow<'static, str>| Ref::from_schema_name(name).into();
    match kind {
        ObjectKind::PaymentIntent => named(crate::payments::PaymentIntent::name()),
        ObjectKind::Refund => named(crate::payments::Transaction::name()),
        ObjectKind::Order => named(crate::orders::Order::name()),
        ObjectKind::Shipment => named(crate::shipments::Shipment::name()),
        ObjectKind::TaxTransaction => named(crate::tax::TaxTransaction::name()),
        ObjectKind::ReconciliationRun => named(crate::reconciliation::Run::name()),
        ObjectKind::ReconciliationItem => named(crate::reconciliation::Item::name()),
        ObjectKind::WebhookEndpoint => named(crate::outbound::Endpoint::name()),
        ObjectKind::Ping => ObjectBuilder::new()
            .property(
                "object",
                ObjectBuilder::new()
                    .schema_type(Type::String)
                    .enum_values(Some(["ping"])),
            )
            .required("object")
            .property(
                "endpoint_id",
                ObjectBuilder::new().schema_type(Type::String).format(Some(
                    utoipa::openapi::SchemaFormat::KnownFormat(utoipa::openapi::KnownFormat::Uuid),
                )),
            )
            .required("endpoint_id")
            .property("message", ObjectBuilder::new().schema_type(Type::String))
            .description(Some("A test event: nothing happened."))
            .into(),
    }
}

/// An event type's schema: the envelope with its `type` and its `data.object`.
fn event_schema(event_type: EventType) -> RefOr<Schema> {
    let type_name = ObjectBuilder::new()
        .schema_type(Type::String)
        .enum_values(Some([event_type.as_str()]));
    let data = ObjectBuilder::new()
        .property("object", object_schema(event_type.object()))
        .required("object");
    let specific = ObjectBuilder::new()
        .property("type", type_name)
        .required("type")
        .property("data", data)
        .required("data");
    let description = format!(
        "`{}` (API version {API_VERSION}): {}",
        event_type.as_str(),
        event_type.description()
    );
    AllOfBuilder::new()
        .item(Ref::from_schema_name(OutboundEvent::name()))
        .item(specific)
        .description(Some(description))
        .into()
}

/// The request an endpoint receives for one event type (an OpenAPI 3.1 webhook).
fn webhook(event_type: EventType) -> serde_json::Value {
    let reference = format!("#/components/schemas/{}", schema_name(event_type));
    serde_json::json!({
        "post": {
            "tags": ["events"],
            "summary": event_type.as_str(),
            "description": event_type.description(),
            "operationId": format!("event_{}", event_type.as_str().replace('.', "_")),
            "requestBody": {
                "required": true,
                "content": {"application/json": {"schema": {"$ref": reference}}},
            },
            "responses": {
                "2XX": {
                    "description": "Received. Any other answer, or none within the timeout, is \
                                    retried; the event's `id` stays the same on every attempt."
                },
            },
        },
    })
}

/// Adds the event schemas and the `webhooks` of every event type to the document.
pub struct EventCatalogue;

impl utoipa::Modify for EventCatalogue {
    fn modify(&self, openapi: &mut OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        let mut schemas = vec![(OutboundEvent::name().into_owned(), OutboundEvent::schema())];
        OutboundEvent::schemas(&mut schemas);
        for event_type in EventType::ALL {
            schemas.push((schema_name(event_type), event_schema(event_type)));
        }
        for (name, schema) in schemas {
            components.schemas.insert(name, schema);
        }
        // utoipa has no field for 3.1's `webhooks`; extensions are written at the top level.
        let webhooks: serde_json::Map<String, serde_json::Value> = EventType::ALL
            .into_iter()
            .map(|t| (t.as_str().to_owned(), webhook(t)))
            .collect();
        openapi
            .extensions
            .get_or_insert_with(Default::default)
            .insert("webhooks".to_owned(), serde_json::Value::Object(webhooks));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_event_type_has_a_schema_and_a_webhook() {
        let mut doc = OpenApi::default();
        utoipa::Modify::modify(&EventCatalogue, &mut doc);
        let json = serde_json::to_value(&doc).unwrap();
        for t in EventType::ALL {
            assert!(
                json["components"]["schemas"][schema_name(t)].is_object(),
                "{t}"
            );
            assert_eq!(
                json["webhooks"][t.as_str()]["post"]["requestBody"]["content"]["application/json"]
                    ["schema"]["$ref"],
                format!("#/components/schemas/{}", schema_name(t))
            );
        }
        for name in ["OutboundEvent", "EventData", "EventType"] {
            assert!(json["components"]["schemas"][name].is_object(), "{name}");
        }
        assert_eq!(
            json["components"]["schemas"]["EventType"]["enum"]
                .as_array()
                .map(Vec::len),
            Some(EventType::ALL.len())
        );
    }
}
