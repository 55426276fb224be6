//! A replica's hold on leading while a store it set aside holds orders the log lacks.
//!
//! When the log lost its tail (a broker's disk restored from an old copy, say), the replicas'
//! stores are the only copy of those orders. A replica that finds its store ahead of the log
//! moves it aside, rebuilds from the log, and holds: it does not campaign, so it does not hand
//! out the lost orders' numbers to new trades. The hold lifts by itself once the log holds as
//! many orders as the set-aside store (an operator re-appended them with `bazaar-log-repair`),
//! or when an operator removes the hold file by hand to give the orders up.
//!
//! The hold is a small JSON file beside the store, so it outlives restarts.

use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};

/// Why this replica holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HoldRecord {
    /// The store file that was set aside.
    pub aside: PathBuf,
    /// How many orders it holds: the hold lasts until the log holds as many.
    pub orders: u64,
    /// The stream sequence it had reached.
    pub sequence: u64,
    /// The stream's last sequence when it was set aside.
    pub log_sequence: u64,
}

/// Why the hold file could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum HoldError {
    /// The file could not be read, written or removed.
    #[error("hold file {path}: {source}")]
    Io {
        /// The hold file.
        path: PathBuf,
        /// The IO error.
        source: std::io::Error,
    },
    /// The file is not a hold record.
    #[error("hold file {path} is not a hold record: {source}")]
    Corrupt {
        /// The hold file.
        path: PathBuf,
        /// The parse error.
        source: serde_json::Error,
    },
}

/// The hold of one replica; cheap to clone, shared by the log follower and the election.
#[derive(Debug, Clone)]
pub struct Hold {
    file: Arc<PathBuf>,
    record: Arc<Mutex<Option<HoldRecord>>>,
}

impl Hold {
    /// The hold kept in `file`, as the file says (none when it does not exist).
    ///
    /// # Errors
    /// [`HoldError`] when the file exists but cannot be read or parsed: the replica must not
    /// start as if it held nothing.
    pub fn load(file: &Path) -> Result<Self, HoldError> {
        let record = match std::fs::read(file) {
            Ok(bytes) => {
                Some(
                    serde_json::from_slice(&bytes).map_err(|source| HoldError::Corrupt {
                        path: file.to_path_buf(),
                        source,
                    })?,
                )
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
            Err(source) => {
                return Err(HoldError::Io {
                    path: file.to_path_buf(),
                    source,
                })
            }
        };
        Ok(Self {
            file: Arc::new(file.to_path_buf()),
            record: Arc::new(Mutex::new(record)),
        })
    }

    /// What this replica holds for, if anything.
    pub fn current(&self) -> Option<HoldRecord> {
        self.record
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Whether the replica must not lead.
    pub fn is_held(&self) -> bool {
        self.current().is_some()
    }

    /// Holds for `record` (keeping an existing hold for more orders), written to the file
    /// first so a crash cannot forget it.
    ///
    /// # Errors
    /// [`HoldError`] when the file cannot be written; the hold is then still set in memory.
    pub fn hold(&self, record: HoldRecord) -> Result<(), HoldError> {
        let kept = {
            let mut slot = self.record.lock().unwrap_or_else(PoisonError::into_inner);
            if slot.as_ref().is_none_or(|old| old.orders < record.orders) {
                *slot = Some(record);
            }
            slot.clone()
        };
        let bytes = serde_json::to_vec_pretty(&kept).unwrap_or_default();
        let temporary = self.file.with_extension("hold.tmp");
        let io = |source| HoldError::Io {
            path: self.file.to_path_buf(),
            source,
        };
        std::fs::write(&temporary, bytes).map_err(io)?;
        std::fs::rename(&temporary, self.file.as_path()).map_err(io)
    }

    /// Lifts the hold when the store, following the log, holds `stored` orders and that is at
    /// least what the set-aside store held; returns the lifted record.
    ///
    /// # Errors
    /// [`HoldError`] when the file cannot be removed; the hold then stays.
    pub fn lift_if_reached(&self, stored: u64) -> Result<Option<HoldRecord>, HoldError> {
        let mut slot = self.record.lock().unwrap_or_else(PoisonError::into_inner);
        match slot.as_ref() {
            Some(record) if stored >= record.orders => {
                match std::fs::remove_file(self.file.as_path()) {
                    Ok(()) => {}
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                    Err(source) => {
                        return Err(HoldError::Io {
                            path: self.file.to_path_buf(),
                            source,
                        })
                    }
                }
                Ok(slot.take())
            }
            _ => Ok(None),
        }
    }

    /// Re-reads the file, so an operator's removal lifts the hold without a restart.
    ///
    /// # Errors
    /// As [`Self::load`].
    pub fn reload(&self) -> Result<(), HoldError> {
        let fresh = Self::load(&self.file)?.current();
        *self.record.lock().unwrap_or_else(PoisonError::into_inner) = fresh;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(orders: u64) -> HoldRecord {
        HoldRecord {
            aside: PathBuf::from("order-1.redb.ahead-x"),
            orders,
            sequence: orders + 3,
            log_sequence: 2,
        }
    }

    #[test]
    fn a_hold_outlives_a_restart_and_lifts_once_the_log_holds_as_many_orders() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("order-1.hold");
        let hold = Hold::load(&file).unwrap();
        assert!(!hold.is_held());
        hold.hold(record(10)).unwrap();
        let again = Hold::load(&file).unwrap();
        assert_eq!(again.current(), Some(record(10)));
        assert_eq!(again.lift_if_reached(9).unwrap(), None);
        assert!(again.is_held());
        assert_eq!(again.lift_if_reached(10).unwrap(), Some(record(10)));
        assert!(!again.is_held());
        assert!(!file.exists());
    }

    #[test]
    fn a_second_hold_keeps_the_one_for_more_orders() {
        let dir = tempfile::tempdir().unwrap();
        let hold = Hold::load(&dir.path().join("h")).unwrap();
        hold.hold(record(10)).unwrap();
        hold.hold(record(4)).unwrap();
        assert_eq!(hold.current().unwrap().orders, 10);
    }

    #[test]
    fn removing_the_file_lifts_the_hold_on_reload_and_a_corrupt_file_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("h");
        let hold = Hold::load(&file).unwrap();
        hold.hold(record(3)).unwrap();
        std::fs::remove_file(&file).unwrap();
        hold.reload().unwrap();
        assert!(!hold.is_held());
        std::fs::write(&file, b"nonsense").unwrap();
        assert!(matches!(Hold::load(&file), Err(HoldError::Corrupt { .. })));
    }
}
