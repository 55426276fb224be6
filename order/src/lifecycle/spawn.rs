//! The second step of a replica's life: starting its tasks, in an order that matters. The
//! handlers subscribe before the election starts, since followers take a leader without
//! subscriptions for dead.

use super::setup::Ready;
use super::task::Task;
use super::RunError;
use crate::catalog_client::CatalogClient;
use crate::election::{Election, Lease};
use crate::handlers::Handlers;
use crate::hold::Hold;
use crate::log_follower::LogFollower;
use crate::sequencer::Sequencer;
use crate::store::{Digest, OrderStore};
use async_nats::jetstream::{self, kv};
use bazaar_nats::fault::{AdminTarget, FaultGate, Leading};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

/// The running replica: its tasks, the token that stops them and the client to flush.
pub(crate) struct Tasks {
    /// Cancelled to stop every task.
    pub(super) stop: CancellationToken,
    /// The client, flushed once the tasks have stopped.
    pub(super) client: async_nats::Client,
    /// Replays the log into the store.
    pub(super) follower: Task<()>,
    /// The leader's single writer to the log.
    pub(super) sequencer: Task<()>,
    /// Rolls forward trades the catalog applied but the log lacks.
    pub(super) sweep: Task<()>,
    /// Serves the replica's subjects; its error is kept as text, all the supervisor needs.
    pub(super) handlers: Task<()>,
    /// Campaigns, renews and resigns the lease.
    pub(super) election: Task<()>,
}

/// Starts the replica's tasks on what [`super::set_up`] made.
///
/// # Errors
/// [`RunError::Admin`] or [`RunError::Subscribe`] when subscribing fails; the tasks started
/// so far are then cancelled.
pub(crate) async fn spawn(ready: Ready) -> Result<Tasks, RunError> {
    let stop = CancellationToken::new();
    let started = start(ready, &stop).await;
    if started.is_err() {
        stop.cancel();
    }
    started
}

/// [`spawn`], under `stop`.
async fn start(ready: Ready, stop: &CancellationToken) -> Result<Tasks, RunError> {
    let Ready {
        config,
        started,
        path,
        store,
        initial,
        hold,
        connection,
        js,
        kv,
    } = ready;
    let (stored_tx, stored) = watch::channel(initial);
    let shared = Shared {
        client: connection.client.clone(),
        js,
        store,
        stored,
        lease: Lease::new(config.id),
        gate: FaultGate::new(),
        stop: stop.clone(),
    };
    if bazaar_nats::metrics::enabled() {
        shared.spawn_metrics(started);
    }
    let follower = shared.spawn_follower(stored_tx, connection.reconnects.clone(), hold.clone());
    let (sequencer, sequencer_task) = shared.start_sequencer();
    let election = shared.election(config.replicas, kv, hold);
    let timeout = Duration::from_millis(config.catalog_timeout_ms);
    let catalog = CatalogClient::new(shared.client.clone(), timeout);
    let sweep = shared.spawn_sweep(&catalog, &sequencer);
    if config.fault_injection {
        spawn_admin(&shared.client, config.id, &shared.gate, &shared.lease).await?;
    }
    let client = shared.client.clone();
    let handlers = serve(shared.handlers(sequencer, catalog), stop).await?;
    let election = Task::new("election", tokio::spawn(election.run(stop.child_token())));
    tracing::info!(replica = config.id, stored = initial.count, store = %path.display(), "order replica ready");
    Ok(Tasks {
        stop: stop.clone(),
        client,
        follower,
        sequencer: sequencer_task,
        sweep,
        handlers,
        election,
    })
}

/// What several tasks share, so each is started from it in a few lines.
struct Shared {
    client: async_nats::Client,
    js: jetstream::Context,
    store: OrderStore,
    /// How far the store got, as the log follower reports it.
    stored: watch::Receiver<Digest>,
    lease: Arc<Lease>,
    /// The operator's injected pauses and step-downs.
    gate: FaultGate,
    /// Every task gets a child of it.
    stop: CancellationToken,
}

impl Shared {
    /// Starts the Prometheus gauges; `started` is when the replica began.
    fn spawn_metrics(&self, started: Instant) {
        let gauges = crate::metrics::run(
            self.js.clone(),
            self.lease.clone(),
            self.stored.clone(),
            started,
            self.stop.child_token(),
        );
        tokio::spawn(gauges);
    }

    /// Starts replaying the log into the store, reporting progress on `stored`.
    fn spawn_follower(
        &self,
        stored: watch::Sender<Digest>,
        reconnects: watch::Receiver<u64>,
        hold: Hold,
    ) -> Task<()> {
        let follower = LogFollower::new(
            self.js.clone(),
            self.store.clone(),
            stored,
            reconnects,
            hold,
        )
        .with_gate(self.gate.clone());
        Task::new(
            "log follower",
            tokio::spawn(follower.run(self.stop.child_token())),
        )
    }

    /// Starts the leader's writer to the log.
    fn start_sequencer(&self) -> (Sequencer, Task<()>) {
        let (sequencer, task) = Sequencer::start(
            self.js.clone(),
            self.client.clone(),
            self.store.clone(),
            self.stored.clone(),
            self.lease.clone(),
            self.stop.child_token(),
        );
        (sequencer, Task::new("sequencer", task))
    }

    /// The election among `replicas` on the leader bucket `kv`, not started yet.
    fn election(&self, replicas: u32, kv: kv::Store, hold: Hold) -> Election {
        let (js, client) = (self.js.clone(), self.client.clone());
        Election::new(
            self.lease.clone(),
            replicas,
            kv,
            js,
            client,
            self.stored.clone(),
            hold,
        )
        .with_gate(self.gate.clone())
    }

    /// Starts the sweep that rolls forward trades the catalog applied but the log lacks.
    fn spawn_sweep(&self, catalog: &CatalogClient, sequencer: &Sequencer) -> Task<()> {
        let sweep = crate::rollforward::run(
            self.lease.clone(),
            catalog.clone(),
            sequencer.clone(),
            self.stop.child_token(),
        );
        Task::new("roll-forward", tokio::spawn(sweep))
    }

    /// The request handlers, not subscribed yet.
    fn handlers(self, sequencer: Sequencer, catalog: CatalogClient) -> Handlers {
        Handlers {
            client: self.client,
            lease: self.lease,
            sequencer,
            catalog,
            store: self.store,
            stored: self.stored,
            gate: self.gate,
            errors: Default::default(),
        }
    }
}

/// Subscribes `handlers` to the replica's subjects and serves them until `stop`.
async fn serve(mut handlers: Handlers, stop: &CancellationToken) -> Result<Task<()>, RunError> {
    let subscriptions = handlers.subscribe().await?;
    let serving = tokio::spawn(handlers.serve(subscriptions, stop.child_token()));
    Ok(Task::new("request handlers", serving))
}

/// Serves the operator's fault-injection subjects for replica `id`.
async fn spawn_admin(
    client: &async_nats::Client,
    id: u32,
    gate: &FaultGate,
    lease: &Arc<Lease>,
) -> Result<(), RunError> {
    let leading = lease.clone();
    let leading: Leading = Arc::new(move || leading.valid_epoch().is_some());
    let target = AdminTarget::Order(id);
    bazaar_nats::fault::spawn_admin(client.clone(), target, gate.clone(), leading)
        .await
        .map_err(RunError::Admin)?;
    Ok(())
}
