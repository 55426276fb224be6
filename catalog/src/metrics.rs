//! The catalog's Prometheus metrics, recorded by the writer: trades by outcome, and each
//! commit's latency and size. Exported only when `--metrics-listen` is set.

use crate::store::OpAnswer;
use crate::trade::{Outcome, TradeAnswer};
use std::time::Duration;

/// Trades decided, by outcome (`applied`, `refused`, `replayed`, `key_reused`).
pub const TRADES: &str = "bazaar_catalog_trades_total";
/// How long one batch's redb write transaction took, commit included.
pub const COMMIT_DURATION: &str = "bazaar_catalog_commit_duration_seconds";
/// Operations (trades, confirms, prunes) per batch.
pub const BATCH_SIZE: &str = "bazaar_catalog_batch_size";
/// Batches whose commit failed (nothing of them was applied).
pub const COMMIT_FAILURES: &str = "bazaar_catalog_commit_failures_total";

/// Gives every catalog metric its help text (Prometheus shows it; promtool requires it).
pub fn describe() {
    use metrics::{describe_counter, describe_histogram, Unit};
    describe_counter!(
        TRADES,
        "Trades decided, by outcome: applied, refused, replayed (a known key), key_reused"
    );
    describe_histogram!(
        COMMIT_DURATION,
        Unit::Seconds,
        "One batch's redb write transaction, commit included"
    );
    describe_histogram!(
        BATCH_SIZE,
        "Operations (trades, confirms, prunes) per committed batch"
    );
    describe_counter!(
        COMMIT_FAILURES,
        "Batches whose commit failed; nothing of them was applied"
    );
    metrics::counter!(COMMIT_FAILURES).absolute(0);
}

/// Records one batch: its size, how long it took, and each trade's outcome.
pub fn batch_committed(answers: &[OpAnswer], took: Duration) {
    metrics::histogram!(BATCH_SIZE).record(answers.len() as f64);
    metrics::histogram!(COMMIT_DURATION).record(took.as_secs_f64());
    for answer in answers {
        if let OpAnswer::Trade(trade) = answer {
            metrics::counter!(TRADES, "outcome" => outcome_label(trade)).increment(1);
        }
    }
}

/// Records a batch whose commit failed.
pub fn batch_failed() {
    metrics::counter!(COMMIT_FAILURES).increment(1);
}

fn outcome_label(answer: &TradeAnswer) -> &'static str {
    match answer {
        TradeAnswer::Recorded(record) | TradeAnswer::Unrecorded(record) => match record.outcome {
            Outcome::Applied { .. } => "applied",
            Outcome::Rejected { .. } | Outcome::NotFound { .. } => "refused",
        },
        TradeAnswer::Replayed(_) => "replayed",
        TradeAnswer::KeyReused { .. } => "key_reused",
    }
}
