//! `bazaar-setup`: the deploy-time step that makes the bus's JetStream objects, run as the
//! operator.
//!
//! On a bus with authentication only the operator may create streams and buckets, so
//! `scripts/run` and the compose stack's one-shot `nats-setup` service run this before the
//! services start: it finds or creates the `ORDERS` stream and the `order_leader` bucket (with
//! the replication the deployment wants) and exits. It is idempotent; run it again after an
//! upgrade that changes their settings.

use bazaar_nats::setup::{ensure_leader_bucket, ensure_orders_stream, Replication};
use bazaar_nats::NatsAuth;
use clap::Parser;
use std::process::ExitCode;
use std::time::{Duration, Instant};

/// Creates (or finds) the ORDERS stream and the order_leader bucket, then exits.
#[derive(Debug, Parser)]
#[command(name = "bazaar-setup", version, about)]
struct Args {
    /// NATS server URL(s), comma-separated for a cluster.
    #[arg(long, env = "NATS_URL", default_value = "nats://127.0.0.1:4222")]
    nats_url: String,
    /// The operator's credentials (`--nats-user operator --nats-password-file FILE`).
    #[command(flatten)]
    nats_auth: NatsAuth,
    /// Copies JetStream keeps of the stream and bucket when it creates them: 1 on one server,
    /// 3 on a cluster.
    #[arg(long, env = "NATS_JS_REPLICAS", default_value_t = 1)]
    js_replicas: usize,
    /// How long to keep trying while the broker (or its JetStream cluster) is still starting.
    #[arg(long, env = "SETUP_WAIT_SECS", default_value_t = 60)]
    wait_secs: u64,
}

/// How long one JetStream call may take before it is tried again.
const CALL_TIMEOUT: Duration = Duration::from_secs(2);
/// The pause between two attempts.
const RETRY_PAUSE: Duration = Duration::from_millis(500);

#[tokio::main]
async fn main() -> ExitCode {
    let args = Args::parse();
    bazaar_nats::runtime::init_tracing("bazaar_setup=info,bazaar_nats=info,warn");
    let connection = match bazaar_nats::connect(&args.nats_url, "setup", &args.nats_auth).await {
        Ok(connection) => connection,
        Err(e) => {
            tracing::error!(error = %e, "cannot connect to NATS");
            return ExitCode::FAILURE;
        }
    };
    let mut js = async_nats::jetstream::new(connection.client.clone());
    js.set_timeout(CALL_TIMEOUT);
    let replication = Replication(args.js_replicas);
    let deadline = Instant::now() + Duration::from_secs(args.wait_secs);
    loop {
        let made = async {
            let stream = ensure_orders_stream(&js, replication).await?;
            ensure_leader_bucket(&js, replication).await?;
            Ok::<_, bazaar_nats::setup::SetupError>(stream.cached_info().config.num_replicas)
        };
        match made.await {
            Ok(replicas) => {
                tracing::info!(
                    url = %args.nats_url,
                    stream_replicas = replicas,
                    "the ORDERS stream and the order_leader bucket are ready"
                );
                let _ = connection.client.flush().await;
                return ExitCode::SUCCESS;
            }
            Err(e) if Instant::now() >= deadline => {
                tracing::error!(error = %e, wait_secs = args.wait_secs, "setup failed");
                return ExitCode::FAILURE;
            }
            Err(e) => tracing::warn!(error = %e, "waiting for JetStream"),
        }
        tokio::time::sleep(RETRY_PAUSE).await;
    }
}
