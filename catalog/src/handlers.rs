//! The catalog's NATS endpoints: one micro-service endpoint per subject, one task per message.
//!
//! The catalog registers as the NATS micro service `catalog` (`nats micro info catalog`), each
//! subject an endpoint in the `catalog` queue group, so several catalogs would share the load.
//! A fault gate (see `bazaar_nats::fault`) can hold requests (pause) and replies (delay). Reads go straight to the store (their own read transaction, on the blocking pool);
//! writes go through the [`WriterHandle`]. A payload that does not parse gets an `invalid` reply
//! and a `warn!` naming the subject and the start of the payload. Handlers never panic.

use crate::store::Store;
use crate::trade::STOCK_NOT_FOUND;
use crate::writer::{now_unix_ms, WriterHandle};
use anyhow::Context as _;
use async_nats::service::{endpoint::Endpoint as MicroEndpoint, Request};
use bazaar_nats::fault::FaultGate;
use bazaar_nats::messages::{
    decode, ConfirmLogged, PendingQuery, Reply, Stock, StockLookup, TradeApplied, TradeRequest,
    UnloggedTrade,
};
use bazaar_nats::micro::{self, ErrorReplies, Micro};
use bazaar_nats::subjects::{
    SERVICE_CATALOG, STOCK_LIST, STOCK_LOOKUP, STOCK_TRADE, TRADES_CONFIRM, TRADES_PENDING,
};
use futures::StreamExt;
use serde::de::DeserializeOwned;
use std::time::Duration;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::{debug, error, field, info, instrument, warn, Span};

/// Queue group every catalog subscription joins.
pub(crate) const QUEUE_GROUP: &str = "catalog";
/// How much of a malformed payload a log line quotes.
const LOGGED_PAYLOAD_BYTES: usize = 200;
/// How long a stopping subscription waits for the server to confirm it is drained.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(5);

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
pub(crate) async fn subscribe_all(
    client: &async_nats::Client,
) -> anyhow::Result<(Micro, Vec<(Endpoint, MicroEndpoint)>)> {
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
            .map_err(|e| anyhow::anyhow!("{e}"))
            .with_context(|| format!("cannot subscribe to {}", endpoint.subject()))?;
        subscriptions.push((endpoint, subscriber));
    }
    Ok((micro, subscriptions))
}

