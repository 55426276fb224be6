//! Command-line flags of an order replica, each with an environment fallback.

use clap::Parser;
use std::net::SocketAddr;
use std::path::PathBuf;

/// One order replica. Run three (ids 1..3); one is elected leader.
#[derive(Debug, Clone, Parser)]
#[command(name = "bazaar-order", version, about)]
pub struct Config {
    /// NATS server URL(s), comma-separated for a cluster.
    #[arg(long, env = "NATS_URL", default_value = "nats://127.0.0.1:4222")]
    pub nats_url: String,
    /// NATS credentials (`--nats-user`, `--nats-password[-file]`); anonymous without them.
    #[command(flatten)]
    pub nats_auth: bazaar_nats::NatsAuth,
    /// This replica's id, from 1 to `--replicas`. Higher ids are preferred as leader.
    #[arg(long, env = "ORDER_ID", default_value_t = 1)]
    pub id: u32,
    /// How many order replicas the deployment runs (ids 1..=N).
    #[arg(long, env = "ORDER_REPLICAS", default_value_t = 3)]
    pub replicas: u32,
    /// Directory for this replica's redb file (`order-<id>.redb`).
    #[arg(long, env = "ORDER_DATA_DIR", default_value = "data/order")]
    pub data_dir: PathBuf,
    /// Copies JetStream keeps of the order stream and leader bucket: 1 on one server, 3 on a
    /// cluster. Only used when this replica is the first to create them.
    #[arg(long, env = "NATS_JS_REPLICAS", default_value_t = 1)]
    pub js_replicas: usize,
    /// How long to wait for the catalog to apply a trade before telling the caller to retry.
    #[arg(long, env = "ORDER_CATALOG_TIMEOUT_MS", default_value_t = 1000)]
    pub catalog_timeout_ms: u64,
    /// How long one JetStream call (a log append's ack, a stream or lease read, a lease write)
    /// may take before it fails and is retried. Short, so a request lost in a broker restart
    /// costs a second rather than the client library's 5-10 s default; the callers retry.
    #[arg(long, env = "ORDER_JS_TIMEOUT_MS", default_value_t = 1000)]
    pub js_timeout_ms: u64,
    /// Serve the operator's fault-injection subjects (`admin.order.{id}.>`: stepdown, pause,
    /// crash, delay). For drills and tests only; off in production.
    #[arg(long, env = "ORDER_FAULT_INJECTION")]
    pub fault_injection: bool,
    /// Serve Prometheus metrics on `http://ADDR/metrics` (off when unset).
    #[arg(long, env = "ORDER_METRICS_LISTEN", value_name = "ADDR")]
    pub metrics_listen: Option<SocketAddr>,
}

impl Config {
    /// The bound on each JetStream call.
    pub fn js_timeout(&self) -> std::time::Duration {
        std::time::Duration::from_millis(self.js_timeout_ms)
    }

    /// The replica's redb file.
    pub fn store_path(&self) -> PathBuf {
        self.data_dir.join(format!("order-{}.redb", self.id))
    }

    /// The file that records this replica's hold on leading (see `hold`), beside the store.
    pub fn hold_path(&self) -> PathBuf {
        self.data_dir.join(format!("order-{}.hold", self.id))
    }

    /// Checks what clap cannot.
    ///
    /// # Errors
    /// [`ConfigError`], naming the bad flag.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.id == 0 || self.id > self.replicas {
            return Err(ConfigError::IdOutOfRange {
                id: self.id,
                replicas: self.replicas,
            });
        }
        if self.js_timeout_ms == 0 {
            return Err(ConfigError::NoJsTimeout);
        }
        Ok(())
    }
}

/// A combination of flags the replica cannot run with; the text names the flag to fix.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    /// `--id` is not one of the deployment's replica ids.
    #[error("--id must be between 1 and --replicas ({replicas}), got {id}")]
    IdOutOfRange {
        /// The id given.
        id: u32,
        /// How many replicas the deployment runs.
        replicas: u32,
    },
    /// `--js-timeout-ms` is 0, which would fail every JetStream call at once.
    #[error("--js-timeout-ms must be at least 1")]
    NoJsTimeout,
}
