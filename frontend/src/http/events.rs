//! `GET /stocks/events`: the live stock feed as Server-Sent Events.
//!
//! The stream opens with every stock's current state (listed from the catalog after the client
//! subscribed to the feed, so no change in between is lost), then carries every change; see
//! [`crate::events::client`] for what is sent. A `Last-Event-ID` header is ignored: the events
//! carry no ids, and a client that reconnects always gets the full current state again.

use super::AppState;
use crate::error::AppError;
use crate::events::client::ClientStream;
use crate::events::StockEvent;
use axum::extract::State;
use axum::http::{HeaderName, HeaderValue};
use axum::response::sse::{KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use std::sync::Arc;

/// What proxies that buffer answers (nginx) read to pass each event on at once.
const NO_PROXY_BUFFERING: (HeaderName, HeaderValue) = (
    HeaderName::from_static("x-accel-buffering"),
    HeaderValue::from_static("no"),
);

/// Streams stock events: every stock's state, then every change.
///
/// `event: stock` events carry a [`StockEvent`]: one per stock on connect, then one per
/// change, each stock's `version` growing. `event: synced` (`{"stocks": N}`) follows each full
/// state: on connect, and again after the frontend reconnected to NATS (changes may have been
/// missed, so the full state is resent; a resent stock may repeat its last version). Comment
/// lines (`:heartbeat`) keep proxies from closing a quiet stream. A client that falls far behind
/// has its stream ended; it reconnects (the `retry` hint is 1 s) and gets the current state.
#[utoipa::path(
    get,
    path = "/stocks/events",
    operation_id = "streamStockEvents",
    tag = "stocks",
    responses(
        (status = 200,
            description = "An endless `text/event-stream`: `event: stock` events whose `data` \
                is a StockEvent, `event: synced` with `{\"stocks\": N}` after each full \
                state, and `:heartbeat` comments",
            content_type = "text/event-stream",
            body = String,
            headers(("Cache-Control" = String, description = "`no-cache`"))),
        (status = 500, response = super::openapi::InternalError),
        (status = 503, response = super::openapi::Unavailable),
    )
)]
pub(super) async fn stream(State(state): State<Arc<AppState>>) -> Result<Response, AppError> {
    // Subscribed before the list, so a change committed in between reaches the client too.
    let feed = state.events.subscribe();
    let stocks = state.bus.list().await?;
    let initial: Vec<StockEvent> = stocks
        .into_iter()
        .map(|stock| StockEvent::from(&*state.cache.observe(stock)))
        .collect();
    tracing::debug!(stocks = initial.len(), "event stream opened");
    let client = ClientStream::new(feed, state.events.closing().clone(), &initial);
    let heartbeat = KeepAlive::new()
        .interval(state.events.heartbeat())
        .text("heartbeat");
    let mut response = Sse::new(client.into_events())
        .keep_alive(heartbeat)
        .into_response();
    let (name, value) = NO_PROXY_BUFFERING;
    response.headers_mut().insert(name, value);
    Ok(response)
}
