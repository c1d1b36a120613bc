//! Stripe's PaymentIntents API as a `PaymentProvider`: manual capture (create + confirm is the
//! authorization), `…/capture`, `…/cancel` (void), `/v1/refunds`, and `GET` for the truth.
//! Form-encoded bodies, a pinned `Stripe-Version`, an `Idempotency-Key` on every POST (derived
//! from our transaction id by the caller), `Stripe-Account` for Connect accounts.

use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};
use serde_json::Value;

use super::STRIPE_VERSION;
use crate::{
    db::Db,
    egress::Egress,
    money::MinorUnits,
    providers::{
        payment::{
            BoxFuture, CallContext, Lookup, PaymentProvider, ProviderError, ProviderTransaction,
            RefundStanding,
        },
        transport::{Answer, Classify, Transport},
    },
    types::StoreId,
};

/// A client of Stripe for one store's secret key (and Connect account).
pub struct StripeClient {
    transport: Transport,
    base_url: String,
    secret_key: SecretString,
    account: Option<String>,
    /// The account may capture an authorization several times (Stripe's multicapture, an
    /// IC+ feature the store says it has): authorizations ask for it where the card allows.
    multicapture: bool,
}

impl StripeClient {
    /// A client of the API at `base_url` (`https://api.stripe.com`, or the local Stripe-shaped
    /// server of the tests: server configuration only, never a store's).
    pub fn new(
        http: Egress,
        base_url: &str,
        secret_key: SecretString,
        account: Option<String>,
        timeout: Duration,
        db: Db,
        store_id: StoreId,
    ) -> Self {
        Self {
            transport: Transport::new(http, timeout, db, Some(store_id), super::NAME)
                .redacting(redact),
            base_url: base_url.trim_end_matches('/').to_owned(),
            secret_key,
            account,
            multicapture: false,
        }
    }

    /// Authorizations ask for multicapture (see [`StripeClient::multicapture`]).
    pub fn with_multicapture(mut self, multicapture: bool) -> Self {
        self.multicapture = multicapture;
        self
    }

    async fn call(
        &self,
        operation: &'static str,
        method: reqwest::Method,
        path: &str,
        form: Vec<(&str, String)>,
        ctx: Option<&CallContext>,
        correlation_id: &str,
    ) -> Result<ProviderTransaction, ProviderError> {
        self.request(operation, method, path, form, ctx, correlation_id, classify)
            .await
    }

    /// A `GET` whose answer is read as it is (a list, a search result).
    pub(super) async fn get_json(
        &self,
        operation: &'static str,
        path: &str,
        correlation_id: &str,
    ) -> Result<Value, ProviderError> {
        let get = reqwest::Method::GET;
        self.request(operation, get, path, Vec::new(), None, correlation_id, read)
            .await
    }

    #[allow(clippy::too_many_arguments)]
    async fn request<T>(
        &self,
        operation: &'static str,
        method: reqwest::Method,
        path: &str,
        form: Vec<(&str, String)>,
        ctx: Option<&CallContext>,
        correlation_id: &str,
        classify: Classify<T>,
    ) -> Result<T, ProviderError> {
        let url = format!("{}{path}", self.base_url);
        let audit = serde_json::Value::Object(
            form.iter()
                .map(|(k, v)| ((*k).to_owned(), Value::String(v.clone())))
                .collect(),
        );
        self.transport
            .send(
                operation,
                || {
                    let mut request = self
                        .transport
                        .request(method.clone(), &url)?
                        .bearer_auth(self.secret_key.expose_secret())
                        .header("stripe-version", STRIPE_VERSION);
                    if let Some(account) = &self.account {
                        request = request.header("stripe-account", account);
                    }
                    if let Some(ctx) = ctx {
                        request = request.header("idempotency-key", &ctx.idempotency_key);
                    }
                    if method == reqwest::Method::POST {
                        request = request.form(&form);
                    }
                    Ok(request)
                },
                ctx,
                correlation_id,
                Some(&audit),
                classify,
            )
            .await
    }
}

