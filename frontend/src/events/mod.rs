//! Live stock events: one subscription to the catalog's changes per frontend, fanned out to every
//! `GET /stocks/events` client through a broadcast channel.
//!
//! The catalog publishes `stock.invalidate` after every committed change, with the stock's price,
//! quantity and version after it. The frontend's invalidation task hands each one to
//! [`StockEvents::announce`], which sends it to every client's receiver ([`client`]) at once: no
//! lookup per change, let alone per client.
//!
//! - A client that falls more than [`FEED_CAPACITY`] events behind has its stream ended rather
//!   than buffered: its EventSource reconnects and starts again from the current state.
//! - After a NATS reconnect, changes may have been missed: [`StockEvents::resync`] asks the
//!   [refresher](StockEvents::refresh) to list the catalog once, and every stream resends it.
//! - An invalidation without the state (from a catalog that predates it) asks the refresher for
//!   the catalog too, and the stocks that changed go out as changes: one list per burst of such
//!   invalidations for the whole frontend.

pub mod client;

use crate::bus::Bus;
use bazaar_nats::messages::{Invalidation, Stock};
use bazaar_nats::StockName;
use serde::Serialize;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{broadcast, Notify};
use tokio_util::sync::CancellationToken;

/// How many events a client may fall behind before its stream is ended: at this machine's
/// highest trade rate, a few hundred milliseconds of changes.
pub const FEED_CAPACITY: usize = 4096;
/// Pause before the refresher lists the catalog again after a failed list.
const REFRESH_RETRY_PAUSE: Duration = Duration::from_millis(500);

/// One stock's state, as each event of the stream carries it.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct StockEvent {
    /// The stock.
    #[schema(value_type = String, example = "GameStart")]
    pub name: StockName,
    /// Price per share.
    #[schema(example = 15.99)]
    pub price: f64,
    /// Shares available to buy.
    #[schema(example = 99)]
    pub quantity: u64,
    /// Grows with every change to this stock.
    #[schema(example = 1)]
    pub version: u64,
}

impl From<&Stock> for StockEvent {
    fn from(stock: &Stock) -> Self {
        Self {
            name: stock.name.clone(),
            price: stock.price,
            quantity: stock.quantity,
            version: stock.version,
        }
    }
}

impl StockEvent {
    /// The state an invalidation carries, or `None` when it carries only name and version.
    pub fn from_invalidation(invalidation: &Invalidation) -> Option<Self> {
        Some(Self {
            name: invalidation.name.clone(),
            price: invalidation.price?,
            quantity: invalidation.quantity?,
            version: invalidation.version,
        })
    }
}

/// What the broadcast channel carries to every stream.
#[derive(Debug, Clone)]
pub enum Feed {
    /// One stock changed.
    Change(Arc<StockEvent>),
    /// The whole catalog, listed after a reconnect: every stream resends it.
    Snapshot(Arc<Vec<StockEvent>>),
}

/// What the refresher has been asked for since it last listed the catalog.
#[derive(Debug, Default)]
struct Wanted {
    /// A snapshot every stream resends (after a reconnect).
    snapshot: AtomicBool,
    /// The stocks whose invalidations came without their state, as changes.
    changes: AtomicBool,
    /// Wakes the refresher; keeps a permit when it is busy, so no request is lost.
    wake: Notify,
}

/// The fan-out of stock changes to the event streams.
#[derive(Debug)]
pub struct StockEvents {
    feed: broadcast::Sender<Feed>,
    wanted: Wanted,
    heartbeat: Duration,
    closing: CancellationToken,
}

impl StockEvents {
    /// A fan-out whose streams send a heartbeat comment after `heartbeat` without an event and
    /// end when `closing` is cancelled (the server is shutting down).
    pub fn new(heartbeat: Duration, closing: CancellationToken) -> Self {
        let (feed, _) = broadcast::channel(FEED_CAPACITY);
        Self {
            feed,
            wanted: Wanted::default(),
            heartbeat,
            closing,
        }
    }

