//! A tax service with the `taxapi` shape, served over HTTP beside the API (reached through the
//! same guarded client as any provider). It keeps its own rates and its own books: documents
//! by code, each order's net tax, and every POST it saw, so a test can compare them with
//! Cassa's ledger. Its failures are switched by the test.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
};

use axum::{
    Json, Router,
    extract::State,
    http::{HeaderMap, StatusCode},
    response::{IntoResponse, Response},
    routing::post,
};
use cassa::state::AppState;
use serde_json::{Value, json};

/// The key the service accepts.
pub const API_KEY: &str = "tk_test_5f0c2f1d9a7b4e3c8d6a";
/// Where it is mounted under `/api/v1`.
pub const MOUNT: &str = "/fake-taxapi";
/// Its version, as its answers report it.
pub const VERSION: &str = "fake-2026.12";

/// How the service misbehaves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Mode {
    /// Answers correctly.
    #[default]
    Up,
    /// Answers 503 to everything.
    Down,
    /// Quotes whose jurisdiction parts do not add up.
    Garbage,
    /// Refuses every filed document (`422`).
    RefuseFilings,
}

/// What the service saw and holds.
#[derive(Debug, Default)]
pub struct Books {
    /// Current behaviour.
    pub mode: Mode,
    /// Transaction POSTs to fail with 500 *after* recording them (an answer lost on the way).
    pub lose_answers: u32,
    /// Quotes answered.
    pub quotes: u32,
    /// Transaction POSTs received (retries included).
    pub posts: u32,
    /// Documents by code.
    pub documents: HashMap<String, Value>,
    /// Per order reference: committed − refunded − voided tax.
    pub net: HashMap<String, i64>,
}

/// A handle on the service's books.
pub type Shared = Arc<Mutex<Books>>;

/// The service's routes, to mount as `extra_api`.
pub fn router(books: Shared) -> Router<AppState> {
    Router::new()
        .route(&format!("{MOUNT}/v1/quotes"), post(quote))
        .route(&format!("{MOUNT}/v1/transactions"), post(transaction))
        .with_state(books)
}

fn error(status: StatusCode, code: &str) -> Response {
    (
        status,
        Json(json!({"error": {"code": code, "message": code}})),
    )
        .into_response()
}

fn authorized(headers: &HeaderMap) -> bool {
    headers.get("authorization").and_then(|v| v.to_str().ok()) == Some(&format!("Bearer {API_KEY}"))
}

/// Parts per million of each jurisdiction collecting on a destination and tax code.
fn rates(to: &Value, tax_code: &str) -> Vec<(&'static str, &'static str, i64)> {
    if tax_code == "shipping" {
        return vec![];
    }
    match (to["country"].as_str(), to["subdivision"].as_str()) {
        (Some("US"), Some("CA")) => {
            let mut rates = vec![("US-CA", "subdivision", 60_000)];
            if to["city"].as_str().map(str::to_uppercase).as_deref() == Some("LOS ANGELES") {
                rates.push(("US-CA/city:LOS ANGELES", "city", 35_000));
            }
            rates
        }
        (Some("DE"), _) => vec![("DE", "country", 190_000)],
        _ => vec![],
    }
}

/// A rate below 1 in parts per million as a decimal string (`60_000` → `0.060000`).
fn ppm_text(ppm: i64) -> String {
    format!("0.{ppm:06}")
}

fn round_div(a: i64, b: i64) -> i64 {
    (2 * a + b) / (2 * b)
}

