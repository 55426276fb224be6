//! The `bazaar-measure` binary: parses the subcommand, installs tracing, starts one runtime and
//! hands over to the measurement it names.

use bazaar_measure::{bench, eval, failover};
use clap::{Parser, Subcommand};

/// `bazaar-measure`: measure Stock Bazaar and write the documents that cite the figures.
#[derive(Debug, Parser)]
#[command(name = "bazaar-measure", version, about)]
struct Cli {
    /// The measurement to make.
    #[command(subcommand)]
    measurement: Measurement,
}

/// The measurements, one per document (or printout).
#[derive(Debug, Subcommand)]
enum Measurement {
    /// Measure Stock Bazaar beside its floors and write docs/PERFORMANCE.md.
    Bench(bench::Cli),
    /// Run the evaluation experiments and write docs/EVALUATION.md with its plots.
    Eval(eval::Config),
    /// Kill the order leader again and again under trading and print how long each takeover took.
    Failover(failover::Config),
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    if matches!(cli.measurement, Measurement::Bench(_)) {
        use_sibling_binaries()?;
    }
    init_tracing();
    let command = command_line();
    let runtime = tokio::runtime::Runtime::new()?;
    runtime.block_on(async {
        match cli.measurement {
            Measurement::Bench(cli) => bench::execute(cli, command).await,
            Measurement::Eval(config) => eval::execute(&config, command).await,
            Measurement::Failover(config) => {
                failover::execute(&config).await;
                Ok(())
            }
        }
    })
}

/// The benchmark measures the binaries next to this one (target/release) unless told
/// otherwise. Set before the runtime starts, while no other thread reads the environment.
fn use_sibling_binaries() -> anyhow::Result<()> {
    if std::env::var_os("BAZAAR_BIN_DIR").is_none() {
        if let Some(dir) = std::env::current_exe()?.parent() {
            std::env::set_var("BAZAAR_BIN_DIR", dir);
        }
    }
    Ok(())
}

fn init_tracing() {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "bazaar_measure=info,bazaar_client=warn".into()),
        )
        .init();
}

/// This invocation as one line, for the documents to say how they were made.
fn command_line() -> String {
    std::iter::once("bazaar-measure".to_string())
        .chain(std::env::args().skip(1))
        .collect::<Vec<_>>()
        .join(" ")
}
