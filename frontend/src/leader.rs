//! Knowing which order replica leads, from the leader lease in the KV bucket.
//!
//! A background task ([`LeaderTracker::watch`]) follows the key with a KV watch and keeps the
//! latest value in a cheap shared cell that every trade reads. Watches do not survive a
//! nats-server restart (they error with "missed idle heartbeat" or just end), so the task
//! re-creates the watch from the last revision seen, with backoff, on any error or end and on every
//! reconnect. The key also expires silently when a leader dies, so callers whose request to the
//! leader failed ask [`LeaderTracker::refresh`] for a fresh `kv.get`.
//!
//! Callers can also [`LeaderTracker::subscribe`] to changes: a trade waiting on a leader that
//! died is resent as soon as another replica takes the lease, instead of after its attempt
//! timeout.
//!
//! The bucket is looked up lazily: the frontend starts (and answers 503) even when NATS, or the
//! order replicas that create the bucket, are not up yet.

use async_nats::jetstream::{self, kv};
use bazaar_nats::subjects::{LEADER_BUCKET, LEADER_KEY};
use futures::StreamExt;
use std::time::Duration;
use tokio::sync::{watch, OnceCell};
use tokio_util::sync::CancellationToken;

/// First pause before re-creating a failed watch; doubles up to [`WATCH_BACKOFF_MAX`].
const WATCH_BACKOFF_MIN: Duration = Duration::from_millis(100);
/// Longest pause between two attempts to re-create the watch.
const WATCH_BACKOFF_MAX: Duration = Duration::from_secs(2);

/// The shared view of the order leader.
#[derive(Debug)]
pub struct LeaderTracker {
    js: jetstream::Context,
    /// Per-call bound on KV operations, so a dead broker cannot stall a request.
    timeout: Duration,
    store: OnceCell<kv::Store>,
    current: watch::Sender<Option<u32>>,
}

impl LeaderTracker {
    /// A tracker over `client`; KV calls are bounded by `timeout`. Knows no leader until
    /// [`Self::watch`] or [`Self::refresh`] learns one.
    pub fn new(client: async_nats::Client, timeout: Duration) -> Self {
        let mut js = jetstream::new(client);
        js.set_timeout(timeout);
        Self {
            js,
            timeout,
            store: OnceCell::new(),
            current: watch::Sender::new(None),
        }
    }

    /// The leader last seen, if any. Never blocks on the network.
    pub fn current(&self) -> Option<u32> {
        *self.current.borrow()
    }

    /// Every change of the leader from now on (the current value counts as seen).
    pub fn subscribe(&self) -> watch::Receiver<Option<u32>> {
        self.current.subscribe()
    }

    fn set(&self, leader: Option<u32>) {
        self.current.send_if_modified(|cell| {
            if *cell == leader {
                return false;
            }
            tracing::info!(leader = ?leader, "order leader changed");
            // Every change seen, a vacancy included: a failover counts two.
            metrics::counter!("bazaar_frontend_leader_changes_total").increment(1);
            *cell = leader;
            true
        });
    }

    /// The leader bucket, found on first use. The order replicas create it (with the
    /// replication the deployment wants); the frontend only reads it.
    async fn store(&self) -> Option<&kv::Store> {
        let found = tokio::time::timeout(
            self.timeout,
            self.store
                .get_or_try_init(|| async { self.js.get_key_value(LEADER_BUCKET).await }),
        )
        .await;
        match found {
            Ok(Ok(store)) => Some(store),
            Ok(Err(e)) => {
                tracing::warn!(error = %e, "leader bucket unavailable");
                None
            }
            Err(_) => {
                tracing::warn!("leader bucket lookup timed out");
                None
            }
        }
    }

    /// Reads the leader key directly (`kv.get`), stores the answer and returns it. `None` when no
    /// leader holds the lease or the bucket cannot be reached; in the latter case the last known
    /// value is kept in the cell.
    pub async fn refresh(&self) -> Option<u32> {
        let store = self.store().await?;
        match tokio::time::timeout(self.timeout, store.get(LEADER_KEY)).await {
            Ok(Ok(value)) => {
                let leader = value.as_deref().and_then(parse_leader);
                self.set(leader);
                leader
            }
            Ok(Err(e)) => {
                tracing::warn!(error = %e, "cannot read the leader key");
                None
            }
            Err(_) => {
                tracing::warn!("reading the leader key timed out");
                None
            }
        }
    }