/// Serves one subscription until `stop`, spawning one task per message on `tracker`; then
/// drains it (unsubscribes, and still serves what had already arrived).
///
/// # Errors
/// When the subscription ends by itself (the client was closed) before `stop`.
pub(crate) async fn serve_endpoint(
    endpoint: Endpoint,
    mut subscriber: MicroEndpoint,
    context: Context,
    stop: CancellationToken,
    tracker: TaskTracker,
) -> anyhow::Result<()> {
    loop {
        tokio::select! {
            () = stop.cancelled() => break,
            message = subscriber.next() => match message {
                Some(message) => {
                    tracker.spawn(handle(endpoint, message, context.clone()));
                }
                None => anyhow::bail!("subscription to {} closed", endpoint.subject()),
            },
        }
    }
    subscriber
        .stop()
        .await
        .with_context(|| format!("cannot unsubscribe from {}", endpoint.subject()))?;
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

/// Handles one message and sends the reply, if the message asked for one.
async fn handle(endpoint: Endpoint, request: Request, context: Context) {
    context.gate.pass().await;
    let payload = &request.message.payload;
    match endpoint {
        Endpoint::Lookup => {
            send(
                endpoint,
                &request,
                lookup(&context, payload).await,
                &context,
            )
            .await
        }
        Endpoint::List => send(endpoint, &request, list(&context).await, &context).await,
        Endpoint::Trade => send(endpoint, &request, trade(&context, payload).await, &context).await,
        Endpoint::Pending => {
            send(
                endpoint,
                &request,
                pending(&context, payload).await,
                &context,
            )
            .await;
        }
        Endpoint::Confirm => {
            send(
                endpoint,
                &request,
                confirm(&context, payload).await,
                &context,
            )
            .await;
        }
    }
}

/// Sends `reply` (after any injected delay), counted in the endpoint's stats.
async fn send<T: serde::Serialize>(
    endpoint: Endpoint,
    request: &Request,
    reply: Reply<T>,
    context: &Context,
) {
    if request.message.reply.is_none() {
        if endpoint != Endpoint::Confirm {
            debug!(
                subject = endpoint.subject(),
                "request without a reply subject"
            );
        }
        return;
    }
    context.gate.before_reply().await;
    if let Err(e) = micro::respond(request, endpoint.name(), &reply, &context.errors).await {
        warn!(subject = endpoint.subject(), error = %e, "could not send a reply");
    }
}

/// Decodes a payload, logging a malformed one with the subject and the payload's start.
fn decode_logged<T: DeserializeOwned>(subject: &str, payload: &[u8]) -> Result<T, String> {
    decode(payload).map_err(|message| {
        let shown = &payload[..payload.len().min(LOGGED_PAYLOAD_BYTES)];
        warn!(
            subject,
            payload = %String::from_utf8_lossy(shown),
            bytes = payload.len(),
            error = %message,
            "malformed payload"
        );
        message.to_string()
    })
}

/// An internal fault: logged in full, answered as `error`.
fn internal<T>(what: &str, e: &dyn std::fmt::Display) -> Reply<T> {
    error!(operation = what, error = %e, "store call failed");
    Reply::error(format!("{what} failed: {e}"))
}

#[instrument(skip_all, fields(name = field::Empty))]
async fn lookup(context: &Context, payload: &[u8]) -> Reply<Stock> {
    let request: StockLookup = match decode_logged(STOCK_LOOKUP, payload) {
        Ok(request) => request,
        Err(message) => return Reply::invalid(message),
    };
    Span::current().record("name", field::display(&request.name));
    debug!("lookup");
    match context.store.get(request.name).await {
        Ok(Some(stock)) => Reply::ok(stock),
        Ok(None) => Reply::not_found(STOCK_NOT_FOUND),
        Err(e) => internal("stock lookup", &e),
    }
}

#[instrument(skip_all)]
async fn list(context: &Context) -> Reply<Vec<Stock>> {
    debug!("list");
    match context.store.list().await {
        Ok(stocks) => Reply::ok(stocks),
        Err(e) => internal("stock list", &e),
    }
}

#[instrument(skip_all, fields(key = field::Empty, name = field::Empty))]
async fn trade(context: &Context, payload: &[u8]) -> Reply<TradeApplied> {
    let request: TradeRequest = match decode_logged(STOCK_TRADE, payload) {
        Ok(request) => request,
        Err(message) => return Reply::invalid(message),
    };
    let span = Span::current();
    span.record("key", field::display(&request.key));
    span.record("name", field::display(&request.name));
    debug!(
        side = request.side.as_str(),
        quantity = request.quantity.get(),
        "trade"
    );
    context.writer.trade(request).await
}

#[instrument(skip_all)]
async fn pending(context: &Context, payload: &[u8]) -> Reply<Vec<UnloggedTrade>> {
    let query: PendingQuery = match decode_logged(TRADES_PENDING, payload) {
        Ok(query) => query,
        Err(message) => return Reply::invalid(message),
    };
    debug!(
        min_age_ms = query.min_age_ms,
        limit = query.limit,
        "pending"
    );
    match context
        .store
        .pending(query.min_age_ms, query.limit, now_unix_ms())
        .await
    {
        Ok(trades) => Reply::ok(trades),
        Err(e) => internal("pending query", &e),
    }
}

#[instrument(skip_all, fields(keys = field::Empty))]
async fn confirm(context: &Context, payload: &[u8]) -> Reply<()> {
    let confirmed: ConfirmLogged = match decode_logged(TRADES_CONFIRM, payload) {
        Ok(confirmed) => confirmed,
        Err(message) => return Reply::invalid(message),
    };
    Span::current().record("keys", confirmed.keys.len());
    debug!("confirm");
    if confirmed.keys.is_empty() {
        return Reply::ok(());
    }
    let reply = context.writer.confirm(confirmed.keys).await;
    if !matches!(reply, Reply::Ok { .. }) {
        warn!(reply = ?reply, "confirm not recorded; the order leader will confirm again");
    }
    reply
}
