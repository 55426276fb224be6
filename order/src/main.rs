//! `bazaar-order`: one order replica. See `bazaar-order --help`.

use clap::Parser;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let config = bazaar_order::Config::parse();
    bazaar_nats::runtime::init_tracing("bazaar_order=info,warn");
    bazaar_nats::metrics::serve_if(config.metrics_listen).await?;
    bazaar_order::run(config, bazaar_nats::runtime::shutdown_signal()).await?;
    Ok(())
}
