//! `bazaar-eval`: runs Stock Bazaar's evaluation and writes `docs/EVALUATION.md` with its plots.
//!
//! Three experiments, each on fresh systems started through `bazaar-e2e` and driven with the
//! `bazaar-client` library: a sweep of the trade probability with the cache on and off, a
//! sampled timeline of the cache's contents, and kill -9 of an order replica under load.
//!
//! - [`config`] - the flags: load sizes, where to write.
//! - [`machine`] - what it ran on, and when.
//! - [`system`] - starting a deployment.
//! - [`cache_probe`] - reading `GET /cache`, once or periodically.
//! - [`sweep`], [`timeline`], [`crash`] - the experiments.
//! - [`plot`] - the SVG plots.
//! - [`doc`] - the Markdown document.

pub mod cache_probe;
pub mod config;
pub mod crash;
pub mod doc;
pub mod machine;
pub mod plot;
pub mod sweep;
pub mod system;
pub mod timeline;

pub use config::Config;

use anyhow::Context as _;
use bazaar_client::Kind;
use serde::Serialize;
use std::time::Instant;

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
    pub machine: machine::Machine,
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

/// Runs every experiment, then writes the plots, the raw results and the document.
///
/// # Errors
/// When an experiment cannot run or a file cannot be written.
pub async fn evaluate(config: &Config, command: String) -> anyhow::Result<Results> {
    let started = Instant::now();
    let machine = machine::Machine::describe();
    let sweep = sweep::sweep(config).await.context("the p sweep")?;
    let timeline = timeline::cache_timeline(config)
        .await
        .context("the cache timeline")?;
    let crash = crash::crash_runs(config).await.context("the crash runs")?;
    let results = Results {
        machine,
        command,
        binaries: bazaar_e2e::process::bin_dir().display().to_string(),
        config: Parameters::from(config),
        sweep,
        timeline,
        crash,
        elapsed_secs: started.elapsed().as_secs_f64(),
        load_at_end: machine::load_average(),
    };
    write(config, &results)?;
    Ok(results)
}

/// Writes the plots, `results.json` (without per-request samples) and `EVALUATION.md`.
///
/// # Errors
/// When a file cannot be written.
pub fn write(config: &Config, results: &Results) -> anyhow::Result<()> {
    let dir = config.eval_dir();
    std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
    for kind in Kind::ALL {
        plot::sweep_plot(
            &dir.join(format!("sweep-{}.svg", kind.name())),
            kind,
            &results.sweep,
        )?;
    }
    plot::timeline_plot(&dir.join("cache-timeline.svg"), &results.timeline)?;
    for run in &results.crash {
        plot::crash_plot(&dir.join(format!("crash-run-{}.svg", run.run)), run)?;
    }
    let mut lean = results.clone();
    for run in &mut lean.crash {
        run.report.samples.clear();
    }
    let json = serde_json::to_string_pretty(&lean)? + "\n";
    std::fs::write(dir.join("results.json"), json).context("cannot write results.json")?;
    let path = config.docs_dir.join("EVALUATION.md");
    std::fs::write(&path, doc::render(results))
        .with_context(|| format!("cannot write {}", path.display()))?;
    Ok(())
}
