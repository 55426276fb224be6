//! The catalog's settings, from flags or environment variables.

use clap::Parser;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

/// Default NATS URL.
pub const DEFAULT_NATS_URL: &str = "nats://127.0.0.1:4222";
/// Default data directory.
pub const DEFAULT_DATA_DIR: &str = "data/catalog";
/// Default time an idempotency key is remembered: a day, far longer than any client retries.
pub const DEFAULT_KEY_RETENTION_SECS: u64 = 24 * 60 * 60;

/// Settings of one catalog process. Tests build it literally.
#[derive(Debug, Clone, Parser)]
#[command(
    name = "bazaar-catalog",
    version,
    about = "Stock Bazaar catalog service"
)]
pub struct Config {
    /// NATS server URL (or comma-separated seed URLs).
    #[arg(long, env = "NATS_URL", default_value = DEFAULT_NATS_URL)]
    pub nats_url: String,

    /// NATS credentials (`--nats-user`, `--nats-password[-file]`); anonymous without them.
    #[command(flatten)]
    pub nats_auth: bazaar_nats::NatsAuth,

    /// Directory holding the catalog's redb file (`catalog.redb`); created if missing.
    #[arg(long, env = "CATALOG_DATA_DIR", default_value = DEFAULT_DATA_DIR)]
    pub data_dir: PathBuf,

    /// JSON array of `{"name", "price", "quantity"}` seeding an empty catalog on its first start
    /// (default: the built-in Asterix-themed stocks). Ignored once the catalog holds stocks.
    #[arg(long, env = "CATALOG_STOCKS", value_name = "FILE")]
    pub stocks: Option<PathBuf>,

    /// How long an idempotency key is remembered, in seconds, from its first use: a reuse
    /// within it gets the first answer (or 422 for another order), a reuse after it is a new
    /// order. Must exceed the longest time a client keeps retrying one request.
    #[arg(
        long,
        env = "CATALOG_KEY_RETENTION_SECS",
        default_value_t = DEFAULT_KEY_RETENTION_SECS,
        value_parser = clap::value_parser!(u64).range(1..)
    )]
    pub key_retention_secs: u64,

    /// Serve the operator's fault-injection subjects (`admin.catalog.>`: pause, crash, delay).
    /// For drills and tests only; off in production.
    #[arg(long, env = "CATALOG_FAULT_INJECTION")]
    pub fault_injection: bool,
    /// Serve Prometheus metrics on `http://ADDR/metrics` (off when unset).
    #[arg(long, env = "CATALOG_METRICS_LISTEN", value_name = "ADDR")]
    pub metrics_listen: Option<SocketAddr>,
}

impl Config {
    /// How long an idempotency key is remembered.
    pub fn key_retention(&self) -> Duration {
        Duration::from_secs(self.key_retention_secs)
    }
}

impl Default for Config {
    /// The same values the flags default to (ignoring the environment).
    fn default() -> Self {
        Self {
            nats_url: DEFAULT_NATS_URL.to_string(),
            data_dir: PathBuf::from(DEFAULT_DATA_DIR),
            stocks: None,
            key_retention_secs: DEFAULT_KEY_RETENTION_SECS,
            nats_auth: bazaar_nats::NatsAuth::default(),
            fault_injection: false,
            metrics_listen: None,
        }
    }
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
            "--key-retention-secs",
            "60",
        ])
        .unwrap();
        assert_eq!(config.nats_url, "nats://n:4222");
        assert_eq!(config.data_dir, PathBuf::from("/tmp/c"));
        assert_eq!(config.stocks, Some(PathBuf::from("s.json")));
        assert_eq!(config.key_retention(), Duration::from_secs(60));
    }

    #[test]
    fn a_key_retention_of_zero_is_refused() {
        let err = Config::try_parse_from(["bazaar-catalog", "--key-retention-secs", "0"]);
        assert!(err.is_err(), "{err:?}");
    }

    #[test]
    fn the_default_config_matches_the_flag_defaults() {
        let parsed = Config::try_parse_from(["bazaar-catalog"]).unwrap();
        let default = Config::default();
        assert_eq!(parsed.key_retention_secs, DEFAULT_KEY_RETENTION_SECS);
        assert_eq!(
            (parsed.nats_url, parsed.data_dir, parsed.stocks),
            (default.nats_url, default.data_dir, default.stocks)
        );
    }
}
