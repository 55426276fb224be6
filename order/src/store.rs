//! The replica's own copy of the order log, in redb.
//!
//! Every replica, the leader included, materialises the JetStream order log here, in stream
//! order, and answers order queries from it. Three tables: `orders` (number -> record),
//! `keys` (idempotency key -> number, so a retried trade finds its number) and `meta` (how many
//! orders are stored and the chained hash over them). A batch of records lands in one write
//! transaction together with the new count, so a crash leaves a prefix of the log, never a hole.
//!
//! Every method blocks on disk: call them from `spawn_blocking`.

use bazaar_nats::messages::{Order, OrderRecord};
use redb::{Database, ReadableDatabase, ReadableTable, TableDefinition};
use std::path::Path;
use std::sync::Arc;

const ORDERS: TableDefinition<u64, &[u8]> = TableDefinition::new("orders");
const KEYS: TableDefinition<&str, u64> = TableDefinition::new("keys");
const META: TableDefinition<&str, &[u8]> = TableDefinition::new("meta");
const META_COUNT: &str = "count";
const META_HASH: &str = "hash";

/// Why a store operation failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// redb failed (disk, corruption, ...).
    #[error("order store: {0}")]
    Db(#[from] redb::Error),
    /// A stored record could not be decoded.
    #[error("order store holds a corrupt record: {0}")]
    Corrupt(String),
    /// A record was offered out of order (a bug in the caller: the log is applied in order).
    #[error("order {got} offered while {expected} was expected next")]
    OutOfOrder {
        /// The next number the store expected.
        expected: u64,
        /// The number offered.
        got: u64,
    },
}

fn db_err(e: impl Into<redb::Error>) -> StoreError {
    StoreError::Db(e.into())
}

/// How many orders a replica holds and a hash over all of them: equal histories, equal digests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Digest {
    /// Orders `0 .. count` are stored.
    pub count: u64,
    /// FNV-1a, chained over every record in number order.
    pub hash: u64,
}

/// One message of the order log as the store takes it.
#[derive(Debug, Clone)]
pub struct LogEntry {
    /// Transaction number: the stream sequence minus one.
    pub number: u64,
    /// The decoded order; `None` for a message that is not a valid order for this number
    /// (injected by hand). Such a void entry uses up its number but holds no order.
    pub record: Option<OrderRecord>,
    /// The message payload as published; the digest chains over it.
    pub raw: bytes::Bytes,
}

impl LogEntry {
    /// Decodes a log message found at stream sequence `sequence` (1-based).
    ///
    /// # Errors
    /// The entry is still returned, void, with the reason it is void.
    pub fn decode(sequence: u64, raw: bytes::Bytes) -> (Self, Option<String>) {
        let number = sequence.saturating_sub(1);
        let (record, problem) = match serde_json::from_slice::<OrderRecord>(&raw) {
            Ok(r) if r.number == number => (Some(r), None),
            Ok(r) => (
                None,
                Some(format!("claims number {} at number {number}", r.number)),
            ),
            Err(e) => (None, Some(format!("is not an order record: {e}"))),
        };
        (
            Self {
                number,
                record,
                raw,
            },
            problem,
        )
    }
}

/// A handle to the replica's redb file; cheap to clone.
#[derive(Clone, Debug)]
pub struct OrderStore {
    db: Arc<Database>,
}