/// Fields of Stripe's answers never kept, wherever they are nested (an error's
/// `payment_intent`, a declined intent's `last_payment_error`, search results and lists): the
/// intent's `client_secret` (it completes the payment from a browser) and the customer's and
/// card's details.
const NEVER_KEPT: [&str; 8] = [
    "client_secret",
    "receipt_email",
    "receipt_url",
    "shipping",
    "billing_details",
    "payment_method_details",
    "fraud_details",
    "card",
];

fn strip(value: &mut Value) {
    match value {
        Value::Object(map) => {
            map.retain(|key, field| {
                // A payment method's id is kept; the expanded object (card, owner) is not.
                let expanded_method = key == "payment_method" && field.is_object();
                !(NEVER_KEPT.contains(&key.as_str()) || expanded_method)
            });
            map.values_mut().for_each(strip);
        }
        Value::Array(items) => items.iter_mut().for_each(strip),
        _ => {}
    }
}

/// An answer as the audit keeps it.
fn redact(text: &str) -> String {
    let Ok(mut body) = serde_json::from_str::<Value>(text) else {
        return text.to_owned();
    };
    strip(&mut body);
    body.to_string()
}

/// Our status of a PaymentIntent's.
pub(super) fn status_of(intent: &Value) -> &'static str {
    match intent["status"].as_str().unwrap_or_default() {
        "requires_capture" => "authorized",
        "succeeded" => "captured",
        "canceled" => "voided",
        // Declined on confirmation: Stripe hands the intent back for another method.
        "requires_payment_method" => "failed",
        // 3-D Secure and friends, or still processing: settled later (webhook, resolver).
        "requires_action" | "requires_confirmation" | "processing" => "pending",
        _ => "unknown",
    }
}

fn minor(value: &Value) -> MinorUnits {
    MinorUnits(value.as_i64().unwrap_or(0))
}

/// A PaymentIntent or a Refund, as our transaction.
pub(super) fn transaction(body: &Value) -> Result<ProviderTransaction, ProviderError> {
    match body["object"].as_str() {
        Some("payment_intent") => Ok(ProviderTransaction {
            id: body["id"].as_str().unwrap_or_default().to_owned(),
            status: status_of(body).to_owned(),
            amount: minor(&body["amount"]),
            captured: minor(&body["amount_received"]),
            // Only an expanded charge says what was refunded.
            refunded: minor(&body["latest_charge"]["amount_refunded"]),
            next_action: (status_of(body) == "pending")
                .then(|| body["next_action"].clone())
                .filter(|a| !a.is_null()),
            // Said by the authorization's charge (expanded), for the card it was made with.
            multicapture: body["latest_charge"]["payment_method_details"]["card"]["multicapture"]["status"]
                == "available",
        }),
        Some("refund") => match body["status"].as_str() {
            None => Err(ProviderError::UnknownOutcome(
                "a refund without a status".to_owned(),
            )),
            Some("failed" | "canceled") => Err(ProviderError::Rejected {
                code: body["failure_reason"]
                    .as_str()
                    .unwrap_or("refund_failed")
                    .to_owned(),
            }),
            Some(status) => Ok(ProviderTransaction {
                id: body["id"].as_str().unwrap_or_default().to_owned(),
                status: match status {
                    "succeeded" => "refunded",
                    // `pending`, `requires_action`: on its way to the bank, not yet done.
                    _ => "pending",
                }
                .to_owned(),
                amount: minor(&body["amount"]),
                captured: MinorUnits::ZERO,
                refunded: minor(&body["amount"]),
                next_action: None,
                multicapture: false,
            }),
        },
        _ => Err(ProviderError::UnknownOutcome(
            "an answer that is neither a payment intent nor a refund".to_owned(),
        )),
    }
}

/// Whether the intent shows the uncaptured rest released: cancelled, or captured for less
/// than it authorized (a capture without multicapture releases the rest). A full capture
/// released nothing, so it never confirms a void.
pub(super) fn released(intent: &ProviderTransaction) -> bool {
    match intent.status.as_str() {
        "voided" => true,
        "captured" => intent.captured < intent.amount,
        _ => false,
    }
}

/// Stripe's answer about one PaymentIntent or Refund, classified by what the caller may do
/// next.
fn classify(answer: Answer<'_>) -> Result<ProviderTransaction, ProviderError> {
    read(answer).and_then(|body| transaction(&body))
}

