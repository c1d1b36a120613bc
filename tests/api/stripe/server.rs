//! A local Stripe-shaped server: the PaymentIntents and Refunds endpoints as Stripe documents
//! them (form bodies, `Stripe-Version`, `Idempotency-Key` replays and conflicts, error objects
//! by class, test payment method tokens), plus faults a test can queue (429 with
//! `Retry-After`, a 500 after the work was done, a delay). It checks what it receives and
//! records every request for the tests to inspect. Mounted beside the API (never the internet).

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
    time::Duration,
};

use axum::{
    Form, Json, Router,
    extract::{Path, Query, State},
    http::{HeaderMap, StatusCode},
    response::{IntoResponse, Response},
    routing::{get, post},
};
use serde_json::{Value, json};
use uuid::Uuid;

/// The version the adapter must pin.
pub const VERSION: &str = "2024-06-20";
/// The secret key the test store holds.
pub const SECRET_KEY: &str = "sk_test_cassa_0123456789abcdefghij";

/// A fault the next request meets.
#[derive(Clone, Copy, Debug)]
pub enum Fault {
    /// `429` with `Retry-After: 1`, nothing done.
    RateLimited,
    /// The work is done, then Stripe fails with a `500`, which its idempotency layer keeps
    /// under the key and replays to every resend (until the key is forgotten).
    FailAfterWork,
    /// Stripe fails with a `500` before doing anything, kept under the key the same way.
    FailBeforeWork,
    /// The answer comes after this long (the work is done first).
    Delay(Duration),
}

/// A request as received.
#[derive(Clone, Debug)]
pub struct Seen {
    pub method: String,
    pub path: String,
    pub form: Vec<(String, String)>,
    pub version: Option<String>,
    pub idempotency_key: Option<String>,
    pub account: Option<String>,
}

#[derive(Default)]
pub(super) struct Inner {
    pub(super) intents: HashMap<String, Value>,
    /// Refunds in the order they were made.
    pub(super) refunds: Vec<Value>,
    /// New refunds wait in `pending` (as a bank transfer's do) until settled.
    pending_refunds: bool,
    /// Idempotency key → (request fingerprint, status, answer).
    keys: HashMap<String, (String, u16, Value)>,
    faults: Vec<Fault>,
    seen: Vec<Seen>,
    /// Which account each intent belongs to (`None`: the platform's own): as at Stripe, a
    /// Connect account's objects exist only for requests made as it (`Stripe-Account`).
    pub(super) owners: HashMap<String, Option<String>>,
}

/// The account a request is made as.
pub(super) fn account_of(headers: &HeaderMap) -> Option<String> {
    headers
        .get("stripe-account")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
}

/// The intent a request is about: in its path, or its form's `payment_intent` (a refund).
fn intent_named(path: &str, form: &[(String, String)]) -> Option<String> {
    let in_path = path
        .strip_prefix("/v1/payment_intents/")
        .and_then(|rest| rest.split('/').next())
        .filter(|id| *id != "search");
    in_path
        .or_else(|| field(form, "payment_intent"))
        .map(str::to_owned)
}

/// The server's state, shared with the test.
#[derive(Clone, Default)]
pub struct StripeServer(pub(super) Arc<Mutex<Inner>>);

impl StripeServer {
    /// Queues a fault for the next request.
    pub fn fault(&self, fault: Fault) {
        self.0.lock().unwrap().faults.push(fault);
    }

    /// Every request so far.
    pub fn seen(&self) -> Vec<Seen> {
        self.0.lock().unwrap().seen.clone()
    }

    /// A payment intent as the server holds it.
    pub fn intent(&self, id: &str) -> Value {
        self.0.lock().unwrap().intents[id].clone()
    }

    /// Stripe forgets every idempotency key (it prunes them after a day).
    pub fn forget_keys(&self) {
        self.0.lock().unwrap().keys.clear();
    }

    /// New refunds stay `pending` until [`Self::settle_refunds`].
    pub fn hold_refunds(&self) {
        self.0.lock().unwrap().pending_refunds = true;
    }

    /// Every pending refund succeeds.
    pub fn settle_refunds(&self) {
        let mut inner = self.0.lock().unwrap();
        inner.pending_refunds = false;
        for refund in &mut inner.refunds {
            if refund["status"] == "pending" {
                refund["status"] = json!("succeeded");
            }
        }
    }

    /// Every refund made so far.
    pub fn refunds(&self) -> Vec<Value> {
        self.0.lock().unwrap().refunds.clone()
    }

