//! One client's event stream: the current state first, then every change, each stock's
//! versions only growing, until the client falls behind, the feed closes or the server stops.
//!
//! What a client is sent (`text/event-stream`):
//! - `event: stock`, `data: {"name","price","quantity","version"}`: one per stock with its
//!   state on connect, then one per change.
//! - `event: synced`, `data: {"stocks": N}`: after each full state (on connect, and again after
//!   the frontend reconnected to NATS), with a `retry` hint for the client's reconnects.
//!
//! A change whose version is not above the last one sent for its stock is dropped. A resent
//! state may repeat the last version sent (the client learns the state is current) but never
//! goes below it.

use super::{Feed, StockEvent};
use axum::response::sse::Event;
use bazaar_nats::StockName;
use futures::Stream;
use std::collections::{HashMap, VecDeque};
use std::convert::Infallible;
use std::time::Duration;
use tokio::sync::broadcast::{self, error::RecvError};
use tokio_util::sync::CancellationToken;

/// How long an EventSource waits before it reconnects after the stream ends.
pub const RECONNECT_HINT: Duration = Duration::from_secs(1);
/// How many stocks one stream tracks versions for. Only the catalog announces stocks, so this
/// only bounds memory against a flood of made-up names on the subject.
const MAX_TRACKED_STOCKS: usize = 100_000;

/// One event to send, before it is rendered for the wire.
#[derive(Debug, Clone, PartialEq)]
pub enum Outgoing {
    /// A stock's state.
    Stock(StockEvent),
    /// The end of a full state of this many stocks.
    Synced(usize),
}

impl Outgoing {
    /// The event as it goes on the wire.
    pub fn into_event(self) -> Event {
        match self {
            Self::Stock(stock) => Event::default()
                .event("stock")
                .json_data(&stock)
                .unwrap_or_else(|e| Event::default().comment(format!("unsendable stock: {e}"))),
            Self::Synced(stocks) => Event::default()
                .event("synced")
                .retry(RECONNECT_HINT)
                .data(format!(r#"{{"stocks":{stocks}}}"#)),
        }
    }
}

/// Why a stream ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ended {
    /// The client fell this many events behind the feed.
    Lagged(u64),
    /// The feed closed or the server is shutting down.
    Closed,
}

/// The state of one client's stream.
#[derive(Debug)]
pub struct ClientStream {
    feed: broadcast::Receiver<Feed>,
    closing: CancellationToken,
    /// The last version sent, per stock.
    sent: HashMap<StockName, u64>,
    queue: VecDeque<Outgoing>,
}

impl ClientStream {
    /// A stream that starts with `initial` (the catalog as listed after `feed` was subscribed,
    /// so no change between the two is lost) and ends when `closing` is cancelled.
    pub fn new(
        feed: broadcast::Receiver<Feed>,
        closing: CancellationToken,
        initial: &[StockEvent],
    ) -> Self {
        let mut stream = Self {
            feed,
            closing,
            sent: HashMap::new(),
            queue: VecDeque::new(),
        };
        stream.push_state(initial);
        stream
    }

    /// The next event to send, or why the stream ends.
    pub async fn next(&mut self) -> Result<Outgoing, Ended> {
        loop {
            if let Some(next) = self.queue.pop_front() {
                return Ok(next);
            }
            let received = tokio::select! {
                biased;
                () = self.closing.cancelled() => return Err(Ended::Closed),
                received = self.feed.recv() => received,
            };
            match received {
                Ok(Feed::Change(change)) => {
                    if self.note_sent(&change, false) {
                        self.queue.push_back(Outgoing::Stock((*change).clone()));
                    }
                }
                Ok(Feed::Snapshot(stocks)) => self.push_state(&stocks),
                Err(RecvError::Lagged(missed)) => return Err(Ended::Lagged(missed)),
                Err(RecvError::Closed) => return Err(Ended::Closed),
            }
        }
    }

    /// The stream of wire events; it ends where [`Self::next`] does.
    pub fn into_events(self) -> impl Stream<Item = Result<Event, Infallible>> + Send {
        futures::stream::unfold(self, |mut stream| async move {
            match stream.next().await {
                Ok(next) => Some((Ok(next.into_event()), stream)),
                Err(Ended::Lagged(missed)) => {
                    tracing::debug!(missed, "event stream client fell behind; ending its stream");
                    None
                }
                Err(Ended::Closed) => None,
            }
        })
    }

    /// Queues a full state: every stock not older than what was sent, then `synced`.
    fn push_state(&mut self, stocks: &[StockEvent]) {
        for stock in stocks {
            if self.note_sent(stock, true) {
                self.queue.push_back(Outgoing::Stock(stock.clone()));
            }
        }
        self.queue.push_back(Outgoing::Synced(stocks.len()));
    }

