//! Experiment (c): kill -9 an order replica under load, bring it back, and see what the clients
//! noticed and whether the replicas ended identical.

use super::config::Config;
use super::system::start_system;
use bazaar_client::{run, Kind, Report, Workload};
use bazaar_e2e::System;
use bazaar_nats::messages::ReplicaDigest;
use serde::Serialize;
use std::time::{Duration, Instant};

/// One crash run.
#[derive(Debug, Clone, Serialize)]
pub struct CrashRun {
    /// 1-based run number.
    pub run: usize,
    /// The replica killed.
    pub victim: u32,
    /// Whether it was the leader when killed.
    pub victim_was_leader: bool,
    /// The leader before the kill.
    pub leader_before: u32,
    /// The leader once the victim was down (a new one when the leader was killed).
    pub leader_after: Option<u32>,
    /// Time from the kill to a new leader in the KV, when the leader was killed.
    pub failover_ms: Option<f64>,
    /// When the victim was killed, ms into the load.
    pub kill_at_ms: f64,
    /// When it was started again, ms into the load.
    pub restart_at_ms: f64,
    /// What the clients measured (with every attempt as a sample).
    pub report: Report,
    /// Trades that took longer than [`SLOW_MS`].
    pub slow_trades: u64,
    /// Every replica's digest at the end.
    pub digests: Vec<ReplicaDigest>,
    /// Whether all three replicas reported the same count and hash.
    pub identical: bool,
    /// Time from the end of the load until the replicas agreed.
    pub converged_after_ms: Option<f64>,
}

/// A trade slower than this counts as noticeably slow.
pub const SLOW_MS: f64 = 100.0;

/// How long the replicas get to agree after the load.
const CONVERGE_WITHIN: Duration = Duration::from_secs(30);

/// Runs the crash experiment `config.crash_runs` times, each on a fresh system.
///
/// # Errors
/// When a run cannot start.
pub async fn crash_runs(config: &Config) -> anyhow::Result<Vec<CrashRun>> {
    let mut rng = fastrand::Rng::with_seed(config.seed);
    let mut runs = Vec::new();
    for index in 0..config.crash_runs {
        let kill_leader = index % 2 == 0;
        runs.push(crash_run(config, index + 1, kill_leader, &mut rng).await?);
    }
    Ok(runs)
}

async fn crash_run(
    config: &Config,
    number: usize,
    kill_leader: bool,
    rng: &mut fastrand::Rng,
) -> anyhow::Result<CrashRun> {
    let mut system = start_system(config.cache_size).await;
    let leader_before = system.wait_for_leader(None, Duration::from_secs(30)).await;
    let victim = choose_victim(leader_before, kill_leader, rng);
    tracing::info!(run = number, victim, leader = leader_before, "crash run");
    let workload = Workload {
        url: system.url().to_string(),
        clients: config.crash_clients,
        duration_secs: Some(config.crash_secs),
        p: config.crash_p,
        seed: config.seed.wrapping_add(number as u64),
        samples: true,
        ..Workload::default()
    };
    let started = Instant::now();
    let load = tokio::spawn(async move { run(&workload).await });

    let kill_at = started + Duration::from_secs_f64(config.crash_kill_at_secs);
    let restart_at = kill_at + Duration::from_secs_f64(config.crash_down_secs);
    tokio::time::sleep_until(kill_at.into()).await;
    let kill_at_ms = started.elapsed().as_secs_f64() * 1000.0;
    let killed = Instant::now();
    system.order(victim).kill();
    let (leader_after, failover_ms) = if kill_leader {
        match new_leader(&system, victim, restart_at).await {
            Some(id) => (Some(id), Some(killed.elapsed().as_secs_f64() * 1000.0)),
            None => (None, None),
        }
    } else {
        (system.leader().await, None)
    };
    tokio::time::sleep_until(restart_at.into()).await;
    let restart_at_ms = started.elapsed().as_secs_f64() * 1000.0;
    system.order(victim).restart();
    let report = load.await??;
    let load_done = Instant::now();

    let (digests, identical) = converge(&system, report.orders_acknowledged).await;
    let converged_after_ms = identical.then(|| load_done.elapsed().as_secs_f64() * 1000.0);
    let slow_trades = slow_trades(&report);
    Ok(CrashRun {
        run: number,
        victim,
        victim_was_leader: kill_leader,
        leader_before,
        leader_after,
        failover_ms,
        kill_at_ms,
        restart_at_ms,
        report,
        slow_trades,
        digests,
        identical,
        converged_after_ms,
    })
}

/// The leader itself, or one of the two followers at random.
fn choose_victim(leader: u32, kill_leader: bool, rng: &mut fastrand::Rng) -> u32 {
    if kill_leader {
        return leader;
    }
    let followers: Vec<u32> = (1..=3).filter(|&id| id != leader).collect();
    followers[rng.usize(..followers.len())]
}

/// Trades that took longer than [`SLOW_MS`].
fn slow_trades(report: &Report) -> u64 {
    report
        .samples
        .iter()
        .filter(|s| s.kind == Kind::Trade && s.latency_us as f64 > SLOW_MS * 1000.0)
        .count() as u64
}

/// Polls the KV until a leader other than `old` appears, or `until` passes.
async fn new_leader(system: &System, old: u32, until: Instant) -> Option<u32> {
    while Instant::now() < until {
        if let Some(id) = system.leader().await.filter(|&id| id != old) {
            return Some(id);
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    None
}

/// Waits until all three replicas report the same count (at least `min_count`) and hash; returns
/// the last digests read and whether they agreed.
async fn converge(system: &System, min_count: u64) -> (Vec<ReplicaDigest>, bool) {
    let deadline = Instant::now() + CONVERGE_WITHIN;
    loop {
        let mut digests = Vec::new();
        for id in 1..=3 {
            digests.extend(system.digest(id).await);
        }
        let agree = digests.len() == 3
            && digests
                .windows(2)
                .all(|w| w[0].count == w[1].count && w[0].hash == w[1].hash)
            && digests[0].count >= min_count;
        if agree || Instant::now() >= deadline {
            return (digests, agree);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
