//! The batching writer: the one task that writes to the store.
//!
//! Handlers hand it trades and confirms, and the pruner its prunes, through a [`WriterHandle`].
//! It takes everything waiting (up to [`JOBS_PER_STORE_WRITE`]), runs it in one durable redb transaction,
//! and only then answers every waiter and publishes one `Invalidation` per changed stock, with
//! its state after the batch. One fsync thus covers a whole batch, and since a single task does
//! every write no update is ever lost and two requests with one key are decided in queue order.
//! A batch holding only confirms and prunes waits briefly for trades to share its commit
//! ([`CONFIRM_LINGER`]).
//!
//! It stops when every [`WriterHandle`] is dropped, after finishing what was already queued.

use crate::keys::Pruned;
use crate::store::{OpAnswer, Store, StoreError, WriteOp};
use bazaar_nats::messages::{encode, Invalidation, Reply, TradeApplied, TradeRequest};
use bazaar_nats::subjects::STOCK_INVALIDATE;
use bazaar_nats::{IdempotencyKey, StockName};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tokio::sync::{mpsc, oneshot};
use tracing::{debug, error, info, instrument, warn};

/// Most operations committed in one transaction.
pub const JOBS_PER_STORE_WRITE: usize = 512;
/// How many operations may wait for the writer before handlers wait to enqueue.
const QUEUE_CAPACITY: usize = 4096;
/// How long a batch of confirms alone waits for trades to share its commit. Under trade load
/// the order leader confirms each trade just as the next one is on its way, and a commit of its
/// own (an fsync) would hold that next trade up; riding along costs it nothing. Nobody waits on
/// a confirm (the leader publishes it), and a lost one is only re-confirmed by the roll-forward.
const CONFIRM_LINGER: Duration = Duration::from_millis(20);

/// Why the writer did not do an operation; in every case nothing of it was applied.
#[derive(Debug, Clone, thiserror::Error)]
pub enum WriteError {
    /// The writer has stopped (the catalog is shutting down): another catalog may take it.
    #[error("the catalog is shutting down")]
    Stopped,
    /// The batch it was in could not be committed; the same operation may succeed later.
    #[error("catalog could not commit: {0}")]
    CommitFailed(#[source] Arc<StoreError>),
    /// The batch answered another kind of operation than this one: a fault of the writer.
    #[error("the batch lost this operation's answer")]
    AnswerLost,
}

/// One queued operation and the waiter to answer once it is durable.
#[derive(Debug)]
enum Job {
    Trade {
        request: TradeRequest,
        reply: oneshot::Sender<Reply<TradeApplied>>,
    },
    Confirm {
        keys: Vec<IdempotencyKey>,
        done: oneshot::Sender<Reply<()>>,
    },
    Prune {
        before_ms: u64,
        limit: usize,
        done: oneshot::Sender<Result<Pruned, WriteError>>,
    },
}

/// Sends work to the writer task. Clone it freely; the writer stops once every clone is gone.
#[derive(Debug, Clone)]
pub struct WriterHandle {
    jobs: mpsc::Sender<Job>,
}

impl WriterHandle {
    /// Applies `request` at most once per key and returns the answer once it is durable
    /// (`unavailable` when the writer has stopped, `error` when the commit failed).
    pub async fn trade(&self, request: TradeRequest) -> Reply<TradeApplied> {
        let (reply, answer) = oneshot::channel();
        if self.jobs.send(Job::Trade { request, reply }).await.is_err() {
            return stopped();
        }
        answer.await.unwrap_or_else(|_| stopped())
    }

    /// Forgets the records of up to `limit` keys applied before `before_ms` (except unlogged
    /// ones); resolves once that is durable, with what was pruned.
    ///
    /// # Errors
    /// [`WriteError`]: why nothing was pruned.
    pub async fn prune(&self, before_ms: u64, limit: usize) -> Result<Pruned, WriteError> {
        let (done, answer) = oneshot::channel();
        let job = Job::Prune {
            before_ms,
            limit,
            done,
        };
        if self.jobs.send(job).await.is_err() {
            return Err(WriteError::Stopped);
        }
        answer.await.unwrap_or(Err(WriteError::Stopped))
    }

    /// Forgets `keys` from the unlogged set; resolves once that is durable.
    pub async fn confirm(&self, keys: Vec<IdempotencyKey>) -> Reply<()> {
        let (done, answer) = oneshot::channel();
        if self.jobs.send(Job::Confirm { keys, done }).await.is_err() {
            return stopped();
        }
        answer.await.unwrap_or_else(|_| stopped())
    }
}

/// Creates the writer's queue: the handle for handlers and the [`Writer`] to run.
pub fn channel(store: Store, client: async_nats::Client) -> (WriterHandle, Writer) {
    let (tx, rx) = mpsc::channel(QUEUE_CAPACITY);
    (
        WriterHandle { jobs: tx },
        Writer {
            store,
            client,
            jobs: rx,
        },
    )
}

/// The writer task's state: the store it alone writes, the client for invalidations, its queue.
#[derive(Debug)]
pub struct Writer {
    store: Store,
    client: async_nats::Client,
    jobs: mpsc::Receiver<Job>,
}

impl Writer {
    /// Runs until every [`WriterHandle`] is dropped and the queue is empty.
    pub async fn run(mut self) {
        info!("writer started");
        let mut batch = Vec::with_capacity(JOBS_PER_STORE_WRITE);
        while self.jobs.recv_many(&mut batch, JOBS_PER_STORE_WRITE).await > 0 {
            if is_background_only(&batch) {
                self.linger(&mut batch).await;
            }
            self.commit(std::mem::take(&mut batch)).await;
        }
        info!("writer stopped: queue closed and drained");
    }

