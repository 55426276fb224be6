//! Measures leader failover: kills the leader with SIGKILL again and again under a trickle of
//! trades and reports how long until a new leader holds the lease and until the first trade
//! succeeds after the kill.
//!
//! `cargo run --release -p bazaar-e2e --bin failover-bench -- [ROUNDS]` (with
//! `BAZAAR_BIN_DIR=target/release` to measure release binaries).

use bazaar_e2e::{System, SystemOptions};
use std::time::{Duration, Instant};

#[tokio::main]
async fn main() {
    let rounds: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(10);
    let mut system = System::start(SystemOptions::default()).await;
    let mut to_leader = Vec::new();
    let mut to_trade = Vec::new();
    for round in 0..rounds {
        let old = system.wait_for_leader(None, Duration::from_secs(10)).await;
        // Let the lease be freshly renewed, as it is at a random moment in steady state.
        tokio::time::sleep(Duration::from_millis(300)).await;
        let killed = Instant::now();
        system.order(old).kill();
        let new = system
            .wait_for_leader(Some(old), Duration::from_secs(10))
            .await;
        let leader_after = killed.elapsed();
        loop {
            let (status, _) = system
                .trade("FishCo", 1, if round % 2 == 0 { "buy" } else { "sell" })
                .await;
            if status == 200 {
                break;
            }
        }
        let trade_after = killed.elapsed();
        println!(
            "round {round}: killed {old}, {new} leads after {:.0} ms, first trade after {:.0} ms",
            leader_after.as_secs_f64() * 1e3,
            trade_after.as_secs_f64() * 1e3
        );
        to_leader.push(leader_after);
        to_trade.push(trade_after);
        system.order(old).restart();
        system.wait_converged(0, Duration::from_secs(20)).await;
    }
    for (what, mut samples) in [
        ("new leader", to_leader),
        ("first successful trade", to_trade),
    ] {
        samples.sort();
        let ms = |d: Duration| d.as_secs_f64() * 1e3;
        println!(
            "{what} after kill -9 of the leader: min {:.0} ms, median {:.0} ms, max {:.0} ms ({} rounds)",
            ms(samples[0]),
            ms(samples[samples.len() / 2]),
            ms(samples[samples.len() - 1]),
            samples.len()
        );
    }
}
