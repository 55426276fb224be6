//! The leader's single writer to the order log.
//!
//! Every accepted trade passes through one task, which gives it the next transaction number and
//! appends it on `orders.new`. Whatever trades are waiting when the task turns to the log go in
//! one pipelined run (`log_append`), each append expecting the id of the message before it, so
//! many clients share one broker round trip and what lands is always a prefix of the run. Each
//! batch goes through three steps:
//! - **plan** ([`plan`]): look each key up among the trades logged in this term and in the store
//!   (which held the whole log when the term started), so a retried trade gets its first number
//!   back; number the new ones from the term's next number;
//! - **append**: one pipelined, fenced run;
//! - **settle** ([`settle`]): answer the callers of what landed, keep what did not for another
//!   attempt, and confirm the logged keys to the catalog.
//!
//! A term begins ([`term`]) when the lease is won: the task appends a `TermStart` marker fenced
//! on the stream's tail, which fences every earlier leader (their next append expects a message
//! that is no longer last). When an append fails (refused, broker down), the task starts the
//! term again and retries the failed trades; after a few rounds it tells the caller to retry.

mod plan;
mod settle;
mod term;

pub use term::TermError;

use crate::election::Lease;
use crate::log_append::{self, RunOutcome, ORDERS_PER_RUN};
use crate::store::{Digest, Logged, OrderStore, StoreError};
use async_nats::jetstream;
use bazaar_nats::messages::TradeRequest;
use plan::{Plan, Waiting};
use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use term::Term;
use tokio::sync::{mpsc, oneshot, watch};
use tokio_util::sync::CancellationToken;

/// Trades waiting to be offered to the sequencer task before callers wait for room.
const QUEUE: usize = 4096;

/// What became of a trade offered to the log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TradeOutcome {
    /// In the log under this transaction number (now or earlier, for a retried key).
    Logged(u64),
    /// This replica does not hold a valid lease.
    NotLeader,
    /// The log could not be written; the caller may retry with the same key. The text says
    /// why, for the person who asked.
    Unavailable(String),
}

/// A trade waiting in the sequencer, with the channel its caller waits on.
type Pending = Waiting<oneshot::Sender<TradeOutcome>>;

