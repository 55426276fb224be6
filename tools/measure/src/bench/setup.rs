//! The processes a benchmark measures: the system (broker, catalog, three order replicas, the
//! cached frontend) plus an uncached frontend and the bare handler, started and stopped
//! together; and `bench hold`, which keeps them running for profiling by hand.

use super::results::Memory;
use super::scale;
use crate::processes;
use bazaar_e2e::SystemOptions;
use bazaar_e2e::{binary, ServiceProcess, System};
use bazaar_nats::StockName;
use std::path::Path;
use std::time::{Duration, Instant};

fn free_port() -> anyhow::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

async fn wait_accepting(port: u16, what: &str) -> anyhow::Result<()> {
    let deadline = Instant::now() + Duration::from_secs(30);
    while tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .is_err()
    {
        anyhow::ensure!(
            Instant::now() < deadline,
            "{what} does not accept connections"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Ok(())
}

fn memory(system: &System, extra: &[&ServiceProcess]) -> Vec<Memory> {
    let mut out = Vec::new();
    let mut add = |service: &str, pid: Option<u32>| {
        if let Some(rss_kib) = pid.and_then(processes::rss_kib) {
            out.push(Memory {
                service: service.into(),
                rss_kib,
            });
        }
    };
    add("catalog", system.catalog.pid());
    for p in &system.orders {
        add(p.name(), p.pid());
    }
    for p in system.frontends.iter().chain(extra.iter().copied()) {
        add(p.name(), p.pid());
    }
    add(
        "nats-server",
        processes::nats_server_pid(system.nats.store_dir()),
    );
    out
}

/// The system under test plus the uncached frontend and the bare handler, all running.
pub struct Setup {
    /// Broker, catalog, three order replicas, the cached frontend.
    pub system: System,
    /// A frontend with `--cache-size 0`.
    pub uncached: ServiceProcess,
    /// `bazaar-measure bench bare-http`.
    pub bare: ServiceProcess,
    /// The broker's URL.
    pub nats_url: String,
    /// The cached frontend.
    pub cached_url: String,
    /// The uncached frontend.
    pub uncached_url: String,
    /// The bare handler.
    pub bare_url: String,
    /// The catalog's stocks.
    pub stocks: Vec<StockName>,
}

impl std::fmt::Debug for Setup {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Setup")
            .field("cached_url", &self.cached_url)
            .field("uncached_url", &self.uncached_url)
            .field("bare_url", &self.bare_url)
            .finish_non_exhaustive()
    }
}

impl Setup {
    /// Starts everything (release binaries, via `BAZAAR_BIN_DIR`), logs under `work`, and waits
    /// until each answers.
    ///
    /// # Errors
    /// When a process does not come up.
    pub async fn start(work: &Path) -> anyhow::Result<Self> {
        tracing::info!("starting the system (release binaries)");
        let system = System::start(SystemOptions {
            cache_size: 5,
            frontends: 1,
            retry_budget_ms: 5000,
            with_orders: true,
            ..SystemOptions::default()
        })
        .await;
        let nats_url = system.nats.url();
        let uncached_port = free_port()?;
        let uncached = ServiceProcess::start(
            "frontend-uncached",
            binary("bazaar-frontend"),
            vec![
                "--nats-url".into(),
                nats_url.clone(),
                "--listen".into(),
                format!("127.0.0.1:{uncached_port}"),
                "--cache-size".into(),
                "0".into(),
            ],
            vec![],
            work.join("frontend-uncached.log"),
        );
        let bare_port = free_port()?;
        let bare = ServiceProcess::start(
            "bare-http",
            std::env::current_exe()?,
            vec![
                "bench".into(),
                "bare-http".into(),
                "--listen".into(),
                format!("127.0.0.1:{bare_port}"),
            ],
            vec![],
            work.join("bare-http.log"),
        );
        wait_accepting(uncached_port, "the uncached frontend").await?;
        wait_accepting(bare_port, "the bare handler").await?;
        let cached_url = system.url().to_string();
        let uncached_url = format!("http://127.0.0.1:{uncached_port}");
        let bare_url = format!("http://127.0.0.1:{bare_port}");
        let stocks: Vec<StockName> = system
            .catalog_stocks()
            .await
            .into_iter()
            .map(|s| s.name)
            .collect();
        Ok(Self {
            system,
            uncached,
            bare,
            nats_url,
            cached_url,
            uncached_url,
            bare_url,
            stocks,
        })
    }

    /// Every process's resident memory now.
    pub fn memory(&self) -> Vec<Memory> {
        memory(&self.system, &[&self.uncached])
    }

    /// Stops the bare handler, then the uncached frontend, then the system they lean on.
    pub fn stop(self) {
        let Self {
            system,
            uncached,
            bare,
            ..
        } = self;
        drop(bare);
        drop(uncached);
        drop(system);
    }
}

/// Starts the [`Setup`], fills the log to `orders`, prints the addresses and pids as JSON on
/// stdout, and stops everything after `secs` or on Ctrl-C.
///
/// # Errors
/// When the setup cannot start or the fill fails.
pub async fn hold(secs: u64, orders: u64) -> anyhow::Result<()> {
    let work = tempfile::tempdir()?;
    let mut setup = Setup::start(work.path()).await?;
    let stocks = setup.stocks.clone();
    scale::fill_to(&mut setup.system, orders, &stocks).await?;
    let pids: Vec<(String, Option<u32>)> = std::iter::once(&setup.system.catalog)
        .chain(setup.system.orders.iter())
        .chain(setup.system.frontends.iter())
        .chain([&setup.uncached, &setup.bare])
        .map(|p| (p.name().to_string(), p.pid()))
        .collect();
    let info = serde_json::json!({
        "nats": setup.nats_url,
        "cached": setup.cached_url,
        "uncached": setup.uncached_url,
        "bare": setup.bare_url,
        "leader": setup.system.leader().await,
        "nats_server_pid": processes::nats_server_pid(setup.system.nats.store_dir()),
        "pids": pids.into_iter().collect::<std::collections::BTreeMap<_, _>>(),
        "logs": work.path(),
    });
    println!("{info}");
    tokio::select! {
        () = tokio::time::sleep(Duration::from_secs(secs)) => {}
        _ = tokio::signal::ctrl_c() => {}
    }
    drop(setup);
    Ok(())
}
