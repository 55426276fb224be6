//! Leader election on the `order_leader` KV bucket.
//!
//! The key `leader` holds the leader's id and expires
//! [`LEADER_LEASE`](bazaar_nats::setup::LEADER_LEASE) after its last write (the bucket's max
//! age, on the server's clock). A replica wins by `create` (only succeeds while the
//! key is absent), renews with `update` at the revision it last wrote (compare-and-set), and steps
//! down the moment a renewal fails. It treats its lease as ending at the send time of its last
//! successful write plus the lease minus a safety margin, on its own monotonic clock, and stops
//! acting before then.
//!
//! Followers poll the key. When it is absent they campaign after a delay that grows as the id
//! falls, so the highest live id usually wins, and only once their store holds the whole log:
//! a replica that is behind must not lead.
//!
//! A crashed leader need not cost a whole lease: its connection closes, the broker drops its
//! subscriptions and answers "no responders" to requests for it at once. Followers probe the
//! leader's digest subject on every poll; after [`DEAD_AFTER_PROBES`] such answers in a row they
//! delete the key at the revision they read (so a renewal in between wins), and the election runs.
//! A follower that finds its own id in the key (it stepped down, or crashed and came back) deletes
//! it the same way. A false alarm (a leader cut off from the broker) costs only a leader change:
//! the old leader's renewal fails and the term marker fences its appends.
//!
//! The operator's fault injection reaches the election through the [`FaultGate`]: a pause holds
//! the loop (no renewal, no polling) as a frozen process, and a step-down deletes the lease at
//! once and keeps this replica from campaigning for [`STEPDOWN_COOLDOWN`], so another one leads.
//!
//! The lease alone cannot stop a paused leader from believing it leads; the order log's expected
//! sequence fences it at the data layer (see `sequencer`).
//!
//! What to do in each round is decided in `decide`, apart from the broker; this module only
//! reads and writes the key, probes the leader and checks the store around those decisions.

mod decide;
mod lease;
#[cfg(test)]
mod tests;

pub use lease::{Lease, Role};

use crate::hold::Hold;
use crate::store::Digest;
use async_nats::jetstream::{self, kv};
use bazaar_nats::fault::FaultGate;
use bazaar_nats::subjects::{order_digest, LEADER_KEY, ORDERS_STREAM};
use decide::{lease_until, Action, Campaign, LeaseRead, ProbeAnswer, Renewal, Rounds};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

/// How often a follower looks at the key.
const POLL: Duration = Duration::from_millis(50);
/// Consecutive probes the broker must answer "no responders" for the leader's subjects before a
/// follower takes the leader for dead and releases its lease.
const DEAD_AFTER_PROBES: u32 = 3;
/// How long a probe of the leader may take.
const PROBE_TIMEOUT: Duration = Duration::from_millis(250);
/// How often the leader renews (a quarter of the lease).
const RENEW: Duration = Duration::from_millis(250);
/// Subtracted from the lease to cover timer granularity and clock rate differences.
const SAFETY_MARGIN: Duration = Duration::from_millis(200);
/// Extra wait before campaigning, per id below the highest.
const STAGGER: Duration = Duration::from_millis(50);
/// How long a replica that stepped down on request stays out of the election.
const STEPDOWN_COOLDOWN: Duration = Duration::from_secs(3);

/// Runs the election for one replica.
#[derive(Debug)]
pub struct Election {
    lease: Arc<Lease>,
    replicas: u32,
    kv: kv::Store,
    js: jetstream::Context,
    client: async_nats::Client,
    stored: watch::Receiver<Digest>,
    hold: Hold,
    gate: FaultGate,
}

