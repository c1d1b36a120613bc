//! The shared suite's shop on one provider: the payment tests' [`Shop`] plus what differs
//! between providers, and the invariants every provider must keep with the ledger.

use std::{ops::Deref, time::Duration};

use cassa_tests::Backend;
use serde_json::Value;
use uuid::Uuid;

use crate::{
    payments::{Shop, shop_with_timeout},
    stripe::{server::StripeServer, stripe_shop},
    support::json_of,
};

/// The Connect account the shared suite's Stripe store holds.
pub(crate) const CONNECT_ACCOUNT: &str = "acct_1SharedSuiteStore";

/// A payment provider the shared suite runs on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Psp {
    /// The sandbox PSP mounted at `/sandbox-psp`.
    Sandbox,
    /// The Stripe adapter, against the Stripe-shaped server (`tests/api/stripe/server.rs`).
    Stripe,
}

impl Psp {
    /// The provider's registered name, as intents, the audit and webhook URLs carry it.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Psp::Sandbox => cassa::providers::sandbox::NAME,
            Psp::Stripe => cassa::providers::stripe::NAME,
        }
    }
}

/// A payment as the provider itself reports it, in the ledger's words.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ProviderView {
    /// `pending`, `authorized`, `captured` (some or all of it), `voided` or `failed`.
    pub(crate) status: String,
    /// What the provider authorized.
    pub(crate) amount: i64,
    /// Captured so far.
    pub(crate) captured: i64,
    /// Refunded so far.
    pub(crate) refunded: i64,
    /// The uncaptured part of the authorization the provider gave back.
    pub(crate) released: i64,
}

/// A shop whose new payments go to one provider.
pub(crate) struct ProviderShop {
    shop: Shop,
    /// The provider.
    pub(crate) psp: Psp,
    /// The Stripe-shaped server, on Stripe.
    pub(crate) stripe: Option<StripeServer>,
}

impl Deref for ProviderShop {
    type Target = Shop;

    fn deref(&self) -> &Shop {
        &self.shop
    }
}

impl ProviderShop {
    /// A store with checkout configured and a customer, whose payments go to `psp`. Webhooks
    /// are stored but processed only when a test asks ([`Self::process_events`]).
    pub(crate) async fn spawn(backend: Backend, psp: Psp) -> Self {
        match psp {
            // The sandbox PSP works in the server's own database: under the race tests' load a
            // generous timeout keeps every outcome known.
            Psp::Sandbox => ProviderShop {
                shop: shop_with_timeout(backend, Duration::from_secs(20)).await,
                psp,
                stripe: None,
            },
            Psp::Stripe => {
                // A Connect account: every call must name it, or the Stripe-shaped server
                // finds none of the store's payments.
                let (shop, stripe) = stripe_shop(backend, Some(CONNECT_ACCOUNT)).await;
                ProviderShop {
                    shop,
                    psp,
                    stripe: Some(stripe),
                }
            }
        }
    }

