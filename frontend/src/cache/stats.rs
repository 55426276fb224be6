//! What the cache reports about itself: the counters `/metrics` reads and the snapshot
//! `GET /cache` shows.

use super::StockCache;
use lru::LruCache;
use serde::Serialize;

/// What the cache counts as it works.
#[derive(Debug, Default, Clone, Copy)]
pub(super) struct Counters {
    pub(super) hits: u64,
    pub(super) misses: u64,
    pub(super) evictions: u64,
    pub(super) invalidations: u64,
}

/// The counters and the number of entries, without the names: what `/metrics` reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CacheCounters {
    /// Lookups answered from the cache.
    pub hits: u64,
    /// Lookups that went to the catalog.
    pub misses: u64,
    /// Entries pushed out to make room.
    pub evictions: u64,
    /// Invalidations applied.
    pub invalidations: u64,
    /// Stocks cached now.
    pub entries: usize,
}

/// A snapshot of the cache for `GET /cache`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct CacheStats {
    /// Configured capacity; 0 means off.
    pub capacity: usize,
    /// Lookups answered from the cache.
    pub hits: u64,
    /// Lookups that went to the catalog.
    pub misses: u64,
    /// Entries pushed out to make room.
    pub evictions: u64,
    /// Invalidations applied: changes the catalog announced while caching was on (each drops
    /// the stock's entry if it was cached).
    pub invalidations: u64,
    /// Cached stock names, most recently used first.
    pub entries: Vec<String>,
}

impl StockCache {
    /// The counters and how many stocks are cached, copying no names.
    pub fn counters(&self) -> CacheCounters {
        let inner = self.lock();
        CacheCounters {
            hits: inner.stats.hits,
            misses: inner.stats.misses,
            evictions: inner.stats.evictions,
            invalidations: inner.stats.invalidations,
            entries: inner.lru.as_ref().map_or(0, LruCache::len),
        }
    }

    /// A snapshot of the counters and the cached names, most recently used first.
    pub fn stats(&self) -> CacheStats {
        let inner = self.lock();
        CacheStats {
            capacity: self.capacity,
            hits: inner.stats.hits,
            misses: inner.stats.misses,
            evictions: inner.stats.evictions,
            invalidations: inner.stats.invalidations,
            entries: inner
                .lru
                .as_ref()
                .map(|lru| lru.iter().map(|(name, _)| name.to_string()).collect())
                .unwrap_or_default(),
        }
    }
}
