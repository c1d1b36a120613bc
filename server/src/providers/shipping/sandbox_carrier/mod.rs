//! The sandbox carrier as a registered carrier: a simulated remote carrier reached over HTTP.
//! Without a `base_url` its client calls the carrier mounted in this server at
//! `/sandbox-carrier` (never in production).

mod client;

use chrono::{DateTime, Utc};
use http::HeaderMap;
use secrecy::SecretString;
use serde_json::Value;

pub use client::SandboxCarrierClient;

use super::carrier::{Carrier, CarrierAdapter, CarrierEvent, TrackingStatus, TrackingUpdate};
use crate::{
    egress::Egress,
    providers::{
        account::{
            AccountAdapter, BoxFuture, ClientContext, ClientError, Credentials, generate_keyed,
            keyed_masked, only_fields, standard_event_id, string_field, verify_standard_webhook,
        },
        signature::SignatureError,
    },
    types::InvalidValue,
};

/// The carrier's name.
pub const NAME: &str = "sandbox_carrier";

/// The sandbox carrier's registration.
#[derive(Debug, Default)]
pub struct SandboxCarrierAdapter;

/// The normalized status of one of the sandbox carrier's codes.
pub fn normalize(code: &str) -> TrackingStatus {
    match code {
        "LABEL_CREATED" => TrackingStatus::PreTransit,
        "PICKED_UP" | "IN_TRANSIT" | "ARRIVED_AT_FACILITY" => TrackingStatus::InTransit,
        "OUT_FOR_DELIVERY" => TrackingStatus::OutForDelivery,
        "DELIVERED" => TrackingStatus::Delivered,
        "EXCEPTION" => TrackingStatus::Failure,
        "RETURNED_TO_SENDER" => TrackingStatus::Returned,
        "VOIDED" => TrackingStatus::Cancelled,
        _ => TrackingStatus::Unknown,
    }
}

/// A tracking event as the carrier writes it (in labels and webhooks).
pub(crate) fn tracking_update(event: &Value) -> Option<TrackingUpdate> {
    let code = event["code"].as_str()?;
    Some(TrackingUpdate {
        sequence: i32::try_from(event["sequence"].as_i64()?).ok()?,
        status: normalize(code),
        raw_code: code.chars().take(64).collect(),
        description: event["description"]
            .as_str()
            .unwrap_or_default()
            .chars()
            .take(500)
            .collect(),
        occurred_at: event["occurred_at"]
            .as_str()
            .and_then(|t| t.parse::<DateTime<Utc>>().ok())?,
        location: event["location"]
            .as_str()
            .map(|l| l.chars().take(200).collect()),
    })
}

impl AccountAdapter for SandboxCarrierAdapter {
    fn name(&self) -> &'static str {
        NAME
    }

    fn parse_credentials(
        &self,
        body: &Value,
        egress: &Egress,
    ) -> Result<Credentials, InvalidValue> {
        only_fields(body, &["api_key", "webhook_secret", "base_url"])?;
        let base_url = string_field(body, "base_url", false)?;
        if let Some(url) = &base_url {
            let ok = url::Url::parse(url).is_ok_and(|u| matches!(u.scheme(), "http" | "https"));
            if !ok {
                return Err(InvalidValue::new("base_url", "must be an http(s) URL"));
            }
            egress
                .check_provider_url(url)
                .map_err(|e| InvalidValue::new("base_url", e.to_string()))?;
        }
        let api_key = string_field(body, "api_key", true)?;
        if api_key.as_deref().is_some_and(|k| !k.starts_with("scr_")) {
            return Err(InvalidValue::new(
                "api_key",
                "sandbox carrier keys start with scr_",
            ));
        }
        Ok(Credentials::new(NAME)
            .with("api_key", api_key)
            .with(
                "webhook_secret",
                string_field(body, "webhook_secret", true)?,
            )
            .with("base_url", base_url))
    }

    fn masked(&self, credentials: &Credentials) -> Value {
        keyed_masked(credentials)
    }

    fn generate_sandbox_credentials(&self) -> Option<Credentials> {
        Some(generate_keyed(NAME, "scr_"))
    }

    fn verify_webhook(
        &self,
        credentials: &Credentials,
        headers: &HeaderMap,
        body: &[u8],
        now: i64,
    ) -> Result<(), SignatureError> {
        verify_standard_webhook(credentials, headers, body, now)
    }

    fn event_id(&self, headers: &HeaderMap, _payload: &Value) -> Option<String> {
        standard_event_id(headers)
    }

    fn credentials_changed<'a>(
        &'a self,
        ctx: &'a ClientContext,
        credentials: &'a Credentials,
    ) -> BoxFuture<'a, ()> {
        Box::pin(async move {
            // New account or secret: tell the carrier where to send its tracking events.
            let Some(secret) = credentials.get("webhook_secret") else {
                return;
            };
            let client = match carrier_client(ctx, credentials) {
                Ok(client) => client,
                Err(ClientError::NotMounted(_)) => return,
                Err(err) => {
                    tracing::warn!(error = %err, store = %ctx.store,
                        "no sandbox carrier client to register the webhook endpoint with");
                    return;
                }
            };
            let url = ctx.own_webhook_url(NAME);
            if let Err(err) = client.register_webhook_endpoint(&url, secret).await {
                tracing::warn!(error = %err, store = %ctx.store,
                    "could not register the sandbox carrier webhook endpoint");
            }
        })
    }
}

