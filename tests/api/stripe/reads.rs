//! The Stripe-shaped server's lists: an intent's refunds (`GET /v1/refunds`, paginated with
//! `limit` and `starting_after`) and the PaymentIntents search by metadata, as Stripe shapes
//! them (`{object: "list" | "search_result", data, has_more}`).

use axum::{
    extract::{Query, State},
    http::{HeaderMap, StatusCode},
    response::Response,
};
use serde_json::{Value, json};

use super::server::{StripeServer, account_of, error, handle};

fn param<'a>(query: &'a [(String, String)], name: &str) -> Option<&'a str> {
    query
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

pub(super) async fn list_refunds(
    State(server): State<StripeServer>,
    Query(query): Query<Vec<(String, String)>>,
    headers: HeaderMap,
) -> Response {
    let intent = param(&query, "payment_intent").map(str::to_owned);
    let limit = param(&query, "limit")
        .and_then(|l| l.parse::<usize>().ok())
        .unwrap_or(10);
    let after = param(&query, "starting_after").map(str::to_owned);
    let account = account_of(&headers);
    handle(
        &server,
        "GET",
        "/v1/refunds".into(),
        &headers,
        Vec::new(),
        |inner, _| {
            if !(1..=100).contains(&limit) {
                return error(
                    StatusCode::BAD_REQUEST,
                    "invalid_request_error",
                    "parameter_invalid_integer",
                    None,
                );
            }
            // Newest first, as Stripe lists.
            // Only this account's refunds exist for the request.
            let owners = &inner.owners;
            let mine = inner.refunds.iter().rev().filter(|r| {
                let of = r["payment_intent"].as_str().unwrap_or_default();
                owners.get(of) == Some(&account)
                    && (intent.is_none() || Some(of) == intent.as_deref())
            });
            let rest: Vec<&Value> = match &after {
                Some(after) => mine
                    .skip_while(|r| r["id"].as_str() != Some(after))
                    .skip(1)
                    .collect(),
                None => mine.collect(),
            };
            let data: Vec<Value> = rest.iter().take(limit).map(|r| (*r).clone()).collect();
            (
                200,
                json!({"object": "list", "url": "/v1/refunds", "data": data,
                "has_more": rest.len() > limit}),
            )
        },
    )
    .await
}

/// Only the query the adapter sends: `metadata['cassa_reference']:'<reference>'`.
pub(super) async fn search(
    State(server): State<StripeServer>,
    Query(query): Query<Vec<(String, String)>>,
    headers: HeaderMap,
) -> Response {
    let wanted = param(&query, "query")
        .and_then(|q| q.strip_prefix("metadata['cassa_reference']:'"))
        .and_then(|q| q.strip_suffix('\''))
        .map(str::to_owned);
    let account = account_of(&headers);
    handle(
        &server,
        "GET",
        "/v1/payment_intents/search".into(),
        &headers,
        Vec::new(),
        |inner, _| {
            let Some(wanted) = &wanted else {
                return error(
                    StatusCode::BAD_REQUEST,
                    "invalid_request_error",
                    "search_query_invalid",
                    None,
                );
            };
            let data: Vec<Value> = inner
                .intents
                .values()
                .filter(|i| i["metadata"]["cassa_reference"].as_str() == Some(wanted))
                .filter(|i| {
                    let id = i["id"].as_str().unwrap_or_default();
                    inner.owners.get(id) == Some(&account)
                })
                .cloned()
                .collect();
            (
                200,
                json!({"object": "search_result", "data": data, "has_more": false}),
            )
        },
    )
    .await
}
