//! The replica's own copy of the order log, in redb.
//!
//! Every replica, the leader included, materialises the JetStream order log here, in stream
//! order, and answers order queries from it. Three tables: `orders` (number -> record),
//! `keys` (idempotency key -> number, so a retried trade finds its number) and `meta` (the last
//! stream sequence applied, how many orders are stored and the chained hash over them). A batch
//! lands in one write transaction together with the new sequence, so a crash leaves a prefix of
//! the log, never a hole.
//!
//! The store is a projection of the synced log, so most commits are lazy ([`Commit::Lazy`]:
//! visible to this process at once, on disk only with the next durable commit); the log
//! follower makes a durable commit every so often and on shutdown, and after a crash the
//! replica resumes from its last durable point and replays the rest from the log.
//!
//! Nothing is ever deleted to heal: a store that no longer mirrors the log is moved aside
//! ([`OrderStore::set_aside`]) and an empty one takes its place.
//!
//! Every method blocks on disk: call them from `spawn_blocking`.

mod entry;
mod meta;

pub use entry::{EntryKind, LogEntry};
pub use meta::{Digest, DigestError, Position};

use bazaar_nats::messages::{Order, OrderRecord};
use meta::META;
use redb::{Database, Durability, ReadableDatabase, TableDefinition};
use std::path::{Path, PathBuf};
use std::sync::{Arc, PoisonError, RwLock};

const ORDERS: TableDefinition<u64, &[u8]> = TableDefinition::new("orders");
const KEYS: TableDefinition<&str, u64> = TableDefinition::new("keys");
/// redb's page cache. Order queries read one leaf per lookup and the OS page cache serves what
/// this cache misses, so a few MiB keep lookups fast while a replica that replayed a long
/// history stays small (docs/PERFORMANCE.md).
const CACHE_BYTES: usize = 4 * 1024 * 1024;

/// Why a store operation failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// redb failed (disk, corruption, ...).
    #[error("order store: {0}")]
    Db(#[from] redb::Error),
    /// The file could not be moved aside or its directory made.
    #[error("order store file {path}: {source}")]
    File {
        /// The file or directory.
        path: PathBuf,
        /// The IO error.
        source: std::io::Error,
    },
    /// A stored record or the digest could not be decoded.
    #[error("order store holds a corrupt record: {0}")]
    Corrupt(String),
    /// A message was offered out of order (a bug in the caller: the log is applied in order).
    #[error("stream sequence {got} offered while {expected} was expected next")]
    OutOfOrder {
        /// The next sequence the store expected.
        expected: u64,
        /// The sequence offered.
        got: u64,
    },
}

impl From<DigestError> for StoreError {
    fn from(e: DigestError) -> Self {
        match e {
            DigestError::Db(e) => Self::Db(e.into()),
            DigestError::Corrupt(_) => Self::Corrupt(e.to_string()),
        }
    }
}

fn db_err(e: impl Into<redb::Error>) -> StoreError {
    StoreError::Db(e.into())
}

/// How a commit reaches the disk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Commit {
    /// On disk when the commit returns (and with redb's allocator state, so the file reopens
    /// in milliseconds after a crash).
    Durable,
    /// Visible at once; on disk with the next durable commit. A crash before then loses it,
    /// and the replica replays it from the log.
    Lazy,
}

/// A key found in the store: the order it was logged under.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Logged {
    /// The transaction number.
    pub number: u64,
    /// The stock version the order recorded (0 for records that predate it).
    pub version: u64,
}

/// What a batch append did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Appended {
    /// The store's state after it.
    pub digest: Digest,
    /// Where it stands in the log's terms after it.
    pub position: Position,
    /// Messages that were skipped, with the reason: `(sequence, reason)`.
    pub skipped: Vec<(u64, String)>,
    /// How many term markers of the batch started a term.
    pub terms: u64,
}

/// A handle to the replica's redb file; cheap to clone. Every clone sees the same file, also
/// after [`Self::set_aside`] replaced it.
#[derive(Clone, Debug)]
pub struct OrderStore {
    db: Arc<RwLock<Arc<Database>>>,
    path: Arc<PathBuf>,
}

