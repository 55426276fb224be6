//! The benchmark run: starts the system (release binaries) and the floors, measures everything
//! in a fixed order, and returns the [`Results`].
//!
//! Order matters: the small-history figures come first, on a fresh system whose log is filled to
//! `--small-orders`; then trades; then a replica misses `--catch-up-orders` and catches up; last
//! the log is filled to `--scale-orders` for the large-history query and the memory after load.

use super::config::Config;
use super::floors;
use super::latency::Latency;
use super::order_log;
use super::results::{CatchUp, ClientRun, Fill, Floors, Measured, Memory, Results};
use super::wrk::{Load, Requests, Wrk};
use crate::machine::Machine;
use crate::processes;
use anyhow::Context as _;
use bazaar_e2e::{binary, ServiceProcess, System, SystemOptions};
use bazaar_nats::StockName;
use std::path::Path;
use std::time::{Duration, Instant};

/// How long the system is left alone before idle memory is read.
const SETTLE: Duration = Duration::from_secs(3);
/// Warm-up before each wrk measurement (discarded).
const WARMUP: Duration = Duration::from_secs(1);
/// The stock every lookup asks for.
const STOCK: &str = "GameStart";

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

/// The measuring context: wrk and the run's length.
struct Bench<'a> {
    wrk: Wrk,
    config: &'a Config,
}

impl Bench<'_> {
    /// A 1 s warm-up, then the measured run.
    async fn measure(
        &self,
        what: &str,
        base: &str,
        path: &str,
        connections: u32,
        requests: Requests,
    ) -> anyhow::Result<Measured> {
        let threads = connections.min(2);
        let mut load = Load {
            url: format!("{base}{path}"),
            threads,
            connections,
            duration: WARMUP,
            requests,
        };
        let request = match &load.requests {
            Requests::Get => format!("GET {path}"),
            Requests::RandomOrder { count } => format!("GET /orders/{{random 0..{count}}}"),
            Requests::Trades { .. } => "POST /orders (sell, buy 1 share)".into(),
        };
        tracing::info!(what, connections, "measuring");
        let wrk_load = load.clone();
        let _ = tokio::task::block_in_place(|| self.wrk.run(&wrk_load));
        load.duration = Duration::from_secs(self.config.duration_secs);
        let run = tokio::task::block_in_place(|| self.wrk.run(&load))
            .with_context(|| format!("measuring {what}"))?;
        tracing::info!(
            what,
            connections,
            p50_us = run.p50_us,
            rate = run.rate_per_s() as u64,
            failures = run.failures(),
            "measured"
        );
        Ok(Measured {
            what: what.into(),
            request,
            threads,
            connections,
            run,
        })
    }
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

/// Fills the log (while no trades run) to `target` orders and waits until every running replica
/// stores them all.
async fn fill_to(system: &mut System, target: u64, stocks: &[StockName]) -> anyhow::Result<Fill> {
    let js = async_nats::jetstream::new(system.client.clone());
    let tail = order_log::tail(&js).await?;
    let appended = target.saturating_sub(tail.next_number);
    tracing::info!(from = tail.next_number, target, "filling the order log");
    let started = Instant::now();
    let (_, publish) = order_log::append(&js, tail, appended, stocks).await?;
    let digests = system
        .wait_converged_or_report(target, Duration::from_secs(900))
        .await;
    anyhow::ensure!(
        digests.first().is_some_and(|d| d.count == target),
        "replicas did not store {target} orders: {digests:?}"
    );
    let materialised = started.elapsed();
    tracing::info!(
        appended,
        publish_secs = publish.as_secs_f64(),
        materialised_secs = materialised.as_secs_f64(),
        "order log filled"
    );
    Ok(Fill {
        stored: target,
        appended,
        publish_secs: publish.as_secs_f64(),
        materialised_secs: materialised.as_secs_f64(),
    })
}

