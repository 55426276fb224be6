//! The HTTP edge against slow, idle and greedy clients: raw TCP connections that stall inside a
//! request head, kept-alive connections that go quiet, more connections than the cap, and one
//! address sending more than its rate.

use crate::helpers::{spawn_app_with, Options, TestApp};
use bazaar_frontend::config::EdgeLimits;
use bazaar_nats::subjects::STOCK_LOOKUP;
use futures::StreamExt;
use serde_json::Value;
use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// How many half-sent requests the slow-client tests hold.
const HELD: usize = 200;
/// A generous bound on anything a test waits for, so a broken server fails rather than hangs.
const BOUND: Duration = Duration::from_secs(20);
/// The start of a request head that never ends.
const HALF_HEAD: &[u8] = b"GET /stocks HTTP/1.1\r\nHost: bazaar\r\nAccept: appl";

async fn app_with(edge: EdgeLimits) -> TestApp {
    spawn_app_with(Options {
        edge,
        ..Options::default()
    })
    .await
}

/// A frontend with the given header-read and idle timeouts, in milliseconds.
async fn app_with_timeouts(header_read_timeout_ms: u64, idle_timeout_ms: u64) -> TestApp {
    app_with(EdgeLimits {
        header_read_timeout_ms,
        idle_timeout_ms,
        ..EdgeLimits::default()
    })
    .await
}

/// A kept-alive connection that has had one request answered.
async fn answered_connection(app: &TestApp) -> TcpStream {
    let mut stream = TcpStream::connect(app.socket).await.expect("connect");
    send_get(&mut stream, "/healthz").await;
    assert_eq!(read_response(&mut stream).await, 200);
    stream
}

/// Opens `count` connections that each send part of a request head and then stall.
async fn hold_half_sent(server: SocketAddr, count: usize) -> Vec<TcpStream> {
    let mut held = Vec::with_capacity(count);
    for _ in 0..count {
        let mut stream = TcpStream::connect(server).await.expect("connect");
        stream.write_all(HALF_HEAD).await.expect("send half a head");
        held.push(stream);
    }
    held
}

/// Whether the server has neither closed `stream` nor sent anything on it.
fn still_open_and_silent(stream: &TcpStream) -> bool {
    let mut byte = [0u8; 1];
    matches!(stream.try_read(&mut byte), Err(e) if e.kind() == std::io::ErrorKind::WouldBlock)
}

/// Waits, within [`BOUND`], until the server closes `stream` (end of stream or a reset).
async fn wait_for_close(stream: &mut TcpStream) {
    let mut buf = [0u8; 1024];
    loop {
        match tokio::time::timeout(BOUND, stream.read(&mut buf)).await {
            Err(_) => panic!("the server kept the connection open past {BOUND:?}"),
            Ok(Ok(0) | Err(_)) => return,
            Ok(Ok(_)) => {}
        }
    }
}

/// Sends a complete keep-alive `GET path`.
async fn send_get(stream: &mut TcpStream, path: &str) {
    let head = format!("GET {path} HTTP/1.1\r\nHost: bazaar\r\n\r\n");
    stream.write_all(head.as_bytes()).await.expect("send");
}

/// Reads one response (its head and its `Content-Length` body), within [`BOUND`]; its status.
async fn read_response(stream: &mut TcpStream) -> u16 {
    tokio::time::timeout(BOUND, async {
        let mut bytes = Vec::new();
        let mut buf = [0u8; 4096];
        loop {
            let n = stream.read(&mut buf).await.expect("read a response");
            assert!(n > 0, "the server closed the connection before answering");
            bytes.extend_from_slice(&buf[..n]);
            if let Some(status) = complete_response_status(&bytes) {
                return status;
            }
        }
    })
    .await
    .expect("an answer within the bound")
}

/// The status of the response in `bytes` once all of it (head and body) is there.
fn complete_response_status(bytes: &[u8]) -> Option<u16> {
    let text = std::str::from_utf8(bytes).ok()?;
    let (head, body) = text.split_once("\r\n\r\n")?;
    let length: usize = head
        .lines()
        .find_map(|line| {
            let (name, value) = line.split_once(':')?;
            name.eq_ignore_ascii_case("content-length")
                .then(|| value.trim().parse().ok())?
        })
        .unwrap_or(0);
    (body.len() >= length).then(|| head[9..12].parse().expect("a status code"))
}

#[tokio::test]
async fn a_client_is_served_while_hundreds_of_half_sent_requests_are_held() {
    let app = app_with(EdgeLimits::default()).await;
    let held = hold_half_sent(app.socket, HELD).await;

    // A new connection, so it cannot ride on one accepted before the stalled ones.
    let fresh = reqwest::Client::new();
    let response = fresh
        .get(app.url("/stocks/GameStart"))
        .send()
        .await
        .expect("GET");
    assert_eq!(response.status(), 200);

    let open = held.iter().filter(|s| still_open_and_silent(s)).count();
    assert_eq!(
        open, HELD,
        "the stalled connections are still held, not closed"
    );
    app.stop().await;
}

#[tokio::test]
async fn half_sent_requests_are_closed_after_the_header_read_timeout() {
    let header_read = Duration::from_millis(1000);
    let app = app_with_timeouts(1000, 60_000).await;
    let started = Instant::now();
    let mut held = hold_half_sent(app.socket, HELD).await;

    let closed_at = futures::future::join_all(held.iter_mut().map(|stream| async {
        wait_for_close(stream).await;
        Instant::now()
    }))
    .await;
    // The server's clock starts at accept, after `started`: none may close sooner.
    let first_close = closed_at.iter().min().expect("connections were held");
    assert!(
        *first_close >= started + header_read,
        "closed before the header-read timeout"
    );
    let (status, _) = app.get_json("/healthz").await;
    assert_eq!(status, 200);
    app.stop().await;
}

