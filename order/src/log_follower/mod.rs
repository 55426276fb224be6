//! Materialises the JetStream order log into this replica's store.
//!
//! An ordered consumer replays the stream from the first sequence the store lacks, so a
//! replica that was down, or whose data dir was wiped, catches up by itself. Whatever has
//! arrived is applied as one batch, committed lazily and made durable every so often
//! ([`flush`]), so catching up costs few fsyncs and the trade path shares the disk with none.
//! Before each consumer is made, [`resume`] checks that the store still mirrors the stream.
//! Any consumer error (nats-server restarting, a missed heartbeat) ends the consumer; it is
//! made again from the store's sequence.

mod backoff;
mod error;
mod flush;
mod resume;

pub use error::FollowError;
pub use resume::ResumeError;

use crate::hold::Hold;
use crate::store::{Commit, Digest, LogEntry, OrderStore};
use async_nats::jetstream::{self, consumer};
use backoff::Backoff;
use bazaar_nats::subjects::{ORDERS_ALL, ORDERS_STREAM};
use flush::Flush;
use futures::StreamExt;
use std::time::{Duration, Instant};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

/// Most log messages applied to a store in one redb transaction, by the follower and by the
/// replay of the whole log.
pub(crate) const LOG_MESSAGES_PER_STORE_WRITE: usize = 2048;
/// With no message for this long, compare the store with the stream: a consumer that silently
/// stops delivering (which a broker restart can cause) is made again.
const STALL_CHECK: Duration = Duration::from_secs(2);

/// Follows the order log into the store and publishes how far the store got.
#[derive(Debug)]
pub struct LogFollower {
    js: jetstream::Context,
    store: OrderStore,
    stored: watch::Sender<Digest>,
    reconnects: watch::Receiver<u64>,
    hold: Hold,
    flush: Flush,
    gate: bazaar_nats::fault::FaultGate,
}

impl LogFollower {
    /// A follower writing into `store`; `stored` carries the store's digest, `hold` is lifted
    /// once the store holds what a set-aside store held. Each change of `reconnects` (a NATS
    /// reconnect) makes the consumer again.
    pub fn new(
        js: jetstream::Context,
        store: OrderStore,
        stored: watch::Sender<Digest>,
        reconnects: watch::Receiver<u64>,
        hold: Hold,
    ) -> Self {
        Self {
            js,
            store,
            stored,
            reconnects,
            hold,
            flush: Flush::default(),
            gate: bazaar_nats::fault::FaultGate::new(),
        }
    }

    /// The same follower, held by `gate`: an injected pause stops it applying the log.
    pub fn with_gate(mut self, gate: bazaar_nats::fault::FaultGate) -> Self {
        self.gate = gate;
        self
    }

    /// Follows the log until `stop` is cancelled, re-creating the consumer after any error,
    /// then makes what it applied durable. The pause before re-creating a consumer doubles
    /// while attempts keep failing before a consumer exists, and starts small again once one
    /// was made: a consumer ended by a broker restart hours after the previous one is
    /// re-created at once, not after the longest pause.
    pub async fn run(mut self, stop: CancellationToken) {
        let mut backoff = Backoff::default();
        loop {
            self.reconnects.mark_unchanged();
            let mut consumer_made = false;
            let result = tokio::select! {
                () = stop.cancelled() => break,
                r = self.follow_once(&stop, &mut consumer_made) => r,
            };
            let Err(e) = result else { break };
            tracing::warn!(error = %e, "order log consumer ended; re-creating it");
            let pause = backoff.after_failure(consumer_made);
            tokio::select! {
                () = stop.cancelled() => break,
                () = tokio::time::sleep(pause) => {}
            }
        }
        self.make_durable().await;
    }