    /// A card the provider authorizes at once.
    pub(crate) fn approved(&self) -> &'static str {
        "pm_card_visa"
    }

    /// A card the provider declines.
    pub(crate) fn declined(&self) -> &'static str {
        match self.psp {
            Psp::Sandbox => "pm_card_declined",
            Psp::Stripe => "pm_card_chargeDeclined",
        }
    }

    /// A card whose authorization waits for the customer (Stripe's 3-D Secure, the sandbox
    /// PSP's asynchronous payment).
    pub(crate) fn challenged(&self) -> &'static str {
        match self.psp {
            Psp::Sandbox => "pm_card_async",
            Psp::Stripe => "pm_card_threeDSecure2Required",
        }
    }

    /// Whether a capture ends the authorization at this provider, as its adapter says.
    pub(crate) fn captures_once(&self) -> bool {
        self.app
            .state
            .payment_providers
            .get(self.psp.name())
            .expect("the provider is registered")
            .captures_once()
    }

    /// A new order paid with `method` under a fresh key: (order id, the answer).
    pub(crate) async fn pay(&self, method: &str) -> (String, reqwest::Response) {
        let (order, snapshot) = self.quoted_order().await;
        let key = Uuid::now_v7().to_string();
        let response = self.authorize_with(&order, &snapshot, method, &key).await;
        (order, response)
    }

    /// The customer completes the challenge of the intent's payment at the provider, which
    /// then holds it authorized. The provider sends nothing itself: the tests deliver its
    /// event.
    pub(crate) async fn complete_challenge(&self, intent: &Value) {
        match &self.stripe {
            Some(stripe) => stripe.complete_action(provider_id(intent)),
            None => crate::webhooks::authorize_at_psp(&self.app, intent).await,
        }
    }

    /// The provider's own view of a payment: the Stripe-shaped server's intent, or the
    /// sandbox PSP's answer to `GET /v1/payments/{id}` with the store's API key.
    pub(crate) async fn provider_view(&self, provider_id: &str) -> ProviderView {
        if let Some(stripe) = &self.stripe {
            return stripe_view(&stripe.intent(provider_id));
        }
        let secrets = self.sandbox_secrets().await;
        let response = self
            .app
            .client
            .get(
                self.app
                    .url(&format!("/sandbox-psp/v1/payments/{provider_id}")),
            )
            .bearer_auth(secrets.setting("api_key").expect("an API key"))
            .send()
            .await
            .unwrap();
        let payment = json_of(response, 200).await;
        let amount = |field: &str| payment[field].as_i64().unwrap();
        ProviderView {
            status: payment["status"].as_str().unwrap().to_owned(),
            amount: amount("amount"),
            captured: amount("captured_amount"),
            refunded: amount("refunded_amount"),
            released: amount("released_amount"),
        }
    }

    /// Calls made to the provider for `operation` (`authorize`, `capture`, `void`, `refund`)
    /// as the server audited them, one per attempt; on Stripe checked against the requests the
    /// Stripe-shaped server received.
    pub(crate) async fn provider_calls(&self, operation: &str) -> i64 {
        const SQL: &str =
            "SELECT COUNT(*) FROM provider_call_audit WHERE provider = $1 AND operation = $2";
        let audited: i64 = cassa::on_db!(&self.app.db, pool => {
            sqlx::query_scalar(SQL).bind(self.psp.name()).bind(operation).fetch_one(pool).await
        })
        .unwrap();
        if let Some(stripe) = &self.stripe {
            let received = stripe
                .seen()
                .iter()
                .filter(|s| s.method == "POST" && stripe_operation(&s.path) == Some(operation))
                .count();
            assert_eq!(
                i64::try_from(received).unwrap(),
                audited,
                "Stripe received other {operation} requests than the server audited"
            );
        }
        audited
    }

    /// Every call to the provider for a money movement was one transaction's, and each
    /// transaction was sent once: nothing was applied twice at the provider.
    pub(crate) async fn assert_one_call_per_transaction(&self) {
        const SQL: &str = "SELECT COUNT(*) FROM payment_transactions WHERE operation = $1";
        for operation in ["authorize", "capture", "void", "refund"] {
            let transactions: i64 = cassa::on_db!(&self.app.db, pool => {
                sqlx::query_scalar(SQL).bind(operation).fetch_one(pool).await
            })
            .unwrap();
            assert_eq!(
                self.provider_calls(operation).await,
                transactions,
                "{operation}: provider calls against transactions"
            );
            if let Some(stripe) = &self.stripe {
                // Not only as many: each transaction's own key, each once.
                const IDS: &str = "SELECT id FROM payment_transactions WHERE operation = $1";
                let ids: Vec<cassa::types::TransactionId> = cassa::on_db!(&self.app.db, pool => {
                    sqlx::query_scalar(IDS).bind(operation).fetch_all(pool).await
                })
                .unwrap();
                let expected: std::collections::BTreeSet<String> = ids
                    .iter()
                    .map(|id| cassa::idempotency::provider_key(id.0, operation, 0))
                    .collect();
                let sent: Vec<String> = stripe
                    .seen()
                    .into_iter()
                    .filter(|s| s.method == "POST" && stripe_operation(&s.path) == Some(operation))
                    .filter_map(|s| s.idempotency_key)
                    .collect();
                let distinct: std::collections::BTreeSet<String> = sent.iter().cloned().collect();
                assert_eq!(distinct.len(), sent.len(), "{operation}: a key sent twice");
                assert_eq!(
                    distinct, expected,
                    "{operation}: keys sent against transactions"
                );
            }
        }
    }

    /// The ledger invariants of every intent of `order` (see [`Shop::ledger_invariants`], and
    /// the released rest the sum of the succeeded voids), and the provider's own state agreeing
    /// with them: the same amounts captured, refunded and released, the same status, and on
    /// Stripe each of our refunds there exactly once.
    pub(crate) async fn check_invariants(&self, order: &str) -> Value {
        let detail = self.ledger_invariants(order).await;
        for intent in detail["intents"].as_array().unwrap() {
            let amount = |field: &str| intent[field].as_i64().unwrap();
            let succeeded = |op: &str| -> Vec<&Value> {
                intent["transactions"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .filter(|t| t["operation"] == op && t["status"] == "succeeded")
                    .collect()
            };
            let released: i64 = succeeded("void")
                .iter()
                .map(|t| t["amount"].as_i64().unwrap())
                .sum();
            assert_eq!(amount("released_amount"), released, "{intent}");
            let Some(pid) = intent["provider_payment_id"].as_str() else {
                continue;
            };
            assert_eq!(intent["provider"], self.psp.name(), "{intent}");
            let view = self.provider_view(pid).await;
            assert_eq!(
                (view.captured, view.refunded, view.released),
                (
                    amount("captured_amount"),
                    amount("refunded_amount"),
                    amount("released_amount")
                ),
                "the ledger's {intent}\nagainst the provider's {view:?}"
            );
            let expected = match intent["status"].as_str().unwrap() {
                "authorized" => Some("authorized"),
                "partially_captured" | "captured" | "partially_refunded" | "refunded" => {
                    Some("captured")
                }
                "voided" => Some("voided"),
                // Pending: the provider may know more than the ledger yet.
                _ => None,
            };
            if let Some(expected) = expected {
                assert_eq!(view.status, expected, "{intent}\n{view:?}");
                assert_eq!(view.amount, amount("authorized_amount"), "{intent}");
            }
            if let Some(stripe) = &self.stripe {
                let mut theirs: Vec<(String, i64)> = stripe
                    .refunds()
                    .iter()
                    .filter(|r| r["payment_intent"] == pid && r["status"] == "succeeded")
                    .map(|r| {
                        let reference = r["metadata"]["cassa_reference"].as_str();
                        (reference.unwrap().to_owned(), r["amount"].as_i64().unwrap())
                    })
                    .collect();
                let mut ours: Vec<(String, i64)> = succeeded("refund")
                    .iter()
                    .map(|t| {
                        let id = t["id"].as_str().unwrap().to_owned();
                        (id, t["amount"].as_i64().unwrap())
                    })
                    .collect();
                theirs.sort();
                ours.sort();
                assert_eq!(theirs, ours, "Stripe's refunds against ours");
            }
        }
        detail
    }
}

