//! Rolls forward trades the catalog applied but the order log never got.
//!
//! A trade is applied in the catalog before it is logged. If the leader (or the frontend that
//! was retrying it) dies in between, nobody would ever log it and the catalog's quantities would
//! disagree with the order history. So the leader regularly asks the catalog for applied trades
//! that no log entry has confirmed and appends them; the sequencer's key lookup makes this
//! harmless for a trade that is in fact logged (it is then only confirmed).

use crate::catalog_client::CatalogClient;
use crate::election::Lease;
use crate::sequencer::{Sequencer, TradeOutcome};
use bazaar_nats::messages::Reply;
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// How often the leader looks for unlogged trades.
const SWEEP_EVERY: Duration = Duration::from_secs(1);
/// Trades younger than this may still be on their way through their first leader.
const MIN_AGE: Duration = Duration::from_secs(3);
/// Most trades one sweep asks the catalog for and rolls forward.
const TRADES_PER_SWEEP: u32 = 512;

/// Runs the sweep while this replica leads, until `stop`.
pub async fn run(
    lease: Arc<Lease>,
    catalog: CatalogClient,
    sequencer: Sequencer,
    stop: CancellationToken,
) {
    loop {
        tokio::select! {
            () = stop.cancelled() => return,
            () = tokio::time::sleep(SWEEP_EVERY) => {}
        }
        if lease.valid_epoch().is_none() {
            continue;
        }
        let trades = match catalog.pending(MIN_AGE, TRADES_PER_SWEEP).await {
            Reply::Ok { data } => data,
            other => {
                tracing::debug!(reply = ?other, "cannot list unlogged trades");
                continue;
            }
        };
        if trades.is_empty() {
            continue;
        }
        tracing::info!(
            count = trades.len(),
            "rolling forward trades the catalog applied but the log lacks"
        );
        let results = futures::future::join_all(
            trades
                .into_iter()
                .map(|t| sequencer.append(t.trade, t.version)),
        )
        .await;
        let logged = results
            .iter()
            .filter(|r| matches!(r, TradeOutcome::Logged(_)))
            .count();
        tracing::info!(logged, "roll-forward done");
    }
}
