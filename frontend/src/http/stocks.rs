//! `GET /stocks/{name}` (through the cache) and `GET /stocks` (straight from the catalog).

use super::{AppState, Data};
use crate::bus::BusError;
use crate::error::AppError;
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use axum::http::header;
use bazaar_nats::messages::Stock;
use bazaar_nats::StockName;
use serde::Serialize;
use std::sync::Arc;

/// A stock as clients see it: `{"name", "price", "quantity"}`, no version. Wraps the shared copy
/// so a cache hit is served without copying the name.
#[derive(Debug)]
pub(super) struct StockView(Arc<Stock>);

impl Serialize for StockView {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        StockShape {
            name: self.0.name.as_str(),
            price: self.0.price,
            quantity: self.0.quantity,
        }
        .serialize(serializer)
    }
}

/// What a [`StockView`] looks like on the wire, borrowed from it: its one serialisation and its
/// schema.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[schema(as = Stock)]
pub(super) struct StockShape<'a> {
    /// The stock's name.
    #[schema(schema_with = super::schema::stock_name)]
    name: &'a str,
    /// Price per share.
    #[schema(example = 15.99)]
    price: f64,
    /// Shares available to buy.
    #[schema(example = 100)]
    quantity: u64,
}

/// The message every unknown stock gets, whatever the catalog's wording.
pub(super) const STOCK_NOT_FOUND: &str = "stock not found";

/// One stock: from the cache on a hit, else from the catalog (and then cached).
///
/// The `ETag` header carries the stock's version, which grows with every change: clients (and
/// the chaos checker) can tell a newer answer from an older one even when the quantities are
/// equal.
#[utoipa::path(
    get,
    path = "/stocks/{name}",
    operation_id = "getStock",
    tag = "stocks",
    params(("name" = String, Path, description = "The stock's name",
        pattern = r"^[A-Za-z0-9._-]{1,64}$", example = "GameStart")),
    responses(
        (status = 200, description = "The stock", body = Data<StockShape<'static>>,
            headers(("ETag" = String, description = "The stock's version in double quotes,                 e.g. `\"7\"`; it grows with every change to the stock"))),
        (status = 400, response = super::openapi::BadRequest),
        (status = 404, response = super::openapi::NotFound),
        (status = 500, response = super::openapi::InternalError),
        (status = 503, response = super::openapi::Unavailable),
    )
)]
pub(super) async fn get_one(
    State(state): State<Arc<AppState>>,
    path: Result<Path<String>, PathRejection>,
) -> Result<([(header::HeaderName, String); 1], Data<StockView>), AppError> {
    let Path(raw) = path?;
    let name = StockName::parse(raw).map_err(|e| AppError::BadRequest(e.0))?;
    let stock = match state.cache.get(&name) {
        Ok(hit) => hit,
        Err(miss) => {
            let fetched = state.bus.lookup(&name).await.map_err(not_found_as_stock)?;
            if fetched.name != name {
                return Err(AppError::Internal(format!(
                    "catalog answered {} for a lookup of {name}",
                    fetched.name
                )));
            }
            state.cache.insert(miss, fetched)
        }
    };
    let etag = format!("\"{}\"", stock.version);
    Ok((
        [(header::ETAG, etag)],
        Data {
            data: StockView(stock),
        },
    ))
}

/// Every stock, in the catalog's order. Not cached, but kept monotonic with what was served.
#[utoipa::path(
    get,
    path = "/stocks",
    operation_id = "listStocks",
    tag = "stocks",
    responses(
        (status = 200, description = "Every stock", body = Data<Vec<StockShape<'static>>>),
        (status = 500, response = super::openapi::InternalError),
        (status = 503, response = super::openapi::Unavailable),
    )
)]
pub(super) async fn list(
    State(state): State<Arc<AppState>>,
) -> Result<Data<Vec<StockView>>, AppError> {
    let stocks = state.bus.list().await?;
    let views = stocks
        .into_iter()
        .map(|stock| StockView(state.cache.observe(stock)))
        .collect();
    Ok(Data { data: views })
}

/// Rewords the catalog's `not_found` to the one message clients rely on.
pub(super) fn not_found_as_stock(e: BusError) -> AppError {
    match e {
        BusError::NotFound(_) => AppError::NotFound(STOCK_NOT_FOUND.into()),
        other => other.into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stock_is_shown_without_its_version() {
        let view = StockView(Arc::new(Stock {
            name: StockName::parse("GameStart").unwrap(),
            price: 15.99,
            quantity: 100,
            version: 7,
        }));
        assert_eq!(
            serde_json::to_string(&view).unwrap(),
            r#"{"name":"GameStart","price":15.99,"quantity":100}"#
        );
    }
}
