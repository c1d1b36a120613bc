//! Provider events for the shared suite: what each provider's event about a payment looks
//! like, delivered signed the way that provider signs (Standard Webhooks headers for the
//! sandbox PSP, `Stripe-Signature` for Stripe), and the store's view of what it received.

use cassa::providers::signature;
use serde_json::{Value, json};
use uuid::Uuid;

use super::provider::{CONNECT_ACCOUNT, ProviderShop, Psp, provider_id};
use crate::support::json_of;

/// What an event claims happened to a payment.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Claim {
    /// The authorization went through (after the customer's challenge).
    Authorized,
    /// The whole authorization was captured.
    Captured,
}

/// How a delivery is signed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Signing {
    /// With the store's webhook secret, over the body sent.
    Valid,
    /// With a secret that is not the store's.
    WrongSecret,
    /// With the store's secret, over another body than the one sent.
    OtherBody,
}

/// An event as the provider would send it: its id and the exact body.
#[derive(Clone, Debug)]
pub(crate) struct Event {
    pub(crate) id: String,
    pub(crate) body: String,
}

impl Event {
    /// The same news under a new event id, as a provider sends it again.
    pub(crate) fn resent(&self) -> Event {
        let mut payload: Value = serde_json::from_str(&self.body).unwrap();
        let id = new_event_id();
        payload["id"] = json!(id);
        Event {
            id,
            body: payload.to_string(),
        }
    }
}

fn new_event_id() -> String {
    format!("evt_{}", Uuid::now_v7().simple())
}

/// A webhook secret that is not the store's (a valid one for either scheme).
const OTHER_SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

impl ProviderShop {
    /// The provider's event claiming `claim` about the intent's payment, whatever the
    /// provider's own state says.
    pub(crate) fn event(&self, intent: &Value, claim: Claim) -> Event {
        let id = new_event_id();
        let amount = intent["amount"].as_i64().unwrap();
        let payload = match (&self.stripe, claim) {
            (None, Claim::Authorized) => {
                let mut event = crate::webhooks::authorized_event(intent, amount);
                event["id"] = json!(id);
                event
            }
            (None, Claim::Captured) => json!({"id": id, "type": "payment.captured",
                "data": {"payment": {"id": provider_id(intent), "status": "captured",
                    "amount": amount, "captured_amount": amount, "refunded_amount": 0}}}),
            (Some(stripe), claim) => {
                let mut object = stripe.intent(provider_id(intent));
                let kind = match claim {
                    Claim::Authorized => {
                        object["status"] = json!("requires_capture");
                        object["amount_capturable"] = json!(amount);
                        "payment_intent.amount_capturable_updated"
                    }
                    Claim::Captured => {
                        object["status"] = json!("succeeded");
                        object["amount_received"] = json!(amount);
                        "payment_intent.succeeded"
                    }
                };
                if let Some(object) = object.as_object_mut() {
                    object.remove("next_action");
                }
                json!({"id": id, "object": "event", "account": CONNECT_ACCOUNT,
                    "type": kind, "data": {"object": object}})
            }
        };
        Event {
            id,
            body: payload.to_string(),
        }
    }

    /// Posts `event` to the store's webhook endpoint for this provider, signed as `signing`
    /// says (timestamped now).
    pub(crate) async fn deliver(&self, event: &Event, signing: Signing) -> reqwest::Response {
        let secret = match signing {
            Signing::WrongSecret => OTHER_SECRET.to_owned(),
            Signing::Valid | Signing::OtherBody => self.webhook_secret().await,
        };
        let signed = match signing {
            Signing::OtherBody => format!("{} ", event.body),
            Signing::Valid | Signing::WrongSecret => event.body.clone(),
        };
        let now = chrono::Utc::now().timestamp();
        let path = format!("/api/v1/webhooks/{}/{}", self.psp.name(), self.store.id);
        let request = self
            .app
            .client
            .post(self.app.url(&path))
            .header("content-type", "application/json")
            .body(event.body.clone());
        let request = match self.psp {
            Psp::Sandbox => {
                let signature =
                    signature::sign_standard(&secret, &event.id, now, signed.as_bytes()).unwrap();
                request
                    .header("webhook-id", &event.id)
                    .header("webhook-timestamp", now.to_string())
                    .header("webhook-signature", signature)
            }
            Psp::Stripe => request.header(
                "stripe-signature",
                signature::sign_stripe(&secret, now, signed.as_bytes()),
            ),
        };
        request.send().await.unwrap()
    }

    /// The store's webhook signing secret for this provider.
    async fn webhook_secret(&self) -> String {
        match self.psp {
            Psp::Stripe => crate::stripe::WEBHOOK_SECRET.to_owned(),
            Psp::Sandbox => self
                .sandbox_secrets()
                .await
                .setting("webhook_secret")
                .expect("a webhook secret")
                .to_owned(),
        }
    }

    /// One pass of the webhook workers over the events due; how many were processed.
    pub(crate) async fn process_events(&self) -> usize {
        cassa::webhooks::process_due(&self.app.state).await.unwrap()
    }

    /// The store's received events of this provider, newest first.
    pub(crate) async fn webhook_events(&self) -> Vec<Value> {
        let path = format!("/api/v1/admin/webhooks/events?provider={}", self.psp.name());
        let response = self
            .app
            .client
            .get(self.app.url(&path))
            .bearer_auth(&self.store.sandbox_key)
            .send()
            .await
            .unwrap();
        json_of(response, 200).await["data"]
            .as_array()
            .unwrap()
            .clone()
    }
}
