//! `GET /openapi.json`: the OpenAPI 3.1 document of the HTTP API, generated from the handlers'
//! `#[utoipa::path]` annotations and the types they answer with.
//!
//! The router and the document come from one place ([`super::api`]): a route is registered
//! together with its description, so neither can list a route the other lacks. This module adds
//! what no single handler knows: the error responses every route can give (429 from the rate
//! limit, 405 for a method the path does not serve), and the reusable error responses.

use crate::error::ErrorBody;
use crate::events::StockEvent;
use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};
use std::sync::LazyLock;
use utoipa::openapi::path::{Operation, Parameter, ParameterIn, PathItem};
use utoipa::openapi::schema::{Schema, SchemaType, Type};
use utoipa::openapi::{OpenApi, Ref, RefOr};

/// The request is malformed; the message names the field or rule it broke.
#[derive(utoipa::ToResponse)]
#[response(description = "Malformed request: the message names the field or rule it broke")]
pub struct BadRequest(pub ErrorBody);

/// What was asked for does not exist.
#[derive(utoipa::ToResponse)]
#[response(description = "Not found")]
pub struct NotFound(pub ErrorBody);

/// The path exists but not for this method.
#[derive(utoipa::ToResponse)]
#[response(
    description = "The path is not served for the request's method (any method this \
        document does not list for the path)",
    headers(("Allow" = String, description = "The methods the path serves"))
)]
pub struct MethodNotAllowed(pub ErrorBody);

/// Well formed but cannot be carried out now.
#[derive(utoipa::ToResponse)]
#[response(
    description = "Cannot be carried out, e.g. not enough shares (the message says \
    how many are available)"
)]
pub struct Conflict(pub ErrorBody);

/// The body is over the limit.
#[derive(utoipa::ToResponse)]
#[response(description = "Request body larger than 16 KiB")]
pub struct PayloadTooLarge(pub ErrorBody);

/// The `Idempotency-Key` was first used for a different order.
#[derive(utoipa::ToResponse)]
#[response(
    description = "The Idempotency-Key was first used for a different order (stock, \
    type or quantity); nothing was traded. The message names the first order."
)]
pub struct KeyReused(pub ErrorBody);

/// The client's address is over its request rate.
#[derive(utoipa::ToResponse)]
#[response(
    description = "The client's address is over its request rate (`--rate-limit-per-ip`)",
    headers(("Retry-After" = u64, description = "Seconds until the address may send again"))
)]
pub struct TooManyRequests(pub ErrorBody);

/// No catalog or order leader answered in time.
#[derive(utoipa::ToResponse)]
#[response(
    description = "No catalog or order leader answered within the retry budget, or the \
        request took too long; the same request may be sent again (with the same \
        Idempotency-Key for an order)",
    headers(("Retry-After" = u64, description = "Seconds to wait before retrying (1)"))
)]
pub struct Unavailable(pub ErrorBody);

/// A fault on the server's side.
#[derive(utoipa::ToResponse)]
#[response(description = "A fault on the server's side; the message says only \
    \"internal server error\"")]
pub struct InternalError(pub ErrorBody);

/// The fixed parts of the document; the paths come from the router.
#[derive(utoipa::OpenApi)]
#[openapi(
    info(
        title = "Stock Bazaar",
        description = "A small stock exchange: look stocks up, follow them live, trade, and \
            read orders back. Every success body is `{\"data\": ...}`; every error body is \
            `{\"error\": {\"code\": <status>, \"message\": \"...\"}}`."
    ),
    components(
        schemas(ErrorBody, StockEvent),
        responses(
            BadRequest,
            NotFound,
            MethodNotAllowed,
            Conflict,
            PayloadTooLarge,
            KeyReused,
            TooManyRequests,
            Unavailable,
            InternalError
        )
    ),
    tags(
        (name = "stocks", description = "Stocks, one at a time, all of them, or live"),
        (name = "orders", description = "Placing trades and reading them back"),
        (name = "operations", description = "Health and cache state, for operators"),
        (name = "page", description = "The trading page and its assets"),
    )
)]
pub(super) struct BaseDocument;

/// Answers on every route: status and the reusable response it refers to.
const EVERY_ROUTE: [(&str, &str); 2] = [("405", "MethodNotAllowed"), ("429", "TooManyRequests")];

/// The whole document, as the router serves it.
pub fn document() -> OpenApi {
    let (_, mut document) = super::api().split_for_parts();
    for item in document.paths.paths.values_mut() {
        for operation in operations(item) {
            for (status, response) in EVERY_ROUTE {
                operation
                    .responses
                    .responses
                    .entry(status.to_string())
                    .or_insert_with(|| RefOr::Ref(Ref::from_response_name(response)));
            }
            for parameter in operation.parameters.iter_mut().flatten() {
                if let RefOr::T(parameter) = parameter {
                    if parameter.parameter_in == ParameterIn::Header {
                        not_null(parameter);
                    }
                }
            }
        }
    }
    document
}

/// An optional header is absent or a string, never `null` (which an `Option` field's schema
/// would otherwise allow).
fn not_null(parameter: &mut Parameter) {
    if let Some(RefOr::T(Schema::Object(schema))) = parameter.schema.as_mut() {
        if let SchemaType::Array(types) = &schema.schema_type {
            let mut kept: Vec<Type> = types
                .iter()
                .filter(|t| **t != Type::Null)
                .cloned()
                .collect();
            if kept.len() == 1 {
                schema.schema_type = SchemaType::Type(kept.remove(0));
            }
        }
    }
}

/// Every operation a path item holds.
fn operations(item: &mut PathItem) -> impl Iterator<Item = &mut Operation> {
    [
        item.get.as_mut(),
        item.put.as_mut(),
        item.post.as_mut(),
        item.delete.as_mut(),
        item.options.as_mut(),
        item.head.as_mut(),
        item.patch.as_mut(),
        item.trace.as_mut(),
    ]
    .into_iter()
    .flatten()
}

/// The document as JSON, made once.
static DOCUMENT_JSON: LazyLock<String> = LazyLock::new(|| {
    document()
        .to_pretty_json()
        .unwrap_or_else(|e| format!(r#"{{"error":"cannot render the document: {e}"}}"#))
});

/// This document.
#[utoipa::path(
    get,
    path = "/openapi.json",
    operation_id = "openApiDocument",
    tag = "operations",
    responses((status = 200, description = "This OpenAPI 3.1 document", content_type = "application/json", body = Object))
)]
pub(super) async fn get() -> Response {
    let mut response = DOCUMENT_JSON.as_str().into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    response
}
