//! The stock cache: an LRU of stock name -> [`Stock`], kept coherent by the catalog's
//! invalidations, plus the bookkeeping that keeps reads monotonic.
//!
//! Three rules hold it together:
//! - An invalidation drops the entry and raises the stock's `invalidated_version`; a fetched stock
//!   older than that is served but never cached, so a lookup that raced a trade cannot put the
//!   pre-trade quantity back after the trade's invalidation.
//! - Reads are monotonic: for each stock the newest version ever served is remembered (one entry
//!   per real stock, since only found stocks enter), and a fetch that comes back older is answered
//!   with the newer copy instead.
//! - After a NATS reconnect invalidations may have been missed, so [`StockCache::clear`] empties
//!   the LRU and bumps an epoch; a fetch that started before the clear is not cached. The
//!   newest-served map survives, since it is about what clients have seen, not about freshness.
//!
//! Capacity 0 turns caching off: nothing is stored, every lookup is a miss, and only the
//! monotonic-read map is kept.
//!
//! NOTE: a `std::sync::Mutex`, because no `.await` happens while it is held and every critical
//! section is a handful of map operations.

mod stats;
#[cfg(test)]
mod tests;

pub use stats::{CacheCounters, CacheStats};

use bazaar_nats::messages::{Invalidation, Stock};
use bazaar_nats::StockName;
use lru::LruCache;
use stats::Counters;
use std::collections::HashMap;
use std::num::NonZeroUsize;
use std::sync::{Arc, Mutex, MutexGuard};

/// How many distinct names the invalidation map tracks at most. The catalog only announces real
/// stocks; this bound only protects memory against a flood of made-up names on the subject.
const MAX_TRACKED_INVALIDATIONS: usize = 100_000;

/// The stock cache shared by every request.
#[derive(Debug)]
pub struct StockCache {
    capacity: usize,
    inner: Mutex<Inner>,
}

#[derive(Debug)]
struct Inner {
    /// `None` when the cache is off.
    lru: Option<LruCache<StockName, Arc<Stock>>>,
    /// Highest version seen in an invalidation, per stock.
    invalidated: HashMap<StockName, u64>,
    /// Newest copy served, per stock (monotonic reads).
    served: HashMap<StockName, Arc<Stock>>,
    /// Bumped by every [`StockCache::clear`].
    epoch: u64,
    stats: Counters,
}

/// Proof of a miss: hand it back to [`StockCache::insert`] with what the catalog answered.
#[derive(Debug)]
#[must_use = "pass the miss to StockCache::insert with the fetched stock"]
pub struct Miss {
    epoch: u64,
}

impl StockCache {
    /// A cache of `capacity` stocks; 0 turns caching off.
    pub fn new(capacity: usize) -> Self {
        Self {
            capacity,
            inner: Mutex::new(Inner {
                lru: NonZeroUsize::new(capacity).map(LruCache::new),
                invalidated: HashMap::new(),
                served: HashMap::new(),
                epoch: 0,
                stats: Counters::default(),
            }),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // A panic while holding the lock cannot leave the maps half-updated in a way that
        // matters (each is updated by single calls), so a poisoned lock is still usable.
        self.inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Looks `name` up, counting a hit (and marking it most recently used) or a miss.
    ///
    /// # Errors
    /// A [`Miss`] when the stock is not cached: fetch it and call [`Self::insert`].
    pub fn get(&self, name: &StockName) -> Result<Arc<Stock>, Miss> {
        let mut inner = self.lock();
        let inner = &mut *inner;
        if let Some(stock) = inner.lru.as_mut().and_then(|lru| lru.get(name)) {
            let stock = Arc::clone(stock);
            inner.stats.hits += 1;
            return Ok(stock);
        }
        inner.stats.misses += 1;
        Err(Miss { epoch: inner.epoch })
    }

    /// Takes a stock fetched after `miss` and returns the copy to serve: the fetched one, or the
    /// newer one already served. Caches it unless an invalidation newer than it arrived, or the
    /// cache was cleared, while it was being fetched.
    pub fn insert(&self, miss: Miss, fetched: Stock) -> Arc<Stock> {
        let mut inner = self.lock();
        let best = inner.settle(fetched);
        let floor = inner.invalidated.get(&best.name).copied().unwrap_or(0);
        if miss.epoch == inner.epoch && best.version >= floor {
            let Inner { lru, stats, .. } = &mut *inner;
            if let Some(lru) = lru.as_mut() {
                if let Some((old, _)) = lru.push(best.name.clone(), Arc::clone(&best)) {
                    if old != best.name {
                        stats.evictions += 1;
                    }
                }
            }
        }
        best
    }

    /// Takes a stock seen outside a single lookup (the full list) and returns the copy to serve,
    /// refreshing a cached entry that is older without changing the LRU order.
    pub fn observe(&self, fetched: Stock) -> Arc<Stock> {
        let mut inner = self.lock();
        let best = inner.settle(fetched);
        let floor = inner.invalidated.get(&best.name).copied().unwrap_or(0);
        if best.version >= floor {
            if let Some(entry) = inner.lru.as_mut().and_then(|lru| lru.peek_mut(&best.name)) {
                if entry.version < best.version {
                    *entry = Arc::clone(&best);
                }
            }
        }
        best
    }

    /// Applies a catalog invalidation: the entry goes, and older copies may no longer be cached.
    pub fn invalidate(&self, invalidation: &Invalidation) {
        let mut inner = self.lock();
        let inner = &mut *inner;
        let tracked = inner.invalidated.len();
        match inner.invalidated.get_mut(&invalidation.name) {
            Some(v) => *v = (*v).max(invalidation.version),
            None if tracked < MAX_TRACKED_INVALIDATIONS => {
                inner
                    .invalidated
                    .insert(invalidation.name.clone(), invalidation.version);
            }
            None => {}
        }
        if let Some(lru) = inner.lru.as_mut() {
            lru.pop(&invalidation.name);
            inner.stats.invalidations += 1;
        }
    }

    /// Drops `name` without an invalidation, e.g. right after this frontend traded it, so the
    /// client that traded reads its own write even if the catalog's invalidation is still on its
    /// way. Not counted.
    pub fn forget(&self, name: &StockName) {
        if let Some(lru) = self.lock().lru.as_mut() {
            lru.pop(name);
        }
    }

    /// Empties the cache (after a reconnect, when invalidations may have been missed). Fetches in
    /// flight will not be cached. Counters and the monotonic-read map are kept.
    pub fn clear(&self) {
        let mut inner = self.lock();
        inner.epoch += 1;
        if let Some(lru) = inner.lru.as_mut() {
            lru.clear();
        }
    }

    /// The configured capacity; 0 means off.
    pub fn capacity(&self) -> usize {
        self.capacity
    }
}

impl Inner {
    /// Records `fetched` as served unless a newer copy was already served, and returns whichever
    /// is newer.
    fn settle(&mut self, fetched: Stock) -> Arc<Stock> {
        match self.served.get_mut(&fetched.name) {
            Some(served) if served.version > fetched.version => Arc::clone(served),
            Some(served) => {
                let fresh = Arc::new(fetched);
                *served = Arc::clone(&fresh);
                fresh
            }
            None => {
                let fresh = Arc::new(fetched);
                self.served.insert(fresh.name.clone(), Arc::clone(&fresh));
                fresh
            }
        }
    }
}
