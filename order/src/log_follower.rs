//! Materialises the JetStream order log into this replica's store.
//!
//! An ordered consumer replays `orders.new` from the first number the store lacks, so a replica
//! that was down, or whose data dir was wiped, catches up by itself. Whatever has arrived is
//! written as one batch (one durable redb commit), so catching up on many orders costs few
//! commits. Any consumer error (nats-server restarting, a missed heartbeat) ends the consumer;
//! it is made again from the store's count.

use crate::store::{Digest, LogEntry, OrderStore};
use async_nats::jetstream::{self, consumer};
use bazaar_nats::subjects::{ORDERS_ALL, ORDERS_STREAM};
use futures::StreamExt;
use std::time::Duration;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

/// Most log messages written in one redb transaction.
const MAX_BATCH: usize = 2048;
/// First pause before re-creating a consumer that could not be made; doubles up to
/// [`BACKOFF_MAX`].
const BACKOFF_MIN: Duration = Duration::from_millis(50);
/// Longest pause between two attempts to make a consumer.
const BACKOFF_MAX: Duration = Duration::from_secs(1);
/// With no message for this long, compare the store with the stream: a consumer that silently
/// stopped delivering (seen after broker restarts) is made again.
const STALL_CHECK: Duration = Duration::from_secs(2);

/// The pause before the next attempt to make a consumer.
#[derive(Debug, Clone, Copy)]
struct Backoff {
    next: Duration,
}

impl Default for Backoff {
    fn default() -> Self {
        Self { next: BACKOFF_MIN }
    }
}

impl Backoff {
    /// The pause after an attempt that failed; `consumer_made` says whether it got as far as a
    /// consumer, which makes the pause start small again.
    fn after_failure(&mut self, consumer_made: bool) -> Duration {
        if consumer_made {
            self.next = BACKOFF_MIN;
        }
        let pause = self.next;
        self.next = (self.next * 2).min(BACKOFF_MAX);
        pause
    }
}

/// Follows the order log into the store and publishes how far the store got.
#[derive(Debug)]
pub struct LogFollower {
    js: jetstream::Context,
    store: OrderStore,
    stored: watch::Sender<Digest>,
    reconnects: watch::Receiver<u64>,
}

impl LogFollower {
    /// A follower writing into `store`; `stored` carries the store's digest. Each
    /// change of `reconnects` (a NATS reconnect) makes the consumer again.
    pub fn new(
        js: jetstream::Context,
        store: OrderStore,
        stored: watch::Sender<Digest>,
        reconnects: watch::Receiver<u64>,
    ) -> Self {
        Self {
            js,
            store,
            stored,
            reconnects,
        }
    }

    /// Follows the log until `stop` is cancelled, re-creating the consumer after any error.
    /// The pause before re-creating it doubles while attempts keep failing before a consumer
    /// exists, and starts small again once one was made: a consumer ended by a broker restart
    /// hours after the previous one is re-created at once, not after the longest pause.
    pub async fn run(mut self, stop: CancellationToken) {
        let mut backoff = Backoff::default();
        loop {
            self.reconnects.mark_unchanged();
            let mut consumer_made = false;
            let result = tokio::select! {
                () = stop.cancelled() => return,
                r = self.follow_once(&stop, &mut consumer_made) => r,
            };
            match result {
                Ok(()) => return,
                Err(e) => {
                    tracing::warn!(error = %e, "order log consumer ended; re-creating it");
                    let pause = backoff.after_failure(consumer_made);
                    tokio::select! {
                        () = stop.cancelled() => return,
                        () = tokio::time::sleep(pause) => {}
                    }
                }
            }
        }
    }

    /// Empties the store so the next consumer replays the log from its first message.
    async fn rebuild(&self) -> anyhow::Result<()> {
        let store = self.store.clone();
        tokio::task::spawn_blocking(move || store.reset()).await??;
        self.stored.send_replace(Digest::default());
        Ok(())
    }

