//! Re-appends to the log the orders it lost, from the most complete replica store.
//!
//! When the broker's store loses the log's tail (its disk restored from an old copy, say), the
//! replicas' stores are the only copy of those orders: each replica sets its store aside and
//! holds (see `hold`). This operator step reads the log as the replicas do (`replay`, so it
//! counts exactly the orders they count), checks that the most complete
//! set-aside store agrees with the log where both have orders, and appends the orders the log
//! lacks, numbered as they were: a term marker fenced on the log's tail, then the orders,
//! pipelined and fenced like a leader's. If anything else was appended meanwhile, nothing of
//! the repair lands and it can be run again.

use crate::log_append::{self, AppendError, ORDERS_PER_RUN};
use crate::replay::{self, ReplayError};
use crate::store::{Digest, OrderStore, StoreError};
use async_nats::jetstream;
use bazaar_nats::blocking;
use bazaar_nats::messages::{OrderRecord, TermStart};
use std::path::{Path, PathBuf};

/// The `leader` a repair's term marker names: no replica.
pub const REPAIR_LEADER: u32 = 0;

/// Why the repair stopped.
#[derive(Debug, thiserror::Error)]
pub enum RepairError {
    /// No store was given.
    #[error("no store given: pass the set-aside stores the replicas named with --store")]
    NoStore,
    /// A store could not be read.
    #[error("cannot read {path}: {source}")]
    Store {
        /// The store file.
        path: PathBuf,
        /// Why.
        source: StoreError,
    },
    /// The log could not be replayed.
    #[error("order log: {0}")]
    Replay(#[from] ReplayError),
    /// A store (the replayed log's or the source) failed while being read.
    #[error("cannot read an order store: {0}")]
    Read(#[from] StoreError),
    /// A blocking store task failed.
    #[error("order store task failed: {0}")]
    StoreTask(#[from] tokio::task::JoinError),
    /// The source store holds an order that does not parse.
    #[error("the store holds a corrupt order: {0}")]
    Corrupt(#[from] serde_json::Error),
    /// The store and the log hold different orders under the same number: the numbers were
    /// handed out again, and re-appending would not restore them as they were.
    #[error("order {number} is {logged} in the log but {stored} in {path}: numbers were reused since; reconcile by hand")]
    Conflict {
        /// The number.
        number: u64,
        /// The key the log holds under it.
        logged: String,
        /// The key the store holds under it.
        stored: String,
        /// The store.
        path: PathBuf,
    },
    /// The repair's term marker was not appended (something else was, or the broker failed):
    /// nothing was appended, run it again.
    #[error(
        "the log moved while repairing ({0}); nothing more was appended: run the repair again"
    )]
    MarkerRefused(#[source] AppendError),
    /// A run of orders was not appended whole (something else was, or the broker failed): a
    /// prefix of the missing orders is in the log, run it again for the rest.
    #[error(
        "the log moved while repairing ({source}; {appended} of {missing} orders appended); \
         nothing more was appended: run the repair again"
    )]
    Moved {
        /// Why the run stopped.
        #[source]
        source: AppendError,
        /// How many of the missing orders are in the log now.
        appended: u64,
        /// How many were missing.
        missing: u64,
    },
}

/// What a repair found and did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Report {
    /// The store the orders came from.
    pub source: PathBuf,
    /// How many orders it holds.
    pub stored: u64,
    /// How many orders the log held before.
    pub logged: u64,
    /// How many were appended (0 for a dry run or when nothing was missing).
    pub appended: u64,
}

/// Repairs the log from the most complete of `stores`; with `dry_run`, only reports.
///
/// # Errors
/// See [`RepairError`]; a repair that fails part way leaves a prefix of the missing orders in
/// the log, and running it again appends the rest.
pub async fn repair(
    js: &jetstream::Context,
    stores: &[PathBuf],
    scratch: &Path,
    dry_run: bool,
) -> Result<Report, RepairError> {
    let (source, store, stored) = most_complete(stores).await?;
    let replayed = replay::replay(js, scratch).await?;
    let tail = replayed.last_sequence;
    let log = replayed.store;
    let logged = {
        let log = log.clone();
        blocking::run(move || log.digest()).await??
    };
    let mut report = Report {
        source: source.clone(),
        stored: stored.count,
        logged: logged.count,
        appended: 0,
    };
    if stored.count <= logged.count || dry_run {
        return Ok(report);
    }
    {
        let (store, source) = (store.clone(), source.clone());
        blocking::run(move || check_agreement(&log, &store, logged.count, &source)).await??;
    }
    report.appended = append_missing(js, &store, logged.count, stored.count, tail).await?;
    Ok(report)
}

/// Opens every store and returns the one holding the most orders.
async fn most_complete(stores: &[PathBuf]) -> Result<(PathBuf, OrderStore, Digest), RepairError> {
    let mut best: Option<(PathBuf, OrderStore, Digest)> = None;
    for path in stores {
        let store_error = |source| RepairError::Store {
            path: path.clone(),
            source,
        };
        let opened = {
            let path = path.clone();
            blocking::run(move || {
                let store = OrderStore::open(&path)?;
                let digest = store.digest()?;
                Ok::<_, StoreError>((store, digest))
            })
            .await?
        };
        let (store, digest) = opened.map_err(store_error)?;
        if best.as_ref().is_none_or(|(_, _, b)| b.count < digest.count) {
            best = Some((path.clone(), store, digest));
        }
    }
    best.ok_or(RepairError::NoStore)
}

/// Checks the store holds, under the log's last number, the order the log holds.
fn check_agreement(
    log: &OrderStore,
    store: &OrderStore,
    logged: u64,
    source: &Path,
) -> Result<(), RepairError> {
    let Some(last) = logged.checked_sub(1) else {
        return Ok(());
    };
    let (in_log, in_store) = (log.record(last)?, store.record(last)?);
    let key = |r: &Option<OrderRecord>| {
        r.as_ref()
            .map_or("nothing".to_string(), |r| r.key.to_string())
    };
    if in_log.is_none() || in_log != in_store {
        return Err(RepairError::Conflict {
            number: last,
            logged: key(&in_log),
            stored: key(&in_store),
            path: source.to_path_buf(),
        });
    }
    Ok(())
}

/// Appends a repair term's marker after sequence `after`, then orders `from .. to` of `store`.
async fn append_missing(
    js: &jetstream::Context,
    store: &OrderStore,
    from: u64,
    to: u64,
    after: u64,
) -> Result<u64, RepairError> {
    let epoch = after + 1;
    let marker = TermStart {
        leader: REPAIR_LEADER,
        epoch,
        next_number: from,
    };
    let mut tail = log_append::append_marker(js, &marker, after)
        .await
        .map_err(RepairError::MarkerRefused)?;
    let mut next = from;
    while next < to {
        let raw = {
            let (store, limit) = (store.clone(), ORDERS_PER_RUN.min((to - next) as usize));
            blocking::run(move || store.raw_orders(next, limit)).await??
        };
        let records: Vec<OrderRecord> = raw
            .iter()
            .map(|r| serde_json::from_slice(r))
            .collect::<Result<_, _>>()?;
        let outcome = log_append::append(js, &tail, epoch, &records).await;
        next += outcome.landed as u64;
        tail = outcome.tail;
        if let Some(source) = outcome.error {
            return Err(RepairError::Moved {
                source,
                appended: next - from,
                missing: to - from,
            });
        }
        tracing::info!(
            appended = next - from,
            of = to - from,
            "re-appending lost orders"
        );
    }
    Ok(next - from)
}
