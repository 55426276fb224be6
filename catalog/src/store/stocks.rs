//! The `stocks` table: the seed written into a new catalog, and every stock read back into the
//! in-memory copy that answers lookups.

use super::{decode_json, encode_json, StoreError};
use crate::keys::STOCKS;
use crate::seed::SeedStock;
use crate::trade::StockState;
use bazaar_nats::messages::Stock;
use bazaar_nats::StockName;
use redb::{Database, ReadableDatabase, ReadableTable};
use std::collections::BTreeMap;

/// Every stock in the file, by name.
pub(super) fn read_all_stocks(db: &Database) -> Result<BTreeMap<StockName, Stock>, StoreError> {
    let txn = db.begin_read().map_err(StoreError::redb)?;
    let stocks = txn.open_table(STOCKS).map_err(StoreError::redb)?;
    let iter = stocks.iter().map_err(StoreError::redb)?;
    iter.map(|entry| {
        let (name, bytes) = entry.map_err(StoreError::redb)?;
        let stock = to_stock(name.value(), bytes.value())?;
        Ok((stock.name.clone(), stock))
    })
    .collect()
}

/// One `stocks` entry as the [`Stock`] the catalog serves.
fn to_stock(name: &str, bytes: &[u8]) -> Result<Stock, StoreError> {
    let state: StockState = decode_json("stocks", name, bytes)?;
    let name = StockName::parse(name).map_err(|e| StoreError::Corrupt {
        table: "stocks",
        key: name.to_string(),
        reason: e.0,
    })?;
    Ok(Stock {
        name,
        price: state.price,
        quantity: state.quantity,
        version: state.version,
    })
}

/// Writes the seed stocks, each at version 1, into a new catalog.
pub(super) fn seed_stocks(
    stocks: &mut redb::Table<&str, &[u8]>,
    seed: &[SeedStock],
) -> Result<(), StoreError> {
    for stock in seed {
        let state = StockState {
            price: stock.price,
            quantity: stock.quantity,
            version: 1,
        };
        let name = stock.name.as_str();
        let bytes = encode_json("stocks", name, &state)?;
        stocks
            .insert(name, bytes.as_slice())
            .map_err(StoreError::redb)?;
    }
    Ok(())
}
