//! The Stock Bazaar catalog: owns the stocks and applies trades at most once, over NATS only.
//!
//! Modules:
//! - [`config`] - flags and environment variables.
//! - [`seed`] - the stocks a new catalog starts with (built-in or from a JSON file).
//! - [`trade`] - the trade rules as pure functions, and the records kept per idempotency key.
//! - [`store`] - the redb file (stocks, answered keys, unlogged trades).
//! - [`keys`] - what is remembered per idempotency key, and how it expires.
//! - [`writer`] - the single batching writer: one durable commit per batch of trades.
//! - [`metrics`] - trades by outcome, commit latency and batch size, for Prometheus.
//! - [`pruner`] - forgets idempotency keys older than the retention, through the writer.
//! - `handlers`: the NATS endpoints (lookup, list, trade, pending, confirm).
//! - `testing` (feature `testing`): a catalog running inside a test process.
//!
//! [`run`] wires them together; [`serve`] does the same with a client and store the caller made.

pub mod config;
mod handlers;
pub mod keys;
pub mod metrics;
pub mod pruner;
pub mod seed;
pub mod store;
#[cfg(feature = "testing")]
pub mod testing;
pub mod trade;
pub mod writer;

pub use config::Config;
pub use store::Store;

use anyhow::Context as _;
use bazaar_nats::fault::{spawn_admin, AdminTarget, FaultGate, Leading};
use handlers::{serve_endpoint, subscribe_all, Context, Endpoint};
use std::future::Future;
use std::time::Duration;
use tokio::task::{JoinHandle, JoinSet};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::{error, info, warn};

/// How long each shutdown step (stop the endpoints, finish in-flight requests, finish the
/// writer's queue, flush NATS) may take before the catalog stops waiting for it.
const SHUTDOWN_STEP_TIMEOUT: Duration = Duration::from_secs(10);

/// Runs the catalog until `shutdown` resolves: opens (and on first start seeds) the store,
/// connects to NATS and serves every catalog subject. Then it stops taking requests, finishes
/// the ones in flight and the writer's batch, flushes NATS and returns.
///
/// # Errors
/// When the stocks file is bad, the store cannot be opened, the NATS URL is malformed, or a
/// task ended before `shutdown` (the error names it).
pub async fn run(config: Config, shutdown: impl Future<Output = ()> + Send) -> anyhow::Result<()> {
    let seed = match &config.stocks {
        Some(path) => seed::load_stocks_file(path)?,
        None => seed::default_stocks(),
    };
    let store = Store::open(&config.data_dir, seed)
        .await
        .with_context(|| format!("cannot open the catalog in {}", config.data_dir.display()))?;
    let connection = bazaar_nats::connect(&config.nats_url, "catalog", &config.nats_auth)
        .await
        .with_context(|| format!("cannot connect to NATS at {}", config.nats_url))?;
    let gate = FaultGate::new();
    if config.fault_injection {
        let leading: Leading = std::sync::Arc::new(|| false);
        let client = connection.client.clone();
        spawn_admin(client, AdminTarget::Catalog, gate.clone(), leading)
            .await
            .context("cannot subscribe to the admin subjects")?;
    }
    serve_gated(
        connection.client,
        store,
        config.key_retention(),
        gate,
        shutdown,
    )
    .await
}

/// Serves the catalog subjects on `client` from `store`, forgetting idempotency keys older than
/// `key_retention`, until `shutdown` resolves, then drains as [`run`] does. The store is closed
/// once this returns (if the caller kept no clone).
///
/// # Errors
/// When subscribing fails, or a task ended before `shutdown` (the error names it).
pub async fn serve(
    client: async_nats::Client,
    store: Store,
    key_retention: Duration,
    shutdown: impl Future<Output = ()> + Send,
) -> anyhow::Result<()> {
    serve_gated(client, store, key_retention, FaultGate::new(), shutdown).await
}

