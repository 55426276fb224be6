//! When the log follower's lazy commits are made durable: at most [`FLUSH_EVERY`] after the
//! first commit that is not, or once [`FLUSH_ORDERS`] messages are waiting, whichever comes
//! first. The store is a projection of a synced log, so what a crash loses of it is replayed.

use crate::store::Commit;
use std::time::{Duration, Instant};

/// Longest time a lazy commit waits to be made durable.
pub(crate) const FLUSH_EVERY: Duration = Duration::from_millis(100);
/// Most messages applied lazily before a durable commit.
pub(crate) const FLUSH_ORDERS: u64 = 4096;

/// The follower's record of what is not yet durable.
#[derive(Debug, Default)]
pub(crate) struct Flush {
    /// When the oldest commit that is not durable was made.
    dirty_since: Option<Instant>,
    /// Messages applied since the last durable commit.
    waiting: u64,
}

impl Flush {
    /// How to commit a batch of `messages` applied at `now`.
    pub(crate) fn commit_for(&mut self, messages: u64, now: Instant) -> Commit {
        let since = *self.dirty_since.get_or_insert(now);
        self.waiting += messages;
        if self.waiting >= FLUSH_ORDERS || now.duration_since(since) >= FLUSH_EVERY {
            self.flushed();
            Commit::Durable
        } else {
            Commit::Lazy
        }
    }

    /// When the lazy commits so far must be made durable, if any are waiting.
    pub(crate) fn due(&self) -> Option<Instant> {
        self.dirty_since.map(|since| since + FLUSH_EVERY)
    }

    /// Everything so far is durable.
    pub(crate) fn flushed(&mut self) {
        self.dirty_since = None;
        self.waiting = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commits_are_lazy_until_the_oldest_waits_too_long() {
        let start = Instant::now();
        let mut flush = Flush::default();
        assert_eq!(flush.due(), None);
        assert_eq!(flush.commit_for(1, start), Commit::Lazy);
        assert_eq!(flush.due(), Some(start + FLUSH_EVERY));
        assert_eq!(flush.commit_for(1, start + FLUSH_EVERY / 2), Commit::Lazy);
        assert_eq!(flush.commit_for(1, start + FLUSH_EVERY), Commit::Durable);
        assert_eq!(flush.due(), None, "a durable commit leaves nothing waiting");
    }

    #[test]
    fn many_messages_make_a_durable_commit_at_once() {
        let now = Instant::now();
        let mut flush = Flush::default();
        assert_eq!(flush.commit_for(FLUSH_ORDERS - 1, now), Commit::Lazy);
        assert_eq!(flush.commit_for(1, now), Commit::Durable);
        assert_eq!(flush.commit_for(FLUSH_ORDERS, now), Commit::Durable);
    }
}
