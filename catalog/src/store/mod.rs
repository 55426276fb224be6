//! The catalog's redb file: stocks, the answer given to every idempotency key, and the applied
//! trades the order log has not confirmed yet.
//!
//! Tables (values are JSON; `keys` defines them and keeps the per-key ones in step):
//! - `stocks`: name -> [`StockState`](crate::trade::StockState) (price, quantity, version).
//! - `applied`: idempotency key -> [`AppliedRecord`] (the trade and the answer it got).
//! - `applied_at`: (applied-at in ms since the epoch, key) -> nothing, the same keys as
//!   `applied` in time order, so expired records are found without a scan.
//! - `unlogged`: idempotency key -> applied-at (ms since the epoch), only for applied trades no
//!   `ConfirmLogged` has covered yet.
//!
//! redb blocks, so every call runs in `spawn_blocking`, inside the caller's span. Only the
//! writer task calls [`Store::write_batch`]. Stock lookups and lists are answered from an
//! in-memory copy of `stocks` that each commit updates once durable (they are the hot read
//! path); the other reads use their own read transactions. Neither ever waits for the writer.
//!
//! `batch` holds the writer's batch transaction, `stocks` the `stocks` table's seeding and
//! loading, `error` the [`StoreError`] every call returns.

mod batch;
mod error;
mod stocks;

pub use batch::{BatchOutcome, OpAnswer, WriteOp};
pub use error::StoreError;
pub(crate) use error::{decode_json, encode_json};

use crate::keys::{Tables, APPLIED, UNLOGGED};
use crate::seed::SeedStock;
use crate::trade::AppliedRecord;
use bazaar_nats::messages::{Stock, UnloggedTrade};
use bazaar_nats::{IdempotencyKey, StockName};
use redb::{Database, ReadableDatabase, ReadableTable, ReadableTableMetadata};
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::{Arc, RwLock};
use stocks::{read_all_stocks, seed_stocks};
use tracing::{info, warn};

/// redb's page cache, in bytes. redb's default is sized for large databases and grows with the
/// `applied` table (one record per trade ever made) up to whatever was touched; the catalog's
/// hot pages are few, so a small cache keeps idle memory small.
const CACHE_BYTES: usize = 4 * 1024 * 1024;

/// Name of the database file inside the data directory.
pub const DB_FILE: &str = "catalog.redb";

/// The catalog's database. Cheap to clone; the file closes when the last clone is dropped.
#[derive(Clone)]
pub struct Store {
    db: Arc<Database>,
    /// Every stock as last committed, for lookups and lists: they are the hot read path, and
    /// answering them from memory spares each a blocking-pool round trip and a read
    /// transaction. Loaded at open; replaced entry by entry right after each commit, before the
    /// writer answers or announces anything, so it never shows a change that is not durable and
    /// never lags one that was announced.
    stocks: Arc<RwLock<BTreeMap<StockName, Stock>>>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store").finish_non_exhaustive()
    }
}

/// Runs a blocking redb call on the blocking pool, inside the current span.
async fn blocking<T, F>(f: F) -> Result<T, StoreError>
where
    T: Send + 'static,
    F: FnOnce() -> Result<T, StoreError> + Send + 'static,
{
    bazaar_nats::blocking::run(f).await?
}

