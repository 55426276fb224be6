//! `POST /orders` (place a trade through the order leader) and `GET /orders/{number}`.
//!
//! The body is taken as raw bytes and parsed here, whatever the Content-Type, so `curl -d` works
//! and every mistake gets a 400 that names the field and the rule it broke.

use super::stocks::not_found_as_stock;
use super::{AppState, Data};
use crate::bus::BusError;
use crate::error::AppError;
use axum::extract::rejection::{BytesRejection, PathRejection};
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use bazaar_nats::domain::MAX_ORDER_QUANTITY;
use bazaar_nats::messages::{Order, TradeRequest};
use bazaar_nats::{IdempotencyKey, Quantity, Side, StockName};
use bytes::Bytes;
use serde_json::{Map, Value};
use std::sync::Arc;

/// Header a client may set to make its retries of one order count once.
pub(super) const IDEMPOTENCY_KEY: &str = "idempotency-key";

/// A validated `POST /orders` body: `{"name", "quantity", "type"}`; other fields are ignored.
#[derive(Debug, Clone, PartialEq, Eq, utoipa::ToSchema)]
#[schema(as = OrderRequest, example = json!({"name": "GameStart", "quantity": 1, "type": "buy"}))]
pub(super) struct NewOrder {
    /// The stock to trade.
    #[schema(schema_with = super::schema::stock_name)]
    pub(super) name: StockName,
    /// How many shares.
    #[schema(schema_with = super::schema::order_quantity)]
    pub(super) quantity: Quantity,
    /// `buy` takes shares from the market, `sell` gives them back.
    #[schema(rename = "type", schema_with = super::schema::order_type)]
    pub(super) side: Side,
}

/// An order as clients read it back.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
#[schema(as = Order)]
pub(super) struct OrderView {
    /// The transaction number.
    #[schema(minimum = 0, example = 0)]
    number: u64,
    /// The stock traded.
    #[schema(schema_with = super::schema::stock_name)]
    name: StockName,
    /// Buy or sell.
    #[serde(rename = "type")]
    #[schema(schema_with = super::schema::order_type)]
    side: Side,
    /// How many shares.
    #[schema(schema_with = super::schema::order_quantity)]
    quantity: Quantity,
}

impl From<Order> for OrderView {
    fn from(order: Order) -> Self {
        Self {
            number: order.number,
            name: order.name,
            side: order.side,
            quantity: order.quantity,
        }
    }
}

/// The answer to a placed order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
#[schema(as = TradeReceipt)]
pub(super) struct ReceiptView {
    /// The order's transaction number: unique, from 0, one more for each accepted order.
    #[schema(minimum = 0, example = 0)]
    transaction_number: u64,
}

/// Places a trade: buys or sells shares of one stock.
///
/// The body is read as JSON whatever the Content-Type. With an `Idempotency-Key`, sending the
/// same order again (after a network error or a 503) returns the first answer and trades once.
#[utoipa::path(
    post,
    path = "/orders",
    operation_id = "placeOrder",
    tag = "orders",
    request_body(content = NewOrder, content_type = "application/json",
        description = "The order; other fields are ignored"),
    params(("Idempotency-Key" = Option<String>, Header,
        description = "Makes this order trade at most once, however often it is sent: \
            1 to 128 visible ASCII characters, e.g. a UUID. Without it the frontend mints a key \
            for this one request.",
        min_length = 1, max_length = 128, pattern = "^[!-~]{1,128}$")),
    responses(
        (status = 200, description = "The order was placed", body = Data<ReceiptView>),
        (status = 400, response = super::openapi::BadRequest),
        (status = 404, response = super::openapi::NotFound),
        (status = 409, response = super::openapi::Conflict),
        (status = 413, response = super::openapi::PayloadTooLarge),
        (status = 422, response = super::openapi::KeyReused),
        (status = 500, response = super::openapi::InternalError),
        (status = 503, response = super::openapi::Unavailable),
    )
)]
pub(super) async fn create(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Data<ReceiptView>, AppError> {
    let order = parse_order(&body?)?;
    let (key, minted) = idempotency_key(&headers)?;
    let trade = TradeRequest {
        key,
        name: order.name,
        side: order.side,
        quantity: order.quantity,
        minted,
    };
    let receipt = state.bus.trade(&trade).await.map_err(not_found_as_stock)?;
    // The catalog's invalidation may still be on its way; the trader must not read the old
    // quantity from this frontend's cache in the meantime.
    state.cache.forget(&trade.name);
    tracing::debug!(number = receipt.transaction_number, key = %trade.key, "order placed");
    Ok(Data {
        data: ReceiptView {
            transaction_number: receipt.transaction_number,
        },
    })
}

/// One order by transaction number, from the order leader.
#[utoipa::path(
    get,
    path = "/orders/{number}",
    operation_id = "getOrder",
    tag = "orders",
    params(("number" = u64, Path, description = "The transaction number", minimum = 0,
        maximum = 18_446_744_073_709_551_615_u64, example = 0)),
    responses(
        (status = 200, description = "The order", body = Data<OrderView>),
        (status = 400, response = super::openapi::BadRequest),
        (status = 404, response = super::openapi::NotFound),
        (status = 500, response = super::openapi::InternalError),
        (status = 503, response = super::openapi::Unavailable),
    )
)]
pub(super) async fn get_one(
    State(state): State<Arc<AppState>>,
    path: Result<Path<String>, PathRejection>,
) -> Result<Data<OrderView>, AppError> {
    let Path(raw) = path?;
    let number: u64 = raw.parse().map_err(|_| {
        AppError::BadRequest(format!(
            "order number must be a non-negative whole number, not {raw:?}"
        ))
    })?;
    let order = state.bus.order(number).await.map_err(|e| match e {
        BusError::NotFound(_) => AppError::NotFound("order not found".into()),
        other => other.into(),
    })?;
    Ok(Data { data: order.into() })
}