impl OrderStore {
    /// Opens (or creates) the store at `path`, creating its directory.
    ///
    /// # Errors
    /// [`StoreError`] when the directory or file cannot be created or opened.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(|source| StoreError::File {
                path: dir.to_path_buf(),
                source,
            })?;
        }
        Ok(Self {
            db: Arc::new(RwLock::new(Arc::new(create(path)?))),
            path: Arc::new(path.to_path_buf()),
        })
    }

    /// The file this store lives in.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn current(&self) -> Arc<Database> {
        self.db
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

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

    /// Applies stream messages in one transaction committed as `commit` says. Messages the
    /// store already applied (sequence not above its own) are skipped, so replaying is
    /// harmless. Of the rest, only an order of the current term carrying the next number, and
    /// a marker that starts a term at the current count, change the history; anything else
    /// (not valid JSON, out of step, of another term) is skipped and reported, and numbering
    /// goes on from the last valid order. The same log thus gives every replica the same
    /// history, whatever was published on the order subjects.
    ///
    /// # Errors
    /// [`StoreError::OutOfOrder`] when a message would leave a gap in the sequence;
    /// [`StoreError`] on a write failure (then nothing of the batch is stored).
    pub fn append(&self, entries: &[LogEntry], commit: Commit) -> Result<Appended, StoreError> {
        let db = self.current();
        let tx = begin_write(&db, commit)?;
        let appended = {
            let mut orders = tx.open_table(ORDERS).map_err(db_err)?;
            let mut keys = tx.open_table(KEYS).map_err(db_err)?;
            let mut meta = tx.open_table(META).map_err(db_err)?;
            let mut appended = Appended {
                digest: meta::read(&meta)?,
                position: meta::read_position(&meta)?,
                skipped: Vec::new(),
                terms: 0,
            };
            for entry in entries {
                if entry.sequence <= appended.digest.sequence {
                    continue;
                }
                apply(entry, &mut appended, &mut orders, &mut keys)?;
            }
            meta::write(&mut meta, &appended.digest).map_err(db_err)?;
            meta::write_position(&mut meta, &appended.position).map_err(db_err)?;
            appended
        };
        tx.commit().map_err(db_err)?;
        Ok(appended)
    }

    /// Makes every lazy commit so far durable.
    ///
    /// # Errors
    /// [`StoreError`] on a write failure.
    pub fn flush(&self) -> Result<(), StoreError> {
        let db = self.current();
        begin_write(&db, Commit::Durable)?.commit().map_err(db_err)
    }

    /// Moves the store's file aside to `<file>.<reason>-<UTC time>` (after making it durable)
    /// and puts an empty store in its place, so the log can be replayed into it while the old
    /// history is kept. Returns where the old file went.
    ///
    /// # Errors
    /// [`StoreError`] when the file cannot be flushed, moved or re-created; the store is then
    /// unchanged (or, if only the re-creation failed, the old file is back in place).
    pub fn set_aside(&self, reason: &str) -> Result<PathBuf, StoreError> {
        let mut slot = self.db.write().unwrap_or_else(PoisonError::into_inner);
        begin_write(&slot, Commit::Durable)?
            .commit()
            .map_err(db_err)?;
        let aside = aside_path(&self.path, reason);
        std::fs::rename(self.path.as_path(), &aside).map_err(|source| StoreError::File {
            path: aside.clone(),
            source,
        })?;
        match create(&self.path) {
            Ok(fresh) => {
                *slot = Arc::new(fresh);
                Ok(aside)
            }
            Err(e) => {
                // Keep serving the old history rather than none.
                let _ = std::fs::rename(&aside, self.path.as_path());
                Err(e)
            }
        }
    }
}

