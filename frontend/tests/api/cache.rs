//! The stock cache as seen through `GET /cache`.

use crate::helpers::{spawn_app, spawn_app_with, wait_until, Options, SETTLE};
use bazaar_nats::messages::{encode, Invalidation};
use bazaar_nats::subjects::STOCK_INVALIDATE;
use bazaar_nats::StockName;
use serde_json::json;

#[tokio::test]
async fn the_second_lookup_of_a_stock_is_a_cache_hit() {
    let app = spawn_app().await;
    assert_eq!(app.get_json("/stocks/GameStart").await.0, 200);
    let cache = app.cache().await;
    assert_eq!(
        (cache["hits"].clone(), cache["misses"].clone()),
        (json!(0), json!(1))
    );
    let (status, body) = app.get_json("/stocks/GameStart").await;
    assert_eq!(status, 200);
    assert_eq!(body["data"]["quantity"], 100);
    let cache = app.cache().await;
    assert_eq!(cache["hits"], 1);
    assert_eq!(cache["misses"], 1);
    assert_eq!(cache["entries"], json!(["GameStart"]));
    assert_eq!(cache["capacity"], 5);
}

#[tokio::test]
async fn the_least_recently_used_stock_is_evicted_at_capacity() {
    let app = spawn_app_with(Options {
        cache_size: 2,
        ..Default::default()
    })
    .await;
    for name in ["GameStart", "FishCo", "GameStart", "BoarCo"] {
        assert_eq!(app.get_json(&format!("/stocks/{name}")).await.0, 200);
    }
    let cache = app.cache().await;
    assert_eq!(cache["evictions"], 1);
    assert_eq!(cache["entries"], json!(["BoarCo", "GameStart"]));
    assert_eq!(
        (cache["hits"].clone(), cache["misses"].clone()),
        (json!(1), json!(3))
    );
}

#[tokio::test]
async fn a_cache_size_of_zero_caches_nothing() {
    let app = spawn_app_with(Options {
        cache_size: 0,
        ..Default::default()
    })
    .await;
    for _ in 0..3 {
        assert_eq!(app.get_json("/stocks/GameStart").await.0, 200);
    }
    let cache = app.cache().await;
    assert_eq!(cache["capacity"], 0);
    assert_eq!(cache["hits"], 0);
    assert_eq!(cache["misses"], 3);
    assert_eq!(cache["entries"], json!([]));
}

#[tokio::test]
async fn an_invalidation_published_on_nats_drops_the_cached_entry() {
    let app = spawn_app().await;
    app.get_json("/stocks/GameStart").await;
    app.get_json("/stocks/FishCo").await;
    assert_eq!(app.cache().await["entries"], json!(["FishCo", "GameStart"]));
    let invalidation = Invalidation {
        name: StockName::parse("GameStart").unwrap(),
        version: 1_000,
        price: None,
        quantity: None,
    };
    app.nats
        .publish(STOCK_INVALIDATE, encode(&invalidation))
        .await
        .unwrap();
    app.nats.flush().await.unwrap();
    wait_until(SETTLE, "GameStart leaves the cache", || async {
        app.cache().await["entries"] == json!(["FishCo"])
    })
    .await;
    assert_eq!(app.cache().await["invalidations"], 1);
    // The catalog's copy (an older version than the invalidation) is still served, but is not
    // cached again until a copy at least that new arrives.
    let (status, body) = app.get_json("/stocks/GameStart").await;
    assert_eq!(status, 200);
    assert_eq!(body["data"]["name"], "GameStart");
    assert_eq!(app.cache().await["entries"], json!(["FishCo"]));
}

#[tokio::test]
async fn the_cache_is_emptied_after_nats_comes_back() {
    let mut app = spawn_app().await;
    app.get_json("/stocks/GameStart").await;
    assert_eq!(app.cache().await["entries"], json!(["GameStart"]));
    app.server.restart();
    wait_until(SETTLE, "the cache is empty", || async {
        app.cache().await["entries"] == json!([])
    })
    .await;
    // Served again (from the catalog, which reconnects too) once the bus is back.
    wait_until(SETTLE, "the stock is served again", || async {
        app.get_json("/stocks/GameStart").await.0 == 200
    })
    .await;
}
