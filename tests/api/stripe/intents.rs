//! The Stripe-shaped server's PaymentIntents and Refunds: create and confirm (test payment
//! method tokens, multicapture where the card has it), show (with `expand`), capture, cancel
//! and refund as Stripe documents their effects, and `GET /v1/account`.

use axum::{
    Form,
    extract::{Path, Query, State},
    http::{HeaderMap, StatusCode},
    response::Response,
};
use serde_json::{Value, json};
use uuid::Uuid;

use super::server::{StripeServer, account_of, error, field, handle};

pub(super) async fn create(
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

pub(super) async fn show(
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

pub(super) async fn act(
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

pub(super) async fn refund(
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
pub(super) async fn account(State(server): State<StripeServer>, headers: HeaderMap) -> Response {
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