    /// Adds what arrives within [`CONFIRM_LINGER`] to a batch of confirms and prunes, stopping
    /// at the first trade (or a full batch, or a closed queue).
    async fn linger(&mut self, batch: &mut Vec<Job>) {
        let deadline = tokio::time::sleep(CONFIRM_LINGER);
        tokio::pin!(deadline);
        while batch.len() < JOBS_PER_STORE_WRITE && is_background_only(batch) {
            tokio::select! {
                () = &mut deadline => return,
                received = self.jobs.recv_many(batch, JOBS_PER_STORE_WRITE - batch.len()) => {
                    if received == 0 {
                        return;
                    }
                }
            }
        }
    }

    #[instrument(skip_all, fields(batch = jobs.len()))]
    async fn commit(&self, jobs: Vec<Job>) {
        let ops = jobs.iter().map(Job::op).collect();
        let started = std::time::Instant::now();
        let outcome = match self.store.write_batch(ops, now_unix_ms()).await {
            Ok(outcome) => outcome,
            Err(e) => {
                crate::metrics::batch_failed();
                error!(error = %e, "batch commit failed; nothing applied");
                let failure = WriteError::CommitFailed(Arc::new(e));
                for job in jobs {
                    job.fail(&failure);
                }
                return;
            }
        };
        crate::metrics::batch_committed(&outcome.answers, started.elapsed());
        debug!(
            changed = outcome.changed.len(),
            committed = outcome.committed,
            "batch done"
        );
        for (job, answer) in jobs.into_iter().zip(outcome.answers) {
            job.answer(answer);
        }
        self.announce(outcome.changed).await;
    }

    /// Publishes one invalidation per stock the batch changed, with the state it left.
    async fn announce(&self, changed: BTreeMap<StockName, u64>) {
        for (name, version) in changed {
            // Only this task writes, so the store's in-memory copy is the state this batch left.
            let state = self
                .store
                .get(name.clone())
                .await
                .ok()
                .flatten()
                .filter(|stock| stock.version == version);
            let payload = encode(&Invalidation {
                name: name.clone(),
                version,
                price: state.as_ref().map(|s| s.price),
                quantity: state.as_ref().map(|s| s.quantity),
            });
            if let Err(e) = self.client.publish(STOCK_INVALIDATE, payload).await {
                warn!(error = %e, name = %name, version, "could not publish an invalidation");
            }
        }
    }
}

impl Job {
    /// The store operation this job asks for.
    fn op(&self) -> WriteOp {
        match self {
            Self::Trade { request, .. } => WriteOp::Trade(request.clone()),
            Self::Confirm { keys, .. } => WriteOp::Confirm(keys.clone()),
            Self::Prune {
                before_ms, limit, ..
            } => WriteOp::Prune {
                before_ms: *before_ms,
                limit: *limit,
            },
        }
    }

    /// Tells the waiter its operation failed, and why.
    fn fail(self, failure: &WriteError) {
        match self {
            Self::Trade { reply, .. } => {
                let _ = reply.send(Reply::error(failure.to_string()));
            }
            Self::Confirm { done, .. } => {
                let _ = done.send(Reply::error(failure.to_string()));
            }
            Self::Prune { done, .. } => {
                let _ = done.send(Err(failure.clone()));
            }
        }
    }

    /// Tells the waiter what its operation did. A waiter that went away (its handler timed out)
    /// is fine: the trade is durable and a retry with the same key gets the same answer.
    fn answer(self, answer: OpAnswer) {
        match (self, answer) {
            (Self::Trade { reply, .. }, OpAnswer::Trade(answer)) => {
                let _ = reply.send(answer.reply());
            }
            (Self::Confirm { done, .. }, OpAnswer::Confirmed(_)) => {
                let _ = done.send(Reply::ok(()));
            }
            (Self::Prune { done, .. }, OpAnswer::Pruned(pruned)) => {
                let _ = done.send(Ok(pruned));
            }
            (job, answer) => {
                error!(answer = ?answer, "the batch answered another kind of operation");
                job.fail(&WriteError::AnswerLost);
            }
        }
    }
}

/// The answer to a trade or confirm the writer can no longer take.
fn stopped<T>() -> Reply<T> {
    Reply::unavailable(WriteError::Stopped.to_string())
}

/// Whether a batch holds no trade, so it may wait for one to share its commit.
fn is_background_only(batch: &[Job]) -> bool {
    batch.iter().all(|job| !matches!(job, Job::Trade { .. }))
}

/// Milliseconds since the Unix epoch (0 if the clock is before it).
pub fn now_unix_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}