    /// One consumer's life: sets `consumer_made` once the consumer exists.
    async fn follow_once(
        &mut self,
        stop: &CancellationToken,
        consumer_made: &mut bool,
    ) -> anyhow::Result<()> {
        let start = self.stored.borrow().sequence + 1;
        let stream = self.js.get_stream(ORDERS_STREAM).await?;
        let tail = stream.cached_info().state.last_sequence;
        if start > tail + 1 {
            // The store holds messages the stream does not: it cannot be trusted to number
            // orders or answer for them. Start over from the stream.
            tracing::error!(
                stored = start - 1,
                tail,
                "the store is ahead of the order log; rebuilding it from the start"
            );
            self.rebuild().await?;
            anyhow::bail!("store rebuilt; replaying the log");
        }
        let consumer = stream
            .create_consumer(consumer::pull::OrderedConfig {
                filter_subject: ORDERS_ALL.to_string(),
                deliver_policy: consumer::DeliverPolicy::ByStartSequence {
                    start_sequence: start,
                },
                ..Default::default()
            })
            .await?;
        *consumer_made = true;
        tracing::debug!(start, "following the order log");
        let mut batches = consumer.messages().await?.ready_chunks(MAX_BATCH);
        let mut reconnects = self.reconnects.clone();
        loop {
            let batch = tokio::select! {
                () = stop.cancelled() => return Ok(()),
                _ = reconnects.changed() => anyhow::bail!("reconnected to NATS"),
                b = tokio::time::timeout(STALL_CHECK, batches.next()) => b,
            };
            let batch = match batch {
                Ok(Some(batch)) => batch,
                Ok(None) => anyhow::bail!("order log consumer closed"),
                Err(_idle) => {
                    let stream = self.js.get_stream(ORDERS_STREAM).await?;
                    let last = stream.cached_info().state.last_sequence;
                    if last > self.stored.borrow().sequence {
                        anyhow::bail!("consumer stalled behind the stream (last {last})");
                    }
                    continue;
                }
            };
            let mut entries = Vec::with_capacity(batch.len());
            let mut failure = None;
            for item in batch {
                match item {
                    Ok(message) => {
                        let sequence = message
                            .info()
                            .map_err(|e| anyhow::anyhow!(e))?
                            .stream_sequence;
                        entries.push(LogEntry::decode(
                            message.subject.as_str(),
                            sequence,
                            message.payload.clone(),
                        ));
                    }
                    Err(e) => {
                        failure = Some(e);
                        break;
                    }
                }
            }
            if !entries.is_empty() {
                let store = self.store.clone();
                let appended =
                    tokio::task::spawn_blocking(move || store.append(&entries)).await??;
                for (sequence, reason) in &appended.skipped {
                    tracing::error!(sequence, reason = %reason, "skipped a message of the order log that is not the next order");
                }
                if appended.diverged {
                    tracing::error!(
                        "the store no longer mirrors the order log; rebuilding it from the start"
                    );
                    self.rebuild().await?;
                    anyhow::bail!("store rebuilt; replaying the log");
                }
                let digest = appended.digest;
                self.stored.send_replace(digest);
                tracing::trace!(
                    sequence = digest.sequence,
                    count = digest.count,
                    "order log stored"
                );
            }
            if let Some(e) = failure {
                return Err(e.into());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_pause_doubles_while_no_consumer_is_made_and_starts_small_once_one_was() {
        let mut backoff = Backoff::default();
        let failing: Vec<u128> = (0..6)
            .map(|_| backoff.after_failure(false).as_millis())
            .collect();
        assert_eq!(failing, vec![50, 100, 200, 400, 800, 1000]);
        // Regression: the pause used to stay at its longest for the rest of the process, so
        // every later broker restart cost the replica a full second before it followed again.
        assert_eq!(backoff.after_failure(true), BACKOFF_MIN);
        assert_eq!(backoff.after_failure(false), 2 * BACKOFF_MIN);
    }
}