impl OrderStore {
    /// Opens (or creates) the store at `path`, creating its directory.
    ///
    /// # Errors
    /// [`StoreError`] when the directory or file cannot be created or opened.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(|e| StoreError::Db(redb::Error::Io(e)))?;
        }
        let db = Database::create(path).map_err(db_err)?;
        let tx = db.begin_write().map_err(db_err)?;
        {
            tx.open_table(ORDERS).map_err(db_err)?;
            tx.open_table(KEYS).map_err(db_err)?;
            tx.open_table(META).map_err(db_err)?;
        }
        tx.commit().map_err(db_err)?;
        Ok(Self { db: Arc::new(db) })
    }

    /// How many orders are stored, and their hash.
    ///
    /// # Errors
    /// [`StoreError`] on a read failure.
    pub fn digest(&self) -> Result<Digest, StoreError> {
        let tx = self.db.begin_read().map_err(db_err)?;
        let meta = tx.open_table(META).map_err(db_err)?;
        read_digest(&meta)
    }

    /// The order numbered `number`, if stored.
    ///
    /// # Errors
    /// [`StoreError`] on a read failure or a corrupt record.
    pub fn get(&self, number: u64) -> Result<Option<Order>, StoreError> {
        let tx = self.db.begin_read().map_err(db_err)?;
        let orders = tx.open_table(ORDERS).map_err(db_err)?;
        let Some(raw) = orders.get(number).map_err(db_err)? else {
            return Ok(None);
        };
        let record: OrderRecord =
            serde_json::from_slice(raw.value()).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        Ok(Some(Order::from(&record)))
    }

    /// For each key, the number it was logged under, if it was.
    ///
    /// # Errors
    /// [`StoreError`] on a read failure.
    pub fn numbers_of<'a>(
        &self,
        keys: impl IntoIterator<Item = &'a str>,
    ) -> Result<Vec<Option<u64>>, StoreError> {
        let tx = self.db.begin_read().map_err(db_err)?;
        let table = tx.open_table(KEYS).map_err(db_err)?;
        keys.into_iter()
            .map(|k| Ok(table.get(k).map_err(db_err)?.map(|v| v.value())))
            .collect()
    }

    /// Appends entries that continue the stored log, in one durable transaction. Entries the
    /// store already holds (number below the count) are skipped, so replaying is harmless.
    ///
    /// # Errors
    /// [`StoreError::OutOfOrder`] when an entry would leave a gap; [`StoreError`] on a write
    /// failure (then nothing of the batch is stored).
    pub fn append(&self, entries: &[LogEntry]) -> Result<Digest, StoreError> {
        let tx = self.db.begin_write().map_err(db_err)?;
        let digest = {
            let mut orders = tx.open_table(ORDERS).map_err(db_err)?;
            let mut keys = tx.open_table(KEYS).map_err(db_err)?;
            let mut meta = tx.open_table(META).map_err(db_err)?;
            let mut digest = read_digest(&meta)?;
            for entry in entries {
                if entry.number < digest.count {
                    continue;
                }
                if entry.number != digest.count {
                    return Err(StoreError::OutOfOrder {
                        expected: digest.count,
                        got: entry.number,
                    });
                }
                if let Some(record) = &entry.record {
                    orders
                        .insert(entry.number, entry.raw.as_ref())
                        .map_err(db_err)?;
                    keys.insert(record.key.as_str(), entry.number)
                        .map_err(db_err)?;
                }
                digest = Digest {
                    count: digest.count + 1,
                    hash: chain_hash(digest.hash, &entry.raw),
                };
            }
            meta.insert(META_COUNT, digest.count.to_le_bytes().as_slice())
                .map_err(db_err)?;
            meta.insert(META_HASH, digest.hash.to_le_bytes().as_slice())
                .map_err(db_err)?;
            digest
        };
        tx.commit().map_err(db_err)?;
        Ok(digest)
    }
}

fn read_digest(
    meta: &impl ReadableTable<&'static str, &'static [u8]>,
) -> Result<Digest, StoreError> {
    let read_u64 = |key: &str| -> Result<Option<u64>, StoreError> {
        match meta.get(key).map_err(db_err)? {
            None => Ok(None),
            Some(v) => {
                let bytes: [u8; 8] = v
                    .value()
                    .try_into()
                    .map_err(|_| StoreError::Corrupt(format!("meta {key} is not 8 bytes")))?;
                Ok(Some(u64::from_le_bytes(bytes)))
            }
        }
    };
    Ok(Digest {
        count: read_u64(META_COUNT)?.unwrap_or(0),
        hash: read_u64(META_HASH)?.unwrap_or(FNV_OFFSET),
    })
}