impl CarrierAdapter for SandboxCarrierAdapter {
    fn client(
        &self,
        ctx: &ClientContext,
        credentials: &Credentials,
    ) -> Result<Box<dyn Carrier>, ClientError> {
        Ok(Box::new(carrier_client(ctx, credentials)?))
    }

    fn parse_event(&self, payload: &Value) -> CarrierEvent {
        let data = &payload["data"];
        let update = match payload["type"].as_str().unwrap_or_default() {
            "tracker.updated" | "label.voided" => tracking_update(data),
            _ => None,
        };
        match (update, data["label_id"].as_str()) {
            (Some(update), Some(label)) => CarrierEvent::Tracking {
                provider_label_id: label.to_owned(),
                reference: data["reference"].as_str().map(str::to_owned),
                update,
            },
            _ => CarrierEvent::Ignored,
        }
    }
}

/// The HTTP client for a store's carrier credentials. A stored `base_url` is checked against
/// the allow-list again here (it may predate the rule or a narrower list).
fn carrier_client(
    ctx: &ClientContext,
    credentials: &Credentials,
) -> Result<SandboxCarrierClient, ClientError> {
    let api_key: SecretString = credentials
        .get("api_key")
        .cloned()
        .ok_or(ClientError::Incomplete("api_key"))?;
    let base_url = match credentials.setting("base_url") {
        Some(url) => {
            ctx.egress.check_provider_url(url)?;
            url.to_owned()
        }
        None if ctx.production => return Err(ClientError::NotMounted(NAME)),
        None => format!("{}/sandbox-carrier", ctx.self_url),
    };
    Ok(SandboxCarrierClient::new(
        ctx.egress.clone(),
        &base_url,
        api_key,
        ctx.timeout,
    ))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn carrier_codes_are_normalized() {
        assert_eq!(normalize("LABEL_CREATED"), TrackingStatus::PreTransit);
        assert_eq!(normalize("PICKED_UP"), TrackingStatus::InTransit);
        assert_eq!(
            normalize("OUT_FOR_DELIVERY"),
            TrackingStatus::OutForDelivery
        );
        assert_eq!(normalize("DELIVERED"), TrackingStatus::Delivered);
        assert_eq!(normalize("EXCEPTION"), TrackingStatus::Failure);
        assert_eq!(normalize("RETURNED_TO_SENDER"), TrackingStatus::Returned);
        assert_eq!(normalize("VOIDED"), TrackingStatus::Cancelled);
        assert_eq!(normalize("SOMETHING_NEW"), TrackingStatus::Unknown);
    }

    #[test]
    fn tracking_webhooks_become_typed_events() {
        let payload = json!({"id": "evt_1", "type": "tracker.updated", "data": {
            "label_id": "lbl_1", "tracking_number": "SC1", "reference": "ship-1",
            "sequence": 2, "code": "PICKED_UP", "description": "Picked up",
            "occurred_at": "2026-12-01T10:00:00Z", "location": null}});
        let CarrierEvent::Tracking {
            provider_label_id,
            reference,
            update,
        } = SandboxCarrierAdapter.parse_event(&payload)
        else {
            panic!("not a tracking event");
        };
        assert_eq!(provider_label_id, "lbl_1");
        assert_eq!(reference.as_deref(), Some("ship-1"));
        assert_eq!(update.sequence, 2);
        assert_eq!(update.status, TrackingStatus::InTransit);
        let unknown = json!({"type": "account.updated", "data": {}});
        assert_eq!(
            SandboxCarrierAdapter.parse_event(&unknown),
            CarrierEvent::Ignored
        );
        let broken = json!({"type": "tracker.updated", "data": {"label_id": "lbl_1"}});
        assert_eq!(
            SandboxCarrierAdapter.parse_event(&broken),
            CarrierEvent::Ignored
        );
    }
}