/// The client's `Idempotency-Key`, validated, or a fresh UUID v4; `true` when minted here.
fn idempotency_key(headers: &HeaderMap) -> Result<(IdempotencyKey, bool), AppError> {
    match headers.get(IDEMPOTENCY_KEY) {
        Some(value) => {
            let text = value.to_str().map_err(|_| {
                AppError::BadRequest("Idempotency-Key must be visible ASCII characters".into())
            })?;
            let key = IdempotencyKey::parse(text).map_err(|e| AppError::BadRequest(e.0))?;
            Ok((key, false))
        }
        None => IdempotencyKey::parse(uuid::Uuid::new_v4().to_string())
            .map(|key| (key, true))
            .map_err(|e| AppError::Internal(format!("minted an invalid idempotency key: {e}"))),
    }
}

/// Parses and validates `{"name": "...", "quantity": N, "type": "buy"|"sell"}`; other fields are
/// ignored.
///
/// # Errors
/// A 400 [`AppError`] whose message names the field and the rule it broke.
pub(super) fn parse_order(body: &[u8]) -> Result<NewOrder, AppError> {
    let bad = |m: String| AppError::BadRequest(m);
    let value: Value = serde_json::from_slice(body)
        .map_err(|e| bad(format!("request body is not valid JSON: {e}")))?;
    let Value::Object(fields) = value else {
        return Err(bad(format!(
            "request body must be a JSON object with name, quantity and type, not {}",
            kind(&value)
        )));
    };
    let name = match field(&fields, "name")? {
        Value::String(s) => StockName::parse(s.as_str()).map_err(|e| bad(e.0))?,
        other => {
            return Err(bad(format!(
                "field `name` must be a string, not {}",
                kind(other)
            )))
        }
    };
    let bound = format!("a whole number from 1 to {MAX_ORDER_QUANTITY}");
    let quantity = match field(&fields, "quantity")? {
        Value::Number(n) => {
            let whole = whole_number(n)
                .ok_or_else(|| bad(format!("field `quantity` must be {bound}, not {n}")))?;
            Quantity::parse(whole)
                .map_err(|_| bad(format!("field `quantity` must be {bound}, not {whole}")))?
        }
        other => {
            return Err(bad(format!(
                "field `quantity` must be {bound}, not {}",
                kind(other)
            )))
        }
    };
    let side = match field(&fields, "type")? {
        Value::String(s) => Side::parse(s).map_err(|_| {
            bad(format!(
                "field `type` must be \"buy\" or \"sell\", not {s:?}"
            ))
        })?,
        other => {
            return Err(bad(format!(
                "field `type` must be the string \"buy\" or \"sell\", not {}",
                kind(other)
            )))
        }
    };
    Ok(NewOrder {
        name,
        quantity,
        side,
    })
}

/// A JSON number's value when it is a whole number that fits a `u64`, however it is written:
/// JSON (and the OpenAPI document's `integer`) make `3`, `3.0` and `3e0` the same value.
fn whole_number(n: &serde_json::Number) -> Option<u64> {
    n.as_u64().or_else(|| {
        let value = n.as_f64()?;
        // Above 2^53 a float is not exact; every valid quantity is far below.
        let exact = value.fract() == 0.0 && (0.0..=9_007_199_254_740_992.0).contains(&value);
        exact.then_some(value as u64)
    })
}

