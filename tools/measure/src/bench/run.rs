//! The benchmark run: starts the system (release binaries) and the floors, measures everything
//! in a fixed order, and returns the [`Results`].
//!
//! Order matters: the small-history figures come first, on a fresh system whose log is filled to
//! `--small-orders`; then trades; then a replica misses `--catch-up-orders` and catches up; last
//! the log is filled to `--scale-orders` for the large-history query and the memory after load.

use super::config::Config;
use super::floors;
use super::latency::Latency;
use super::results::{CatchUp, ClientRun, Fill, Floors, Measured, Results};
use super::scale::{catch_up, fill_to};
use super::setup::Setup;
use super::wrk::{Load, Requests, Wrk};
use crate::machine::{self, Machine};
use anyhow::Context as _;
use std::path::Path;
use std::time::{Duration, Instant};

/// How long the system is left alone before idle memory is read.
const SETTLE: Duration = Duration::from_secs(3);
/// Warm-up before each wrk measurement (discarded).
const WARMUP: Duration = Duration::from_secs(1);
/// The stock every lookup asks for.
const STOCK: &str = "GameStart";

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

/// Lookups and the small-history order query, each measured by wrk.
struct Lookups {
    cached_one: Measured,
    cached_many: Measured,
    uncached_one: Measured,
    uncached_many: Measured,
    query_small: Measured,
}

/// Trades by wrk at one and many connections, and the reference workload unless skipped.
struct Trades {
    one: Measured,
    many: Measured,
    client: Option<ClientRun>,
}

/// The large-history figures: the catch-up, the fill and the order query after it.
struct Scale {
    catch_up: CatchUp,
    fill: Fill,
    query: Measured,
}

impl Bench<'_> {
    /// The HTTP floor by wrk, then the NATS, redb and JetStream floors on the system's broker.
    async fn floors(&self, setup: &Setup) -> anyhow::Result<Floors> {
        let path = format!("/stocks/{STOCK}");
        let bare = &setup.bare_url;
        let http_one = self
            .measure("bare axum handler", bare, &path, 1, Requests::Get)
            .await?;
        let http_many = self
            .measure("bare axum handler", bare, &path, 32, Requests::Get)
            .await?;
        tracing::info!("measuring the NATS and redb floors");
        let nats = floors::nats_round_trip(&setup.nats_url, 500, 5000).await?;
        let redb_dir = tempfile::tempdir()?;
        let redb = {
            let dir = redb_dir.path().to_path_buf();
            tokio::task::spawn_blocking(move || floors::redb_commit(&dir, 20, 1000)).await??
        };
        let js_append = floors::jetstream_append(&setup.nats_url, 200, 3000).await?;
        let broker_sync_always = setup.system.nats.sync_always().await;
        log_latency("NATS request-reply floor", &nats);
        log_latency("redb durable commit floor", &redb);
        log_latency("JetStream append floor", &js_append);
        Ok(Floors {
            http_one,
            http_many,
            nats,
            redb,
            js_append,
            broker_sync_always,
        })
    }

    /// Cached and uncached lookups, then order queries on the small history.
    async fn lookups(&self, setup: &Setup) -> anyhow::Result<Lookups> {
        let path = format!("/stocks/{STOCK}");
        let (cached, uncached) = (&setup.cached_url, &setup.uncached_url);
        let get =
            |what, url, connections| self.measure(what, url, &path, connections, Requests::Get);
        let cached_one = get("cached lookup", cached, 1).await?;
        let cached_many = get("cached lookup", cached, 32).await?;
        let uncached_one = get("uncached lookup", uncached, 1).await?;
        let uncached_many = get("uncached lookup", uncached, 32).await?;
        let small = Requests::RandomOrder {
            count: self.config.small_orders,
        };
        let query_small = self.measure("order query", cached, "", 1, small).await?;
        Ok(Lookups {
            cached_one,
            cached_many,
            uncached_one,
            uncached_many,
            query_small,
        })
    }

    /// Trades at one connection and at `--trade-clients`, then the reference workload.
    async fn trades(&self, setup: &Setup) -> anyhow::Result<Trades> {
        let trades = Requests::Trades {
            stocks: setup
                .stocks
                .iter()
                .map(|s| s.as_str().to_string())
                .collect(),
        };
        let url = &setup.cached_url;
        let connections = self.config.trade_clients;
        let one = self
            .measure("trade", url, "/orders", 1, trades.clone())
            .await?;
        let many = self
            .measure("trade", url, "/orders", connections, trades)
            .await?;
        let client = if self.config.skip_client {
            None
        } else {
            Some(client_run(url, connections, self.config.duration_secs).await?)
        };
        Ok(Trades { one, many, client })
    }

    /// A follower's catch-up, then the fill to `--scale-orders` and the order query on it.
    async fn scale(&self, setup: &mut Setup) -> anyhow::Result<Scale> {
        // Trades are over; let the last confirmations and any roll-forward settle.
        tokio::time::sleep(Duration::from_secs(5)).await;
        let catch_up = catch_up(
            &mut setup.system,
            self.config.catch_up_orders,
            &setup.stocks,
        )
        .await?;
        let fill = fill_to(&mut setup.system, self.config.scale_orders, &setup.stocks).await?;
        let large = Requests::RandomOrder {
            count: self.config.scale_orders,
        };
        let query = self
            .measure("order query", &setup.cached_url, "", 1, large)
            .await?;
        Ok(Scale {
            catch_up,
            fill,
            query,
        })
    }
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
    let mut setup = Setup::start(work.path()).await?;
    tokio::time::sleep(SETTLE).await;
    let memory_idle = setup.memory();
    let floors = bench.floors(&setup).await?;
    let fill_small = fill_to(&mut setup.system, config.small_orders, &setup.stocks).await?;
    let lookups = bench.lookups(&setup).await?;
    let trades = bench.trades(&setup).await?;
    let (catch_up, fill_large, query_large) = if config.skip_scale {
        (None, None, None)
    } else {
        let scale = bench.scale(&mut setup).await?;
        (Some(scale.catch_up), Some(scale.fill), Some(scale.query))
    };
    tokio::time::sleep(SETTLE).await;
    let memory_after = setup.memory();
    setup.stop();
    Ok(Results {
        machine,
        command,
        duration_secs: config.duration_secs,
        floors,
        cached_one: lookups.cached_one,
        cached_many: lookups.cached_many,
        uncached_one: lookups.uncached_one,
        uncached_many: lookups.uncached_many,
        query_small: lookups.query_small,
        trade_one: trades.one,
        trade_many: trades.many,
        client: trades.client,
        fill_small,
        catch_up,
        fill_large,
        query_large,
        memory_idle,
        memory_after,
        elapsed_secs: started.elapsed().as_secs_f64(),
        loadavg_end: machine::loadavg(),
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
