//! What the catalog remembers per idempotency key, inside one write transaction: the `applied`
//! record, its entry in the `applied_at` index, and the `unlogged` mark.
//!
//! A key names one order (stock, side, quantity). Its first use is applied (or refused) and
//! recorded; a later use for the same order gets the first answer again, a use for another order
//! gets `key_reused` and changes nothing. Records expire after the retention: the `applied_at`
//! index, ordered by time, lets a prune find the oldest without scanning `applied`, and a key
//! still `unlogged` is never pruned, because the order leader's roll-forward needs its record.
//! Every function here writes `applied` and `applied_at` together, so they always hold the same
//! keys.

use crate::store::{decode_json, encode_json, StoreError};
use crate::trade::{apply_trade, AppliedRecord, Outcome, StockState, TradeAnswer};
use bazaar_nats::messages::TradeRequest;
use bazaar_nats::{IdempotencyKey, StockName};
use redb::{ReadableTable, ReadableTableMetadata, TableDefinition, WriteTransaction};
use std::collections::BTreeMap;
use tracing::{debug, info};

/// name -> [`StockState`] as JSON.
pub(crate) const STOCKS: TableDefinition<&str, &[u8]> = TableDefinition::new("stocks");
/// idempotency key -> [`AppliedRecord`] as JSON.
pub(crate) const APPLIED: TableDefinition<&str, &[u8]> = TableDefinition::new("applied");
/// (applied-at in ms since the epoch, idempotency key) -> nothing: `applied` in time order.
pub(crate) const APPLIED_AT: TableDefinition<(u64, &str), ()> = TableDefinition::new("applied_at");
/// idempotency key -> applied-at, for applied trades the order log has not confirmed yet.
pub(crate) const UNLOGGED: TableDefinition<&str, u64> = TableDefinition::new("unlogged");

/// The tables one write transaction works on.
pub(crate) struct Tables<'txn> {
    pub(crate) stocks: redb::Table<'txn, &'static str, &'static [u8]>,
    applied: redb::Table<'txn, &'static str, &'static [u8]>,
    applied_at: redb::Table<'txn, (u64, &'static str), ()>,
    unlogged: redb::Table<'txn, &'static str, u64>,
}

/// What a prune did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Pruned {
    /// Expired records looked at (at most the prune's limit).
    pub examined: usize,
    /// Records removed: the examined ones whose key was not unlogged.
    pub removed: usize,
}

impl<'txn> Tables<'txn> {
    /// Opens (creating if missing) every table in `txn`.
    pub(crate) fn open(txn: &'txn WriteTransaction) -> Result<Self, StoreError> {
        Ok(Self {
            stocks: txn.open_table(STOCKS).map_err(StoreError::redb)?,
            applied: txn.open_table(APPLIED).map_err(StoreError::redb)?,
            applied_at: txn.open_table(APPLIED_AT).map_err(StoreError::redb)?,
            unlogged: txn.open_table(UNLOGGED).map_err(StoreError::redb)?,
        })
    }

    /// Rebuilds the `applied_at` index from `applied` when the two do not hold the same number
    /// of keys, as in a file written before the index existed. Returns the records indexed, 0
    /// when the index was in step.
    pub(crate) fn ensure_index(&mut self) -> Result<u64, StoreError> {
        let records = self.applied.len().map_err(StoreError::redb)?;
        if self.applied_at.len().map_err(StoreError::redb)? == records {
            return Ok(0);
        }
        self.applied_at
            .retain(|_, ()| false)
            .map_err(StoreError::redb)?;
        for entry in self.applied.iter().map_err(StoreError::redb)? {
            let (key, bytes) = entry.map_err(StoreError::redb)?;
            let record: AppliedRecord = decode_json("applied", key.value(), bytes.value())?;
            self.applied_at
                .insert((record.applied_at_unix_ms, key.value()), ())
                .map_err(StoreError::redb)?;
        }
        info!(
            records,
            "built the applied-at index of the idempotency records"
        );
        Ok(records)
    }