impl Election {
    /// An election for `lease.id()` among `replicas` replicas; `stored` is how far the replica's
    /// store got, compared with the stream to know whether it may campaign, and `hold` keeps it
    /// from campaigning while a set-aside store holds orders the log lacks.
    pub fn new(
        lease: Arc<Lease>,
        replicas: u32,
        kv: kv::Store,
        js: jetstream::Context,
        client: async_nats::Client,
        stored: watch::Receiver<Digest>,
        hold: Hold,
    ) -> Self {
        Self {
            lease,
            replicas,
            kv,
            js,
            client,
            stored,
            hold,
            gate: FaultGate::new(),
        }
    }

    /// The same election, held by `gate` (the operator's pauses and step-downs).
    pub fn with_gate(mut self, gate: FaultGate) -> Self {
        self.gate = gate;
        self
    }

    /// Campaigns and renews until `stop`, then resigns (deletes the key) if leading, so that a
    /// follower takes over at once instead of after the lease.
    pub async fn run(self, stop: CancellationToken) {
        let mut rounds = Rounds::new(self.lease.id(), self.replicas, Instant::now());
        loop {
            tokio::select! {
                () = stop.cancelled() => break,
                () = self.gate.pass() => {}
            }
            if self.gate.take_stepdown() && self.resign(rounds.revision(), "on request").await {
                rounds.stepped_down_on_request(Instant::now());
            }
            let pause = match self.lease.role() {
                Role::Leader { epoch, until } => {
                    self.renew(&mut rounds, epoch, until).await;
                    RENEW
                }
                Role::Follower { .. } => {
                    if self.follow(&mut rounds).await {
                        // A new leader renews at once rather than after a poll.
                        continue;
                    }
                    POLL
                }
            };
            tokio::select! {
                () = stop.cancelled() => break,
                () = tokio::time::sleep(pause) => {}
            }
        }
        self.resign(rounds.revision(), "shutting down").await;
    }

    /// One leader's round: renews the lease at the revision last written, or steps down.
    async fn renew(&self, rounds: &mut Rounds, epoch: u64, until: Instant) {
        let value = bazaar_nats::lease::encode(self.lease.id());
        let sent = Instant::now();
        let answer = self.kv.update(LEADER_KEY, value, rounds.revision()).await;
        match rounds.renewed(answer, sent, Instant::now(), until) {
            Renewal::Renewed { until } => self.lease.set(Role::Leader { epoch, until }),
            Renewal::StepDown(why) => self.step_down(&why),
        }
    }

    /// One follower's round: reads the key, records the leader it names, and acts on it.
    /// Returns whether this replica won the lease.
    async fn follow(&self, rounds: &mut Rounds) -> bool {
        let read = self.read_lease().await;
        if let Some(leader) = read.leader() {
            self.lease.set(Role::Follower { leader });
        }
        match rounds.decide(read, Instant::now()) {
            Action::Probe { holder, revision } => {
                let answer = self.probe(holder).await;
                if rounds.probed(answer) {
                    self.release(revision, Some(holder)).await;
                }
            }
            Action::Release { revision, holder } => self.release(revision, holder).await,
            Action::Campaign => return self.campaign(rounds).await,
            Action::Wait => {}
        }
        false
    }

    /// What the key holds now.
    async fn read_lease(&self) -> LeaseRead {
        match self.kv.entry(LEADER_KEY).await {
            Ok(Some(entry)) if entry.operation == kv::Operation::Put => {
                match bazaar_nats::lease::holder(&entry.value, self.replicas) {
                    Some(holder) => LeaseRead::Held {
                        holder,
                        revision: entry.revision,
                    },
                    None => {
                        tracing::warn!(
                            value = %String::from_utf8_lossy(&entry.value),
                            "the lease holds no replica id; taking it as vacant"
                        );
                        LeaseRead::Garbage {
                            revision: entry.revision,
                        }
                    }
                }
            }
            Ok(_) => LeaseRead::Vacant,
            Err(e) => {
                tracing::debug!(error = %e, "cannot read the leader key");
                LeaseRead::Unreadable
            }
        }
    }

