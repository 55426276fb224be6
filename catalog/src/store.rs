//! The catalog's redb file: stocks, the answer given to every idempotency key, and the applied
//! trades the order log has not confirmed yet.
//!
//! Tables (values are JSON; `keys` defines them and keeps the per-key ones in step):
//! - `stocks`: name -> [`StockState`] (price, quantity, version).
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

use crate::keys::{Pruned, Tables, APPLIED, STOCKS, UNLOGGED};
use crate::seed::SeedStock;
use crate::trade::{AppliedRecord, StockState, TradeAnswer};
use bazaar_nats::messages::{Stock, TradeRequest, UnloggedTrade};
use bazaar_nats::{IdempotencyKey, StockName};
use redb::{Database, ReadableDatabase, ReadableTable, ReadableTableMetadata};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use tracing::{info, warn};

/// redb's page cache. Its default (1 GiB) grows with the `applied` table (one record per trade
/// ever made) up to whatever was touched; lookups read a handful of hot pages, so a few MiB
/// suffice and idle memory stays small (docs/PERFORMANCE.md).
const CACHE_BYTES: usize = 4 * 1024 * 1024;

/// Name of the database file inside the data directory.
pub const DB_FILE: &str = "catalog.redb";

/// A store failure. Every variant means the request could not be served; none is the caller's
/// fault.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The data directory could not be created.
    #[error("cannot create the data directory {path}: {source}")]
    DataDir {
        /// The directory.
        path: PathBuf,
        /// The IO error.
        source: std::io::Error,
    },
    /// redb failed (IO, corruption, a commit that did not happen).
    #[error("redb: {0}")]
    Redb(#[from] redb::Error),
    /// A stored value is not what this version of the catalog wrote.
    #[error("corrupt {table} entry {key:?}: {reason}")]
    Corrupt {
        /// The table.
        table: &'static str,
        /// The entry's key.
        key: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The blocking task running the redb call panicked or was cancelled.
    #[error("store task failed: {0}")]
    Task(#[from] tokio::task::JoinError),
}

impl StoreError {
    pub(crate) fn redb(e: impl Into<redb::Error>) -> Self {
        Self::Redb(e.into())
    }
}

/// One write for [`Store::write_batch`], processed in order within one transaction.
#[derive(Debug, Clone)]
pub enum WriteOp {
    /// Apply a trade at most once per key.
    Trade(TradeRequest),
    /// These keys are in the order log: stop reporting them as pending.
    Confirm(Vec<IdempotencyKey>),
    /// Forget the records of up to `limit` keys applied before `before_ms` (ms since the
    /// epoch), oldest first, except keys still unlogged.
    Prune {
        /// Records applied at or after this instant are kept.
        before_ms: u64,
        /// Most records looked at.
        limit: usize,
    },
}

/// What one [`WriteOp`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OpAnswer {
    /// A trade's answer.
    Trade(TradeAnswer),
    /// A confirm: how many of its keys were still unlogged.
    Confirmed(usize),
    /// A prune.
    Pruned(Pruned),
}

impl OpAnswer {
    /// Whether the operation changed the file.
    fn wrote(&self) -> bool {
        match self {
            Self::Trade(answer) => matches!(answer, TradeAnswer::Recorded(_)),
            Self::Confirmed(forgotten) => *forgotten > 0,
            Self::Pruned(pruned) => pruned.removed > 0,
        }
    }
}

/// What a batch did.
#[derive(Debug, Default)]
pub struct BatchOutcome {
    /// One entry per [`WriteOp`], in order.
    pub answers: Vec<OpAnswer>,
    /// Each stock the batch changed, with its latest version.
    pub changed: BTreeMap<StockName, u64>,
    /// Whether the batch was committed; a batch that changed nothing is not.
    pub committed: bool,
}

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

pub(crate) fn decode_json<T: serde::de::DeserializeOwned>(
    table: &'static str,
    key: &str,
    bytes: &[u8],
) -> Result<T, StoreError> {
    serde_json::from_slice(bytes).map_err(|e| StoreError::Corrupt {
        table,
        key: key.to_string(),
        reason: e.to_string(),
    })
}

pub(crate) fn encode_json<T: serde::Serialize>(
    table: &'static str,
    key: &str,
    value: &T,
) -> Result<Vec<u8>, StoreError> {
    serde_json::to_vec(value).map_err(|e| StoreError::Corrupt {
        table,
        key: key.to_string(),
        reason: e.to_string(),
    })
}

/// Every stock in the file, by name.
fn read_all_stocks(db: &Database) -> Result<BTreeMap<StockName, Stock>, StoreError> {
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
    /// Never, today (the stocks are in memory); kept for callers written against redb.
    pub async fn stock_count(&self) -> Result<u64, StoreError> {
        Ok(self.snapshot().len() as u64)
    }

    /// One stock, or `None` when the catalog does not hold it.
    ///
    /// # Errors
    /// Never, today (the stocks are in memory); kept for callers written against redb.
    pub async fn get(&self, name: StockName) -> Result<Option<Stock>, StoreError> {
        Ok(self.snapshot().get(&name).cloned())
    }

    /// Every stock, sorted by name.
    ///
    /// # Errors
    /// Never, today (the stocks are in memory); kept for callers written against redb.
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

    /// Processes `ops` in order in ONE write transaction and commits it durably: a trade whose
    /// key is known gets its stored answer again (or `key_reused`, for another order); a new one
    /// is applied (or refused) and recorded under its key, and remembered as unlogged when
    /// applied; a confirm forgets its keys from the unlogged set; a prune forgets expired
    /// records. Nothing is applied unless the whole batch commits, and a batch that changed
    /// nothing (replays, reuses, refusals under minted keys) is not committed at all.
    ///
    /// # Errors
    /// [`StoreError`] when redb fails; the transaction is then dropped and nothing changed.
    pub async fn write_batch(
        &self,
        ops: Vec<WriteOp>,
        now_ms: u64,
    ) -> Result<BatchOutcome, StoreError> {
        let db = self.db.clone();
        let snapshot = self.stocks.clone();
        blocking(move || {
            let txn = db.begin_write().map_err(StoreError::redb)?;
            let mut outcome = BatchOutcome::default();
            let mut after: BTreeMap<StockName, StockState> = BTreeMap::new();
            {
                let mut tables = Tables::open(&txn)?;
                for op in &ops {
                    let answer = match op {
                        WriteOp::Trade(request) => {
                            OpAnswer::Trade(tables.trade_once(request, now_ms, &mut after)?)
                        }
                        WriteOp::Confirm(keys) => OpAnswer::Confirmed(tables.confirm(keys)?),
                        WriteOp::Prune { before_ms, limit } => {
                            OpAnswer::Pruned(tables.prune(*before_ms, *limit)?)
                        }
                    };
                    outcome.answers.push(answer);
                }
            }
            outcome.committed = outcome.answers.iter().any(OpAnswer::wrote);
            if !outcome.committed {
                txn.abort().map_err(StoreError::redb)?;
                return Ok(outcome);
            }
            txn.commit().map_err(StoreError::redb)?;
            let mut stocks = snapshot
                .write()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            for (name, state) in after {
                outcome.changed.insert(name.clone(), state.version);
                stocks.insert(
                    name.clone(),
                    Stock {
                        name,
                        price: state.price,
                        quantity: state.quantity,
                        version: state.version,
                    },
                );
            }
            Ok(outcome)
        })
        .await
    }
}

/// Writes the seed stocks, each at version 1, into a new catalog.
fn seed_stocks(
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