/// Stops a follower, appends `missed` orders, restarts it and times its catch-up.
async fn catch_up(
    system: &mut System,
    missed: u64,
    stocks: &[StockName],
) -> anyhow::Result<CatchUp> {
    let leader = system.wait_for_leader(None, Duration::from_secs(10)).await;
    let replica = (1..=3).find(|id| *id != leader).unwrap_or(1);
    let js = async_nats::jetstream::new(system.client.clone());
    let before = order_log::tail(&js).await?.next_number;
    system.wait_converged(before, Duration::from_secs(60)).await;
    anyhow::ensure!(
        system.order(replica).terminate(),
        "replica {replica} did not stop cleanly"
    );
    let target = before + missed;
    fill_to(system, target, stocks).await?;
    let restarted = Instant::now();
    system.order(replica).restart();
    let deadline = restarted + Duration::from_secs(120);
    let secs = loop {
        if let Some(d) = system.digest(replica).await {
            if d.count >= target {
                break restarted.elapsed().as_secs_f64();
            }
        }
        anyhow::ensure!(
            Instant::now() < deadline,
            "replica {replica} did not catch up"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    };
    let digests = system
        .wait_converged_or_report(target, Duration::from_secs(30))
        .await;
    let identical = digests.len() == 3
        && digests
            .windows(2)
            .all(|w| w[0].hash == w[1].hash && w[0].count == w[1].count);
    tracing::info!(replica, missed, secs, identical, "replica caught up");
    Ok(CatchUp {
        replica,
        missed,
        target,
        secs,
        identical,
    })
}

async fn client_run(url: &str, clients: u32, secs: u64) -> anyhow::Result<ClientRun> {
    let workload = bazaar_client::Workload {
        url: url.into(),
        clients: clients as usize,
        p: 1.0,
        seed: 4,
        duration_secs: Some(secs as f64),
        progress: false,
        ..Default::default()
    };
    tracing::info!(
        clients,
        "running the reference workload (bazaar-client, p = 1)"
    );
    let report = bazaar_client::run(&workload).await?;
    Ok(ClientRun {
        clients: report.clients,
        load_secs: report.load_secs,
        trade: report.trade.clone(),
        lookup: report.lookup.clone(),
        order_query: report.order_query.clone(),
        acknowledged: report.orders_acknowledged,
        verified: report.orders_verified,
        mismatches: report.mismatches,
    })
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
    fill_to(&mut setup.system, orders, &stocks).await?;
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

/// Runs the whole benchmark.
///
/// # Errors
/// When a process cannot be started, wrk fails, or the system misbehaves (replicas that do not
/// converge).
pub async fn run(config: &Config, command: String) -> anyhow::Result<Results> {
    let started = Instant::now();
    let machine = Machine::describe();
    if !machine.background.is_empty() {
        tracing::warn!(
            processes = machine.background.len(),
            "a chaos run is using the machine: figures will be slower than on an idle machine"
        );
    }
    let work = tempfile::tempdir()?;
    let bench = Bench {
        wrk: Wrk::new(&config.wrk, &work.path().join("lua"))?,
        config,
    };

    let setup = Setup::start(work.path()).await?;
    let Setup {
        mut system,
        uncached,
        bare,
        nats_url,
        cached_url,
        uncached_url,
        bare_url,
        stocks,
    } = setup;
    let stock_names: Vec<String> = stocks.iter().map(|s| s.as_str().to_string()).collect();

    tokio::time::sleep(SETTLE).await;
    let memory_idle = memory(&system, &[&uncached]);

    // Floors.
    let path = format!("/stocks/{STOCK}");
    let http_one = bench
        .measure("bare axum handler", &bare_url, &path, 1, Requests::Get)
        .await?;
    let http_many = bench
        .measure("bare axum handler", &bare_url, &path, 32, Requests::Get)
        .await?;
    tracing::info!("measuring the NATS and redb floors");
    let nats = floors::nats_round_trip(&nats_url, 500, 5000).await?;
    let redb_dir = tempfile::tempdir()?;
    let redb = {
        let dir = redb_dir.path().to_path_buf();
        tokio::task::spawn_blocking(move || floors::redb_commit(&dir, 20, 1000)).await??
    };
    let js_append = floors::jetstream_append(&nats_url, 200, 3000).await?;
    let broker_sync_always = system.nats.sync_always().await;
    log_latency("NATS request-reply floor", &nats);
    log_latency("redb durable commit floor", &redb);
    log_latency("JetStream append floor", &js_append);

    // Small history, lookups, order queries.
    let fill_small = fill_to(&mut system, config.small_orders, &stocks).await?;
    let cached_one = bench
        .measure("cached lookup", &cached_url, &path, 1, Requests::Get)
        .await?;
    let cached_many = bench
        .measure("cached lookup", &cached_url, &path, 32, Requests::Get)
        .await?;
    let uncached_one = bench
        .measure("uncached lookup", &uncached_url, &path, 1, Requests::Get)
        .await?;
    let uncached_many = bench
        .measure("uncached lookup", &uncached_url, &path, 32, Requests::Get)
        .await?;
    let small = Requests::RandomOrder {
        count: config.small_orders,
    };
    let query_small = bench
        .measure("order query", &cached_url, "", 1, small)
        .await?;

    // Trades.
    let trades = Requests::Trades {
        stocks: stock_names.clone(),
    };
    let trade_one = bench
        .measure("trade", &cached_url, "/orders", 1, trades.clone())
        .await?;
    let trade_many = bench
        .measure(
            "trade",
            &cached_url,
            "/orders",
            config.trade_clients,
            trades,
        )
        .await?;
    let client = if config.skip_client {
        None
    } else {
        Some(client_run(&cached_url, config.trade_clients, config.duration_secs).await?)
    };

    // Scale.
    let (catch_up, fill_large, query_large) = if config.skip_scale {
        (None, None, None)
    } else {
        // Trades are over; let the last confirmations and any roll-forward settle.
        tokio::time::sleep(Duration::from_secs(5)).await;
        let catch_up = catch_up(&mut system, config.catch_up_orders, &stocks).await?;
        let fill = fill_to(&mut system, config.scale_orders, &stocks).await?;
        let large = Requests::RandomOrder {
            count: config.scale_orders,
        };
        let query = bench
            .measure("order query", &cached_url, "", 1, large)
            .await?;
        (Some(catch_up), Some(fill), Some(query))
    };
    tokio::time::sleep(SETTLE).await;
    let memory_after = memory(&system, &[&uncached]);
    drop(bare);
    drop(uncached);
    drop(system);

    Ok(Results {
        machine,
        command,
        duration_secs: config.duration_secs,
        floors: Floors {
            http_one,
            http_many,
            nats,
            redb,
            js_append,
            broker_sync_always,
        },
        cached_one,
        cached_many,
        uncached_one,
        uncached_many,
        query_small,
        trade_one,
        trade_many,
        client,
        fill_small,
        catch_up,
        fill_large,
        query_large,
        memory_idle,
        memory_after,
        elapsed_secs: started.elapsed().as_secs_f64(),
        loadavg_end: std::fs::read_to_string("/proc/loadavg")
            .unwrap_or_default()
            .trim()
            .to_string(),
    })
}

fn log_latency(what: &str, l: &Latency) {
    tracing::info!(
        what,
        p50_us = l.p50_us,
        p99_us = l.p99_us,
        rate = l.rate_per_s as u64,
        "floor"
    );
}

/// Writes the results as JSON to `path`.
///
/// # Errors
/// When the file cannot be written.
pub fn write_json(results: &Results, path: &Path) -> anyhow::Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    std::fs::write(path, serde_json::to_string_pretty(results)?)?;
    Ok(())
}
