//! The evaluation's knobs: how much load each experiment makes and where the document goes.
//! Defaults keep the whole evaluation to a few minutes on a 2-core machine.

use clap::Args;
use std::path::PathBuf;

/// The `bazaar-measure eval` command line.
#[derive(Debug, Clone, Args)]
pub struct Config {
    /// Where to write the document; the plots and raw results go to `<dir>/eval/`.
    #[arg(long, default_value = "docs")]
    pub docs_dir: PathBuf,
    /// Seed of every workload (each run derives its clients' seeds from it).
    #[arg(long, default_value_t = 1)]
    pub seed: u64,

    /// Sweep: trade probabilities to measure.
    #[arg(long, value_delimiter = ',', default_values_t = [0.0, 0.2, 0.4, 0.6, 0.8])]
    pub p_values: Vec<f64>,
    /// Sweep: concurrent clients.
    #[arg(long, default_value_t = 5)]
    pub sweep_clients: usize,
    /// Sweep: iterations per client at each p.
    #[arg(long, default_value_t = 500)]
    pub sweep_iterations: u64,
    /// Sweep: iterations per client of the unmeasured warm-up run on each fresh system.
    #[arg(long, default_value_t = 30)]
    pub warmup_iterations: u64,
    /// Frontend cache size of the "cache on" runs (and of the timeline and crash runs).
    #[arg(long, default_value_t = 5)]
    pub cache_size: usize,

    /// Cache timeline: length of the sampled run, in seconds.
    #[arg(long, default_value_t = 10.0)]
    pub timeline_secs: f64,
    /// Cache timeline: concurrent clients.
    #[arg(long, default_value_t = 2)]
    pub timeline_clients: usize,
    /// Cache timeline: pause after each iteration, in ms, so replacements are visible per sample.
    #[arg(long, default_value_t = 100)]
    pub timeline_think_ms: u64,
    /// Cache timeline: trade probability.
    #[arg(long, default_value_t = 0.2)]
    pub timeline_p: f64,
    /// Cache timeline: sampling period of `GET /cache`, in ms.
    #[arg(long, default_value_t = 100)]
    pub sample_ms: u64,

    /// Crash experiment: runs; odd runs (1st, 3rd, ...) kill the leader, even runs a random
    /// follower.
    #[arg(long, default_value_t = 4)]
    pub crash_runs: usize,
    /// Crash experiment: length of the load in each run, in seconds.
    #[arg(long, default_value_t = 8.0)]
    pub crash_secs: f64,
    /// Crash experiment: when the victim is killed (-9), seconds into the load.
    #[arg(long, default_value_t = 2.0)]
    pub crash_kill_at_secs: f64,
    /// Crash experiment: how long the victim stays down, in seconds.
    #[arg(long, default_value_t = 3.0)]
    pub crash_down_secs: f64,
    /// Crash experiment: concurrent clients.
    #[arg(long, default_value_t = 5)]
    pub crash_clients: usize,
    /// Crash experiment: trade probability.
    #[arg(long, default_value_t = 0.5)]
    pub crash_p: f64,
}

impl Config {
    /// The directory of the plots and raw results.
    pub fn eval_dir(&self) -> PathBuf {
        self.docs_dir.join("eval")
    }
}
