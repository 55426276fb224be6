//! The frontend's LRU cache of stock lookups, observed through `GET /cache` and by taking the
//! catalog away.

use bazaar_e2e::system::wait_until;
use bazaar_e2e::{System, SystemOptions};
use serde_json::Value;
use std::time::Duration;

async fn cache_state(system: &System) -> Value {
    let (status, body) = system.get("/cache").await;
    assert_eq!(status, 200, "{body}");
    body["data"].clone()
}

fn entries(state: &Value) -> Vec<String> {
    state["entries"]
        .as_array()
        .expect("entries")
        .iter()
        .map(|e| e.as_str().unwrap().to_string())
        .collect()
}

#[tokio::test]
async fn lookups_hit_miss_evict_in_lru_order_and_are_invalidated_by_trades() {
    let system = System::start(SystemOptions {
        cache_size: 2,
        retry_budget_ms: 1000,
        ..SystemOptions::default()
    })
    .await;
    assert_eq!(cache_state(&system).await["capacity"], 2);

    // Miss, then hit.
    system.get("/stocks/FishCo").await;
    system.get("/stocks/FishCo").await;
    let state = cache_state(&system).await;
    assert_eq!(
        (state["misses"].as_u64(), state["hits"].as_u64()),
        (Some(1), Some(1))
    );

    // At capacity the least recently used goes.
    system.get("/stocks/BoarCo").await;
    system.get("/stocks/MenhirCo").await;
    let state = cache_state(&system).await;
    assert_eq!(entries(&state), ["MenhirCo", "BoarCo"]);
    assert_eq!(state["evictions"], 1);

    // A hit refreshes recency.
    system.get("/stocks/BoarCo").await;
    assert_eq!(entries(&cache_state(&system).await), ["BoarCo", "MenhirCo"]);

    // A trade invalidates the entry; the next lookup sees the new quantity.
    let (status, body) = system.trade("BoarCo", 4, "buy").await;
    assert_eq!(status, 200, "{body}");
    wait_until(Duration::from_secs(5), "the invalidation", || async {
        !entries(&cache_state(&system).await).contains(&"BoarCo".to_string())
    })
    .await;
    let (_, body) = system.get("/stocks/BoarCo").await;
    assert_eq!(body["data"]["quantity"], 96);
}

#[tokio::test]
async fn cached_stocks_are_served_without_the_catalog_and_others_get_503() {
    let mut system = System::start(SystemOptions {
        cache_size: 3,
        retry_budget_ms: 1000,
        ..SystemOptions::default()
    })
    .await;
    let (_, cached) = system.get("/stocks/GameStart").await;
    system.catalog.kill();
    let (status, body) = system.get("/stocks/GameStart").await;
    assert_eq!((status, &body), (200, &cached), "served from the cache");
    let (status, body) = system.get("/stocks/FishCo").await;
    assert_eq!(status, 503, "{body}");
}

#[tokio::test]
async fn with_cache_size_zero_nothing_is_cached() {
    let mut system = System::start(SystemOptions {
        cache_size: 0,
        retry_budget_ms: 1000,
        ..SystemOptions::default()
    })
    .await;
    for _ in 0..3 {
        let (status, _) = system.get("/stocks/FishCo").await;
        assert_eq!(status, 200);
    }
    let state = cache_state(&system).await;
    assert_eq!(state["hits"], 0);
    assert!(entries(&state).is_empty());
    system.catalog.kill();
    let (status, _) = system.get("/stocks/FishCo").await;
    assert_eq!(status, 503, "every lookup goes to the catalog");
}
