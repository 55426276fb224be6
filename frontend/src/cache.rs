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

use bazaar_nats::messages::{Invalidation, Stock};
use bazaar_nats::StockName;
use lru::LruCache;
use serde::Serialize;
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

#[derive(Debug, Default, Clone, Copy)]
struct Counters {
    hits: u64,
    misses: u64,
    evictions: u64,
    invalidations: u64,
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

/// Proof of a miss: hand it back to [`StockCache::insert`] with what the catalog answered.
#[derive(Debug)]
#[must_use = "pass the miss to StockCache::insert with the fetched stock"]
pub struct Miss {
    epoch: u64,
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

#[cfg(test)]
mod tests {
    use super::*;

    fn stock(name: &str, quantity: u64, version: u64) -> Stock {
        Stock {
            name: StockName::parse(name).unwrap(),
            price: 10.0,
            quantity,
            version,
        }
    }

    fn name(n: &str) -> StockName {
        StockName::parse(n).unwrap()
    }

    fn invalidation(n: &str, version: u64) -> Invalidation {
        Invalidation {
            name: name(n),
            version,
            price: None,
            quantity: None,
        }
    }

    /// Misses, then inserts what the "catalog" returned.
    fn fill(cache: &StockCache, s: Stock) -> Arc<Stock> {
        let miss = cache.get(&s.name).unwrap_err();
        cache.insert(miss, s)
    }

    #[test]
    fn a_second_lookup_is_a_hit() {
        let cache = StockCache::new(2);
        fill(&cache, stock("A", 5, 1));
        let hit = cache.get(&name("A")).unwrap();
        assert_eq!(hit.quantity, 5);
        let stats = cache.stats();
        assert_eq!((stats.hits, stats.misses), (1, 1));
        assert_eq!(stats.entries, vec!["A"]);
    }

    #[test]
    fn the_least_recently_used_entry_is_evicted_at_capacity() {
        let cache = StockCache::new(2);
        fill(&cache, stock("A", 1, 1));
        fill(&cache, stock("B", 1, 1));
        cache.get(&name("A")).unwrap(); // A is now most recent
        fill(&cache, stock("C", 1, 1));
        let stats = cache.stats();
        assert_eq!(stats.evictions, 1);
        assert_eq!(stats.entries, vec!["C", "A"]);
        assert!(cache.get(&name("B")).is_err());
    }

    #[test]
    fn reinserting_a_cached_name_is_not_an_eviction() {
        let cache = StockCache::new(1);
        fill(&cache, stock("A", 1, 1));
        let miss = Miss { epoch: 0 };
        cache.insert(miss, stock("A", 2, 2));
        assert_eq!(cache.stats().evictions, 0);
    }

    #[test]
    fn an_invalidation_drops_the_entry_and_is_counted() {
        let cache = StockCache::new(2);
        fill(&cache, stock("A", 1, 1));
        cache.invalidate(&invalidation("A", 2));
        assert!(cache.get(&name("A")).is_err());
        let stats = cache.stats();
        assert_eq!(stats.invalidations, 1);
        assert!(stats.entries.is_empty());
        // An invalidation of something not cached is counted too, and drops nothing else.
        fill(&cache, stock("B", 1, 1));
        cache.invalidate(&invalidation("Z", 9));
        let stats = cache.stats();
        assert_eq!(stats.invalidations, 2);
        assert_eq!(stats.entries, vec!["B"]);
    }

    #[test]
    fn forget_drops_an_entry_without_counting_it() {
        let cache = StockCache::new(2);
        fill(&cache, stock("A", 1, 1));
        cache.forget(&name("A"));
        let stats = cache.stats();
        assert!(stats.entries.is_empty());
        assert_eq!((stats.invalidations, stats.evictions), (0, 0));
    }

    #[test]
    fn size_zero_caches_nothing() {
        let cache = StockCache::new(0);
        fill(&cache, stock("A", 1, 1));
        assert!(cache.get(&name("A")).is_err());
        let stats = cache.stats();
        assert_eq!((stats.capacity, stats.hits, stats.misses), (0, 0, 2));
        assert!(stats.entries.is_empty());
    }

    #[test]
    fn a_fetch_older_than_an_invalidation_is_served_but_not_cached() {
        let cache = StockCache::new(2);
        let miss = cache.get(&name("A")).unwrap_err();
        // The trade lands (version 2) while the lookup's answer (version 1) is in flight.
        cache.invalidate(&invalidation("A", 2));
        let served = cache.insert(miss, stock("A", 10, 1));
        assert_eq!(served.version, 1);
        assert!(
            cache.get(&name("A")).is_err(),
            "stale copy must not be cached"
        );
        // The fresh copy is cached.
        let miss = cache.get(&name("A")).unwrap_err();
        cache.insert(miss, stock("A", 9, 2));
        assert_eq!(cache.get(&name("A")).unwrap().quantity, 9);
    }

    #[test]
    fn reads_never_go_back_to_an_older_version() {
        let cache = StockCache::new(0);
        let first = fill(&cache, stock("A", 7, 5));
        assert_eq!(first.version, 5);
        // A slower, older answer arrives later: the newer copy is served again.
        let second = fill(&cache, stock("A", 10, 4));
        assert_eq!((second.version, second.quantity), (5, 7));
        let third = fill(&cache, stock("A", 6, 6));
        assert_eq!(third.version, 6);
    }

    #[test]
    fn the_list_refreshes_an_older_cached_entry_and_stays_monotonic() {
        let cache = StockCache::new(2);
        fill(&cache, stock("A", 7, 5));
        fill(&cache, stock("B", 1, 1));
        assert_eq!(cache.observe(stock("A", 6, 6)).version, 6);
        assert_eq!(cache.get(&name("A")).unwrap().version, 6);
        assert_eq!(cache.observe(stock("A", 9, 3)).version, 6);
        // observe does not reorder: B was last touched by insert, then A by get above.
        assert_eq!(cache.stats().entries, vec!["A", "B"]);
    }

    #[test]
    fn clear_empties_the_cache_and_refuses_fetches_in_flight() {
        let cache = StockCache::new(2);
        fill(&cache, stock("A", 1, 1));
        let miss = cache.get(&name("B")).unwrap_err();
        cache.clear();
        assert!(cache.stats().entries.is_empty());
        cache.insert(miss, stock("B", 1, 1));
        assert!(cache.stats().entries.is_empty());
        // Monotonic reads survive the clear.
        assert_eq!(fill(&cache, stock("A", 3, 0)).version, 1);
    }
}
