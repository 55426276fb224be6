//! The fault injector: at seeded random moments it kills, freezes or wipes a component, holds
//! the fault a seeded random while, then heals it, recording every outage. Besides signals and
//! files it uses the operator's fault-injection subjects (`admin`), which the system under test
//! serves because the runner starts it with `--fault-injection`.

mod admin;

use crate::history::{Component, FaultRecord, Outage};
use crate::recovery::RecoveryWatch;
use crate::rng::Rng;
use bazaar_e2e::System;
use bazaar_nats::testing::Role;
use std::time::{Duration, Instant};

/// The kinds of fault, as named in the fault model.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FaultKind {
    /// kill -9 of a random order replica.
    KillReplica,
    /// kill -9 of the leader.
    KillLeader,
    /// SIGSTOP of the leader for longer than its lease, then SIGCONT.
    FreezeLeader,
    /// kill -9 of the catalog, then a restart.
    KillCatalog,
    /// kill -9 of nats-server, then a restart on the same store.
    KillNats,
    /// kill -9 of a replica, its data dir deleted, then a restart.
    WipeReplica,
    /// kill -9 of a frontend (cutting off its in-flight requests), then a restart.
    KillFrontend,
    /// A burst of forged and malformed messages on the order log's subjects and the lease key,
    /// as a buggy or compromised replica could publish (see `forge`). Takes nothing down.
    ForgeLog,
    /// `admin.order.{leader}.stepdown`: the leader gives up its lease.
    AdminStepdown,
    /// `admin.order.{leader}.pause` for longer than the lease: a frozen leader, over NATS.
    AdminPauseLeader,
    /// `admin.order.{id}.crash` of a random replica, then a restart.
    AdminCrashReplica,
    /// `admin.catalog.delay`: every catalog reply slowed while the fault holds.
    AdminDelayCatalog,
    /// `admin.catalog.pause`: the catalog answers nothing for a while.
    AdminPauseCatalog,
}

impl FaultKind {
    /// Every kind, in the order the seed indexes them.
    pub const ALL: [Self; 13] = [
        Self::KillReplica,
        Self::KillLeader,
        Self::FreezeLeader,
        Self::KillCatalog,
        Self::KillNats,
        Self::WipeReplica,
        Self::KillFrontend,
        Self::ForgeLog,
        Self::AdminStepdown,
        Self::AdminPauseLeader,
        Self::AdminCrashReplica,
        Self::AdminDelayCatalog,
        Self::AdminPauseCatalog,
    ];

    /// The name used in reports.
    pub fn name(self) -> &'static str {
        match self {
            Self::KillReplica => "kill-replica",
            Self::KillLeader => "kill-leader",
            Self::FreezeLeader => "freeze-leader",
            Self::KillCatalog => "kill-catalog",
            Self::KillNats => "kill-nats",
            Self::WipeReplica => "wipe-replica",
            Self::KillFrontend => "kill-frontend",
            Self::ForgeLog => "forge-log",
            Self::AdminStepdown => "admin-stepdown",
            Self::AdminPauseLeader => "admin-pause-leader",
            Self::AdminCrashReplica => "admin-crash-replica",
            Self::AdminDelayCatalog => "admin-delay-catalog",
            Self::AdminPauseCatalog => "admin-pause-catalog",
        }
    }
}

/// An applied fault, waiting to be healed.
struct Active {
    kind: FaultKind,
    component: Component,
    at: Duration,
    /// When an injected pause is over by itself; healing waits for it.
    ends: Option<Instant>,
}

/// Injects faults into `system` until `until`.
pub struct Injector<'a> {
    system: &'a mut System,
    rng: Rng,
    origin: Instant,
    /// Mean pause between faults.
    pub interval: Duration,
    /// Faults applied, for the report.
    pub faults: Vec<FaultRecord>,
    /// Outages, for the availability check.
    pub outages: Vec<Outage>,
    /// Order replicas that came back, until each holds the whole log again.
    pub recoveries: RecoveryWatch,
    kinds: Vec<FaultKind>,
    /// The forged-message fault's connection, as the order role (a compromised replica).
    forger: Option<async_nats::Client>,
}

impl std::fmt::Debug for Injector<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Injector")
            .field("faults", &self.faults.len())
            .finish()
    }
}

impl<'a> Injector<'a> {
    /// An injector for `system`, seeded, timing relative to `origin`.
    pub fn new(system: &'a mut System, seed: u64, origin: Instant, interval: Duration) -> Self {
        let recoveries = RecoveryWatch::new(system.client.clone(), origin);
        Self {
            system,
            rng: Rng::fork(seed, 1),
            origin,
            interval,
            faults: Vec::new(),
            outages: Vec::new(),
            recoveries,
            kinds: FaultKind::ALL.to_vec(),
            forger: None,
        }
    }

    /// Restricts the injector to the kinds named (e.g. `kill-nats`); all kinds when empty.
    pub fn only(&mut self, names: &[String]) {
        if !names.is_empty() {
            self.kinds = FaultKind::ALL
                .into_iter()
                .filter(|k| names.iter().any(|n| n == k.name()))
                .collect();
        }
    }

    fn pick(&mut self) -> FaultKind {
        self.kinds[self.rng.below(self.kinds.len() as u64) as usize]
    }

