//! `bazaar-measure failover`: kills the order leader with SIGKILL again and again while clients
//! trade without pause, and reports how long until a new leader holds the lease, until the first
//! new trade succeeds after the kill, and how long the slowest trade that was already in flight
//! at the kill took (it waited on the dead leader until the frontend resent it).
//!
//! `cargo run --release -p bazaar-measure -- failover [ROUNDS]` (with
//! `BAZAAR_BIN_DIR=target/release` to measure release binaries).

use bazaar_e2e::{System, SystemOptions};
use clap::Args;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Clients trading in the background, so that trades are in flight at each kill.
const BACKGROUND_CLIENTS: usize = 4;

/// One background trade: when it was sent, how long it took, its HTTP status.
type Sample = (Instant, Duration, u16);

/// Every background trade so far, shared by the traders and the measuring loop.
type Samples = Arc<Mutex<Vec<Sample>>>;

/// The `bazaar-measure failover` command line.
#[derive(Debug, Clone, Args)]
pub struct Config {
    /// How many times the leader is killed.
    #[arg(default_value_t = 10)]
    pub rounds: usize,
}

/// What one kill of the leader cost.
#[derive(Debug, Clone, Copy)]
struct Round {
    /// From the kill until another replica held the lease.
    leader_after: Duration,
    /// From the kill until a new trade succeeded.
    trade_after: Duration,
    /// The slowest trade that was in flight at the kill.
    slowest_in_flight: Duration,
}

/// Kills the leader `config.rounds` times under background trading and prints each round and
/// the spread of every figure.
///
/// # Panics
/// When the system does not come up, no new leader appears, or the sample lock is poisoned.
pub async fn execute(config: &Config) {
    let mut system = System::start(SystemOptions::default()).await;
    let samples: Samples = Arc::default();
    let traders: Vec<_> = (0..BACKGROUND_CLIENTS)
        .map(|client| {
            tokio::spawn(trade_forever(
                system.url().to_string(),
                client,
                samples.clone(),
            ))
        })
        .collect();
    let mut rounds = Vec::new();
    for round in 0..config.rounds {
        rounds.push(kill_leader(&mut system, round, &samples).await);
    }
    for trader in traders {
        trader.abort();
    }
    for (what, figure) in [
        (
            "new leader",
            (|r: &Round| r.leader_after) as fn(&Round) -> Duration,
        ),
        ("first successful trade", |r| r.trade_after),
        ("slowest trade in flight at the kill", |r| {
            r.slowest_in_flight
        }),
    ] {
        let mut spread: Vec<Duration> = rounds.iter().map(figure).collect();
        spread.sort();
        println!(
            "{what} after kill -9 of the leader: min {:.0} ms, median {:.0} ms, max {:.0} ms ({} rounds)",
            ms(spread[0]),
            ms(spread[spread.len() / 2]),
            ms(spread[spread.len() - 1]),
            spread.len()
        );
    }
}

/// One round: kill the leader, time the takeover and the first trade after it, report the
/// trades caught in flight, then bring the old leader back and let the replicas agree.
async fn kill_leader(system: &mut System, round: usize, samples: &Samples) -> Round {
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
            .trade(
                "FishCo",
                1,
                if round.is_multiple_of(2) {
                    "buy"
                } else {
                    "sell"
                },
            )
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
        ms(leader_after),
        ms(trade_after),
        ms(slowest),
        if failed > 0 { format!(" ({failed} failed)") } else { String::new() },
    );
    system.order(old).restart();
    system.wait_converged(0, Duration::from_secs(20)).await;
    Round {
        leader_after,
        trade_after,
        slowest_in_flight: slowest,
    }
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

/// Trades one share back and forth until aborted, recording every trade.
async fn trade_forever(url: String, client: usize, samples: Samples) {
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
