//! The store's file: creating it with its tables, opening write transactions with the right
//! durability, making lazy commits durable, and moving a file aside for a fresh one.

use super::meta::META;
use super::{db_err, Commit, OrderStore, StoreError, KEYS, ORDERS};
use redb::{Database, Durability};
use std::path::{Path, PathBuf};
use std::sync::{Arc, PoisonError};

/// redb's page cache. Order queries read one leaf per lookup and the OS page cache serves what
/// this cache misses, so a few MiB keep lookups fast while a replica that replayed a long
/// history stays small.
const CACHE_BYTES: usize = 4 * 1024 * 1024;

impl OrderStore {
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
pub(super) fn create(path: &Path) -> Result<Database, StoreError> {
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
pub(super) fn begin_write(
    db: &Database,
    commit: Commit,
) -> Result<redb::WriteTransaction, StoreError> {
    let mut tx = db.begin_write().map_err(db_err)?;
    match commit {
        Commit::Durable => tx.set_quick_repair(true),
        Commit::Lazy => tx
            .set_durability(Durability::None)
            .map_err(|e| StoreError::Corrupt(format!("cannot make a lazy commit: {e}")))?,
    }
    Ok(tx)
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