    /// Follows the leader key until `stop` is cancelled: a watch with history first, then, after
    /// any error, end or reconnect, a watch from the revision after the last one seen.
    pub async fn watch(&self, mut reconnects: watch::Receiver<u64>, stop: CancellationToken) {
        let mut progress = WatchProgress {
            last_revision: None,
            backoff: WATCH_BACKOFF_MIN,
        };
        reconnects.borrow_and_update();
        loop {
            if let Some(store) = self.store().await {
                let created = match progress.last_revision {
                    Some(rev) => store.watch_from_revision(LEADER_KEY, rev + 1).await,
                    None => store.watch_with_history(LEADER_KEY).await,
                };
                match created {
                    Ok(entries) => {
                        // The key may have expired while no watch ran; expiry sends no event.
                        if progress.last_revision.is_some() {
                            self.refresh().await;
                        }
                        let ended = self
                            .follow(entries, &mut reconnects, &stop, &mut progress)
                            .await;
                        if ended == WatchEnd::Stop {
                            return;
                        }
                    }
                    Err(e) => tracing::warn!(error = %e, "cannot watch the leader key"),
                }
            }
            tokio::select! {
                () = stop.cancelled() => return,
                () = tokio::time::sleep(progress.backoff) => {}
            }
            progress.backoff = (progress.backoff * 2).min(WATCH_BACKOFF_MAX);
        }
    }

    /// Applies the entries of one watch until it fails or ends, NATS reconnects, or `stop` is
    /// cancelled; says whether to re-create the watch.
    async fn follow(
        &self,
        mut entries: kv::Watch,
        reconnects: &mut watch::Receiver<u64>,
        stop: &CancellationToken,
        progress: &mut WatchProgress,
    ) -> WatchEnd {
        loop {
            tokio::select! {
                () = stop.cancelled() => return WatchEnd::Stop,
                changed = reconnects.changed() => {
                    if changed.is_err() {
                        // The client is gone; nothing more will come.
                        return WatchEnd::Stop;
                    }
                    // The first connection is no reconnect: nothing was missed.
                    if *reconnects.borrow_and_update() > 1 {
                        tracing::info!("NATS reconnected; re-creating the leader watch");
                        return WatchEnd::Recreate;
                    }
                }
                next = entries.next() => match next {
                    Some(Ok(entry)) => {
                        progress.last_revision = Some(entry.revision);
                        progress.backoff = WATCH_BACKOFF_MIN;
                        self.set(match entry.operation {
                            kv::Operation::Put => parse_leader(&entry.value),
                            kv::Operation::Delete | kv::Operation::Purge => None,
                        });
                    }
                    Some(Err(e)) => {
                        tracing::warn!(error = %e, "leader watch failed; re-creating it");
                        return WatchEnd::Recreate;
                    }
                    None => {
                        tracing::warn!("leader watch ended; re-creating it");
                        return WatchEnd::Recreate;
                    }
                },
            }
        }
    }
}

/// Where following the leader key has got to, kept across re-created watches.
struct WatchProgress {
    /// The revision of the last entry seen, so a new watch starts after it.
    last_revision: Option<u64>,
    /// The pause before the next attempt to re-create the watch.
    backoff: Duration,
}

/// How following one watch ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum WatchEnd {
    /// `stop` was cancelled or the client is gone: the task ends.
    Stop,
    /// The watch failed, ended, or NATS reconnected: make a new one.
    Recreate,
}

/// The replica the lease value names ([`bazaar_nats::lease::decode`]); a value that names no one
/// is logged, and means "no usable leader".
fn parse_leader(value: &[u8]) -> Option<u32> {
    let parsed = bazaar_nats::lease::decode(value);
    if parsed.is_none() {
        tracing::warn!(value = ?String::from_utf8_lossy(value), "leader key holds no replica id");
    }
    parsed
}

#[cfg(test)]
mod tests {
    use super::parse_leader;

    #[test]
    fn leader_value_is_a_decimal_replica_id() {
        assert_eq!(parse_leader(b"3"), Some(3));
        assert_eq!(parse_leader(b"12"), Some(12));
        assert_eq!(parse_leader(b" 12\n"), None, "read as the replicas read it");
        assert_eq!(parse_leader(b"three"), None);
        assert_eq!(parse_leader(b"-1"), None);
        assert_eq!(parse_leader(&[0xff]), None);
    }
}
