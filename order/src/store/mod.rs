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

mod append;
mod entry;
mod file;
mod meta;
mod reads;

pub use entry::{EntryKind, LogEntry};
pub use meta::{Digest, DigestError, Position};

use bazaar_nats::messages::OrderRecord;
use redb::{Database, TableDefinition};
use std::path::{Path, PathBuf};
use std::sync::{Arc, PoisonError, RwLock};

/// Order number -> the order's payload as it was published.
const ORDERS: TableDefinition<u64, &[u8]> = TableDefinition::new("orders");
/// Idempotency key -> the number its order was logged under.
const KEYS: TableDefinition<&str, u64> = TableDefinition::new("keys");

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
    /// The stock version the order recorded (0 for a record that carries none).
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
            db: Arc::new(RwLock::new(Arc::new(file::create(path)?))),
            path: Arc::new(path.to_path_buf()),
        })
    }

    /// The file this store lives in.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The database as it is now; [`Self::set_aside`] swaps it, so every operation takes it
    /// afresh instead of keeping one.
    fn current(&self) -> Arc<Database> {
        self.db
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}

/// Decodes a stored order record.
fn decode_record(raw: &[u8]) -> Result<OrderRecord, StoreError> {
    serde_json::from_slice(raw).map_err(|e| StoreError::Corrupt(e.to_string()))
}

#[cfg(test)]
mod tests;
