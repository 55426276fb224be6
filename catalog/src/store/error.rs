//! What can go wrong in the store, and the JSON encoding of stored values, whose failures are
//! store errors too.

use std::path::PathBuf;

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
    /// Any of redb's error types as [`StoreError::Redb`], for `map_err`.
    pub(crate) fn redb(e: impl Into<redb::Error>) -> Self {
        Self::Redb(e.into())
    }
}

/// A stored JSON value read back; one that does not parse is [`StoreError::Corrupt`].
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

/// A value as stored JSON; one that cannot be written is [`StoreError::Corrupt`] too.
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
