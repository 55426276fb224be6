//! The deadlines of one connection, on tokio's paused clock.

use super::*;

const HEADER: Duration = Duration::from_secs(10);
const IDLE: Duration = Duration::from_secs(60);

fn clock() -> Arc<ConnectionClock> {
    ConnectionClock::start(Timeouts {
        header_read: Some(HEADER),
        idle: Some(IDLE),
    })
}

#[tokio::test(start_paused = true)]
async fn a_new_connection_has_the_header_timeout_from_accept() {
    let accepted = Instant::now();
    let clock = clock();
    tokio::time::advance(Duration::from_secs(3)).await;
    clock.bytes_arrived();
    assert_eq!(clock.deadline(), Some(accepted + HEADER));
}

#[tokio::test(start_paused = true)]
async fn no_deadline_while_a_request_is_in_flight() {
    let clock = clock();
    assert!(clock.never_served());
    let request = clock.request_started();
    assert!(!clock.never_served());
    assert_eq!(clock.deadline(), None);
    clock.bytes_arrived();
    assert_eq!(clock.deadline(), None);
    drop(request);
    assert!(clock.deadline().is_some());
}

#[tokio::test(start_paused = true)]
async fn between_requests_the_idle_timeout_runs_until_the_first_byte() {
    let clock = clock();
    drop(clock.request_started());
    let answered = Instant::now();
    assert_eq!(clock.deadline(), Some(answered + IDLE));

    tokio::time::advance(Duration::from_secs(30)).await;
    let first_byte = Instant::now();
    clock.bytes_arrived();
    assert_eq!(clock.deadline(), Some(first_byte + HEADER));
    // Later bytes of the same head do not extend it.
    tokio::time::advance(Duration::from_secs(5)).await;
    clock.bytes_arrived();
    assert_eq!(clock.deadline(), Some(first_byte + HEADER));
}

#[tokio::test(start_paused = true)]
async fn a_request_in_flight_whose_writes_stall_gets_the_idle_timeout() {
    let clock = clock();
    let _streaming = clock.request_started();
    assert_eq!(clock.deadline(), None);
    tokio::time::advance(Duration::from_secs(5)).await;
    let stalled = Instant::now();
    clock.write_stalled(true);
    tokio::time::advance(Duration::from_secs(5)).await;
    clock.write_stalled(true);
    assert_eq!(clock.deadline(), Some(stalled + IDLE));
    clock.write_stalled(false);
    assert_eq!(clock.deadline(), None);
}

#[tokio::test(start_paused = true)]
async fn a_response_body_keeps_its_request_in_flight_until_dropped() {
    let clock = clock();
    let body = InFlightBody::new(axum::body::Body::from("streaming"), clock.request_started());
    assert_eq!(clock.deadline(), None);
    drop(body);
    assert_eq!(clock.deadline(), Some(Instant::now() + IDLE));
}

#[tokio::test(start_paused = true)]
async fn timeouts_that_are_off_give_no_deadline() {
    let clock = ConnectionClock::start(Timeouts {
        header_read: None,
        idle: None,
    });
    assert_eq!(clock.deadline(), None);
    drop(clock.request_started());
    assert_eq!(clock.deadline(), None);
}

#[tokio::test(start_paused = true)]
async fn bytes_read_through_the_socket_start_the_head_clock() {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let clock = clock();
    drop(clock.request_started());
    let (mut client, server) = tokio::io::duplex(64);
    let mut io = CountingIo::new(server, Arc::clone(&clock));
    tokio::time::advance(Duration::from_secs(2)).await;
    client.write_all(b"G").await.unwrap();
    let mut byte = [0u8; 1];
    assert_eq!(io.read(&mut byte).await.unwrap(), 1);
    assert_eq!(clock.deadline(), Some(Instant::now() + HEADER));
}

#[tokio::test(start_paused = true)]
async fn the_watchdog_fires_at_the_deadline_and_follows_it_when_it_moves() {
    let clock = clock();
    drop(clock.request_started());
    let answered = Instant::now();
    let mut watchdog = Box::pin(Watchdog::new(Arc::clone(&clock)));
    assert!(futures::poll!(watchdog.as_mut()).is_pending());
    tokio::time::advance(Duration::from_secs(50)).await;
    clock.bytes_arrived();
    // Paused time jumps to the armed timer once nothing else can run.
    watchdog.as_mut().await;
    assert_eq!(Instant::now(), answered + Duration::from_secs(50) + HEADER);
}
