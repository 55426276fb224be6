//! The first step of a replica's life: everything its tasks need, made before any of them
//! starts, so a bad flag, store or hold file stops the replica before it touches the bus.

use super::RunError;
use crate::config::Config;
use crate::hold::Hold;
use crate::store::{Digest, OrderStore};
use async_nats::jetstream::{self, kv};
use bazaar_nats::setup::{ensure_leader_bucket, ensure_orders_stream, Replication};
use bazaar_nats::Connection;
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// How long to wait before asking a broker that is still starting for JetStream again.
const JETSTREAM_RETRY: Duration = Duration::from_millis(500);

/// What [`set_up`] made, handed to [`super::spawn`].
pub(crate) struct Ready {
    /// The flags.
    pub(crate) config: Config,
    /// When the replica began, for the catch-up time the metrics report.
    pub(crate) started: Instant,
    /// The store file, for the log.
    pub(crate) path: PathBuf,
    /// The replica's store.
    pub(crate) store: OrderStore,
    /// How far the store got when it was opened.
    pub(crate) initial: Digest,
    /// The hold on leading, as the hold file says.
    pub(crate) hold: Hold,
    /// The NATS connection.
    pub(crate) connection: Connection,
    /// JetStream on that connection, with the configured timeout.
    pub(crate) js: jetstream::Context,
    /// The leader bucket.
    pub(crate) kv: kv::Store,
}

/// Validates `config`, opens the store and reads its digest, loads the hold, connects to NATS
/// and waits until the order stream and the leader bucket exist.
///
/// # Errors
/// [`RunError::Config`], [`RunError::Store`], [`RunError::StoreTask`], [`RunError::Hold`] or
/// [`RunError::Connect`]; a broker that is not up yet is waited for, not an error.
pub(crate) async fn set_up(config: Config) -> Result<Ready, RunError> {
    config.validate()?;
    let started = Instant::now();
    let path = config.store_path();
    let (store, initial) = open_store(path.clone()).await?;
    let hold = Hold::load(&config.hold_path())?;
    if let Some(held) = hold.current() {
        tracing::error!(
            aside = %held.aside.display(),
            orders = held.orders,
            "holding: a set-aside store holds orders the log lacks; not leading until the log holds them"
        );
    }
    let name = format!("order-{}", config.id);
    let connection = bazaar_nats::connect(&config.nats_url, &name, &config.nats_auth).await?;
    let mut js = jetstream::new(connection.client.clone());
    js.set_timeout(config.js_timeout());
    let kv = wait_for_jetstream(&js, Replication(config.js_replicas)).await;
    Ok(Ready {
        config,
        started,
        path,
        store,
        initial,
        hold,
        connection,
        js,
        kv,
    })
}

/// Opens the store at `path` and reads its digest, off the async threads.
async fn open_store(path: PathBuf) -> Result<(OrderStore, Digest), RunError> {
    let opened = bazaar_nats::blocking::run(move || {
        let store = OrderStore::open(&path).map_err(|source| (path.clone(), source))?;
        let initial = store.digest().map_err(|source| (path, source))?;
        Ok((store, initial))
    })
    .await?;
    opened.map_err(|(path, source)| RunError::Store { path, source })
}

/// Makes sure the order stream and the leader bucket exist, retrying while the broker may
/// still be starting, as the client keeps reconnecting meanwhile.
async fn wait_for_jetstream(js: &jetstream::Context, replication: Replication) -> kv::Store {
    loop {
        match ensure_orders_stream(js, replication).await {
            Ok(_) => match ensure_leader_bucket(js, replication).await {
                Ok(kv) => return kv,
                Err(e) => tracing::warn!(error = %e, "waiting for JetStream"),
            },
            Err(e) => tracing::warn!(error = %e, "waiting for JetStream"),
        }
        tokio::time::sleep(JETSTREAM_RETRY).await;
    }
}
