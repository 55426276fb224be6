//! Starting a whole deployment for an experiment, through the end-to-end harness (which runs the
//! binaries from `BAZAAR_BIN_DIR`: the evaluation sets it to `target/release`).

use bazaar_e2e::{System, SystemOptions};

/// nats-server, the catalog, three order replicas and one frontend with `cache_size`, ready.
pub async fn start_system(cache_size: usize) -> System {
    tracing::info!(cache_size, "starting a system");
    System::start(SystemOptions {
        cache_size,
        frontends: 1,
        ..SystemOptions::default()
    })
    .await
}
