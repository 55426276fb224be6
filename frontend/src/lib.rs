//! The Stock Bazaar frontend: the HTTP gateway in front of the catalog and order services.
//!
//! Clients speak REST to it; it speaks only NATS to the services behind it. Modules:
//! - [`config`] - flags and environment variables.
//! - [`error`] - the one `AppError` and how it becomes a JSON error response.
//! - [`cache`] - the LRU stock cache with invalidation and monotonic reads.
//! - [`leader`] - which order replica leads, from the leader lease in the KV bucket.
//! - [`bus`] - catalog and order calls with retry until a time budget is spent.
//! - [`events`] - the live feed of stock changes, fanned out to every event stream.
//! - [`http`] - the router, one handler file per resource, the trading page and the OpenAPI
//!   document.
//! - [`readiness`] - whether a leader is known and the catalog answers, for `GET /readyz`.
//! - [`metrics`] - what each request records, and the gauges read at scrape time.
//! - [`edge`] - the accept loop: header-read and idle timeouts, the connection cap, the rate
//!   limit per client address.
//!
//! [`run`] wires them together and serves until its shutdown future resolves.

pub mod bus;
pub mod cache;
pub mod config;
pub mod edge;
pub mod error;
pub mod events;
pub mod http;
pub mod leader;
pub mod metrics;
pub mod readiness;

pub use config::Config;

use anyhow::Context as _;
use bazaar_nats::messages::{decode, Invalidation};
use bazaar_nats::subjects::STOCK_INVALIDATE;
use futures::StreamExt;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

/// Extra time a request may take beyond its retry budget before the timeout layer answers 503.
const REQUEST_TIMEOUT_SLACK: Duration = Duration::from_secs(2);
/// Extra time in-flight requests get, beyond the request timeout, to be answered on shutdown.
const DRAIN_SLACK: Duration = Duration::from_secs(1);
/// How long the final NATS flush may take on the way out.
const FLUSH_TIMEOUT: Duration = Duration::from_secs(2);

/// Serves the HTTP API on `listener` until `shutdown` resolves, then drains in-flight requests,
/// stops the background tasks and flushes NATS.
///
/// NATS need not be up yet: the client connects (and reconnects) in the background, and requests
/// that need it answer 503 until it is.
///
/// # Errors
/// When the NATS URL cannot be parsed or the subscription cannot be made.
pub async fn run(
    config: Config,
    listener: tokio::net::TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let connection = bazaar_nats::connect(&config.nats_url, "frontend", &config.nats_auth)
        .await
        .with_context(|| format!("cannot connect to NATS at {}", config.nats_url))?;
    let client = connection.client.clone();
    let micro = announce(&client, &listener).await?;
    // Before the first request, so nothing it records is lost.
    bazaar_nats::metrics::handle();
    metrics::describe();

    // Cancelled as soon as shutdown begins, so that event streams end and their connections
    // can close within the drain.
    let closing = CancellationToken::new();
    let state = build_state(&config, &client, closing.clone());
    let stop = CancellationToken::new();
    let mut tasks = spawn_background(&connection, &state, stop.clone()).await?;

    let rate_limit = edge::rate_limit::RateLimit::new(&config.edge);
    if let Some(limit) = &rate_limit {
        tasks.spawn(Arc::clone(limit).forget_idle_clients(stop.clone()));
    }
    let request_timeout = config.retry_budget() + config.attempt_timeout() + REQUEST_TIMEOUT_SLACK;
    let app = http::router(Arc::clone(&state), request_timeout, rate_limit);
    let address = listener.local_addr().context("listener has no address")?;
    tracing::info!(%address, cache_size = config.cache_size, nats = %config.nats_url, "frontend ready");

    // Every request is bounded by the timeout layer; the slack covers writing its answer.
    let drain = request_timeout + DRAIN_SLACK;
    let shutdown = async move {
        shutdown.await;
        closing.cancel();
    };
    edge::serve(listener, app, &config.edge, drain, shutdown).await;
    tracing::info!("HTTP server stopped; shutting down");
    stop_background(stop, micro, tasks, &client).await;
    Ok(())
}

/// Registers the frontend as a NATS micro service, discoverable with `nats micro ls`; it serves
/// HTTP, so it has no endpoints.
async fn announce(
    client: &async_nats::Client,
    listener: &tokio::net::TcpListener,
) -> anyhow::Result<bazaar_nats::micro::Micro> {
    bazaar_nats::micro::start(
        client,
        bazaar_nats::subjects::SERVICE_FRONTEND,
        env!("CARGO_PKG_VERSION"),
        "Stock Bazaar HTTP gateway (no NATS endpoints)",
        "frontend",
        listener
            .local_addr()
            .map(|a| [("listen".to_string(), a.to_string())].into())
            .unwrap_or_default(),
    )
    .await
    .map_err(Into::into)
}