/// Creates or opens the redb file with the store's tables.
fn create(path: &Path) -> Result<Database, StoreError> {
    let db = redb::Builder::new()
        .set_cache_size(CACHE_BYTES)
        .create(path)
        .map_err(db_err)?;
    let tx = begin_write(&db, Commit::Durable)?;
    {
        tx.open_table(ORDERS).map_err(db_err)?;
        tx.open_table(KEYS).map_err(db_err)?;
        tx.open_table(META).map_err(db_err)?;
    }
    tx.commit().map_err(db_err)?;
    Ok(db)
}

/// A write transaction committed as `commit` says. A durable one records redb's allocator
/// state with it ("quick repair"), so reopening the file after a crash takes milliseconds
/// instead of a walk over the whole history.
fn begin_write(db: &Database, commit: Commit) -> Result<redb::WriteTransaction, StoreError> {
    let mut tx = db.begin_write().map_err(db_err)?;
    match commit {
        Commit::Durable => tx.set_quick_repair(true),
        Commit::Lazy => tx
            .set_durability(Durability::None)
            .map_err(|e| StoreError::Corrupt(format!("cannot make a lazy commit: {e}")))?,
    }
    Ok(tx)
}

/// Applies one message that continues the stream, or records why it is skipped.
fn apply(
    entry: &LogEntry,
    appended: &mut Appended,
    orders: &mut redb::Table<u64, &[u8]>,
    keys: &mut redb::Table<&str, u64>,
) -> Result<(), StoreError> {
    let digest = &mut appended.digest;
    if entry.sequence != digest.sequence + 1 {
        return Err(StoreError::OutOfOrder {
            expected: digest.sequence + 1,
            got: entry.sequence,
        });
    }
    match judge(entry, digest.count, appended.position.epoch) {
        Ok(Verdict::Order(record)) => {
            orders
                .insert(record.number, entry.raw.as_ref())
                .map_err(db_err)?;
            keys.insert(record.key.as_str(), record.number)
                .map_err(db_err)?;
            digest.chain(&entry.raw);
        }
        Ok(Verdict::Term(epoch)) => {
            appended.position.epoch = Some(epoch);
            appended.terms += 1;
        }
        Err(reason) => appended.skipped.push((entry.sequence, reason)),
    }
    digest.sequence = entry.sequence;
    appended.position.last_id.clone_from(&entry.message_id);
    Ok(())
}

/// What a message that continues the log does.
enum Verdict<'a> {
    /// Stores this order.
    Order(&'a OrderRecord),
    /// Starts the term with this epoch.
    Term(u64),
}

/// Whether `entry` continues a log holding `count` orders whose current term is `epoch`, or
/// why it is skipped.
fn judge(entry: &LogEntry, count: u64, epoch: Option<u64>) -> Result<Verdict<'_>, String> {
    match &entry.kind {
        EntryKind::Order { record, .. } if record.number != count => Err(format!(
            "order claims number {} where {count} is next: out of step",
            record.number
        )),
        EntryKind::Order {
            record,
            epoch: claimed,
        } => match epoch {
            Some(current) if *claimed != Some(current) => Err(format!(
                "order {} claims term {claimed:?}, not the current term {current}",
                record.number
            )),
            _ => Ok(Verdict::Order(record)),
        },
        EntryKind::Term(marker) if marker.next_number != count => Err(format!(
            "term marker of epoch {} claims next number {} where {count} is next: out of step",
            marker.epoch, marker.next_number
        )),
        EntryKind::Term(marker) => Ok(Verdict::Term(marker.epoch)),
        EntryKind::Void(reason) => Err(reason.clone()),
    }
}

fn decode_record(raw: &[u8]) -> Result<OrderRecord, StoreError> {
    serde_json::from_slice(raw).map_err(|e| StoreError::Corrupt(e.to_string()))
}

/// `<file>.<reason>-<UTC time>`, e.g. `order-1.redb.ahead-20261201T221503Z`.
fn aside_path(path: &Path, reason: &str) -> PathBuf {
    let stamp = humantime::format_rfc3339_seconds(std::time::SystemTime::now())
        .to_string()
        .replace(['-', ':'], "");
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(format!(".{reason}-{stamp}"));
    path.with_file_name(name)
}

#[cfg(test)]
mod tests;
