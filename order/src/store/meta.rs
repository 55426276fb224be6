//! The store's `meta` table: the digest of the replica's history (how far it got in the
//! stream, how many orders it holds and a hash chained over all of them, so equal histories
//! have equal digests) and its position in the log's terms.

use redb::{ReadableTable, TableDefinition};

/// Table of the store's position and hash.
pub(super) const META: TableDefinition<&str, &[u8]> = TableDefinition::new("meta");
const META_COUNT: &str = "count";
const META_HASH: &str = "hash";
const META_SEQUENCE: &str = "sequence";
const META_EPOCH: &str = "epoch";
const META_LAST_ID: &str = "last_id";

const FNV_OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
const FNV_PRIME: u64 = 0x0000_0100_0000_01b3;

/// How far a replica got in the stream, how many orders it holds and a hash over all of them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Digest {
    /// The last stream sequence applied.
    pub sequence: u64,
    /// Orders `0 .. count` are stored.
    pub count: u64,
    /// FNV-1a, chained over every record in number order.
    pub hash: u64,
}

impl Default for Digest {
    /// The digest of an empty store.
    fn default() -> Self {
        Self {
            sequence: 0,
            count: 0,
            hash: FNV_OFFSET,
        }
    }
}

impl Digest {
    /// The digest after one more order whose payload is `raw`.
    pub(super) fn chain(&mut self, raw: &[u8]) {
        self.count += 1;
        self.hash = raw.iter().fold(self.hash, |h, b| {
            (h ^ u64::from(*b)).wrapping_mul(FNV_PRIME)
        });
    }
}

/// Where the store stands in the log beyond its digest: the term whose orders it takes and the
/// id of the last message it applied.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Position {
    /// The epoch of the term the last valid marker started (`None` in a store that has not
    /// met a valid marker).
    pub epoch: Option<u64>,
    /// The `Nats-Msg-Id` of the message at the digest's sequence (`None` if it had none or
    /// the store never recorded one).
    pub last_id: Option<String>,
}

/// Why the stored digest cannot be read.
#[derive(Debug, thiserror::Error)]
pub enum DigestError {
    /// redb failed.
    #[error("order store: {0}")]
    Db(#[from] redb::StorageError),
    /// A value is not what this store writes.
    #[error("order store meta {0} is corrupt")]
    Corrupt(&'static str),
}

fn read_u64(
    meta: &impl ReadableTable<&'static str, &'static [u8]>,
    key: &'static str,
) -> Result<Option<u64>, DigestError> {
    match meta.get(key)? {
        None => Ok(None),
        Some(v) => {
            let bytes: [u8; 8] = v
                .value()
                .try_into()
                .map_err(|_| DigestError::Corrupt(key))?;
            Ok(Some(u64::from_le_bytes(bytes)))
        }
    }
}

/// Reads the digest from the `meta` table (an empty store's digest when nothing is stored).
pub(super) fn read(
    meta: &impl ReadableTable<&'static str, &'static [u8]>,
) -> Result<Digest, DigestError> {
    let read_u64 = |key| read_u64(meta, key);
    let empty = Digest::default();
    Ok(Digest {
        sequence: read_u64(META_SEQUENCE)?.unwrap_or(empty.sequence),
        count: read_u64(META_COUNT)?.unwrap_or(empty.count),
        hash: read_u64(META_HASH)?.unwrap_or(empty.hash),
    })
}

/// Writes `digest` into the `meta` table.
pub(super) fn write(
    meta: &mut redb::Table<&'static str, &'static [u8]>,
    digest: &Digest,
) -> Result<(), redb::StorageError> {
    meta.insert(META_SEQUENCE, digest.sequence.to_le_bytes().as_slice())?;
    meta.insert(META_COUNT, digest.count.to_le_bytes().as_slice())?;
    meta.insert(META_HASH, digest.hash.to_le_bytes().as_slice())?;
    Ok(())
}

/// Reads the position from the `meta` table.
pub(super) fn read_position(
    meta: &impl ReadableTable<&'static str, &'static [u8]>,
) -> Result<Position, DigestError> {
    let last_id = match meta.get(META_LAST_ID)? {
        None => None,
        Some(v) => Some(
            String::from_utf8(v.value().to_vec())
                .map_err(|_| DigestError::Corrupt(META_LAST_ID))?,
        ),
    };
    Ok(Position {
        epoch: read_u64(meta, META_EPOCH)?,
        last_id,
    })
}

/// Writes `position` into the `meta` table.
pub(super) fn write_position(
    meta: &mut redb::Table<&'static str, &'static [u8]>,
    position: &Position,
) -> Result<(), redb::StorageError> {
    match position.epoch {
        Some(epoch) => meta.insert(META_EPOCH, epoch.to_le_bytes().as_slice())?,
        None => meta.remove(META_EPOCH)?,
    };
    match &position.last_id {
        Some(id) => meta.insert(META_LAST_ID, id.as_bytes())?,
        None => meta.remove(META_LAST_ID)?,
    };
    Ok(())
}
