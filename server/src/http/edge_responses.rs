//! The answers the edge gives before or around any handler (a malformed body, a missing
//! credential, a reused Idempotency-Key, a database that is away), documented on every
//! operation they can reach. Without them a client generated from the document, or the API
//! fuzzer (`scripts/fuzz-api`), meets status codes the document never named.

use axum::http::Method;
use utoipa::openapi::{
    ContentBuilder, OpenApi, Ref, RefOr, ResponseBuilder,
    path::{Operation, ParameterIn},
};

use super::idempotency;

/// Shared responses, by component name: (name, status, description).
const RESPONSES: &[(&str, &str, &str)] = &[
    (
        "BadRequest",
        "400",
        "The request could not be read: malformed JSON (`malformed_json`), a body that could not be \
         read (`bad_request`), or a missing or malformed Idempotency-Key \
         (`idempotency_key_missing`, `idempotency_key_invalid`)",
    ),
    (
        "Unauthorized",
        "401",
        "No credential, or one that is unknown, expired or revoked (`unauthorized`)",
    ),
    (
        "Forbidden",
        "403",
        "The credential may not do this: another kind of caller, a role without the right, or \
         a password that must be changed first (`forbidden`, `password_change_required`)",
    ),
    (
        "NotFound",
        "404",
        "No such object for this caller: another store's or environment's objects are not \
         found either (`not_found`)",
    ),
    (
        "IdempotencyConflict",
        "409",
        "A request with this Idempotency-Key is still being processed (`idempotency_key_in_use`); \
         retry later with the same key",
    ),
    (
        "PayloadTooLarge",
        "413",
        "The body is larger than the server accepts (`payload_too_large`)",
    ),
    (
        "UnsupportedMediaType",
        "415",
        "The body is not `application/json` (`unsupported_media_type`)",
    ),
    (
        "Unprocessable",
        "422",
        "A value is refused, named by `field` (`validation_failed`, `invalid_body`), or the \
         Idempotency-Key was already used for another request (`idempotency_key_reused`)",
    ),
    (
        "RateLimited",
        "429",
        "Too many requests or failed sign-ins from this caller; `Retry-After` says when to \
         retry (`rate_limited`)",
    ),
    (
        "Unavailable",
        "503",
        "The database is unreachable, locked by another writer or out of storage, or the server \
         is at capacity (`database_unavailable`, `database_busy`, `storage_full`, \
         `server_busy`); the failed step was rolled back: retrying with the same Idempotency-Key \
         is safe",
    ),
];

/// Adds [`RESPONSES`] to the components and refers to each from every operation it applies to,
/// unless the operation documents that status itself.
pub struct EdgeResponses;

impl utoipa::Modify for EdgeResponses {
    fn modify(&self, openapi: &mut OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        for (name, _, description) in RESPONSES {
            let response = ResponseBuilder::new()
                .description(*description)
                .content(
                    "application/problem+json",
                    ContentBuilder::new()
                        .schema(Some(Ref::from_schema_name("Problem")))
                        .build(),
                )
                .build();
            components
                .responses
                .insert((*name).to_owned(), RefOr::T(response));
        }
        for (path, item) in openapi.paths.paths.iter_mut() {
            for (method, operation) in [
                (Method::GET, &mut item.get),
                (Method::POST, &mut item.post),
                (Method::PUT, &mut item.put),
                (Method::PATCH, &mut item.patch),
                (Method::DELETE, &mut item.delete),
            ] {
                if let Some(operation) = operation {
                    let needs_key = idempotency::requires_key(&method, path);
                    for name in applicable(operation, needs_key) {
                        add(operation, name);
                    }
                }
            }
        }
    }
}

/// The shared responses an operation can meet.
fn applicable(operation: &Operation, needs_key: bool) -> Vec<&'static str> {
    let secured = operation
        .security
        .as_ref()
        .is_some_and(|requirements| !requirements.is_empty());
    let parameters = operation.parameters.as_deref().unwrap_or_default();
    let in_path = parameters
        .iter()
        .any(|p| p.parameter_in == ParameterIn::Path);
    let in_query = parameters
        .iter()
        .any(|p| p.parameter_in == ParameterIn::Query);
    let body = operation.request_body.is_some();
    let mut names = Vec::new();
    if body || needs_key {
        names.push("BadRequest");
    }
    if secured {
        names.extend(["Unauthorized", "Forbidden"]);
    }
    if in_path && secured {
        names.push("NotFound");
    }
    if needs_key {
        names.push("IdempotencyConflict");
    }
    if body {
        names.extend(["PayloadTooLarge", "UnsupportedMediaType"]);
    }
    if body || in_query || in_path || needs_key {
        names.push("Unprocessable");
    }
    if secured {
        names.push("RateLimited");
    }
    if secured || needs_key {
        names.push("Unavailable");
    }
    names
}

fn add(operation: &mut Operation, name: &str) {
    let Some((_, status, _)) = RESPONSES.iter().find(|(n, _, _)| *n == name) else {
        return;
    };
    operation
        .responses
        .responses
        .entry((*status).to_owned())
        .or_insert_with(|| RefOr::Ref(Ref::from_response_name(name)));
}