/// [`serve`], with request handling held by `gate` (the operator's injected pauses and delays).
///
/// # Errors
/// As [`serve`].
pub async fn serve_gated(
    client: async_nats::Client,
    store: Store,
    key_retention: Duration,
    gate: FaultGate,
    shutdown: impl Future<Output = ()> + Send,
) -> anyhow::Result<()> {
    let (writer_handle, writer) = writer::channel(store.clone(), client.clone());
    let writer_task = tokio::spawn(writer.run());
    let (micro, subscriptions) = subscribe_all(&client).await?;

    let stop = CancellationToken::new();
    let tracker = TaskTracker::new();
    // On the tracker, so the drain waits for it (and its writer handle) like for a request.
    tracker.spawn(pruner::run(
        writer_handle.clone(),
        key_retention,
        stop.clone(),
    ));
    let context = Context {
        store: store.clone(),
        writer: writer_handle,
        gate,
        errors: micro.errors.clone(),
    };
    let mut endpoints = spawn_endpoints(subscriptions, context, &stop, &tracker);

    let stocks = store
        .stock_count()
        .await
        .context("cannot count the stocks")?;
    drop(store);
    info!(stocks, "catalog ready");

    let (failure, writer_task) = supervise(shutdown, writer_task, &mut endpoints).await;
    drain(stop, endpoints, tracker, writer_task).await;
    let _ = micro.service.stop().await;
    match tokio::time::timeout(SHUTDOWN_STEP_TIMEOUT, client.flush()).await {
        Ok(Ok(())) => {}
        Ok(Err(e)) => warn!(error = %e, "could not flush NATS on shutdown"),
        Err(_) => warn!("NATS flush timed out on shutdown"),
    }
    info!("catalog stopped");
    failure.map_or(Ok(()), Err)
}

/// Starts one serving loop per endpoint, each handing its requests to tasks on `tracker`.
fn spawn_endpoints(
    subscriptions: Vec<(Endpoint, async_nats::service::endpoint::Endpoint)>,
    context: Context,
    stop: &CancellationToken,
    tracker: &TaskTracker,
) -> JoinSet<(Endpoint, anyhow::Result<()>)> {
    let mut endpoints = JoinSet::new();
    for (endpoint, subscriber) in subscriptions {
        let serving = serve_endpoint(
            endpoint,
            subscriber,
            context.clone(),
            stop.clone(),
            tracker.clone(),
        );
        endpoints.spawn(async move { (endpoint, serving.await.map_err(anyhow::Error::from)) });
    }
    // `context` is dropped here: from now on only the endpoint loops, their message tasks and
    // the pruner hold the writer, so the writer stops by itself once they are all done.
    endpoints
}

/// Waits for `shutdown`, or for the writer or an endpoint to end first, which is a failure
/// (named in the error). Returns the failure, if any, and the writer task while it still runs.
async fn supervise(
    shutdown: impl Future<Output = ()> + Send,
    mut writer_task: JoinHandle<()>,
    endpoints: &mut JoinSet<(Endpoint, anyhow::Result<()>)>,
) -> (Option<anyhow::Error>, Option<JoinHandle<()>>) {
    tokio::select! {
        () = shutdown => {
            info!("shutdown requested; draining");
            (None, Some(writer_task))
        }
        ended = &mut writer_task => {
            let why = ended.map_or_else(|e| e.to_string(), |()| "its queue closed".into());
            error!(task = "writer", why = %why, "task ended before shutdown");
            (Some(anyhow::anyhow!("the writer task ended before shutdown: {why}")), None)
        }
        Some(ended) = endpoints.join_next() => {
            let why = match ended {
                Ok((endpoint, Err(e))) => format!("{}: {e:#}", endpoint.subject()),
                Ok((endpoint, Ok(()))) => format!("{}: returned", endpoint.subject()),
                Err(e) => format!("an endpoint task failed: {e}"),
            };
            error!(task = "endpoint", why = %why, "task ended before shutdown");
            let failure = anyhow::anyhow!("an endpoint ended before shutdown: {why}");
            (Some(failure), Some(writer_task))
        }
    }
}

/// Stops the endpoints, waits for in-flight requests, then for the writer to finish its queue.
async fn drain(
    stop: CancellationToken,
    mut endpoints: JoinSet<(Endpoint, anyhow::Result<()>)>,
    tracker: TaskTracker,
    writer_task: Option<JoinHandle<()>>,
) {
    stop.cancel();
    let stopped = tokio::time::timeout(SHUTDOWN_STEP_TIMEOUT, async {
        while let Some(ended) = endpoints.join_next().await {
            match ended {
                Ok((_, Ok(()))) => {}
                Ok((endpoint, Err(e))) => {
                    warn!(subject = endpoint.subject(), error = %format!("{e:#}"), "endpoint stopped with an error");
                }
                Err(e) => warn!(error = %e, "endpoint task failed while stopping"),
            }
        }
    })
    .await;
    if stopped.is_err() {
        warn!("endpoints did not stop in time; aborting them");
        endpoints.abort_all();
    }
    tracker.close();
    if tokio::time::timeout(SHUTDOWN_STEP_TIMEOUT, tracker.wait())
        .await
        .is_err()
    {
        warn!(
            in_flight = tracker.len(),
            "requests still in flight at shutdown"
        );
    }
    if let Some(writer_task) = writer_task {
        match tokio::time::timeout(SHUTDOWN_STEP_TIMEOUT, writer_task).await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => error!(error = %e, "writer task failed"),
            Err(_) => warn!("writer did not finish its queue in time"),
        }
    }
}