    /// Stripe cancels the intent on its own (an expired authorization, the dashboard): as its
    /// cancel endpoint does, one captured in part (multicapture) is left succeeded.
    pub fn cancel(&self, id: &str) {
        let mut inner = self.0.lock().unwrap();
        if let Some(intent) = inner.intents.get_mut(id) {
            let captured = intent["amount_received"].as_i64().unwrap_or(0) > 0;
            let status = if captured { "succeeded" } else { "canceled" };
            intent["status"] = json!(status);
        }
    }

    /// The customer completed the intent's 3-D Secure challenge: it awaits capture.
    pub fn complete_action(&self, id: &str) {
        let mut inner = self.0.lock().unwrap();
        if let Some(intent) = inner.intents.get_mut(id) {
            intent["status"] = json!("requires_capture");
        }
    }

    /// The routes, under `prefix`.
    pub fn router<S: Clone + Send + Sync + 'static>(&self, prefix: &str) -> Router<S> {
        Router::new()
            .route(&format!("{prefix}/v1/payment_intents"), post(create))
            .route(&format!("{prefix}/v1/payment_intents/{{id}}"), get(show))
            .route(
                &format!("{prefix}/v1/payment_intents/{{id}}/{{action}}"),
                post(act),
            )
            .route(
                &format!("{prefix}/v1/refunds"),
                post(refund).get(super::reads::list_refunds),
            )
            .route(
                &format!("{prefix}/v1/payment_intents/search"),
                get(super::reads::search),
            )
            .route(&format!("{prefix}/v1/account"), get(account))
            .with_state(self.clone())
    }
}

pub(super) fn error(
    status: StatusCode,
    kind: &str,
    code: &str,
    decline: Option<&str>,
) -> (u16, Value) {
    let mut e = json!({"type": kind, "code": code, "message": code});
    if let Some(d) = decline {
        e["decline_code"] = json!(d);
    }
    (status.as_u16(), json!({"error": e}))
}

fn field<'a>(form: &'a [(String, String)], name: &str) -> Option<&'a str> {
    form.iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

/// What every request must carry; `None` when it does.
fn refused(headers: &HeaderMap, post: bool) -> Option<(u16, Value)> {
    let header = |name| headers.get(name).and_then(|v| v.to_str().ok());
    if header("authorization") != Some(&format!("Bearer {SECRET_KEY}")) {
        return Some(error(
            StatusCode::UNAUTHORIZED,
            "invalid_request_error",
            "api_key_invalid",
            None,
        ));
    }
    if header("stripe-version") != Some(VERSION) {
        return Some(error(
            StatusCode::BAD_REQUEST,
            "invalid_request_error",
            "version_not_pinned",
            None,
        ));
    }
    if post && header("idempotency-key").is_none_or(|k| k.len() < 8) {
        return Some(error(
            StatusCode::BAD_REQUEST,
            "invalid_request_error",
            "idempotency_key_missing",
            None,
        ));
    }
    None
}

/// Runs `work` under Stripe's idempotency rules and the queued fault, recording the request.
pub(super) async fn handle(
    server: &StripeServer,
    method: &str,
    path: String,
    headers: &HeaderMap,
    form: Vec<(String, String)>,
    work: impl FnOnce(&mut Inner, &[(String, String)]) -> (u16, Value),
) -> Response {
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    let key = header("idempotency-key");
    let account = account_of(headers);
    let fault = {
        let mut inner = server.0.lock().unwrap();
        inner.seen.push(Seen {
            method: method.to_owned(),
            path: path.clone(),
            form: form.clone(),
            version: header("stripe-version"),
            idempotency_key: key.clone(),
            account: account.clone(),
        });
        // Another account's intent does not exist for this request.
        let owner = intent_named(&path, &form).and_then(|id| inner.owners.get(&id).cloned());
        if owner.is_some_and(|owner| owner != account) {
            let (status, body) = error(
                StatusCode::NOT_FOUND,
                "invalid_request_error",
                "resource_missing",
                None,
            );
            return reply(status, body, false);
        }
        (!inner.faults.is_empty()).then(|| inner.faults.remove(0))
    };
    if let Some((status, body)) = refused(headers, method == "POST") {
        return reply(status, body, false);
    }
    if let Some(Fault::RateLimited) = fault {
        let (status, body) = error(
            StatusCode::TOO_MANY_REQUESTS,
            "invalid_request_error",
            "rate_limit",
            None,
        );
        let mut response = reply(status, body, false);
        response
            .headers_mut()
            .insert("retry-after", "1".parse().unwrap());
        return response;
    }
    let mut sorted = form.clone();
    sorted.sort();
    let fingerprint = format!("{method} {path} {sorted:?}");
    let (status, body, replayed) = {
        let mut inner = server.0.lock().unwrap();
        match key.as_ref().and_then(|k| inner.keys.get(k).cloned()) {
            Some((seen, status, body)) if seen == fingerprint => (status, body, true),
            Some(_) => {
                let (s, b) = error(
                    StatusCode::BAD_REQUEST,
                    "idempotency_error",
                    "idempotency_key_in_use",
                    None,
                );
                (s, b, false)
            }
            None => {
                let (status, body) = match fault {
                    Some(Fault::FailBeforeWork) => failure(),
                    Some(Fault::FailAfterWork) => {
                        work(&mut inner, &form);
                        failure()
                    }
                    _ => work(&mut inner, &form),
                };
                // Stripe keeps the answer of a request that started executing, a 500 too.
                if let Some(k) = key {
                    inner.keys.insert(k, (fingerprint, status, body.clone()));
                }
                (status, body, false)
            }
        }
    };
    match fault {
        Some(Fault::Delay(pause)) => {
            tokio::time::sleep(pause).await;
            reply(status, body, replayed)
        }
        _ => reply(status, body, replayed),
    }
}