#[tokio::test]
async fn a_connection_stalled_inside_a_later_request_head_is_closed_too() {
    let app = app_with_timeouts(500, 60_000).await;
    let mut stream = answered_connection(&app).await;
    let stalled = Instant::now();
    stream.write_all(HALF_HEAD).await.unwrap();
    wait_for_close(&mut stream).await;
    assert!(stalled.elapsed() >= Duration::from_millis(500));
    app.stop().await;
}

#[tokio::test]
async fn an_idle_kept_alive_connection_is_closed_after_the_idle_timeout() {
    let idle = Duration::from_millis(1000);
    // A header-read timeout past the bound: only the idle timeout can close it in time.
    let app = app_with_timeouts(60_000, 1000).await;
    let sent = Instant::now();
    let mut stream = answered_connection(&app).await;
    wait_for_close(&mut stream).await;
    assert!(sent.elapsed() >= idle, "closed before the idle timeout");
    app.stop().await;
}

#[tokio::test]
async fn a_kept_alive_connection_may_wait_longer_than_the_header_timeout_for_its_next_request() {
    let app = app_with_timeouts(300, 60_000).await;
    let mut stream = answered_connection(&app).await;
    // Idle for several header-read timeouts, well within the idle timeout.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    send_get(&mut stream, "/stocks/GameStart").await;
    assert_eq!(read_response(&mut stream).await, 200);
    app.stop().await;
}

#[tokio::test]
async fn a_connection_over_the_cap_waits_and_is_served_once_another_closes() {
    let app = app_with(EdgeLimits {
        max_connections: 2,
        // The test client's pooled connection from start-up frees its place quickly.
        idle_timeout_ms: 500,
        header_read_timeout_ms: 60_000,
        ..EdgeLimits::default()
    })
    .await;
    // Accepted in order, these two take both places and keep them (a minute to finish a head).
    let mut holders = hold_half_sent(app.socket, 2).await;
    let mut waiting = TcpStream::connect(app.socket)
        .await
        .expect("the kernel accepts the connection into the backlog");
    send_get(&mut waiting, "/healthz").await;

    let mut byte = [0u8; 1];
    let early = tokio::time::timeout(Duration::from_millis(1500), waiting.read(&mut byte)).await;
    assert!(early.is_err(), "answered while the cap was full");

    drop(holders.remove(0));
    assert_eq!(read_response(&mut waiting).await, 200);
    app.stop().await;
}

/// A client whose connections come from `local`, another loopback address than the tests'.
fn client_from(local: &str) -> reqwest::Client {
    reqwest::Client::builder()
        .local_address(local.parse::<IpAddr>().unwrap())
        .build()
        .unwrap()
}

#[tokio::test]
async fn an_address_over_its_rate_gets_a_json_429_with_retry_after_and_others_are_served() {
    let burst = 5;
    let app = app_with(EdgeLimits {
        rate_limit_per_ip: 1,
        rate_limit_burst: burst,
        ..EdgeLimits::default()
    })
    .await;
    let greedy = client_from("127.0.0.2");
    let mut statuses = Vec::new();
    let mut refused = None;
    for _ in 0..burst + 20 {
        let response = greedy.get(app.url("/healthz")).send().await.unwrap();
        statuses.push(response.status().as_u16());
        if response.status() == 429 && refused.is_none() {
            refused = Some(response);
        }
    }
    assert!(statuses[..burst as usize].iter().all(|&s| s == 200));
    let refused = refused.expect("some request over the burst is refused");
    let retry_after: u64 = refused.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .expect("Retry-After in seconds");
    assert!(retry_after >= 1);
    assert_eq!(refused.headers()["content-type"], "application/json");
    let body: Value = refused.json().await.unwrap();
    assert_eq!(body["error"]["code"], 429);
    assert!(body["error"]["message"].as_str().unwrap().contains("retry"));

    let other = client_from("127.0.0.3");
    let response = other
        .get(app.url("/stocks/GameStart"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    app.stop().await;
}

#[tokio::test]
async fn shutdown_answers_the_request_in_flight() {
    let app = spawn_app_with(Options {
        with_catalog: false,
        ..Options::default()
    })
    .await;
    // Nobody answers lookups, so the request stays in flight until its retry budget is spent.
    let mut lookups = app.nats.subscribe(STOCK_LOOKUP).await.unwrap();
    app.nats.flush().await.unwrap();
    let (http, url) = (app.http.clone(), app.url("/stocks/GameStart"));
    let answer = tokio::spawn(async move { http.get(url).send().await });
    tokio::time::timeout(BOUND, lookups.next())
        .await
        .expect("the lookup reaches the bus");

    app.stop().await;
    let response = answer
        .await
        .unwrap()
        .expect("an answer, not a cut connection");
    assert_eq!(response.status(), 503);
    assert_eq!(response.headers()["retry-after"], "1");
}

#[tokio::test]
async fn shutdown_does_not_wait_for_half_sent_requests() {
    let app = spawn_app_with(Options {
        // A drain bound far past the 10 s `stop` allows, so only closing them at once passes.
        retry_budget_ms: 30_000,
        edge: EdgeLimits {
            header_read_timeout_ms: 60_000,
            ..EdgeLimits::default()
        },
        ..Options::default()
    })
    .await;
    let mut held = hold_half_sent(app.socket, 20).await;
    app.stop().await;
    for stream in &mut held {
        wait_for_close(stream).await;
    }
}
