//! The pacing of retries (exponential backoff within the call's deadline) and what each retry
//! leaves behind: a log line and a metric.

use std::time::Duration;
use tokio::time::Instant;

/// First pause between two attempts; doubles up to [`BACKOFF_MAX`].
pub(super) const BACKOFF_MIN: Duration = Duration::from_millis(50);
/// Longest pause between two attempts.
pub(super) const BACKOFF_MAX: Duration = Duration::from_millis(500);
/// The first retry of a call is a warning (a failover or restart is under way); later ones are
/// debug, so an outage does not flood the log. Giving up is a warning too.
pub(super) fn log_retry(attempts: u32, service: &str, why: &str) {
    if attempts == 1 {
        tracing::warn!(service, reason = %why, "retrying request");
    } else {
        tracing::debug!(service, reason = %why, attempts, "retrying request");
    }
}

/// Counts one retry of a call to `service` (`catalog` or `order`) by its reason's label.
pub(super) fn count_retry(service: &'static str, reason: &'static str) {
    metrics::counter!("bazaar_frontend_retries_total", "service" => service, "reason" => reason)
        .increment(1);
}

/// Counts one call that spent its retry budget (answered 503), by the last reason it retried.
pub(super) fn count_unavailable(service: &'static str, reason: &'static str) {
    metrics::counter!("bazaar_frontend_unavailable_total", "service" => service, "reason" => reason)
        .increment(1);
}

/// Sleeps for `backoff` (then doubles it up to [`BACKOFF_MAX`]) if that still leaves time before
/// `deadline` for another attempt; returns whether to try again.
pub(super) async fn pause(backoff: &mut Duration, deadline: Instant) -> bool {
    let now = Instant::now();
    if now + *backoff >= deadline {
        return false;
    }
    tokio::time::sleep(*backoff).await;
    *backoff = (*backoff * 2).min(BACKOFF_MAX);
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn pause_backs_off_exponentially_and_stops_at_the_deadline() {
        let start = Instant::now();
        let deadline = start + Duration::from_millis(1000);
        let mut backoff = BACKOFF_MIN;
        let mut sleeps = Vec::new();
        while pause(&mut backoff, deadline).await {
            sleeps.push(Instant::now());
        }
        // 50 + 100 + 200 + 400 = 750 ms; the next 500 ms pause would cross the deadline.
        assert_eq!(sleeps.len(), 4);
        assert!(Instant::now() - start < Duration::from_millis(1000));
        assert_eq!(backoff, BACKOFF_MAX);
    }
}
