//! The leader's single writer to the order log.
//!
//! Every accepted trade passes through one task, which gives it the next transaction number and
//! publishes it on `orders.new`. Whatever trades are waiting when the task turns to the log go
//! together (`log_append`: a few one at a time, many as one atomic JetStream batch, so that many
//! clients share one broker round trip):
//! - each append expects (`Nats-Expected-Last-Sequence`) the stream's last sequence as this
//!   leader knows it, so JetStream stores it only if nothing else was appended since. When a
//!   replica starts a term it first appends a `TermStart` marker on `orders.term`, which moves the
//!   last sequence: from then on every append of an earlier leader (paused, partitioned, not yet
//!   aware it lost the lease) is refused. That is the fence; the lease only decides who may try.
//! - what lands is always a prefix of the waiting orders, so a refused append never leaves a hole
//!   in the numbers.
//! - `Nats-Msg-Id` = the trade's idempotency key, so the broker also refuses a repeated key.
//!
//! Before numbering, the task looks each key up among the trades logged in this term and in the
//! store (which held the whole log when the term started), so a retried trade gets its first
//! number back. One batch is in flight at a time: the next one expects the sequence this one got.
//!
//! When an append fails (refused sequence, broker down), the task starts the term again (re-reads
//! the tail, waits for the store, appends a new marker) and retries the failed trades; after a
//! few rounds it tells the caller to retry.

use crate::election::Lease;
use crate::log_append::{self, AppendError};
use crate::store::Digest;
use crate::store::OrderStore;
use async_nats::jetstream::stream::LastRawMessageErrorKind;
use async_nats::jetstream::{self, message::PublishMessage};
use bazaar_nats::messages::{encode, ConfirmLogged, OrderRecord, TermStart, TradeRequest};
use bazaar_nats::subjects::{ORDERS_NEW, ORDERS_STREAM, ORDERS_TERM, TRADES_CONFIRM};
use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, oneshot, watch};
use tokio_util::sync::CancellationToken;

/// Most trades numbered and published together (one atomic batch, below the broker's limit).
const MAX_BATCH: usize = 512;
const _: () = assert!(MAX_BATCH <= log_append::MAX_BATCH);
/// Rounds an append may fail before the caller is told to retry.
const MAX_ATTEMPTS: u32 = 3;
/// Above this many remembered keys, those the store already holds are forgotten.
const RECENT_PRUNE_AT: usize = 50_000;
/// How long to wait for the store to catch up with the stream when a term (re)starts.
const CATCH_UP_WAIT: Duration = Duration::from_secs(3);

/// What became of a trade offered to the log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Appended {
    /// In the log under this transaction number (now or earlier, for a retried key).
    Logged(u64),
    /// This replica does not hold a valid lease.
    NotLeader,
    /// The log could not be written; the caller may retry with the same key.
    Unavailable(String),
}

struct Pending {
    trade: TradeRequest,
    /// The stock version the catalog's application of the trade produced.
    version: u64,
    attempts: u32,
    reply: oneshot::Sender<Appended>,
}

/// Hands trades to the sequencer task.
#[derive(Debug, Clone)]
pub struct Sequencer {
    tx: mpsc::Sender<Pending>,
    next_number: Arc<AtomicU64>,
}

impl std::fmt::Debug for Pending {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pending")
            .field("key", &self.trade.key)
            .finish()
    }
}

impl Sequencer {
    /// Starts the sequencer task; it runs until `stop` is cancelled.
    pub fn start(
        js: jetstream::Context,
        client: async_nats::Client,
        store: OrderStore,
        stored: watch::Receiver<Digest>,
        lease: Arc<Lease>,
        stop: CancellationToken,
    ) -> (Self, tokio::task::JoinHandle<()>) {
        let (tx, rx) = mpsc::channel(4096);
        let next_number = Arc::new(AtomicU64::new(0));
        let task = SequencerTask {
            next_number: next_number.clone(),
            js,
            client,
            store,
            stored,
            lease,
            term: None,
            carry: VecDeque::new(),
        };
        let handle = tokio::spawn(task.run(rx, stop));
        (Self { tx, next_number }, handle)
    }

    /// The number the next order of this leader's term will get (0 before any term): every
    /// lower number is in the log, if not yet in the store.
    pub fn next_number(&self) -> u64 {
        self.next_number.load(Ordering::Acquire)
    }

    /// Offers a trade the catalog has applied; resolves once it is logged (or cannot be).
    pub async fn append(&self, trade: TradeRequest, version: u64) -> Appended {
        let (reply, rx) = oneshot::channel();
        let pending = Pending {
            trade,
            version,
            attempts: 0,
            reply,
        };
        if self.tx.send(pending).await.is_err() {
            return Appended::NotLeader;
        }
        rx.await.unwrap_or(Appended::NotLeader)
    }
}

