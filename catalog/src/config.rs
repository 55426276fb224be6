//! The catalog's settings, from flags or environment variables.

use clap::Parser;
use std::path::PathBuf;

/// Settings of one catalog process. Tests build it literally.
#[derive(Debug, Clone, Parser)]
#[command(
    name = "bazaar-catalog",
    version,
    about = "Stock Bazaar catalog service"
)]
pub struct Config {
    /// NATS server URL (or comma-separated seed URLs).
    #[arg(long, env = "NATS_URL", default_value = "nats://127.0.0.1:4222")]
    pub nats_url: String,

    /// NATS credentials (`--nats-user`, `--nats-password[-file]`); anonymous without them.
    #[command(flatten)]
    pub nats_auth: bazaar_nats::NatsAuth,

    /// Directory holding the catalog's redb file (`catalog.redb`); created if missing.
    #[arg(long, env = "CATALOG_DATA_DIR", default_value = "data/catalog")]
    pub data_dir: PathBuf,

    /// JSON array of `{"name", "price", "quantity"}` seeding an empty catalog on its first start
    /// (default: the built-in Asterix-themed stocks). Ignored once the catalog holds stocks.
    #[arg(long, env = "CATALOG_STOCKS", value_name = "FILE")]
    pub stocks: Option<PathBuf>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_parse_into_the_config() {
        let config = Config::try_parse_from([
            "bazaar-catalog",
            "--nats-url",
            "nats://n:4222",
            "--data-dir",
            "/tmp/c",
            "--stocks",
            "s.json",
        ])
        .unwrap();
        assert_eq!(config.nats_url, "nats://n:4222");
        assert_eq!(config.data_dir, PathBuf::from("/tmp/c"));
        assert_eq!(config.stocks, Some(PathBuf::from("s.json")));
    }
}
