//! `GET /stocks/events`: the full state on connect, one event per committed change, versions
//! that only grow, slow clients dropped without stalling the others, the state resent after a
//! broker restart, and streams that outlive the edge's idle timeout and end on shutdown.

use crate::helpers::{spawn_app, spawn_app_with, Options, TestApp};
use crate::sse::{EventReader, Item, READ_BOUND};
use bazaar_frontend::config::EdgeLimits;
use bazaar_nats::messages::{decode, encode, Invalidation, Reply, TradeApplied, TradeRequest};
use bazaar_nats::subjects::{STOCK_INVALIDATE, STOCK_TRADE};
use bazaar_nats::{IdempotencyKey, Quantity, Side, StockName};
use serde_json::Value;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Applies a trade in the catalog as the order leader would.
async fn trade_in_catalog(
    app: &TestApp,
    key: &str,
    stock: &str,
    side: Side,
    quantity: u64,
) -> TradeApplied {
    let request = TradeRequest {
        key: IdempotencyKey::parse(key).unwrap(),
        name: StockName::parse(stock).unwrap(),
        side,
        quantity: Quantity::parse(quantity).unwrap(),
        minted: false,
    };
    let reply = app
        .nats
        .request(STOCK_TRADE, encode(&request))
        .await
        .expect("the catalog answers");
    match decode::<Reply<TradeApplied>>(&reply.payload).unwrap() {
        Reply::Ok { data } => data,
        other => panic!("trade refused: {other:?}"),
    }
}

/// Publishes a change of GameStart as the catalog would, at `version`, with `quantity`.
async fn announce(app: &TestApp, version: u64, quantity: u64) {
    let invalidation = Invalidation {
        name: StockName::parse("GameStart").unwrap(),
        version,
        price: Some(15.99),
        quantity: Some(quantity),
    };
    app.nats
        .publish(STOCK_INVALIDATE, encode(&invalidation))
        .await
        .unwrap();
}

fn quantity_of(state: &std::collections::BTreeMap<String, Value>, stock: &str) -> u64 {
    state[stock]["quantity"].as_u64().unwrap()
}

#[tokio::test]
async fn a_new_stream_starts_with_every_stock_as_the_catalog_holds_it() {
    let app = spawn_app().await;
    let mut stream = EventReader::open(&app).await;
    let state = stream.full_state().await;
    let (_, listed) = app.get_json("/stocks").await;
    let listed = listed["data"].as_array().unwrap();
    assert_eq!(state.len(), listed.len());
    for stock in listed {
        let event = &state[stock["name"].as_str().unwrap()];
        assert_eq!(event["price"], stock["price"]);
        assert_eq!(event["quantity"], stock["quantity"]);
        assert!(event["version"].is_u64(), "{event}");
    }
    app.stop().await;
}

#[tokio::test]
async fn a_trade_in_the_catalog_reaches_every_stream_with_the_new_quantity() {
    let app = spawn_app().await;
    let mut first = EventReader::open(&app).await;
    let mut second = EventReader::open(&app).await;
    let before = first.full_state().await;
    second.full_state().await;

    let applied = trade_in_catalog(&app, "events-1", "FishCo", Side::Buy, 3).await;
    assert_eq!(applied.quantity, quantity_of(&before, "FishCo") - 3);
    for stream in [&mut first, &mut second] {
        let (name, event) = stream.next_event().await.expect("an event");
        assert_eq!(name, "stock");
        assert_eq!(event["name"], "FishCo");
        assert_eq!(event["quantity"], applied.quantity);
        assert_eq!(event["version"], applied.version);
        assert_eq!(event["price"], before["FishCo"]["price"]);
    }
    app.stop().await;
}

#[tokio::test]
async fn a_stream_never_sends_a_stock_version_that_is_not_above_the_last_one() {
    let app = spawn_app().await;
    let mut stream = EventReader::open(&app).await;
    stream.full_state().await;
    // Out of order and repeated, as a redelivery or a second catalog instance could produce.
    for (version, quantity) in [(50, 1), (40, 2), (50, 3), (60, 4), (55, 5), (70, 6)] {
        announce(&app, version, quantity).await;
    }
    let traded = trade_in_catalog(&app, "events-2", "GameStart", Side::Sell, 1).await;
    let mut seen = Vec::new();
    while seen.last() != Some(&70) {
        let event = stream.until_stock("GameStart", |_| true).await;
        seen.push(event["version"].as_u64().unwrap());
    }
    assert_eq!(seen, vec![50, 60, 70]);
    // The real trade's version (low: the catalog never saw the fake ones) is dropped too.
    assert!(traded.version < 50);
    app.stop().await;
}

