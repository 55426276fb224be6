//! The pause before the follower makes its consumer again: doubling while attempts fail before
//! a consumer exists, small again once one was made.

use std::time::Duration;

/// First pause before re-creating a consumer that could not be made; doubles up to
/// [`BACKOFF_MAX`].
const BACKOFF_MIN: Duration = Duration::from_millis(50);
/// Longest pause between two attempts to make a consumer.
const BACKOFF_MAX: Duration = Duration::from_secs(1);

/// The pause before the next attempt to make a consumer.
#[derive(Debug, Clone, Copy)]
pub(super) struct Backoff {
    next: Duration,
}

impl Default for Backoff {
    fn default() -> Self {
        Self { next: BACKOFF_MIN }
    }
}

impl Backoff {
    /// The pause after an attempt that failed; `consumer_made` says whether it got as far as a
    /// consumer, which makes the pause start small again.
    pub(super) fn after_failure(&mut self, consumer_made: bool) -> Duration {
        if consumer_made {
            self.next = BACKOFF_MIN;
        }
        let pause = self.next;
        self.next = (self.next * 2).min(BACKOFF_MAX);
        pause
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_pause_doubles_while_no_consumer_is_made_and_starts_small_once_one_was() {
        let mut backoff = Backoff::default();
        let failing: Vec<u128> = (0..6)
            .map(|_| backoff.after_failure(false).as_millis())
            .collect();
        assert_eq!(failing, vec![50, 100, 200, 400, 800, 1000]);
        assert_eq!(backoff.after_failure(true), BACKOFF_MIN);
        assert_eq!(backoff.after_failure(false), 2 * BACKOFF_MIN);
    }
}
