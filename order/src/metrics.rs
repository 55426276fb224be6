//! The replica's Prometheus gauges, refreshed once a second off the trade path: whether it
//! leads and in which term, how many orders its store holds, how far its store is behind the
//! stream's tail, and how long it took to first reach that tail after starting. Counters of
//! refused appends are recorded where they happen (`sequencer`).
//!
//! Runs only when the process records metrics (`--metrics-listen`), since reading the stream's
//! tail is a JetStream request.

use crate::election::{Lease, Role};
use crate::store::Digest;
use async_nats::jetstream;
use bazaar_nats::subjects::ORDERS_STREAM;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

/// How often the gauges are refreshed once the store has reached the tail.
const EVERY: Duration = Duration::from_secs(1);
/// How often while catching up, so the catch-up time is measured finely.
const WHILE_CATCHING_UP: Duration = Duration::from_millis(100);

/// Append runs the broker refused because another leader's message was at the tail.
pub const APPENDS_FENCED: &str = "bazaar_order_appends_fenced_total";

/// Refreshes the gauges until `stop`; `started` is when the replica began, for the catch-up
/// time.
pub async fn run(
    js: jetstream::Context,
    lease: Arc<Lease>,
    stored: watch::Receiver<Digest>,
    started: Instant,
    stop: CancellationToken,
) {
    describe();
    metrics::counter!(APPENDS_FENCED).absolute(0);
    let mut caught_up = false;
    loop {
        let role = lease.role();
        let (leading, epoch) = match role {
            Role::Leader { epoch, .. } => (lease.valid_epoch().is_some(), epoch),
            Role::Follower { .. } => (false, 0),
        };
        metrics::gauge!("bazaar_order_is_leader").set(f64::from(u8::from(leading)));
        metrics::gauge!("bazaar_order_term_epoch").set(epoch as f64);
        let digest = *stored.borrow();
        metrics::gauge!("bazaar_order_orders_stored").set(digest.count as f64);
        metrics::gauge!("bazaar_order_stored_sequence").set(digest.sequence as f64);
        if let Some(tail) = stream_tail(&js).await {
            let lag = tail.saturating_sub(digest.sequence);
            metrics::gauge!("bazaar_order_stream_last_sequence").set(tail as f64);
            metrics::gauge!("bazaar_order_log_lag").set(lag as f64);
            if !caught_up && lag == 0 {
                caught_up = true;
                let took = started.elapsed().as_secs_f64();
                metrics::gauge!("bazaar_order_catch_up_seconds").set(took);
                tracing::info!(seconds = took, "store reached the log's tail");
            }
        }
        let pause = if caught_up { EVERY } else { WHILE_CATCHING_UP };
        tokio::select! {
            () = stop.cancelled() => return,
            () = tokio::time::sleep(pause) => {}
        }
    }
}

/// Gives every replica metric its help text (Prometheus shows it; promtool requires it).
fn describe() {
    use metrics::{describe_counter, describe_gauge, Unit};
    describe_gauge!(
        "bazaar_order_is_leader",
        "1 while this replica leads with a valid lease"
    );
    describe_gauge!(
        "bazaar_order_term_epoch",
        "The epoch of the term this replica leads (0 when following)"
    );
    describe_gauge!(
        "bazaar_order_orders_stored",
        "Orders in this replica's store"
    );
    describe_gauge!(
        "bazaar_order_stored_sequence",
        "The last stream sequence the store applied"
    );
    describe_gauge!(
        "bazaar_order_stream_last_sequence",
        "The order stream's last sequence"
    );
    describe_gauge!(
        "bazaar_order_log_lag",
        "Stream messages the store has not applied yet"
    );
    describe_gauge!(
        "bazaar_order_catch_up_seconds",
        Unit::Seconds,
        "From start until the store first reached the stream's tail"
    );
    describe_counter!(
        APPENDS_FENCED,
        "Append runs refused because another leader's message was at the tail"
    );
}

/// The stream's last sequence, or `None` (logged at debug) when the broker does not answer.
async fn stream_tail(js: &jetstream::Context) -> Option<u64> {
    match js.get_stream(ORDERS_STREAM).await {
        Ok(stream) => Some(stream.cached_info().state.last_sequence),
        Err(e) => {
            tracing::debug!(error = %e, "cannot read the order stream's tail for metrics");
            None
        }
    }
}
