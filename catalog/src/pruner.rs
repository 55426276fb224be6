//! Keeps the idempotency records bounded: forgets keys older than the retention.
//!
//! Every [`PRUNE_EVERY`] the task queues one prune of at most [`PRUNE_LIMIT`] keys through the
//! writer, so each transaction stays short and rides with the trades of its batch instead of
//! holding them up; while prunes come back full it queues the next at once, so a backlog drains
//! at the writer's pace. A key is remembered for the retention (from its first use); after that
//! a request carrying it is a new order.

use crate::writer::{now_unix_ms, WriterHandle};
use std::time::Duration;
use tokio_util::sync::CancellationToken;
use tracing::{debug, info, warn};

/// How often the task looks for expired keys when the last prune found few.
pub const PRUNE_EVERY: Duration = Duration::from_secs(1);
/// Most keys one prune looks at.
pub const PRUNE_LIMIT: usize = 2048;

/// Prunes records older than `retention` until `stop` is cancelled.
pub async fn run(writer: WriterHandle, retention: Duration, stop: CancellationToken) {
    info!(
        retention_secs = retention.as_secs(),
        "pruning idempotency keys"
    );
    let retention_ms = u64::try_from(retention.as_millis()).unwrap_or(u64::MAX);
    let mut pause = PRUNE_EVERY;
    loop {
        tokio::select! {
            () = stop.cancelled() => break,
            () = tokio::time::sleep(pause) => {}
        }
        let before_ms = now_unix_ms().saturating_sub(retention_ms);
        pause = match writer.prune(before_ms, PRUNE_LIMIT).await {
            Ok(pruned) => {
                if pruned.removed > 0 {
                    debug!(removed = pruned.removed, "expired idempotency keys pruned");
                }
                if pruned.examined == PRUNE_LIMIT && pruned.removed > 0 {
                    Duration::ZERO
                } else {
                    PRUNE_EVERY
                }
            }
            Err(why) => {
                warn!(error = %why, "pruning expired idempotency keys failed; will retry");
                PRUNE_EVERY
            }
        };
    }
    debug!("pruner stopped");
}