impl Store {
    /// Opens (or creates) `<data_dir>/catalog.redb` and, when it holds no stocks yet, seeds it
    /// with `seed` at version 1.
    ///
    /// # Errors
    /// [`StoreError`] when the directory or file cannot be created or opened (e.g. another
    /// process holds it).
    pub async fn open(data_dir: &Path, seed: Vec<SeedStock>) -> Result<Self, StoreError> {
        let data_dir = data_dir.to_path_buf();
        blocking(move || {
            std::fs::create_dir_all(&data_dir).map_err(|source| StoreError::DataDir {
                path: data_dir.clone(),
                source,
            })?;
            let path = data_dir.join(DB_FILE);
            let db = redb::Builder::new()
                .set_cache_size(CACHE_BYTES)
                .create(&path)
                .map_err(StoreError::redb)?;
            let txn = db.begin_write().map_err(StoreError::redb)?;
            {
                let mut tables = Tables::open(&txn)?;
                tables.ensure_index()?;
                if tables.stocks.is_empty().map_err(StoreError::redb)? {
                    seed_stocks(&mut tables.stocks, &seed)?;
                    info!(path = %path.display(), stocks = seed.len(), "seeded a new catalog");
                } else {
                    info!(path = %path.display(), "opened an existing catalog");
                }
            }
            txn.commit().map_err(StoreError::redb)?;
            let stocks = read_all_stocks(&db)?;
            Ok(Self {
                db: Arc::new(db),
                stocks: Arc::new(RwLock::new(stocks)),
            })
        })
        .await
    }

    /// How many stocks the catalog holds.
    ///
    /// # Errors
    /// Never: the stocks are in memory; the `Result` keeps the shape of every other store call.
    pub async fn stock_count(&self) -> Result<u64, StoreError> {
        Ok(self.snapshot().len() as u64)
    }

    /// One stock, or `None` when the catalog does not hold it.
    ///
    /// # Errors
    /// Never: the stocks are in memory; the `Result` keeps the shape of every other store call.
    pub async fn get(&self, name: StockName) -> Result<Option<Stock>, StoreError> {
        Ok(self.snapshot().get(&name).cloned())
    }

    /// Every stock, sorted by name.
    ///
    /// # Errors
    /// Never: the stocks are in memory; the `Result` keeps the shape of every other store call.
    pub async fn list(&self) -> Result<Vec<Stock>, StoreError> {
        Ok(self.snapshot().values().cloned().collect())
    }

    fn snapshot(&self) -> std::sync::RwLockReadGuard<'_, BTreeMap<StockName, Stock>> {
        // Writers replace whole entries, so a poisoned lock still holds consistent stocks.
        self.stocks
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Applied trades no `ConfirmLogged` has covered, applied at or before
    /// `now_ms - min_age_ms`, oldest first (ties by key), at most `limit`.
    ///
    /// # Errors
    /// [`StoreError`] when redb fails or an entry is corrupt.
    pub async fn pending(
        &self,
        min_age_ms: u64,
        limit: u32,
        now_ms: u64,
    ) -> Result<Vec<UnloggedTrade>, StoreError> {
        let db = self.db.clone();
        blocking(move || {
            let cutoff = now_ms.saturating_sub(min_age_ms);
            let txn = db.begin_read().map_err(StoreError::redb)?;
            let unlogged = txn.open_table(UNLOGGED).map_err(StoreError::redb)?;
            let applied = txn.open_table(APPLIED).map_err(StoreError::redb)?;
            // NOTE: a full scan; `unlogged` stays small because the order leader confirms keys
            // as soon as they are in its log.
            let mut due = Vec::new();
            for entry in unlogged.iter().map_err(StoreError::redb)? {
                let (key, at) = entry.map_err(StoreError::redb)?;
                if at.value() <= cutoff {
                    due.push((at.value(), key.value().to_string()));
                }
            }
            due.sort_unstable();
            due.truncate(limit as usize);
            let mut trades = Vec::with_capacity(due.len());
            for (_, key) in due {
                let Some(bytes) = applied.get(key.as_str()).map_err(StoreError::redb)? else {
                    warn!(key = %key, "unlogged key has no applied record; skipped");
                    continue;
                };
                let record: AppliedRecord = decode_json("applied", &key, bytes.value())?;
                let key = IdempotencyKey::parse(key.as_str()).map_err(|e| StoreError::Corrupt {
                    table: "unlogged",
                    key: key.clone(),
                    reason: e.0,
                })?;
                match record.unlogged(key) {
                    Some(trade) => trades.push(trade),
                    None => {
                        warn!(key = %record.name, "unlogged key holds a refused trade; skipped")
                    }
                }
            }
            Ok(trades)
        })
        .await
    }
}
