//! `POST /orders` (place a trade through the order leader) and `GET /orders/{number}`.
//!
//! [`body`] reads and validates the order a client sends; this module places it and reads
//! orders back.

mod body;
mod fields;

use super::stocks::not_found_as_stock;
use super::{AppState, Data};
use crate::bus::BusError;
use crate::error::AppError;
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use bazaar_nats::messages::{Order, TradeRequest};
use bazaar_nats::{IdempotencyKey, Quantity, Side, StockName};
use body::OrderJson;
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
    OrderJson(order): OrderJson,
) -> Result<Data<ReceiptView>, AppError> {
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

#[cfg(test)]
mod tests;
