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
//! - **settle**: answer the callers of what landed, keep what did not for another attempt, and
//!   confirm the logged keys to the catalog.
//!
//! A term begins ([`term`]) when the lease is won: the task appends a `TermStart` marker fenced
//! on the stream's tail, which fences every earlier leader (their next append expects a message
//! that is no longer last). When an append fails (refused, broker down), the task starts the
//! term again and retries the failed trades; after a few rounds it tells the caller to retry.

mod plan;
mod term;

pub use term::TermError;

use crate::election::Lease;
use crate::log_append::{self, AppendError, Outcome};
use crate::store::{Digest, Logged, OrderStore};
use async_nats::jetstream;
use bazaar_nats::messages::{encode, ConfirmLogged, OrderRecord, TradeRequest};
use bazaar_nats::subjects::TRADES_CONFIRM;
use bazaar_nats::IdempotencyKey;
use plan::{Plan, Waiting};
use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use term::Term;
use tokio::sync::{mpsc, oneshot, watch};
use tokio_util::sync::CancellationToken;

/// Most trades numbered and appended in one run.
pub const MAX_BATCH: usize = 512;
/// Rounds an append may fail before the caller is told to retry.
const MAX_ATTEMPTS: u32 = 3;
/// Above this many remembered keys, those the store already holds are forgotten.
const RECENT_PRUNE_AT: usize = 50_000;

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

type Pending = Waiting<oneshot::Sender<Appended>>;

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

    /// Offers a trade the catalog has applied, producing stock `version`; resolves once it is
    /// logged (or cannot be).
    pub async fn append(&self, trade: TradeRequest, version: u64) -> Appended {
        let (reply, rx) = oneshot::channel();
        let pending = Waiting {
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

    /// Plans, appends and settles one batch.
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
                    self.retry_later(p, why.to_string());
                }
                return;
            }
        }
        let Some(mut term) = self.term.take() else {
            return;
        };
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
        let plan = plan::plan(batch, known, term.next);
        let records: Vec<OrderRecord> = plan.new.iter().map(|(r, _)| r.clone()).collect();
        let outcome = if records.is_empty() {
            Outcome {
                landed: 0,
                tail: term.tail.clone(),
                error: None,
            }
        } else {
            log_append::append(&self.js, &term.tail, epoch, &records).await
        };
        let failed = outcome.error.is_some();
        let confirmed = self.settle(&mut term, plan, outcome);
        // A failed append leaves the stream's tail unknown: start the term again.
        if !failed {
            self.term = Some(term);
        }
        self.confirm(confirmed).await;
    }

    /// Answers what landed (while the lease holds) and keeps the rest for another attempt;
    /// returns every key now known to be logged.
    fn settle(
        &mut self,
        term: &mut Term,
        plan: Plan<oneshot::Sender<Appended>>,
        outcome: Outcome,
    ) -> Vec<IdempotencyKey> {
        let first_new = term.next;
        term.tail = outcome.tail;
        term.next += outcome.landed as u64;
        self.next_number.store(term.next, Ordering::Release);
        let leading = self.lease.valid_epoch() == Some(term.epoch);
        let mut confirmed: Vec<IdempotencyKey> = Vec::new();
        for (p, number) in plan.logged {
            confirmed.push(p.trade.key.clone());
            let _ = p.reply.send(Appended::Logged(number));
        }
        let why = outcome
            .error
            .as_ref()
            .map(|e| self.report(e, plan.new.len() - outcome.landed));
        let mut new = plan.new.into_iter();
        for (record, p) in new.by_ref().take(outcome.landed) {
            let logged = Logged {
                number: record.number,
                version: record.version,
            };
            term.recent.insert(record.key.as_str().to_string(), logged);
            confirmed.push(record.key);
            let _ = p.reply.send(if leading {
                Appended::Logged(record.number)
            } else {
                Appended::NotLeader
            });
        }
        let why = why.unwrap_or_default();
        for (_, p) in new {
            self.retry_later(p, why.clone());
        }
        for (p, number) in plan.twins {
            if number < first_new + outcome.landed as u64 && leading {
                let _ = p.reply.send(Appended::Logged(number));
            } else {
                self.retry_later(p, "its twin was not logged".into());
            }
        }
        for p in plan.later {
            self.retry_later(p, "another application of its key is being logged".into());
        }
        if term.recent.len() > RECENT_PRUNE_AT {
            let stored = self.stored.borrow().count;
            term.recent.retain(|_, logged| logged.number >= stored);
        }
        confirmed
    }

    /// Logs why a run did not land whole; returns the reason for the callers.
    fn report(&self, error: &AppendError, left: usize) -> String {
        if error.is_fenced() {
            metrics::counter!(crate::metrics::APPENDS_FENCED).increment(1);
            tracing::warn!(
                orders = left,
                "order log append refused: another leader appended"
            );
        } else {
            tracing::warn!(error = %error, orders = left, "order log append failed");
        }
        error.to_string()
    }

    /// Tells the catalog these keys are in the log (a publish: a lost confirm is repeated by
    /// the roll-forward).
    async fn confirm(&self, keys: Vec<IdempotencyKey>) {
        if keys.is_empty() {
            return;
        }
        let payload = encode(&ConfirmLogged { keys });
        if let Err(e) = self.client.publish(TRADES_CONFIRM, payload).await {
            tracing::debug!(error = %e, "could not confirm logged trades to the catalog");
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

    async fn begin_term(&mut self, epoch: u64) -> Result<(), TermError> {
        self.term = None;
        let term = term::begin(&self.js, &self.stored, self.lease.id(), epoch).await?;
        self.next_number.store(term.next, Ordering::Release);
        self.term = Some(term);
        Ok(())
    }

    /// For each pending trade, where its key was logged: in this term, or in the store.
    async fn lookup(&self, term: &Term, batch: &[Pending]) -> Result<Vec<Option<Logged>>, String> {
        let keys: Vec<String> = batch
            .iter()
            .map(|p| p.trade.key.as_str().to_string())
            .collect();
        let store = self.store.clone();
        let stored =
            bazaar_nats::blocking::run(move || store.find_logged(keys.iter().map(String::as_str)))
                .await
                .map_err(|e| format!("order store task failed: {e}"))?
                .map_err(|e| e.to_string())?;
        Ok(batch
            .iter()
            .zip(stored)
            .map(|(p, s)| term.recent.get(p.trade.key.as_str()).copied().or(s))
            .collect())
    }
}