/// The state of one leadership term.
struct Term {
    epoch: u64,
    /// The next transaction number.
    next: u64,
    /// The stream's last sequence, as far as this leader appended.
    last_sequence: u64,
    /// Keys logged during this term that the store may not hold yet.
    recent: HashMap<String, u64>,
}

struct SequencerTask {
    js: jetstream::Context,
    client: async_nats::Client,
    store: OrderStore,
    stored: watch::Receiver<Digest>,
    lease: Arc<Lease>,
    next_number: Arc<AtomicU64>,
    term: Option<Term>,
    /// Trades whose append failed, tried again first.
    carry: VecDeque<Pending>,
}

impl SequencerTask {
    async fn run(mut self, mut rx: mpsc::Receiver<Pending>, stop: CancellationToken) {
        let mut terms = self.lease.terms();
        loop {
            let mut batch: Vec<Pending> = self.carry.drain(..).collect();
            if batch.is_empty() {
                tokio::select! {
                    () = stop.cancelled() => break,
                    changed = terms.changed() => {
                        if changed.is_err() {
                            break;
                        }
                        // Fence the previous leader as soon as the lease is won, not at the
                        // first trade.
                        let started = *terms.borrow_and_update();
                        if let Some(epoch) = started {
                            if let Err(why) = self.begin_term(epoch).await {
                                tracing::warn!(error = %why, "cannot start the term yet");
                            }
                        }
                        continue;
                    }
                    next = rx.recv() => match next {
                        Some(p) => batch.push(p),
                        None => break,
                    },
                }
            }
            while batch.len() < MAX_BATCH {
                match rx.try_recv() {
                    Ok(p) => batch.push(p),
                    Err(_) => break,
                }
            }
            self.process(batch).await;
        }
        rx.close();
        while let Ok(p) = rx.try_recv() {
            let _ = p.reply.send(Appended::NotLeader);
        }
        for p in self.carry.drain(..) {
            let _ = p.reply.send(Appended::NotLeader);
        }
    }

    async fn process(&mut self, batch: Vec<Pending>) {
        let Some(epoch) = self.lease.valid_epoch() else {
            self.term = None;
            for p in batch {
                let _ = p.reply.send(Appended::NotLeader);
            }
            return;
        };
        if self.term.as_ref().is_none_or(|t| t.epoch != epoch) {
            if let Err(why) = self.begin_term(epoch).await {
                tracing::warn!(error = %why, "cannot start appending to the order log");
                for p in batch {
                    self.retry_later(p, why.clone());
                }
                return;
            }
        }
        let Some(mut term) = self.term.take() else {
            return;
        };

        // Keys already logged keep their number.
        let known = match self.lookup(&term, &batch).await {
            Ok(known) => known,
            Err(why) => {
                for p in batch {
                    let _ = p.reply.send(Appended::Unavailable(why.clone()));
                }
                self.term = Some(term);
                return;
            }
        };
        let mut confirmed = Vec::new();
        let mut to_publish = Vec::new();
        let mut in_batch: HashMap<String, u64> = HashMap::new();
        let mut duplicates = Vec::new();
        for (p, number) in batch.into_iter().zip(known) {
            if let Some(n) = number {
                confirmed.push(p.trade.key.clone());
                let _ = p.reply.send(Appended::Logged(n));
            } else if in_batch.contains_key(p.trade.key.as_str()) {
                duplicates.push(p);
            } else {
                let number = term.next + to_publish.len() as u64;
                in_batch.insert(p.trade.key.as_str().to_string(), number);
                to_publish.push((number, p));
            }
        }

        // The new orders go to the log right after the sequence this term last saw, one at a
        // time or as one atomic batch (see `log_append`): what lands is always a prefix, so a
        // refusal never leaves a hole in the numbers.
        let mut logged_in_batch = HashMap::new();
        let mut failed = false;
        if !to_publish.is_empty() {
            let records: Vec<OrderRecord> = to_publish
                .iter()
                .map(|(number, p)| OrderRecord {
                    number: *number,
                    key: p.trade.key.clone(),
                    name: p.trade.name.clone(),
                    side: p.trade.side,
                    quantity: p.trade.quantity,
                    version: p.version,
                })
                .collect();
            let outcome = log_append::append(&self.js, term.last_sequence, epoch, &records).await;
            term.last_sequence = outcome.last_sequence;
            term.next += outcome.landed as u64;
            self.next_number.store(term.next, Ordering::Release);
            // Reply only while the lease holds; a retry finds the number again.
            let leading = self.lease.valid_epoch() == Some(epoch);
            let mut waiting = to_publish.into_iter();
            for (number, p) in waiting.by_ref().take(outcome.landed) {
                let key = p.trade.key.as_str().to_string();
                term.recent.insert(key.clone(), number);
                logged_in_batch.insert(key, number);
                confirmed.push(p.trade.key.clone());
                let _ = p.reply.send(if leading {
                    Appended::Logged(number)
                } else {
                    Appended::NotLeader
                });
            }
            if let Some(e) = outcome.error {
                failed = true;
                let left = records.len() - outcome.landed;
                match &e {
                    AppendError::Refused { fenced: true, .. } => tracing::warn!(
                        epoch,
                        orders = left,
                        "order log append refused: another leader appended"
                    ),
                    other => {
                        tracing::warn!(error = %other, orders = left, "order log append failed");
                    }
                }
                for (_, p) in waiting {
                    self.retry_later(p, e.to_string());
                }
            }
        }
        for p in duplicates {
            match logged_in_batch.get(p.trade.key.as_str()) {
                Some(n) => {
                    let _ = p.reply.send(Appended::Logged(*n));
                }
                None => self.retry_later(p, "its twin was not logged".into()),
            }
        }
        if term.recent.len() > RECENT_PRUNE_AT {
            let stored = self.stored.borrow().count;
            term.recent.retain(|_, number| *number >= stored);
        }
        // A failed append leaves the stream's tail unknown: re-read it before the next batch.
        if !failed {
            self.term = Some(term);
        }
        if !confirmed.is_empty() {
            let confirm = encode(&ConfirmLogged { keys: confirmed });
            if let Err(e) = self.client.publish(TRADES_CONFIRM, confirm).await {
                tracing::debug!(error = %e, "could not confirm logged trades to the catalog");
            }
        }
    }