const FNV_OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
const FNV_PRIME: u64 = 0x0000_0100_0000_01b3;

/// FNV-1a over `bytes`, starting from the previous hash: the digest of a history is the chain
/// over its records, so it depends on every record and on their order.
fn chain_hash(previous: u64, bytes: &[u8]) -> u64 {
    bytes
        .iter()
        .fold(previous, |h, b| (h ^ u64::from(*b)).wrapping_mul(FNV_PRIME))
}

#[cfg(test)]
mod tests {
    use super::*;
    use bazaar_nats::{IdempotencyKey, Quantity, Side, StockName};

    fn record(number: u64, key: &str) -> LogEntry {
        let record = OrderRecord {
            number,
            key: IdempotencyKey::parse(key).unwrap(),
            name: StockName::parse("FishCo").unwrap(),
            side: Side::Buy,
            quantity: Quantity::parse(2).unwrap(),
        };
        let raw = serde_json::to_vec(&record).unwrap().into();
        let (entry, problem) = LogEntry::decode(number + 1, raw);
        assert_eq!(problem, None);
        entry
    }

    #[test]
    fn a_message_that_is_not_an_order_becomes_a_void_entry_that_keeps_numbering() {
        let (_dir, store) = temp_store();
        let (void, problem) = LogEntry::decode(2, bytes::Bytes::from_static(b"hello"));
        assert!(problem.is_some());
        store
            .append(&[record(0, "a"), void, record(2, "c")])
            .unwrap();
        assert_eq!(store.digest().unwrap().count, 3);
        assert_eq!(store.get(1).unwrap(), None);
        assert_eq!(store.get(2).unwrap().unwrap().number, 2);
    }

    fn temp_store() -> (tempfile::TempDir, OrderStore) {
        let dir = tempfile::tempdir().unwrap();
        let store = OrderStore::open(&dir.path().join("o.redb")).unwrap();
        (dir, store)
    }

    #[test]
    fn appended_orders_can_be_read_back_by_number_and_key() {
        let (_dir, store) = temp_store();
        store.append(&[record(0, "a"), record(1, "b")]).unwrap();
        assert_eq!(store.get(1).unwrap().unwrap().number, 1);
        assert_eq!(store.get(2).unwrap(), None);
        assert_eq!(
            store.numbers_of(["b", "a", "zz"]).unwrap(),
            vec![Some(1), Some(0), None]
        );
        assert_eq!(store.digest().unwrap().count, 2);
    }

    #[test]
    fn replaying_stored_orders_changes_nothing() {
        let (_dir, store) = temp_store();
        let first = store.append(&[record(0, "a"), record(1, "b")]).unwrap();
        let again = store.append(&[record(1, "b")]).unwrap();
        assert_eq!(first, again);
    }

    #[test]
    fn a_gap_is_refused_and_nothing_of_the_batch_is_stored() {
        let (_dir, store) = temp_store();
        let err = store.append(&[record(0, "a"), record(2, "c")]).unwrap_err();
        assert!(matches!(
            err,
            StoreError::OutOfOrder {
                expected: 1,
                got: 2
            }
        ));
        assert_eq!(store.digest().unwrap().count, 0);
    }

    #[test]
    fn equal_histories_have_equal_digests_and_order_matters() {
        let (_d1, one) = temp_store();
        let (_d2, two) = temp_store();
        let (_d3, three) = temp_store();
        one.append(&[record(0, "a"), record(1, "b")]).unwrap();
        two.append(&[record(0, "a")]).unwrap();
        two.append(&[record(1, "b")]).unwrap();
        three.append(&[record(0, "b"), record(1, "a")]).unwrap();
        assert_eq!(one.digest().unwrap(), two.digest().unwrap());
        assert_ne!(one.digest().unwrap().hash, three.digest().unwrap().hash);
    }
}
