//! Stock Bazaar order service: one replica of the replicated order log.
//!
//! Three replicas run; one leads. The leader takes trades over NATS request-reply, has the
//! catalog apply each one (at most once per idempotency key), appends it to the JetStream order
//! log (fenced by expected sequence) and replies with its transaction number. Every replica, the
//! leader included, materialises the log into its own redb file and answers order queries from it.
//!
//! Modules:
//! - [`config`] - flags.
//! - [`store`] - the replica's redb copy of the log.
//! - [`log_follower`] - replays the JetStream log into the store.
//! - [`election`] - the KV lease.
//! - [`hold`] - not leading while a set-aside store holds orders the log lacks.
//! - [`sequencer`] - the leader's single, fenced writer to the log.
//! - [`log_append`] - pipelined, fenced appends of orders to the log.
//! - [`catalog_client`] - calls to the catalog.
//! - [`rollforward`] - logs trades the catalog applied but the log lacks.
//! - [`repair`] - the operator's re-append of orders the log lost, from a replica's store.
//! - [`replay`] - the whole log read by the replicas' rules, for tools and checkers.
//! - [`handlers`] - the replica's NATS subjects.
//! - [`metrics`] - the replica's Prometheus gauges (leader, term, store, log lag).

pub mod catalog_client;
pub mod config;
pub mod election;
pub mod handlers;
pub mod hold;
pub mod log_append;
pub mod log_follower;
pub mod metrics;
pub mod repair;
pub mod replay;
pub mod rollforward;
pub mod sequencer;
pub mod store;

pub use config::Config;

use anyhow::Context as _;
use bazaar_nats::setup::{ensure_leader_bucket, ensure_orders_stream, Replication};
use std::future::Future;
use std::time::Duration;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

/// Runs one replica until `shutdown` resolves, then resigns the leadership if held, stops taking
/// requests, lets in-flight appends finish and flushes NATS.
///
/// # Errors
/// When the configuration is invalid, the store cannot be opened or the bus cannot be set up.
pub async fn run(config: Config, shutdown: impl Future<Output = ()> + Send) -> anyhow::Result<()> {
    config.validate().map_err(anyhow::Error::msg)?;
    let started = std::time::Instant::now();
    let path = config.store_path();
    let store = {
        let path_for_open = path.clone();
        bazaar_nats::blocking::run(move || store::OrderStore::open(&path_for_open))
            .await?
            .with_context(|| format!("cannot open the order store at {}", path.display()))?
    };
    let initial = {
        let store = store.clone();
        bazaar_nats::blocking::run(move || store.digest()).await??
    };
    let hold = hold::Hold::load(&config.hold_path())?;
    if let Some(held) = hold.current() {
        tracing::error!(
            aside = %held.aside.display(),
            orders = held.orders,
            "holding: a set-aside store holds orders the log lacks; not leading until the log holds them"
        );
    }
    let connection = bazaar_nats::connect(
        &config.nats_url,
        &format!("order-{}", config.id),
        &config.nats_auth,
    )
    .await
    .context("cannot connect to NATS")?;
    let client = connection.client.clone();
    let mut js = async_nats::jetstream::new(client.clone());
    js.set_timeout(config.js_timeout());
    let replication = Replication(config.js_replicas);
    let kv = loop {
        // The broker may still be starting: keep trying, as the client keeps reconnecting.
        match ensure_orders_stream(&js, replication).await {
            Ok(_) => match ensure_leader_bucket(&js, replication).await {
                Ok(kv) => break kv,
                Err(e) => tracing::warn!(error = %e, "waiting for JetStream"),
            },
            Err(e) => tracing::warn!(error = %e, "waiting for JetStream"),
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    };

    let stop = CancellationToken::new();
    let (stored_tx, stored) = watch::channel(initial);
    let lease = election::Lease::new(config.id);
    let gate = bazaar_nats::fault::FaultGate::new();
    if bazaar_nats::metrics::enabled() {
        let gauges = metrics::run(
            js.clone(),
            lease.clone(),
            stored.clone(),
            started,
            stop.child_token(),
        );
        tokio::spawn(gauges);
    }
    let catalog = catalog_client::CatalogClient::new(
        client.clone(),
        Duration::from_millis(config.catalog_timeout_ms),
    );

    let follower = log_follower::LogFollower::new(
        js.clone(),
        store.clone(),
        stored_tx,
        connection.reconnects.clone(),
        hold.clone(),
    )
    .with_gate(gate.clone());
    let mut follower_task = tokio::spawn(follower.run(stop.child_token()));
    let (sequencer, mut sequencer_task) = sequencer::Sequencer::start(
        js.clone(),
        client.clone(),
        store.clone(),
        stored.clone(),
        lease.clone(),
        stop.child_token(),
    );
    let election = election::Election::new(
        lease.clone(),
        config.replicas,
        kv,
        js.clone(),
        client.clone(),
        stored.clone(),
        hold,
    )
    .with_gate(gate.clone());
    let mut sweep_task = tokio::spawn(rollforward::run(
        lease.clone(),
        catalog.clone(),
        sequencer.clone(),
        stop.child_token(),
    ));
    if config.fault_injection {
        let leading = lease.clone();
        let leading: bazaar_nats::fault::Leading =
            std::sync::Arc::new(move || leading.valid_epoch().is_some());
        let target = bazaar_nats::fault::AdminTarget::Order(config.id);
        bazaar_nats::fault::spawn_admin(client.clone(), target, gate.clone(), leading).await?;
    }
    let mut handlers = handlers::Handlers {
        client: client.clone(),
        lease,
        sequencer,
        catalog,
        store,
        stored,
        gate,
        errors: Default::default(),
    };
    // Subscribe before campaigning: followers take a leader without subscriptions for dead.
    let subscriptions = handlers.subscribe().await?;
    let mut handler_task = tokio::spawn(handlers.serve(subscriptions, stop.child_token()));
    let mut election_task = tokio::spawn(election.run(stop.child_token()));
    tracing::info!(replica = config.id, stored = initial.count, store = %path.display(), "order replica ready");

    tokio::pin!(shutdown);
    tokio::select! {
        () = &mut shutdown => tracing::info!("order replica shutting down"),
        r = &mut follower_task => tracing::error!(result = ?r, "log follower ended"),
        r = &mut sequencer_task => tracing::error!(result = ?r, "sequencer ended"),
        r = &mut election_task => tracing::error!(result = ?r, "election ended"),
        r = &mut sweep_task => tracing::error!(result = ?r, "roll-forward ended"),
        r = &mut handler_task => tracing::error!(result = ?r, "request handlers ended"),
    }
    stop.cancel();
    // Resign first so a follower takes over while we drain.
    let _ = election_task.await;
    let _ = handler_task.await;
    let _ = sequencer_task.await;
    let _ = sweep_task.await;
    let _ = follower_task.await;
    client.flush().await.ok();
    tracing::info!("order replica stopped");
    Ok(())
}
