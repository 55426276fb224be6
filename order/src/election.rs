//! Leader election on the `order_leader` KV bucket.
//!
//! The key `leader` holds the leader's id and expires [`LEADER_LEASE`] after its last write (the
//! bucket's max age, on the server's clock). A replica wins by `create` (only succeeds while the
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

use crate::hold::Hold;
use crate::store::Digest;
use async_nats::jetstream::{self, kv};
use bazaar_nats::fault::FaultGate;
use bazaar_nats::setup::LEADER_LEASE;
use bazaar_nats::subjects::{order_digest, LEADER_KEY, ORDERS_STREAM};
use std::sync::{Arc, Mutex};
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

/// What this replica currently is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// Another replica leads (or nobody, while the key is absent).
    Follower {
        /// The leader id last read from the key.
        leader: Option<u32>,
    },
    /// This replica holds the lease.
    Leader {
        /// The KV revision of the winning `create`: identifies this term.
        epoch: u64,
        /// After this instant the lease may have expired on the server: stop acting.
        until: Instant,
    },
}

/// The shared view of the election; read on every request, so reading is one uncontended lock.
#[derive(Debug)]
pub struct Lease {
    id: u32,
    role: Mutex<Role>,
    term: watch::Sender<Option<u64>>,
}

impl Lease {
    /// A lease cell for replica `id`, starting as a follower.
    pub fn new(id: u32) -> Arc<Self> {
        Arc::new(Self {
            id,
            role: Mutex::new(Role::Follower { leader: None }),
            term: watch::channel(None).0,
        })
    }

    /// This replica's id.
    pub fn id(&self) -> u32 {
        self.id
    }

    /// The current role.
    pub fn role(&self) -> Role {
        *self
            .role
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The epoch of the current term if this replica leads and its lease has not run out.
    pub fn valid_epoch(&self) -> Option<u64> {
        match self.role() {
            Role::Leader { epoch, until } if Instant::now() < until => Some(epoch),
            _ => None,
        }
    }

    /// The leader as this replica knows it: itself while leading. A follower whose own id is
    /// still in the key (it just stepped down) knows of no leader.
    pub fn known_leader(&self) -> Option<u32> {
        match self.role() {
            Role::Leader { .. } => Some(self.id),
            Role::Follower { leader } => leader.filter(|l| *l != self.id),
        }
    }

    /// Terms as they start (`Some(epoch)`) and end (`None`).
    pub fn terms(&self) -> watch::Receiver<Option<u64>> {
        self.term.subscribe()
    }

    fn set(&self, role: Role) {
        let term = match role {
            Role::Leader { epoch, .. } => Some(epoch),
            Role::Follower { .. } => None,
        };
        *self
            .role
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = role;
        self.term.send_if_modified(|t| {
            let changed = *t != term;
            *t = term;
            changed
        });
    }
}

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
        let id = self.lease.id();
        let value = bazaar_nats::lease::encode(id);
        let mut revision = 0u64;
        let mut vacant_since: Option<Instant> = None;
        let mut silent_probes = 0u32;
        let stagger = STAGGER * self.replicas.saturating_sub(id);
        let mut cooldown_until = Instant::now();
        loop {
            tokio::select! {
                () = stop.cancelled() => break,
                () = self.gate.pass() => {}
            }
            if self.gate.take_stepdown() && self.resign(revision, "on request").await {
                cooldown_until = Instant::now() + STEPDOWN_COOLDOWN;
            }
            let pause = match self.lease.role() {
                Role::Leader { epoch, until } => {
                    let sent = Instant::now();
                    match self.kv.update(LEADER_KEY, value.clone(), revision).await {
                        Ok(new_revision) if Instant::now() < until => {
                            revision = new_revision;
                            self.lease.set(Role::Leader {
                                epoch,
                                until: sent + LEADER_LEASE - SAFETY_MARGIN,
                            });
                        }
                        Ok(_) => self.step_down("renewal came back after the lease ran out"),
                        Err(e) => self.step_down(&format!("renewal failed: {e}")),
                    }
                    RENEW
                }
                Role::Follower { .. } => {
                    match self.kv.entry(LEADER_KEY).await {
                        Ok(Some(entry)) if entry.operation == kv::Operation::Put => {
                            vacant_since = None;
                            match bazaar_nats::lease::holder(&entry.value, self.replicas) {
                                Some(leader) => {
                                    self.lease.set(Role::Follower {
                                        leader: Some(leader),
                                    });
                                    let gone =
                                        self.holder_is_gone(Some(leader), &mut silent_probes);
                                    if gone.await {
                                        self.release(entry.revision, Some(leader)).await;
                                    }
                                }
                                None => {
                                    tracing::warn!(
                                        value = %String::from_utf8_lossy(&entry.value),
                                        "the lease holds no replica id; taking it as vacant"
                                    );
                                    self.lease.set(Role::Follower { leader: None });
                                    self.release(entry.revision, None).await;
                                }
                            }
                        }
                        Ok(_) => {
                            self.lease.set(Role::Follower { leader: None });
                            let since = *vacant_since.get_or_insert_with(Instant::now);
                            let cooled = Instant::now() >= cooldown_until;
                            if since.elapsed() >= stagger && cooled && self.caught_up().await {
                                let sent = Instant::now();
                                match self.kv.create(LEADER_KEY, value.clone()).await {
                                    Ok(won) => {
                                        revision = won;
                                        vacant_since = None;
                                        tracing::info!(
                                            replica = id,
                                            epoch = won,
                                            "won the leader election"
                                        );
                                        self.lease.set(Role::Leader {
                                            epoch: won,
                                            until: sent + LEADER_LEASE - SAFETY_MARGIN,
                                        });
                                        continue;
                                    }
                                    Err(e) if e.kind() == kv::CreateErrorKind::AlreadyExists => {
                                        vacant_since = None;
                                    }
                                    Err(e) => tracing::debug!(error = %e, "campaign failed"),
                                }
                            }
                        }
                        Err(e) => tracing::debug!(error = %e, "cannot read the leader key"),
                    }
                    POLL
                }
            };
            tokio::select! {
                () = stop.cancelled() => break,
                () = tokio::time::sleep(pause) => {}
            }
        }
        self.resign(revision, "shutting down").await;
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

    /// Whether the lease's holder is known to be gone: it is this (following) replica, or the
    /// broker has answered "no responders" for it [`DEAD_AFTER_PROBES`] times in a row.
    async fn holder_is_gone(&self, holder: Option<u32>, silent_probes: &mut u32) -> bool {
        let Some(holder) = holder else {
            return false;
        };
        if holder == self.lease.id() {
            return true;
        }
        let probe = async_nats::Request::new()
            .payload(bytes::Bytes::new())
            .timeout(Some(PROBE_TIMEOUT));
        match self.client.send_request(order_digest(holder), probe).await {
            Err(e) if e.kind() == async_nats::RequestErrorKind::NoResponders => *silent_probes += 1,
            _ => *silent_probes = 0,
        }
        if *silent_probes >= DEAD_AFTER_PROBES {
            *silent_probes = 0;
            return true;
        }
        false
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