    /// Asks the broker for `holder`'s digest subject, to learn whether anyone serves it.
    async fn probe(&self, holder: u32) -> ProbeAnswer {
        let probe = async_nats::Request::new()
            .payload(bytes::Bytes::new())
            .timeout(Some(PROBE_TIMEOUT));
        match self.client.send_request(order_digest(holder), probe).await {
            Err(e) if e.kind() == async_nats::RequestErrorKind::NoResponders => {
                ProbeAnswer::NoResponders
            }
            _ => ProbeAnswer::Other,
        }
    }

    /// Creates the key if this replica is caught up; on a win, starts its term. Returns whether
    /// it won.
    async fn campaign(&self, rounds: &mut Rounds) -> bool {
        if !self.caught_up().await {
            rounds.campaigned(Campaign::NotCaughtUp);
            return false;
        }
        let id = self.lease.id();
        let sent = Instant::now();
        let outcome = match self
            .kv
            .create(LEADER_KEY, bazaar_nats::lease::encode(id))
            .await
        {
            Ok(revision) => Campaign::Won { revision },
            Err(e) if e.kind() == kv::CreateErrorKind::AlreadyExists => Campaign::Taken,
            Err(e) => {
                tracing::debug!(error = %e, "campaign failed");
                Campaign::Failed
            }
        };
        rounds.campaigned(outcome);
        let Campaign::Won { revision } = outcome else {
            return false;
        };
        tracing::info!(replica = id, epoch = revision, "won the leader election");
        self.lease.set(Role::Leader {
            epoch: revision,
            until: lease_until(sent),
        });
        true
    }

    /// Gives up the lease if leading: becomes a follower, then deletes the key at `revision`.
    /// Returns whether it was leading.
    async fn resign(&self, revision: u64, why: &str) -> bool {
        let Role::Leader { .. } = self.lease.role() else {
            return false;
        };
        self.lease.set(Role::Follower { leader: None });
        match self
            .kv
            .delete_expect_revision(LEADER_KEY, Some(revision))
            .await
        {
            Ok(()) => tracing::info!(replica = self.lease.id(), why, "resigned the leadership"),
            Err(e) => tracing::warn!(error = %e, "could not resign; the lease will expire"),
        }
        true
    }

    /// Deletes the lease at `revision`, so a renewal that came in between is not lost.
    async fn release(&self, revision: u64, holder: Option<u32>) {
        match self
            .kv
            .delete_expect_revision(LEADER_KEY, Some(revision))
            .await
        {
            Ok(()) => tracing::info!(
                replica = self.lease.id(),
                holder = ?holder,
                "released the lease of a leader that is gone"
            ),
            Err(e) => tracing::debug!(error = %e, "lease changed before it could be released"),
        }
    }

    /// Stops leading at once, for `why`.
    fn step_down(&self, why: &str) {
        tracing::warn!(replica = self.lease.id(), reason = why, "stepping down");
        self.lease.set(Role::Follower { leader: None });
    }

    /// Whether this replica may campaign: it holds no hold (re-read, so an operator's removal
    /// of the hold file counts at once) and its store is exactly at the log's tail (a store
    /// beyond it is about to be set aside).
    async fn caught_up(&self) -> bool {
        if self.hold.is_held() {
            if let Err(e) = self.hold.reload() {
                tracing::warn!(error = %e, "cannot re-read the hold file");
            }
            if self.hold.is_held() {
                tracing::debug!("not campaigning: holding for orders the log lacks");
                return false;
            }
        }
        match self.js.get_stream(ORDERS_STREAM).await {
            Ok(stream) => {
                let last = stream.cached_info().state.last_sequence;
                let stored = self.stored.borrow().sequence;
                if stored != last {
                    tracing::debug!(
                        stored,
                        last,
                        "not campaigning: the store is not at the log's tail"
                    );
                }
                stored == last
            }
            Err(e) => {
                tracing::debug!(error = %e, "not campaigning: cannot read the order stream");
                false
            }
        }
    }
}
