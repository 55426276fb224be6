//! Measures leader failover: kills the leader with SIGKILL again and again while clients trade
//! without pause, and reports how long until a new leader holds the lease, until the first new
//! trade succeeds after the kill, and how long the slowest trade that was already in flight at
//! the kill took (it waited on the dead leader until the frontend resent it).
//!
//! `cargo run --release -p bazaar-e2e --bin failover-bench -- [ROUNDS]` (with
//! `BAZAAR_BIN_DIR=target/release` to measure release binaries).

use bazaar_e2e::{System, SystemOptions};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Clients trading in the background, so that trades are in flight at each kill.
const BACKGROUND_CLIENTS: usize = 4;

/// One background trade: when it was sent, how long it took, its HTTP status.
type Sample = (Instant, Duration, u16);

#[tokio::main]
async fn main() {
    let rounds: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(10);
    let mut system = System::start(SystemOptions::default()).await;
    let samples: Arc<Mutex<Vec<Sample>>> = Arc::default();
    let traders: Vec<_> = (0..BACKGROUND_CLIENTS)
        .map(|client| {
            tokio::spawn(trade_forever(
                system.url().to_string(),
                client,
                samples.clone(),
            ))
        })
        .collect();
    let mut to_leader = Vec::new();
    let mut to_trade = Vec::new();
    let mut in_flight = Vec::new();
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
        // Every trade in flight at the kill has ended well before this.
        tokio::time::sleep(Duration::from_secs(2)).await;
        let (slowest, failed) = slowest_across(&samples.lock().unwrap(), killed);
        println!(
            "round {round}: killed {old}, {new} leads after {:.0} ms, first trade after {:.0} ms, slowest trade in flight at the kill {:.0} ms{}",
            leader_after.as_secs_f64() * 1e3,
            trade_after.as_secs_f64() * 1e3,
            slowest.as_secs_f64() * 1e3,
            if failed > 0 { format!(" ({failed} failed)") } else { String::new() },
        );
        to_leader.push(leader_after);
        to_trade.push(trade_after);
        in_flight.push(slowest);
        system.order(old).restart();
        system.wait_converged(0, Duration::from_secs(20)).await;
    }
    for trader in traders {
        trader.abort();
    }
    for (what, mut samples) in [
        ("new leader", to_leader),
        ("first successful trade", to_trade),
        ("slowest trade in flight at the kill", in_flight),
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

/// Trades one share back and forth until aborted, recording every trade.
async fn trade_forever(url: String, client: usize, samples: Arc<Mutex<Vec<Sample>>>) {
    let http = reqwest::Client::new();
    for i in 0u64.. {
        let side = if i % 2 == 0 { "buy" } else { "sell" };
        let body = serde_json::json!({"name": "GameStart", "quantity": 1, "type": side});
        let sent = Instant::now();
        let status = http
            .post(format!("{url}/orders"))
            .header("Idempotency-Key", format!("failover-bench-{client}-{i}"))
            .body(body.to_string())
            .send()
            .await
            .map_or(0, |r| r.status().as_u16());
        samples.lock().unwrap().push((sent, sent.elapsed(), status));
    }
}

/// The longest trade that was in flight at `at`, and how many of those did not succeed.
fn slowest_across(samples: &[Sample], at: Instant) -> (Duration, usize) {
    let across = samples
        .iter()
        .filter(|(sent, took, _)| *sent <= at && *sent + *took >= at);
    let slowest = across
        .clone()
        .map(|(_, took, _)| *took)
        .max()
        .unwrap_or_default();
    let failed = across.filter(|(_, _, status)| *status != 200).count();
    (slowest, failed)
}