    /// A receiver of every change from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<Feed> {
        self.feed.subscribe()
    }

    /// How long a stream may go without sending anything before it sends a heartbeat.
    pub fn heartbeat(&self) -> Duration {
        self.heartbeat
    }

    /// Cancelled when the server shuts down: every stream then ends.
    pub fn closing(&self) -> &CancellationToken {
        &self.closing
    }

    /// Sends a catalog change to every stream.
    pub fn announce(&self, invalidation: &Invalidation) {
        match StockEvent::from_invalidation(invalidation) {
            Some(event) => self.send(Feed::Change(Arc::new(event))),
            None => self.want(&self.wanted.changes),
        }
    }

    /// Makes every stream resend the whole catalog, as listed once for all of them.
    pub fn resync(&self) {
        self.want(&self.wanted.snapshot);
    }

    fn want(&self, what: &AtomicBool) {
        what.store(true, Ordering::Release);
        self.wanted.wake.notify_one();
    }

    fn send(&self, feed: Feed) {
        // No receiver means no client is connected: nothing to do.
        let _ = self.feed.send(feed);
    }

    /// Lists the catalog whenever [`Self::resync`] or a stateless invalidation asks for it,
    /// retrying a failed list, until `stop`.
    pub async fn refresh(self: Arc<Self>, bus: Bus, stop: CancellationToken) {
        loop {
            tokio::select! {
                () = stop.cancelled() => return,
                () = self.wanted.wake.notified() => {}
            }
            loop {
                let snapshot = self.wanted.snapshot.swap(false, Ordering::AcqRel);
                let changes = self.wanted.changes.swap(false, Ordering::AcqRel);
                if !snapshot && !changes {
                    break;
                }
                match bus.list().await {
                    Ok(stocks) => self.publish_listed(&stocks, snapshot),
                    Err(e) => {
                        tracing::warn!(error = %e, "cannot list the catalog for the event streams; retrying");
                        self.wanted.snapshot.fetch_or(snapshot, Ordering::AcqRel);
                        self.wanted.changes.fetch_or(changes, Ordering::AcqRel);
                        tokio::select! {
                            () = stop.cancelled() => return,
                            () = tokio::time::sleep(REFRESH_RETRY_PAUSE) => {}
                        }
                    }
                }
            }
        }
    }

    /// Sends a listed catalog as one snapshot, or as one change per stock (streams drop those
    /// that are not newer than what they sent).
    fn publish_listed(&self, stocks: &[Stock], as_snapshot: bool) {
        let events: Vec<StockEvent> = stocks.iter().map(StockEvent::from).collect();
        tracing::debug!(
            stocks = events.len(),
            as_snapshot,
            "catalog listed for the event streams"
        );
        if as_snapshot {
            self.send(Feed::Snapshot(Arc::new(events)));
        } else {
            for event in events {
                self.send(Feed::Change(Arc::new(event)));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn invalidation(price: Option<f64>, quantity: Option<u64>) -> Invalidation {
        Invalidation {
            name: StockName::parse("FishCo").unwrap(),
            version: 4,
            price,
            quantity,
        }
    }

    #[test]
    fn an_invalidation_with_its_state_goes_out_as_a_change() {
        let events = StockEvents::new(Duration::from_secs(15), CancellationToken::new());
        let mut receiver = events.subscribe();
        events.announce(&invalidation(Some(2.5), Some(40)));
        let Ok(Feed::Change(change)) = receiver.try_recv() else {
            panic!("expected a change");
        };
        assert_eq!(
            *change,
            StockEvent {
                name: StockName::parse("FishCo").unwrap(),
                price: 2.5,
                quantity: 40,
                version: 4,
            }
        );
    }

    #[test]
    fn an_invalidation_without_its_state_asks_for_a_list_instead() {
        let events = StockEvents::new(Duration::from_secs(15), CancellationToken::new());
        let mut receiver = events.subscribe();
        events.announce(&invalidation(None, Some(40)));
        assert!(receiver.try_recv().is_err(), "nothing half-known is sent");
        assert!(events.wanted.changes.load(Ordering::Acquire));
        assert!(!events.wanted.snapshot.load(Ordering::Acquire));
        events.resync();
        assert!(events.wanted.snapshot.load(Ordering::Acquire));
    }
}