/// What every handler shares: the leader tracker, the bus, the cache, the event streams (ended
/// when `closing` is cancelled) and the readiness probe.
fn build_state(
    config: &Config,
    client: &async_nats::Client,
    closing: CancellationToken,
) -> Arc<http::AppState> {
    let leader = Arc::new(leader::LeaderTracker::new(
        client.clone(),
        config.attempt_timeout(),
    ));
    let bus = bus::Bus::new(
        client.clone(),
        Arc::clone(&leader),
        config.attempt_timeout(),
        config.retry_budget(),
    );
    let events = Arc::new(events::StockEvents::new(config.events_heartbeat(), closing));
    Arc::new(http::AppState {
        cache: cache::StockCache::new(config.cache_size),
        bus,
        leader: Arc::clone(&leader),
        client: client.clone(),
        events,
        readiness: readiness::Readiness::new(client.clone(), leader),
    })
}

/// Starts the tasks that run beside the HTTP server until `stop` is cancelled: the leader
/// watch, the invalidation feed, the reconnect handler and the event streams' refresh.
///
/// # Errors
/// When the invalidation subscription cannot be made.
async fn spawn_background(
    connection: &bazaar_nats::Connection,
    state: &Arc<http::AppState>,
    stop: CancellationToken,
) -> anyhow::Result<JoinSet<()>> {
    let mut tasks = JoinSet::new();
    {
        let stop = stop.clone();
        let reconnects = connection.reconnects.clone();
        let leader = Arc::clone(&state.leader);
        tasks.spawn(async move { leader.watch(reconnects, stop).await });
    }
    // One subscription feeds both the cache and every event stream.
    let invalidations = connection
        .client
        .subscribe(STOCK_INVALIDATE)
        .await
        .context("cannot subscribe to stock invalidations")?;
    tasks.spawn(apply_invalidations(
        invalidations,
        Arc::clone(state),
        stop.clone(),
    ));
    tasks.spawn(clear_on_reconnect(
        connection.reconnects.clone(),
        Arc::clone(state),
        stop.clone(),
    ));
    tasks.spawn(Arc::clone(&state.events).refresh(state.bus.clone(), stop));
    Ok(tasks)
}

/// Stops the background tasks and the micro service, waits for the tasks, and flushes NATS.
async fn stop_background(
    stop: CancellationToken,
    micro: bazaar_nats::micro::Micro,
    mut tasks: JoinSet<()>,
    client: &async_nats::Client,
) {
    stop.cancel();
    let _ = micro.service.stop().await;
    while let Some(ended) = tasks.join_next().await {
        if let Err(e) = ended {
            tracing::error!(error = %e, "background task failed");
        }
    }
    match tokio::time::timeout(FLUSH_TIMEOUT, client.flush()).await {
        Ok(Ok(())) => {}
        Ok(Err(e)) => tracing::warn!(error = %e, "final NATS flush failed"),
        Err(_) => tracing::warn!("final NATS flush timed out"),
    }
}

/// Drops cache entries and tells the event streams as the catalog announces changes.
async fn apply_invalidations(
    mut messages: async_nats::Subscriber,
    state: Arc<http::AppState>,
    stop: CancellationToken,
) {
    loop {
        let message = tokio::select! {
            () = stop.cancelled() => break,
            next = messages.next() => match next {
                Some(message) => message,
                None => {
                    tracing::warn!("invalidation subscription ended");
                    break;
                }
            },
        };
        match decode::<Invalidation>(&message.payload) {
            Ok(invalidation) => {
                tracing::trace!(stock = %invalidation.name, version = invalidation.version, "invalidation");
                state.cache.invalidate(&invalidation);
                state.events.announce(&invalidation);
            }
            Err(e) => tracing::warn!(error = %e, "ignoring a malformed invalidation"),
        }
    }
    let _ = messages.unsubscribe().await;
}

/// Empties the cache and has every event stream resend the current state after every
/// reconnect: invalidations sent while we were away are lost.
async fn clear_on_reconnect(
    mut reconnects: watch::Receiver<u64>,
    state: Arc<http::AppState>,
    stop: CancellationToken,
) {
    reconnects.borrow_and_update();
    loop {
        tokio::select! {
            () = stop.cancelled() => return,
            changed = reconnects.changed() => {
                if changed.is_err() {
                    return;
                }
                let count = *reconnects.borrow_and_update();
                // The first connection is no reconnect: nothing can have been missed.
                if count > 1 {
                    tracing::info!(connections = count, "NATS reconnected; emptying the stock cache and resending the live state");
                    state.cache.clear();
                    state.events.resync();
                }
            }
        }
    }
}
