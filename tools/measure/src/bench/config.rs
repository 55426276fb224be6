//! The `bazaar-measure bench` command line.

use clap::{Args, Subcommand};
use std::path::PathBuf;

/// `bazaar-measure bench`: measure Stock Bazaar beside its floors and write docs/PERFORMANCE.md.
#[derive(Debug, Clone, Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct Cli {
    /// A helper mode instead of the benchmark.
    #[command(subcommand)]
    pub command: Option<Helper>,
    /// The benchmark's parameters.
    #[command(flatten)]
    pub bench: Config,
}

/// Modes the benchmark starts itself in.
#[derive(Debug, Clone, Subcommand)]
pub enum Helper {
    /// Serve the bare axum handler (the HTTP floor) until killed.
    BareHttp {
        /// Address to listen on.
        #[arg(long, default_value = "127.0.0.1:0")]
        listen: std::net::SocketAddr,
    },
    /// Start the system as the benchmark does (plus the uncached frontend and the bare handler),
    /// print its addresses and process ids as JSON, and stop it all after `--secs` or on
    /// Ctrl-C: for profiling a service under wrk by hand.
    Hold {
        /// How long to keep it running.
        #[arg(long, default_value_t = 300)]
        secs: u64,
        /// Fill the order log to this many orders first.
        #[arg(long, default_value_t = 1_000)]
        orders: u64,
    },
}

/// What the benchmark measures and where it writes.
#[derive(Debug, Clone, PartialEq, Args)]
pub struct Config {
    /// Where PERFORMANCE.md (and perf/latest.json) are written.
    #[arg(long, default_value = "docs")]
    pub docs_dir: PathBuf,
    /// Length of each wrk measurement, in seconds (each is preceded by a 1 s warm-up).
    #[arg(long, default_value_t = 10)]
    pub duration_secs: u64,
    /// Orders stored for the small-history figures (order query at "1,000").
    #[arg(long, default_value_t = 1_000)]
    pub small_orders: u64,
    /// Orders stored for the large-history figure (order query at "1,000,000").
    #[arg(long, default_value_t = 1_000_000)]
    pub scale_orders: u64,
    /// Orders appended while a replica is down, for the catch-up figure.
    #[arg(long, default_value_t = 100_000)]
    pub catch_up_orders: u64,
    /// Connections (wrk) and clients (bazaar-client) of the trade throughput runs.
    #[arg(long, default_value_t = 64)]
    pub trade_clients: u32,
    /// The wrk binary.
    #[arg(long, default_value = "wrk")]
    pub wrk: PathBuf,
    /// Skip the reference-workload run of bazaar-client.
    #[arg(long)]
    pub skip_client: bool,
    /// Skip the catch-up and large-history measurements (a quick run while developing).
    #[arg(long)]
    pub skip_scale: bool,
    /// Measure nothing: render PERFORMANCE.md again from the last run (perf/latest.json), e.g.
    /// after the analysis text in bench/ANALYSIS.md changed.
    #[arg(long)]
    pub render_only: bool,
}