/// The provider's id of an intent's payment.
pub(crate) fn provider_id(intent: &Value) -> &str {
    intent["provider_payment_id"]
        .as_str()
        .expect("the intent has a provider payment")
}

/// A PaymentIntent of the Stripe-shaped server in the ledger's words.
fn stripe_view(intent: &Value) -> ProviderView {
    let amount = |field: &str| intent[field].as_i64().unwrap_or(0);
    let status = match intent["status"].as_str().unwrap_or_default() {
        "requires_action" => "pending",
        "requires_capture" => "authorized",
        "succeeded" => "captured",
        "canceled" => "voided",
        other => other,
    };
    // A capture (without multicapture) or a cancel gives back whatever was not captured.
    let released = match status {
        "captured" | "voided" => amount("amount") - amount("amount_received"),
        _ => 0,
    };
    ProviderView {
        status: status.to_owned(),
        amount: amount("amount"),
        captured: amount("amount_received"),
        refunded: amount("amount_refunded"),
        released,
    }
}

/// The operation a POST to the Stripe-shaped server is.
fn stripe_operation(path: &str) -> Option<&'static str> {
    match path {
        "/v1/payment_intents" => Some("authorize"),
        "/v1/refunds" => Some("refund"),
        p if p.ends_with("/capture") => Some("capture"),
        p if p.ends_with("/cancel") => Some("void"),
        _ => None,
    }
}
