//! `bazaar-log-repair`: re-appends to the order log the orders it lost, from the most complete
//! of the replica stores given (the files the replicas set aside and named in their logs).
//! See docs/FAULT_TOLERANCE.md, "When the log lost its tail".

use anyhow::Context as _;
use clap::Parser;
use std::path::PathBuf;

/// Re-append orders the order log lost, numbered as they were, from replica stores.
#[derive(Debug, Parser)]
#[command(name = "bazaar-log-repair", version, about)]
struct Args {
    /// NATS server URL(s), comma-separated for a cluster.
    #[arg(long, env = "NATS_URL", default_value = "nats://127.0.0.1:4222")]
    nats_url: String,
    /// Credentials: the operator's (only the operator may append outside a leader's term on
    /// the shipped configuration).
    #[command(flatten)]
    nats_auth: bazaar_nats::NatsAuth,
    /// A replica store file (repeat for several); the one holding the most orders is used.
    /// Stop the replica first if it is its live store.
    #[arg(long = "store", required = true)]
    stores: Vec<PathBuf>,
    /// Only report what would be appended.
    #[arg(long)]
    dry_run: bool,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    bazaar_nats::runtime::init_tracing("bazaar_order=info,warn");
    let connection = bazaar_nats::connect(&args.nats_url, "log-repair", &args.nats_auth)
        .await
        .context("cannot connect to NATS")?;
    let js = async_nats::jetstream::new(connection.client.clone());
    let scratch = tempfile::tempdir().context("cannot make a scratch directory")?;
    let report = bazaar_order::repair::repair(&js, &args.stores, scratch.path(), args.dry_run)
        .await
        .context("repair failed")?;
    connection.client.flush().await.ok();
    println!(
        "{} holds {} orders, the log {}: {} re-appended{}",
        report.source.display(),
        report.stored,
        report.logged,
        report.appended,
        if args.dry_run { " (dry run)" } else { "" }
    );
    Ok(())
}
