//! The frontend's settings: flags, each with an environment variable and a default.
//!
//! Tests build a [`Config`] literally (or start from [`Config::default`]) and override what they
//! need, such as a short retry budget.

use clap::Parser;
use std::net::SocketAddr;
use std::time::Duration;

/// Default NATS URL.
pub const DEFAULT_NATS_URL: &str = "nats://127.0.0.1:4222";
/// Default HTTP listen address.
pub const DEFAULT_LISTEN: SocketAddr = SocketAddr::new(
    std::net::IpAddr::V4(std::net::Ipv4Addr::new(127, 0, 0, 1)),
    8080,
);
/// Default cache capacity: smaller than the seeded catalog, so replacement happens.
pub const DEFAULT_CACHE_SIZE: usize = 5;
/// Default time one NATS request may take, in milliseconds.
pub const DEFAULT_ATTEMPT_TIMEOUT_MS: u64 = 1000;
/// Default time all attempts of one HTTP request may take before it is answered 503, in ms.
pub const DEFAULT_RETRY_BUDGET_MS: u64 = 5000;

/// Settings of the HTTP gateway.
#[derive(Debug, Clone, PartialEq, Eq, Parser)]
#[command(
    name = "bazaar-frontend",
    version,
    about = "Stock Bazaar HTTP gateway: REST in front, NATS behind"
)]
pub struct Config {
    /// NATS server URL, or a comma-separated list of seed URLs.
    #[arg(long, env = "NATS_URL", default_value = DEFAULT_NATS_URL)]
    pub nats_url: String,
    /// NATS credentials (`--nats-user`, `--nats-password[-file]`); anonymous without them.
    #[command(flatten)]
    pub nats_auth: bazaar_nats::NatsAuth,
    /// Address the HTTP server listens on (used by the binary; `run` takes a bound listener).
    #[arg(long, env = "FRONTEND_LISTEN", default_value_t = DEFAULT_LISTEN)]
    pub listen: SocketAddr,
    /// How many stocks the LRU cache holds; 0 turns caching off.
    #[arg(long, env = "FRONTEND_CACHE_SIZE", default_value_t = DEFAULT_CACHE_SIZE)]
    pub cache_size: usize,
    /// How long one NATS request may take, in milliseconds, before it is retried.
    #[arg(long, env = "FRONTEND_ATTEMPT_TIMEOUT_MS", default_value_t = DEFAULT_ATTEMPT_TIMEOUT_MS)]
    pub attempt_timeout_ms: u64,
    /// How long all attempts of one HTTP request may take, in milliseconds, before it is answered
    /// 503 with `Retry-After: 1`.
    #[arg(long, env = "FRONTEND_RETRY_BUDGET_MS", default_value_t = DEFAULT_RETRY_BUDGET_MS)]
    pub retry_budget_ms: u64,
}

impl Config {
    /// The per-request NATS timeout (at least 1 ms).
    pub fn attempt_timeout(&self) -> Duration {
        Duration::from_millis(self.attempt_timeout_ms.max(1))
    }

    /// The total time spent retrying one HTTP request.
    pub fn retry_budget(&self) -> Duration {
        Duration::from_millis(self.retry_budget_ms)
    }
}

impl Default for Config {
    /// The same values the flags default to (ignoring the environment).
    fn default() -> Self {
        Self {
            nats_url: DEFAULT_NATS_URL.to_string(),
            nats_auth: bazaar_nats::NatsAuth::default(),
            listen: DEFAULT_LISTEN,
            cache_size: DEFAULT_CACHE_SIZE,
            attempt_timeout_ms: DEFAULT_ATTEMPT_TIMEOUT_MS,
            retry_budget_ms: DEFAULT_RETRY_BUDGET_MS,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_default_to_the_documented_values() {
        let parsed = Config::try_parse_from(["bazaar-frontend"]).unwrap();
        // The environment may set some of these; compare only when it does not.
        if std::env::var_os("FRONTEND_CACHE_SIZE").is_none() {
            assert_eq!(parsed.cache_size, 5);
        }
        if std::env::var_os("FRONTEND_LISTEN").is_none() {
            assert_eq!(parsed.listen.to_string(), "127.0.0.1:8080");
        }
        assert_eq!(Config::default().retry_budget(), Duration::from_secs(5));
    }

    #[test]
    fn flags_override_the_defaults() {
        let parsed = Config::try_parse_from([
            "bazaar-frontend",
            "--cache-size",
            "0",
            "--retry-budget-ms",
            "1500",
            "--attempt-timeout-ms",
            "200",
            "--listen",
            "0.0.0.0:9000",
        ])
        .unwrap();
        assert_eq!(parsed.cache_size, 0);
        assert_eq!(parsed.retry_budget(), Duration::from_millis(1500));
        assert_eq!(parsed.attempt_timeout(), Duration::from_millis(200));
        assert_eq!(parsed.listen.port(), 9000);
    }
}
