//! Replica crashes: the leader killed mid-stream, a follower stopped and brought back.

use crate::helpers::{assert_conservation, assert_orders_match, must_trade, Acked};
use bazaar_e2e::{System, SystemOptions};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

#[tokio::test]
async fn killing_the_leader_mid_stream_loses_nothing_and_a_follower_leads() {
    let mut system = System::start(SystemOptions::default()).await;
    let initial = system.catalog_quantities().await;
    let old_leader = system.wait_for_leader(None, Duration::from_secs(10)).await;
    let stop = AtomicBool::new(false);

    let streams = 4;
    let (acked, ()) = {
        let system_ref = &system;
        let stop_ref = &stop;
        let clients = futures::future::join_all((0..streams).map(|c| async move {
            let mut acked: Vec<(Acked, Duration)> = Vec::new();
            let mut i = 0u64;
            while !stop_ref.load(Ordering::Relaxed) {
                let started = Instant::now();
                let side = if (c + i).is_multiple_of(2) {
                    "buy"
                } else {
                    "sell"
                };
                let t = must_trade(system_ref, "FishCo", 1, side).await;
                acked.push((t, started.elapsed()));
                i += 1;
            }
            acked
        }));
        let chaos = async {
            tokio::time::sleep(Duration::from_millis(700)).await;
            // kill -9 through the process handle, while the streams run
            let pid = system_ref.orders[(old_leader - 1) as usize].pid().unwrap();
            std::process::Command::new("kill")
                .args(["-KILL", &pid.to_string()])
                .status()
                .unwrap();
            let new_leader = system_ref
                .wait_for_leader(Some(old_leader), Duration::from_secs(10))
                .await;
            assert_ne!(new_leader, old_leader);
            tokio::time::sleep(Duration::from_millis(1500)).await;
            stop_ref.store(true, Ordering::Relaxed);
        };
        let (acked, ()) = tokio::join!(clients, chaos);
        (acked, ())
    };
    let trades: Vec<Acked> = acked.iter().flatten().map(|(t, _)| t.clone()).collect();
    let worst = acked.iter().flatten().map(|(_, d)| *d).max().unwrap();
    eprintln!(
        "{} trades, worst client latency across the failover {worst:?}",
        trades.len()
    );
    assert!(
        trades.len() > 20,
        "the streams kept trading: {}",
        trades.len()
    );

    system.order(old_leader).kill();
    assert_orders_match(&system, &trades).await;
    assert_conservation(&system, &initial, &trades).await;
    system.order(old_leader).restart();
    system
        .wait_converged(trades.len() as u64, Duration::from_secs(20))
        .await;
}

#[tokio::test]
async fn a_stopped_follower_catches_up_on_the_orders_it_missed() {
    let mut system = System::start(SystemOptions::default()).await;
    let leader = system.wait_for_leader(None, Duration::from_secs(10)).await;
    let follower = (1..=3).find(|id| *id != leader).unwrap();
    let mut trades = vec![must_trade(&system, "GameStart", 1, "buy").await];
    assert!(system.order(follower).terminate(), "clean exit on SIGTERM");
    for _ in 0..20 {
        trades.push(must_trade(&system, "GameStart", 1, "buy").await);
    }
    system.order(follower).restart();
    let digests = system
        .wait_converged(trades.len() as u64, Duration::from_secs(20))
        .await;
    assert_eq!(digests.len(), 3);
}

#[tokio::test]
async fn a_replica_with_a_wiped_data_dir_rebuilds_the_whole_history() {
    let mut system = System::start(SystemOptions::default()).await;
    let leader = system.wait_for_leader(None, Duration::from_secs(10)).await;
    let follower = (1..=3).find(|id| *id != leader).unwrap();
    for _ in 0..10 {
        must_trade(&system, "BoarCo", 2, "sell").await;
    }
    system.order(follower).kill();
    std::fs::remove_dir_all(system.order_data_dir(follower)).unwrap();
    system.order(follower).restart();
    let digests = system.wait_converged(10, Duration::from_secs(20)).await;
    assert_eq!(digests.len(), 3);
}

#[tokio::test]
async fn a_frozen_leader_is_replaced_and_rejoins_as_a_follower_when_thawed() {
    let mut system = System::start(SystemOptions::default()).await;
    let mut trades = vec![must_trade(&system, "GameStart", 1, "buy").await];
    let old = system.wait_for_leader(None, Duration::from_secs(10)).await;
    system.order(old).freeze();
    // Trades keep working: the frontend waits out the lease and finds the new leader.
    trades.push(must_trade(&system, "GameStart", 2, "sell").await);
    let new = system
        .wait_for_leader(Some(old), Duration::from_secs(10))
        .await;
    assert_ne!(new, old);
    system.order(old).thaw();
    for _ in 0..5 {
        trades.push(must_trade(&system, "GameStart", 1, "buy").await);
    }
    let digests = system
        .wait_converged(trades.len() as u64, Duration::from_secs(20))
        .await;
    let leaders: Vec<u32> = digests
        .iter()
        .filter(|d| d.leader)
        .map(|d| d.replica)
        .collect();
    assert_eq!(
        leaders,
        vec![new],
        "the thawed replica follows: {digests:?}"
    );
    assert_orders_match(&system, &trades).await;
}
