//! `bazaar-chaos`: one seeded chaos run against the real binaries; exits non-zero when an
//! invariant breaks. Build the binaries first (`cargo build --workspace --release` and set
//! `BAZAAR_BIN_DIR=target/release`, or debug builds by default).

use clap::Parser;
use std::time::Duration;

/// Seeded fault injection under load, with invariants I1-I6 checked at the end.
#[derive(Debug, Parser)]
#[command(name = "bazaar-chaos", version, about)]
struct Args {
    /// Seed for the workload and the faults; the same seed replays the same choices.
    #[arg(long, env = "CHAOS_SEED", default_value_t = 1)]
    seed: u64,
    /// Seconds of load and faults.
    #[arg(long, env = "CHAOS_DURATION_SECS", default_value_t = 60)]
    duration_secs: u64,
    /// Concurrent clients.
    #[arg(long, env = "CHAOS_CLIENTS", default_value_t = 6)]
    clients: usize,
    /// Mean milliseconds between faults.
    #[arg(long, env = "CHAOS_FAULT_INTERVAL_MS", default_value_t = 3000)]
    fault_interval_ms: u64,
    /// The frontends' retry budget, in milliseconds.
    #[arg(long, env = "FRONTEND_RETRY_BUDGET_MS", default_value_t = 5000)]
    retry_budget_ms: u64,
    /// Only these fault kinds, comma-separated (kill-replica, kill-leader, freeze-leader,
    /// kill-catalog, kill-nats, wipe-replica, kill-frontend, forge-log, admin-stepdown,
    /// admin-pause-leader, admin-crash-replica, admin-delay-catalog, admin-pause-catalog);
    /// all when absent.
    #[arg(long, value_delimiter = ',')]
    faults: Vec<String>,
    /// When an invariant breaks, copy the services' logs and the request history here.
    #[arg(long)]
    keep_logs: Option<std::path::PathBuf>,
    /// Write the full report as JSON here.
    #[arg(long)]
    report: Option<std::path::PathBuf>,
    /// Run the broker with the shipped configuration (authentication and per-role permissions
    /// on), as every deployment does.
    #[arg(long, env = "CHAOS_SECURED")]
    secured: bool,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let config = bazaar_chaos::RunConfig {
        seed: args.seed,
        duration: Duration::from_secs(args.duration_secs),
        clients: args.clients,
        fault_interval: Duration::from_millis(args.fault_interval_ms),
        retry_budget: Duration::from_millis(args.retry_budget_ms),
        only_faults: args.faults,
        keep_logs: args.keep_logs,
        secured: args.secured,
    };
    let report = bazaar_chaos::run(&config).await?;
    println!("{}", report.summary());
    if let Some(path) = args.report {
        std::fs::write(&path, serde_json::to_vec_pretty(&report)?)?;
    }
    if !report.all_hold() {
        anyhow::bail!("an invariant broke; replay with --seed {}", args.seed);
    }
    Ok(())
}
