//! Polling for a condition that becomes true by itself (a lease written, a cache emptied, a
//! service answering), with one interval and one failure message for every test in the
//! workspace.

use std::future::Future;
use std::time::{Duration, Instant};

/// How often [`wait_until`] asks again: often enough to notice a change soon after it happens,
/// seldom enough that the polling does not crowd out what it waits for.
const POLL_INTERVAL: Duration = Duration::from_millis(50);

/// Polls `check` every [`POLL_INTERVAL`] until it is true.
///
/// # Panics
/// When `within` passes first, naming `what`.
pub async fn wait_until<F, Fut>(within: Duration, what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let deadline = Instant::now() + within;
    while !check().await {
        assert!(
            Instant::now() < deadline,
            "timed out after {within:?} waiting for: {what}"
        );
        tokio::time::sleep(POLL_INTERVAL).await;
    }
}