#[tokio::test]
async fn a_client_that_stops_reading_is_dropped_and_the_others_keep_up() {
    let app = spawn_app_with(Options {
        edge: EdgeLimits {
            idle_timeout_ms: 1000,
            ..EdgeLimits::default()
        },
        ..Options::default()
    })
    .await;
    // A client with a tiny receive window that reads nothing after its request.
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.set_recv_buffer_size(2048).unwrap();
    let mut slow = socket.connect(app.socket).await.unwrap();
    slow.write_all(b"GET /stocks/events HTTP/1.1\r\nHost: bazaar\r\n\r\n")
        .await
        .unwrap();
    let mut reader = EventReader::open(&app).await;
    reader.full_state().await;

    // About 6 MB of events, more than the slow client's socket and the server's buffers hold;
    // the reader must see each batch to its end while the slow client holds back.
    let mut version = 1_000;
    for _ in 0..80 {
        for _ in 0..1_000 {
            version += 1;
            announce(&app, version, version).await;
        }
        let last = version;
        reader
            .until_stock("GameStart", |event| event["version"] == last)
            .await;
    }

    // Still without reading, let the idle timeout pass for its stalled write.
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let mut received = Vec::new();
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        match tokio::time::timeout(READ_BOUND, slow.read(&mut buf)).await {
            Err(_) => panic!(
                "the stalled client was not dropped ({} bytes read)",
                received.len()
            ),
            Ok(Ok(0) | Err(_)) => break,
            Ok(Ok(n)) => received.extend_from_slice(&buf[..n]),
        }
    }
    let received = String::from_utf8_lossy(&received);
    assert!(
        received.starts_with("HTTP/1.1 200 OK"),
        "the slow client got the start of its stream"
    );
    assert!(
        !received.contains(&format!(r#""version":{version}}}"#)),
        "the slow client was dropped before the end of the feed ({} bytes)",
        received.len()
    );
    app.stop().await;
}

#[tokio::test]
async fn after_a_broker_restart_every_stream_resends_the_current_state() {
    let mut app = spawn_app().await;
    let mut stream = EventReader::open(&app).await;
    stream.full_state().await;
    let traded = trade_in_catalog(&app, "events-3", "BoarCo", Side::Buy, 2).await;
    stream
        .until_stock("BoarCo", |event| event["version"] == traded.version)
        .await;

    app.server.restart();
    let resent = stream.full_state().await;
    assert_eq!(resent["BoarCo"]["quantity"], traded.quantity);
    assert_eq!(resent["BoarCo"]["version"], traded.version);
    assert!(resent.len() >= 10, "{resent:?}");

    // The subscription is live again: a later change arrives too.
    let mut after = None;
    for attempt in 0..50 {
        let key = format!("events-4-{attempt}");
        let request = async { trade_in_catalog(&app, &key, "BoarCo", Side::Sell, 1).await };
        if let Ok(applied) = tokio::time::timeout(Duration::from_secs(2), request).await {
            after = Some(applied);
            break;
        }
    }
    let after = after.expect("the catalog trades again after the restart");
    stream
        .until_stock("BoarCo", |event| event["version"] == after.version)
        .await;
    app.stop().await;
}

#[tokio::test]
async fn a_client_that_reconnects_gets_the_current_state_whatever_last_event_id_it_sends() {
    let app = spawn_app().await;
    let mut stream = EventReader::open(&app).await;
    stream.full_state().await;
    drop(stream);
    let traded = trade_in_catalog(&app, "events-5", "GaulWine", Side::Buy, 4).await;

    let mut headers = reqwest::header::HeaderMap::new();
    headers.insert("last-event-id", "GaulWine-1".parse().unwrap());
    let mut again = EventReader::open_with(&app, headers).await;
    let state = again.full_state().await;
    assert_eq!(state["GaulWine"]["quantity"], traded.quantity);
    assert_eq!(state["GaulWine"]["version"], traded.version);
    app.stop().await;
}

#[tokio::test]
async fn a_stream_outlives_the_idle_timeout_of_its_connection() {
    let app = spawn_app_with(Options {
        events_heartbeat_ms: 60_000,
        edge: EdgeLimits {
            idle_timeout_ms: 500,
            header_read_timeout_ms: 500,
            ..EdgeLimits::default()
        },
        ..Options::default()
    })
    .await;
    let mut stream = EventReader::open(&app).await;
    stream.full_state().await;
    // Nothing is sent for several idle timeouts (no event, no heartbeat).
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let traded = trade_in_catalog(&app, "events-6", "PotionCo", Side::Buy, 1).await;
    let event = stream
        .until_stock("PotionCo", |event| event["version"] == traded.version)
        .await;
    assert_eq!(event["quantity"], traded.quantity);
    app.stop().await;
}

#[tokio::test]
async fn a_quiet_stream_sends_heartbeat_comments() {
    let app = spawn_app_with(Options {
        events_heartbeat_ms: 200,
        ..Options::default()
    })
    .await;
    let mut stream = EventReader::open(&app).await;
    stream.full_state().await;
    assert_eq!(stream.next().await, Some(Item::Comment("heartbeat".into())));
    assert_eq!(stream.next().await, Some(Item::Comment("heartbeat".into())));
    app.stop().await;
}

#[tokio::test]
async fn shutdown_ends_open_streams_instead_of_waiting_for_them() {
    let app = spawn_app_with(Options {
        // A drain bound far past the 10 s `stop` allows, so only ending the streams passes.
        retry_budget_ms: 30_000,
        ..Options::default()
    })
    .await;
    let mut stream = EventReader::open(&app).await;
    stream.full_state().await;
    app.stop().await;
    assert_eq!(
        stream.next().await,
        None,
        "the stream ended with the server"
    );
}

#[tokio::test]
async fn without_a_catalog_the_stream_is_refused_with_a_json_503() {
    let app = spawn_app_with(Options {
        with_catalog: false,
        retry_budget_ms: 300,
        ..Options::default()
    })
    .await;
    let response = app
        .http
        .get(app.url("/stocks/events"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 503);
    assert_eq!(response.headers()["retry-after"], "1");
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"]["code"], 503);
    app.stop().await;
}
