//! What one evaluation measured, as written to `docs/eval/results.json` and rendered into the
//! document.

use super::config::Config;
use super::{crash, sweep, timeline};
use crate::machine::Machine;
use serde::Serialize;

/// The parameters echoed into the document (the subset of [`Config`] it cites).
#[derive(Debug, Clone, Serialize)]
pub struct Parameters {
    /// Sweep clients.
    pub sweep_clients: usize,
    /// Sweep iterations per client per p.
    pub sweep_iterations: u64,
    /// Warm-up iterations per client.
    pub warmup_iterations: u64,
    /// Cache size when on.
    pub cache_size: usize,
    /// Timeline clients.
    pub timeline_clients: usize,
    /// Timeline length, s.
    pub timeline_secs: f64,
    /// Timeline pause per iteration, ms.
    pub timeline_think_ms: u64,
    /// Timeline trade probability.
    pub timeline_p: f64,
    /// Crash clients.
    pub crash_clients: usize,
    /// Crash trade probability.
    pub crash_p: f64,
    /// Crash load length, s.
    pub crash_secs: f64,
    /// Kill time into the load, s.
    pub crash_kill_at_secs: f64,
    /// Downtime, s.
    pub crash_down_secs: f64,
}

impl From<&Config> for Parameters {
    fn from(c: &Config) -> Self {
        Self {
            sweep_clients: c.sweep_clients,
            sweep_iterations: c.sweep_iterations,
            warmup_iterations: c.warmup_iterations,
            cache_size: c.cache_size,
            timeline_clients: c.timeline_clients,
            timeline_secs: c.timeline_secs,
            timeline_think_ms: c.timeline_think_ms,
            timeline_p: c.timeline_p,
            crash_clients: c.crash_clients,
            crash_p: c.crash_p,
            crash_secs: c.crash_secs,
            crash_kill_at_secs: c.crash_kill_at_secs,
            crash_down_secs: c.crash_down_secs,
        }
    }
}

/// Everything measured, as written to `docs/eval/results.json` and rendered into the document.
#[derive(Debug, Clone, Serialize)]
pub struct Results {
    /// The machine and date.
    pub machine: Machine,
    /// The command line that produced it.
    pub command: String,
    /// Where the measured service binaries came from (`BAZAAR_BIN_DIR`).
    pub binaries: String,
    /// The experiments' parameters.
    pub config: Parameters,
    /// Experiment (a).
    pub sweep: Vec<sweep::SweepPoint>,
    /// Experiment (b).
    pub timeline: timeline::Timeline,
    /// Experiment (c).
    pub crash: Vec<crash::CrashRun>,
    /// Wall-clock seconds of the whole evaluation.
    pub elapsed_secs: f64,
    /// The 1-minute load average when it ended.
    pub load_at_end: f64,
}
