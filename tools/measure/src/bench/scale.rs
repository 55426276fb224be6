//! The scale measurements: filling the order log to a size, and a replica catching up on the
//! orders it missed while stopped.

use super::order_log;
use super::results::{CatchUp, Fill};
use bazaar_e2e::System;
use bazaar_nats::StockName;
use std::time::{Duration, Instant};

/// Fills the log (while no trades run) to `target` orders and waits until every running replica
/// stores them all.
pub(super) async fn fill_to(
    system: &mut System,
    target: u64,
    stocks: &[StockName],
) -> anyhow::Result<Fill> {
    let js = async_nats::jetstream::new(system.client.clone());
    let tail = order_log::tail(&js).await?;
    let appended = target.saturating_sub(tail.next_number);
    tracing::info!(from = tail.next_number, target, "filling the order log");
    let started = Instant::now();
    let (_, publish) = order_log::append(&js, tail, appended, stocks).await?;
    let digests = system
        .wait_converged_or_report(target, Duration::from_secs(900))
        .await;
    anyhow::ensure!(
        digests.first().is_some_and(|d| d.count == target),
        "replicas did not store {target} orders: {digests:?}"
    );
    let materialised = started.elapsed();
    tracing::info!(
        appended,
        publish_secs = publish.as_secs_f64(),
        materialised_secs = materialised.as_secs_f64(),
        "order log filled"
    );
    Ok(Fill {
        stored: target,
        appended,
        publish_secs: publish.as_secs_f64(),
        materialised_secs: materialised.as_secs_f64(),
    })
}

/// Stops a follower, appends `missed` orders, restarts it and times its catch-up.
pub(super) async fn catch_up(
    system: &mut System,
    missed: u64,
    stocks: &[StockName],
) -> anyhow::Result<CatchUp> {
    let leader = system.wait_for_leader(None, Duration::from_secs(10)).await;
    let replica = (1..=3).find(|id| *id != leader).unwrap_or(1);
    let js = async_nats::jetstream::new(system.client.clone());
    let before = order_log::tail(&js).await?.next_number;
    system.wait_converged(before, Duration::from_secs(60)).await;
    anyhow::ensure!(
        system.order(replica).terminate(),
        "replica {replica} did not stop cleanly"
    );
    let target = before + missed;
    fill_to(system, target, stocks).await?;
    let restarted = Instant::now();
    system.order(replica).restart();
    let deadline = restarted + Duration::from_secs(120);
    let secs = loop {
        if let Some(d) = system.digest(replica).await {
            if d.count >= target {
                break restarted.elapsed().as_secs_f64();
            }
        }
        anyhow::ensure!(
            Instant::now() < deadline,
            "replica {replica} did not catch up"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    };
    let digests = system
        .wait_converged_or_report(target, Duration::from_secs(30))
        .await;
    let identical = digests.len() == 3
        && digests
            .windows(2)
            .all(|w| w[0].hash == w[1].hash && w[0].count == w[1].count);
    tracing::info!(replica, missed, secs, identical, "replica caught up");
    Ok(CatchUp {
        replica,
        missed,
        target,
        secs,
        identical,
    })
}