fn failure() -> (u16, Value) {
    error(
        StatusCode::INTERNAL_SERVER_ERROR,
        "api_error",
        "internal",
        None,
    )
}

fn reply(status: u16, body: Value, replayed: bool) -> Response {
    let mut response = (
        StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
        Json(body),
    )
        .into_response();
    if replayed {
        response
            .headers_mut()
            .insert("idempotent-replayed", "true".parse().unwrap());
    }
    // Mounted under the test server's `/api`, whose edge turns error bodies that are not
    // problem documents into problems: this content type lets Stripe's error objects through
    // as they are (the adapter reads the body whatever its type).
    if status >= 400 {
        response
            .headers_mut()
            .insert("content-type", "application/problem+json".parse().unwrap());
    }
    response
}

async fn create(
    State(server): State<StripeServer>,
    headers: HeaderMap,
    Form(form): Form<Vec<(String, String)>>,
) -> Response {
    let account = account_of(&headers);
    handle(
        &server,
        "POST",
        "/v1/payment_intents".into(),
        &headers,
        form,
        |inner, form| {
            let amount = field(form, "amount")
                .and_then(|a| a.parse::<i64>().ok())
                .filter(|a| *a > 0);
            let currency = field(form, "currency")
                .filter(|c| c.len() == 3 && c.chars().all(|x| x.is_ascii_lowercase()));
            let (Some(amount), Some(currency)) = (amount, currency) else {
                return error(
                    StatusCode::BAD_REQUEST,
                    "invalid_request_error",
                    "parameter_invalid",
                    None,
                );
            };
            if field(form, "capture_method") != Some("manual")
                || field(form, "confirm") != Some("true")
            {
                return error(
                    StatusCode::BAD_REQUEST,
                    "invalid_request_error",
                    "parameter_missing",
                    None,
                );
            }
            // Stripe's zero-decimal special cases: ISK in two-decimal units, whole krónur only.
            if currency == "isk" && amount % 100 != 0 {
                return error(
                    StatusCode::BAD_REQUEST,
                    "invalid_request_error",
                    "amount_invalid",
                    None,
                );
            }
            let status = match field(form, "payment_method") {
                Some("pm_card_visa" | "pm_card_mastercard" | "pm_card_unionpay") => {
                    "requires_capture"
                }
                Some("pm_card_threeDSecure2Required") => "requires_action",
                Some("pm_card_chargeDeclined") => {
                    return error(
                        StatusCode::PAYMENT_REQUIRED,
                        "card_error",
                        "card_declined",
                        Some("generic_decline"),
                    );
                }
                Some("pm_card_chargeDeclinedInsufficientFunds") => {
                    return error(
                        StatusCode::PAYMENT_REQUIRED,
                        "card_error",
                        "card_declined",
                        Some("insufficient_funds"),
                    );
                }
                _ => {
                    return error(
                        StatusCode::BAD_REQUEST,
                        "invalid_request_error",
                        "resource_missing",
                        None,
                    );
                }
            };
            let id = format!("pi_{}", Uuid::now_v7().simple());
            let intent = json!({"object": "payment_intent", "id": id, "status": status,
            "amount": amount, "currency": currency, "amount_received": 0, "amount_refunded": 0,
            "capture_method": "manual",
            "client_secret": format!("{id}_secret_{}", Uuid::now_v7().simple()),
            "metadata": {"cassa_reference": field(form, "metadata[cassa_reference]")},
            "payment_method": field(form, "payment_method"),
            "latest_charge": format!("ch_{}", Uuid::now_v7().simple())});
            let mut intent = intent;
            if let Some(ask) = field(form, "payment_method_options[card][request_multicapture]") {
                intent["payment_method_options"] =
                    json!({"card": {"request_multicapture": ask}});
            }
            // Confirmed on a server, Stripe redirects only with a return URL; without one the
            // challenge needs Stripe.js and the intent's client secret.
            match (status, field(form, "return_url")) {
                ("requires_action", Some(url)) => {
                    intent["next_action"] = json!({"type": "redirect_to_url", "redirect_to_url": {
                        "url": format!("https://hooks.stripe.com/3d_secure_2/authenticate/{id}"),
                        "return_url": url}});
                }
                ("requires_action", None) => {
                    intent["next_action"] = json!({"type": "use_stripe_sdk",
                        "use_stripe_sdk": {"type": "three_d_secure_redirect",
                            "stripe_js": format!("https://hooks.stripe.com/redirect/authenticate/{id}")}});
                }
                _ => {}
            }
            inner.owners.insert(id.clone(), account);
            inner.intents.insert(id, intent.clone());
            let expand = form
                .iter()
                .any(|(k, v)| k == "expand[]" && v == "latest_charge");
            (200, shown(&intent, expand))
        },
    )
    .await
}

