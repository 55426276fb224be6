//! `bazaar-catalog`: the Stock Bazaar catalog service. Parses its settings, installs tracing and
//! runs the catalog until SIGTERM or ctrl-c.

use bazaar_catalog::Config;
use clap::Parser;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let config = Config::parse();
    bazaar_nats::runtime::init_tracing("bazaar_catalog=info,warn");
    bazaar_nats::metrics::serve_if(config.metrics_listen).await?;
    bazaar_catalog::metrics::describe();
    bazaar_catalog::run(config, bazaar_nats::runtime::shutdown_signal()).await
}
