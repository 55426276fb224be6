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
/// Default time an event stream may stay silent before it sends a heartbeat, in ms: well under
/// the 60 s idle timeout proxies and load balancers commonly keep.
pub const DEFAULT_EVENTS_HEARTBEAT_MS: u64 = 15_000;

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
    /// How long an event stream (`GET /stocks/events`) may go without an event before it sends
    /// a heartbeat comment, in milliseconds, so that proxies do not close a quiet stream.
    #[arg(long, env = "FRONTEND_EVENTS_HEARTBEAT_MS", default_value_t = DEFAULT_EVENTS_HEARTBEAT_MS)]
    pub events_heartbeat_ms: u64,
    /// What the HTTP edge allows each client: timeouts, open connections, request rate.
    #[command(flatten)]
    pub edge: EdgeLimits,
}

impl Config {
    /// The heartbeat period of event streams (at least 1 ms).
    pub fn events_heartbeat(&self) -> Duration {
        Duration::from_millis(self.events_heartbeat_ms.max(1))
    }

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
            events_heartbeat_ms: DEFAULT_EVENTS_HEARTBEAT_MS,
            edge: EdgeLimits::default(),
        }
    }
}

/// Default time a connection has to send a complete request head, in milliseconds: a real client
/// sends its head in one packet, so this leaves a slow link ample room.
pub const DEFAULT_HEADER_READ_TIMEOUT_MS: u64 = 10_000;
/// Default time a kept-alive connection may wait for its next request, in milliseconds: longer
/// than the 60 s idle timeout load balancers commonly keep, so a proxy in front closes its pooled
/// connections first and never sends on one being closed here; short enough that an abandoned
/// connection gives its place under the cap back within about a minute.
pub const DEFAULT_IDLE_TIMEOUT_MS: u64 = 75_000;
/// Default cap on open client connections: far above what the project's load clients open, below
/// the open-file limits the frontend is run with.
pub const DEFAULT_MAX_CONNECTIONS: usize = 1024;
/// Default sustained requests per second from one client address: high enough that a load
/// client, which sends everything from 127.0.0.1, never meets it. Set it lower where clients are
/// untrusted.
pub const DEFAULT_RATE_LIMIT_PER_IP: u32 = 200_000;
/// Default number of requests one client address may send at once above its rate.
pub const DEFAULT_RATE_LIMIT_BURST: u32 = 200_000;

/// Limits at the HTTP edge, so that slow or greedy clients cannot starve the others.
///
/// Each one is off at 0. The defaults run locally and never bind the project's benchmarks,
/// which send everything from one loopback address.
#[derive(Debug, Clone, PartialEq, Eq, clap::Args)]
pub struct EdgeLimits {
    /// Time a connection has to send a complete request head, in milliseconds: from accept for
    /// the first request, from its first byte for later ones. Then the connection is closed;
    /// 0 turns it off.
    #[arg(
        long,
        env = "FRONTEND_HEADER_READ_TIMEOUT_MS",
        default_value_t = DEFAULT_HEADER_READ_TIMEOUT_MS
    )]
    pub header_read_timeout_ms: u64,
    /// Time a kept-alive connection may wait, with no request in flight, for the first byte of
    /// its next request, in milliseconds. Then the connection is closed; 0 turns it off.
    #[arg(long, env = "FRONTEND_IDLE_TIMEOUT_MS", default_value_t = DEFAULT_IDLE_TIMEOUT_MS)]
    pub idle_timeout_ms: u64,
    /// Most client connections open at once; further ones wait in the listen backlog until
    /// one closes; 0 is no cap.
    #[arg(long, env = "FRONTEND_MAX_CONNECTIONS", default_value_t = DEFAULT_MAX_CONNECTIONS)]
    pub max_connections: usize,
    /// Sustained requests per second allowed from one client address (the TCP peer's IP; a
    /// proxy in front makes all its clients one address); more get 429 with `Retry-After`;
    /// 0 turns the limit off.
    #[arg(long, env = "FRONTEND_RATE_LIMIT_PER_IP", default_value_t = DEFAULT_RATE_LIMIT_PER_IP)]
    pub rate_limit_per_ip: u32,
    /// Requests one client address may send at once before its rate applies (0: the rate).
    #[arg(long, env = "FRONTEND_RATE_LIMIT_BURST", default_value_t = DEFAULT_RATE_LIMIT_BURST)]
    pub rate_limit_burst: u32,
}

impl EdgeLimits {
    /// The header-read timeout, or `None` when off.
    pub fn header_read_timeout(&self) -> Option<Duration> {
        nonzero_millis(self.header_read_timeout_ms)
    }

    /// The idle keep-alive timeout, or `None` when off.
    pub fn idle_timeout(&self) -> Option<Duration> {
        nonzero_millis(self.idle_timeout_ms)
    }

    /// The connection cap, or `None` when off.
    pub fn max_connections(&self) -> Option<usize> {
        (self.max_connections > 0).then_some(self.max_connections)
    }
}

impl Default for EdgeLimits {
    /// The same values the flags default to (ignoring the environment).
    fn default() -> Self {
        Self {
            header_read_timeout_ms: DEFAULT_HEADER_READ_TIMEOUT_MS,
            idle_timeout_ms: DEFAULT_IDLE_TIMEOUT_MS,
            max_connections: DEFAULT_MAX_CONNECTIONS,
            rate_limit_per_ip: DEFAULT_RATE_LIMIT_PER_IP,
            rate_limit_burst: DEFAULT_RATE_LIMIT_BURST,
        }
    }
}

fn nonzero_millis(ms: u64) -> Option<Duration> {
    (ms > 0).then(|| Duration::from_millis(ms))
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
        assert_eq!(
            Config::default().events_heartbeat(),
            Duration::from_secs(15)
        );
        assert_eq!(
            Config::default().edge.header_read_timeout(),
            Some(Duration::from_secs(10))
        );
        assert_eq!(
            Config::default().edge.idle_timeout(),
            Some(Duration::from_secs(75))
        );
        assert_eq!(Config::default().edge.max_connections(), Some(1024));
    }

    #[test]
    fn edge_flags_override_the_defaults_and_zero_turns_them_off() {
        let parsed = Config::try_parse_from([
            "bazaar-frontend",
            "--header-read-timeout-ms",
            "0",
            "--idle-timeout-ms",
            "2500",
            "--max-connections",
            "0",
            "--rate-limit-per-ip",
            "7",
            "--rate-limit-burst",
            "9",
        ])
        .unwrap();
        assert_eq!(parsed.edge.header_read_timeout(), None);
        assert_eq!(
            parsed.edge.idle_timeout(),
            Some(Duration::from_millis(2500))
        );
        assert_eq!(parsed.edge.max_connections(), None);
        assert_eq!(
            (parsed.edge.rate_limit_per_ip, parsed.edge.rate_limit_burst),
            (7, 9)
        );
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