/// Cards whose networks take several captures of one authorization (Stripe lists Visa,
/// Mastercard, Amex and Discover among them); the test's other cards do not.
const MULTICAPTURE_CARDS: [&str; 2] = ["pm_card_visa", "pm_card_mastercard"];

/// Whether the intent was authorized with multicapture: asked for, on a card that takes it.
fn multicapture(intent: &Value) -> bool {
    intent["payment_method_options"]["card"]["request_multicapture"] == "if_available"
        && MULTICAPTURE_CARDS.contains(&intent["payment_method"].as_str().unwrap_or_default())
}

/// The intent as Stripe shows it: `latest_charge` an id, or the charge when expanded (with
/// the card's multicapture status when it was asked for).
fn shown(intent: &Value, expand: bool) -> Value {
    let mut shown = intent.clone();
    if let Some(map) = shown.as_object_mut() {
        let refunded = map.remove("amount_refunded").unwrap_or(json!(0));
        if expand {
            let mut charge = json!({"object": "charge",
                "id": intent["latest_charge"], "amount_refunded": refunded});
            if !intent["payment_method_options"].is_null() {
                let status = if multicapture(intent) {
                    "available"
                } else {
                    "unavailable"
                };
                charge["payment_method_details"] =
                    json!({"card": {"multicapture": {"status": status}}});
            }
            map.insert("latest_charge".into(), charge);
        }
    }
    shown
}

async fn show(
    State(server): State<StripeServer>,
    Path(id): Path<String>,
    Query(query): Query<Vec<(String, String)>>,
    headers: HeaderMap,
) -> Response {
    let expand = query
        .iter()
        .any(|(k, v)| k == "expand[]" && v == "latest_charge");
    handle(
        &server,
        "GET",
        format!("/v1/payment_intents/{id}"),
        &headers,
        Vec::new(),
        |inner, _| match inner.intents.get(&id) {
            Some(intent) => (200, shown(intent, expand)),
            None => error(
                StatusCode::NOT_FOUND,
                "invalid_request_error",
                "resource_missing",
                None,
            ),
        },
    )
    .await
}

