//! `bazaar-measure eval`: runs Stock Bazaar's evaluation and writes `docs/EVALUATION.md` with
//! its plots.
//!
//! Three experiments, each on fresh systems started through `bazaar-e2e` and driven with the
//! `bazaar-client` library: a sweep of the trade probability with the cache on and off, a
//! sampled timeline of the cache's contents, and kill -9 of an order replica under load.
//!
//! - [`config`] - the flags: load sizes, where to write.
//! - [`system`] - starting a deployment.
//! - [`cache_probe`] - reading `GET /cache`, once or periodically.
//! - [`sweep`], [`timeline`], [`crash`] - the experiments.
//! - [`results`] - what they measured, as written to `results.json`.
//! - [`plot`] - the SVG plots.
//! - [`doc`] - the Markdown document.

pub mod cache_probe;
pub mod config;
pub mod crash;
pub mod doc;
pub mod plot;
pub mod results;
pub mod sweep;
pub mod system;
pub mod timeline;

pub use config::Config;
pub use results::{Parameters, Results};

use crate::machine::{self, Machine};
use anyhow::Context as _;
use bazaar_client::Kind;
use std::time::Instant;

/// Runs every experiment and writes the document and plots: the whole `eval` subcommand.
///
/// # Errors
/// When an experiment cannot run or a file cannot be written.
pub async fn execute(config: &Config, command: String) -> anyhow::Result<()> {
    let results = evaluate(config, command).await?;
    tracing::info!(
        secs = results.elapsed_secs as u64,
        document = %config.docs_dir.join("EVALUATION.md").display(),
        "evaluation written"
    );
    Ok(())
}

/// Runs every experiment, then writes the plots, the raw results and the document.
///
/// # Errors
/// When an experiment cannot run or a file cannot be written.
pub async fn evaluate(config: &Config, command: String) -> anyhow::Result<Results> {
    let started = Instant::now();
    let machine = Machine::describe();
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