    /// One trade: replays the key's first answer, refuses a reuse for another order, or applies
    /// (or refuses) a new one and records it. A refusal under a minted key is not recorded.
    /// `changed` collects each stock's state after the trades of the batch so far.
    pub(crate) fn trade_once(
        &mut self,
        request: &TradeRequest,
        now_ms: u64,
        changed: &mut BTreeMap<StockName, StockState>,
    ) -> Result<TradeAnswer, StoreError> {
        let key = request.key.as_str();
        if let Some(bytes) = self.applied.get(key).map_err(StoreError::redb)? {
            let first: AppliedRecord = decode_json("applied", key, bytes.value())?;
            if first.matches(request) {
                debug!(key, "trade already seen; replaying its answer");
                return Ok(TradeAnswer::Replayed(first));
            }
            debug!(key, first = ?first, "idempotency key reused for another order; refused");
            return Ok(TradeAnswer::KeyReused {
                key: request.key.clone(),
                first,
            });
        }
        let name = request.name.as_str();
        let current = self
            .stocks
            .get(name)
            .map_err(StoreError::redb)?
            .map(|bytes| decode_json::<StockState>("stocks", name, bytes.value()))
            .transpose()?;
        let outcome = match apply_trade(&request.name, current, request.side, request.quantity) {
            Ok(after) => {
                let bytes = encode_json("stocks", name, &after)?;
                self.stocks
                    .insert(name, bytes.as_slice())
                    .map_err(StoreError::redb)?;
                self.unlogged
                    .insert(key, now_ms)
                    .map_err(StoreError::redb)?;
                changed.insert(request.name.clone(), after);
                Outcome::Applied {
                    quantity_after: after.quantity,
                    version: after.version,
                }
            }
            Err(refusal) => Outcome::from(refusal),
        };
        let record = AppliedRecord {
            name: request.name.clone(),
            side: request.side,
            quantity: request.quantity,
            outcome,
            applied_at_unix_ms: now_ms,
        };
        if request.minted && !matches!(record.outcome, Outcome::Applied { .. }) {
            return Ok(TradeAnswer::Unrecorded(record));
        }
        self.insert_record(key, &record)?;
        Ok(TradeAnswer::Recorded(record))
    }

    fn insert_record(&mut self, key: &str, record: &AppliedRecord) -> Result<(), StoreError> {
        let bytes = encode_json("applied", key, record)?;
        self.applied
            .insert(key, bytes.as_slice())
            .map_err(StoreError::redb)?;
        self.applied_at
            .insert((record.applied_at_unix_ms, key), ())
            .map_err(StoreError::redb)?;
        Ok(())
    }

    /// Forgets `keys` from the unlogged set; returns how many were in it.
    pub(crate) fn confirm(&mut self, keys: &[IdempotencyKey]) -> Result<usize, StoreError> {
        let mut forgotten = 0;
        for key in keys {
            if self
                .unlogged
                .remove(key.as_str())
                .map_err(StoreError::redb)?
                .is_some()
            {
                forgotten += 1;
            }
        }
        Ok(forgotten)
    }

    /// Removes the records of up to `limit` of the oldest keys applied before `before_ms`,
    /// except those still unlogged.
    ///
    /// NOTE: unlogged keys stay at the head of the index, and each prune looks at them again:
    /// more than `limit` of them older than the retention (the order log unreachable for that
    /// long) stall pruning until the roll-forward has logged them.
    pub(crate) fn prune(&mut self, before_ms: u64, limit: usize) -> Result<Pruned, StoreError> {
        let mut expired: Vec<(u64, String)> = Vec::new();
        for entry in self
            .applied_at
            .range::<(u64, &str)>(..(before_ms, ""))
            .map_err(StoreError::redb)?
            .take(limit)
        {
            let (at_and_key, _) = entry.map_err(StoreError::redb)?;
            let (at, key) = at_and_key.value();
            expired.push((at, key.to_string()));
        }
        let mut pruned = Pruned {
            examined: expired.len(),
            removed: 0,
        };
        for (at, key) in &expired {
            if self
                .unlogged
                .get(key.as_str())
                .map_err(StoreError::redb)?
                .is_some()
            {
                continue;
            }
            self.applied
                .remove(key.as_str())
                .map_err(StoreError::redb)?;
            self.applied_at
                .remove((*at, key.as_str()))
                .map_err(StoreError::redb)?;
            pruned.removed += 1;
        }
        Ok(pruned)
    }
}