    fn retry_later(&mut self, mut p: Pending, why: String) {
        p.attempts += 1;
        if p.attempts >= MAX_ATTEMPTS {
            let _ = p.reply.send(Appended::Unavailable(why));
        } else {
            self.carry.push_back(p);
        }
    }

    /// Starts a term: reads the stream's tail and its last order, waits until the store holds
    /// all of it and agrees with it, then appends the term marker that fences every earlier
    /// leader. The next number comes from the log, and a store that disagrees refuses to lead.
    async fn begin_term(&mut self, epoch: u64) -> Result<(), String> {
        self.term = None;
        let stream = self
            .js
            .get_stream(ORDERS_STREAM)
            .await
            .map_err(|e| format!("cannot read the order log: {e}"))?;
        let last = stream.cached_info().state.last_sequence;
        // The log itself says which number comes next: one past its last order's.
        let next = match stream.get_last_raw_message_by_subject(ORDERS_NEW).await {
            Ok(message) => serde_json::from_slice::<OrderRecord>(&message.payload)
                .map(|r| r.number + 1)
                .map_err(|e| format!("the log's last order is unreadable: {e}"))?,
            Err(e) if e.kind() == LastRawMessageErrorKind::NoMessageFound => 0,
            Err(e) => return Err(format!("cannot read the log's last order: {e}")),
        };
        let mut stored = self.stored.clone();
        let digest = *tokio::time::timeout(CATCH_UP_WAIT, stored.wait_for(|d| d.sequence >= last))
            .await
            .map_err(|_| format!("store is still catching up to sequence {last}"))?
            .map_err(|_| "log follower stopped".to_string())?;
        if digest.sequence != last || digest.count != next {
            // The store does not mirror the log (it moved on, or diverged and is being
            // rebuilt): numbering from it could repeat or skip a number.
            return Err(format!(
                "store (sequence {}, {} orders) does not match the log (sequence {last}, {next} orders)",
                digest.sequence, digest.count
            ));
        }
        // Refused unless `last` is still the tail, in which case the count read at `last` holds.
        let marker = TermStart {
            leader: self.lease.id(),
            epoch,
            next_number: digest.count,
        };
        let message = PublishMessage::build()
            .payload(encode(&marker))
            .expected_last_sequence(last);
        let ack = self
            .js
            .send_publish(ORDERS_TERM, message)
            .await
            .map_err(|e| format!("cannot append the term marker: {e}"))?
            .await
            .map_err(|e| format!("term marker refused: {e}"))?;
        tracing::info!(
            epoch,
            next = digest.count,
            sequence = ack.sequence,
            "term started: appending to the order log"
        );
        self.next_number.store(digest.count, Ordering::Release);
        self.term = Some(Term {
            epoch,
            next: digest.count,
            last_sequence: ack.sequence,
            recent: HashMap::new(),
        });
        Ok(())
    }

    /// For each pending trade, the number it was already logged under, if any.
    async fn lookup(&self, term: &Term, batch: &[Pending]) -> Result<Vec<Option<u64>>, String> {
        let keys: Vec<String> = batch
            .iter()
            .map(|p| p.trade.key.as_str().to_string())
            .collect();
        let store = self.store.clone();
        let stored =
            tokio::task::spawn_blocking(move || store.numbers_of(keys.iter().map(String::as_str)))
                .await
                .map_err(|e| format!("order store task failed: {e}"))?
                .map_err(|e| e.to_string())?;
        Ok(batch
            .iter()
            .zip(stored)
            .map(|(p, s)| s.or_else(|| term.recent.get(p.trade.key.as_str()).copied()))
            .collect())
    }
}