async fn quote(
    State(books): State<Shared>,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> Response {
    if !authorized(&headers) {
        return error(StatusCode::UNAUTHORIZED, "unauthorized");
    }
    let mode = {
        let mut books = books.lock().unwrap();
        books.quotes += 1;
        books.mode
    };
    if mode == Mode::Down {
        return error(StatusCode::SERVICE_UNAVAILABLE, "maintenance");
    }
    let to = &body["destination"];
    if to["postal_code"] == "00000" {
        return error(StatusCode::UNPROCESSABLE_ENTITY, "address_unknown");
    }
    let has_nexus = |code: &str| {
        body["nexus"].as_array().unwrap().iter().any(|n| {
            let place = match n["subdivision"].as_str() {
                Some(s) => format!("{}-{s}", n["country"].as_str().unwrap()),
                None => n["country"].as_str().unwrap().to_owned(),
            };
            code.starts_with(&place)
        })
    };
    let certificate = |code: &str| {
        body["exemptions"].as_array().unwrap().iter().find_map(|e| {
            e["jurisdictions"]
                .as_array()
                .unwrap()
                .iter()
                .any(|j| code.starts_with(j.as_str().unwrap()))
                .then(|| e["certificate_id"].as_str().unwrap().to_owned())
        })
    };
    let lines: Vec<Value> = body["lines"]
        .as_array()
        .unwrap()
        .iter()
        .map(|line| {
            let amount = line["amount"].as_i64().unwrap();
            let collecting: Vec<_> = rates(to, line["tax_code"].as_str().unwrap())
                .into_iter()
                .filter(|(code, _, _)| has_nexus(code) && certificate(code).is_none())
                .collect();
            let ppm: i64 = collecting.iter().map(|r| r.2).sum();
            let (net, tax) = if line["inclusive"].as_bool().unwrap() {
                let net = round_div(amount * 1_000_000, 1_000_000 + ppm);
                (net, amount - net)
            } else {
                (amount, round_div(amount * ppm, 1_000_000))
            };
            // Each jurisdiction's share rounded down, the remainder to the first.
            let mut parts: Vec<Value> = Vec::new();
            let mut given = 0;
            for (i, (code, level, rate)) in collecting.iter().enumerate().rev() {
                let share = if i == 0 {
                    tax - given
                } else {
                    tax * rate / ppm.max(1)
                };
                given += share;
                parts.insert(
                    0,
                    json!({"jurisdiction": code, "level": level,
                    "tax_code": line["tax_code"], "rate": ppm_text(*rate),
                    "taxable": net, "exempt": 0, "tax": share}),
                );
            }
            for (code, level, rate) in rates(to, line["tax_code"].as_str().unwrap()) {
                if let Some(cert) = certificate(code) {
                    parts.push(json!({"jurisdiction": code, "level": level,
                        "tax_code": line["tax_code"], "rate": ppm_text(rate),
                        "taxable": 0, "exempt": net, "tax": 0, "reason": "exempt",
                        "certificate_id": cert}));
                }
            }
            if mode == Mode::Garbage && tax > 0 {
                parts[0]["tax"] = json!(tax + 1);
            }
            json!({"line_no": line["line_no"], "net": net, "tax": tax,
                "rate": ppm_text(ppm), "parts": parts})
        })
        .collect();
    Json(json!({"engine_version": VERSION, "lines": lines})).into_response()
}

async fn transaction(
    State(books): State<Shared>,
    headers: HeaderMap,
    Json(document): Json<Value>,
) -> Response {
    if !authorized(&headers) {
        return error(StatusCode::UNAUTHORIZED, "unauthorized");
    }
    let Some(key) = headers.get("idempotency-key").and_then(|v| v.to_str().ok()) else {
        return error(StatusCode::BAD_REQUEST, "idempotency_key_required");
    };
    let mut books = books.lock().unwrap();
    books.posts += 1;
    if books.mode == Mode::Down {
        return error(StatusCode::SERVICE_UNAVAILABLE, "maintenance");
    }
    if books.mode == Mode::RefuseFilings {
        return error(StatusCode::UNPROCESSABLE_ENTITY, "document_refused");
    }
    let code = document["code"].as_str().unwrap().to_owned();
    if key != code {
        return error(StatusCode::BAD_REQUEST, "key_is_not_the_code");
    }
    if let Some(seen) = books.documents.get(&code) {
        return (StatusCode::OK, Json(seen.clone())).into_response();
    }
    let tax: i64 = document["lines"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["tax"].as_i64().unwrap())
        .sum();
    let reference = document["reference"].as_str().unwrap().to_owned();
    let net = books.net.get(&reference).copied().unwrap_or(0);
    let signed = match document["kind"].as_str().unwrap() {
        "commit" => tax,
        "refund" | "void" => -tax,
        _ => return error(StatusCode::UNPROCESSABLE_ENTITY, "unknown_kind"),
    };
    // A reversal of more than was committed is refused, as a real service would.
    if net + signed < 0 {
        return error(StatusCode::UNPROCESSABLE_ENTITY, "exceeds_committed");
    }
    books.net.insert(reference, net + signed);
    books.documents.insert(code, document.clone());
    if books.lose_answers > 0 {
        books.lose_answers -= 1;
        return error(StatusCode::INTERNAL_SERVER_ERROR, "lost_answer");
    }
    (StatusCode::CREATED, Json(document)).into_response()
}
