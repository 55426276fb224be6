//! The store's reads: its digest and position, single orders, raw payloads for a peer, and
//! which idempotency keys were logged under which number. Each read takes one redb read
//! transaction, so it sees one committed state of the file.

use super::meta::{self, META};
use super::{
    db_err, decode_record, Digest, Logged, OrderStore, Position, StoreError, KEYS, ORDERS,
};
use bazaar_nats::messages::{Order, OrderRecord};
use redb::ReadableDatabase;

impl OrderStore {
    /// How far the store got, how many orders it holds, and their hash.
    ///
    /// # Errors
    /// [`StoreError`] on a read failure.
    pub fn digest(&self) -> Result<Digest, StoreError> {
        let db = self.current();
        let tx = db.begin_read().map_err(db_err)?;
        let meta = tx.open_table(META).map_err(db_err)?;
        Ok(meta::read(&meta)?)
    }

    /// Where the store stands in the log's terms.
    ///
    /// # Errors
    /// [`StoreError`] on a read failure.
    pub fn position(&self) -> Result<Position, StoreError> {
        let db = self.current();
        let tx = db.begin_read().map_err(db_err)?;
        let meta = tx.open_table(META).map_err(db_err)?;
        Ok(meta::read_position(&meta)?)
    }

    /// The order numbered `number`, if stored.
    ///
    /// # Errors
    /// [`StoreError`] on a read failure or a corrupt record.
    pub fn get(&self, number: u64) -> Result<Option<Order>, StoreError> {
        Ok(self.record(number)?.map(|record| Order::from(&record)))
    }

    /// The stored record numbered `number`, as logged.
    ///
    /// # Errors
    /// [`StoreError`] on a read failure or a corrupt record.
    pub fn record(&self, number: u64) -> Result<Option<OrderRecord>, StoreError> {
        let db = self.current();
        let tx = db.begin_read().map_err(db_err)?;
        let orders = tx.open_table(ORDERS).map_err(db_err)?;
        let Some(raw) = orders.get(number).map_err(db_err)? else {
            return Ok(None);
        };
        decode_record(raw.value()).map(Some)
    }

    /// The raw payloads of orders `from ..` (at most `limit`), as they were published.
    ///
    /// # Errors
    /// [`StoreError`] on a read failure.
    pub fn raw_orders(&self, from: u64, limit: usize) -> Result<Vec<bytes::Bytes>, StoreError> {
        let db = self.current();
        let tx = db.begin_read().map_err(db_err)?;
        let orders = tx.open_table(ORDERS).map_err(db_err)?;
        let mut found = Vec::new();
        for entry in orders.range(from..).map_err(db_err)?.take(limit) {
            let (_, raw) = entry.map_err(db_err)?;
            found.push(bytes::Bytes::copy_from_slice(raw.value()));
        }
        Ok(found)
    }

    /// For each key, the order it was logged under, if it was.
    ///
    /// # Errors
    /// [`StoreError`] on a read failure or a corrupt record.
    pub fn find_logged<'a>(
        &self,
        keys: impl IntoIterator<Item = &'a str>,
    ) -> Result<Vec<Option<Logged>>, StoreError> {
        let db = self.current();
        let tx = db.begin_read().map_err(db_err)?;
        let numbers = tx.open_table(KEYS).map_err(db_err)?;
        let orders = tx.open_table(ORDERS).map_err(db_err)?;
        keys.into_iter()
            .map(|key| {
                let Some(number) = numbers.get(key).map_err(db_err)?.map(|v| v.value()) else {
                    return Ok(None);
                };
                let version = match orders.get(number).map_err(db_err)? {
                    Some(raw) => decode_record(raw.value())?.version,
                    None => 0,
                };
                Ok(Some(Logged { number, version }))
            })
            .collect()
    }
}