/// The value of a required field.
fn field<'a>(fields: &'a Map<String, Value>, name: &str) -> Result<&'a Value, AppError> {
    fields
        .get(name)
        .ok_or_else(|| AppError::BadRequest(format!("missing field `{name}`")))
}

/// How a JSON value's type is named in messages.
fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn message(body: &str) -> String {
        match parse_order(body.as_bytes()) {
            Err(AppError::BadRequest(m)) => m,
            other => panic!("expected a 400 for {body}, got {other:?}"),
        }
    }

    #[test]
    fn a_well_formed_order_is_accepted() {
        let order =
            parse_order(br#"{"name": "GameStart", "quantity": 1, "type": "buy", "x": 0}"#).unwrap();
        assert_eq!(order.name.as_str(), "GameStart");
        assert_eq!(order.quantity.get(), 1);
        assert_eq!(order.side, Side::Buy);
        let sell = parse_order(br#"{"name":"FishCo","quantity":1000000,"type":"sell"}"#).unwrap();
        assert_eq!(sell.side, Side::Sell);
    }

    #[test]
    fn malformed_json_is_refused() {
        assert!(message(r#"{"name": "GameStart", "#).contains("not valid JSON"));
        assert!(message("").contains("not valid JSON"));
        assert!(message("[1, 2]").contains("JSON object"));
    }

    #[test]
    fn each_missing_field_is_named() {
        assert_eq!(
            message(r#"{"quantity": 1, "type": "buy"}"#),
            "missing field `name`"
        );
        assert_eq!(
            message(r#"{"name": "A", "type": "buy"}"#),
            "missing field `quantity`"
        );
        assert_eq!(
            message(r#"{"name": "A", "quantity": 1}"#),
            "missing field `type`"
        );
    }

    #[test]
    fn each_mistyped_field_is_named() {
        assert!(message(r#"{"name": 5, "quantity": 1, "type": "buy"}"#).contains("`name`"));
        assert!(message(r#"{"name": "A", "quantity": "1", "type": "buy"}"#).contains("`quantity`"));
        assert!(message(r#"{"name": "A", "quantity": 1, "type": true}"#).contains("`type`"));
        assert!(message(r#"{"name": null, "quantity": 1, "type": "buy"}"#).contains("null"));
    }

    #[test]
    fn quantity_must_be_a_positive_whole_number_within_the_bound() {
        for q in [
            "0",
            "-1",
            "1.5",
            "1000001",
            "1e7",
            "-0.0",
            "18446744073709551616",
        ] {
            let m = message(&format!(
                r#"{{"name": "A", "quantity": {q}, "type": "buy"}}"#
            ));
            assert!(
                m.contains("`quantity`") && m.contains("1000000"),
                "{q}: {m}"
            );
        }
    }

    #[test]
    fn a_whole_quantity_written_as_a_decimal_or_exponent_is_that_number() {
        // Schema-valid to any JSON Schema validator: `integer` includes 262144.0.
        for (written, value) in [("262144.0", 262_144), ("1e3", 1_000), ("1.0e6", 1_000_000)] {
            let body = format!(r#"{{"name": "A", "quantity": {written}, "type": "buy"}}"#);
            let order = parse_order(body.as_bytes()).unwrap();
            assert_eq!(order.quantity.get(), value, "{written}");
        }
    }

    #[test]
    fn unknown_type_says_buy_or_sell() {
        let m = message(r#"{"name": "A", "quantity": 1, "type": "hold"}"#);
        assert!(m.contains("\"buy\" or \"sell\""), "{m}");
    }

    #[test]
    fn an_invalid_stock_name_is_refused() {
        let m = message(r#"{"name": "no spaces", "quantity": 1, "type": "buy"}"#);
        assert!(m.contains("stock name"), "{m}");
    }

    #[test]
    fn idempotency_key_comes_from_the_header_or_is_minted() {
        let mut headers = HeaderMap::new();
        let (minted, was_minted) = idempotency_key(&headers).unwrap();
        assert!(was_minted);
        assert_eq!(minted.as_str().len(), 36);
        assert_ne!(minted, idempotency_key(&headers).unwrap().0);
        headers.insert(IDEMPOTENCY_KEY, HeaderValue::from_static("client-key-1"));
        let (given, was_minted) = idempotency_key(&headers).unwrap();
        assert_eq!(given.as_str(), "client-key-1");
        assert!(!was_minted);
        headers.insert(IDEMPOTENCY_KEY, HeaderValue::from_static("has space"));
        assert!(matches!(
            idempotency_key(&headers),
            Err(AppError::BadRequest(_))
        ));
    }
}
