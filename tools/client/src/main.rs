//! The `bazaar-client` binary: parse the flags, run the workload, print the table, write the
//! report. Exits 1 when an acknowledged order did not read back, 2 when the run could not start.

use anyhow::Context as _;
use bazaar_client::{run, Config};
use clap::Parser;
use std::process::ExitCode;

#[tokio::main]
async fn main() -> anyhow::Result<ExitCode> {
    let config = Config::parse();
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "bazaar_client=warn".into()),
        )
        .init();
    let report = match run(&config.workload).await {
        Ok(report) => report,
        Err(e) => {
            eprintln!("bazaar-client: {e}");
            return Ok(ExitCode::from(2));
        }
    };
    print!("{}", report.table());
    if let Some(out) = &config.out {
        report
            .write_to(out)
            .with_context(|| format!("cannot write {}", out.display()))?;
    }
    if report.verified() {
        Ok(ExitCode::SUCCESS)
    } else {
        eprintln!(
            "verification failed: {} mismatched, {} unverified orders",
            report.mismatches, report.unverified
        );
        Ok(ExitCode::FAILURE)
    }
}