/// Stripe's answer: its body when it succeeded, else the error classified.
pub(super) fn read(answer: Answer<'_>) -> Result<Value, ProviderError> {
    let body: Value = serde_json::from_str(answer.text).unwrap_or(Value::Null);
    let error = &body["error"];
    let code = || {
        error["decline_code"]
            .as_str()
            .or(error["code"].as_str())
            .unwrap_or("unknown")
            .to_owned()
    };
    let kind = error["type"].as_str().unwrap_or_default();
    match (answer.status, kind) {
        (200..=299, _) => Ok(body),
        // A key reused with other parameters, or still in use: what the first request did is
        // not known from here.
        (_, "idempotency_error") => Err(ProviderError::UnknownOutcome(code())),
        (402, _) | (_, "card_error") => Err(ProviderError::Declined { code: code() }),
        (429, _) => Err(ProviderError::Retryable("rate_limited".to_owned())),
        (_, _) if code() == "lock_timeout" => Err(ProviderError::Retryable(code())),
        (401 | 403 | 404, _) => Err(ProviderError::Refused {
            status: answer.status,
            code: code(),
        }),
        // A conflict with another request on the same object (or key): whether ours acted is
        // not known from here.
        (409, _) => Err(ProviderError::UnknownOutcome(code())),
        (300..=499, _) => Err(ProviderError::Rejected { code: code() }),
        // Stripe may have acted before failing: only the intent's state will tell.
        _ => Err(ProviderError::UnknownOutcome(format!(
            "stripe answered {}",
            answer.status
        ))),
    }
}

