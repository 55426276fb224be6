//! Reads the frontend's cache (`GET /cache`) once, or every few milliseconds in the background.

use anyhow::Context as _;
use serde::{Deserialize, Serialize};
use std::time::{Duration, Instant};
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// What `GET /cache` reports.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct CacheStats {
    /// Entries the cache may hold; 0 means off.
    pub capacity: usize,
    /// Lookups answered from the cache, since the frontend started.
    pub hits: u64,
    /// Lookups that went to the catalog.
    pub misses: u64,
    /// Entries pushed out to make room.
    pub evictions: u64,
    /// Invalidations applied.
    #[serde(default)]
    pub invalidations: u64,
    /// Cached stocks, most recently used first.
    pub entries: Vec<String>,
}

impl CacheStats {
    /// The counters that grew from `before` to `self`.
    pub fn since(&self, before: &CacheStats) -> CacheStats {
        CacheStats {
            capacity: self.capacity,
            hits: self.hits.saturating_sub(before.hits),
            misses: self.misses.saturating_sub(before.misses),
            evictions: self.evictions.saturating_sub(before.evictions),
            invalidations: self.invalidations.saturating_sub(before.invalidations),
            entries: self.entries.clone(),
        }
    }

    /// Hits over all lookups, or `None` before any lookup.
    pub fn hit_ratio(&self) -> Option<f64> {
        let total = self.hits + self.misses;
        (total > 0).then(|| self.hits as f64 / total as f64)
    }
}

#[derive(Deserialize)]
struct Envelope {
    data: CacheStats,
}

/// `GET {url}/cache`.
///
/// # Errors
/// When the frontend does not answer 200 with the cache's state.
pub async fn fetch(http: &reqwest::Client, url: &str) -> anyhow::Result<CacheStats> {
    let response = http
        .get(format!("{url}/cache"))
        .send()
        .await
        .context("GET /cache")?
        .error_for_status()
        .context("GET /cache")?;
    Ok(response
        .json::<Envelope>()
        .await
        .context("GET /cache body")?
        .data)
}

/// One reading of the cache.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CacheSample {
    /// Milliseconds since sampling started.
    pub at_ms: f64,
    /// What the cache held then.
    pub stats: CacheStats,
}

/// A background task reading `GET /cache` every `period` until [`Sampler::stop`].
#[derive(Debug)]
pub struct Sampler {
    stop: watch::Sender<bool>,
    task: JoinHandle<Vec<CacheSample>>,
}

impl Sampler {
    /// Starts sampling `url` now; readings are timed from `started`.
    pub fn start(url: String, period: Duration, started: Instant) -> Self {
        let (stop, mut stopped) = watch::channel(false);
        let task = tokio::spawn(async move {
            let http = reqwest::Client::new();
            let mut samples = Vec::new();
            let mut tick = tokio::time::interval(period);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tokio::select! {
                    _ = tick.tick() => {}
                    _ = stopped.changed() => break,
                }
                let at = started.elapsed();
                match fetch(&http, &url).await {
                    Ok(stats) => samples.push(CacheSample {
                        at_ms: at.as_secs_f64() * 1000.0,
                        stats,
                    }),
                    Err(e) => tracing::warn!(error = format!("{e:#}"), "cache sample failed"),
                }
            }
            samples
        });
        Self { stop, task }
    }

    /// Stops sampling and returns the readings in time order.
    ///
    /// # Errors
    /// When the sampling task panicked.
    pub async fn stop(self) -> anyhow::Result<Vec<CacheSample>> {
        let _ = self.stop.send(true);
        self.task.await.context("the cache sampler failed")
    }
}