    /// Injects faults until `until`, one or two at a time, each healed before the next.
    pub async fn run(&mut self, until: Instant) {
        let half = self.interval.as_millis() as u64 / 2;
        loop {
            let pause = Duration::from_millis(self.rng.between(half, 3 * half));
            if Instant::now() + pause >= until {
                break;
            }
            tokio::time::sleep(pause).await;
            let first = self.pick();
            let mut active = Vec::new();
            active.extend(self.apply(first, &active).await);
            // Sometimes two at once: the fault model asks for faults mixed.
            if self.rng.chance(0.25) {
                let second = self.pick();
                active.extend(self.apply(second, &active).await);
            }
            let freezing = active.iter().any(|a| {
                matches!(
                    a.kind,
                    FaultKind::FreezeLeader | FaultKind::AdminPauseLeader
                )
            });
            // A freeze must outlast the 1 s lease to depose the leader.
            let hold = if freezing {
                self.rng.between(1500, 3000)
            } else {
                self.rng.between(300, 2500)
            };
            tokio::time::sleep(Duration::from_millis(hold)).await;
            for a in active.into_iter().rev() {
                self.heal(a).await;
            }
        }
    }

    fn now(&self) -> Duration {
        self.origin.elapsed()
    }

    async fn leader_or_random(&mut self) -> u32 {
        match tokio::time::timeout(Duration::from_secs(1), self.system.leader()).await {
            Ok(Some(id)) => id,
            _ => self.rng.between(1, 3) as u32,
        }
    }

    /// Applies `kind` unless its target is already hit by one of `active`.
    async fn apply(&mut self, kind: FaultKind, active: &[Active]) -> Option<Active> {
        if kind == FaultKind::ForgeLog {
            self.forge().await;
            return None;
        }
        if let Some(component) = self.admin_target(kind).await {
            if active.iter().any(|a| a.component == component) {
                return None;
            }
            return Some(self.apply_admin(kind, component).await);
        }
        let component = match kind {
            FaultKind::ForgeLog
            | FaultKind::AdminStepdown
            | FaultKind::AdminPauseLeader
            | FaultKind::AdminCrashReplica
            | FaultKind::AdminDelayCatalog
            | FaultKind::AdminPauseCatalog => return None,
            FaultKind::KillReplica | FaultKind::WipeReplica => {
                Component::Replica(self.rng.between(1, 3) as u32)
            }
            FaultKind::KillLeader | FaultKind::FreezeLeader => {
                Component::Replica(self.leader_or_random().await)
            }
            FaultKind::KillCatalog => Component::Catalog,
            FaultKind::KillNats => Component::Nats,
            FaultKind::KillFrontend => {
                Component::Frontend(self.rng.below(self.system.frontends.len() as u64) as usize)
            }
        };
        if active.iter().any(|a| a.component == component) {
            return None;
        }
        match component {
            Component::Replica(id) if kind == FaultKind::FreezeLeader => {
                self.system.order(id).freeze()
            }
            Component::Replica(id) => {
                self.system.order(id).kill();
                if kind == FaultKind::WipeReplica {
                    let _ = std::fs::remove_dir_all(self.system.order_data_dir(id));
                }
            }
            Component::Catalog => self.system.catalog.kill(),
            Component::Nats => self.system.nats.kill(),
            Component::Frontend(i) => self.system.frontends[i].kill(),
        }
        let at = self.now();
        println!(
            "{:>8.3}s fault {} on {}",
            at.as_secs_f64(),
            kind.name(),
            describe(component)
        );
        Some(Active {
            kind,
            component,
            at,
            ends: None,
        })
    }

    /// Publishes a burst of forged messages; a fault with nothing to heal and no outage, so
    /// no failure is excused by it.
    async fn forge(&mut self) {
        let at = self.now();
        if self.forger.is_none() {
            let client = self.system.client_as(Role::Order, "chaos-forger").await;
            self.forger = Some(client);
        }
        let Some(forger) = self.forger.clone() else {
            return;
        };
        let what = match crate::forge::burst(&forger, &mut self.rng).await {
            Ok(what) => what,
            Err(e) => format!("not sent: {e}"),
        };
        println!("{:>8.3}s fault forge-log: {what}", at.as_secs_f64());
        self.faults.push(FaultRecord {
            kind: FaultKind::ForgeLog.name(),
            target: "orders.new, orders.term, the lease".into(),
            at,
            held: Duration::ZERO,
        });
    }

    async fn heal(&mut self, active: Active) {
        if active.kind.is_admin() {
            self.heal_admin(&active).await;
        }
        match active.component {
            _ if active.kind.is_admin() => {}
            Component::Replica(id) if active.kind == FaultKind::FreezeLeader => {
                self.system.order(id).thaw();
            }
            Component::Replica(id) => self.system.order(id).restart(),
            Component::Catalog => self.system.catalog.restart(),
            Component::Nats => self.system.nats.restart(),
            Component::Frontend(i) => self.system.frontends[i].restart(),
        }
        if let Component::Replica(id) = active.component {
            self.recoveries.returned(id);
        }
        let to = self.now();
        self.outages.push(Outage {
            component: active.component,
            from: active.at,
            to,
        });
        self.faults.push(FaultRecord {
            kind: active.kind.name(),
            target: describe(active.component),
            at: active.at,
            held: to - active.at,
        });
    }
}

fn describe(component: Component) -> String {
    match component {
        Component::Nats => "nats-server".into(),
        Component::Catalog => "catalog".into(),
        Component::Replica(id) => format!("order-{id}"),
        Component::Frontend(i) => format!("frontend-{i}"),
    }
}