impl PaymentProvider for StripeClient {
    fn name(&self) -> &'static str {
        super::NAME
    }

    fn minor_unit_exceptions(&self) -> &'static [(&'static str, u16)] {
        super::MINOR_UNITS
    }

    fn authorize<'a>(
        &'a self,
        ctx: &'a CallContext,
        amount: MinorUnits,
        currency: &'a str,
        payment_method: &'a str,
        return_url: Option<&'a str>,
    ) -> BoxFuture<'a, Result<ProviderTransaction, ProviderError>> {
        Box::pin(async move {
            let mut form = vec![
                ("amount", amount.0.to_string()),
                ("currency", currency.to_ascii_lowercase()),
                ("payment_method", payment_method.to_owned()),
                ("payment_method_types[]", "card".to_owned()),
                ("capture_method", "manual".to_owned()),
                ("confirm", "true".to_owned()),
            ];
            if let Some(reference) = &ctx.reference {
                form.push(("metadata[cassa_reference]", reference.clone()));
            }
            // 3-D Secure then redirects (`next_action.redirect_to_url`), which a storefront
            // follows without the intent's client secret.
            if let Some(url) = return_url {
                form.push(("return_url", url.to_owned()));
            }
            // Whether the card allows it is said on the charge, read in the same answer.
            if self.multicapture {
                form.push((
                    "payment_method_options[card][request_multicapture]",
                    "if_available".to_owned(),
                ));
                form.push(("expand[]", "latest_charge".to_owned()));
            }
            self.call(
                "authorize",
                reqwest::Method::POST,
                "/v1/payment_intents",
                form,
                Some(ctx),
                &ctx.correlation_id,
            )
            .await
        })
    }

    fn capture<'a>(
        &'a self,
        ctx: &'a CallContext,
        id: &'a str,
        amount: Option<MinorUnits>,
        keep_rest: bool,
    ) -> BoxFuture<'a, Result<ProviderTransaction, ProviderError>> {
        Box::pin(async move {
            let mut form = amount
                .map(|a| vec![("amount_to_capture", a.0.to_string())])
                .unwrap_or_default();
            // The rest is released by a cancel, as any void: one way for every intent.
            if keep_rest {
                form.push(("final_capture", "false".to_owned()));
            }
            self.call(
                "capture",
                reqwest::Method::POST,
                &format!("/v1/payment_intents/{id}/capture"),
                form,
                Some(ctx),
                &ctx.correlation_id,
            )
            .await
        })
    }

    fn void<'a>(
        &'a self,
        ctx: &'a CallContext,
        id: &'a str,
    ) -> BoxFuture<'a, Result<ProviderTransaction, ProviderError>> {
        Box::pin(async move {
            let cancelled = self
                .call(
                    "void",
                    reqwest::Method::POST,
                    &format!("/v1/payment_intents/{id}/cancel"),
                    Vec::new(),
                    Some(ctx),
                    &ctx.correlation_id,
                )
                .await;
            match cancelled {
                // Already cancelled, or a partial capture already released the rest: the
                // release is done, as the intent confirms.
                Err(ProviderError::Rejected { code })
                    if code == "payment_intent_unexpected_state" =>
                {
                    let intent = self.get_transaction(&ctx.correlation_id, id).await?;
                    if released(&intent) {
                        Ok(intent)
                    } else {
                        Err(ProviderError::Rejected { code })
                    }
                }
                other => other,
            }
        })
    }

    fn refund<'a>(
        &'a self,
        ctx: &'a CallContext,
        id: &'a str,
        amount: MinorUnits,
    ) -> BoxFuture<'a, Result<ProviderTransaction, ProviderError>> {
        Box::pin(async move {
            let mut form = vec![
                ("payment_intent", id.to_owned()),
                ("amount", amount.0.to_string()),
            ];
            if let Some(reference) = &ctx.reference {
                form.push(("metadata[cassa_reference]", reference.clone()));
            }
            self.call(
                "refund",
                reqwest::Method::POST,
                "/v1/refunds",
                form,
                Some(ctx),
                &ctx.correlation_id,
            )
            .await
        })
    }

    fn look_up<'a>(
        &'a self,
        correlation_id: &'a str,
        lookup: Lookup<'a>,
    ) -> BoxFuture<'a, Result<Option<ProviderTransaction>, ProviderError>> {
        Box::pin(self.find(correlation_id, lookup))
    }

    fn refund_standing<'a>(
        &'a self,
        correlation_id: &'a str,
        payment_id: &'a str,
        reference: &'a str,
    ) -> BoxFuture<'a, Result<RefundStanding, ProviderError>> {
        Box::pin(self.standing(correlation_id, payment_id, reference))
    }

    fn get_transaction<'a>(
        &'a self,
        correlation_id: &'a str,
        id: &'a str,
    ) -> BoxFuture<'a, Result<ProviderTransaction, ProviderError>> {
        Box::pin(async move {
            self.call(
                "get_transaction",
                reqwest::Method::GET,
                &format!("/v1/payment_intents/{id}?expand[]=latest_charge"),
                Vec::new(),
                None,
                correlation_id,
            )
            .await
        })
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn answer(status: u16, body: &Value) -> Result<ProviderTransaction, ProviderError> {
        let text = body.to_string();
        classify(Answer {
            status,
            text: &text,
        })
    }

    #[test]
    fn payment_intents_read_as_our_transactions() {
        let intent = json!({"object": "payment_intent", "id": "pi_1", "status": "requires_capture",
            "amount": 6018, "amount_received": 0});
        let t = answer(200, &intent).unwrap();
        assert_eq!(
            (t.status.as_str(), t.amount, t.captured),
            ("authorized", MinorUnits(6018), MinorUnits(0))
        );
        let captured = json!({"object": "payment_intent", "id": "pi_1", "status": "succeeded",
            "amount": 6018, "amount_received": 1000,
            "latest_charge": {"object": "charge", "amount_refunded": 500}});
        let t = answer(200, &captured).unwrap();
        assert_eq!(
            (t.status.as_str(), t.captured, t.refunded),
            ("captured", MinorUnits(1000), MinorUnits(500))
        );
        for (stripe, ours) in [
            ("canceled", "voided"),
            ("requires_payment_method", "failed"),
            ("requires_action", "pending"),
            ("processing", "pending"),
            ("mystery", "unknown"),
        ] {
            let body = json!({"object": "payment_intent", "id": "pi_1", "status": stripe});
            assert_eq!(answer(200, &body).unwrap().status, ours, "{stripe}");
        }
        // Multicapture is the card's, said on the expanded charge; absent means captured once.
        assert!(!t.multicapture);
        let multicapture = |status: &str| {
            let body = json!({"object": "payment_intent", "id": "pi_1",
                "status": "requires_capture", "amount": 6018, "amount_received": 0,
                "latest_charge": {"object": "charge", "payment_method_details":
                    {"card": {"multicapture": {"status": status}}}}});
            answer(200, &body).unwrap().multicapture
        };
        assert!(multicapture("available"));
        assert!(!multicapture("unavailable"));
        let refund =
            json!({"object": "refund", "id": "re_1", "status": "succeeded", "amount": 500});
        assert_eq!(answer(200, &refund).unwrap().id, "re_1");
        let failed = json!({"object": "refund", "id": "re_2", "status": "failed",
            "failure_reason": "expired_or_canceled_card"});
        assert_eq!(
            answer(200, &failed),
            Err(ProviderError::Rejected {
                code: "expired_or_canceled_card".into()
            })
        );
        assert!(matches!(
            answer(200, &json!({"object": "charge"})),
            Err(ProviderError::UnknownOutcome(_))
        ));
    }

    #[test]
    fn answers_are_audited_without_secrets_or_card_details() {
        let answer = json!({"object": "payment_intent", "id": "pi_1", "client_secret": "pi_1_secret_x",
            "amount": 100, "shipping": {"name": "Ada"},
            "latest_charge": {"object": "charge", "amount_refunded": 0,
                "billing_details": {"email": "ada@example.com"},
                "payment_method_details": {"card": {"last4": "4242"}}}});
        let kept = redact(&answer.to_string());
        for gone in ["pi_1_secret_x", "ada@example.com", "4242", "Ada"] {
            assert!(!kept.contains(gone), "{kept}");
        }
        assert!(kept.contains("\"amount\":100"), "{kept}");
        assert_eq!(redact("not json"), "not json");
        // Nested in a decline: the intent (with its secret) and the expanded payment method.
        let decline = json!({"error": {"type": "card_error", "code": "card_declined",
            "payment_intent": {"id": "pi_2", "client_secret": "pi_2_secret_y",
                "last_payment_error": {"payment_method": {"id": "pm_1",
                    "billing_details": {"name": "Ada"}, "card": {"last4": "0002"}}}},
            "payment_method": {"id": "pm_1", "card": {"last4": "0002"}}}});
        let kept = redact(&decline.to_string());
        for gone in ["pi_2_secret_y", "Ada", "0002"] {
            assert!(!kept.contains(gone), "{kept}");
        }
        assert!(
            kept.contains("card_declined") && kept.contains("pi_2"),
            "{kept}"
        );
    }

    #[test]
    fn each_error_class_says_what_may_be_done_next() {
        let error = |kind: &str, code: &str| json!({"error": {"type": kind, "code": code}});
        let declined = json!({"error": {"type": "card_error", "code": "card_declined",
            "decline_code": "insufficient_funds"}});
        assert_eq!(
            answer(402, &declined),
            Err(ProviderError::Declined {
                code: "insufficient_funds".into()
            })
        );
        assert_eq!(
            answer(
                400,
                &error("invalid_request_error", "parameter_invalid_integer")
            ),
            Err(ProviderError::Rejected {
                code: "parameter_invalid_integer".into()
            })
        );
        assert!(matches!(
            answer(400, &error("idempotency_error", "idempotency_key_in_use")),
            Err(ProviderError::UnknownOutcome(_))
        ));
        assert!(matches!(
            answer(429, &error("invalid_request_error", "rate_limit")),
            Err(ProviderError::Retryable(_))
        ));
        assert!(matches!(
            answer(409, &error("invalid_request_error", "lock_timeout")),
            Err(ProviderError::Retryable(_))
        ));
        assert_eq!(
            answer(404, &error("invalid_request_error", "resource_missing")),
            Err(ProviderError::Refused {
                status: 404,
                code: "resource_missing".into()
            })
        );
        assert!(matches!(
            answer(401, &error("invalid_request_error", "")),
            Err(ProviderError::Refused { status: 401, .. })
        ));
        assert!(matches!(
            answer(500, &error("api_error", "")),
            Err(ProviderError::UnknownOutcome(_))
        ));
        assert!(matches!(
            answer(503, &Value::Null),
            Err(ProviderError::UnknownOutcome(_))
        ));
        assert!(matches!(
            answer(409, &error("invalid_request_error", "resource_conflict")),
            Err(ProviderError::UnknownOutcome(_))
        ));
    }
}
