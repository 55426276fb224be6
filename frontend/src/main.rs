//! The `bazaar-frontend` binary: parse the config, install tracing, bind, serve until SIGTERM.

use anyhow::Context as _;
use bazaar_frontend::{run, Config};
use clap::Parser;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let config = Config::parse();
    bazaar_nats::runtime::init_tracing("bazaar_frontend=info,tower_http=info,warn");
    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .with_context(|| format!("cannot listen on {}", config.listen))?;
    let result = run(config, listener, bazaar_nats::runtime::shutdown_signal()).await;
    if let Err(e) = &result {
        tracing::error!(error = format!("{e:#}"), "frontend stopped with an error");
    }
    result
}
