//! A local Stripe-shaped server: what every request goes through as at Stripe (form bodies,
//! `Stripe-Version`, `Idempotency-Key` replays and conflicts, error objects by class, Connect
//! accounts' objects kept apart), plus faults a test can queue (429 with `Retry-After`, a 500
//! after the work was done, a delay). It checks what it receives and records every request for
//! the tests to inspect. Mounted beside the API (never the internet). The endpoints themselves
//! are in `intents.rs` (PaymentIntents, Refunds, the account) and `reads.rs` (lists, search).

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
    time::Duration,
};

use axum::{
    Json, Router,
    http::{HeaderMap, StatusCode},
    response::{IntoResponse, Response},
    routing::{get, post},
};
use serde_json::{Value, json};

use super::intents;

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
    pub(super) pending_refunds: bool,
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
            .route(
                &format!("{prefix}/v1/payment_intents"),
                post(intents::create),
            )
            .route(
                &format!("{prefix}/v1/payment_intents/{{id}}"),
                get(intents::show),
            )
            .route(
                &format!("{prefix}/v1/payment_intents/{{id}}/{{action}}"),
                post(intents::act),
            )
            .route(
                &format!("{prefix}/v1/refunds"),
                post(intents::refund).get(super::reads::list_refunds),
            )
            .route(
                &format!("{prefix}/v1/payment_intents/search"),
                get(super::reads::search),
            )
            .route(&format!("{prefix}/v1/account"), get(intents::account))
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

pub(super) fn field<'a>(form: &'a [(String, String)], name: &str) -> Option<&'a str> {
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
