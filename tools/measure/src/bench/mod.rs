//! `bazaar-measure bench`: Stock Bazaar's performance goals measured beside their floors.
//!
//! [`run::run`] starts the real system from release binaries (through the `bazaar-e2e` harness),
//! measures the floors (a bare axum handler hit by wrk, a bare NATS request-reply, a bare durable
//! redb commit) and then the system (wrk for lookups, order queries and trades, `bazaar-client`
//! for the reference workload, direct log appends for the scale figures), and
//! [`doc::render`] turns the [`results::Results`] into docs/PERFORMANCE.md.
//!
//! - [`config`] - the command line.
//! - [`bare`] - the bare axum handler (the HTTP floor), served by `bazaar-measure bench bare-http`.
//! - [`floors`] - the NATS and redb floors.
//! - [`latency`] - HDR latency summaries.
//! - [`wrk`] - running wrk with the Lua scripts in `lua/` and reading its figures.
//! - [`order_log`] - filling the order log fast with valid records.
//! - [`results`] - what a run measured.
//! - [`goals`] - the goals judged from it.
//! - [`setup`] - the processes measured, and `bench hold`.
//! - [`scale`] - filling the log and a replica catching up.
//! - [`run`] - the run itself.
//! - [`doc`] - the document.

pub mod bare;
pub mod config;
pub mod doc;
pub mod floors;
pub mod goals;
pub mod latency;
pub mod order_log;
pub mod results;
pub mod run;
pub mod scale;
pub mod setup;
pub mod wrk;

pub use config::{Cli, Config, Helper};

use anyhow::Context as _;
use results::Results;

/// Runs what `cli` asks for: a helper mode, or the benchmark (or only its document again).
///
/// # Errors
/// When a helper cannot serve, the run fails, or a file cannot be read or written.
pub async fn execute(cli: Cli, command: String) -> anyhow::Result<()> {
    match cli.command {
        Some(Helper::BareHttp { listen }) => {
            let listener = tokio::net::TcpListener::bind(listen)
                .await
                .with_context(|| format!("cannot listen on {listen}"))?;
            bare::serve(listener).await
        }
        Some(Helper::Hold { secs, orders }) => setup::hold(secs, orders).await,
        None => bench(&cli.bench, command).await,
    }
}

/// Measures (or, with `--render-only`, reads the last run back), writes docs/PERFORMANCE.md and
/// prints each goal's verdict.
async fn bench(config: &Config, command: String) -> anyhow::Result<()> {
    let perf_dir = config.docs_dir.join("perf");
    let latest = perf_dir.join("latest.json");
    let results: Results = if config.render_only {
        let text = std::fs::read_to_string(&latest)
            .with_context(|| format!("cannot read {}", latest.display()))?;
        serde_json::from_str(&text).with_context(|| format!("cannot parse {}", latest.display()))?
    } else {
        let results = run::run(config, command).await?;
        run::write_json(&results, &latest)?;
        results
    };
    let baseline: Option<Results> = std::fs::read_to_string(perf_dir.join("baseline.json"))
        .ok()
        .and_then(|text| serde_json::from_str(&text).ok());
    let document = doc::render(&results, baseline.as_ref());
    let path = config.docs_dir.join("PERFORMANCE.md");
    std::fs::write(&path, &document).with_context(|| format!("cannot write {}", path.display()))?;
    for goal in results.goals() {
        println!(
            "{:<8} {} -- {} [{}]",
            match goal.met {
                Some(true) => "met",
                Some(false) => "MISSED",
                None => "-",
            },
            goal.goal,
            goal.measured,
            goal.floor
        );
    }
    tracing::info!(document = %path.display(), secs = results.elapsed_secs as u64, "performance document written");
    Ok(())
}