    /// Records `stock` as sent and says whether to send it: only above the last version sent,
    /// or equal to it in a resent state.
    fn note_sent(&mut self, stock: &StockEvent, resending: bool) -> bool {
        let tracked = self.sent.len();
        match self.sent.get_mut(&stock.name) {
            Some(last) => {
                let newer = stock.version > *last || (resending && stock.version == *last);
                if newer {
                    *last = stock.version;
                }
                newer
            }
            None if tracked < MAX_TRACKED_STOCKS => {
                self.sent.insert(stock.name.clone(), stock.version);
                true
            }
            None => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    fn stock(name: &str, quantity: u64, version: u64) -> StockEvent {
        StockEvent {
            name: StockName::parse(name).unwrap(),
            price: 1.5,
            quantity,
            version,
        }
    }

    fn change(name: &str, quantity: u64, version: u64) -> Feed {
        Feed::Change(Arc::new(stock(name, quantity, version)))
    }

    /// Everything the stream has ready now, without waiting for more.
    async fn ready(stream: &mut ClientStream) -> Vec<Outgoing> {
        let mut out = Vec::new();
        while let Ok(Ok(next)) =
            tokio::time::timeout(Duration::from_millis(20), stream.next()).await
        {
            out.push(next);
        }
        out
    }

    #[tokio::test]
    async fn the_current_state_comes_first_then_synced() {
        let (tx, rx) = broadcast::channel(8);
        let initial = [stock("A", 5, 1), stock("B", 7, 3)];
        let mut stream = ClientStream::new(rx, CancellationToken::new(), &initial);
        tx.send(change("A", 4, 2)).unwrap();
        assert_eq!(
            ready(&mut stream).await,
            vec![
                Outgoing::Stock(stock("A", 5, 1)),
                Outgoing::Stock(stock("B", 7, 3)),
                Outgoing::Synced(2),
                Outgoing::Stock(stock("A", 4, 2)),
            ]
        );
    }

    #[tokio::test]
    async fn a_change_not_above_the_last_version_sent_is_dropped() {
        let (tx, rx) = broadcast::channel(8);
        let mut stream = ClientStream::new(rx, CancellationToken::new(), &[stock("A", 5, 3)]);
        ready(&mut stream).await;
        // Listed after the subscription: the changes up to version 3 are already in the state.
        tx.send(change("A", 6, 2)).unwrap();
        tx.send(change("A", 5, 3)).unwrap();
        tx.send(change("A", 4, 4)).unwrap();
        tx.send(change("A", 9, 1)).unwrap();
        assert_eq!(
            ready(&mut stream).await,
            vec![Outgoing::Stock(stock("A", 4, 4))]
        );
    }

    #[tokio::test]
    async fn a_resent_state_repeats_current_versions_but_never_goes_back() {
        let (tx, rx) = broadcast::channel(8);
        let mut stream = ClientStream::new(
            rx,
            CancellationToken::new(),
            &[stock("A", 5, 3), stock("B", 1, 1)],
        );
        ready(&mut stream).await;
        tx.send(change("A", 4, 4)).unwrap();
        // Listed before version 4 of A was broadcast, and after a change to B.
        let snapshot = vec![stock("A", 5, 3), stock("B", 0, 2), stock("C", 8, 1)];
        tx.send(Feed::Snapshot(Arc::new(snapshot))).unwrap();
        assert_eq!(
            ready(&mut stream).await,
            vec![
                Outgoing::Stock(stock("A", 4, 4)),
                Outgoing::Stock(stock("B", 0, 2)),
                Outgoing::Stock(stock("C", 8, 1)),
                Outgoing::Synced(3),
            ]
        );
        tx.send(Feed::Snapshot(Arc::new(vec![stock("C", 8, 1)])))
            .unwrap();
        assert_eq!(
            ready(&mut stream).await,
            vec![Outgoing::Stock(stock("C", 8, 1)), Outgoing::Synced(1)]
        );
    }

    #[tokio::test]
    async fn a_client_that_falls_behind_the_feed_is_ended_not_buffered() {
        let (tx, rx) = broadcast::channel(4);
        let mut stream = ClientStream::new(rx, CancellationToken::new(), &[]);
        assert_eq!(stream.next().await, Ok(Outgoing::Synced(0)));
        for version in 1..=10 {
            tx.send(change("A", 1, version)).unwrap();
        }
        assert_eq!(stream.next().await, Err(Ended::Lagged(6)));
    }

    #[tokio::test]
    async fn the_stream_ends_when_the_server_closes_it() {
        let (_tx, rx) = broadcast::channel(4);
        let closing = CancellationToken::new();
        let mut stream = ClientStream::new(rx, closing.clone(), &[]);
        assert_eq!(stream.next().await, Ok(Outgoing::Synced(0)));
        closing.cancel();
        assert_eq!(stream.next().await, Err(Ended::Closed));
    }
}