async fn act(
    State(server): State<StripeServer>,
    Path((id, action)): Path<(String, String)>,
    headers: HeaderMap,
    Form(form): Form<Vec<(String, String)>>,
) -> Response {
    handle(
        &server,
        "POST",
        format!("/v1/payment_intents/{id}/{action}"),
        &headers,
        form,
        |inner, form| {
            let Some(intent) = inner.intents.get_mut(&id) else {
                return error(
                    StatusCode::NOT_FOUND,
                    "invalid_request_error",
                    "resource_missing",
                    None,
                );
            };
            // Stripe cancels an intent in any state before it succeeded; it captures only
            // one awaiting capture.
            let cancellable = [
                "requires_payment_method",
                "requires_confirmation",
                "requires_action",
                "processing",
                "requires_capture",
            ];
            let status = intent["status"].as_str().unwrap_or_default().to_owned();
            let allowed = match action.as_str() {
                "cancel" => cancellable.contains(&status.as_str()),
                _ => status == "requires_capture",
            };
            if !allowed {
                return error(
                    StatusCode::BAD_REQUEST,
                    "invalid_request_error",
                    "payment_intent_unexpected_state",
                    None,
                );
            }
            let amount = intent["amount"].as_i64().unwrap_or(0);
            let received = intent["amount_received"].as_i64().unwrap_or(0);
            match action.as_str() {
                "capture" => {
                    let last = field(form, "final_capture") != Some("false");
                    if !last && !multicapture(intent) {
                        return error(
                            StatusCode::BAD_REQUEST,
                            "invalid_request_error",
                            "parameter_invalid",
                            None,
                        );
                    }
                    let capturable = amount - received;
                    let take = match field(form, "amount_to_capture") {
                        None => capturable,
                        Some(a) => match a.parse::<i64>() {
                            Ok(a) if a > 0 && a <= capturable => a,
                            _ => {
                                return error(
                                    StatusCode::BAD_REQUEST,
                                    "invalid_request_error",
                                    "amount_too_large",
                                    None,
                                );
                            }
                        },
                    };
                    // A final capture (every capture without multicapture) releases the rest
                    // of the authorization; otherwise the intent awaits the next one.
                    intent["amount_received"] = json!(received + take);
                    if last || received + take == amount {
                        intent["status"] = json!("succeeded");
                    }
                }
                // An intent captured in part (multicapture) keeps its captures: cancelling
                // releases the rest and leaves it succeeded.
                "cancel" if status == "requires_capture" && received > 0 => {
                    intent["status"] = json!("succeeded");
                }
                "cancel" => intent["status"] = json!("canceled"),
                _ => {
                    return error(
                        StatusCode::NOT_FOUND,
                        "invalid_request_error",
                        "unrecognized_request_url",
                        None,
                    );
                }
            }
            (200, shown(intent, false))
        },
    )
    .await
}

async fn refund(
    State(server): State<StripeServer>,
    headers: HeaderMap,
    Form(form): Form<Vec<(String, String)>>,
) -> Response {
    handle(
        &server,
        "POST",
        "/v1/refunds".into(),
        &headers,
        form,
        |inner, form| {
            let id = field(form, "payment_intent").unwrap_or_default().to_owned();
            let Some(intent) = inner.intents.get_mut(&id) else {
                return error(
                    StatusCode::NOT_FOUND,
                    "invalid_request_error",
                    "resource_missing",
                    None,
                );
            };
            let received = intent["amount_received"].as_i64().unwrap_or(0);
            let refunded = intent["amount_refunded"].as_i64().unwrap_or(0);
            let amount = field(form, "amount")
                .and_then(|a| a.parse::<i64>().ok())
                .unwrap_or(received - refunded);
            // What was captured can be refunded, also while a multicapture intent still
            // awaits its next capture.
            if received == 0 || amount <= 0 || refunded + amount > received {
                return error(
                    StatusCode::BAD_REQUEST,
                    "invalid_request_error",
                    "charge_already_refunded",
                    None,
                );
            }
            intent["amount_refunded"] = json!(refunded + amount);
            let status = if inner.pending_refunds {
                "pending"
            } else {
                "succeeded"
            };
            let refund = json!({"object": "refund", "id": format!("re_{}", Uuid::now_v7().simple()),
                "amount": amount, "payment_intent": id, "status": status,
                "metadata": {"cassa_reference": field(form, "metadata[cassa_reference]")}});
            inner.refunds.push(refund.clone());
            (200, refund)
        },
    )
    .await
}

/// `GET /v1/account`: the platform's account, or the Connect account `Stripe-Account` names.
async fn account(State(server): State<StripeServer>, headers: HeaderMap) -> Response {
    let connect = headers
        .get("stripe-account")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    handle(&server, "GET", "/v1/account".into(), &headers, Vec::new(), |_, _| {
        (200, json!({"object": "account", "id": connect.as_deref().unwrap_or("acct_1CassaPlatform"),
            "country": "US", "default_currency": "usd", "charges_enabled": true,
            "email": "owner@stripe-shop.test", "business_profile": {"name": null},
            "settings": {"dashboard": {"display_name": "Stripe shop"}}}))
    })
    .await
}
