//! The election's decisions, apart from its I/O: from what one read of the lease key gave and
//! what this replica remembers of earlier rounds, what it does next. Nothing here touches the
//! broker or the clock, so every case is tested on its own (`election::tests`).

use super::{DEAD_AFTER_PROBES, SAFETY_MARGIN, STAGGER, STEPDOWN_COOLDOWN};
use bazaar_nats::setup::LEADER_LEASE;
use std::fmt::Display;
use std::time::{Duration, Instant};

/// What one read of the lease key gave a follower.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum LeaseRead {
    /// The key names replica `holder`, written at `revision`.
    Held {
        /// The replica the key names.
        holder: u32,
        /// The key's revision.
        revision: u64,
    },
    /// The key holds a value that names no replica, written at `revision`.
    Garbage {
        /// The key's revision.
        revision: u64,
    },
    /// The key is absent: never written, expired, deleted or purged.
    Vacant,
    /// The key could not be read.
    Unreadable,
}

impl LeaseRead {
    /// The leader a follower records from this read, or `None` when the read says nothing and
    /// the follower keeps what it knew.
    pub(super) fn leader(self) -> Option<Option<u32>> {
        match self {
            Self::Held { holder, .. } => Some(Some(holder)),
            Self::Garbage { .. } | Self::Vacant => Some(None),
            Self::Unreadable => None,
        }
    }
}

/// What a follower does with one read of the key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Action {
    /// Probe `holder`, another replica; if that shows it gone, release the key at `revision`.
    Probe {
        /// The replica the key names.
        holder: u32,
        /// The key's revision, to release it at.
        revision: u64,
    },
    /// Delete the key at `revision`, because its holder (`None`: no replica) is gone.
    Release {
        /// The key's revision: a renewal in between makes the delete fail, as it should.
        revision: u64,
        /// The replica the key named, for the log.
        holder: Option<u32>,
    },
    /// The key is vacant and this replica's turn has come: campaign if its store is caught up.
    Campaign,
    /// Nothing to do this round.
    Wait,
}

/// How the broker answered a probe of the leader's digest subject.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum ProbeAnswer {
    /// Nobody subscribes to it: the leader's connection is gone.
    NoResponders,
    /// A reply, a timeout or another error: the leader may be alive.
    Other,
}

/// How a campaign (a `create` of the key) ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Campaign {
    /// The store is not at the log's tail, or a hold is in force: no `create` was sent.
    NotCaughtUp,
    /// The `create` won the key at `revision`: this replica leads a term with that epoch.
    Won {
        /// The revision of the winning write.
        revision: u64,
    },
    /// Another replica created the key first.
    Taken,
    /// The `create` failed otherwise.
    Failed,
}

/// What a leader does after a renewal came back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Renewal {
    /// The lease is renewed and ends at `until` on this replica's clock.
    Renewed {
        /// When to stop acting unless renewed again.
        until: Instant,
    },
    /// Stop leading, for this reason.
    StepDown(String),
}

/// When a lease written at `sent` must be taken as over: the lease less a margin for timer
/// granularity and clock rate differences, counted from the send time since the server's
/// expiry counts from when it received the write.
pub(super) fn lease_until(sent: Instant) -> Instant {
    sent + LEADER_LEASE - SAFETY_MARGIN
}

/// What a replica remembers between rounds of the election.
#[derive(Debug)]
pub(super) struct Rounds {
    /// This replica's id, to recognise itself in the key.
    id: u32,
    /// How long the key must stay vacant before this replica campaigns: longer for lower ids,
    /// so the highest live id usually wins.
    stagger: Duration,
    /// The revision of this replica's last write to the key; a leader renews and resigns at it.
    revision: u64,
    /// Since when the key has been seen vacant without a break.
    vacant_since: Option<Instant>,
    /// "No responders" answers to probes of the holder, in a row.
    silent_probes: u32,
    /// Before this instant the replica does not campaign (it stepped down on request).
    cooldown_until: Instant,
}

impl Rounds {
    /// The memory of replica `id` of `replicas`, starting at `now`.
    pub(super) fn new(id: u32, replicas: u32, now: Instant) -> Self {
        Self {
            id,
            stagger: STAGGER * replicas.saturating_sub(id),
            revision: 0,
            vacant_since: None,
            silent_probes: 0,
            cooldown_until: now,
        }
    }

    /// The revision of this replica's last write to the key.
    pub(super) fn revision(&self) -> u64 {
        self.revision
    }

    /// What a follower does after reading `read` at `now`.
    pub(super) fn decide(&mut self, read: LeaseRead, now: Instant) -> Action {
        match read {
            LeaseRead::Held { holder, revision } => {
                self.vacant_since = None;
                if holder == self.id {
                    // This replica stepped down, or crashed and came back: nobody leads.
                    Action::Release {
                        revision,
                        holder: Some(holder),
                    }
                } else {
                    Action::Probe { holder, revision }
                }
            }
            LeaseRead::Garbage { revision } => {
                self.vacant_since = None;
                Action::Release {
                    revision,
                    holder: None,
                }
            }
            LeaseRead::Vacant => {
                let since = *self.vacant_since.get_or_insert(now);
                let staggered = now.saturating_duration_since(since) >= self.stagger;
                if staggered && now >= self.cooldown_until {
                    Action::Campaign
                } else {
                    Action::Wait
                }
            }
            LeaseRead::Unreadable => Action::Wait,
        }
    }

    /// Counts a probe's answer; returns whether the holder is now taken for gone, after
    /// [`DEAD_AFTER_PROBES`] "no responders" in a row.
    pub(super) fn probed(&mut self, answer: ProbeAnswer) -> bool {
        match answer {
            ProbeAnswer::NoResponders => self.silent_probes += 1,
            ProbeAnswer::Other => self.silent_probes = 0,
        }
        if self.silent_probes >= DEAD_AFTER_PROBES {
            self.silent_probes = 0;
            return true;
        }
        false
    }

    /// Records how a campaign ended. A decided campaign (won or taken) ends the vacancy, so
    /// the next vacancy staggers afresh; one that sent nothing or failed keeps it.
    pub(super) fn campaigned(&mut self, outcome: Campaign) {
        match outcome {
            Campaign::Won { revision } => {
                self.revision = revision;
                self.vacant_since = None;
            }
            Campaign::Taken => self.vacant_since = None,
            Campaign::NotCaughtUp | Campaign::Failed => {}
        }
    }

    /// Records that this replica resigned on request at `now`: it stays out of the election
    /// for [`STEPDOWN_COOLDOWN`], so another replica leads.
    pub(super) fn stepped_down_on_request(&mut self, now: Instant) {
        self.cooldown_until = now + STEPDOWN_COOLDOWN;
    }

    /// Judges a renewal sent at `sent` whose `answer` came back at `now`, for a lease that ran
    /// until `until`. A renewal that comes back after the lease ran out steps down even though
    /// it succeeded: for a while this replica could not know that it still held the lease.
    pub(super) fn renewed<E: Display>(
        &mut self,
        answer: Result<u64, E>,
        sent: Instant,
        now: Instant,
        until: Instant,
    ) -> Renewal {
        match answer {
            Ok(revision) if now < until => {
                self.revision = revision;
                Renewal::Renewed {
                    until: lease_until(sent),
                }
            }
            Ok(_) => Renewal::StepDown("renewal came back after the lease ran out".into()),
            Err(e) => Renewal::StepDown(format!("renewal failed: {e}")),
        }
    }
}
