//! The `bazaar-eval` binary: parse the flags, install tracing, run every experiment, and write
//! the document and plots.

use bazaar_eval::{evaluate, Config};
use clap::Parser;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let config = Config::parse();
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "bazaar_eval=info,bazaar_client=warn".into()),
        )
        .init();
    let command = std::iter::once("bazaar-eval".to_string())
        .chain(std::env::args().skip(1))
        .collect::<Vec<_>>()
        .join(" ");
    let results = evaluate(&config, command).await?;
    tracing::info!(
        secs = results.elapsed_secs as u64,
        document = %config.docs_dir.join("EVALUATION.md").display(),
        "evaluation written"
    );
    Ok(())
}
