//! The cache's rules, one at a time, without NATS.

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
