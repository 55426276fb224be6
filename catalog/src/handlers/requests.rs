//! Answering one request: decode its payload, ask the store or the writer, and reply with the
//! result envelope (after any injected delay).

use super::{Context, Endpoint};
use crate::trade::STOCK_NOT_FOUND;
use crate::writer::now_unix_ms;
use async_nats::service::Request;
use bazaar_nats::messages::{
    decode, ConfirmLogged, DecodeError, PendingQuery, Reply, Stock, StockLookup, TradeApplied,
    TradeRequest, UnloggedTrade,
};
use bazaar_nats::micro;
use bazaar_nats::subjects::{STOCK_LOOKUP, STOCK_TRADE, TRADES_CONFIRM, TRADES_PENDING};
use serde::de::DeserializeOwned;
use tracing::{debug, error, field, instrument, warn, Span};

/// How much of a malformed payload a log line quotes.
const LOGGED_PAYLOAD_BYTES: usize = 200;

/// Handles one message and sends the reply, if the message asked for one.
pub(super) async fn handle(endpoint: Endpoint, request: Request, context: Context) {
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
fn decode_logged<T: DeserializeOwned>(subject: &str, payload: &[u8]) -> Result<T, DecodeError> {
    decode(payload).map_err(|message| {
        let shown = &payload[..payload.len().min(LOGGED_PAYLOAD_BYTES)];
        warn!(
            subject,
            payload = %String::from_utf8_lossy(shown),
            bytes = payload.len(),
            error = %message,
            "malformed payload"
        );
        message
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
        Err(message) => return Reply::invalid(message.to_string()),
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
        Err(message) => return Reply::invalid(message.to_string()),
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
        Err(message) => return Reply::invalid(message.to_string()),
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
        Err(message) => return Reply::invalid(message.to_string()),
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