/// Why the keys of a batch could not be looked up; its callers are told to retry.
#[derive(Debug, thiserror::Error)]
enum LookupError {
    /// The blocking store task failed.
    #[error("order store task failed: {0}")]
    Task(#[from] tokio::task::JoinError),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Hands trades to the sequencer task.
#[derive(Debug, Clone)]
pub struct Sequencer {
    tx: mpsc::Sender<Pending>,
    next_number: Arc<AtomicU64>,
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
        let (tx, rx) = mpsc::channel(QUEUE);
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

    /// Offers a trade the catalog has applied, producing stock `version`; resolves once it is
    /// logged (or cannot be).
    pub async fn append(&self, trade: TradeRequest, version: u64) -> TradeOutcome {
        let (reply, rx) = oneshot::channel();
        let pending = Waiting {
            trade,
            version,
            attempts: 0,
            reply,
        };
        if self.tx.send(pending).await.is_err() {
            return TradeOutcome::NotLeader;
        }
        rx.await.unwrap_or(TradeOutcome::NotLeader)
    }
}

/// The task behind [`Sequencer`]: the one writer of this leader's orders.
struct SequencerTask {
    js: jetstream::Context,
    client: async_nats::Client,
    store: OrderStore,
    stored: watch::Receiver<Digest>,
    lease: Arc<Lease>,
    next_number: Arc<AtomicU64>,
    /// The term being appended to; `None` until one starts, and after an append left the
    /// stream's tail unknown.
    term: Option<Term>,
    /// Trades whose append failed, tried again first.
    carry: VecDeque<Pending>,
}

/// Why a batch cannot be appended right now.
enum NotReady {
    /// The lease is not (or no longer) valid.
    NotLeader,
    /// The term could not start; the batch is tried again.
    TermNotStarted(TermError),
}

impl SequencerTask {
    async fn run(mut self, mut rx: mpsc::Receiver<Pending>, stop: CancellationToken) {
        let mut terms = self.lease.terms();
        while let Some(batch) = self.next_batch(&mut rx, &mut terms, &stop).await {
            self.process(batch).await;
        }
        rx.close();
        while let Ok(p) = rx.try_recv() {
            let _ = p.reply.send(TradeOutcome::NotLeader);
        }
        for p in self.carry.drain(..) {
            let _ = p.reply.send(TradeOutcome::NotLeader);
        }
    }

    /// The next batch: the carried trades, or whatever is waiting once one trade came, up to
    /// [`ORDERS_PER_RUN`]. Starts a term as soon as the lease is won, so the previous leader
    /// is fenced before the first trade. `None` once the task is to stop.
    async fn next_batch(
        &mut self,
        rx: &mut mpsc::Receiver<Pending>,
        terms: &mut watch::Receiver<Option<u64>>,
        stop: &CancellationToken,
    ) -> Option<Vec<Pending>> {
        let mut batch: Vec<Pending> = self.carry.drain(..).collect();
        while batch.is_empty() {
            tokio::select! {
                () = stop.cancelled() => return None,
                changed = terms.changed() => {
                    changed.ok()?;
                    let started = *terms.borrow_and_update();
                    if let Some(epoch) = started {
                        if let Err(why) = self.begin_term(epoch).await {
                            tracing::warn!(error = %why, "cannot start the term yet");
                        }
                    }
                }
                next = rx.recv() => batch.push(next?),
            }
        }
        while batch.len() < ORDERS_PER_RUN {
            match rx.try_recv() {
                Ok(p) => batch.push(p),
                Err(_) => break,
            }
        }
        Some(batch)
    }

    /// One batch through plan, append and settle.
    async fn process(&mut self, batch: Vec<Pending>) {
        let term = match self.ready_term().await {
            Ok(term) => term,
            Err(not_ready) => return self.turn_away(batch, not_ready),
        };
        let known = match self.lookup(&term, &batch).await {
            Ok(known) => known,
            Err(why) => {
                self.term = Some(term);
                let why = why.to_string();
                for p in batch {
                    let _ = p.reply.send(TradeOutcome::Unavailable(why.clone()));
                }
                return;
            }
        };
        let plan = plan::plan(batch, known, term.next);
        let outcome = self.append(&term, &plan).await;
        let confirmed = self.settle(term, plan, outcome);
        self.confirm(confirmed).await;
    }

    /// The term to append in, started afresh when the lease's epoch is not the current term's.
    async fn ready_term(&mut self) -> Result<Term, NotReady> {
        let Some(epoch) = self.lease.valid_epoch() else {
            self.term = None;
            return Err(NotReady::NotLeader);
        };
        if self.term.as_ref().is_none_or(|t| t.epoch != epoch) {
            self.begin_term(epoch)
                .await
                .map_err(NotReady::TermNotStarted)?;
        }
        self.term.take().ok_or(NotReady::NotLeader)
    }

    /// Answers a batch that cannot be appended now: not leading, or keeps it for later.
    fn turn_away(&mut self, batch: Vec<Pending>, not_ready: NotReady) {
        match not_ready {
            NotReady::NotLeader => {
                for p in batch {
                    let _ = p.reply.send(TradeOutcome::NotLeader);
                }
            }
            NotReady::TermNotStarted(why) => {
                tracing::warn!(error = %why, "cannot start appending to the order log");
                let why = why.to_string();
                for p in batch {
                    self.retry_later(p, &why);
                }
            }
        }
    }

    /// The plan's new orders, appended in one run right after the term's tail.
    async fn append(&self, term: &Term, plan: &Plan<oneshot::Sender<TradeOutcome>>) -> RunOutcome {
        if plan.records.is_empty() {
            return RunOutcome::empty(term.tail.clone());
        }
        log_append::append(&self.js, &term.tail, term.epoch, &plan.records).await
    }

    async fn begin_term(&mut self, epoch: u64) -> Result<(), TermError> {
        self.term = None;
        let term = term::begin(&self.js, &self.stored, self.lease.id(), epoch).await?;
        self.next_number.store(term.next, Ordering::Release);
        self.term = Some(term);
        Ok(())
    }

    /// For each pending trade, where its key was logged: in this term, or in the store.
    async fn lookup(
        &self,
        term: &Term,
        batch: &[Pending],
    ) -> Result<Vec<Option<Logged>>, LookupError> {
        let keys: Vec<String> = batch
            .iter()
            .map(|p| p.trade.key.as_str().to_string())
            .collect();
        let store = self.store.clone();
        let stored =
            bazaar_nats::blocking::run(move || store.find_logged(keys.iter().map(String::as_str)))
                .await??;
        Ok(batch
            .iter()
            .zip(stored)
            .map(|(p, s)| term.recent.get(p.trade.key.as_str()).copied().or(s))
            .collect())
    }
}
