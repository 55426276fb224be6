//! The catalog's NATS endpoints: one micro-service endpoint per subject, one task per message.
//!
//! The catalog registers as the NATS micro service `catalog` (`nats micro info catalog`), each
//! subject an endpoint in the `catalog` queue group, so several catalogs would share the load.
//! A fault gate (see `bazaar_nats::fault`) can hold requests (pause) and replies (delay). Reads
//! go straight to the store, writes through the [`WriterHandle`]. A payload that does not parse
//! gets an `invalid` reply and a `warn!` naming the subject and the start of the payload.
//! Handlers never panic.
//!
//! This module subscribes and runs the serving loops; `requests` answers one message.

mod requests;

use crate::store::Store;
use crate::writer::WriterHandle;
use async_nats::service::endpoint::Endpoint as MicroEndpoint;
use bazaar_nats::fault::FaultGate;
use bazaar_nats::micro::{self, ErrorReplies, Micro, MicroError};
use bazaar_nats::subjects::{
    SERVICE_CATALOG, STOCK_LIST, STOCK_LOOKUP, STOCK_TRADE, TRADES_CONFIRM, TRADES_PENDING,
};
use futures::StreamExt;
use requests::handle;
use std::time::Duration;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::{info, warn};

/// Queue group every catalog subscription joins.
pub(crate) const QUEUE_GROUP: &str = "catalog";
/// How long a stopping subscription waits for the server to confirm it is drained.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(5);

/// Why the catalog could not start serving a subject, or stopped serving it.
#[derive(Debug, thiserror::Error)]
pub(crate) enum EndpointError {
    /// The micro service could not be registered: nothing is served.
    #[error(transparent)]
    Register(#[from] MicroError),
    /// One subject could not be subscribed to: nothing is served.
    #[error("cannot subscribe to {subject}")]
    Subscribe {
        /// The subject.
        subject: &'static str,
        /// What the client said.
        #[source]
        source: async_nats::Error,
    },
    /// The subscription ended by itself (the client was closed) while still serving.
    #[error("subscription to {0} closed")]
    Closed(&'static str),
    /// Stopping the subscription failed; the endpoint stopped anyway.
    #[error("cannot unsubscribe from {subject}")]
    Unsubscribe {
        /// The subject.
        subject: &'static str,
        /// What the client said.
        #[source]
        source: std::io::Error,
    },
}

/// The subjects the catalog serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Endpoint {
    Lookup,
    Trade,
    Pending,
    Confirm,
    List,
}

impl Endpoint {
    /// Every endpoint, in subscription order. `List` comes last: once it answers, the server has
    /// registered every other subscription too (it handles one connection's protocol in order).
    pub(crate) const ALL: [Self; 5] = [
        Self::Lookup,
        Self::Trade,
        Self::Pending,
        Self::Confirm,
        Self::List,
    ];

    pub(crate) fn subject(self) -> &'static str {
        match self {
            Self::Lookup => STOCK_LOOKUP,
            Self::Trade => STOCK_TRADE,
            Self::Pending => TRADES_PENDING,
            Self::Confirm => TRADES_CONFIRM,
            Self::List => STOCK_LIST,
        }
    }

    /// The endpoint's name in the micro service's info and stats.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Self::Lookup => "lookup",
            Self::Trade => "trade",
            Self::Pending => "pending",
            Self::Confirm => "confirm",
            Self::List => "list",
        }
    }
}

/// What every message task needs.
#[derive(Debug, Clone)]
pub(crate) struct Context {
    pub(crate) store: Store,
    pub(crate) writer: WriterHandle,
    /// Pauses and reply delays injected by the operator.
    pub(crate) gate: FaultGate,
    /// Failed replies, for the micro service's stats.
    pub(crate) errors: ErrorReplies,
}

/// Registers the `catalog` micro service and every endpoint in the `catalog` queue group.
///
/// # Errors
/// [`EndpointError::Register`] or [`EndpointError::Subscribe`]: the catalog cannot serve.
pub(crate) async fn subscribe_all(
    client: &async_nats::Client,
) -> Result<(Micro, Vec<(Endpoint, MicroEndpoint)>), EndpointError> {
    let micro = micro::start(
        client,
        SERVICE_CATALOG,
        env!("CARGO_PKG_VERSION"),
        "Stock Bazaar catalog: stocks and trades",
        QUEUE_GROUP,
        Default::default(),
    )
    .await?;
    let mut subscriptions = Vec::with_capacity(Endpoint::ALL.len());
    for endpoint in Endpoint::ALL {
        let subscriber = micro
            .service
            .endpoint_builder()
            .name(endpoint.name())
            .add(endpoint.subject())
            .await
            .map_err(|source| EndpointError::Subscribe {
                subject: endpoint.subject(),
                source,
            })?;
        subscriptions.push((endpoint, subscriber));
    }
    Ok((micro, subscriptions))
}

/// Serves one subscription until `stop`, spawning one task per message on `tracker`; then
/// drains it (unsubscribes, and still serves what had already arrived).
///
/// # Errors
/// [`EndpointError::Closed`] when the subscription ends by itself (the client was closed)
/// before `stop`; [`EndpointError::Unsubscribe`] when stopping it fails.
pub(crate) async fn serve_endpoint(
    endpoint: Endpoint,
    mut subscriber: MicroEndpoint,
    context: Context,
    stop: CancellationToken,
    tracker: TaskTracker,
) -> Result<(), EndpointError> {
    loop {
        tokio::select! {
            () = stop.cancelled() => break,
            message = subscriber.next() => match message {
                Some(message) => {
                    tracker.spawn(handle(endpoint, message, context.clone()));
                }
                None => return Err(EndpointError::Closed(endpoint.subject())),
            },
        }
    }
    subscriber
        .stop()
        .await
        .map_err(|source| EndpointError::Unsubscribe {
            subject: endpoint.subject(),
            source,
        })?;
    let drained = tokio::time::timeout(DRAIN_TIMEOUT, async {
        while let Some(message) = subscriber.next().await {
            tracker.spawn(handle(endpoint, message, context.clone()));
        }
    })
    .await;
    if drained.is_err() {
        warn!(
            subject = endpoint.subject(),
            "drain not confirmed in time; stopped anyway"
        );
    }
    info!(subject = endpoint.subject(), "stopped taking requests");
    Ok(())
}