    /// One consumer's life: sets `consumer_made` once the consumer exists.
    async fn follow_once(
        &mut self,
        stop: &CancellationToken,
        consumer_made: &mut bool,
    ) -> Result<(), FollowError> {
        let digest = *self.stored.borrow();
        let stream = self.js.get_stream(ORDERS_STREAM).await?;
        let tail = stream.cached_info().state.last_sequence;
        if let Some(mismatch) = resume::check(&self.store, &stream, digest, tail).await? {
            resume::set_aside(&self.store, &self.hold, digest, tail, &mismatch).await?;
            self.flush.flushed();
            self.stored.send_replace(Digest::default());
            return Err(FollowError::SetAside);
        }
        let consumer = stream
            .create_consumer(consumer::pull::OrderedConfig {
                filter_subject: ORDERS_ALL.to_string(),
                deliver_policy: consumer::DeliverPolicy::ByStartSequence {
                    start_sequence: digest.sequence + 1,
                },
                ..Default::default()
            })
            .await?;
        *consumer_made = true;
        tracing::debug!(start = digest.sequence + 1, "following the order log");
        let mut batches = consumer
            .messages()
            .await?
            .ready_chunks(LOG_MESSAGES_PER_STORE_WRITE);
        let mut reconnects = self.reconnects.clone();
        // The last time a message came or the stall check found the store at the stream's end.
        let mut quiet_since = Instant::now();
        loop {
            let wait = self.wait_before_idle(quiet_since);
            let batch = tokio::select! {
                () = stop.cancelled() => return Ok(()),
                _ = reconnects.changed() => return Err(FollowError::Reconnected),
                b = tokio::time::timeout(wait, batches.next()) => b,
            };
            match batch {
                Ok(Some(batch)) => {
                    self.gate.pass().await;
                    quiet_since = Instant::now();
                    self.apply(batch).await?;
                }
                Ok(None) => return Err(FollowError::ConsumerClosed),
                Err(_idle) => {
                    if self.on_idle(quiet_since).await? {
                        quiet_since = Instant::now();
                    }
                }
            }
        }
    }

    /// How long to wait for the next messages: until the lazy commits are due, or the stall
    /// check.
    fn wait_before_idle(&self, quiet_since: Instant) -> Duration {
        let stall = (quiet_since + STALL_CHECK).saturating_duration_since(Instant::now());
        match self.flush.due() {
            Some(due) => due.saturating_duration_since(Instant::now()).min(stall),
            None => stall,
        }
        .max(Duration::from_millis(1))
    }

    /// No message for a while: make lazy commits durable when due, and once the log has been
    /// quiet for [`STALL_CHECK`], check the consumer has not silently stopped. Returns whether
    /// that check was made (and passed).
    async fn on_idle(&mut self, quiet_since: Instant) -> Result<bool, FollowError> {
        if self.flush.due().is_some_and(|due| due <= Instant::now()) {
            self.make_durable().await;
        }
        if quiet_since.elapsed() < STALL_CHECK {
            return Ok(false);
        }
        let stream = self.js.get_stream(ORDERS_STREAM).await?;
        let last = stream.cached_info().state.last_sequence;
        if last > self.stored.borrow().sequence {
            return Err(FollowError::Stalled { last });
        }
        Ok(true)
    }

    /// Decodes and applies one batch of consumer messages.
    async fn apply(
        &mut self,
        batch: Vec<Result<jetstream::Message, jetstream::consumer::pull::OrderedError>>,
    ) -> Result<(), FollowError> {
        let mut entries = Vec::with_capacity(batch.len());
        let mut failure = None;
        for item in batch {
            match item {
                Ok(message) => {
                    let sequence = message
                        .info()
                        .map_err(FollowError::MessageInfo)?
                        .stream_sequence;
                    entries.push(LogEntry::decode(
                        message.subject.as_str(),
                        sequence,
                        message.headers.as_ref(),
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
            self.store_entries(entries).await?;
        }
        match failure {
            Some(e) => Err(e.into()),
            None => Ok(()),
        }
    }

    /// Writes entries into the store and publishes the new digest.
    async fn store_entries(&mut self, entries: Vec<LogEntry>) -> Result<(), FollowError> {
        let commit = self.flush.commit_for(entries.len() as u64, Instant::now());
        let store = self.store.clone();
        let appended = bazaar_nats::blocking::run(move || store.append(&entries, commit)).await??;
        for (sequence, reason) in &appended.skipped {
            tracing::error!(
                sequence,
                reason = %reason,
                "skipped a message of the order log that does not continue it"
            );
        }
        let digest = appended.digest;
        self.stored.send_replace(digest);
        if commit == Commit::Durable {
            tracing::trace!(sequence = digest.sequence, "order store durable");
        }
        match self.hold.lift_if_reached(digest.count) {
            Ok(Some(lifted)) => tracing::info!(
                orders = digest.count,
                aside = %lifted.aside.display(),
                "the order log holds every order of the set-aside store again; this replica may lead"
            ),
            Ok(None) => {}
            Err(e) => tracing::warn!(error = %e, "cannot lift the hold"),
        }
        Ok(())
    }

    /// Makes every lazy commit durable (logged, not fatal: a crash replays from the log).
    async fn make_durable(&mut self) {
        if self.flush.due().is_none() {
            return;
        }
        let store = self.store.clone();
        match bazaar_nats::blocking::run(move || store.flush()).await {
            Ok(Ok(())) => self.flush.flushed(),
            Ok(Err(e)) => tracing::warn!(error = %e, "cannot make the order store durable"),
            Err(e) => tracing::warn!(error = %e, "order store flush task failed"),
        }
    }
}
